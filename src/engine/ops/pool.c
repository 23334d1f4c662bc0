/*
 * MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool on oneDNN 2.6, for 1-D and
 * 2-D pooling (a 1-D pooling runs as 2-D with a height of 1).
 *
 * Output sizes follow onnxruntime: with ceil_mode the last window must start inside the
 * input or its left padding, so ceil_mode may add at most one window per axis, covered by
 * extra right padding. oneDNN's max and exclude-padding average agree with ONNX there.
 * Its include-padding average divides by the whole kernel even where a window reaches
 * into that extra padding. ONNX divides by the window clipped to the declared padding, so
 * that case runs the plain C reference kernel on plain NCHW data instead.
 *
 * Layouts: the oneDNN path reads plain or NHWC input and writes the output in the same
 * layout. Not supported: dilations other than 1, the Indices output of MaxPool, 3-D
 * pooling.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dnnl_glue.h"
#include "engine/op.h"
#include "engine/ref/ref_kernels.h"

#define POOL_FAIL(err, code, node, format, ...)                                              \
    fs_error_set(err, code, "node '%s' (%s): " format, (node)->name, (node)->op_type,         \
                 __VA_ARGS__)

typedef struct pool_geometry {
    fs_ref_pool_kind kind;
    fs_ref_pool_shape shape; /* 2-D form; pads are the declared ones */
    int rank;                /* input rank: 3 or 4 */
    int pad_bottom_run, pad_right_run; /* right pads oneDNN needs for the output size */
    bool use_reference;      /* oneDNN cannot express this pooling with ONNX semantics */
} pool_geometry;

static bool pool_is_global(const fs_node *node)
{
    return strncmp(node->op_type, "Global", 6) == 0;
}

/* Reads an INTS attribute of `expected` entries into values. Each must lie in [minimum,
 * INT_MAX / 4] so that the int arithmetic of the pooling geometry cannot overflow. */
static int pool_read_ints(const fs_node *node, const char *name, int expected, int64_t minimum,
                          int64_t *values, bool required, fs_error *err)
{
    const int64_t *ints;
    size_t count;
    int code = fs_node_attr_ints(node, name, &ints, &count, err);
    if (code != FACESIM_OK)
        return code;
    if (!ints) {
        if (required)
            return POOL_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                             "required attribute '%s' is missing", name);
        return FACESIM_OK;
    }
    if (count != (size_t)expected)
        return POOL_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                         "attribute '%s' has %zu values, expected %d", name, count, expected);
    for (int i = 0; i < expected; i++) {
        if (ints[i] < minimum || ints[i] > INT_MAX / 4)
            return POOL_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                             "attribute '%s' value %d is %lld, expected %lld to %d", name, i,
                             (long long)ints[i], (long long)minimum, INT_MAX / 4);
        values[i] = ints[i];
    }
    return FACESIM_OK;
}

/* Output size of one axis; fills the pads for auto_pad modes. */
static int pool_axis(const fs_node *node, const char *auto_pad, bool ceil_mode, int64_t in,
                     int64_t kernel, int64_t stride, int64_t *pad_begin, int64_t *pad_end,
                     int64_t *out, fs_error *err)
{
    if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0) {
        *out = (in + stride - 1) / stride;
        int64_t total = (*out - 1) * stride + kernel - in;
        if (total < 0)
            total = 0;
        *pad_begin = strcmp(auto_pad, "SAME_UPPER") == 0 ? total / 2 : total - total / 2;
        *pad_end = total - *pad_begin;
        return FACESIM_OK;
    }
    if (strcmp(auto_pad, "VALID") == 0) {
        *pad_begin = *pad_end = 0;
        ceil_mode = false;
    } else if (strcmp(auto_pad, "NOTSET") != 0) {
        return POOL_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                         "auto_pad is '%s', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID",
                         auto_pad);
    }
    int64_t span = in + *pad_begin + *pad_end - kernel;
    if (span < 0)
        return POOL_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                         "input size %lld plus pads %lld + %lld is smaller than the kernel "
                         "size %lld", (long long)in, (long long)*pad_begin, (long long)*pad_end,
                         (long long)kernel);
    *out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    /* A window may not start in the right padding (onnxruntime and PyTorch). */
    if (ceil_mode && (*out - 1) * stride >= in + *pad_begin)
        (*out)--;
    return FACESIM_OK;
}

static int pool_read_attrs(const fs_node *node, int spatial, const int64_t *in,
                           pool_geometry *g, int64_t *kernel, int64_t *pads, int64_t *out,
                           fs_error *err)
{
    int64_t strides[2] = { 1, 1 }, dilations[2] = { 1, 1 };
    int64_t ceil_mode = 0, count_include_pad = 0, storage_order = 0;
    const char *auto_pad = "NOTSET";
    int code;
    if ((code = pool_read_ints(node, "kernel_shape", spatial, 1, kernel, true, err)) ||
        (code = pool_read_ints(node, "strides", spatial, 1, strides, false, err)) ||
        (code = pool_read_ints(node, "dilations", spatial, 1, dilations, false, err)) ||
        (code = pool_read_ints(node, "pads", 2 * spatial, 0, pads, false, err)) ||
        (code = fs_node_attr_int(node, "ceil_mode", 0, &ceil_mode, err)) ||
        (code = fs_node_attr_int(node, "count_include_pad", 0, &count_include_pad, err)) ||
        (code = fs_node_attr_int(node, "storage_order", 0, &storage_order, err)) ||
        (code = fs_node_attr_string(node, "auto_pad", "NOTSET", &auto_pad, err)))
        return code;
    for (int i = 0; i < spatial; i++)
        if (dilations[i] != 1)
            return POOL_FAIL(err, FACESIM_ERR_UNSUPPORTED, node,
                             "dilations[%d] is %lld; only dilation 1 is supported", i,
                             (long long)dilations[i]);
    if (storage_order != 0)
        return POOL_FAIL(err, FACESIM_ERR_UNSUPPORTED, node,
                         "storage_order is %lld; only 0 (row major) is supported",
                         (long long)storage_order);
    g->shape.count_include_pad = count_include_pad != 0;

    /* pads are [begin of each axis..., end of each axis...]. */
    for (int i = 0; i < spatial; i++) {
        code = pool_axis(node, auto_pad, ceil_mode != 0, in[i], kernel[i], strides[i], &pads[i],
                         &pads[spatial + i], &out[i], err);
        if (code != FACESIM_OK)
            return code;
    }
    if (spatial == 1) {
        g->shape.stride_height = 1;
        g->shape.stride_width = (int)strides[0];
    } else {
        g->shape.stride_height = (int)strides[0];
        g->shape.stride_width = (int)strides[1];
    }
    return FACESIM_OK;
}

static int pool_read_geometry(const fs_graph *graph, const fs_node *node, pool_geometry *g,
                              fs_error *err)
{
    int code = fs_op_check_arity(node, 1, 1, 1, err);
    if (code != FACESIM_OK)
        return code;
    if (node->n_outputs > 1 && node->outputs[1] >= 0)
        return POOL_FAIL(err, FACESIM_ERR_UNSUPPORTED, node, "%s",
                         "the Indices output is not supported");
    const fs_value *x = &graph->values[node->inputs[0]];
    if (x->dtype != FS_DTYPE_FLOAT)
        return POOL_FAIL(err, FACESIM_ERR_UNSUPPORTED, node,
                         "input '%s' is %s; only float32 is supported", x->name,
                         fs_dtype_name(x->dtype));
    if (!fs_value_shape_known(x))
        return POOL_FAIL(err, FACESIM_ERR_INTERNAL, node, "the shape of input '%s' is not known",
                         x->name);
    if (x->rank == 5)
        return POOL_FAIL(err, FACESIM_ERR_UNSUPPORTED, node,
                         "input '%s' has rank 5: 3-D pooling is not supported", x->name);
    if (x->rank != 3 && x->rank != 4)
        return POOL_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                         "input '%s' has rank %d, expected 3 (1-D) or 4 (2-D)", x->name,
                         x->rank);
    for (int d = 0; d < x->rank; d++)
        if (x->dims[d] < 1 || x->dims[d] > INT_MAX / 4)
            return POOL_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                             "dimension %d of input '%s' is %lld, expected 1 to %d", d, x->name,
                             (long long)x->dims[d], INT_MAX / 4);

    memset(g, 0, sizeof *g);
    g->rank = x->rank;
    g->kind = strstr(node->op_type, "Max") ? FS_REF_POOL_MAX : FS_REF_POOL_AVERAGE;
    int spatial = x->rank - 2;
    const int64_t *in = &x->dims[2];
    int64_t kernel[2] = { 1, 1 }, pads[4] = { 0, 0, 0, 0 }, out[2] = { 1, 1 };
    if (pool_is_global(node)) {
        for (int i = 0; i < spatial; i++) {
            kernel[i] = in[i];
            out[i] = 1;
        }
        g->shape.stride_height = g->shape.stride_width = 1;
    } else {
        code = pool_read_attrs(node, spatial, in, g, kernel, pads, out, err);
        if (code != FACESIM_OK)
            return code;
    }

    fs_ref_pool_shape *s = &g->shape;
    s->batch = (int)x->dims[0];
    s->channels = (int)x->dims[1];
    if (spatial == 1) {
        s->in_height = s->out_height = s->kernel_height = 1;
        s->in_width = (int)in[0];
        s->out_width = (int)out[0];
        s->kernel_width = (int)kernel[0];
        s->pad_left = (int)pads[0];
        s->pad_right = (int)pads[1];
    } else {
        s->in_height = (int)in[0];
        s->in_width = (int)in[1];
        s->out_height = (int)out[0];
        s->out_width = (int)out[1];
        s->kernel_height = (int)kernel[0];
        s->kernel_width = (int)kernel[1];
        s->pad_top = (int)pads[0];
        s->pad_left = (int)pads[1];
        s->pad_bottom = (int)pads[2];
        s->pad_right = (int)pads[3];
    }

    /* Right pads that make oneDNN's output size formula give out_height and out_width:
     * more than declared when ceil_mode added a window. */
    int bottom = (s->out_height - 1) * s->stride_height + s->kernel_height - s->in_height -
                 s->pad_top;
    int right = (s->out_width - 1) * s->stride_width + s->kernel_width - s->in_width -
                s->pad_left;
    bool extra = bottom > s->pad_bottom || right > s->pad_right;
    g->pad_bottom_run = extra && bottom > s->pad_bottom ? bottom : s->pad_bottom;
    g->pad_right_run = extra && right > s->pad_right ? right : s->pad_right;
    g->use_reference = extra && g->kind == FS_REF_POOL_AVERAGE && s->count_include_pad;
    return FACESIM_OK;
}

static int pool_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    pool_geometry g;
    int code = pool_read_geometry(graph, node, &g, err);
    if (code != FACESIM_OK)
        return code;
    int64_t dims[4] = { g.shape.batch, g.shape.channels, g.shape.out_height, g.shape.out_width };
    if (g.rank == 3)
        dims[2] = g.shape.out_width;
    fs_value_set_shape(fs_node_output(graph, node, 0), FS_DTYPE_FLOAT, g.rank, dims);
    return FACESIM_OK;
}

static bool pool_accepts_layouts(const fs_graph *graph, const fs_node *node,
                                 const fs_layout *input_layouts)
{
    if (input_layouts[0] == FS_LAYOUT_PLAIN)
        return true;
    pool_geometry g;
    if (pool_read_geometry(graph, node, &g, NULL) != FACESIM_OK)
        return false;
    return !g.use_reference;
}

/* ---- Kernels ---- */

typedef struct pool_state {
    pool_geometry geometry;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t primitive; /* NULL when the reference kernel runs */
    dnnl_memory_t src, dst, scratch;
    dnnl_exec_arg_t args[3];
    int n_args;
} pool_state;

static void pool_release(fs_node *node)
{
    pool_state *state = node->state;
    if (!state)
        return;
    dnnl_memory_t owned[] = { state->src, state->dst, state->scratch };
    fs_dnnl_destroy_kernel(state->primitive, state->pd, owned, sizeof owned / sizeof owned[0]);
    free(state);
    node->state = NULL;
}

static int pool_create(fs_run_ctx *ctx, const fs_node *node, pool_state *state,
                       size_t *scratch_bytes, fs_error *err)
{
    const pool_geometry *g = &state->geometry;
    const fs_ref_pool_shape *s = &g->shape;
    bool nhwc = g->rank == 4 && ctx->tensors[node->inputs[0]].layout == FS_LAYOUT_NHWC;
    int64_t src_dims[4] = { s->batch, s->channels, s->in_height, s->in_width };
    int64_t dst_dims[4] = { s->batch, s->channels, s->out_height, s->out_width };
    dnnl_memory_desc_t src_desc, dst_desc;
    int code;
    if ((code = fs_dnnl_activation_desc(&src_desc, src_dims, nhwc, node->name, err)) ||
        (code = fs_dnnl_activation_desc(&dst_desc, dst_dims, nhwc, node->name, err)))
        return code;

    dnnl_alg_kind_t algorithm = dnnl_pooling_max;
    if (g->kind == FS_REF_POOL_AVERAGE)
        algorithm = s->count_include_pad ? dnnl_pooling_avg_include_padding
                                         : dnnl_pooling_avg_exclude_padding;
    dnnl_dims_t strides = { s->stride_height, s->stride_width };
    dnnl_dims_t kernel = { s->kernel_height, s->kernel_width };
    dnnl_dims_t pad_l = { s->pad_top, s->pad_left };
    dnnl_dims_t pad_r = { g->pad_bottom_run, g->pad_right_run };
    dnnl_pooling_desc_t desc;
    code = fs_dnnl_check(dnnl_pooling_forward_desc_init(&desc, dnnl_forward_inference, algorithm,
                                                        &src_desc, &dst_desc, strides, kernel,
                                                        pad_l, pad_r),
                         "dnnl_pooling_forward_desc_init", node->name, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_primitive_create(ctx->dnnl, &desc, NULL, node->name, &state->pd,
                                        &state->primitive, scratch_bytes, err);
    if (code != FACESIM_OK)
        return code;

    if ((code = fs_dnnl_memory_unbound(ctx->dnnl, &src_desc, node->name, &state->src, err)) ||
        (code = fs_dnnl_memory_unbound(ctx->dnnl, &dst_desc, node->name, &state->dst, err)))
        return code;
    state->args[state->n_args++] = (dnnl_exec_arg_t){ DNNL_ARG_SRC, state->src };
    state->args[state->n_args++] = (dnnl_exec_arg_t){ DNNL_ARG_DST, state->dst };
    if (*scratch_bytes > 0) {
        const dnnl_memory_desc_t *scratch_desc =
            dnnl_primitive_desc_query_md(state->pd, dnnl_query_scratchpad_md, 0);
        code = fs_dnnl_memory_unbound(ctx->dnnl, scratch_desc, node->name, &state->scratch, err);
        if (code != FACESIM_OK)
            return code;
        state->args[state->n_args++] = (dnnl_exec_arg_t){ DNNL_ARG_SCRATCHPAD, state->scratch };
    }
    if (nhwc)
        ctx->tensors[node->outputs[0]].layout = FS_LAYOUT_NHWC;
    return FACESIM_OK;
}

static int pool_prepare(fs_run_ctx *ctx, fs_node *node, size_t *scratch_bytes, fs_error *err)
{
    *scratch_bytes = 0;
    pool_release(node);
    pool_state *state = calloc(1, sizeof *state);
    if (!state)
        return POOL_FAIL(err, FACESIM_ERR_NO_MEMORY, node, "%s", "out of memory");
    node->state = state;
    int code = pool_read_geometry(ctx->graph, node, &state->geometry, err);
    if (code == FACESIM_OK && !state->geometry.use_reference)
        code = pool_create(ctx, node, state, scratch_bytes, err);
    if (code == FACESIM_OK && state->geometry.use_reference &&
        ctx->tensors[node->inputs[0]].layout != FS_LAYOUT_PLAIN)
        code = POOL_FAIL(err, FACESIM_ERR_INTERNAL, node, "%s",
                         "the reference kernel needs a plain input; accepts_layouts "
                         "should have rejected NHWC");
    if (code != FACESIM_OK) {
        pool_release(node);
        *scratch_bytes = 0;
    }
    return code;
}

static int pool_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    const float *src = ctx->tensors[node->inputs[0]].data;
    float *dst = ctx->tensors[node->outputs[0]].data;
    pool_state *state = node->state;
    if (!state) {
        /* Constant folding runs ops without prepare, on plain tensors. */
        pool_geometry g;
        int code = pool_read_geometry(ctx->graph, node, &g, err);
        if (code == FACESIM_OK)
            fs_ref_pool(g.kind, &g.shape, src, dst);
        return code;
    }
    if (!state->primitive) {
        fs_ref_pool(state->geometry.kind, &state->geometry.shape, src, dst);
        return FACESIM_OK;
    }
    dnnl_memory_set_data_handle(state->src, (void *)src);
    dnnl_memory_set_data_handle(state->dst, dst);
    if (state->scratch)
        dnnl_memory_set_data_handle(state->scratch, ctx->scratch);
    return fs_dnnl_execute(ctx->dnnl, state->primitive, state->n_args, state->args, node->name,
                           err);
}

#define POOL_OP(symbol, type)                                                                \
    const fs_op symbol = {                                                                   \
        .op_type = type,                                                                     \
        .infer = pool_infer,                                                                 \
        .accepts_layouts = pool_accepts_layouts,                                             \
        .prepare = pool_prepare,                                                             \
        .run = pool_run,                                                                     \
        .release = pool_release,                                                             \
    };

POOL_OP(fs_op_max_pool, "MaxPool")
POOL_OP(fs_op_average_pool, "AveragePool")
POOL_OP(fs_op_global_average_pool, "GlobalAveragePool")
POOL_OP(fs_op_global_max_pool, "GlobalMaxPool")

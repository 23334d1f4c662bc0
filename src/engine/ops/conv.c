/*
 * Conv (ONNX opsets 1 to 22) on oneDNN 2.6.
 *
 * Supports 1-D and 2-D convolutions with groups (depthwise included), strides,
 * asymmetric pads, dilations, every auto_pad mode and an optional bias. A 1-D
 * convolution runs as a 2-D one with a height of 1. 3-D convolutions are rejected as
 * unsupported.
 *
 * Layouts: the input and the fused sum may each be plain NCHW or NHWC. A 2-D convolution
 * reads and writes NHWC because oneDNN's AVX-512 direct kernels (brgconv) handle it
 * fastest. It first reorders a plain input into scratch memory. A 1-D convolution, and
 * one on a constant input (constant folding), reads and writes plain. The weights are packed once into the format oneDNN picks and kept in
 * the engine's weight cache.
 *
 * Fusion: the engine's fusion pass may set node->fused_activation (Relu, Clip, or PRelu
 * with one slope or one per channel), node->fused_sum (a tensor shaped like the output,
 * added to it: a residual Add) and node->fused_sum_activation (Relu or Clip after that
 * sum). They apply in this order:
 *     output = sum_activation(activation(conv(input) + bias) + fused_sum)
 * so both Conv -> Relu -> Add and Conv -> Add -> Relu chains fuse. They run as oneDNN
 * post-ops, except a per-channel PRelu and any sum after it, which run as in-place oneDNN
 * steps after the convolution (see conv_append_activation). The activation after the sum
 * is then a post-op of that separate add.
 * NOTE: the fused_sum tensor must not share memory with the output. That aliasing is
 * untested with oneDNN's kernels.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dnnl_glue.h"
#include "engine/op.h"
#include "engine/weight_cache.h"

#define CONV_FAIL(err, code, node, format, ...)                                              \
    fs_error_set(err, code, "node '%s' (Conv): " format, (node)->name, __VA_ARGS__)

/* Sizes of one convolution in 2-D form (a 1-D one has in_height = kernel_height = 1). */
typedef struct conv_geometry {
    int spatial_rank; /* 1 or 2, as in the model */
    int64_t batch, in_channels, in_height, in_width;
    int64_t out_channels, out_height, out_width;
    int64_t groups, kernel_height, kernel_width;
    int64_t stride_height, stride_width;
    int64_t dilation_height, dilation_width; /* ONNX convention: 1 means adjacent taps */
    int64_t pad_top, pad_left, pad_bottom, pad_right;
} conv_geometry;

/* Reads an INTS attribute of `expected` entries, each at least `minimum`, into values; keeps
 * the defaults already in values when the attribute is absent. */
static int conv_read_ints(const fs_node *node, const char *name, int expected, int64_t minimum,
                          int64_t *values, fs_error *err)
{
    const int64_t *ints;
    size_t count;
    int code = fs_node_attr_ints(node, name, &ints, &count, err);
    if (code != FACESIM_OK || !ints)
        return code;
    if (count != (size_t)expected)
        return CONV_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                         "attribute '%s' has %zu values, expected %d", name, count, expected);
    for (int i = 0; i < expected; i++) {
        if (ints[i] < minimum || ints[i] > INT_MAX)
            return CONV_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                             "attribute '%s' value %d is %lld, expected %lld to %d", name, i,
                             (long long)ints[i], (long long)minimum, INT_MAX);
        values[i] = ints[i];
    }
    return FACESIM_OK;
}

/* Output size of one spatial axis, setting the pads for auto_pad modes. */
static int conv_axis(const fs_node *node, const char *auto_pad, int64_t in, int64_t kernel,
                     int64_t stride, int64_t dilation, int64_t *pad_begin, int64_t *pad_end,
                     int64_t *out, fs_error *err)
{
    int64_t span = (kernel - 1) * dilation + 1;
    if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0) {
        *out = (in + stride - 1) / stride;
        int64_t total = (*out - 1) * stride + span - in;
        if (total < 0)
            total = 0;
        /* SAME_UPPER puts the odd pixel of padding at the end, SAME_LOWER at the start. */
        *pad_begin = strcmp(auto_pad, "SAME_UPPER") == 0 ? total / 2 : total - total / 2;
        *pad_end = total - *pad_begin;
        return FACESIM_OK;
    }
    if (strcmp(auto_pad, "VALID") == 0) {
        *pad_begin = 0;
        *pad_end = 0;
    } else if (strcmp(auto_pad, "NOTSET") != 0) {
        return CONV_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                         "auto_pad is '%s', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID",
                         auto_pad);
    }
    int64_t padded = in + *pad_begin + *pad_end;
    if (padded < span)
        return CONV_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                         "input size %lld plus pads %lld + %lld is smaller than the dilated "
                         "kernel size %lld", (long long)in, (long long)*pad_begin,
                         (long long)*pad_end, (long long)span);
    *out = (padded - span) / stride + 1;
    return FACESIM_OK;
}

static int conv_check_inputs(const fs_graph *graph, const fs_node *node, fs_error *err)
{
    int code = fs_op_check_arity(node, 2, 3, 1, err);
    if (code != FACESIM_OK)
        return code;
    const fs_value *x = &graph->values[node->inputs[0]];
    const fs_value *w = &graph->values[node->inputs[1]];
    if (x->dtype != FS_DTYPE_FLOAT || w->dtype != FS_DTYPE_FLOAT)
        return CONV_FAIL(err, FACESIM_ERR_UNSUPPORTED, node,
                         "input '%s' is %s and weight '%s' is %s; only float32 is supported",
                         x->name, fs_dtype_name(x->dtype), w->name, fs_dtype_name(w->dtype));
    if (!fs_value_shape_known(x) || !fs_value_shape_known(w))
        return CONV_FAIL(err, FACESIM_ERR_INTERNAL, node,
                         "the shape of input '%s' or weight '%s' is not known", x->name,
                         w->name);
    if (x->rank == 5)
        return CONV_FAIL(err, FACESIM_ERR_UNSUPPORTED, node,
                         "input '%s' has rank 5: 3-D convolutions are not supported", x->name);
    if (x->rank != 3 && x->rank != 4)
        return CONV_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                         "input '%s' has rank %d, expected 3 (1-D) or 4 (2-D)", x->name,
                         x->rank);
    if (w->rank != x->rank)
        return CONV_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                         "weight '%s' has rank %d, expected %d like input '%s'", w->name,
                         w->rank, x->rank, x->name);
    for (int d = 0; d < x->rank; d++)
        if (x->dims[d] < 1 || x->dims[d] > INT_MAX || w->dims[d] < 1 || w->dims[d] > INT_MAX)
            return CONV_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                             "dimension %d of input '%s' (%lld) or weight '%s' (%lld) is "
                             "outside 1 to %d", d, x->name, (long long)x->dims[d], w->name,
                             (long long)w->dims[d], INT_MAX);
    if (fs_node_has_input(node, 2)) {
        const fs_value *b = &graph->values[node->inputs[2]];
        if (b->dtype != FS_DTYPE_FLOAT || b->rank != 1 || b->dims[0] != w->dims[0])
            return CONV_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                             "bias '%s' must be float32 of shape [%lld]", b->name,
                             (long long)w->dims[0]);
    }
    return FACESIM_OK;
}

static int conv_read_geometry(const fs_graph *graph, const fs_node *node, conv_geometry *g,
                              fs_error *err)
{
    int code = conv_check_inputs(graph, node, err);
    if (code != FACESIM_OK)
        return code;
    const fs_value *x = &graph->values[node->inputs[0]];
    const fs_value *w = &graph->values[node->inputs[1]];
    int spatial = x->rank - 2;

    int64_t group = 1;
    const char *auto_pad = "NOTSET";
    int64_t kernel[2] = { w->dims[2], spatial == 2 ? w->dims[3] : 0 };
    int64_t strides[2] = { 1, 1 }, dilations[2] = { 1, 1 }, pads[4] = { 0, 0, 0, 0 };
    int64_t declared_kernel[2] = { kernel[0], kernel[1] };
    if ((code = fs_node_attr_int(node, "group", 1, &group, err)) != FACESIM_OK ||
        (code = fs_node_attr_string(node, "auto_pad", "NOTSET", &auto_pad, err)) != FACESIM_OK ||
        (code = conv_read_ints(node, "strides", spatial, 1, strides, err)) != FACESIM_OK ||
        (code = conv_read_ints(node, "dilations", spatial, 1, dilations, err)) != FACESIM_OK ||
        (code = conv_read_ints(node, "pads", 2 * spatial, 0, pads, err)) != FACESIM_OK ||
        (code = conv_read_ints(node, "kernel_shape", spatial, 1, declared_kernel, err)) !=
            FACESIM_OK)
        return code;
    for (int i = 0; i < spatial; i++)
        if (declared_kernel[i] != kernel[i])
            return CONV_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                             "kernel_shape[%d] is %lld but weight '%s' has %lld", i,
                             (long long)declared_kernel[i], w->name, (long long)kernel[i]);

    int64_t channels = x->dims[1], out_channels = w->dims[0];
    if (group < 1 || group > channels || channels % group != 0 || out_channels % group != 0 ||
        w->dims[1] != channels / group)
        return CONV_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                         "group %lld does not fit input '%s' with %lld channels and weight "
                         "'%s' of shape [%lld, %lld, ...]; expected the weight's dim 1 to be "
                         "channels / group", (long long)group, x->name, (long long)channels,
                         w->name, (long long)w->dims[0], (long long)w->dims[1]);

    memset(g, 0, sizeof *g);
    g->spatial_rank = spatial;
    g->batch = x->dims[0];
    g->in_channels = channels;
    g->out_channels = out_channels;
    g->groups = group;
    if (spatial == 1) {
        /* ONNX pads for 1-D are [begin, end]. */
        g->in_height = g->kernel_height = g->stride_height = g->dilation_height = 1;
        g->out_height = 1;
        g->in_width = x->dims[2];
        g->kernel_width = kernel[0];
        g->stride_width = strides[0];
        g->dilation_width = dilations[0];
        g->pad_left = pads[0];
        g->pad_right = pads[1];
        return conv_axis(node, auto_pad, g->in_width, g->kernel_width, g->stride_width,
                         g->dilation_width, &g->pad_left, &g->pad_right, &g->out_width, err);
    }
    /* ONNX pads for 2-D are [top, left, bottom, right]. */
    g->in_height = x->dims[2];
    g->in_width = x->dims[3];
    g->kernel_height = kernel[0];
    g->kernel_width = kernel[1];
    g->stride_height = strides[0];
    g->stride_width = strides[1];
    g->dilation_height = dilations[0];
    g->dilation_width = dilations[1];
    g->pad_top = pads[0];
    g->pad_left = pads[1];
    g->pad_bottom = pads[2];
    g->pad_right = pads[3];
    code = conv_axis(node, auto_pad, g->in_height, g->kernel_height, g->stride_height,
                     g->dilation_height, &g->pad_top, &g->pad_bottom, &g->out_height, err);
    if (code == FACESIM_OK)
        code = conv_axis(node, auto_pad, g->in_width, g->kernel_width, g->stride_width,
                         g->dilation_width, &g->pad_left, &g->pad_right, &g->out_width, err);
    return code;
}

static int conv_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    conv_geometry g;
    int code = conv_read_geometry(graph, node, &g, err);
    if (code != FACESIM_OK)
        return code;
    int64_t dims[4] = { g.batch, g.out_channels, g.out_height, g.out_width };
    if (g.spatial_rank == 1)
        dims[2] = g.out_width;
    fs_value_set_shape(fs_node_output(graph, node, 0), FS_DTYPE_FLOAT, g.spatial_rank + 2, dims);
    return FACESIM_OK;
}

static bool conv_accepts_layouts(const fs_graph *graph, const fs_node *node,
                                 const fs_layout *input_layouts)
{
    /* The input may be NHWC or plain; weights and bias are constants or plain tensors. */
    for (int i = 1; i < node->n_inputs; i++)
        if (node->inputs[i] >= 0 && input_layouts[i] != FS_LAYOUT_PLAIN)
            return false;
    return true;
}

/* ---- Kernel creation ---- */

enum { CONV_MAX_ARGS = 10 };

/* An extra oneDNN primitive around the convolution: the input reorder before it, or an
 * in-place operation on the output after it. */
typedef struct conv_step {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t primitive; /* NULL when the step is not needed */
    dnnl_memory_t scratch;
    dnnl_exec_arg_t args[4];
    int n_args;
} conv_step;

typedef struct conv_state {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t primitive;
    dnnl_memory_t src, dst, sum, bias, slope, scratch;
    size_t scratch_offset;         /* where kernel scratch starts in ctx->scratch */
    dnnl_memory_t runtime_weights; /* weights that are not constants, bound at run */
    float *bias_copy;              /* constant bias, or NULL */
    float *slope_copy;             /* PRelu slopes, one per channel or one for all */
    dnnl_exec_arg_t args[CONV_MAX_ARGS];
    int n_args;
    bool nhwc_out;                 /* the output is NHWC, else plain */
    bool binary_post_op_broken;    /* the chosen kernel cannot add the fused sum itself */

    /* A plain input is first reordered to NHWC at the start of ctx->scratch, because oneDNN
     * 2.6 has only its reference kernel for an NCHW source with an NHWC destination. */
    conv_step input_step;
    dnnl_memory_t src_nhwc;

    /* Fused operations oneDNN cannot run as fast post-ops, in order (see conv_prepare). */
    conv_step prelu_step;          /* per-channel PRelu */
    conv_step add_step;            /* output += fused sum */
} conv_state;

static void conv_step_release(conv_step *step)
{
    fs_dnnl_destroy_kernel(step->primitive, step->pd, &step->scratch, 1);
}

static void conv_release(fs_node *node)
{
    conv_state *state = node->state;
    if (!state)
        return;
    dnnl_memory_t owned[] = { state->src, state->dst, state->sum, state->bias, state->slope,
                              state->scratch, state->runtime_weights, state->src_nhwc };
    fs_dnnl_destroy_kernel(state->primitive, state->pd, owned, sizeof owned / sizeof owned[0]);
    conv_step_release(&state->input_step);
    conv_step_release(&state->prelu_step);
    conv_step_release(&state->add_step);
    free(state->bias_copy);
    free(state->slope_copy);
    free(state);
    node->state = NULL;
}

static void conv_add_arg(conv_state *state, int arg, dnnl_memory_t memory)
{
    state->args[state->n_args++] = (dnnl_exec_arg_t){ arg, memory };
}

/* Creates step's primitive for op_desc with attr (may be NULL); the caller has filled every
 * argument but the scratchpad. Raises *scratch_bytes to what the step needs. */
static int conv_step_create(fs_run_ctx *ctx, const fs_node *node, const void *op_desc,
                            const_dnnl_primitive_attr_t attr, conv_step *step,
                            size_t *scratch_bytes, fs_error *err)
{
    size_t bytes = 0;
    int code = fs_dnnl_primitive_create(ctx->dnnl, op_desc, attr, node->name, &step->pd,
                                        &step->primitive, &bytes, err);
    if (code != FACESIM_OK || bytes == 0)
        return code;
    const dnnl_memory_desc_t *scratch_desc =
        dnnl_primitive_desc_query_md(step->pd, dnnl_query_scratchpad_md, 0);
    code = fs_dnnl_memory_unbound(ctx->dnnl, scratch_desc, node->name, &step->scratch, err);
    if (code != FACESIM_OK)
        return code;
    step->args[step->n_args++] = (dnnl_exec_arg_t){ DNNL_ARG_SCRATCHPAD, step->scratch };
    if (bytes > *scratch_bytes)
        *scratch_bytes = bytes;
    return FACESIM_OK;
}

static int conv_step_run(fs_run_ctx *ctx, const fs_node *node, conv_step *step, size_t offset,
                         fs_error *err)
{
    if (!step->primitive)
        return FACESIM_OK;
    if (step->scratch)
        dnnl_memory_set_data_handle(step->scratch, (char *)ctx->scratch + offset);
    return fs_dnnl_check(dnnl_primitive_execute(step->primitive, ctx->dnnl->stream,
                                                step->n_args, step->args),
                         "dnnl_primitive_execute (fused step)", node->name, err);
}

/* Copies the fused PRelu slope into state and reports whether it is per channel. */
static int conv_copy_slope(fs_run_ctx *ctx, const fs_node *node, int64_t channels,
                           conv_state *state, bool *per_channel, fs_error *err)
{
    const fs_value *slope = &ctx->graph->values[node->fused_slope];
    const fs_value *out = fs_node_output(ctx->graph, node, 0);
    int64_t count = fs_value_numel(slope);
    if (!slope->data || slope->dtype != FS_DTYPE_FLOAT || count < 1)
        return CONV_FAIL(err, FACESIM_ERR_INTERNAL, node,
                         "fused PRelu slope '%s' must be a float32 constant", slope->name);
    if (count != 1) {
        /* Numpy broadcasting aligns the slope's last dim with the output's last dim, so the
         * channel axis (1) of the output is the slope's axis rank - out_rank + 1. */
        int axis = slope->rank - out->rank + 1;
        bool ok = axis >= 0 && axis < slope->rank && slope->dims[axis] == channels &&
                  count == channels;
        if (!ok)
            return CONV_FAIL(err, FACESIM_ERR_UNSUPPORTED, node,
                             "fused PRelu slope '%s' has %lld values; only one value or one "
                             "per output channel (%lld) can be fused", slope->name,
                             (long long)count, (long long)channels);
    }
    state->slope_copy = malloc((size_t)count * sizeof(float));
    if (!state->slope_copy)
        return CONV_FAIL(err, FACESIM_ERR_NO_MEMORY, node, "out of memory copying slope '%s'",
                         slope->name);
    memcpy(state->slope_copy, slope->data, (size_t)count * sizeof(float));
    *per_channel = count != 1;
    return FACESIM_OK;
}

/* Describes the fused sum tensor, checking it is shaped like the output. */
static int conv_sum_desc(fs_run_ctx *ctx, const fs_node *node, const conv_geometry *g,
                         const dnnl_memory_desc_t *dst_desc, dnnl_memory_desc_t *sum_desc,
                         fs_error *err)
{
    const fs_value *sum = &ctx->graph->values[node->fused_sum];
    const fs_value *out = fs_node_output(ctx->graph, node, 0);
    bool same = sum->dtype == FS_DTYPE_FLOAT && sum->rank == out->rank;
    for (int d = 0; same && d < out->rank; d++)
        same = sum->dims[d] == out->dims[d];
    if (!same)
        return CONV_FAIL(err, FACESIM_ERR_INTERNAL, node,
                         "fused sum '%s' is not a float32 tensor shaped like output '%s'",
                         sum->name, out->name);
    *sum_desc = *dst_desc;
    if (g->spatial_rank == 1)
        return FACESIM_OK;
    return fs_dnnl_activation_desc(sum_desc, out->dims,
                                   ctx->tensors[node->fused_sum].layout == FS_LAYOUT_NHWC,
                                   node->name, err);
}

/* Appends the fused activation as a post-op, except a per-channel PRelu: oneDNN 2.6 has
 * only its reference convolution for the prelu post-op, so that runs as a separate step
 * (*separate_prelu). A single PRelu slope is a leaky Relu post-op. */
static int conv_append_activation(fs_run_ctx *ctx, const fs_node *node, const conv_geometry *g,
                                  dnnl_post_ops_t post_ops, conv_state *state,
                                  bool *separate_prelu, fs_error *err)
{
    *separate_prelu = false;
    switch (node->fused_activation) {
    case FS_ACTIVATION_NONE:
        return FACESIM_OK;
    case FS_ACTIVATION_RELU:
        return fs_dnnl_check(dnnl_post_ops_append_eltwise(post_ops, 1.0f, dnnl_eltwise_relu,
                                                          0.0f, 0.0f),
                             "dnnl_post_ops_append_eltwise", node->name, err);
    case FS_ACTIVATION_CLIP:
        return fs_dnnl_check(dnnl_post_ops_append_eltwise(post_ops, 1.0f, dnnl_eltwise_clip,
                                                          node->fused_min, node->fused_max),
                             "dnnl_post_ops_append_eltwise", node->name, err);
    case FS_ACTIVATION_PRELU: {
        bool per_channel = false;
        int code = conv_copy_slope(ctx, node, g->out_channels, state, &per_channel, err);
        if (code != FACESIM_OK)
            return code;
        if (per_channel) {
            *separate_prelu = true;
            return FACESIM_OK;
        }
        return fs_dnnl_check(dnnl_post_ops_append_eltwise(post_ops, 1.0f, dnnl_eltwise_relu,
                                                          state->slope_copy[0], 0.0f),
                             "dnnl_post_ops_append_eltwise", node->name, err);
    }
    default:
        return CONV_FAIL(err, FACESIM_ERR_INTERNAL, node,
                         "fused activation kind %d is not one Conv can apply",
                         node->fused_activation);
    }
}

/* The oneDNN eltwise algorithm and parameters of the activation after the fused sum;
 * *algorithm is dnnl_alg_kind_undef when there is none. */
static int conv_sum_activation_params(const fs_node *node, dnnl_alg_kind_t *algorithm,
                                      float *alpha, float *beta, fs_error *err)
{
    *algorithm = dnnl_alg_kind_undef;
    *alpha = 0.0f;
    *beta = 0.0f;
    switch (node->fused_sum_activation) {
    case FS_ACTIVATION_NONE:
        return FACESIM_OK;
    case FS_ACTIVATION_RELU:
        *algorithm = dnnl_eltwise_relu;
        return FACESIM_OK;
    case FS_ACTIVATION_CLIP:
        *algorithm = dnnl_eltwise_clip;
        *alpha = node->fused_sum_min;
        *beta = node->fused_sum_max;
        return FACESIM_OK;
    default:
        return CONV_FAIL(err, FACESIM_ERR_INTERNAL, node,
                         "fused activation kind %d after the sum is not one Conv can apply",
                         node->fused_sum_activation);
    }
}

/* Appends the activation after the fused sum (Relu or Clip), if any, as an eltwise
 * post-op. */
static int conv_append_sum_activation(const fs_node *node, dnnl_post_ops_t post_ops,
                                      fs_error *err)
{
    dnnl_alg_kind_t algorithm;
    float alpha, beta;
    int code = conv_sum_activation_params(node, &algorithm, &alpha, &beta, err);
    if (code != FACESIM_OK || algorithm == dnnl_alg_kind_undef)
        return code;
    return fs_dnnl_check(dnnl_post_ops_append_eltwise(post_ops, 1.0f, algorithm, alpha, beta),
                         "dnnl_post_ops_append_eltwise", node->name, err);
}

/*
 * Returns whether the activation after the sum must not share post_ops, which already
 * contains the activation before the sum. oneDNN 2.6's convolutions can apply a second
 * eltwise post-op of the same algorithm with the first one's alpha and beta. Clip then
 * Clip, or a leaky Relu then Relu, gave wrong results in the random cases of
 * tests/test_kernels.c (all with an NHWC sum). Such a pair runs the sum and the second activation as a separate
 * add step instead.
 */
static bool conv_sum_activation_conflicts(const fs_node *node, const_dnnl_post_ops_t post_ops)
{
    dnnl_alg_kind_t after;
    float after_alpha, after_beta;
    if (conv_sum_activation_params(node, &after, &after_alpha, &after_beta, NULL) !=
            FACESIM_OK || after == dnnl_alg_kind_undef)
        return false;
    for (int i = 0; i < dnnl_post_ops_len(post_ops); i++) {
        if (dnnl_post_ops_get_kind(post_ops, i) != dnnl_eltwise)
            continue;
        float scale, alpha, beta;
        dnnl_alg_kind_t before;
        if (dnnl_post_ops_get_params_eltwise(post_ops, i, &scale, &before, &alpha, &beta) !=
            dnnl_success)
            return true;
        if (before == after && (alpha != after_alpha || beta != after_beta))
            return true;
    }
    return false;
}

/* Creates *attr_out holding post_ops, or leaves it NULL when post_ops is empty. */
static int conv_attr_from_post_ops(const fs_node *node, const_dnnl_post_ops_t post_ops,
                                   dnnl_primitive_attr_t *attr_out, fs_error *err)
{
    *attr_out = NULL;
    if (dnnl_post_ops_len(post_ops) == 0)
        return FACESIM_OK;
    dnnl_primitive_attr_t attr = NULL;
    int code = fs_dnnl_check(dnnl_primitive_attr_create(&attr), "dnnl_primitive_attr_create",
                             node->name, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_check(dnnl_primitive_attr_set_post_ops(attr, post_ops),
                             "dnnl_primitive_attr_set_post_ops", node->name, err);
    if (code != FACESIM_OK) {
        if (attr)
            dnnl_primitive_attr_destroy(attr);
        return code;
    }
    *attr_out = attr;
    return FACESIM_OK;
}

/*
 * Builds the post-ops: [activation], then [binary add of fused_sum], then [activation
 * after the sum]. The sum is a post-op only when sum_as_post_op is set, the activation is
 * a post-op too and the two activations do not conflict (conv_sum_activation_conflicts).
 * Otherwise the sum runs, with the activation after it, as a separate step after the
 * convolution (*separate_sum).
 */
static int conv_make_attr(fs_run_ctx *ctx, const fs_node *node, const conv_geometry *g,
                          const dnnl_memory_desc_t *dst_desc, bool sum_as_post_op,
                          conv_state *state, dnnl_primitive_attr_t *attr_out,
                          bool *separate_prelu, bool *separate_sum, fs_error *err)
{
    *attr_out = NULL;
    *separate_prelu = false;
    *separate_sum = false;
    dnnl_post_ops_t post_ops = NULL;
    dnnl_primitive_attr_t attr = NULL;
    int code = fs_dnnl_check(dnnl_post_ops_create(&post_ops), "dnnl_post_ops_create",
                             node->name, err);
    if (code == FACESIM_OK)
        code = conv_append_activation(ctx, node, g, post_ops, state, separate_prelu, err);

    if (code == FACESIM_OK && node->fused_sum >= 0) {
        *separate_sum = !sum_as_post_op || *separate_prelu ||
                        conv_sum_activation_conflicts(node, post_ops);
        int index = dnnl_post_ops_len(post_ops);
        dnnl_memory_desc_t sum_desc;
        code = conv_sum_desc(ctx, node, g, dst_desc, &sum_desc, err);
        if (code == FACESIM_OK && !*separate_sum)
            code = fs_dnnl_check(dnnl_post_ops_append_binary(post_ops, dnnl_binary_add,
                                                             &sum_desc),
                                 "dnnl_post_ops_append_binary", node->name, err);
        if (code == FACESIM_OK)
            code = fs_dnnl_memory_unbound(ctx->dnnl, &sum_desc, node->name, &state->sum, err);
        if (code == FACESIM_OK && !*separate_sum)
            conv_add_arg(state, DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1,
                         state->sum);
        if (code == FACESIM_OK && !*separate_sum)
            code = conv_append_sum_activation(node, post_ops, err);
    } else if (code == FACESIM_OK && node->fused_sum_activation != FS_ACTIVATION_NONE) {
        code = CONV_FAIL(err, FACESIM_ERR_INTERNAL, node, "%s",
                         "an activation after the sum is fused, but no sum is");
    }

    if (code == FACESIM_OK)
        code = conv_attr_from_post_ops(node, post_ops, &attr, err);
    if (post_ops)
        dnnl_post_ops_destroy(post_ops);
    if (code != FACESIM_OK)
        return code;
    *attr_out = attr;
    return FACESIM_OK;
}

/* Creates the in-place per-channel PRelu on the output. */
static int conv_create_prelu(fs_run_ctx *ctx, const fs_node *node, const conv_geometry *g,
                             const dnnl_memory_desc_t *dst_desc, conv_state *state,
                             size_t *scratch_bytes, fs_error *err)
{
    dnnl_memory_desc_t slope_desc;
    dnnl_prelu_desc_t desc;
    int64_t dims[4] = { 1, g->out_channels, 1, 1 };
    int code;
    if ((code = fs_dnnl_activation_desc(&slope_desc, dims, true, node->name, err)) ||
        (code = fs_dnnl_check(dnnl_memory_create(&state->slope, &slope_desc, ctx->dnnl->engine,
                                                 state->slope_copy),
                              "dnnl_memory_create (slope)", node->name, err)) ||
        (code = fs_dnnl_check(dnnl_prelu_forward_desc_init(&desc, dnnl_forward_inference,
                                                           dst_desc, &slope_desc),
                              "dnnl_prelu_forward_desc_init", node->name, err)))
        return code;
    conv_step *step = &state->prelu_step;
    step->args[step->n_args++] = (dnnl_exec_arg_t){ DNNL_ARG_SRC, state->dst };
    step->args[step->n_args++] = (dnnl_exec_arg_t){ DNNL_ARG_WEIGHTS, state->slope };
    step->args[step->n_args++] = (dnnl_exec_arg_t){ DNNL_ARG_DST, state->dst };
    return conv_step_create(ctx, node, &desc, NULL, step, scratch_bytes, err);
}

/* Creates the in-place add output += fused sum, followed by the activation after the sum
 * as a post-op of the add. */
static int conv_create_add(fs_run_ctx *ctx, const fs_node *node, const dnnl_memory_desc_t *dst_desc,
                           conv_state *state, size_t *scratch_bytes, fs_error *err)
{
    const dnnl_memory_desc_t *sum_desc = NULL;
    dnnl_memory_get_memory_desc(state->sum, &sum_desc);
    dnnl_binary_desc_t desc;
    int code = fs_dnnl_check(dnnl_binary_desc_init(&desc, dnnl_binary_add, dst_desc, sum_desc,
                                                   dst_desc),
                             "dnnl_binary_desc_init", node->name, err);
    if (code != FACESIM_OK)
        return code;
    dnnl_post_ops_t post_ops = NULL;
    dnnl_primitive_attr_t attr = NULL;
    code = fs_dnnl_check(dnnl_post_ops_create(&post_ops), "dnnl_post_ops_create", node->name,
                         err);
    if (code == FACESIM_OK)
        code = conv_append_sum_activation(node, post_ops, err);
    if (code == FACESIM_OK)
        code = conv_attr_from_post_ops(node, post_ops, &attr, err);
    if (post_ops)
        dnnl_post_ops_destroy(post_ops);
    if (code != FACESIM_OK)
        return code;
    conv_step *step = &state->add_step;
    step->args[step->n_args++] = (dnnl_exec_arg_t){ DNNL_ARG_SRC_0, state->dst };
    step->args[step->n_args++] = (dnnl_exec_arg_t){ DNNL_ARG_SRC_1, state->sum };
    step->args[step->n_args++] = (dnnl_exec_arg_t){ DNNL_ARG_DST, state->dst };
    code = conv_step_create(ctx, node, &desc, attr, step, scratch_bytes, err);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return code;
}

/* Weight descriptor in ONNX order: [O, I/G, KH, KW], or [G, O/G, I/G, KH, KW] with groups. */
static int conv_weight_desc(const conv_geometry *g, dnnl_format_tag_t tag, const fs_node *node,
                            dnnl_memory_desc_t *desc, fs_error *err)
{
    dnnl_dims_t dims;
    int rank;
    if (g->groups == 1) {
        rank = 4;
        dims[0] = g->out_channels;
        dims[1] = g->in_channels;
        dims[2] = g->kernel_height;
        dims[3] = g->kernel_width;
    } else {
        rank = 5;
        dims[0] = g->groups;
        dims[1] = g->out_channels / g->groups;
        dims[2] = g->in_channels / g->groups;
        dims[3] = g->kernel_height;
        dims[4] = g->kernel_width;
    }
    if (tag != dnnl_format_tag_any)
        tag = rank == 4 ? dnnl_oihw : dnnl_goihw;
    return fs_dnnl_check(dnnl_memory_desc_init_by_tag(desc, rank, dims, dnnl_f32, tag),
                         "dnnl_memory_desc_init_by_tag (weights)", node->name, err);
}

/* Binds the weights: packed through the cache for constants, else a plain runtime buffer. */
static int conv_bind_weights(fs_run_ctx *ctx, const fs_node *node, const conv_geometry *g,
                             bool cached, conv_state *state, fs_error *err)
{
    int w = node->inputs[1];
    const dnnl_memory_desc_t *chosen = dnnl_primitive_desc_query_md(state->pd,
                                                                    dnnl_query_weights_md, 0);
    if (!chosen)
        return CONV_FAIL(err, FACESIM_ERR_INTERNAL, node, "%s",
                         "oneDNN reported no weight format");
    if (!cached) {
        int code = fs_dnnl_memory_unbound(ctx->dnnl, chosen, node->name,
                                          &state->runtime_weights, err);
        if (code == FACESIM_OK)
            conv_add_arg(state, DNNL_ARG_WEIGHTS, state->runtime_weights);
        return code;
    }

    dnnl_memory_desc_t plain_desc;
    int code = conv_weight_desc(g, dnnl_oihw, node, &plain_desc, err);
    dnnl_memory_t packed = NULL;
    if (code == FACESIM_OK)
        code = fs_weight_cache_get(ctx->weights, ctx->dnnl, w, chosen,
                                   ctx->graph->values[w].data, &plain_desc, &packed, err);
    if (code != FACESIM_OK)
        return fs_error_prefix(err, "node '%s' (Conv): weight '%s'", node->name,
                               ctx->graph->values[w].name);
    conv_add_arg(state, DNNL_ARG_WEIGHTS, packed);
    fs_run_release_constant(ctx, w);
    return FACESIM_OK;
}

static int conv_bind_bias(fs_run_ctx *ctx, const fs_node *node, const conv_geometry *g,
                          conv_state *state, fs_error *err)
{
    const dnnl_memory_desc_t *desc = dnnl_primitive_desc_query_md(state->pd,
                                                                  dnnl_query_weights_md, 1);
    const fs_value *bias = fs_node_input(ctx->graph, node, 2);
    void *handle = DNNL_MEMORY_NONE;
    if (bias->data) {
        state->bias_copy = malloc((size_t)g->out_channels * sizeof(float));
        if (!state->bias_copy)
            return CONV_FAIL(err, FACESIM_ERR_NO_MEMORY, node, "out of memory copying bias '%s'",
                             bias->name);
        memcpy(state->bias_copy, bias->data, (size_t)g->out_channels * sizeof(float));
        handle = state->bias_copy;
    }
    int code = fs_dnnl_check(dnnl_memory_create(&state->bias, desc, ctx->dnnl->engine, handle),
                             "dnnl_memory_create (bias)", node->name, err);
    if (code == FACESIM_OK)
        conv_add_arg(state, DNNL_ARG_BIAS, state->bias);
    return code;
}

/* Creates the reorder of the plain input into NHWC memory at the start of the scratch
 * buffer, and points *src_desc at the NHWC form. */
static int conv_create_input_reorder(fs_run_ctx *ctx, const fs_node *node,
                                     dnnl_memory_desc_t *src_desc, conv_state *state,
                                     fs_error *err)
{
    dnnl_memory_desc_t nhwc_desc;
    dnnl_primitive_desc_t pd = NULL;
    int code = fs_dnnl_activation_desc(&nhwc_desc, src_desc->dims, true, node->name, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_check(dnnl_reorder_primitive_desc_create(&pd, src_desc,
                                                                ctx->dnnl->engine, &nhwc_desc,
                                                                ctx->dnnl->engine, NULL),
                             "dnnl_reorder_primitive_desc_create", node->name, err);
    if (code != FACESIM_OK)
        return code;
    conv_step *step = &state->input_step;
    step->pd = pd;
    code = fs_dnnl_check(dnnl_primitive_create(&step->primitive, pd), "dnnl_primitive_create",
                         node->name, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_memory_unbound(ctx->dnnl, &nhwc_desc, node->name, &state->src_nhwc, err);
    if (code != FACESIM_OK)
        return code;
    step->args[step->n_args++] = (dnnl_exec_arg_t){ DNNL_ARG_FROM, state->src };
    step->args[step->n_args++] = (dnnl_exec_arg_t){ DNNL_ARG_TO, state->src_nhwc };
    /* Kernel scratch follows the reordered input, 64-byte aligned. */
    state->scratch_offset = (dnnl_memory_desc_get_size(&nhwc_desc) + 63) / 64 * 64;
    *src_desc = nhwc_desc;
    return FACESIM_OK;
}

static int conv_create(fs_run_ctx *ctx, fs_node *node, const conv_geometry *g,
                       bool sum_as_post_op, conv_state *state, size_t *scratch_bytes,
                       fs_error *err)
{
    int x = node->inputs[0], w = node->inputs[1];
    const fs_value *weight = &ctx->graph->values[w];
    bool has_bias = fs_node_has_input(node, 2);
    bool cached = ctx->weights && (weight->data || weight->packed);
    bool nhwc_in = g->spatial_rank == 2 && ctx->tensors[x].layout == FS_LAYOUT_NHWC;
    /* A constant input means constant folding, which keeps its results plain. */
    bool folding = ctx->graph->values[x].data != NULL;
    state->nhwc_out = g->spatial_rank == 2 && !folding;

    int64_t src_dims[4] = { g->batch, g->in_channels, g->in_height, g->in_width };
    int64_t dst_dims[4] = { g->batch, g->out_channels, g->out_height, g->out_width };
    dnnl_memory_desc_t src_desc, dst_desc, weight_desc, bias_desc;
    dnnl_dims_t bias_dims = { g->out_channels };
    int code;
    if ((code = fs_dnnl_activation_desc(&src_desc, src_dims, nhwc_in, node->name, err)) ||
        (code = fs_dnnl_memory_unbound(ctx->dnnl, &src_desc, node->name, &state->src, err)) ||
        (code = fs_dnnl_activation_desc(&dst_desc, dst_dims, state->nhwc_out, node->name,
                                        err)) ||
        (code = conv_weight_desc(g, cached ? dnnl_format_tag_any : dnnl_oihw, node,
                                 &weight_desc, err)) ||
        (code = fs_dnnl_check(dnnl_memory_desc_init_by_tag(&bias_desc, 1, bias_dims, dnnl_f32,
                                                           dnnl_x),
                              "dnnl_memory_desc_init_by_tag (bias)", node->name, err)))
        return code;
    dnnl_memory_t conv_src = state->src;
    if (state->nhwc_out && !nhwc_in) {
        code = conv_create_input_reorder(ctx, node, &src_desc, state, err);
        if (code != FACESIM_OK)
            return code;
        conv_src = state->src_nhwc;
    }

    /* oneDNN counts dilation as the gap between taps, ONNX as the tap spacing. */
    dnnl_dims_t strides = { g->stride_height, g->stride_width };
    dnnl_dims_t dilates = { g->dilation_height - 1, g->dilation_width - 1 };
    dnnl_dims_t pad_l = { g->pad_top, g->pad_left };
    dnnl_dims_t pad_r = { g->pad_bottom, g->pad_right };
    dnnl_convolution_desc_t desc;
    code = fs_dnnl_check(dnnl_dilated_convolution_forward_desc_init(
                             &desc, dnnl_forward_inference, dnnl_convolution_direct, &src_desc,
                             &weight_desc, has_bias ? &bias_desc : NULL, &dst_desc, strides,
                             dilates, pad_l, pad_r),
                         "dnnl_dilated_convolution_forward_desc_init", node->name, err);
    if (code != FACESIM_OK)
        return code;

    dnnl_primitive_attr_t attr = NULL;
    bool separate_prelu = false, separate_sum = false;
    code = conv_make_attr(ctx, node, g, &dst_desc, sum_as_post_op, state, &attr,
                          &separate_prelu, &separate_sum, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_primitive_create(ctx->dnnl, &desc, attr, node->name, &state->pd,
                                        &state->primitive, scratch_bytes, err);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (code != FACESIM_OK)
        return code;
    /* Stop before packing weights when conv_prepare will retry without the post-op. */
    if (node->fused_sum >= 0 && !separate_sum && state->nhwc_out &&
        strstr(fs_dnnl_impl_name(state->pd), "gemm")) {
        state->binary_post_op_broken = true;
        return FACESIM_OK;
    }

    if ((code = fs_dnnl_memory_unbound(ctx->dnnl, &dst_desc, node->name, &state->dst, err)))
        return code;
    conv_add_arg(state, DNNL_ARG_SRC, conv_src);
    conv_add_arg(state, DNNL_ARG_DST, state->dst);
    if (*scratch_bytes > 0) {
        const dnnl_memory_desc_t *scratch_desc =
            dnnl_primitive_desc_query_md(state->pd, dnnl_query_scratchpad_md, 0);
        code = fs_dnnl_memory_unbound(ctx->dnnl, scratch_desc, node->name, &state->scratch, err);
        if (code != FACESIM_OK)
            return code;
        conv_add_arg(state, DNNL_ARG_SCRATCHPAD, state->scratch);
    }
    if (has_bias && (code = conv_bind_bias(ctx, node, g, state, err)) != FACESIM_OK)
        return code;
    if (separate_prelu &&
        (code = conv_create_prelu(ctx, node, g, &dst_desc, state, scratch_bytes, err)))
        return code;
    if (separate_sum &&
        (code = conv_create_add(ctx, node, &dst_desc, state, scratch_bytes, err)))
        return code;
    *scratch_bytes += state->scratch_offset;
    return conv_bind_weights(ctx, node, g, cached, state, err);
}

static int conv_prepare(fs_run_ctx *ctx, fs_node *node, size_t *scratch_bytes, fs_error *err)
{
    *scratch_bytes = 0;
    conv_release(node);
    conv_geometry g;
    int code = conv_read_geometry(ctx->graph, node, &g, err);
    if (code != FACESIM_OK)
        return code;

    /* oneDNN 2.6's gemm-based convolution (chosen for 1x1 kernels with padding, among
     * others) computes a binary post-op wrongly when the destination is NHWC, so for it
     * the sum runs as a separate add. */
    bool sum_as_post_op = true;
    conv_state *state = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        state = calloc(1, sizeof *state);
        if (!state)
            return CONV_FAIL(err, FACESIM_ERR_NO_MEMORY, node, "%s", "out of memory");
        node->state = state;
        *scratch_bytes = 0;
        code = conv_create(ctx, node, &g, sum_as_post_op, state, scratch_bytes, err);
        if (code != FACESIM_OK || !state->binary_post_op_broken)
            break;
        conv_release(node);
        sum_as_post_op = false;
    }
    if (code != FACESIM_OK) {
        conv_release(node);
        *scratch_bytes = 0;
        return code;
    }
    if (state->nhwc_out)
        ctx->tensors[node->outputs[0]].layout = FS_LAYOUT_NHWC;
    return FACESIM_OK;
}

static int conv_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    conv_state *state = node->state;
    if (!state)
        return CONV_FAIL(err, FACESIM_ERR_INTERNAL, node, "%s", "run before prepare");
    dnnl_memory_set_data_handle(state->src, ctx->tensors[node->inputs[0]].data);
    dnnl_memory_set_data_handle(state->dst, ctx->tensors[node->outputs[0]].data);
    if (state->sum)
        dnnl_memory_set_data_handle(state->sum, ctx->tensors[node->fused_sum].data);
    if (state->runtime_weights)
        dnnl_memory_set_data_handle(state->runtime_weights, ctx->tensors[node->inputs[1]].data);
    if (state->bias && !state->bias_copy)
        dnnl_memory_set_data_handle(state->bias, ctx->tensors[node->inputs[2]].data);
    char *kernel_scratch = (char *)ctx->scratch + state->scratch_offset;
    if (state->scratch)
        dnnl_memory_set_data_handle(state->scratch, kernel_scratch);
    if (state->src_nhwc)
        dnnl_memory_set_data_handle(state->src_nhwc, ctx->scratch);

    int code = conv_step_run(ctx, node, &state->input_step, state->scratch_offset, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_check(dnnl_primitive_execute(state->primitive, ctx->dnnl->stream,
                                                    state->n_args, state->args),
                             "dnnl_primitive_execute", node->name, err);
    if (code == FACESIM_OK)
        code = conv_step_run(ctx, node, &state->prelu_step, state->scratch_offset, err);
    if (code == FACESIM_OK)
        code = conv_step_run(ctx, node, &state->add_step, state->scratch_offset, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_check(dnnl_stream_wait(ctx->dnnl->stream), "dnnl_stream_wait",
                             node->name, err);
    return code;
}

const fs_op fs_op_conv = {
    .op_type = "Conv",
    .infer = conv_infer,
    .accepts_layouts = conv_accepts_layouts,
    .prepare = conv_prepare,
    .run = conv_run,
    .release = conv_release,
};

/*
 * Gemm (ONNX opsets 1 to 13): Y = alpha * A' * B' + beta * C, with A' = transA ? A^T : A
 * and B' = transB ? B^T : B, C broadcast to [M, N].
 *
 * The common layer form (A not transposed, B a constant, alpha 1, C absent or a constant
 * row vector) runs as a oneDNN inner product with B packed once into the weight cache and
 * beta * C as its bias. Every other form runs the plain C reference kernel, which is
 * fast enough for the small Gemms of face models (25088 x 512 at most).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/dnnl_glue.h"
#include "engine/op.h"
#include "engine/ref/ref_kernels.h"
#include "engine/weight_cache.h"

#define GEMM_FAIL(err, code, node, format, ...)                                              \
    fs_error_set(err, code, "node '%s' (Gemm): " format, (node)->name, __VA_ARGS__)

static int gemm_read_shape(const fs_graph *graph, const fs_node *node, fs_ref_gemm_shape *s,
                           fs_error *err)
{
    int code = fs_op_check_arity(node, 2, 3, 1, err);
    if (code != FACESIM_OK)
        return code;
    int64_t trans_a = 0, trans_b = 0;
    float alpha = 1.0f, beta = 1.0f;
    if ((code = fs_node_attr_int(node, "transA", 0, &trans_a, err)) ||
        (code = fs_node_attr_int(node, "transB", 0, &trans_b, err)) ||
        (code = fs_node_attr_float(node, "alpha", 1.0f, &alpha, err)) ||
        (code = fs_node_attr_float(node, "beta", 1.0f, &beta, err)))
        return code;

    const fs_value *a = &graph->values[node->inputs[0]];
    const fs_value *b = &graph->values[node->inputs[1]];
    for (int i = 0; i < 2; i++) {
        const fs_value *v = i == 0 ? a : b;
        if (v->dtype != FS_DTYPE_FLOAT)
            return GEMM_FAIL(err, FACESIM_ERR_UNSUPPORTED, node,
                             "input '%s' is %s; only float32 is supported", v->name,
                             fs_dtype_name(v->dtype));
        if (v->rank != 2 || !fs_value_shape_known(v))
            return GEMM_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                             "input '%s' must be a matrix of known shape (rank %d given)",
                             v->name, v->rank);
    }
    memset(s, 0, sizeof *s);
    s->trans_a = trans_a != 0;
    s->trans_b = trans_b != 0;
    s->alpha = alpha;
    s->beta = beta;
    s->m = s->trans_a ? a->dims[1] : a->dims[0];
    s->k = s->trans_a ? a->dims[0] : a->dims[1];
    s->n = s->trans_b ? b->dims[0] : b->dims[1];
    int64_t b_k = s->trans_b ? b->dims[1] : b->dims[0];
    if (b_k != s->k)
        return GEMM_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                         "inner dimensions differ: A' is [%lld, %lld] and B' is [%lld, %lld] "
                         "(transA %d, transB %d)", (long long)s->m, (long long)s->k,
                         (long long)b_k, (long long)s->n, (int)s->trans_a, (int)s->trans_b);

    if (!fs_node_has_input(node, 2))
        return FACESIM_OK;
    /* C broadcasts to [M, N] numpy-style: a stride of 0 repeats it along that axis. */
    const fs_value *c = &graph->values[node->inputs[2]];
    bool ok = c->dtype == FS_DTYPE_FLOAT && c->rank >= 0 && c->rank <= 2 &&
              fs_value_shape_known(c);
    int64_t rows = ok && c->rank == 2 ? c->dims[0] : 1;
    int64_t cols = ok && c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    ok = ok && (rows == 1 || rows == s->m) && (cols == 1 || cols == s->n);
    if (!ok)
        return GEMM_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                         "input C '%s' must be float32 and broadcastable to [%lld, %lld]",
                         c->name, (long long)s->m, (long long)s->n);
    s->c_stride_n = cols == 1 ? 0 : 1;
    s->c_stride_m = rows == 1 ? 0 : cols;
    return FACESIM_OK;
}

static int gemm_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    fs_ref_gemm_shape s;
    int code = gemm_read_shape(graph, node, &s, err);
    if (code != FACESIM_OK)
        return code;
    int64_t dims[2] = { s.m, s.n };
    fs_value_set_shape(fs_node_output(graph, node, 0), FS_DTYPE_FLOAT, 2, dims);
    return FACESIM_OK;
}

typedef struct gemm_state {
    fs_ref_gemm_shape shape;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t primitive; /* NULL when the reference kernel runs */
    dnnl_memory_t src, dst, bias, scratch;
    float *bias_copy;           /* beta * C as one row of N values */
    dnnl_exec_arg_t args[5];
    int n_args;
} gemm_state;

static void gemm_release(fs_node *node)
{
    gemm_state *state = node->state;
    if (!state)
        return;
    dnnl_memory_t owned[] = { state->src, state->dst, state->bias, state->scratch };
    fs_dnnl_destroy_kernel(state->primitive, state->pd, owned, sizeof owned / sizeof owned[0]);
    free(state->bias_copy);
    free(state);
    node->state = NULL;
}

/* True when the node has the inner-product form described at the top of the file. */
static bool gemm_fits_inner_product(const fs_run_ctx *ctx, const fs_node *node,
                                    const fs_ref_gemm_shape *s)
{
    const fs_value *b = fs_node_input(ctx->graph, node, 1);
    if (s->trans_a || s->alpha != 1.0f || !ctx->weights || !(b->data || b->packed))
        return false;
    if (!fs_node_has_input(node, 2))
        return true;
    const fs_value *c = fs_node_input(ctx->graph, node, 2);
    return c->data != NULL && s->c_stride_m == 0;
}

static void gemm_add_arg(gemm_state *state, int arg, dnnl_memory_t memory)
{
    state->args[state->n_args++] = (dnnl_exec_arg_t){ arg, memory };
}

static int gemm_create_bias(fs_run_ctx *ctx, const fs_node *node, gemm_state *state,
                            dnnl_memory_desc_t *bias_desc, fs_error *err)
{
    const fs_ref_gemm_shape *s = &state->shape;
    const fs_value *c = fs_node_input(ctx->graph, node, 2);
    state->bias_copy = malloc((size_t)s->n * sizeof(float));
    if (!state->bias_copy)
        return GEMM_FAIL(err, FACESIM_ERR_NO_MEMORY, node, "out of memory copying C '%s'",
                         c->name);
    const float *values = c->data;
    for (int64_t j = 0; j < s->n; j++)
        state->bias_copy[j] = s->beta * values[j * s->c_stride_n];
    dnnl_dims_t dims = { s->n };
    int code = fs_dnnl_check(dnnl_memory_desc_init_by_tag(bias_desc, 1, dims, dnnl_f32, dnnl_x),
                             "dnnl_memory_desc_init_by_tag (bias)", node->name, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_check(dnnl_memory_create(&state->bias, bias_desc, ctx->dnnl->engine,
                                                state->bias_copy),
                             "dnnl_memory_create (bias)", node->name, err);
    if (code == FACESIM_OK)
        gemm_add_arg(state, DNNL_ARG_BIAS, state->bias);
    return code;
}

static int gemm_create_inner_product(fs_run_ctx *ctx, const fs_node *node, gemm_state *state,
                                     size_t *scratch_bytes, fs_error *err)
{
    const fs_ref_gemm_shape *s = &state->shape;
    int b = node->inputs[1];
    bool has_bias = fs_node_has_input(node, 2);
    dnnl_dims_t src_dims = { s->m, s->k }, weight_dims = { s->n, s->k }, dst_dims = { s->m, s->n };
    dnnl_memory_desc_t src_desc, weight_desc, plain_weight_desc, dst_desc, bias_desc;
    int code;
    /* The inner product's weights are [N, K]: B itself when transB, else B^T. */
    if ((code = fs_dnnl_check(dnnl_memory_desc_init_by_tag(&src_desc, 2, src_dims, dnnl_f32,
                                                           dnnl_ab),
                              "dnnl_memory_desc_init_by_tag", node->name, err)) ||
        (code = fs_dnnl_check(dnnl_memory_desc_init_by_tag(&dst_desc, 2, dst_dims, dnnl_f32,
                                                           dnnl_ab),
                              "dnnl_memory_desc_init_by_tag", node->name, err)) ||
        (code = fs_dnnl_check(dnnl_memory_desc_init_by_tag(&weight_desc, 2, weight_dims,
                                                           dnnl_f32, dnnl_format_tag_any),
                              "dnnl_memory_desc_init_by_tag", node->name, err)) ||
        (code = fs_dnnl_check(dnnl_memory_desc_init_by_tag(&plain_weight_desc, 2, weight_dims,
                                                           dnnl_f32,
                                                           s->trans_b ? dnnl_ab : dnnl_ba),
                              "dnnl_memory_desc_init_by_tag", node->name, err)))
        return code;
    if (has_bias && (code = gemm_create_bias(ctx, node, state, &bias_desc, err)) != FACESIM_OK)
        return code;

    dnnl_inner_product_desc_t desc;
    code = fs_dnnl_check(dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_inference,
                                                              &src_desc, &weight_desc,
                                                              has_bias ? &bias_desc : NULL,
                                                              &dst_desc),
                         "dnnl_inner_product_forward_desc_init", node->name, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_primitive_create(ctx->dnnl, &desc, NULL, node->name, &state->pd,
                                        &state->primitive, scratch_bytes, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_memory_unbound(ctx->dnnl, &src_desc, node->name, &state->src, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_memory_unbound(ctx->dnnl, &dst_desc, node->name, &state->dst, err);
    if (code != FACESIM_OK)
        return code;
    gemm_add_arg(state, DNNL_ARG_SRC, state->src);
    gemm_add_arg(state, DNNL_ARG_DST, state->dst);
    if (*scratch_bytes > 0) {
        const dnnl_memory_desc_t *scratch_desc =
            dnnl_primitive_desc_query_md(state->pd, dnnl_query_scratchpad_md, 0);
        code = fs_dnnl_memory_unbound(ctx->dnnl, scratch_desc, node->name, &state->scratch, err);
        if (code != FACESIM_OK)
            return code;
        gemm_add_arg(state, DNNL_ARG_SCRATCHPAD, state->scratch);
    }

    const dnnl_memory_desc_t *chosen = dnnl_primitive_desc_query_md(state->pd,
                                                                    dnnl_query_weights_md, 0);
    dnnl_memory_t packed = NULL;
    code = fs_weight_cache_get(ctx->weights, ctx->dnnl, b, chosen, ctx->graph->values[b].data,
                               &plain_weight_desc, &packed, err);
    if (code != FACESIM_OK)
        return fs_error_prefix(err, "node '%s' (Gemm): input B '%s'", node->name,
                               ctx->graph->values[b].name);
    gemm_add_arg(state, DNNL_ARG_WEIGHTS, packed);
    fs_run_release_constant(ctx, b);
    return FACESIM_OK;
}

static int gemm_prepare(fs_run_ctx *ctx, fs_node *node, size_t *scratch_bytes, fs_error *err)
{
    *scratch_bytes = 0;
    gemm_release(node);
    if (node->fused_activation != FS_ACTIVATION_NONE || node->fused_sum >= 0)
        return GEMM_FAIL(err, FACESIM_ERR_INTERNAL, node, "%s",
                         "fused activations and sums are not implemented for Gemm");
    gemm_state *state = calloc(1, sizeof *state);
    if (!state)
        return GEMM_FAIL(err, FACESIM_ERR_NO_MEMORY, node, "%s", "out of memory");
    node->state = state;
    int code = gemm_read_shape(ctx->graph, node, &state->shape, err);
    if (code == FACESIM_OK && gemm_fits_inner_product(ctx, node, &state->shape))
        code = gemm_create_inner_product(ctx, node, state, scratch_bytes, err);
    if (code != FACESIM_OK) {
        gemm_release(node);
        *scratch_bytes = 0;
    }
    return code;
}

static int gemm_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    const float *a = ctx->tensors[node->inputs[0]].data;
    float *y = ctx->tensors[node->outputs[0]].data;
    const float *c = fs_node_has_input(node, 2) ? ctx->tensors[node->inputs[2]].data : NULL;
    gemm_state *state = node->state;
    if (!state) {
        /* Constant folding runs ops without prepare. */
        fs_ref_gemm_shape s;
        int code = gemm_read_shape(ctx->graph, node, &s, err);
        if (code == FACESIM_OK)
            fs_ref_gemm(&s, a, ctx->tensors[node->inputs[1]].data, c, y);
        return code;
    }
    if (!state->primitive) {
        fs_ref_gemm(&state->shape, a, ctx->tensors[node->inputs[1]].data, c, y);
        return FACESIM_OK;
    }
    dnnl_memory_set_data_handle(state->src, (void *)a);
    dnnl_memory_set_data_handle(state->dst, y);
    if (state->scratch)
        dnnl_memory_set_data_handle(state->scratch, ctx->scratch);
    return fs_dnnl_execute(ctx->dnnl, state->primitive, state->n_args, state->args, node->name,
                           err);
}

const fs_op fs_op_gemm = {
    .op_type = "Gemm",
    .infer = gemm_infer,
    .prepare = gemm_prepare,
    .run = gemm_run,
    .release = gemm_release,
};

/*
 * MatMul (ONNX opsets 1 to 13) with numpy semantics: a 1-D A gains a leading 1 and a 1-D B
 * a trailing 1 (both dropped from the output), and the batch dims broadcast.
 *
 * Kernels, in order of preference:
 * - B a constant matrix: A's batch dims fold into M and one oneDNN matmul runs with B
 *   packed once into the weight cache;
 * - otherwise a oneDNN batched matmul on plain tensors of up to 6 dims (oneDNN 2.6
 *   broadcasts a batch dim of size 1 on either side);
 * - the plain C reference kernel when oneDNN has no implementation for the shapes.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/dnnl_glue.h"
#include "engine/op.h"
#include "engine/ref/ref_kernels.h"
#include "engine/weight_cache.h"

#define MATMUL_FAIL(err, code, node, format, ...)                                            \
    fs_error_set(err, code, "node '%s' (MatMul): " format, (node)->name, __VA_ARGS__)

typedef struct matmul_geometry {
    fs_ref_matmul_shape ref;
    int64_t a_batch[FS_MAX_RANK]; /* A's and B's batch dims, aligned to ref.batch_rank */
    int64_t b_batch[FS_MAX_RANK];
    int out_rank;
    int64_t out_dims[FS_MAX_RANK];
    bool b_is_matrix;             /* B has rank 2 (no batch dims) */
} matmul_geometry;

static int matmul_read_geometry(const fs_graph *graph, const fs_node *node, matmul_geometry *g,
                                fs_error *err)
{
    int code = fs_op_check_arity(node, 2, 2, 1, err);
    if (code != FACESIM_OK)
        return code;
    const fs_value *a = &graph->values[node->inputs[0]];
    const fs_value *b = &graph->values[node->inputs[1]];
    for (int i = 0; i < 2; i++) {
        const fs_value *v = i == 0 ? a : b;
        if (v->dtype != FS_DTYPE_FLOAT)
            return MATMUL_FAIL(err, FACESIM_ERR_UNSUPPORTED, node,
                               "input '%s' is %s; only float32 is supported", v->name,
                               fs_dtype_name(v->dtype));
        if (v->rank < 1 || !fs_value_shape_known(v))
            return MATMUL_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                               "input '%s' must have rank 1 or more and a known shape", v->name);
    }

    memset(g, 0, sizeof *g);
    fs_ref_matmul_shape *s = &g->ref;
    s->m = a->rank == 1 ? 1 : a->dims[a->rank - 2];
    s->k = a->dims[a->rank - 1];
    int64_t b_k = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    s->n = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    if (b_k != s->k)
        return MATMUL_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                           "inner dimensions differ: '%s' has %lld columns, '%s' has %lld rows",
                           a->name, (long long)s->k, b->name, (long long)b_k);

    int a_batch_rank = a->rank > 2 ? a->rank - 2 : 0;
    int b_batch_rank = b->rank > 2 ? b->rank - 2 : 0;
    s->batch_rank = a_batch_rank > b_batch_rank ? a_batch_rank : b_batch_rank;
    g->b_is_matrix = b->rank == 2;
    /* Right-align the batch dims and broadcast them. */
    for (int d = 0; d < s->batch_rank; d++) {
        int ad = d - (s->batch_rank - a_batch_rank);
        int bd = d - (s->batch_rank - b_batch_rank);
        g->a_batch[d] = ad >= 0 ? a->dims[ad] : 1;
        g->b_batch[d] = bd >= 0 ? b->dims[bd] : 1;
        if (g->a_batch[d] != g->b_batch[d] && g->a_batch[d] != 1 && g->b_batch[d] != 1)
            return MATMUL_FAIL(err, FACESIM_ERR_INVALID_DATA, node,
                               "batch dims of '%s' and '%s' do not broadcast (%lld against "
                               "%lld)", a->name, b->name, (long long)g->a_batch[d],
                               (long long)g->b_batch[d]);
        s->batch_dims[d] = g->a_batch[d] > g->b_batch[d] ? g->a_batch[d] : g->b_batch[d];
    }
    /* Element strides of each batch dim; 0 where the operand is broadcast. */
    int64_t a_stride = s->m * s->k, b_stride = s->k * s->n;
    for (int d = s->batch_rank - 1; d >= 0; d--) {
        s->a_batch_strides[d] = g->a_batch[d] == 1 ? 0 : a_stride;
        s->b_batch_strides[d] = g->b_batch[d] == 1 ? 0 : b_stride;
        a_stride *= g->a_batch[d];
        b_stride *= g->b_batch[d];
    }

    g->out_rank = s->batch_rank;
    memcpy(g->out_dims, s->batch_dims, sizeof(int64_t) * (size_t)s->batch_rank);
    if (a->rank > 1)
        g->out_dims[g->out_rank++] = s->m;
    if (b->rank > 1)
        g->out_dims[g->out_rank++] = s->n;
    return FACESIM_OK;
}

static int matmul_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    matmul_geometry g;
    int code = matmul_read_geometry(graph, node, &g, err);
    if (code != FACESIM_OK)
        return code;
    fs_value_set_shape(fs_node_output(graph, node, 0), FS_DTYPE_FLOAT, g.out_rank, g.out_dims);
    return FACESIM_OK;
}

typedef struct matmul_state {
    matmul_geometry geometry;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t primitive; /* NULL when the reference kernel runs */
    dnnl_memory_t src, dst, scratch;
    dnnl_memory_t runtime_weights; /* B bound at run, when it is not packed */
    dnnl_exec_arg_t args[4];
    int n_args;
} matmul_state;

static void matmul_release(fs_node *node)
{
    matmul_state *state = node->state;
    if (!state)
        return;
    dnnl_memory_t owned[] = { state->src, state->dst, state->scratch, state->runtime_weights };
    fs_dnnl_destroy_kernel(state->primitive, state->pd, owned, sizeof owned / sizeof owned[0]);
    free(state);
    node->state = NULL;
}

static void matmul_add_arg(matmul_state *state, int arg, dnnl_memory_t memory)
{
    state->args[state->n_args++] = (dnnl_exec_arg_t){ arg, memory };
}

/* Creates the oneDNN matmul for the src, weights and dst descriptors, and the memory
 * objects of src, dst and the scratchpad. The caller binds the weights. */
static int matmul_create_primitive(fs_run_ctx *ctx, const fs_node *node, matmul_state *state,
                                   const dnnl_memory_desc_t *src_desc,
                                   const dnnl_memory_desc_t *weight_desc,
                                   const dnnl_memory_desc_t *dst_desc, size_t *scratch_bytes,
                                   fs_error *err)
{
    dnnl_matmul_desc_t desc;
    int code = fs_dnnl_check(dnnl_matmul_desc_init(&desc, src_desc, weight_desc, NULL,
                                                   dst_desc),
                             "dnnl_matmul_desc_init", node->name, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_primitive_create(ctx->dnnl, &desc, NULL, node->name, &state->pd,
                                        &state->primitive, scratch_bytes, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_memory_unbound(ctx->dnnl, src_desc, node->name, &state->src, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_memory_unbound(ctx->dnnl, dst_desc, node->name, &state->dst, err);
    if (code != FACESIM_OK)
        return code;
    matmul_add_arg(state, DNNL_ARG_SRC, state->src);
    matmul_add_arg(state, DNNL_ARG_DST, state->dst);
    if (*scratch_bytes > 0) {
        const dnnl_memory_desc_t *scratch_desc =
            dnnl_primitive_desc_query_md(state->pd, dnnl_query_scratchpad_md, 0);
        code = fs_dnnl_memory_unbound(ctx->dnnl, scratch_desc, node->name, &state->scratch, err);
        if (code != FACESIM_OK)
            return code;
        matmul_add_arg(state, DNNL_ARG_SCRATCHPAD, state->scratch);
    }
    return FACESIM_OK;
}

/* B a constant matrix: y [batches * M, N] = a [batches * M, K] * packed b [K, N]. */
static int matmul_create_packed(fs_run_ctx *ctx, const fs_node *node, matmul_state *state,
                                size_t *scratch_bytes, fs_error *err)
{
    const fs_ref_matmul_shape *s = &state->geometry.ref;
    int b = node->inputs[1];
    int64_t rows = s->m;
    for (int d = 0; d < s->batch_rank; d++)
        rows *= s->batch_dims[d];
    dnnl_dims_t src_dims = { rows, s->k }, weight_dims = { s->k, s->n };
    dnnl_dims_t dst_dims = { rows, s->n };
    dnnl_memory_desc_t src_desc, weight_desc, plain_weight_desc, dst_desc;
    int code;
    if ((code = fs_dnnl_plain_desc(&src_desc, 2, src_dims, node->name, err)) ||
        (code = fs_dnnl_plain_desc(&dst_desc, 2, dst_dims, node->name, err)) ||
        (code = fs_dnnl_plain_desc(&plain_weight_desc, 2, weight_dims, node->name, err)) ||
        (code = fs_dnnl_check(dnnl_memory_desc_init_by_tag(&weight_desc, 2, weight_dims,
                                                           dnnl_f32, dnnl_format_tag_any),
                              "dnnl_memory_desc_init_by_tag", node->name, err)) ||
        (code = matmul_create_primitive(ctx, node, state, &src_desc, &weight_desc, &dst_desc,
                                        scratch_bytes, err)))
        return code;

    const dnnl_memory_desc_t *chosen = dnnl_primitive_desc_query_md(state->pd,
                                                                    dnnl_query_weights_md, 0);
    dnnl_memory_t packed = NULL;
    code = fs_weight_cache_get(ctx->weights, ctx->dnnl, b, chosen, ctx->graph->values[b].data,
                               &plain_weight_desc, &packed, err);
    if (code != FACESIM_OK)
        return fs_error_prefix(err, "node '%s' (MatMul): input B '%s'", node->name,
                               ctx->graph->values[b].name);
    matmul_add_arg(state, DNNL_ARG_WEIGHTS, packed);
    fs_run_release_constant(ctx, b);
    return FACESIM_OK;
}

/* Both operands at run time: plain tensors of equal rank, batch dims broadcast by oneDNN. */
static int matmul_create_batched(fs_run_ctx *ctx, const fs_node *node, matmul_state *state,
                                 size_t *scratch_bytes, fs_error *err)
{
    const matmul_geometry *g = &state->geometry;
    const fs_ref_matmul_shape *s = &g->ref;
    int rank = s->batch_rank + 2;
    int64_t src_dims[FS_MAX_RANK], weight_dims[FS_MAX_RANK], dst_dims[FS_MAX_RANK];
    for (int d = 0; d < s->batch_rank; d++) {
        src_dims[d] = g->a_batch[d];
        weight_dims[d] = g->b_batch[d];
        dst_dims[d] = s->batch_dims[d];
    }
    src_dims[rank - 2] = s->m;
    src_dims[rank - 1] = s->k;
    weight_dims[rank - 2] = s->k;
    weight_dims[rank - 1] = s->n;
    dst_dims[rank - 2] = s->m;
    dst_dims[rank - 1] = s->n;
    dnnl_memory_desc_t src_desc, weight_desc, dst_desc;
    int code;
    if ((code = fs_dnnl_plain_desc(&src_desc, rank, src_dims, node->name, err)) ||
        (code = fs_dnnl_plain_desc(&weight_desc, rank, weight_dims, node->name, err)) ||
        (code = fs_dnnl_plain_desc(&dst_desc, rank, dst_dims, node->name, err)) ||
        (code = matmul_create_primitive(ctx, node, state, &src_desc, &weight_desc, &dst_desc,
                                        scratch_bytes, err)) ||
        (code = fs_dnnl_memory_unbound(ctx->dnnl, &weight_desc, node->name,
                                       &state->runtime_weights, err)))
        return code;
    matmul_add_arg(state, DNNL_ARG_WEIGHTS, state->runtime_weights);
    return FACESIM_OK;
}

static int matmul_prepare(fs_run_ctx *ctx, fs_node *node, size_t *scratch_bytes, fs_error *err)
{
    *scratch_bytes = 0;
    matmul_release(node);
    if (node->fused_activation != FS_ACTIVATION_NONE || node->fused_sum >= 0)
        return MATMUL_FAIL(err, FACESIM_ERR_INTERNAL, node, "%s",
                           "fused activations and sums are not implemented for MatMul");
    matmul_state *state = calloc(1, sizeof *state);
    if (!state)
        return MATMUL_FAIL(err, FACESIM_ERR_NO_MEMORY, node, "%s", "out of memory");
    node->state = state;
    int code = matmul_read_geometry(ctx->graph, node, &state->geometry, err);
    if (code != FACESIM_OK) {
        matmul_release(node);
        return code;
    }

    const fs_value *b = fs_node_input(ctx->graph, node, 1);
    if (state->geometry.b_is_matrix && ctx->weights && (b->data || b->packed)) {
        code = matmul_create_packed(ctx, node, state, scratch_bytes, err);
    } else if (state->geometry.ref.batch_rank <= 4) {
        code = matmul_create_batched(ctx, node, state, scratch_bytes, err);
        if (code == FACESIM_ERR_UNSUPPORTED) {
            /* oneDNN has no kernel for this broadcast: run the reference kernel. */
            matmul_geometry geometry = state->geometry;
            matmul_release(node);
            state = calloc(1, sizeof *state);
            if (!state)
                return MATMUL_FAIL(err, FACESIM_ERR_NO_MEMORY, node, "%s", "out of memory");
            state->geometry = geometry;
            node->state = state;
            *scratch_bytes = 0;
            fs_error_clear(err);
            code = FACESIM_OK;
        }
    }
    if (code != FACESIM_OK) {
        matmul_release(node);
        *scratch_bytes = 0;
    }
    return code;
}

static int matmul_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    const float *a = ctx->tensors[node->inputs[0]].data;
    const float *b = ctx->tensors[node->inputs[1]].data;
    float *y = ctx->tensors[node->outputs[0]].data;
    matmul_state *state = node->state;
    if (!state) {
        /* Constant folding runs ops without prepare. */
        matmul_geometry g;
        int code = matmul_read_geometry(ctx->graph, node, &g, err);
        if (code == FACESIM_OK)
            fs_ref_matmul(&g.ref, a, b, y);
        return code;
    }
    if (!state->primitive) {
        fs_ref_matmul(&state->geometry.ref, a, b, y);
        return FACESIM_OK;
    }
    dnnl_memory_set_data_handle(state->src, (void *)a);
    dnnl_memory_set_data_handle(state->dst, y);
    if (state->runtime_weights)
        dnnl_memory_set_data_handle(state->runtime_weights, (void *)b);
    if (state->scratch)
        dnnl_memory_set_data_handle(state->scratch, ctx->scratch);
    return fs_dnnl_execute(ctx->dnnl, state->primitive, state->n_args, state->args, node->name,
                           err);
}

const fs_op fs_op_matmul = {
    .op_type = "MatMul",
    .infer = matmul_infer,
    .prepare = matmul_prepare,
    .run = matmul_run,
    .release = matmul_release,
};

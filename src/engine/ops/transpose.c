/*
 * Transpose with a `perm` attribute (default: reverse the dims), any element type.
 *
 * The input may be NHWC: the copy reads it through its NHWC strides and writes a
 * plain output, so the common detector-head pattern NHWC -> perm [0, 2, 3, 1]
 * becomes one contiguous memcpy.
 */
#include "engine/ops/ops_common.h"

static int transpose_perm(const fs_graph *graph, const fs_node *node, int rank, int *perm,
                          fs_error *err)
{
    const int64_t *values;
    size_t count;
    int status = fs_node_attr_ints(node, "perm", &values, &count, err);
    if (status != FACESIM_OK)
        return status;
    if (!values) {
        for (int d = 0; d < rank; d++)
            perm[d] = rank - 1 - d;
        return FACESIM_OK;
    }
    if ((int64_t)count != rank)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "attribute 'perm' has %zu entries but the input has rank %d",
                            count, rank);
    bool used[FS_MAX_RANK] = { false };
    for (int d = 0; d < rank; d++) {
        if (values[d] < 0 || values[d] >= rank || used[values[d]])
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "attribute 'perm' is not a permutation of 0 .. %d (entry %d "
                                "is %lld)",
                                rank - 1, d, (long long)values[d]);
        used[values[d]] = true;
        perm[d] = (int)values[d];
    }
    return FACESIM_OK;
}

static int transpose_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, 1, 1, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, FS_OPS_ANY_TYPE, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *x = fs_node_input(graph, node, 0);
    int perm[FS_MAX_RANK];
    status = transpose_perm(graph, node, x->rank, perm, err);
    if (status != FACESIM_OK)
        return status;
    int64_t dims[FS_MAX_RANK];
    for (int d = 0; d < x->rank; d++)
        dims[d] = x->dims[perm[d]];
    return fs_ops_set_output(graph, node, 0, x->dtype, x->rank, dims, err);
}

static bool transpose_accepts_layouts(const fs_graph *graph, const fs_node *node,
                                      const fs_layout *input_layouts)
{
    return true;
}

static int transpose_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    const fs_value *x = fs_node_input(ctx->graph, node, 0);
    const fs_value *y = fs_node_output(ctx->graph, node, 0);
    int perm[FS_MAX_RANK];
    int status = transpose_perm(ctx->graph, node, x->rank, perm, err);
    if (status != FACESIM_OK)
        return status;
    int64_t in_strides[FS_MAX_RANK], src_strides[FS_MAX_RANK], dst_strides[FS_MAX_RANK];
    fs_ops_layout_strides(fs_ops_input_layout(ctx, node, 0), x->rank, x->dims, in_strides);
    for (int d = 0; d < x->rank; d++)
        src_strides[d] = in_strides[perm[d]];
    fs_ops_strides(y->rank, y->dims, dst_strides);
    fs_ops_copy_strided(fs_ops_output_data(ctx, node, 0), dst_strides,
                        fs_ops_input_data(ctx, node, 0), src_strides, y->rank, y->dims,
                        fs_dtype_size(x->dtype), fs_ops_threads(ctx, fs_value_numel(y)));
    return FACESIM_OK;
}

const fs_op fs_op_transpose = {
    .op_type = "Transpose",
    .infer = transpose_infer,
    .accepts_layouts = transpose_accepts_layouts,
    .run = transpose_run,
};

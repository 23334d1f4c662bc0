/*
 * Gather along `axis` (default 0, negative counts from the end). Data of any
 * element type; indices int64 or int32, negative ones counting from the end of
 * the axis. An index out of range fails the run with FACESIM_ERR_INVALID_ARGUMENT.
 *
 * Output shape: data.dims[:axis] + indices.dims + data.dims[axis + 1:].
 */
#include <string.h>

#include "engine/ops/ops_common.h"

static int gather_axis(const fs_node *node, int rank, int *axis, fs_error *err)
{
    int64_t value;
    int status = fs_node_attr_int(node, "axis", 0, &value, err);
    if (status != FACESIM_OK)
        return status;
    return fs_ops_normalize_axis(node, "attribute 'axis'", value, rank, axis, err);
}

static int gather_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, 2, 2, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, FS_OPS_ANY_TYPE, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 1, FS_OPS_INT64 | FS_OPS_INT32, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *data = fs_node_input(graph, node, 0);
    const fs_value *indices = fs_node_input(graph, node, 1);
    if (data->rank == 0)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "data '%s' is a scalar; Gather needs rank 1 or more", data->name);
    int axis;
    status = gather_axis(node, data->rank, &axis, err);
    if (status != FACESIM_OK)
        return status;
    int rank = data->rank - 1 + indices->rank;
    if (rank > FS_MAX_RANK)
        return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                            "output would have rank %d; facesim supports at most %d", rank,
                            FS_MAX_RANK);
    int64_t dims[FS_MAX_RANK];
    int k = 0;
    for (int d = 0; d < axis; d++)
        dims[k++] = data->dims[d];
    for (int d = 0; d < indices->rank; d++)
        dims[k++] = indices->dims[d];
    for (int d = axis + 1; d < data->rank; d++)
        dims[k++] = data->dims[d];
    return fs_ops_set_output(graph, node, 0, data->dtype, rank, dims, err);
}

static int gather_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    const fs_value *data = fs_node_input(ctx->graph, node, 0);
    const fs_value *indices = fs_node_input(ctx->graph, node, 1);
    int axis;
    int status = gather_axis(node, data->rank, &axis, err);
    if (status != FACESIM_OK)
        return status;
    int64_t outer = 1, inner = 1, dim = data->dims[axis];
    for (int d = 0; d < axis; d++)
        outer *= data->dims[d];
    for (int d = axis + 1; d < data->rank; d++)
        inner *= data->dims[d];
    int64_t n_indices = fs_value_numel(indices);
    size_t block = (size_t)inner * fs_dtype_size(data->dtype);
    const char *x = fs_ops_input_data(ctx, node, 0);
    char *y = fs_ops_output_data(ctx, node, 0);
    const void *index_data = fs_ops_input_data(ctx, node, 1);
    bool wide = indices->dtype == FS_DTYPE_INT64;

    for (int64_t k = 0; k < n_indices; k++) {
        int64_t index = wide ? ((const int64_t *)index_data)[k]
                             : ((const int32_t *)index_data)[k];
        if (index < -dim || index >= dim)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_ARGUMENT,
                                "index %lld (entry %lld of '%s') is outside -%lld .. %lld",
                                (long long)index, (long long)k, indices->name, (long long)dim,
                                (long long)dim - 1);
        if (index < 0)
            index += dim;
        for (int64_t o = 0; o < outer; o++)
            memcpy(y + (size_t)(o * n_indices + k) * block,
                   x + (size_t)(o * dim + index) * block, block);
    }
    return FACESIM_OK;
}

const fs_op fs_op_gather = {
    .op_type = "Gather",
    .infer = gather_infer,
    .run = gather_run,
};

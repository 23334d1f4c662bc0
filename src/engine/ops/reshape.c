/*
 * Ops that change only the shape: Reshape, Flatten, Squeeze, Unsqueeze. The data
 * is copied unchanged (nothing happens when the executor gives input and output
 * the same buffer). Shapes and axes given as inputs must be constants at plan time.
 *
 * Opset differences:
 * - Reshape: opset 14 adds `allowzero`; with it, 0 in the shape means a zero-size
 *   dim instead of "copy the input dim".
 * - Squeeze and Unsqueeze: `axes` is an attribute before opset 13 and an input from
 *   opset 13 (optional for Squeeze, where no axes means every dim of size 1).
 */
#include <string.h>

#include "engine/ops/ops_common.h"

static int reshape_copy_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    const fs_value *input = fs_node_input(ctx->graph, node, 0);
    const void *x = fs_ops_input_data(ctx, node, 0);
    void *y = fs_ops_output_data(ctx, node, 0);
    size_t bytes = (size_t)fs_value_numel(input) * fs_dtype_size(input->dtype);
    if (x != y && bytes > 0)
        memcpy(y, x, bytes);
    return FACESIM_OK;
}

static int reshape_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, 2, 2, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, FS_OPS_ANY_TYPE, err);
    int64_t allowzero = 0;
    if (status == FACESIM_OK)
        status = fs_node_attr_int(node, "allowzero", 0, &allowzero, err);
    if (status != FACESIM_OK)
        return status;
    int64_t shape[FS_MAX_RANK];
    int rank;
    status = fs_ops_read_ints(graph, node, 1, "shape", shape, FS_MAX_RANK, &rank, err);
    if (status != FACESIM_OK)
        return status;

    const fs_value *x = fs_node_input(graph, node, 0);
    int64_t input_count = fs_value_numel(x);
    int inferred = -1;
    int64_t known = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] == 0 && !allowzero) {
            if (d >= x->rank)
                return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                    "shape entry %d is 0 (copy the input dim) but the input "
                                    "'%s' has only %d dims",
                                    d, x->name, x->rank);
            shape[d] = x->dims[d];
        }
        if (shape[d] == -1) {
            if (inferred >= 0)
                return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                    "shape has -1 at entries %d and %d; at most one dim can be "
                                    "inferred",
                                    inferred, d);
            inferred = d;
            continue;
        }
        if (shape[d] < 0)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "shape entry %d is %lld; entries must be >= -1", d,
                                (long long)shape[d]);
        known *= shape[d];
    }
    if (inferred >= 0) {
        if (known == 0 || input_count % known != 0)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "cannot infer the -1 dim: %lld input elements do not divide "
                                "into the other dims (product %lld)",
                                (long long)input_count, (long long)known);
        shape[inferred] = input_count / known;
        known *= shape[inferred];
    }
    if (known != input_count)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "shape has %lld elements but input '%s' has %lld",
                            (long long)known, x->name, (long long)input_count);
    return fs_ops_set_output(graph, node, 0, x->dtype, rank, shape, err);
}

static int flatten_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, 1, 1, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, FS_OPS_ANY_TYPE, err);
    int64_t axis_attr = 1;
    if (status == FACESIM_OK)
        status = fs_node_attr_int(node, "axis", 1, &axis_attr, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *x = fs_node_input(graph, node, 0);
    /* axis ranges over -rank .. rank; axis = rank gives [numel, 1]. */
    if (axis_attr < -(int64_t)x->rank || axis_attr > x->rank)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "attribute 'axis' is %lld, outside the valid range %d .. %d",
                            (long long)axis_attr, -x->rank, x->rank);
    int axis = (int)(axis_attr < 0 ? axis_attr + x->rank : axis_attr);
    int64_t dims[2] = { 1, 1 };
    for (int d = 0; d < x->rank; d++)
        dims[d < axis ? 0 : 1] *= x->dims[d];
    return fs_ops_set_output(graph, node, 0, x->dtype, 2, dims, err);
}

/* Reads Squeeze/Unsqueeze axes from the attribute (opset < 13) or input 1. Sets
 * *count to -1 when no axes are given. */
static int reshape_read_axes(const fs_graph *graph, const fs_node *node, int64_t *axes,
                             int *count, fs_error *err)
{
    if (graph->opset < 13) {
        const int64_t *values;
        size_t n;
        int status = fs_node_attr_ints(node, "axes", &values, &n, err);
        if (status != FACESIM_OK)
            return status;
        if (!values) {
            *count = -1;
            return FACESIM_OK;
        }
        if (n > FS_MAX_RANK)
            return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                                "attribute 'axes' has %zu entries; facesim supports rank up "
                                "to %d",
                                n, FS_MAX_RANK);
        memcpy(axes, values, n * sizeof *axes);
        *count = (int)n;
        return FACESIM_OK;
    }
    if (!fs_node_has_input(node, 1)) {
        *count = -1;
        return FACESIM_OK;
    }
    return fs_ops_read_ints(graph, node, 1, "axes", axes, FS_MAX_RANK, count, err);
}

static int squeeze_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, 1, graph->opset < 13 ? 1 : 2, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, FS_OPS_ANY_TYPE, err);
    int64_t axes[FS_MAX_RANK];
    int count;
    if (status == FACESIM_OK)
        status = reshape_read_axes(graph, node, axes, &count, err);
    if (status != FACESIM_OK)
        return status;

    const fs_value *x = fs_node_input(graph, node, 0);
    bool drop[FS_MAX_RANK] = { false };
    if (count < 0) {
        for (int d = 0; d < x->rank; d++)
            drop[d] = x->dims[d] == 1;
    }
    for (int i = 0; i < count; i++) {
        int axis;
        status = fs_ops_normalize_axis(node, "an entry of 'axes'", axes[i], x->rank, &axis,
                                       err);
        if (status != FACESIM_OK)
            return status;
        if (x->dims[axis] != 1)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "cannot squeeze axis %d of '%s': its size is %lld, not 1",
                                axis, x->name, (long long)x->dims[axis]);
        drop[axis] = true;
    }
    int64_t dims[FS_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < x->rank; d++)
        if (!drop[d])
            dims[rank++] = x->dims[d];
    return fs_ops_set_output(graph, node, 0, x->dtype, rank, dims, err);
}

static int unsqueeze_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, graph->opset < 13 ? 1 : 2, graph->opset < 13 ? 1 : 2, 1,
                                   err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, FS_OPS_ANY_TYPE, err);
    int64_t axes[FS_MAX_RANK];
    int count;
    if (status == FACESIM_OK)
        status = reshape_read_axes(graph, node, axes, &count, err);
    if (status != FACESIM_OK)
        return status;
    if (count < 0)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "attribute 'axes' is missing; Unsqueeze requires it");

    const fs_value *x = fs_node_input(graph, node, 0);
    int rank = x->rank + count;
    if (rank > FS_MAX_RANK)
        return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                            "output would have rank %d; facesim supports at most %d", rank,
                            FS_MAX_RANK);
    /* Axes refer to positions in the output. */
    bool inserted[FS_MAX_RANK] = { false };
    for (int i = 0; i < count; i++) {
        int axis;
        status = fs_ops_normalize_axis(node, "an entry of 'axes'", axes[i], rank, &axis, err);
        if (status != FACESIM_OK)
            return status;
        if (inserted[axis])
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "'axes' lists output axis %d twice", axis);
        inserted[axis] = true;
    }
    int64_t dims[FS_MAX_RANK];
    for (int d = 0, k = 0; d < rank; d++)
        dims[d] = inserted[d] ? 1 : x->dims[k++];
    return fs_ops_set_output(graph, node, 0, x->dtype, rank, dims, err);
}

const fs_op fs_op_reshape = {
    .op_type = "Reshape",
    .infer = reshape_infer,
    .run = reshape_copy_run,
};

const fs_op fs_op_flatten = {
    .op_type = "Flatten",
    .infer = flatten_infer,
    .run = reshape_copy_run,
};

const fs_op fs_op_squeeze = {
    .op_type = "Squeeze",
    .infer = squeeze_infer,
    .run = reshape_copy_run,
};

const fs_op fs_op_unsqueeze = {
    .op_type = "Unsqueeze",
    .infer = unsqueeze_infer,
    .run = reshape_copy_run,
};

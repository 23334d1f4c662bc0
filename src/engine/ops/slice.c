/*
 * Slice, any element type.
 *
 * Before opset 10, starts, ends and axes are attributes and the step is 1. From
 * opset 10 they are inputs (starts, ends, optional axes, optional steps), which
 * must be constants at plan time. Per the ONNX rules, negative starts and ends
 * count from the end of the dim. Out-of-range values are clamped to [0, dim] for a
 * positive step and to [-1, dim - 1] for a negative one. So ends of INT64_MAX
 * ("to the end") and INT64_MIN ("to the front") work.
 */
#include "engine/ops/ops_common.h"

/* Per input dim: first element, step and element count of the slice. */
typedef struct slice_params {
    int64_t start[FS_MAX_RANK];
    int64_t step[FS_MAX_RANK];
    int64_t count[FS_MAX_RANK];
} slice_params;

/* Reads starts/ends/axes/steps from attributes (opset < 10) or inputs. */
static int slice_read_lists(const fs_graph *graph, const fs_node *node, int rank, int64_t *starts,
                            int64_t *ends, int64_t *axes, int64_t *steps, int *count,
                            fs_error *err)
{
    int n_axes = -1, n_steps = -1, n_ends;
    int status;
    if (graph->opset < 10) {
        const int64_t *values[3];
        size_t sizes[3];
        static const char *const names[3] = { "starts", "ends", "axes" };
        for (int i = 0; i < 3; i++) {
            status = fs_node_attr_ints(node, names[i], &values[i], &sizes[i], err);
            if (status != FACESIM_OK)
                return status;
            if (sizes[i] > FS_MAX_RANK)
                return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                    "attribute '%s' has %zu entries, more than rank %d",
                                    names[i], sizes[i], rank);
        }
        if (!values[0] || !values[1])
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "attributes 'starts' and 'ends' are required before opset 10");
        *count = (int)sizes[0];
        n_ends = (int)sizes[1];
        for (int i = 0; i < *count; i++)
            starts[i] = values[0][i];
        for (int i = 0; i < n_ends; i++)
            ends[i] = values[1][i];
        if (values[2]) {
            n_axes = (int)sizes[2];
            for (int i = 0; i < n_axes; i++)
                axes[i] = values[2][i];
        }
    } else {
        status = fs_ops_read_ints(graph, node, 1, "starts", starts, FS_MAX_RANK, count, err);
        if (status == FACESIM_OK)
            status = fs_ops_read_ints(graph, node, 2, "ends", ends, FS_MAX_RANK, &n_ends, err);
        if (status == FACESIM_OK && fs_node_has_input(node, 3))
            status = fs_ops_read_ints(graph, node, 3, "axes", axes, FS_MAX_RANK, &n_axes, err);
        if (status == FACESIM_OK && fs_node_has_input(node, 4))
            status = fs_ops_read_ints(graph, node, 4, "steps", steps, FS_MAX_RANK, &n_steps, err);
        if (status != FACESIM_OK)
            return status;
    }
    if (n_ends != *count || (n_axes >= 0 && n_axes != *count) ||
        (n_steps >= 0 && n_steps != *count))
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "starts, ends, axes and steps must have equal lengths (got %d, %d, "
                            "%d, %d)",
                            *count, n_ends, n_axes, n_steps);
    if (n_axes < 0)
        for (int i = 0; i < *count; i++)
            axes[i] = i;
    if (n_steps < 0)
        for (int i = 0; i < *count; i++)
            steps[i] = 1;
    return FACESIM_OK;
}

static int64_t slice_clamp(int64_t value, int64_t low, int64_t high)
{
    if (value < low)
        return low;
    return value > high ? high : value;
}

static int slice_compute(const fs_graph *graph, const fs_node *node, slice_params *params,
                         fs_error *err)
{
    const fs_value *x = &graph->values[node->inputs[0]];
    int64_t starts[FS_MAX_RANK], ends[FS_MAX_RANK], axes[FS_MAX_RANK], steps[FS_MAX_RANK];
    int count;
    int status = slice_read_lists(graph, node, x->rank, starts, ends, axes, steps, &count, err);
    if (status != FACESIM_OK)
        return status;

    for (int d = 0; d < x->rank; d++) {
        params->start[d] = 0;
        params->step[d] = 1;
        params->count[d] = x->dims[d];
    }
    bool seen[FS_MAX_RANK] = { false };
    for (int i = 0; i < count; i++) {
        int axis;
        status = fs_ops_normalize_axis(node, "an entry of 'axes'", axes[i], x->rank, &axis, err);
        if (status != FACESIM_OK)
            return status;
        if (seen[axis])
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "'axes' lists axis %d twice", axis);
        seen[axis] = true;
        int64_t dim = x->dims[axis], step = steps[i];
        if (step == 0)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "entry %d of 'steps' is 0", i);
        int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
        int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
        int64_t length;
        if (step > 0) {
            start = slice_clamp(start, 0, dim);
            end = slice_clamp(end, 0, dim);
            length = end > start ? (end - start + step - 1) / step : 0;
        } else {
            start = slice_clamp(start, -1, dim - 1);
            end = slice_clamp(end, -1, dim - 1);
            length = start > end ? (start - end + (-step) - 1) / (-step) : 0;
        }
        params->start[axis] = length > 0 ? start : 0;
        params->step[axis] = step;
        params->count[axis] = length;
    }
    return FACESIM_OK;
}

static int slice_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = graph->opset < 10 ? fs_op_check_arity(node, 1, 1, 1, err)
                                   : fs_op_check_arity(node, 3, 5, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, FS_OPS_ANY_TYPE, err);
    if (status != FACESIM_OK)
        return status;
    slice_params params;
    status = slice_compute(graph, node, &params, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *x = fs_node_input(graph, node, 0);
    return fs_ops_set_output(graph, node, 0, x->dtype, x->rank, params.count, err);
}

static int slice_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    slice_params params;
    int status = slice_compute(ctx->graph, node, &params, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *x = fs_node_input(ctx->graph, node, 0);
    const fs_value *y = fs_node_output(ctx->graph, node, 0);
    if (fs_value_numel(y) == 0)
        return FACESIM_OK;
    int64_t in_strides[FS_MAX_RANK], src_strides[FS_MAX_RANK], dst_strides[FS_MAX_RANK];
    fs_ops_strides(x->rank, x->dims, in_strides);
    fs_ops_strides(y->rank, y->dims, dst_strides);
    int64_t offset = 0;
    for (int d = 0; d < x->rank; d++) {
        offset += params.start[d] * in_strides[d];
        src_strides[d] = params.step[d] * in_strides[d];
    }
    size_t elem_size = fs_dtype_size(x->dtype);
    const char *src = (const char *)fs_ops_input_data(ctx, node, 0) + offset * (int64_t)elem_size;
    fs_ops_copy_strided(fs_ops_output_data(ctx, node, 0), dst_strides, src, src_strides,
                        y->rank, y->dims, elem_size, fs_ops_threads(ctx, fs_value_numel(y)));
    return FACESIM_OK;
}

const fs_op fs_op_slice = {
    .op_type = "Slice",
    .infer = slice_infer,
    .run = slice_run,
};

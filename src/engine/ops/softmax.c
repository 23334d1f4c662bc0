/*
 * Softmax, float32. The axis semantics changed in opset 13:
 * - opsets 1 to 12 flatten the input to 2-D at `axis` (default 1), so the
 *   normalisation runs over all dims from axis to the end together;
 * - opset 13 and later normalise along the single dim `axis` (default -1).
 * Each group is shifted by its maximum before exp, so large inputs do not overflow.
 */
#include <math.h>

#include "engine/ops/ops_common.h"

/* The tensor seen as [outer, length, inner], normalised over `length`. */
typedef struct softmax_view {
    int64_t outer, length, inner;
} softmax_view;

static int softmax_view_of(const fs_graph *graph, const fs_node *node, softmax_view *view,
                           fs_error *err)
{
    const fs_value *x = &graph->values[node->inputs[0]];
    bool per_axis = graph->opset >= 13;
    int64_t axis_attr;
    int status = fs_node_attr_int(node, "axis", per_axis ? -1 : 1, &axis_attr, err);
    if (status != FACESIM_OK)
        return status;
    if (x->rank == 0)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "input '%s' is a scalar; Softmax needs rank 1 or more", x->name);
    int axis;
    if (per_axis) {
        status = fs_ops_normalize_axis(node, "attribute 'axis'", axis_attr, x->rank, &axis, err);
        if (status != FACESIM_OK)
            return status;
    } else {
        /* Before opset 13 axis may also equal rank; then every element is a group of one. */
        if (axis_attr < -(int64_t)x->rank || axis_attr > x->rank)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "attribute 'axis' is %lld, outside the valid range %d .. %d",
                                (long long)axis_attr, -x->rank, x->rank);
        axis = (int)(axis_attr < 0 ? axis_attr + x->rank : axis_attr);
    }

    view->outer = 1;
    view->length = 1;
    view->inner = 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < axis)
            view->outer *= x->dims[d];
        else if (d == axis || !per_axis)
            view->length *= x->dims[d];
        else
            view->inner *= x->dims[d];
    }
    return FACESIM_OK;
}

static int softmax_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, 1, 1, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, FS_OPS_FLOAT, err);
    if (status != FACESIM_OK)
        return status;
    softmax_view view;
    status = softmax_view_of(graph, node, &view, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *x = fs_node_input(graph, node, 0);
    return fs_ops_set_output(graph, node, 0, FS_DTYPE_FLOAT, x->rank, x->dims, err);
}

/* Normalises `length` elements spaced `step` apart. */
static void softmax_group(const float *x, float *y, int64_t length, int64_t step)
{
    float maximum = -INFINITY;
    for (int64_t i = 0; i < length; i++)
        maximum = x[i * step] > maximum ? x[i * step] : maximum;
    float sum = 0.0f;
    for (int64_t i = 0; i < length; i++) {
        float e = expf(x[i * step] - maximum);
        y[i * step] = e;
        sum += e;
    }
    float inverse = 1.0f / sum;
    for (int64_t i = 0; i < length; i++)
        y[i * step] *= inverse;
}

static int softmax_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    softmax_view view;
    int status = softmax_view_of(ctx->graph, node, &view, err);
    if (status != FACESIM_OK)
        return status;
    const float *x = fs_ops_input_data(ctx, node, 0);
    float *y = fs_ops_output_data(ctx, node, 0);
    int64_t groups = view.outer * view.inner;
    int threads = fs_ops_threads(ctx, groups * view.length);

    #pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (int64_t group = 0; group < groups; group++) {
        int64_t outer = group / view.inner, inner = group % view.inner;
        int64_t offset = outer * view.length * view.inner + inner;
        softmax_group(x + offset, y + offset, view.length, view.inner);
    }
    return FACESIM_OK;
}

const fs_op fs_op_softmax = {
    .op_type = "Softmax",
    .infer = softmax_infer,
    .run = softmax_run,
};

/*
 * Concat along any axis (negative axes count from the end), any element type.
 *
 * When every input is NHWC the output is NHWC too. The copy then runs over the
 * memory order N, H, W, C, where logical axis 1 (channels) is the innermost dim.
 * So concatenating on channels copies one run of C_i floats per pixel and input.
 */
#include <limits.h>
#include <string.h>

#include "engine/ops/ops_common.h"

static int concat_axis(const fs_graph *graph, const fs_node *node, int rank, int *axis,
                       fs_error *err)
{
    const fs_attr *attr = fs_node_attr(node, "axis");
    if (!attr)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "attribute 'axis' is missing; Concat requires it");
    int64_t value;
    int status = fs_node_attr_int(node, "axis", 0, &value, err);
    if (status != FACESIM_OK)
        return status;
    return fs_ops_normalize_axis(node, "attribute 'axis'", value, rank, axis, err);
}

static int concat_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, 1, INT_MAX, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, FS_OPS_ANY_TYPE, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *first = fs_node_input(graph, node, 0);
    if (first->rank == 0)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "input 0 '%s' is a scalar; Concat needs rank 1 or more",
                            first->name);
    int axis;
    status = concat_axis(graph, node, first->rank, &axis, err);
    if (status != FACESIM_OK)
        return status;

    int64_t dims[FS_MAX_RANK];
    memcpy(dims, first->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < node->n_inputs; i++) {
        status = fs_ops_check_input(graph, node, i, FS_OPS_ANY_TYPE, err);
        if (status != FACESIM_OK)
            return status;
        const fs_value *input = fs_node_input(graph, node, i);
        if (input->dtype != first->dtype)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "input %d '%s' has type %s but input 0 has %s", i, input->name,
                                fs_dtype_name(input->dtype), fs_dtype_name(first->dtype));
        if (input->rank != first->rank)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "input %d '%s' has rank %d but input 0 has rank %d", i,
                                input->name, input->rank, first->rank);
        for (int d = 0; d < first->rank; d++)
            if (d != axis && input->dims[d] != first->dims[d])
                return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                    "input %d '%s' has dimension %lld at axis %d but input 0 "
                                    "has %lld; only the concatenation axis %d may differ",
                                    i, input->name, (long long)input->dims[d], d,
                                    (long long)first->dims[d], axis);
        dims[axis] += input->dims[axis];
    }
    return fs_ops_set_output(graph, node, 0, first->dtype, first->rank, dims, err);
}

static bool concat_accepts_layouts(const fs_graph *graph, const fs_node *node,
                                   const fs_layout *input_layouts)
{
    bool any_nhwc = false, all_nhwc = true;
    for (int i = 0; i < node->n_inputs; i++) {
        any_nhwc |= input_layouts[i] == FS_LAYOUT_NHWC;
        all_nhwc &= input_layouts[i] == FS_LAYOUT_NHWC;
    }
    return !any_nhwc || all_nhwc;
}

static int concat_prepare(fs_run_ctx *ctx, fs_node *node, size_t *scratch_bytes, fs_error *err)
{
    *scratch_bytes = 0;
    if (fs_ops_input_layout(ctx, node, 0) == FS_LAYOUT_NHWC)
        ctx->tensors[node->outputs[0]].layout = FS_LAYOUT_NHWC;
    return FACESIM_OK;
}

static int concat_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    const fs_value *output = fs_node_output(ctx->graph, node, 0);
    int axis;
    int status = concat_axis(ctx->graph, node, output->rank, &axis, err);
    if (status != FACESIM_OK)
        return status;

    /* Split the output into [outer, axis, inner] in memory order. */
    int64_t dims[FS_MAX_RANK];
    int memory_axis = axis;
    memcpy(dims, output->dims, sizeof dims);
    if (ctx->tensors[node->outputs[0]].layout == FS_LAYOUT_NHWC) {
        static const int memory_position[4] = { 0, 3, 1, 2 }; /* of logical N, C, H, W */
        for (int d = 0; d < 4; d++)
            dims[memory_position[d]] = output->dims[d];
        memory_axis = memory_position[axis];
    }
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < memory_axis; d++)
        outer *= dims[d];
    for (int d = memory_axis + 1; d < output->rank; d++)
        inner *= dims[d];

    size_t elem_size = fs_dtype_size(output->dtype);
    size_t out_row = (size_t)(output->dims[axis] * inner) * elem_size;
    char *y = fs_ops_output_data(ctx, node, 0);
    int threads = fs_ops_threads(ctx, fs_value_numel(output));
    size_t offset = 0;
    for (int i = 0; i < node->n_inputs; i++) {
        const fs_value *input = fs_node_input(ctx->graph, node, i);
        const char *x = fs_ops_input_data(ctx, node, i);
        size_t in_row = (size_t)(input->dims[axis] * inner) * elem_size;
        if (in_row > 0) {
            #pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
            for (int64_t o = 0; o < outer; o++)
                memcpy(y + (size_t)o * out_row + offset, x + (size_t)o * in_row, in_row);
        }
        offset += in_row;
    }
    return FACESIM_OK;
}

const fs_op fs_op_concat = {
    .op_type = "Concat",
    .infer = concat_infer,
    .accepts_layouts = concat_accepts_layouts,
    .prepare = concat_prepare,
    .run = concat_run,
};

/*
 * Constant folding: a node whose inputs are all constants runs once while the plan is
 * built, and its outputs become constants owned by the plan's graph.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/passes.h"
#include "engine/plan.h"

/* Allocates owned storage for every output of the node (already inferred). */
static int fold_allocate_outputs(fs_plan *plan, fs_node *node, fs_error *err)
{
    fs_graph *graph = plan->graph;
    for (int k = 0; k < node->n_outputs; k++) {
        if (node->outputs[k] < 0)
            continue;
        fs_value *value = &graph->values[node->outputs[k]];
        size_t bytes;
        if (!fs_plan_value_bytes(value, &bytes))
            return fs_error_set(err, FACESIM_ERR_LIMIT,
                                "%s: node '%s' (%s): output '%s' is too large to allocate",
                                graph->path, node->name, node->op_type, value->name);
        void *data = calloc(1, bytes ? bytes : 1);
        if (!data)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                "%s: node '%s' (%s): out of memory folding output '%s' "
                                "(%zu bytes)", graph->path, node->name, node->op_type,
                                value->name, bytes);
        value->data = data;
        value->owns_data = true;
        plan->ctx.tensors[node->outputs[k]].data = data;
        plan->ctx.tensors[node->outputs[k]].layout = FS_LAYOUT_PLAIN;
    }
    return FACESIM_OK;
}

/* Runs the op on plain tensors, with prepare first when the op has one. */
static int fold_run(fs_plan *plan, fs_node *node, fs_error *err)
{
    const fs_op *op = node->op;
    void *scratch = NULL;
    int status = FACESIM_OK;
    if (op->prepare) {
        size_t scratch_bytes = 0;
        status = op->prepare(&plan->ctx, node, &scratch_bytes, err);
        if (status == FACESIM_OK && scratch_bytes > 0) {
            scratch = malloc(scratch_bytes);
            if (!scratch)
                status = fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                      "%s: node '%s' (%s): out of memory for %zu bytes of "
                                      "scratch while folding", plan->graph->path, node->name,
                                      node->op_type, scratch_bytes);
        }
        plan->ctx.scratch = scratch;
        plan->ctx.scratch_size = scratch_bytes;
    }
    if (status == FACESIM_OK)
        status = op->run(&plan->ctx, node, err);
    if (op->release)
        op->release(node);
    node->state = NULL;
    free(scratch);
    plan->ctx.scratch = NULL;
    plan->ctx.scratch_size = 0;
    return status;
}

/* Rewrites any output that prepare chose to write as NHWC (a Conv does) in plain order,
 * because constants are always plain. */
static int fold_outputs_to_plain(fs_plan *plan, fs_node *node, fs_error *err)
{
    for (int k = 0; k < node->n_outputs; k++) {
        int output = node->outputs[k];
        if (output < 0 || plan->ctx.tensors[output].layout != FS_LAYOUT_NHWC)
            continue;
        fs_value *value = &plan->graph->values[output];
        size_t bytes;
        if (!fs_plan_value_bytes(value, &bytes))
            return fs_error_set(err, FACESIM_ERR_LIMIT, "%s: value '%s' is too large",
                                plan->graph->path, value->name);
        float *plain = malloc(bytes ? bytes : 1);
        if (!plain)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                "%s: node '%s' (%s): out of memory folding output '%s'",
                                plan->graph->path, node->name, node->op_type, value->name);
        fs_layout_nhwc_to_nchw(value->data, plain, value->dims, 1);
        free(value->data);
        value->data = plain;
        plan->ctx.tensors[output].data = plain;
        plan->ctx.tensors[output].layout = FS_LAYOUT_PLAIN;
    }
    return FACESIM_OK;
}

int fs_plan_fold_node(fs_plan *plan, int node_index, fs_error *err)
{
    int status = fs_plan_sync_tensors(plan, err);
    if (status != FACESIM_OK)
        return status;
    fs_node *node = &plan->graph->nodes[node_index];
    /* Folded outputs are plain constants, whatever prepare would choose. */
    for (int k = 0; k < node->n_inputs; k++)
        if (node->inputs[k] >= 0)
            plan->ctx.tensors[node->inputs[k]].layout = FS_LAYOUT_PLAIN;
    status = fold_allocate_outputs(plan, node, err);
    if (status != FACESIM_OK)
        return status;

    plan->folding = true;
    status = fold_run(plan, node, err);
    plan->folding = false;
    if (status == FACESIM_OK)
        status = fold_outputs_to_plain(plan, node, err);
    if (status != FACESIM_OK) {
        if (err && strstr(err->message, plan->graph->path) == NULL)
            fs_error_prefix(err, "%s", plan->graph->path);
        return status;
    }
    for (int k = 0; k < node->n_outputs; k++)
        if (node->outputs[k] >= 0)
            plan->graph->values[node->outputs[k]].producer = -1;
    node->removed = true;
    return FACESIM_OK;
}

int fs_pass_fold_shape(fs_graph *graph, int node_index, fs_error *err)
{
    fs_node *node = &graph->nodes[node_index];
    if (node->n_inputs < 1 || node->inputs[0] < 0 || node->n_outputs < 1)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: node '%s' (Shape): needs one input and one output",
                            graph->path, node->name);
    const fs_value *input = &graph->values[node->inputs[0]];
    int rank = input->rank;

    /* Opset 15 start/end: negative values count from the end, both are clamped. */
    int64_t start = 0, end = rank;
    int status = fs_node_attr_int(node, "start", 0, &start, err);
    if (status == FACESIM_OK)
        status = fs_node_attr_int(node, "end", rank, &end, err);
    if (status != FACESIM_OK)
        return fs_error_prefix(err, "%s", graph->path);
    if (start < 0)
        start += rank;
    if (end < 0)
        end += rank;
    start = start < 0 ? 0 : (start > rank ? rank : start);
    end = end < 0 ? 0 : (end > rank ? rank : end);
    int64_t count = end > start ? end - start : 0;

    int64_t *dims = malloc((size_t)(count ? count : 1) * sizeof *dims);
    if (!dims)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: node '%s' (Shape): out of memory",
                            graph->path, node->name);
    for (int64_t d = 0; d < count; d++)
        dims[d] = input->dims[start + d];

    fs_value *output = &graph->values[node->outputs[0]];
    int64_t output_dims[1] = {count};
    fs_value_set_shape(output, FS_DTYPE_INT64, 1, output_dims);
    output->data = dims;
    output->owns_data = true;
    output->producer = -1;
    node->removed = true;
    return FACESIM_OK;
}

/*
 * Plan step 1: shape inference and constant folding, node by node in topological order.
 *
 * Folding happens as soon as a node's shapes are known, so chains such as SCRFD's
 * Shape -> Gather -> Unsqueeze -> Concat -> Reshape shape computation collapse into one
 * constant before the Reshape is inferred.
 */
#include <string.h>

#include "engine/passes.h"
#include "engine/plan.h"

/* Returns whether every present input of the node is a constant whose data is readable
 * (a packed weight has no plain data left and cannot be folded). */
static bool infer_inputs_constant(const fs_graph *graph, const fs_node *node)
{
    for (int k = 0; k < node->n_inputs; k++) {
        if (node->inputs[k] < 0)
            continue;
        if (graph->values[node->inputs[k]].data == NULL)
            return false;
    }
    return true;
}

/* Checks that infer gave every output a known shape within the element cap. */
static int infer_check_outputs(const fs_plan *plan, const fs_node *node, fs_error *err)
{
    const fs_graph *graph = plan->graph;
    for (int k = 0; k < node->n_outputs; k++) {
        if (node->outputs[k] < 0)
            continue;
        const fs_value *value = &graph->values[node->outputs[k]];
        if (!fs_value_shape_known(value) || fs_dtype_size(value->dtype) == 0)
            return fs_error_set(err, FACESIM_ERR_INTERNAL,
                                "%s: node '%s' (%s): shape inference left output '%s' without "
                                "a known shape or type", graph->path, node->name, node->op_type,
                                value->name);
        int64_t count = fs_value_numel(value);
        if (count < 0 || count > plan->env.max_tensor_elements)
            return fs_error_set(err, FACESIM_ERR_LIMIT,
                                "%s: node '%s' (%s): output '%s' would have %lld elements, "
                                "more than the limit of %lld (fs_engine_params."
                                "max_tensor_elements); use smaller inputs or raise the limit",
                                graph->path, node->name, node->op_type, value->name,
                                (long long)count, (long long)plan->env.max_tensor_elements);
    }
    return FACESIM_OK;
}

/* Forgets shapes of every value a node will compute, so none is taken from the file's
 * value_info or from an earlier plan. */
static void infer_reset_computed_values(fs_graph *graph)
{
    for (int i = 0; i < graph->n_nodes; i++) {
        const fs_node *node = &graph->nodes[i];
        if (node->removed)
            continue;
        for (int k = 0; k < node->n_outputs; k++) {
            if (node->outputs[k] < 0)
                continue;
            fs_value *value = &graph->values[node->outputs[k]];
            fs_value_set_shape(value, FS_DTYPE_UNDEFINED, -1, NULL);
        }
    }
}

int fs_plan_infer(fs_plan *plan, int64_t batch, fs_error *err)
{
    fs_graph *graph = plan->graph;
    infer_reset_computed_values(graph);
    int status = fs_plan_sync_tensors(plan, err);
    if (status != FACESIM_OK)
        return status;

    for (int i = 0; i < graph->n_nodes; i++) {
        fs_node *node = &graph->nodes[i];
        if (node->removed)
            continue;
        for (int k = 0; k < node->n_inputs; k++) {
            int input = node->inputs[k];
            if (input >= 0 && !fs_value_shape_known(&graph->values[input]))
                return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                                    "%s: node '%s' (%s): input '%s' has no producer before "
                                    "this node and is not a graph input or initializer",
                                    graph->path, node->name, node->op_type,
                                    graph->values[input].name);
        }

        if (batch != 1 && strcmp(node->op_type, "Reshape") == 0) {
            status = fs_pass_rewrite_reshape_batch(graph, i, batch, err);
            if (status != FACESIM_OK)
                return status;
            status = fs_plan_sync_tensors(plan, err);
            if (status != FACESIM_OK)
                return status;
            node = &graph->nodes[i];
        }

        status = node->op->infer(graph, node, err);
        if (status != FACESIM_OK) {
            if (strstr(err ? err->message : "", graph->path) == NULL)
                fs_error_prefix(err, "%s", graph->path);
            return status;
        }
        status = infer_check_outputs(plan, node, err);
        if (status != FACESIM_OK)
            return status;

        if (strcmp(node->op_type, "Shape") == 0) {
            status = fs_pass_fold_shape(graph, i, err);
            if (status == FACESIM_OK)
                plan->ctx.tensors[node->outputs[0]].data = graph->values[node->outputs[0]].data;
        } else if (infer_inputs_constant(graph, node))
            status = fs_plan_fold_node(plan, i, err);
        if (status != FACESIM_OK)
            return status;
    }
    return fs_plan_sync_tensors(plan, err);
}

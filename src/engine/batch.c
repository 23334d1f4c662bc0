/*
 * Batch rewrite for models exported with a fixed batch of 1.
 *
 * Exporters often pin the batch inside Reshape shape constants: fr_feature ends with
 * Reshape(x, [1, -1]). Run with a batch of N, that Reshape would fold the whole batch
 * into one row. When the data reaching such a Reshape has the batch as dimension 0, the
 * plan gives the Reshape its own shape constant with N in place of the leading 1.
 *
 * NOTE: this is a heuristic. A Reshape whose input happens to have N as dimension 0 for
 * another reason, and whose shape really starts with 1, would be rewritten as well.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/op.h"
#include "engine/passes.h"

int fs_pass_rewrite_reshape_batch(fs_graph *graph, int node_index, int64_t batch,
                                  fs_error *err)
{
    const fs_node *node = &graph->nodes[node_index];
    if (node->n_inputs < 2 || node->inputs[0] < 0 || node->inputs[1] < 0)
        return FACESIM_OK;
    const fs_value *data = &graph->values[node->inputs[0]];
    const fs_value *shape = &graph->values[node->inputs[1]];
    if (data->rank < 1 || data->dims[0] != batch)
        return FACESIM_OK;
    if (shape->data == NULL || shape->dtype != FS_DTYPE_INT64 || shape->rank != 1 ||
        shape->dims[0] < 1 || ((const int64_t *)shape->data)[0] != 1)
        return FACESIM_OK;

    int64_t count = shape->dims[0];
    int64_t *dims = malloc((size_t)count * sizeof *dims);
    if (!dims)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: node '%s' (Reshape): out of memory",
                            graph->path, node->name);
    memcpy(dims, shape->data, (size_t)count * sizeof *dims);
    dims[0] = batch;

    char name[512];
    snprintf(name, sizeof name, "%s/batch_shape", node->name);
    int index = fs_graph_add_value(graph, name);
    if (index < 0) {
        free(dims);
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: node '%s' (Reshape): out of memory",
                            graph->path, graph->nodes[node_index].name);
    }
    fs_value *copy = &graph->values[index];
    int64_t copy_dims[1] = {count};
    fs_value_set_shape(copy, FS_DTYPE_INT64, 1, copy_dims);
    copy->data = dims;
    copy->owns_data = true;
    graph->nodes[node_index].inputs[1] = index;
    return FACESIM_OK;
}

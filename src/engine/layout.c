/*
 * Plan step 3: memory layouts, layout conversions, op prepare and the step list.
 *
 * Every value starts plain. Nodes are visited in order, and an op whose prepare picks NHWC
 * for an output (oneDNN convolutions do) leaves that output NHWC. A later reader that
 * cannot read NHWC (accepts_layouts NULL or false) gets a plain copy, made once per value
 * by an inserted FS_STEP_TO_PLAIN step and shared by every such reader. Graph outputs are
 * always returned plain.
 *
 * There is no plain -> NHWC step: an op that wants NHWC input reorders a plain one
 * itself (the Conv op does, into its scratch memory).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/plan.h"

/* Tile edge of the NHWC -> NCHW transpose: 32 x 32 floats stay within L1 cache. */
#define LAYOUT_TILE 32

void fs_layout_nhwc_to_nchw(const float *source, float *target, const int64_t dims[4],
                            int threads)
{
    int64_t batch = dims[0], channels = dims[1], pixels = dims[2] * dims[3];
    int64_t pixel_tiles = (pixels + LAYOUT_TILE - 1) / LAYOUT_TILE;
    int64_t tasks = batch * pixel_tiles;

#pragma omp parallel for num_threads(threads) schedule(static) if (tasks > 1 && threads > 1)
    for (int64_t task = 0; task < tasks; task++) {
        int64_t n = task / pixel_tiles;
        int64_t p0 = (task % pixel_tiles) * LAYOUT_TILE;
        int64_t p1 = p0 + LAYOUT_TILE < pixels ? p0 + LAYOUT_TILE : pixels;
        const float *from = source + n * pixels * channels;
        float *to = target + n * channels * pixels;
        for (int64_t c0 = 0; c0 < channels; c0 += LAYOUT_TILE) {
            int64_t c1 = c0 + LAYOUT_TILE < channels ? c0 + LAYOUT_TILE : channels;
            for (int64_t c = c0; c < c1; c++)
                for (int64_t p = p0; p < p1; p++)
                    to[c * pixels + p] = from[p * channels + c];
        }
    }
}

static int layout_append_step(fs_plan *plan, const fs_step *step, fs_error *err)
{
    if (plan->n_steps == plan->step_capacity) {
        int capacity = plan->step_capacity ? plan->step_capacity * 2 : 64;
        fs_step *grown = realloc(plan->steps, (size_t)capacity * sizeof *grown);
        if (!grown)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory building the plan",
                                plan->graph->path);
        plan->steps = grown;
        plan->step_capacity = capacity;
    }
    plan->steps[plan->n_steps++] = *step;
    return FACESIM_OK;
}

/* The plain copies made so far: target[source] = copy value index, or -1. */
typedef struct layout_copies {
    int *target;
    int size;
} layout_copies;

/* Returns (through *copy) the plain copy of NHWC value `source`, adding the value and its
 * conversion step the first time. */
static int layout_plain_copy(fs_plan *plan, layout_copies *copies, int source, int *copy,
                             fs_error *err)
{
    if (source < copies->size && copies->target[source] >= 0) {
        *copy = copies->target[source];
        return FACESIM_OK;
    }
    fs_graph *graph = plan->graph;
    const fs_value *from = &graph->values[source];
    if (from->rank != 4 || from->dtype != FS_DTYPE_FLOAT)
        return fs_error_set(err, FACESIM_ERR_INTERNAL,
                            "%s: value '%s' is NHWC but not a rank-4 float tensor",
                            graph->path, from->name);

    char name[512];
    snprintf(name, sizeof name, "%s/nchw", from->name);
    int index = fs_graph_add_value(graph, name);
    if (index < 0)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory building the plan",
                            graph->path);
    from = &graph->values[source];
    fs_value_set_shape(&graph->values[index], from->dtype, from->rank, from->dims);
    int status = fs_plan_sync_tensors(plan, err);
    if (status != FACESIM_OK)
        return status;

    if (source >= copies->size) {
        int size = graph->n_values;
        int *grown = realloc(copies->target, (size_t)size * sizeof *grown);
        if (!grown)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory building the plan",
                                graph->path);
        for (int i = copies->size; i < size; i++)
            grown[i] = -1;
        copies->target = grown;
        copies->size = size;
    }
    copies->target[source] = index;

    fs_step step = {FS_STEP_TO_PLAIN, -1, source, index, 0};
    *copy = index;
    return layout_append_step(plan, &step, err);
}

/* Replaces NHWC inputs of the node by plain copies unless its op reads them as they are. */
static int layout_convert_inputs(fs_plan *plan, layout_copies *copies, fs_node *node,
                                 fs_error *err)
{
    fs_layout small[16];
    fs_layout *layouts = small;
    if (node->n_inputs > 16) {
        layouts = malloc((size_t)node->n_inputs * sizeof *layouts);
        if (!layouts)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory building the plan",
                                plan->graph->path);
    }
    bool any_nhwc = false;
    for (int k = 0; k < node->n_inputs; k++) {
        int input = node->inputs[k];
        layouts[k] = input >= 0 ? plan->ctx.tensors[input].layout : FS_LAYOUT_PLAIN;
        any_nhwc |= layouts[k] == FS_LAYOUT_NHWC;
    }
    bool accepted = !any_nhwc || (node->op->accepts_layouts &&
                                  node->op->accepts_layouts(plan->graph, node, layouts));
    if (layouts != small)
        free(layouts);
    if (accepted)
        return FACESIM_OK;

    for (int k = 0; k < node->n_inputs; k++) {
        int input = node->inputs[k];
        if (input < 0 || plan->ctx.tensors[input].layout != FS_LAYOUT_NHWC)
            continue;
        int plain;
        int status = layout_plain_copy(plan, copies, input, &plain, err);
        if (status != FACESIM_OK)
            return status;
        node->inputs[k] = plain;
    }
    return FACESIM_OK;
}

/* Prepares the node's kernels; returns its scratch need through *scratch_bytes. */
static int layout_prepare_node(fs_plan *plan, int node_index, size_t *scratch_bytes,
                               fs_error *err)
{
    fs_node *node = &plan->graph->nodes[node_index];
    for (int k = 0; k < node->n_outputs; k++)
        if (node->outputs[k] >= 0)
            plan->ctx.tensors[node->outputs[k]].layout = FS_LAYOUT_PLAIN;
    *scratch_bytes = 0;
    if (!node->op->prepare)
        return FACESIM_OK;

    int status = node->op->prepare(&plan->ctx, node, scratch_bytes, err);
    if (status != FACESIM_OK) {
        if (err && strstr(err->message, plan->graph->path) == NULL)
            fs_error_prefix(err, "%s", plan->graph->path);
        return status;
    }
    for (int k = 0; k < node->n_outputs; k++) {
        int output = node->outputs[k];
        if (output < 0 || plan->ctx.tensors[output].layout == FS_LAYOUT_PLAIN)
            continue;
        const fs_value *value = &plan->graph->values[output];
        if (value->rank != 4 || value->dtype != FS_DTYPE_FLOAT)
            return fs_error_set(err, FACESIM_ERR_INTERNAL,
                                "%s: node '%s' (%s) chose NHWC for output '%s', which is not a "
                                "rank-4 float tensor", plan->graph->path, node->name,
                                node->op_type, value->name);
    }
    return FACESIM_OK;
}

int fs_plan_prepare_steps(fs_plan *plan, size_t *scratch_bytes, fs_error *err)
{
    fs_graph *graph = plan->graph;
    layout_copies copies = {NULL, 0};
    int status = FACESIM_OK;
    *scratch_bytes = 0;

    for (int i = 0; i < graph->n_nodes && status == FACESIM_OK; i++) {
        if (graph->nodes[i].removed)
            continue;
        status = layout_convert_inputs(plan, &copies, &graph->nodes[i], err);
        size_t node_scratch = 0;
        if (status == FACESIM_OK)
            status = layout_prepare_node(plan, i, &node_scratch, err);
        if (node_scratch > *scratch_bytes)
            *scratch_bytes = node_scratch;
        fs_step step = {FS_STEP_OP, i, -1, -1, 0};
        if (status == FACESIM_OK)
            status = layout_append_step(plan, &step, err);
    }

    /* Callers read outputs row-major in ONNX order. */
    for (int k = 0; k < graph->n_outputs && status == FACESIM_OK; k++) {
        int output = graph->outputs[k];
        if (plan->ctx.tensors[output].layout != FS_LAYOUT_NHWC)
            continue;
        int plain;
        status = layout_plain_copy(plan, &copies, output, &plain, err);
        if (status == FACESIM_OK) {
            graph->values[plain].is_graph_output = true;
            graph->outputs[k] = plain;
        }
    }
    free(copies.target);
    return status;
}

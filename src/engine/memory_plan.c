/*
 * Plan step 4: one arena for every runtime value.
 *
 * A value lives from the step that writes it to the last step that reads it (graph
 * outputs to the end of the run). Values are placed largest first, each at the lowest
 * offset of the smallest gap left free by already placed values whose lifetimes overlap
 * (greedy best fit by size). Offsets are multiples of 64 bytes.
 *
 * A Conv's fused sum operand is read at the Conv's step, so it never shares memory with
 * that Conv's output: the Conv op requires this because some oneDNN kernels keep partial
 * sums in the output buffer before the post-ops run.
 */
#define _GNU_SOURCE /* qsort_r */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "engine/passes.h"
#include "engine/plan.h"

#define MEMORY_ALIGNMENT 64

bool fs_plan_value_bytes(const fs_value *value, size_t *bytes)
{
    int64_t count = fs_value_numel(value);
    if (count < 0)
        return false;
    return fs_mul_size((size_t)count, fs_dtype_size(value->dtype), bytes);
}

typedef struct memory_interval {
    size_t bytes;   /* rounded up to MEMORY_ALIGNMENT */
    int first;      /* step writing the value */
    int last;       /* last step reading it */
    size_t offset;
    bool placed;
} memory_interval;

static void memory_note_read(memory_interval *intervals, int value, int step)
{
    if (value >= 0 && intervals[value].last < step)
        intervals[value].last = step;
}

/* Fills first/last for every value written by a step; other values keep first = -1. */
static void memory_lifetimes(const fs_plan *plan, memory_interval *intervals)
{
    const fs_graph *graph = plan->graph;
    for (int s = 0; s < plan->n_steps; s++) {
        const fs_step *step = &plan->steps[s];
        if (step->kind == FS_STEP_TO_PLAIN) {
            intervals[step->target].first = s;
            memory_note_read(intervals, step->source, s);
            continue;
        }
        const fs_node *node = &graph->nodes[step->node];
        for (int k = 0; k < node->n_inputs; k++)
            memory_note_read(intervals, node->inputs[k], s);
        memory_note_read(intervals, node->fused_sum, s);
        memory_note_read(intervals, node->fused_slope, s);
        for (int k = 0; k < node->n_outputs; k++)
            if (node->outputs[k] >= 0)
                intervals[node->outputs[k]].first = s;
    }
    for (int k = 0; k < graph->n_outputs; k++)
        memory_note_read(intervals, graph->outputs[k], plan->n_steps);
}

static bool memory_in_arena(const fs_graph *graph, const memory_interval *intervals, int v)
{
    const fs_value *value = &graph->values[v];
    return intervals[v].first >= 0 && !value->is_graph_input && !fs_value_is_constant(value);
}

static int memory_compare_size(const void *a, const void *b, void *context)
{
    const memory_interval *intervals = context;
    const memory_interval *x = &intervals[*(const int *)a];
    const memory_interval *y = &intervals[*(const int *)b];
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return x->first - y->first;
}

/* Returns the offset for item: the start of the smallest gap that fits it among placed
 * intervals whose lifetimes overlap its own, else the end of the last of them. `order`
 * lists the placed values sorted by offset. */
static size_t memory_best_offset(const memory_interval *intervals, const int *order,
                                 int n_placed, const memory_interval *item)
{
    size_t best = SIZE_MAX, best_gap = SIZE_MAX, end = 0;
    for (int i = 0; i < n_placed; i++) {
        const memory_interval *other = &intervals[order[i]];
        if (other->last < item->first || other->first > item->last)
            continue;
        if (other->offset > end) {
            size_t gap = other->offset - end;
            if (gap >= item->bytes && gap < best_gap) {
                best_gap = gap;
                best = end;
            }
        }
        if (other->offset + other->bytes > end)
            end = other->offset + other->bytes;
    }
    return best != SIZE_MAX ? best : end;
}

/* Assigns offsets to every candidate interval; returns the arena size. */
static size_t memory_place(memory_interval *intervals, int *candidates, int n_candidates,
                           int *placed_order)
{
    qsort_r(candidates, (size_t)n_candidates, sizeof *candidates, memory_compare_size,
            intervals);
    size_t total = 0;
    int n_placed = 0;
    for (int c = 0; c < n_candidates; c++) {
        memory_interval *item = &intervals[candidates[c]];
        item->offset = memory_best_offset(intervals, placed_order, n_placed, item);
        item->placed = true;
        if (item->offset + item->bytes > total)
            total = item->offset + item->bytes;
        /* Keep placed_order sorted by offset. */
        int at = n_placed;
        while (at > 0 && intervals[placed_order[at - 1]].offset > item->offset) {
            placed_order[at] = placed_order[at - 1];
            at--;
        }
        placed_order[at] = candidates[c];
        n_placed++;
    }
    return total;
}

int fs_plan_allocate(fs_plan *plan, fs_error *err)
{
    fs_graph *graph = plan->graph;
    int n = graph->n_values;
    memory_interval *intervals = calloc((size_t)(n ? n : 1), sizeof *intervals);
    int *candidates = malloc((size_t)(n ? n : 1) * sizeof *candidates);
    int *placed_order = malloc((size_t)(n ? n : 1) * sizeof *placed_order);
    plan->offsets = malloc((size_t)(n ? n : 1) * sizeof *plan->offsets);
    int status = FACESIM_OK;
    if (!intervals || !candidates || !placed_order || !plan->offsets) {
        status = fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory planning memory",
                              graph->path);
        goto done;
    }

    for (int v = 0; v < n; v++) {
        intervals[v].first = -1;
        intervals[v].last = -1;
        plan->offsets[v] = SIZE_MAX;
    }
    memory_lifetimes(plan, intervals);
    for (int v = 0; v < n; v++) {
        if (!memory_in_arena(graph, intervals, v))
            continue;
        size_t bytes;
        if (!fs_plan_value_bytes(&graph->values[v], &bytes) ||
            !fs_add_size(bytes, MEMORY_ALIGNMENT - 1, &bytes)) {
            status = fs_error_set(err, FACESIM_ERR_LIMIT, "%s: value '%s' is too large",
                                  graph->path, graph->values[v].name);
            goto done;
        }
        intervals[v].bytes = bytes / MEMORY_ALIGNMENT * MEMORY_ALIGNMENT;
        if (intervals[v].last < intervals[v].first)
            intervals[v].last = intervals[v].first;
    }

    int n_candidates = 0;
    for (int v = 0; v < n; v++)
        if (memory_in_arena(graph, intervals, v))
            candidates[n_candidates++] = v;
    plan->arena_bytes = memory_place(intervals, candidates, n_candidates, placed_order);

    if (posix_memalign(&plan->arena, MEMORY_ALIGNMENT,
                       plan->arena_bytes ? plan->arena_bytes : MEMORY_ALIGNMENT) != 0) {
        plan->arena = NULL;
        status = fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                              "%s: out of memory allocating %zu bytes for intermediate tensors",
                              graph->path, plan->arena_bytes);
        goto done;
    }
    for (int v = 0; v < n; v++) {
        if (!memory_in_arena(graph, intervals, v))
            continue;
        plan->offsets[v] = intervals[v].offset;
        plan->ctx.tensors[v].data = (char *)plan->arena + intervals[v].offset;
    }

done:
    free(intervals);
    free(candidates);
    free(placed_order);
    return status;
}

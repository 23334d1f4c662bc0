/*
 * Topological sort of the loaded nodes (Kahn's algorithm). Among the nodes ready at
 * each step the one earliest in the file goes first, so a file that is already in
 * order keeps its order, which exporters choose to keep intermediate tensors short-lived.
 *
 * On entry value->producer is the file-order index of the node computing the value. On
 * return the nodes are sorted and producer is the sorted index.
 */
#include <stdlib.h>

#include "onnx/onnx_internal.h"

/* Binary min-heap of node indices. */
typedef struct onnx_heap {
    int *items;
    size_t count;
} onnx_heap;

static void onnx_heap_push(onnx_heap *heap, int item)
{
    size_t i = heap->count++;
    while (i > 0 && heap->items[(i - 1) / 2] > item) {
        heap->items[i] = heap->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap->items[i] = item;
}

static int onnx_heap_pop(onnx_heap *heap)
{
    int top = heap->items[0];
    int last = heap->items[--heap->count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap->count)
            break;
        if (child + 1 < heap->count && heap->items[child + 1] < heap->items[child])
            child++;
        if (heap->items[child] >= last)
            break;
        heap->items[i] = heap->items[child];
        i = child;
    }
    if (heap->count > 0)
        heap->items[i] = last;
    return top;
}

/* Producer node of input k of node, or -1 for graph inputs, constants and omitted inputs. */
static int onnx_input_producer(const fs_graph *graph, const fs_node *node, int k)
{
    return node->inputs[k] < 0 ? -1 : graph->values[node->inputs[k]].producer;
}

/*
 * Reports a cycle. in_degree[v] > 0 marks the nodes the sort could not place. Each of
 * them has an input from another unplaced node, so walking n steps back along such
 * inputs is certain to end inside a cycle.
 */
static int onnx_report_cycle(fs_onnx_loader *loader, const int *in_degree)
{
    const fs_graph *graph = loader->graph;
    int current = 0;
    while (in_degree[current] == 0)
        current++;
    int through = -1;
    for (int step = 0; step < graph->n_nodes; step++) {
        const fs_node *node = &graph->nodes[current];
        for (int k = 0; k < node->n_inputs; k++) {
            int producer = onnx_input_producer(graph, node, k);
            if (producer >= 0 && in_degree[producer] > 0) {
                current = producer;
                through = node->inputs[k];
                break;
            }
        }
    }
    const fs_node *node = &graph->nodes[current];
    return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                        "the graph has a cycle: node '%s' (%s) depends on its own output "
                        "'%s' through other nodes or directly; ONNX graphs must be acyclic",
                        node->name, node->op_type,
                        through >= 0 ? graph->values[through].name : "?");
}

/* Builds the edges (producer -> consumer, one per input) in compressed row form. */
static int onnx_build_edges(const fs_graph *graph, size_t *offsets, int **targets,
                            int *in_degree)
{
    int n = graph->n_nodes;
    for (int v = 0; v <= n; v++)
        offsets[v] = 0;
    for (int v = 0; v < n; v++) {
        const fs_node *node = &graph->nodes[v];
        for (int k = 0; k < node->n_inputs; k++) {
            int producer = onnx_input_producer(graph, node, k);
            if (producer >= 0) {
                offsets[producer + 1]++;
                in_degree[v]++;
            }
        }
    }
    for (int v = 0; v < n; v++)
        offsets[v + 1] += offsets[v];

    *targets = malloc((offsets[n] ? offsets[n] : 1) * sizeof **targets);
    size_t *fill = malloc(((size_t)n + 1) * sizeof *fill);
    if (!*targets || !fill) {
        free(fill);
        return FACESIM_ERR_NO_MEMORY;
    }
    for (int v = 0; v < n; v++)
        fill[v] = offsets[v];
    for (int v = 0; v < n; v++) {
        const fs_node *node = &graph->nodes[v];
        for (int k = 0; k < node->n_inputs; k++) {
            int producer = onnx_input_producer(graph, node, k);
            if (producer >= 0)
                (*targets)[fill[producer]++] = v;
        }
    }
    free(fill);
    return FACESIM_OK;
}

/* Moves the nodes into `order` and renumbers every value's producer. */
static int onnx_apply_order(fs_graph *graph, const int *order)
{
    int n = graph->n_nodes;
    size_t count = n > 0 ? (size_t)n : 1;
    fs_node *sorted = malloc(count * sizeof *sorted);
    int *position = malloc(count * sizeof *position);
    if (!sorted || !position) {
        free(sorted);
        free(position);
        return FACESIM_ERR_NO_MEMORY;
    }
    for (int i = 0; i < n; i++) {
        sorted[i] = graph->nodes[order[i]];
        position[order[i]] = i;
    }
    free(graph->nodes);
    graph->nodes = sorted;
    graph->cap_nodes = n;
    for (int v = 0; v < graph->n_values; v++)
        if (graph->values[v].producer >= 0)
            graph->values[v].producer = position[graph->values[v].producer];
    free(position);
    return FACESIM_OK;
}

int fs_onnx_sort_nodes(fs_onnx_loader *loader)
{
    fs_graph *graph = loader->graph;
    int n = graph->n_nodes;
    if (n == 0)
        return FACESIM_OK;

    size_t *offsets = malloc(((size_t)n + 1) * sizeof *offsets);
    int *in_degree = calloc((size_t)n, sizeof *in_degree);
    int *order = malloc((size_t)n * sizeof *order);
    onnx_heap ready = {malloc((size_t)n * sizeof(int)), 0};
    int *targets = NULL;
    int status = FACESIM_ERR_NO_MEMORY;
    if (offsets && in_degree && order && ready.items)
        status = onnx_build_edges(graph, offsets, &targets, in_degree);
    if (status != FACESIM_OK) {
        status = fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory sorting %d nodes",
                              n);
        goto done;
    }

    for (int v = 0; v < n; v++)
        if (in_degree[v] == 0)
            onnx_heap_push(&ready, v);
    int placed = 0;
    while (ready.count > 0) {
        int v = onnx_heap_pop(&ready);
        order[placed++] = v;
        for (size_t e = offsets[v]; e < offsets[v + 1]; e++)
            if (--in_degree[targets[e]] == 0)
                onnx_heap_push(&ready, targets[e]);
    }

    if (placed < n) {
        status = onnx_report_cycle(loader, in_degree);
        goto done;
    }
    if (onnx_apply_order(graph, order) != FACESIM_OK)
        status = fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory sorting %d nodes",
                              n);

done:
    free(offsets);
    free(in_degree);
    free(order);
    free(ready.items);
    free(targets);
    return status;
}

/*
 * The interface every operator implements, one file per op under ops/.
 *
 * Life of a node: infer (every plan: check attributes, compute output dtypes
 * and shapes) -> prepare (every plan, optional: create kernels for the planned
 * shapes and layouts, allocate node->state) -> run (every inference) ->
 * release (when the plan is dropped).
 *
 * Constant folding calls infer and run on nodes whose inputs are all
 * constants, with every tensor in plain layout and no prepare step unless the
 * op requires one (then prepare is called first, as for a normal plan).
 */
#ifndef FS_ENGINE_OP_H
#define FS_ENGINE_OP_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/graph.h"

/* Memory layout of a runtime tensor. Shapes stay in ONNX (NCHW) order either way. */
typedef enum fs_layout {
    FS_LAYOUT_PLAIN = 0, /* row-major in ONNX dimension order */
    FS_LAYOUT_NHWC = 1   /* rank-4 float only: N, H, W, C in memory for logical N, C, H, W */
} fs_layout;

typedef struct fs_tensor {
    void *data;
    fs_layout layout;
} fs_tensor;

struct fs_dnnl;         /* oneDNN engine and stream, engine/dnnl_glue.h */
struct fs_weight_cache; /* packed weights that outlive a plan, engine/weight_cache.h */

/* The state an op reads while it is prepared and run. */
typedef struct fs_run_ctx {
    fs_graph *graph;        /* the planned graph: shapes are all known */
    fs_tensor *tensors;     /* indexed like graph->values; constants are plain */
    struct fs_dnnl *dnnl;   /* shared oneDNN engine and stream */
    struct fs_weight_cache *weights; /* owned by the engine; keyed by value index */
    int threads;            /* threads the op may use */
    void *scratch;          /* during run: at least the bytes the op asked for in prepare */
    size_t scratch_size;
    struct fs_plan *plan;   /* engine-private: the plan this context belongs to, NULL in a
                               context built outside the engine (op unit tests) */
} fs_run_ctx;

typedef struct fs_op {
    const char *op_type;

    /* Validates attributes and input dtypes/shapes, sets every output's dtype and shape.
     * Errors name the node (node->name), the op and the offending attribute or input. */
    int (*infer)(fs_graph *graph, fs_node *node, fs_error *err);

    /* Optional. Returns whether the op can read its inputs in the given layouts. When it
     * returns false (or is NULL) the executor converts NHWC inputs to plain first. */
    bool (*accepts_layouts)(const fs_graph *graph, const fs_node *node,
                            const fs_layout *input_layouts);

    /* Optional. Creates kernels for the planned shapes and input layouts, stores them in
     * node->state, chooses output layouts (the executor sets them to plain beforehand) and
     * reports the scratch bytes run needs. */
    int (*prepare)(fs_run_ctx *ctx, fs_node *node, size_t *scratch_bytes, fs_error *err);

    /* Computes the outputs into ctx->tensors[node->outputs[i]].data. Must not allocate
     * memory unless prepare is NULL. */
    int (*run)(fs_run_ctx *ctx, fs_node *node, fs_error *err);

    /* Optional. Frees node->state and sets it to NULL. */
    void (*release)(fs_node *node);
} fs_op;

/* Returns the op implementing op_type in the default ONNX domain, or NULL. */
const fs_op *fs_op_find(const char *op_type);

/*
 * Tells the engine that prepare has packed constant value_index into the weight cache.
 * When every node that reads it packs it, the engine frees the plain copy and marks the
 * value `packed`, so the weights are held once. Implemented by the engine core.
 */
void fs_run_release_constant(fs_run_ctx *ctx, int value_index);

/* Helpers shared by op files. */

/* Returns the value of input i of node (i must be < n_inputs and the input present). */
static inline fs_value *fs_node_input(fs_graph *graph, const fs_node *node, int i)
{
    return &graph->values[node->inputs[i]];
}

static inline fs_value *fs_node_output(fs_graph *graph, const fs_node *node, int i)
{
    return &graph->values[node->outputs[i]];
}

/* True when node has input i and it is not omitted. */
static inline bool fs_node_has_input(const fs_node *node, int i)
{
    return i < node->n_inputs && node->inputs[i] >= 0;
}

/* Fails with a message naming the node when it has fewer than min or more than max inputs. */
int fs_op_check_arity(const fs_node *node, int min_inputs, int max_inputs, int n_outputs,
                      fs_error *err);

#endif /* FS_ENGINE_OP_H */

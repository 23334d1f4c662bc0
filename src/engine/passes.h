/*
 * Graph rewrites the engine applies before running a model.
 *
 * Load-time passes (fuse.c) work on the optimised copy of the loaded graph and need no
 * shapes: BatchNormalization folding and activation fusion. Plan-time passes (batch.c,
 * fold.c, the residual fusion in fuse.c) run on each plan's clone once shapes are known.
 *
 * A removed node stays in the node array with `removed` set. When a pass fuses node B
 * into node A, A takes over B's output value, so every later reader is unchanged.
 */
#ifndef FS_ENGINE_PASSES_H
#define FS_ENGINE_PASSES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "engine/graph.h"

/* True when the value is a constant: it has data, or its data lives in the weight cache. */
static inline bool fs_value_is_constant(const fs_value *value)
{
    return value->data != NULL || value->packed;
}

/* Returns how many times non-removed nodes read the value, counting fused operands
 * (fused_sum, fused_slope), plus one per graph output slot that names it. */
int fs_pass_count_readers(const fs_graph *graph, int value_index);

/*
 * Folds each BatchNormalization whose input is a Conv output (or a Gemm output) read by
 * nothing else into that Conv or Gemm: new weight and bias constants, owned by graph.
 * Needs float constants for the weights and the four BatchNormalization parameters.
 * owner (may be NULL) is the graph whose constants graph borrows. A weight read by this
 * Conv or Gemm only is folded in place, and both graphs then drop the original.
 */
int fs_pass_fold_batch_norm(fs_graph *graph, fs_graph *owner, fs_error *err);

/*
 * Fuses a Relu, a Clip with constant bounds or a PRelu with a per-channel constant slope
 * into the Conv before it, when the Conv output is read by that activation only.
 */
int fs_pass_fuse_activations(fs_graph *graph, fs_error *err);

/*
 * Plan time, shapes known: fuses Add(conv_output, other) into the Conv as a sum post-op
 * (node->fused_sum = other) when conv_output is read by the Add only, other is a runtime
 * float tensor of exactly the Add's shape, and other is ready before the Conv runs. A Relu
 * or a Clip with constant bounds that is the only reader of the Add's output then fuses
 * too, as node->fused_sum_activation.
 */
int fs_pass_fuse_residual_add(fs_graph *graph, fs_error *err);

/*
 * Marks removed every node none of whose outputs reaches a graph output. Returns the
 * number of nodes removed.
 */
int fs_pass_remove_dead_nodes(fs_graph *graph);

/*
 * Plan time, for a batch other than the model's declared 1: rewrites the Reshape at
 * node_index when its data input has `batch` as dim 0 and its constant shape starts with
 * 1. The Reshape then reads a private copy of the shape with `batch` in front. Nothing
 * changes for other Reshapes.
 */
int fs_pass_rewrite_reshape_batch(fs_graph *graph, int node_index, int64_t batch,
                                  fs_error *err);

/* Fills a Shape node's output with its input's dims (honouring opset 15 start/end) as an
 * owned int64 constant and marks the node removed. The input needs a known shape only. */
int fs_pass_fold_shape(fs_graph *graph, int node_index, fs_error *err);

#endif /* FS_ENGINE_PASSES_H */

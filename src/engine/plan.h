/*
 * An execution plan: the optimised graph specialised for one set of input shapes.
 *
 * Building a plan (plan.c) runs these steps on a clone of the engine's optimised graph:
 *   1. infer.c        set the input shapes, rewrite batch-pinned Reshapes, infer every
 *                     shape node by node and fold nodes whose inputs are all constants;
 *   2. fuse.c         fuse residual Adds, and a Relu or Clip after them, into Convs and
 *                     drop nodes that reach no output;
 *   3. layout.c       walk the nodes in order, let each op accept or reject NHWC inputs
 *                     (inserting NHWC -> plain conversion steps), prepare its kernels and
 *                     record the step list;
 *   4. memory_plan.c  give every runtime value an offset in one arena and allocate the
 *                     arena and the shared scratch buffer.
 * Running a plan then only points graph inputs at the caller's data and runs the steps.
 */
#ifndef FS_ENGINE_PLAN_H
#define FS_ENGINE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "engine/engine.h"
#include "engine/graph.h"
#include "engine/op.h"

typedef enum fs_step_kind {
    FS_STEP_OP = 0,       /* run graph->nodes[node] */
    FS_STEP_TO_PLAIN = 1  /* copy value `source` (NHWC) into value `target` (plain NCHW) */
} fs_step_kind;

typedef struct fs_step {
    fs_step_kind kind;
    int node;          /* FS_STEP_OP: node index */
    int source;        /* FS_STEP_TO_PLAIN: value indices */
    int target;
    int profile_slot;  /* index into the engine's per-op-type timing table */
} fs_step;

/* What a plan borrows from its engine. */
typedef struct fs_plan_env {
    struct fs_dnnl *dnnl;
    struct fs_weight_cache *weights;
    int threads;
    int64_t max_tensor_elements;
    fs_graph *loaded;    /* the graph as loaded: owns the constants read from the file */
    fs_graph *optimised; /* the loaded graph after load-time passes; plans clone it */
} fs_plan_env;

typedef struct fs_plan {
    fs_run_ctx ctx;          /* ctx.graph is `graph`; ctx.plan points back to this plan */
    fs_plan_env env;
    fs_graph *graph;         /* owned clone of env.optimised, shapes all known */
    int tensor_capacity;     /* entries allocated in ctx.tensors */
    int tensor_count;        /* entries initialised from graph values so far */

    fs_step *steps;
    int n_steps;
    int step_capacity;

    void *arena;             /* every runtime value that is not a graph input */
    size_t arena_bytes;
    size_t *offsets;         /* per value: offset in the arena, SIZE_MAX when not in it */

    int n_inputs;            /* the input shapes this plan was built for */
    int *input_ranks;
    int64_t (*input_dims)[FS_MAX_RANK];

    int *pack_calls;         /* per value: how many nodes packed it (fs_run_release_constant) */
    int pack_calls_size;
    bool folding;            /* true while constant folding runs ops */
} fs_plan;

/* Builds a plan for the given input shapes (inputs already validated against the model). */
int fs_plan_create(const fs_plan_env *env, const fs_tensor_data *inputs, int n_inputs,
                   fs_plan **out, fs_error *err);

/* Releases op state, buffers and the graph clone. Accepts NULL. */
void fs_plan_free(fs_plan *plan);

/* True when the plan was built for exactly these input shapes. */
bool fs_plan_matches(const fs_plan *plan, const fs_tensor_data *inputs, int n_inputs);

/* Runs every step. step_ns, when not NULL, receives each step's wall time added in
 * nanoseconds at step_ns[step->profile_slot]. */
int fs_plan_execute(fs_plan *plan, const fs_tensor_data *inputs, int n_inputs,
                    int64_t *step_ns, fs_error *err);

/* The engine's current plan, NULL before the first run. For tests; defined in engine.c. */
const fs_plan *fs_engine_current_plan(const fs_engine *engine);

/* Internal steps of fs_plan_create, one file each. */

/* Grows ctx.tensors to cover every graph value. Entries for values added since the last
 * call are plain and point at the value's constant data (NULL for runtime values), so
 * call it after setting a new constant's data. */
int fs_plan_sync_tensors(fs_plan *plan, fs_error *err);

/* infer.c: shapes, batch rewrite and constant folding, node by node. */
int fs_plan_infer(fs_plan *plan, int64_t batch, fs_error *err);

/* fold.c: runs node_index on its constant inputs, keeps the outputs as owned constants
 * and marks the node removed. */
int fs_plan_fold_node(fs_plan *plan, int node_index, fs_error *err);

/* layout.c: layouts, conversion steps, op prepare, the step list. */
int fs_plan_prepare_steps(fs_plan *plan, size_t *scratch_bytes, fs_error *err);

/* layout.c: NHWC -> NCHW copy of a float tensor with logical dims N, C, H, W. */
void fs_layout_nhwc_to_nchw(const float *source, float *target, const int64_t dims[4],
                            int threads);

/* memory_plan.c: arena offsets for every runtime value, then the arena itself. */
int fs_plan_allocate(fs_plan *plan, fs_error *err);

/* Byte size of a value with a known shape, or false on overflow. */
bool fs_plan_value_bytes(const fs_value *value, size_t *bytes);

#endif /* FS_ENGINE_PLAN_H */

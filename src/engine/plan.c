/*
 * Plan construction (the steps are listed in plan.h) and plan execution.
 */
#include "engine/plan.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/passes.h"

int fs_plan_sync_tensors(fs_plan *plan, fs_error *err)
{
    fs_graph *graph = plan->graph;
    if (graph->n_values > plan->tensor_capacity) {
        int capacity = plan->tensor_capacity ? plan->tensor_capacity : 64;
        while (capacity < graph->n_values)
            capacity *= 2;
        fs_tensor *grown = realloc(plan->ctx.tensors, (size_t)capacity * sizeof *grown);
        if (!grown)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                "%s: out of memory building the plan", graph->path);
        plan->ctx.tensors = grown;
        plan->tensor_capacity = capacity;
    }
    for (int v = plan->tensor_count; v < graph->n_values; v++) {
        plan->ctx.tensors[v].data = graph->values[v].data;
        plan->ctx.tensors[v].layout = FS_LAYOUT_PLAIN;
    }
    plan->tensor_count = graph->n_values;
    return FACESIM_OK;
}

/* Remembers the input shapes the plan is built for and sets them on the graph inputs. */
static int plan_set_inputs(fs_plan *plan, const fs_tensor_data *inputs, int n_inputs,
                           fs_error *err)
{
    plan->n_inputs = n_inputs;
    plan->input_ranks = calloc((size_t)(n_inputs ? n_inputs : 1), sizeof *plan->input_ranks);
    plan->input_dims = calloc((size_t)(n_inputs ? n_inputs : 1), sizeof *plan->input_dims);
    if (!plan->input_ranks || !plan->input_dims)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory building the plan",
                            plan->graph->path);
    for (int i = 0; i < n_inputs; i++) {
        plan->input_ranks[i] = inputs[i].rank;
        memcpy(plan->input_dims[i], inputs[i].dims, sizeof plan->input_dims[i]);
        fs_value *value = &plan->graph->values[plan->graph->inputs[i]];
        fs_value_set_shape(value, inputs[i].dtype, inputs[i].rank, inputs[i].dims);
    }
    return FACESIM_OK;
}

/* Returns the batch to rewrite Reshapes for: input 0's dim 0 when the model declares a
 * batch of 1 there and the caller passes another one, else 1 (no rewrite). */
static int64_t plan_batch(const fs_plan *plan, const fs_tensor_data *inputs, int n_inputs)
{
    const fs_graph *declared = plan->env.optimised;
    if (n_inputs < 1 || declared->n_inputs < 1)
        return 1;
    const fs_value *input = &declared->values[declared->inputs[0]];
    if (input->rank < 1 || input->dims[0] != 1 || inputs[0].rank < 1)
        return 1;
    return inputs[0].dims[0];
}

int fs_plan_create(const fs_plan_env *env, const fs_tensor_data *inputs, int n_inputs,
                   fs_plan **out, fs_error *err)
{
    *out = NULL;
    fs_plan *plan = calloc(1, sizeof *plan);
    if (!plan)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory building the plan",
                            env->optimised->path);
    plan->env = *env;
    plan->graph = fs_graph_clone(env->optimised, true);
    int status = FACESIM_OK;
    if (!plan->graph) {
        status = fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory building the plan",
                              env->optimised->path);
        goto fail;
    }
    plan->ctx.graph = plan->graph;
    plan->ctx.dnnl = env->dnnl;
    plan->ctx.weights = env->weights;
    plan->ctx.threads = env->threads;
    plan->ctx.plan = plan;
    for (int i = 0; i < plan->graph->n_nodes; i++) {
        fs_node *node = &plan->graph->nodes[i];
        node->op = node->removed ? NULL : fs_op_find(node->op_type);
    }

    /* 1. Shapes and constant folding. */
    status = plan_set_inputs(plan, inputs, n_inputs, err);
    if (status == FACESIM_OK)
        status = fs_plan_infer(plan, plan_batch(plan, inputs, n_inputs), err);

    /* 2. Fusions that need shapes, then dead nodes (folding leaves some). */
    if (status == FACESIM_OK)
        status = fs_pass_fuse_residual_add(plan->graph, err);
    if (status == FACESIM_OK)
        fs_pass_remove_dead_nodes(plan->graph);

    /* 3. Layouts, kernels and the step list. */
    size_t scratch_bytes = 0;
    if (status == FACESIM_OK)
        status = fs_plan_prepare_steps(plan, &scratch_bytes, err);

    /* 4. Memory: the arena and one scratch buffer shared by all steps. */
    if (status == FACESIM_OK)
        status = fs_plan_allocate(plan, err);
    if (status == FACESIM_OK && scratch_bytes > 0) {
        if (posix_memalign(&plan->ctx.scratch, 64, scratch_bytes) != 0) {
            plan->ctx.scratch = NULL;
            status = fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                  "%s: out of memory allocating %zu bytes of kernel scratch",
                                  plan->graph->path, scratch_bytes);
        }
        plan->ctx.scratch_size = scratch_bytes;
    }
    if (status != FACESIM_OK)
        goto fail;
    *out = plan;
    return FACESIM_OK;

fail:
    fs_plan_free(plan);
    return status;
}

void fs_plan_free(fs_plan *plan)
{
    if (!plan)
        return;
    fs_graph_free(plan->graph);
    free(plan->ctx.tensors);
    free(plan->ctx.scratch);
    free(plan->steps);
    free(plan->arena);
    free(plan->offsets);
    free(plan->input_ranks);
    free(plan->input_dims);
    free(plan->pack_calls);
    free(plan);
}

bool fs_plan_matches(const fs_plan *plan, const fs_tensor_data *inputs, int n_inputs)
{
    if (plan->n_inputs != n_inputs)
        return false;
    for (int i = 0; i < n_inputs; i++) {
        if (plan->input_ranks[i] != inputs[i].rank)
            return false;
        for (int d = 0; d < inputs[i].rank; d++)
            if (plan->input_dims[i][d] != inputs[i].dims[d])
                return false;
    }
    return true;
}

static int64_t plan_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static int plan_run_step(fs_plan *plan, const fs_step *step, fs_error *err)
{
    if (step->kind == FS_STEP_TO_PLAIN) {
        fs_layout_nhwc_to_nchw(plan->ctx.tensors[step->source].data,
                               plan->ctx.tensors[step->target].data,
                               plan->graph->values[step->source].dims, plan->ctx.threads);
        return FACESIM_OK;
    }
    fs_node *node = &plan->graph->nodes[step->node];
    int status = node->op->run(&plan->ctx, node, err);
    if (status != FACESIM_OK && err && strstr(err->message, plan->graph->path) == NULL)
        fs_error_prefix(err, "%s", plan->graph->path);
    return status;
}

int fs_plan_execute(fs_plan *plan, const fs_tensor_data *inputs, int n_inputs,
                    int64_t *step_ns, fs_error *err)
{
    /* Graph inputs are read in place from the caller's buffers. */
    for (int i = 0; i < n_inputs; i++) {
        fs_tensor *tensor = &plan->ctx.tensors[plan->graph->inputs[i]];
        tensor->data = inputs[i].data;
        tensor->layout = FS_LAYOUT_PLAIN;
    }
    for (int s = 0; s < plan->n_steps; s++) {
        const fs_step *step = &plan->steps[s];
        int64_t start = step_ns ? plan_now_ns() : 0;
        int status = plan_run_step(plan, step, err);
        if (status != FACESIM_OK)
            return status;
        if (step_ns)
            step_ns[step->profile_slot] += plan_now_ns() - start;
    }
    return FACESIM_OK;
}

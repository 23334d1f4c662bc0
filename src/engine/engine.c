/*
 * The engine's public entry points (engine.h): load and validate a model, apply the
 * load-time passes, keep one plan for the current input shapes, run it, and release
 * packed constants.
 *
 * Graphs kept by an engine:
 *   loaded     the graph as the loader returned it, owner of the constants read from the
 *              file. fs_engine_source_graph returns it.
 *   optimised  a clone of `loaded` sharing its constants, after BatchNormalization folding
 *              and activation fusion. It owns the constants those passes create.
 *   plan       a clone of `optimised` per set of input shapes (plan.h).
 *
 * Profiling: with the environment variable FACESIM_PROFILE=1 set when the engine is
 * loaded, every run times each step, and fs_engine_free prints the time per op type to
 * stderr. This debugging aid is the only output the engine writes itself.
 */
#include "engine/engine.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/dnnl_glue.h"
#include "engine/op.h"
#include "engine/passes.h"
#include "engine/plan.h"
#include "engine/weight_cache.h"
#include "onnx/onnx_load.h"


#define ENGINE_PROFILE_TO_PLAIN "NHWC->NCHW"

typedef struct engine_profile {
    bool enabled;
    char **names;        /* op type per slot, owned */
    int64_t *step_ns;    /* total time per slot */
    int64_t *calls;      /* steps run per slot */
    int count;
    int capacity;
    int64_t runs;
} engine_profile;

struct fs_engine {
    fs_engine_params params;
    fs_graph *loaded;
    fs_graph *optimised;
    fs_dnnl *dnnl;
    fs_weight_cache *weights;
    fs_plan *plan;
    double last_plan_ms;
    engine_profile profile;
};

void fs_engine_default_params(fs_engine_params *params)
{
    params->threads = 0;
    params->max_tensor_elements = (int64_t)1 << 28;
}

static double engine_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

/* Reports every operator the graph uses that has no implementation, one node per type. */
static int engine_check_ops(const fs_graph *graph, fs_error *err)
{
    char message[FS_ERROR_MESSAGE_MAX] = "";
    size_t used = 0;
    int unsupported = 0;
    for (int i = 0; i < graph->n_nodes; i++) {
        const fs_node *node = &graph->nodes[i];
        bool default_domain = node->domain[0] == '\0' || strcmp(node->domain, "ai.onnx") == 0;
        if (default_domain && fs_op_find(node->op_type))
            continue;

        /* Name each unsupported (domain, op type) pair once, at its first node. */
        bool seen = false;
        for (int j = 0; j < i && !seen; j++) {
            const fs_node *earlier = &graph->nodes[j];
            seen = strcmp(earlier->op_type, node->op_type) == 0 &&
                   strcmp(earlier->domain, node->domain) == 0;
        }
        if (seen)
            continue;
        unsupported++;
        int written;
        if (default_domain)
            written = snprintf(message + used, sizeof message - used,
                               "%snode '%s' uses operator '%s', which facesim does not "
                               "implement", used ? "; " : "", node->name, node->op_type);
        else
            written = snprintf(message + used, sizeof message - used,
                               "%snode '%s' uses operator '%s' from domain '%s', which facesim "
                               "does not implement", used ? "; " : "", node->name,
                               node->op_type, node->domain);
        if (written > 0)
            used += (size_t)written < sizeof message - used ? (size_t)written
                                                            : sizeof message - used - 1;
    }
    if (unsupported == 0)
        return FACESIM_OK;
    return fs_error_set(err, FACESIM_ERR_UNSUPPORTED, "%s: %s", graph->path, message);
}

/* Checks what fs_engine_run relies on: typed inputs and outputs of known rank. */
static int engine_check_interface(const fs_graph *graph, fs_error *err)
{
    if (graph->n_outputs < 1)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA, "%s: the model has no outputs",
                            graph->path);
    for (int i = 0; i < graph->n_inputs; i++) {
        const fs_value *input = &graph->values[graph->inputs[i]];
        if (fs_dtype_size(input->dtype) == 0 || input->rank > FS_MAX_RANK)
            return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                                "%s: input '%s' has type %s and rank %d; facesim needs a "
                                "tensor input of a supported type and a rank of at most %d",
                                graph->path, input->name, fs_dtype_name(input->dtype),
                                input->rank, FS_MAX_RANK);
    }
    return FACESIM_OK;
}

/* Frees constants of the loaded graph that no node of the optimised graph reads any more
 * (weights and BatchNormalization parameters replaced by folded copies). */
static void engine_drop_unused_constants(fs_engine *engine)
{
    for (int v = 0; v < engine->loaded->n_values; v++) {
        fs_value *loaded = &engine->loaded->values[v];
        fs_value *optimised = &engine->optimised->values[v];
        if (!loaded->owns_data || !loaded->data || loaded->is_graph_output)
            continue;
        if (fs_pass_count_readers(engine->optimised, v) > 0)
            continue;
        bool read_by_attribute = false;
        for (int i = 0; i < engine->optimised->n_nodes && !read_by_attribute; i++) {
            const fs_node *node = &engine->optimised->nodes[i];
            for (int a = 0; a < node->n_attrs; a++)
                if (node->attrs[a].type == FS_ATTR_TENSOR && node->attrs[a].tensor == v)
                    read_by_attribute = true;
        }
        if (read_by_attribute)
            continue;
        free(loaded->data);
        loaded->data = NULL;
        loaded->owns_data = false;
        optimised->data = NULL;
    }
}

static int engine_init_threads(fs_engine *engine)
{
    int threads = engine->params.threads;
    if (threads == 0)
        threads = omp_get_num_procs();
    if (threads < 1)
        threads = 1;
    engine->params.threads = threads;
    omp_set_num_threads(threads);
    return threads;
}

int fs_engine_load_graph(fs_graph *graph, const fs_engine_params *params, fs_engine **out,
                         fs_error *err)
{
    *out = NULL;
    fs_engine_params defaults;
    fs_engine_default_params(&defaults);
    if (!params)
        params = &defaults;
    if (!graph) {
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "fs_engine_load_graph: graph is NULL");
    }
    if (params->threads < 0 || params->max_tensor_elements <= 0) {
        int status = fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                                  "%s: invalid engine parameters: threads %d (must be >= 0, 0 "
                                  "for all cores), max_tensor_elements %lld (must be > 0)",
                                  graph->path, params->threads,
                                  (long long)params->max_tensor_elements);
        fs_graph_free(graph);
        return status;
    }

    fs_engine *engine = calloc(1, sizeof *engine);
    if (!engine) {
        fs_graph_free(graph);
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory creating the engine");
    }
    engine->params = *params;
    engine->loaded = graph;

    int status = engine_check_ops(graph, err);
    if (status == FACESIM_OK)
        status = engine_check_interface(graph, err);
    if (status != FACESIM_OK)
        goto fail;

    /* Load-time passes: no shapes needed. */
    engine->optimised = fs_graph_clone(graph, true);
    if (!engine->optimised) {
        status = fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory copying the graph",
                              graph->path);
        goto fail;
    }
    status = fs_pass_fold_batch_norm(engine->optimised, engine->loaded, err);
    if (status == FACESIM_OK)
        status = fs_pass_fuse_activations(engine->optimised, err);
    if (status != FACESIM_OK)
        goto fail;
    engine_drop_unused_constants(engine);

    engine_init_threads(engine);
    status = fs_dnnl_create(&engine->dnnl, err);
    if (status == FACESIM_OK)
        status = fs_weight_cache_create(&engine->weights, err);
    if (status != FACESIM_OK)
        goto fail;

    const char *profile = getenv("FACESIM_PROFILE");
    engine->profile.enabled = profile && profile[0] && strcmp(profile, "0") != 0;
    *out = engine;
    return FACESIM_OK;

fail:
    fs_engine_free(engine);
    return status;
}

int fs_engine_load(const char *path, const fs_engine_params *params, fs_engine **out,
                   fs_error *err)
{
    *out = NULL;
    if (!path)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "fs_engine_load: path is NULL");
    fs_onnx_limits limits;
    fs_onnx_default_limits(&limits);
    /* One element cap for the file's tensors and the computed ones. An invalid value
     * is rejected by fs_engine_load_graph. */
    if (params && params->max_tensor_elements > 0)
        limits.max_tensor_elements = params->max_tensor_elements;
    fs_graph *graph = NULL;
    int status = fs_onnx_load_file(path, &limits, &graph, err);
    if (status != FACESIM_OK)
        return status;
    return fs_engine_load_graph(graph, params, out, err);
}

static void engine_print_profile(const fs_engine *engine)
{
    const engine_profile *profile = &engine->profile;
    if (!profile->enabled || profile->runs == 0)
        return;
    int64_t total = 0;
    for (int i = 0; i < profile->count; i++)
        total += profile->step_ns[i];
    fprintf(stderr, "facesim profile: %s, %lld runs, %d threads, %.3f ms per run\n",
            engine->loaded->path, (long long)profile->runs, engine->params.threads,
            (double)total / 1e6 / (double)profile->runs);
    fprintf(stderr, "  %-24s %10s %12s %8s\n", "op type", "steps/run", "ms/run", "share");

    /* Largest share first. */
    bool *printed = calloc((size_t)(profile->count ? profile->count : 1), sizeof *printed);
    if (!printed)
        return;
    for (int row = 0; row < profile->count; row++) {
        int best = -1;
        for (int i = 0; i < profile->count; i++)
            if (!printed[i] && (best < 0 || profile->step_ns[i] > profile->step_ns[best]))
                best = i;
        printed[best] = true;
        fprintf(stderr, "  %-24s %10.1f %12.3f %7.1f%%\n", profile->names[best],
                (double)profile->calls[best] / (double)profile->runs,
                (double)profile->step_ns[best] / 1e6 / (double)profile->runs,
                total ? 100.0 * (double)profile->step_ns[best] / (double)total : 0.0);
    }
    free(printed);
}

void fs_engine_free(fs_engine *engine)
{
    if (!engine)
        return;
    engine_print_profile(engine);
    for (int i = 0; i < engine->profile.count; i++)
        free(engine->profile.names[i]);
    free(engine->profile.names);
    free(engine->profile.step_ns);
    free(engine->profile.calls);
    /* Plans hold oneDNN primitives, so they go before the oneDNN engine. */
    fs_plan_free(engine->plan);
    fs_weight_cache_free(engine->weights);
    fs_dnnl_free(engine->dnnl);
    fs_graph_free(engine->optimised);
    fs_graph_free(engine->loaded);
    free(engine);
}

int fs_engine_input_count(const fs_engine *engine)
{
    return engine->loaded->n_inputs;
}

int fs_engine_output_count(const fs_engine *engine)
{
    return engine->loaded->n_outputs;
}

static void engine_fill_info(const fs_value *value, fs_tensor_info *info)
{
    info->name = value->name;
    info->dtype = value->dtype;
    info->rank = value->rank;
    for (int d = 0; d < FS_MAX_RANK; d++)
        info->dims[d] = d < value->rank ? value->dims[d] : -1;
}

int fs_engine_input_info(const fs_engine *engine, int index, fs_tensor_info *info)
{
    if (index < 0 || index >= engine->loaded->n_inputs)
        return FACESIM_ERR_INVALID_ARGUMENT;
    engine_fill_info(&engine->loaded->values[engine->loaded->inputs[index]], info);
    return FACESIM_OK;
}

int fs_engine_output_info(const fs_engine *engine, int index, fs_tensor_info *info)
{
    if (index < 0 || index >= engine->loaded->n_outputs)
        return FACESIM_ERR_INVALID_ARGUMENT;
    engine_fill_info(&engine->loaded->values[engine->loaded->outputs[index]], info);
    return FACESIM_OK;
}

const fs_graph *fs_engine_source_graph(const fs_engine *engine)
{
    return engine->loaded;
}

const fs_plan *fs_engine_current_plan(const fs_engine *engine)
{
    return engine->plan;
}

double fs_engine_last_plan_ms(const fs_engine *engine)
{
    return engine->last_plan_ms;
}

static void engine_format_dims(char *text, size_t size, int rank, const int64_t *dims)
{
    size_t used = 0;
    used += (size_t)snprintf(text, size, "[");
    for (int d = 0; d < rank && used < size; d++)
        used += (size_t)snprintf(text + used, size - used, "%s%lld", d ? ", " : "",
                                 (long long)dims[d]);
    if (used < size)
        snprintf(text + used, size - used, "]");
}

/* Checks one caller input against the model's declaration of it. */
static int engine_check_input(const fs_engine *engine, int index, const fs_tensor_data *input,
                              fs_error *err)
{
    const fs_graph *graph = engine->loaded;
    const fs_value *declared = &graph->values[graph->inputs[index]];
    char given[256], expected[256];
    engine_format_dims(given, sizeof given, input->rank > 0 && input->rank <= FS_MAX_RANK
                                                ? input->rank : 0, input->dims);
    engine_format_dims(expected, sizeof expected, declared->rank > 0 ? declared->rank : 0,
                       declared->dims);

    if (input->dtype != declared->dtype)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "%s: input '%s' has type %s, the model expects %s", graph->path,
                            declared->name, fs_dtype_name(input->dtype),
                            fs_dtype_name(declared->dtype));
    if (input->rank < 0 || input->rank > FS_MAX_RANK)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "%s: input '%s' has rank %d, expected 0 to %d", graph->path,
                            declared->name, input->rank, FS_MAX_RANK);
    /* A model that declares no shape (rank -1) takes any rank. */
    if (declared->rank >= 0 && input->rank != declared->rank)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "%s: input '%s' has rank %d, the model expects rank %d with dims %s "
                            "(-1 is free)", graph->path, declared->name, input->rank,
                            declared->rank, expected);
    for (int d = 0; d < input->rank; d++) {
        int64_t want = declared->rank >= 0 ? declared->dims[d] : -1;
        bool batch_dim = d == 0 && want == 1;
        bool ok = input->dims[d] >= 1 && (want < 0 || batch_dim || input->dims[d] == want);
        if (!ok)
            return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                                "%s: input '%s' has dims %s, the model expects %s (-1 is free; "
                                "a batch of 1 in dim 0 may be any batch)", graph->path,
                                declared->name, given, expected);
    }
    fs_value shape = *declared;
    fs_value_set_shape(&shape, input->dtype, input->rank, input->dims);
    int64_t count = fs_value_numel(&shape);
    if (count < 0 || count > engine->params.max_tensor_elements)
        return fs_error_set(err, FACESIM_ERR_LIMIT,
                            "%s: input '%s' with dims %s has more than %lld elements "
                            "(fs_engine_params.max_tensor_elements)", graph->path,
                            declared->name, given,
                            (long long)engine->params.max_tensor_elements);
    if (!input->data)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "%s: input '%s' has no data",
                            graph->path, declared->name);
    return FACESIM_OK;
}

static int engine_profile_slot(engine_profile *profile, const char *name)
{
    for (int i = 0; i < profile->count; i++)
        if (strcmp(profile->names[i], name) == 0)
            return i;
    if (profile->count == profile->capacity) {
        int capacity = profile->capacity ? profile->capacity * 2 : 32;
        char **names = realloc(profile->names, (size_t)capacity * sizeof *names);
        if (names)
            profile->names = names;
        int64_t *step_ns = realloc(profile->step_ns, (size_t)capacity * sizeof *step_ns);
        if (step_ns)
            profile->step_ns = step_ns;
        int64_t *calls = realloc(profile->calls, (size_t)capacity * sizeof *calls);
        if (calls)
            profile->calls = calls;
        if (!names || !step_ns || !calls)
            return -1;
        profile->capacity = capacity;
    }
    size_t length = strlen(name) + 1;
    char *copy = malloc(length);
    if (!copy)
        return -1;
    memcpy(copy, name, length);
    profile->names[profile->count] = copy;
    profile->step_ns[profile->count] = 0;
    profile->calls[profile->count] = 0;
    return profile->count++;
}

/* Gives each step of a new plan its timing slot, by op type. */
static int engine_assign_profile_slots(fs_engine *engine, fs_error *err)
{
    fs_plan *plan = engine->plan;
    for (int s = 0; s < plan->n_steps; s++) {
        fs_step *step = &plan->steps[s];
        const char *name = step->kind == FS_STEP_TO_PLAIN ? ENGINE_PROFILE_TO_PLAIN
                                                          : plan->graph->nodes[step->node].op_type;
        int slot = engine_profile_slot(&engine->profile, name);
        if (slot < 0)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory profiling");
        step->profile_slot = slot;
    }
    return FACESIM_OK;
}

/* Makes sure the current plan matches the input shapes, re-planning when they changed. */
static int engine_ensure_plan(fs_engine *engine, const fs_tensor_data *inputs, int n_inputs,
                              fs_error *err)
{
    if (engine->plan && fs_plan_matches(engine->plan, inputs, n_inputs))
        return FACESIM_OK;
    fs_plan_free(engine->plan);
    engine->plan = NULL;

    fs_plan_env env = {
        .dnnl = engine->dnnl,
        .weights = engine->weights,
        .threads = engine->params.threads,
        .max_tensor_elements = engine->params.max_tensor_elements,
        .loaded = engine->loaded,
        .optimised = engine->optimised,
    };
    double start = engine_now_ms();
    int status = fs_plan_create(&env, inputs, n_inputs, &engine->plan, err);
    engine->last_plan_ms = engine_now_ms() - start;
    if (status == FACESIM_OK && engine->profile.enabled)
        status = engine_assign_profile_slots(engine, err);
    return status;
}

int fs_engine_run(fs_engine *engine, const fs_tensor_data *inputs, int n_inputs,
                  fs_tensor_data *outputs, int n_outputs, fs_error *err)
{
    if (!engine)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "fs_engine_run: engine is NULL");
    const fs_graph *graph = engine->loaded;
    if (n_inputs != graph->n_inputs || (n_inputs > 0 && !inputs))
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "%s: the run got %d inputs, the model has %d", graph->path,
                            inputs ? n_inputs : 0, graph->n_inputs);
    if (n_outputs < 0 || n_outputs > graph->n_outputs || (n_outputs > 0 && !outputs))
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "%s: the run asked for %d outputs, the model has %d", graph->path,
                            n_outputs, graph->n_outputs);
    for (int i = 0; i < n_inputs; i++) {
        int status = engine_check_input(engine, i, &inputs[i], err);
        if (status != FACESIM_OK)
            return status;
    }

    /* OpenMP's thread count belongs to the calling thread, and an engine may run on
     * another thread than the one that loaded it. */
    if (omp_get_max_threads() != engine->params.threads)
        omp_set_num_threads(engine->params.threads);

    int status = engine_ensure_plan(engine, inputs, n_inputs, err);
    if (status != FACESIM_OK)
        return status;
    fs_plan *plan = engine->plan;

    int64_t *step_ns = engine->profile.enabled ? engine->profile.step_ns : NULL;
    status = fs_plan_execute(plan, inputs, n_inputs, step_ns, err);
    if (status != FACESIM_OK)
        return status;
    if (step_ns) {
        engine->profile.runs++;
        for (int s = 0; s < plan->n_steps; s++)
            engine->profile.calls[plan->steps[s].profile_slot]++;
    }

    for (int k = 0; k < n_outputs; k++) {
        int index = plan->graph->outputs[k];
        const fs_value *value = &plan->graph->values[index];
        outputs[k].dtype = value->dtype;
        outputs[k].rank = value->rank;
        for (int d = 0; d < FS_MAX_RANK; d++)
            outputs[k].dims[d] = d < value->rank ? value->dims[d] : 0;
        outputs[k].data = plan->ctx.tensors[index].data;
    }
    return FACESIM_OK;
}

/* True when every node of graph reading value_index is an op that packs its weights. */
static bool engine_read_only_by_packers(const fs_graph *graph, int value_index)
{
    for (int i = 0; i < graph->n_nodes; i++) {
        const fs_node *node = &graph->nodes[i];
        if (node->removed)
            continue;
        bool reads = node->fused_sum == value_index || node->fused_slope == value_index;
        for (int k = 0; k < node->n_inputs; k++)
            reads |= node->inputs[k] == value_index;
        if (!reads)
            continue;
        if (node->fused_sum == value_index || node->fused_slope == value_index)
            return false;
        if (strcmp(node->op_type, "Conv") != 0 && strcmp(node->op_type, "Gemm") != 0 &&
            strcmp(node->op_type, "MatMul") != 0)
            return false;
    }
    for (int k = 0; k < graph->n_outputs; k++)
        if (graph->outputs[k] == value_index)
            return false;
    return true;
}

/* Counts non-removed nodes of graph that read value_index as a node input. */
static int engine_count_reading_nodes(const fs_graph *graph, int value_index)
{
    int readers = 0;
    for (int i = 0; i < graph->n_nodes; i++) {
        const fs_node *node = &graph->nodes[i];
        if (node->removed)
            continue;
        for (int k = 0; k < node->n_inputs; k++)
            if (node->inputs[k] == value_index) {
                readers++;
                break;
            }
    }
    return readers;
}

static void engine_forget_data(fs_graph *graph, int value_index, const void *data)
{
    if (value_index >= graph->n_values)
        return;
    fs_value *value = &graph->values[value_index];
    if (value->data != data)
        return;
    if (value->owns_data)
        free(value->data);
    value->data = NULL;
    value->owns_data = false;
    value->packed = true;
}

void fs_run_release_constant(fs_run_ctx *ctx, int value_index)
{
    fs_plan *plan = ctx ? ctx->plan : NULL;
    if (!plan || plan->folding || value_index < 0 || value_index >= plan->graph->n_values)
        return;
    const fs_value *value = &plan->graph->values[value_index];
    const void *data = value->data;
    if (!data || value->is_graph_input)
        return;

    /* Count the packing nodes of this plan; release once the last of them has packed. */
    if (value_index >= plan->pack_calls_size) {
        int size = plan->graph->n_values;
        int *grown = realloc(plan->pack_calls, (size_t)size * sizeof *grown);
        if (!grown)
            return; /* out of memory: the plain copy stays, which costs memory only */
        for (int i = plan->pack_calls_size; i < size; i++)
            grown[i] = 0;
        plan->pack_calls = grown;
        plan->pack_calls_size = size;
    }
    plan->pack_calls[value_index]++;
    if (plan->pack_calls[value_index] < engine_count_reading_nodes(plan->graph, value_index))
        return;
    if (!engine_read_only_by_packers(plan->env.optimised, value_index) ||
        !engine_read_only_by_packers(plan->graph, value_index))
        return;

    /* The optimised and plan graphs borrow the loaded graph's data, or the plan graph
     * borrows the optimised graph's (folded weights); whichever owns it frees it. */
    engine_forget_data(plan->env.loaded, value_index, data);
    engine_forget_data(plan->env.optimised, value_index, data);
    engine_forget_data(plan->graph, value_index, data);
    plan->ctx.tensors[value_index].data = NULL;
}

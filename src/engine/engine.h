/*
 * The inference engine: load an ONNX model, optimise it, run it.
 *
 * Usage:
 *     fs_engine *engine;
 *     fs_engine_params params;
 *     fs_engine_default_params(&params);
 *     if (fs_engine_load("model.onnx", &params, &engine, &err) != FACESIM_OK) ...
 *     fs_tensor_data in = { FS_DTYPE_FLOAT, 4, {1, 3, 112, 112}, pixels };
 *     fs_tensor_data out[1];
 *     fs_engine_run(engine, &in, 1, out, 1, &err);
 *     ... out[0].data is valid until the next run or fs_engine_free ...
 *     fs_engine_free(engine);
 *
 * The engine plans once per set of input shapes (shape inference, constant
 * folding, fusion, kernel creation, memory plan) and re-plans only when an
 * input shape changes. A run then allocates nothing.
 *
 * An engine is not thread-safe: use one per thread. fs_engine_load calls
 * omp_set_num_threads(params.threads), which applies to the whole process.
 *
 * Profiling: with FACESIM_PROFILE=1 in the environment when the engine is loaded,
 * every run times its steps and fs_engine_free prints the time per op type to
 * stderr. This debugging aid is the only output the engine writes itself.
 */
#ifndef FS_ENGINE_ENGINE_H
#define FS_ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "engine/graph.h"

typedef struct fs_engine fs_engine;

typedef struct fs_engine_params {
    int threads;              /* threads for kernels; 0 means all cores */
    int64_t max_tensor_elements; /* cap on any tensor's element count (default 1 << 28) */
} fs_engine_params;

void fs_engine_default_params(fs_engine_params *params);

/* Loads and validates the model at path. On failure *engine is NULL and err names the
 * file. The file is not kept open. */
int fs_engine_load(const char *path, const fs_engine_params *params, fs_engine **engine,
                   fs_error *err);

/* Builds an engine from a graph already in memory (hand-built in tests, or loaded by the
 * caller). Takes ownership of graph: it is freed on failure too. Node order must be
 * topological. Same checks and passes as fs_engine_load. */
int fs_engine_load_graph(fs_graph *graph, const fs_engine_params *params, fs_engine **engine,
                         fs_error *err);

/* Frees the engine and every buffer it returned. Accepts NULL. */
void fs_engine_free(fs_engine *engine);

/* Description of a model input or output. name is owned by the engine. */
typedef struct fs_tensor_info {
    const char *name;
    fs_dtype dtype;
    int rank;
    int64_t dims[FS_MAX_RANK]; /* -1 for a dimension the model leaves free */
} fs_tensor_info;

int fs_engine_input_count(const fs_engine *engine);
int fs_engine_output_count(const fs_engine *engine);
int fs_engine_input_info(const fs_engine *engine, int index, fs_tensor_info *info);
/* Output dims as declared in the model (free ones -1); after a run use the run's outputs. */
int fs_engine_output_info(const fs_engine *engine, int index, fs_tensor_info *info);

/* The graph as loaded, before optimisation, for callers that inspect the model (for
 * example to find a recogniser's normalisation). Borrowed; lives as long as the engine.
 * Constants the engine no longer needs in plain form have data NULL: weights packed into
 * the weight cache (value->packed set after the first run) and the weights and
 * BatchNormalization parameters replaced by folded copies at load. */
const fs_graph *fs_engine_source_graph(const fs_engine *engine);

/* A tensor passed to or returned from a run. Row-major in ONNX order. */
typedef struct fs_tensor_data {
    fs_dtype dtype;
    int rank;
    int64_t dims[FS_MAX_RANK];
    void *data;
} fs_tensor_data;

/*
 * Runs the model on inputs (in model input order, n_inputs of them) and fills
 * outputs (model output order, n_outputs <= output count). Output data points into
 * engine memory, valid until the next run or fs_engine_free.
 *
 * The batch dimension (dim 0) may differ from the model's declared batch of 1: the
 * engine then re-plans for that batch, rewriting Reshape shape constants that pin
 * the batch to 1 (fr_feature's [1, -1] for example). The rewrite applies to a Reshape
 * whose data input has the batch as dim 0 and whose constant shape starts with 1.
 *
 * Input checks: the count, each input's dtype and rank, every dim the model fixes (dim 0
 * may be any batch when the model declares 1) and the element count against
 * params.max_tensor_elements. Errors name the input and the given and expected dims.
 * Inputs are read in place, so their data must stay unchanged during the call.
 */
int fs_engine_run(fs_engine *engine, const fs_tensor_data *inputs, int n_inputs,
                  fs_tensor_data *outputs, int n_outputs, fs_error *err);

/* Milliseconds spent in the last plan, for benchmarks. */
double fs_engine_last_plan_ms(const fs_engine *engine);

#endif /* FS_ENGINE_ENGINE_H */

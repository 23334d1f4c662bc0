/*
 * The ArcFace-family recogniser: 112x112 RGB crop in, one embedding out.
 *
 * Input normalisation, (pixel - mean) / std, is chosen as insightface's
 * ArcFaceONNX (model_zoo/arcface_onnx.py, python-package 0.7) chooses it. When
 * the names of the graph's first 8 nodes include one starting with "Sub" or
 * "_minus" and one starting with "Mul" or "_mul", the model normalises inside
 * the graph (converted MXNet models) and gets mean 0, std 1. Every other model
 * gets mean 127.5, std 127.5.
 *
 * Models whose own code uses other constants are recognised by file content:
 * a table keyed by the file size and its 64-bit FNV-1a hash. The default pack's
 * fr_feature.onnx is the one entry: its lib/fr_feature.js feeds
 * (pixel - 127) / 128.
 */
#include "face/face.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/checked.h"

/* insightface's recognition demo (web-demos/src_recognition/main.py, buffalo_l
 * w600k_r50) calls cosine >= 0.28 "the same person" and < 0.2 "not the same". */
#define RECOGNIZER_ARCFACE_THRESHOLD 0.28f

typedef struct recognizer_known_model {
    uint64_t size;
    uint64_t fnv1a;
    float mean, std;
    float threshold;
    const char *source;
} recognizer_known_model;

static const recognizer_known_model recognizer_known_models[] = {
    /* fr_feature.onnx from the npm package faceplugin-face-recognition-js 0.0.1. The
     * threshold 0.30 lies midway between the lowest same-person cosine (0.393, 61 pairs)
     * and the highest different-person cosine (0.201, 345 pairs) that insightface's
     * pipeline with SCRFD-500M gives on a 30-photo, 7-person test set. */
    {4884269u, 0xf2148e27fe9f8b5bull, 127.0f, 128.0f, 0.30f,
     "default pack fr_feature.onnx: (x - 127) / 128"},
};

/* 64-bit FNV-1a of the whole file; false when it cannot be read. */
static bool recognizer_hash_file(const char *path, uint64_t *size, uint64_t *hash)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return false;
    uint64_t h = 14695981039346656037ull;
    uint64_t total = 0;
    unsigned char buffer[65536];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, file)) > 0) {
        for (size_t i = 0; i < got; i++) {
            h ^= buffer[i];
            h *= 1099511628211ull;
        }
        total += got;
    }
    bool ok = !ferror(file);
    fclose(file);
    *size = total;
    *hash = h;
    return ok;
}

/* Embedding length of an output shaped [N, D] or [N, D, 1, 1]; 0 otherwise. */
static int64_t recognizer_output_dim(const fs_tensor_info *output)
{
    if (output->rank < 2)
        return 0;
    for (int d = 2; d < output->rank; d++) {
        if (output->dims[d] != 1)
            return 0;
    }
    return output->dims[1];
}

bool fs_recognizer_matches(fs_engine *engine)
{
    fs_tensor_info input, output;
    if (fs_engine_input_count(engine) != 1 || fs_engine_output_count(engine) != 1 ||
        fs_engine_input_info(engine, 0, &input) != FACESIM_OK ||
        fs_engine_output_info(engine, 0, &output) != FACESIM_OK)
        return false;
    if (input.rank != 4 || input.dims[1] != 3 || input.dims[2] != FACESIM_ALIGNED_SIZE ||
        input.dims[3] != FACESIM_ALIGNED_SIZE)
        return false;
    int64_t dim = recognizer_output_dim(&output);
    return dim >= 16 && dim <= FACESIM_MAX_EMBEDDING;
}

/* insightface's rule: Sub and Mul among the first 8 node names. */
static bool recognizer_graph_normalises(const fs_graph *graph)
{
    /* NOTE: the engine's loader names unnamed nodes "<op>_<index>", so an unnamed Sub
     * node counts here while insightface (which reads an empty name) would skip it. */
    bool has_sub = false, has_mul = false;
    for (int i = 0; i < graph->n_nodes && i < 8; i++) {
        const char *name = graph->nodes[i].name;
        if (!strncmp(name, "Sub", 3) || !strncmp(name, "_minus", 6))
            has_sub = true;
        if (!strncmp(name, "Mul", 3) || !strncmp(name, "_mul", 4))
            has_mul = true;
    }
    return has_sub && has_mul;
}

int fs_recognizer_init(fs_recognizer *rec, fs_engine *engine, const char *path, fs_error *err)
{
    memset(rec, 0, sizeof *rec);
    rec->engine = engine;
    rec->path = path;
    if (!fs_recognizer_matches(engine))
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: expected an Nx3x112x112 input and one [N, D] output", path);
    fs_tensor_info output;
    fs_engine_output_info(engine, 0, &output);
    rec->dim = (int)recognizer_output_dim(&output);

    const fs_graph *graph = fs_engine_source_graph(engine);
    if (graph && recognizer_graph_normalises(graph)) {
        rec->mean = 0.0f;
        rec->std = 1.0f;
        rec->normalisation_source = "graph normalises (Sub and Mul among the first nodes)";
    } else {
        rec->mean = 127.5f;
        rec->std = 127.5f;
        rec->normalisation_source = "insightface default (x - 127.5) / 127.5";
    }
    rec->threshold = RECOGNIZER_ARCFACE_THRESHOLD;

    /* Only files whose size matches a table entry are hashed, so large unknown models
     * (166 MB for w600k_r50) are not read a second time. */
    struct stat st;
    if (stat(path, &st) != 0)
        return FACESIM_OK;
    size_t n_known = sizeof recognizer_known_models / sizeof *recognizer_known_models;
    bool hashed = false;
    uint64_t size = 0, hash = 0;
    for (size_t i = 0; i < n_known; i++) {
        const recognizer_known_model *known = &recognizer_known_models[i];
        if (known->size != (uint64_t)st.st_size)
            continue;
        if (!hashed && !recognizer_hash_file(path, &size, &hash))
            return FACESIM_OK;
        hashed = true;
        if (known->size == size && known->fnv1a == hash) {
            rec->mean = known->mean;
            rec->std = known->std;
            rec->threshold = known->threshold;
            rec->normalisation_source = known->source;
        }
    }
    return FACESIM_OK;
}

void fs_recognizer_release(fs_recognizer *rec)
{
    free(rec->input);
    memset(rec, 0, sizeof *rec);
}

int fs_recognizer_embed(fs_recognizer *rec, const uint8_t *crops, int n, float *embeddings,
                        fs_error *err)
{
    if (n < 1)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "the number of crops to embed must be at least 1, got %d", n);
    const size_t plane = FACESIM_ALIGNED_SIZE * FACESIM_ALIGNED_SIZE;
    size_t floats;
    if (!fs_mul_size((size_t)n, plane * 3, &floats) || n > 4096)
        return fs_error_set(err, FACESIM_ERR_LIMIT,
                            "a batch of %d crops is too large (at most 4096)", n);
    if (floats > rec->input_capacity) {
        float *grown = realloc(rec->input, floats * sizeof *grown);
        if (!grown)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                "out of memory for a batch of %d crops", n);
        rec->input = grown;
        rec->input_capacity = floats;
    }

    /* Packed RGB crops to planar NCHW, normalised. */
    for (int b = 0; b < n; b++) {
        const uint8_t *src = crops + (size_t)b * plane * 3;
        float *dst = rec->input + (size_t)b * plane * 3;
        for (size_t i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++)
                dst[(size_t)c * plane + i] = ((float)src[i * 3 + c] - rec->mean) / rec->std;
        }
    }

    fs_tensor_data input = {FS_DTYPE_FLOAT, 4, {n, 3, FACESIM_ALIGNED_SIZE, FACESIM_ALIGNED_SIZE},
                            rec->input};
    fs_tensor_data output;
    memset(&output, 0, sizeof output);
    int status = fs_engine_run(rec->engine, &input, 1, &output, 1, err);
    if (status != FACESIM_OK)
        return status;
    if (output.dtype != FS_DTYPE_FLOAT || output.rank < 2 || output.dims[0] != n ||
        output.dims[1] != rec->dim)
        return fs_error_set(err, FACESIM_ERR_INTERNAL,
                            "%s: output has shape [%lld, %lld], expected [%d, %d]", rec->path,
                            (long long)output.dims[0], (long long)output.dims[1], n, rec->dim);

    const float *raw = output.data;
    for (int b = 0; b < n; b++) {
        const float *v = raw + (size_t)b * rec->dim;
        float *e = embeddings + (size_t)b * rec->dim;
        double sum = 0.0;
        for (int i = 0; i < rec->dim; i++)
            sum += (double)v[i] * v[i];
        double norm = sqrt(sum);
        if (!(norm > 0.0) || !isfinite(norm))
            return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                                "%s: embedding %d has norm %g and cannot be normalised",
                                rec->path, b, norm);
        for (int i = 0; i < rec->dim; i++)
            e[i] = (float)(v[i] / norm);
    }
    return FACESIM_OK;
}

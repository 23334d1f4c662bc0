/*
 * Times the engine on one model and prints one JSON line:
 *     {"model": ..., "threads": N, "input_shape": "1x3x640x640", "load_ms": ...,
 *      "plan_ms": ..., "median_ms": ..., "min_ms": ..., "peak_rss_mb": ...}
 *
 * Usage: bench_engine MODEL [--input-shape 1x3x640x640] [--threads N] [--runs 15]
 *                           [--warmup 3]
 *
 * The input is filled with a fixed pseudo-random pattern in [-1, 1]. load_ms covers
 * fs_engine_load, plan_ms the plan built by the first run (included in no timed run),
 * median_ms and min_ms the timed runs after the warm-up runs. peak_rss_mb is the
 * process's maximum resident set (getrusage ru_maxrss) at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine/engine.h"

static double bench_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

static int bench_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_usage(void)
{
    fprintf(stderr,
            "usage: bench_engine MODEL [--input-shape 1x3x640x640] [--threads N] [--runs 15] "
            "[--warmup 3]\n"
            "  --input-shape  dims of input 0, 'x'-separated; required when the model leaves "
            "a dim free\n"
            "  --threads      kernel threads, 0 for all cores (default 1)\n"
            "  --runs         timed runs (default 15)\n"
            "  --warmup       untimed runs before them (default 3)\n");
}

/* Parses "1x3x640x640" into dims; returns the rank or -1. */
static int bench_parse_shape(const char *text, int64_t *dims)
{
    int rank = 0;
    const char *cursor = text;
    while (*cursor) {
        if (rank == FS_MAX_RANK)
            return -1;
        char *end;
        errno = 0;
        long long value = strtoll(cursor, &end, 10);
        if (end == cursor || errno || value < 1)
            return -1;
        dims[rank++] = value;
        if (*end == 'x')
            end++;
        else if (*end != '\0')
            return -1;
        cursor = end;
    }
    return rank;
}

static bool bench_parse_int(const char *text, int minimum, int *out)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (end == text || *end || errno || value < minimum || value > 1000000)
        return false;
    *out = (int)value;
    return true;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *shape_text = NULL;
    int threads = 1, runs = 15, warmup = 3;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool has_value = i + 1 < argc;
        bool ok = true;
        if (strcmp(arg, "--input-shape") == 0 && has_value)
            shape_text = argv[++i];
        else if (strcmp(arg, "--threads") == 0 && has_value)
            ok = bench_parse_int(argv[++i], 0, &threads);
        else if (strcmp(arg, "--runs") == 0 && has_value)
            ok = bench_parse_int(argv[++i], 1, &runs);
        else if (strcmp(arg, "--warmup") == 0 && has_value)
            ok = bench_parse_int(argv[++i], 0, &warmup);
        else if (arg[0] != '-' && !model)
            model = arg;
        else
            ok = false;
        if (!ok) {
            fprintf(stderr, "bench_engine: invalid argument '%s'\n", arg);
            bench_usage();
            return 2;
        }
    }
    if (!model) {
        bench_usage();
        return 2;
    }

    fs_engine_params params;
    fs_engine_default_params(&params);
    params.threads = threads;
    fs_error err;
    fs_error_clear(&err);
    fs_engine *engine = NULL;
    double start = bench_now_ms();
    if (fs_engine_load(model, &params, &engine, &err) != FACESIM_OK) {
        fprintf(stderr, "bench_engine: %s\n", err.message);
        return 1;
    }
    double load_ms = bench_now_ms() - start;

    if (fs_engine_input_count(engine) != 1) {
        fprintf(stderr, "bench_engine: %s has %d inputs; only single-input models are "
                "supported\n", model, fs_engine_input_count(engine));
        fs_engine_free(engine);
        return 1;
    }
    fs_tensor_info info;
    fs_engine_input_info(engine, 0, &info);
    fs_tensor_data input = {info.dtype, info.rank, {0}, NULL};
    if (shape_text) {
        input.rank = bench_parse_shape(shape_text, input.dims);
        if (input.rank < 0) {
            fprintf(stderr, "bench_engine: invalid --input-shape '%s', expected for example "
                    "1x3x640x640\n", shape_text);
            fs_engine_free(engine);
            return 2;
        }
    } else {
        for (int d = 0; d < info.rank; d++) {
            if (info.dims[d] < 0) {
                fprintf(stderr, "bench_engine: input '%s' has free dim %d; pass "
                        "--input-shape\n", info.name, d);
                fs_engine_free(engine);
                return 2;
            }
            input.dims[d] = info.dims[d];
        }
    }
    if (info.dtype != FS_DTYPE_FLOAT) {
        fprintf(stderr, "bench_engine: input '%s' is %s; only float32 inputs are supported\n",
                info.name, fs_dtype_name(info.dtype));
        fs_engine_free(engine);
        return 1;
    }
    size_t count = 1;
    for (int d = 0; d < input.rank; d++)
        count *= (size_t)input.dims[d];
    float *data = malloc(count * sizeof *data);
    if (!data) {
        fprintf(stderr, "bench_engine: out of memory for the input\n");
        fs_engine_free(engine);
        return 1;
    }
    uint32_t state = 1;
    for (size_t i = 0; i < count; i++) {
        state = state * 1664525u + 1013904223u;
        data[i] = (float)(state >> 8) / (float)(1u << 23) - 1.0f;
    }
    input.data = data;

    double *times = malloc((size_t)runs * sizeof *times);
    fs_tensor_data outputs[16];
    int n_outputs = fs_engine_output_count(engine);
    if (n_outputs > 16)
        n_outputs = 16;
    int status = FACESIM_OK;
    double plan_ms = 0;
    for (int i = 0; times && i < warmup + runs && status == FACESIM_OK; i++) {
        start = bench_now_ms();
        status = fs_engine_run(engine, &input, 1, outputs, n_outputs, &err);
        double elapsed = bench_now_ms() - start;
        if (i == 0)
            plan_ms = fs_engine_last_plan_ms(engine);
        if (i >= warmup)
            times[i - warmup] = elapsed;
    }
    if (!times || status != FACESIM_OK) {
        fprintf(stderr, "bench_engine: %s\n", times ? err.message : "out of memory");
        free(times);
        free(data);
        fs_engine_free(engine);
        return 1;
    }
    qsort(times, (size_t)runs, sizeof *times, bench_compare);
    double median = runs % 2 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;

    /* Free first, so a FACESIM_PROFILE report lands before the JSON line. */
    fs_engine_free(engine);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);

    /* The model path as a JSON string: escape quotes, backslashes and control bytes. */
    char escaped[8192];
    size_t length = 0;
    for (const char *c = model; *c && length + 7 < sizeof escaped; c++) {
        unsigned char byte = (unsigned char)*c;
        if (byte == '"' || byte == '\\')
            length += (size_t)snprintf(escaped + length, sizeof escaped - length, "\\%c", byte);
        else if (byte < 0x20)
            length += (size_t)snprintf(escaped + length, sizeof escaped - length, "\\u%04x",
                                       byte);
        else
            escaped[length++] = (char)byte;
    }
    escaped[length] = '\0';

    char shape[128] = "";
    size_t used = 0;
    for (int d = 0; d < input.rank && used < sizeof shape; d++)
        used += (size_t)snprintf(shape + used, sizeof shape - used, "%s%lld", d ? "x" : "",
                                 (long long)input.dims[d]);
    printf("{\"model\": \"%s\", \"threads\": %d, \"input_shape\": \"%s\", \"load_ms\": %.3f, "
           "\"plan_ms\": %.3f, \"median_ms\": %.3f, \"min_ms\": %.3f, \"peak_rss_mb\": %.1f}\n",
           escaped, threads, shape, load_ms, plan_ms, median, times[0],
           (double)usage.ru_maxrss / 1024.0);
    free(times);
    free(data);
    return 0;
}

/*
 * Whole models against onnxruntime: every case folder under $FACESIM_WORK_DIR/oracle.
 *
 * A case folder contains model.txt (one line: the model path), input_0.bin, ... and
 * onnxruntime's output_0.bin, ... (tests/oracle/make_inputs.py and run_ort.mjs write
 * them). Each .bin is an ASCII header line "f32 <rank> <d0> <d1> ...\n" followed by
 * little-endian float32 values in row-major order.
 *
 * Checks per output: the same dims, and max |facesim - onnxruntime| <= 1e-3 * max(1,
 * max |onnxruntime|). Embedding outputs, recognised by their shape [N, 512], must also
 * have a cosine similarity of at least 0.99999 per row. Exit code 77 (skipped) when the
 * oracle folder is missing or no case's model is present.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "engine/engine.h"

#define MODELS_MAX_CASES 256
#define MODELS_MAX_TENSORS 32
#define MODELS_TOLERANCE 1e-3
#define MODELS_MIN_COSINE 0.99999
#define MODELS_EMBEDDING_SIZE 512

typedef struct oracle_tensor {
    int rank;
    int64_t dims[FS_MAX_RANK];
    float *data;
    int64_t count;
} oracle_tensor;

typedef struct oracle_case {
    char name[256];
    char folder[4400];
    char model[4096];
} oracle_case;

/* Reads one .bin file. Returns false, with a message in reason, when it is missing or bad. */
static bool oracle_read(const char *path, oracle_tensor *tensor, char *reason, size_t reason_size)
{
    memset(tensor, 0, sizeof *tensor);
    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(reason, reason_size, "%s: %s", path, strerror(errno));
        return false;
    }
    char header[512];
    if (!fgets(header, sizeof header, file) || strncmp(header, "f32 ", 4) != 0) {
        snprintf(reason, reason_size, "%s: header is not \"f32 <rank> <dims...>\"", path);
        fclose(file);
        return false;
    }
    char *cursor = header + 4;
    long rank = strtol(cursor, &cursor, 10);
    if (rank < 0 || rank > FS_MAX_RANK) {
        snprintf(reason, reason_size, "%s: rank %ld is out of range", path, rank);
        fclose(file);
        return false;
    }
    tensor->rank = (int)rank;
    tensor->count = 1;
    for (int d = 0; d < tensor->rank; d++) {
        tensor->dims[d] = strtoll(cursor, &cursor, 10);
        if (tensor->dims[d] < 0 || tensor->dims[d] > (1 << 28)) {
            snprintf(reason, reason_size, "%s: dim %d is out of range", path, d);
            fclose(file);
            return false;
        }
        tensor->count *= tensor->dims[d];
    }
    tensor->data = malloc((size_t)(tensor->count ? tensor->count : 1) * sizeof(float));
    size_t got = tensor->data ? fread(tensor->data, sizeof(float), (size_t)tensor->count, file)
                              : 0;
    fclose(file);
    if (got != (size_t)tensor->count) {
        snprintf(reason, reason_size, "%s: expected %lld floats, read %zu", path,
                 (long long)tensor->count, got);
        free(tensor->data);
        tensor->data = NULL;
        return false;
    }
    return true;
}

static bool oracle_file_exists(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

/* Reads model.txt of the case; false when it is missing or the model file is absent. */
static bool oracle_case_model(oracle_case *entry)
{
    char path[4600];
    snprintf(path, sizeof path, "%s/model.txt", entry->folder);
    FILE *file = fopen(path, "r");
    if (!file)
        return false;
    bool ok = fgets(entry->model, sizeof entry->model, file) != NULL;
    fclose(file);
    if (!ok)
        return false;
    entry->model[strcspn(entry->model, "\r\n")] = '\0';
    return oracle_file_exists(entry->model);
}

static int oracle_compare_names(const void *a, const void *b)
{
    return strcmp(((const oracle_case *)a)->name, ((const oracle_case *)b)->name);
}

/* Compares one output; prints its errors and fails the test on a mismatch. */
static void check_output(const oracle_case *entry, int index, const fs_tensor_data *actual,
                         const oracle_tensor *expected, bool print)
{
    assert_int_equal(actual->dtype, FS_DTYPE_FLOAT);
    assert_int_equal(actual->rank, expected->rank);
    for (int d = 0; d < expected->rank; d++)
        assert_int_equal(actual->dims[d], expected->dims[d]);

    const float *values = actual->data;
    double largest = 0, max_error = 0;
    for (int64_t i = 0; i < expected->count; i++) {
        double reference = expected->data[i];
        if (fabs(reference) > largest)
            largest = fabs(reference);
        double error = fabs((double)values[i] - reference);
        if (error > max_error || isnan(values[i]))
            max_error = isnan(values[i]) ? INFINITY : error;
    }
    double limit = MODELS_TOLERANCE * (largest > 1 ? largest : 1);

    double min_cosine = 1;
    bool embedding = expected->rank == 2 && expected->dims[1] == MODELS_EMBEDDING_SIZE;
    if (embedding) {
        for (int64_t row = 0; row < expected->dims[0]; row++) {
            const float *a = values + row * MODELS_EMBEDDING_SIZE;
            const float *b = expected->data + row * MODELS_EMBEDDING_SIZE;
            double dot = 0, norm_a = 0, norm_b = 0;
            for (int k = 0; k < MODELS_EMBEDDING_SIZE; k++) {
                dot += (double)a[k] * b[k];
                norm_a += (double)a[k] * a[k];
                norm_b += (double)b[k] * b[k];
            }
            double cosine = dot / (sqrt(norm_a) * sqrt(norm_b) + 1e-30);
            if (cosine < min_cosine)
                min_cosine = cosine;
        }
    }

    if (print) {
        printf("  %-24s output %d: max error %.3g (limit %.3g)", entry->name, index, max_error,
               limit);
        if (embedding)
            printf(", min cosine %.7f", min_cosine);
        printf("\n");
    }
    if (!(max_error <= limit))
        fail_msg("%s output %d: max |facesim - onnxruntime| = %g exceeds %g", entry->name,
                 index, max_error, limit);
    if (embedding && !(min_cosine >= MODELS_MIN_COSINE))
        fail_msg("%s output %d: embedding cosine %.7f is below %.5f", entry->name, index,
                 min_cosine, MODELS_MIN_COSINE);
}

static void model_matches_onnxruntime(void **state)
{
    const oracle_case *entry = *state;
    fs_engine_params params;
    fs_engine_default_params(&params);
    fs_engine *engine = NULL;
    fs_error err;
    fs_error_clear(&err);
    if (fs_engine_load(entry->model, &params, &engine, &err) != FACESIM_OK)
        fail_msg("%s: load failed: %s", entry->name, err.message);

    int n_inputs = fs_engine_input_count(engine);
    int n_outputs = fs_engine_output_count(engine);
    assert_true(n_inputs <= MODELS_MAX_TENSORS);
    assert_true(n_outputs <= MODELS_MAX_TENSORS);
    oracle_tensor inputs[MODELS_MAX_TENSORS], expected[MODELS_MAX_TENSORS];
    fs_tensor_data input_data[MODELS_MAX_TENSORS], outputs[MODELS_MAX_TENSORS];
    char path[4600], reason[4800];

    for (int i = 0; i < n_inputs; i++) {
        snprintf(path, sizeof path, "%s/input_%d.bin", entry->folder, i);
        if (!oracle_read(path, &inputs[i], reason, sizeof reason))
            fail_msg("%s", reason);
        input_data[i].dtype = FS_DTYPE_FLOAT;
        input_data[i].rank = inputs[i].rank;
        memcpy(input_data[i].dims, inputs[i].dims, sizeof input_data[i].dims);
        input_data[i].data = inputs[i].data;
    }
    for (int k = 0; k < n_outputs; k++) {
        snprintf(path, sizeof path, "%s/output_%d.bin", entry->folder, k);
        if (!oracle_read(path, &expected[k], reason, sizeof reason))
            fail_msg("%s", reason);
    }

    int status = fs_engine_run(engine, input_data, n_inputs, outputs, n_outputs, &err);
    if (status != FACESIM_OK)
        fail_msg("%s: run failed: %s", entry->name, err.message);
    for (int k = 0; k < n_outputs; k++)
        check_output(entry, k, &outputs[k], &expected[k], true);

    /* A second run reuses the plan; its results must pass the same checks. */
    fs_tensor_data again[MODELS_MAX_TENSORS];
    status = fs_engine_run(engine, input_data, n_inputs, again, n_outputs, &err);
    if (status != FACESIM_OK)
        fail_msg("%s: second run failed: %s", entry->name, err.message);
    for (int k = 0; k < n_outputs; k++)
        check_output(entry, k, &again[k], &expected[k], false);

    for (int i = 0; i < n_inputs; i++)
        free(inputs[i].data);
    for (int k = 0; k < n_outputs; k++)
        free(expected[k].data);
    fs_engine_free(engine);
}

int main(void)
{
    const char *work = getenv("FACESIM_WORK_DIR");
    if (!work) {
        printf("test_engine_models: FACESIM_WORK_DIR is not set; skipped\n");
        return 77;
    }
    char root[4096];
    snprintf(root, sizeof root, "%s/oracle", work);
    DIR *dir = opendir(root);
    if (!dir) {
        printf("test_engine_models: no oracle data in %s; skipped. Write it with "
               "tests/oracle/make_inputs.py and tests/oracle/run_ort.mjs\n", root);
        return 77;
    }

    static oracle_case cases[MODELS_MAX_CASES];
    int n_cases = 0, missing = 0;
    struct dirent *item;
    while ((item = readdir(dir)) && n_cases < MODELS_MAX_CASES) {
        if (item->d_name[0] == '.')
            continue;
        oracle_case *entry = &cases[n_cases];
        snprintf(entry->name, sizeof entry->name, "%s", item->d_name);
        snprintf(entry->folder, sizeof entry->folder, "%s/%s", root, item->d_name);
        char output_path[4600];
        snprintf(output_path, sizeof output_path, "%s/output_0.bin", entry->folder);
        if (!oracle_case_model(entry) || !oracle_file_exists(output_path)) {
            printf("test_engine_models: case %s has no model or no onnxruntime output; "
                   "skipped\n", entry->name);
            missing++;
            continue;
        }
        n_cases++;
    }
    closedir(dir);
    if (n_cases == 0) {
        printf("test_engine_models: no complete case in %s (%d incomplete); skipped\n", root,
               missing);
        return 77;
    }
    qsort(cases, (size_t)n_cases, sizeof cases[0], oracle_compare_names);

    struct CMUnitTest *tests = calloc((size_t)n_cases, sizeof *tests);
    assert_non_null(tests);
    for (int i = 0; i < n_cases; i++) {
        tests[i].name = cases[i].name;
        tests[i].test_func = model_matches_onnxruntime;
        tests[i].initial_state = &cases[i];
    }
    int failed = _cmocka_run_group_tests("engine_models", tests, (size_t)n_cases, NULL, NULL);
    free(tests);
    return failed;
}

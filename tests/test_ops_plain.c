/*
 * The plain-C operators, each run through the fs_op interface on a one-node
 * graph (tests/support/op_harness.h). Expected values are either worked out by
 * hand in the test or computed by a straightforward reference loop written here,
 * on seeded random inputs. NHWC variants must give the same logical result as
 * plain runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/graph.h"
#include "engine/op.h"
#include "support/op_harness.h"

#define DIMS(...) ((const int64_t[]){ __VA_ARGS__ })

/* ---- helpers ---- */

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
}

/* Uniform in [low, high), from a 64-bit LCG (Knuth's MMIX constants). */
static float rng_uniform(float low, float high)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    double unit = (double)(rng_state >> 11) / (double)(1ull << 53);
    return low + (float)(unit * (high - low));
}

static float *random_floats(int64_t count, float low, float high)
{
    float *data = malloc((size_t)(count ? count : 1) * sizeof *data);
    assert_non_null(data);
    for (int64_t i = 0; i < count; i++)
        data[i] = rng_uniform(low, high);
    return data;
}

static int64_t count_of(int rank, const int64_t *dims)
{
    int64_t count = 1;
    for (int d = 0; d < rank; d++)
        count *= dims[d];
    return count;
}

/* Asserts |actual - expected| <= tolerance * max(1, |expected|) element by element. */
static void assert_floats_near(const float *actual, const float *expected, int64_t count,
                               float tolerance)
{
    for (int64_t i = 0; i < count; i++) {
        float scale = fabsf(expected[i]) > 1.0f ? fabsf(expected[i]) : 1.0f;
        if (isnan(expected[i]) && isnan(actual[i]))
            continue;
        if (!(fabsf(actual[i] - expected[i]) <= tolerance * scale))
            fail_msg("element %lld: got %.9g, expected %.9g", (long long)i, actual[i],
                     expected[i]);
    }
}

static void assert_shape(const fs_value *value, fs_dtype dtype, int rank, const int64_t *dims)
{
    assert_int_equal(value->dtype, dtype);
    assert_int_equal(value->rank, rank);
    for (int d = 0; d < rank; d++)
        if (value->dims[d] != dims[d])
            fail_msg("dimension %d: got %lld, expected %lld", d, (long long)value->dims[d],
                     (long long)dims[d]);
}

/* Runs g expecting failure with `code` and a message naming the test node and `word`. */
static void assert_run_fails(oh_graph *g, int n_outputs, int code, const char *word)
{
    fs_error err;
    int status = oh_run(g, n_outputs, &err);
    if (status != code)
        fail_msg("status %d, expected %d; message: %s", status, code, err.message);
    if (!strstr(err.message, "test_node"))
        fail_msg("message does not name the node: %s", err.message);
    if (word && !strstr(err.message, word))
        fail_msg("message does not mention '%s': %s", word, err.message);
}

static void run_ok(oh_graph *g, int n_outputs)
{
    fs_error err;
    int status = oh_run(g, n_outputs, &err);
    if (status != FACESIM_OK)
        fail_msg("run failed (%d): %s", status, err.message);
}

/* ---- unary elementwise ---- */

static float reference_unary(const char *op, float v)
{
    if (!strcmp(op, "Relu"))
        return v > 0 ? v : 0;
    if (!strcmp(op, "Sigmoid"))
        return (float)(1.0 / (1.0 + exp(-(double)v)));
    if (!strcmp(op, "Tanh"))
        return (float)tanh((double)v);
    if (!strcmp(op, "Exp"))
        return (float)exp((double)v);
    if (!strcmp(op, "Sqrt"))
        return (float)sqrt((double)v);
    if (!strcmp(op, "Neg"))
        return -v;
    if (!strcmp(op, "Floor"))
        return (float)floor((double)v);
    if (!strcmp(op, "Identity"))
        return v;
    fail_msg("no reference for %s", op);
    return 0;
}

static void unary_matches_reference(void **state)
{
    static const char *ops[] = { "Relu", "Sigmoid", "Tanh", "Exp", "Sqrt", "Neg", "Floor",
                                 "Identity" };
    const int64_t *dims = DIMS(2, 3, 5, 7);
    int64_t count = count_of(4, dims);
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        rng_seed(k + 1);
        bool positive = !strcmp(ops[k], "Sqrt");
        float *x = random_floats(count, positive ? 0.0f : -6.0f, 6.0f);
        float *expected = malloc((size_t)count * sizeof *expected);
        for (int64_t i = 0; i < count; i++)
            expected[i] = reference_unary(ops[k], x[i]);

        for (int nhwc = 0; nhwc < 2; nhwc++) {
            oh_graph *g = oh_create(ops[k], 13);
            oh_input(g, FS_DTYPE_FLOAT, 4, dims, x, false);
            if (nhwc)
                oh_input_layout(g, 0, FS_LAYOUT_NHWC);
            run_ok(g, 1);
            assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 4, dims);
            assert_true(oh_layouts_accepted(g));
            assert_int_equal(oh_output_layout(g, 0), nhwc ? FS_LAYOUT_NHWC : FS_LAYOUT_PLAIN);
            assert_floats_near(oh_output_data(g, 0), expected, count, 2e-6f);
            oh_free(g);
        }
        free(x);
        free(expected);
    }
}

static void unary_large_threaded(void **state)
{
    /* Above the parallel threshold, so the OpenMP path runs. */
    const int64_t *dims = DIMS(1, 16, 80, 80);
    int64_t count = count_of(4, dims);
    rng_seed(7);
    float *x = random_floats(count, -3.0f, 3.0f);
    oh_graph *g = oh_create("Sigmoid", 11);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims, x, false);
    oh_threads(g, 2);
    run_ok(g, 1);
    const float *y = oh_output_data(g, 0);
    for (int64_t i = 0; i < count; i++)
        if (fabsf(y[i] - reference_unary("Sigmoid", x[i])) > 1e-6f)
            fail_msg("element %lld differs", (long long)i);
    oh_free(g);
    free(x);
}

static void sigmoid_dense_and_extremes(void **state)
{
    /* Sigmoid has its own vectorised exp; check it densely against double precision. */
    const int64_t count = 400001;
    float *x = malloc((size_t)count * sizeof *x);
    for (int64_t i = 0; i < count; i++)
        x[i] = -100.0f + (float)i * 0.0005f;
    oh_graph *g = oh_create("Sigmoid", 13);
    oh_input(g, FS_DTYPE_FLOAT, 1, &count, x, false);
    run_ok(g, 1);
    const float *y = oh_output_data(g, 0);
    for (int64_t i = 0; i < count; i++) {
        double expected = 1.0 / (1.0 + exp(-(double)x[i]));
        if (fabs(y[i] - expected) > 2e-7)
            fail_msg("sigmoid(%.9g) = %.9g, expected %.9g", x[i], y[i], expected);
    }
    oh_free(g);
    free(x);

    const float extremes[4] = { -INFINITY, INFINITY, NAN, 0.0f };
    g = oh_create("Sigmoid", 13);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), extremes, false);
    run_ok(g, 1);
    y = oh_output_data(g, 0);
    assert_true(y[0] >= 0.0f && y[0] < 1e-38f);
    assert_true(y[1] == 1.0f);
    assert_true(isnan(y[2]));
    assert_true(y[3] == 0.5f);
    oh_free(g);
}

static void leaky_relu_alpha(void **state)
{
    const float x[4] = { -2.0f, -0.5f, 0.0f, 3.0f };
    oh_graph *g = oh_create("LeakyRelu", 13);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), x, false);
    oh_attr_float(g, "alpha", 0.2f);
    run_ok(g, 1);
    const float expected[4] = { -0.4f, -0.1f, 0.0f, 3.0f };
    assert_floats_near(oh_output_data(g, 0), expected, 4, 1e-7f);
    oh_free(g);

    g = oh_create("LeakyRelu", 13);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), x, false);
    run_ok(g, 1);
    const float default_alpha[4] = { -0.02f, -0.005f, 0.0f, 3.0f };
    assert_floats_near(oh_output_data(g, 0), default_alpha, 4, 1e-7f);
    oh_free(g);
}

static void clip_attribute_and_inputs(void **state)
{
    const float x[5] = { -3.0f, -1.0f, 0.5f, 2.0f, 9.0f };
    /* Opset 6 to 10: bounds are attributes. */
    oh_graph *g = oh_create("Clip", 9);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), x, false);
    oh_attr_float(g, "min", -1.5f);
    oh_attr_float(g, "max", 2.5f);
    run_ok(g, 1);
    const float expected[5] = { -1.5f, -1.0f, 0.5f, 2.0f, 2.5f };
    assert_floats_near(oh_output_data(g, 0), expected, 5, 0);
    oh_free(g);

    /* Opset 11 and later: optional inputs. Here min is omitted and max is 0. */
    float high = 0.0f;
    g = oh_create("Clip", 13);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), x, false);
    oh_input_omitted(g);
    oh_input(g, FS_DTYPE_FLOAT, 0, NULL, &high, true);
    run_ok(g, 1);
    const float capped[5] = { -3.0f, -1.0f, 0.0f, 0.0f, 0.0f };
    assert_floats_near(oh_output_data(g, 0), capped, 5, 0);
    oh_free(g);

    /* ReLU6 as PyTorch exports it, read in NHWC. */
    float low = 0.0f, six = 6.0f;
    const int64_t *dims = DIMS(1, 3, 2, 2);
    float image[12];
    for (int i = 0; i < 12; i++)
        image[i] = (float)(i - 4);
    g = oh_create("Clip", 11);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims, image, false);
    oh_input(g, FS_DTYPE_FLOAT, 0, NULL, &low, true);
    oh_input(g, FS_DTYPE_FLOAT, 0, NULL, &six, true);
    oh_input_layout(g, 0, FS_LAYOUT_NHWC);
    run_ok(g, 1);
    assert_int_equal(oh_output_layout(g, 0), FS_LAYOUT_NHWC);
    const float *y = oh_output_data(g, 0);
    for (int i = 0; i < 12; i++)
        assert_true(y[i] == fminf(fmaxf(image[i], 0.0f), 6.0f));
    oh_free(g);
}

static void clip_rejects_vector_bound(void **state)
{
    const float x[2] = { 1, 2 }, bounds[2] = { 0, 1 };
    oh_graph *g = oh_create("Clip", 12);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(2), x, false);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(2), bounds, true);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "scalar");
    oh_free(g);
}

static void neg_int64(void **state)
{
    const int64_t x[3] = { 5, -7, 0 };
    oh_graph *g = oh_create("Neg", 13);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(3), x, false);
    run_ok(g, 1);
    const int64_t *y = oh_output_data(g, 0);
    assert_int_equal(y[0], -5);
    assert_int_equal(y[1], 7);
    assert_int_equal(y[2], 0);
    oh_free(g);
}

static void unary_rejects_int_input(void **state)
{
    const int64_t x[2] = { 1, 2 };
    oh_graph *g = oh_create("Sigmoid", 13);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), x, false);
    assert_run_fails(g, 1, FACESIM_ERR_UNSUPPORTED, "int64");
    oh_free(g);
}

static void dropout_is_identity(void **state)
{
    const float x[3] = { 1.5f, -2.0f, 0.25f };
    oh_graph *g = oh_create("Dropout", 9);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(3), x, false);
    oh_attr_float(g, "ratio", 0.5f);
    run_ok(g, 2);
    assert_memory_equal(oh_output_data(g, 0), x, sizeof x);
    assert_shape(oh_output(g, 1), FS_DTYPE_BOOL, 1, DIMS(3));
    const uint8_t *mask = oh_output_data(g, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mask[i], 1);
    oh_free(g);

    const uint8_t training = 1;
    const float ratio = 0.5f;
    g = oh_create("Dropout", 13);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(3), x, false);
    oh_input(g, FS_DTYPE_FLOAT, 0, NULL, &ratio, true);
    oh_input(g, FS_DTYPE_BOOL, 0, NULL, &training, true);
    assert_run_fails(g, 1, FACESIM_ERR_UNSUPPORTED, "training_mode");
    oh_free(g);
}

/* ---- binary elementwise ---- */

static float reference_binary(const char *op, float a, float b)
{
    if (!strcmp(op, "Add"))
        return a + b;
    if (!strcmp(op, "Sub"))
        return a - b;
    if (!strcmp(op, "Mul"))
        return a * b;
    if (!strcmp(op, "Div"))
        return a / b;
    if (!strcmp(op, "Pow"))
        return (float)pow((double)a, (double)b);
    if (!strcmp(op, "PRelu"))
        return a > 0 ? a : a * b;
    fail_msg("no reference for %s", op);
    return 0;
}

/* Index into a tensor of rank `rank` broadcast to the output index `out_index`. */
static int64_t broadcast_index(int out_rank, const int64_t *out_dims, int64_t out_index,
                               int rank, const int64_t *dims)
{
    int64_t index = 0, stride = 1;
    for (int d = out_rank - 1; d >= 0; d--) {
        int64_t coordinate = out_index % out_dims[d];
        out_index /= out_dims[d];
        int k = d - (out_rank - rank);
        if (k >= 0) {
            if (dims[k] != 1)
                index += coordinate * stride;
            stride *= dims[k];
        }
    }
    return index;
}

typedef struct broadcast_case {
    int rank_a;
    int64_t dims_a[4];
    int rank_b;
    int64_t dims_b[4];
    int rank_out;
    int64_t dims_out[4];
} broadcast_case;

static void binary_broadcast_matches_reference(void **state)
{
    static const char *ops[] = { "Add", "Sub", "Mul", "Div", "Pow" };
    static const broadcast_case cases[] = {
        { 4, { 2, 3, 4, 5 }, 4, { 2, 3, 4, 5 }, 4, { 2, 3, 4, 5 } },
        { 4, { 2, 3, 4, 5 }, 0, { 0 }, 4, { 2, 3, 4, 5 } },
        { 0, { 0 }, 2, { 3, 4 }, 2, { 3, 4 } },
        { 4, { 2, 3, 4, 5 }, 3, { 3, 1, 1 }, 4, { 2, 3, 4, 5 } },
        { 3, { 3, 1, 5 }, 2, { 4, 1 }, 3, { 3, 4, 5 } },
        { 2, { 1, 6 }, 2, { 5, 1 }, 2, { 5, 6 } },
        { 1, { 5 }, 4, { 2, 3, 4, 1 }, 4, { 2, 3, 4, 5 } },
    };
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const broadcast_case *bc = &cases[c];
            rng_seed(100 * o + c);
            int64_t count_a = count_of(bc->rank_a, bc->dims_a);
            int64_t count_b = count_of(bc->rank_b, bc->dims_b);
            int64_t count = count_of(bc->rank_out, bc->dims_out);
            bool is_pow = !strcmp(ops[o], "Pow");
            float *a = random_floats(count_a, is_pow ? 0.1f : -4.0f, 4.0f);
            float *b = random_floats(count_b, is_pow ? -2.0f : 0.5f, is_pow ? 2.0f : 4.0f);
            float *expected = malloc((size_t)count * sizeof *expected);
            for (int64_t i = 0; i < count; i++) {
                float x = a[broadcast_index(bc->rank_out, bc->dims_out, i, bc->rank_a,
                                            bc->dims_a)];
                float z = b[broadcast_index(bc->rank_out, bc->dims_out, i, bc->rank_b,
                                            bc->dims_b)];
                expected[i] = reference_binary(ops[o], x, z);
            }
            /* The second input as a constant, then as a runtime tensor. */
            for (int constant = 0; constant < 2; constant++) {
                oh_graph *g = oh_create(ops[o], 13);
                oh_input(g, FS_DTYPE_FLOAT, bc->rank_a, bc->dims_a, a, false);
                oh_input(g, FS_DTYPE_FLOAT, bc->rank_b, bc->dims_b, b, constant);
                run_ok(g, 1);
                assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, bc->rank_out, bc->dims_out);
                assert_floats_near(oh_output_data(g, 0), expected, count, 2e-6f);
                oh_free(g);
            }
            free(a);
            free(b);
            free(expected);
        }
    }
}

static void binary_nhwc_matches_plain(void **state)
{
    static const char *ops[] = { "Add", "Mul", "Sub", "Div" };
    const int64_t *dims = DIMS(2, 6, 5, 7);
    int64_t count = count_of(4, dims);
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        rng_seed(300 + o);
        float *a = random_floats(count, -2.0f, 2.0f);
        float *b = random_floats(count, 0.5f, 2.0f);
        float *channel = random_floats(6, 0.5f, 2.0f);
        float scalar = 1.75f;

        /* Both NHWC with equal shapes. */
        oh_graph *plain = oh_create(ops[o], 13);
        oh_input(plain, FS_DTYPE_FLOAT, 4, dims, a, false);
        oh_input(plain, FS_DTYPE_FLOAT, 4, dims, b, false);
        run_ok(plain, 1);
        oh_graph *g = oh_create(ops[o], 13);
        oh_input(g, FS_DTYPE_FLOAT, 4, dims, a, false);
        oh_input(g, FS_DTYPE_FLOAT, 4, dims, b, false);
        oh_input_layout(g, 0, FS_LAYOUT_NHWC);
        oh_input_layout(g, 1, FS_LAYOUT_NHWC);
        run_ok(g, 1);
        assert_true(oh_layouts_accepted(g));
        assert_int_equal(oh_output_layout(g, 0), FS_LAYOUT_NHWC);
        assert_floats_near(oh_output_data(g, 0), oh_output_data(plain, 0), count, 0);
        oh_free(g);
        oh_free(plain);

        /* NHWC with a scalar and with a per-channel [C, 1, 1] constant. */
        for (int kind = 0; kind < 2; kind++) {
            int rank_b = kind == 0 ? 0 : 3;
            const int64_t *dims_b = DIMS(6, 1, 1);
            const float *data_b = kind == 0 ? &scalar : channel;
            plain = oh_create(ops[o], 13);
            oh_input(plain, FS_DTYPE_FLOAT, 4, dims, a, false);
            oh_input(plain, FS_DTYPE_FLOAT, rank_b, dims_b, data_b, true);
            run_ok(plain, 1);
            g = oh_create(ops[o], 13);
            oh_input(g, FS_DTYPE_FLOAT, 4, dims, a, false);
            oh_input(g, FS_DTYPE_FLOAT, rank_b, dims_b, data_b, true);
            oh_input_layout(g, 0, FS_LAYOUT_NHWC);
            run_ok(g, 1);
            assert_true(oh_layouts_accepted(g));
            assert_int_equal(oh_output_layout(g, 0), FS_LAYOUT_NHWC);
            assert_floats_near(oh_output_data(g, 0), oh_output_data(plain, 0), count, 0);
            oh_free(g);
            oh_free(plain);
        }

        /* NHWC with a plain [1, C, H, W] runtime tensor is converted by the executor. */
        g = oh_create(ops[o], 13);
        oh_input(g, FS_DTYPE_FLOAT, 4, dims, a, false);
        oh_input(g, FS_DTYPE_FLOAT, 4, dims, b, false);
        oh_input_layout(g, 0, FS_LAYOUT_NHWC);
        run_ok(g, 1);
        assert_false(oh_layouts_accepted(g));
        oh_free(g);

        free(a);
        free(b);
        free(channel);
    }
}

static void binary_large_threaded(void **state)
{
    /* One long row (equal shapes merge to one dim), split into chunks across threads. */
    const int64_t *dims = DIMS(1, 16, 64, 96);
    int64_t count = count_of(4, dims);
    rng_seed(11);
    float *a = random_floats(count, -1.0f, 1.0f);
    float *b = random_floats(count, -1.0f, 1.0f);
    for (int nhwc = 0; nhwc < 2; nhwc++) {
        oh_graph *g = oh_create("Add", 11);
        oh_input(g, FS_DTYPE_FLOAT, 4, dims, a, false);
        oh_input(g, FS_DTYPE_FLOAT, 4, dims, b, false);
        if (nhwc) {
            oh_input_layout(g, 0, FS_LAYOUT_NHWC);
            oh_input_layout(g, 1, FS_LAYOUT_NHWC);
        }
        oh_threads(g, 2);
        run_ok(g, 1);
        const float *y = oh_output_data(g, 0);
        for (int64_t i = 0; i < count; i++)
            if (y[i] != a[i] + b[i])
                fail_msg("element %lld differs", (long long)i);
        oh_free(g);
    }
    free(a);
    free(b);
}

static void binary_int64_arithmetic(void **state)
{
    const int64_t a[4] = { 7, -7, 9, 2 };
    const int64_t b[4] = { 2, 2, 0, 10 };
    const char *ops[] = { "Add", "Sub", "Mul", "Div", "Pow" };
    const int64_t expected[5][4] = {
        { 9, -5, 9, 12 },
        { 5, -9, 9, -8 },
        { 14, -14, 0, 20 },
        { 3, -3, 0, 0 }, /* truncating division; division by zero gives 0 */
        { 49, 49, 1, 1024 },
    };
    for (int o = 0; o < 5; o++) {
        oh_graph *g = oh_create(ops[o], 13);
        oh_input(g, FS_DTYPE_INT64, 1, DIMS(4), a, false);
        oh_input(g, FS_DTYPE_INT64, 1, DIMS(4), b, true);
        run_ok(g, 1);
        assert_shape(oh_output(g, 0), FS_DTYPE_INT64, 1, DIMS(4));
        assert_memory_equal(oh_output_data(g, 0), expected[o], sizeof expected[o]);
        oh_free(g);
    }
    /* int64 scalar broadcast, as in shape arithmetic (dim * 2). */
    const int64_t two = 2;
    oh_graph *g = oh_create("Mul", 11);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(4), a, true);
    oh_input(g, FS_DTYPE_INT64, 0, NULL, &two, true);
    run_ok(g, 1);
    const int64_t *y = oh_output_data(g, 0);
    assert_int_equal(y[0], 14);
    assert_int_equal(y[3], 4);
    oh_free(g);
}

static void binary_rejects_bad_shapes(void **state)
{
    float a[6] = { 0 }, b[4] = { 0 };
    oh_graph *g = oh_create("Add", 13);
    oh_input(g, FS_DTYPE_FLOAT, 2, DIMS(2, 3), a, false);
    oh_input(g, FS_DTYPE_FLOAT, 2, DIMS(2, 2), b, false);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "broadcast");
    oh_free(g);

    const int64_t ints[6] = { 0 };
    g = oh_create("Mul", 13);
    oh_input(g, FS_DTYPE_FLOAT, 2, DIMS(2, 3), a, false);
    oh_input(g, FS_DTYPE_INT64, 2, DIMS(2, 3), ints, false);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "types");
    oh_free(g);
}

static void prelu_channel_slope(void **state)
{
    const int64_t *dims = DIMS(2, 4, 3, 5);
    int64_t count = count_of(4, dims);
    rng_seed(21);
    float *x = random_floats(count, -2.0f, 2.0f);
    float *slope = random_floats(4, 0.0f, 0.5f);
    float *expected = malloc((size_t)count * sizeof *expected);
    for (int64_t i = 0; i < count; i++) {
        int64_t channel = (i / 15) % 4;
        expected[i] = x[i] > 0 ? x[i] : x[i] * slope[channel];
    }
    for (int nhwc = 0; nhwc < 2; nhwc++) {
        oh_graph *g = oh_create("PRelu", 9);
        oh_input(g, FS_DTYPE_FLOAT, 4, dims, x, false);
        oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(4, 1, 1), slope, true);
        if (nhwc)
            oh_input_layout(g, 0, FS_LAYOUT_NHWC);
        run_ok(g, 1);
        assert_true(oh_layouts_accepted(g));
        assert_int_equal(oh_output_layout(g, 0), nhwc ? FS_LAYOUT_NHWC : FS_LAYOUT_PLAIN);
        assert_floats_near(oh_output_data(g, 0), expected, count, 0);
        oh_free(g);
    }

    /* A [C] slope broadcasts to the last dim (W) by ONNX rules; here W = 5 != C. */
    oh_graph *g = oh_create("PRelu", 9);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims, x, false);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), slope, true);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "broadcast");
    oh_free(g);

    /* A slope larger than X must not broadcast X. */
    g = oh_create("PRelu", 9);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(1), x, false);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), slope, true);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "slope");
    oh_free(g);

    free(x);
    free(slope);
    free(expected);
}

/* ---- Softmax ---- */

static void softmax_reference(const float *x, float *y, int64_t outer, int64_t length,
                              int64_t inner)
{
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            double maximum = -INFINITY, sum = 0;
            for (int64_t k = 0; k < length; k++)
                maximum = fmax(maximum, x[(o * length + k) * inner + i]);
            for (int64_t k = 0; k < length; k++)
                sum += exp(x[(o * length + k) * inner + i] - maximum);
            for (int64_t k = 0; k < length; k++)
                y[(o * length + k) * inner + i] =
                    (float)(exp(x[(o * length + k) * inner + i] - maximum) / sum);
        }
    }
}

static void softmax_axis_by_opset(void **state)
{
    const int64_t *dims = DIMS(2, 3, 4);
    rng_seed(31);
    float *x = random_floats(24, -5.0f, 5.0f);
    float expected[24];

    /* Opset 13, axis 1: per-axis over the 3 entries. */
    softmax_reference(x, expected, 2, 3, 4);
    oh_graph *g = oh_create("Softmax", 13);
    oh_input(g, FS_DTYPE_FLOAT, 3, dims, x, false);
    oh_attr_int(g, "axis", 1);
    run_ok(g, 1);
    assert_floats_near(oh_output_data(g, 0), expected, 24, 1e-6f);
    oh_free(g);

    /* Opset 11, axis 1: flattened to [2, 12], normalised over 12 entries. */
    softmax_reference(x, expected, 2, 12, 1);
    g = oh_create("Softmax", 11);
    oh_input(g, FS_DTYPE_FLOAT, 3, dims, x, false);
    oh_attr_int(g, "axis", 1);
    run_ok(g, 1);
    assert_floats_near(oh_output_data(g, 0), expected, 24, 1e-6f);
    oh_free(g);

    /* Defaults: opset 9 axis 1 (flatten), opset 13 axis -1. */
    g = oh_create("Softmax", 9);
    oh_input(g, FS_DTYPE_FLOAT, 3, dims, x, false);
    run_ok(g, 1);
    assert_floats_near(oh_output_data(g, 0), expected, 24, 1e-6f);
    oh_free(g);

    softmax_reference(x, expected, 6, 4, 1);
    g = oh_create("Softmax", 13);
    oh_input(g, FS_DTYPE_FLOAT, 3, dims, x, false);
    run_ok(g, 1);
    assert_floats_near(oh_output_data(g, 0), expected, 24, 1e-6f);
    oh_free(g);

    /* Negative axis in opset 11 counts from the end: -1 is axis 2. */
    g = oh_create("Softmax", 11);
    oh_input(g, FS_DTYPE_FLOAT, 3, dims, x, false);
    oh_attr_int(g, "axis", -1);
    run_ok(g, 1);
    assert_floats_near(oh_output_data(g, 0), expected, 24, 1e-6f);
    oh_free(g);

    /* Large inputs must not overflow. */
    const float big[3] = { 1000.0f, 1001.0f, 1002.0f };
    g = oh_create("Softmax", 13);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(3), big, false);
    run_ok(g, 1);
    const float *y = oh_output_data(g, 0);
    assert_true(fabsf(y[2] - 0.66524096f) < 1e-6f);
    oh_free(g);

    g = oh_create("Softmax", 13);
    oh_input(g, FS_DTYPE_FLOAT, 3, dims, x, false);
    oh_attr_int(g, "axis", 3);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "axis");
    oh_free(g);
    free(x);
}

/* ---- BatchNormalization ---- */

static void batch_norm_matches_reference(void **state)
{
    const int64_t *dims = DIMS(2, 5, 3, 4);
    int64_t count = count_of(4, dims);
    rng_seed(41);
    float *x = random_floats(count, -3.0f, 3.0f);
    float *scale = random_floats(5, 0.5f, 2.0f);
    float *bias = random_floats(5, -1.0f, 1.0f);
    float *mean = random_floats(5, -0.5f, 0.5f);
    float *variance = random_floats(5, 0.1f, 2.0f);
    float epsilon = 1e-3f;
    float *expected = malloc((size_t)count * sizeof *expected);
    for (int64_t i = 0; i < count; i++) {
        int64_t c = (i / 12) % 5;
        expected[i] = (float)((x[i] - mean[c]) / sqrt((double)variance[c] + epsilon) * scale[c] +
                              bias[c]);
    }
    for (int nhwc = 0; nhwc < 2; nhwc++) {
        oh_graph *g = oh_create("BatchNormalization", 9);
        oh_input(g, FS_DTYPE_FLOAT, 4, dims, x, false);
        oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), scale, true);
        oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), bias, true);
        oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), mean, true);
        oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), variance, true);
        oh_attr_float(g, "epsilon", epsilon);
        oh_attr_float(g, "momentum", 0.9f);
        if (nhwc)
            oh_input_layout(g, 0, FS_LAYOUT_NHWC);
        run_ok(g, 1);
        assert_true(oh_layouts_accepted(g));
        assert_int_equal(oh_output_layout(g, 0), nhwc ? FS_LAYOUT_NHWC : FS_LAYOUT_PLAIN);
        assert_floats_near(oh_output_data(g, 0), expected, count, 1e-5f);
        oh_free(g);
    }

    /* Rank 2, as after Flatten + Gemm: [N, C]. */
    oh_graph *g = oh_create("BatchNormalization", 9);
    oh_input(g, FS_DTYPE_FLOAT, 2, DIMS(2, 5), x, false);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), scale, true);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), bias, true);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), mean, true);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), variance, true);
    run_ok(g, 1);
    const float *y = oh_output_data(g, 0);
    for (int i = 0; i < 10; i++) {
        int c = i % 5;
        float want = (float)((x[i] - mean[c]) / sqrt((double)variance[c] + 1e-5) * scale[c] +
                             bias[c]);
        assert_true(fabsf(y[i] - want) < 1e-5f);
    }
    oh_free(g);

    /* Parameters of the wrong length name the input. */
    g = oh_create("BatchNormalization", 9);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims, x, false);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), scale, true);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), bias, true);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), mean, true);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), variance, true);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "input B");
    oh_free(g);

    free(x);
    free(scale);
    free(bias);
    free(mean);
    free(variance);
    free(expected);
}

/* ---- Resize and Upsample ---- */

typedef enum { REF_HALF_PIXEL, REF_ASYMMETRIC, REF_ALIGN_CORNERS, REF_PYTORCH } ref_transform;

static double reference_coordinate(ref_transform transform, int64_t o, int64_t in, int64_t out,
                                   double scale)
{
    switch (transform) {
    case REF_ASYMMETRIC: return o / scale;
    case REF_ALIGN_CORNERS: return out == 1 ? 0 : o * (double)(in - 1) / (double)(out - 1);
    case REF_PYTORCH: return out > 1 ? (o + 0.5) / scale - 0.5 : 0;
    default: return (o + 0.5) / scale - 0.5;
    }
}

/* Nearest source index with nearest_mode "floor", "round_prefer_floor" or "ceil". */
static int64_t reference_nearest(const char *rounding, double x, int64_t in)
{
    int64_t i;
    if (!strcmp(rounding, "floor"))
        i = (int64_t)floor(x);
    else if (!strcmp(rounding, "ceil"))
        i = (int64_t)ceil(x);
    else
        i = x - floor(x) == 0.5 ? (int64_t)floor(x) : (int64_t)llround(x);
    if (i < 0)
        return 0;
    return i >= in ? in - 1 : i;
}

/* Resizes [planes, in_h, in_w] to [planes, out_h, out_w]; rounding NULL means linear. */
static void reference_resize(const float *x, float *y, int64_t planes, int64_t in_h,
                             int64_t in_w, int64_t out_h, int64_t out_w, double scale_h,
                             double scale_w, ref_transform transform, const char *rounding)
{
    for (int64_t p = 0; p < planes; p++) {
        for (int64_t oy = 0; oy < out_h; oy++) {
            for (int64_t ox = 0; ox < out_w; ox++) {
                double sy = reference_coordinate(transform, oy, in_h, out_h, scale_h);
                double sx = reference_coordinate(transform, ox, in_w, out_w, scale_w);
                const float *plane = x + p * in_h * in_w;
                float *out = &y[(p * out_h + oy) * out_w + ox];
                if (rounding) {
                    *out = plane[reference_nearest(rounding, sy, in_h) * in_w +
                                 reference_nearest(rounding, sx, in_w)];
                    continue;
                }
                sy = fmin(fmax(sy, 0), in_h - 1);
                sx = fmin(fmax(sx, 0), in_w - 1);
                int64_t y0 = (int64_t)floor(sy), x0 = (int64_t)floor(sx);
                int64_t y1 = y0 + 1 < in_h ? y0 + 1 : in_h - 1;
                int64_t x1 = x0 + 1 < in_w ? x0 + 1 : in_w - 1;
                double fy = sy - y0, fx = sx - x0;
                double top = plane[y0 * in_w + x0] * (1 - fx) + plane[y0 * in_w + x1] * fx;
                double bottom = plane[y1 * in_w + x0] * (1 - fx) + plane[y1 * in_w + x1] * fx;
                *out = (float)(top * (1 - fy) + bottom * fy);
            }
        }
    }
}

typedef struct resize_case {
    const char *mode;
    const char *transform_name;
    ref_transform transform;
    const char *rounding;    /* nearest_mode; NULL for linear */
    int64_t out_h, out_w;    /* from a 1 x 3 x 4 x 6 input */
    bool use_sizes;
} resize_case;

static void resize_matches_reference(void **state)
{
    static const resize_case cases[] = {
        { "nearest", "asymmetric", REF_ASYMMETRIC, "floor", 8, 12, false },
        { "nearest", "half_pixel", REF_HALF_PIXEL, "round_prefer_floor", 8, 12, false },
        { "nearest", "asymmetric", REF_ASYMMETRIC, "floor", 2, 3, false },
        { "nearest", "half_pixel", REF_HALF_PIXEL, "round_prefer_floor", 6, 9, true },
        { "nearest", "align_corners", REF_ALIGN_CORNERS, "round_prefer_floor", 7, 11, true },
        { "nearest", "asymmetric", REF_ASYMMETRIC, "ceil", 6, 9, true },
        { "linear", "pytorch_half_pixel", REF_PYTORCH, NULL, 8, 12, false },
        { "linear", "half_pixel", REF_HALF_PIXEL, NULL, 6, 9, true },
        { "linear", "align_corners", REF_ALIGN_CORNERS, NULL, 7, 11, true },
        { "linear", "asymmetric", REF_ASYMMETRIC, NULL, 2, 3, false },
        { "linear", "pytorch_half_pixel", REF_PYTORCH, NULL, 1, 3, true },
    };
    const int64_t *in_dims = DIMS(1, 3, 4, 6);
    int64_t in_count = count_of(4, in_dims);
    rng_seed(51);
    float *x = random_floats(in_count, -1.0f, 1.0f);
    const float empty = 0;

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const resize_case *rc = &cases[k];
        int64_t out_dims[4] = { 1, 3, rc->out_h, rc->out_w };
        float scales[4] = { 1, 1, (float)rc->out_h / 4, (float)rc->out_w / 6 };
        int64_t count = count_of(4, out_dims);
        float *expected = malloc((size_t)count * sizeof *expected);
        reference_resize(x, expected, 3, 4, 6, rc->out_h, rc->out_w, scales[2], scales[3],
                         rc->transform, rc->rounding);
        for (int nhwc = 0; nhwc < 2; nhwc++) {
            oh_graph *g = oh_create("Resize", 13);
            oh_input(g, FS_DTYPE_FLOAT, 4, in_dims, x, false);
            oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(0), &empty, true);
            if (rc->use_sizes) {
                oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(0), &empty, true);
                oh_input(g, FS_DTYPE_INT64, 1, DIMS(4), out_dims, true);
            } else {
                oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), scales, true);
            }
            oh_attr_string(g, "mode", rc->mode);
            oh_attr_string(g, "coordinate_transformation_mode", rc->transform_name);
            if (rc->rounding)
                oh_attr_string(g, "nearest_mode", rc->rounding);
            if (nhwc)
                oh_input_layout(g, 0, FS_LAYOUT_NHWC);
            fs_error err;
            int status = oh_run(g, 1, &err);
            if (status != FACESIM_OK)
                fail_msg("case %zu: %s", k, err.message);
            assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 4, out_dims);
            assert_true(oh_layouts_accepted(g));
            assert_int_equal(oh_output_layout(g, 0), nhwc ? FS_LAYOUT_NHWC : FS_LAYOUT_PLAIN);
            assert_floats_near(oh_output_data(g, 0), expected, count, 1e-5f);
            oh_free(g);
        }
        free(expected);
    }
    free(x);
}

static void resize_nearest_by_hand(void **state)
{
    /* 2x nearest with asymmetric/floor, as SCRFD's FPN uses. */
    const float x[4] = { 1, 2, 3, 4 };
    const float scales[4] = { 1, 1, 2, 2 };
    const float empty = 0;
    const float expected[16] = { 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4 };
    oh_graph *g = oh_create("Resize", 11);
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 1, 2, 2), x, false);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(0), &empty, true);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), scales, true);
    oh_attr_string(g, "mode", "nearest");
    oh_attr_string(g, "coordinate_transformation_mode", "asymmetric");
    oh_attr_string(g, "nearest_mode", "floor");
    run_ok(g, 1);
    assert_floats_near(oh_output_data(g, 0), expected, 16, 0);
    oh_free(g);

    /* Upsample opset 9 (scales input) and Resize opset 10 give the same. */
    const char *ops[2] = { "Upsample", "Resize" };
    for (int k = 0; k < 2; k++) {
        g = oh_create(ops[k], k == 0 ? 9 : 10);
        oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 1, 2, 2), x, false);
        oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), scales, true);
        oh_attr_string(g, "mode", "nearest");
        run_ok(g, 1);
        assert_floats_near(oh_output_data(g, 0), expected, 16, 0);
        oh_free(g);
    }

    /* The same without prepare, so run gets no scratch for its index tables. */
    g = oh_create("Upsample", 9);
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 1, 2, 2), x, true);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), scales, true);
    oh_skip_prepare(g);
    run_ok(g, 1);
    assert_floats_near(oh_output_data(g, 0), expected, 16, 0);
    oh_free(g);

    /* Upsample opset 9 linear: asymmetric, x = o / 2, clamped at the end. */
    const float row[3] = { 0, 4, 8 };
    const float row_scales[2] = { 1, 2 };
    g = oh_create("Upsample", 9);
    oh_input(g, FS_DTYPE_FLOAT, 2, DIMS(1, 3), row, false);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(2), row_scales, true);
    oh_attr_string(g, "mode", "linear");
    run_ok(g, 1);
    const float linear[6] = { 0, 2, 4, 6, 8, 8 };
    assert_floats_near(oh_output_data(g, 0), linear, 6, 1e-6f);
    oh_free(g);
}

static void resize_rejects_unsupported(void **state)
{
    const float x[4] = { 1, 2, 3, 4 };
    const float scales[4] = { 1, 1, 2, 2 };
    const float empty = 0;
    oh_graph *g = oh_create("Resize", 13);
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 1, 2, 2), x, false);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(0), &empty, true);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), scales, true);
    oh_attr_string(g, "mode", "cubic");
    assert_run_fails(g, 1, FACESIM_ERR_UNSUPPORTED, "'mode'");
    oh_free(g);

    g = oh_create("Resize", 13);
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 1, 2, 2), x, false);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(0), &empty, true);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), scales, true);
    oh_attr_string(g, "coordinate_transformation_mode", "tf_crop_and_resize");
    assert_run_fails(g, 1, FACESIM_ERR_UNSUPPORTED, "coordinate_transformation_mode");
    oh_free(g);

    /* Scaling the channel dim is outside what facesim implements. */
    const float channel_scales[4] = { 1, 2, 1, 1 };
    g = oh_create("Resize", 13);
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 1, 2, 2), x, false);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(0), &empty, true);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), channel_scales, true);
    assert_run_fails(g, 1, FACESIM_ERR_UNSUPPORTED, "scales");
    oh_free(g);

    /* Scales computed at run time cannot give a planned shape. */
    g = oh_create("Resize", 13);
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 1, 2, 2), x, false);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(0), &empty, true);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), scales, false);
    assert_run_fails(g, 1, FACESIM_ERR_UNSUPPORTED, "constant");
    oh_free(g);
}

/* ---- Concat ---- */

static void concat_axes_and_layouts(void **state)
{
    rng_seed(61);
    float *a = random_floats(2 * 3 * 4 * 5, -1, 1);
    float *b = random_floats(2 * 2 * 4 * 5, -1, 1);
    const int64_t *dims_a = DIMS(2, 3, 4, 5), *dims_b = DIMS(2, 2, 4, 5);

    /* Axis 1 given as -3; check against index arithmetic. */
    for (int nhwc = 0; nhwc < 2; nhwc++) {
        oh_graph *g = oh_create("Concat", 11);
        oh_input(g, FS_DTYPE_FLOAT, 4, dims_a, a, false);
        oh_input(g, FS_DTYPE_FLOAT, 4, dims_b, b, false);
        oh_attr_int(g, "axis", -3);
        if (nhwc) {
            oh_input_layout(g, 0, FS_LAYOUT_NHWC);
            oh_input_layout(g, 1, FS_LAYOUT_NHWC);
        }
        run_ok(g, 1);
        assert_true(oh_layouts_accepted(g));
        assert_int_equal(oh_output_layout(g, 0), nhwc ? FS_LAYOUT_NHWC : FS_LAYOUT_PLAIN);
        assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 4, DIMS(2, 5, 4, 5));
        const float *y = oh_output_data(g, 0);
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 5; c++)
                for (int i = 0; i < 20; i++) {
                    float want = c < 3 ? a[(n * 3 + c) * 20 + i] : b[(n * 2 + c - 3) * 20 + i];
                    assert_true(y[(n * 5 + c) * 20 + i] == want);
                }
        oh_free(g);
    }

    /* Mixed layouts are converted to plain by the executor. */
    oh_graph *g = oh_create("Concat", 11);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims_a, a, false);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims_b, b, false);
    oh_attr_int(g, "axis", 1);
    oh_input_layout(g, 0, FS_LAYOUT_NHWC);
    run_ok(g, 1);
    assert_false(oh_layouts_accepted(g));
    oh_free(g);

    /* Axis 3 of NHWC tensors (W) gives the same as plain. */
    oh_graph *plain = oh_create("Concat", 11);
    oh_input(plain, FS_DTYPE_FLOAT, 4, dims_a, a, false);
    oh_input(plain, FS_DTYPE_FLOAT, 4, DIMS(2, 3, 4, 5), a, false);
    oh_attr_int(plain, "axis", 3);
    run_ok(plain, 1);
    g = oh_create("Concat", 11);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims_a, a, false);
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(2, 3, 4, 5), a, false);
    oh_attr_int(g, "axis", 3);
    oh_input_layout(g, 0, FS_LAYOUT_NHWC);
    oh_input_layout(g, 1, FS_LAYOUT_NHWC);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 4, DIMS(2, 3, 4, 10));
    assert_floats_near(oh_output_data(g, 0), oh_output_data(plain, 0), 240, 0);
    oh_free(g);
    oh_free(plain);

    /* int64 shape pieces, as in a Shape -> Concat -> Reshape subgraph. */
    const int64_t first[2] = { 1, -1 }, second[1] = { 4 };
    g = oh_create("Concat", 11);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), first, true);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(1), second, true);
    oh_attr_int(g, "axis", 0);
    run_ok(g, 1);
    const int64_t joined[3] = { 1, -1, 4 };
    assert_memory_equal(oh_output_data(g, 0), joined, sizeof joined);
    oh_free(g);

    /* Errors: missing axis, mismatched dims. */
    g = oh_create("Concat", 11);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims_a, a, false);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "axis");
    oh_free(g);
    g = oh_create("Concat", 11);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims_a, a, false);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims_b, b, false);
    oh_attr_int(g, "axis", 2);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "axis 1");
    oh_free(g);
    free(a);
    free(b);
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze ---- */

static void reshape_zero_and_inferred(void **state)
{
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    const int64_t shape[3] = { 0, -1, 4 };
    oh_graph *g = oh_create("Reshape", 13);
    oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(2, 3, 4), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(3), shape, true);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 3, DIMS(2, 3, 4));
    assert_memory_equal(oh_output_data(g, 0), x, sizeof x);
    oh_free(g);

    const int64_t flat[2] = { 1, -1 };
    g = oh_create("Reshape", 5);
    oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(2, 3, 4), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), flat, true);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 2, DIMS(1, 24));
    oh_free(g);

    /* allowzero = 1 makes 0 a real zero-size dim; with 24 elements that must fail. */
    const int64_t zero[2] = { 0, 24 };
    g = oh_create("Reshape", 14);
    oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(2, 3, 4), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), zero, true);
    oh_attr_int(g, "allowzero", 1);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "elements");
    oh_free(g);

    const int64_t two_unknown[2] = { -1, -1 };
    g = oh_create("Reshape", 13);
    oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(2, 3, 4), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), two_unknown, true);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "-1");
    oh_free(g);

    /* A shape that is not a constant at plan time is rejected with a reason. */
    g = oh_create("Reshape", 13);
    oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(2, 3, 4), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), flat, false);
    assert_run_fails(g, 1, FACESIM_ERR_UNSUPPORTED, "constant");
    oh_free(g);
}

static void flatten_squeeze_unsqueeze(void **state)
{
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    const int64_t flatten_axes[4] = { 0, 1, -1, 3 };
    const int64_t flatten_dims[4][2] = { { 1, 24 }, { 2, 12 }, { 6, 4 }, { 24, 1 } };
    for (int k = 0; k < 4; k++) {
        oh_graph *g = oh_create("Flatten", 11);
        oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(2, 3, 4), x, false);
        oh_attr_int(g, "axis", flatten_axes[k]);
        run_ok(g, 1);
        assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 2, flatten_dims[k]);
        assert_memory_equal(oh_output_data(g, 0), x, sizeof x);
        oh_free(g);
    }

    /* Squeeze: attribute before 13, input from 13, all unit dims without axes. */
    const int64_t axes[2] = { 0, -1 };
    oh_graph *g = oh_create("Squeeze", 11);
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 6, 4, 1), x, false);
    oh_attr_ints(g, "axes", axes, 2);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 2, DIMS(6, 4));
    oh_free(g);
    g = oh_create("Squeeze", 13);
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 6, 4, 1), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(1), axes, true);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 3, DIMS(6, 4, 1));
    oh_free(g);
    g = oh_create("Squeeze", 13);
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 6, 4, 1), x, false);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 2, DIMS(6, 4));
    assert_memory_equal(oh_output_data(g, 0), x, sizeof x);
    oh_free(g);
    g = oh_create("Squeeze", 11);
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 6, 4, 1), x, false);
    oh_attr_ints(g, "axes", DIMS(1), 1);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "not 1");
    oh_free(g);

    /* Unsqueeze: axes index the output, negative ones from its end. */
    const int64_t scalar = 42;
    g = oh_create("Unsqueeze", 11);
    oh_input(g, FS_DTYPE_INT64, 0, NULL, &scalar, true);
    oh_attr_ints(g, "axes", DIMS(0), 1);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_INT64, 1, DIMS(1));
    assert_int_equal(*(const int64_t *)oh_output_data(g, 0), 42);
    oh_free(g);
    const int64_t unsqueeze_axes[2] = { 0, -1 };
    g = oh_create("Unsqueeze", 13);
    oh_input(g, FS_DTYPE_FLOAT, 2, DIMS(6, 4), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), unsqueeze_axes, true);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 4, DIMS(1, 6, 4, 1));
    oh_free(g);
    g = oh_create("Unsqueeze", 11);
    oh_input(g, FS_DTYPE_FLOAT, 2, DIMS(6, 4), x, false);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "axes");
    oh_free(g);
    g = oh_create("Unsqueeze", 11);
    oh_input(g, FS_DTYPE_FLOAT, 2, DIMS(6, 4), x, false);
    oh_attr_ints(g, "axes", DIMS(1, -3), 2);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "twice");
    oh_free(g);
}

/* ---- Transpose ---- */

static void transpose_matches_reference(void **state)
{
    static const int64_t perms[][4] = {
        { 0, 2, 3, 1 }, { 2, 3, 0, 1 }, { 3, 2, 1, 0 }, { 0, 1, 3, 2 }, { 1, 0, 2, 3 },
    };
    const int64_t dims[4] = { 2, 3, 4, 5 };
    int64_t count = count_of(4, dims);
    rng_seed(71);
    float *x = random_floats(count, -1, 1);
    float *expected = malloc((size_t)count * sizeof *expected);
    for (size_t k = 0; k < sizeof perms / sizeof perms[0]; k++) {
        const int64_t *perm = perms[k];
        int64_t out_dims[4];
        for (int d = 0; d < 4; d++)
            out_dims[d] = dims[perm[d]];
        for (int64_t i = 0; i < count; i++) {
            int64_t index[4], rest = i;
            for (int d = 3; d >= 0; d--) {
                index[d] = rest % out_dims[d];
                rest /= out_dims[d];
            }
            int64_t source[4];
            for (int d = 0; d < 4; d++)
                source[perm[d]] = index[d];
            expected[i] = x[((source[0] * 3 + source[1]) * 4 + source[2]) * 5 + source[3]];
        }
        for (int nhwc = 0; nhwc < 2; nhwc++) {
            oh_graph *g = oh_create("Transpose", 13);
            oh_input(g, FS_DTYPE_FLOAT, 4, dims, x, false);
            oh_attr_ints(g, "perm", perm, 4);
            if (nhwc)
                oh_input_layout(g, 0, FS_LAYOUT_NHWC);
            run_ok(g, 1);
            assert_true(oh_layouts_accepted(g));
            assert_int_equal(oh_output_layout(g, 0), FS_LAYOUT_PLAIN);
            assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 4, out_dims);
            assert_floats_near(oh_output_data(g, 0), expected, count, 0);
            oh_free(g);
        }
    }

    /* Default perm reverses the dims. */
    oh_graph *g = oh_create("Transpose", 13);
    oh_input(g, FS_DTYPE_FLOAT, 2, DIMS(4, 30), x, false);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 2, DIMS(30, 4));
    const float *y = oh_output_data(g, 0);
    assert_true(y[1 * 4 + 2] == x[2 * 30 + 1]);
    oh_free(g);

    g = oh_create("Transpose", 13);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims, x, false);
    oh_attr_ints(g, "perm", DIMS(0, 1, 1, 2), 4);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "perm");
    oh_free(g);
    free(x);
    free(expected);
}

/* ---- Slice ---- */

static void slice_inputs_and_attributes(void **state)
{
    float x[60];
    for (int i = 0; i < 60; i++)
        x[i] = (float)i; /* shape [3, 4, 5] */

    /* Opset 9 attributes, as in SCRFD: axis 2 from 2 to INT64_MAX. */
    oh_graph *g = oh_create("Slice", 9);
    oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(3, 4, 5), x, false);
    oh_attr_ints(g, "starts", DIMS(2), 1);
    oh_attr_ints(g, "ends", DIMS(INT64_MAX), 1);
    oh_attr_ints(g, "axes", DIMS(2), 1);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 3, DIMS(3, 4, 3));
    const float *y = oh_output_data(g, 0);
    for (int i = 0; i < 12; i++)
        for (int k = 0; k < 3; k++)
            assert_true(y[i * 3 + k] == x[i * 5 + 2 + k]);
    oh_free(g);

    /* Opset 10+ inputs with negative starts, steps 2 and a reversing step. */
    const int64_t starts[2] = { -1, 0 }, ends[2] = { INT64_MIN, 5 };
    const int64_t axes[2] = { 1, -1 }, steps[2] = { -1, 2 };
    g = oh_create("Slice", 13);
    oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(3, 4, 5), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), starts, true);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), ends, true);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), axes, true);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), steps, true);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 3, DIMS(3, 4, 3));
    y = oh_output_data(g, 0);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 3; c++)
                assert_true(y[(a * 4 + b) * 3 + c] == x[(a * 4 + (3 - b)) * 5 + 2 * c]);
    oh_free(g);

    /* Step -2 from the last element to the front: indices 4, 2, 0 of the 5. */
    const int64_t last = -1, front = INT64_MIN, axis_two = 2, minus_two = -2;
    g = oh_create("Slice", 13);
    oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(3, 4, 5), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(1), &last, true);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(1), &front, true);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(1), &axis_two, true);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(1), &minus_two, true);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 3, DIMS(3, 4, 3));
    y = oh_output_data(g, 0);
    for (int row = 0; row < 12; row++)
        for (int c = 0; c < 3; c++)
            assert_true(y[row * 3 + c] == x[row * 5 + 4 - 2 * c]);
    oh_free(g);

    /* Without axes and steps; ends past the dim are clamped; int32 lists work. */
    const int32_t starts32[2] = { 1, 1 }, ends32[2] = { 100, 3 };
    g = oh_create("Slice", 11);
    oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(3, 4, 5), x, false);
    oh_input(g, FS_DTYPE_INT32, 1, DIMS(2), starts32, true);
    oh_input(g, FS_DTYPE_INT32, 1, DIMS(2), ends32, true);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 3, DIMS(2, 2, 5));
    y = oh_output_data(g, 0);
    assert_true(y[0] == x[(1 * 4 + 1) * 5]);
    assert_true(y[19] == x[(2 * 4 + 2) * 5 + 4]);
    oh_free(g);

    /* An empty result is allowed. */
    const int64_t empty_start = 3, empty_end = 1;
    g = oh_create("Slice", 13);
    oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(3, 4, 5), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(1), &empty_start, true);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(1), &empty_end, true);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 3, DIMS(0, 4, 5));
    oh_free(g);

    const int64_t zero_step = 0;
    g = oh_create("Slice", 13);
    oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(3, 4, 5), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(1), &empty_end, true);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(1), &empty_start, true);
    oh_input_omitted(g);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(1), &zero_step, true);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "steps");
    oh_free(g);
}

/* ---- Gather ---- */

static void gather_axes_and_indices(void **state)
{
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i; /* shape [2, 3, 4] */
    const int64_t indices[2][2] = { { 2, -3 }, { -1, 0 } };
    oh_graph *g = oh_create("Gather", 13);
    oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(2, 3, 4), x, false);
    oh_input(g, FS_DTYPE_INT64, 2, DIMS(2, 2), indices, true);
    oh_attr_int(g, "axis", -2);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 4, DIMS(2, 2, 2, 4));
    const float *y = oh_output_data(g, 0);
    for (int a = 0; a < 2; a++)
        for (int k = 0; k < 4; k++) {
            int64_t index = ((const int64_t *)indices)[k];
            int64_t source = index < 0 ? index + 3 : index;
            for (int c = 0; c < 4; c++)
                assert_true(y[(a * 4 + k) * 4 + c] == x[(a * 3 + source) * 4 + c]);
        }
    oh_free(g);

    /* Scalar int32 index on an int64 shape vector: Shape -> Gather(0). */
    const int64_t shape[4] = { 1, 3, 640, 480 };
    const int32_t two = 2;
    g = oh_create("Gather", 11);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(4), shape, true);
    oh_input(g, FS_DTYPE_INT32, 0, NULL, &two, true);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_INT64, 0, NULL);
    assert_int_equal(*(const int64_t *)oh_output_data(g, 0), 640);
    oh_free(g);

    const int64_t out_of_range = 3;
    g = oh_create("Gather", 13);
    oh_input(g, FS_DTYPE_FLOAT, 3, DIMS(2, 3, 4), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(1), &out_of_range, false);
    oh_attr_int(g, "axis", 1);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_ARGUMENT, "outside");
    oh_free(g);
}

/* ---- Shape, ConstantOfShape, Constant ---- */

static void shape_family(void **state)
{
    float x[24] = { 0 };
    oh_graph *g = oh_create("Shape", 13);
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 2, 3, 4), x, false);
    oh_input_layout(g, 0, FS_LAYOUT_NHWC);
    run_ok(g, 1);
    assert_true(oh_layouts_accepted(g));
    assert_shape(oh_output(g, 0), FS_DTYPE_INT64, 1, DIMS(4));
    const int64_t full[4] = { 1, 2, 3, 4 };
    assert_memory_equal(oh_output_data(g, 0), full, sizeof full);
    oh_free(g);

    /* Opset 15 start/end, with end negative. */
    g = oh_create("Shape", 15);
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 2, 3, 4), x, false);
    oh_attr_int(g, "start", 1);
    oh_attr_int(g, "end", -1);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_INT64, 1, DIMS(2));
    const int64_t middle[2] = { 2, 3 };
    assert_memory_equal(oh_output_data(g, 0), middle, sizeof middle);
    oh_free(g);

    const int64_t dims[2] = { 2, 3 };
    const int64_t seven = 7;
    g = oh_create("ConstantOfShape", 11);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), dims, true);
    oh_attr_tensor(g, "value", FS_DTYPE_INT64, 1, DIMS(1), &seven);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_INT64, 2, dims);
    const int64_t *filled = oh_output_data(g, 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(filled[i], 7);
    oh_free(g);

    g = oh_create("ConstantOfShape", 11);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), dims, true);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 2, dims);
    const float zeros[6] = { 0 };
    assert_memory_equal(oh_output_data(g, 0), zeros, sizeof zeros);
    oh_free(g);

    const float values[3] = { 1.5f, -2, 3 };
    g = oh_create("Constant", 11);
    oh_attr_tensor(g, "value", FS_DTYPE_FLOAT, 1, DIMS(3), values);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 1, DIMS(3));
    assert_memory_equal(oh_output_data(g, 0), values, sizeof values);
    oh_free(g);

    g = oh_create("Constant", 13);
    oh_attr_ints(g, "value_ints", DIMS(4, 5), 2);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_INT64, 1, DIMS(2));
    assert_int_equal(((const int64_t *)oh_output_data(g, 0))[1], 5);
    oh_free(g);

    g = oh_create("Constant", 13);
    oh_attr_string(g, "value_string", "text");
    assert_run_fails(g, 1, FACESIM_ERR_UNSUPPORTED, "value");
    oh_free(g);
}

/* ---- Pad ---- */

static void pad_modes(void **state)
{
    const float x[6] = { 1, 2, 3, 4, 5, 6 }; /* [2, 3] */
    const int64_t pads[4] = { 1, 2, 0, 1 };   /* begin rows 1, cols 2; end rows 0, cols 1 */
    const float constant[18] = { 9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 9, 9, 9, 4, 5, 6, 9 };
    const float reflect[18] = { 6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5 };
    const float edge[18] = { 1, 1, 1, 2, 3, 3, 1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6 };
    const char *modes[3] = { "constant", "reflect", "edge" };
    const float *expected[3] = { constant, reflect, edge };
    const float nine = 9;
    for (int m = 0; m < 3; m++) {
        oh_graph *g = oh_create("Pad", 13);
        oh_input(g, FS_DTYPE_FLOAT, 2, DIMS(2, 3), x, false);
        oh_input(g, FS_DTYPE_INT64, 1, DIMS(4), pads, true);
        oh_input(g, FS_DTYPE_FLOAT, 0, NULL, &nine, true);
        oh_attr_string(g, "mode", modes[m]);
        run_ok(g, 1);
        assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 2, DIMS(3, 6));
        assert_floats_near(oh_output_data(g, 0), expected[m], 18, 0);
        oh_free(g);
    }

    /* Opset 2 attributes; a negative pad crops. */
    oh_graph *g = oh_create("Pad", 9);
    oh_input(g, FS_DTYPE_FLOAT, 2, DIMS(2, 3), x, false);
    oh_attr_ints(g, "pads", DIMS(0, -1, 1, 0), 4);
    oh_attr_float(g, "value", -1);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 2, DIMS(3, 2));
    const float cropped[6] = { 2, 3, 5, 6, -1, -1 };
    assert_floats_near(oh_output_data(g, 0), cropped, 6, 0);
    oh_free(g);

    g = oh_create("Pad", 13);
    oh_input(g, FS_DTYPE_FLOAT, 2, DIMS(2, 3), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(4), DIMS(0, 3, 0, 0), true);
    oh_attr_string(g, "mode", "reflect");
    assert_run_fails(g, 1, FACESIM_ERR_UNSUPPORTED, "reflect");
    oh_free(g);

    g = oh_create("Pad", 13);
    oh_input(g, FS_DTYPE_FLOAT, 2, DIMS(2, 3), x, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(2), DIMS(1, 1), true);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "pads");
    oh_free(g);
}

/* ---- Cast ---- */

static void cast_between_types(void **state)
{
    const float x[5] = { -2.7f, -0.5f, 0.0f, 1.9f, 34359738368.0f }; /* the last is 2^35 */
    oh_graph *g = oh_create("Cast", 13);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), x, false);
    oh_attr_int(g, "to", FS_DTYPE_INT64);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_INT64, 1, DIMS(5));
    const int64_t truncated[5] = { -2, 0, 0, 1, 34359738368 };
    assert_memory_equal(oh_output_data(g, 0), truncated, sizeof truncated);
    oh_free(g);

    g = oh_create("Cast", 13);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), x, false);
    oh_attr_int(g, "to", FS_DTYPE_INT32);
    run_ok(g, 1);
    const int32_t saturated[5] = { -2, 0, 0, 1, INT32_MAX };
    assert_memory_equal(oh_output_data(g, 0), saturated, sizeof saturated);
    oh_free(g);

    g = oh_create("Cast", 13);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(5), x, false);
    oh_attr_int(g, "to", FS_DTYPE_BOOL);
    run_ok(g, 1);
    const uint8_t truth[5] = { 1, 1, 0, 1, 1 };
    assert_memory_equal(oh_output_data(g, 0), truth, sizeof truth);
    oh_free(g);

    const int64_t ints[3] = { -3, 0, 1LL << 40 };
    g = oh_create("Cast", 9);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(3), ints, false);
    oh_attr_int(g, "to", FS_DTYPE_FLOAT);
    run_ok(g, 1);
    const float as_float[3] = { -3.0f, 0.0f, 1099511627776.0f };
    assert_memory_equal(oh_output_data(g, 0), as_float, sizeof as_float);
    oh_free(g);

    g = oh_create("Cast", 9);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(3), ints, false);
    oh_attr_int(g, "to", 11); /* double */
    assert_run_fails(g, 1, FACESIM_ERR_UNSUPPORTED, "'to'");
    oh_free(g);
}

/* ---- ReduceMean, ReduceSum ---- */

static void reduce_matches_reference(void **state)
{
    const int64_t *dims = DIMS(2, 3, 4, 5);
    rng_seed(81);
    float *x = random_floats(120, -1, 1);

    /* Mean over H, W keeping dims (global average pooling). */
    oh_graph *g = oh_create("ReduceMean", 13);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims, x, false);
    oh_attr_ints(g, "axes", DIMS(2, 3), 2);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 4, DIMS(2, 3, 1, 1));
    const float *y = oh_output_data(g, 0);
    for (int plane = 0; plane < 6; plane++) {
        double sum = 0;
        for (int i = 0; i < 20; i++)
            sum += x[plane * 20 + i];
        assert_true(fabs(y[plane] - sum / 20) < 1e-6);
    }
    oh_free(g);

    /* Sum over axes 0 and 2 (non-adjacent), keepdims 0. */
    g = oh_create("ReduceSum", 11);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims, x, false);
    oh_attr_ints(g, "axes", DIMS(0, -2), 2);
    oh_attr_int(g, "keepdims", 0);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 2, DIMS(3, 5));
    y = oh_output_data(g, 0);
    for (int c = 0; c < 3; c++)
        for (int w = 0; w < 5; w++) {
            double sum = 0;
            for (int n = 0; n < 2; n++)
                for (int h = 0; h < 4; h++)
                    sum += x[((n * 3 + c) * 4 + h) * 5 + w];
            assert_true(fabs(y[c * 5 + w] - sum) < 1e-5);
        }
    oh_free(g);

    /* ReduceSum-13: axes input; no axes reduces everything unless noop_with_empty_axes. */
    g = oh_create("ReduceSum", 13);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims, x, false);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 4, DIMS(1, 1, 1, 1));
    double total = 0;
    for (int i = 0; i < 120; i++)
        total += x[i];
    assert_true(fabs(*(const float *)oh_output_data(g, 0) - total) < 1e-5);
    oh_free(g);

    g = oh_create("ReduceSum", 13);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims, x, false);
    oh_attr_int(g, "noop_with_empty_axes", 1);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_FLOAT, 4, dims);
    assert_memory_equal(oh_output_data(g, 0), x, 120 * sizeof *x);
    oh_free(g);

    const int64_t ints[6] = { 1, 2, 3, 4, 5, 6 };
    g = oh_create("ReduceSum", 13);
    oh_input(g, FS_DTYPE_INT64, 2, DIMS(2, 3), ints, false);
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(1), DIMS(1), true);
    run_ok(g, 1);
    assert_shape(oh_output(g, 0), FS_DTYPE_INT64, 2, DIMS(2, 1));
    const int64_t sums[2] = { 6, 15 };
    assert_memory_equal(oh_output_data(g, 0), sums, sizeof sums);
    oh_free(g);

    g = oh_create("ReduceMean", 13);
    oh_input(g, FS_DTYPE_FLOAT, 4, dims, x, false);
    oh_attr_ints(g, "axes", DIMS(4), 1);
    assert_run_fails(g, 1, FACESIM_ERR_INVALID_DATA, "axes");
    oh_free(g);
    free(x);
}

/* ---- threading ---- */

/* Runs one op on a large input with 1 and with 2 threads; the outputs must be equal. */
static void assert_threads_agree(const char *op, int64_t opset, const int64_t *dims,
                                 fs_layout layout, void (*add_rest)(oh_graph *g))
{
    int64_t count = count_of(4, dims);
    rng_seed(91);
    float *x = random_floats(count, -2, 2);
    oh_graph *runs[2];
    for (int k = 0; k < 2; k++) {
        runs[k] = oh_create(op, opset);
        oh_input(runs[k], FS_DTYPE_FLOAT, 4, dims, x, false);
        oh_input_layout(runs[k], 0, layout);
        if (add_rest)
            add_rest(runs[k]);
        oh_threads(runs[k], k + 1);
        run_ok(runs[k], 1);
    }
    int64_t out_count = fs_value_numel(oh_output(runs[0], 0));
    assert_true(out_count >= 65536);
    if (memcmp(oh_output_data(runs[0], 0), oh_output_data(runs[1], 0),
               (size_t)out_count * sizeof(float)) != 0)
        fail_msg("%s: 2 threads differ from 1 thread", op);
    oh_free(runs[0]);
    oh_free(runs[1]);
    free(x);
}

static void add_transpose_perm(oh_graph *g)
{
    oh_attr_ints(g, "perm", DIMS(0, 2, 3, 1), 4);
}

static void add_resize_inputs(oh_graph *g)
{
    static const float empty = 0, scales[4] = { 1, 1, 2, 2 };
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(0), &empty, true);
    oh_input(g, FS_DTYPE_FLOAT, 1, DIMS(4), scales, true);
    oh_attr_string(g, "mode", "linear");
}

static void add_concat_second(oh_graph *g)
{
    static float second[8 * 64 * 64];
    oh_input(g, FS_DTYPE_FLOAT, 4, DIMS(1, 8, 64, 64), second, false);
    oh_input_layout(g, 1, FS_LAYOUT_NHWC);
    oh_attr_int(g, "axis", 1);
}

static void add_softmax_axis(oh_graph *g)
{
    oh_attr_int(g, "axis", 1);
}

static void add_pad_pads(oh_graph *g)
{
    oh_input(g, FS_DTYPE_INT64, 1, DIMS(8), DIMS(0, 0, 1, 2, 0, 0, 3, 1), true);
    oh_attr_string(g, "mode", "reflect");
}

static void large_tensors_threaded(void **state)
{
    const int64_t *dims = DIMS(1, 16, 64, 64);
    assert_threads_agree("Transpose", 13, dims, FS_LAYOUT_PLAIN, add_transpose_perm);
    assert_threads_agree("Transpose", 13, dims, FS_LAYOUT_NHWC, add_transpose_perm);
    assert_threads_agree("Resize", 13, dims, FS_LAYOUT_PLAIN, add_resize_inputs);
    assert_threads_agree("Resize", 13, dims, FS_LAYOUT_NHWC, add_resize_inputs);
    assert_threads_agree("Concat", 13, dims, FS_LAYOUT_NHWC, add_concat_second);
    assert_threads_agree("Softmax", 13, dims, FS_LAYOUT_PLAIN, add_softmax_axis);
    assert_threads_agree("Pad", 13, dims, FS_LAYOUT_PLAIN, add_pad_pads);
    assert_threads_agree("LeakyRelu", 13, dims, FS_LAYOUT_NHWC, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unary_matches_reference),
        cmocka_unit_test(unary_large_threaded),
        cmocka_unit_test(sigmoid_dense_and_extremes),
        cmocka_unit_test(leaky_relu_alpha),
        cmocka_unit_test(clip_attribute_and_inputs),
        cmocka_unit_test(clip_rejects_vector_bound),
        cmocka_unit_test(neg_int64),
        cmocka_unit_test(unary_rejects_int_input),
        cmocka_unit_test(dropout_is_identity),
        cmocka_unit_test(binary_broadcast_matches_reference),
        cmocka_unit_test(binary_nhwc_matches_plain),
        cmocka_unit_test(binary_large_threaded),
        cmocka_unit_test(binary_int64_arithmetic),
        cmocka_unit_test(binary_rejects_bad_shapes),
        cmocka_unit_test(prelu_channel_slope),
        cmocka_unit_test(softmax_axis_by_opset),
        cmocka_unit_test(batch_norm_matches_reference),
        cmocka_unit_test(resize_matches_reference),
        cmocka_unit_test(resize_nearest_by_hand),
        cmocka_unit_test(resize_rejects_unsupported),
        cmocka_unit_test(concat_axes_and_layouts),
        cmocka_unit_test(reshape_zero_and_inferred),
        cmocka_unit_test(flatten_squeeze_unsqueeze),
        cmocka_unit_test(transpose_matches_reference),
        cmocka_unit_test(slice_inputs_and_attributes),
        cmocka_unit_test(gather_axes_and_indices),
        cmocka_unit_test(shape_family),
        cmocka_unit_test(pad_modes),
        cmocka_unit_test(cast_between_types),
        cmocka_unit_test(reduce_matches_reference),
        cmocka_unit_test(large_tensors_threaded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

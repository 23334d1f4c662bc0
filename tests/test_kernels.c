/*
 * The oneDNN-backed ops (Conv, MaxPool, AveragePool, the global pools, Gemm, MatMul)
 * against the plain C reference kernels, on seeded random shapes, both input layouts and
 * every fused post-op.
 *
 * Tolerance: every element must satisfy |got - ref| <= 1e-4 * (1 + |ref|). The reference
 * accumulates in double and oneDNN in float. The largest reduction here (70 channels x
 * 5 x 5 taps of values in [-1, 1]) stays well inside that bound.
 *
 * Output shapes and pads are computed here independently of the ops (ONNX formulas, with
 * onnxruntime's ceil_mode rule that the last window must start inside the input or its
 * left padding) and compared with what the ops infer.
 *
 * The seed is fixed so failures reproduce; FACESIM_KERNEL_SEED overrides it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "engine/ref/ref_kernels.h"
#include "support/kernel_harness.h"

#define KERNEL_TOLERANCE 1e-4

/* ---- Random numbers (xorshift64*, reproducible across platforms) ---- */

static uint64_t rng_state;

static void rng_seed(void)
{
    const char *text = getenv("FACESIM_KERNEL_SEED");
    rng_state = text ? strtoull(text, NULL, 10) : 20261204u;
    if (rng_state == 0)
        rng_state = 1;
}

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* Uniform integer in [low, high]. */
static int rng_int(int low, int high)
{
    return low + (int)(rng_next() % (uint64_t)(high - low + 1));
}

static bool rng_chance(double probability)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0 < probability;
}

static float *random_floats(int64_t count)
{
    float *values = malloc((size_t)(count ? count : 1) * sizeof *values);
    assert_non_null(values);
    for (int64_t i = 0; i < count; i++)
        values[i] = (float)((double)(rng_next() >> 11) / 4503599627370496.0 - 1.0);
    return values;
}

/* Fails with the first element outside the tolerance, naming the case. */
static void expect_close(const float *got, const float *ref, int64_t count, const char *case_name)
{
    for (int64_t i = 0; i < count; i++) {
        double difference = fabs((double)got[i] - ref[i]);
        if (!(difference <= KERNEL_TOLERANCE * (1.0 + fabs(ref[i])))) {
            fail_msg("%s: element %lld is %.7g, reference %.7g", case_name, (long long)i,
                     got[i], ref[i]);
        }
    }
}

static void expect_shape(const kernel_case *kc, int rank, const int64_t *dims,
                         const char *case_name)
{
    if (kc->out_rank != rank)
        fail_msg("%s: output rank %d, expected %d", case_name, kc->out_rank, rank);
    for (int d = 0; d < rank; d++)
        if (kc->out_dims[d] != dims[d])
            fail_msg("%s: output dim %d is %lld, expected %lld", case_name, d,
                     (long long)kc->out_dims[d], (long long)dims[d]);
}

static void expect_run_ok(kernel_case *kc, const char *case_name)
{
    fs_error err;
    int code = kernel_case_run(kc, &err);
    if (code != FACESIM_OK)
        fail_msg("%s: run failed: %s", case_name, err.message);
}

/* ---- Shared geometry: ONNX output size of one axis, pads resolved for auto_pad ---- */

typedef enum auto_pad_mode { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } auto_pad_mode;

static const char *const auto_pad_names[] = { "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID" };

/* Returns the output size, or 0 when the window does not fit. span is the dilated kernel. */
static int axis_output(auto_pad_mode mode, bool ceil_mode, int in, int span, int stride,
                       int *pad_begin, int *pad_end)
{
    if (mode == PAD_SAME_UPPER || mode == PAD_SAME_LOWER) {
        int out = (in + stride - 1) / stride;
        int total = (out - 1) * stride + span - in;
        if (total < 0)
            total = 0;
        *pad_begin = mode == PAD_SAME_UPPER ? total / 2 : (total + 1) / 2;
        *pad_end = total - *pad_begin;
        return out;
    }
    if (mode == PAD_VALID) {
        *pad_begin = *pad_end = 0;
        ceil_mode = false;
    }
    int room = in + *pad_begin + *pad_end - span;
    if (room < 0)
        return 0;
    int out = (ceil_mode ? (room + stride - 1) / stride : room / stride) + 1;
    if (ceil_mode && (out - 1) * stride >= in + *pad_begin)
        out--;
    return out;
}

/* ---- Conv ---- */

typedef struct conv_params {
    int spatial; /* 1 or 2 */
    int batch, channels, out_channels, groups;
    int in_h, in_w, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
    int pads[4]; /* top, left, bottom, right; resolved for auto_pad */
    auto_pad_mode auto_pad;
    int out_h, out_w;
    bool bias, runtime_weights, nhwc;
    int activation;
    bool per_channel_slope;
    bool sum, sum_nhwc;
    int sum_activation; /* after the sum: FS_ACTIVATION_NONE, _RELU or _CLIP */
} conv_params;

static void conv_describe(const conv_params *p, char *text, size_t size)
{
    snprintf(text, size,
             "conv %dD n%d c%d->%d g%d in %dx%d k%dx%d s%dx%d d%dx%d pads %d,%d,%d,%d %s "
             "bias %d runtime_w %d nhwc %d act %d per_channel %d sum %d sum_nhwc %d "
             "sum_act %d",
             p->spatial, p->batch, p->channels, p->out_channels, p->groups, p->in_h, p->in_w,
             p->kernel_h, p->kernel_w, p->stride_h, p->stride_w, p->dilation_h, p->dilation_w,
             p->pads[0], p->pads[1], p->pads[2], p->pads[3], auto_pad_names[p->auto_pad],
             p->bias, p->runtime_weights, p->nhwc, p->activation, p->per_channel_slope, p->sum,
             p->sum_nhwc, p->sum_activation);
}

/* Draws conv parameters until the geometry is valid and the reference cost is small. */
static void conv_random_params(conv_params *p)
{
    for (;;) {
        memset(p, 0, sizeof *p);
        p->spatial = rng_chance(0.15) ? 1 : 2;
        p->batch = rng_int(1, 3);
        double shape = (double)(rng_next() % 100) / 100.0;
        if (shape < 0.25) { /* depthwise, channel multiplier 1 or 2 */
            p->channels = rng_int(1, 70);
            p->groups = p->channels;
            p->out_channels = p->channels * rng_int(1, 2);
        } else if (shape < 0.4) {
            p->groups = rng_int(2, 4);
            p->channels = p->groups * rng_int(1, 10);
            p->out_channels = p->groups * rng_int(1, 8);
        } else {
            p->groups = 1;
            p->channels = rng_int(1, 70);
            p->out_channels = rng_int(1, 70);
        }
        static const int kernels[] = { 1, 3, 5 };
        p->kernel_w = kernels[rng_int(0, 2)];
        p->stride_w = rng_int(1, 2);
        p->dilation_w = rng_int(1, 2);
        p->in_w = rng_int(1, 40);
        if (p->spatial == 2) {
            p->kernel_h = rng_chance(0.8) ? p->kernel_w : kernels[rng_int(0, 2)];
            p->stride_h = rng_chance(0.8) ? p->stride_w : rng_int(1, 2);
            p->dilation_h = rng_chance(0.8) ? p->dilation_w : rng_int(1, 2);
            p->in_h = rng_int(1, 40);
        } else {
            p->kernel_h = p->stride_h = p->dilation_h = p->in_h = 1;
        }
        p->auto_pad = rng_chance(0.6) ? PAD_NOTSET : (auto_pad_mode)rng_int(1, 3);
        if (p->auto_pad == PAD_NOTSET) {
            for (int i = 0; i < 4; i++)
                p->pads[i] = rng_int(0, 2);
            if (p->spatial == 1)
                p->pads[0] = p->pads[2] = 0;
        }
        p->out_h = axis_output(p->auto_pad, false, p->in_h, (p->kernel_h - 1) * p->dilation_h + 1,
                               p->stride_h, &p->pads[0], &p->pads[2]);
        p->out_w = axis_output(p->auto_pad, false, p->in_w, (p->kernel_w - 1) * p->dilation_w + 1,
                               p->stride_w, &p->pads[1], &p->pads[3]);
        if (p->out_h < 1 || p->out_w < 1)
            continue;
        double cost = (double)p->batch * p->out_channels * p->out_h * p->out_w *
                      (p->channels / p->groups) * p->kernel_h * p->kernel_w;
        if (cost > 3e6)
            continue;
        p->bias = rng_chance(0.7);
        p->runtime_weights = rng_chance(0.15);
        p->nhwc = p->spatial == 2 && rng_chance(0.5);
        p->activation = rng_int(FS_ACTIVATION_NONE, FS_ACTIVATION_PRELU);
        p->per_channel_slope = rng_chance(0.7);
        p->sum = rng_chance(0.4);
        p->sum_nhwc = p->spatial == 2 && rng_chance(0.5);
        p->sum_activation = p->sum ? rng_int(FS_ACTIVATION_NONE, FS_ACTIVATION_CLIP)
                                   : FS_ACTIVATION_NONE;
        return;
    }
}

typedef struct conv_data {
    float *x, *w, *b, *slope, *sum;
    int64_t x_dims[4], w_dims[4], out_dims[4];
    int64_t x_count, w_count, out_count;
    int rank;
} conv_data;

static void conv_make_data(const conv_params *p, conv_data *d)
{
    d->rank = p->spatial + 2;
    int64_t x_dims[4] = { p->batch, p->channels, p->in_h, p->in_w };
    int64_t w_dims[4] = { p->out_channels, p->channels / p->groups, p->kernel_h, p->kernel_w };
    int64_t out_dims[4] = { p->batch, p->out_channels, p->out_h, p->out_w };
    if (p->spatial == 1) {
        x_dims[2] = p->in_w;
        w_dims[2] = p->kernel_w;
        out_dims[2] = p->out_w;
    }
    memcpy(d->x_dims, x_dims, sizeof x_dims);
    memcpy(d->w_dims, w_dims, sizeof w_dims);
    memcpy(d->out_dims, out_dims, sizeof out_dims);
    d->x_count = kernel_numel(d->rank, x_dims);
    d->w_count = kernel_numel(d->rank, w_dims);
    d->out_count = kernel_numel(d->rank, out_dims);
    d->x = random_floats(d->x_count);
    d->w = random_floats(d->w_count);
    d->b = random_floats(p->out_channels);
    d->slope = random_floats(p->out_channels);
    d->sum = random_floats(d->out_count);
}

static void conv_free_data(conv_data *d)
{
    free(d->x);
    free(d->w);
    free(d->b);
    free(d->slope);
    free(d->sum);
}

/* Builds the Conv case: attributes as the model would state them, fusion as the engine's
 * fusion pass would set it. Returns the index of input X. */
static int conv_build(kernel_case *kc, const conv_params *p, const conv_data *d)
{
    int x = kernel_case_input(kc, d->rank, d->x_dims, d->x, false);
    kernel_case_set_layout(kc, x, p->nhwc ? FS_LAYOUT_NHWC : FS_LAYOUT_PLAIN);
    kernel_case_input(kc, d->rank, d->w_dims, d->w, !p->runtime_weights);
    if (p->bias)
        kernel_case_input(kc, 1, (int64_t[]){ p->out_channels }, d->b, true);

    int spatial = p->spatial;
    int64_t kernel[2] = { p->kernel_h, p->kernel_w }, strides[2] = { p->stride_h, p->stride_w };
    int64_t dilations[2] = { p->dilation_h, p->dilation_w };
    int64_t pads[4] = { p->pads[0], p->pads[1], p->pads[2], p->pads[3] };
    if (spatial == 1) {
        kernel[0] = p->kernel_w;
        strides[0] = p->stride_w;
        dilations[0] = p->dilation_w;
        pads[0] = p->pads[1];
        pads[1] = p->pads[3];
    }
    kernel_case_attr_ints(kc, "kernel_shape", kernel, (size_t)spatial);
    kernel_case_attr_ints(kc, "strides", strides, (size_t)spatial);
    kernel_case_attr_ints(kc, "dilations", dilations, (size_t)spatial);
    if (p->groups != 1)
        kernel_case_attr_int(kc, "group", p->groups);
    if (p->auto_pad == PAD_NOTSET)
        kernel_case_attr_ints(kc, "pads", pads, (size_t)(2 * spatial));
    else
        kernel_case_attr_string(kc, "auto_pad", auto_pad_names[p->auto_pad]);

    kc->fused_activation = p->activation;
    kc->fused_min = -0.3f;
    kc->fused_max = 0.4f;
    if (p->activation == FS_ACTIVATION_PRELU) {
        /* The slope shape of a per-channel PRelu in ONNX models: [C, 1, 1] (or [C, 1]). */
        int64_t slope_dims[3] = { p->per_channel_slope ? p->out_channels : 1, 1, 1 };
        kc->fused_slope = kernel_case_value(kc, d->rank - 1, slope_dims, d->slope, true, false);
    }
    if (p->sum) {
        kc->fused_sum = kernel_case_value(kc, d->rank, d->out_dims, d->sum, false, false);
        kernel_case_set_layout(kc, kc->fused_sum,
                               p->sum_nhwc ? FS_LAYOUT_NHWC : FS_LAYOUT_PLAIN);
        kc->fused_sum_activation = p->sum_activation;
        kc->fused_sum_min = -0.2f;
        kc->fused_sum_max = 0.5f;
    }
    return x;
}

static void conv_reference(const conv_params *p, const conv_data *d, float *ref)
{
    fs_ref_conv_shape shape = {
        .batch = p->batch, .in_channels = p->channels, .in_height = p->in_h,
        .in_width = p->in_w, .out_channels = p->out_channels, .out_height = p->out_h,
        .out_width = p->out_w, .groups = p->groups, .kernel_height = p->kernel_h,
        .kernel_width = p->kernel_w, .stride_height = p->stride_h, .stride_width = p->stride_w,
        .dilation_height = p->dilation_h, .dilation_width = p->dilation_w,
        .pad_top = p->pads[0], .pad_left = p->pads[1],
    };
    fs_ref_activation activation = {
        .kind = p->activation, .min = -0.3f, .max = 0.4f, .slope = d->slope,
        .slope_count = p->per_channel_slope ? p->out_channels : 1,
    };
    fs_ref_activation sum_activation = { .kind = p->sum_activation, .min = -0.2f, .max = 0.5f };
    fs_ref_conv(&shape, d->x, d->w, p->bias ? d->b : NULL, p->sum ? d->sum : NULL, &activation,
                &sum_activation, ref);
}

static void conv_random_shapes_match_reference(void **state)
{
    rng_seed();
    for (int iteration = 0; iteration < 300; iteration++) {
        conv_params p;
        conv_random_params(&p);
        char case_name[512];
        conv_describe(&p, case_name, sizeof case_name);

        conv_data d;
        conv_make_data(&p, &d);
        kernel_case *kc = kernel_case_create("Conv");
        conv_build(kc, &p, &d);
        expect_run_ok(kc, case_name);
        expect_shape(kc, d.rank, d.out_dims, case_name);
        if (!kc->layouts_accepted)
            fail_msg("%s: Conv rejected its input layout", case_name);
        /* 2-D convolutions write NHWC whatever the layouts of input and sum. */
        bool nhwc_out = p.spatial == 2;
        fs_layout expected_layout = nhwc_out ? FS_LAYOUT_NHWC : FS_LAYOUT_PLAIN;
        if (kc->output_layout != expected_layout)
            fail_msg("%s: output layout %d, expected %d", case_name, kc->output_layout,
                     expected_layout);

        float *ref = malloc((size_t)d.out_count * sizeof *ref);
        assert_non_null(ref);
        conv_reference(&p, &d, ref);
        expect_close(kc->output, ref, d.out_count, case_name);
        free(ref);
        kernel_case_free(kc);
        conv_free_data(&d);
    }
}

/* The engine re-plans on a new batch size after freeing the plain weights: the second
 * prepare must find them in the weight cache. */
static void conv_replan_reads_packed_weights(void **state)
{
    rng_seed();
    conv_params p = {
        .spatial = 2, .batch = 1, .channels = 16, .out_channels = 24, .groups = 1,
        .in_h = 12, .in_w = 10, .kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1,
        .dilation_h = 1, .dilation_w = 1, .pads = { 1, 1, 1, 1 }, .auto_pad = PAD_NOTSET,
        .out_h = 12, .out_w = 10, .bias = true, .nhwc = true,
        .activation = FS_ACTIVATION_RELU,
    };
    conv_data d;
    conv_make_data(&p, &d);
    kernel_case *kc = kernel_case_create("Conv");
    int x = conv_build(kc, &p, &d);
    expect_run_ok(kc, "first plan");
    float *ref = malloc((size_t)d.out_count * sizeof *ref);
    conv_reference(&p, &d, ref);
    expect_close(kc->output, ref, d.out_count, "first plan");
    free(ref);

    kernel_case_drop_constant(kc, kc->graph->nodes[kc->node].inputs[1]);
    conv_params p3 = p;
    p3.batch = 3;
    conv_data d3;
    conv_make_data(&p3, &d3);
    memcpy(d3.w, d.w, (size_t)d.w_count * sizeof *d.w);
    memcpy(d3.b, d.b, (size_t)p.out_channels * sizeof *d.b);
    kernel_case_set_input(kc, x, 4, d3.x_dims, d3.x);
    expect_run_ok(kc, "second plan");
    expect_shape(kc, 4, d3.out_dims, "second plan");
    ref = malloc((size_t)d3.out_count * sizeof *ref);
    conv_reference(&p3, &d3, ref);
    expect_close(kc->output, ref, d3.out_count, "second plan with packed weights");
    free(ref);
    kernel_case_free(kc);
    conv_free_data(&d);
    conv_free_data(&d3);
}

/* A 1x1 kernel with padding makes oneDNN 2.6 pick its gemm-based convolution, whose binary
 * post-op is wrong with an NHWC destination; Conv must still add the fused sum correctly,
 * and apply the activation after the sum. */
static void conv_1x1_padded_with_sum(void **state)
{
    rng_seed();
    for (int variant = 0; variant < 6; variant++) {
        bool sum_nhwc = variant % 2 == 1;
        int sum_activation = variant / 2; /* none, Relu, Clip */
        conv_params p = {
            .spatial = 2, .batch = 2, .channels = 4, .out_channels = 6, .groups = 1,
            .in_h = 3, .in_w = 5, .kernel_h = 1, .kernel_w = 1, .stride_h = 1, .stride_w = 1,
            .dilation_h = 1, .dilation_w = 1, .pads = { 0, 1, 1, 0 }, .auto_pad = PAD_NOTSET,
            .out_h = 4, .out_w = 6, .bias = true, .nhwc = true,
            .activation = FS_ACTIVATION_RELU, .sum = true, .sum_nhwc = sum_nhwc,
            .sum_activation = sum_activation,
        };
        conv_data d;
        conv_make_data(&p, &d);
        kernel_case *kc = kernel_case_create("Conv");
        conv_build(kc, &p, &d);
        expect_run_ok(kc, "padded 1x1 conv with sum");
        expect_shape(kc, 4, d.out_dims, "padded 1x1 conv with sum");
        float *ref = malloc((size_t)d.out_count * sizeof *ref);
        conv_reference(&p, &d, ref);
        expect_close(kc->output, ref, d.out_count, "padded 1x1 conv with sum");
        free(ref);
        kernel_case_free(kc);
        conv_free_data(&d);
    }
}

/* The same eltwise algorithm before and after the sum with other bounds or slopes: Clip
 * then Clip, and a single-slope PRelu (a leaky Relu) then Relu. oneDNN 2.6 applied the first
 * one's parameters to both when they shared one post-op chain. */
static void conv_same_activation_around_sum(void **state)
{
    rng_seed();
    static const int pairs[][2] = {
        { FS_ACTIVATION_CLIP, FS_ACTIVATION_CLIP },
        { FS_ACTIVATION_PRELU, FS_ACTIVATION_RELU },
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        conv_params p = {
            .spatial = 2, .batch = 1, .channels = 15, .out_channels = 18, .groups = 1,
            .in_h = 13, .in_w = 12, .kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1,
            .dilation_h = 1, .dilation_w = 1, .pads = { 1, 1, 1, 1 }, .auto_pad = PAD_NOTSET,
            .out_h = 13, .out_w = 12, .bias = true, .nhwc = true,
            .activation = pairs[i][0], .per_channel_slope = false,
            .sum = true, .sum_nhwc = true, .sum_activation = pairs[i][1],
        };
        char case_name[512];
        conv_describe(&p, case_name, sizeof case_name);
        conv_data d;
        conv_make_data(&p, &d);
        kernel_case *kc = kernel_case_create("Conv");
        conv_build(kc, &p, &d);
        expect_run_ok(kc, case_name);
        float *ref = malloc((size_t)d.out_count * sizeof *ref);
        assert_non_null(ref);
        conv_reference(&p, &d, ref);
        expect_close(kc->output, ref, d.out_count, case_name);
        free(ref);
        kernel_case_free(kc);
        conv_free_data(&d);
    }
}

/* Constant folding runs Conv on a constant input and keeps the output as a plain
 * constant, so Conv must write plain NCHW then. */
static void conv_constant_input_writes_plain(void **state)
{
    rng_seed();
    conv_params p = {
        .spatial = 2, .batch = 1, .channels = 5, .out_channels = 7, .groups = 1,
        .in_h = 6, .in_w = 9, .kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 2,
        .dilation_h = 1, .dilation_w = 1, .pads = { 1, 1, 1, 1 }, .auto_pad = PAD_NOTSET,
        .out_h = 6, .out_w = 5, .bias = true,
    };
    conv_data d;
    conv_make_data(&p, &d);
    kernel_case *kc = kernel_case_create("Conv");
    kernel_case_input(kc, 4, d.x_dims, d.x, true);
    kernel_case_input(kc, 4, d.w_dims, d.w, true);
    kernel_case_input(kc, 1, (int64_t[]){ p.out_channels }, d.b, true);
    kernel_case_attr_ints(kc, "pads", (int64_t[]){ 1, 1, 1, 1 }, 4);
    kernel_case_attr_ints(kc, "strides", (int64_t[]){ 1, 2 }, 2);
    expect_run_ok(kc, "conv on a constant input");
    assert_int_equal(kc->output_layout, FS_LAYOUT_PLAIN);
    float *ref = malloc((size_t)d.out_count * sizeof *ref);
    conv_reference(&p, &d, ref);
    expect_close(kc->output, ref, d.out_count, "conv on a constant input");
    free(ref);
    kernel_case_free(kc);
    conv_free_data(&d);
}

static void conv_rejects_3d(void **state)
{
    float values[2 * 2 * 2 * 2 * 2] = { 0 };
    kernel_case *kc = kernel_case_create("Conv");
    kernel_case_input(kc, 5, (int64_t[]){ 1, 2, 2, 2, 2 }, values, false);
    kernel_case_input(kc, 5, (int64_t[]){ 1, 2, 1, 1, 1 }, values, true);
    fs_error err;
    assert_int_equal(kernel_case_run(kc, &err), FACESIM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "node0"));
    assert_non_null(strstr(err.message, "3-D"));
    kernel_case_free(kc);
}

static void conv_rejects_bad_group(void **state)
{
    float values[64] = { 0 };
    kernel_case *kc = kernel_case_create("Conv");
    kernel_case_input(kc, 4, (int64_t[]){ 1, 6, 2, 2 }, values, false);
    kernel_case_input(kc, 4, (int64_t[]){ 4, 3, 1, 1 }, values, true);
    kernel_case_attr_int(kc, "group", 4);
    fs_error err;
    assert_int_equal(kernel_case_run(kc, &err), FACESIM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "node0"));
    assert_non_null(strstr(err.message, "group 4"));
    kernel_case_free(kc);
}

static void conv_rejects_too_small_input(void **state)
{
    float values[64] = { 0 };
    kernel_case *kc = kernel_case_create("Conv");
    kernel_case_input(kc, 4, (int64_t[]){ 1, 1, 2, 2 }, values, false);
    kernel_case_input(kc, 4, (int64_t[]){ 1, 1, 5, 5 }, values, true);
    fs_error err;
    assert_int_equal(kernel_case_run(kc, &err), FACESIM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "smaller than the dilated kernel"));
    kernel_case_free(kc);
}

/* ---- Pooling ---- */

typedef struct pool_params {
    const char *op_type;
    fs_ref_pool_kind kind;
    bool global;
    int spatial;
    fs_ref_pool_shape shape;
    auto_pad_mode auto_pad;
    bool ceil_mode, nhwc;
    bool extra_padding; /* ceil_mode added a window reaching past the declared pads */
} pool_params;

static void pool_describe(const pool_params *p, char *text, size_t size)
{
    const fs_ref_pool_shape *s = &p->shape;
    snprintf(text, size,
             "%s %dD n%d c%d in %dx%d out %dx%d k%dx%d s%dx%d pads %d,%d,%d,%d %s ceil %d "
             "include_pad %d nhwc %d",
             p->op_type, p->spatial, s->batch, s->channels, s->in_height, s->in_width,
             s->out_height, s->out_width, s->kernel_height, s->kernel_width, s->stride_height,
             s->stride_width, s->pad_top, s->pad_left, s->pad_bottom, s->pad_right,
             auto_pad_names[p->auto_pad], p->ceil_mode, s->count_include_pad, p->nhwc);
}

static void pool_random_params(pool_params *p)
{
    static const char *const types[] = { "MaxPool", "AveragePool", "GlobalAveragePool",
                                         "GlobalMaxPool" };
    for (;;) {
        memset(p, 0, sizeof *p);
        int type = rng_chance(0.85) ? rng_int(0, 1) : rng_int(2, 3);
        p->op_type = types[type];
        p->kind = type == 0 || type == 3 ? FS_REF_POOL_MAX : FS_REF_POOL_AVERAGE;
        p->global = type >= 2;
        p->spatial = rng_chance(0.15) ? 1 : 2;
        fs_ref_pool_shape *s = &p->shape;
        s->batch = rng_int(1, 3);
        s->channels = rng_int(1, 70);
        s->in_width = rng_int(1, 40);
        s->in_height = p->spatial == 2 ? rng_int(1, 40) : 1;
        p->nhwc = p->spatial == 2 && rng_chance(0.5);
        if (p->global) {
            s->kernel_height = s->in_height;
            s->kernel_width = s->in_width;
            s->stride_height = s->stride_width = 1;
            s->out_height = s->out_width = 1;
            return;
        }
        s->kernel_width = rng_int(1, 5);
        s->stride_width = rng_int(1, 3);
        s->kernel_height = p->spatial == 2 ? rng_int(1, 5) : 1;
        s->stride_height = p->spatial == 2 ? rng_int(1, 3) : 1;
        s->count_include_pad = p->kind == FS_REF_POOL_AVERAGE && rng_chance(0.5);
        p->ceil_mode = rng_chance(0.5);
        p->auto_pad = rng_chance(0.75) ? PAD_NOTSET : (auto_pad_mode)rng_int(1, 3);
        if (p->auto_pad == PAD_NOTSET) {
            /* ONNX models keep pads smaller than the kernel. */
            s->pad_left = rng_int(0, s->kernel_width - 1);
            s->pad_right = rng_int(0, s->kernel_width - 1);
            if (p->spatial == 2) {
                s->pad_top = rng_int(0, s->kernel_height - 1);
                s->pad_bottom = rng_int(0, s->kernel_height - 1);
            }
        }
        s->out_height = axis_output(p->auto_pad, p->ceil_mode, s->in_height, s->kernel_height,
                                    s->stride_height, &s->pad_top, &s->pad_bottom);
        s->out_width = axis_output(p->auto_pad, p->ceil_mode, s->in_width, s->kernel_width,
                                   s->stride_width, &s->pad_left, &s->pad_right);
        if (s->out_height < 1 || s->out_width < 1)
            continue;
        int reach_h = (s->out_height - 1) * s->stride_height + s->kernel_height;
        int reach_w = (s->out_width - 1) * s->stride_width + s->kernel_width;
        p->extra_padding = reach_h > s->pad_top + s->in_height + s->pad_bottom ||
                           reach_w > s->pad_left + s->in_width + s->pad_right;
        return;
    }
}

static void pool_build(kernel_case *kc, const pool_params *p, const float *x)
{
    const fs_ref_pool_shape *s = &p->shape;
    int64_t dims[4] = { s->batch, s->channels, s->in_height, s->in_width };
    if (p->spatial == 1)
        dims[2] = s->in_width;
    int value = kernel_case_input(kc, p->spatial + 2, dims, x, false);
    kernel_case_set_layout(kc, value, p->nhwc ? FS_LAYOUT_NHWC : FS_LAYOUT_PLAIN);
    if (p->global)
        return;
    int64_t kernel[2] = { s->kernel_height, s->kernel_width };
    int64_t strides[2] = { s->stride_height, s->stride_width };
    int64_t pads[4] = { s->pad_top, s->pad_left, s->pad_bottom, s->pad_right };
    if (p->spatial == 1) {
        kernel[0] = s->kernel_width;
        strides[0] = s->stride_width;
        pads[0] = s->pad_left;
        pads[1] = s->pad_right;
    }
    kernel_case_attr_ints(kc, "kernel_shape", kernel, (size_t)p->spatial);
    kernel_case_attr_ints(kc, "strides", strides, (size_t)p->spatial);
    if (p->auto_pad == PAD_NOTSET)
        kernel_case_attr_ints(kc, "pads", pads, (size_t)(2 * p->spatial));
    else
        kernel_case_attr_string(kc, "auto_pad", auto_pad_names[p->auto_pad]);
    kernel_case_attr_int(kc, "ceil_mode", p->ceil_mode);
    if (p->kind == FS_REF_POOL_AVERAGE)
        kernel_case_attr_int(kc, "count_include_pad", s->count_include_pad);
}

static void pool_random_shapes_match_reference(void **state)
{
    rng_seed();
    for (int iteration = 0; iteration < 300; iteration++) {
        pool_params p;
        pool_random_params(&p);
        char case_name[512];
        pool_describe(&p, case_name, sizeof case_name);
        const fs_ref_pool_shape *s = &p.shape;
        int64_t in_count = (int64_t)s->batch * s->channels * s->in_height * s->in_width;
        int64_t out_count = (int64_t)s->batch * s->channels * s->out_height * s->out_width;
        float *x = random_floats(in_count);

        kernel_case *kc = kernel_case_create(p.op_type);
        pool_build(kc, &p, x);
        expect_run_ok(kc, case_name);
        int64_t out_dims[4] = { s->batch, s->channels, s->out_height, s->out_width };
        if (p.spatial == 1)
            out_dims[2] = s->out_width;
        expect_shape(kc, p.spatial + 2, out_dims, case_name);

        /* Only the include-padding average over ceil_mode's extra window needs the
         * reference kernel, and with it plain input. */
        bool reference_path = p.extra_padding && s->count_include_pad;
        if (p.nhwc && kc->layouts_accepted == reference_path)
            fail_msg("%s: accepts_layouts returned %d for NHWC input", case_name,
                     kc->layouts_accepted);
        fs_layout expected_layout = p.nhwc && !reference_path ? FS_LAYOUT_NHWC
                                                              : FS_LAYOUT_PLAIN;
        if (kc->output_layout != expected_layout)
            fail_msg("%s: output layout %d, expected %d", case_name, kc->output_layout,
                     expected_layout);

        float *ref = malloc((size_t)out_count * sizeof *ref);
        assert_non_null(ref);
        fs_ref_pool(p.kind, s, x, ref);
        expect_close(kc->output, ref, out_count, case_name);
        free(ref);
        free(x);
        kernel_case_free(kc);
    }
}

/*
 * AveragePool with count_include_pad and ceil_mode on a 5x5 input of ones, kernel 2,
 * stride 2, no pads: ceil_mode adds a third window per axis that covers one input row or
 * column. onnxruntime and PyTorch divide by the window clipped to the (unpadded) input, so
 * every output is exactly 1; dividing by the whole kernel would give 0.5 and 0.25 at the
 * edges. Checked for both input layouts.
 */
static void average_pool_ceil_include_pad_divisor(void **state)
{
    float ones[25];
    for (int i = 0; i < 25; i++)
        ones[i] = 1.0f;
    for (int layout = 0; layout < 2; layout++) {
        kernel_case *kc = kernel_case_create("AveragePool");
        int x = kernel_case_input(kc, 4, (int64_t[]){ 1, 1, 5, 5 }, ones, false);
        kernel_case_set_layout(kc, x, layout ? FS_LAYOUT_NHWC : FS_LAYOUT_PLAIN);
        kernel_case_attr_ints(kc, "kernel_shape", (int64_t[]){ 2, 2 }, 2);
        kernel_case_attr_ints(kc, "strides", (int64_t[]){ 2, 2 }, 2);
        kernel_case_attr_int(kc, "ceil_mode", 1);
        kernel_case_attr_int(kc, "count_include_pad", 1);
        expect_run_ok(kc, "ceil include-pad average");
        expect_shape(kc, 4, (int64_t[]){ 1, 1, 3, 3 }, "ceil include-pad average");
        for (int i = 0; i < 9; i++)
            assert_float_equal(kc->output[i], 1.0f, 1e-6f);
        kernel_case_free(kc);
    }
}

/* With ceil_mode, a window that would start in the right padding is dropped: a 4-wide
 * input, kernel 2, stride 2 and right pad 1 gives 2 outputs, not 3 (onnxruntime 1.31
 * agrees). */
static void max_pool_ceil_drops_padding_window(void **state)
{
    rng_seed();
    float *x = random_floats(16);
    kernel_case *kc = kernel_case_create("MaxPool");
    kernel_case_input(kc, 4, (int64_t[]){ 1, 1, 4, 4 }, x, false);
    kernel_case_attr_ints(kc, "kernel_shape", (int64_t[]){ 2, 2 }, 2);
    kernel_case_attr_ints(kc, "strides", (int64_t[]){ 2, 2 }, 2);
    kernel_case_attr_ints(kc, "pads", (int64_t[]){ 0, 0, 1, 1 }, 4);
    kernel_case_attr_int(kc, "ceil_mode", 1);
    expect_run_ok(kc, "ceil max pool");
    expect_shape(kc, 4, (int64_t[]){ 1, 1, 2, 2 }, "ceil max pool");
    kernel_case_free(kc);
    free(x);
}

static void pool_rejects_dilation(void **state)
{
    float values[16] = { 0 };
    kernel_case *kc = kernel_case_create("MaxPool");
    kernel_case_input(kc, 4, (int64_t[]){ 1, 1, 4, 4 }, values, false);
    kernel_case_attr_ints(kc, "kernel_shape", (int64_t[]){ 2, 2 }, 2);
    kernel_case_attr_ints(kc, "dilations", (int64_t[]){ 2, 2 }, 2);
    fs_error err;
    assert_int_equal(kernel_case_run(kc, &err), FACESIM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "dilation"));
    kernel_case_free(kc);
}

static void pool_rejects_indices_output(void **state)
{
    float values[16] = { 0 };
    kernel_case *kc = kernel_case_create("MaxPool");
    kc->n_outputs = 2;
    kernel_case_input(kc, 4, (int64_t[]){ 1, 1, 4, 4 }, values, false);
    kernel_case_attr_ints(kc, "kernel_shape", (int64_t[]){ 2, 2 }, 2);
    fs_error err;
    assert_int_equal(kernel_case_run(kc, &err), FACESIM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "Indices"));
    kernel_case_free(kc);
}

static void pool_rejects_missing_kernel_shape(void **state)
{
    float values[16] = { 0 };
    kernel_case *kc = kernel_case_create("AveragePool");
    kernel_case_input(kc, 4, (int64_t[]){ 1, 1, 4, 4 }, values, false);
    fs_error err;
    assert_int_equal(kernel_case_run(kc, &err), FACESIM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "kernel_shape"));
    kernel_case_free(kc);
}

/* ---- Gemm ---- */

/* Shapes of C to try: none, [N], [1, N], [M, N], [M, 1] and a scalar. */
typedef enum gemm_c_form {
    C_NONE, C_ROW, C_ROW_2D, C_FULL, C_COLUMN, C_SCALAR, C_FORMS
} gemm_c_form;

static void gemm_all_combinations(void **state)
{
    rng_seed();
    static const float alphas[] = { 1.0f, 0.5f };
    static const float betas[] = { 1.0f, 0.0f, 2.0f };
    int cases = 0;
    for (int trans_a = 0; trans_a < 2; trans_a++)
    for (int trans_b = 0; trans_b < 2; trans_b++)
    for (int ai = 0; ai < 2; ai++)
    for (int bi = 0; bi < 3; bi++)
    for (int form = 0; form < C_FORMS; form++)
    for (int constant_b = 0; constant_b < 2; constant_b++) {
        int m = rng_int(1, 9), k = rng_int(1, 70), n = rng_int(1, 40);
        float *a = random_floats((int64_t)m * k);
        float *b = random_floats((int64_t)k * n);
        float *c = random_floats((int64_t)m * n);
        kernel_case *kc = kernel_case_create("Gemm");
        kernel_case_input(kc, 2, trans_a ? (int64_t[]){ k, m } : (int64_t[]){ m, k }, a, false);
        kernel_case_input(kc, 2, trans_b ? (int64_t[]){ n, k } : (int64_t[]){ k, n }, b,
                          constant_b);
        fs_ref_gemm_shape shape = { .m = m, .n = n, .k = k, .trans_a = trans_a,
                                    .trans_b = trans_b, .alpha = alphas[ai],
                                    .beta = betas[bi] };
        switch (form) {
        case C_ROW:
            kernel_case_input(kc, 1, (int64_t[]){ n }, c, true);
            shape.c_stride_n = 1;
            break;
        case C_ROW_2D:
            kernel_case_input(kc, 2, (int64_t[]){ 1, n }, c, true);
            shape.c_stride_n = 1;
            break;
        case C_FULL:
            kernel_case_input(kc, 2, (int64_t[]){ m, n }, c, rng_chance(0.5));
            shape.c_stride_m = n;
            shape.c_stride_n = 1;
            break;
        case C_COLUMN:
            kernel_case_input(kc, 2, (int64_t[]){ m, 1 }, c, true);
            shape.c_stride_m = 1;
            break;
        case C_SCALAR:
            kernel_case_input(kc, 0, NULL, c, true);
            break;
        default:
            break;
        }
        kernel_case_attr_int(kc, "transA", trans_a);
        kernel_case_attr_int(kc, "transB", trans_b);
        kernel_case_attr_float(kc, "alpha", alphas[ai]);
        kernel_case_attr_float(kc, "beta", betas[bi]);

        char case_name[160];
        snprintf(case_name, sizeof case_name,
                 "gemm m%d k%d n%d transA %d transB %d alpha %g beta %g C form %d constant B %d",
                 m, k, n, trans_a, trans_b, alphas[ai], betas[bi], form, constant_b);
        expect_run_ok(kc, case_name);
        expect_shape(kc, 2, (int64_t[]){ m, n }, case_name);
        float *ref = malloc((size_t)m * n * sizeof *ref);
        fs_ref_gemm(&shape, a, b, form == C_NONE ? NULL : c, ref);
        expect_close(kc->output, ref, (int64_t)m * n, case_name);
        free(ref);
        kernel_case_free(kc);
        free(a);
        free(b);
        free(c);
        cases++;
    }
    assert_int_equal(cases, 2 * 2 * 2 * 3 * C_FORMS * 2);
}

/* The recogniser head's shape: a 1 x 25088 feature times a constant 512 x 25088 B. */
static void gemm_recogniser_head(void **state)
{
    rng_seed();
    const int m = 2, k = 25088, n = 512;
    float *a = random_floats((int64_t)m * k);
    float *b = random_floats((int64_t)n * k);
    float *c = random_floats(n);
    kernel_case *kc = kernel_case_create("Gemm");
    kernel_case_input(kc, 2, (int64_t[]){ m, k }, a, false);
    kernel_case_input(kc, 2, (int64_t[]){ n, k }, b, true);
    kernel_case_input(kc, 1, (int64_t[]){ n }, c, true);
    kernel_case_attr_int(kc, "transB", 1);
    expect_run_ok(kc, "recogniser head");
    fs_ref_gemm_shape shape = { .m = m, .n = n, .k = k, .trans_b = true, .alpha = 1.0f,
                                .beta = 1.0f, .c_stride_n = 1 };
    float *ref = malloc((size_t)m * n * sizeof *ref);
    fs_ref_gemm(&shape, a, b, c, ref);
    expect_close(kc->output, ref, (int64_t)m * n, "recogniser head");
    free(ref);
    kernel_case_free(kc);
    free(a);
    free(b);
    free(c);
}

/* Gemm and MatMul re-planned for a larger batch after their plain B was freed must read
 * the packed copy from the weight cache. */
static void packed_b_survives_replan(void **state)
{
    rng_seed();
    const int k = 40, n = 24;
    float *b = random_floats((int64_t)k * n);
    float *c = random_floats(n);
    for (int use_matmul = 0; use_matmul < 2; use_matmul++) {
        kernel_case *kc = kernel_case_create(use_matmul ? "MatMul" : "Gemm");
        float *a = random_floats(2 * k);
        int a_value = kernel_case_input(kc, 2, (int64_t[]){ 2, k }, a, false);
        int b_value = kernel_case_input(kc, 2, (int64_t[]){ k, n }, b, true);
        if (!use_matmul)
            kernel_case_input(kc, 1, (int64_t[]){ n }, c, true);
        expect_run_ok(kc, "first plan");
        kernel_case_drop_constant(kc, b_value);

        for (int m = 5; m <= 7; m += 2) {
            float *a2 = random_floats((int64_t)m * k);
            kernel_case_set_input(kc, a_value, 2, (int64_t[]){ m, k }, a2);
            expect_run_ok(kc, "second plan");
            fs_ref_gemm_shape shape = { .m = m, .n = n, .k = k, .alpha = 1.0f, .beta = 1.0f,
                                        .c_stride_n = 1 };
            float *ref = malloc((size_t)m * n * sizeof *ref);
            fs_ref_gemm(&shape, a2, b, use_matmul ? NULL : c, ref);
            expect_shape(kc, 2, (int64_t[]){ m, n }, "second plan");
            expect_close(kc->output, ref, (int64_t)m * n, "second plan with packed B");
            free(ref);
            free(a2);
        }
        kernel_case_free(kc);
        free(a);
    }
    free(b);
    free(c);
}

static void gemm_rejects_mismatched_inner_dims(void **state)
{
    float values[64] = { 0 };
    kernel_case *kc = kernel_case_create("Gemm");
    kernel_case_input(kc, 2, (int64_t[]){ 2, 3 }, values, false);
    kernel_case_input(kc, 2, (int64_t[]){ 4, 5 }, values, true);
    fs_error err;
    assert_int_equal(kernel_case_run(kc, &err), FACESIM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "inner dimensions"));
    kernel_case_free(kc);
}

/* ---- MatMul ---- */

typedef struct matmul_case {
    int a_rank, b_rank;
    int64_t a_dims[FS_MAX_RANK], b_dims[FS_MAX_RANK];
    bool constant_b;
} matmul_case;

/* Computes the expected output by numpy rules with the reference kernel. */
static void matmul_expected(const matmul_case *mc, const float *a, const float *b, float **out,
                            int *out_rank, int64_t *out_dims)
{
    int64_t m = mc->a_rank == 1 ? 1 : mc->a_dims[mc->a_rank - 2];
    int64_t k = mc->a_dims[mc->a_rank - 1];
    int64_t n = mc->b_rank == 1 ? 1 : mc->b_dims[mc->b_rank - 1];
    int a_batch = mc->a_rank > 2 ? mc->a_rank - 2 : 0;
    int b_batch = mc->b_rank > 2 ? mc->b_rank - 2 : 0;
    fs_ref_matmul_shape shape = { .m = m, .n = n, .k = k };
    shape.batch_rank = a_batch > b_batch ? a_batch : b_batch;
    int64_t a_dims[FS_MAX_RANK], b_dims[FS_MAX_RANK];
    for (int d = 0; d < shape.batch_rank; d++) {
        int ad = d - (shape.batch_rank - a_batch), bd = d - (shape.batch_rank - b_batch);
        a_dims[d] = ad >= 0 ? mc->a_dims[ad] : 1;
        b_dims[d] = bd >= 0 ? mc->b_dims[bd] : 1;
        shape.batch_dims[d] = a_dims[d] > b_dims[d] ? a_dims[d] : b_dims[d];
    }
    int64_t a_stride = m * k, b_stride = k * n;
    for (int d = shape.batch_rank - 1; d >= 0; d--) {
        shape.a_batch_strides[d] = a_dims[d] == 1 ? 0 : a_stride;
        shape.b_batch_strides[d] = b_dims[d] == 1 ? 0 : b_stride;
        a_stride *= a_dims[d];
        b_stride *= b_dims[d];
    }
    *out_rank = 0;
    for (int d = 0; d < shape.batch_rank; d++)
        out_dims[(*out_rank)++] = shape.batch_dims[d];
    if (mc->a_rank > 1)
        out_dims[(*out_rank)++] = m;
    if (mc->b_rank > 1)
        out_dims[(*out_rank)++] = n;
    *out = malloc((size_t)kernel_numel(*out_rank, out_dims) * sizeof **out);
    assert_non_null(*out);
    fs_ref_matmul(&shape, a, b, *out);
}

static void matmul_broadcasting(void **state)
{
    rng_seed();
    const matmul_case cases[] = {
        { 1, 2, { 7 }, { 7, 5 }, true },
        { 2, 1, { 3, 7 }, { 7 }, false },
        { 1, 1, { 9 }, { 9 }, false },
        { 2, 2, { 6, 33 }, { 33, 17 }, true },
        { 2, 2, { 6, 33 }, { 33, 17 }, false },
        { 3, 2, { 4, 6, 8 }, { 8, 5 }, true },
        { 3, 2, { 4, 6, 8 }, { 8, 5 }, false },
        { 3, 3, { 4, 6, 8 }, { 4, 8, 5 }, false },
        { 3, 3, { 1, 6, 8 }, { 4, 8, 5 }, false },
        { 4, 4, { 2, 1, 3, 8 }, { 1, 3, 8, 4 }, false },
        { 2, 4, { 3, 8 }, { 2, 3, 8, 4 }, false },
        { 4, 3, { 2, 3, 5, 8 }, { 3, 8, 2 }, true },
        { 7, 2, { 2, 1, 2, 1, 2, 3, 4 }, { 4, 3 }, false },
        { 7, 7, { 2, 1, 2, 1, 2, 3, 4 }, { 1, 2, 1, 2, 1, 4, 3 }, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const matmul_case *mc = &cases[i];
        float *a = random_floats(kernel_numel(mc->a_rank, mc->a_dims));
        float *b = random_floats(kernel_numel(mc->b_rank, mc->b_dims));
        kernel_case *kc = kernel_case_create("MatMul");
        kernel_case_input(kc, mc->a_rank, mc->a_dims, a, false);
        kernel_case_input(kc, mc->b_rank, mc->b_dims, b, mc->constant_b);
        char case_name[64];
        snprintf(case_name, sizeof case_name, "matmul case %zu", i);
        expect_run_ok(kc, case_name);

        float *ref;
        int rank;
        int64_t dims[FS_MAX_RANK];
        matmul_expected(mc, a, b, &ref, &rank, dims);
        expect_shape(kc, rank, dims, case_name);
        expect_close(kc->output, ref, kernel_numel(rank, dims), case_name);
        free(ref);
        kernel_case_free(kc);
        free(a);
        free(b);
    }
}

static void matmul_rejects_bad_broadcast(void **state)
{
    float values[256] = { 0 };
    kernel_case *kc = kernel_case_create("MatMul");
    kernel_case_input(kc, 3, (int64_t[]){ 2, 3, 4 }, values, false);
    kernel_case_input(kc, 3, (int64_t[]){ 3, 4, 5 }, values, false);
    fs_error err;
    assert_int_equal(kernel_case_run(kc, &err), FACESIM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "do not broadcast"));
    kernel_case_free(kc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_random_shapes_match_reference),
        cmocka_unit_test(conv_replan_reads_packed_weights),
        cmocka_unit_test(conv_1x1_padded_with_sum),
        cmocka_unit_test(conv_same_activation_around_sum),
        cmocka_unit_test(conv_constant_input_writes_plain),
        cmocka_unit_test(conv_rejects_3d),
        cmocka_unit_test(conv_rejects_bad_group),
        cmocka_unit_test(conv_rejects_too_small_input),
        cmocka_unit_test(pool_random_shapes_match_reference),
        cmocka_unit_test(average_pool_ceil_include_pad_divisor),
        cmocka_unit_test(max_pool_ceil_drops_padding_window),
        cmocka_unit_test(pool_rejects_dilation),
        cmocka_unit_test(pool_rejects_indices_output),
        cmocka_unit_test(pool_rejects_missing_kernel_shape),
        cmocka_unit_test(gemm_all_combinations),
        cmocka_unit_test(gemm_recogniser_head),
        cmocka_unit_test(packed_b_survives_replan),
        cmocka_unit_test(gemm_rejects_mismatched_inner_dims),
        cmocka_unit_test(matmul_broadcasting),
        cmocka_unit_test(matmul_rejects_bad_broadcast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

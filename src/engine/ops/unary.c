/*
 * Unary elementwise ops: Relu, LeakyRelu, Clip, Sigmoid, Tanh, Exp, Sqrt, Neg,
 * Floor, and the copies Identity and Dropout (inference mode).
 *
 * Each output has its input's shape and type. Since every element is
 * computed independently, the ops read any memory layout and write their output
 * in the layout of their input (NHWC stays NHWC). Output and input may be the same
 * buffer.
 */
#include <math.h>
#include <string.h>

#include "engine/ops/ops_common.h"

typedef enum unary_kind {
    UNARY_RELU,
    UNARY_LEAKY_RELU,
    UNARY_CLIP,
    UNARY_SIGMOID,
    UNARY_TANH,
    UNARY_EXP,
    UNARY_SQRT,
    UNARY_NEG,
    UNARY_FLOOR
} unary_kind;

/* Checks input 0 and gives output 0 its shape; the caller has checked the other inputs. */
static int unary_infer_output(fs_graph *graph, fs_node *node, unsigned allowed, fs_error *err)
{
    int status = fs_ops_check_input(graph, node, 0, allowed, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *x = fs_node_input(graph, node, 0);
    return fs_ops_set_output(graph, node, 0, x->dtype, x->rank, x->dims, err);
}

static int unary_infer_typed(fs_graph *graph, fs_node *node, unsigned allowed, fs_error *err)
{
    int status = fs_op_check_arity(node, 1, 1, 1, err);
    if (status != FACESIM_OK)
        return status;
    return unary_infer_output(graph, node, allowed, err);
}

static int unary_infer_float(fs_graph *graph, fs_node *node, fs_error *err)
{
    return unary_infer_typed(graph, node, FS_OPS_FLOAT, err);
}

static int unary_infer_neg(fs_graph *graph, fs_node *node, fs_error *err)
{
    return unary_infer_typed(graph, node, FS_OPS_FLOAT | FS_OPS_INT64 | FS_OPS_INT32, err);
}

/* Reads a Clip bound given as optional input `index` (opset 11 and later): a float
 * scalar, or a one-element tensor as some exporters write it. */
static int unary_check_clip_bound(const fs_graph *graph, const fs_node *node, int index,
                                  fs_error *err)
{
    if (!fs_node_has_input(node, index))
        return FACESIM_OK;
    int status = fs_ops_check_input(graph, node, index, FS_OPS_FLOAT, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *bound = fs_node_input((fs_graph *)graph, node, index);
    if (fs_value_numel(bound) != 1)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "input %d ('%s', the %s bound) must be a scalar, it has %lld "
                            "elements",
                            index, bound->name, index == 1 ? "min" : "max",
                            (long long)fs_value_numel(bound));
    return FACESIM_OK;
}

static int unary_infer_clip(fs_graph *graph, fs_node *node, fs_error *err)
{
    int max_inputs = graph->opset >= 11 ? 3 : 1;
    int status = fs_op_check_arity(node, 1, max_inputs, 1, err);
    if (status != FACESIM_OK)
        return status;
    if (graph->opset < 11) {
        float low, high;
        status = fs_node_attr_float(node, "min", -INFINITY, &low, err);
        if (status == FACESIM_OK)
            status = fs_node_attr_float(node, "max", INFINITY, &high, err);
        if (status != FACESIM_OK)
            return status;
    } else {
        status = unary_check_clip_bound(graph, node, 1, err);
        if (status == FACESIM_OK)
            status = unary_check_clip_bound(graph, node, 2, err);
        if (status != FACESIM_OK)
            return status;
    }
    return unary_infer_output(graph, node, FS_OPS_FLOAT, err);
}

static int unary_infer_leaky_relu(fs_graph *graph, fs_node *node, fs_error *err)
{
    float alpha;
    int status = fs_node_attr_float(node, "alpha", 0.01f, &alpha, err);
    if (status != FACESIM_OK)
        return status;
    return unary_infer_float(graph, node, err);
}

static bool unary_accepts_layouts(const fs_graph *graph, const fs_node *node,
                                  const fs_layout *input_layouts)
{
    /* Clip's bounds are scalars, so only input 0 can be NHWC. */
    for (int i = 1; i < node->n_inputs; i++)
        if (node->inputs[i] >= 0 && input_layouts[i] != FS_LAYOUT_PLAIN)
            return false;
    return true;
}

static int unary_prepare(fs_run_ctx *ctx, fs_node *node, size_t *scratch_bytes, fs_error *err)
{
    *scratch_bytes = 0;
    ctx->tensors[node->outputs[0]].layout = fs_ops_input_layout(ctx, node, 0);
    return FACESIM_OK;
}

/* Reads a Clip bound: the attribute before opset 11, the optional input after. */
static float unary_clip_bound(const fs_run_ctx *ctx, const fs_node *node, int index,
                              const char *attr_name, float fallback)
{
    if (ctx->graph->opset < 11) {
        const fs_attr *attr = fs_node_attr(node, attr_name);
        return attr && attr->type == FS_ATTR_FLOAT ? attr->f : fallback;
    }
    if (!fs_node_has_input(node, index))
        return fallback;
    return *(const float *)fs_ops_input_data(ctx, node, index);
}

/* Elements per block of the two-pass Sigmoid loop; a block stays in L1 between passes. */
#define UNARY_SIGMOID_BLOCK 1024

/*
 * Logistic function 1 / (1 + e^-c) for c already clamped to [-88, 88]. NaN passes
 * through as NaN. It is written so that GCC vectorises it, because expf calls do not
 * vectorise without -ffast-math and a clamp inside the same loop keeps a branch under
 * -ftrapping-math. e^x uses the range reduction and polynomial of Cephes' expf:
 * x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-6 polynomial, and 2^n built in
 * the exponent bits. Measured against double precision over [-100, 100] in steps of
 * 0.0005: at most 9e-8 absolute and 1.5e-7 relative error. Below -88 the result is
 * about 6e-39 instead of 0 (also for -inf).
 */
static inline float unary_sigmoid_clamped(float c)
{
    float x = -c;
    /* Adding 1.5 * 2^23 rounds x / ln2 to the integer n, which then sits in the low
     * mantissa bits of t, so no float-to-int conversion is needed. */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t t_bits;
    memcpy(&t_bits, &t, sizeof t_bits);
    uint32_t power_bits = (t_bits - 0x4B400000u + 127u) << 23;
    float power;
    memcpy(&power, &power_bits, sizeof power);
    return 1.0f / (1.0f + p * power);
}

/* Sigmoid over count elements: per block, clamp into y, then transform y in place. */
static void unary_sigmoid(const float *x, float *y, int64_t count, int threads)
{
    int64_t blocks = (count + UNARY_SIGMOID_BLOCK - 1) / UNARY_SIGMOID_BLOCK;
    #pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (int64_t block = 0; block < blocks; block++) {
        int64_t begin = block * UNARY_SIGMOID_BLOCK;
        int64_t end = begin + UNARY_SIGMOID_BLOCK < count ? begin + UNARY_SIGMOID_BLOCK : count;
        #pragma omp simd
        for (int64_t i = begin; i < end; i++) {
            float v = x[i];
            y[i] = v < -88.0f ? -88.0f : (v > 88.0f ? 88.0f : v);
        }
        #pragma omp simd
        for (int64_t i = begin; i < end; i++)
            y[i] = unary_sigmoid_clamped(y[i]);
    }
}

/* Applies `expression` (of the input element `v`) to every element. */
#define UNARY_FLOAT_LOOP(expression)                                                       \
    do {                                                                                   \
        _Pragma("omp parallel for simd num_threads(threads) if (threads > 1) schedule(static)") \
        for (int64_t i = 0; i < count; i++) {                                              \
            float v = x[i];                                                                \
            y[i] = (expression);                                                           \
        }                                                                                  \
    } while (0)

static int unary_run_float(fs_run_ctx *ctx, fs_node *node, unary_kind kind, fs_error *err)
{
    const float *x = fs_ops_input_data(ctx, node, 0);
    float *y = fs_ops_output_data(ctx, node, 0);
    int64_t count = fs_value_numel(fs_node_input(ctx->graph, node, 0));
    int threads = fs_ops_threads(ctx, count);

    switch (kind) {
    case UNARY_RELU:
        UNARY_FLOAT_LOOP(v > 0.0f ? v : 0.0f);
        break;
    case UNARY_LEAKY_RELU: {
        float alpha = 0.01f;
        const fs_attr *attr = fs_node_attr(node, "alpha");
        if (attr && attr->type == FS_ATTR_FLOAT)
            alpha = attr->f;
        UNARY_FLOAT_LOOP((v > 0.0f ? v : 0.0f) + alpha * (v < 0.0f ? v : 0.0f));
        break;
    }
    case UNARY_CLIP: {
        float low = unary_clip_bound(ctx, node, 1, "min", -INFINITY);
        float high = unary_clip_bound(ctx, node, 2, "max", INFINITY);
        /* When min > max every element becomes max, as numpy.clip returns. NaN stays NaN. */
        UNARY_FLOAT_LOOP(v < low ? low : (v > high ? high : v));
        break;
    }
    case UNARY_SIGMOID:
        unary_sigmoid(x, y, count, threads);
        break;
    case UNARY_TANH:
        UNARY_FLOAT_LOOP(tanhf(v));
        break;
    case UNARY_EXP:
        UNARY_FLOAT_LOOP(expf(v));
        break;
    case UNARY_SQRT:
        UNARY_FLOAT_LOOP(sqrtf(v));
        break;
    case UNARY_NEG:
        UNARY_FLOAT_LOOP(-v);
        break;
    case UNARY_FLOOR:
        UNARY_FLOAT_LOOP(floorf(v));
        break;
    default:
        return fs_ops_error(err, node, FACESIM_ERR_INTERNAL, "unknown unary kind %d",
                            (int)kind);
    }
    return FACESIM_OK;
}

static int unary_run_neg(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    const fs_value *input = fs_node_input(ctx->graph, node, 0);
    int64_t count = fs_value_numel(input);
    if (input->dtype == FS_DTYPE_FLOAT)
        return unary_run_float(ctx, node, UNARY_NEG, err);
    if (input->dtype == FS_DTYPE_INT64) {
        const int64_t *x = fs_ops_input_data(ctx, node, 0);
        int64_t *y = fs_ops_output_data(ctx, node, 0);
        for (int64_t i = 0; i < count; i++)
            y[i] = (int64_t)(0 - (uint64_t)x[i]); /* wraps for INT64_MIN, no overflow */
        return FACESIM_OK;
    }
    const int32_t *x = fs_ops_input_data(ctx, node, 0);
    int32_t *y = fs_ops_output_data(ctx, node, 0);
    for (int64_t i = 0; i < count; i++)
        y[i] = (int32_t)(0 - (uint32_t)x[i]);
    return FACESIM_OK;
}

/* Copies input 0 to output 0 unless they share a buffer. Any type. */
static int unary_copy(fs_run_ctx *ctx, fs_node *node)
{
    const fs_value *input = fs_node_input(ctx->graph, node, 0);
    const void *x = fs_ops_input_data(ctx, node, 0);
    void *y = fs_ops_output_data(ctx, node, 0);
    size_t bytes = (size_t)fs_value_numel(input) * fs_dtype_size(input->dtype);
    if (x != y && bytes > 0)
        memmove(y, x, bytes);
    return FACESIM_OK;
}

static int identity_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    return unary_infer_typed(graph, node, FS_OPS_ANY_TYPE, err);
}

static int identity_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    return unary_copy(ctx, node);
}

/*
 * Dropout in inference: output = input, and the optional mask output is all true.
 * Opset 12 moved ratio and training_mode to inputs. A constant training_mode of true
 * would need random numbers, which facesim does not implement.
 */
static int dropout_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, 1, 3, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, FS_OPS_FLOAT, err);
    if (status != FACESIM_OK)
        return status;
    if (fs_node_has_input(node, 2)) {
        const fs_value *training = fs_node_input(graph, node, 2);
        if (training->dtype != FS_DTYPE_BOOL || fs_value_numel(training) != 1)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "input 2 (training_mode) '%s' must be a boolean scalar",
                                training->name);
        if (!training->data)
            return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                                "input 2 (training_mode) '%s' is computed at run time; "
                                "facesim runs Dropout in inference mode only and needs it "
                                "to be a constant false",
                                training->name);
        if (*(const uint8_t *)training->data)
            return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                                "training_mode is true; facesim runs Dropout in inference "
                                "mode only. Export the model in evaluation mode");
    }
    const fs_value *x = fs_node_input(graph, node, 0);
    status = fs_ops_set_output(graph, node, 0, x->dtype, x->rank, x->dims, err);
    if (status == FACESIM_OK && node->n_outputs > 1 && node->outputs[1] >= 0)
        status = fs_ops_set_output(graph, node, 1, FS_DTYPE_BOOL, x->rank, x->dims, err);
    return status;
}

static int dropout_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    unary_copy(ctx, node);
    if (node->n_outputs > 1 && node->outputs[1] >= 0) {
        int64_t count = fs_value_numel(fs_node_input(ctx->graph, node, 0));
        memset(fs_ops_output_data(ctx, node, 1), 1, (size_t)count);
    }
    return FACESIM_OK;
}

#define UNARY_RUN(name, kind)                                                              \
    static int name##_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)                   \
    {                                                                                      \
        return unary_run_float(ctx, node, kind, err);                                      \
    }

UNARY_RUN(relu, UNARY_RELU)
UNARY_RUN(leaky_relu, UNARY_LEAKY_RELU)
UNARY_RUN(clip, UNARY_CLIP)
UNARY_RUN(sigmoid, UNARY_SIGMOID)
UNARY_RUN(tanh, UNARY_TANH)
UNARY_RUN(exp, UNARY_EXP)
UNARY_RUN(sqrt, UNARY_SQRT)
UNARY_RUN(floor, UNARY_FLOOR)

#define UNARY_OP(name, type, infer_fn, run_fn)                                             \
    const fs_op fs_op_##name = {                                                           \
        .op_type = type,                                                                   \
        .infer = infer_fn,                                                                 \
        .accepts_layouts = unary_accepts_layouts,                                          \
        .prepare = unary_prepare,                                                          \
        .run = run_fn,                                                                     \
    };

UNARY_OP(relu, "Relu", unary_infer_float, relu_run)
UNARY_OP(leaky_relu, "LeakyRelu", unary_infer_leaky_relu, leaky_relu_run)
UNARY_OP(clip, "Clip", unary_infer_clip, clip_run)
UNARY_OP(sigmoid, "Sigmoid", unary_infer_float, sigmoid_run)
UNARY_OP(tanh, "Tanh", unary_infer_float, tanh_run)
UNARY_OP(exp, "Exp", unary_infer_float, exp_run)
UNARY_OP(sqrt, "Sqrt", unary_infer_float, sqrt_run)
UNARY_OP(neg, "Neg", unary_infer_neg, unary_run_neg)
UNARY_OP(floor, "Floor", unary_infer_float, floor_run)
UNARY_OP(identity, "Identity", identity_infer, identity_run)
UNARY_OP(dropout, "Dropout", dropout_infer, dropout_run)

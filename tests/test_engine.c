/*
 * Engine core on small hand-built graphs: constant folding, BatchNormalization folding,
 * activation and residual fusion, layout conversion, re-planning, the batch rewrite,
 * memory reuse, packed-weight release and the errors for unsupported ops and bad inputs.
 *
 * Results are checked against naive C references computed here from the same random
 * data (seeded), with a tolerance of 1e-4 relative to the output scale.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/op.h"
#include "engine/plan.h"

/* ---- Graph building ---- */

static uint32_t random_state = 12345;

static float random_uniform(float low, float high)
{
    random_state = random_state * 1664525u + 1013904223u;
    return low + (high - low) * (float)(random_state >> 8) / (float)(1u << 24);
}

static float *random_floats(int64_t count, float low, float high)
{
    float *data = malloc((size_t)count * sizeof *data);
    assert_non_null(data);
    for (int64_t i = 0; i < count; i++)
        data[i] = random_uniform(low, high);
    return data;
}

static int64_t dims_count(int rank, const int64_t *dims)
{
    int64_t count = 1;
    for (int d = 0; d < rank; d++)
        count *= dims[d];
    return count;
}

/* Starts a graph read as ONNX opset 13 (Softmax normalises along one axis there). */
static fs_graph *new_graph(const char *path)
{
    fs_graph *graph = fs_graph_create(path);
    assert_non_null(graph);
    graph->opset = 13;
    return graph;
}

/* Adds a constant; data (count floats or int64s by dtype) is copied. */
static int add_constant(fs_graph *graph, const char *name, fs_dtype dtype, int rank,
                        const int64_t *dims, const void *data)
{
    int index = fs_graph_add_value(graph, name);
    assert_true(index >= 0);
    fs_value *value = &graph->values[index];
    fs_value_set_shape(value, dtype, rank, dims);
    size_t bytes = (size_t)dims_count(rank, dims) * fs_dtype_size(dtype);
    value->data = malloc(bytes ? bytes : 1);
    assert_non_null(value->data);
    memcpy(value->data, data, bytes);
    value->owns_data = true;
    return index;
}

static int add_input(fs_graph *graph, const char *name, int rank, const int64_t *dims)
{
    int index = fs_graph_add_value(graph, name);
    assert_true(index >= 0);
    fs_value_set_shape(&graph->values[index], FS_DTYPE_FLOAT, rank, dims);
    graph->values[index].is_graph_input = true;
    graph->inputs = realloc(graph->inputs, (size_t)(graph->n_inputs + 1) * sizeof(int));
    assert_non_null(graph->inputs);
    graph->inputs[graph->n_inputs++] = index;
    return index;
}

static void add_output(fs_graph *graph, int index)
{
    graph->values[index].is_graph_output = true;
    graph->outputs = realloc(graph->outputs, (size_t)(graph->n_outputs + 1) * sizeof(int));
    assert_non_null(graph->outputs);
    graph->outputs[graph->n_outputs++] = index;
}

static int add_value(fs_graph *graph, const char *name)
{
    int index = fs_graph_add_value(graph, name);
    assert_true(index >= 0);
    return index;
}

static int add_node(fs_graph *graph, const char *name, const char *op_type, const int *inputs,
                    int n_inputs, int output)
{
    int index = fs_graph_add_node(graph, name, op_type, inputs, n_inputs, &output, 1);
    assert_true(index >= 0);
    graph->values[output].producer = index;
    return index;
}

static fs_attr *add_attr(fs_graph *graph, int node_index, const char *name, fs_attr_type type)
{
    fs_node *node = &graph->nodes[node_index];
    node->attrs = realloc(node->attrs, (size_t)(node->n_attrs + 1) * sizeof *node->attrs);
    assert_non_null(node->attrs);
    fs_attr *attr = &node->attrs[node->n_attrs++];
    memset(attr, 0, sizeof *attr);
    attr->name = strdup(name);
    attr->type = type;
    return attr;
}

static void attr_ints(fs_graph *graph, int node_index, const char *name, const int64_t *values,
                      size_t count)
{
    fs_attr *attr = add_attr(graph, node_index, name, FS_ATTR_INTS);
    attr->ints = malloc(count * sizeof *attr->ints);
    memcpy(attr->ints, values, count * sizeof *attr->ints);
    attr->count = count;
}

static void attr_int(fs_graph *graph, int node_index, const char *name, int64_t value)
{
    add_attr(graph, node_index, name, FS_ATTR_INT)->i = value;
}

static void attr_float(fs_graph *graph, int node_index, const char *name, float value)
{
    add_attr(graph, node_index, name, FS_ATTR_FLOAT)->f = value;
}

/* Adds Conv(x, W[out, in, 3, 3], b) with pads 1 and returns the node index. */
static int add_conv3x3(fs_graph *graph, const char *name, int x, int64_t in, int64_t out,
                       int output, float **weight_out, float **bias_out)
{
    char text[64];
    int64_t weight_dims[4] = {out, in, 3, 3};
    float *weight = random_floats(out * in * 9, -0.5f, 0.5f);
    float *bias = random_floats(out, -0.2f, 0.2f);
    snprintf(text, sizeof text, "%s.weight", name);
    int w = add_constant(graph, text, FS_DTYPE_FLOAT, 4, weight_dims, weight);
    snprintf(text, sizeof text, "%s.bias", name);
    int b = add_constant(graph, text, FS_DTYPE_FLOAT, 1, &out, bias);
    int inputs[3] = {x, w, b};
    int node = add_node(graph, name, "Conv", inputs, 3, output);
    int64_t pads[4] = {1, 1, 1, 1};
    attr_ints(graph, node, "pads", pads, 4);
    int64_t kernel[2] = {3, 3};
    attr_ints(graph, node, "kernel_shape", kernel, 2);
    *weight_out = weight;
    *bias_out = bias;
    return node;
}

/* ---- Naive references (NCHW) ---- */

static void reference_conv3x3(const float *x, const float *weight, const float *bias,
                              int64_t batch, int64_t in, int64_t out, int64_t height,
                              int64_t width, float *y)
{
    for (int64_t n = 0; n < batch; n++)
        for (int64_t o = 0; o < out; o++)
            for (int64_t h = 0; h < height; h++)
                for (int64_t w = 0; w < width; w++) {
                    double sum = bias[o];
                    for (int64_t c = 0; c < in; c++)
                        for (int64_t kh = 0; kh < 3; kh++)
                            for (int64_t kw = 0; kw < 3; kw++) {
                                int64_t ih = h + kh - 1, iw = w + kw - 1;
                                if (ih < 0 || iw < 0 || ih >= height || iw >= width)
                                    continue;
                                sum += (double)x[((n * in + c) * height + ih) * width + iw] *
                                       weight[((o * in + c) * 3 + kh) * 3 + kw];
                            }
                    y[((n * out + o) * height + h) * width + w] = (float)sum;
                }
}

static void assert_close(const float *actual, const float *expected, int64_t count)
{
    float scale = 1.0f;
    for (int64_t i = 0; i < count; i++)
        if (fabsf(expected[i]) > scale)
            scale = fabsf(expected[i]);
    for (int64_t i = 0; i < count; i++) {
        if (fabsf(actual[i] - expected[i]) > 1e-4f * scale) {
            fail_msg("element %lld: engine %.7g, reference %.7g", (long long)i, actual[i],
                     expected[i]);
        }
    }
}

/* ---- Engine helpers ---- */

static fs_engine *load_graph(fs_graph *graph)
{
    fs_engine_params params;
    fs_engine_default_params(&params);
    params.threads = 1;
    fs_engine *engine = NULL;
    fs_error err;
    fs_error_clear(&err);
    int status = fs_engine_load_graph(graph, &params, &engine, &err);
    if (status != FACESIM_OK)
        fail_msg("load failed: %s", err.message);
    return engine;
}

static fs_tensor_data float_tensor(int rank, const int64_t *dims, float *data)
{
    fs_tensor_data tensor = {FS_DTYPE_FLOAT, rank, {0}, data};
    memcpy(tensor.dims, dims, (size_t)rank * sizeof *dims);
    return tensor;
}

static fs_tensor_data run_one(fs_engine *engine, fs_tensor_data input)
{
    fs_tensor_data output;
    fs_error err;
    fs_error_clear(&err);
    int status = fs_engine_run(engine, &input, 1, &output, 1, &err);
    if (status != FACESIM_OK)
        fail_msg("run failed: %s", err.message);
    return output;
}

static int count_steps(const fs_plan *plan, fs_step_kind kind, const char *op_type)
{
    int count = 0;
    for (int s = 0; s < plan->n_steps; s++) {
        const fs_step *step = &plan->steps[s];
        if (step->kind != kind)
            continue;
        if (op_type && strcmp(plan->graph->nodes[step->node].op_type, op_type) != 0)
            continue;
        count++;
    }
    return count;
}

/* ---- Tests ---- */

/* y = x + (a + b): the constant Add folds away, one step remains. */
static void fold_constant_add(void **state)
{
    fs_graph *graph = new_graph("fold.onnx");
    int64_t dims[2] = {2, 3};
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {10, 20, 30, 40, 50, 60};
    int ca = add_constant(graph, "a", FS_DTYPE_FLOAT, 2, dims, a);
    int cb = add_constant(graph, "b", FS_DTYPE_FLOAT, 2, dims, b);
    int x = add_input(graph, "x", 2, dims);
    int sum = add_value(graph, "sum"), y = add_value(graph, "y");
    add_node(graph, "add_constants", "Add", (int[]){ca, cb}, 2, sum);
    add_node(graph, "add_input", "Add", (int[]){x, sum}, 2, y);
    add_output(graph, y);

    fs_engine *engine = load_graph(graph);
    float input[6] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    fs_tensor_data out = run_one(engine, float_tensor(2, dims, input));
    const fs_plan *plan = fs_engine_current_plan(engine);
    assert_int_equal(plan->n_steps, 1);
    assert_true(plan->graph->nodes[0].removed);
    const float *result = out.data;
    for (int i = 0; i < 6; i++)
        assert_float_equal(result[i], a[i] + b[i] + 0.5f, 1e-6);
    fs_engine_free(engine);
}

/* y = x + Conv(c) with c constant: the Conv folds, and its NHWC result is stored plain. */
static void fold_constant_conv(void **state)
{
    const int64_t channels = 2, height = 3, width = 5, count = 2 * 3 * 5;
    fs_graph *graph = new_graph("fold_conv.onnx");
    int64_t dims[4] = {1, channels, height, width};
    float *constant_input = random_floats(count, -1, 1);
    int c = add_constant(graph, "c", FS_DTYPE_FLOAT, 4, dims, constant_input);
    int x = add_input(graph, "x", 4, dims);
    int conv_out = add_value(graph, "conv_out"), y = add_value(graph, "y");
    float *weight, *bias;
    add_conv3x3(graph, "conv", c, channels, channels, conv_out, &weight, &bias);
    add_node(graph, "add", "Add", (int[]){x, conv_out}, 2, y);
    add_output(graph, y);

    float expected[2 * 3 * 5];
    reference_conv3x3(constant_input, weight, bias, 1, channels, channels, height, width,
                      expected);
    float conv_expected[2 * 3 * 5];
    memcpy(conv_expected, expected, sizeof conv_expected);
    float *input = random_floats(count, -1, 1);
    for (int64_t i = 0; i < count; i++)
        expected[i] += input[i];

    fs_engine *engine = load_graph(graph);
    fs_tensor_data result = run_one(engine, float_tensor(4, dims, input));
    const fs_plan *plan = fs_engine_current_plan(engine);
    assert_int_equal(count_steps(plan, FS_STEP_OP, "Conv"), 0);
    assert_int_equal(plan->n_steps, 1);
    assert_close(result.data, expected, count);
    /* Constants are plain whatever layout the folded op wrote. */
    assert_int_equal(plan->ctx.tensors[conv_out].layout, FS_LAYOUT_PLAIN);
    assert_close(plan->graph->values[conv_out].data, conv_expected, count);
    fs_engine_free(engine);
    free(constant_input), free(weight), free(bias), free(input);
}

/* Conv -> BatchNormalization folds into one Conv with the same result. */
static void batch_norm_folds_into_conv(void **state)
{
    const int64_t in = 3, out = 4, height = 5, width = 6;
    fs_graph *graph = new_graph("bn.onnx");
    int64_t input_dims[4] = {1, in, height, width};
    int x = add_input(graph, "x", 4, input_dims);
    int conv_out = add_value(graph, "conv_out"), y = add_value(graph, "y");
    float *weight, *bias;
    add_conv3x3(graph, "conv", x, in, out, conv_out, &weight, &bias);
    float *gamma = random_floats(out, 0.5f, 1.5f), *beta = random_floats(out, -1, 1);
    float *mean = random_floats(out, -1, 1), *variance = random_floats(out, 0.1f, 2.0f);
    int g = add_constant(graph, "gamma", FS_DTYPE_FLOAT, 1, &out, gamma);
    int be = add_constant(graph, "beta", FS_DTYPE_FLOAT, 1, &out, beta);
    int m = add_constant(graph, "mean", FS_DTYPE_FLOAT, 1, &out, mean);
    int v = add_constant(graph, "var", FS_DTYPE_FLOAT, 1, &out, variance);
    int bn = add_node(graph, "bn", "BatchNormalization", (int[]){conv_out, g, be, m, v}, 5, y);
    attr_float(graph, bn, "epsilon", 1e-3f);
    add_output(graph, y);

    float *input = random_floats(in * height * width, -1, 1);
    float *expected = malloc((size_t)(out * height * width) * sizeof *expected);
    reference_conv3x3(input, weight, bias, 1, in, out, height, width, expected);
    for (int64_t o = 0; o < out; o++)
        for (int64_t p = 0; p < height * width; p++) {
            float *e = &expected[o * height * width + p];
            *e = gamma[o] * (*e - mean[o]) / sqrtf(variance[o] + 1e-3f) + beta[o];
        }

    fs_engine *engine = load_graph(graph);
    fs_tensor_data result = run_one(engine, float_tensor(4, input_dims, input));
    const fs_plan *plan = fs_engine_current_plan(engine);
    assert_int_equal(count_steps(plan, FS_STEP_OP, "BatchNormalization"), 0);
    assert_int_equal(count_steps(plan, FS_STEP_OP, "Conv"), 1);
    assert_int_equal(result.rank, 4);
    assert_int_equal(result.dims[1], out);
    assert_close(result.data, expected, out * height * width);

    /* The original weight is unused after folding and has been freed. */
    const fs_graph *source = fs_engine_source_graph(engine);
    assert_null(source->values[fs_graph_find_value(source, "conv.weight")].data);

    fs_engine_free(engine);
    free(weight), free(bias), free(gamma), free(beta), free(mean), free(variance);
    free(input), free(expected);
}

/* Gemm(x, W, C) with transB -> BatchNormalization folds into one Gemm. */
static void batch_norm_folds_into_gemm(void **state)
{
    const int64_t rows = 3, inner = 5, columns = 4;
    fs_graph *graph = new_graph("gemm_bn.onnx");
    int64_t input_dims[2] = {rows, inner}, weight_dims[2] = {columns, inner};
    int x = add_input(graph, "x", 2, input_dims);
    float *weight = random_floats(columns * inner, -1, 1);
    float *bias = random_floats(columns, -1, 1);
    int w = add_constant(graph, "fc.weight", FS_DTYPE_FLOAT, 2, weight_dims, weight);
    int c = add_constant(graph, "fc.bias", FS_DTYPE_FLOAT, 1, &columns, bias);
    int gemm_out = add_value(graph, "gemm_out"), y = add_value(graph, "y");
    int gemm = add_node(graph, "fc", "Gemm", (int[]){x, w, c}, 3, gemm_out);
    attr_int(graph, gemm, "transB", 1);
    attr_float(graph, gemm, "beta", 0.5f);
    float *gamma = random_floats(columns, 0.5f, 1.5f), *beta = random_floats(columns, -1, 1);
    float *mean = random_floats(columns, -1, 1), *variance = random_floats(columns, 0.1f, 2);
    int g = add_constant(graph, "gamma", FS_DTYPE_FLOAT, 1, &columns, gamma);
    int be = add_constant(graph, "beta", FS_DTYPE_FLOAT, 1, &columns, beta);
    int m = add_constant(graph, "mean", FS_DTYPE_FLOAT, 1, &columns, mean);
    int v = add_constant(graph, "var", FS_DTYPE_FLOAT, 1, &columns, variance);
    add_node(graph, "bn", "BatchNormalization", (int[]){gemm_out, g, be, m, v}, 5, y);
    add_output(graph, y);

    float *input = random_floats(rows * inner, -1, 1);
    float expected[3 * 4];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t n = 0; n < columns; n++) {
            double sum = 0.5 * bias[n];
            for (int64_t k = 0; k < inner; k++)
                sum += (double)input[r * inner + k] * weight[n * inner + k];
            expected[r * columns + n] =
                (float)(gamma[n] * (sum - mean[n]) / sqrt(variance[n] + 1e-5) + beta[n]);
        }

    fs_engine *engine = load_graph(graph);
    fs_tensor_data result = run_one(engine, float_tensor(2, input_dims, input));
    const fs_plan *plan = fs_engine_current_plan(engine);
    assert_int_equal(count_steps(plan, FS_STEP_OP, "BatchNormalization"), 0);
    assert_int_equal(count_steps(plan, FS_STEP_OP, "Gemm"), 1);
    assert_close(result.data, expected, rows * columns);
    fs_engine_free(engine);
    free(weight), free(bias), free(gamma), free(beta), free(mean), free(variance);
    free(input);
}

/* Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])), SCRFD's pattern: everything
 * but the Reshape folds once the input shape is known. */
static void shape_chain_folds(void **state)
{
    if (!fs_op_find("Gather") || !fs_op_find("Unsqueeze") || !fs_op_find("Concat"))
        skip();
    fs_graph *graph = new_graph("shape_chain.onnx");
    int64_t declared[4] = {1, 3, -1, -1};
    int x = add_input(graph, "x", 4, declared);
    int64_t zero = 0, minus_one = -1, one_dim[1] = {1};
    int index = add_constant(graph, "index", FS_DTYPE_INT64, 0, NULL, &zero);
    int axes = add_constant(graph, "axes", FS_DTYPE_INT64, 1, one_dim, &zero);
    int rest = add_constant(graph, "rest", FS_DTYPE_INT64, 1, one_dim, &minus_one);
    int shape = add_value(graph, "shape"), batch = add_value(graph, "batch");
    int batch_1d = add_value(graph, "batch_1d"), target = add_value(graph, "target");
    int y = add_value(graph, "y");
    add_node(graph, "shape", "Shape", (int[]){x}, 1, shape);
    int gather = add_node(graph, "gather", "Gather", (int[]){shape, index}, 2, batch);
    attr_int(graph, gather, "axis", 0);
    add_node(graph, "unsqueeze", "Unsqueeze", (int[]){batch, axes}, 2, batch_1d);
    int concat = add_node(graph, "concat", "Concat", (int[]){batch_1d, rest}, 2, target);
    attr_int(graph, concat, "axis", 0);
    add_node(graph, "reshape", "Reshape", (int[]){x, target}, 2, y);
    add_output(graph, y);

    fs_engine *engine = load_graph(graph);
    int64_t dims[4] = {1, 3, 4, 5};
    float *input = random_floats(60, -1, 1);
    fs_tensor_data result = run_one(engine, float_tensor(4, dims, input));
    const fs_plan *plan = fs_engine_current_plan(engine);
    assert_int_equal(plan->n_steps, 1);
    assert_int_equal(count_steps(plan, FS_STEP_OP, "Reshape"), 1);
    assert_int_equal(result.rank, 2);
    assert_int_equal(result.dims[0], 1);
    assert_int_equal(result.dims[1], 60);
    assert_memory_equal(result.data, input, 60 * sizeof(float));
    fs_engine_free(engine);
    free(input);
}

/* Builds x -> Conv -> <activation> -> y and checks fusion and the result. */
static void check_activation_fusion(const char *op_type)
{
    const int64_t in = 2, out = 3, height = 4, width = 4;
    fs_graph *graph = new_graph("act.onnx");
    int64_t input_dims[4] = {1, in, height, width};
    int x = add_input(graph, "x", 4, input_dims);
    int conv_out = add_value(graph, "conv_out"), y = add_value(graph, "y");
    float *weight, *bias;
    add_conv3x3(graph, "conv", x, in, out, conv_out, &weight, &bias);

    float low = -0.25f, high = 0.5f;
    float slope[3] = {0.1f, -0.3f, 2.0f};
    int inputs[3] = {conv_out, -1, -1};
    int n_inputs = 1;
    if (strcmp(op_type, "Clip") == 0) {
        int64_t scalar_dims[1] = {0};
        inputs[1] = add_constant(graph, "low", FS_DTYPE_FLOAT, 0, scalar_dims, &low);
        inputs[2] = add_constant(graph, "high", FS_DTYPE_FLOAT, 0, scalar_dims, &high);
        n_inputs = 3;
    } else if (strcmp(op_type, "PRelu") == 0) {
        int64_t slope_dims[3] = {out, 1, 1};
        inputs[1] = add_constant(graph, "slope", FS_DTYPE_FLOAT, 3, slope_dims, slope);
        n_inputs = 2;
    }
    add_node(graph, "activation", op_type, inputs, n_inputs, y);
    add_output(graph, y);

    float *input = random_floats(in * height * width, -1, 1);
    int64_t count = out * height * width;
    float *expected = malloc((size_t)count * sizeof *expected);
    reference_conv3x3(input, weight, bias, 1, in, out, height, width, expected);
    for (int64_t i = 0; i < count; i++) {
        float value = expected[i];
        if (strcmp(op_type, "Relu") == 0)
            value = value > 0 ? value : 0;
        else if (strcmp(op_type, "Clip") == 0)
            value = value < low ? low : (value > high ? high : value);
        else
            value = value >= 0 ? value : value * slope[i / (height * width)];
        expected[i] = value;
    }

    fs_engine *engine = load_graph(graph);
    fs_tensor_data result = run_one(engine, float_tensor(4, input_dims, input));
    const fs_plan *plan = fs_engine_current_plan(engine);
    assert_int_equal(count_steps(plan, FS_STEP_OP, op_type), 0);
    assert_int_equal(count_steps(plan, FS_STEP_OP, "Conv"), 1);
    assert_close(result.data, expected, count);
    fs_engine_free(engine);
    free(weight), free(bias), free(input), free(expected);
}

static void relu_fuses_into_conv(void **state)
{
    check_activation_fusion("Relu");
}

static void clip_fuses_into_conv(void **state)
{
    check_activation_fusion("Clip");
}

static void prelu_fuses_into_conv(void **state)
{
    check_activation_fusion("PRelu");
}

/* y = Conv2(Conv1(x)) + Conv1(x): the Add becomes Conv2's fused sum. */
static void residual_add_fuses_into_conv(void **state)
{
    const int64_t channels = 4, height = 5, width = 5;
    fs_graph *graph = new_graph("residual.onnx");
    int64_t dims[4] = {1, channels, height, width};
    int x = add_input(graph, "x", 4, dims);
    int a = add_value(graph, "a"), b = add_value(graph, "b"), y = add_value(graph, "y");
    float *w1, *b1, *w2, *b2;
    add_conv3x3(graph, "conv1", x, channels, channels, a, &w1, &b1);
    add_conv3x3(graph, "conv2", a, channels, channels, b, &w2, &b2);
    add_node(graph, "add", "Add", (int[]){b, a}, 2, y);
    add_output(graph, y);

    int64_t count = channels * height * width;
    float *input = random_floats(count, -1, 1);
    float *first = malloc((size_t)count * sizeof *first);
    float *expected = malloc((size_t)count * sizeof *expected);
    reference_conv3x3(input, w1, b1, 1, channels, channels, height, width, first);
    reference_conv3x3(first, w2, b2, 1, channels, channels, height, width, expected);
    for (int64_t i = 0; i < count; i++)
        expected[i] += first[i];

    fs_engine *engine = load_graph(graph);
    fs_tensor_data result = run_one(engine, float_tensor(4, dims, input));
    const fs_plan *plan = fs_engine_current_plan(engine);
    assert_int_equal(count_steps(plan, FS_STEP_OP, "Add"), 0);
    assert_int_equal(count_steps(plan, FS_STEP_OP, "Conv"), 2);
    assert_int_equal(plan->graph->nodes[1].fused_sum, a);
    assert_close(result.data, expected, count);
    fs_engine_free(engine);
    free(w1), free(b1), free(w2), free(b2), free(input), free(first), free(expected);
}

/* y = activation(Conv2(Conv1(x)) + Conv1(x)), activation Relu or Clip: the Add and the
 * activation after it both fuse into Conv2. With keep_sum_output the Add's result is a
 * graph output too, so the activation must stay a separate step. */
static void check_activation_after_residual(const char *op_type, bool keep_sum_output)
{
    const int64_t channels = 4, height = 5, width = 5;
    fs_graph *graph = new_graph("residual_act.onnx");
    int64_t dims[4] = {1, channels, height, width};
    int x = add_input(graph, "x", 4, dims);
    int a = add_value(graph, "a"), b = add_value(graph, "b"), sum = add_value(graph, "sum");
    int y = add_value(graph, "y");
    float *w1, *b1, *w2, *b2;
    add_conv3x3(graph, "conv1", x, channels, channels, a, &w1, &b1);
    add_conv3x3(graph, "conv2", a, channels, channels, b, &w2, &b2);
    add_node(graph, "add", "Add", (int[]){b, a}, 2, sum);
    float low = -0.2f, high = 0.6f;
    int64_t scalar_dims[1] = {0};
    if (strcmp(op_type, "Clip") == 0) {
        int bounds[2] = {add_constant(graph, "low", FS_DTYPE_FLOAT, 0, scalar_dims, &low),
                         add_constant(graph, "high", FS_DTYPE_FLOAT, 0, scalar_dims, &high)};
        add_node(graph, "activation", "Clip", (int[]){sum, bounds[0], bounds[1]}, 3, y);
    } else {
        add_node(graph, "activation", op_type, (int[]){sum}, 1, y);
    }
    add_output(graph, y);
    if (keep_sum_output)
        add_output(graph, sum);

    int64_t count = channels * height * width;
    float *input = random_floats(count, -1, 1);
    float *first = malloc((size_t)count * sizeof *first);
    float *expected = malloc((size_t)count * sizeof *expected);
    reference_conv3x3(input, w1, b1, 1, channels, channels, height, width, first);
    reference_conv3x3(first, w2, b2, 1, channels, channels, height, width, expected);
    int negative = 0, above = 0;
    for (int64_t i = 0; i < count; i++) {
        float value = expected[i] + first[i];
        negative += value < low;
        above += value > high;
        if (strcmp(op_type, "Relu") == 0)
            value = value > 0 ? value : 0;
        else
            value = value < low ? low : (value > high ? high : value);
        expected[i] = value;
    }
    /* The data must reach both sides of the activation, or the check proves nothing. */
    assert_true(negative > 0);
    assert_true(strcmp(op_type, "Relu") == 0 || above > 0);

    fs_engine *engine = load_graph(graph);
    fs_tensor_data result = run_one(engine, float_tensor(4, dims, input));
    const fs_plan *plan = fs_engine_current_plan(engine);
    assert_int_equal(count_steps(plan, FS_STEP_OP, "Add"), 0);
    assert_int_equal(count_steps(plan, FS_STEP_OP, "Conv"), 2);
    assert_int_equal(count_steps(plan, FS_STEP_OP, op_type), keep_sum_output ? 1 : 0);
    assert_int_equal(plan->graph->nodes[1].fused_sum, a);
    int expected_kind = strcmp(op_type, "Relu") == 0 ? FS_ACTIVATION_RELU : FS_ACTIVATION_CLIP;
    assert_int_equal(plan->graph->nodes[1].fused_sum_activation,
                     keep_sum_output ? FS_ACTIVATION_NONE : expected_kind);
    assert_close(result.data, expected, count);
    fs_engine_free(engine);
    free(w1), free(b1), free(w2), free(b2), free(input), free(first), free(expected);
}

static void relu_after_residual_add_fuses(void **state)
{
    check_activation_after_residual("Relu", false);
}

static void clip_after_residual_add_fuses(void **state)
{
    check_activation_after_residual("Clip", false);
}

static void relu_after_residual_output_stays(void **state)
{
    check_activation_after_residual("Relu", true);
}

/* y = Conv(x) + x with x a plain graph input: the fused sum reads a plain operand while
 * the Conv writes NHWC. */
static void residual_add_of_graph_input(void **state)
{
    const int64_t channels = 3, height = 4, width = 6;
    fs_graph *graph = new_graph("residual_input.onnx");
    int64_t dims[4] = {1, channels, height, width};
    int x = add_input(graph, "x", 4, dims);
    int a = add_value(graph, "a"), y = add_value(graph, "y");
    float *weight, *bias;
    add_conv3x3(graph, "conv", x, channels, channels, a, &weight, &bias);
    add_node(graph, "add", "Add", (int[]){x, a}, 2, y);
    add_output(graph, y);

    int64_t count = channels * height * width;
    float *input = random_floats(count, -1, 1);
    float *expected = malloc((size_t)count * sizeof *expected);
    reference_conv3x3(input, weight, bias, 1, channels, channels, height, width, expected);
    for (int64_t i = 0; i < count; i++)
        expected[i] += input[i];

    fs_engine *engine = load_graph(graph);
    fs_tensor_data result = run_one(engine, float_tensor(4, dims, input));
    const fs_plan *plan = fs_engine_current_plan(engine);
    assert_int_equal(count_steps(plan, FS_STEP_OP, "Add"), 0);
    assert_int_equal(plan->graph->nodes[0].fused_sum, x);
    assert_close(result.data, expected, count);
    fs_engine_free(engine);
    free(weight), free(bias), free(input), free(expected);
}

/* A Conv output (NHWC) read by Softmax, which reads plain only: a conversion is inserted,
 * and the graph output comes back plain. */
static void layout_conversion_before_plain_op(void **state)
{
    const int64_t in = 2, out = 3, height = 3, width = 4;
    fs_graph *graph = new_graph("layout.onnx");
    int64_t dims[4] = {1, in, height, width};
    int x = add_input(graph, "x", 4, dims);
    int conv_out = add_value(graph, "conv_out"), y = add_value(graph, "y");
    float *weight, *bias;
    add_conv3x3(graph, "conv", x, in, out, conv_out, &weight, &bias);
    int softmax = add_node(graph, "softmax", "Softmax", (int[]){conv_out}, 1, y);
    attr_int(graph, softmax, "axis", 1);
    add_output(graph, y);
    add_output(graph, conv_out);

    int64_t count = out * height * width, pixels = height * width;
    float *input = random_floats(in * pixels, -1, 1);
    float *conv_expected = malloc((size_t)count * sizeof *conv_expected);
    float *expected = malloc((size_t)count * sizeof *expected);
    reference_conv3x3(input, weight, bias, 1, in, out, height, width, conv_expected);
    for (int64_t p = 0; p < pixels; p++) {
        double total = 0;
        for (int64_t c = 0; c < out; c++)
            total += exp(conv_expected[c * pixels + p]);
        for (int64_t c = 0; c < out; c++)
            expected[c * pixels + p] = (float)(exp(conv_expected[c * pixels + p]) / total);
    }

    fs_engine *engine = load_graph(graph);
    fs_tensor_data input_tensor = float_tensor(4, dims, input);
    fs_tensor_data outputs[2];
    fs_error err;
    assert_int_equal(fs_engine_run(engine, &input_tensor, 1, outputs, 2, &err), FACESIM_OK);
    const fs_plan *plan = fs_engine_current_plan(engine);
    /* Conv writes NHWC; one conversion serves both the Softmax and the graph output. */
    assert_int_equal(count_steps(plan, FS_STEP_TO_PLAIN, NULL), 1);
    assert_close(outputs[0].data, expected, count);
    assert_close(outputs[1].data, conv_expected, count);
    fs_engine_free(engine);
    free(weight), free(bias), free(input), free(conv_expected), free(expected);
}

/* The NHWC -> NCHW kernel against index arithmetic, on sizes that are not multiples of
 * its 32-element tiles, with one and two threads. */
static void nhwc_to_nchw_matches_reference(void **state)
{
    const int64_t shapes[3][4] = {{2, 37, 5, 7}, {1, 3, 33, 1}, {1, 64, 1, 1}};
    for (int s = 0; s < 3; s++) {
        const int64_t *dims = shapes[s];
        int64_t batch = dims[0], channels = dims[1], pixels = dims[2] * dims[3];
        int64_t count = batch * channels * pixels;
        float *nhwc = random_floats(count, -1, 1);
        float *nchw = malloc((size_t)count * sizeof *nchw);
        for (int threads = 1; threads <= 2; threads++) {
            memset(nchw, 0, (size_t)count * sizeof *nchw);
            fs_layout_nhwc_to_nchw(nhwc, nchw, dims, threads);
            for (int64_t n = 0; n < batch; n++)
                for (int64_t c = 0; c < channels; c++)
                    for (int64_t p = 0; p < pixels; p++)
                        assert_float_equal(nchw[(n * channels + c) * pixels + p],
                                           nhwc[(n * pixels + p) * channels + c], 0);
        }
        free(nhwc), free(nchw);
    }
}

/* A model with free spatial dims re-plans when they change. */
static void replan_on_shape_change(void **state)
{
    const int64_t in = 2, out = 2;
    fs_graph *graph = new_graph("dynamic.onnx");
    int64_t declared[4] = {1, in, -1, -1};
    int x = add_input(graph, "x", 4, declared);
    int y = add_value(graph, "y");
    float *weight, *bias;
    add_conv3x3(graph, "conv", x, in, out, y, &weight, &bias);
    add_output(graph, y);
    fs_engine *engine = load_graph(graph);

    int64_t sizes[3][2] = {{4, 5}, {7, 3}, {4, 5}};
    for (int round = 0; round < 3; round++) {
        int64_t height = sizes[round][0], width = sizes[round][1];
        int64_t dims[4] = {1, in, height, width};
        float *input = random_floats(in * height * width, -1, 1);
        float *expected = malloc((size_t)(out * height * width) * sizeof *expected);
        reference_conv3x3(input, weight, bias, 1, in, out, height, width, expected);
        fs_tensor_data result = run_one(engine, float_tensor(4, dims, input));
        assert_int_equal(result.dims[2], height);
        assert_int_equal(result.dims[3], width);
        assert_close(result.data, expected, out * height * width);
        free(input), free(expected);
    }
    fs_engine_free(engine);
    free(weight), free(bias);
}

/* Reshape(x, [1, -1]) with a batch of 3 keeps the batch: the shape becomes [3, -1]. */
static void batch_rewrites_reshape(void **state)
{
    if (!fs_op_find("Reshape") || !fs_op_find("Relu"))
        skip();
    fs_graph *graph = new_graph("batch.onnx");
    int64_t declared[4] = {1, 2, 2, 2};
    int x = add_input(graph, "x", 4, declared);
    int64_t shape[2] = {1, -1}, shape_dims[1] = {2};
    int s = add_constant(graph, "shape", FS_DTYPE_INT64, 1, shape_dims, shape);
    int r = add_value(graph, "r"), y = add_value(graph, "y");
    add_node(graph, "relu", "Relu", (int[]){x}, 1, r);
    add_node(graph, "reshape", "Reshape", (int[]){r, s}, 2, y);
    add_output(graph, y);
    fs_engine *engine = load_graph(graph);

    int64_t dims[4] = {3, 2, 2, 2};
    float *input = random_floats(24, -1, 1);
    fs_tensor_data result = run_one(engine, float_tensor(4, dims, input));
    assert_int_equal(result.rank, 2);
    assert_int_equal(result.dims[0], 3);
    assert_int_equal(result.dims[1], 8);
    const float *values = result.data;
    for (int i = 0; i < 24; i++)
        assert_float_equal(values[i], input[i] > 0 ? input[i] : 0, 0);

    /* Back to the declared batch: the original constant is used again. */
    int64_t one[4] = {1, 2, 2, 2};
    result = run_one(engine, float_tensor(4, one, input));
    assert_int_equal(result.dims[0], 1);
    assert_int_equal(result.dims[1], 8);
    fs_engine_free(engine);
    free(input);
}

/* A chain of element-wise ops reuses memory: the arena is smaller than all values. */
static void memory_plan_reuses_buffers(void **state)
{
    fs_graph *graph = new_graph("chain.onnx");
    int64_t dims[2] = {64, 64};
    int x = add_input(graph, "x", 2, dims);
    int previous = x;
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", i);
        int next = add_value(graph, name);
        snprintf(name, sizeof name, "add%d", i);
        add_node(graph, name, "Add", (int[]){previous, previous}, 2, next);
        previous = next;
    }
    add_output(graph, previous);
    fs_engine *engine = load_graph(graph);
    float *input = random_floats(64 * 64, -1, 1);
    fs_tensor_data result = run_one(engine, float_tensor(2, dims, input));
    const float *values = result.data;
    for (int i = 0; i < 64 * 64; i++)
        assert_float_equal(values[i], input[i] * 64, 1e-4);
    const fs_plan *plan = fs_engine_current_plan(engine);
    size_t one_value = 64 * 64 * sizeof(float);
    assert_true(plan->arena_bytes <= 2 * one_value);
    assert_true(plan->arena_bytes >= one_value);
    fs_engine_free(engine);
    free(input);
}

/* After the first plan the Conv weight lives only in the weight cache, and a re-plan
 * still finds it there. */
static void packed_weights_released(void **state)
{
    fs_graph *graph = new_graph("packed.onnx");
    int64_t declared[4] = {1, 2, -1, -1};
    int x = add_input(graph, "x", 4, declared);
    int y = add_value(graph, "y");
    float *weight, *bias;
    add_conv3x3(graph, "conv", x, 2, 2, y, &weight, &bias);
    add_output(graph, y);
    fs_engine *engine = load_graph(graph);

    int64_t dims[4] = {1, 2, 3, 3};
    float *input = random_floats(18, -1, 1);
    run_one(engine, float_tensor(4, dims, input));
    const fs_graph *source = fs_engine_source_graph(engine);
    const fs_value *w = &source->values[fs_graph_find_value(source, "conv.weight")];
    assert_null(w->data);
    assert_true(w->packed);

    int64_t bigger[4] = {1, 2, 4, 4};
    float *input2 = random_floats(32, -1, 1);
    float expected[32];
    reference_conv3x3(input2, weight, bias, 1, 2, 2, 4, 4, expected);
    fs_tensor_data result = run_one(engine, float_tensor(4, bigger, input2));
    assert_close(result.data, expected, 32);
    fs_engine_free(engine);
    free(weight), free(bias), free(input), free(input2);
}

static void unsupported_ops_listed(void **state)
{
    fs_graph *graph = new_graph("odd.onnx");
    int64_t dims[1] = {4};
    int x = add_input(graph, "x", 1, dims);
    int a = add_value(graph, "a"), b = add_value(graph, "b"), c = add_value(graph, "c");
    add_node(graph, "first_odd", "FrobnicateA", (int[]){x}, 1, a);
    add_node(graph, "second_odd", "FrobnicateA", (int[]){a}, 1, b);
    add_node(graph, "third_odd", "FrobnicateB", (int[]){b}, 1, c);
    add_output(graph, c);

    fs_engine_params params;
    fs_engine_default_params(&params);
    fs_engine *engine = NULL;
    fs_error err;
    assert_int_equal(fs_engine_load_graph(graph, &params, &engine, &err),
                     FACESIM_ERR_UNSUPPORTED);
    assert_null(engine);
    assert_non_null(strstr(err.message, "odd.onnx"));
    assert_non_null(strstr(err.message, "node 'first_odd' uses operator 'FrobnicateA'"));
    assert_non_null(strstr(err.message, "node 'third_odd' uses operator 'FrobnicateB'"));
    /* Each type is named once. */
    assert_null(strstr(err.message, "second_odd"));
}

/* Shapes that do not broadcast fail at the first run, naming the file and the node. */
static void shape_error_names_node(void **state)
{
    fs_graph *graph = new_graph("mismatch.onnx");
    int64_t dims[2] = {2, 3}, other_dims[1] = {4};
    float other[4] = {1, 2, 3, 4};
    int x = add_input(graph, "x", 2, dims);
    int c = add_constant(graph, "c", FS_DTYPE_FLOAT, 1, other_dims, other);
    int y = add_value(graph, "y");
    add_node(graph, "bad_add", "Add", (int[]){x, c}, 2, y);
    add_output(graph, y);
    fs_engine *engine = load_graph(graph);

    float data[6] = {0};
    fs_tensor_data input = float_tensor(2, dims, data);
    fs_tensor_data output;
    fs_error err;
    assert_int_not_equal(fs_engine_run(engine, &input, 1, &output, 1, &err), FACESIM_OK);
    assert_non_null(strstr(err.message, "mismatch.onnx"));
    assert_non_null(strstr(err.message, "bad_add"));
    assert_null(fs_engine_current_plan(engine));
    fs_engine_free(engine);
}

/* max_tensor_elements also caps computed tensors: a Concat doubling the input fails. */
static void element_cap_applies_to_outputs(void **state)
{
    fs_graph *graph = new_graph("cap.onnx");
    int64_t dims[2] = {10, 10};
    int x = add_input(graph, "x", 2, dims);
    int y = add_value(graph, "y");
    int concat = add_node(graph, "twice", "Concat", (int[]){x, x}, 2, y);
    attr_int(graph, concat, "axis", 0);
    add_output(graph, y);
    fs_engine_params params;
    fs_engine_default_params(&params);
    params.max_tensor_elements = 100;
    fs_engine *engine = NULL;
    fs_error err;
    assert_int_equal(fs_engine_load_graph(graph, &params, &engine, &err), FACESIM_OK);

    float data[100] = {0};
    fs_tensor_data input = float_tensor(2, dims, data);
    fs_tensor_data output;
    assert_int_equal(fs_engine_run(engine, &input, 1, &output, 1, &err), FACESIM_ERR_LIMIT);
    assert_non_null(strstr(err.message, "twice"));
    assert_non_null(strstr(err.message, "200 elements"));
    fs_engine_free(engine);
}

static void missing_model_file_named(void **state)
{
    fs_engine_params params;
    fs_engine_default_params(&params);
    fs_engine *engine = (fs_engine *)&params; /* must be reset to NULL */
    fs_error err;
    int status = fs_engine_load("/nonexistent/model.onnx", &params, &engine, &err);
    assert_int_not_equal(status, FACESIM_OK);
    assert_null(engine);
    assert_non_null(strstr(err.message, "/nonexistent/model.onnx"));
}

static void invalid_params_rejected(void **state)
{
    fs_graph *graph = new_graph("params.onnx");
    int64_t dims[1] = {4};
    int x = add_input(graph, "x", 1, dims);
    int y = add_value(graph, "y");
    add_node(graph, "relu", "Relu", (int[]){x}, 1, y);
    add_output(graph, y);
    fs_engine_params params;
    fs_engine_default_params(&params);
    params.threads = -2;
    fs_engine *engine = NULL;
    fs_error err;
    assert_int_equal(fs_engine_load_graph(graph, &params, &engine, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    assert_null(engine);
    assert_non_null(strstr(err.message, "threads -2"));
}

static void wrong_inputs_rejected(void **state)
{
    fs_graph *graph = new_graph("inputs.onnx");
    int64_t declared[4] = {1, 3, 8, -1};
    int x = add_input(graph, "image", 4, declared);
    int y = add_value(graph, "y");
    add_node(graph, "relu", "Relu", (int[]){x}, 1, y);
    add_output(graph, y);
    fs_engine *engine = load_graph(graph);
    float data[3 * 8 * 8] = {0};
    fs_tensor_data output;
    fs_error err;

    /* Fixed dim 1 differs. */
    fs_tensor_data input = float_tensor(4, (int64_t[]){1, 4, 8, 8}, data);
    assert_int_equal(fs_engine_run(engine, &input, 1, &output, 1, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "input 'image' has dims [1, 4, 8, 8]"));
    assert_non_null(strstr(err.message, "expects [1, 3, 8, -1]"));

    /* Rank differs. */
    input = float_tensor(3, (int64_t[]){3, 8, 8}, data);
    assert_int_equal(fs_engine_run(engine, &input, 1, &output, 1, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "rank 3"));

    /* Type differs. */
    input = float_tensor(4, (int64_t[]){1, 3, 8, 8}, data);
    input.dtype = FS_DTYPE_UINT8;
    assert_int_equal(fs_engine_run(engine, &input, 1, &output, 1, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "uint8"));

    /* Count differs. */
    input = float_tensor(4, (int64_t[]){1, 3, 8, 8}, data);
    assert_int_equal(fs_engine_run(engine, &input, 0, &output, 1, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "0 inputs"));

    /* Over the element cap: a free dim of 2^40. */
    input = float_tensor(4, (int64_t[]){1, 3, 8, (int64_t)1 << 40}, data);
    assert_int_equal(fs_engine_run(engine, &input, 1, &output, 1, &err), FACESIM_ERR_LIMIT);
    assert_non_null(strstr(err.message, "max_tensor_elements"));

    /* The engine still runs after the rejections. */
    input = float_tensor(4, (int64_t[]){1, 3, 8, 8}, data);
    assert_int_equal(fs_engine_run(engine, &input, 1, &output, 1, &err), FACESIM_OK);
    fs_engine_free(engine);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fold_constant_add),
        cmocka_unit_test(fold_constant_conv),
        cmocka_unit_test(batch_norm_folds_into_conv),
        cmocka_unit_test(batch_norm_folds_into_gemm),
        cmocka_unit_test(shape_chain_folds),
        cmocka_unit_test(relu_fuses_into_conv),
        cmocka_unit_test(clip_fuses_into_conv),
        cmocka_unit_test(prelu_fuses_into_conv),
        cmocka_unit_test(residual_add_fuses_into_conv),
        cmocka_unit_test(relu_after_residual_add_fuses),
        cmocka_unit_test(clip_after_residual_add_fuses),
        cmocka_unit_test(relu_after_residual_output_stays),
        cmocka_unit_test(residual_add_of_graph_input),
        cmocka_unit_test(layout_conversion_before_plain_op),
        cmocka_unit_test(nhwc_to_nchw_matches_reference),
        cmocka_unit_test(replan_on_shape_change),
        cmocka_unit_test(batch_rewrites_reshape),
        cmocka_unit_test(memory_plan_reuses_buffers),
        cmocka_unit_test(packed_weights_released),
        cmocka_unit_test(unsupported_ops_listed),
        cmocka_unit_test(shape_error_names_node),
        cmocka_unit_test(element_cap_applies_to_outputs),
        cmocka_unit_test(missing_model_file_named),
        cmocka_unit_test(invalid_params_rejected),
        cmocka_unit_test(wrong_inputs_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Times the Conv op on a few layer shapes typical of face models (with a fused Relu unless
 * stated) and prints GFLOP/s and the oneDNN implementation each one uses.
 *
 *     bench_kernels [threads]     (default 1 thread)
 *
 * For each layer it runs once with oneDNN's verbose mode on (lines starting with
 * "onednn_verbose" name the implementation, for example brgconv:avx512_core), then times
 * repeated runs for about 0.3 s. FLOPs count 2 per multiply-add of the convolution alone.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/dnnl_glue.h"
#include "engine/graph.h"
#include "engine/op.h"
#include "engine/weight_cache.h"

typedef struct bench_layer {
    const char *name;
    int channels, out_channels, groups, size, kernel, stride;
    bool nhwc_input;
    bool prelu;    /* fused per-channel PRelu instead of Relu */
    bool sum;      /* fused residual sum (NHWC operand) */
} bench_layer;

static double bench_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + now.tv_nsec * 1e-9;
}

static float *bench_random(size_t count)
{
    float *values = malloc(count * sizeof *values);
    if (!values) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < count; i++)
        values[i] = (float)rand() / RAND_MAX - 0.5f;
    return values;
}

static int bench_conv(const bench_layer *layer, fs_dnnl *dnnl, fs_error *err)
{
    int pad = layer->kernel / 2;
    int out_size = (layer->size + 2 * pad - layer->kernel) / layer->stride + 1;
    fs_graph *graph = fs_graph_create("bench");
    fs_weight_cache *cache = NULL;
    if (!graph || fs_weight_cache_create(&cache, err) != FACESIM_OK) {
        fs_graph_free(graph);
        return FACESIM_ERR_NO_MEMORY;
    }
    int x = fs_graph_add_value(graph, "x");
    int w = fs_graph_add_value(graph, "w");
    int y = fs_graph_add_value(graph, "y");
    int slope = fs_graph_add_value(graph, "slope");
    int sum = fs_graph_add_value(graph, "sum");
    int64_t x_dims[4] = { 1, layer->channels, layer->size, layer->size };
    int64_t w_dims[4] = { layer->out_channels, layer->channels / layer->groups, layer->kernel,
                          layer->kernel };
    fs_value_set_shape(&graph->values[x], FS_DTYPE_FLOAT, 4, x_dims);
    fs_value_set_shape(&graph->values[w], FS_DTYPE_FLOAT, 4, w_dims);
    graph->values[w].data = bench_random((size_t)fs_value_numel(&graph->values[w]));
    graph->values[w].owns_data = true;

    int inputs[2] = { x, w };
    int node_index = fs_graph_add_node(graph, layer->name, "Conv", inputs, 2, &y, 1);
    fs_node *node = &graph->nodes[node_index];
    node->attrs = calloc(3, sizeof *node->attrs);
    int64_t *pads = malloc(4 * sizeof *pads), *strides = malloc(2 * sizeof *strides);
    for (int i = 0; i < 4; i++)
        pads[i] = pad;
    strides[0] = strides[1] = layer->stride;
    node->attrs[0] = (fs_attr){ .name = strdup("pads"), .type = FS_ATTR_INTS, .ints = pads,
                                .count = 4 };
    node->attrs[1] = (fs_attr){ .name = strdup("strides"), .type = FS_ATTR_INTS,
                                .ints = strides, .count = 2 };
    node->attrs[2] = (fs_attr){ .name = strdup("group"), .type = FS_ATTR_INT,
                                .i = layer->groups };
    node->n_attrs = 3;
    node->op = fs_op_find("Conv");
    node->fused_activation = FS_ACTIVATION_RELU;
    int64_t slope_dims[3] = { layer->out_channels, 1, 1 };
    fs_value_set_shape(&graph->values[slope], FS_DTYPE_FLOAT, 3, slope_dims);
    graph->values[slope].data = bench_random((size_t)layer->out_channels);
    graph->values[slope].owns_data = true;
    if (layer->prelu) {
        node->fused_activation = FS_ACTIVATION_PRELU;
        node->fused_slope = slope;
    }
    int64_t sum_dims[4] = { 1, layer->out_channels, out_size, out_size };
    fs_value_set_shape(&graph->values[sum], FS_DTYPE_FLOAT, 4, sum_dims);
    if (layer->sum)
        node->fused_sum = sum;

    int code = node->op->infer(graph, node, err);
    fs_tensor tensors[5] = { { NULL, FS_LAYOUT_PLAIN } };
    tensors[slope].data = graph->values[slope].data;
    tensors[sum].layout = FS_LAYOUT_NHWC;
    tensors[sum].data = bench_random((size_t)fs_value_numel(&graph->values[sum]));
    tensors[x].layout = layer->nhwc_input ? FS_LAYOUT_NHWC : FS_LAYOUT_PLAIN;
    tensors[x].data = bench_random((size_t)fs_value_numel(&graph->values[x]));
    tensors[w].data = graph->values[w].data;
    tensors[y].data = bench_random((size_t)fs_value_numel(&graph->values[y]));
    fs_run_ctx ctx = { .graph = graph, .tensors = tensors, .dnnl = dnnl, .weights = cache,
                       .threads = omp_get_max_threads() };
    size_t scratch_bytes = 0;
    if (code == FACESIM_OK)
        code = node->op->prepare(&ctx, node, &scratch_bytes, err);
    ctx.scratch = malloc(scratch_bytes ? scratch_bytes : 1);
    ctx.scratch_size = scratch_bytes;

    if (code == FACESIM_OK) {
        dnnl_set_verbose(2);
        code = node->op->run(&ctx, node, err);
        dnnl_set_verbose(0);
    }
    int runs = 0;
    double start = bench_seconds(), elapsed = 0.0;
    while (code == FACESIM_OK && elapsed < 0.3) {
        code = node->op->run(&ctx, node, err);
        runs++;
        elapsed = bench_seconds() - start;
    }
    if (code == FACESIM_OK) {
        double flops = 2.0 * layer->out_channels * out_size * out_size *
                       (layer->channels / layer->groups) * layer->kernel * layer->kernel;
        printf("%-34s %8.3f ms %8.1f GFLOP/s  (%d runs, %d threads, %s input)\n", layer->name,
               elapsed / runs * 1e3, flops * runs / elapsed * 1e-9, runs,
               omp_get_max_threads(), layer->nhwc_input ? "NHWC" : "NCHW");
    }

    free(ctx.scratch);
    free(tensors[x].data);
    free(tensors[y].data);
    free(tensors[sum].data);
    fs_graph_free(graph);
    fs_weight_cache_free(cache);
    return code;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1) {
        fprintf(stderr, "usage: bench_kernels [threads]   (threads must be at least 1)\n");
        return 2;
    }
    omp_set_num_threads(threads);

    static const bench_layer layers[] = {
        /* name, in and out channels, groups, size, kernel, stride, NHWC input, PRelu, sum */
        { "conv3x3 64->64 56x56", 64, 64, 1, 56, 3, 1, true, false, false },
        { "depthwise3x3 128 56x56", 128, 128, 128, 56, 3, 1, true, false, false },
        { "depthwise3x3 s2 128 56x56", 128, 128, 128, 56, 3, 2, true, false, false },
        { "conv1x1 64->128 28x28", 64, 128, 1, 28, 1, 1, true, false, false },
        { "first conv3x3 3->64 112x112", 3, 64, 1, 112, 3, 1, false, false, false },
        { "conv3x3 64->64 56x56 + PRelu", 64, 64, 1, 56, 3, 1, true, true, false },
        { "conv3x3 64->64 56x56 + sum", 64, 64, 1, 56, 3, 1, true, false, true },
        { "conv3x3 64->64 56x56 + PRelu + sum", 64, 64, 1, 56, 3, 1, true, true, true },
    };
    fs_dnnl *dnnl = NULL;
    fs_error err;
    if (fs_dnnl_create(&dnnl, &err) != FACESIM_OK) {
        fprintf(stderr, "bench_kernels: %s\n", err.message);
        return 1;
    }
    int status = 0;
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        if (bench_conv(&layers[i], dnnl, &err) != FACESIM_OK) {
            fprintf(stderr, "bench_kernels: %s: %s\n", layers[i].name, err.message);
            status = 1;
        }
    }
    fs_dnnl_free(dnnl);
    return status;
}

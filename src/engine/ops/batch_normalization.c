/*
 * BatchNormalization in inference form, float32, input rank 2 or more:
 *     y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + B[c]
 * computed as y = x * a[c] + b[c] with a = scale / sqrt(var + epsilon) and
 * b = B - mean * a. Channel c is dim 1.
 *
 * An NHWC input gives an NHWC output. That path needs a and b per channel in
 * scratch memory, which prepare requests.
 */
#include <math.h>

#include "engine/ops/ops_common.h"

static const char *const batch_norm_input_names[5] = { "X", "scale", "B", "mean", "var" };

static int batch_norm_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, 5, 5, 1, err);
    if (status != FACESIM_OK)
        return status;
    for (int i = 1; i < node->n_outputs; i++)
        if (node->outputs[i] >= 0)
            return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                                "output %d (running statistics) exists only in training mode; "
                                "export the model in evaluation mode",
                                i);
    int64_t training = 0, spatial = 1;
    float epsilon;
    status = fs_node_attr_int(node, "training_mode", 0, &training, err);
    if (status == FACESIM_OK)
        status = fs_node_attr_int(node, "spatial", 1, &spatial, err);
    if (status == FACESIM_OK)
        status = fs_node_attr_float(node, "epsilon", 1e-5f, &epsilon, err);
    if (status != FACESIM_OK)
        return status;
    if (training != 0)
        return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                            "attribute 'training_mode' is %lld; facesim runs inference only",
                            (long long)training);
    if (spatial != 1)
        return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                            "attribute 'spatial' is %lld; only spatial = 1 (per-channel "
                            "statistics) is supported",
                            (long long)spatial);
    if (!(epsilon >= 0.0f))
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "attribute 'epsilon' is %g, expected a value >= 0", epsilon);

    for (int i = 0; i < 5; i++) {
        status = fs_ops_check_input(graph, node, i, FS_OPS_FLOAT, err);
        if (status != FACESIM_OK)
            return status;
    }
    const fs_value *x = fs_node_input(graph, node, 0);
    if (x->rank < 2)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "input X '%s' has rank %d, expected 2 or more (N, C, ...)",
                            x->name, x->rank);
    for (int i = 1; i < 5; i++) {
        const fs_value *parameter = fs_node_input(graph, node, i);
        if (parameter->rank != 1 || parameter->dims[0] != x->dims[1])
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "input %s '%s' must have shape [%lld] (the channels of X)",
                                batch_norm_input_names[i], parameter->name,
                                (long long)x->dims[1]);
    }
    return fs_ops_set_output(graph, node, 0, FS_DTYPE_FLOAT, x->rank, x->dims, err);
}

static bool batch_norm_accepts_layouts(const fs_graph *graph, const fs_node *node,
                                       const fs_layout *input_layouts)
{
    for (int i = 1; i < 5; i++)
        if (input_layouts[i] != FS_LAYOUT_PLAIN)
            return false;
    return true;
}

static int batch_norm_prepare(fs_run_ctx *ctx, fs_node *node, size_t *scratch_bytes,
                              fs_error *err)
{
    *scratch_bytes = 0;
    if (fs_ops_input_layout(ctx, node, 0) != FS_LAYOUT_NHWC)
        return FACESIM_OK;
    int64_t channels = fs_node_input(ctx->graph, node, 0)->dims[1];
    *scratch_bytes = 2 * (size_t)channels * sizeof(float);
    ctx->tensors[node->outputs[0]].layout = FS_LAYOUT_NHWC;
    return FACESIM_OK;
}

static float batch_norm_epsilon(const fs_node *node)
{
    const fs_attr *attr = fs_node_attr(node, "epsilon");
    return attr && attr->type == FS_ATTR_FLOAT ? attr->f : 1e-5f;
}

static int batch_norm_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    const fs_value *input = fs_node_input(ctx->graph, node, 0);
    const float *x = fs_ops_input_data(ctx, node, 0);
    const float *scale = fs_ops_input_data(ctx, node, 1);
    const float *bias = fs_ops_input_data(ctx, node, 2);
    const float *mean = fs_ops_input_data(ctx, node, 3);
    const float *variance = fs_ops_input_data(ctx, node, 4);
    float *y = fs_ops_output_data(ctx, node, 0);
    float epsilon = batch_norm_epsilon(node);
    int64_t batch = input->dims[0], channels = input->dims[1];
    int64_t spatial = 1;
    for (int d = 2; d < input->rank; d++)
        spatial *= input->dims[d];
    int threads = fs_ops_threads(ctx, batch * channels * spatial);

    if (fs_ops_input_layout(ctx, node, 0) == FS_LAYOUT_NHWC) {
        if (ctx->scratch_size < 2 * (size_t)channels * sizeof(float))
            return fs_ops_error(err, node, FACESIM_ERR_INTERNAL,
                                "NHWC input but no scratch memory from prepare");
        float *a = ctx->scratch;
        float *b = a + channels;
        for (int64_t c = 0; c < channels; c++) {
            a[c] = scale[c] / sqrtf(variance[c] + epsilon);
            b[c] = bias[c] - mean[c] * a[c];
        }
        int64_t pixels = batch * spatial;
        #pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
        for (int64_t p = 0; p < pixels; p++) {
            const float *from = x + p * channels;
            float *to = y + p * channels;
            #pragma omp simd
            for (int64_t c = 0; c < channels; c++)
                to[c] = from[c] * a[c] + b[c];
        }
        return FACESIM_OK;
    }

    #pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (int64_t plane = 0; plane < batch * channels; plane++) {
        int64_t c = plane % channels;
        float a = scale[c] / sqrtf(variance[c] + epsilon);
        float b = bias[c] - mean[c] * a;
        const float *from = x + plane * spatial;
        float *to = y + plane * spatial;
        #pragma omp simd
        for (int64_t i = 0; i < spatial; i++)
            to[i] = from[i] * a + b;
    }
    return FACESIM_OK;
}

const fs_op fs_op_batch_normalization = {
    .op_type = "BatchNormalization",
    .infer = batch_norm_infer,
    .accepts_layouts = batch_norm_accepts_layouts,
    .prepare = batch_norm_prepare,
    .run = batch_norm_run,
};

/*
 * Fusion passes: BatchNormalization folding, activation fusion and residual-Add fusion
 * into Conv (and BatchNormalization into Gemm). See passes.h for the contracts.
 *
 * The Conv op (ops/conv.c) applies, in this order, the convolution with bias, the fused
 * activation (fused_activation, fused_min/max, fused_slope), the residual sum (fused_sum),
 * then the activation after the sum (fused_sum_activation, fused_sum_min/max). So both
 * Conv -> Relu -> Add and Conv -> Add -> Relu fuse completely.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "engine/op.h"
#include "engine/passes.h"

int fs_pass_count_readers(const fs_graph *graph, int value_index)
{
    int readers = 0;
    for (int i = 0; i < graph->n_nodes; i++) {
        const fs_node *node = &graph->nodes[i];
        if (node->removed)
            continue;
        for (int k = 0; k < node->n_inputs; k++)
            if (node->inputs[k] == value_index)
                readers++;
        if (node->fused_sum == value_index)
            readers++;
        if (node->fused_slope == value_index)
            readers++;
    }
    for (int k = 0; k < graph->n_outputs; k++)
        if (graph->outputs[k] == value_index)
            readers++;
    return readers;
}

/* Returns the index of the one non-removed node reading value_index, or -1 when the value
 * has no reader, several reads, or is a graph output. */
static int fuse_single_reader(const fs_graph *graph, int value_index)
{
    if (fs_pass_count_readers(graph, value_index) != 1)
        return -1;
    for (int i = 0; i < graph->n_nodes; i++) {
        const fs_node *node = &graph->nodes[i];
        if (node->removed)
            continue;
        for (int k = 0; k < node->n_inputs; k++)
            if (node->inputs[k] == value_index)
                return i;
    }
    return -1;
}

/* Returns the non-removed node producing value_index, or -1. The loader sets `producer`,
 * but passes rewire outputs, so this searches. */
static int fuse_producer(const fs_graph *graph, int value_index)
{
    for (int i = 0; i < graph->n_nodes; i++) {
        const fs_node *node = &graph->nodes[i];
        if (node->removed)
            continue;
        for (int k = 0; k < node->n_outputs; k++)
            if (node->outputs[k] == value_index)
                return i;
    }
    return -1;
}

static bool fuse_is_float_constant(const fs_graph *graph, int value_index)
{
    if (value_index < 0)
        return false;
    const fs_value *value = &graph->values[value_index];
    return value->data != NULL && value->dtype == FS_DTYPE_FLOAT && fs_value_numel(value) >= 0;
}

/* Adds an owned float constant; returns its index or -1 when out of memory (data is then
 * freed). The new value may move graph->values. */
static int fuse_add_float_constant(fs_graph *graph, const char *base, const char *suffix,
                                   int rank, const int64_t *dims, float *data)
{
    char name[512];
    snprintf(name, sizeof name, "%s/%s", base, suffix);
    int index = fs_graph_add_value(graph, name);
    if (index < 0) {
        free(data);
        return -1;
    }
    fs_value *value = &graph->values[index];
    fs_value_set_shape(value, FS_DTYPE_FLOAT, rank, dims);
    value->data = data;
    value->owns_data = true;
    return index;
}

/* Makes node read `value_index` as input `slot`, growing its input list if needed. */
static int fuse_set_input(fs_node *node, int slot, int value_index)
{
    if (slot >= node->n_inputs) {
        int *grown = realloc(node->inputs, (size_t)(slot + 1) * sizeof *grown);
        if (!grown)
            return FACESIM_ERR_NO_MEMORY;
        for (int k = node->n_inputs; k < slot; k++)
            grown[k] = -1;
        node->inputs = grown;
        node->n_inputs = slot + 1;
    }
    node->inputs[slot] = value_index;
    return FACESIM_OK;
}

/* The folded form of BatchNormalization: y = scale * x + shift, per channel. */
typedef struct fuse_affine {
    float *scale;
    float *shift;
    int64_t channels;
} fuse_affine;

/* Reads the BatchNormalization node's parameters into scale and shift. Returns false,
 * which is not an error, when a parameter is not a float constant of `channels` values or
 * the node is in training mode. */
static bool fuse_batch_norm_affine(const fs_graph *graph, const fs_node *bn, int64_t channels,
                                   fuse_affine *affine)
{
    if (bn->n_inputs != 5 || bn->n_outputs != 1)
        return false;
    for (int k = 1; k < 5; k++) {
        if (!fuse_is_float_constant(graph, bn->inputs[k]) ||
            fs_value_numel(&graph->values[bn->inputs[k]]) != channels)
            return false;
    }
    const fs_attr *training = fs_node_attr(bn, "training_mode");
    if (training && (training->type != FS_ATTR_INT || training->i != 0))
        return false;
    const fs_attr *epsilon_attr = fs_node_attr(bn, "epsilon");
    if (epsilon_attr && epsilon_attr->type != FS_ATTR_FLOAT)
        return false;
    float epsilon = epsilon_attr ? epsilon_attr->f : 1e-5f;

    const float *gamma = graph->values[bn->inputs[1]].data;
    const float *beta = graph->values[bn->inputs[2]].data;
    const float *mean = graph->values[bn->inputs[3]].data;
    const float *variance = graph->values[bn->inputs[4]].data;
    affine->scale = malloc((size_t)channels * sizeof(float));
    affine->shift = malloc((size_t)channels * sizeof(float));
    affine->channels = channels;
    if (!affine->scale || !affine->shift) {
        free(affine->scale);
        free(affine->shift);
        return false;
    }
    for (int64_t c = 0; c < channels; c++) {
        /* Computed in double, as onnxruntime's fusion does, to keep the folded weights
         * within float rounding of the unfused result. */
        double scale = (double)gamma[c] / sqrt((double)variance[c] + (double)epsilon);
        affine->scale[c] = (float)scale;
        affine->shift[c] = (float)((double)beta[c] - (double)mean[c] * scale);
    }
    return true;
}

/*
 * Returns the buffer to write weight value_index's folded copy into. That is the weight's
 * own buffer when no other node reads the weight and graph or `owner` (the graph the
 * data came from) owns it: both then drop it, and the memory peak stays at one copy of
 * the weights. Otherwise it is a new buffer, or NULL when out of memory.
 */
static float *fuse_weight_buffer(fs_graph *graph, fs_graph *owner, int value_index,
                                 size_t count)
{
    fs_value *value = &graph->values[value_index];
    fs_value *owning = NULL;
    if (value->owns_data)
        owning = value;
    else if (owner && value_index < owner->n_values &&
             owner->values[value_index].owns_data &&
             owner->values[value_index].data == value->data)
        owning = &owner->values[value_index];
    if (!owning || value->is_graph_output || fs_pass_count_readers(graph, value_index) != 1)
        return malloc((count ? count : 1) * sizeof(float));

    float *buffer = owning->data;
    owning->data = NULL;
    owning->owns_data = false;
    value->data = NULL;
    value->owns_data = false;
    return buffer;
}

/* Conv(x, W, b) -> BatchNormalization  ==>  Conv(x, W * s, b * s + shift). The folded
 * weight may overwrite W in place (fuse_weight_buffer). */
static int fuse_fold_into_conv(fs_graph *graph, fs_graph *owner, int conv_index,
                               const fuse_affine *affine)
{
    fs_node *conv = &graph->nodes[conv_index];
    const fs_value *weight = &graph->values[conv->inputs[1]];
    int64_t per_channel = fs_value_numel(weight) / affine->channels;
    size_t count = (size_t)fs_value_numel(weight);
    int64_t weight_dims[FS_MAX_RANK];
    int weight_rank = weight->rank;
    memcpy(weight_dims, weight->dims, sizeof weight_dims);

    const float *old_weight = weight->data;
    const float *old_bias = fs_node_has_input(conv, 2) ? graph->values[conv->inputs[2]].data
                                                       : NULL;
    float *new_bias = malloc((size_t)affine->channels * sizeof(float));
    float *new_weight = new_bias ? fuse_weight_buffer(graph, owner, conv->inputs[1], count)
                                 : NULL;
    if (!new_weight || !new_bias) {
        free(new_weight);
        free(new_bias);
        return FACESIM_ERR_NO_MEMORY;
    }
    for (int64_t o = 0; o < affine->channels; o++) {
        for (int64_t k = 0; k < per_channel; k++)
            new_weight[o * per_channel + k] = old_weight[o * per_channel + k] * affine->scale[o];
        float bias = old_bias ? old_bias[o] : 0.0f;
        new_bias[o] = bias * affine->scale[o] + affine->shift[o];
    }

    char base[480];
    snprintf(base, sizeof base, "%s", conv->name);
    int weight_index = fuse_add_float_constant(graph, base, "folded_weight", weight_rank,
                                               weight_dims, new_weight);
    if (weight_index < 0) {
        free(new_bias);
        return FACESIM_ERR_NO_MEMORY;
    }
    int64_t bias_dims[1] = {affine->channels};
    int bias_index = fuse_add_float_constant(graph, base, "folded_bias", 1, bias_dims, new_bias);
    if (bias_index < 0)
        return FACESIM_ERR_NO_MEMORY;
    conv = &graph->nodes[conv_index];
    conv->inputs[1] = weight_index;
    return fuse_set_input(conv, 2, bias_index);
}

/* Gemm(A, B, C) -> BatchNormalization on the 2-D output  ==>  Gemm(A, B * s, C'), with
 * the scale applied to output columns and C' = s * (beta * C - mean) + bn_beta, beta = 1. */
static int fuse_fold_into_gemm(fs_graph *graph, fs_graph *owner, int gemm_index,
                               const fuse_affine *affine)
{
    fs_node *gemm = &graph->nodes[gemm_index];
    const fs_value *weight = &graph->values[gemm->inputs[1]];
    int64_t trans_b = 0;
    float beta = 1.0f;
    const fs_attr *trans_attr = fs_node_attr(gemm, "transB");
    if (trans_attr)
        trans_b = trans_attr->i;
    const fs_attr *beta_attr = fs_node_attr(gemm, "beta");
    if (beta_attr)
        beta = beta_attr->f;

    int64_t rows = weight->dims[0], columns = weight->dims[1];
    size_t count = (size_t)(rows * columns);
    const float *old_weight = weight->data;
    float *new_bias = malloc((size_t)affine->channels * sizeof(float));
    float *new_weight = new_bias ? fuse_weight_buffer(graph, owner, gemm->inputs[1], count)
                                 : NULL;
    if (!new_weight || !new_bias) {
        free(new_weight);
        free(new_bias);
        return FACESIM_ERR_NO_MEMORY;
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < columns; c++) {
            int64_t output = trans_b ? r : c;
            new_weight[r * columns + c] = old_weight[r * columns + c] * affine->scale[output];
        }
    const float *old_bias = fs_node_has_input(gemm, 2) ? graph->values[gemm->inputs[2]].data
                                                            : NULL;
    for (int64_t n = 0; n < affine->channels; n++) {
        float bias = old_bias ? beta * old_bias[n] : 0.0f;
        new_bias[n] = bias * affine->scale[n] + affine->shift[n];
    }

    int64_t weight_dims[2] = {rows, columns};
    char base[480];
    snprintf(base, sizeof base, "%s", gemm->name);
    int weight_index = fuse_add_float_constant(graph, base, "folded_weight", 2, weight_dims,
                                               new_weight);
    if (weight_index < 0) {
        free(new_bias);
        return FACESIM_ERR_NO_MEMORY;
    }
    int64_t bias_dims[1] = {affine->channels};
    int bias_index = fuse_add_float_constant(graph, base, "folded_bias", 1, bias_dims, new_bias);
    if (bias_index < 0)
        return FACESIM_ERR_NO_MEMORY;
    gemm = &graph->nodes[gemm_index];
    gemm->inputs[1] = weight_index;
    if (beta_attr)
        ((fs_attr *)fs_node_attr(gemm, "beta"))->f = 1.0f;
    return fuse_set_input(gemm, 2, bias_index);
}

/* Returns the output-channel count a BatchNormalization after node would normalise, or -1
 * when node is not a foldable Conv or Gemm. */
static int64_t fuse_foldable_channels(const fs_graph *graph, const fs_node *node)
{
    if (node->n_outputs != 1 || node->n_inputs < 2 || node->fused_activation != 0 ||
        node->fused_sum >= 0)
        return -1;
    if (!fuse_is_float_constant(graph, node->inputs[1]))
        return -1;
    const fs_value *weight = &graph->values[node->inputs[1]];
    if (fs_node_has_input(node, 2)) {
        if (!fuse_is_float_constant(graph, node->inputs[2]))
            return -1;
    }

    if (strcmp(node->op_type, "Conv") == 0) {
        if (weight->rank < 3 || weight->dims[0] <= 0)
            return -1;
        if (fs_node_has_input(node, 2) &&
            fs_value_numel(&graph->values[node->inputs[2]]) != weight->dims[0])
            return -1;
        return weight->dims[0];
    }
    if (strcmp(node->op_type, "Gemm") == 0) {
        const fs_attr *trans_a = fs_node_attr(node, "transA");
        const fs_attr *trans_b = fs_node_attr(node, "transB");
        const fs_attr *alpha = fs_node_attr(node, "alpha");
        const fs_attr *beta = fs_node_attr(node, "beta");
        if ((trans_a && trans_a->type != FS_ATTR_INT) || (trans_b && trans_b->type != FS_ATTR_INT) ||
            (alpha && alpha->type != FS_ATTR_FLOAT) || (beta && beta->type != FS_ATTR_FLOAT))
            return -1;
        if (weight->rank != 2)
            return -1;
        int64_t columns = (trans_b && trans_b->i) ? weight->dims[0] : weight->dims[1];
        /* Only a bias broadcast along rows ([N] or [1, N]) folds into a per-column bias. */
        if (fs_node_has_input(node, 2)) {
            const fs_value *bias = &graph->values[node->inputs[2]];
            bool row_bias = (bias->rank == 1 && bias->dims[0] == columns) ||
                            (bias->rank == 2 && bias->dims[0] == 1 && bias->dims[1] == columns);
            if (!row_bias)
                return -1;
        }
        return columns;
    }
    return -1;
}

int fs_pass_fold_batch_norm(fs_graph *graph, fs_graph *owner, fs_error *err)
{
    for (int i = 0; i < graph->n_nodes; i++) {
        fs_node *bn = &graph->nodes[i];
        if (bn->removed || strcmp(bn->op_type, "BatchNormalization") != 0 || bn->n_inputs < 1)
            continue;
        int producer = fuse_producer(graph, bn->inputs[0]);
        if (producer < 0 || fuse_single_reader(graph, bn->inputs[0]) != i)
            continue;
        int64_t channels = fuse_foldable_channels(graph, &graph->nodes[producer]);
        if (channels <= 0)
            continue;
        fuse_affine affine;
        if (!fuse_batch_norm_affine(graph, bn, channels, &affine))
            continue;

        bool is_conv = strcmp(graph->nodes[producer].op_type, "Conv") == 0;
        int status = is_conv ? fuse_fold_into_conv(graph, owner, producer, &affine)
                             : fuse_fold_into_gemm(graph, owner, producer, &affine);
        free(affine.scale);
        free(affine.shift);
        if (status != FACESIM_OK)
            return fs_error_set(err, status, "%s: out of memory folding node '%s' into '%s'",
                                graph->path, graph->nodes[i].name,
                                graph->nodes[producer].name);

        /* The Conv or Gemm now writes the BatchNormalization's output value. */
        bn = &graph->nodes[i];
        graph->nodes[producer].outputs[0] = bn->outputs[0];
        bn->removed = true;
    }
    return FACESIM_OK;
}

/* Reads a Clip node's bounds when they are constants (attributes before opset 11, optional
 * scalar inputs from opset 11). Returns false when a bound is not a float constant.
 * Callers do not fuse a Clip whose min exceeds its max: ONNX then yields max everywhere,
 * and oneDNN documents its clip (dev_guide_eltwise) only for min <= max. */
static bool fuse_clip_bounds(const fs_graph *graph, const fs_node *clip, float *low,
                             float *high)
{
    *low = -FLT_MAX;
    *high = FLT_MAX;
    const fs_attr *min_attr = fs_node_attr(clip, "min");
    const fs_attr *max_attr = fs_node_attr(clip, "max");
    if (min_attr) {
        if (min_attr->type != FS_ATTR_FLOAT)
            return false;
        *low = min_attr->f;
    }
    if (max_attr) {
        if (max_attr->type != FS_ATTR_FLOAT)
            return false;
        *high = max_attr->f;
    }
    for (int k = 1; k <= 2; k++) {
        if (!fs_node_has_input(clip, k))
            continue;
        int value_index = clip->inputs[k];
        if (!fuse_is_float_constant(graph, value_index) ||
            fs_value_numel(&graph->values[value_index]) != 1)
            return false;
        float bound = *(const float *)graph->values[value_index].data;
        if (k == 1)
            *low = bound;
        else
            *high = bound;
    }
    return true;
}

/* Returns whether the PRelu slope is a float constant with one value per output channel
 * of the Conv, laid out along the channel axis. For a rank-4 output that is [C, 1, 1] or
 * [1, C, 1, 1]. With one channel any shape of one element qualifies. */
static bool fuse_prelu_slope_per_channel(const fs_graph *graph, const fs_node *conv,
                                         int slope_index)
{
    if (!fuse_is_float_constant(graph, slope_index))
        return false;
    const fs_value *weight = &graph->values[conv->inputs[1]];
    if (weight->rank < 3)
        return false;
    int64_t channels = weight->dims[0];
    const fs_value *slope = &graph->values[slope_index];
    if (fs_value_numel(slope) != channels)
        return false;
    /* The slope broadcasts against [N, C, spatial...] from the right: its dimension for
     * the channel axis is at position rank - (output_rank - 1), every other one is 1. */
    int output_rank = weight->rank;
    int channel_axis = slope->rank - (output_rank - 1);
    if (channels == 1)
        return true;
    if (channel_axis < 0)
        return false;
    for (int d = 0; d < slope->rank; d++) {
        int64_t expected = d == channel_axis ? channels : 1;
        if (slope->dims[d] != expected)
            return false;
    }
    return true;
}

int fs_pass_fuse_activations(fs_graph *graph, fs_error *err)
{
    for (int i = 0; i < graph->n_nodes; i++) {
        fs_node *activation = &graph->nodes[i];
        if (activation->removed || activation->n_inputs < 1 || activation->n_outputs != 1)
            continue;
        bool relu = strcmp(activation->op_type, "Relu") == 0;
        bool clip = strcmp(activation->op_type, "Clip") == 0;
        bool prelu = strcmp(activation->op_type, "PRelu") == 0;
        if (!relu && !clip && !prelu)
            continue;
        int conv_index = fuse_producer(graph, activation->inputs[0]);
        if (conv_index < 0 || fuse_single_reader(graph, activation->inputs[0]) != i)
            continue;
        fs_node *conv = &graph->nodes[conv_index];
        if (strcmp(conv->op_type, "Conv") != 0 || conv->fused_activation != 0 ||
            conv->fused_sum >= 0 || conv->n_outputs != 1 || conv->n_inputs < 2)
            continue;

        if (relu) {
            conv->fused_activation = FS_ACTIVATION_RELU;
        } else if (clip) {
            float low, high;
            if (!fuse_clip_bounds(graph, activation, &low, &high) || low > high)
                continue;
            conv->fused_activation = FS_ACTIVATION_CLIP;
            conv->fused_min = low;
            conv->fused_max = high;
        } else {
            if (activation->n_inputs < 2 ||
                !fuse_prelu_slope_per_channel(graph, conv, activation->inputs[1]))
                continue;
            conv->fused_activation = FS_ACTIVATION_PRELU;
            conv->fused_slope = activation->inputs[1];
        }
        conv->outputs[0] = activation->outputs[0];
        activation->removed = true;
    }
    (void)err;
    return FACESIM_OK;
}

static bool fuse_same_shape(const fs_value *a, const fs_value *b)
{
    if (a->rank != b->rank || !fs_value_shape_known(a) || !fs_value_shape_known(b))
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d])
            return false;
    return true;
}

/* Returns whether Add operand `operand` (0 or 1) can become the sum post-op of the Conv
 * producing the other operand. */
static bool fuse_residual_candidate(const fs_graph *graph, int add_index, int operand,
                                    int *conv_out)
{
    const fs_node *add = &graph->nodes[add_index];
    int conv_value = add->inputs[1 - operand];
    int other_value = add->inputs[operand];
    if (conv_value == other_value)
        return false;
    int conv_index = fuse_producer(graph, conv_value);
    if (conv_index < 0 || fuse_single_reader(graph, conv_value) != add_index)
        return false;
    const fs_node *conv = &graph->nodes[conv_index];
    if (strcmp(conv->op_type, "Conv") != 0 || conv->fused_sum >= 0 || conv->n_outputs != 1)
        return false;

    const fs_value *other = &graph->values[other_value];
    const fs_value *result = &graph->values[add->outputs[0]];
    if (fs_value_is_constant(other) || other->dtype != FS_DTYPE_FLOAT ||
        !fuse_same_shape(other, result) || !fuse_same_shape(&graph->values[conv_value], result))
        return false;
    /* The Conv will read `other` while it runs, so `other` must exist by then. */
    int other_producer = fuse_producer(graph, other_value);
    if (other_producer >= conv_index)
        return false;
    *conv_out = conv_index;
    return true;
}

/* Fuses a Relu or a Clip with constant bounds that is the only reader of the output of
 * Conv conv_index, which already has a fused sum, as the activation after that sum. */
static void fuse_activation_after_sum(fs_graph *graph, int conv_index)
{
    int output = graph->nodes[conv_index].outputs[0];
    int reader = fuse_single_reader(graph, output);
    if (reader < 0)
        return;
    fs_node *activation = &graph->nodes[reader];
    if (activation->n_outputs != 1 || activation->inputs[0] != output)
        return;
    fs_node *conv = &graph->nodes[conv_index];
    if (strcmp(activation->op_type, "Relu") == 0) {
        conv->fused_sum_activation = FS_ACTIVATION_RELU;
    } else if (strcmp(activation->op_type, "Clip") == 0) {
        float low, high;
        if (!fuse_clip_bounds(graph, activation, &low, &high) || low > high)
            return;
        conv->fused_sum_activation = FS_ACTIVATION_CLIP;
        conv->fused_sum_min = low;
        conv->fused_sum_max = high;
    } else {
        return;
    }
    conv->outputs[0] = activation->outputs[0];
    activation->removed = true;
}

int fs_pass_fuse_residual_add(fs_graph *graph, fs_error *err)
{
    for (int i = 0; i < graph->n_nodes; i++) {
        fs_node *add = &graph->nodes[i];
        if (add->removed || strcmp(add->op_type, "Add") != 0 || add->n_inputs != 2 ||
            add->n_outputs != 1 || add->inputs[0] < 0 || add->inputs[1] < 0)
            continue;
        /* When both operands come from Convs, fuse into the later one: the earlier Conv's
         * output is then ready as the sum operand. */
        int conv_a = -1, conv_b = -1;
        bool sum_second = fuse_residual_candidate(graph, i, 1, &conv_a);
        bool sum_first = fuse_residual_candidate(graph, i, 0, &conv_b);
        int conv_index, sum_value;
        if (sum_second && (!sum_first || conv_a > conv_b)) {
            conv_index = conv_a;
            sum_value = add->inputs[1];
        } else if (sum_first) {
            conv_index = conv_b;
            sum_value = add->inputs[0];
        } else {
            continue;
        }
        fs_node *conv = &graph->nodes[conv_index];
        conv->fused_sum = sum_value;
        conv->outputs[0] = add->outputs[0];
        add->removed = true;
        fuse_activation_after_sum(graph, conv_index);
    }
    (void)err;
    return FACESIM_OK;
}

int fs_pass_remove_dead_nodes(fs_graph *graph)
{
    int removed = 0;
    bool changed = true;
    while (changed) {
        changed = false;
        for (int i = graph->n_nodes - 1; i >= 0; i--) {
            fs_node *node = &graph->nodes[i];
            if (node->removed)
                continue;
            bool live = false;
            for (int k = 0; k < node->n_outputs && !live; k++)
                if (node->outputs[k] >= 0 && fs_pass_count_readers(graph, node->outputs[k]) > 0)
                    live = true;
            if (!live) {
                node->removed = true;
                removed++;
                changed = true;
            }
        }
    }
    return removed;
}

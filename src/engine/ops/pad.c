/*
 * Pad in modes constant, reflect and edge, for float32, int64 and int32.
 *
 * Before opset 11 `pads` and `value` are attributes. From opset 11 pads is an int64
 * input (constant at plan time) and the constant value an optional scalar input.
 * pads lists all begin values, then all end values; negative entries crop.
 * Reflect mirrors without repeating the edge element (numpy's "reflect") and needs
 * each pad to be smaller than its dim.
 */
#include <string.h>

#include "engine/ops/ops_common.h"

typedef enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE } pad_mode;

typedef struct pad_config {
    pad_mode mode;
    int64_t begin[FS_MAX_RANK];
    int64_t end[FS_MAX_RANK];
} pad_config;

static int pad_configure(const fs_graph *graph, const fs_node *node, pad_config *config,
                         fs_error *err)
{
    const fs_value *x = &graph->values[node->inputs[0]];
    const char *mode;
    int status = fs_node_attr_string(node, "mode", "constant", &mode, err);
    if (status != FACESIM_OK)
        return status;
    if (strcmp(mode, "constant") == 0)
        config->mode = PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        config->mode = PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        config->mode = PAD_EDGE;
    else
        return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                            "attribute 'mode' is '%s'; facesim implements constant, reflect "
                            "and edge",
                            mode);

    int64_t pads[2 * FS_MAX_RANK];
    int count;
    if (graph->opset < 11) {
        const int64_t *values;
        size_t n;
        status = fs_node_attr_ints(node, "pads", &values, &n, err);
        if (status != FACESIM_OK)
            return status;
        if (!values)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "attribute 'pads' is missing; Pad requires it before opset 11");
        count = n <= 2 * FS_MAX_RANK ? (int)n : 2 * FS_MAX_RANK + 1;
        for (int i = 0; i < count && i < 2 * FS_MAX_RANK; i++)
            pads[i] = values[i];
    } else {
        status = fs_ops_read_ints(graph, node, 1, "pads", pads, 2 * FS_MAX_RANK, &count, err);
        if (status != FACESIM_OK)
            return status;
    }
    if (count != 2 * x->rank)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "pads has %d entries, expected %d (begin and end for each of %d "
                            "dims)",
                            count, 2 * x->rank, x->rank);

    for (int d = 0; d < x->rank; d++) {
        config->begin[d] = pads[d];
        config->end[d] = pads[x->rank + d];
        int64_t dim = x->dims[d];
        if (dim + config->begin[d] + config->end[d] < 0)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "pads %lld and %lld crop more than the %lld elements of dim %d",
                                (long long)config->begin[d], (long long)config->end[d],
                                (long long)dim, d);
        bool padded = config->begin[d] > 0 || config->end[d] > 0;
        if (config->mode == PAD_REFLECT && padded &&
            (config->begin[d] >= dim || config->end[d] >= dim))
            return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                                "reflect padding of dim %d by %lld and %lld needs pads smaller "
                                "than the dim (%lld)",
                                d, (long long)config->begin[d], (long long)config->end[d],
                                (long long)dim);
        if (config->mode == PAD_EDGE && padded && dim == 0)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "edge padding of empty dim %d has no edge to repeat", d);
    }
    return FACESIM_OK;
}

static int pad_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = graph->opset < 11 ? fs_op_check_arity(node, 1, 1, 1, err)
                                   : fs_op_check_arity(node, 2, 3, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, FS_OPS_FLOAT | FS_OPS_INT64 | FS_OPS_INT32,
                                    err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *x = fs_node_input(graph, node, 0);
    if (graph->opset >= 11 && fs_node_has_input(node, 2)) {
        status = fs_ops_check_input(graph, node, 2, FS_OPS_TYPE(x->dtype), err);
        if (status != FACESIM_OK)
            return status;
        if (fs_value_numel(fs_node_input(graph, node, 2)) != 1)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "input 2 (constant_value) must be a scalar");
    }
    pad_config config;
    status = pad_configure(graph, node, &config, err);
    if (status != FACESIM_OK)
        return status;
    int64_t dims[FS_MAX_RANK];
    for (int d = 0; d < x->rank; d++)
        dims[d] = x->dims[d] + config.begin[d] + config.end[d];
    return fs_ops_set_output(graph, node, 0, x->dtype, x->rank, dims, err);
}

/* Maps a source coordinate that may lie outside [0, dim) back inside; returns -1 for
 * constant mode, where outside means "fill". */
static int64_t pad_source(pad_mode mode, int64_t i, int64_t dim)
{
    if (i >= 0 && i < dim)
        return i;
    switch (mode) {
    case PAD_REFLECT:
        return i < 0 ? -i : 2 * (dim - 1) - i;
    case PAD_EDGE:
        return i < 0 ? 0 : dim - 1;
    case PAD_CONSTANT:
    default:
        return -1;
    }
}

/* Writes output element i of a row from its source in `in`, or the fill value. */
static void pad_copy_element(char *out, const char *in, const unsigned char *value,
                             pad_mode mode, int64_t i, int64_t begin, int64_t width_in,
                             size_t elem_size)
{
    int64_t s = pad_source(mode, i - begin, width_in);
    const void *from = s < 0 ? (const void *)value : (const void *)(in + (size_t)s * elem_size);
    memcpy(out + (size_t)i * elem_size, from, elem_size);
}

/* Reads the fill value into `value` (elem_size bytes). */
static void pad_fill_value(const fs_run_ctx *ctx, const fs_node *node, fs_dtype dtype,
                           unsigned char *value)
{
    memset(value, 0, 8);
    if (ctx->graph->opset >= 11) {
        if (fs_node_has_input(node, 2))
            memcpy(value, fs_ops_input_data(ctx, node, 2), fs_dtype_size(dtype));
        return;
    }
    const fs_attr *attr = fs_node_attr(node, "value");
    float fill = attr && attr->type == FS_ATTR_FLOAT ? attr->f : 0.0f;
    if (dtype == FS_DTYPE_FLOAT) {
        memcpy(value, &fill, sizeof fill);
    } else if (dtype == FS_DTYPE_INT64) {
        int64_t v = (int64_t)fill;
        memcpy(value, &v, sizeof v);
    } else {
        int32_t v = (int32_t)fill;
        memcpy(value, &v, sizeof v);
    }
}

static int pad_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    pad_config config;
    int status = pad_configure(ctx->graph, node, &config, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *input = fs_node_input(ctx->graph, node, 0);
    const fs_value *output = fs_node_output(ctx->graph, node, 0);
    int64_t count = fs_value_numel(output);
    if (count == 0)
        return FACESIM_OK;
    size_t elem_size = fs_dtype_size(input->dtype);
    unsigned char value[8];
    pad_fill_value(ctx, node, input->dtype, value);

    /* A rank-0 input pads nothing; view everything as rows of the last dim. */
    int rank = input->rank;
    if (rank == 0) {
        memcpy(fs_ops_output_data(ctx, node, 0), fs_ops_input_data(ctx, node, 0), elem_size);
        return FACESIM_OK;
    }
    int last = rank - 1;
    int64_t in_strides[FS_MAX_RANK];
    fs_ops_strides(rank, input->dims, in_strides);
    int64_t width_in = input->dims[last], width_out = output->dims[last];
    int64_t begin = config.begin[last];
    int64_t copy_from = begin > 0 ? begin : 0;
    int64_t copy_to = begin + width_in < width_out ? begin + width_in : width_out;
    int64_t rows = count / width_out;
    const char *x = fs_ops_input_data(ctx, node, 0);
    char *y = fs_ops_output_data(ctx, node, 0);
    int threads = fs_ops_threads(ctx, count);

    #pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (int64_t row = 0; row < rows; row++) {
        char *out = y + (size_t)(row * width_out) * elem_size;
        int64_t offset = 0, rest = row;
        bool fill_row = false;
        for (int d = last - 1; d >= 0; d--) {
            int64_t o = rest % output->dims[d];
            rest /= output->dims[d];
            int64_t s = pad_source(config.mode, o - config.begin[d], input->dims[d]);
            if (s < 0)
                fill_row = true;
            else
                offset += s * in_strides[d];
        }
        if (fill_row) {
            for (int64_t i = 0; i < width_out; i++)
                memcpy(out + (size_t)i * elem_size, value, elem_size);
            continue;
        }
        const char *in = x + (size_t)offset * elem_size;
        if (copy_to > copy_from)
            memcpy(out + (size_t)copy_from * elem_size,
                   in + (size_t)(copy_from - begin) * elem_size,
                   (size_t)(copy_to - copy_from) * elem_size);
        /* The padded positions left and right of the copied run. */
        int64_t left_end = copy_from < width_out ? copy_from : width_out;
        int64_t right_begin = copy_to > copy_from ? copy_to : copy_from;
        for (int64_t i = 0; i < left_end; i++)
            pad_copy_element(out, in, value, config.mode, i, begin, width_in, elem_size);
        for (int64_t i = right_begin; i < width_out; i++)
            pad_copy_element(out, in, value, config.mode, i, begin, width_in, elem_size);
    }
    return FACESIM_OK;
}

const fs_op fs_op_pad = {
    .op_type = "Pad",
    .infer = pad_infer,
    .run = pad_run,
};

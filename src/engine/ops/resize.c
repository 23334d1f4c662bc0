/*
 * Resize (opsets 10 to 17) and Upsample (opset 9, and opset 7 with a `scales`
 * attribute), float32, modes nearest and linear on the last two dims.
 *
 * Inputs by version:
 * - Upsample and Resize-10: X, scales.
 * - Resize-11 and later: X, roi, scales, sizes. Exactly one of scales and sizes is
 *   given (scales may be an empty tensor when sizes is used). roi only matters for
 *   tf_crop_and_resize, which is not implemented.
 * Output dim = floor(input dim * scale), with the product in float as onnxruntime
 * computes it. With sizes, the scale used for coordinates is output / input.
 *
 * Coordinates follow the UpsampleBase class of onnxruntime's CPU kernels
 * (onnxruntime/core/providers/cpu/tensor/upsamplebase.h). Before opset 11 the
 * transform is asymmetric and nearest rounding is "simple" (truncate when upsampling,
 * ceil when downsampling). From opset 11 the attributes coordinate_transformation_mode
 * (default half_pixel) and nearest_mode (default round_prefer_floor) choose them.
 * Linear mode clamps the source coordinate to the input and blends the two nearest
 * rows and columns.
 *
 * NHWC input gives NHWC output. Run builds per-axis index tables in the scratch
 * memory that prepare requests. A caller that skips prepare gets no scratch, and
 * then run computes each index where it is used.
 */
#include <math.h>
#include <string.h>

#include "engine/ops/ops_common.h"

typedef enum resize_mode { RESIZE_NEAREST, RESIZE_LINEAR } resize_mode;

typedef enum resize_transform {
    RESIZE_HALF_PIXEL,
    RESIZE_ASYMMETRIC,
    RESIZE_PYTORCH_HALF_PIXEL,
    RESIZE_TF_HALF_PIXEL_FOR_NN,
    RESIZE_ALIGN_CORNERS
} resize_transform;

typedef enum resize_rounding {
    RESIZE_ROUND_SIMPLE, /* before opset 11 */
    RESIZE_ROUND_PREFER_FLOOR,
    RESIZE_ROUND_PREFER_CEIL,
    RESIZE_ROUND_FLOOR,
    RESIZE_ROUND_CEIL
} resize_rounding;

/* One of the two resized axes (H or W): lengths and the scale used for coordinates. */
typedef struct resize_axis {
    int64_t in, out;
    float scale;
} resize_axis;

typedef struct resize_config {
    resize_mode mode;
    resize_transform transform;
    resize_rounding rounding;
    int rank;
    int64_t out_dims[FS_MAX_RANK];
    resize_axis height, width; /* height is 1 -> 1 for rank-1 input */
} resize_config;

/* Source position of one output index in linear mode: blend i1 and i2 with weights
 * d2 and d1 (the distances to the other neighbour). */
typedef struct resize_linear_tap {
    int64_t i1, i2;
    float d1, d2;
} resize_linear_tap;

static int resize_parse_mode(const fs_node *node, resize_config *config, fs_error *err)
{
    const char *mode;
    int status = fs_node_attr_string(node, "mode", "nearest", &mode, err);
    if (status != FACESIM_OK)
        return status;
    if (strcmp(mode, "nearest") == 0)
        config->mode = RESIZE_NEAREST;
    else if (strcmp(mode, "linear") == 0 || strcmp(mode, "bilinear") == 0)
        config->mode = RESIZE_LINEAR;
    else
        return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                            "attribute 'mode' is '%s'; facesim implements 'nearest' and "
                            "'linear' only",
                            mode);
    return FACESIM_OK;
}

/* Reads the opset 11 attributes that pick the coordinate transform and rounding. */
static int resize_parse_coordinates(const fs_node *node, resize_config *config, fs_error *err)
{
    static const struct {
        const char *name;
        resize_transform value;
    } transforms[] = {
        { "half_pixel", RESIZE_HALF_PIXEL },
        { "asymmetric", RESIZE_ASYMMETRIC },
        { "pytorch_half_pixel", RESIZE_PYTORCH_HALF_PIXEL },
        { "tf_half_pixel_for_nn", RESIZE_TF_HALF_PIXEL_FOR_NN },
        { "align_corners", RESIZE_ALIGN_CORNERS },
    };
    static const struct {
        const char *name;
        resize_rounding value;
    } roundings[] = {
        { "round_prefer_floor", RESIZE_ROUND_PREFER_FLOOR },
        { "round_prefer_ceil", RESIZE_ROUND_PREFER_CEIL },
        { "floor", RESIZE_ROUND_FLOOR },
        { "ceil", RESIZE_ROUND_CEIL },
    };
    const char *transform, *rounding;
    int status = fs_node_attr_string(node, "coordinate_transformation_mode", "half_pixel",
                                     &transform, err);
    if (status == FACESIM_OK)
        status = fs_node_attr_string(node, "nearest_mode", "round_prefer_floor", &rounding, err);
    if (status != FACESIM_OK)
        return status;

    size_t i;
    for (i = 0; i < sizeof transforms / sizeof transforms[0]; i++)
        if (strcmp(transform, transforms[i].name) == 0)
            break;
    if (i == sizeof transforms / sizeof transforms[0])
        return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                            "attribute 'coordinate_transformation_mode' is '%s'; facesim "
                            "implements half_pixel, asymmetric, pytorch_half_pixel, "
                            "tf_half_pixel_for_nn and align_corners",
                            transform);
    config->transform = transforms[i].value;

    for (i = 0; i < sizeof roundings / sizeof roundings[0]; i++)
        if (strcmp(rounding, roundings[i].name) == 0)
            break;
    if (i == sizeof roundings / sizeof roundings[0])
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "attribute 'nearest_mode' is '%s', expected round_prefer_floor, "
                            "round_prefer_ceil, floor or ceil",
                            rounding);
    config->rounding = roundings[i].value;

    int64_t exclude_outside, antialias;
    status = fs_node_attr_int(node, "exclude_outside", 0, &exclude_outside, err);
    if (status == FACESIM_OK)
        status = fs_node_attr_int(node, "antialias", 0, &antialias, err);
    if (status != FACESIM_OK)
        return status;
    if (exclude_outside != 0 || antialias != 0)
        return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                            "attribute '%s' is set; facesim does not implement it",
                            exclude_outside != 0 ? "exclude_outside" : "antialias");
    return FACESIM_OK;
}

/* Reads scales (attribute or input) or sizes and fills out_dims and per-dim scales. */
static int resize_parse_shape(const fs_graph *graph, const fs_node *node, bool is_upsample,
                              const fs_value *x, float *scales, resize_config *config,
                              fs_error *err)
{
    int count = 0;
    int status;
    bool have_sizes = false;
    int64_t sizes[FS_MAX_RANK];

    if (is_upsample && node->n_inputs == 1) {
        const fs_attr *attr = fs_node_attr(node, "scales");
        if (!attr || attr->type != FS_ATTR_FLOATS)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "needs a 'scales' attribute (opset 7) or a scales input");
        count = (int)(attr->count < FS_MAX_RANK + 1 ? attr->count : FS_MAX_RANK + 1);
        for (int i = 0; i < count && i < FS_MAX_RANK; i++)
            scales[i] = attr->floats[i];
    } else if (is_upsample || graph->opset < 11) {
        status = fs_ops_read_floats(graph, node, 1, "scales", scales, FS_MAX_RANK, &count, err);
        if (status != FACESIM_OK)
            return status;
    } else {
        if (fs_node_has_input(node, 2)) {
            status = fs_ops_read_floats(graph, node, 2, "scales", scales, FS_MAX_RANK, &count,
                                        err);
            if (status != FACESIM_OK)
                return status;
        }
        if (count == 0 && fs_node_has_input(node, 3)) {
            status = fs_ops_read_ints(graph, node, 3, "sizes", sizes, FS_MAX_RANK, &count, err);
            if (status != FACESIM_OK)
                return status;
            have_sizes = true;
        }
        if (count == 0)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "neither scales (input 2) nor sizes (input 3) is given");
    }
    if (count != x->rank)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "%s has %d entries but the input '%s' has rank %d",
                            have_sizes ? "sizes" : "scales", count, x->name, x->rank);

    for (int d = 0; d < x->rank; d++) {
        if (have_sizes) {
            if (sizes[d] < 0 || (x->dims[d] == 0 && sizes[d] != 0))
                return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                    "sizes entry %d is %lld, which cannot come from input dim "
                                    "%lld",
                                    d, (long long)sizes[d], (long long)x->dims[d]);
            config->out_dims[d] = sizes[d];
            scales[d] = x->dims[d] == 0 ? 1.0f : (float)sizes[d] / (float)x->dims[d];
        } else {
            if (!(scales[d] > 0.0f) || !isfinite(scales[d]) || (is_upsample && scales[d] < 1.0f))
                return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                    "scales entry %d is %g, expected a finite value %s", d,
                                    scales[d], is_upsample ? ">= 1" : "> 0");
            float product = scales[d] * (float)x->dims[d];
            if (product >= 9.2e18f)
                return fs_ops_error(err, node, FACESIM_ERR_LIMIT,
                                    "scales entry %d gives an output dim too large to hold", d);
            config->out_dims[d] = (int64_t)product;
        }
    }
    return FACESIM_OK;
}

static int resize_configure(const fs_graph *graph, const fs_node *node, bool is_upsample,
                            resize_config *config, fs_error *err)
{
    const fs_value *x = &graph->values[node->inputs[0]];
    memset(config, 0, sizeof *config);
    int status = resize_parse_mode(node, config, err);
    if (status != FACESIM_OK)
        return status;
    if (!is_upsample && graph->opset >= 11) {
        status = resize_parse_coordinates(node, config, err);
        if (status != FACESIM_OK)
            return status;
    } else {
        config->transform = RESIZE_ASYMMETRIC;
        config->rounding = RESIZE_ROUND_SIMPLE;
    }
    if (x->rank < 1)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "input '%s' is a scalar; there is nothing to resize", x->name);

    float scales[FS_MAX_RANK];
    status = resize_parse_shape(graph, node, is_upsample, x, scales, config, err);
    if (status != FACESIM_OK)
        return status;
    config->rank = x->rank;

    /* Only the last two dims may change. */
    int first_spatial = x->rank >= 2 ? x->rank - 2 : 0;
    for (int d = 0; d < first_spatial; d++)
        if (scales[d] != 1.0f || config->out_dims[d] != x->dims[d])
            return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                                "scales entry %d is %g; facesim resizes only the last two dims "
                                "and needs 1 for the others",
                                d, scales[d]);
    resize_axis unit = { 1, 1, 1.0f };
    config->height = unit;
    if (x->rank >= 2)
        config->height = (resize_axis){ x->dims[x->rank - 2], config->out_dims[x->rank - 2],
                                        scales[x->rank - 2] };
    config->width = (resize_axis){ x->dims[x->rank - 1], config->out_dims[x->rank - 1],
                                   scales[x->rank - 1] };
    return FACESIM_OK;
}

static int resize_infer_common(fs_graph *graph, fs_node *node, bool is_upsample, fs_error *err)
{
    int max_inputs = is_upsample || graph->opset < 11 ? 2 : 4;
    int status = fs_op_check_arity(node, 1, max_inputs, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, FS_OPS_FLOAT, err);
    if (status != FACESIM_OK)
        return status;
    resize_config config;
    status = resize_configure(graph, node, is_upsample, &config, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *x = fs_node_input(graph, node, 0);
    for (int d = 0; d < x->rank; d++)
        if (x->dims[d] == 0 && config.out_dims[d] != 0)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "input '%s' is empty along dim %d", x->name, d);
    return fs_ops_set_output(graph, node, 0, FS_DTYPE_FLOAT, x->rank, config.out_dims, err);
}

static int resize_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    return resize_infer_common(graph, node, false, err);
}

static int upsample_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    return resize_infer_common(graph, node, true, err);
}

/* Maps output index o of an axis to a (fractional) input coordinate. */
static float resize_source_coordinate(const resize_config *config, const resize_axis *axis,
                                      int64_t o)
{
    float x = (float)o, scale = axis->scale;
    switch (config->transform) {
    case RESIZE_ASYMMETRIC:
        return x / scale;
    case RESIZE_PYTORCH_HALF_PIXEL:
        return axis->out > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
    case RESIZE_TF_HALF_PIXEL_FOR_NN:
        return (x + 0.5f) / scale;
    case RESIZE_ALIGN_CORNERS:
        return axis->out == 1 ? 0.0f : x * (float)(axis->in - 1) / (float)(axis->out - 1);
    case RESIZE_HALF_PIXEL:
    default:
        return (x + 0.5f) / scale - 0.5f;
    }
}

static int64_t resize_nearest_index(const resize_config *config, const resize_axis *axis,
                                    int64_t o)
{
    float x = resize_source_coordinate(config, axis, o);
    int64_t index;
    switch (config->rounding) {
    case RESIZE_ROUND_SIMPLE:
        index = axis->scale < 1.0f ? (int64_t)ceilf(x) : (int64_t)x;
        break;
    case RESIZE_ROUND_PREFER_CEIL:
        /* NOTE: onnxruntime 1.31 picks the upper neighbour in a few downsampling cases
         * where this float coordinate lands just below .5 (5x7 -> 3x4 with sizes and
         * asymmetric, for one); facesim rounds the float value as computed here. */
        index = (int64_t)roundf(x);
        break;
    case RESIZE_ROUND_FLOOR:
        index = (int64_t)floorf(x);
        break;
    case RESIZE_ROUND_CEIL:
        index = (int64_t)ceilf(x);
        break;
    case RESIZE_ROUND_PREFER_FLOOR:
    default:
        index = x == (float)(int64_t)x + 0.5f ? (int64_t)floorf(x) : (int64_t)roundf(x);
        break;
    }
    if (index < 0)
        return 0;
    return index >= axis->in ? axis->in - 1 : index;
}

static resize_linear_tap resize_linear_index(const resize_config *config,
                                             const resize_axis *axis, int64_t o)
{
    float x = axis->scale == 1.0f ? (float)o : resize_source_coordinate(config, axis, o);
    float high = (float)(axis->in - 1);
    x = x < 0.0f ? 0.0f : x;
    x = x > high ? high : x;
    resize_linear_tap tap;
    tap.i1 = (int64_t)x < axis->in - 1 ? (int64_t)x : axis->in - 1;
    tap.i2 = tap.i1 + 1 < axis->in - 1 ? tap.i1 + 1 : axis->in - 1;
    tap.d1 = fabsf(x - (float)tap.i1);
    tap.d2 = fabsf(x - (float)tap.i2);
    if (tap.i1 == tap.i2) {
        tap.d1 = 0.5f;
        tap.d2 = 0.5f;
    }
    return tap;
}

static size_t resize_scratch_bytes(const resize_config *config)
{
    size_t entry = config->mode == RESIZE_LINEAR ? sizeof(resize_linear_tap) : sizeof(int64_t);
    return (size_t)(config->height.out + config->width.out) * entry;
}

static bool resize_accepts_layouts(const fs_graph *graph, const fs_node *node,
                                   const fs_layout *input_layouts)
{
    for (int i = 1; i < node->n_inputs; i++)
        if (node->inputs[i] >= 0 && input_layouts[i] != FS_LAYOUT_PLAIN)
            return false;
    return input_layouts[0] == FS_LAYOUT_PLAIN || graph->values[node->inputs[0]].rank == 4;
}

static int resize_prepare_common(fs_run_ctx *ctx, fs_node *node, bool is_upsample,
                                 size_t *scratch_bytes, fs_error *err)
{
    resize_config config;
    int status = resize_configure(ctx->graph, node, is_upsample, &config, err);
    if (status != FACESIM_OK)
        return status;
    *scratch_bytes = resize_scratch_bytes(&config);
    if (fs_ops_input_layout(ctx, node, 0) == FS_LAYOUT_NHWC)
        ctx->tensors[node->outputs[0]].layout = FS_LAYOUT_NHWC;
    return FACESIM_OK;
}

static int resize_prepare(fs_run_ctx *ctx, fs_node *node, size_t *scratch_bytes, fs_error *err)
{
    return resize_prepare_common(ctx, node, false, scratch_bytes, err);
}

static int upsample_prepare(fs_run_ctx *ctx, fs_node *node, size_t *scratch_bytes,
                            fs_error *err)
{
    return resize_prepare_common(ctx, node, true, scratch_bytes, err);
}

/* Geometry of a run: `planes` images of in_h x in_w, each pixel `channels` floats
 * (1 for plain layout, C for NHWC, where the planes are the batch). */
typedef struct resize_geometry {
    int64_t planes, channels;
} resize_geometry;

static void resize_nearest(const resize_config *config, resize_geometry geometry,
                           const float *x, float *y, const int64_t *table, int threads)
{
    const resize_axis *h = &config->height, *w = &config->width;
    int64_t rows = geometry.planes * h->out, channels = geometry.channels;

    #pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (int64_t row = 0; row < rows; row++) {
        int64_t plane = row / h->out, oy = row % h->out;
        int64_t iy = table ? table[oy] : resize_nearest_index(config, h, oy);
        const float *in_row = x + (plane * h->in + iy) * w->in * channels;
        float *out_row = y + row * w->out * channels;
        if (channels == 1) {
            for (int64_t ox = 0; ox < w->out; ox++) {
                int64_t ix = table ? table[h->out + ox] : resize_nearest_index(config, w, ox);
                out_row[ox] = in_row[ix];
            }
        } else {
            for (int64_t ox = 0; ox < w->out; ox++) {
                int64_t ix = table ? table[h->out + ox] : resize_nearest_index(config, w, ox);
                memcpy(out_row + ox * channels, in_row + ix * channels,
                       (size_t)channels * sizeof(float));
            }
        }
    }
}

static void resize_linear(const resize_config *config, resize_geometry geometry,
                          const float *x, float *y, const resize_linear_tap *table,
                          int threads)
{
    const resize_axis *h = &config->height, *w = &config->width;
    int64_t rows = geometry.planes * h->out, channels = geometry.channels;

    #pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (int64_t row = 0; row < rows; row++) {
        int64_t plane = row / h->out, oy = row % h->out;
        resize_linear_tap ty = table ? table[oy] : resize_linear_index(config, h, oy);
        const float *row1 = x + (plane * h->in + ty.i1) * w->in * channels;
        const float *row2 = x + (plane * h->in + ty.i2) * w->in * channels;
        float *out_row = y + row * w->out * channels;
        for (int64_t ox = 0; ox < w->out; ox++) {
            resize_linear_tap tx = table ? table[h->out + ox] : resize_linear_index(config, w, ox);
            /* Each weight is the product of the distances to the opposite neighbours. */
            float w11 = tx.d2 * ty.d2, w21 = tx.d1 * ty.d2;
            float w12 = tx.d2 * ty.d1, w22 = tx.d1 * ty.d1;
            const float *x11 = row1 + tx.i1 * channels, *x21 = row1 + tx.i2 * channels;
            const float *x12 = row2 + tx.i1 * channels, *x22 = row2 + tx.i2 * channels;
            float *out = out_row + ox * channels;
            #pragma omp simd
            for (int64_t c = 0; c < channels; c++)
                out[c] = w11 * x11[c] + w21 * x21[c] + w12 * x12[c] + w22 * x22[c];
        }
    }
}

static int resize_run_common(fs_run_ctx *ctx, fs_node *node, bool is_upsample, fs_error *err)
{
    resize_config config;
    int status = resize_configure(ctx->graph, node, is_upsample, &config, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *input = fs_node_input(ctx->graph, node, 0);
    const fs_value *output = fs_node_output(ctx->graph, node, 0);
    int64_t count = fs_value_numel(output);
    if (count == 0)
        return FACESIM_OK;

    resize_geometry geometry = { 1, 1 };
    if (fs_ops_input_layout(ctx, node, 0) == FS_LAYOUT_NHWC) {
        geometry.planes = input->dims[0];
        geometry.channels = input->dims[1];
    } else {
        for (int d = 0; d < input->rank - 2; d++)
            geometry.planes *= input->dims[d];
    }

    /* Index tables for both axes: height entries first, then width. */
    bool use_table = ctx->scratch && ctx->scratch_size >= resize_scratch_bytes(&config);
    const float *x = fs_ops_input_data(ctx, node, 0);
    float *y = fs_ops_output_data(ctx, node, 0);
    int threads = fs_ops_threads(ctx, count);
    const resize_axis *h = &config.height, *w = &config.width;

    if (config.mode == RESIZE_NEAREST) {
        int64_t *table = use_table ? ctx->scratch : NULL;
        for (int64_t o = 0; table && o < h->out; o++)
            table[o] = resize_nearest_index(&config, h, o);
        for (int64_t o = 0; table && o < w->out; o++)
            table[h->out + o] = resize_nearest_index(&config, w, o);
        resize_nearest(&config, geometry, x, y, table, threads);
    } else {
        resize_linear_tap *table = use_table ? ctx->scratch : NULL;
        for (int64_t o = 0; table && o < h->out; o++)
            table[o] = resize_linear_index(&config, h, o);
        for (int64_t o = 0; table && o < w->out; o++)
            table[h->out + o] = resize_linear_index(&config, w, o);
        resize_linear(&config, geometry, x, y, table, threads);
    }
    return FACESIM_OK;
}

static int resize_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    return resize_run_common(ctx, node, false, err);
}

static int upsample_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    return resize_run_common(ctx, node, true, err);
}

const fs_op fs_op_resize = {
    .op_type = "Resize",
    .infer = resize_infer,
    .accepts_layouts = resize_accepts_layouts,
    .prepare = resize_prepare,
    .run = resize_run,
};

const fs_op fs_op_upsample = {
    .op_type = "Upsample",
    .infer = upsample_infer,
    .accepts_layouts = resize_accepts_layouts,
    .prepare = upsample_prepare,
    .run = upsample_run,
};

/*
 * SCRFD face detector (insightface's model_zoo/scrfd.py, python-package 0.7).
 *
 * Input: the image resized with its aspect ratio kept into the top-left corner
 * of a zero canvas, RGB, (pixel - 127.5) / 128, NCHW float.
 * Outputs: for each stride (8, 16, 32, or 8 .. 128 for 5-level models) a score
 * map [rows, 1], box distances [rows, 4] and optionally landmark offsets
 * [rows, 10], with or without a leading batch dimension of 1. insightface takes
 * them in file order: the first third (or half, without landmarks) are scores
 * by stride, then boxes, then landmarks. That order is checked against the
 * shapes of a run, and outputs are matched by shape when a model orders them
 * differently.
 */
#include "face/face.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"

enum { SCRFD_SCORES = 0, SCRFD_BOXES = 1, SCRFD_LANDMARKS = 2 };

static const int scrfd_widths[3] = {1, 4, 10};

int fs_scrfd_init(fs_scrfd *det, fs_engine *engine, const char *path, fs_error *err)
{
    memset(det, 0, sizeof *det);
    det->engine = engine;
    det->path = path;

    fs_tensor_info input;
    if (fs_engine_input_count(engine) != 1 || fs_engine_input_info(engine, 0, &input) != FACESIM_OK)
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: an SCRFD detector has exactly one input", path);
    if (input.rank != 4 || input.dims[1] != 3)
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: input '%s' must be N x 3 x H x W for an SCRFD detector", path,
                            input.name);
    det->fixed_height = input.dims[2] > 0 ? (int)input.dims[2] : 0;
    det->fixed_width = input.dims[3] > 0 ? (int)input.dims[3] : 0;

    det->n_outputs = fs_engine_output_count(engine);
    switch (det->n_outputs) {
    case 6:
    case 9:
        det->n_strides = 3;
        det->anchors = 2;
        break;
    case 10:
    case 15:
        det->n_strides = 5;
        det->anchors = 1;
        break;
    default:
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: an SCRFD detector has 6, 9, 10 or 15 outputs, this model has %d",
                            path, det->n_outputs);
    }
    det->has_landmarks = det->n_outputs == 9 || det->n_outputs == 15;
    for (int i = 0; i < det->n_strides; i++)
        det->strides[i] = 8 << i;

    int max_stride = det->strides[det->n_strides - 1];
    if ((det->fixed_width && det->fixed_width % max_stride) ||
        (det->fixed_height && det->fixed_height % max_stride))
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: input size %dx%d is not a multiple of the largest stride %d",
                            path, det->fixed_width, det->fixed_height, max_stride);
    return FACESIM_OK;
}

void fs_scrfd_release(fs_scrfd *det)
{
    free(det->input);
    free(det->keep);
    fs_face_list_release(&det->candidates);
    memset(det, 0, sizeof *det);
}

void fs_scrfd_letterbox(int image_width, int image_height, int canvas_width, int canvas_height,
                        int *new_width, int *new_height, double *scale)
{
    /* The same double arithmetic as SCRFD.detect: im_ratio, model_ratio, int(). */
    double image_ratio = (double)image_height / (double)image_width;
    double model_ratio = (double)canvas_height / (double)canvas_width;
    int w, h;
    if (image_ratio > model_ratio) {
        h = canvas_height;
        w = (int)(h / image_ratio);
    } else {
        w = canvas_width;
        h = (int)(w * image_ratio);
    }
    /* NOTE: insightface would pass a zero size to cv2.resize and fail for images more
     * than det_size times wider than tall; one pixel keeps such images usable. */
    if (w < 1)
        w = 1;
    if (h < 1)
        h = 1;
    *new_width = w;
    *new_height = h;
    *scale = (double)h / (double)image_height;
}

int fs_scrfd_decode_stride(const float *scores, const float *distances, const float *landmarks,
                           int grid_width, int grid_height, int anchors, int stride,
                           float threshold, double scale, fs_face_list *out, fs_error *err)
{
    /* NumPy divides the float32 boxes by the Python float det_scale in float32. */
    float scale_f = (float)scale;
    float stride_f = (float)stride;
    int rows = grid_width * grid_height * anchors;

    for (int r = 0; r < rows; r++) {
        if (!(scores[r] >= threshold))
            continue;
        int cell = r / anchors;
        float cx = (float)(cell % grid_width) * stride_f;
        float cy = (float)(cell / grid_width) * stride_f;
        const float *d = distances + (size_t)r * 4;

        facesim_face face;
        memset(&face, 0, sizeof face);
        face.score = scores[r];
        face.box[0] = (cx - d[0] * stride_f) / scale_f;
        face.box[1] = (cy - d[1] * stride_f) / scale_f;
        face.box[2] = (cx + d[2] * stride_f) / scale_f;
        face.box[3] = (cy + d[3] * stride_f) / scale_f;
        if (landmarks) {
            const float *k = landmarks + (size_t)r * 10;
            for (int p = 0; p < 5; p++) {
                face.landmarks[2 * p] = (cx + k[2 * p] * stride_f) / scale_f;
                face.landmarks[2 * p + 1] = (cy + k[2 * p + 1] * stride_f) / scale_f;
            }
        }
        int status = fs_face_list_push(out, &face, err);
        if (status != FACESIM_OK)
            return status;
    }
    return FACESIM_OK;
}

/* Rows and width of an output shaped [rows, k] or [1, rows, k]; false otherwise. */
static bool scrfd_output_shape(const fs_tensor_data *t, int64_t *rows, int64_t *width)
{
    if (t->dtype != FS_DTYPE_FLOAT)
        return false;
    if (t->rank == 2) {
        *rows = t->dims[0];
        *width = t->dims[1];
        return true;
    }
    if (t->rank == 3 && t->dims[0] == 1) {
        *rows = t->dims[1];
        *width = t->dims[2];
        return true;
    }
    return false;
}

/*
 * Finds, for each kind and stride, the output holding it: insightface's file
 * order when the shapes agree with it, otherwise the unique output of the right
 * shape. index[kind][stride_index] receives the output index.
 */
static int scrfd_map_outputs(const fs_scrfd *det, const fs_tensor_data *outputs,
                             const int64_t *expected_rows, int index[3][FS_SCRFD_MAX_STRIDES],
                             fs_error *err)
{
    int kinds = det->has_landmarks ? 3 : 2;
    for (int kind = 0; kind < kinds; kind++) {
        for (int s = 0; s < det->n_strides; s++) {
            int ordered = kind * det->n_strides + s;
            int64_t rows, width;
            if (scrfd_output_shape(&outputs[ordered], &rows, &width) &&
                rows == expected_rows[s] && width == scrfd_widths[kind]) {
                index[kind][s] = ordered;
                continue;
            }
            index[kind][s] = -1;
            for (int o = 0; o < det->n_outputs; o++) {
                if (scrfd_output_shape(&outputs[o], &rows, &width) && rows == expected_rows[s] &&
                    width == scrfd_widths[kind]) {
                    index[kind][s] = o;
                    break;
                }
            }
            if (index[kind][s] < 0)
                return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                                    "%s: no output of shape [%lld, %d] for stride %d; the "
                                    "outputs do not follow the SCRFD layout",
                                    det->path, (long long)expected_rows[s], scrfd_widths[kind],
                                    det->strides[s]);
        }
    }
    return FACESIM_OK;
}

/* Fills det->input with the letterboxed, normalised canvas. */
static int scrfd_fill_input(fs_scrfd *det, const fs_image *image, int canvas_width,
                            int canvas_height, double *scale, fs_error *err)
{
    int new_width, new_height;
    fs_scrfd_letterbox(image->width, image->height, canvas_width, canvas_height, &new_width,
                       &new_height, scale);

    size_t plane, floats;
    if (!fs_mul_size((size_t)canvas_width, (size_t)canvas_height, &plane) ||
        !fs_mul_size(plane, 3, &floats))
        return fs_error_set(err, FACESIM_ERR_LIMIT, "detector canvas %dx%d is too large",
                            canvas_width, canvas_height);
    if (floats > det->input_capacity) {
        float *grown = realloc(det->input, floats * sizeof *grown);
        if (!grown)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                "out of memory for the %dx%d detector canvas", canvas_width,
                                canvas_height);
        det->input = grown;
        det->input_capacity = floats;
    }

    fs_image resized = {0};
    int status = fs_image_resize_linear(image, new_width, new_height, &resized, err);
    if (status != FACESIM_OK)
        return status;

    /* The canvas is zero (black) outside the resized image, then normalised like it. */
    const float background = (0.0f - 127.5f) / 128.0f;
    for (int c = 0; c < 3; c++) {
        float *dst = det->input + (size_t)c * plane;
        for (int y = 0; y < canvas_height; y++) {
            float *row = dst + (size_t)y * canvas_width;
            int x = 0;
            if (y < new_height) {
                const uint8_t *src = resized.pixels + (size_t)y * new_width * 3 + c;
                for (; x < new_width; x++)
                    row[x] = ((float)src[(size_t)x * 3] - 127.5f) / 128.0f;
            }
            for (; x < canvas_width; x++)
                row[x] = background;
        }
    }
    fs_image_release(&resized);
    return FACESIM_OK;
}

int fs_scrfd_detect(fs_scrfd *det, const fs_image *image, const fs_detect_params *params,
                    fs_face_list *out, fs_error *err)
{
    out->count = 0;
    det->candidates.count = 0;

    /* A model with a fixed input size uses it and ignores det_size, as insightface does. */
    int canvas_width = det->fixed_width, canvas_height = det->fixed_height;
    int max_stride = det->strides[det->n_strides - 1];
    if (!canvas_width || !canvas_height) {
        if (params->det_size <= 0 || params->det_size % max_stride || params->det_size > 8192)
            return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                                "det_size %d is invalid for %s: use a positive multiple of %d "
                                "up to 8192, such as 640",
                                params->det_size, det->path, max_stride);
        canvas_width = canvas_width ? canvas_width : params->det_size;
        canvas_height = canvas_height ? canvas_height : params->det_size;
    }

    double scale;
    int status = scrfd_fill_input(det, image, canvas_width, canvas_height, &scale, err);
    if (status != FACESIM_OK)
        return status;

    fs_tensor_data input = {FS_DTYPE_FLOAT, 4, {1, 3, canvas_height, canvas_width}, det->input};
    fs_tensor_data outputs[15];
    memset(outputs, 0, sizeof outputs);
    status = fs_engine_run(det->engine, &input, 1, outputs, det->n_outputs, err);
    if (status != FACESIM_OK)
        return status;

    int64_t expected_rows[FS_SCRFD_MAX_STRIDES];
    for (int s = 0; s < det->n_strides; s++)
        expected_rows[s] = (int64_t)(canvas_width / det->strides[s]) *
                           (canvas_height / det->strides[s]) * det->anchors;
    int index[3][FS_SCRFD_MAX_STRIDES];
    status = scrfd_map_outputs(det, outputs, expected_rows, index, err);
    if (status != FACESIM_OK)
        return status;

    float threshold = params->score_threshold >= 0.0f ? params->score_threshold
                                                      : FS_SCRFD_DEFAULT_THRESHOLD;
    for (int s = 0; s < det->n_strides; s++) {
        int stride = det->strides[s];
        const float *landmarks =
            det->has_landmarks ? outputs[index[SCRFD_LANDMARKS][s]].data : NULL;
        status = fs_scrfd_decode_stride(outputs[index[SCRFD_SCORES][s]].data,
                                        outputs[index[SCRFD_BOXES][s]].data, landmarks,
                                        canvas_width / stride, canvas_height / stride,
                                        det->anchors, stride, threshold, scale, &det->candidates,
                                        err);
        if (status != FACESIM_OK)
            return status;
    }

    int count = det->candidates.count;
    if ((size_t)count > det->keep_capacity) {
        uint8_t *grown = realloc(det->keep, (size_t)count);
        if (!grown)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory for %d candidates",
                                count);
        det->keep = grown;
        det->keep_capacity = (size_t)count;
    }
    fs_face_sort_by_score(det->candidates.faces, count);
    count = fs_face_nms(det->candidates.faces, count, params->nms_threshold, det->keep);

    for (int i = 0; i < count; i++) {
        status = fs_face_list_push(out, &det->candidates.faces[i], err);
        if (status != FACESIM_OK)
            return status;
    }
    return FACESIM_OK;
}

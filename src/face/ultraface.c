/*
 * The default pack's face detector, fr_detect.onnx: an UltraFace-style
 * (Ultra-Light-Fast-Generic-Face-Detector, RFB 320) network with its box
 * decoding built into the graph.
 *
 * Preprocessing follows the pack's lib/fr_detect.js: the whole image resized
 * (aspect ratio not kept) to the 320x240 input with bilinear interpolation,
 * (pixel - 127) / 128, NCHW. Outputs: scores [1, 4420, 2] (background, face)
 * and boxes [1, 4420, 4] as x1, y1, x2, y2 in fractions of the input size.
 *
 * NOTE: the JavaScript reads a canvas (RGBA) and then applies OpenCV's
 * BGR2RGB, so it feeds the network B, G, R. facesim feeds R, G, B, the order
 * the original UltraFace training code uses. The JavaScript also runs its NMS
 * in order of y2 with overlap measured against one box's area; facesim uses
 * the score-ordered IoU suppression of the SCRFD path.
 */
#include "face/face.h"

#include <stdlib.h>
#include <string.h>

/* Index of the [1, N, width] float output, or -1. */
static int ultraface_find_output(fs_engine *engine, int width, int64_t *rows)
{
    for (int o = 0; o < fs_engine_output_count(engine); o++) {
        fs_tensor_info info;
        if (fs_engine_output_info(engine, o, &info) != FACESIM_OK)
            continue;
        if (info.rank == 3 && info.dims[0] == 1 && info.dims[1] > 0 && info.dims[2] == width) {
            *rows = info.dims[1];
            return o;
        }
    }
    return -1;
}

bool fs_ultraface_matches(fs_engine *engine)
{
    fs_tensor_info input;
    if (fs_engine_input_count(engine) != 1 || fs_engine_output_count(engine) != 2 ||
        fs_engine_input_info(engine, 0, &input) != FACESIM_OK)
        return false;
    if (input.rank != 4 || input.dims[0] != 1 || input.dims[1] != 3 || input.dims[2] <= 0 ||
        input.dims[3] <= 0)
        return false;
    int64_t score_rows = 0, box_rows = 0;
    return ultraface_find_output(engine, 2, &score_rows) >= 0 &&
           ultraface_find_output(engine, 4, &box_rows) >= 0 && score_rows == box_rows;
}

int fs_ultraface_init(fs_ultraface *det, fs_engine *engine, const char *path, fs_error *err)
{
    memset(det, 0, sizeof *det);
    det->engine = engine;
    det->path = path;
    if (!fs_ultraface_matches(engine))
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: expected one 1x3xHxW input and outputs [1,N,2] and [1,N,4]",
                            path);

    fs_tensor_info input;
    fs_engine_input_info(engine, 0, &input);
    if (input.dims[2] > 4096 || input.dims[3] > 4096)
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED, "%s: input %lldx%lld is too large",
                            path, (long long)input.dims[3], (long long)input.dims[2]);
    det->height = (int)input.dims[2];
    det->width = (int)input.dims[3];

    int64_t rows = 0;
    det->scores_output = ultraface_find_output(engine, 2, &rows);
    det->boxes_output = ultraface_find_output(engine, 4, &rows);
    if (rows > (1 << 24))
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED, "%s: %lld candidate boxes is too many",
                            path, (long long)rows);
    det->rows = (int)rows;

    det->input = malloc((size_t)det->width * det->height * 3 * sizeof *det->input);
    det->keep = malloc((size_t)det->rows);
    if (!det->input || !det->keep)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory for detector buffers",
                            path);
    return FACESIM_OK;
}

void fs_ultraface_release(fs_ultraface *det)
{
    free(det->input);
    free(det->keep);
    fs_face_list_release(&det->candidates);
    memset(det, 0, sizeof *det);
}

int fs_ultraface_detect(fs_ultraface *det, const fs_image *image, const fs_detect_params *params,
                        fs_face_list *out, fs_error *err)
{
    out->count = 0;
    det->candidates.count = 0;

    fs_image resized = {0};
    int status = fs_image_resize_linear(image, det->width, det->height, &resized, err);
    if (status != FACESIM_OK)
        return status;
    size_t plane = (size_t)det->width * det->height;
    for (size_t i = 0; i < plane; i++) {
        for (int c = 0; c < 3; c++) {
            float value = resized.pixels[i * 3 + c];
            det->input[(size_t)c * plane + i] = (value - 127.0f) / 128.0f;
        }
    }
    fs_image_release(&resized);

    fs_tensor_data input = {FS_DTYPE_FLOAT, 4, {1, 3, det->height, det->width}, det->input};
    fs_tensor_data outputs[2];
    memset(outputs, 0, sizeof outputs);
    status = fs_engine_run(det->engine, &input, 1, outputs, 2, err);
    if (status != FACESIM_OK)
        return status;
    const fs_tensor_data *scores = &outputs[det->scores_output];
    const fs_tensor_data *boxes = &outputs[det->boxes_output];
    if (scores->dtype != FS_DTYPE_FLOAT || boxes->dtype != FS_DTYPE_FLOAT ||
        scores->rank != 3 || boxes->rank != 3 || scores->dims[1] != det->rows ||
        boxes->dims[1] != det->rows)
        return fs_error_set(err, FACESIM_ERR_INTERNAL,
                            "%s: outputs do not have the declared shapes [1,%d,2] and [1,%d,4]",
                            det->path, det->rows, det->rows);

    float threshold = params->score_threshold >= 0.0f ? params->score_threshold
                                                      : FS_ULTRAFACE_DEFAULT_THRESHOLD;
    const float *score_data = scores->data;
    const float *box_data = boxes->data;
    for (int r = 0; r < det->rows; r++) {
        float score = score_data[(size_t)r * 2 + 1]; /* class 1 is "face" */
        if (!(score >= threshold))
            continue;
        const float *b = box_data + (size_t)r * 4;
        facesim_face face;
        memset(&face, 0, sizeof face);
        face.score = score;
        face.box[0] = b[0] * (float)image->width;
        face.box[1] = b[1] * (float)image->height;
        face.box[2] = b[2] * (float)image->width;
        face.box[3] = b[3] * (float)image->height;
        /* The JavaScript drops empty boxes before its NMS. */
        if (!(face.box[2] > face.box[0]) || !(face.box[3] > face.box[1]))
            continue;
        status = fs_face_list_push(&det->candidates, &face, err);
        if (status != FACESIM_OK)
            return status;
    }

    int count = det->candidates.count;
    fs_face_sort_by_score(det->candidates.faces, count);
    count = fs_face_nms(det->candidates.faces, count, params->nms_threshold, det->keep);
    for (int i = 0; i < count; i++) {
        status = fs_face_list_push(out, &det->candidates.faces[i], err);
        if (status != FACESIM_OK)
            return status;
    }
    return FACESIM_OK;
}

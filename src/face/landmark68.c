/*
 * The default pack's 68-point landmark model, fr_landmark.onnx, and the
 * reduction of its 68 points (the iBUG 300-W layout) to the five ArcFace points.
 *
 * The crop follows the pack's lib/fr_detect.js and lib/fr_landmark.js: the
 * detector box is made square (side = box height, same centre) and clamped to
 * the image, truncated to integers, shifted to lie inside the image, cut out,
 * resized to 64x64 (bilinear), converted to grey and divided by 256. The model
 * returns 68 (x, y) pairs as fractions of the square box, which map back to
 * source space as x * width + x1.
 *
 * NOTE: the JavaScript truncates the mapped points to integers and computes
 * grey from an RGBA canvas with OpenCV's BGR weights (so red gets the blue
 * weight). facesim keeps the points as floats and uses the standard weights
 * R 0.299, G 0.587, B 0.114.
 */
#include "face/face.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool fs_landmark68_matches(fs_engine *engine)
{
    fs_tensor_info input, output;
    if (fs_engine_input_count(engine) != 1 || fs_engine_output_count(engine) != 1 ||
        fs_engine_input_info(engine, 0, &input) != FACESIM_OK ||
        fs_engine_output_info(engine, 0, &output) != FACESIM_OK)
        return false;
    if (input.rank != 4 || input.dims[1] != 1 || input.dims[2] != FS_LANDMARK68_SIZE ||
        input.dims[3] != FS_LANDMARK68_SIZE)
        return false;
    int64_t elements = 1;
    for (int d = 0; d < output.rank; d++) {
        if (d == 0 && output.dims[d] <= 1)
            continue;
        elements *= output.dims[d];
    }
    return elements == 136;
}

int fs_landmark68_init(fs_landmark68 *model, fs_engine *engine, const char *path, fs_error *err)
{
    memset(model, 0, sizeof *model);
    model->engine = engine;
    model->path = path;
    if (!fs_landmark68_matches(engine))
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: expected a 1x1x64x64 input and 136 outputs", path);
    return FACESIM_OK;
}

void fs_landmark68_to5(const float p[136], float out[10])
{
    /* Eyes: the mean of the two upper and two lower lid points (37, 38, 40, 41 and
     * 43, 44, 46, 47), not of all six eye points. Nose tip: 30. Mouth corners: the
     * mean of the outer and inner corner (48 and 60, 54 and 64). */
    static const int left_eye[4] = {37, 38, 40, 41};
    static const int right_eye[4] = {43, 44, 46, 47};
    float lx = 0.0f, ly = 0.0f, rx = 0.0f, ry = 0.0f;
    for (int i = 0; i < 4; i++) {
        lx += p[2 * left_eye[i]];
        ly += p[2 * left_eye[i] + 1];
        rx += p[2 * right_eye[i]];
        ry += p[2 * right_eye[i] + 1];
    }
    out[0] = lx / 4.0f;
    out[1] = ly / 4.0f;
    out[2] = rx / 4.0f;
    out[3] = ry / 4.0f;
    out[4] = p[2 * 30];
    out[5] = p[2 * 30 + 1];
    out[6] = (p[2 * 48] + p[2 * 60]) / 2.0f;
    out[7] = (p[2 * 48 + 1] + p[2 * 60 + 1]) / 2.0f;
    out[8] = (p[2 * 54] + p[2 * 64]) / 2.0f;
    out[9] = (p[2 * 54 + 1] + p[2 * 64 + 1]) / 2.0f;
}

int fs_landmark68_crop_rect(const float box[4], int image_width, int image_height, int rect[4],
                            int box_out[4])
{
    /* fr_detect.js scaleResult: a square of the box height around the box centre,
     * clamped to [0, size - 1]. */
    double side = (double)box[3] - box[1];
    double cx = ((double)box[0] + box[2]) / 2.0;
    double cy = ((double)box[1] + box[3]) / 2.0;
    double x1 = fmax(cx - side / 2.0, 0.0);
    double y1 = fmax(cy - side / 2.0, 0.0);
    double x2 = fmin(cx + side / 2.0, image_width - 1.0);
    double y2 = fmin(cy + side / 2.0, image_height - 1.0);
    if (!(x2 > x1) || !(y2 > y1))
        return FACESIM_ERR_NO_FACE;

    /* fr_landmark.js predictLandmarkImage: parseInt truncates. */
    int ix1 = (int)x1, iy1 = (int)y1, ix2 = (int)x2, iy2 = (int)y2;
    int width = abs(ix2 - ix1), height = abs(iy2 - iy1);
    box_out[0] = ix1;
    box_out[1] = iy1;
    box_out[2] = width;
    box_out[3] = height;
    if (width < 1 || height < 1)
        return FACESIM_ERR_NO_FACE;

    /* alignLandmarkImage with scale_value 1.0: shift the box inside the image. */
    double scale = fmin((image_height - 1.0) / height, fmin((image_width - 1.0) / width, 1.0));
    double new_width = width * scale, new_height = height * scale;
    double center_x = width / 2.0 + ix1, center_y = height / 2.0 + iy1;
    double left = center_x - new_width / 2.0, top = center_y - new_height / 2.0;
    double right = center_x + new_width / 2.0, bottom = center_y + new_height / 2.0;
    if (left < 0) {
        right -= left;
        left = 0;
    }
    if (top < 0) {
        bottom -= top;
        top = 0;
    }
    if (right > image_width - 1) {
        left -= right - image_width + 1;
        right = image_width - 1;
    }
    if (bottom > image_height - 1) {
        top -= bottom - image_height + 1;
        bottom = image_height - 1;
    }
    int rx = (int)left > 0 ? (int)left : 0;
    int ry = (int)top > 0 ? (int)top : 0;
    int rw = (int)(right - left) < image_width - 1 ? (int)(right - left) : image_width - 1;
    int rh = (int)(bottom - top) < image_height - 1 ? (int)(bottom - top) : image_height - 1;
    /* OpenCV would reject a region outside the image; keep it inside instead. */
    if (rx + rw > image_width)
        rw = image_width - rx;
    if (ry + rh > image_height)
        rh = image_height - ry;
    if (rw < 1 || rh < 1)
        return FACESIM_ERR_NO_FACE;
    rect[0] = rx;
    rect[1] = ry;
    rect[2] = rw;
    rect[3] = rh;
    return FACESIM_OK;
}

int fs_landmark68_predict(fs_landmark68 *model, const fs_image *image, facesim_face *face,
                          fs_error *err)
{
    int rect[4], box[4];
    if (fs_landmark68_crop_rect(face->box, image->width, image->height, rect, box) != FACESIM_OK)
        return fs_error_set(err, FACESIM_ERR_NO_FACE,
                            "face box (%.1f, %.1f, %.1f, %.1f) is too small or outside the "
                            "%dx%d image for the landmark model",
                            face->box[0], face->box[1], face->box[2], face->box[3], image->width,
                            image->height);

    fs_image crop = {0};
    int status = fs_image_alloc(&crop, rect[2], rect[3], err);
    if (status != FACESIM_OK)
        return status;
    for (int y = 0; y < rect[3]; y++)
        memcpy(crop.pixels + (size_t)y * rect[2] * 3,
               image->pixels + ((size_t)(rect[1] + y) * image->width + rect[0]) * 3,
               (size_t)rect[2] * 3);

    fs_image small = {0};
    status = fs_image_resize_linear(&crop, FS_LANDMARK68_SIZE, FS_LANDMARK68_SIZE, &small, err);
    fs_image_release(&crop);
    if (status != FACESIM_OK)
        return status;

    uint8_t gray[FS_LANDMARK68_SIZE * FS_LANDMARK68_SIZE];
    status = fs_image_to_gray(&small, gray);
    fs_image_release(&small);
    if (status != FACESIM_OK)
        return fs_error_set(err, status, "%s: grey conversion of the face crop failed",
                            model->path);
    float input[FS_LANDMARK68_SIZE * FS_LANDMARK68_SIZE];
    for (int i = 0; i < FS_LANDMARK68_SIZE * FS_LANDMARK68_SIZE; i++)
        input[i] = (float)gray[i] / 256.0f;

    fs_tensor_data in = {FS_DTYPE_FLOAT, 4, {1, 1, FS_LANDMARK68_SIZE, FS_LANDMARK68_SIZE}, input};
    fs_tensor_data out;
    memset(&out, 0, sizeof out);
    status = fs_engine_run(model->engine, &in, 1, &out, 1, err);
    if (status != FACESIM_OK)
        return status;
    if (out.dtype != FS_DTYPE_FLOAT)
        return fs_error_set(err, FACESIM_ERR_INTERNAL, "%s: output is not float", model->path);

    float points[136];
    const float *raw = out.data;
    for (int i = 0; i < 68; i++) {
        points[2 * i] = raw[2 * i] * (float)box[2] + (float)box[0];
        points[2 * i + 1] = raw[2 * i + 1] * (float)box[3] + (float)box[1];
    }
    fs_landmark68_to5(points, face->landmarks);
    return FACESIM_OK;
}

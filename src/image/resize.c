/*
 * Bilinear resize, bit-exact with cv2.resize(src, (w, h), interpolation=INTER_LINEAR)
 * on 8-bit 3-channel images in OpenCV 4.6 (x86-64 build, 128-bit universal intrinsics).
 *
 * Coordinates use pixel centres: destination pixel d samples source position
 * s = (d + 0.5) * scale - 0.5, with scale = 1 / (dst_size / src_size) in double and s
 * rounded to float, as OpenCV computes it. OpenCV's fixed-point path then:
 * - horizontal pass: weights (1 - f, f) scaled by 2048 (INTER_RESIZE_COEF_BITS = 11) and
 *   rounded to int16; row value = S[x] * w0 + S[x + 1] * w1 in int32. Positions left of
 *   the first pixel or right of the last are clamped to the edge pixel.
 * - vertical pass: weights (1 - g, g) likewise, but positions are not clamped; the two
 *   source rows are clamped instead. Output = ((w0 * (r0 >> 4)) >> 16) +
 *   ((w1 * (r1 >> 4)) >> 16), then (+ 2) >> 2. This truncating form is what OpenCV's
 *   SIMD and scalar code both compute for uint8 (VResizeLinear<uchar, ...>), so it is
 *   reproduced here and can differ by one level from exact rounding.
 * - an exact 2x downscale in both directions is done as a 2x2 box average
 *   (INTER_AREA's fast path), as OpenCV switches to it.
 */
/* OpenCV's x86-64 build rounds every double and float operation separately (SSE2, no
 * FMA). Fused multiply-adds would move some coordinates across a rounding boundary. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#else
#pragma GCC optimize("fp-contract=off")
#endif

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "image/image.h"

#define FS_RESIZE_COEF_BITS 11
#define FS_RESIZE_COEF_SCALE (1 << FS_RESIZE_COEF_BITS)

/* OpenCV's saturate_cast<short>(float): round half to even, then clamp. */
static int16_t fs_resize_round_coef(float value)
{
    long rounded = lrintf(value * FS_RESIZE_COEF_SCALE);
    if (rounded > INT16_MAX)
        return INT16_MAX;
    if (rounded < INT16_MIN)
        return INT16_MIN;
    return (int16_t)rounded;
}

/*
 * Fills the source index and the two int16 weights of each destination column. Columns
 * whose position falls outside [0, src_width - 1] are clamped with weights (2048, 0).
 */
static void fs_resize_column_table(int src_width, int dst_width, double scale, int *index,
                                   int16_t *weights)
{
    for (int dx = 0; dx < dst_width; dx++) {
        float fx = (float)((dx + 0.5) * scale - 0.5);
        int sx = (int)floorf(fx);
        fx -= (float)sx;
        if (sx < 0) {
            fx = 0.f;
            sx = 0;
        }
        if (sx >= src_width - 1) {
            fx = 0.f;
            sx = src_width - 1;
        }
        index[dx] = sx;
        weights[2 * dx] = fs_resize_round_coef(1.f - fx);
        weights[2 * dx + 1] = fs_resize_round_coef(fx);
    }
}

/* Same for rows, without clamping the weights (the caller clamps the row indices). */
static void fs_resize_row_table(int dst_height, double scale, int *index, int16_t *weights)
{
    for (int dy = 0; dy < dst_height; dy++) {
        float fy = (float)((dy + 0.5) * scale - 0.5);
        int sy = (int)floorf(fy);
        fy -= (float)sy;
        index[dy] = sy;
        weights[2 * dy] = fs_resize_round_coef(1.f - fy);
        weights[2 * dy + 1] = fs_resize_round_coef(fy);
    }
}

static int fs_resize_clamp(int value, int size)
{
    if (value < 0)
        return 0;
    if (value >= size)
        return size - 1;
    return value;
}

/* Horizontal pass over one source row into dst_width * 3 int32 values. */
static void fs_resize_horizontal(const uint8_t *restrict row, int src_width, int dst_width,
                                 const int *restrict index, const int16_t *restrict weights,
                                 int32_t *restrict out)
{
    for (int dx = 0; dx < dst_width; dx++) {
        int sx = index[dx];
        const uint8_t *p = row + 3 * sx;
        int w0 = weights[2 * dx], w1 = weights[2 * dx + 1];
        int32_t *o = out + 3 * dx;
        if (sx + 1 < src_width) {
            o[0] = p[0] * w0 + p[3] * w1;
            o[1] = p[1] * w0 + p[4] * w1;
            o[2] = p[2] * w0 + p[5] * w1;
        } else {
            o[0] = p[0] * w0;
            o[1] = p[1] * w0;
            o[2] = p[2] * w0;
        }
    }
}

/* Vertical pass: OpenCV's truncating fixed-point blend of two horizontal passes. */
static void fs_resize_vertical(const int32_t *restrict top, const int32_t *restrict bottom,
                               int w0, int w1, size_t count, uint8_t *restrict out)
{
    for (size_t i = 0; i < count; i++)
        out[i] = (uint8_t)((((w0 * (top[i] >> 4)) >> 16) + ((w1 * (bottom[i] >> 4)) >> 16) + 2) >>
                           2);
}

static int fs_resize_generic(const fs_image *src, fs_image *dst, double scale_x, double scale_y,
                             fs_error *err)
{
    int dst_width = dst->width, dst_height = dst->height;
    size_t row_values = (size_t)dst_width * 3;
    int *column_index = malloc(sizeof(int) * dst_width);
    int16_t *column_weights = malloc(sizeof(int16_t) * 2 * dst_width);
    int *row_index = malloc(sizeof(int) * dst_height);
    int16_t *row_weights = malloc(sizeof(int16_t) * 2 * dst_height);
    int32_t *rows = malloc(sizeof(int32_t) * 2 * row_values);
    int status = FACESIM_OK;
    if (!column_index || !column_weights || !row_index || !row_weights || !rows) {
        status = fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory resizing to %dx%d",
                              dst_width, dst_height);
        goto done;
    }
    fs_resize_column_table(src->width, dst_width, scale_x, column_index, column_weights);
    fs_resize_row_table(dst_height, scale_y, row_index, row_weights);

    /* Two cached horizontal passes, tagged with the source row they hold. */
    int32_t *cached[2] = {rows, rows + row_values};
    int cached_row[2] = {-1, -1};
    size_t src_stride = (size_t)src->width * 3;
    for (int dy = 0; dy < dst_height; dy++) {
        int source_rows[2] = {fs_resize_clamp(row_index[dy], src->height),
                              fs_resize_clamp(row_index[dy] + 1, src->height)};
        const int32_t *pass[2];
        int used_slot = -1;
        for (int k = 0; k < 2; k++) {
            int slot = -1;
            if (cached_row[0] == source_rows[k])
                slot = 0;
            else if (cached_row[1] == source_rows[k])
                slot = 1;
            if (slot < 0) {
                /* Overwrite a slot that neither the other tap nor this row still needs. */
                if (k == 0)
                    slot = cached_row[0] == source_rows[1] ? 1 : 0;
                else
                    slot = 1 - used_slot;
                fs_resize_horizontal(src->pixels + (size_t)source_rows[k] * src_stride, src->width,
                                     dst_width, column_index, column_weights, cached[slot]);
                cached_row[slot] = source_rows[k];
            }
            pass[k] = cached[slot];
            used_slot = slot;
        }

        fs_resize_vertical(pass[0], pass[1], row_weights[2 * dy], row_weights[2 * dy + 1],
                           row_values, dst->pixels + (size_t)dy * row_values);
    }
done:
    free(column_index);
    free(column_weights);
    free(row_index);
    free(row_weights);
    free(rows);
    return status;
}

/*
 * Exact 2x downscale as OpenCV's INTER_AREA fast path: each output value is the 2x2
 * block sum rounded as (sum + 2) >> 2, in the SIMD blocks and in the tail of each row
 * alike (checked against cv2 with row lengths that leave a tail).
 */
static void fs_resize_half(const fs_image *src, fs_image *dst)
{
    size_t src_stride = (size_t)src->width * 3;
    size_t values = (size_t)dst->width * 3;
    for (int dy = 0; dy < dst->height; dy++) {
        const uint8_t *top = src->pixels + (size_t)(2 * dy) * src_stride;
        const uint8_t *bottom = top + src_stride;
        uint8_t *out = dst->pixels + (size_t)dy * values;
        for (size_t i = 0; i < values; i++) {
            size_t at = 6 * (i / 3) + i % 3;
            int sum = top[at] + top[at + 3] + bottom[at] + bottom[at + 3];
            out[i] = (uint8_t)((sum + 2) >> 2);
        }
    }
}

int fs_image_resize_linear(const fs_image *src, int width, int height, fs_image *dst,
                           fs_error *err)
{
    if (!src || !src->pixels || src->width <= 0 || src->height <= 0 || !dst)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "resize: empty source image");
    if (width <= 0 || height <= 0)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "resize: invalid destination size %dx%d", width, height);
    int status = fs_image_alloc(dst, width, height, err);
    if (status != FACESIM_OK)
        return status;
    if (width == src->width && height == src->height) {
        memcpy(dst->pixels, src->pixels, (size_t)width * height * 3);
        return FACESIM_OK;
    }

    double scale_x = 1.0 / ((double)width / src->width);
    double scale_y = 1.0 / ((double)height / src->height);
    if (fabs(scale_x - 2.0) < DBL_EPSILON && fabs(scale_y - 2.0) < DBL_EPSILON) {
        fs_resize_half(src, dst);
        return FACESIM_OK;
    }
    status = fs_resize_generic(src, dst, scale_x, scale_y, err);
    if (status != FACESIM_OK)
        fs_image_release(dst);
    return status;
}

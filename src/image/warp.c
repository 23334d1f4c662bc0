/*
 * Affine warp, bit-exact with cv2.warpAffine(src, M, (w, h), flags=INTER_LINEAR,
 * borderMode=BORDER_CONSTANT, borderValue=0) on 8-bit 3-channel images in OpenCV 4.6.
 *
 * M maps source coordinates to destination coordinates. OpenCV inverts it
 * (invertAffineTransform) and, for each destination pixel (x, y), computes the source
 * position in fixed point:
 *   X = round((A[1] * y + A[2]) * 1024) + round(A[0] * x * 1024) + 16, then >> 5
 * (AB_BITS = 10 fractional bits, reduced to INTER_BITS = 5, with 16 = half a 1/32 step
 * as rounding), likewise Y with A[3..5]. The integer part (X >> 5) picks the top-left
 * tap and the low 5 bits pick one of 32 x 32 weight sets. Each weight is
 * (32 - fy or fy) * (32 - fx or fx), which sums to exactly 1024
 * (INTER_REMAP_COEF_SCALE), and the result is (sum + 512) >> 10. Taps outside the
 * source image read the border value 0.
 */
/* OpenCV's x86-64 build rounds every double and float operation separately (SSE2, no
 * FMA). Fused multiply-adds would move some coordinates across a rounding boundary. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#else
#pragma GCC optimize("fp-contract=off")
#endif

#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "image/image.h"

#define FS_WARP_INTER_BITS 5
#define FS_WARP_INTER_TAB_SIZE (1 << FS_WARP_INTER_BITS)
#define FS_WARP_AB_BITS 10
#define FS_WARP_AB_SCALE (1 << FS_WARP_AB_BITS)
#define FS_WARP_ROUND_DELTA (FS_WARP_AB_SCALE / FS_WARP_INTER_TAB_SIZE / 2)
#define FS_WARP_COEF_BITS 10

/* OpenCV's saturate_cast<int>(double): round half to even. Out-of-range values are
 * clamped here (OpenCV's result is unspecified there; such pixels are far outside). */
static int fs_warp_round(double value)
{
    if (!(value > (double)INT_MIN / 2))
        return INT_MIN / 2;
    if (value > (double)INT_MAX / 2)
        return INT_MAX / 2;
    return (int)lrint(value);
}

/* OpenCV's saturate_cast<short>(int). */
static int fs_warp_saturate_short(int value)
{
    if (value < SHRT_MIN)
        return SHRT_MIN;
    if (value > SHRT_MAX)
        return SHRT_MAX;
    return value;
}

/* Inverts a 2x3 affine matrix as cv::invertAffineTransform does (a singular matrix
 * gives all zeros). */
static void fs_warp_invert(const double m[6], double inverse[6])
{
    double determinant = m[0] * m[4] - m[1] * m[3];
    determinant = determinant != 0. ? 1. / determinant : 0.;
    double a11 = m[4] * determinant, a22 = m[0] * determinant;
    double a12 = -m[1] * determinant, a21 = -m[3] * determinant;
    double b1 = -a11 * m[2] - a12 * m[5];
    double b2 = -a21 * m[2] - a22 * m[5];
    inverse[0] = a11;
    inverse[1] = a12;
    inverse[2] = b1;
    inverse[3] = a21;
    inverse[4] = a22;
    inverse[5] = b2;
}

/* Reads one tap, or 0 outside the image. */
static const uint8_t fs_warp_border[3] = {0, 0, 0};

static const uint8_t *fs_warp_tap(const fs_image *src, int x, int y)
{
    if ((unsigned)x >= (unsigned)src->width || (unsigned)y >= (unsigned)src->height)
        return fs_warp_border;
    return src->pixels + ((size_t)y * src->width + x) * 3;
}

int fs_image_warp_affine(const fs_image *src, const double m[6], int width, int height,
                         fs_image *dst, fs_error *err)
{
    if (!src || !src->pixels || src->width <= 0 || src->height <= 0 || !m || !dst)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "warp_affine: empty source image or NULL matrix");
    for (int i = 0; i < 6; i++)
        if (!isfinite(m[i]))
            return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                                "warp_affine: matrix element %d is not finite", i);
    if (width <= 0 || height <= 0)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "warp_affine: invalid destination size %dx%d", width, height);
    int status = fs_image_alloc(dst, width, height, err);
    if (status != FACESIM_OK)
        return status;

    double a[6];
    fs_warp_invert(m, a);
    int *x_delta = malloc(sizeof(int) * 2 * (size_t)width);
    if (!x_delta) {
        fs_image_release(dst);
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "warp_affine: out of memory");
    }
    int *y_delta = x_delta + width;
    for (int x = 0; x < width; x++) {
        x_delta[x] = fs_warp_round(a[0] * x * FS_WARP_AB_SCALE);
        y_delta[x] = fs_warp_round(a[3] * x * FS_WARP_AB_SCALE);
    }

    size_t src_stride = (size_t)src->width * 3;
    for (int y = 0; y < height; y++) {
        int x0 = fs_warp_round((a[1] * y + a[2]) * FS_WARP_AB_SCALE) + FS_WARP_ROUND_DELTA;
        int y0 = fs_warp_round((a[4] * y + a[5]) * FS_WARP_AB_SCALE) + FS_WARP_ROUND_DELTA;
        uint8_t *out = dst->pixels + (size_t)y * width * 3;
        for (int x = 0; x < width; x++, out += 3) {
            int sx_fixed = (int)(((int64_t)x0 + x_delta[x]) >> (FS_WARP_AB_BITS - FS_WARP_INTER_BITS));
            int sy_fixed = (int)(((int64_t)y0 + y_delta[x]) >> (FS_WARP_AB_BITS - FS_WARP_INTER_BITS));
            int sx = fs_warp_saturate_short(sx_fixed >> FS_WARP_INTER_BITS);
            int sy = fs_warp_saturate_short(sy_fixed >> FS_WARP_INTER_BITS);
            int fx = sx_fixed & (FS_WARP_INTER_TAB_SIZE - 1);
            int fy = sy_fixed & (FS_WARP_INTER_TAB_SIZE - 1);

            int w00 = (FS_WARP_INTER_TAB_SIZE - fy) * (FS_WARP_INTER_TAB_SIZE - fx);
            int w01 = (FS_WARP_INTER_TAB_SIZE - fy) * fx;
            int w10 = fy * (FS_WARP_INTER_TAB_SIZE - fx);
            int w11 = fy * fx;
            const uint8_t *p00, *p01, *p10, *p11;
            if ((unsigned)sx < (unsigned)(src->width - 1) &&
                (unsigned)sy < (unsigned)(src->height - 1)) {
                /* All four taps inside: the common case, without per-tap checks. */
                p00 = src->pixels + ((size_t)sy * src->width + sx) * 3;
                p01 = p00 + 3;
                p10 = p00 + src_stride;
                p11 = p10 + 3;
            } else {
                p00 = fs_warp_tap(src, sx, sy);
                p01 = fs_warp_tap(src, sx + 1, sy);
                p10 = fs_warp_tap(src, sx, sy + 1);
                p11 = fs_warp_tap(src, sx + 1, sy + 1);
            }
            for (int c = 0; c < 3; c++) {
                int sum = p00[c] * w00 + p01[c] * w01 + p10[c] * w10 + p11[c] * w11;
                out[c] = (uint8_t)((sum + (1 << (FS_WARP_COEF_BITS - 1))) >> FS_WARP_COEF_BITS);
            }
        }
    }
    free(x_delta);
    return FACESIM_OK;
}

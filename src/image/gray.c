/*
 * RGB to grey, bit-exact with cv2.cvtColor(bgr, COLOR_BGR2GRAY) on 8-bit images in
 * OpenCV 4.6: Y = (3735 B + 19235 G + 9798 R + 16384) >> 15, the BT.601 weights 0.114,
 * 0.587 and 0.299 in 15-bit fixed point, adjusted by OpenCV to sum to exactly 32768 (so
 * white stays 255). The constants were confirmed against cv2 on random pixels in
 * tests/test_image.c; OpenCV's older 14-bit constants (1868, 9617, 4899) differ by one
 * level on about 1 pixel in 400.
 */
#include "image/image.h"

#define FS_GRAY_SHIFT 15
#define FS_GRAY_RED 9798
#define FS_GRAY_GREEN 19235
#define FS_GRAY_BLUE 3735

int fs_image_to_gray(const fs_image *rgb, uint8_t *gray)
{
    if (!rgb || !rgb->pixels || rgb->width <= 0 || rgb->height <= 0 || !gray)
        return FACESIM_ERR_INVALID_ARGUMENT;
    size_t count = (size_t)rgb->width * rgb->height;
    const uint8_t *p = rgb->pixels;
    for (size_t i = 0; i < count; i++, p += 3)
        gray[i] = (uint8_t)((p[0] * FS_GRAY_RED + p[1] * FS_GRAY_GREEN + p[2] * FS_GRAY_BLUE +
                             (1 << (FS_GRAY_SHIFT - 1))) >> FS_GRAY_SHIFT);
    return FACESIM_OK;
}

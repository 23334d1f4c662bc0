/* Constant-colour padding, used to retry detection on a face cut off by the image edge. */
#include <string.h>

#include "image/image.h"

/* Keeps width * 3 well inside int for the row arithmetic of the other image functions. */
#define FS_IMAGE_PAD_MAX_SIDE (1 << 20)

int fs_image_pad(const fs_image *src, int left, int top, int right, int bottom, uint8_t value,
                 fs_image *dst, fs_error *err)
{
    if (!src || !src->pixels || src->width <= 0 || src->height <= 0 || !dst)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "pad: empty source image");
    if (left < 0 || top < 0 || right < 0 || bottom < 0)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "pad: negative border (left %d, top %d, right %d, bottom %d)", left,
                            top, right, bottom);
    int64_t width = (int64_t)src->width + left + right;
    int64_t height = (int64_t)src->height + top + bottom;
    if (width > FS_IMAGE_PAD_MAX_SIDE || height > FS_IMAGE_PAD_MAX_SIDE)
        return fs_error_set(err, FACESIM_ERR_LIMIT,
                            "pad: padded size %lldx%lld exceeds %d pixels per side",
                            (long long)width, (long long)height, FS_IMAGE_PAD_MAX_SIDE);
    int status = fs_image_alloc(dst, (int)width, (int)height, err);
    if (status != FACESIM_OK)
        return status;

    size_t dst_stride = (size_t)width * 3, src_stride = (size_t)src->width * 3;
    memset(dst->pixels, value, dst_stride * (size_t)height);
    for (int y = 0; y < src->height; y++)
        memcpy(dst->pixels + (size_t)(y + top) * dst_stride + (size_t)left * 3,
               src->pixels + (size_t)y * src_stride, src_stride);
    dst->warnings = src->warnings;
    return FACESIM_OK;
}

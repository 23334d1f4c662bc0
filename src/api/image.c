/*
 * Public API: loading and wrapping images.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/checked.h"

int facesim_image_load(facesim_context *ctx, const char *path, facesim_image **image_out)
{
    fs_api_begin(ctx);
    fs_error *err = fs_api_error(ctx);
    if (!image_out)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "facesim_image_load: image is NULL");
    *image_out = NULL;
    if (!path || !path[0])
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "facesim_image_load: path is empty");

    facesim_image *image = calloc(1, sizeof *image);
    if (!image)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory", path);
    uint64_t max_pixels = ctx ? ctx->params.max_pixels : FS_IMAGE_DEFAULT_MAX_PIXELS;
    int status = fs_image_decode_file(path, max_pixels, &image->image, err);
    if (status != FACESIM_OK) {
        facesim_image_free(image);
        return status;
    }

    int warnings = image->image.warnings;
    if (warnings) {
        bool accept = ctx && ctx->params.accept_damaged;
        if (!accept) {
            facesim_image_free(image);
            return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                                "%s: the image is damaged (%s); set accept_damaged "
                                "(CLI: --accept-damaged) to score the partial image anyway",
                                path, fs_image_warning_text(warnings));
        }
        fs_api_log(ctx, FACESIM_LOG_WARNING,
                   "%s: the image is damaged (%s); scoring the partial image", path,
                   fs_image_warning_text(warnings));
    }
    *image_out = image;
    return FACESIM_OK;
}

int facesim_image_from_rgb(const uint8_t *pixels, int width, int height, int stride,
                           facesim_image **image_out)
{
    fs_api_begin(NULL);
    fs_error *err = fs_api_error(NULL);
    if (!image_out)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "facesim_image_from_rgb: image is NULL");
    *image_out = NULL;
    size_t row_bytes;
    if (!pixels || width < 1 || height < 1 || !fs_mul_size((size_t)width, 3, &row_bytes) ||
        stride < 0 || (size_t)stride < row_bytes)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "facesim_image_from_rgb: invalid image %dx%d with stride %d (the "
                            "stride must be at least width * 3 bytes)",
                            width, height, stride);
    if ((uint64_t)width * (uint64_t)height > FS_IMAGE_DEFAULT_MAX_PIXELS)
        return fs_error_set(err, FACESIM_ERR_LIMIT,
                            "facesim_image_from_rgb: %dx%d exceeds %llu pixels", width, height,
                            (unsigned long long)FS_IMAGE_DEFAULT_MAX_PIXELS);

    facesim_image *image = calloc(1, sizeof *image);
    if (!image)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory");
    int status = fs_image_alloc(&image->image, width, height, err);
    if (status != FACESIM_OK) {
        free(image);
        return status;
    }
    for (int y = 0; y < height; y++)
        memcpy(image->image.pixels + (size_t)y * row_bytes, pixels + (size_t)y * stride, row_bytes);
    *image_out = image;
    return FACESIM_OK;
}

void facesim_image_free(facesim_image *image)
{
    if (!image)
        return;
    fs_image_release(&image->image);
    free(image);
}

int facesim_image_width(const facesim_image *image)
{
    return image ? image->image.width : 0;
}

int facesim_image_height(const facesim_image *image)
{
    return image ? image->image.height : 0;
}

const uint8_t *facesim_image_pixels(const facesim_image *image)
{
    return image ? image->image.pixels : NULL;
}

int facesim_image_warnings(const facesim_image *image)
{
    return image ? image->image.warnings : 0;
}

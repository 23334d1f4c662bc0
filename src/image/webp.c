/*
 * WebP decoding with libwebp: lossy or lossless, still images only. Alpha is dropped
 * without blending (the RGB under it is kept), as cv2.imread(path, IMREAD_COLOR) does.
 */
#include <webp/decode.h>

#include "image/decoders.h"

static const char *fs_webp_status_text(VP8StatusCode code)
{
    switch (code) {
    case VP8_STATUS_OK: return "ok";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "not enough data: the file is truncated";
    default: return "unknown error";
    }
}

int fs_webp_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                   fs_image *out, fs_error *err)
{
    WebPBitstreamFeatures features;
    VP8StatusCode code = WebPGetFeatures(data, size, &features);
    if (code != VP8_STATUS_OK)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA, "%s: not a valid WebP (%s)", name,
                            fs_webp_status_text(code));
    if (features.has_animation)
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: animated WebP is not supported; extract a frame first", name);
    int status = fs_image_check_size(features.width, features.height, max_pixels, name, err);
    if (status != FACESIM_OK)
        return status;
    status = fs_image_alloc(out, features.width, features.height, err);
    if (status != FACESIM_OK)
        return status;

    size_t bytes = (size_t)out->width * out->height * 3;
    if (!WebPDecodeRGBInto(data, size, out->pixels, bytes, out->width * 3)) {
        fs_image_release(out);
        /* WebPDecodeRGBInto gives no reason; decode the header again for one. */
        code = WebPGetFeatures(data, size, &features);
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: not a valid WebP (%s)", name,
                            code == VP8_STATUS_OK ? "corrupt or truncated image data"
                                                  : fs_webp_status_text(code));
    }
    return FACESIM_OK;
}

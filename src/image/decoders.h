/*
 * Per-format decoders behind fs_image_decode_memory, and the helpers they share.
 *
 * Every decoder takes the whole file in memory, writes packed 8-bit RGB into `out`
 * (which the caller passes zeroed) and on failure leaves `out` zeroed with a message
 * that starts with `name`. None of them reads the EXIF orientation except the JPEG
 * decoder, which applies it before returning.
 */
#ifndef FS_IMAGE_DECODERS_H
#define FS_IMAGE_DECODERS_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

int fs_jpeg_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                   fs_image *out, fs_error *err);
int fs_png_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                  fs_image *out, fs_error *err);
int fs_webp_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                   fs_image *out, fs_error *err);
int fs_bmp_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                  fs_image *out, fs_error *err);
int fs_tiff_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                   fs_image *out, fs_error *err);

/*
 * Checks header dimensions before any pixel memory is allocated: both positive, at most
 * FS_IMAGE_MAX_SIDE, and width * height at most max_pixels (FACESIM_ERR_LIMIT, with a
 * message naming --max-pixels).
 */
int fs_image_check_size(int64_t width, int64_t height, uint64_t max_pixels, const char *name,
                        fs_error *err);

/* Largest width or height accepted from any header, so that width * 3 fits in an int. */
#define FS_IMAGE_MAX_SIDE 65535

/*
 * Reads the Orientation tag (0x0112) from the payload of a JPEG APP1 segment ("Exif\0\0"
 * followed by a TIFF header). Returns 1..8, or 1 when the segment is not EXIF, the tag is
 * absent or its value is out of range. Never reads outside [payload, payload + size).
 */
int fs_exif_orientation(const uint8_t *payload, size_t size);

/*
 * Transforms image in place (by swapping in a new buffer) so that pixels stored with EXIF
 * orientation `orientation` appear upright, as cv2.imread does. 1 and unknown values leave
 * the image unchanged. Orientations 5-8 swap width and height.
 */
int fs_image_apply_orientation(fs_image *image, int orientation, fs_error *err);

#endif /* FS_IMAGE_DECODERS_H */

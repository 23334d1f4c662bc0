/*
 * Decoded images and the pixel operations the face pipeline needs.
 *
 * An fs_image is 8-bit RGB, packed (width * 3 bytes per row, no padding), in
 * display orientation (EXIF orientation already applied). Pixel centres are at
 * integer coordinates, as in OpenCV.
 *
 * Decoding, resizing, warping and grey conversion are bit-exact with OpenCV 4.6 built
 * with Debian 12's codec libraries: cv2.imread, cv2.resize INTER_LINEAR, cv2.warpAffine
 * INTER_LINEAR with a black border and cv2.cvtColor BGR2GRAY. tests/test_image.c checks
 * this against cv2.
 *
 * Limitations: JPEG (baseline, progressive, grey, YCbCr, CMYK/YCCK), PNG (all bit depths
 * and colour types), still WebP, BMP (uncompressed 1/4/8/16/24/32-bit, no RLE) and TIFF
 * (first page, any layout libtiff's RGBA interface reads). EXIF orientation is read
 * from JPEG only. Sides are limited to 65535 pixels and the area to max_pixels.
 */
#ifndef FS_IMAGE_IMAGE_H
#define FS_IMAGE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/*
 * Decoder warnings: the file decoded, but the pixels may not be what the author stored.
 * Callers should report them (and may reject the image) instead of scoring it silently.
 */
enum fs_image_warning {
    FS_IMAGE_WARNING_TRUNCATED = 1,    /* data ended early; missing rows are filled with grey */
    FS_IMAGE_WARNING_CORRUPT_DATA = 2  /* corrupt entropy-coded data; some blocks may be wrong */
};

typedef struct fs_image {
    int width;
    int height;
    uint8_t *pixels; /* malloc'd, owned by the image */
    int warnings;    /* fs_image_warning bits set by the decoder; 0 for a clean decode */
} fs_image;

#define FS_IMAGE_DEFAULT_MAX_PIXELS 100000000ULL /* 100 megapixels */

/*
 * Decodes a JPEG, PNG, WebP, BMP or TIFF file, chosen by its leading bytes (not its
 * name), into 8-bit RGB as cv2.imread(path, IMREAD_COLOR) would, then converts BGR
 * order to RGB: EXIF orientation applied, grey expanded, 16-bit reduced to the high
 * byte, alpha dropped without blending, CMYK/YCCK converted. Images over max_pixels
 * (width * height) fail with FACESIM_ERR_LIMIT before pixel memory is allocated.
 * Every error message starts with the path.
 */
int fs_image_decode_file(const char *path, uint64_t max_pixels, fs_image *out, fs_error *err);

/* Same, from memory; name is used in messages. */
int fs_image_decode_memory(const void *data, size_t size, const char *name, uint64_t max_pixels,
                           fs_image *out, fs_error *err);

/*
 * Decoder warning policy (JPEG; the other formats fail on any damage):
 * - data ending before half of the rows are decoded fails with FACESIM_ERR_INVALID_DATA;
 * - data ending later decodes with FS_IMAGE_WARNING_TRUNCATED (missing rows grey, as cv2);
 * - corrupt entropy-coded data decodes with FS_IMAGE_WARNING_CORRUPT_DATA.
 */

/* Describes warning bits in a short English phrase, such as "truncated file". Static text. */
const char *fs_image_warning_text(int warnings);

/* Allocates a zeroed width x height image. */
int fs_image_alloc(fs_image *image, int width, int height, fs_error *err);

/* Frees the pixels and zeroes the struct. Accepts a zeroed struct. */
void fs_image_release(fs_image *image);

/* Resizes like cv2.resize(src, (width, height), interpolation=INTER_LINEAR). dst is
 * allocated. */
int fs_image_resize_linear(const fs_image *src, int width, int height, fs_image *dst,
                           fs_error *err);

/*
 * Warps like cv2.warpAffine(src, M, (width, height), flags=INTER_LINEAR,
 * borderMode=BORDER_CONSTANT, borderValue=0). M (row-major 2x3) maps source
 * coordinates to destination coordinates, as cv2's M does. dst is allocated.
 */
int fs_image_warp_affine(const fs_image *src, const double m[6], int width, int height,
                         fs_image *dst, fs_error *err);

/* Copies src into a larger image with `left`/`top`/`right`/`bottom` borders of one
 * grey value (for retrying detection on a padded image). dst is allocated. */
int fs_image_pad(const fs_image *src, int left, int top, int right, int bottom, uint8_t value,
                 fs_image *dst, fs_error *err);

/*
 * Converts RGB to 8-bit grey exactly as cv2.cvtColor(bgr, COLOR_BGR2GRAY) in OpenCV 4.6:
 * 0.299 R + 0.587 G + 0.114 B in 15-bit fixed point (9798, 19235, 3735), rounded.
 * gray must have room for width * height bytes.
 * Returns FACESIM_ERR_INVALID_ARGUMENT for an empty image or a NULL buffer.
 */
int fs_image_to_gray(const fs_image *rgb, uint8_t *gray);

/* Writes an 8-bit RGB PNG. */
int fs_image_write_png(const char *path, const fs_image *image, fs_error *err);

/* Drawing for annotated output: a rectangle outline of the given line width and a filled
 * disc, clipped to the image. */
void fs_image_draw_rect(fs_image *image, float x1, float y1, float x2, float y2, int line_width,
                        const uint8_t rgb[3]);
void fs_image_draw_disc(fs_image *image, float cx, float cy, float radius, const uint8_t rgb[3]);

#endif /* FS_IMAGE_IMAGE_H */

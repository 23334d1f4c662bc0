/*
 * PNG decoding with libpng, matching cv2.imread(path, IMREAD_COLOR) in OpenCV 4.6:
 * 16-bit samples keep the high byte (png_set_strip_16), palettes and 1/2/4-bit grey are
 * expanded, grey is replicated to RGB, and alpha (including tRNS) is dropped without
 * blending. No gamma or colour-profile correction is applied, as in cv2.
 *
 * Any libpng error (bad CRC in a critical chunk, truncated data, invalid header) fails
 * with FACESIM_ERR_INVALID_DATA. libpng warnings (for example a bad CRC in an ancillary
 * chunk, which libpng skips) are ignored, as cv2 ignores them.
 */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <png.h>

#include "core/checked.h"
#include "image/decoders.h"

typedef struct fs_png_context {
    const uint8_t *data;
    size_t size;
    size_t offset;
    char message[256]; /* libpng's error message */
} fs_png_context;

static void fs_png_error(png_structp png, png_const_charp message)
{
    fs_png_context *context = png_get_error_ptr(png);
    snprintf(context->message, sizeof context->message, "%s", message);
    png_longjmp(png, 1);
}

static void fs_png_warning(png_structp png, png_const_charp message)
{
    (void)png;
    (void)message;
}

static void fs_png_read(png_structp png, png_bytep buffer, png_size_t length)
{
    fs_png_context *context = png_get_io_ptr(png);
    if (length > context->size - context->offset)
        png_error(png, "file is truncated: the data ends inside a chunk");
    memcpy(buffer, context->data + context->offset, length);
    context->offset += length;
}

/* Sets up libpng's transforms so that every row comes out as 8-bit RGB. */
static void fs_png_request_rgb8(png_structp png, png_infop info)
{
    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);

    if (bit_depth == 16)
        png_set_strip_16(png);
    if (color_type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (!(color_type & PNG_COLOR_MASK_COLOR))
        png_set_gray_to_rgb(png);
    /* tRNS would otherwise become an alpha channel after palette/grey expansion. */
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

int fs_png_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                  fs_image *out, fs_error *err)
{
    fs_png_context context = {data, size, 0, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context, fs_png_error,
                                             fs_png_warning);
    if (!png)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory creating a PNG reader",
                            name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory creating a PNG reader",
                            name);
    }

    /* Only the caller's *out and the context change after setjmp, so no local needs
     * to be volatile. rows is allocated with png_malloc and freed in both paths. */
    png_bytepp volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        if (rows)
            png_free(png, rows);
        png_destroy_read_struct(&png, &info, NULL);
        fs_image_release(out);
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA, "%s: not a valid PNG (%s)", name,
                            context.message);
    }
    png_set_read_fn(png, &context, fs_png_read);
    /* Lift libpng's 1,000,000-pixel side cap so that fs_image_check_size decides and
     * oversized headers get its FACESIM_ERR_LIMIT message. */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_read_info(png, info);

    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    int status = fs_image_check_size(width, height, max_pixels, name, err);
    if (status != FACESIM_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return status;
    }
    fs_png_request_rgb8(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if (row_bytes != (size_t)width * 3) {
        png_destroy_read_struct(&png, &info, NULL);
        return fs_error_set(err, FACESIM_ERR_INTERNAL,
                            "%s: libpng rows are %zu bytes after conversion, expected %zu", name,
                            row_bytes, (size_t)width * 3);
    }

    status = fs_image_alloc(out, (int)width, (int)height, err);
    if (status != FACESIM_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return status;
    }
    rows = png_malloc(png, sizeof(png_bytep) * height);
    for (png_uint_32 y = 0; y < height; y++)
        rows[y] = out->pixels + (size_t)y * width * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    png_free(png, rows);
    png_destroy_read_struct(&png, &info, NULL);
    return FACESIM_OK;
}

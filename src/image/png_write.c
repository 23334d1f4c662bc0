/* PNG writing with libpng (8-bit RGB, no interlacing), for crops and annotated images. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <png.h>

#include "image/image.h"

typedef struct fs_png_writer {
    char message[256]; /* libpng's error message */
} fs_png_writer;

static void fs_png_write_error(png_structp png, png_const_charp message)
{
    fs_png_writer *writer = png_get_error_ptr(png);
    snprintf(writer->message, sizeof writer->message, "%s", message);
    png_longjmp(png, 1);
}

static void fs_png_write_warning(png_structp png, png_const_charp message)
{
    (void)png;
    (void)message;
}

int fs_image_write_png(const char *path, const fs_image *image, fs_error *err)
{
    if (!path || !image || !image->pixels || image->width <= 0 || image->height <= 0)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "write_png: empty image or path");
    FILE *file = fopen(path, "wb");
    if (!file)
        return fs_error_set(err, FACESIM_ERR_IO, "%s: cannot create file: %s", path,
                            strerror(errno));

    fs_png_writer writer = {{0}};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &writer, fs_png_write_error,
                                              fs_png_write_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        fclose(file);
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory creating a PNG writer",
                            path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(file);
        return fs_error_set(err, FACESIM_ERR_IO, "%s: writing the PNG failed (%s)", path,
                            writer.message);
    }
    png_init_io(png, file);
    png_set_IHDR(png, info, (png_uint_32)image->width, (png_uint_32)image->height, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)image->width * 3;
    for (int y = 0; y < image->height; y++)
        png_write_row(png, image->pixels + (size_t)y * stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);

    /* fclose flushes; a full disk shows up here. */
    if (fclose(file) != 0)
        return fs_error_set(err, FACESIM_ERR_IO, "%s: writing the PNG failed: %s", path,
                            strerror(errno));
    return FACESIM_OK;
}

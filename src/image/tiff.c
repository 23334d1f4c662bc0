/*
 * TIFF decoding with libtiff's RGBA interface (TIFFReadRGBAImageOriented), which handles
 * strips and tiles, every bit depth libtiff supports (16-bit keeps the high byte), palette,
 * grey, YCbCr, CMYK (also JPEG-compressed) and the TIFF Orientation tag. Only the first
 * page (directory) is read. Alpha is dropped.
 * NOTE: for associated (premultiplied) alpha the RGBA interface returns premultiplied
 * colour, which is kept as is, so such pixels may differ from other decoders.
 *
 * libtiff's messages go to per-call handlers (libtiff 4.5 open options) and never to
 * stderr; the first error message becomes part of the returned error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "core/checked.h"
#include "image/decoders.h"

typedef struct fs_tiff_source {
    const uint8_t *data;
    size_t size;
    size_t offset;
    char message[512]; /* first libtiff error */
} fs_tiff_source;

static tmsize_t fs_tiff_read(thandle_t handle, void *buffer, tmsize_t length)
{
    fs_tiff_source *source = handle;
    if (length <= 0 || source->offset >= source->size)
        return 0;
    size_t available = source->size - source->offset;
    size_t count = (size_t)length < available ? (size_t)length : available;
    memcpy(buffer, source->data + source->offset, count);
    source->offset += count;
    return (tmsize_t)count;
}

static tmsize_t fs_tiff_write(thandle_t handle, void *buffer, tmsize_t length)
{
    (void)handle;
    (void)buffer;
    (void)length;
    return -1;
}

static toff_t fs_tiff_seek(thandle_t handle, toff_t offset, int whence)
{
    fs_tiff_source *source = handle;
    uint64_t base = 0;
    if (whence == SEEK_CUR)
        base = source->offset;
    else if (whence == SEEK_END)
        base = source->size;
    if (offset > UINT64_MAX - base)
        return (toff_t)-1;
    /* Seeking past the end is allowed; reads there return no data. */
    source->offset = (size_t)(base + offset);
    return source->offset;
}

static int fs_tiff_close(thandle_t handle)
{
    (void)handle;
    return 0;
}

static toff_t fs_tiff_size(thandle_t handle)
{
    return ((fs_tiff_source *)handle)->size;
}

static int fs_tiff_map(thandle_t handle, void **base, toff_t *size)
{
    (void)handle;
    (void)base;
    (void)size;
    return 0;
}

static void fs_tiff_unmap(thandle_t handle, void *base, toff_t size)
{
    (void)handle;
    (void)base;
    (void)size;
}

static int fs_tiff_on_error(TIFF *tiff, void *user_data, const char *module, const char *format,
                            va_list args)
{
    (void)tiff;
    fs_tiff_source *source = user_data;
    if (source->message[0] == '\0') {
        char text[400];
        vsnprintf(text, sizeof text, format, args);
        snprintf(source->message, sizeof source->message, "%s: %s", module ? module : "libtiff",
                 text);
    }
    return 1; /* handled: libtiff must not call its global (stderr) handler */
}

static int fs_tiff_on_warning(TIFF *tiff, void *user_data, const char *module, const char *format,
                              va_list args)
{
    (void)tiff;
    (void)user_data;
    (void)module;
    (void)format;
    (void)args;
    return 1;
}

static int fs_tiff_read_first_page(TIFF *tiff, fs_tiff_source *source, const char *name,
                                   uint64_t max_pixels, fs_image *out, fs_error *err)
{
    uint32_t width = 0, height = 0;
    TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &width);
    TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &height);
    int status = fs_image_check_size(width, height, max_pixels, name, err);
    if (status != FACESIM_OK)
        return status;

    char reason[1024];
    if (!TIFFRGBAImageOK(tiff, reason))
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: this TIFF layout is not supported (%s); convert the file to PNG",
                            name, reason);

    size_t pixels = (size_t)width * height;
    uint32_t *raster = malloc(pixels * sizeof *raster);
    if (!raster)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory for a %ux%u TIFF",
                            name, width, height);
    if (!TIFFReadRGBAImageOriented(tiff, width, height, raster, ORIENTATION_TOPLEFT, 1)) {
        free(raster);
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA, "%s: not a valid TIFF (%s)", name,
                            source->message[0] ? source->message : "libtiff could not decode it");
    }

    status = fs_image_alloc(out, (int)width, (int)height, err);
    if (status == FACESIM_OK) {
        for (size_t i = 0; i < pixels; i++) {
            out->pixels[3 * i + 0] = (uint8_t)TIFFGetR(raster[i]);
            out->pixels[3 * i + 1] = (uint8_t)TIFFGetG(raster[i]);
            out->pixels[3 * i + 2] = (uint8_t)TIFFGetB(raster[i]);
        }
    }
    free(raster);
    return status;
}

int fs_tiff_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                   fs_image *out, fs_error *err)
{
    fs_tiff_source source = {data, size, 0, {0}};
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (!options)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory opening a TIFF", name);
    TIFFOpenOptionsSetErrorHandlerExtR(options, fs_tiff_on_error, &source);
    TIFFOpenOptionsSetWarningHandlerExtR(options, fs_tiff_on_warning, &source);
    /* No single libtiff allocation needs more than the largest allowed raster. */
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, (tmsize_t)1 << 31);

    /* "m": no memory mapping, all reads go through fs_tiff_read. */
    TIFF *tiff = TIFFClientOpenExt(name, "rm", &source, fs_tiff_read, fs_tiff_write,
                                   fs_tiff_seek, fs_tiff_close, fs_tiff_size, fs_tiff_map,
                                   fs_tiff_unmap, options);
    TIFFOpenOptionsFree(options);
    if (!tiff)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA, "%s: not a valid TIFF (%s)", name,
                            source.message[0] ? source.message : "libtiff could not open it");

    int status = fs_tiff_read_first_page(tiff, &source, name, max_pixels, out, err);
    TIFFClose(tiff);
    return status;
}

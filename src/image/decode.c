/*
 * Image decoding entry points: reading the file, choosing the decoder by the leading
 * bytes (never by the file name), and the fs_image allocation helpers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/checked.h"
#include "image/decoders.h"

/* Files larger than this are rejected before reading: no supported image of
 * FS_IMAGE_DEFAULT_MAX_PIXELS needs more than about 1 GB even uncompressed. */
#define FS_IMAGE_MAX_FILE_BYTES (2ULL << 30)

typedef int (*fs_image_decoder)(const uint8_t *data, size_t size, const char *name,
                                uint64_t max_pixels, fs_image *out, fs_error *err);

typedef struct fs_image_format {
    const char *name;
    const uint8_t *magic;
    size_t magic_size;
    size_t magic_offset;
    fs_image_decoder decode;
} fs_image_format;

static const uint8_t fs_magic_jpeg[] = {0xFF, 0xD8, 0xFF};
static const uint8_t fs_magic_png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
static const uint8_t fs_magic_riff[] = {'R', 'I', 'F', 'F'};
static const uint8_t fs_magic_webp[] = {'W', 'E', 'B', 'P'};
static const uint8_t fs_magic_bmp[] = {'B', 'M'};
static const uint8_t fs_magic_tiff_le[] = {'I', 'I', 42, 0};
static const uint8_t fs_magic_tiff_be[] = {'M', 'M', 0, 42};
static const uint8_t fs_magic_bigtiff_le[] = {'I', 'I', 43, 0};
static const uint8_t fs_magic_bigtiff_be[] = {'M', 'M', 0, 43};

/* WebP is RIFF at offset 0 and WEBP at offset 8. The table contains the second part and
 * fs_image_format_matches checks the first. */
static const fs_image_format fs_image_formats[] = {
    {"JPEG", fs_magic_jpeg, sizeof fs_magic_jpeg, 0, fs_jpeg_decode},
    {"PNG", fs_magic_png, sizeof fs_magic_png, 0, fs_png_decode},
    {"WebP", fs_magic_webp, sizeof fs_magic_webp, 8, fs_webp_decode},
    {"BMP", fs_magic_bmp, sizeof fs_magic_bmp, 0, fs_bmp_decode},
    {"TIFF", fs_magic_tiff_le, sizeof fs_magic_tiff_le, 0, fs_tiff_decode},
    {"TIFF", fs_magic_tiff_be, sizeof fs_magic_tiff_be, 0, fs_tiff_decode},
    {"BigTIFF", fs_magic_bigtiff_le, sizeof fs_magic_bigtiff_le, 0, fs_tiff_decode},
    {"BigTIFF", fs_magic_bigtiff_be, sizeof fs_magic_bigtiff_be, 0, fs_tiff_decode},
};

static int fs_image_format_matches(const fs_image_format *format, const uint8_t *data,
                                   size_t size)
{
    if (size < format->magic_offset + format->magic_size)
        return 0;
    if (memcmp(data + format->magic_offset, format->magic, format->magic_size) != 0)
        return 0;
    if (format->magic == fs_magic_webp)
        return memcmp(data, fs_magic_riff, sizeof fs_magic_riff) == 0;
    return 1;
}

int fs_image_decode_memory(const void *data, size_t size, const char *name, uint64_t max_pixels,
                           fs_image *out, fs_error *err)
{
    if (!out || (!data && size > 0))
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "fs_image_decode_memory: NULL image or data pointer");
    memset(out, 0, sizeof *out);
    if (!name)
        name = "(memory)";
    if (size == 0)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: unsupported or unrecognised image format (expected JPEG, PNG, "
                            "WebP, BMP or TIFF): the file is empty (0 bytes)", name);

    const uint8_t *bytes = data;
    for (size_t i = 0; i < sizeof fs_image_formats / sizeof fs_image_formats[0]; i++) {
        const fs_image_format *format = &fs_image_formats[i];
        if (!fs_image_format_matches(format, bytes, size))
            continue;
        int status = format->decode(bytes, size, name, max_pixels, out, err);
        if (status != FACESIM_OK)
            fs_image_release(out);
        return status;
    }
    return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                        "%s: unsupported or unrecognised image format (expected JPEG, PNG, WebP, "
                        "BMP or TIFF)", name);
}

/* Reads a whole regular file into a malloc'd buffer. */
static int fs_image_read_file(const char *path, uint8_t **data, size_t *size, fs_error *err)
{
    *data = NULL;
    *size = 0;
    FILE *file = fopen(path, "rb");
    if (!file)
        return fs_error_set(err, FACESIM_ERR_IO, "%s: cannot open image: %s", path,
                            strerror(errno));

    int status = FACESIM_OK;
    /* fopen succeeds on a directory on Linux, and seeking to its end reports a huge
     * length, so the file type is checked before the size. */
    struct stat info;
    if (fstat(fileno(file), &info) != 0) {
        status = fs_error_set(err, FACESIM_ERR_IO, "%s: cannot read the file status: %s", path,
                              strerror(errno));
        goto done;
    }
    if (S_ISDIR(info.st_mode)) {
        status = fs_error_set(err, FACESIM_ERR_IO, "%s: is a directory, not an image file",
                              path);
        goto done;
    }
    if (!S_ISREG(info.st_mode)) {
        status = fs_error_set(err, FACESIM_ERR_IO, "%s: is not a regular file, so it cannot be "
                              "read as an image", path);
        goto done;
    }
    if (fseeko(file, 0, SEEK_END) != 0) {
        status = fs_error_set(err, FACESIM_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
        goto done;
    }
    off_t length = ftello(file);
    if (length < 0) {
        status = fs_error_set(err, FACESIM_ERR_IO, "%s: cannot read the file size: %s", path,
                              strerror(errno));
        goto done;
    }
    if ((unsigned long long)length > FS_IMAGE_MAX_FILE_BYTES) {
        status = fs_error_set(err, FACESIM_ERR_LIMIT,
                              "%s: file is %lld bytes, over the %llu-byte limit for images", path,
                              (long long)length, (unsigned long long)FS_IMAGE_MAX_FILE_BYTES);
        goto done;
    }
    rewind(file);

    /* One extra byte so that an empty file still gets a non-NULL buffer. */
    *data = malloc((size_t)length + 1);
    if (!*data) {
        status = fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory reading %lld bytes",
                              path, (long long)length);
        goto done;
    }
    size_t got = fread(*data, 1, (size_t)length, file);
    if (got != (size_t)length || ferror(file)) {
        status = fs_error_set(err, FACESIM_ERR_IO, "%s: read failed after %zu of %lld bytes: %s",
                              path, got, (long long)length, strerror(errno));
        free(*data);
        *data = NULL;
        goto done;
    }
    *size = got;
done:
    fclose(file);
    return status;
}

int fs_image_decode_file(const char *path, uint64_t max_pixels, fs_image *out, fs_error *err)
{
    if (!path || !out)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "fs_image_decode_file: NULL path or image");
    memset(out, 0, sizeof *out);
    uint8_t *data;
    size_t size;
    int status = fs_image_read_file(path, &data, &size, err);
    if (status != FACESIM_OK)
        return status;
    status = fs_image_decode_memory(data, size, path, max_pixels, out, err);
    free(data);
    return status;
}

int fs_image_check_size(int64_t width, int64_t height, uint64_t max_pixels, const char *name,
                        fs_error *err)
{
    if (width <= 0 || height <= 0)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: invalid image size %" PRId64 "x%" PRId64 " in the header", name,
                            width, height);
    if (width > FS_IMAGE_MAX_SIDE || height > FS_IMAGE_MAX_SIDE ||
        (uint64_t)width * (uint64_t)height > max_pixels)
        return fs_error_set(err, FACESIM_ERR_LIMIT,
                            "%s: image is %" PRId64 "x%" PRId64 " (%" PRIu64 " pixels), over the "
                            "limit of %" PRIu64 " pixels and at most %d per side; if the file is "
                            "trusted, raise the limit with --max-pixels", name, width, height,
                            (uint64_t)width * (uint64_t)height, max_pixels, FS_IMAGE_MAX_SIDE);
    return FACESIM_OK;
}

int fs_image_alloc(fs_image *image, int width, int height, fs_error *err)
{
    if (!image)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "fs_image_alloc: NULL image");
    memset(image, 0, sizeof *image);
    if (width <= 0 || height <= 0)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "fs_image_alloc: invalid size %dx%d", width, height);
    size_t bytes;
    if (!fs_mul_size((size_t)width, (size_t)height, &bytes) || !fs_mul_size(bytes, 3, &bytes))
        return fs_error_set(err, FACESIM_ERR_LIMIT, "fs_image_alloc: %dx%d overflows size_t",
                            width, height);
    image->pixels = calloc(bytes, 1);
    if (!image->pixels)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                            "out of memory allocating a %dx%d image (%zu bytes)", width, height,
                            bytes);
    image->width = width;
    image->height = height;
    return FACESIM_OK;
}

void fs_image_release(fs_image *image)
{
    if (!image)
        return;
    free(image->pixels);
    memset(image, 0, sizeof *image);
}

const char *fs_image_warning_text(int warnings)
{
    int truncated = (warnings & FS_IMAGE_WARNING_TRUNCATED) != 0;
    int corrupt = (warnings & FS_IMAGE_WARNING_CORRUPT_DATA) != 0;
    if (truncated && corrupt)
        return "truncated file with corrupt data";
    if (truncated)
        return "truncated file, missing rows filled with grey";
    if (corrupt)
        return "corrupt compressed data, some blocks may be wrong";
    return "no warning";
}

/*
 * BMP decoding (Windows DIB): uncompressed 1/4/8-bit palette, 16-bit (5-5-5 or
 * bit-field masks), 24-bit and 32-bit (the fourth byte, usually alpha, is dropped),
 * bottom-up (positive height) and top-down (negative height) rows. RLE-compressed and
 * embedded JPEG/PNG bitmaps are rejected as unsupported.
 *
 * Layout: a 14-byte file header ("BM", file size, reserved, offset of the pixel data),
 * then an info header whose first 4 bytes give its size. Size 12 is the OS/2 core header
 * (16-bit sizes, 3-byte palette entries). Sizes of 40 and up are Windows headers (32-bit
 * sizes, 4-byte palette entries, a compression field). Rows are padded to 4 bytes.
 */
#include <inttypes.h>
#include <string.h>

#include "core/checked.h"
#include "image/decoders.h"

#define FS_BMP_FILE_HEADER 14
#define FS_BMP_RGB 0
#define FS_BMP_BITFIELDS 3
#define FS_BMP_ALPHABITFIELDS 6

typedef struct fs_bmp_header {
    int64_t width;
    int64_t height;       /* positive: bottom-up */
    int bits;
    uint32_t compression;
    uint32_t masks[3];    /* red, green, blue for 16/32-bit */
    size_t palette_offset;
    int palette_entry_size;
    uint32_t palette_count;
    size_t pixel_offset;
} fs_bmp_header;

static uint32_t fs_bmp_u16(const uint8_t *p) { return (uint32_t)(p[0] | p[1] << 8); }

static uint32_t fs_bmp_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Parses and validates the headers; every field is checked against the file size. */
static int fs_bmp_read_header(const uint8_t *data, size_t size, const char *name,
                              fs_bmp_header *header, fs_error *err)
{
    memset(header, 0, sizeof *header);
    if (size < FS_BMP_FILE_HEADER + 12)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: not a valid BMP (file of %zu bytes is shorter than the headers)",
                            name, size);
    header->pixel_offset = fs_bmp_u32(data + 10);
    uint32_t info_size = fs_bmp_u32(data + 14);
    const uint8_t *info = data + FS_BMP_FILE_HEADER;

    if (info_size == 12) {
        header->width = fs_bmp_u16(info + 4);
        header->height = fs_bmp_u16(info + 6);
        header->bits = (int)fs_bmp_u16(info + 10);
        header->compression = FS_BMP_RGB;
        header->palette_entry_size = 3;
    } else if (info_size >= 40 && info_size <= 4096) {
        if (size < FS_BMP_FILE_HEADER + (size_t)info_size)
            return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                                "%s: not a valid BMP (truncated %u-byte info header)", name,
                                info_size);
        header->width = (int32_t)fs_bmp_u32(info + 4);
        header->height = (int32_t)fs_bmp_u32(info + 8);
        header->bits = (int)fs_bmp_u16(info + 14);
        header->compression = fs_bmp_u32(info + 16);
        header->palette_count = fs_bmp_u32(info + 32);
        header->palette_entry_size = 4;
    } else {
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: not a valid BMP (info header size %u; expected 12 or 40 to 4096)",
                            name, info_size);
    }
    header->palette_offset = FS_BMP_FILE_HEADER + (size_t)info_size;

    if (header->compression == FS_BMP_BITFIELDS || header->compression == FS_BMP_ALPHABITFIELDS) {
        /* Masks follow a 40-byte header, or sit inside a larger (V2 and later) one. */
        size_t masks_at = FS_BMP_FILE_HEADER + 40;
        if (size < masks_at + 12)
            return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                                "%s: not a valid BMP (bit-field masks missing)", name);
        for (int i = 0; i < 3; i++)
            header->masks[i] = fs_bmp_u32(data + masks_at + 4 * i);
        if (info_size == 40)
            header->palette_offset += header->compression == FS_BMP_BITFIELDS ? 12 : 16;
    } else if (header->compression != FS_BMP_RGB) {
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: BMP compression %u (RLE or embedded JPEG/PNG) is not supported; "
                            "convert the file to PNG", name, header->compression);
    } else if (header->bits == 16) {
        header->masks[0] = 0x7C00;
        header->masks[1] = 0x03E0;
        header->masks[2] = 0x001F;
    } else if (header->bits == 32) {
        header->masks[0] = 0x00FF0000;
        header->masks[1] = 0x0000FF00;
        header->masks[2] = 0x000000FF;
    }

    int bits = header->bits;
    if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32)
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: BMP with %d bits per pixel is not supported (expected 1, 4, 8, "
                            "16, 24 or 32)", name, bits);
    if (bits != 16 && bits != 32 && header->compression != FS_BMP_RGB)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: not a valid BMP (bit-field masks with %d bits per pixel)", name,
                            bits);
    if (bits <= 8) {
        uint32_t max_entries = 1u << bits;
        if (header->palette_count == 0 || header->palette_count > max_entries)
            header->palette_count = max_entries;
        size_t palette_end = header->palette_offset +
                             (size_t)header->palette_count * header->palette_entry_size;
        if (palette_end > size)
            return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                                "%s: not a valid BMP (the palette runs past the end of the file)",
                                name);
    }
    return FACESIM_OK;
}

/* Extracts one channel with a bit-field mask and scales it to 8 bits. */
static uint8_t fs_bmp_channel(uint32_t pixel, uint32_t mask)
{
    if (mask == 0)
        return 0;
    int shift = __builtin_ctz(mask);
    uint32_t max = mask >> shift;
    uint32_t value = (pixel & mask) >> shift;
    if (max == 255)
        return (uint8_t)value;
    return (uint8_t)((value * 255 + max / 2) / max);
}

static void fs_bmp_convert_row(const fs_bmp_header *header, const uint8_t palette[256][3],
                               const uint8_t *src, uint8_t *dst, int width)
{
    int bits = header->bits;
    for (int x = 0; x < width; x++, dst += 3) {
        if (bits <= 8) {
            int per_byte = 8 / bits;
            int byte = src[x / per_byte];
            int shift = 8 - bits * (x % per_byte + 1);
            int index = (byte >> shift) & ((1 << bits) - 1);
            memcpy(dst, palette[index], 3);
        } else if (bits == 24) {
            const uint8_t *p = src + 3 * x;
            dst[0] = p[2];
            dst[1] = p[1];
            dst[2] = p[0];
        } else {
            uint32_t pixel = bits == 16 ? fs_bmp_u16(src + 2 * x) : fs_bmp_u32(src + 4 * x);
            dst[0] = fs_bmp_channel(pixel, header->masks[0]);
            dst[1] = fs_bmp_channel(pixel, header->masks[1]);
            dst[2] = fs_bmp_channel(pixel, header->masks[2]);
        }
    }
}

int fs_bmp_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                  fs_image *out, fs_error *err)
{
    fs_bmp_header header;
    int status = fs_bmp_read_header(data, size, name, &header, err);
    if (status != FACESIM_OK)
        return status;
    int top_down = header.height < 0;
    int64_t height = top_down ? -header.height : header.height;
    status = fs_image_check_size(header.width, height, max_pixels, name, err);
    if (status != FACESIM_OK)
        return status;
    int width = (int)header.width;

    /* Row stride: width * bits rounded up to 32 bits. Sides are at most 65535, so the
     * products below fit, but the total is still checked against the file size. */
    size_t stride = (((size_t)width * header.bits + 31) / 32) * 4;
    size_t pixel_bytes;
    if (!fs_mul_size(stride, (size_t)height, &pixel_bytes) || header.pixel_offset > size ||
        size - header.pixel_offset < pixel_bytes)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: truncated BMP: %" PRId64 " rows of %zu bytes do not fit in the "
                            "%zu bytes after offset %zu", name, height, stride,
                            header.pixel_offset < size ? size - header.pixel_offset : 0,
                            header.pixel_offset);

    uint8_t palette[256][3];
    memset(palette, 0, sizeof palette);
    for (uint32_t i = 0; header.bits <= 8 && i < header.palette_count; i++) {
        const uint8_t *entry = data + header.palette_offset + (size_t)i * header.palette_entry_size;
        palette[i][0] = entry[2];
        palette[i][1] = entry[1];
        palette[i][2] = entry[0];
    }

    status = fs_image_alloc(out, width, (int)height, err);
    if (status != FACESIM_OK)
        return status;
    for (int y = 0; y < out->height; y++) {
        int stored_row = top_down ? y : out->height - 1 - y;
        const uint8_t *src = data + header.pixel_offset + (size_t)stored_row * stride;
        fs_bmp_convert_row(&header, palette, src, out->pixels + (size_t)y * width * 3, width);
    }
    return FACESIM_OK;
}

/*
 * EXIF orientation: reading tag 0x0112 from a JPEG APP1 segment and turning the
 * stored pixels upright.
 *
 * The APP1 payload is "Exif\0\0" followed by a TIFF structure: a byte-order mark
 * ("II" little-endian or "MM" big-endian), the number 42, the offset of IFD0, and IFD0
 * itself (a 16-bit entry count and 12-byte entries: tag, type, count, value). All
 * offsets are relative to the start of the TIFF header.
 */
#include <string.h>

#include "core/checked.h"
#include "image/decoders.h"

#define FS_EXIF_TAG_ORIENTATION 0x0112
#define FS_EXIF_TYPE_SHORT 3

static uint32_t fs_exif_read16(const uint8_t *p, int little_endian)
{
    return little_endian ? (uint32_t)(p[0] | p[1] << 8) : (uint32_t)(p[0] << 8 | p[1]);
}

static uint32_t fs_exif_read32(const uint8_t *p, int little_endian)
{
    if (little_endian)
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int fs_exif_orientation(const uint8_t *payload, size_t size)
{
    static const uint8_t exif_id[6] = {'E', 'x', 'i', 'f', 0, 0};
    if (!payload || size < sizeof exif_id + 8 || memcmp(payload, exif_id, sizeof exif_id) != 0)
        return 1;
    const uint8_t *tiff = payload + sizeof exif_id;
    size_t tiff_size = size - sizeof exif_id;

    int little_endian;
    if (tiff[0] == 'I' && tiff[1] == 'I')
        little_endian = 1;
    else if (tiff[0] == 'M' && tiff[1] == 'M')
        little_endian = 0;
    else
        return 1;
    if (fs_exif_read16(tiff + 2, little_endian) != 42)
        return 1;

    uint32_t ifd = fs_exif_read32(tiff + 4, little_endian);
    if ((size_t)ifd > tiff_size || tiff_size - ifd < 2)
        return 1;
    uint32_t entries = fs_exif_read16(tiff + ifd, little_endian);
    size_t first = (size_t)ifd + 2;
    for (uint32_t i = 0; i < entries; i++) {
        size_t at = first + (size_t)i * 12;
        if (at > tiff_size || tiff_size - at < 12)
            return 1;
        const uint8_t *entry = tiff + at;
        if (fs_exif_read16(entry, little_endian) != FS_EXIF_TAG_ORIENTATION)
            continue;
        if (fs_exif_read16(entry + 2, little_endian) != FS_EXIF_TYPE_SHORT ||
            fs_exif_read32(entry + 4, little_endian) < 1)
            return 1;
        /* A single SHORT sits in the first two bytes of the 4-byte value field. */
        uint32_t value = fs_exif_read16(entry + 8, little_endian);
        return value >= 1 && value <= 8 ? (int)value : 1;
    }
    return 1;
}

/*
 * Maps an output (display) pixel to the stored pixel it comes from. `width` and
 * `height` are the stored image's size.
 */
static void fs_exif_source_pixel(int orientation, int x, int y, int width, int height, int *sx,
                                 int *sy)
{
    switch (orientation) {
    case 2: *sx = width - 1 - x; *sy = y; break;                 /* mirrored left-right */
    case 3: *sx = width - 1 - x; *sy = height - 1 - y; break;    /* rotated 180 */
    case 4: *sx = x; *sy = height - 1 - y; break;                /* mirrored top-bottom */
    case 5: *sx = y; *sy = x; break;                             /* transposed */
    case 6: *sx = y; *sy = height - 1 - x; break;                /* needs 90 deg clockwise */
    case 7: *sx = width - 1 - y; *sy = height - 1 - x; break;    /* transverse */
    case 8: *sx = width - 1 - y; *sy = x; break;                 /* needs 90 deg anticlockwise */
    default: *sx = x; *sy = y; break;
    }
}

int fs_image_apply_orientation(fs_image *image, int orientation, fs_error *err)
{
    if (orientation < 2 || orientation > 8)
        return FACESIM_OK;
    int swap = orientation >= 5;
    int out_width = swap ? image->height : image->width;
    int out_height = swap ? image->width : image->height;

    fs_image upright;
    int status = fs_image_alloc(&upright, out_width, out_height, err);
    if (status != FACESIM_OK)
        return status;
    for (int y = 0; y < out_height; y++) {
        uint8_t *dst = upright.pixels + (size_t)y * out_width * 3;
        for (int x = 0; x < out_width; x++) {
            int sx, sy;
            fs_exif_source_pixel(orientation, x, y, image->width, image->height, &sx, &sy);
            const uint8_t *src = image->pixels + ((size_t)sy * image->width + sx) * 3;
            dst[3 * x + 0] = src[0];
            dst[3 * x + 1] = src[1];
            dst[3 * x + 2] = src[2];
        }
    }
    upright.warnings = image->warnings;
    fs_image_release(image);
    *image = upright;
    return FACESIM_OK;
}

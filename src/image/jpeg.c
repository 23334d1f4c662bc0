/*
 * JPEG decoding with libjpeg(-turbo), matching cv2.imread(path, IMREAD_COLOR) in
 * OpenCV 4.6, which uses the same library with its default settings (ISLOW IDCT, fancy
 * upsampling).
 *
 * - Grey and YCbCr files are converted to RGB by libjpeg.
 * - 4-component files (CMYK, or YCCK as Photoshop writes them, flagged by the Adobe APP14
 *   marker) are decoded to CMYK by libjpeg, which undoes the YCCK transform, and then
 *   converted to RGB with OpenCV's formula. That formula assumes Adobe's inverted
 *   storage (0 = full ink), which is what every CMYK JPEG writer in use produces.
 * - The EXIF orientation from APP1 is applied after decoding.
 * - libjpeg errors become FACESIM_ERR_INVALID_DATA through setjmp/longjmp; libjpeg never
 *   calls exit() and never prints. Warnings become fs_image.warnings (policy in image.h).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "core/checked.h"
#include "image/decoders.h"

/* Progressive files with more scans than this are rejected: legitimate encoders write
 * about ten, and each scan costs a pass over the whole coefficient buffer. */
#define FS_JPEG_MAX_SCANS 500

typedef struct fs_jpeg_context {
    struct jpeg_error_mgr base;           /* first, so libjpeg's pointer can be cast back */
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    char error_message[JMSG_LENGTH_MAX];  /* message of the fatal error, if any */
    char warning_message[JMSG_LENGTH_MAX]; /* first warning */
    int warnings;                         /* fs_image_warning bits */
    int truncated;                        /* libjpeg reported the end of data */
    JDIMENSION rows_before_truncation;    /* rows already output when the data ended */
    uint8_t *cmyk_row;                    /* scratch row for 4-component files */
} fs_jpeg_context;

static void fs_jpeg_error_exit(j_common_ptr cinfo)
{
    fs_jpeg_context *context = (fs_jpeg_context *)cinfo->err;
    cinfo->err->format_message(cinfo, context->error_message);
    longjmp(context->jump, 1);
}

/* Called for warnings (level -1) and trace messages (level >= 0); stores, never prints. */
static void fs_jpeg_emit_message(j_common_ptr cinfo, int level)
{
    if (level >= 0)
        return;
    fs_jpeg_context *context = (fs_jpeg_context *)cinfo->err;
    context->base.num_warnings++;
    if (context->warning_message[0] == '\0')
        cinfo->err->format_message(cinfo, context->warning_message);

    if (context->base.msg_code == JWRN_JPEG_EOF) {
        if (!context->truncated && cinfo->is_decompressor) {
            context->truncated = 1;
            context->rows_before_truncation = ((j_decompress_ptr)cinfo)->output_scanline;
        }
        context->warnings |= FS_IMAGE_WARNING_TRUNCATED;
    } else {
        context->warnings |= FS_IMAGE_WARNING_CORRUPT_DATA;
    }
}

static void fs_jpeg_output_message(j_common_ptr cinfo)
{
    (void)cinfo;
}

static void fs_jpeg_progress(j_common_ptr cinfo)
{
    fs_jpeg_context *context = (fs_jpeg_context *)cinfo->err;
    j_decompress_ptr decompress = (j_decompress_ptr)cinfo;
    if (decompress->input_scan_number > FS_JPEG_MAX_SCANS) {
        snprintf(context->error_message, sizeof context->error_message,
                 "more than %d progressive scans", FS_JPEG_MAX_SCANS);
        longjmp(context->jump, 1);
    }
}

/* Returns the orientation from the first EXIF APP1 segment that libjpeg saved, or 1. */
static int fs_jpeg_find_orientation(j_decompress_ptr cinfo)
{
    for (jpeg_saved_marker_ptr marker = cinfo->marker_list; marker; marker = marker->next) {
        if (marker->marker != JPEG_APP0 + 1 || marker->data_length < 6 ||
            memcmp(marker->data, "Exif\0\0", 6) != 0)
            continue;
        return fs_exif_orientation(marker->data, marker->data_length);
    }
    return 1;
}

/*
 * Converts one row of Adobe-style inverted CMYK to RGB the way OpenCV 4.6 does
 * (icvCvt_CMYK2BGR_8u_C4C3R): channel = k - ((255 - c) * k >> 8).
 */
static void fs_jpeg_cmyk_row_to_rgb(const uint8_t *cmyk, uint8_t *rgb, int width)
{
    for (int x = 0; x < width; x++, cmyk += 4, rgb += 3) {
        int k = cmyk[3];
        rgb[0] = (uint8_t)(k - ((255 - cmyk[0]) * k >> 8));
        rgb[1] = (uint8_t)(k - ((255 - cmyk[1]) * k >> 8));
        rgb[2] = (uint8_t)(k - ((255 - cmyk[2]) * k >> 8));
    }
}

/* Decodes all rows into out; runs under the caller's setjmp. */
static int fs_jpeg_read_pixels(j_decompress_ptr cinfo, fs_jpeg_context *context, const char *name,
                               uint64_t max_pixels, fs_image *out, fs_error *err)
{
    int status = fs_image_check_size(cinfo->image_width, cinfo->image_height, max_pixels, name,
                                     err);
    if (status != FACESIM_OK)
        return status;

    int four_components = cinfo->num_components == 4;
    cinfo->out_color_space = four_components ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(cinfo);
    if (cinfo->output_components != (four_components ? 4 : 3))
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: JPEG with %d components decodes to %d channels; only grey, "
                            "YCbCr/RGB and CMYK/YCCK JPEGs are supported", name,
                            cinfo->num_components, cinfo->output_components);

    status = fs_image_alloc(out, (int)cinfo->output_width, (int)cinfo->output_height, err);
    if (status != FACESIM_OK)
        return status;
    if (four_components) {
        context->cmyk_row = malloc((size_t)out->width * 4);
        if (!context->cmyk_row)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory for a CMYK row",
                                name);
    }

    size_t row_bytes = (size_t)out->width * 3;
    while (cinfo->output_scanline < cinfo->output_height) {
        uint8_t *rgb_row = out->pixels + (size_t)cinfo->output_scanline * row_bytes;
        JSAMPROW row = four_components ? context->cmyk_row : rgb_row;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1)
            return fs_error_set(err, FACESIM_ERR_INTERNAL,
                                "%s: libjpeg returned no row at row %u of %u", name,
                                cinfo->output_scanline, cinfo->output_height);
        if (four_components)
            fs_jpeg_cmyk_row_to_rgb(context->cmyk_row, rgb_row, out->width);
    }
    jpeg_finish_decompress(cinfo);
    return FACESIM_OK;
}

int fs_jpeg_decode(const uint8_t *data, size_t size, const char *name, uint64_t max_pixels,
                   fs_image *out, fs_error *err)
{
    if (size > ULONG_MAX)
        return fs_error_set(err, FACESIM_ERR_LIMIT, "%s: JPEG file too large for libjpeg", name);

    struct jpeg_decompress_struct cinfo;
    fs_jpeg_context context;
    memset(&context, 0, sizeof context);
    cinfo.err = jpeg_std_error(&context.base);
    context.base.error_exit = fs_jpeg_error_exit;
    context.base.emit_message = fs_jpeg_emit_message;
    context.base.output_message = fs_jpeg_output_message;
    context.progress.progress_monitor = fs_jpeg_progress;

    int orientation = 1;
    int status = FACESIM_OK;
    if (setjmp(context.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(context.cmyk_row);
        fs_image_release(out);
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA, "%s: not a valid JPEG (%s)", name,
                            context.error_message);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &context.progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    orientation = fs_jpeg_find_orientation(&cinfo);
    status = fs_jpeg_read_pixels(&cinfo, &context, name, max_pixels, out, err);
    jpeg_destroy_decompress(&cinfo);
    free(context.cmyk_row);
    if (status != FACESIM_OK)
        return status;

    /* Policy: an image with less than half of its rows is useless for face matching, so it
     * is an error. A later cut keeps the grey-filled image with a warning, as cv2 does.
     * NOTE: progressive files are buffered whole before the first row is output, so any
     * truncation counts as 0 rows there, even when the early scans give a blurry image. */
    if (context.truncated && (uint64_t)context.rows_before_truncation * 2 < (uint64_t)out->height) {
        unsigned rows = context.rows_before_truncation;
        int height = out->height;
        fs_image_release(out);
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: truncated JPEG: the data ends after %u of %d rows (%s); the file "
                            "is incomplete, download or copy it again", name, rows, height,
                            context.warning_message);
    }
    out->warnings = context.warnings;
    return fs_image_apply_orientation(out, orientation, err);
}

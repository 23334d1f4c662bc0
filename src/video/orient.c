/*
 * Display orientation of video frames: from the stream's display matrix or legacy
 * "rotate" tag to a transpose-and-flip transform, and applying it to RGB frames.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "video/video.h"

#include <libavutil/display.h>

static void fs_video_orientation_set(fs_video_orientation *out, bool transpose, bool flip_x,
                                     bool flip_y, int rotation, bool mirrored, const char *source)
{
    out->transpose = transpose;
    out->flip_x = flip_x;
    out->flip_y = flip_y;
    out->rotation = rotation;
    out->mirrored = mirrored;
    out->source = source;
}

int fs_video_orientation_from_metadata(const int32_t matrix[9], const char *rotate_tag,
                                       fs_video_orientation *out, fs_error *err)
{
    fs_video_orientation_set(out, false, false, false, 0, false, "none");
    double theta = 0.0;
    const char *source = "none";
    if (matrix) {
        /* av_display_rotation_get returns the counter-clockwise angle; the ffmpeg
         * command line negates it into a clockwise turn (fftools get_rotation). */
        double angle = av_display_rotation_get(matrix);
        if (isnan(angle))
            return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                                "the display matrix is degenerate (no rotation can be read)");
        theta = -round(angle);
        source = "display matrix";
    } else if (rotate_tag && *rotate_tag) {
        char *end;
        theta = strtod(rotate_tag, &end);
        if (*end != '\0' || !isfinite(theta))
            return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                                "the rotate tag '%s' is not a number of degrees", rotate_tag);
        source = "rotate tag";
    } else {
        return FACESIM_OK;
    }
    theta -= 360.0 * floor(theta / 360.0 + 0.9 / 360.0);

    /* The decisions of ffmpeg 5.1's autorotation (fftools/ffmpeg_filter.c): transpose
     * "clock" for 90, "cclock" for 270, and hflip/vflip for 180 where the matrix
     * diagonal is negative. A matrix with a mirror selects the flipped transposes. */
    if (fabs(theta - 90.0) < 1.0) {
        bool flip = matrix && matrix[3] > 0; /* transpose=cclock_flip */
        if (flip)
            fs_video_orientation_set(out, true, false, false, 90, true, source);
        else
            fs_video_orientation_set(out, true, false, true, 90, false, source); /* clock */
    } else if (fabs(theta - 180.0) < 1.0) {
        bool flip_x = matrix ? matrix[0] < 0 : true;
        bool flip_y = matrix ? matrix[4] < 0 : true;
        fs_video_orientation_set(out, false, flip_x, flip_y, 180, flip_x != flip_y, source);
    } else if (fabs(theta - 270.0) < 1.0) {
        bool flip = matrix && matrix[3] < 0; /* transpose=clock_flip */
        if (flip)
            fs_video_orientation_set(out, true, true, true, 270, true, source);
        else
            fs_video_orientation_set(out, true, true, false, 270, false, source); /* cclock */
    } else if (fabs(theta) > 1.0) {
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "the %s rotates frames by %.0f degrees; only multiples of 90 are "
                            "supported. Re-encode the video upright (ffmpeg applies the rotation "
                            "when it re-encodes)", source, theta);
    } else {
        /* No turn, but the matrix may still flip the picture vertically. */
        bool flip_y = matrix && matrix[4] < 0;
        fs_video_orientation_set(out, false, false, flip_y, 0, flip_y, source);
    }
    return FACESIM_OK;
}

int fs_video_orient_image(const uint8_t *src, int src_width, int src_height, ptrdiff_t stride,
                          const fs_video_orientation *orientation, fs_image *dst, fs_error *err)
{
    int width = orientation->transpose ? src_height : src_width;
    int height = orientation->transpose ? src_width : src_height;
    if (dst->pixels == NULL || dst->width != width || dst->height != height) {
        fs_image_release(dst);
        int status = fs_image_alloc(dst, width, height, err);
        if (status != FACESIM_OK)
            return status;
    }

    /* Source steps in bytes: per display column (step_x) and per display row (step_y). */
    ptrdiff_t pixel = 3;
    ptrdiff_t step_x = orientation->transpose ? stride : pixel;
    ptrdiff_t step_y = orientation->transpose ? pixel : stride;
    const uint8_t *origin = src;
    if (orientation->flip_x) {
        origin += (ptrdiff_t)(src_width - 1) * pixel;
        if (orientation->transpose)
            step_y = -pixel;
        else
            step_x = -pixel;
    }
    if (orientation->flip_y) {
        origin += (ptrdiff_t)(src_height - 1) * stride;
        if (orientation->transpose)
            step_x = -stride;
        else
            step_y = -stride;
    }

    if (!orientation->transpose && !orientation->flip_x) {
        for (int y = 0; y < height; y++)
            memcpy(dst->pixels + (size_t)y * (size_t)width * 3, origin + (ptrdiff_t)y * step_y,
                   (size_t)width * 3);
        return FACESIM_OK;
    }
    for (int y = 0; y < height; y++) {
        const uint8_t *in = origin + (ptrdiff_t)y * step_y;
        uint8_t *out = dst->pixels + (size_t)y * (size_t)width * 3;
        for (int x = 0; x < width; x++) {
            out[0] = in[0];
            out[1] = in[1];
            out[2] = in[2];
            out += 3;
            in += step_x;
        }
    }
    return FACESIM_OK;
}

/*
 * Drawing for annotated output (detected boxes and landmarks). Coordinates are in image
 * pixels with pixel centres at integers; everything is clipped to the image.
 */
#include <math.h>

#include "image/image.h"

static void fs_draw_put(fs_image *image, int x, int y, const uint8_t rgb[3])
{
    uint8_t *p = image->pixels + ((size_t)y * image->width + x) * 3;
    p[0] = rgb[0];
    p[1] = rgb[1];
    p[2] = rgb[2];
}

/* Rounds a coordinate and clamps it to [low, high] so that huge or NaN values are safe. */
static int fs_draw_coordinate(float value, int low, int high)
{
    if (!(value >= (float)low))
        return low;
    if (value >= (float)high)
        return high;
    return (int)lrintf(value);
}

void fs_image_draw_rect(fs_image *image, float x1, float y1, float x2, float y2, int line_width,
                        const uint8_t rgb[3])
{
    if (!image || !image->pixels || !rgb || line_width <= 0)
        return;
    /* Round the corners while still outside-inclusive, then clip to the image. */
    int left = fs_draw_coordinate(fminf(x1, x2), -1, image->width);
    int right = fs_draw_coordinate(fmaxf(x1, x2), -1, image->width);
    int top = fs_draw_coordinate(fminf(y1, y2), -1, image->height);
    int bottom = fs_draw_coordinate(fmaxf(y1, y2), -1, image->height);
    for (int y = top < 0 ? 0 : top; y <= bottom && y < image->height; y++) {
        int on_horizontal_edge = y < top + line_width || y > bottom - line_width;
        for (int x = left < 0 ? 0 : left; x <= right && x < image->width; x++) {
            if (on_horizontal_edge || x < left + line_width || x > right - line_width)
                fs_draw_put(image, x, y, rgb);
        }
    }
}

void fs_image_draw_disc(fs_image *image, float cx, float cy, float radius, const uint8_t rgb[3])
{
    if (!image || !image->pixels || !rgb || !(radius >= 0.f) || !isfinite(cx) || !isfinite(cy))
        return;
    int x0 = fs_draw_coordinate(cx - radius, 0, image->width - 1);
    int x1 = fs_draw_coordinate(cx + radius, 0, image->width - 1);
    int y0 = fs_draw_coordinate(cy - radius, 0, image->height - 1);
    int y1 = fs_draw_coordinate(cy + radius, 0, image->height - 1);
    float limit = radius * radius;
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            float dx = (float)x - cx, dy = (float)y - cy;
            if (dx * dx + dy * dy <= limit)
                fs_draw_put(image, x, y, rgb);
        }
    }
}

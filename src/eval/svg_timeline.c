#include "eval/svg_timeline.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"

/* Plot area margins in pixels: room for the two title lines above, tick labels and
 * the axis title below and left. */
#define FS_SVG_MARGIN_LEFT 72
#define FS_SVG_MARGIN_RIGHT 24
#define FS_SVG_MARGIN_TOP 64
#define FS_SVG_MARGIN_BOTTOM 56

/* Above this many points the dots are left out and only the line is drawn. */
#define FS_SVG_MAX_DOTS 600

typedef struct fs_svg_axis {
    double low;      /* data value at the start of the axis */
    double high;     /* data value at the end */
    double step;     /* tick spacing */
    int decimals;    /* for tick labels */
} fs_svg_axis;

typedef struct fs_svg_plot {
    FILE *out;
    double left, top, width, height; /* plot area in pixels */
    fs_svg_axis x, y;
} fs_svg_plot;

/* Writes text with XML escaping. Bytes that are not valid UTF-8 become U+FFFD and
 * control characters, which XML 1.0 forbids, become '?'. */
static void fs_svg_write_text(FILE *out, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        unsigned char c = *p;
        if (c == '&') { fputs("&amp;", out); p++; continue; }
        if (c == '<') { fputs("&lt;", out); p++; continue; }
        if (c == '>') { fputs("&gt;", out); p++; continue; }
        if (c == '"') { fputs("&quot;", out); p++; continue; }
        if (c < 0x20) { fputc('?', out); p++; continue; }
        if (c < 0x80) { fputc(c, out); p++; continue; }

        /* A multi-byte UTF-8 sequence: copy it when complete and not overlong. */
        int length = 0;
        if (c >= 0xC2 && c < 0xE0)
            length = 2;
        else if (c >= 0xE0 && c < 0xF0)
            length = 3;
        else if (c >= 0xF0 && c <= 0xF4)
            length = 4;
        int valid = length;
        for (int i = 1; i < length && valid; i++)
            if ((p[i] & 0xC0) != 0x80)
                valid = 0;
        if (valid == 3 && c == 0xE0 && p[1] < 0xA0)
            valid = 0;
        if (valid == 4 && ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90)))
            valid = 0;
        if (valid) {
            fwrite(p, 1, (size_t)length, out);
            p += length;
        } else {
            fputs("\xEF\xBF\xBD", out);
            p++;
        }
    }
}

/* Chooses a tick step of 1, 2 or 5 times a power of ten giving about `target` ticks
 * over [low, high]. */
static void fs_svg_nice_axis(fs_svg_axis *axis, double low, double high, int target)
{
    double span = high - low;
    double raw = span / target;
    double magnitude = pow(10.0, floor(log10(raw)));
    double fraction = raw / magnitude;
    double nice = 10.0;
    if (fraction <= 1.0)
        nice = 1.0;
    else if (fraction <= 2.0)
        nice = 2.0;
    else if (fraction <= 5.0)
        nice = 5.0;
    axis->low = low;
    axis->high = high;
    axis->step = nice * magnitude;
    int decimals = (int)-floor(log10(axis->step) + 1e-9);
    axis->decimals = decimals > 0 ? decimals : 0;
}

static double fs_svg_x(const fs_svg_plot *plot, double value)
{
    return plot->left + (value - plot->x.low) / (plot->x.high - plot->x.low) * plot->width;
}

static double fs_svg_y(const fs_svg_plot *plot, double value)
{
    return plot->top + (plot->y.high - value) / (plot->y.high - plot->y.low) * plot->height;
}

static void fs_svg_draw_axes(const fs_svg_plot *plot, const char *y_label)
{
    FILE *out = plot->out;
    double bottom = plot->top + plot->height;
    double right = plot->left + plot->width;

    /* Grid lines and tick labels; ticks are multiples of the step inside the range. */
    fprintf(out, "<g font-family=\"sans-serif\" font-size=\"12\" fill=\"#333\">\n");
    for (double tick = ceil(plot->y.low / plot->y.step - 1e-9) * plot->y.step;
         tick <= plot->y.high + 1e-9; tick += plot->y.step) {
        double y = fs_svg_y(plot, tick);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                plot->left, y, right, y);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
                plot->left - 6, y + 4, plot->y.decimals, fabs(tick) < 1e-12 ? 0.0 : tick);
    }
    for (double tick = ceil(plot->x.low / plot->x.step - 1e-9) * plot->x.step;
         tick <= plot->x.high + 1e-9; tick += plot->x.step) {
        double x = fs_svg_x(plot, tick);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                x, plot->top, x, bottom);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n", x,
                bottom + 18, plot->x.decimals, fabs(tick) < 1e-12 ? 0.0 : tick);
    }
    fprintf(out, "</g>\n");

    /* Frame, the y = 0 line when 0 is inside the range, and axis titles. */
    fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                 "stroke=\"#555\"/>\n", plot->left, plot->top, plot->width, plot->height);
    if (plot->y.low < 0.0) {
        double y = fs_svg_y(plot, 0.0);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n",
                plot->left, y, right, y);
    }
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"13\" "
                 "text-anchor=\"middle\">time (s)</text>\n",
            plot->left + plot->width / 2, bottom + 42);
    fprintf(out, "<text font-family=\"sans-serif\" font-size=\"13\" text-anchor=\"middle\" "
                 "transform=\"translate(%.1f %.1f) rotate(-90)\">",
            18.0, plot->top + plot->height / 2);
    fs_svg_write_text(out, y_label);
    fprintf(out, "</text>\n");
}

static int fs_svg_compare_time(const void *a, const void *b)
{
    double x = ((const fs_timeline_point *)a)->time;
    double y = ((const fs_timeline_point *)b)->time;
    return (x > y) - (x < y);
}

/* Draws the similarity line (broken where a frame has no face), its dots and the
 * red no-face ticks on the x axis. */
static void fs_svg_draw_series(const fs_svg_plot *plot, const fs_timeline_point *points,
                               size_t n)
{
    FILE *out = plot->out;
    bool open = false;
    for (size_t i = 0; i < n; i++) {
        if (!points[i].has_value) {
            if (open)
                fprintf(out, "\"/>\n");
            open = false;
            continue;
        }
        if (!open)
            fprintf(out, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" "
                         "points=\"");
        fprintf(out, "%s%.2f,%.2f", open ? " " : "", fs_svg_x(plot, points[i].time),
                fs_svg_y(plot, points[i].value));
        open = true;
    }
    if (open)
        fprintf(out, "\"/>\n");

    if (n <= FS_SVG_MAX_DOTS) {
        fprintf(out, "<g fill=\"#1f77b4\">\n");
        for (size_t i = 0; i < n; i++)
            if (points[i].has_value)
                fprintf(out, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\"/>\n",
                        fs_svg_x(plot, points[i].time), fs_svg_y(plot, points[i].value));
        fprintf(out, "</g>\n");
    }

    double bottom = plot->top + plot->height;
    fprintf(out, "<g stroke=\"#d62728\" stroke-width=\"2\">\n");
    for (size_t i = 0; i < n; i++)
        if (!points[i].has_value) {
            double x = fs_svg_x(plot, points[i].time);
            fprintf(out, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\"/>\n", x,
                    bottom - 10, x, bottom);
        }
    fprintf(out, "</g>\n");
}

static void fs_svg_draw_legend(const fs_svg_plot *plot, double threshold, size_t no_face)
{
    FILE *out = plot->out;
    double x = plot->left + plot->width - 190;
    double y = plot->top - 14;
    fprintf(out, "<g font-family=\"sans-serif\" font-size=\"12\">\n");
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#1f77b4\" "
                 "stroke-width=\"2\"/><text x=\"%.1f\" y=\"%.1f\">per frame</text>\n",
            x - 160, y, x - 140, y, x - 135, y + 4);
    if (!isnan(threshold))
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\" "
                     "stroke-dasharray=\"6 4\"/><text x=\"%.1f\" y=\"%.1f\">threshold "
                     "%.2f</text>\n",
                x - 60, y, x - 40, y, x - 35, y + 4, threshold);
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d62728\" "
                 "stroke-width=\"2\"/><text x=\"%.1f\" y=\"%.1f\">no face (%zu)</text>\n",
            x + 70, y - 6, x + 70, y + 4, x + 76, y + 4, no_face);
    fprintf(out, "</g>\n");
}

int fs_svg_timeline_write(FILE *out, const fs_timeline_point *points, size_t n,
                          const fs_timeline_params *params, fs_error *err)
{
    if (n > 0 && !points)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "timeline: NULL points");
    double threshold = params ? params->threshold : NAN;
    double time_min = 0.0, time_max = 0.0, value_min = 0.0;
    size_t no_face = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(points[i].time) || (points[i].has_value && !isfinite(points[i].value)))
            return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                                "timeline: point %zu has a non-finite time or value", i);
        time_min = fmin(time_min, points[i].time);
        time_max = fmax(time_max, points[i].time);
        if (points[i].has_value)
            value_min = fmin(value_min, points[i].value);
        else
            no_face++;
    }
    if (isfinite(threshold))
        value_min = fmin(value_min, threshold);
    else
        threshold = NAN;

    size_t bytes;
    fs_timeline_point *sorted = NULL;
    if (n > 0) {
        if (!fs_mul_size(n, sizeof *sorted, &bytes) || !(sorted = malloc(bytes)))
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                "timeline: out of memory for %zu points", n);
        memcpy(sorted, points, bytes);
        qsort(sorted, n, sizeof *sorted, fs_svg_compare_time);
    }

    int width = params && params->width > 0 ? params->width : 960;
    int height = params && params->height > 0 ? params->height : 420;
    fs_svg_plot plot = {
        .out = out,
        .left = FS_SVG_MARGIN_LEFT,
        .top = FS_SVG_MARGIN_TOP,
        .width = fmax(width - FS_SVG_MARGIN_LEFT - FS_SVG_MARGIN_RIGHT, 50),
        .height = fmax(height - FS_SVG_MARGIN_TOP - FS_SVG_MARGIN_BOTTOM, 50),
    };
    /* A single frame (or none) still gets a 1 s wide axis. */
    if (time_max - time_min < 1e-9)
        time_max = time_min + 1.0;
    fs_svg_nice_axis(&plot.x, time_min, time_max, 8);
    /* The time axis ends on a tick, so the last frame is not drawn on the frame edge. */
    plot.x.high = fmax(ceil(time_max / plot.x.step - 1e-9) * plot.x.step, time_max);
    fs_svg_nice_axis(&plot.y, value_min, 1.0, 6);

    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
                 "height=\"%d\" viewBox=\"0 0 %d %d\">\n", width, height, width, height);
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    const char *title = params && params->title ? params->title : "";
    const char *subtitle = params && params->subtitle ? params->subtitle : "";
    fprintf(out, "<title>");
    fs_svg_write_text(out, title);
    fprintf(out, "</title>\n<text x=\"%d\" y=\"22\" font-family=\"sans-serif\" "
                 "font-size=\"15\" font-weight=\"bold\">", FS_SVG_MARGIN_LEFT);
    fs_svg_write_text(out, title);
    fprintf(out, "</text>\n<text x=\"%d\" y=\"40\" font-family=\"sans-serif\" "
                 "font-size=\"13\">", FS_SVG_MARGIN_LEFT);
    fs_svg_write_text(out, subtitle);
    fprintf(out, "</text>\n");

    fs_svg_draw_axes(&plot, params && params->y_label ? params->y_label : "cosine similarity");
    if (!isnan(threshold)) {
        double y = fs_svg_y(&plot, threshold);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#444\" "
                     "stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>\n",
                plot.left, y, plot.left + plot.width, y);
    }
    fs_svg_draw_series(&plot, sorted, n);
    fs_svg_draw_legend(&plot, threshold, no_face);
    fprintf(out, "</svg>\n");
    free(sorted);

    if (fflush(out) != 0 || ferror(out))
        return fs_error_set(err, FACESIM_ERR_IO, "timeline: writing the SVG failed");
    return FACESIM_OK;
}

#include "eval/svg_histogram.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define SVG_BIN_WIDTH 0.05
#define SVG_MAX_BINS 40 /* 2.0 / SVG_BIN_WIDTH: the whole [-1, 1] range */
#define SVG_WIDTH 720
#define SVG_HEIGHT 420
#define SVG_LEFT 64   /* plot area margins, pixels */
#define SVG_RIGHT 24
#define SVG_TOP 48
#define SVG_BOTTOM 56

/* Plot geometry: scores from x_min to x_max map to the plot area's width. */
typedef struct svg_frame {
    double x_min, x_max;
    int bins;
    unsigned y_max;       /* top of the y axis, pairs per bin */
    double plot_width, plot_height;
} svg_frame;

static double svg_x(const svg_frame *frame, double score)
{
    return SVG_LEFT + (score - frame->x_min) / (frame->x_max - frame->x_min) * frame->plot_width;
}

static double svg_y(const svg_frame *frame, double count)
{
    return SVG_TOP + frame->plot_height * (1.0 - count / frame->y_max);
}

/* Writes text with the XML special characters escaped. */
static void svg_text(FILE *out, const char *text)
{
    for (; *text; text++) {
        switch (*text) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*text, out);
        }
    }
}

static void svg_bars(FILE *out, const svg_frame *frame, const unsigned *counts,
                     const char *colour, const char *name)
{
    fprintf(out, "<g fill=\"%s\" fill-opacity=\"0.6\" stroke=\"%s\"><title>", colour, colour);
    svg_text(out, name);
    fprintf(out, "</title>\n");
    for (int b = 0; b < frame->bins; b++) {
        if (counts[b] == 0)
            continue;
        double x0 = svg_x(frame, frame->x_min + b * SVG_BIN_WIDTH);
        double x1 = svg_x(frame, frame->x_min + (b + 1) * SVG_BIN_WIDTH);
        double y = svg_y(frame, counts[b]);
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", x0, y,
                x1 - x0, SVG_TOP + frame->plot_height - y);
    }
    fprintf(out, "</g>\n");
}

static void svg_axes(FILE *out, const svg_frame *frame)
{
    double bottom = SVG_TOP + frame->plot_height;
    fprintf(out, "<g stroke=\"#333\" fill=\"none\">\n");
    fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", SVG_LEFT, bottom,
            SVG_LEFT + frame->plot_width, bottom);
    fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%.1f\"/>\n", SVG_LEFT, SVG_TOP,
            SVG_LEFT, bottom);
    fprintf(out, "</g>\n<g font-family=\"sans-serif\" font-size=\"11\" fill=\"#333\">\n");

    /* x ticks every 0.1 */
    int ticks = (int)lround((frame->x_max - frame->x_min) / 0.1);
    for (int t = 0; t <= ticks; t++) {
        double score = frame->x_min + t * 0.1;
        double x = svg_x(frame, score);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
                x, bottom, x, bottom + 4);
        if (ticks <= 10 || t % 2 == 0)
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.1f</text>\n", x,
                    bottom + 16, fabs(score) < 1e-9 ? 0.0 : score);
    }
    /* y ticks: about five whole-number steps */
    unsigned step = frame->y_max <= 5 ? 1 : (frame->y_max + 4) / 5;
    for (unsigned count = 0; count <= frame->y_max; count += step) {
        double y = svg_y(frame, count);
        fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\"/>\n",
                SVG_LEFT - 4, y, SVG_LEFT, y);
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%u</text>\n", SVG_LEFT - 8,
                y + 4, count);
    }
    fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">cosine similarity</text>\n",
            SVG_LEFT + frame->plot_width / 2, SVG_HEIGHT - 12);
    fprintf(out, "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" "
                 "transform=\"rotate(-90 16 %.1f)\">pairs per bin</text>\n",
            SVG_TOP + frame->plot_height / 2, SVG_TOP + frame->plot_height / 2);
    fprintf(out, "</g>\n");
}

static int svg_bin_of(const svg_frame *frame, double score)
{
    int bin = (int)floor((score - frame->x_min) / SVG_BIN_WIDTH);
    if (bin < 0)
        bin = 0;
    if (bin >= frame->bins)
        bin = frame->bins - 1;
    return bin;
}

int fs_svg_histogram_write(const char *path, const float *scores, const uint8_t *labels,
                           size_t n, double threshold, const char *title, fs_error *err)
{
    double low = 1.0, high = -1.0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(scores[i]))
            return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                                "score %zu is NaN and cannot be plotted", i);
        low = fmin(low, scores[i]);
        high = fmax(high, scores[i]);
    }
    if (isfinite(threshold)) {
        low = fmin(low, threshold);
        high = fmax(high, threshold);
    }
    if (low > high) {
        low = 0.0;
        high = 1.0;
    }
    svg_frame frame;
    frame.x_min = fmax(-1.0, floor(low * 10.0 - 1e-9) / 10.0);
    frame.x_max = fmin(1.0, ceil(high * 10.0 + 1e-9) / 10.0);
    if (frame.x_max - frame.x_min < 0.1)
        frame.x_max = frame.x_min + 0.1;
    frame.bins = (int)lround((frame.x_max - frame.x_min) / SVG_BIN_WIDTH);
    if (frame.bins > SVG_MAX_BINS)
        frame.bins = SVG_MAX_BINS;
    frame.plot_width = SVG_WIDTH - SVG_LEFT - SVG_RIGHT;
    frame.plot_height = SVG_HEIGHT - SVG_TOP - SVG_BOTTOM;

    /* counts[0]: different person or unlabelled, counts[1]: same person */
    unsigned counts[2][SVG_MAX_BINS];
    memset(counts, 0, sizeof counts);
    for (size_t i = 0; i < n; i++)
        counts[labels && labels[i] ? 1 : 0][svg_bin_of(&frame, scores[i])]++;
    unsigned highest = 1;
    for (int s = 0; s < 2; s++)
        for (int b = 0; b < frame.bins; b++)
            if (counts[s][b] > highest)
                highest = counts[s][b];
    frame.y_max = highest;

    FILE *out = fopen(path, "w");
    if (!out)
        return fs_error_set(err, FACESIM_ERR_IO, "%s: cannot create the plot: %s", path,
                            strerror(errno));
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                 "viewBox=\"0 0 %d %d\">\n"
                 "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            SVG_WIDTH, SVG_HEIGHT, SVG_WIDTH, SVG_HEIGHT);
    fprintf(out, "<text x=\"%d\" y=\"24\" font-family=\"sans-serif\" font-size=\"14\">",
            SVG_LEFT);
    svg_text(out, title ? title : "Cosine similarity");
    fprintf(out, " (%zu pairs)</text>\n", n);

    if (labels) {
        svg_bars(out, &frame, counts[0], "#d62728", "different person");
        svg_bars(out, &frame, counts[1], "#1f77b4", "same person");
    } else {
        svg_bars(out, &frame, counts[0], "#1f77b4", "pairs");
    }
    svg_axes(out, &frame);

    if (isfinite(threshold) && threshold >= frame.x_min && threshold <= frame.x_max) {
        double x = svg_x(&frame, threshold);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" "
                     "stroke-dasharray=\"6 4\"/>\n", x, SVG_TOP, x, SVG_TOP + frame.plot_height);
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" font-family=\"sans-serif\" font-size=\"11\">"
                     "threshold %.2f</text>\n", x + 4, SVG_TOP + 12, threshold);
    }
    if (labels) {
        size_t same = 0;
        for (size_t i = 0; i < n; i++)
            same += labels[i] != 0;
        double x = SVG_WIDTH - SVG_RIGHT - 190;
        fprintf(out, "<g font-family=\"sans-serif\" font-size=\"11\">\n"
                     "<rect x=\"%.0f\" y=\"%d\" width=\"12\" height=\"12\" fill=\"#1f77b4\" "
                     "fill-opacity=\"0.6\"/><text x=\"%.0f\" y=\"%d\">same person (%zu)</text>\n"
                     "<rect x=\"%.0f\" y=\"%d\" width=\"12\" height=\"12\" fill=\"#d62728\" "
                     "fill-opacity=\"0.6\"/><text x=\"%.0f\" y=\"%d\">different person (%zu)"
                     "</text>\n</g>\n",
                x, SVG_TOP, x + 18, SVG_TOP + 10, same, x, SVG_TOP + 18, x + 18, SVG_TOP + 28,
                n - same);
    }
    fprintf(out, "</svg>\n");
    int failed = ferror(out);
    if (fclose(out) != 0 || failed)
        return fs_error_set(err, FACESIM_ERR_IO, "%s: writing the plot failed", path);
    return FACESIM_OK;
}

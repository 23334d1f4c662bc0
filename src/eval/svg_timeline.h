/*
 * Similarity-over-time plot as a standalone SVG 1.1 file, for `facesim video --plot`.
 *
 * x is the frame timestamp in seconds, y the cosine similarity from min(0, lowest
 * value) to 1. Frames with a value are joined by a line and drawn as dots; frames
 * without one (no face) are red ticks on the x axis. The threshold is a dashed line.
 * The file uses only basic shapes, text and inline presentation attributes, so any
 * browser or SVG 1.1 renderer (rsvg-convert, Inkscape) shows it the same way.
 */
#ifndef FS_EVAL_SVG_TIMELINE_H
#define FS_EVAL_SVG_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

typedef struct fs_timeline_point {
    double time;     /* seconds */
    double value;    /* cosine; ignored when has_value is false */
    bool has_value;  /* false: drawn as a "no face" mark */
} fs_timeline_point;

typedef struct fs_timeline_params {
    const char *title;      /* first title line, such as the file names; may be NULL */
    const char *subtitle;   /* second line, such as the mean; may be NULL */
    const char *y_label;    /* y axis label; NULL for "cosine similarity" */
    double threshold;       /* dashed line; NaN for none */
    int width;              /* pixels; 0 for 960 */
    int height;             /* pixels; 0 for 420 */
} fs_timeline_params;

/*
 * Writes the plot of n points (in any order; they are drawn by time) to out.
 * Text is XML-escaped. Errors: FACESIM_ERR_INVALID_ARGUMENT for a NaN or infinite
 * time or value (the message gives the point index), FACESIM_ERR_IO when writing fails.
 */
int fs_svg_timeline_write(FILE *out, const fs_timeline_point *points, size_t n,
                          const fs_timeline_params *params, fs_error *err);

#endif /* FS_EVAL_SVG_TIMELINE_H */

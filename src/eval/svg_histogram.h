/*
 * Histogram of cosine similarities as a plain SVG file (no scripts, no external
 * fonts or styles), for `facesim pairs --plot`.
 *
 * Bins are 0.05 wide on a range from the lowest to the highest score, widened to
 * multiples of 0.1 and clipped to [-1, 1]. With labels, same-person and
 * different-person pairs are drawn as two overlaid, half-transparent series;
 * without labels as one series. A dashed vertical line marks the threshold. The
 * y axis counts pairs per bin.
 */
#ifndef FS_EVAL_SVG_HISTOGRAM_H
#define FS_EVAL_SVG_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/*
 * Writes the histogram of n scores to path. labels (1 same, 0 different) may be NULL.
 * title is drawn above the plot (may be NULL). Errors: FACESIM_ERR_IO naming the path,
 * FACESIM_ERR_INVALID_ARGUMENT for a NaN score.
 */
int fs_svg_histogram_write(const char *path, const float *scores, const uint8_t *labels,
                           size_t n, double threshold, const char *title, fs_error *err);

#endif /* FS_EVAL_SVG_HISTOGRAM_H */

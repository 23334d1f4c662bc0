/*
 * Progress bar on a terminal for the CLI's long-running commands: items done out of
 * the total, items per second and the estimated time left.
 *
 * The bar is drawn only when the stream is a terminal (isatty), so redirected
 * standard error stays clean for logs. It redraws at most 5 times per second on one
 * line with a carriage return, and fs_progress_finish erases that line. Callers that
 * print other messages to the same stream while the bar is shown call
 * fs_progress_clear first, so the message does not share the bar's line.
 */
#ifndef FS_EVAL_PROGRESS_H
#define FS_EVAL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct fs_progress {
    FILE *out;            /* borrowed */
    bool enabled;         /* out is a terminal and the caller did not turn it off */
    const char *label;    /* such as the input file name; borrowed */
    const char *unit;     /* plural item name, such as "frames"; borrowed */
    uint64_t total;       /* 0 when unknown: no bar and no ETA, only the count and rate */
    uint64_t done;
    double start_s;       /* monotonic clock at init, seconds */
    double last_draw_s;   /* when the bar was last drawn; negative before the first draw */
    bool drawn;           /* a bar is on the line now */
} fs_progress;

/* Starts a progress display on out. enable false turns it off (such as for --quiet);
 * it is also off when out is not a terminal. label and unit must outlive the bar. */
void fs_progress_init(fs_progress *progress, FILE *out, bool enable, const char *label,
                      const char *unit, uint64_t total);

/* Records that `done` items are complete and redraws when due. */
void fs_progress_update(fs_progress *progress, uint64_t done);

/* Erases the bar so that other output can be printed; the next update redraws it. */
void fs_progress_clear(fs_progress *progress);

/* Erases the bar for good. */
void fs_progress_finish(fs_progress *progress);

#endif /* FS_EVAL_PROGRESS_H */

/*
 * Results of a batch of pair comparisons (`facesim pairs`, `facesim dirs`, `facesim
 * merge`): the summary of the pair scores and the writers for rows and summary as
 * JSON, CSV and text. Field names and column order are read by scripts and by
 * `facesim merge`: change them together with docs/batch.md.
 */
#ifndef FS_EVAL_REPORT_H
#define FS_EVAL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "eval/stats.h"

/* ---- Summary of pair scores ---- */

typedef struct fs_job_summary {
    size_t rows;             /* rows reported */
    size_t scored;           /* rows with a cosine */
    size_t no_face;          /* rows where an image had no face */
    size_t errors;           /* rows that failed for another reason */
    fs_stats cosine;         /* over the scored rows */
    double threshold;        /* same-person threshold used for the decisions */
    size_t same_person;      /* scored rows with cosine >= threshold */
    bool labelled;           /* every row has a label */
    size_t positives;        /* scored labelled rows, same person */
    size_t negatives;
    double auc;              /* NaN without both classes */
    double accuracy;         /* at threshold */
    double best_threshold;
    double best_accuracy;
    double tar_far[2];       /* target FAR: 1e-2 and 1e-3 */
    bool tar_enough[2];      /* negatives >= 1 / FAR; else tar is not reported */
    fs_tar_at_far tar[2];
} fs_job_summary;

/*
 * Summarises scored rows: scores and labels (NULL when unlabelled) of the scored
 * rows, plus the counts of rows without a face and with other errors. TAR at a FAR
 * is computed only when there are at least 1 / FAR negatives, since fewer cannot
 * resolve that rate.
 */
int fs_job_summarize(const float *scores, const uint8_t *labels, size_t scored,
                     size_t no_face, size_t errors, double threshold, fs_job_summary *summary,
                     fs_error *err);

/* ---- Report rows ---- */

/* One pair's result as reported: a cosine, or the error of the first image that
 * failed. Strings are borrowed. */
typedef struct fs_job_row {
    size_t index;            /* 0-based row number in the whole list, before sharding */
    const char *path_a;      /* as given by the user */
    const char *path_b;
    int label;               /* 1 same person, 0 different, -1 none */
    int status;              /* FACESIM_OK or the failing image's status */
    const char *error;       /* message of the failure, NULL when status is OK */
    float cosine;            /* valid when status is OK */
    bool same_person;        /* cosine >= threshold */
    bool has_box_a;          /* box_a contains the chosen face of image a */
    bool has_box_b;
    float box_a[4];          /* x1, y1, x2, y2 in source pixels */
    float box_b[4];
} fs_job_row;

struct fs_json_writer;
struct fs_csv_writer;

/* Writes a row as a JSON object: index, path_a, path_b, cosine (9 significant digits,
 * so that merging shard outputs reproduces the summary exactly), same_person, label,
 * box_a, box_b, error and error_kind (facesim_status_name, such as "no face"). */
void fs_job_json_row(struct fs_json_writer *json, const fs_job_row *row);

/* Writes the summary as a JSON object; metrics that are undefined are null, and a TAR
 * without enough negative pairs is the string "not enough pairs". */
void fs_job_json_summary(struct fs_json_writer *json, const fs_job_summary *summary);

/* Writes the CSV header row and rows with the same fields as fs_job_json_row, boxes
 * as four columns each. */
void fs_job_csv_header(struct fs_csv_writer *csv);
void fs_job_csv_row(struct fs_csv_writer *csv, const fs_job_row *row);

/* Prints the summary as indented "name: value" lines for people. */
void fs_job_print_summary(FILE *out, const fs_job_summary *summary);

#endif /* FS_EVAL_REPORT_H */

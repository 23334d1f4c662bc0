/*
 * Batch engine behind `facesim pairs` and `facesim dirs`: embeds a set of distinct
 * images with several threads, and summarises the pair scores.
 *
 * Each distinct image is decoded, detected and embedded once, however many pairs
 * it appears in. Workers (fs_job_params.threads, each with its own facesim_context
 * because a context is not thread-safe) take tasks from one queue:
 *   - prepare image i: hash the file (for the cache), look it up, else decode it,
 *     detect, choose a face and align it into a 112x112 crop;
 *   - embed a batch: up to fs_job_params.batch aligned crops in one
 *     facesim_embed_crops call.
 * A worker embeds as soon as a full batch of crops is waiting and prepares images
 * otherwise, so decoding and detection of later images overlap with embedding of
 * earlier ones. Images are prepared in index order, so callers that number images
 * by first use in their rows see rows complete roughly in order.
 *
 * The per-image result matches facesim_embed_image with the same options: same face
 * choice, padding retry and alignment, and the same embedding (batched inference gives
 * the same values up to float rounding).
 */
#ifndef FS_EVAL_JOB_H
#define FS_EVAL_JOB_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "eval/stats.h"
#include "facesim.h"

/* One distinct image and its result. */
typedef struct fs_job_image {
    const char *path;        /* file to open; borrowed from the caller */
    bool done;               /* result below is final */
    int status;              /* FACESIM_OK, or the failure (FACESIM_ERR_NO_FACE, ...) */
    char *error;             /* message of a failure, starting with the path; owned */
    bool from_cache;         /* the result came from the embedding cache */
    facesim_face face;       /* chosen face, in source pixels (zeros with aligned input) */
    int face_count;
    int padded;
    float *embedding;        /* fs_job.dim floats, L2-normalised; NULL unless status OK */
} fs_job_image;

/* Receives progress from fs_job_run on the calling thread, after each finished image;
 * return false to stop the run early, as with the stop flag. */
typedef bool (*fs_job_progress_fn)(void *user_data, size_t images_done, size_t image_count);

typedef struct fs_job_params {
    facesim_params context;            /* model pack and detector settings for every
                                          worker; context.threads is ignored (each worker
                                          runs single-threaded) */
    facesim_embed_options embed;
    int threads;                       /* workers, at least 1 */
    int batch;                         /* crops per facesim_embed_crops call, 1..64 */
    const char *cache_path;            /* embedding cache file, NULL for none */
    volatile sig_atomic_t *stop;       /* set non-zero (by a signal handler) to stop; may
                                          be NULL */
    fs_job_progress_fn progress;       /* may be NULL */
    void *progress_user_data;
} fs_job_params;

/* Fills params with 1 thread, a batch of 8, no cache and facesim's defaults. */
void fs_job_default_params(fs_job_params *params);

typedef struct fs_job {
    fs_job_image *images;    /* owned array, paths borrowed */
    size_t image_count;
    int dim;                 /* embedding length, set by fs_job_run */
    float threshold;         /* the pack's same-person threshold, set by fs_job_run */
    size_t cache_hits;       /* images whose result came from the cache */
    size_t cache_loaded;     /* records in the cache file when the run started */
    bool interrupted;        /* stopped early: some images are not done */
    char *pack_description;  /* facesim_describe_pack of the first worker; owned */
} fs_job;

/* Creates a job for count images; paths are borrowed and must outlive the job. */
int fs_job_init(fs_job *job, const char *const *paths, size_t count, fs_error *err);

/*
 * Runs every image. Per-image failures (missing file, corrupt data, no face) are
 * stored in the image and do not fail the run. Fails with FACESIM_ERR_INVALID_DATA /
 * FACESIM_ERR_IO / FACESIM_ERR_UNSUPPORTED when the model pack cannot be opened (the
 * message is facesim_open's), with the cache's errors when --cache cannot be used,
 * and with FACESIM_ERR_INTERNAL when a thread cannot be started. A stop request
 * returns FACESIM_OK with job->interrupted set.
 */
int fs_job_run(fs_job *job, const fs_job_params *params, fs_error *err);

/* Frees the job's results. Accepts a zeroed job. */
void fs_job_free(fs_job *job);

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

#endif /* FS_EVAL_JOB_H */

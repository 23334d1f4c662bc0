/*
 * Batch engine behind `facesim pairs` and `facesim dirs`: embeds a set of distinct
 * images with several threads. The summary of the pair scores and the row writers
 * are in eval/report.h, which this header includes.
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
#include "eval/report.h"
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

#endif /* FS_EVAL_JOB_H */

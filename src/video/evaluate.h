/*
 * Video evaluation: the face in each sampled frame compared with a reference face and
 * with the other frames, as `facesim video` reports it.
 *
 * Per sampled frame: detect every face, take the largest box (as
 * FACESIM_SELECT_LARGEST and insightface's evaluation scripts do), align it and embed
 * the crops in batches of FS_VIDEO_BATCH with facesim_embed_crops. The rows hold the
 * cosines, not the embeddings, so memory grows by one small row per sampled frame.
 */
#ifndef FS_VIDEO_EVALUATE_H
#define FS_VIDEO_EVALUATE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "facesim.h"
#include "video/video.h"

/* Crops embedded per facesim_embed_crops call. */
#define FS_VIDEO_BATCH 16

/* One sampled frame. Cosines are NaN when they do not exist. */
typedef struct fs_video_row {
    int64_t frame;           /* frame index */
    double time;             /* timestamp, seconds */
    int face_count;          /* faces detected; 0 means "no face" */
    facesim_face face;       /* the largest face when face_count > 0 */
    double cosine;           /* to the reference; NaN without a face or a reference */
    double previous_cosine;  /* to the previous sampled frame, when both have a face */
    double first_cosine;     /* to the first sampled frame with a face; NaN for that frame */
} fs_video_row;

/* Summary over the rows; NaN for statistics of an empty set. */
typedef struct fs_video_summary {
    size_t sampled;            /* rows */
    size_t without_face;
    size_t same_person;        /* rows with cosine >= threshold */
    double mean;               /* of the reference cosines of rows with a face */
    double std;                /* population standard deviation (divides by the count) */
    double min, max;
    double consistency;        /* 1 - std */
    size_t consecutive_pairs;  /* rows with a previous_cosine */
    double consecutive_mean, consecutive_min;
    size_t first_count;        /* rows with a first_cosine */
    double first_mean;
} fs_video_summary;

/* Called after each sampled frame with the number of rows so far. */
typedef void (*fs_video_progress_fn)(void *user_data, size_t rows);

typedef struct fs_video_eval_params {
    const float *reference;      /* reference_rows embeddings of facesim_embedding_size(ctx)
                                    floats, L2-normalised; NULL for no reference. Borrowed
                                    during the call. */
    int reference_rows;          /* 1: cosine to that embedding; more: the highest cosine
                                    over the rows (--ref-mode max) */
    bool clamp_negative;         /* report every negative cosine as 0 */
    fs_video_progress_fn progress; /* may be NULL */
    void *progress_user_data;
    facesim_context **detectors; /* NULL, or detector_count contexts opened on the same pack
                                    (one thread each) that detect and align frames in
                                    parallel, FS_VIDEO_BATCH frames at a time; the main
                                    context then only embeds. Borrowed during the call. */
    int detector_count;
} fs_video_eval_params;

typedef struct fs_video_result {
    fs_video_row *rows;          /* malloc'd, in frame order */
    size_t row_count;
} fs_video_result;

/*
 * Decodes the rest of the video, evaluates every frame the sampler takes and appends
 * the rows to result (which must be zeroed before the first call). Damaged video data
 * is not an error (see fs_video_get_damage) unless no frame of the whole stream could
 * be decoded, which is FACESIM_ERR_INVALID_DATA. Other errors, each naming the file
 * and the frame: those of fs_video_get_pixels, facesim_detect, facesim_align and
 * facesim_embed_crops, and FACESIM_ERR_NO_MEMORY. The rows done before an error stay
 * in result.
 */
int fs_video_evaluate(facesim_context *ctx, fs_video_reader *reader, fs_sampler *sampler,
                      const fs_video_eval_params *params, fs_video_result *result,
                      fs_error *err);

/* Frees the rows. Accepts a zeroed result. */
void fs_video_result_release(fs_video_result *result);

/* Computes the summary of n rows; same_person counts cosine >= threshold. */
void fs_video_summarize(const fs_video_row *rows, size_t n, double threshold,
                        fs_video_summary *summary);

#endif /* FS_VIDEO_EVALUATE_H */

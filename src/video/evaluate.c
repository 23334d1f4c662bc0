#include "video/evaluate.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Faces read per facesim_detect call before retrying with room for all of them. */
#define FS_VIDEO_FACE_CAPACITY 64

/* State of one evaluation. */
typedef struct fs_video_eval {
    facesim_context *ctx;
    const fs_video_eval_params *params;
    const char *path;
    int dim;
    fs_video_result *result;
    size_t row_capacity;
    uint8_t *crops;            /* FS_VIDEO_BATCH aligned crops waiting to be embedded */
    size_t pending_rows[FS_VIDEO_BATCH];
    int pending;
    float *embeddings;         /* FS_VIDEO_BATCH * dim */
    float *previous;           /* embedding of the last embedded row */
    int64_t previous_row;      /* its row number, -1 when none */
    float *first;              /* embedding of the first row with a face */
    bool has_first;
    facesim_face *faces;       /* detection buffer */
    int face_capacity;
} fs_video_eval;

static double fs_video_clamp(const fs_video_eval *eval, double cosine)
{
    return eval->params->clamp_negative && cosine < 0.0 ? 0.0 : cosine;
}

/* Cosine to the reference: to its one row, or the highest over its rows. */
static double fs_video_reference_cosine(const fs_video_eval *eval, const float *embedding)
{
    double best = -INFINITY;
    for (int r = 0; r < eval->params->reference_rows; r++) {
        double cosine = facesim_cosine(embedding, eval->params->reference + (size_t)r * eval->dim,
                                       eval->dim);
        if (cosine > best)
            best = cosine;
    }
    return best;
}

/* Embeds the pending crops and fills in their rows' cosines, in frame order. */
static int fs_video_flush(fs_video_eval *eval, fs_error *err)
{
    if (eval->pending == 0)
        return FACESIM_OK;
    int status = facesim_embed_crops(eval->ctx, eval->crops, eval->pending, eval->embeddings);
    if (status != FACESIM_OK)
        return fs_error_set(err, status, "%s: embedding frames %lld to %lld failed: %s",
                            eval->path,
                            (long long)eval->result->rows[eval->pending_rows[0]].frame,
                            (long long)eval->result->rows[eval->pending_rows[eval->pending - 1]]
                                .frame,
                            facesim_errmsg(eval->ctx));
    for (int i = 0; i < eval->pending; i++) {
        size_t row_number = eval->pending_rows[i];
        fs_video_row *row = &eval->result->rows[row_number];
        const float *embedding = eval->embeddings + (size_t)i * eval->dim;
        if (eval->params->reference)
            row->cosine = fs_video_clamp(eval, fs_video_reference_cosine(eval, embedding));
        /* Consecutive means the previous sampled frame, so the previous row must be the
         * last one embedded. */
        if (eval->previous_row >= 0 && (size_t)eval->previous_row + 1 == row_number)
            row->previous_cosine =
                fs_video_clamp(eval, facesim_cosine(eval->previous, embedding, eval->dim));
        if (eval->has_first) {
            row->first_cosine =
                fs_video_clamp(eval, facesim_cosine(eval->first, embedding, eval->dim));
        } else {
            memcpy(eval->first, embedding, (size_t)eval->dim * sizeof(float));
            eval->has_first = true;
        }
        memcpy(eval->previous, embedding, (size_t)eval->dim * sizeof(float));
        eval->previous_row = (int64_t)row_number;
    }
    eval->pending = 0;
    return FACESIM_OK;
}

static fs_video_row *fs_video_add_row(fs_video_eval *eval, fs_error *err)
{
    fs_video_result *result = eval->result;
    if (result->row_count == eval->row_capacity) {
        size_t capacity = eval->row_capacity ? eval->row_capacity * 2 : 256;
        fs_video_row *rows = realloc(result->rows, capacity * sizeof *rows);
        if (!rows) {
            fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory for %zu frame rows",
                         eval->path, capacity);
            return NULL;
        }
        result->rows = rows;
        eval->row_capacity = capacity;
    }
    fs_video_row *row = &result->rows[result->row_count++];
    *row = (fs_video_row){ .cosine = NAN, .previous_cosine = NAN, .first_cosine = NAN };
    return row;
}

/* Detects every face of the frame into eval->faces, growing it when needed. */
static int fs_video_detect(fs_video_eval *eval, const facesim_image *image, int64_t frame,
                           int *count, fs_error *err)
{
    for (;;) {
        int status = facesim_detect(eval->ctx, image, eval->faces, eval->face_capacity, count);
        if (status != FACESIM_OK)
            return fs_error_set(err, status, "%s: frame %lld: face detection failed: %s",
                                eval->path, (long long)frame, facesim_errmsg(eval->ctx));
        if (*count <= eval->face_capacity)
            return FACESIM_OK;
        facesim_face *faces = realloc(eval->faces, (size_t)*count * sizeof *faces);
        if (!faces)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                "%s: frame %lld: out of memory for %d faces", eval->path,
                                (long long)frame, *count);
        eval->faces = faces;
        eval->face_capacity = *count;
    }
}

/* Returns the index of the face with the largest box area. */
static int fs_video_largest_face(const facesim_face *faces, int count)
{
    int best = 0;
    double best_area = -1.0;
    for (int i = 0; i < count; i++) {
        double area = ((double)faces[i].box[2] - faces[i].box[0]) *
                      ((double)faces[i].box[3] - faces[i].box[1]);
        if (area > best_area) {
            best_area = area;
            best = i;
        }
    }
    return best;
}

/* Detects, selects and aligns the face of one sampled frame and queues its crop. */
static int fs_video_process_frame(fs_video_eval *eval, const fs_video_frame *frame,
                                  const fs_image *pixels, fs_error *err)
{
    fs_video_row *row = fs_video_add_row(eval, err);
    if (!row)
        return FACESIM_ERR_NO_MEMORY;
    row->frame = frame->index;
    row->time = frame->timestamp;

    facesim_image *image = NULL;
    int status = facesim_image_from_rgb(pixels->pixels, pixels->width, pixels->height,
                                        pixels->width * 3, &image);
    if (status != FACESIM_OK)
        return fs_error_set(err, status, "%s: frame %lld: %s", eval->path,
                            (long long)frame->index, facesim_last_error());
    int count = 0;
    status = fs_video_detect(eval, image, frame->index, &count, err);
    if (status == FACESIM_OK && count > 0) {
        row->face_count = count;
        row->face = eval->faces[fs_video_largest_face(eval->faces, count)];
        uint8_t *crop = eval->crops + (size_t)eval->pending * FACESIM_ALIGNED_SIZE *
                                          FACESIM_ALIGNED_SIZE * 3;
        status = facesim_align(eval->ctx, image, &row->face, crop);
        if (status != FACESIM_OK)
            fs_error_set(err, status, "%s: frame %lld: aligning the face failed: %s",
                         eval->path, (long long)frame->index, facesim_errmsg(eval->ctx));
        else
            eval->pending_rows[eval->pending++] = eval->result->row_count - 1;
    }
    facesim_image_free(image);
    if (status != FACESIM_OK)
        return status;
    return eval->pending == FS_VIDEO_BATCH ? fs_video_flush(eval, err) : FACESIM_OK;
}

/* ---- parallel detection ----
 * With detector contexts, the main thread decodes up to FS_VIDEO_BATCH sampled frames,
 * copies their pixels, and the detector threads detect and align them at the same time
 * (frame i on detector i % count). The rows are then added in frame order and the crops
 * embedded on the main context, so the results equal the serial path's. */

/* One sampled frame waiting for detection, and what detection found. */
typedef struct fs_video_slot {
    fs_video_frame frame;
    fs_image pixels;           /* copy of the decoded frame */
    int status;
    char message[512];         /* the error when status is not FACESIM_OK */
    int face_count;
    facesim_face face;         /* the largest face */
    uint8_t crop[FACESIM_ALIGNED_SIZE * FACESIM_ALIGNED_SIZE * 3];
} fs_video_slot;

typedef struct fs_video_detector_job {
    facesim_context *ctx;
    fs_video_slot *slots;
    int first;                 /* slots first, first + step, ... below count */
    int step;
    int count;
    const char *path;
} fs_video_detector_job;

static void fs_video_detect_slot(facesim_context *ctx, fs_video_slot *slot, const char *path)
{
    facesim_face faces[FS_VIDEO_FACE_CAPACITY];
    facesim_image *image = NULL;
    slot->face_count = 0;
    slot->status = facesim_image_from_rgb(slot->pixels.pixels, slot->pixels.width,
                                          slot->pixels.height, slot->pixels.width * 3, &image);
    if (slot->status != FACESIM_OK) {
        snprintf(slot->message, sizeof slot->message, "%s: frame %lld: %s", path,
                 (long long)slot->frame.index, facesim_last_error());
        return;
    }
    int count = 0;
    slot->status = facesim_detect(ctx, image, faces, FS_VIDEO_FACE_CAPACITY, &count);
    if (slot->status != FACESIM_OK) {
        snprintf(slot->message, sizeof slot->message, "%s: frame %lld: face detection failed: %s",
                 path, (long long)slot->frame.index, facesim_errmsg(ctx));
    } else if (count > 0) {
        /* NOTE: unlike the serial path, which grows its buffer, this path picks the
         * largest of the FS_VIDEO_FACE_CAPACITY highest-scoring faces only. */
        int stored = count < FS_VIDEO_FACE_CAPACITY ? count : FS_VIDEO_FACE_CAPACITY;
        slot->face_count = count;
        slot->face = faces[fs_video_largest_face(faces, stored)];
        slot->status = facesim_align(ctx, image, &slot->face, slot->crop);
        if (slot->status != FACESIM_OK)
            snprintf(slot->message, sizeof slot->message,
                     "%s: frame %lld: aligning the face failed: %s", path,
                     (long long)slot->frame.index, facesim_errmsg(ctx));
    }
    facesim_image_free(image);
}

static void *fs_video_detector_main(void *argument)
{
    fs_video_detector_job *job = argument;
    for (int i = job->first; i < job->count; i += job->step)
        fs_video_detect_slot(job->ctx, &job->slots[i], job->path);
    return NULL;
}

/* Detects the filled slots in parallel, then adds their rows and queues their crops. */
static int fs_video_process_slots(fs_video_eval *eval, fs_video_slot *slots, int count,
                                  fs_error *err)
{
    int detectors = eval->params->detector_count;
    fs_video_detector_job jobs[detectors];
    pthread_t threads[detectors];
    bool started[detectors];
    for (int d = 0; d < detectors; d++) {
        jobs[d] = (fs_video_detector_job){ eval->params->detectors[d], slots, d, detectors,
                                           count, eval->path };
        started[d] = d > 0 && pthread_create(&threads[d], NULL, fs_video_detector_main,
                                             &jobs[d]) == 0;
    }
    /* The calling thread runs detector 0, and any detector whose thread did not start. */
    for (int d = 0; d < detectors; d++)
        if (!started[d])
            fs_video_detector_main(&jobs[d]);
    for (int d = 1; d < detectors; d++)
        if (started[d])
            pthread_join(threads[d], NULL);

    for (int i = 0; i < count; i++) {
        fs_video_slot *slot = &slots[i];
        fs_video_row *row = fs_video_add_row(eval, err);
        if (!row)
            return FACESIM_ERR_NO_MEMORY;
        row->frame = slot->frame.index;
        row->time = slot->frame.timestamp;
        if (slot->status != FACESIM_OK)
            return fs_error_set(err, slot->status, "%s", slot->message);
        if (slot->face_count == 0)
            continue;
        row->face_count = slot->face_count;
        row->face = slot->face;
        memcpy(eval->crops + (size_t)eval->pending * sizeof slot->crop, slot->crop,
               sizeof slot->crop);
        eval->pending_rows[eval->pending++] = eval->result->row_count - 1;
        if (eval->pending == FS_VIDEO_BATCH) {
            int status = fs_video_flush(eval, err);
            if (status != FACESIM_OK)
                return status;
        }
    }
    return FACESIM_OK;
}

/* Copies a decoded frame into a slot, reusing the slot's buffer when the size matches. */
static int fs_video_fill_slot(fs_video_slot *slot, const fs_video_frame *frame,
                              const fs_image *pixels, const char *path, fs_error *err)
{
    slot->frame = *frame;
    if (slot->pixels.width != pixels->width || slot->pixels.height != pixels->height) {
        fs_image_release(&slot->pixels);
        int status = fs_image_alloc(&slot->pixels, pixels->width, pixels->height, err);
        if (status != FACESIM_OK)
            return fs_error_prefix(err, "%s: frame %lld", path, (long long)frame->index);
    }
    memcpy(slot->pixels.pixels, pixels->pixels, (size_t)pixels->width * pixels->height * 3);
    return FACESIM_OK;
}

static void fs_video_eval_free(fs_video_eval *eval)
{
    free(eval->crops);
    free(eval->embeddings);
    free(eval->previous);
    free(eval->first);
    free(eval->faces);
}

int fs_video_evaluate(facesim_context *ctx, fs_video_reader *reader, fs_sampler *sampler,
                      const fs_video_eval_params *params, fs_video_result *result,
                      fs_error *err)
{
    const char *path = fs_video_get_info(reader)->path;
    if (params->reference && params->reference_rows < 1)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "%s: a reference needs at least one embedding row", path);
    fs_video_eval eval = {
        .ctx = ctx,
        .params = params,
        .path = path,
        .dim = facesim_embedding_size(ctx),
        .result = result,
        .row_capacity = result->row_count,
        .previous_row = -1,
        .face_capacity = FS_VIDEO_FACE_CAPACITY,
    };
    size_t dim = (size_t)eval.dim;
    eval.crops = malloc((size_t)FS_VIDEO_BATCH * FACESIM_ALIGNED_SIZE * FACESIM_ALIGNED_SIZE * 3);
    eval.embeddings = malloc(FS_VIDEO_BATCH * dim * sizeof(float));
    eval.previous = malloc(dim * sizeof(float));
    eval.first = malloc(dim * sizeof(float));
    eval.faces = malloc(FS_VIDEO_FACE_CAPACITY * sizeof *eval.faces);
    if (!eval.crops || !eval.embeddings || !eval.previous || !eval.first || !eval.faces) {
        fs_video_eval_free(&eval);
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                            "%s: out of memory for the embedding batch", path);
    }

    fs_video_slot *slots = NULL;
    if (params->detectors && params->detector_count > 0) {
        slots = calloc(FS_VIDEO_BATCH, sizeof *slots);
        if (!slots) {
            fs_video_eval_free(&eval);
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                "%s: out of memory for the detection batch", path);
        }
    }

    int status = FACESIM_OK;
    int filled = 0;
    for (;;) {
        fs_video_frame frame;
        bool got = false;
        status = fs_video_read(reader, &frame, &got, err);
        if (status != FACESIM_OK || !got)
            break;
        if (!fs_sampler_take(sampler, frame.index, frame.timestamp))
            continue;
        const fs_image *pixels = NULL;
        status = fs_video_get_pixels(reader, &pixels, err);
        if (status == FACESIM_OK && slots) {
            status = fs_video_fill_slot(&slots[filled], &frame, pixels, path, err);
            if (status == FACESIM_OK && ++filled == FS_VIDEO_BATCH) {
                status = fs_video_process_slots(&eval, slots, filled, err);
                filled = 0;
            }
        } else if (status == FACESIM_OK) {
            status = fs_video_process_frame(&eval, &frame, pixels, err);
        }
        if (status != FACESIM_OK)
            break;
        if (params->progress && filled == 0)
            params->progress(params->progress_user_data, result->row_count);
    }
    if (status == FACESIM_OK && slots && filled > 0) {
        status = fs_video_process_slots(&eval, slots, filled, err);
        if (params->progress)
            params->progress(params->progress_user_data, result->row_count);
    }
    if (slots) {
        for (int i = 0; i < FS_VIDEO_BATCH; i++)
            fs_image_release(&slots[i].pixels);
        free(slots);
    }
    if (status == FACESIM_OK)
        status = fs_video_flush(&eval, err);
    fs_video_eval_free(&eval);

    /* Damage after the first frame leaves usable results, but a stream without a
     * single decodable frame has nothing to evaluate. */
    if (status == FACESIM_OK && fs_video_frames_read(reader) == 0) {
        const fs_video_damage *damage = fs_video_get_damage(reader);
        status = fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                              "%s: no video frame could be decoded%s%s%s", path,
                              damage->last_message[0] ? " (FFmpeg: " : "",
                              damage->last_message, damage->last_message[0] ? ")" : "");
    }
    return status;
}

void fs_video_result_release(fs_video_result *result)
{
    free(result->rows);
    result->rows = NULL;
    result->row_count = 0;
}

void fs_video_summarize(const fs_video_row *rows, size_t n, double threshold,
                        fs_video_summary *summary)
{
    *summary = (fs_video_summary){ .sampled = n };
    double sum = 0.0, min = INFINITY, max = -INFINITY;
    double consecutive_sum = 0.0, consecutive_min = INFINITY, first_sum = 0.0;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        const fs_video_row *row = &rows[i];
        if (row->face_count == 0)
            summary->without_face++;
        if (!isnan(row->cosine)) {
            count++;
            sum += row->cosine;
            min = fmin(min, row->cosine);
            max = fmax(max, row->cosine);
            if (row->cosine >= threshold)
                summary->same_person++;
        }
        if (!isnan(row->previous_cosine)) {
            summary->consecutive_pairs++;
            consecutive_sum += row->previous_cosine;
            consecutive_min = fmin(consecutive_min, row->previous_cosine);
        }
        if (!isnan(row->first_cosine)) {
            summary->first_count++;
            first_sum += row->first_cosine;
        }
    }
    summary->mean = count ? sum / (double)count : NAN;

    /* The standard deviation in a second pass around the mean, which stays accurate
     * when the cosines are close together. */
    double squares = 0.0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(rows[i].cosine))
            squares += (rows[i].cosine - summary->mean) * (rows[i].cosine - summary->mean);
    summary->std = count ? sqrt(squares / (double)count) : NAN;
    summary->min = count ? min : NAN;
    summary->max = count ? max : NAN;
    summary->consistency = 1.0 - summary->std;
    size_t pairs = summary->consecutive_pairs;
    summary->consecutive_mean = pairs ? consecutive_sum / (double)pairs : NAN;
    summary->consecutive_min = pairs ? consecutive_min : NAN;
    summary->first_mean = summary->first_count ? first_sum / (double)summary->first_count
                                               : NAN;
}

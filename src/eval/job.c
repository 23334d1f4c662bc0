#include "eval/job.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/checked.h"
#include "eval/cache.h"
#include "face/face.h"

#define JOB_CROP_BYTES ((size_t)FACESIM_ALIGNED_SIZE * FACESIM_ALIGNED_SIZE * 3)
#define JOB_MAX_THREADS 256
#define JOB_MAX_BATCH 64
/* Faces read per detection before the buffer grows to the count found. */
#define JOB_FACES_FIRST 32
/* pad_retry border, as facesim_embed_image pads: 25% of each side, grey 127. */
#define JOB_PAD_FRACTION 0.25
#define JOB_PAD_VALUE 127

/* An aligned crop waiting to be embedded. */
typedef struct job_crop {
    size_t image;
    uint8_t pixels[JOB_CROP_BYTES];
} job_crop;

typedef struct job_shared job_shared;

typedef struct job_worker {
    job_shared *shared;
    facesim_context *ctx;    /* owned; opened by the worker's own thread except worker 0 */
    pthread_t thread;
    bool started;
    int open_status;
    char open_error[FS_ERROR_MESSAGE_MAX];
    uint8_t *batch_pixels;   /* batch * JOB_CROP_BYTES */
    float *batch_embeddings; /* batch * dim */
    size_t batch_images[JOB_MAX_BATCH];
    facesim_face *faces;     /* detection buffer */
    int face_capacity;
} job_worker;

struct job_shared {
    fs_job *job;
    const fs_job_params *params;
    pthread_mutex_t lock;
    pthread_cond_t changed;  /* a task finished or a crop is waiting */
    size_t next_image;       /* next image to prepare */
    size_t preparing;        /* images being prepared now */
    job_crop **crops;        /* waiting crops, FIFO */
    size_t crop_count;
    size_t crop_capacity;
    bool *finished;          /* per image: a worker stored its final result */
    size_t finished_count;
    bool stop;
    fs_cache *cache;
    uint8_t context_digest[FS_SHA256_SIZE];
    uint8_t (*keys)[FS_SHA256_SIZE]; /* per image: cache key, valid when has_key */
    bool *has_key;
    int fatal_status;        /* first error that is not about one image */
    char fatal_error[FS_ERROR_MESSAGE_MAX];
};

void fs_job_default_params(fs_job_params *params)
{
    memset(params, 0, sizeof *params);
    facesim_default_params(&params->context);
    facesim_default_embed_options(&params->embed);
    params->threads = 1;
    params->batch = 8;
}

int fs_job_init(fs_job *job, const char *const *paths, size_t count, fs_error *err)
{
    memset(job, 0, sizeof *job);
    if (count == 0)
        return FACESIM_OK;
    job->images = calloc(count, sizeof *job->images);
    if (!job->images)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory for %zu images", count);
    job->image_count = count;
    for (size_t i = 0; i < count; i++)
        job->images[i].path = paths[i];
    return FACESIM_OK;
}

void fs_job_free(fs_job *job)
{
    if (!job)
        return;
    for (size_t i = 0; i < job->image_count; i++) {
        free(job->images[i].error);
        free(job->images[i].embedding);
    }
    free(job->images);
    free(job->pack_description);
    memset(job, 0, sizeof *job);
}

/* ---- Cache key ---- */

static int job_compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Hashes the name and content of every .onnx file in dir, in name order. */
static int job_hash_models(const char *dir, fs_sha256 *sha, fs_error *err)
{
    DIR *folder = opendir(dir);
    if (!folder)
        return fs_error_set(err, FACESIM_ERR_IO, "%s: cannot list the model directory: %s",
                            dir, strerror(errno));
    char **names = NULL;
    size_t count = 0, capacity = 0;
    int status = FACESIM_OK;
    struct dirent *entry;
    while ((entry = readdir(folder)) != NULL && status == FACESIM_OK) {
        size_t length = strlen(entry->d_name);
        if (length < 5 || strcmp(entry->d_name + length - 5, ".onnx") != 0)
            continue;
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 8;
            char **grown = realloc(names, capacity * sizeof *names);
            if (!grown) {
                status = fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory listing %s", dir);
                break;
            }
            names = grown;
        }
        names[count] = strdup(entry->d_name);
        if (!names[count])
            status = fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory listing %s", dir);
        else
            count++;
    }
    closedir(folder);
    if (status == FACESIM_OK)
        qsort(names, count, sizeof *names, job_compare_names);
    for (size_t i = 0; i < count && status == FACESIM_OK; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        uint8_t digest[FS_SHA256_SIZE];
        status = fs_sha256_file(path, digest, err);
        fs_sha256_update(sha, names[i], strlen(names[i]) + 1);
        fs_sha256_update(sha, digest, sizeof digest);
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return status;
}

/* Digest of everything besides the image bytes that decides an image's result. */
static int job_context_digest(const fs_job_params *params, uint8_t digest[FS_SHA256_SIZE],
                              fs_error *err)
{
    fs_sha256 sha;
    fs_sha256_init(&sha);
    const char *dir = params->context.model_dir ? params->context.model_dir : "models/default";
    int status = job_hash_models(dir, &sha, err);
    if (status != FACESIM_OK)
        return status;
    char settings[512];
    int length = snprintf(settings, sizeof settings,
                          "facesim %s; det_size %d; det_threshold %.9g; nms_threshold %.9g; "
                          "select %d; index %d; pad_retry %d; aligned_input %d; "
                          "accept_damaged %d",
                          facesim_version(), params->context.det_size,
                          params->context.det_threshold, params->context.nms_threshold,
                          (int)params->embed.select, params->embed.index, params->embed.pad_retry,
                          params->embed.aligned_input, params->context.accept_damaged);
    fs_sha256_update(&sha, settings, (size_t)length);
    fs_sha256_final(&sha, digest);
    return FACESIM_OK;
}

/* ---- Per-image work ---- */

/* Stores a failure in image, which only the calling worker writes until it is finished. */
static void job_set_image_error(fs_job_image *image, int status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void job_set_image_error(fs_job_image *image, int status, const char *format, ...)
{
    char message[FS_ERROR_MESSAGE_MAX + 256];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    free(image->error);
    image->error = strdup(message);
    image->status = status;
}

/* Marks image i finished and wakes the waiting threads. Lock held. */
static void job_finish_image(job_shared *shared, size_t i)
{
    shared->finished[i] = true;
    shared->finished_count++;
    pthread_cond_broadcast(&shared->changed);
}

/* Same choice as facesim_embed_image: see facesim_select. */
static int job_select_face(const facesim_face *faces, int count, int width, int height,
                           const facesim_embed_options *options)
{
    int best = 0;
    if (options->select == FACESIM_SELECT_LARGEST) {
        float best_area = -1.0f;
        for (int i = 0; i < count; i++) {
            float area = (faces[i].box[2] - faces[i].box[0]) * (faces[i].box[3] - faces[i].box[1]);
            if (area > best_area) {
                best_area = area;
                best = i;
            }
        }
    } else if (options->select == FACESIM_SELECT_CENTER) {
        double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0;
        double best_distance = INFINITY;
        for (int i = 0; i < count; i++) {
            double fx = (faces[i].box[0] + faces[i].box[2]) / 2.0 - cx;
            double fy = (faces[i].box[1] + faces[i].box[3]) / 2.0 - cy;
            double distance = fx * fx + fy * fy;
            if (distance < best_distance) {
                best_distance = distance;
                best = i;
            }
        }
    } else if (options->select == FACESIM_SELECT_INDEX) {
        best = options->index < count ? options->index : -1;
    }
    return best;
}

/* Detects every face into worker->faces. */
static int job_detect(job_worker *worker, const facesim_image *image, int *count)
{
    int status = facesim_detect(worker->ctx, image, worker->faces, worker->face_capacity, count);
    if (status != FACESIM_OK || *count <= worker->face_capacity)
        return status;
    facesim_face *grown = realloc(worker->faces, (size_t)*count * sizeof *grown);
    if (!grown)
        return FACESIM_ERR_NO_MEMORY;
    worker->faces = grown;
    worker->face_capacity = *count;
    return facesim_detect(worker->ctx, image, worker->faces, worker->face_capacity, count);
}

/* Copies image onto a grey canvas 25% larger on every side. */
static int job_pad_image(const facesim_image *image, facesim_image **padded, int *left, int *top)
{
    int width = facesim_image_width(image), height = facesim_image_height(image);
    *left = (int)lround(width * JOB_PAD_FRACTION);
    *top = (int)lround(height * JOB_PAD_FRACTION);
    size_t padded_width = (size_t)width + 2 * (size_t)*left;
    size_t padded_height = (size_t)height + 2 * (size_t)*top;
    size_t stride, bytes;
    if (padded_width > INT32_MAX || padded_height > INT32_MAX ||
        !fs_mul_size(padded_width, 3, &stride) || !fs_mul_size(stride, padded_height, &bytes))
        return FACESIM_ERR_LIMIT;
    uint8_t *pixels = malloc(bytes);
    if (!pixels)
        return FACESIM_ERR_NO_MEMORY;
    memset(pixels, JOB_PAD_VALUE, bytes);
    const uint8_t *source = facesim_image_pixels(image);
    for (int y = 0; y < height; y++)
        memcpy(pixels + ((size_t)y + (size_t)*top) * stride + (size_t)*left * 3,
               source + (size_t)y * width * 3, (size_t)width * 3);
    int status = facesim_image_from_rgb(pixels, (int)padded_width, (int)padded_height,
                                        (int)stride, padded);
    free(pixels);
    return status;
}

/*
 * Decodes, detects, selects and aligns the image of result into crop. Returns FACESIM_OK with the
 * crop filled, or the image's failure, already stored in result (which is private to
 * this worker until the image is marked finished).
 */
static int job_prepare_image(job_worker *worker, fs_job_image *result, uint8_t *crop)
{
    const fs_job_params *params = worker->shared->params;
    facesim_image *image = NULL;
    int status = facesim_image_load(worker->ctx, result->path, &image);
    if (status != FACESIM_OK) {
        job_set_image_error(result, status, "%s", facesim_errmsg(worker->ctx));
        return status;
    }
    int width = facesim_image_width(image), height = facesim_image_height(image);

    if (params->embed.aligned_input) {
        if (width != FACESIM_ALIGNED_SIZE || height != FACESIM_ALIGNED_SIZE) {
            status = FACESIM_ERR_INVALID_ARGUMENT;
            job_set_image_error(result, status,
                                "%s: aligned input must be a %dx%d ArcFace crop, this image is "
                                "%dx%d; drop --aligned to detect and align the face",
                                result->path, FACESIM_ALIGNED_SIZE, FACESIM_ALIGNED_SIZE, width,
                                height);
        } else {
            memcpy(crop, facesim_image_pixels(image), JOB_CROP_BYTES);
        }
        facesim_image_free(image);
        return status;
    }

    int count = 0;
    status = job_detect(worker, image, &count);
    facesim_image *padded = NULL;
    int left = 0, top = 0;
    if (status == FACESIM_OK && count == 0 && params->embed.pad_retry) {
        status = job_pad_image(image, &padded, &left, &top);
        if (status == FACESIM_OK)
            status = job_detect(worker, padded, &count);
        result->padded = status == FACESIM_OK && count > 0;
    }
    if (status != FACESIM_OK) {
        job_set_image_error(result, status, "%s: detection failed: %s", result->path,
                            facesim_errmsg(worker->ctx));
    } else if (count == 0) {
        status = FACESIM_ERR_NO_FACE;
        job_set_image_error(result, status, "%s: no face found in the %dx%d image%s",
                            result->path, width, height,
                            params->embed.pad_retry ? ", also after padding"
                                                    : "; for a tightly cropped face try "
                                                      "--pad-retry");
    }

    int chosen = status == FACESIM_OK
                     ? job_select_face(worker->faces, count, width, height, &params->embed)
                     : 0;
    if (status == FACESIM_OK && chosen < 0) {
        status = FACESIM_ERR_INVALID_ARGUMENT;
        job_set_image_error(result, status, "%s: face index %d requested but %d face%s found",
                            result->path, params->embed.index, count,
                            count == 1 ? " was" : "s were");
    }
    if (status == FACESIM_OK) {
        facesim_face face = worker->faces[chosen];
        status = facesim_align(worker->ctx, padded ? padded : image, &face, crop);
        if (status != FACESIM_OK)
            job_set_image_error(result, status, "%s: alignment failed: %s", result->path,
                                facesim_errmsg(worker->ctx));
        /* Landmarks found on the padded canvas go back to source pixels. */
        if (padded) {
            for (int k = 0; k < 4; k++)
                face.box[k] -= (float)(k % 2 == 0 ? left : top);
            for (int k = 0; k < 10; k++)
                face.landmarks[k] -= (float)(k % 2 == 0 ? left : top);
            fs_face_set_flags(&face, width, height);
        }
        result->face = face;
        result->face_count = count;
    }
    facesim_image_free(padded);
    facesim_image_free(image);
    return status;
}

/* Cache key of image i: SHA-256 of the context digest and the file's digest. */
static int job_cache_key(job_shared *shared, const char *path, uint8_t key[FS_SHA256_SIZE],
                         fs_error *err)
{
    uint8_t file_digest[FS_SHA256_SIZE];
    int status = fs_sha256_file(path, file_digest, err);
    if (status != FACESIM_OK)
        return status;
    fs_sha256 sha;
    fs_sha256_init(&sha);
    fs_sha256_update(&sha, shared->context_digest, FS_SHA256_SIZE);
    fs_sha256_update(&sha, file_digest, FS_SHA256_SIZE);
    fs_sha256_final(&sha, key);
    return FACESIM_OK;
}

/* Prepares image i; called without the lock. */
static void job_run_prepare(job_worker *worker, size_t i)
{
    job_shared *shared = worker->shared;
    fs_job_image *result = &shared->job->images[i];

    if (shared->cache) {
        fs_error err;
        fs_error_clear(&err);
        /* A file that cannot be hashed is left to the decoder, which reports it. Only
         * this worker touches keys[i] until the image is finished. */
        shared->has_key[i] = job_cache_key(shared, result->path, shared->keys[i], &err) ==
                             FACESIM_OK;
        if (shared->has_key[i]) {
            fs_cache_record record;
            pthread_mutex_lock(&shared->lock);
            if (fs_cache_lookup(shared->cache, shared->keys[i], &record)) {
                result->embedding = malloc((size_t)shared->job->dim * sizeof(float));
                if (result->embedding) {
                    memcpy(result->embedding, record.embedding,
                           (size_t)shared->job->dim * sizeof(float));
                    result->status = FACESIM_OK;
                    result->face = record.face;
                    result->face_count = record.face_count;
                    result->padded = record.padded;
                    result->from_cache = true;
                    shared->job->cache_hits++;
                    shared->preparing--;
                    job_finish_image(shared, i);
                    pthread_mutex_unlock(&shared->lock);
                    return;
                }
            }
            pthread_mutex_unlock(&shared->lock);
        }
    }

    job_crop *crop = malloc(sizeof *crop);
    int status = FACESIM_ERR_NO_MEMORY;
    if (crop) {
        crop->image = i;
        status = job_prepare_image(worker, result, crop->pixels);
    } else {
        job_set_image_error(result, status, "%s: out of memory for the aligned crop",
                            result->path);
    }

    pthread_mutex_lock(&shared->lock);
    shared->preparing--;
    if (status == FACESIM_OK && shared->crop_count == shared->crop_capacity) {
        size_t capacity = shared->crop_capacity ? shared->crop_capacity * 2 : 64;
        job_crop **grown = realloc(shared->crops, capacity * sizeof *grown);
        if (grown) {
            shared->crops = grown;
            shared->crop_capacity = capacity;
        } else {
            status = FACESIM_ERR_NO_MEMORY;
            job_set_image_error(result, status, "%s: out of memory queueing the crop",
                                result->path);
        }
    }
    if (status == FACESIM_OK) {
        shared->crops[shared->crop_count++] = crop;
        pthread_cond_broadcast(&shared->changed);
    } else {
        free(crop);
        job_finish_image(shared, i);
    }
    pthread_mutex_unlock(&shared->lock);
}

/* Embeds the crops taken from the queue (n of them, already copied). Called without
 * the lock; stores results and cache records with it. */
static void job_run_embed(job_worker *worker, int n)
{
    job_shared *shared = worker->shared;
    fs_job *job = shared->job;
    int status = facesim_embed_crops(worker->ctx, worker->batch_pixels, n,
                                     worker->batch_embeddings);
    const char *message = status == FACESIM_OK ? "" : facesim_errmsg(worker->ctx);

    pthread_mutex_lock(&shared->lock);
    for (int b = 0; b < n; b++) {
        size_t i = worker->batch_images[b];
        fs_job_image *result = &job->images[i];
        const float *embedding = worker->batch_embeddings + (size_t)b * (size_t)job->dim;
        if (status == FACESIM_OK)
            result->embedding = malloc((size_t)job->dim * sizeof(float));
        if (status != FACESIM_OK) {
            job_set_image_error(result, status, "%s: embedding failed: %s", result->path,
                                message);
        } else if (!result->embedding) {
            job_set_image_error(result, FACESIM_ERR_NO_MEMORY,
                                "%s: out of memory storing the embedding", result->path);
        } else {
            memcpy(result->embedding, embedding, (size_t)job->dim * sizeof(float));
            result->status = FACESIM_OK;
        }
        if (shared->cache && shared->has_key[i] && result->status == FACESIM_OK) {
            fs_cache_record record = {.face = result->face,
                                      .face_count = result->face_count,
                                      .padded = result->padded,
                                      .embedding = result->embedding};
            memcpy(record.key, shared->keys[i], FS_SHA256_SIZE);
            fs_error err;
            fs_error_clear(&err);
            int cache_status = fs_cache_append(shared->cache, &record, &err);
            if (cache_status != FACESIM_OK && shared->fatal_status == FACESIM_OK) {
                shared->fatal_status = cache_status;
                snprintf(shared->fatal_error, sizeof shared->fatal_error, "%s", err.message);
                shared->stop = true;
            }
        }
        job_finish_image(shared, i);
    }
    pthread_mutex_unlock(&shared->lock);
}

/* Moves up to batch crops from the queue into the worker's batch buffer. Lock held. */
static int job_take_batch(job_worker *worker)
{
    job_shared *shared = worker->shared;
    size_t n = shared->crop_count;
    if (n > (size_t)shared->params->batch)
        n = (size_t)shared->params->batch;
    for (size_t b = 0; b < n; b++) {
        job_crop *crop = shared->crops[b];
        worker->batch_images[b] = crop->image;
        memcpy(worker->batch_pixels + b * JOB_CROP_BYTES, crop->pixels, JOB_CROP_BYTES);
        free(crop);
    }
    memmove(shared->crops, shared->crops + n, (shared->crop_count - n) * sizeof *shared->crops);
    shared->crop_count -= n;
    return (int)n;
}

/* Takes tasks until every image is finished or a stop is requested. */
static void job_work(job_worker *worker)
{
    job_shared *shared = worker->shared;
    size_t count = shared->job->image_count;
    size_t batch = (size_t)shared->params->batch;
    pthread_mutex_lock(&shared->lock);
    for (;;) {
        if (shared->stop)
            break;
        bool all_claimed = shared->next_image >= count;
        if (shared->crop_count >= batch || (all_claimed && shared->crop_count > 0)) {
            int n = job_take_batch(worker);
            pthread_mutex_unlock(&shared->lock);
            job_run_embed(worker, n);
            pthread_mutex_lock(&shared->lock);
        } else if (!all_claimed) {
            size_t i = shared->next_image++;
            shared->preparing++;
            pthread_mutex_unlock(&shared->lock);
            job_run_prepare(worker, i);
            pthread_mutex_lock(&shared->lock);
        } else if (shared->preparing > 0) {
            pthread_cond_wait(&shared->changed, &shared->lock);
        } else {
            break;
        }
    }
    pthread_cond_broadcast(&shared->changed);
    pthread_mutex_unlock(&shared->lock);
}

static int job_open_context(job_worker *worker)
{
    facesim_params params = worker->shared->params->context;
    params.threads = 1;
    worker->open_status = facesim_open(&params, &worker->ctx);
    if (worker->open_status != FACESIM_OK)
        snprintf(worker->open_error, sizeof worker->open_error, "%s", facesim_last_error());
    return worker->open_status;
}

static void *job_worker_main(void *argument)
{
    job_worker *worker = argument;
    /* OpenMP's thread count is per thread; facesim_open set it only on this thread
     * when this worker opened its own context. */
    omp_set_num_threads(1);
    if (!worker->ctx && job_open_context(worker) != FACESIM_OK) {
        job_shared *shared = worker->shared;
        pthread_mutex_lock(&shared->lock);
        if (shared->fatal_status == FACESIM_OK) {
            shared->fatal_status = worker->open_status;
            snprintf(shared->fatal_error, sizeof shared->fatal_error, "%s", worker->open_error);
        }
        shared->stop = true;
        pthread_cond_broadcast(&shared->changed);
        pthread_mutex_unlock(&shared->lock);
        return NULL;
    }
    job_work(worker);
    return NULL;
}

static int job_alloc_worker(job_worker *worker, job_shared *shared, int dim, fs_error *err)
{
    worker->shared = shared;
    worker->batch_pixels = malloc((size_t)shared->params->batch * JOB_CROP_BYTES);
    worker->batch_embeddings = malloc((size_t)shared->params->batch * (size_t)dim * sizeof(float));
    worker->faces = malloc(JOB_FACES_FIRST * sizeof *worker->faces);
    worker->face_capacity = JOB_FACES_FIRST;
    if (!worker->batch_pixels || !worker->batch_embeddings || !worker->faces)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory for a worker's buffers");
    return FACESIM_OK;
}

static void job_free_worker(job_worker *worker)
{
    facesim_close(worker->ctx);
    free(worker->batch_pixels);
    free(worker->batch_embeddings);
    free(worker->faces);
}

/* Marks images finished by workers as done, in the job the caller reads. Returns the
 * number done. Lock held. */
static size_t job_publish(job_shared *shared)
{
    for (size_t i = 0; i < shared->job->image_count; i++)
        shared->job->images[i].done = shared->finished[i];
    return shared->finished_count;
}

static bool job_stop_requested(const fs_job_params *params)
{
    return params->stop && *params->stop;
}

/* Waits for the workers, reporting progress and passing on stop requests. */
static void job_supervise(job_shared *shared)
{
    const fs_job_params *params = shared->params;
    size_t reported = (size_t)-1;
    pthread_mutex_lock(&shared->lock);
    for (;;) {
        size_t done = job_publish(shared);
        bool finished = done == shared->job->image_count;
        bool stopping = shared->stop;
        pthread_mutex_unlock(&shared->lock);

        bool keep_going = true;
        if (params->progress && done != reported)
            keep_going = params->progress(params->progress_user_data, done,
                                          shared->job->image_count);
        reported = done;

        pthread_mutex_lock(&shared->lock);
        if (!keep_going || job_stop_requested(params)) {
            shared->stop = true;
            pthread_cond_broadcast(&shared->changed);
        }
        if (finished || stopping)
            break;
        /* Wake at least every 100 ms to notice a stop request set by a signal handler. */
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += 100 * 1000 * 1000;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        if (shared->finished_count == done && !shared->stop)
            pthread_cond_timedwait(&shared->changed, &shared->lock, &deadline);
    }
    pthread_mutex_unlock(&shared->lock);
}

static int job_check_params(const fs_job_params *params, fs_error *err)
{
    if (params->threads < 1 || params->threads > JOB_MAX_THREADS)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "batch threads is %d; use 1 to %d", params->threads, JOB_MAX_THREADS);
    if (params->batch < 1 || params->batch > JOB_MAX_BATCH)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "batch size is %d; use 1 to %d",
                            params->batch, JOB_MAX_BATCH);
    return FACESIM_OK;
}

/* Opens the first context on this thread, for the embedding size and the threshold. */
static int job_open_first(job_shared *shared, job_worker *first, fs_error *err)
{
    fs_job *job = shared->job;
    if (job_open_context(first) != FACESIM_OK)
        return fs_error_set(err, first->open_status, "%s", first->open_error);
    job->dim = facesim_embedding_size(first->ctx);
    job->threshold = facesim_default_threshold(first->ctx);
    job->pack_description = strdup(facesim_describe_pack(first->ctx));
    if (!job->pack_description)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory");
    return FACESIM_OK;
}

static int job_open_cache(job_shared *shared, fs_error *err)
{
    const fs_job_params *params = shared->params;
    if (!params->cache_path)
        return FACESIM_OK;
    int status = job_context_digest(params, shared->context_digest, err);
    if (status == FACESIM_OK)
        status = fs_cache_open(params->cache_path, shared->job->dim, &shared->cache, err);
    if (status == FACESIM_OK)
        shared->job->cache_loaded = fs_cache_count(shared->cache);
    return status;
}

int fs_job_run(fs_job *job, const fs_job_params *params, fs_error *err)
{
    int status = job_check_params(params, err);
    if (status != FACESIM_OK)
        return status;
    job_shared shared;
    memset(&shared, 0, sizeof shared);
    shared.job = job;
    shared.params = params;
    pthread_mutex_init(&shared.lock, NULL);
    pthread_cond_init(&shared.changed, NULL);
    size_t slots = job->image_count ? job->image_count : 1;
    shared.finished = calloc(slots, sizeof *shared.finished);
    shared.keys = calloc(slots, sizeof *shared.keys);
    shared.has_key = calloc(slots, sizeof *shared.has_key);
    /* A worker without an image to prepare would only spend time loading models. */
    int threads = params->threads;
    if ((size_t)threads > slots)
        threads = (int)slots;
    job_worker *workers = calloc((size_t)threads, sizeof *workers);
    if (!shared.finished || !shared.keys || !shared.has_key || !workers)
        status = fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory for the batch job");

    if (status == FACESIM_OK) {
        workers[0].shared = &shared;
        status = job_open_first(&shared, &workers[0], err);
    }
    if (status == FACESIM_OK)
        status = job_open_cache(&shared, err);
    for (int w = 0; w < threads && status == FACESIM_OK; w++)
        status = job_alloc_worker(&workers[w], &shared, job->dim, err);
    for (int w = 0; w < threads && status == FACESIM_OK; w++) {
        if (pthread_create(&workers[w].thread, NULL, job_worker_main, &workers[w]) != 0) {
            status = fs_error_set(err, FACESIM_ERR_INTERNAL, "cannot start batch thread %d", w);
            pthread_mutex_lock(&shared.lock);
            shared.stop = true;
            pthread_cond_broadcast(&shared.changed);
            pthread_mutex_unlock(&shared.lock);
            break;
        }
        workers[w].started = true;
    }
    if (status == FACESIM_OK)
        job_supervise(&shared);

    for (int w = 0; workers && w < threads; w++)
        if (workers[w].started)
            pthread_join(workers[w].thread, NULL);
    if (status == FACESIM_OK && shared.fatal_status != FACESIM_OK)
        status = fs_error_set(err, shared.fatal_status, "%s", shared.fatal_error);
    if (status == FACESIM_OK) {
        job->interrupted = job_publish(&shared) < job->image_count;
        if (job->interrupted && params->progress)
            params->progress(params->progress_user_data, shared.finished_count,
                             job->image_count);
    }

    for (size_t c = 0; c < shared.crop_count; c++)
        free(shared.crops[c]);
    free(shared.crops);
    for (int w = 0; workers && w < threads; w++)
        job_free_worker(&workers[w]);
    free(workers);
    free(shared.finished);
    free(shared.keys);
    free(shared.has_key);
    fs_cache_close(shared.cache);
    pthread_cond_destroy(&shared.changed);
    pthread_mutex_destroy(&shared.lock);
    return status;
}

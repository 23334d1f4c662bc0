/*
 * Frame sampling: which decoded frames `facesim video` embeds.
 */
#include <math.h>
#include <stdlib.h>

#include "core/checked.h"
#include "video/video.h"

/* Fills indices with numpy.linspace(0, total - 1, count).astype(int) without the
 * repeats: linspace computes i * step with step = (total - 1) / (count - 1) in double
 * precision and sets the last value to exactly total - 1, and astype(int) truncates. */
static int64_t fs_sample_linspace(int64_t total, int64_t count, int64_t *indices)
{
    int64_t written = 0;
    double step = count > 1 ? (double)(total - 1) / (double)(count - 1) : 0.0;
    for (int64_t i = 0; i < count; i++) {
        int64_t index = i == count - 1 && count > 1 ? total - 1 : (int64_t)((double)i * step);
        if (written > 0 && indices[written - 1] == index)
            continue;
        indices[written++] = index;
    }
    return written;
}

int fs_sampler_init(fs_sampler *sampler, fs_sample_mode mode, double value,
                    int64_t total_frames, fs_error *err)
{
    *sampler = (fs_sampler){ .mode = mode };
    switch (mode) {
    case FS_SAMPLE_ALL:
        return FACESIM_OK;

    case FS_SAMPLE_EVERY:
        if (!(value >= 1.0 && value <= FS_SAMPLE_MAX_N) || value != floor(value))
            return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                                "sampling every N-th frame needs N from 1 to %d, got %g",
                                FS_SAMPLE_MAX_N, value);
        sampler->every = (int64_t)value;
        return FACESIM_OK;

    case FS_SAMPLE_COUNT: {
        if (!(value >= 1.0 && value <= FS_SAMPLE_MAX_N) || value != floor(value))
            return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                                "sampling N evenly spaced frames needs N from 1 to %d, got %g",
                                FS_SAMPLE_MAX_N, value);
        if (total_frames <= 0)
            return FACESIM_OK; /* nothing to sample from an empty stream */
        int64_t count = (int64_t)value;
        size_t bytes;
        if (!fs_mul_size((size_t)count, sizeof(int64_t), &bytes))
            return fs_error_set(err, FACESIM_ERR_LIMIT, "%lld sampled frames are too many",
                                (long long)count);
        sampler->indices = malloc(bytes);
        if (!sampler->indices)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                "out of memory for %lld frame indices", (long long)count);
        sampler->index_count = fs_sample_linspace(total_frames, count, sampler->indices);
        return FACESIM_OK;
    }

    case FS_SAMPLE_RATE:
        if (!(value > 0.0) || !isfinite(value))
            return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                                "the sampling rate must be a positive number of frames per "
                                "second, got %g", value);
        sampler->rate = value;
        return FACESIM_OK;
    }
    return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "unknown sampling mode %d",
                        (int)mode);
}

bool fs_sampler_take(fs_sampler *sampler, int64_t index, double timestamp)
{
    switch (sampler->mode) {
    case FS_SAMPLE_ALL:
        return true;

    case FS_SAMPLE_EVERY:
        return index % sampler->every == 0;

    case FS_SAMPLE_COUNT:
        /* Indices are sorted and frames arrive in order, so one cursor suffices. */
        while (sampler->next_index < sampler->index_count &&
               sampler->indices[sampler->next_index] < index)
            sampler->next_index++;
        if (sampler->next_index < sampler->index_count &&
            sampler->indices[sampler->next_index] == index) {
            sampler->next_index++;
            return true;
        }
        return false;

    case FS_SAMPLE_RATE: {
        /* Tick k is at k / rate seconds. A frame fills the next unfilled tick when it
         * is at or after it, and also covers every tick up to its own timestamp, so a
         * rate above the video's frame rate takes each frame once. */
        double tick_time = (double)sampler->next_tick / sampler->rate;
        if (!(timestamp >= tick_time - FS_SAMPLE_TIME_EPSILON))
            return false;
        int64_t covered = (int64_t)floor((timestamp + FS_SAMPLE_TIME_EPSILON) * sampler->rate);
        sampler->next_tick = covered + 1 > sampler->next_tick ? covered + 1
                                                              : sampler->next_tick + 1;
        return true;
    }
    }
    return false;
}

void fs_sampler_release(fs_sampler *sampler)
{
    free(sampler->indices);
    sampler->indices = NULL;
    sampler->index_count = 0;
}

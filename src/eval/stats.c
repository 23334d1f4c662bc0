#include "eval/stats.h"

#include <math.h>
#include <stdlib.h>

#include "core/checked.h"

typedef struct fs_stats_scored {
    float score;
    uint8_t positive;
} fs_stats_scored;

static int fs_stats_compare_floats(const void *a, const void *b)
{
    float x = *(const float *)a;
    float y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Sorts by score, highest first. */
static int fs_stats_compare_scored(const void *a, const void *b)
{
    float x = ((const fs_stats_scored *)a)->score;
    float y = ((const fs_stats_scored *)b)->score;
    return (x < y) - (x > y);
}

static int fs_stats_check_values(const float *values, size_t n, const char *metric, fs_error *err)
{
    if (n > 0 && !values)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "%s: NULL array with %zu values",
                            metric, n);
    for (size_t i = 0; i < n; i++)
        if (isnan(values[i]))
            return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                                "%s: value %zu is NaN; remove failed pairs before computing "
                                "metrics", metric, i);
    return FACESIM_OK;
}

/* Copies scores and labels into a new array sorted by score, highest first, and counts
 * the positives. The caller frees *sorted. */
static int fs_stats_sort_scored(const float *scores, const uint8_t *labels, size_t n,
                                const char *metric, fs_stats_scored **sorted,
                                size_t *n_positive, fs_error *err)
{
    *sorted = NULL;
    *n_positive = 0;
    int status = fs_stats_check_values(scores, n, metric, err);
    if (status != FACESIM_OK)
        return status;
    if (n > 0 && !labels)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "%s: NULL labels", metric);
    if (n == 0)
        return FACESIM_OK;

    size_t bytes;
    if (!fs_mul_size(n, sizeof(fs_stats_scored), &bytes))
        return fs_error_set(err, FACESIM_ERR_LIMIT, "%s: %zu scores do not fit in memory",
                            metric, n);
    fs_stats_scored *items = malloc(bytes);
    if (!items)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: cannot allocate %zu bytes", metric,
                            bytes);
    for (size_t i = 0; i < n; i++) {
        items[i].score = scores[i];
        items[i].positive = labels[i] != 0;
        *n_positive += items[i].positive;
    }
    qsort(items, n, sizeof *items, fs_stats_compare_scored);
    *sorted = items;
    return FACESIM_OK;
}

/* Returns the index one past the run of items equal in score to items[start]. */
static size_t fs_stats_group_end(const fs_stats_scored *items, size_t n, size_t start)
{
    size_t end = start + 1;
    while (end < n && items[end].score == items[start].score)
        end++;
    return end;
}

int fs_stats_compute(const float *values, size_t n, fs_stats *out, fs_error *err)
{
    out->count = n;
    out->mean = out->std = out->median = out->min = out->max = NAN;
    int status = fs_stats_check_values(values, n, "statistics", err);
    if (status != FACESIM_OK || n == 0)
        return status;

    size_t bytes;
    if (!fs_mul_size(n, sizeof(float), &bytes))
        return fs_error_set(err, FACESIM_ERR_LIMIT, "statistics: %zu values do not fit in memory",
                            n);
    float *sorted = malloc(bytes);
    if (!sorted)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "statistics: cannot allocate %zu bytes",
                            bytes);
    for (size_t i = 0; i < n; i++)
        sorted[i] = values[i];
    qsort(sorted, n, sizeof *sorted, fs_stats_compare_floats);

    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += sorted[i];
    double mean = sum / (double)n;

    /* Two passes (mean first, then squared deviations) to avoid the cancellation of
     * the sum-of-squares formula. */
    double squares = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = sorted[i] - mean;
        squares += d * d;
    }

    out->mean = mean;
    out->std = sqrt(squares / (double)n);
    out->min = sorted[0];
    out->max = sorted[n - 1];
    if (n % 2 == 1)
        out->median = sorted[n / 2];
    else
        out->median = 0.5 * ((double)sorted[n / 2 - 1] + (double)sorted[n / 2]);
    free(sorted);
    return FACESIM_OK;
}

int fs_roc_auc(const float *scores, const uint8_t *labels, size_t n, double *auc, fs_error *err)
{
    *auc = NAN;
    fs_stats_scored *items;
    size_t n_positive;
    int status = fs_stats_sort_scored(scores, labels, n, "ROC AUC", &items, &n_positive, err);
    if (status != FACESIM_OK)
        return status;
    size_t n_negative = n - n_positive;
    if (n_positive == 0 || n_negative == 0) {
        free(items);
        return FACESIM_OK;
    }

    /* Walk groups of equal scores from the highest down. Each negative beats no
     * positive above it, loses to every positive above it and ties with the positives
     * in its own group. */
    double wins = 0.0;
    size_t positives_above = 0;
    for (size_t start = 0; start < n;) {
        size_t end = fs_stats_group_end(items, n, start);
        size_t group_positive = 0;
        for (size_t i = start; i < end; i++)
            group_positive += items[i].positive;
        size_t group_negative = (end - start) - group_positive;
        wins += (double)group_negative * ((double)positives_above + 0.5 * (double)group_positive);
        positives_above += group_positive;
        start = end;
    }
    *auc = wins / ((double)n_positive * (double)n_negative);
    free(items);
    return FACESIM_OK;
}

int fs_accuracy_at(const float *scores, const uint8_t *labels, size_t n, double threshold,
                   double *accuracy, fs_error *err)
{
    *accuracy = NAN;
    int status = fs_stats_check_values(scores, n, "accuracy", err);
    if (status != FACESIM_OK)
        return status;
    if (n > 0 && !labels)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "accuracy: NULL labels");
    if (n == 0)
        return FACESIM_OK;

    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        int accepted = scores[i] >= threshold;
        correct += accepted == (labels[i] != 0);
    }
    *accuracy = (double)correct / (double)n;
    return FACESIM_OK;
}

int fs_best_threshold(const float *scores, const uint8_t *labels, size_t n, double *threshold,
                      double *accuracy, fs_error *err)
{
    *threshold = NAN;
    *accuracy = NAN;
    fs_stats_scored *items;
    size_t n_positive;
    int status = fs_stats_sort_scored(scores, labels, n, "best threshold", &items, &n_positive,
                                      err);
    if (status != FACESIM_OK || n == 0)
        return status;

    /* Accepting nothing gets every negative right. Lowering the threshold to each
     * group's score accepts that group. */
    size_t accepted_positive = 0;
    size_t accepted_negative = 0;
    size_t best_correct = n - n_positive;
    double best_threshold = INFINITY;
    for (size_t start = 0; start < n;) {
        size_t end = fs_stats_group_end(items, n, start);
        for (size_t i = start; i < end; i++) {
            accepted_positive += items[i].positive;
            accepted_negative += !items[i].positive;
        }
        size_t correct = accepted_positive + (n - n_positive - accepted_negative);
        if (correct > best_correct) {
            best_correct = correct;
            best_threshold = items[start].score;
        }
        start = end;
    }
    *threshold = best_threshold;
    *accuracy = (double)best_correct / (double)n;
    free(items);
    return FACESIM_OK;
}

int fs_tar_at_far_compute(const float *scores, const uint8_t *labels, size_t n,
                          double target_far, fs_tar_at_far *out, fs_error *err)
{
    out->threshold = out->tar = out->far = NAN;
    if (!(target_far >= 0.0 && target_far <= 1.0))
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "TAR at FAR: target FAR %g is outside [0, 1]", target_far);
    fs_stats_scored *items;
    size_t n_positive;
    int status = fs_stats_sort_scored(scores, labels, n, "TAR at FAR", &items, &n_positive, err);
    if (status != FACESIM_OK)
        return status;
    size_t n_negative = n - n_positive;
    if (n_positive == 0 || n_negative == 0) {
        free(items);
        return FACESIM_OK;
    }

    /* The false accept rate only grows as the threshold falls, so walk down and stop
     * at the first group that would push it over the target. */
    out->threshold = INFINITY;
    out->tar = 0.0;
    out->far = 0.0;
    size_t accepted_positive = 0;
    size_t accepted_negative = 0;
    for (size_t start = 0; start < n;) {
        size_t end = fs_stats_group_end(items, n, start);
        for (size_t i = start; i < end; i++) {
            accepted_positive += items[i].positive;
            accepted_negative += !items[i].positive;
        }
        double far = (double)accepted_negative / (double)n_negative;
        if (far > target_far)
            break;
        out->threshold = items[start].score;
        out->tar = (double)accepted_positive / (double)n_positive;
        out->far = far;
        start = end;
    }
    free(items);
    return FACESIM_OK;
}

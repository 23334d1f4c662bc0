/*
 * Summary statistics and verification metrics over similarity scores.
 *
 * A "score" is a cosine similarity (any finite float works). A "label" is 1 for a
 * same-person pair (a positive) and 0 for a different-person pair (a negative).
 * Every metric here accepts a pair when score >= threshold, the rule the CLI uses
 * for its same-person decision, so a threshold returned by one function gives the
 * same result when passed to another.
 *
 * Metrics that are undefined for the input (statistics of zero values, AUC without
 * positives or without negatives) are NaN and the call still succeeds, so that
 * report writers can print them as null. NaN scores are rejected.
 */
#ifndef FS_EVAL_STATS_H
#define FS_EVAL_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct fs_stats {
    size_t count;
    double mean;
    double std;    /* population standard deviation: divides by count, not count - 1 */
    double median; /* mean of the two middle values when count is even */
    double min;
    double max;
} fs_stats;

/* Computes count, mean, population standard deviation, median, min and max of n values.
 * With n == 0 every field but count is NaN. Fails with FACESIM_ERR_INVALID_ARGUMENT on a
 * NaN value (the message gives its index) and FACESIM_ERR_NO_MEMORY when the sorted copy
 * for the median cannot be allocated. */
int fs_stats_compute(const float *values, size_t n, fs_stats *out, fs_error *err);

/* Computes the area under the ROC curve: the probability that a random positive scores
 * higher than a random negative, with tied pairs counted as 0.5. NaN when there is no
 * positive or no negative. O(n log n); allocates n entries. */
int fs_roc_auc(const float *scores, const uint8_t *labels, size_t n, double *auc,
               fs_error *err);

/* Computes the fraction of the n pairs classified correctly when score >= threshold
 * means "same person". NaN when n == 0. */
int fs_accuracy_at(const float *scores, const uint8_t *labels, size_t n, double threshold,
                   double *accuracy, fs_error *err);

/*
 * Finds the threshold with the highest accuracy. Candidates are every distinct score
 * (accept score >= candidate) and +infinity (accept nothing). On a tie the highest
 * candidate wins. Both outputs are NaN when n == 0.
 */
int fs_best_threshold(const float *scores, const uint8_t *labels, size_t n, double *threshold,
                      double *accuracy, fs_error *err);

/* A point on the ROC curve chosen for a target false accept rate. */
typedef struct fs_tar_at_far {
    double threshold; /* accept score >= threshold; +infinity when nothing can be accepted */
    double tar;       /* true accept rate: accepted positives / positives */
    double far;       /* achieved false accept rate, <= the target */
} fs_tar_at_far;

/*
 * Finds the lowest threshold whose false accept rate does not exceed target_far and
 * reports the true accept rate there. Candidates are the distinct scores and
 * +infinity. All fields are NaN when there is no positive or no negative.
 * target_far must be in [0, 1].
 */
int fs_tar_at_far_compute(const float *scores, const uint8_t *labels, size_t n,
                          double target_far, fs_tar_at_far *out, fs_error *err);

#endif /* FS_EVAL_STATS_H */

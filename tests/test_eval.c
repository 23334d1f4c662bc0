/*
 * Tests of src/eval. Statistics and verification metrics are checked against
 * brute-force versions written here: AUC by counting every positive-negative pair,
 * thresholds by trying every candidate. The JSON, CSV, npy and table writers are
 * checked against exact expected text and against small parsers that read their
 * output back.
 */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eval/csv_writer.h"
#include "eval/json_writer.h"
#include "eval/npy_writer.h"
#include "eval/stats.h"
#include "eval/table.h"

/* ---- helpers ---- */

/* cmocka 1.1 has no floating-point assertion. Equal values pass at any tolerance, so
 * infinities compare as expected. */
#define assert_near(actual, expected, tolerance)                                            \
    do {                                                                                    \
        double actual_ = (actual), expected_ = (expected);                                  \
        if (!(actual_ == expected_ || fabs(actual_ - expected_) <= (tolerance)))            \
            fail_msg("%s = %.17g, expected %.17g (tolerance %g)", #actual, actual_,         \
                     expected_, (double)(tolerance));                                       \
    } while (0)

/* xorshift32, so that the random cases are the same on every run. */
static uint32_t test_random_next(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* Random scores in [-1, 1]; with `levels` > 0 they are rounded to that many steps so
 * that ties are common. */
static void test_random_scores(uint32_t seed, size_t n, int levels, float *scores,
                               uint8_t *labels)
{
    uint32_t state = seed;
    for (size_t i = 0; i < n; i++) {
        double u = (test_random_next(&state) % 1000000) / 999999.0;
        labels[i] = test_random_next(&state) % 3 == 0;
        if (labels[i])
            u = 0.3 + 0.7 * u; /* positives score higher on average */
        if (levels > 0)
            u = floor(u * levels) / levels;
        scores[i] = (float)(2.0 * u - 1.0);
    }
}

/* An in-memory FILE whose contents can be read as a string after fclose_memory. */
typedef struct test_memory_file {
    char *data;
    size_t size;
    FILE *file;
} test_memory_file;

static void test_memory_open(test_memory_file *memory)
{
    memory->data = NULL;
    memory->size = 0;
    memory->file = open_memstream(&memory->data, &memory->size);
    assert_non_null(memory->file);
}

static void test_memory_close(test_memory_file *memory)
{
    assert_int_equal(fclose(memory->file), 0);
    memory->file = NULL;
}

/* ---- statistics ---- */

static void stats_known_values(void **state)
{
    const float values[] = { 4.0f, 1.0f, 3.0f, 2.0f };
    fs_stats stats;
    fs_error err;
    assert_int_equal(fs_stats_compute(values, 4, &stats, &err), FACESIM_OK);
    assert_int_equal(stats.count, 4);
    assert_near(stats.mean, 2.5, 1e-12);
    assert_near(stats.std, sqrt(1.25), 1e-12); /* population: divide by 4 */
    assert_near(stats.median, 2.5, 1e-12);
    assert_near(stats.min, 1.0, 0.0);
    assert_near(stats.max, 4.0, 0.0);

    assert_int_equal(fs_stats_compute(values, 3, &stats, &err), FACESIM_OK);
    assert_near(stats.median, 3.0, 0.0); /* odd count: middle of 1, 3, 4 */
}

static int test_compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void stats_random_against_naive(void **state)
{
    for (uint32_t seed = 1; seed <= 20; seed++) {
        size_t n = 1 + seed * 7;
        float values[200];
        uint8_t labels[200];
        test_random_scores(seed, n, 0, values, labels);

        double sum = 0.0, lowest = INFINITY, highest = -INFINITY;
        double copy[200];
        for (size_t i = 0; i < n; i++) {
            sum += values[i];
            lowest = fmin(lowest, values[i]);
            highest = fmax(highest, values[i]);
            copy[i] = values[i];
        }
        double mean = sum / n;
        double squares = 0.0;
        for (size_t i = 0; i < n; i++)
            squares += (values[i] - mean) * (values[i] - mean);
        qsort(copy, n, sizeof copy[0], test_compare_doubles);
        double median = n % 2 ? copy[n / 2] : (copy[n / 2 - 1] + copy[n / 2]) / 2.0;

        fs_stats stats;
        assert_int_equal(fs_stats_compute(values, n, &stats, NULL), FACESIM_OK);
        assert_int_equal(stats.count, n);
        assert_near(stats.mean, mean, 1e-9);
        assert_near(stats.std, sqrt(squares / n), 1e-9);
        assert_near(stats.median, median, 1e-12);
        assert_near(stats.min, lowest, 0.0);
        assert_near(stats.max, highest, 0.0);
    }
}

static void stats_empty_is_nan(void **state)
{
    fs_stats stats;
    assert_int_equal(fs_stats_compute(NULL, 0, &stats, NULL), FACESIM_OK);
    assert_int_equal(stats.count, 0);
    assert_true(isnan(stats.mean));
    assert_true(isnan(stats.std));
    assert_true(isnan(stats.median));
    assert_true(isnan(stats.min));
    assert_true(isnan(stats.max));
}

static void stats_rejects_nan(void **state)
{
    const float values[] = { 0.5f, NAN, 0.2f };
    fs_stats stats;
    fs_error err;
    fs_error_clear(&err);
    assert_int_equal(fs_stats_compute(values, 3, &stats, &err), FACESIM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "value 1"));

    uint8_t labels[] = { 1, 0, 1 };
    double auc;
    assert_int_equal(fs_roc_auc(values, labels, 3, &auc, &err), FACESIM_ERR_INVALID_ARGUMENT);
}

/* ---- verification metrics ---- */

static double test_brute_auc(const float *scores, const uint8_t *labels, size_t n)
{
    double wins = 0.0;
    size_t pairs = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            if (!labels[i] || labels[j])
                continue;
            pairs++;
            if (scores[i] > scores[j])
                wins += 1.0;
            else if (scores[i] == scores[j])
                wins += 0.5;
        }
    return pairs ? wins / pairs : NAN;
}

static void auc_hand_computed(void **state)
{
    /* Positives 0.9 and 0.8 beat all four negatives, 0.4 beats three: 11 of 12. */
    const float scores[] = { 0.9f, 0.8f, 0.4f, 0.5f, 0.3f, 0.1f, 0.0f };
    const uint8_t labels[] = { 1, 1, 1, 0, 0, 0, 0 };
    double auc;
    assert_int_equal(fs_roc_auc(scores, labels, 7, &auc, NULL), FACESIM_OK);
    assert_near(auc, 11.0 / 12.0, 1e-12);
}

static void auc_ties_count_half(void **state)
{
    const float scores[] = { 0.5f, 0.5f, 0.5f, 0.5f };
    const uint8_t labels[] = { 1, 0, 1, 0 };
    double auc;
    assert_int_equal(fs_roc_auc(scores, labels, 4, &auc, NULL), FACESIM_OK);
    assert_near(auc, 0.5, 1e-12);
}

static void auc_random_against_pair_count(void **state)
{
    for (uint32_t seed = 1; seed <= 30; seed++) {
        float scores[300];
        uint8_t labels[300];
        size_t n = 10 + seed * 9;
        int levels = seed % 2 ? 10 : 0; /* odd seeds: many ties */
        test_random_scores(seed * 7919, n, levels, scores, labels);
        double auc;
        assert_int_equal(fs_roc_auc(scores, labels, n, &auc, NULL), FACESIM_OK);
        assert_near(auc, test_brute_auc(scores, labels, n), 1e-12);
    }
}

static void auc_one_class_is_nan(void **state)
{
    const float scores[] = { 0.1f, 0.2f };
    const uint8_t positives[] = { 1, 1 };
    const uint8_t negatives[] = { 0, 0 };
    double auc;
    assert_int_equal(fs_roc_auc(scores, positives, 2, &auc, NULL), FACESIM_OK);
    assert_true(isnan(auc));
    assert_int_equal(fs_roc_auc(scores, negatives, 2, &auc, NULL), FACESIM_OK);
    assert_true(isnan(auc));
}

static void accuracy_hand_computed(void **state)
{
    const float scores[] = { 0.9f, 0.8f, 0.4f, 0.5f, 0.3f, 0.1f, 0.0f };
    const uint8_t labels[] = { 1, 1, 1, 0, 0, 0, 0 };
    double accuracy;
    /* At 0.45: accepts 0.9, 0.8, 0.5; wrong on 0.4 (positive) and 0.5 (negative). */
    assert_int_equal(fs_accuracy_at(scores, labels, 7, 0.45, &accuracy, NULL), FACESIM_OK);
    assert_near(accuracy, 5.0 / 7.0, 1e-12);
    /* A score equal to the threshold is accepted. */
    assert_int_equal(fs_accuracy_at(scores, labels, 7, 0.4f, &accuracy, NULL), FACESIM_OK);
    assert_near(accuracy, 6.0 / 7.0, 1e-12);
}

static double test_brute_accuracy(const float *scores, const uint8_t *labels, size_t n,
                                  double threshold)
{
    size_t correct = 0;
    for (size_t i = 0; i < n; i++)
        correct += (scores[i] >= threshold) == (labels[i] != 0);
    return (double)correct / n;
}

static void best_threshold_random_against_brute(void **state)
{
    for (uint32_t seed = 1; seed <= 30; seed++) {
        float scores[200];
        uint8_t labels[200];
        size_t n = 5 + seed * 6;
        test_random_scores(seed * 104729, n, seed % 3 ? 0 : 8, scores, labels);

        /* Every candidate, keeping the highest threshold on a tie. */
        double want_threshold = INFINITY;
        double want_accuracy = test_brute_accuracy(scores, labels, n, INFINITY);
        for (size_t i = 0; i < n; i++) {
            double accuracy = test_brute_accuracy(scores, labels, n, scores[i]);
            if (accuracy > want_accuracy ||
                (accuracy == want_accuracy && scores[i] > want_threshold))
                want_accuracy = accuracy, want_threshold = scores[i];
        }

        double threshold, accuracy;
        assert_int_equal(fs_best_threshold(scores, labels, n, &threshold, &accuracy, NULL),
                         FACESIM_OK);
        assert_near(accuracy, want_accuracy, 1e-12);
        assert_near(threshold, want_threshold, 0.0);

        double check;
        assert_int_equal(fs_accuracy_at(scores, labels, n, threshold, &check, NULL), FACESIM_OK);
        assert_near(check, accuracy, 1e-12);
    }
}

static void best_threshold_separable(void **state)
{
    const float scores[] = { 0.9f, 0.7f, 0.2f, 0.1f };
    const uint8_t labels[] = { 1, 1, 0, 0 };
    double threshold, accuracy;
    assert_int_equal(fs_best_threshold(scores, labels, 4, &threshold, &accuracy, NULL),
                     FACESIM_OK);
    assert_near(threshold, 0.7f, 0.0);
    assert_near(accuracy, 1.0, 0.0);
}

static void tar_at_far_random_against_brute(void **state)
{
    const double targets[] = { 0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 1.0 };
    for (uint32_t seed = 1; seed <= 20; seed++) {
        float scores[400];
        uint8_t labels[400];
        size_t n = 50 + seed * 15;
        test_random_scores(seed * 31337, n, seed % 2 ? 20 : 0, scores, labels);
        size_t n_positive = 0;
        for (size_t i = 0; i < n; i++)
            n_positive += labels[i];
        size_t n_negative = n - n_positive;

        for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
            /* The lowest candidate whose FAR stays within the target. */
            double want_threshold = INFINITY;
            for (size_t i = 0; i < n; i++) {
                size_t false_accepts = 0;
                for (size_t j = 0; j < n; j++)
                    false_accepts += !labels[j] && scores[j] >= scores[i];
                if ((double)false_accepts / n_negative <= targets[t] &&
                    scores[i] < want_threshold)
                    want_threshold = scores[i];
            }
            size_t accepted_positive = 0, accepted_negative = 0;
            for (size_t j = 0; j < n; j++) {
                accepted_positive += labels[j] && scores[j] >= want_threshold;
                accepted_negative += !labels[j] && scores[j] >= want_threshold;
            }

            fs_tar_at_far result;
            assert_int_equal(fs_tar_at_far_compute(scores, labels, n, targets[t], &result, NULL),
                             FACESIM_OK);
            assert_near(result.threshold, want_threshold, 0.0);
            assert_near(result.tar, (double)accepted_positive / n_positive, 1e-12);
            assert_near(result.far, (double)accepted_negative / n_negative, 1e-12);
            assert_true(result.far <= targets[t]);
        }
    }
}

static void tar_at_far_rejects_bad_target(void **state)
{
    const float scores[] = { 0.9f, 0.1f };
    const uint8_t labels[] = { 1, 0 };
    fs_tar_at_far result;
    fs_error err;
    assert_int_equal(fs_tar_at_far_compute(scores, labels, 2, 1.5, &result, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "1.5"));
    assert_int_equal(fs_tar_at_far_compute(scores, labels, 2, NAN, &result, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
}

/* ---- JSON writer ---- */

/* A small JSON reader used only to check that the writer's output parses. It accepts
 * RFC 8259 JSON and decodes the strings it meets into `decoded` (the last one wins). */
typedef struct test_json_reader {
    const char *p;
    char decoded[4096];
} test_json_reader;

static void test_json_space(test_json_reader *r)
{
    while (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r')
        r->p++;
}

static bool test_json_value(test_json_reader *r);

static void test_json_put_utf8(char **out, unsigned code_point)
{
    if (code_point < 0x80) {
        *(*out)++ = (char)code_point;
    } else if (code_point < 0x800) {
        *(*out)++ = (char)(0xC0 | code_point >> 6);
        *(*out)++ = (char)(0x80 | (code_point & 0x3F));
    } else {
        *(*out)++ = (char)(0xE0 | code_point >> 12);
        *(*out)++ = (char)(0x80 | ((code_point >> 6) & 0x3F));
        *(*out)++ = (char)(0x80 | (code_point & 0x3F));
    }
}

static bool test_json_string(test_json_reader *r)
{
    if (*r->p != '"')
        return false;
    r->p++;
    char *out = r->decoded;
    while (*r->p != '"') {
        unsigned char c = (unsigned char)*r->p;
        if (c < 0x20)
            return false; /* raw control characters are invalid in JSON strings */
        if (c != '\\') {
            *out++ = (char)c;
            r->p++;
            continue;
        }
        r->p++;
        switch (*r->p) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '/': *out++ = '/'; break;
        case 'b': *out++ = '\b'; break;
        case 'f': *out++ = '\f'; break;
        case 'n': *out++ = '\n'; break;
        case 'r': *out++ = '\r'; break;
        case 't': *out++ = '\t'; break;
        case 'u': {
            unsigned code_point;
            if (sscanf(r->p + 1, "%4x", &code_point) != 1)
                return false;
            test_json_put_utf8(&out, code_point);
            r->p += 4;
            break;
        }
        default: return false;
        }
        r->p++;
    }
    *out = '\0';
    r->p++;
    return true;
}

static bool test_json_number(test_json_reader *r)
{
    const char *start = r->p;
    if (*r->p == '-')
        r->p++;
    if (*r->p == '0')
        r->p++;
    else if (*r->p >= '1' && *r->p <= '9')
        while (*r->p >= '0' && *r->p <= '9')
            r->p++;
    else
        return false;
    if (*r->p == '.') {
        r->p++;
        if (!(*r->p >= '0' && *r->p <= '9'))
            return false;
        while (*r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    if (*r->p == 'e' || *r->p == 'E') {
        r->p++;
        if (*r->p == '+' || *r->p == '-')
            r->p++;
        if (!(*r->p >= '0' && *r->p <= '9'))
            return false;
        while (*r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    return r->p > start;
}

static bool test_json_literal(test_json_reader *r, const char *word)
{
    size_t length = strlen(word);
    if (strncmp(r->p, word, length) != 0)
        return false;
    r->p += length;
    return true;
}

static bool test_json_value(test_json_reader *r)
{
    test_json_space(r);
    bool ok;
    if (*r->p == '{') {
        r->p++;
        test_json_space(r);
        if (*r->p == '}') {
            r->p++;
            return true;
        }
        for (;;) {
            test_json_space(r);
            if (!test_json_string(r))
                return false;
            test_json_space(r);
            if (*r->p++ != ':' || !test_json_value(r))
                return false;
            test_json_space(r);
            if (*r->p == '}') {
                r->p++;
                return true;
            }
            if (*r->p++ != ',')
                return false;
        }
    }
    if (*r->p == '[') {
        r->p++;
        test_json_space(r);
        if (*r->p == ']') {
            r->p++;
            return true;
        }
        for (;;) {
            if (!test_json_value(r))
                return false;
            test_json_space(r);
            if (*r->p == ']') {
                r->p++;
                return true;
            }
            if (*r->p++ != ',')
                return false;
        }
    }
    if (*r->p == '"')
        ok = test_json_string(r);
    else if (*r->p == 't')
        ok = test_json_literal(r, "true");
    else if (*r->p == 'f')
        ok = test_json_literal(r, "false");
    else if (*r->p == 'n')
        ok = test_json_literal(r, "null");
    else
        ok = test_json_number(r);
    return ok;
}

/* Returns true when text is exactly one JSON value plus whitespace. */
static bool test_json_parses(const char *text, test_json_reader *r)
{
    r->p = text;
    if (!test_json_value(r))
        return false;
    test_json_space(r);
    return *r->p == '\0';
}

static void json_compact_exact(void **state)
{
    test_memory_file memory;
    test_memory_open(&memory);
    fs_json_writer json;
    fs_json_init(&json, memory.file, 0);
    fs_json_begin_object(&json);
    fs_json_key_string(&json, "file", "a01.jpg");
    fs_json_key_fixed(&json, "cosine", 0.675849, 4);
    fs_json_key_fixed(&json, "negative", -0.00004, 4);
    fs_json_key_bool(&json, "same_person", true);
    fs_json_key_int(&json, "faces", -3);
    fs_json_key(&json, "box");
    fs_json_begin_array(&json);
    fs_json_fixed(&json, 1.25, 1);
    fs_json_fixed(&json, NAN, 2);
    fs_json_fixed(&json, INFINITY, 2);
    fs_json_float(&json, 0.1f);
    fs_json_end_array(&json);
    fs_json_key(&json, "empty");
    fs_json_begin_object(&json);
    fs_json_end_object(&json);
    fs_json_key(&json, "nothing");
    fs_json_null(&json);
    fs_json_end_object(&json);
    fs_error err;
    assert_int_equal(fs_json_finish(&json, &err), FACESIM_OK);
    test_memory_close(&memory);

    /* printf rounds 1.25 to even ("1.2"), as every C library does with %.1f. */
    assert_string_equal(memory.data,
                        "{\"file\":\"a01.jpg\",\"cosine\":0.6758,\"negative\":-0.0000,"
                        "\"same_person\":true,\"faces\":-3,\"box\":[1.2,null,null,0.100000001],"
                        "\"empty\":{},\"nothing\":null}\n");
    free(memory.data);
}

static void json_pretty_exact(void **state)
{
    test_memory_file memory;
    test_memory_open(&memory);
    fs_json_writer json;
    fs_json_init(&json, memory.file, 2);
    fs_json_begin_object(&json);
    fs_json_key(&json, "box");
    fs_json_begin_one_line_array(&json);
    fs_json_int(&json, 1);
    fs_json_int(&json, 2);
    fs_json_end_array(&json);
    fs_json_key(&json, "faces");
    fs_json_begin_array(&json);
    fs_json_begin_object(&json);
    fs_json_key_int(&json, "k", 0);
    fs_json_end_object(&json);
    fs_json_end_array(&json);
    fs_json_key(&json, "none");
    fs_json_begin_array(&json);
    fs_json_end_array(&json);
    fs_json_end_object(&json);
    assert_int_equal(fs_json_finish(&json, NULL), FACESIM_OK);
    test_memory_close(&memory);
    assert_string_equal(memory.data,
                        "{\n"
                        "  \"box\": [1, 2],\n"
                        "  \"faces\": [\n"
                        "    {\n"
                        "      \"k\": 0\n"
                        "    }\n"
                        "  ],\n"
                        "  \"none\": []\n"
                        "}\n");
    free(memory.data);
}

static void json_escapes_strings(void **state)
{
    test_memory_file memory;
    test_memory_open(&memory);
    fs_json_writer json;
    fs_json_init(&json, memory.file, 0);
    fs_json_begin_array(&json);
    fs_json_string(&json, "quote\" backslash\\ tab\t nl\n cr\r bs\b ff\f bell\x07 unit\x1f");
    fs_json_string(&json, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"); /* é € and an emoji */
    fs_json_string(&json, "latin1 \xe9 stray \x80 overlong \xc0\xaf cut \xe2\x82");
    fs_json_string(&json, "surrogate \xed\xa0\x80");
    fs_json_string(&json, NULL);
    fs_json_end_array(&json);
    assert_int_equal(fs_json_finish(&json, NULL), FACESIM_OK);
    test_memory_close(&memory);
    assert_string_equal(memory.data,
                        "[\"quote\\\" backslash\\\\ tab\\t nl\\n cr\\r bs\\b ff\\f bell\\u0007 "
                        "unit\\u001f\","
                        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
                        "\"latin1 \\ufffd stray \\ufffd overlong \\ufffd\\ufffd cut "
                        "\\ufffd\\ufffd\","
                        "\"surrogate \\ufffd\\ufffd\\ufffd\","
                        "null]\n");
    test_json_reader reader;
    assert_true(test_json_parses(memory.data, &reader));
    free(memory.data);
}

static void json_random_strings_round_trip(void **state)
{
    uint32_t seed = 12345;
    for (int round = 0; round < 500; round++) {
        /* Random ASCII including every control character, quotes and backslashes. */
        char text[64];
        size_t length = test_random_next(&seed) % (sizeof text - 1);
        for (size_t i = 0; i < length; i++)
            text[i] = (char)(1 + test_random_next(&seed) % 127);
        text[length] = '\0';

        test_memory_file memory;
        test_memory_open(&memory);
        fs_json_writer json;
        fs_json_init(&json, memory.file, round % 2 ? 2 : 0);
        fs_json_begin_object(&json);
        fs_json_key_string(&json, "text", text);
        fs_json_end_object(&json);
        assert_int_equal(fs_json_finish(&json, NULL), FACESIM_OK);
        test_memory_close(&memory);

        test_json_reader reader;
        assert_true(test_json_parses(memory.data, &reader));
        assert_string_equal(reader.decoded, text);
        free(memory.data);
    }
}

static void json_numbers_parse_back(void **state)
{
    const double values[] = { 0.0, -0.0, 1e-30, -1e-30, 123456789.125, -1.5e20, 0.999999 };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        for (int decimals = 0; decimals <= 6; decimals += 3) {
            test_memory_file memory;
            test_memory_open(&memory);
            fs_json_writer json;
            fs_json_init(&json, memory.file, 0);
            fs_json_begin_array(&json);
            fs_json_fixed(&json, values[i], decimals);
            fs_json_float(&json, (float)values[i]);
            fs_json_end_array(&json);
            assert_int_equal(fs_json_finish(&json, NULL), FACESIM_OK);
            test_memory_close(&memory);

            test_json_reader reader;
            assert_true(test_json_parses(memory.data, &reader));
            double fixed;
            float shortest;
            assert_int_equal(sscanf(memory.data, "[%lf,%f]", &fixed, &shortest), 2);
            assert_near(fixed, values[i], 0.5 * pow(10.0, -decimals) + 1e-9);
            assert_true(shortest == (float)values[i]); /* 9 digits read back exactly */
            free(memory.data);
        }
}

static void json_misuse_is_reported(void **state)
{
    struct {
        const char *name;
        int step;
    } cases[] = { { "value without key", 0 },  { "key in array", 1 },
                  { "unbalanced end", 2 },     { "unclosed object", 3 },
                  { "two top-level values", 4 }, { "end after key", 5 } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        test_memory_file memory;
        test_memory_open(&memory);
        fs_json_writer json;
        fs_json_init(&json, memory.file, 0);
        switch (cases[c].step) {
        case 0:
            fs_json_begin_object(&json);
            fs_json_int(&json, 1);
            fs_json_end_object(&json);
            break;
        case 1:
            fs_json_begin_array(&json);
            fs_json_key(&json, "k");
            fs_json_end_array(&json);
            break;
        case 2:
            fs_json_begin_array(&json);
            fs_json_end_object(&json);
            break;
        case 3:
            fs_json_begin_object(&json);
            break;
        case 4:
            fs_json_int(&json, 1);
            fs_json_int(&json, 2);
            break;
        case 5:
            fs_json_begin_object(&json);
            fs_json_key(&json, "k");
            fs_json_end_object(&json);
            break;
        }
        fs_error err;
        fs_error_clear(&err);
        int status = fs_json_finish(&json, &err);
        if (status != FACESIM_ERR_INTERNAL)
            fail_msg("case '%s': expected FACESIM_ERR_INTERNAL, got %d", cases[c].name, status);
        assert_true(strlen(err.message) > 0);
        test_memory_close(&memory);
        free(memory.data);
    }
}

static void json_too_deep_is_reported(void **state)
{
    test_memory_file memory;
    test_memory_open(&memory);
    fs_json_writer json;
    fs_json_init(&json, memory.file, 0);
    for (int i = 0; i <= FS_JSON_MAX_DEPTH; i++)
        fs_json_begin_array(&json);
    fs_error err;
    assert_int_equal(fs_json_finish(&json, &err), FACESIM_ERR_INTERNAL);
    assert_non_null(strstr(err.message, "nesting"));
    test_memory_close(&memory);
    free(memory.data);
}

static void json_write_error_is_reported(void **state)
{
    FILE *full = fopen("/dev/full", "w");
    if (!full)
        skip();
    fs_json_writer json;
    fs_json_init(&json, full, 0);
    fs_json_begin_array(&json);
    for (int i = 0; i < 10000; i++)
        fs_json_int(&json, i);
    fs_json_end_array(&json);
    fs_error err;
    assert_int_equal(fs_json_finish(&json, &err), FACESIM_ERR_IO);
    fclose(full);
}

/* ---- CSV writer ---- */

static void csv_quotes_exact(void **state)
{
    test_memory_file memory;
    test_memory_open(&memory);
    fs_csv_writer csv;
    fs_csv_init(&csv, memory.file);
    fs_csv_field(&csv, "file");
    fs_csv_field(&csv, "cosine");
    fs_csv_end_row(&csv);
    fs_csv_field(&csv, "plain.jpg");
    fs_csv_fixed(&csv, 0.675849, 4);
    fs_csv_end_row(&csv);
    fs_csv_field(&csv, "comma,name.jpg");
    fs_csv_fixed(&csv, NAN, 4);
    fs_csv_end_row(&csv);
    fs_csv_field(&csv, "say \"hi\".jpg");
    fs_csv_int(&csv, 7);
    fs_csv_end_row(&csv);
    fs_csv_field(&csv, "two\nlines");
    fs_csv_field(&csv, " padded ");
    fs_csv_field(&csv, NULL);
    fs_csv_float(&csv, 0.1f);
    fs_csv_end_row(&csv);
    assert_int_equal(fs_csv_finish(&csv, NULL), FACESIM_OK);
    test_memory_close(&memory);
    assert_string_equal(memory.data,
                        "file,cosine\n"
                        "plain.jpg,0.6758\n"
                        "\"comma,name.jpg\",\n"
                        "\"say \"\"hi\"\".jpg\",7\n"
                        "\"two\nlines\",\" padded \",,0.100000001\n");
    free(memory.data);
}

/* Reads one RFC 4180 field starting at *p into out; returns the character that ended
 * it (',', '\n' or '\0'). */
static char test_csv_read_field(const char **p, char *out)
{
    const char *s = *p;
    if (*s == '"') {
        s++;
        for (;;) {
            if (*s == '"' && s[1] == '"') {
                *out++ = '"';
                s += 2;
            } else if (*s == '"') {
                s++;
                break;
            } else {
                assert_true(*s != '\0'); /* an unterminated quoted field */
                *out++ = *s++;
            }
        }
    } else {
        while (*s && *s != ',' && *s != '\n') {
            assert_true(*s != '"'); /* a quote in an unquoted field */
            *out++ = *s++;
        }
    }
    *out = '\0';
    char end = *s;
    if (end)
        s++;
    *p = s;
    return end;
}

static void csv_random_fields_round_trip(void **state)
{
    uint32_t seed = 777;
    const char alphabet[] = "ab ,\"\n\r\txy";
    for (int round = 0; round < 300; round++) {
        char fields[3][32];
        for (int f = 0; f < 3; f++) {
            size_t length = test_random_next(&seed) % 20;
            for (size_t i = 0; i < length; i++)
                fields[f][i] = alphabet[test_random_next(&seed) % (sizeof alphabet - 1)];
            fields[f][length] = '\0';
        }
        test_memory_file memory;
        test_memory_open(&memory);
        fs_csv_writer csv;
        fs_csv_init(&csv, memory.file);
        for (int f = 0; f < 3; f++)
            fs_csv_field(&csv, fields[f]);
        fs_csv_end_row(&csv);
        assert_int_equal(fs_csv_finish(&csv, NULL), FACESIM_OK);
        test_memory_close(&memory);

        const char *p = memory.data;
        char field[80];
        for (int f = 0; f < 3; f++) {
            char end = test_csv_read_field(&p, field);
            assert_string_equal(field, fields[f]);
            assert_int_equal(end, f < 2 ? ',' : '\n');
        }
        assert_int_equal(*p, '\0');
        free(memory.data);
    }
}

static void csv_open_row_is_reported(void **state)
{
    test_memory_file memory;
    test_memory_open(&memory);
    fs_csv_writer csv;
    fs_csv_init(&csv, memory.file);
    fs_csv_field(&csv, "x");
    fs_error err;
    assert_int_equal(fs_csv_finish(&csv, &err), FACESIM_ERR_INTERNAL);
    test_memory_close(&memory);
    free(memory.data);
}

/* ---- npy writer ---- */

static void npy_header_and_data(void **state)
{
    const size_t shapes[][2] = { { 3, 4 }, { 0, 512 }, { 1234567, 1 } };
    for (size_t s = 0; s < 3; s++) {
        size_t rows = shapes[s][0] > 5 ? 2 : shapes[s][0]; /* rows actually written */
        test_memory_file memory;
        test_memory_open(&memory);
        fs_npy_writer npy;
        assert_int_equal(fs_npy_begin(&npy, memory.file, shapes[s][0], shapes[s][1], NULL),
                         FACESIM_OK);
        float row[512];
        for (size_t r = 0; r < rows; r++) {
            for (size_t c = 0; c < shapes[s][1]; c++)
                row[c] = (float)r - 0.25f * (float)c;
            assert_int_equal(fs_npy_write_row(&npy, row, NULL), FACESIM_OK);
        }
        int finished = fs_npy_finish(&npy, NULL);
        assert_int_equal(finished, rows == shapes[s][0] ? FACESIM_OK : FACESIM_ERR_INTERNAL);
        test_memory_close(&memory);

        const unsigned char *bytes = (const unsigned char *)memory.data;
        assert_memory_equal(bytes, "\x93NUMPY\x01\x00", 8);
        size_t header_length = bytes[8] | (size_t)bytes[9] << 8;
        size_t data_offset = 10 + header_length;
        assert_int_equal(data_offset % 64, 0);
        assert_int_equal(bytes[data_offset - 1], '\n');

        char expected[128];
        snprintf(expected, sizeof expected,
                 "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                 shapes[s][0], shapes[s][1]);
        assert_memory_equal(bytes + 10, expected, strlen(expected));
        assert_int_equal(memory.size, data_offset + rows * shapes[s][1] * 4);

        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < shapes[s][1]; c++) {
                const unsigned char *b = bytes + data_offset + (r * shapes[s][1] + c) * 4;
                uint32_t bits = b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                                (uint32_t)b[3] << 24;
                float value;
                memcpy(&value, &bits, sizeof value);
                assert_true(value == (float)r - 0.25f * (float)c);
            }
        free(memory.data);
    }
}

static void npy_extra_row_is_rejected(void **state)
{
    test_memory_file memory;
    test_memory_open(&memory);
    fs_npy_writer npy;
    assert_int_equal(fs_npy_begin(&npy, memory.file, 1, 2, NULL), FACESIM_OK);
    const float row[2] = { 1.0f, 2.0f };
    assert_int_equal(fs_npy_write_row(&npy, row, NULL), FACESIM_OK);
    fs_error err;
    assert_int_equal(fs_npy_write_row(&npy, row, &err), FACESIM_ERR_INTERNAL);
    assert_non_null(strstr(err.message, "declares 1 rows"));
    test_memory_close(&memory);
    free(memory.data);
}

/* ---- text table ---- */

static void table_aligns_columns(void **state)
{
    fs_table table;
    assert_int_equal(fs_table_init(&table, 3, NULL), FACESIM_OK);
    fs_table_set_align(&table, 1, FS_TABLE_RIGHT);
    fs_table_add(&table, "file");
    fs_table_add(&table, "score");
    fs_table_add(&table, "note");
    fs_table_add(&table, "caf\xc3\xa9.jpg"); /* 8 code points, 9 bytes */
    fs_table_addf(&table, "%.3f", 0.5);
    fs_table_add(&table, "");
    fs_table_add(&table, "a.png");
    fs_table_addf(&table, "%.3f", 10.25);
    fs_table_add(&table, "padded");

    test_memory_file memory;
    test_memory_open(&memory);
    assert_int_equal(fs_table_print(&table, memory.file, "  ", NULL), FACESIM_OK);
    test_memory_close(&memory);
    assert_string_equal(memory.data,
                        "  file       score  note\n"
                        "  caf\xc3\xa9.jpg   0.500\n"
                        "  a.png     10.250  padded\n");
    free(memory.data);
    fs_table_free(&table);
}

static void table_rejects_bad_column_count(void **state)
{
    fs_table table;
    fs_error err;
    assert_int_equal(fs_table_init(&table, 0, &err), FACESIM_ERR_INVALID_ARGUMENT);
    assert_int_equal(fs_table_init(&table, FS_TABLE_MAX_COLUMNS + 1, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    fs_table_free(&table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stats_known_values),
        cmocka_unit_test(stats_random_against_naive),
        cmocka_unit_test(stats_empty_is_nan),
        cmocka_unit_test(stats_rejects_nan),
        cmocka_unit_test(auc_hand_computed),
        cmocka_unit_test(auc_ties_count_half),
        cmocka_unit_test(auc_random_against_pair_count),
        cmocka_unit_test(auc_one_class_is_nan),
        cmocka_unit_test(accuracy_hand_computed),
        cmocka_unit_test(best_threshold_random_against_brute),
        cmocka_unit_test(best_threshold_separable),
        cmocka_unit_test(tar_at_far_random_against_brute),
        cmocka_unit_test(tar_at_far_rejects_bad_target),
        cmocka_unit_test(json_compact_exact),
        cmocka_unit_test(json_pretty_exact),
        cmocka_unit_test(json_escapes_strings),
        cmocka_unit_test(json_random_strings_round_trip),
        cmocka_unit_test(json_numbers_parse_back),
        cmocka_unit_test(json_misuse_is_reported),
        cmocka_unit_test(json_too_deep_is_reported),
        cmocka_unit_test(json_write_error_is_reported),
        cmocka_unit_test(csv_quotes_exact),
        cmocka_unit_test(csv_random_fields_round_trip),
        cmocka_unit_test(csv_open_row_is_reported),
        cmocka_unit_test(npy_header_and_data),
        cmocka_unit_test(npy_extra_row_is_rejected),
        cmocka_unit_test(table_aligns_columns),
        cmocka_unit_test(table_rejects_bad_column_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

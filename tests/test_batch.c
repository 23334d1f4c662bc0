/*
 * Tests of batch evaluation: the pair-list reader, SHA-256, the embedding cache and
 * the summary (library calls), then `facesim pairs`, `facesim dirs` and
 * `facesim merge` run as a user would ($FACESIM_CLI) on the shared photos.
 *
 * Pairs come from $FACESIM_SHARED_DIR/faces/identities.csv: every two of the 29
 * photos (406 pairs, 61 of the same person). Summary statistics are recomputed here
 * from the rows the program printed. The library tests always run; the program tests
 * exit 77 (skipped) when the program, the photos or the models are missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "eval/cache.h"
#include "eval/job.h"
#include "eval/pair_list.h"
#include "support/cli_run.h"
#include "support/data_files.h"
#include "support/pack_links.h"

#define TEST_MAX_PHOTOS 64
#define TEST_MAX_ROWS 4096

static const char *test_cli_path;
static char test_work[2048];       /* scratch directory */
static char test_faces[4096];      /* $FACESIM_SHARED_DIR/faces */
static char test_cases[4096];      /* $FACESIM_SHARED_DIR/cases */
static char test_default_pack[4096];
static char test_scrfd_pack[4096]; /* shared SCRFD detector + default recogniser */
static char test_all_pairs[4200];  /* labelled CSV of all 406 pairs, absolute paths */

/* ---- helpers ---- */

static double test_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec * 1e-9;
}

/* Runs the program with args (NULL-terminated, without the program name). */
static void test_run_cli(cli_run *run, const char *const *args)
{
    cli_run_checked(run, test_work, test_cli_path, NULL, args);
}

/* Returns the number after the first "key": at or after from, or fails. */
static double test_json_number(const char *from, const char *key)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *at = strstr(from, pattern);
    if (!at)
        fail_msg("key \"%s\" missing", key);
    at += strlen(pattern);
    if (strncmp(at, "null", 4) == 0)
        return NAN;
    char *end;
    double value = strtod(at, &end);
    if (end == at)
        fail_msg("key \"%s\" is not a number: %.40s", key, at);
    return value;
}

/* Rows read back from a --json document. */
typedef struct test_rows {
    size_t count;
    double cosine[TEST_MAX_ROWS];  /* NaN for a failed row */
    int label[TEST_MAX_ROWS];      /* -1 for none */
    size_t index[TEST_MAX_ROWS];
    char path_a[TEST_MAX_ROWS][64];/* file name of path_a */
    char path_b[TEST_MAX_ROWS][64];/* file name of path_b */
} test_rows;

/* Copies the file name (after the last '/') of the string value of key. */
static void test_json_file_name(const char *from, const char *key, char *name, size_t size)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\": \"", key);
    const char *path = strstr(from, pattern);
    assert_non_null(path);
    path += strlen(pattern);
    const char *end = strchr(path, '"');
    const char *slash = path;
    for (const char *p = path; p < end; p++)
        if (*p == '/')
            slash = p + 1;
    snprintf(name, size, "%.*s", (int)(end - slash), slash);
}

/* Reads every row object of a pretty-printed --json document (one key per line). */
static void test_parse_rows(const char *json, test_rows *rows)
{
    memset(rows, 0, sizeof *rows);
    const char *summary = strstr(json, "\"summary\": {");
    assert_non_null(summary);
    const char *at = json;
    while ((at = strstr(at, "\"index\": ")) != NULL && at < summary) {
        assert_true(rows->count < TEST_MAX_ROWS);
        size_t r = rows->count++;
        rows->index[r] = (size_t)test_json_number(at, "index");
        rows->cosine[r] = test_json_number(at, "cosine");
        double label = test_json_number(at, "label");
        rows->label[r] = isnan(label) ? -1 : (int)label;
        test_json_file_name(at, "path_a", rows->path_a[r], sizeof rows->path_a[r]);
        test_json_file_name(at, "path_b", rows->path_b[r], sizeof rows->path_b[r]);
        at++;
    }
}

/* The summary object's text, for comparing two documents. Returned malloc'd. */
static char *test_summary_text(const char *json)
{
    const char *start = strstr(json, "\"summary\": {");
    assert_non_null(start);
    const char *end = strstr(start, "\n  }");
    assert_non_null(end);
    return strndup(start, (size_t)(end - start));
}

static int test_compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Checks the summary of a --json document against statistics recomputed from its
 * rows: count, mean, population std, median, min, max and, with labels, ROC AUC by
 * counting every positive-negative pair. */
static void test_check_summary(const char *json, const test_rows *rows, double *auc_out)
{
    const char *summary = strstr(json, "\"summary\": {");
    double values[TEST_MAX_ROWS];
    size_t n = 0;
    double sum = 0.0;
    for (size_t r = 0; r < rows->count; r++)
        if (!isnan(rows->cosine[r])) {
            values[n++] = rows->cosine[r];
            sum += rows->cosine[r];
        }
    assert_true(n > 0);
    double mean = sum / n, squares = 0.0;
    for (size_t i = 0; i < n; i++)
        squares += (values[i] - mean) * (values[i] - mean);
    qsort(values, n, sizeof *values, test_compare_doubles);
    double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;

    assert_int_equal((size_t)test_json_number(summary, "scored"), n);
    /* The summary prints 6 decimals. */
    assert_true(fabs(test_json_number(summary, "mean") - mean) < 1e-6);
    assert_true(fabs(test_json_number(summary, "std") - sqrt(squares / n)) < 1e-6);
    assert_true(fabs(test_json_number(summary, "median") - median) < 1e-6);
    assert_true(fabs(test_json_number(summary, "min") - values[0]) < 1e-6);
    assert_true(fabs(test_json_number(summary, "max") - values[n - 1]) < 1e-6);

    double wins = 0.0;
    size_t positives = 0, negatives = 0;
    for (size_t i = 0; i < rows->count; i++) {
        if (isnan(rows->cosine[i]) || rows->label[i] != 1)
            continue;
        positives++;
        for (size_t j = 0; j < rows->count; j++) {
            if (isnan(rows->cosine[j]) || rows->label[j] != 0)
                continue;
            wins += rows->cosine[i] > rows->cosine[j] ? 1.0
                    : rows->cosine[i] == rows->cosine[j] ? 0.5 : 0.0;
        }
    }
    for (size_t j = 0; j < rows->count; j++)
        negatives += !isnan(rows->cosine[j]) && rows->label[j] == 0;
    if (positives && negatives) {
        double auc = wins / ((double)positives * negatives);
        assert_true(fabs(test_json_number(summary, "roc_auc") - auc) < 1e-6);
        if (auc_out)
            *auc_out = auc;
    }
}

/* Writes a labelled pair list of every two photos in identities.csv, each name
 * behind folder ("DIR/"). first_count limits it to the first photos (0: all). Labels
 * alternate between the 1/0 and same/different spellings. */
static size_t test_write_identity_pairs(const char *path, size_t first_count, char delimiter,
                                        const char *folder, bool header)
{
    char identities[4200];
    snprintf(identities, sizeof identities, "%s/identities.csv", test_faces);
    char *text = data_read_file(identities, NULL);
    assert_non_null(text);
    char names[TEST_MAX_PHOTOS][64], people[TEST_MAX_PHOTOS][64];
    size_t count = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        char *comma = strchr(line, ',');
        if (!comma || strncmp(line, "file,", 5) == 0 || count == TEST_MAX_PHOTOS)
            continue;
        *comma = '\0';
        snprintf(names[count], sizeof names[count], "%s", line);
        snprintf(people[count], sizeof people[count], "%s", comma + 1);
        count++;
    }
    free(text);
    if (first_count && first_count < count)
        count = first_count;

    FILE *file = fopen(path, "w");
    assert_non_null(file);
    if (header)
        fprintf(file, "image_a%cimage_b%csame\n", delimiter, delimiter);
    size_t pairs = 0;
    for (size_t i = 0; i < count; i++)
        for (size_t j = i + 1; j < count; j++) {
            fprintf(file, "%s%s%c%s%s%c%s\n", folder, names[i], delimiter, folder, names[j],
                    delimiter,
                    strcmp(people[i], people[j]) == 0 ? (pairs % 2 ? "same" : "1")
                                                      : (pairs % 2 ? "different" : "0"));
            pairs++;
        }
    assert_int_equal(fclose(file), 0);
    return pairs;
}

/* ---- library: SHA-256 ---- */

static void test_hex(const uint8_t *digest, char *hex)
{
    for (int i = 0; i < FS_SHA256_SIZE; i++)
        sprintf(hex + 2 * i, "%02x", digest[i]);
}

static void sha256_known_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *digest;
    } vectors[] = {
        /* FIPS 180-4 examples */
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t v = 0; v < sizeof vectors / sizeof vectors[0]; v++) {
        fs_sha256 sha;
        uint8_t digest[FS_SHA256_SIZE];
        char hex[2 * FS_SHA256_SIZE + 1];
        fs_sha256_init(&sha);
        /* Fed one byte at a time to cross block boundaries. */
        for (const char *p = vectors[v].text; *p; p++)
            fs_sha256_update(&sha, p, 1);
        fs_sha256_final(&sha, digest);
        test_hex(digest, hex);
        assert_string_equal(hex, vectors[v].digest);
    }
}

/* ---- library: pair lists ---- */

static void pair_list_csv_header_quotes(void **state)
{
    (void)state;
    char path[4200];
    snprintf(path, sizeof path, "%s/quoted.csv", test_work);
    data_write_file(path, "\xEF\xBB\xBFpath_a,path_b,label\r\n"
                          "# a comment\r\n"
                          "\"a, b.jpg\",sub/c.png,Same\r\n"
                          "\r\n"
                          "/abs/d.jpg,\"say \"\"hi\"\".png\",0\r\n");
    fs_pair_list list;
    fs_error err;
    assert_int_equal(fs_pair_list_load(path, &list, &err), FACESIM_OK);
    assert_int_equal(list.count, 2);
    assert_true(list.had_header);
    assert_true(list.has_labels);
    assert_string_equal(list.pairs[0].path_a, "a, b.jpg");
    assert_int_equal(list.pairs[0].label, 1);
    assert_int_equal(list.pairs[0].line, 3);
    char expected[4300];
    snprintf(expected, sizeof expected, "%s/sub/c.png", test_work);
    assert_string_equal(list.pairs[0].resolved_b, expected);
    assert_string_equal(list.pairs[1].resolved_a, "/abs/d.jpg");
    assert_string_equal(list.pairs[1].path_b, "say \"hi\".png");
    assert_int_equal(list.pairs[1].label, 0);
    fs_pair_list_free(&list);
}

static void pair_list_tsv_from_content(void **state)
{
    (void)state;
    char path[4200];
    snprintf(path, sizeof path, "%s/list.txt", test_work);
    data_write_file(path, "a.jpg\tb, c.jpg\n\"q.jpg\"\tr.jpg\n");
    fs_pair_list list;
    fs_error err;
    assert_int_equal(fs_pair_list_load(path, &list, &err), FACESIM_OK);
    assert_int_equal(list.delimiter, '\t');
    assert_false(list.had_header);
    assert_false(list.has_labels);
    assert_int_equal(list.count, 2);
    assert_string_equal(list.pairs[0].path_b, "b, c.jpg");
    /* TSV fields are literal: quotes stay. */
    assert_string_equal(list.pairs[1].path_a, "\"q.jpg\"");
    assert_int_equal(list.pairs[1].label, FS_PAIR_NO_LABEL);
    fs_pair_list_free(&list);
}

static void pair_list_errors_name_line(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *needle;
    } cases[] = {
        {"a.jpg,b.jpg,1\nc.jpg,d.jpg,maybe\n", ":2: invalid label 'maybe'"},
        {"a.jpg,b.jpg,1\nc.jpg,d.jpg\n", ":2: this row has no label"},
        {"a.jpg,b.jpg\nc.jpg\n", ":2: expected 2 or 3"},
        {"a.jpg,\"b.jpg\n", "quoted field is not closed"},
        {"path_a,path_b\n", "no pairs found"},
        {"a.jpg,b.jpg,1,extra\n", "found 4"},
    };
    char path[4200];
    snprintf(path, sizeof path, "%s/bad.csv", test_work);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        data_write_file(path, cases[c].text);
        fs_pair_list list;
        fs_error err;
        fs_error_clear(&err);
        assert_int_equal(fs_pair_list_load(path, &list, &err), FACESIM_ERR_INVALID_DATA);
        if (!strstr(err.message, cases[c].needle))
            fail_msg("case %zu: message '%s' lacks '%s'", c, err.message, cases[c].needle);
        assert_non_null(strstr(err.message, "bad.csv"));
        assert_int_equal(list.count, 0);
    }
    fs_pair_list list;
    fs_error err;
    snprintf(path, sizeof path, "%s/no_such_list.csv", test_work);
    assert_int_equal(fs_pair_list_load(path, &list, &err), FACESIM_ERR_IO);
    assert_non_null(strstr(err.message, "no_such_list.csv"));
}

/* ---- library: cache ---- */

static void test_cache_record(fs_cache_record *record, float *embedding, int dim, int seed)
{
    memset(record, 0, sizeof *record);
    for (int i = 0; i < FS_SHA256_SIZE; i++)
        record->key[i] = (uint8_t)(seed * 31 + i);
    record->face.box[0] = (float)seed;
    record->face.score = 0.5f;
    record->face_count = seed;
    for (int i = 0; i < dim; i++)
        embedding[i] = (float)(seed + i) / (float)dim;
    record->embedding = embedding;
}

static void cache_survives_torn_record(void **state)
{
    (void)state;
    const int dim = 16;
    char path[4200];
    snprintf(path, sizeof path, "%s/torn.cache", test_work);
    unlink(path);
    fs_cache *cache;
    fs_error err;
    float embedding[16];
    fs_cache_record record, found;
    assert_int_equal(fs_cache_open(path, dim, &cache, &err), FACESIM_OK);
    for (int seed = 1; seed <= 2; seed++) {
        test_cache_record(&record, embedding, dim, seed);
        assert_int_equal(fs_cache_append(cache, &record, &err), FACESIM_OK);
    }
    fs_cache_close(cache);
    struct stat info;
    assert_int_equal(stat(path, &info), 0);
    off_t whole = info.st_size;

    /* A crash in the middle of the third record leaves half of it. */
    FILE *file = fopen(path, "ab");
    assert_non_null(file);
    fwrite("FSC1\x01\x02\x03", 1, 7, file);
    fclose(file);

    assert_int_equal(fs_cache_open(path, dim, &cache, &err), FACESIM_OK);
    assert_int_equal(fs_cache_count(cache), 2);
    assert_int_equal(stat(path, &info), 0);
    assert_int_equal(info.st_size, whole);
    test_cache_record(&record, embedding, dim, 2);
    assert_int_equal(fs_cache_lookup(cache, record.key, &found), 1);
    assert_int_equal(found.face_count, 2);
    assert_true(memcmp(found.embedding, embedding, sizeof embedding) == 0);
    test_cache_record(&record, embedding, dim, 3);
    assert_int_equal(fs_cache_lookup(cache, record.key, &found), 0);
    assert_int_equal(fs_cache_append(cache, &record, &err), FACESIM_OK);
    fs_cache_close(cache);

    assert_int_equal(fs_cache_open(path, dim, &cache, &err), FACESIM_OK);
    assert_int_equal(fs_cache_count(cache), 3);
    fs_cache_close(cache);
    /* Records of another embedding length stay in the file but are not loaded. */
    assert_int_equal(fs_cache_open(path, dim * 2, &cache, &err), FACESIM_OK);
    assert_int_equal(fs_cache_count(cache), 0);
    fs_cache_close(cache);
}

static void cache_rejects_foreign_file(void **state)
{
    (void)state;
    char path[4200];
    snprintf(path, sizeof path, "%s/not_a_cache.csv", test_work);
    data_write_file(path, "a,b,c\n1,2,3\n");
    fs_cache *cache;
    fs_error err;
    assert_int_equal(fs_cache_open(path, 8, &cache, &err), FACESIM_ERR_INVALID_DATA);
    assert_null(cache);
    assert_non_null(strstr(err.message, "not_a_cache.csv"));
    char *text = data_read_file(path, NULL);
    assert_string_equal(text, "a,b,c\n1,2,3\n");
    free(text);
}

/* ---- library: summary ---- */

static void summary_tar_needs_negatives(void **state)
{
    (void)state;
    float scores[300];
    uint8_t labels[300];
    for (int i = 0; i < 300; i++) {
        labels[i] = i < 150;
        scores[i] = labels[i] ? 0.5f + i * 0.001f : -0.2f + i * 0.001f;
    }
    fs_job_summary summary;
    fs_error err;
    assert_int_equal(fs_job_summarize(scores, labels, 300, 2, 3, 0.3, &summary, &err),
                     FACESIM_OK);
    assert_int_equal(summary.rows, 305);
    assert_int_equal(summary.negatives, 150);
    assert_true(summary.tar_enough[0]);   /* 150 >= 100 */
    assert_false(summary.tar_enough[1]);  /* 150 < 1000 */
    assert_true(fabs(summary.tar[0].tar - 1.0) < 1e-12);
    assert_true(fabs(summary.auc - 1.0) < 1e-12);
    assert_true(summary.tar[0].far <= 1e-2);
}

/* Prints the summary of the given rows into a malloc'd string. */
static char *test_print_summary(const float *scores, const uint8_t *labels, size_t count)
{
    fs_job_summary summary;
    fs_error err;
    assert_int_equal(fs_job_summarize(scores, labels, count, 0, 0, 0.3, &summary, &err),
                     FACESIM_OK);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_non_null(out);
    fs_job_print_summary(out, &summary);
    assert_int_equal(fclose(out), 0);
    return text;
}

static void summary_text_explains_missing_tar(void **state)
{
    (void)state;
    const float scores[3] = {0.8f, 0.7f, -0.1f};

    /* One negative pair: far fewer than the 100 a FAR of 1e-2 needs. */
    const uint8_t one_negative[3] = {1, 1, 0};
    char *text = test_print_summary(scores, one_negative, 3);
    if (!strstr(text, "not enough pairs (1 negative pair, 100 needed)"))
        fail_msg("summary lacks the negative-pair count:\n%s", text);
    free(text);

    /* No same-person pair: the TAR is undefined whatever the negatives. */
    const uint8_t no_positive[3] = {0, 0, 0};
    text = test_print_summary(scores, no_positive, 3);
    if (!strstr(text, "not enough pairs (no same-person pair)"))
        fail_msg("summary does not say that same-person pairs are missing:\n%s", text);
    free(text);
}

/* ---- program: pairs ---- */

static void test_check_all_pairs(const char *pack)
{
    char out[4200];
    snprintf(out, sizeof out, "%s/all_pairs.json", test_work);
    cli_run run;
    test_run_cli(&run, (const char *const[]){"pairs", "--models", pack, "--threads", "2",
                                             "--json", "-o", out, test_all_pairs, NULL});
    cli_expect_exit(&run, 0);
    char *json = data_read_file(out, NULL);
    assert_non_null(json);
    static test_rows rows;
    test_parse_rows(json, &rows);
    assert_int_equal(rows.count, 406);
    double auc = 0.0;
    test_check_summary(json, &rows, &auc);
    assert_true(auc == 1.0);
    const char *summary = strstr(json, "\"summary\": {");
    assert_int_equal((int)test_json_number(summary, "positives"), 61);
    assert_int_equal((int)test_json_number(summary, "negatives"), 345);
    assert_non_null(strstr(summary, "\"tar_at_far_1e-3\": \"not enough pairs\""));
    assert_true(test_json_number(summary, "accuracy") > 0.99);
    free(json);
    cli_run_free(&run);
}

static void pairs_all_scrfd_auc_one(void **state)
{
    (void)state;
    test_check_all_pairs(test_scrfd_pack);
}

static void pairs_all_default_pack_auc_one(void **state)
{
    (void)state;
    test_check_all_pairs(test_default_pack);
}

/* The SCRFD pack is the combination reference_pipeline.py used for
 * faces/reference_pairs.csv; cosines must agree with it. */
static void pairs_match_reference_cosines(void **state)
{
    (void)state;
    char out[4200], reference_path[4200];
    snprintf(out, sizeof out, "%s/all_pairs_reference.json", test_work);
    snprintf(reference_path, sizeof reference_path, "%s/reference_pairs.csv", test_faces);
    cli_run run;
    test_run_cli(&run, (const char *const[]){"pairs", "--models", test_scrfd_pack, "--json",
                                             "-o", out, test_all_pairs, NULL});
    cli_expect_exit(&run, 0);
    char *json = data_read_file(out, NULL);
    char *reference = data_read_file(reference_path, NULL);
    assert_non_null(json);
    assert_non_null(reference);
    static test_rows rows;
    test_parse_rows(json, &rows);
    size_t compared = 0;
    char *save = NULL;
    for (char *line = strtok_r(reference, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char a[64], b[64];
        int same;
        double cosine;
        if (sscanf(line, "%63[^,],%63[^,],%d,%lf", a, b, &same, &cosine) != 4)
            continue;
        for (size_t r = 0; r < rows.count; r++) {
            if (strcmp(rows.path_a[r], a) != 0 || strcmp(rows.path_b[r], b) != 0)
                continue;
            if (fabs(rows.cosine[r] - cosine) > 2e-3)
                fail_msg("%s-%s: cosine %.5f, reference %.5f", a, b, rows.cosine[r], cosine);
            compared++;
        }
    }
    assert_int_equal(compared, 406);
    free(json);
    free(reference);
    cli_run_free(&run);
}

/* A list with missing, corrupt and faceless images: every row is reported, the good
 * pairs are scored and the exit code is 1. */
static void pairs_bad_rows_counted(void **state)
{
    (void)state;
    static const char *const damaged[] = {
        "does_not_exist.jpg", "zero_bytes.jpg", "text_file_named_jpg.jpg",
        "truncated_at_15pct.jpg", "png_bad_crc_in_IDAT.png", "png_header_claims_40000x40000.png",
    };
    char list_path[4200], out[4200];
    snprintf(list_path, sizeof list_path, "%s/bad_rows.csv", test_work);
    snprintf(out, sizeof out, "%s/bad_rows.json", test_work);
    FILE *list = fopen(list_path, "w");
    assert_non_null(list);
    const char *folder = "20_corrupt_truncated_files";
    for (size_t i = 0; i < sizeof damaged / sizeof damaged[0]; i++)
        fprintf(list, "%s/%s/good_control.jpg,%s/%s/%s\n", test_cases, folder, test_cases, folder,
                damaged[i]);
    fprintf(list, "%s/14_no_face/uniform_gray_640x480.png,%s/%s/good_control.png\n", test_cases,
            test_cases, folder);
    fprintf(list, "%s/%s/good_control.jpg,%s/%s/good_control.png\n", test_cases, folder,
            test_cases, folder);
    fclose(list);

    cli_run run;
    test_run_cli(&run, (const char *const[]){"pairs", "--models", test_default_pack, "--json",
                                             "-o", out, list_path, NULL});
    cli_expect_exit(&run, 1);
    char *json = data_read_file(out, NULL);
    assert_non_null(json);
    static test_rows rows;
    test_parse_rows(json, &rows);
    assert_int_equal(rows.count, 8);
    const char *summary = strstr(json, "\"summary\": {");
    assert_int_equal((int)test_json_number(summary, "rows"), 8);
    assert_int_equal((int)test_json_number(summary, "scored"), 1);
    assert_int_equal((int)test_json_number(summary, "no_face"), 1);
    assert_int_equal((int)test_json_number(summary, "errors"), 6);
    assert_true(rows.cosine[7] >= 0.95);
    for (size_t r = 0; r < 6; r++) {
        assert_true(isnan(rows.cosine[r]));
        /* The error names the failing file. */
        char key[64];
        snprintf(key, sizeof key, "\"index\": %zu,", r);
        const char *row = strstr(json, key);
        const char *error = strstr(row, "\"error\": \"");
        assert_non_null(error);
        const char *line_end = strchr(error, '\n');
        const char *name = strstr(error, damaged[r]);
        if (!name || name > line_end)
            fail_msg("row %zu error does not name %s", r, damaged[r]);
    }
    assert_non_null(strstr(json, "\"error_kind\": \"no face\""));
    assert_non_null(strstr(json, "\"error_kind\": \"I/O error\""));
    free(json);
    cli_run_free(&run);
}

/* The same pairs as CSV with a header and as TSV with relative paths give the same
 * cosines. The table output lists every row, then the summary. */
static void pairs_csv_tsv_lists_agree(void **state)
{
    (void)state;
    char csv_path[4200], tsv_path[4200], out_csv[4200], out_tsv[4200], faces_link[4200];
    char absolute[4200];
    snprintf(csv_path, sizeof csv_path, "%s/few.csv", test_work);
    snprintf(tsv_path, sizeof tsv_path, "%s/few.tsv", test_work);
    snprintf(out_csv, sizeof out_csv, "%s/few_csv.json", test_work);
    snprintf(out_tsv, sizeof out_tsv, "%s/few_tsv.json", test_work);
    /* The TSV names photos relative to its own folder, through a link to the photos. */
    snprintf(faces_link, sizeof faces_link, "%s/faces_link", test_work);
    unlink(faces_link);
    assert_int_equal(symlink(test_faces, faces_link), 0);
    snprintf(absolute, sizeof absolute, "%s/", test_faces);
    size_t pairs = test_write_identity_pairs(csv_path, 6, ',', absolute, true);
    assert_int_equal(test_write_identity_pairs(tsv_path, 6, '\t', "faces_link/", false), pairs);

    cli_run run;
    test_run_cli(&run, (const char *const[]){"pairs", "--models", test_default_pack, "--json",
                                             "-o", out_csv, csv_path, NULL});
    cli_expect_exit(&run, 0);
    cli_run_free(&run);
    test_run_cli(&run, (const char *const[]){"pairs", "--models", test_default_pack, "--json",
                                             "-o", out_tsv, tsv_path, NULL});
    cli_expect_exit(&run, 0);
    cli_run_free(&run);
    char *a = data_read_file(out_csv, NULL), *b = data_read_file(out_tsv, NULL);
    static test_rows rows_a, rows_b;
    test_parse_rows(a, &rows_a);
    test_parse_rows(b, &rows_b);
    assert_int_equal(rows_a.count, pairs);
    assert_int_equal(rows_b.count, pairs);
    for (size_t r = 0; r < pairs; r++) {
        assert_true(rows_a.cosine[r] == rows_b.cosine[r]);
        assert_int_equal(rows_a.label[r], rows_b.label[r]);
    }
    free(a);
    free(b);

    test_run_cli(&run, (const char *const[]){"pairs", "--models", test_default_pack, csv_path,
                                             NULL});
    cli_expect_exit(&run, 0);
    assert_non_null(strstr(run.out, "Summary"));
    assert_non_null(strstr(run.out, "ROC AUC"));
    /* The header, one line per pair and a blank line come before the summary. */
    size_t lines = 0;
    for (const char *p = run.out; p < strstr(run.out, "\nSummary"); p++)
        lines += *p == '\n';
    assert_int_equal(lines, pairs + 1);
    cli_run_free(&run);
}

static void pairs_cache_rerun_identical(void **state)
{
    (void)state;
    char cache[4200], first[4200], second[4200];
    snprintf(cache, sizeof cache, "%s/pairs.cache", test_work);
    snprintf(first, sizeof first, "%s/cache_first.csv", test_work);
    snprintf(second, sizeof second, "%s/cache_second.csv", test_work);
    unlink(cache);
    cli_run run1, run2;
    test_run_cli(&run1, (const char *const[]){"pairs", "--models", test_scrfd_pack, "--csv",
                                              "--cache", cache, "-o", first, test_all_pairs,
                                              NULL});
    cli_expect_exit(&run1, 0);
    struct stat info;
    assert_int_equal(stat(cache, &info), 0);
    off_t size = info.st_size;
    assert_true(size > 29 * 512 * 4); /* a record per photo */

    test_run_cli(&run2, (const char *const[]){"pairs", "--models", test_scrfd_pack, "--csv",
                                              "--cache", cache, "-o", second, test_all_pairs,
                                              NULL});
    cli_expect_exit(&run2, 0);
    char *a = data_read_file(first, NULL), *b = data_read_file(second, NULL);
    assert_string_equal(a, b);
    /* Nothing new was embedded, so nothing was appended. */
    assert_int_equal(stat(cache, &info), 0);
    assert_int_equal(info.st_size, size);
    if (!(run2.seconds < run1.seconds * 0.6))
        fail_msg("cached rerun took %.2f s, the first run %.2f s", run2.seconds, run1.seconds);

    /* A changed option that alters embeddings misses the cache. */
    cli_run run3;
    test_run_cli(&run3, (const char *const[]){"pairs", "--models", test_scrfd_pack, "--csv",
                                              "--det-size", "320", "--cache", cache, "-o",
                                              second, test_all_pairs, NULL});
    cli_expect_exit(&run3, 0);
    assert_int_equal(stat(cache, &info), 0);
    assert_true(info.st_size > size);
    free(a);
    free(b);
    cli_run_free(&run1);
    cli_run_free(&run2);
    cli_run_free(&run3);
}

static void pairs_shards_merge_to_one_run(void **state)
{
    (void)state;
    char whole[4200], shard_paths[3][4200], merged[4200];
    snprintf(whole, sizeof whole, "%s/whole.json", test_work);
    snprintf(merged, sizeof merged, "%s/merged.json", test_work);
    cli_run run;
    test_run_cli(&run, (const char *const[]){"pairs", "--models", test_default_pack, "--json",
                                             "-o", whole, test_all_pairs, NULL});
    cli_expect_exit(&run, 0);
    cli_run_free(&run);
    for (int k = 0; k < 3; k++) {
        char shard[16];
        snprintf(shard, sizeof shard, "%d/3", k + 1);
        snprintf(shard_paths[k], sizeof shard_paths[k], "%s/shard%d.json", test_work, k + 1);
        test_run_cli(&run, (const char *const[]){"pairs", "--models", test_default_pack,
                                                 "--json", "--shard", shard, "-o",
                                                 shard_paths[k], test_all_pairs, NULL});
        cli_expect_exit(&run, 0);
        cli_run_free(&run);
        char *json = data_read_file(shard_paths[k], NULL);
        static test_rows rows;
        test_parse_rows(json, &rows);
        for (size_t r = 0; r < rows.count; r++)
            assert_int_equal(rows.index[r] % 3, (size_t)k);
        free(json);
    }
    /* Shards given out of order. */
    test_run_cli(&run, (const char *const[]){"merge", "-q", "-o", merged, shard_paths[2],
                                             shard_paths[0], shard_paths[1], NULL});
    cli_expect_exit(&run, 0);
    cli_run_free(&run);

    char *one = data_read_file(whole, NULL), *joined = data_read_file(merged, NULL);
    char *summary_one = test_summary_text(one), *summary_joined = test_summary_text(joined);
    assert_string_equal(summary_one, summary_joined);
    static test_rows rows_one, rows_joined;
    test_parse_rows(one, &rows_one);
    test_parse_rows(joined, &rows_joined);
    assert_int_equal(rows_joined.count, 406);
    for (size_t r = 0; r < 406; r++) {
        assert_int_equal(rows_joined.index[r], r);
        assert_true(rows_one.cosine[r] == rows_joined.cosine[r]);
    }

    /* A missing shard is reported and gives exit code 1. */
    test_run_cli(&run, (const char *const[]){"merge", "-o", merged, shard_paths[0],
                                             shard_paths[1], NULL});
    cli_expect_exit(&run, 1);
    assert_non_null(strstr(run.err, "shard 3/3 is missing"));
    cli_run_free(&run);
    /* The same shard twice is an error. */
    test_run_cli(&run, (const char *const[]){"merge", "-o", merged, shard_paths[0],
                                             shard_paths[0], NULL});
    cli_expect_exit(&run, 4);
    cli_run_free(&run);
    free(summary_one);
    free(summary_joined);
    free(one);
    free(joined);
}

static void pairs_plot_writes_svg(void **state)
{
    (void)state;
    char list[4200], plot[4200];
    snprintf(list, sizeof list, "%s/plot.csv", test_work);
    snprintf(plot, sizeof plot, "%s/plot.svg", test_work);
    unlink(plot);
    char folder[4200];
    snprintf(folder, sizeof folder, "%s/", test_faces);
    test_write_identity_pairs(list, 8, ',', folder, false);
    cli_run run;
    test_run_cli(&run, (const char *const[]){"pairs", "--models", test_default_pack, "--csv",
                                             "--plot", plot, list, NULL});
    cli_expect_exit(&run, 0);
    char *svg = data_read_file(plot, NULL);
    assert_non_null(svg);
    assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(svg, "</svg>"));
    assert_non_null(strstr(svg, "threshold 0.30"));
    assert_non_null(strstr(svg, "same person ("));
    assert_non_null(strstr(svg, "<rect x="));
    free(svg);
    cli_run_free(&run);
}

/* Tight 112x112 crops need the padded retry with the SCRFD pack; the batch job pads
 * as facesim_embed_image does, so its cosines equal those of `facesim compare`. */
static void pairs_pad_retry_matches_compare(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"jolie_a_full.jpg", "jolie_b_aligned112.png"},
        {"musk_full.jpg", "musk_aligned112.png"},
    };
    char list_path[4200], out[4200], a[4300], b[4300];
    snprintf(list_path, sizeof list_path, "%s/pad_retry.csv", test_work);
    snprintf(out, sizeof out, "%s/pad_retry.json", test_work);
    FILE *list = fopen(list_path, "w");
    assert_non_null(list);
    for (size_t p = 0; p < 2; p++)
        fprintf(list, "%s/08_already_aligned_112/%s,%s/08_already_aligned_112/%s\n", test_cases,
                pairs[p][0], test_cases, pairs[p][1]);
    fclose(list);

    cli_run run;
    test_run_cli(&run, (const char *const[]){"pairs", "--models", test_scrfd_pack, "--json",
                                             "-o", out, list_path, NULL});
    cli_expect_exit(&run, 1); /* without --pad-retry the crops have no face */
    cli_run_free(&run);
    test_run_cli(&run, (const char *const[]){"pairs", "--models", test_scrfd_pack, "--json",
                                             "--pad-retry", "-o", out, list_path, NULL});
    cli_expect_exit(&run, 0);
    cli_run_free(&run);
    char *json = data_read_file(out, NULL);
    static test_rows rows;
    test_parse_rows(json, &rows);
    assert_int_equal(rows.count, 2);
    for (size_t p = 0; p < 2; p++) {
        snprintf(a, sizeof a, "%s/08_already_aligned_112/%s", test_cases, pairs[p][0]);
        snprintf(b, sizeof b, "%s/08_already_aligned_112/%s", test_cases, pairs[p][1]);
        test_run_cli(&run, (const char *const[]){"compare", "--models", test_scrfd_pack,
                                                 "--pad-retry", a, b, NULL});
        cli_expect_exit(&run, 0);
        const char *cosine = strstr(run.out, "cosine: ");
        assert_non_null(cosine);
        double expected = strtod(cosine + strlen("cosine: "), NULL);
        /* compare prints 4 decimals */
        if (fabs(rows.cosine[p] - expected) > 6e-5)
            fail_msg("%s: pairs %.5f, compare %.4f", pairs[p][1], rows.cosine[p], expected);
        cli_run_free(&run);
    }
    free(json);
}

/* Ctrl-C during a run: exit 130 and a complete JSON document with the rows done. */
static void pairs_sigint_closes_json(void **state)
{
    (void)state;
    char out[4200], err[4200];
    snprintf(out, sizeof out, "%s/interrupted.json", test_work);
    snprintf(err, sizeof err, "%s/interrupted.err", test_work);
    unlink(out); /* the rows of an earlier run must not count as started */
    const char *const args[] = {"pairs", "--models", test_scrfd_pack, "--json", "--threads", "1",
                                "--batch", "1", "--no-progress", test_all_pairs, NULL};
    pid_t pid = cli_spawn(test_cli_path, NULL, args, out, err);
    assert_true(pid > 0);
    /* Wait for the first rows, then interrupt. */
    double deadline = test_now() + 120.0;
    for (;;) {
        char *text = data_read_file(out, NULL);
        bool started = text && strstr(text, "\"index\": 2,");
        free(text);
        if (started || test_now() > deadline)
            break;
        usleep(20 * 1000);
    }
    kill(pid, SIGINT);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status))
        fail_msg("facesim pairs ended by signal %d after SIGINT", WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 130);
    char *json = data_read_file(out, NULL);
    static test_rows rows;
    test_parse_rows(json, &rows);
    assert_true(rows.count >= 3);
    assert_true(rows.count < 406);
    const char *summary = strstr(json, "\"summary\": {");
    assert_int_equal((size_t)test_json_number(summary, "rows"), rows.count);
    assert_non_null(strstr(json, "\"interrupted\": true\n}\n"));
    free(json);
}

/* ---- program: dirs ---- */

static void test_link(const char *target_name, const char *link_path)
{
    char target[4300];
    snprintf(target, sizeof target, "%s/%s", test_faces, target_name);
    unlink(link_path);
    assert_int_equal(symlink(target, link_path), 0);
}

static void dirs_match_by_name_and_prefix(void **state)
{
    (void)state;
    char ref[4200], gen[4200], path[4400];
    snprintf(ref, sizeof ref, "%s/dirs_ref", test_work);
    snprintf(gen, sizeof gen, "%s/dirs_gen", test_work);
    mkdir(ref, 0777);
    mkdir(gen, 0777);
    snprintf(path, sizeof path, "%s/sub", ref);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/sub", gen);
    mkdir(path, 0777);
    static const char *const links[][2] = {
        {"dirs_ref/id01.jpg", "a01.jpg"},     {"dirs_ref/sub/id02.jpg", "b01.jpg"},
        {"dirs_ref/id03.jpg", "c01.jpg"},     {"dirs_gen/id01.png", "a02.jpg"},
        {"dirs_gen/id01_2.jpg", "a03.jpg"},   {"dirs_gen/sub/id02_x.jpg", "b02.jpg"},
        {"dirs_gen/other.jpg", "d01.jpg"},    {"dirs_gen/notes.txt", "identities.csv"},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", test_work, links[i][0]);
        test_link(links[i][1], path);
    }
    char out[4200];
    snprintf(out, sizeof out, "%s/dirs.json", test_work);

    cli_run run;
    test_run_cli(&run, (const char *const[]){"dirs", "--models", test_default_pack, "--json",
                                             "-o", out, ref, gen, NULL});
    cli_expect_exit(&run, 0);
    assert_non_null(strstr(run.err, "3 files in"));
    char *json = data_read_file(out, NULL);
    static test_rows rows;
    test_parse_rows(json, &rows);
    assert_int_equal(rows.count, 1);
    assert_string_equal(rows.path_b[0], "id01.png");
    assert_true(rows.cosine[0] > 0.3); /* a01 and a02: same person */
    free(json);
    cli_run_free(&run);

    test_run_cli(&run, (const char *const[]){"dirs", "--models", test_default_pack, "--json",
                                             "--prefix-match", "-o", out, ref, gen, NULL});
    cli_expect_exit(&run, 0);
    json = data_read_file(out, NULL);
    test_parse_rows(json, &rows);
    assert_int_equal(rows.count, 3);
    assert_string_equal(rows.path_b[0], "id01.png");
    assert_string_equal(rows.path_b[1], "id01_2.jpg");
    assert_string_equal(rows.path_b[2], "id02_x.jpg");
    assert_non_null(strstr(json, "\"path_a\": \"" /* sub folder kept */));
    assert_non_null(strstr(json, "dirs_ref/sub/id02.jpg"));
    for (size_t r = 0; r < 3; r++)
        assert_true(rows.cosine[r] > 0.3);
    assert_int_equal((int)test_json_number(json, "unmatched_ref"), 1);
    assert_int_equal((int)test_json_number(json, "unmatched_gen"), 1);
    free(json);
    cli_run_free(&run);

    snprintf(path, sizeof path, "%s/id01.jpg", ref);
    test_run_cli(&run, (const char *const[]){"dirs", "--models", test_default_pack, "--json",
                                             "--one-ref", path, "-o", out, gen, NULL});
    cli_expect_exit(&run, 0);
    json = data_read_file(out, NULL);
    test_parse_rows(json, &rows);
    assert_int_equal(rows.count, 4);
    assert_string_equal(rows.path_b[2], "other.jpg");
    assert_true(rows.cosine[2] < 0.3); /* a01 and d01: different people */
    free(json);
    cli_run_free(&run);
}

static void usage_errors_exit_2(void **state)
{
    (void)state;
    const char *const *const cases[] = {
        (const char *const[]){"pairs", NULL},
        (const char *const[]){"pairs", "--shard", "3/2", "x.csv", NULL},
        (const char *const[]){"pairs", "--shard", "0/2", "x.csv", NULL},
        (const char *const[]){"pairs", "--threads", "-1", "x.csv", NULL},
        (const char *const[]){"pairs", "--prefix-match", "x.csv", NULL},
        (const char *const[]){"dirs", "onlyone", NULL},
        (const char *const[]){"merge", NULL},
        (const char *const[]){"merge", "-v", "a.json", NULL},
        (const char *const[]){"pairs", "--json", "--jsonl", "x.csv", NULL},
        (const char *const[]){"dirs", "--one-ref", "a.jpg", "--prefix-match", "gen", NULL},
        (const char *const[]){"pairs", "--batch", "65", "x.csv", NULL},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cli_run run;
        test_run_cli(&run, cases[c]);
        if (run.exit_code != 2)
            fail_msg("case %zu (%s): exit code %d, expected 2", c, cases[c][0], run.exit_code);
        assert_non_null(strstr(run.err, "--help"));
        cli_run_free(&run);
    }
}

static void pairs_missing_list_exit_4(void **state)
{
    (void)state;
    char path[4200];
    snprintf(path, sizeof path, "%s/no_such_list.csv", test_work);
    unlink(path);
    cli_run run;
    test_run_cli(&run, (const char *const[]){"pairs", path, NULL});
    cli_expect_exit(&run, 4);
    if (!strstr(run.err, path) || !strstr(run.err, "Check that the pair list exists"))
        fail_msg("stderr lacks the path or the next step:\n%s", run.err);
    assert_string_equal(run.out, "");
    cli_run_free(&run);
}

/* ---- setup ---- */

int main(void)
{
    const char *work = getenv("FACESIM_WORK_DIR");
    snprintf(test_work, sizeof test_work, "%s/batch", work ? work : "/tmp");
    mkdir(test_work, 0777);

    const struct CMUnitTest library_tests[] = {
        cmocka_unit_test(sha256_known_vectors),
        cmocka_unit_test(pair_list_csv_header_quotes),
        cmocka_unit_test(pair_list_tsv_from_content),
        cmocka_unit_test(pair_list_errors_name_line),
        cmocka_unit_test(cache_survives_torn_record),
        cmocka_unit_test(cache_rejects_foreign_file),
        cmocka_unit_test(summary_tar_needs_negatives),
        cmocka_unit_test(summary_text_explains_missing_tar),
    };
    int failed = cmocka_run_group_tests_name("batch library", library_tests, NULL, NULL);

    test_cli_path = getenv("FACESIM_CLI");
    const char *shared = getenv("FACESIM_SHARED_DIR");
    const char *models = getenv("FACESIM_MODEL_DIR");
    if (!test_cli_path || !data_is_file(test_cli_path)) {
        fprintf(stderr, "test_batch: skipped the program tests: FACESIM_CLI is not set; run "
                        "the tests through ctest.\n");
        return failed ? 1 : 77;
    }
    const struct CMUnitTest usage_tests[] = {cmocka_unit_test(usage_errors_exit_2),
                                             cmocka_unit_test(pairs_missing_list_exit_4)};
    failed += cmocka_run_group_tests_name("batch usage", usage_tests, NULL, NULL);

    if (shared) {
        snprintf(test_faces, sizeof test_faces, "%s/faces", shared);
        snprintf(test_cases, sizeof test_cases, "%s/cases", shared);
    }
    if (models)
        snprintf(test_default_pack, sizeof test_default_pack, "%s/default", models);
    if (!shared || !data_is_directory(test_faces) || !data_is_directory(test_cases) ||
        !models || !data_is_directory(test_default_pack) ||
        !pack_make_scrfd(test_scrfd_pack, sizeof test_scrfd_pack, test_work, "scrfd_pack", shared,
                         test_default_pack)) {
        fprintf(stderr, "test_batch: skipped the program tests: they need the photos in "
                        "$FACESIM_SHARED_DIR/faces and cases (%s), the default pack in "
                        "$FACESIM_MODEL_DIR/default (%s) and "
                        "$FACESIM_SHARED_DIR/models/scrfd_500m_bnkps.onnx.\n",
                shared ? shared : "unset", models ? models : "unset");
        return failed ? 1 : 77;
    }
    snprintf(test_all_pairs, sizeof test_all_pairs, "%s/all_pairs.csv", test_work);
    char folder[4200];
    snprintf(folder, sizeof folder, "%s/", test_faces);
    if (test_write_identity_pairs(test_all_pairs, 0, ',', folder, true) != 406) {
        fprintf(stderr, "test_batch: %s/identities.csv does not give the 406 pairs of 29 "
                        "photos these tests expect.\n", test_faces);
        return 1;
    }

    const struct CMUnitTest program_tests[] = {
        cmocka_unit_test(pairs_all_scrfd_auc_one),
        cmocka_unit_test(pairs_all_default_pack_auc_one),
        cmocka_unit_test(pairs_match_reference_cosines),
        cmocka_unit_test(pairs_bad_rows_counted),
        cmocka_unit_test(pairs_csv_tsv_lists_agree),
        cmocka_unit_test(pairs_cache_rerun_identical),
        cmocka_unit_test(pairs_shards_merge_to_one_run),
        cmocka_unit_test(pairs_plot_writes_svg),
        cmocka_unit_test(pairs_pad_retry_matches_compare),
        cmocka_unit_test(pairs_sigint_closes_json),
        cmocka_unit_test(dirs_match_by_name_and_prefix),
    };
    failed += cmocka_run_group_tests_name("batch program", program_tests, NULL, NULL);
    return failed ? 1 : 0;
}

/*
 * The hard-input cases in $FACESIM_SHARED_DIR/cases: every case folder except
 * the video ones (22_video_*) has an expected.csv whose rows name one or two
 * files, an `expect` kind and a value. Each row is checked with one context per
 * case, so a failing row never stops the rows after it (the "batch continues"
 * requirement). T is facesim_default_threshold(ctx).
 *
 * How files are embedded: a 112x112 image is treated as an aligned ArcFace crop
 * (aligned_input, as a user passes --aligned for crops). Any other image is
 * detected with pad_retry, so tight crops are padded and detected again.
 *
 * Runs with SCRFD-500M (scrfd_500m_bnkps.onnx) + the default pack's
 * fr_feature.onnx, then with the default pack alone. Exits with 77 when the
 * cases or the models are missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "facesim.h"
#include "support/data_files.h"
#include "support/pack_links.h"

static char shared_dir[1024];
static char model_dir[1024];
static char work_dir[1024];

/* Warnings the library logged since the last reset. */
static int warning_count;
static char last_warning[2048];

static void record_log(void *user_data, int level, const char *message)
{
    if (level <= FACESIM_LOG_WARNING) {
        warning_count++;
        snprintf(last_warning, sizeof last_warning, "%s", message);
    }
}

typedef struct case_run {
    facesim_context *ctx;
    const char *case_dir;
    int failures;
    int rows;
} case_run;

static void report(case_run *run, bool ok, const char *row, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static void report(case_run *run, bool ok, const char *row, const char *format, ...)
{
    char detail[2048];
    va_list args;
    va_start(args, format);
    vsnprintf(detail, sizeof detail, format, args);
    va_end(args);
    printf("  %s %s: %s\n", ok ? "ok  " : "FAIL", row, detail);
    if (!ok)
        run->failures++;
    run->rows++;
}

/* Loads and embeds one file; returns the status, the error message in ctx. */
static int embed_file(case_run *run, const char *file, facesim_face_embedding *out)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", run->case_dir, file);
    facesim_image *image = NULL;
    int status = facesim_image_load(run->ctx, path, &image);
    if (status != FACESIM_OK)
        return status;
    facesim_embed_options options;
    facesim_default_embed_options(&options);
    if (facesim_image_width(image) == FACESIM_ALIGNED_SIZE &&
        facesim_image_height(image) == FACESIM_ALIGNED_SIZE)
        options.aligned_input = 1;
    else
        options.pad_retry = 1;
    status = facesim_embed_image(run->ctx, image, &options, out);
    facesim_image_free(image);
    return status;
}

static int compare_files(case_run *run, const char *a, const char *b, float *cosine,
                         facesim_face_embedding *ea, facesim_face_embedding *eb)
{
    int status = embed_file(run, a, ea);
    if (status != FACESIM_OK)
        return status;
    status = embed_file(run, b, eb);
    if (status != FACESIM_OK)
        return status;
    *cosine = facesim_cosine(ea->embedding, eb->embedding, ea->dim);
    return FACESIM_OK;
}

/* A clear error names the file and is not a crash or a silent success. */
static bool is_clear_error(int status, const char *message, const char *file)
{
    return status != FACESIM_OK && status != FACESIM_ERR_NO_FACE && strstr(message, file);
}

static void check_row(case_run *run, char **f, int n_fields)
{
    const char *a = f[0], *b = n_fields > 1 ? f[1] : "", *expect = n_fields > 2 ? f[2] : "";
    float value = n_fields > 3 ? strtof(f[3], NULL) : 0.0f;
    float threshold = facesim_default_threshold(run->ctx);
    char row[512];
    snprintf(row, sizeof row, "%s %s %s", a, b, expect);

    static facesim_face_embedding ea, eb;
    float cosine = 0.0f;
    warning_count = 0;

    if (!strcmp(expect, "sim_at_least") || !strcmp(expect, "sim_at_least_T")) {
        float minimum = !strcmp(expect, "sim_at_least") ? value : threshold;
        int status = compare_files(run, a, b, &cosine, &ea, &eb);
        if (status != FACESIM_OK)
            report(run, false, row, "error: %s", facesim_errmsg(run->ctx));
        else
            report(run, cosine >= minimum, row, "cosine %.4f, need >= %.4f%s", cosine, minimum,
                   eb.padded || ea.padded ? " (padded retry)" : "");
    } else if (!strcmp(expect, "sim_below_T") || !strcmp(expect, "sim_below_T_signed")) {
        int status = compare_files(run, a, b, &cosine, &ea, &eb);
        if (status != FACESIM_OK) {
            report(run, false, row, "error: %s", facesim_errmsg(run->ctx));
            return;
        }
        /* Signed: the reported value is the plain dot product of the unit embeddings. */
        double dot = 0.0;
        for (int i = 0; i < ea.dim; i++)
            dot += (double)ea.embedding[i] * eb.embedding[i];
        bool signed_ok = fabs(dot - cosine) < 1e-5 && cosine >= -1.0f && cosine <= 1.0f;
        report(run, cosine < threshold && signed_ok, row, "cosine %.4f (dot %.4f), need < %.4f",
               cosine, dot, threshold);
    } else if (!strcmp(expect, "sim_at_least_or_clear_error")) {
        int status = compare_files(run, a, b, &cosine, &ea, &eb);
        if (status == FACESIM_OK)
            report(run, cosine >= value, row, "cosine %.4f, need >= %.4f", cosine, value);
        else
            report(run, is_clear_error(status, facesim_errmsg(run->ctx), b), row,
                   "error (%s): %s", facesim_status_name(status), facesim_errmsg(run->ctx));
    } else if (!strcmp(expect, "decodes")) {
        int status = embed_file(run, a, &ea);
        report(run, status == FACESIM_OK || status == FACESIM_ERR_NO_FACE, row,
               "%s%s%s", facesim_status_name(status), status ? ": " : "",
               status ? facesim_errmsg(run->ctx) : "");
    } else if (!strcmp(expect, "face_found")) {
        int status = compare_files(run, a, b, &cosine, &ea, &eb);
        report(run, status == FACESIM_OK && eb.face_count >= 1, row,
               "%s, %d face(s) in %s, cosine %.4f", facesim_status_name(status), eb.face_count,
               b, cosine);
    } else if (!strcmp(expect, "no_face")) {
        int status = embed_file(run, a, &ea);
        const char *message = facesim_errmsg(run->ctx);
        report(run, status == FACESIM_ERR_NO_FACE && strstr(message, "no face found"), row,
               "%s: %s", facesim_status_name(status), status ? message : "a face was found");
    } else if (!strcmp(expect, "clear_error")) {
        int status = embed_file(run, a, &ea);
        const char *message = facesim_errmsg(run->ctx);
        report(run, is_clear_error(status, message, a), row, "%s: %s",
               facesim_status_name(status), status ? message : "loaded without error");
    } else if (!strcmp(expect, "warn_or_error")) {
        int status = embed_file(run, a, &ea);
        const char *message = facesim_errmsg(run->ctx);
        bool ok = is_clear_error(status, message, a) ||
                  (warning_count > 0 && strstr(last_warning, a));
        report(run, ok, row, "%s: %s", facesim_status_name(status),
               status ? message : (warning_count ? last_warning : "no warning"));
    } else if (!strcmp(expect, "no_crash_flag_quality")) {
        int status = compare_files(run, a, b, &cosine, &ea, &eb);
        if (status != FACESIM_OK) {
            report(run, is_clear_error(status, facesim_errmsg(run->ctx), b) ||
                            status == FACESIM_ERR_NO_FACE,
                   row, "error (%s): %s", facesim_status_name(status), facesim_errmsg(run->ctx));
            return;
        }
        bool flagged = eb.face.flags != 0 && warning_count > 0;
        report(run, flagged, row, "cosine %.4f, flags %d, %d warning(s)%s%s", cosine,
               eb.face.flags, warning_count, warning_count ? ": " : "",
               warning_count ? last_warning : "");
    } else {
        report(run, false, row, "unknown expect kind '%s'", expect);
    }
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every case with the pack in pack_dir; returns the number of failed rows. */
static int run_cases(const char *pack_dir)
{
    char cases_dir[1200];
    snprintf(cases_dir, sizeof cases_dir, "%s/cases", shared_dir);
    DIR *dir = opendir(cases_dir);
    assert_non_null(dir);
    char *names[256];
    int n = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL && n < 256) {
        if (entry->d_name[0] == '.' || !strncmp(entry->d_name, "22_video_", 9))
            continue;
        names[n++] = strdup(entry->d_name);
    }
    closedir(dir);
    qsort(names, (size_t)n, sizeof *names, compare_names);

    int failures = 0, rows = 0;
    for (int i = 0; i < n; i++) {
        char case_dir[1600], csv_path[1700];
        snprintf(case_dir, sizeof case_dir, "%s/%s", cases_dir, names[i]);
        snprintf(csv_path, sizeof csv_path, "%s/expected.csv", case_dir);
        FILE *csv = fopen(csv_path, "r");
        if (!csv) {
            free(names[i]);
            continue;
        }
        facesim_params params;
        facesim_default_params(&params);
        params.model_dir = pack_dir;
        params.log = record_log;
        case_run run = {NULL, case_dir, 0, 0};
        if (facesim_open(&params, &run.ctx) != FACESIM_OK)
            fail_msg("facesim_open %s: %s", pack_dir, facesim_last_error());
        printf("%s (threshold %.2f)\n", names[i], facesim_default_threshold(run.ctx));

        char line[2048];
        char *fields[8];
        bool header = true;
        while (fgets(line, sizeof line, csv)) {
            int count = data_csv_split(line, fields, 8);
            if (header) {
                header = false;
                continue;
            }
            if (count >= 3 && fields[0][0])
                check_row(&run, fields, count);
        }
        fclose(csv);
        facesim_close(run.ctx);
        failures += run.failures;
        rows += run.rows;
        free(names[i]);
    }
    printf("%d rows checked, %d failed\n", rows, failures);
    assert_true(rows > 40);
    return failures;
}

static void cases_with_scrfd_pack(void **state)
{
    char dir[1200], default_pack[1200];
    snprintf(default_pack, sizeof default_pack, "%s/default", model_dir);
    assert_true(pack_make_scrfd(dir, sizeof dir, work_dir, "cases-pack-scrfd", shared_dir,
                                default_pack));
    assert_int_equal(run_cases(dir), 0);
}

static void cases_with_default_pack(void **state)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/default", model_dir);
    assert_int_equal(run_cases(dir), 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!data_dirs_from_env("test_cases", shared_dir, model_dir, work_dir, sizeof shared_dir))
        return DATA_EXIT_SKIPPED;

    char probe[3][1200];
    snprintf(probe[0], sizeof probe[0], "%s/cases", shared_dir);
    snprintf(probe[1], sizeof probe[1], "%s/" PACK_SHARED_SCRFD, shared_dir);
    snprintf(probe[2], sizeof probe[2], "%s/default/fr_feature.onnx", model_dir);
    const char *const needed[] = {probe[0], probe[1], probe[2]};
    if (!data_require_paths("test_cases", needed, 3))
        return DATA_EXIT_SKIPPED;

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cases_with_scrfd_pack),
        cmocka_unit_test(cases_with_default_pack),
    };
    return cmocka_run_group_tests_name("hard input cases", tests, NULL, NULL);
}

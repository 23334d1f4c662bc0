/*
 * Tests of the facesim program ($FACESIM_CLI) run as a user would: real photos from
 * $FACESIM_SHARED_DIR, the default model pack from $FACESIM_MODEL_DIR/default, and a
 * pack made of the shared SCRFD detector plus the default recogniser, whose results
 * are checked against the insightface reference in faces/reference_*.csv.
 *
 * Command-line checks that need no model always run. The program exits 77 (skipped)
 * when the binary, the photos or the models are missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "facesim.h"
#include "support/cli_run.h"
#include "support/data_files.h"
#include "support/pack_links.h"

static const char *test_cli_path;
static char test_faces[4096];     /* $FACESIM_SHARED_DIR/faces */
static char test_cases[4096];     /* $FACESIM_SHARED_DIR/cases */
static char test_models[4096];    /* default pack */
static char test_scrfd_pack[4096]; /* shared SCRFD detector + default recogniser */
static char test_work[2048];      /* scratch directory for outputs */

/* ---- running the program ---- */

/* Runs the program with the given arguments (NULL-terminated, without the program
 * name) and an optional environment change "NAME=value" (or "NAME=" to remove it). */
static void test_run_cli_env(cli_run *run, const char *environment, const char *const *args)
{
    cli_run_checked(run, test_work, test_cli_path, environment, args);
}

static void test_run_cli(cli_run *run, const char *const *args)
{
    test_run_cli_env(run, NULL, args);
}

static void test_path(char *buffer, size_t size, const char *dir, const char *name)
{
    snprintf(buffer, size, "%s/%s", dir, name);
}

/* ---- reading the program's JSON ---- */

/* A minimal RFC 8259 syntax check: returns true when text is one JSON value. */
static bool test_json_skip_value(const char **p);

static void test_json_space(const char **p)
{
    while (**p == ' ' || **p == '\n' || **p == '\t' || **p == '\r')
        (*p)++;
}

static bool test_json_skip_string(const char **p)
{
    if (**p != '"')
        return false;
    for ((*p)++; **p != '"'; (*p)++) {
        if ((unsigned char)**p < 0x20)
            return false;
        if (**p == '\\') {
            (*p)++;
            if (!strchr("\"\\/bfnrtu", **p) || !**p)
                return false;
        }
    }
    (*p)++;
    return true;
}

static bool test_json_skip_container(const char **p, char close, bool object)
{
    (*p)++;
    test_json_space(p);
    if (**p == close) {
        (*p)++;
        return true;
    }
    for (;;) {
        test_json_space(p);
        if (object) {
            if (!test_json_skip_string(p))
                return false;
            test_json_space(p);
            if (*(*p)++ != ':')
                return false;
        }
        if (!test_json_skip_value(p))
            return false;
        test_json_space(p);
        if (**p == close) {
            (*p)++;
            return true;
        }
        if (*(*p)++ != ',')
            return false;
    }
}

static bool test_json_skip_value(const char **p)
{
    test_json_space(p);
    if (**p == '{')
        return test_json_skip_container(p, '}', true);
    if (**p == '[')
        return test_json_skip_container(p, ']', false);
    if (**p == '"')
        return test_json_skip_string(p);
    const char *words[] = { "true", "false", "null" };
    for (int i = 0; i < 3; i++)
        if (strncmp(*p, words[i], strlen(words[i])) == 0) {
            *p += strlen(words[i]);
            return true;
        }
    char *end;
    strtod(*p, &end);
    if (end == *p || **p == '+' || **p == '.')
        return false;
    *p = end;
    return true;
}

static bool test_json_valid(const char *text)
{
    const char *p = text;
    if (!test_json_skip_value(&p))
        return false;
    test_json_space(&p);
    return *p == '\0';
}

/* Returns the text after the n-th (from 0) occurrence of "key": in the JSON, or fails. */
static const char *test_json_find(const char *json, const char *key, int occurrence)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = json;
    for (int i = 0; i <= occurrence; i++) {
        at = strstr(at, pattern);
        if (!at)
            fail_msg("key \"%s\" (occurrence %d) missing from:\n%s", key, occurrence, json);
        at += strlen(pattern);
    }
    while (*at == ' ')
        at++;
    return at;
}

static double test_json_number(const char *json, const char *key, int occurrence)
{
    const char *at = test_json_find(json, key, occurrence);
    char *end;
    double value = strtod(at, &end);
    if (end == at)
        fail_msg("key \"%s\" is not a number: %.40s", key, at);
    return value;
}

static bool test_json_bool(const char *json, const char *key)
{
    const char *at = test_json_find(json, key, 0);
    if (strncmp(at, "true", 4) == 0)
        return true;
    if (strncmp(at, "false", 5) == 0)
        return false;
    fail_msg("key \"%s\" is not a boolean: %.40s", key, at);
    return false;
}

/* ---- reference data ---- */

/* Finds the row of reference_pairs.csv for (a, b) and returns its cosine. */
static double test_reference_cosine(const char *file_a, const char *file_b)
{
    char path[4200];
    test_path(path, sizeof path, test_faces, "reference_pairs.csv");
    FILE *csv = fopen(path, "r");
    assert_non_null(csv);
    char line[256], a[64], b[64];
    int same;
    double cosine;
    while (fgets(line, sizeof line, csv))
        if (sscanf(line, "%63[^,],%63[^,],%d,%lf", a, b, &same, &cosine) == 4 &&
            strcmp(a, file_a) == 0 && strcmp(b, file_b) == 0) {
            fclose(csv);
            return cosine;
        }
    fclose(csv);
    fail_msg("pair %s,%s not in reference_pairs.csv", file_a, file_b);
    return NAN;
}

/* Finds the first two photos of one identity and one photo of another in
 * identities.csv. */
static void test_pick_photos(char *same_a, char *same_b, char *other, size_t size)
{
    char path[4200];
    test_path(path, sizeof path, test_faces, "identities.csv");
    FILE *csv = fopen(path, "r");
    assert_non_null(csv);
    char line[256], file[64], identity[64], first_identity[64] = "";
    same_a[0] = same_b[0] = other[0] = '\0';
    while (fgets(line, sizeof line, csv)) {
        if (sscanf(line, "%63[^,],%63s", file, identity) != 2 || strcmp(file, "file") == 0)
            continue;
        if (!first_identity[0]) {
            snprintf(first_identity, sizeof first_identity, "%s", identity);
            snprintf(same_a, size, "%s", file);
        } else if (strcmp(identity, first_identity) == 0 && !same_b[0]) {
            snprintf(same_b, size, "%s", file);
        } else if (strcmp(identity, first_identity) != 0 && !other[0]) {
            snprintf(other, size, "%s", file);
        }
    }
    fclose(csv);
    assert_true(same_a[0] && same_b[0] && other[0]);
}

/* ---- command line (no model needed) ---- */

static void usage_errors_exit_2(void **state)
{
    static const char *const cases[][8] = {
        { "compare", "--bogus", "a.jpg", "b.jpg", NULL },
        { "compare", "only_one.jpg", NULL },
        { "compare", "--det-size", "100", "a.jpg", "b.jpg", NULL },
        { "compare", "--det-thresh", "1.5", "a.jpg", "b.jpg", NULL },
        { "compare", "--threshold", "abc", "a.jpg", "b.jpg", NULL },
        { "compare", "--select", "biggest", "a.jpg", "b.jpg", NULL },
        { "compare", "--threads", NULL },
        { "compare", "--all-faces", "--aligned", "a.jpg", "b.jpg", NULL },
        { "compare", "--all-faces", "--aligned-b", "a.jpg", "b.jpg", NULL },
        { "detect", "--draw", "drawn.jpg", "a.jpg", NULL },
        { "embed", "--aligned-a", "a.jpg", NULL },
        { "detect", "--threshold", "0.3", "a.jpg", NULL },
        { "detect", NULL },
        { "embed", "--format", "xml", "a.jpg", NULL },
        { "embed", "--format", "npy", "a.jpg", NULL },
        { "frobnicate", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_run run;
        test_run_cli(&run, cases[i]);
        if (run.exit_code != 2)
            fail_msg("case %zu (%s %s): exit code %d, expected 2; stderr:\n%s", i, cases[i][0],
                     cases[i][1] ? cases[i][1] : "", run.exit_code, run.err);
        assert_true(strlen(run.err) > 0);
        assert_string_equal(run.out, ""); /* diagnostics go to stderr only */
        cli_run_free(&run);
    }
}

static void usage_error_names_option(void **state)
{
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "compare", "--bogus", "a.jpg", "b.jpg", NULL });
    cli_expect_exit(&run, 2);
    assert_non_null(strstr(run.err, "--bogus"));
    assert_non_null(strstr(run.err, "--help"));
    cli_run_free(&run);
}

static const char *const test_command_names[] = { "compare", "detect", "embed", "video",
                                                   "pairs", "dirs", "merge" };

#define TEST_COMMAND_COUNT (sizeof test_command_names / sizeof test_command_names[0])

static void help_lists_every_command(void **state)
{
    (void)state;
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "--help", NULL });
    cli_expect_exit(&run, 0);
    for (size_t i = 0; i < TEST_COMMAND_COUNT; i++) {
        char line[64], example[64];
        snprintf(line, sizeof line, "\n  %s ", test_command_names[i]);
        snprintf(example, sizeof example, "facesim %s ", test_command_names[i]);
        if (!strstr(run.out, line))
            fail_msg("--help has no summary line for '%s':\n%s", test_command_names[i], run.out);
        if (!strstr(run.out, example))
            fail_msg("--help has no example of '%s':\n%s", test_command_names[i], run.out);
    }
    cli_run_free(&run);
}

static void unknown_command_lists_every_command(void **state)
{
    (void)state;
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "frobnicate", NULL });
    cli_expect_exit(&run, 2);
    assert_non_null(strstr(run.err, "'frobnicate'"));
    assert_non_null(strstr(run.err, "facesim --help"));
    for (size_t i = 0; i < TEST_COMMAND_COUNT; i++)
        if (!strstr(run.err, test_command_names[i]))
            fail_msg("the message does not list '%s':\n%s", test_command_names[i], run.err);
    cli_run_free(&run);
}

/* Each command's --help lists the options it accepts and none it rejects. */
static void command_help_lists_own_options(void **state)
{
    (void)state;
    static const struct {
        const char *command;
        const char *listed[6];
        const char *absent[4];
    } cases[] = {
        { "compare", { "--all-faces", "--select", "--threshold", "--json", "--models" },
          { "--every", "--shard", "--csv", "--format" } },
        { "detect", { "--draw", "--save-crops", "--json", "--det-size" },
          { "--select", "--threshold", "--csv", "--every" } },
        { "embed", { "--format", "--select", "--aligned", "--max-pixels" },
          { "--json", "--threshold", "--shard", "--draw" } },
        { "video", { "--every", "--frames", "--fps", "--csv", "--jsonl", "--threads" },
          { "--select", "--format", "--shard", "--all-faces" } },
        { "pairs", { "--shard", "--cache", "--batch", "--select", "--csv", "--no-progress" },
          { "--prefix-match", "--one-ref", "--every", "--format" } },
        { "dirs", { "--prefix-match", "--one-ref", "--shard", "--select", "--jsonl" },
          { "--every", "--format", "--draw", "--all-faces" } },
        { "merge", { "--output", "--quiet", "--help" },
          { "--models", "--verbose", "--threads", "--json" } },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cli_run run;
        test_run_cli(&run, (const char *const[]){ cases[c].command, "--help", NULL });
        cli_expect_exit(&run, 0);
        assert_non_null(strstr(run.out, "Exit codes"));
        for (int i = 0; i < 6 && cases[c].listed[i]; i++)
            if (!strstr(run.out, cases[c].listed[i]))
                fail_msg("'%s --help' does not list %s", cases[c].command, cases[c].listed[i]);
        for (int i = 0; i < 4 && cases[c].absent[i]; i++) {
            /* Option lines start "      --name" or "  -x, --name"; the prose may
             * mention other commands' options. */
            char option[64], with_short[64];
            snprintf(option, sizeof option, "\n      %s", cases[c].absent[i]);
            snprintf(with_short, sizeof with_short, ", %s", cases[c].absent[i]);
            if (strstr(run.out, option) || strstr(run.out, with_short))
                fail_msg("'%s --help' lists %s, which it rejects", cases[c].command,
                         cases[c].absent[i]);
        }
        cli_run_free(&run);
    }
}

/* compare --help lists the one-sided --aligned options and the default pack's detector
 * threshold. */
static void compare_help_states_defaults(void **state)
{
    (void)state;
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "compare", "--help", NULL });
    cli_expect_exit(&run, 0);
    assert_non_null(strstr(run.out, "--aligned-a"));
    assert_non_null(strstr(run.out, "--aligned-b"));
    const char *det_thresh = strstr(run.out, "--det-thresh");
    assert_non_null(det_thresh);
    const char *next_option = strstr(det_thresh + 1, "\n      --");
    const char *default_value = strstr(det_thresh, "0.65");
    if (!default_value || (next_option && default_value > next_option))
        fail_msg("--det-thresh help does not give the default pack's 0.65:\n%s", det_thresh);
    cli_run_free(&run);
}

/* docs/cli.md documents every option that compare, detect and embed list in --help, and
 * contains no notes meant for the maintainers. */
static void docs_cover_every_option(void **state)
{
    (void)state;
    const char *source = getenv("FACESIM_SOURCE_DIR");
    char path[4200];
    snprintf(path, sizeof path, "%s/docs/cli.md", source ? source : "");
    if (!source || !data_is_file(path)) {
        fprintf(stderr, "skipped: docs/cli.md not found (FACESIM_SOURCE_DIR is not set)\n");
        return;
    }
    size_t size = 0;
    char *docs = data_read_file(path, &size);
    assert_non_null(docs);
    assert_null(strstr(docs, "copied into the README"));

    static const char *const commands[] = { "compare", "detect", "embed" };
    for (int c = 0; c < 3; c++) {
        cli_run run;
        test_run_cli(&run, (const char *const[]){ commands[c], "--help", NULL });
        cli_expect_exit(&run, 0);
        /* Option lines start with "      --name" or "  -x, --name". */
        for (const char *at = run.out; (at = strstr(at, "\n  ")); at++) {
            const char *option = at + 1;
            while (*option == ' ')
                option++;
            if (option[0] == '-' && option[1] != '-' && option[2] == ',')
                option += 4;
            if (strncmp(option, "--", 2) != 0)
                continue;
            size_t length = strcspn(option, " =\n");
            char quoted[64];
            snprintf(quoted, sizeof quoted, "`%.*s", (int)length, option);
            if (!strstr(docs, quoted))
                fail_msg("docs/cli.md does not document %s option %s", commands[c], quoted + 1);
        }
        cli_run_free(&run);
    }
    free(docs);
}

/* The shared options parse the same way for every command that loads models. */
static void shared_options_accepted_everywhere(void **state)
{
    (void)state;
    for (size_t i = 0; i + 1 < TEST_COMMAND_COUNT; i++) {
        const char *command = test_command_names[i]; /* all but merge */
        cli_run run;
        test_run_cli(&run, (const char *const[]){ command, "--models", "/nonexistent",
                                                   "--det-size", "320", "--det-thresh=0.4",
                                                   "--threads", "1", "--max-pixels", "1000000",
                                                   "-o", "out.txt", "-vv", "--help", NULL });
        if (run.exit_code != 0)
            fail_msg("'%s' rejected a shared option: exit %d, stderr:\n%s", command,
                     run.exit_code, run.err);
        cli_run_free(&run);
    }
}

static void option_of_other_command_rejected(void **state)
{
    (void)state;
    static const struct {
        const char *args[5];
        const char *message;
    } cases[] = {
        { { "video", "--select", "score", "a.jpg", "b.mp4" },
          "facesim video: option '--select' does not apply to 'video'" },
        { { "pairs", "--every", "2", "list.csv", NULL },
          "facesim pairs: unknown option '--every'" },
        { { "merge", "--models", "pack", "a.json", NULL },
          "facesim merge: option '--models' does not apply to 'merge'" },
        { { "compare", "--shard", "1/2", "a.jpg", "b.jpg" },
          "facesim compare: unknown option '--shard'" },
        { { "pairs", "--json", "--csv", "list.csv", NULL },
          "facesim pairs: --json, --csv and --jsonl cannot be combined" },
        { { "pairs", "--threads", "300", "list.csv", NULL },
          "facesim pairs: invalid --threads '300': expected 0 (all cores) to 256" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *args[6] = { 0 };
        memcpy(args, cases[c].args, sizeof cases[c].args);
        cli_run run;
        test_run_cli(&run, args);
        cli_expect_exit(&run, 2);
        if (!strstr(run.err, cases[c].message))
            fail_msg("case %zu: stderr lacks \"%s\":\n%s", c, cases[c].message, run.err);
        assert_string_equal(run.out, "");
        cli_run_free(&run);
    }
}

static void help_and_version(void **state)
{
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "--help", NULL });
    cli_expect_exit(&run, 0);
    assert_non_null(strstr(run.out, "Exit codes"));
    assert_non_null(strstr(run.out, "compare"));
    cli_run_free(&run);

    static const char *const commands[][2] = { { "compare", "--threshold" },
                                                { "detect", "--save-crops" },
                                                { "embed", "--format" } };
    for (int i = 0; i < 3; i++) {
        test_run_cli(&run, (const char *const[]){ commands[i][0], "--help", NULL });
        cli_expect_exit(&run, 0);
        assert_non_null(strstr(run.out, commands[i][1]));
        assert_non_null(strstr(run.out, "--models"));
        assert_non_null(strstr(run.out, "Exit codes"));
        cli_run_free(&run);
    }

    test_run_cli(&run, (const char *const[]){ "--version", NULL });
    cli_expect_exit(&run, 0);
    assert_non_null(strstr(run.out, facesim_version()));
    cli_run_free(&run);
}

static void missing_models_exit_5(void **state)
{
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "compare", "--models", "/nonexistent/pack",
                                              "a.jpg", "b.jpg", NULL });
    cli_expect_exit(&run, 5);
    assert_non_null(strstr(run.err, "/nonexistent/pack"));
    cli_run_free(&run);

    test_run_cli_env(&run, "FACESIM_MODELS=/nonexistent/env-pack",
                     (const char *const[]){ "detect", "a.jpg", NULL });
    cli_expect_exit(&run, 5);
    assert_non_null(strstr(run.err, "/nonexistent/env-pack"));
    assert_non_null(strstr(run.err, "FACESIM_MODELS"));
    cli_run_free(&run);
}

/* ---- compare ---- */

static void compare_same_person_above_threshold(void **state)
{
    char file_a[64], file_b[64], other[64], a[4200], b[4200];
    test_pick_photos(file_a, file_b, other, sizeof file_a);
    test_path(a, sizeof a, test_faces, file_a);
    test_path(b, sizeof b, test_faces, file_b);

    cli_run run;
    test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models, "--json", a, b,
                                              NULL });
    cli_expect_exit(&run, 0);
    double cosine = test_json_number(run.out, "cosine", 0);
    double threshold = test_json_number(run.out, "threshold", 0);
    if (!(cosine >= threshold))
        fail_msg("%s vs %s (same person): cosine %.4f below threshold %.4f", file_a, file_b,
                 cosine, threshold);
    assert_true(test_json_bool(run.out, "same_person"));
    cli_run_free(&run);
}

static void compare_different_person_below_threshold(void **state)
{
    char file_a[64], file_b[64], other[64], a[4200], b[4200];
    test_pick_photos(file_a, file_b, other, sizeof file_a);
    test_path(a, sizeof a, test_faces, file_a);
    test_path(b, sizeof b, test_faces, other);

    cli_run run;
    test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models, a, b, NULL });
    cli_expect_exit(&run, 0);
    double cosine = NAN, threshold = NAN;
    const char *line = strstr(run.out, "cosine: ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "cosine: %lf", &cosine), 1);
    line = strstr(run.out, "threshold ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "threshold %lf", &threshold), 1);
    if (!(cosine < threshold))
        fail_msg("%s vs %s (different people): cosine %.4f not below threshold %.4f", file_a,
                 other, cosine, threshold);
    assert_non_null(strstr(run.out, "same person: no"));
    cli_run_free(&run);
}

static void compare_json_has_fields(void **state)
{
    char file_a[64], file_b[64], other[64], a[4200], b[4200];
    test_pick_photos(file_a, file_b, other, sizeof file_a);
    test_path(a, sizeof a, test_faces, file_a);
    test_path(b, sizeof b, test_faces, other);

    cli_run run;
    test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models, "--json",
                                              "--threshold", "0.25", a, b, NULL });
    cli_expect_exit(&run, 0);
    if (!test_json_valid(run.out))
        fail_msg("compare --json output is not valid JSON:\n%s", run.out);
    static const char *const keys[] = { "files", "cosine", "threshold", "same_person", "faces",
                                        "box", "score", "landmarks", "padded", "model_pack",
                                        "models", "timings_ms", "total" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        test_json_find(run.out, keys[i], 0);
    if (fabs(test_json_number(run.out, "threshold", 0) - 0.25) > 1e-9)
        fail_msg("--threshold 0.25 not reported:\n%s", run.out);
    /* Both faces have a box of 4 numbers with x1 < x2 and y1 < y2. */
    for (int side = 0; side < 2; side++) {
        const char *box = test_json_find(run.out, "box", side);
        double x1, y1, x2, y2;
        assert_int_equal(sscanf(box, "[%lf, %lf, %lf, %lf]", &x1, &y1, &x2, &y2), 4);
        assert_true(x1 < x2);
        assert_true(y1 < y2);
    }
    cli_run_free(&run);
}

static void compare_matches_reference(void **state)
{
    /* The SCRFD pack is the reference pipeline's detector and recogniser, so the cosines
     * of reference_pairs.csv must come out again, up to the 4 printed decimals and
     * float rounding. */
    static const char *const pairs[][2] = { { "a01.jpg", "a02.jpg" }, { "a01.jpg", "b01.jpg" } };
    for (int i = 0; i < 2; i++) {
        char a[4200], b[4200];
        test_path(a, sizeof a, test_faces, pairs[i][0]);
        test_path(b, sizeof b, test_faces, pairs[i][1]);
        cli_run run;
        test_run_cli(&run, (const char *const[]){ "compare", "--models", test_scrfd_pack, "--json",
                                                  a, b, NULL });
        cli_expect_exit(&run, 0);
        double cosine = test_json_number(run.out, "cosine", 0);
        double reference = test_reference_cosine(pairs[i][0], pairs[i][1]);
        if (fabs(cosine - reference) > 2e-3)
            fail_msg("%s vs %s: cosine %.4f, insightface reference %.5f", pairs[i][0],
                     pairs[i][1], cosine, reference);
        cli_run_free(&run);
    }
}

static void compare_no_face_exit_3(void **state)
{
    char a[4200], b[4200];
    test_path(a, sizeof a, test_faces, "a01.jpg");
    test_path(b, sizeof b, test_cases, "14_no_face/uniform_gray_640x480.png");
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models, a, b, NULL });
    cli_expect_exit(&run, 3);
    assert_non_null(strstr(run.err, "uniform_gray_640x480.png"));
    assert_null(strstr(run.out, "cosine")); /* no similarity for a pair without a face */
    cli_run_free(&run);
}

static void compare_corrupt_file_exit_4(void **state)
{
    char a[4200], b[4200];
    test_path(a, sizeof a, test_faces, "a01.jpg");
    test_path(b, sizeof b, test_cases, "20_corrupt_truncated_files/zero_bytes.jpg");
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models, a, b, NULL });
    cli_expect_exit(&run, 4);
    assert_non_null(strstr(run.err, "zero_bytes.jpg"));
    assert_string_equal(run.out, "");
    cli_run_free(&run);
}

static void compare_missing_file_exit_4(void **state)
{
    char a[4200], b[4200];
    test_path(a, sizeof a, test_faces, "a01.jpg");
    test_path(b, sizeof b, test_work, "does_not_exist.jpg");
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models, b, a, NULL });
    cli_expect_exit(&run, 4);
    assert_non_null(strstr(run.err, "does_not_exist.jpg"));
    cli_run_free(&run);
}

/* A directory in place of an image is named as such, not reported by its size. */
static void directory_as_image_exit_4(void **state)
{
    char a[4200];
    test_path(a, sizeof a, test_faces, "a01.jpg");
    static const char *const commands[] = { "compare", "detect", "embed" };
    for (int i = 0; i < 3; i++) {
        cli_run run;
        if (i == 0)
            test_run_cli(&run, (const char *const[]){ commands[i], "--models", test_models, a,
                                                      test_faces, NULL });
        else
            test_run_cli(&run, (const char *const[]){ commands[i], "--models", test_models,
                                                      test_faces, NULL });
        cli_expect_exit(&run, 4);
        char expected[4300];
        snprintf(expected, sizeof expected, "%s: is a directory, not an image file", test_faces);
        if (!strstr(run.err, expected))
            fail_msg("%s with a directory: expected \"%s\" in:\n%s", commands[i], expected,
                     run.err);
        assert_null(strstr(run.err, "bytes"));
        cli_run_free(&run);
    }

    /* The library returns the same through its API. */
    facesim_image *image = NULL;
    assert_int_equal(facesim_image_load(NULL, test_faces, &image), FACESIM_ERR_IO);
    assert_null(image);
    assert_non_null(strstr(facesim_last_error(), "is a directory"));
}

static void compare_aligned_crops(void **state)
{
    char jolie_a[4200], jolie_b[4200], musk[4200];
    test_path(jolie_a, sizeof jolie_a, test_cases, "08_already_aligned_112/jolie_a_aligned112.png");
    test_path(jolie_b, sizeof jolie_b, test_cases, "08_already_aligned_112/jolie_b_aligned112.png");
    test_path(musk, sizeof musk, test_cases, "08_already_aligned_112/musk_aligned112.png");

    cli_run run;
    test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models, "--aligned",
                                              "--json", jolie_a, jolie_b, NULL });
    cli_expect_exit(&run, 0);
    double same = test_json_number(run.out, "cosine", 0);
    double threshold = test_json_number(run.out, "threshold", 0);
    assert_true(test_json_bool(run.out, "aligned_input"));
    cli_run_free(&run);

    test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models, "--aligned",
                                              "--json", jolie_a, musk, NULL });
    cli_expect_exit(&run, 0);
    double different = test_json_number(run.out, "cosine", 0);
    cli_run_free(&run);

    if (!(same >= threshold && different < threshold && same > different + 0.2))
        fail_msg("aligned crops: same person %.4f, different %.4f, threshold %.4f", same,
                 different, threshold);
}

/* --aligned-b: a full photo against an aligned crop of the same photo. */
static void compare_aligned_one_side(void **state)
{
    static const char *const pairs[][2] = {
        { "jolie_a_full.jpg", "jolie_a_aligned112.png" },
        { "jolie_b_full.jpg", "jolie_b_aligned112.png" },
        { "musk_full.jpg", "musk_aligned112.png" },
    };
    for (int i = 0; i < 3; i++) {
        char full[4200], crop[4200];
        snprintf(full, sizeof full, "%s/08_already_aligned_112/%s", test_cases, pairs[i][0]);
        snprintf(crop, sizeof crop, "%s/08_already_aligned_112/%s", test_cases, pairs[i][1]);

        cli_run run;
        test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models,
                                                  "--aligned-b", "--json", full, crop, NULL });
        cli_expect_exit(&run, 0);
        double cosine = test_json_number(run.out, "cosine", 0);
        if (cosine < 0.95)
            fail_msg("%s vs its aligned crop with --aligned-b: cosine %.4f, expected >= 0.95",
                     pairs[i][0], cosine);
        test_json_find(run.out, "faces_found", 0); /* A was detected */
        cli_run_free(&run);

        /* The same with the crop given first. */
        test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models,
                                                  "--aligned-a", "-q", crop, full, NULL });
        cli_expect_exit(&run, 0);
        double swapped = strtod(run.out, NULL);
        if (fabs(swapped - cosine) > 1e-4)
            fail_msg("--aligned-a with the inputs swapped: cosine %.4f, --aligned-b gave %.4f",
                     swapped, cosine);
        cli_run_free(&run);
    }

    /* --aligned-a on a full photo names the size mismatch in CLI terms. */
    char full[4200], crop[4200];
    snprintf(full, sizeof full, "%s/08_already_aligned_112/jolie_a_full.jpg", test_cases);
    snprintf(crop, sizeof crop, "%s/08_already_aligned_112/jolie_a_aligned112.png", test_cases);
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models, "--aligned-a",
                                              full, crop, NULL });
    cli_expect_exit(&run, 4);
    assert_non_null(strstr(run.err, "jolie_a_full.jpg"));
    assert_non_null(strstr(run.err, "112x112"));
    assert_non_null(strstr(run.err, "drop --aligned-a"));
    cli_run_free(&run);
}

/* Library parameter names (aligned_input, pad_retry, accept_damaged) never reach the
 * CLI user: the messages name the options. */
static void messages_use_option_names(void **state)
{
    char photo[4200], gray[4200], damaged[4200];
    test_path(photo, sizeof photo, test_faces, "a01.jpg");
    test_path(gray, sizeof gray, test_cases, "14_no_face/uniform_gray_640x480.png");
    test_path(damaged, sizeof damaged, test_cases,
              "20_corrupt_truncated_files/bitflips_in_scan_data.jpg");
    static const char *const library_words[] = { "aligned_input", "pad_retry", "accept_damaged",
                                                 "(CLI:" };

    /* A pairs list whose first pair has the damaged image: the error goes into the CSV. */
    char list[4200];
    test_path(list, sizeof list, test_work, "damaged_pairs.csv");
    FILE *file = fopen(list, "w");
    assert_non_null(file);
    fprintf(file, "a,b\n%s,%s\n%s,%s\n", photo, damaged, photo, photo);
    assert_int_equal(fclose(file), 0);

    struct {
        const char *const *args;
        int exit_code;
        bool on_stdout; /* the message is in the results, not on stderr */
        const char *option;
    } cases[] = {
        { (const char *const[]){ "compare", "--models", test_models, photo, gray, NULL }, 3,
          false, "--pad-retry" },
        { (const char *const[]){ "embed", "--models", test_models, "--aligned", photo, NULL }, 4,
          false, "drop --aligned" },
        { (const char *const[]){ "detect", "--models", test_models, damaged, NULL }, 4, false,
          "--accept-damaged" },
        { (const char *const[]){ "detect", "--models", test_models, "--json", damaged, NULL }, 4,
          true, "--accept-damaged" },
        { (const char *const[]){ "pairs", "--models", test_models, "--threads", "1",
                                 "--no-progress", "--csv", list, NULL }, 1, true,
          "--accept-damaged" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_run run;
        test_run_cli(&run, cases[i].args);
        cli_expect_exit(&run, cases[i].exit_code);
        const char *text = cases[i].on_stdout ? run.out : run.err;
        if (!strstr(text, cases[i].option))
            fail_msg("case %zu: '%s' missing from:\n%s", i, cases[i].option, text);
        for (size_t w = 0; w < sizeof library_words / sizeof library_words[0]; w++)
            if (strstr(run.err, library_words[w]) || strstr(run.out, library_words[w]))
                fail_msg("case %zu: the library term '%s' reached the CLI user:\n%s%s", i,
                         library_words[w], run.out, run.err);
        cli_run_free(&run);
    }
}

static size_t test_count_occurrences(const char *text, const char *needle)
{
    size_t count = 0;
    for (const char *at = text; (at = strstr(at, needle)); at += strlen(needle))
        count++;
    return count;
}

/* The small message fixes: advice given once, paths printed once, the right hint. */
static void messages_say_things_once(void **state)
{
    char photo[4200], truncated[4200], gray[4200];
    test_path(photo, sizeof photo, test_faces, "a01.jpg");
    test_path(truncated, sizeof truncated, test_cases,
              "20_corrupt_truncated_files/truncated_at_15pct.jpg");
    test_path(gray, sizeof gray, test_cases, "14_no_face/uniform_gray_640x480.png");

    /* The decoder's message already tells the user to copy the file again, so the CLI
     * must not add a second advice line. */
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "detect", "--models", test_models, truncated,
                                              NULL });
    cli_expect_exit(&run, 4);
    assert_int_equal(test_count_occurrences(run.err, "\n"), 1);
    assert_null(strstr(run.err, "re-download"));
    cli_run_free(&run);

    /* A --draw file that cannot be created is named once. */
    const char *missing = "/nonexistent-facesim-dir/drawn.png";
    test_run_cli(&run, (const char *const[]){ "detect", "--models", test_models, "--draw",
                                              missing, photo, NULL });
    assert_int_not_equal(run.exit_code, 0);
    if (test_count_occurrences(run.err, missing) != 1)
        fail_msg("the --draw path should appear once:\n%s", run.err);
    cli_run_free(&run);

    /* --draw writes PNG, so another extension is a usage error and nothing is written. */
    char jpeg[4200];
    test_path(jpeg, sizeof jpeg, test_work, "drawn.jpg");
    unlink(jpeg);
    test_run_cli(&run, (const char *const[]){ "detect", "--models", test_models, "--draw", jpeg,
                                              photo, NULL });
    cli_expect_exit(&run, 2);
    assert_non_null(strstr(run.err, ".png"));
    assert_false(data_is_file(jpeg));
    cli_run_free(&run);

    /* No face at a raised --det-size: suggest the default size. */
    test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models, "--det-size",
                                              "1280", photo, gray, NULL });
    cli_expect_exit(&run, 3);
    assert_non_null(strstr(run.err, "--det-size 640"));
    cli_run_free(&run);
    test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models, photo, gray,
                                              NULL });
    cli_expect_exit(&run, 3);
    assert_null(strstr(run.err, "--det-size"));
    cli_run_free(&run);
}

static void compare_all_faces_matrix(void **state)
{
    char group[4200], single[4200];
    test_path(group, sizeof group, test_faces, "group-two.jpg");
    test_path(single, sizeof single, test_faces, "a01.jpg");
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models, "--all-faces",
                                              "--json", group, single, NULL });
    cli_expect_exit(&run, 0);
    if (!test_json_valid(run.out))
        fail_msg("compare --all-faces --json output is not valid JSON:\n%s", run.out);

    /* group-two.jpg shows two people and a01.jpg one: a 2 x 1 matrix. */
    const char *matrix = test_json_find(run.out, "cosine", 0);
    double first, second;
    if (sscanf(matrix, "[ [%lf], [%lf] ]", &first, &second) != 2)
        fail_msg("expected a 2 x 1 cosine matrix, got: %.80s", matrix);
    assert_true(first >= -1.0 && first <= 1.0);
    assert_true(second >= -1.0 && second <= 1.0);
    test_json_find(run.out, "faces_a", 0);
    test_json_find(run.out, "faces_b", 0);
    test_json_find(run.out, "same_person", 0);
    cli_run_free(&run);
}

static void compare_quiet_prints_only_cosine(void **state)
{
    char a[4200], b[4200];
    test_path(a, sizeof a, test_faces, "a01.jpg");
    test_path(b, sizeof b, test_faces, "a02.jpg");
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "compare", "--models", test_models, "-q", a, b,
                                              NULL });
    cli_expect_exit(&run, 0);
    double cosine;
    char rest;
    if (sscanf(run.out, "%lf%c", &cosine, &rest) != 2 || rest != '\n' ||
        strchr(run.out, '\n')[1] != '\0')
        fail_msg("-q should print one number, got:\n%s", run.out);
    assert_true(cosine >= -1.0 && cosine <= 1.0);
    cli_run_free(&run);
}

/* ---- detect ---- */

static bool test_is_png(const char *path)
{
    size_t size = 0;
    char *data = data_read_file(path, &size);
    bool png = data && size > 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0;
    free(data);
    return png;
}

static void test_image_size(const char *path, int *width, int *height)
{
    facesim_image *image = NULL;
    if (facesim_image_load(NULL, path, &image) != FACESIM_OK)
        fail_msg("cannot load %s: %s", path, facesim_last_error());
    *width = facesim_image_width(image);
    *height = facesim_image_height(image);
    facesim_image_free(image);
}

static void detect_draw_writes_png(void **state)
{
    char input[4200], output[4200];
    test_path(input, sizeof input, test_faces, "group-two.jpg");
    test_path(output, sizeof output, test_work, "detect_drawn.png");
    unlink(output);

    cli_run run;
    test_run_cli(&run, (const char *const[]){ "detect", "--models", test_models, "--draw", output,
                                              input, NULL });
    cli_expect_exit(&run, 0);
    assert_non_null(strstr(run.out, "2 faces"));
    cli_run_free(&run);

    assert_true(test_is_png(output));
    int width, height, drawn_width, drawn_height;
    test_image_size(input, &width, &height);
    test_image_size(output, &drawn_width, &drawn_height);
    assert_int_equal(drawn_width, width);
    assert_int_equal(drawn_height, height);
}

static void detect_save_crops_writes_112(void **state)
{
    char input[4200], dir[4200];
    test_path(input, sizeof input, test_faces, "group-two.jpg");
    test_path(dir, sizeof dir, test_work, "crops");

    cli_run run;
    test_run_cli(&run, (const char *const[]){ "detect", "--models", test_models, "--json",
                                              "--save-crops", dir, input, NULL });
    cli_expect_exit(&run, 0);
    if (!test_json_valid(run.out))
        fail_msg("detect --json output is not valid JSON:\n%s", run.out);
    int faces = 0;
    for (const char *at = run.out; (at = strstr(at, "\"score\":")); at++)
        faces++;
    assert_true(faces >= 2);
    cli_run_free(&run);

    for (int k = 0; k < faces; k++) {
        char crop[4300];
        snprintf(crop, sizeof crop, "%s/group-two_face%d.png", dir, k);
        assert_true(test_is_png(crop));
        int width, height;
        test_image_size(crop, &width, &height);
        assert_int_equal(width, FACESIM_ALIGNED_SIZE);
        assert_int_equal(height, FACESIM_ALIGNED_SIZE);
    }
}

static void detect_matches_reference_boxes(void **state)
{
    char input[4200], path[4200];
    test_path(input, sizeof input, test_faces, "a01.jpg");
    test_path(path, sizeof path, test_faces, "reference_faces.csv");
    FILE *csv = fopen(path, "r");
    assert_non_null(csv);
    char line[512];
    double ref[4] = { NAN, NAN, NAN, NAN };
    while (fgets(line, sizeof line, csv))
        if (strncmp(line, "a01.jpg,", 8) == 0)
            assert_int_equal(sscanf(line, "a01.jpg,%*d,%*d,%*d,%*f,%lf,%lf,%lf,%lf", &ref[0],
                                    &ref[1], &ref[2], &ref[3]), 4);
    fclose(csv);
    assert_false(isnan(ref[0]));

    cli_run run;
    test_run_cli(&run, (const char *const[]){ "detect", "--models", test_scrfd_pack, "--json",
                                              input, NULL });
    cli_expect_exit(&run, 0);
    double box[4];
    assert_int_equal(sscanf(test_json_find(run.out, "box", 0), "[%lf, %lf, %lf, %lf]", &box[0],
                            &box[1], &box[2], &box[3]), 4);
    for (int i = 0; i < 4; i++)
        if (fabs(box[i] - ref[i]) > 0.5)
            fail_msg("a01.jpg box[%d] = %.2f, insightface reference %.2f", i, box[i], ref[i]);
    cli_run_free(&run);
}

static void detect_several_with_failure_exit_1(void **state)
{
    char good[4200], missing[4200];
    test_path(good, sizeof good, test_faces, "a01.jpg");
    test_path(missing, sizeof missing, test_work, "missing.png");
    cli_run run;
    test_run_cli(&run, (const char *const[]){ "detect", "--models", test_models, good, missing,
                                              NULL });
    cli_expect_exit(&run, 1);
    assert_non_null(strstr(run.out, "a01.jpg: "));  /* the good image is still reported */
    assert_non_null(strstr(run.err, "missing.png"));
    cli_run_free(&run);
}

/* ---- embed ---- */

static int test_count_lines(const char *text)
{
    int lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    return lines;
}

static void embed_writes_one_row_per_input(void **state)
{
    char a[4200], b[4200], corrupt[4200];
    test_path(a, sizeof a, test_faces, "a01.jpg");
    test_path(b, sizeof b, test_faces, "b01.jpg");
    test_path(corrupt, sizeof corrupt, test_cases, "20_corrupt_truncated_files/zero_bytes.jpg");

    static const char *const formats[] = { "csv", "jsonl", "npy" };
    for (int f = 0; f < 3; f++) {
        char output[4200];
        snprintf(output, sizeof output, "%s/embeddings.%s", test_work, formats[f]);
        unlink(output);
        cli_run run;
        test_run_cli(&run, (const char *const[]){ "embed", "--models", test_models, "-o", output,
                                                  a, corrupt, b, NULL });
        cli_expect_exit(&run, 1); /* one of three inputs failed */
        assert_non_null(strstr(run.err, "zero_bytes.jpg"));
        cli_run_free(&run);

        size_t size = 0;
        char *data = data_read_file(output, &size);
        assert_non_null(data);
        if (f == 0) {
            assert_int_equal(test_count_lines(data), 4); /* header + 3 rows */
            assert_true(strncmp(data, "file,status,faces,score,e0,e1,", 30) == 0);
            /* Every row has the same number of fields as the header. */
            int fields_per_row[4] = { 0 }, row = 0;
            for (const char *c = data; *c && row < 4; c++) {
                if (*c == ',')
                    fields_per_row[row]++;
                if (*c == '\n')
                    row++;
            }
            for (int r = 1; r < 4; r++)
                assert_int_equal(fields_per_row[r], fields_per_row[0]);
            assert_non_null(strstr(data, "zero_bytes.jpg,invalid data,"));
        } else if (f == 1) {
            assert_int_equal(test_count_lines(data), 3);
            char *line = data;
            for (int r = 0; r < 3; r++) {
                char *end = strchr(line, '\n');
                *end = '\0';
                if (!test_json_valid(line))
                    fail_msg("jsonl line %d is not valid JSON: %.200s", r, line);
                test_json_find(line, r == 1 ? "error" : "embedding", 0);
                line = end + 1;
            }
        } else {
            assert_memory_equal(data, "\x93NUMPY", 6);
            size_t header = 10 + ((unsigned char)data[8] | (size_t)(unsigned char)data[9] << 8);
            assert_non_null(strstr(data + 10, "'shape': (3, "));
            int dim = atoi(strstr(data + 10, "'shape': (3, ") + 13);
            assert_true(dim > 0);
            assert_int_equal(size, header + 3 * (size_t)dim * 4);
            /* Row 1 (the corrupt file) is NaN, rows 0 and 2 are unit vectors. */
            for (int r = 0; r < 3; r++) {
                double norm = 0.0;
                for (int i = 0; i < dim; i++) {
                    float value;
                    memcpy(&value, data + header + ((size_t)r * dim + i) * 4, 4);
                    norm += (double)value * value;
                }
                if (r == 1)
                    assert_true(isnan(norm));
                else
                    assert_true(fabs(sqrt(norm) - 1.0) < 1e-4);
            }
        }
        free(data);
    }
}

/* ---- setup ---- */

int main(void)
{
    test_cli_path = getenv("FACESIM_CLI");
    const char *work = getenv("FACESIM_WORK_DIR");
    if (!test_cli_path || !data_is_file(test_cli_path) || !work) {
        fprintf(stderr, "test_cli: skipped: FACESIM_CLI (the facesim program) or "
                        "FACESIM_WORK_DIR is not set; run the tests through ctest.\n");
        return 77;
    }
    snprintf(test_work, sizeof test_work, "%s/cli", work);
    mkdir(test_work, 0777);

    const struct CMUnitTest usage_tests[] = {
        cmocka_unit_test(usage_errors_exit_2),
        cmocka_unit_test(usage_error_names_option),
        cmocka_unit_test(help_and_version),
        cmocka_unit_test(help_lists_every_command),
        cmocka_unit_test(unknown_command_lists_every_command),
        cmocka_unit_test(command_help_lists_own_options),
        cmocka_unit_test(compare_help_states_defaults),
        cmocka_unit_test(docs_cover_every_option),
        cmocka_unit_test(shared_options_accepted_everywhere),
        cmocka_unit_test(option_of_other_command_rejected),
        cmocka_unit_test(missing_models_exit_5),
    };
    int failed = cmocka_run_group_tests_name("cli usage", usage_tests, NULL, NULL);
    if (failed)
        return 1;

    const char *shared = getenv("FACESIM_SHARED_DIR");
    const char *models = getenv("FACESIM_MODEL_DIR");
    if (shared) {
        snprintf(test_faces, sizeof test_faces, "%s/faces", shared);
        snprintf(test_cases, sizeof test_cases, "%s/cases", shared);
    }
    if (models)
        snprintf(test_models, sizeof test_models, "%s/default", models);
    if (!shared || !data_is_directory(test_faces) || !data_is_directory(test_cases)) {
        fprintf(stderr, "test_cli: skipped the model tests: $FACESIM_SHARED_DIR/faces and "
                        "cases are missing (FACESIM_SHARED_DIR=%s).\n", shared ? shared : "");
        return 77;
    }
    if (!models || !data_is_directory(test_models)) {
        fprintf(stderr, "test_cli: skipped the model tests: the default pack is not at "
                        "$FACESIM_MODEL_DIR/default (%s).\n", test_models);
        return 77;
    }

    const struct CMUnitTest model_tests[] = {
        cmocka_unit_test(compare_same_person_above_threshold),
        cmocka_unit_test(compare_different_person_below_threshold),
        cmocka_unit_test(compare_json_has_fields),
        cmocka_unit_test(compare_no_face_exit_3),
        cmocka_unit_test(compare_corrupt_file_exit_4),
        cmocka_unit_test(compare_missing_file_exit_4),
        cmocka_unit_test(directory_as_image_exit_4),
        cmocka_unit_test(compare_aligned_crops),
        cmocka_unit_test(compare_aligned_one_side),
        cmocka_unit_test(messages_use_option_names),
        cmocka_unit_test(messages_say_things_once),
        cmocka_unit_test(compare_all_faces_matrix),
        cmocka_unit_test(compare_quiet_prints_only_cosine),
        cmocka_unit_test(detect_draw_writes_png),
        cmocka_unit_test(detect_save_crops_writes_112),
        cmocka_unit_test(detect_several_with_failure_exit_1),
        cmocka_unit_test(embed_writes_one_row_per_input),
    };
    failed = cmocka_run_group_tests_name("cli with the default pack", model_tests, NULL, NULL);

    const struct CMUnitTest reference_tests[] = {
        cmocka_unit_test(compare_matches_reference),
        cmocka_unit_test(detect_matches_reference_boxes),
    };
    if (pack_make_scrfd(test_scrfd_pack, sizeof test_scrfd_pack, test_work, "scrfd_pack",
                        shared, test_models))
        failed += cmocka_run_group_tests_name("cli against the insightface reference",
                                              reference_tests, NULL, NULL);
    else
        fprintf(stderr, "test_cli: skipped the reference tests: no shared SCRFD model or "
                        "default fr_feature.onnx to combine.\n");
    return failed ? 1 : 0;
}

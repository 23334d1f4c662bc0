/*
 * The README's demo command: scripts/demo.sh fetches public photos with npm, makes a
 * scaled, re-encoded copy of one with ffmpeg and runs `facesim compare` twice. The
 * first score (same photo) must be high and judged the same person, the second
 * (different people) low and judged different.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "support/cli_run.h"

/* Reads the cosine printed after the n-th (0-based) "cosine: " in text into *cosine. */
static int demo_read_cosine(const char *text, int n, double *cosine, const char **line)
{
    const char *at = text;
    for (int i = 0; i <= n; i++) {
        at = strstr(at, "cosine: ");
        if (!at)
            return -1;
        at += strlen("cosine: ");
    }
    *cosine = strtod(at, NULL);
    *line = at;
    return 0;
}

static void demo_scores_same_high_different_low(void **state)
{
    const char *source_dir = getenv("FACESIM_SOURCE_DIR");
    const char *cli = getenv("FACESIM_CLI");
    const char *work_dir = getenv("FACESIM_WORK_DIR");
    char script[4096], data_dir[4096];
    snprintf(script, sizeof script, "%s/scripts/demo.sh", source_dir);
    snprintf(data_dir, sizeof data_dir, "%s/demo-data", work_dir);

    cli_run run;
    cli_run_checked(&run, work_dir, "bash", NULL,
                    (const char *const[]){script, "--cli", cli, "--data", data_dir, NULL});
    if (run.exit_code != 0)
        fail_msg("demo.sh exited %d\nstdout:\n%s\nstderr:\n%s", run.exit_code, run.out,
                 run.err);

    double same = 0.0, different = 0.0;
    const char *same_line = NULL, *different_line = NULL;
    assert_int_equal(demo_read_cosine(run.out, 0, &same, &same_line), 0);
    assert_int_equal(demo_read_cosine(run.out, 1, &different, &different_line), 0);
    print_message("demo: same photo %.4f, different people %.4f\n", same, different);

    assert_true(same >= 0.9);
    assert_true(different < 0.3);
    const char *first_decision = strstr(same_line, "same person: ");
    assert_non_null(first_decision);
    assert_true(strncmp(first_decision, "same person: yes", 16) == 0);
    const char *second_decision = strstr(different_line, "same person: ");
    assert_non_null(second_decision);
    assert_true(strncmp(second_decision, "same person: no", 15) == 0);
    cli_run_free(&run);
}

int main(void)
{
    const char *names[] = {"FACESIM_SOURCE_DIR", "FACESIM_CLI", "FACESIM_WORK_DIR"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!getenv(names[i])) {
            printf("test_demo: skipped: %s is not set (run through ctest)\n", names[i]);
            return 77;
        }
    }
    if (system("command -v npm >/dev/null 2>&1 && command -v ffmpeg >/dev/null 2>&1") != 0) {
        printf("test_demo: skipped: npm or ffmpeg is not installed (scripts/install-deps.sh)\n");
        return 77;
    }

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(demo_scores_same_high_different_low),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

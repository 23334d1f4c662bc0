/*
 * Running a program as a user would and capturing what it printed: used for the
 * facesim program ($FACESIM_CLI) and for the ffmpeg, ffprobe and python3 programs that
 * make and check test inputs.
 *
 *     cli_run run;
 *     cli_run_checked(&run, work_dir, cli_path, NULL, (const char *const[]){"--version", NULL});
 *     cli_expect_exit(&run, 0);
 *     assert_non_null(strstr(run.out, "facesim"));
 *     cli_run_free(&run);
 */
#ifndef FS_TESTS_CLI_RUN_H
#define FS_TESTS_CLI_RUN_H

#include <stdbool.h>
#include <sys/types.h>

/* The outcome of one finished run. */
typedef struct cli_run {
    int exit_code;   /* valid when term_signal is 0 */
    int term_signal; /* the signal that ended the program, 0 when it exited */
    char *out;       /* standard output, NUL-terminated; NULL when the run failed */
    char *err;       /* standard error, NUL-terminated; NULL when the run failed */
    double seconds;  /* wall-clock time from start to exit */
} cli_run;

/*
 * Starts program (searched on PATH when it contains no slash) with args, a
 * NULL-terminated list without the program name, and standard output and standard
 * error sent to the files out_path and err_path. environment is NULL or one change to
 * the child's environment: "NAME=value" sets NAME, "NAME=" removes it. Returns the
 * child's pid, or -1 when fork failed or args has more than 62 entries.
 */
pid_t cli_spawn(const char *program, const char *environment, const char *const *args,
                const char *out_path, const char *err_path);

/*
 * Runs program to completion as cli_spawn does, with the outputs in work_dir/stdout.txt
 * and work_dir/stderr.txt, and reads both into run. Returns false, with out and err
 * NULL, when it could not be started, was ended by a signal (stored in term_signal) or
 * its outputs could not be read. Free run with cli_run_free either way.
 */
bool cli_run_program(cli_run *run, const char *work_dir, const char *program,
                     const char *environment, const char *const *args);

/* Runs as cli_run_program does and fails the running cmocka test, naming the program,
 * its first argument and the signal, unless the program exited by itself. */
void cli_run_checked(cli_run *run, const char *work_dir, const char *program,
                     const char *environment, const char *const *args);

/* Frees out and err and clears run. */
void cli_run_free(cli_run *run);

/* Fails the running test with the program's stderr when the exit code is not expected. */
void cli_expect_exit(const cli_run *run, int expected);

#endif

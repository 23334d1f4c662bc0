#define _GNU_SOURCE
#include "support/cli_run.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/data_files.h"

/* argv entries cli_spawn accepts, counting the program name and the final NULL. */
#define CLI_MAX_ARGV 64

static double cli_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

pid_t cli_spawn(const char *program, const char *environment, const char *const *args,
                const char *out_path, const char *err_path)
{
    const char *argv[CLI_MAX_ARGV];
    int argc = 0;
    argv[argc++] = program;
    for (int i = 0; args[i]; i++) {
        if (argc == CLI_MAX_ARGV - 1)
            return -1;
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;

    pid_t pid = fork();
    if (pid != 0)
        return pid;

    /* In the child: only _exit from here, so that no cmocka or stdio state runs twice. */
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0)
        _exit(127);
    dup2(out, 1);
    dup2(err, 2);
    if (environment) {
        char name[256];
        const char *equals = strchr(environment, '=');
        if (!equals)
            _exit(127);
        snprintf(name, sizeof name, "%.*s", (int)(equals - environment), environment);
        if (equals[1])
            setenv(name, equals + 1, 1);
        else
            unsetenv(name);
    }
    execvp(program, (char *const *)argv);
    _exit(127);
}

bool cli_run_program(cli_run *run, const char *work_dir, const char *program,
                     const char *environment, const char *const *args)
{
    char out_path[4200], err_path[4200];
    snprintf(out_path, sizeof out_path, "%s/stdout.txt", work_dir);
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", work_dir);

    memset(run, 0, sizeof *run);
    double start = cli_now();
    pid_t pid = cli_spawn(program, environment, args, out_path, err_path);
    if (pid < 0)
        return false;
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return false;
    run->seconds = cli_now() - start;
    if (!WIFEXITED(status)) {
        run->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : -1;
        return false;
    }
    run->exit_code = WEXITSTATUS(status);
    run->out = data_read_file(out_path, NULL);
    run->err = data_read_file(err_path, NULL);
    if (!run->out || !run->err) {
        cli_run_free(run);
        return false;
    }
    return true;
}

void cli_run_checked(cli_run *run, const char *work_dir, const char *program,
                     const char *environment, const char *const *args)
{
    if (cli_run_program(run, work_dir, program, environment, args))
        return;
    if (run->term_signal)
        fail_msg("%s %s ended by signal %d", program, args[0] ? args[0] : "",
                 run->term_signal);
    fail_msg("%s %s could not be run, or its output in %s could not be read", program,
             args[0] ? args[0] : "", work_dir);
}

void cli_run_free(cli_run *run)
{
    free(run->out);
    free(run->err);
    memset(run, 0, sizeof *run);
}

void cli_expect_exit(const cli_run *run, int expected)
{
    if (run->exit_code != expected)
        fail_msg("exit code %d, expected %d; stderr:\n%s", run->exit_code, expected, run->err);
}

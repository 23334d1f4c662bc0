/*
 * Helpers shared by the subcommands: opening the model pack, reporting errors with
 * the file name and a next step, mapping library status codes to exit codes, and
 * writing faces as JSON or text.
 */
#ifndef FACESIM_CLI_COMMON_H
#define FACESIM_CLI_COMMON_H

#include <stdio.h>

#include "eval/json_writer.h"
#include "facesim.h"
#include "options.h"

/* The opened model pack and where results go. */
typedef struct cli_session {
    const cli_options *options;  /* borrowed */
    facesim_context *ctx;
    char model_dir[4096];
    FILE *out;                   /* stdout or the -o file */
    double open_ms;              /* time spent in facesim_open */
    const char *current_input;   /* input being processed, named in library log lines */
} cli_session;

/* Opens the model pack and the output. Returns an exit code; on failure the error is
 * already printed and cli_session_close is still safe to call. */
int cli_session_open(cli_session *session, const cli_options *options);

/* Fills params as cli_session_open opens the session's context (model directory, detector
 * settings, threads, limits, logging), for commands that open more contexts. */
void cli_session_params(const cli_session *session, facesim_params *params);

/* Closes the output (reporting a failed write) and the context. Returns
 * CLI_EXIT_INTERNAL when the output could not be written, else exit_code. */
int cli_session_close(cli_session *session, int exit_code);

/* Maps a status from processing one input to an exit code (3, 4 or 6). */
int cli_exit_for_input_status(int status);

/*
 * Prints "facesim <command>: <path>: <message>" and a hint for the status to stderr.
 * The path is left out when the library message already starts with it.
 */
void cli_report_input_error(const cli_options *options, const char *path, int status,
                            const char *message);

/* Prints what cli_report_input_error prints, with the hints for a video file in place
 * of those for an image. */
void cli_report_video_error(const cli_options *options, const char *path, int status,
                            const char *message);

/*
 * Rewrites a library message in CLI terms: "use aligned_input (CLI: --aligned)" becomes
 * "pass --aligned", and any other "name (CLI: option)" becomes "option". Returns
 * message itself when it names no library parameter, else buffer (truncated to size).
 */
const char *cli_message_terms(const char *message, char *buffer, size_t size);

/* Prints a warning to stderr unless --quiet was given. */
void cli_warn(const cli_options *options, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Loads an image, reporting a failure, and makes path the input that library log
 * messages are attributed to. Returns FACESIM_OK or the library status. */
int cli_load_image(cli_session *session, const char *path, facesim_image **image);

/* Detects every face in the image, sorted by score. *faces is malloc'd (free it) and
 * may be NULL when *count is 0. Reports a failure and returns its status. */
int cli_detect_all(cli_session *session, const char *path, const facesim_image *image,
                   facesim_face **faces, int *count);

/* Writes a face object: box, score, landmarks and the landmarks-outside flag. */
void cli_json_face(fs_json_writer *json, const facesim_face *face);

/* Writes the pack description as {"dir": ..., "models": [one line per model]}. */
void cli_json_model_pack(fs_json_writer *json, const cli_session *session);

/* Milliseconds from a monotonic clock. */
double cli_now_ms(void);

/* Returns the file name without directories and without its last extension. */
void cli_file_stem(const char *path, char *stem, size_t size);

/* Returns the cli_exit for a multi-input command: 0 when all succeeded, the failing
 * input's exit code with a single input, else 1. */
int cli_combine_exit(int input_count, int failures, int last_failure_exit);

#endif /* FACESIM_CLI_COMMON_H */

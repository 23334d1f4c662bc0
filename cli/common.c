#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double cli_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1000.0 + (double)now.tv_nsec / 1e6;
}

void cli_warn(const cli_options *options, const char *format, ...)
{
    if (options->quiet)
        return;
    fprintf(stderr, "facesim %s: warning: ", options->command_name);
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
}

/* Library log messages: errors and warnings unless --quiet, info with -v, debug with
 * -vv. Messages logged while an input is processed get its path in front, because the
 * library does not know which file an image came from. */
static void cli_log(void *user_data, int level, const char *message)
{
    const cli_session *session = user_data;
    const cli_options *options = session->options;
    int max_level = options->quiet ? -1 : FACESIM_LOG_WARNING + options->verbose;
    if (level > max_level)
        return;
    static const char *const names[] = { "error", "warning", "info", "debug" };
    const char *name = level >= 0 && level <= FACESIM_LOG_DEBUG ? names[level] : "log";
    char rewritten[2048];
    message = cli_message_terms(message, rewritten, sizeof rewritten);
    const char *path = session->current_input;
    bool named = !path || strncmp(message, path, strlen(path)) == 0;
    fprintf(stderr, "facesim %s: %s: %s%s%s\n", options->command_name, name,
            named ? "" : path, named ? "" : ": ", message);
}

void cli_session_params(const cli_session *session, facesim_params *params)
{
    const cli_options *options = session->options;
    facesim_default_params(params);
    params->model_dir = session->model_dir;
    if (options->det_size > 0)
        params->det_size = options->det_size;
    if (options->det_threshold >= 0.0f)
        params->det_threshold = options->det_threshold;
    if (options->threads >= 0)
        params->threads = options->threads;
    if (options->max_pixels > 0)
        params->max_pixels = options->max_pixels;
    params->accept_damaged = options->accept_damaged;
    params->log = cli_log;
    params->log_user_data = (void *)session;
}

int cli_session_open(cli_session *session, const cli_options *options)
{
    memset(session, 0, sizeof *session);
    session->options = options;
    session->out = stdout;

    int exit_code = cli_find_models(options, session->model_dir, sizeof session->model_dir);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;

    facesim_params params;
    cli_session_params(session, &params);

    double start = cli_now_ms();
    int status = facesim_open(&params, &session->ctx);
    session->open_ms = cli_now_ms() - start;
    if (status != FACESIM_OK) {
        fprintf(stderr, "facesim %s: cannot open the model pack in '%s': %s\n",
                options->command_name, session->model_dir, facesim_last_error());
        if (status == FACESIM_ERR_NO_MEMORY || status == FACESIM_ERR_INTERNAL)
            return CLI_EXIT_INTERNAL;
        fprintf(stderr, "Pass --models DIR with a directory that contains a face detector and "
                        "an ArcFace recogniser in ONNX format.\n");
        return CLI_EXIT_MODEL_PACK;
    }

    if (options->output) {
        session->out = fopen(options->output, options->format == CLI_FORMAT_NPY ? "wb" : "w");
        if (!session->out) {
            fprintf(stderr, "facesim %s: cannot create output file '%s': %s. Check that the "
                            "directory exists and is writable.\n",
                    options->command_name, options->output, strerror(errno));
            session->out = NULL;
            return CLI_EXIT_BAD_INPUT;
        }
    }
    return CLI_EXIT_OK;
}

int cli_session_close(cli_session *session, int exit_code)
{
    if (session->out) {
        bool failed = fflush(session->out) != 0 || ferror(session->out);
        if (session->out != stdout)
            failed = fclose(session->out) != 0 || failed;
        if (failed) {
            const char *name = session->options->output ? session->options->output
                                                         : "standard output";
            fprintf(stderr, "facesim %s: writing %s failed: %s. Check free disk space.\n",
                    session->options->command_name, name, strerror(errno));
            exit_code = CLI_EXIT_INTERNAL;
        }
        session->out = NULL;
    }
    facesim_close(session->ctx);
    session->ctx = NULL;
    return exit_code;
}

int cli_exit_for_input_status(int status)
{
    switch (status) {
    case FACESIM_OK: return CLI_EXIT_OK;
    case FACESIM_ERR_NO_FACE: return CLI_EXIT_NO_FACE;
    case FACESIM_ERR_NO_MEMORY:
    case FACESIM_ERR_INTERNAL: return CLI_EXIT_INTERNAL;
    default: return CLI_EXIT_BAD_INPUT;
    }
}

/* Library messages name the facesim_params / facesim_embed_options field with the
 * option in brackets. Each pair is the library wording and the CLI wording. */
static const char *const cli_library_phrases[][2] = {
    { "set accept_damaged (CLI: --accept-damaged)", "pass --accept-damaged" },
    { "use aligned_input (CLI: --aligned)", "pass --aligned" },
    { "try pad_retry (CLI: --pad-retry)", "try --pad-retry" },
    { "turn off aligned_input (CLI: drop --aligned)", "drop --aligned" },
};

const char *cli_message_terms(const char *message, char *buffer, size_t size)
{
    if (!message || !strstr(message, "(CLI: ") || size == 0)
        return message;
    size_t length = 0;
    const char *at = message;
    while (*at && length + 1 < size) {
        bool replaced = false;
        for (size_t i = 0; i < sizeof cli_library_phrases / sizeof cli_library_phrases[0]; i++) {
            const char *phrase = cli_library_phrases[i][0];
            if (strncmp(at, phrase, strlen(phrase)) == 0) {
                int written = snprintf(buffer + length, size - length, "%s",
                                       cli_library_phrases[i][1]);
                length += (size_t)written < size - length ? (size_t)written : size - length - 1;
                at += strlen(phrase);
                replaced = true;
                break;
            }
        }
        if (replaced)
            continue;

        /* Any other "name (CLI: option)": keep only the option. The library name is
         * the word before the bracket, already copied, so it is taken back out. */
        const char *close = strncmp(at, " (CLI: ", 7) == 0 ? strchr(at, ')') : NULL;
        if (close) {
            while (length > 0 && buffer[length - 1] != ' ')
                length--;
            at += 7;
            while (at < close && length + 1 < size)
                buffer[length++] = *at++;
            at = close + 1;
            continue;
        }
        buffer[length++] = *at++;
    }
    buffer[length] = '\0';
    return buffer;
}

static const char *cli_hint_for_status(const cli_options *options, int status,
                                       const char *message)
{
    switch (status) {
    case FACESIM_ERR_NO_FACE:
        if (options->embed.aligned_input)
            return NULL;
        return options->embed.pad_retry
                   ? "If the image is an aligned 112x112 crop pass --aligned, or try a lower "
                     "--det-thresh."
                   : "If the image is a tight face crop try --pad-retry, if it is an aligned "
                     "112x112 crop pass --aligned, or try a lower --det-thresh.";
    case FACESIM_ERR_IO:
        if (strstr(message, "is a directory"))
            return "Pass an image file. For folders of images see facesim pairs and "
                   "facesim dirs.";
        return "Check that the file exists and is readable.";
    case FACESIM_ERR_INVALID_DATA:
        return "The file is damaged or not an image: re-export or re-download it.";
    case FACESIM_ERR_UNSUPPORTED:
        return "Convert the image to PNG or JPEG.";
    case FACESIM_ERR_LIMIT:
        return "If the image is genuine, raise --max-pixels.";
    case FACESIM_ERR_INVALID_ARGUMENT:
        return options->embed.select == FACESIM_SELECT_INDEX
                   ? "Check that --select index:K names an existing face (see facesim detect)."
                   : NULL;
    case FACESIM_ERR_NO_MEMORY:
        return "Free memory or lower --max-pixels.";
    case FACESIM_ERR_INTERNAL:
        return "This is a bug in facesim: please report it with the file.";
    default:
        return NULL;
    }
}

/* Returns the hint for a video input. Statuses without a video-specific next step get
 * the image hint. */
static const char *cli_video_hint_for_status(const cli_options *options, int status,
                                             const char *message)
{
    switch (status) {
    case FACESIM_ERR_IO:
        if (strstr(message, "is a directory"))
            return "Pass a video file.";
        return "Check that the file exists and is readable.";
    case FACESIM_ERR_INVALID_DATA:
        return "The file is damaged or not a video: check that it is a complete video file, "
               "for example with `ffprobe FILE`.";
    case FACESIM_ERR_UNSUPPORTED:
        return "Convert the video to H.264 in MP4, for example with "
               "`ffmpeg -i FILE -c:v libx264 out.mp4`.";
    case FACESIM_ERR_LIMIT:
        return "If the video is genuine, raise --max-pixels.";
    default:
        return cli_hint_for_status(options, status, message);
    }
}

static void cli_report_error(const cli_options *options, const char *path, int status,
                             const char *message, bool video)
{
    if (!message || !*message)
        message = facesim_status_name(status);
    char rewritten[2048];
    message = cli_message_terms(message, rewritten, sizeof rewritten);
    size_t path_length = strlen(path);
    bool named = strncmp(message, path, path_length) == 0;
    fprintf(stderr, "facesim %s: ", options->command_name);
    if (!named)
        fprintf(stderr, "%s: ", path);
    fprintf(stderr, "%s\n", message);
    /* Library messages may already give the next step: an option to try, or to copy
     * the file again. */
    const char *hint = video ? cli_video_hint_for_status(options, status, message)
                             : cli_hint_for_status(options, status, message);
    if (hint && !strstr(message, "--") && !strstr(message, " again"))
        fprintf(stderr, "  %s\n", hint);
    facesim_params defaults;
    facesim_default_params(&defaults);
    if (status == FACESIM_ERR_NO_FACE && !options->embed.aligned_input &&
        options->det_size > defaults.det_size)
        fprintf(stderr, "  A face that fills much of the image can be too large for the "
                        "detector at --det-size %d: try --det-size %d or smaller.\n",
                options->det_size, defaults.det_size);
}

void cli_report_input_error(const cli_options *options, const char *path, int status,
                            const char *message)
{
    cli_report_error(options, path, status, message, false);
}

void cli_report_video_error(const cli_options *options, const char *path, int status,
                            const char *message)
{
    cli_report_error(options, path, status, message, true);
}

int cli_load_image(cli_session *session, const char *path, facesim_image **image)
{
    session->current_input = path;
    int status = facesim_image_load(session->ctx, path, image);
    if (status != FACESIM_OK)
        cli_report_input_error(session->options, path, status, facesim_errmsg(session->ctx));
    return status;
}

void cli_json_face(fs_json_writer *json, const facesim_face *face)
{
    fs_json_begin_object(json);
    fs_json_key(json, "box");
    fs_json_begin_one_line_array(json);
    for (int i = 0; i < 4; i++)
        fs_json_fixed(json, face->box[i], 2);
    fs_json_end_array(json);
    fs_json_key_fixed(json, "score", face->score, 5);
    fs_json_key(json, "landmarks");
    fs_json_begin_one_line_array(json);
    for (int i = 0; i < 5; i++) {
        fs_json_begin_array(json);
        fs_json_fixed(json, face->landmarks[2 * i], 2);
        fs_json_fixed(json, face->landmarks[2 * i + 1], 2);
        fs_json_end_array(json);
    }
    fs_json_end_array(json);
    fs_json_key_bool(json, "landmarks_outside",
                     (face->flags & FACESIM_FACE_LANDMARKS_OUTSIDE) != 0);
    fs_json_end_object(json);
}

void cli_json_model_pack(fs_json_writer *json, const cli_session *session)
{
    fs_json_key(json, "model_pack");
    fs_json_begin_object(json);
    fs_json_key_string(json, "dir", session->model_dir);
    fs_json_key(json, "models");
    fs_json_begin_array(json);
    const char *description = facesim_describe_pack(session->ctx);
    while (description && *description) {
        const char *end = strchr(description, '\n');
        size_t length = end ? (size_t)(end - description) : strlen(description);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)length, description);
        if (line[0])
            fs_json_string(json, line);
        description += length + (end ? 1 : 0);
    }
    fs_json_end_array(json);
    fs_json_key_fixed(json, "threshold", facesim_default_threshold(session->ctx), 4);
    fs_json_end_object(json);
}

void cli_file_stem(const char *path, char *stem, size_t size)
{
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    const char *dot = strrchr(name, '.');
    size_t length = dot && dot != name ? (size_t)(dot - name) : strlen(name);
    snprintf(stem, size, "%.*s", (int)length, name);
}

int cli_combine_exit(int input_count, int failures, int last_failure_exit)
{
    if (failures == 0)
        return CLI_EXIT_OK;
    if (input_count == 1)
        return last_failure_exit;
    return CLI_EXIT_SOME_FAILED;
}

int cli_detect_all(cli_session *session, const char *path, const facesim_image *image,
                   facesim_face **faces, int *count)
{
    *faces = NULL;
    *count = 0;
    int capacity = 64;
    for (;;) {
        facesim_face *buffer = malloc((size_t)capacity * sizeof *buffer);
        if (!buffer) {
            cli_report_input_error(session->options, path, FACESIM_ERR_NO_MEMORY,
                                   "out of memory for the face list");
            return FACESIM_ERR_NO_MEMORY;
        }
        int found = 0;
        int status = facesim_detect(session->ctx, image, buffer, capacity, &found);
        if (status != FACESIM_OK) {
            free(buffer);
            cli_report_input_error(session->options, path, status,
                                   facesim_errmsg(session->ctx));
            return status;
        }
        if (found <= capacity) {
            *faces = buffer;
            *count = found;
            return FACESIM_OK;
        }
        /* More faces than the buffer holds: detect again with room for all of them. */
        free(buffer);
        capacity = found;
    }
}

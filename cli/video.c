/*
 * facesim video: identity similarity of the face in each sampled video frame to a
 * reference face, plus the consistency of the face over time.
 *
 * This file embeds the reference image(s), runs the evaluation and reports damage.
 * The command line is in video_options.c and the output writers in video_output.c.
 * Decoding and sampling live in src/video/video.h, and the per-frame detection,
 * alignment, batched embedding and summary in src/video/evaluate.h. The video is
 * opened (and for --frames counted) before the model pack loads, so a bad video path
 * fails fast.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "eval/progress.h"
#include "video.h"

/* ---- reference ---- */

static void cli_video_reference_free(cli_video_reference *reference)
{
    for (int i = 0; i < reference->count; i++)
        free(reference->files[i]);
    free(reference->files);
    free(reference->embeddings);
    memset(reference, 0, sizeof *reference);
}

static bool cli_video_is_image_name(const char *name)
{
    static const char *const extensions[] = { ".jpg", ".jpeg", ".png", ".webp", ".bmp",
                                              ".tif", ".tiff" };
    const char *dot = strrchr(name, '.');
    if (!dot || name[0] == '.')
        return false;
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++)
        if (strcasecmp(dot, extensions[i]) == 0)
            return true;
    return false;
}

static int cli_video_compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the reference files: REF itself, or the images in the directory REF sorted by
 * name. Returns an exit code after printing any problem. */
static int cli_video_list_references(const char *path, cli_video_reference *reference)
{
    struct stat info;
    if (stat(path, &info) != 0 || !S_ISDIR(info.st_mode)) {
        reference->files = calloc(1, sizeof *reference->files);
        if (!reference->files || !(reference->files[0] = strdup(path)))
            return CLI_EXIT_INTERNAL;
        reference->count = 1;
        return CLI_EXIT_OK;
    }
    DIR *dir = opendir(path);
    if (!dir) {
        fprintf(stderr, "facesim video: cannot read the reference directory '%s': %s\n", path,
                strerror(errno));
        return CLI_EXIT_BAD_INPUT;
    }
    reference->files = calloc(CLI_VIDEO_MAX_REFERENCES, sizeof *reference->files);
    if (!reference->files) {
        closedir(dir);
        return CLI_EXIT_INTERNAL;
    }
    const struct dirent *entry;
    int exit_code = CLI_EXIT_OK;
    while ((entry = readdir(dir)) != NULL && exit_code == CLI_EXIT_OK) {
        if (!cli_video_is_image_name(entry->d_name))
            continue;
        if (reference->count == CLI_VIDEO_MAX_REFERENCES) {
            fprintf(stderr, "facesim video: the reference directory '%s' has more than %d "
                            "images; pass a directory with fewer\n", path,
                    CLI_VIDEO_MAX_REFERENCES);
            exit_code = CLI_EXIT_BAD_INPUT;
            break;
        }
        size_t length = strlen(path) + strlen(entry->d_name) + 2;
        char *file = malloc(length);
        if (!file) {
            exit_code = CLI_EXIT_INTERNAL;
            break;
        }
        snprintf(file, length, "%s/%s", path, entry->d_name);
        reference->files[reference->count++] = file;
    }
    closedir(dir);
    if (exit_code == CLI_EXIT_OK && reference->count == 0) {
        fprintf(stderr, "facesim video: the reference directory '%s' contains no images "
                        "(.jpg, .jpeg, .png, .webp, .bmp, .tif, .tiff)\n", path);
        exit_code = CLI_EXIT_BAD_INPUT;
    }
    qsort(reference->files, (size_t)reference->count, sizeof *reference->files,
          cli_video_compare_names);
    return exit_code;
}

/* Embeds every reference image (largest face). In mean mode the L2-normalised
 * embeddings are averaged and the mean is normalised again. */
static int cli_video_load_reference(cli_session *session, const cli_video_options *options,
                                    cli_video_reference *reference)
{
    int exit_code = cli_video_list_references(options->reference, reference);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    int dim = facesim_embedding_size(session->ctx);
    reference->dim = dim;
    reference->rows = options->ref_max ? reference->count : 1;
    reference->embeddings = calloc((size_t)reference->rows * (size_t)dim, sizeof(float));
    facesim_face_embedding *result = malloc(sizeof *result);
    if (!reference->embeddings || !result) {
        free(result);
        fprintf(stderr, "facesim video: out of memory for the reference embeddings\n");
        return CLI_EXIT_INTERNAL;
    }

    for (int i = 0; i < reference->count; i++) {
        const char *file = reference->files[i];
        facesim_image *image = NULL;
        int status = cli_load_image(session, file, &image);
        if (status == FACESIM_OK) {
            status = facesim_embed_image(session->ctx, image, &options->common.embed, result);
            if (status != FACESIM_OK)
                cli_report_input_error(&options->common, file, status,
                                       facesim_errmsg(session->ctx));
        }
        facesim_image_free(image);
        if (status == FACESIM_ERR_UNSUPPORTED && !cli_video_is_image_name(file))
            fprintf(stderr, "  If '%s' is the video, swap the arguments: the reference image "
                            "comes first, as in 'facesim video REF VIDEO'.\n", file);
        if (status != FACESIM_OK) {
            free(result);
            return cli_exit_for_input_status(status);
        }
        float *row = reference->embeddings + (size_t)(options->ref_max ? i : 0) * dim;
        for (int k = 0; k < dim; k++)
            row[k] += result->embedding[k];
    }
    free(result);

    if (!options->ref_max) {
        double norm = 0.0;
        for (int k = 0; k < dim; k++)
            norm += (double)reference->embeddings[k] * reference->embeddings[k];
        norm = sqrt(norm);
        if (norm > 0.0)
            for (int k = 0; k < dim; k++)
                reference->embeddings[k] = (float)(reference->embeddings[k] / norm);
    }
    return CLI_EXIT_OK;
}

/* ---- decoding ---- */

/* Counts the frames by decoding the whole stream without converting pixels, for
 * --frames. Damage is reported by the main pass, which reads the same stream. */
static int cli_video_count_frames(const cli_video_options *options, uint64_t max_pixels,
                                  int64_t *count)
{
    fs_error err;
    fs_video_reader *reader = NULL;
    *count = 0;
    int status = fs_video_open(options->video, max_pixels, &reader, &err);
    bool got = true;
    while (status == FACESIM_OK && got) {
        fs_video_frame frame;
        status = fs_video_read(reader, &frame, &got, &err);
        if (status == FACESIM_OK && got)
            (*count)++;
    }
    fs_video_close(reader);
    if (status != FACESIM_OK) {
        cli_report_video_error(&options->common, options->video, status, err.message);
        return cli_exit_for_input_status(status);
    }
    return CLI_EXIT_OK;
}

/* Estimates the number of sampled frames for the progress bar; 0 when unknown. */
static uint64_t cli_video_expected_samples(const cli_video_options *options,
                                           const fs_video_info *info, const fs_sampler *sampler)
{
    switch (options->sample_mode) {
    case FS_SAMPLE_ALL: return (uint64_t)info->declared_frames;
    case FS_SAMPLE_EVERY:
        return (uint64_t)((info->declared_frames + sampler->every - 1) / sampler->every);
    case FS_SAMPLE_COUNT: return (uint64_t)sampler->index_count;
    case FS_SAMPLE_RATE:
        return isnan(info->duration) ? 0 : (uint64_t)ceil(info->duration * sampler->rate);
    }
    return 0;
}

static void cli_video_show_progress(void *user_data, size_t rows)
{
    fs_progress_update(user_data, rows);
}

/* Decodes the video once and evaluates every sampled frame, with a progress bar. */
/*
 * Opens one single-threaded context per thread for parallel detection when the run
 * uses more than one thread: whole frames in parallel scale better than one frame's
 * convolutions split over threads. Returns the number opened (0 on any failure, and
 * then the main context detects alone).
 */
static int cli_video_open_detectors(const cli_session *session, facesim_context **detectors,
                                    int capacity)
{
    int threads = session->options->threads > 0 ? session->options->threads
                                                : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 2)
        return 0;
    if (threads > capacity)
        threads = capacity;
    facesim_params params;
    cli_session_params(session, &params);
    params.threads = 1;
    for (int i = 0; i < threads; i++) {
        if (facesim_open(&params, &detectors[i]) != FACESIM_OK) {
            for (int k = 0; k < i; k++)
                facesim_close(detectors[k]);
            return 0;
        }
    }
    return threads;
}

static int cli_video_process(const cli_session *session, const cli_video_options *options,
                             facesim_context *ctx, const cli_video_reference *reference,
                             fs_video_reader *reader, fs_sampler *sampler,
                             fs_video_result *result)
{
    facesim_context *detectors[16];
    int detector_count = cli_video_open_detectors(session, detectors, 16);

    fs_progress progress;
    const char *name = strrchr(options->video, '/');
    fs_progress_init(&progress, stderr, !options->common.quiet, name ? name + 1 : options->video,
                     "frames", cli_video_expected_samples(options, fs_video_get_info(reader),
                                                          sampler));
    fs_video_eval_params params = {
        .reference = reference ? reference->embeddings : NULL,
        .reference_rows = reference ? reference->rows : 0,
        .clamp_negative = options->clamp_negative,
        .progress = cli_video_show_progress,
        .progress_user_data = &progress,
        .detectors = detector_count > 0 ? detectors : NULL,
        .detector_count = detector_count,
    };
    fs_error err;
    int status = fs_video_evaluate(ctx, reader, sampler, &params, result, &err);
    fs_progress_finish(&progress);
    for (int i = 0; i < detector_count; i++)
        facesim_close(detectors[i]);
    if (status != FACESIM_OK) {
        cli_report_video_error(&options->common, options->video, status, err.message);
        return cli_exit_for_input_status(status);
    }
    return CLI_EXIT_OK;
}

/* ---- command ---- */

/* Warns about damage the reader met, with the frame counts that show what is missing. */
static void cli_video_warn_damage(const cli_video_options *options, fs_video_reader *reader)
{
    const fs_video_damage *damage = fs_video_get_damage(reader);
    const fs_video_info *info = fs_video_get_info(reader);
    int64_t decoded = fs_video_frames_read(reader);
    if (!damage->decode_errors && !damage->read_error && !damage->logged_errors)
        return;
    char frames[128];
    if (info->declared_frames > 0 && decoded < info->declared_frames)
        snprintf(frames, sizeof frames, "%lld of the %lld frames the container declares",
                 (long long)decoded, (long long)info->declared_frames);
    else
        snprintf(frames, sizeof frames, "%lld frame%s", (long long)decoded,
                 decoded == 1 ? "" : "s");
    cli_warn(&options->common,
             "%s: the video is damaged (%d decode error%s%s%s%s). Decoded %s; the results "
             "cover only the frames before the damage.",
             options->video, damage->decode_errors, damage->decode_errors == 1 ? "" : "s",
             damage->read_error ? ", a read error" : "",
             damage->last_message[0] ? "; FFmpeg: " : "", damage->last_message, frames);
}

/* Warns when an undamaged input has one frame: a still image given as the video, for
 * example `facesim video a.jpg b.jpg`, decodes as a one-frame MJPEG stream. */
static void cli_video_warn_single_frame(const cli_video_options *options,
                                        fs_video_reader *reader)
{
    const fs_video_damage *damage = fs_video_get_damage(reader);
    if (fs_video_frames_read(reader) != 1 || damage->decode_errors || damage->read_error)
        return;
    cli_warn(&options->common,
             "%s: the input has a single frame, so it is probably a still image, not a "
             "video. To compare two images use facesim compare.", options->video);
}

/* Opens the video and prepares the sampler; for --frames the frames are counted first. */
static int cli_video_open(const cli_video_options *options, fs_video_reader **reader,
                          fs_sampler *sampler)
{
    fs_error err;
    int status = fs_video_open(options->video, options->common.max_pixels, reader, &err);
    if (status != FACESIM_OK) {
        cli_report_video_error(&options->common, options->video, status, err.message);
        return cli_exit_for_input_status(status);
    }
    int64_t total_frames = 0;
    if (options->sample_mode == FS_SAMPLE_COUNT) {
        int exit_code = cli_video_count_frames(options, options->common.max_pixels,
                                               &total_frames);
        if (exit_code != CLI_EXIT_OK)
            return exit_code;
    }
    status = fs_sampler_init(sampler, options->sample_mode, options->sample_value, total_frames,
                             &err);
    if (status != FACESIM_OK) {
        fprintf(stderr, "facesim video: %s\n", err.message);
        return CLI_EXIT_USAGE;
    }
    /* An empty stream is reported as an error by the main pass, not warned about here. */
    if (options->sample_mode == FS_SAMPLE_COUNT && total_frames > 0 &&
        sampler->index_count < options->sample_value)
        cli_warn(&options->common, "%s: --frames %.0f asks for more frames than the video has "
                                   "(%lld); each frame is used once", options->video,
                 options->sample_value, (long long)total_frames);
    return CLI_EXIT_OK;
}

int cli_video_main(int argc, char **argv)
{
    cli_video_options options;
    int exit_code = cli_video_parse(argc, argv, &options);
    if (exit_code != CLI_EXIT_OK || options.common.help) {
        if (options.common.help)
            cli_video_usage(stdout);
        return exit_code;
    }

    /* The video is opened before the model pack loads, so a bad path fails fast. */
    fs_video_reader *reader = NULL;
    fs_sampler sampler = { 0 };
    exit_code = cli_video_open(&options, &reader, &sampler);
    if (exit_code != CLI_EXIT_OK) {
        fs_sampler_release(&sampler);
        fs_video_close(reader);
        return exit_code;
    }

    cli_session session;
    cli_video_reference reference = { 0 };
    fs_video_result result = { 0 };
    exit_code = cli_session_open(&session, &options.common);
    if (exit_code == CLI_EXIT_OK && !options.no_ref)
        exit_code = cli_video_load_reference(&session, &options, &reference);
    if (exit_code == CLI_EXIT_OK)
        exit_code = cli_video_process(&session, &options, session.ctx, options.no_ref ? NULL : &reference,
                                      reader, &sampler, &result);
    if (exit_code == CLI_EXIT_OK) {
        cli_video_report report = {
            .options = &options,
            .session = &session,
            .reference = options.no_ref ? NULL : &reference,
            .info = fs_video_get_info(reader),
            .damage = fs_video_get_damage(reader),
            .frames_decoded = fs_video_frames_read(reader),
            .rows = result.rows,
            .row_count = result.row_count,
            .threshold = options.common.threshold_set ? options.common.threshold
                                                      : facesim_default_threshold(session.ctx),
            .threshold_source = options.common.threshold_set ? "option" : "model pack",
        };
        fs_video_summarize(result.rows, result.row_count, report.threshold, &report.summary);
        cli_video_warn_damage(&options, reader);
        cli_video_warn_single_frame(&options, reader);
        exit_code = cli_video_write_results(&report, session.out);
    }
    exit_code = cli_session_close(&session, exit_code);
    fs_video_result_release(&result);
    cli_video_reference_free(&reference);
    fs_sampler_release(&sampler);
    fs_video_close(reader);
    return exit_code;
}

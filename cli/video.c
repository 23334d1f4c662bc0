/*
 * facesim video: identity similarity of the face in each sampled video frame to a
 * reference face, plus the consistency of the face over time.
 *
 * This file parses the options, embeds the reference image(s) and writes the report.
 * Decoding and sampling live in src/video/video.h, and the per-frame detection,
 * alignment, batched embedding and summary in src/video/evaluate.h. The video is
 * opened (and for --frames counted) before the model pack loads, so a bad video path
 * fails fast.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "eval/csv_writer.h"
#include "eval/json_writer.h"
#include "eval/progress.h"
#include "eval/svg_timeline.h"
#include "eval/table.h"
#include "options.h"
#include "video/evaluate.h"
#include "video/video.h"

/* Largest number of reference images read from a directory. */
#define CLI_VIDEO_MAX_REFERENCES 1000

enum cli_video_format { VIDEO_TEXT, VIDEO_JSON, VIDEO_CSV, VIDEO_JSONL };

typedef struct cli_video_options {
    cli_options common;        /* shared options, filled for cli_session_open */
    fs_sample_mode sample_mode;
    double sample_value;       /* N or frames per second */
    const char *sample_option; /* the option that set the mode, for messages */
    bool ref_max;              /* --ref-mode max */
    bool no_ref;
    bool clamp_negative;
    const char *plot;
    enum cli_video_format format;
    const char *reference;     /* NULL without a reference */
    const char *video;
} cli_video_options;

/* The reference: one mean embedding, or every image's embedding for --ref-mode max. */
typedef struct cli_video_reference {
    int count;                 /* images */
    int dim;
    float *embeddings;         /* `rows` embeddings of dim floats */
    int rows;                  /* 1 in mean mode, count in max mode */
    char **files;              /* count paths, owned */
} cli_video_reference;

/* Everything the output writers need. */
typedef struct cli_video_report {
    const cli_video_options *options;
    const cli_session *session;
    const cli_video_reference *reference; /* NULL without a reference */
    const fs_video_info *info;
    const fs_video_damage *damage;
    int64_t frames_decoded;               /* every frame, sampled or not */
    const fs_video_row *rows;
    size_t row_count;
    fs_video_summary summary;
    double threshold;
    const char *threshold_source;         /* "model pack" or "option" */
} cli_video_report;

/* ---- options ---- */

enum cli_video_option_id {
    VOPT_EVERY, VOPT_FRAMES, VOPT_FPS, VOPT_REF_MODE, VOPT_NO_REF, VOPT_THRESHOLD,
    VOPT_CLAMP, VOPT_JSON, VOPT_CSV, VOPT_JSONL, VOPT_OUTPUT, VOPT_PLOT, VOPT_MODELS,
    VOPT_DET_SIZE, VOPT_DET_THRESH, VOPT_ACCEPT_DAMAGED, VOPT_THREADS, VOPT_MAX_PIXELS,
    VOPT_QUIET, VOPT_VERBOSE, VOPT_HELP, VOPT_PAD_RETRY, VOPT_ALIGNED
};

typedef struct cli_video_option_spec {
    int id;
    const char *long_name;
    char short_name;
    const char *value_name; /* NULL for a flag */
    const char *help;
} cli_video_option_spec;

/* The shared options mean the same as for the other commands (docs/cli.md). */
static const cli_video_option_spec cli_video_option_table[] = {
    { VOPT_EVERY, "every", 0, "N", "sample frames 0, N, 2N, ... by frame index" },
    { VOPT_FRAMES, "frames", 0, "N",
      "sample N frames evenly spaced over the video, as\n"
      "numpy.linspace(0, count - 1, N).astype(int); the\n"
      "frames are counted by decoding the video first" },
    { VOPT_FPS, "fps", 0, "R",
      "sample R frames per second: the first frame at or\n"
      "after each multiple of 1/R seconds, by timestamp\n"
      "(default: every frame)" },
    { VOPT_REF_MODE, "ref-mode", 0, "MODE",
      "with a directory REF: mean (cosine to the\n"
      "re-normalised mean of the images' embeddings;\n"
      "default) or max (highest cosine over the images)" },
    { VOPT_NO_REF, "no-ref", 0, NULL,
      "no reference image: only consistency metrics" },
    { VOPT_PAD_RETRY, "pad-retry", 0, NULL,
      "for reference images: when no face is found,\n"
      "detect again on the image padded by 25% with grey" },
    { VOPT_ALIGNED, "aligned", 0, NULL,
      "reference images are 112x112 crops aligned to the\n"
      "ArcFace template: skip their detection" },
    { VOPT_THRESHOLD, "threshold", 0, "T",
      "same person when cosine >= T, from -1 to 1\n"
      "(default: the model pack's threshold)" },
    { VOPT_CLAMP, "clamp-negative", 0, NULL,
      "report negative cosines as 0 in rows, summary and\n"
      "plot (default: signed)" },
    { VOPT_JSON, "json", 0, NULL, "one JSON object with the rows and the summary" },
    { VOPT_CSV, "csv", 0, NULL,
      "one CSV row per sampled frame; the summary goes\n"
      "to standard error" },
    { VOPT_JSONL, "jsonl", 0, NULL,
      "one JSON object per sampled frame, then one\n"
      "summary object" },
    { VOPT_OUTPUT, "output", 'o', "FILE", "write results to FILE instead of standard output" },
    { VOPT_PLOT, "plot", 0, "FILE.svg", "write a plot of cosine over time as SVG" },
    { VOPT_MODELS, "models", 0, "DIR",
      "model pack directory (default: $FACESIM_MODELS,\n"
      "else models/default in the source tree facesim\n"
      "was built from, else ./models/default)" },
    { VOPT_DET_SIZE, "det-size", 0, "N",
      "detector input side in pixels, a multiple of 32\n"
      "from 32 to 4096 (default 640)" },
    { VOPT_DET_THRESH, "det-thresh", 0, "X",
      "minimum detector score, from 0 to 1 (default:\n"
      "the detector's, 0.5 for SCRFD)" },
    { VOPT_ACCEPT_DAMAGED, "accept-damaged", 0, NULL,
      "use partly decodable reference JPEGs, with a\n"
      "warning (damaged videos are always read up to\n"
      "the damage, with a warning)" },
    { VOPT_THREADS, "threads", 0, "N", "inference threads, 0 for all cores (default 0)" },
    { VOPT_MAX_PIXELS, "max-pixels", 0, "N",
      "reject images and frames with more than N pixels\n"
      "(default 100000000)" },
    { VOPT_QUIET, "quiet", 'q', NULL, "print only results and errors, no warnings" },
    { VOPT_VERBOSE, "verbose", 'v', NULL, "log library progress; -vv for debug detail" },
    { VOPT_HELP, "help", 'h', NULL, "show this help and exit" },
};

#define CLI_VIDEO_OPTION_COUNT (sizeof cli_video_option_table / sizeof cli_video_option_table[0])

static void cli_video_usage(FILE *out)
{
    fprintf(out,
            "Usage: facesim video [options] REF VIDEO\n"
            "       facesim video [options] --no-ref VIDEO\n"
            "\n"
            "Compares the largest face in each sampled frame of VIDEO with the reference\n"
            "face, and reports how stable the face is over time. REF is an image or a\n"
            "directory of images; '-' or --no-ref skips the reference.\n"
            "\n"
            "Options:\n");
    for (size_t i = 0; i < CLI_VIDEO_OPTION_COUNT; i++) {
        const cli_video_option_spec *spec = &cli_video_option_table[i];
        char name[64];
        snprintf(name, sizeof name, "%c%c%s--%s%s%s", spec->short_name ? '-' : ' ',
                 spec->short_name ? spec->short_name : ' ', spec->short_name ? ", " : "  ",
                 spec->long_name, spec->value_name ? " " : "",
                 spec->value_name ? spec->value_name : "");
        fprintf(out, "  %-24s", name);
        if (strlen(name) > 24)
            fprintf(out, "\n  %-24s", "");
        for (const char *line = spec->help; *line;) {
            const char *end = strchr(line, '\n');
            size_t length = end ? (size_t)(end - line) : strlen(line);
            fprintf(out, "%s%.*s\n", line == spec->help ? "" : "                          ",
                    (int)length, line);
            line += length + (end ? 1 : 0);
        }
    }
    fprintf(out,
            "\n"
            "Exit codes: 0 success (also for a damaged video read up to the damage, with a\n"
            "warning), 2 usage error, 3 no face in the reference or in any sampled frame,\n"
            "4 unreadable reference or video or output file, 5 model pack error,\n"
            "6 internal error.\n"
            "\n"
            "Examples:\n"
            "  facesim video portrait.jpg generated.mp4\n"
            "  facesim video --frames 16 --json -o result.json refs/ generated.mp4\n"
            "  facesim video --fps 2 --plot timeline.svg portrait.jpg clip.mov\n");
}

static int cli_video_usage_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

static int cli_video_usage_error(const char *format, ...)
{
    fprintf(stderr, "facesim video: ");
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, "\nRun 'facesim video --help' for the options.\n");
    return CLI_EXIT_USAGE;
}

/* Parses a finite number in [minimum, maximum]; whole requires an integer. */
static bool cli_video_parse_number(const char *text, double minimum, double maximum, bool whole,
                                   double *value)
{
    if (!text || !*text)
        return false;
    errno = 0;
    char *end;
    double parsed = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(parsed) || parsed < minimum || parsed > maximum)
        return false;
    if (whole && (parsed != floor(parsed) || strpbrk(text, ".eExXpP")))
        return false;
    *value = parsed;
    return true;
}

static int cli_video_set_sampling(cli_video_options *options, fs_sample_mode mode,
                                  const char *option, const char *value)
{
    if (options->sample_option)
        return cli_video_usage_error("%s and %s cannot be combined: choose one sampling",
                                     options->sample_option, option);
    double number;
    if (mode == FS_SAMPLE_RATE) {
        if (!cli_video_parse_number(value, 1e-6, 1e6, false, &number))
            return cli_video_usage_error("invalid %s '%s': expected frames per second, "
                                         "from 0.000001 to 1000000", option, value);
    } else if (!cli_video_parse_number(value, 1, FS_SAMPLE_MAX_N, true, &number)) {
        return cli_video_usage_error("invalid %s '%s': expected a whole number from 1 to %d",
                                     option, value, FS_SAMPLE_MAX_N);
    }
    options->sample_mode = mode;
    options->sample_value = number;
    options->sample_option = option;
    return CLI_EXIT_OK;
}

static int cli_video_set_format(cli_video_options *options, enum cli_video_format format)
{
    if (options->format != VIDEO_TEXT && options->format != format)
        return cli_video_usage_error("--json, --csv and --jsonl cannot be combined");
    options->format = format;
    return CLI_EXIT_OK;
}

/* Applies one option with its value (NULL for flags). */
static int cli_video_apply(cli_video_options *options, const cli_video_option_spec *spec,
                           const char *value)
{
    cli_options *common = &options->common;
    double number;
    switch (spec->id) {
    case VOPT_EVERY: return cli_video_set_sampling(options, FS_SAMPLE_EVERY, "--every", value);
    case VOPT_FRAMES: return cli_video_set_sampling(options, FS_SAMPLE_COUNT, "--frames", value);
    case VOPT_FPS: return cli_video_set_sampling(options, FS_SAMPLE_RATE, "--fps", value);
    case VOPT_REF_MODE:
        if (strcmp(value, "max") != 0 && strcmp(value, "mean") != 0)
            return cli_video_usage_error("invalid --ref-mode '%s': expected mean or max", value);
        options->ref_max = strcmp(value, "max") == 0;
        break;
    case VOPT_NO_REF: options->no_ref = true; break;
    case VOPT_PAD_RETRY: common->embed.pad_retry = 1; break;
    case VOPT_ALIGNED: common->embed.aligned_input = 1; break;
    case VOPT_THRESHOLD:
        if (!cli_video_parse_number(value, -1.0, 1.0, false, &number))
            return cli_video_usage_error("invalid --threshold '%s': expected a cosine from -1 "
                                         "to 1", value);
        common->threshold = (float)number;
        common->threshold_set = true;
        break;
    case VOPT_CLAMP: options->clamp_negative = true; break;
    case VOPT_JSON: return cli_video_set_format(options, VIDEO_JSON);
    case VOPT_CSV: return cli_video_set_format(options, VIDEO_CSV);
    case VOPT_JSONL: return cli_video_set_format(options, VIDEO_JSONL);
    case VOPT_OUTPUT: common->output = value; break;
    case VOPT_PLOT: options->plot = value; break;
    case VOPT_MODELS: common->models = value; break;
    case VOPT_DET_SIZE:
        if (!cli_video_parse_number(value, 32, 4096, true, &number) || fmod(number, 32) != 0)
            return cli_video_usage_error("invalid --det-size '%s': expected a multiple of 32 "
                                         "from 32 to 4096 pixels", value);
        common->det_size = (int)number;
        break;
    case VOPT_DET_THRESH:
        if (!cli_video_parse_number(value, 0.0, 1.0, false, &number))
            return cli_video_usage_error("invalid --det-thresh '%s': expected a score from 0 "
                                         "to 1", value);
        common->det_threshold = (float)number;
        break;
    case VOPT_ACCEPT_DAMAGED: common->accept_damaged = true; break;
    case VOPT_THREADS:
        if (!cli_video_parse_number(value, 0, 1024, true, &number))
            return cli_video_usage_error("invalid --threads '%s': expected 0 (all cores) to "
                                         "1024", value);
        common->threads = (int)number;
        break;
    case VOPT_MAX_PIXELS:
        if (!cli_video_parse_number(value, 1, 1099511627776.0, true, &number))
            return cli_video_usage_error("invalid --max-pixels '%s': expected a pixel count "
                                         "from 1 to 2^40", value);
        common->max_pixels = (uint64_t)number;
        break;
    case VOPT_QUIET: common->quiet = true; break;
    case VOPT_VERBOSE: common->verbose++; break;
    case VOPT_HELP: common->help = true; break;
    }
    return CLI_EXIT_OK;
}

/* Parses the option at argv[*index], consuming its value when it takes one. */
static int cli_video_parse_one(cli_video_options *options, int argc, char **argv, int *index)
{
    const char *arg = argv[*index];
    const cli_video_option_spec *spec = NULL;
    const char *value = NULL;
    if (arg[1] == '-') {
        const char *name = arg + 2;
        const char *equals = strchr(name, '=');
        size_t length = equals ? (size_t)(equals - name) : strlen(name);
        for (size_t i = 0; i < CLI_VIDEO_OPTION_COUNT; i++)
            if (strlen(cli_video_option_table[i].long_name) == length &&
                strncmp(cli_video_option_table[i].long_name, name, length) == 0)
                spec = &cli_video_option_table[i];
        if (equals)
            value = equals + 1;
    } else {
        /* "-vv" counts as two -v. */
        if (arg[1] == 'v' && strspn(arg + 1, "v") == strlen(arg + 1)) {
            options->common.verbose += (int)strlen(arg + 1);
            return CLI_EXIT_OK;
        }
        for (size_t i = 0; i < CLI_VIDEO_OPTION_COUNT && arg[2] == '\0'; i++)
            if (cli_video_option_table[i].short_name == arg[1])
                spec = &cli_video_option_table[i];
    }
    if (!spec)
        return cli_video_usage_error("unknown option '%s'", arg);
    if (spec->value_name && !value) {
        if (*index + 1 >= argc)
            return cli_video_usage_error("option '%s' needs a value (%s)", arg,
                                         spec->value_name);
        value = argv[++*index];
    } else if (!spec->value_name && value) {
        return cli_video_usage_error("option '%s' takes no value", arg);
    }
    return cli_video_apply(options, spec, value);
}

/* Checks the inputs and combinations once every argument has been read. */
static int cli_video_check(cli_video_options *options, char **inputs, int count)
{
    if (options->no_ref && count == 2 && strcmp(inputs[0], "-") != 0)
        return cli_video_usage_error("--no-ref and a reference '%s' cannot be combined",
                                     inputs[0]);
    if (count == 2) {
        options->reference = strcmp(inputs[0], "-") == 0 ? NULL : inputs[0];
        options->video = inputs[1];
    } else if (count == 1 && options->no_ref) {
        options->video = inputs[0];
    } else if (count == 1) {
        return cli_video_usage_error("expected REF VIDEO, got one argument; pass --no-ref "
                                     "to evaluate a video without a reference");
    } else {
        return cli_video_usage_error("expected REF VIDEO, got %d arguments", count);
    }
    options->no_ref = options->reference == NULL;
    if (options->ref_max && options->no_ref)
        return cli_video_usage_error("--ref-mode needs a reference");
    if (options->common.quiet && options->common.verbose)
        return cli_video_usage_error("--quiet and --verbose cannot be combined");
    return CLI_EXIT_OK;
}

static int cli_video_parse(int argc, char **argv, cli_video_options *options)
{
    memset(options, 0, sizeof *options);
    cli_options *common = &options->common;
    common->command_name = "video";
    common->det_threshold = -1.0f;
    common->threads = -1;
    common->format = CLI_FORMAT_CSV; /* text mode for the -o file */
    facesim_default_embed_options(&common->embed);

    char *inputs[3];
    int count = 0;
    bool ended = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!ended && strcmp(arg, "--") == 0) {
            ended = true;
        } else if (!ended && arg[0] == '-' && arg[1] != '\0') {
            int status = cli_video_parse_one(options, argc, argv, &i);
            if (status != CLI_EXIT_OK || common->help)
                return status;
        } else if (count < 3) {
            inputs[count++] = argv[i];
        } else {
            count++;
        }
    }
    return cli_video_check(options, inputs, count);
}

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
        cli_report_input_error(&options->common, options->video, status, err.message);
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
static int cli_video_process(const cli_video_options *options, facesim_context *ctx,
                             const cli_video_reference *reference, fs_video_reader *reader,
                             fs_sampler *sampler, fs_video_result *result)
{
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
    };
    fs_error err;
    int status = fs_video_evaluate(ctx, reader, sampler, &params, result, &err);
    fs_progress_finish(&progress);
    if (status != FACESIM_OK) {
        cli_report_input_error(&options->common, options->video, status, err.message);
        return cli_exit_for_input_status(status);
    }
    return CLI_EXIT_OK;
}

/* ---- summary and output ---- */

static const char *cli_video_sampling_text(const cli_video_options *options, char *buffer,
                                           size_t size)
{
    switch (options->sample_mode) {
    case FS_SAMPLE_ALL: snprintf(buffer, size, "every frame"); break;
    case FS_SAMPLE_EVERY:
        snprintf(buffer, size, "frames 0, N, 2N, ... with N = %.0f", options->sample_value);
        break;
    case FS_SAMPLE_COUNT:
        snprintf(buffer, size, "%.0f frames evenly spaced", options->sample_value);
        break;
    case FS_SAMPLE_RATE:
        snprintf(buffer, size, "%g frames per second", options->sample_value);
        break;
    }
    return buffer;
}

static const char *cli_video_sampling_name(fs_sample_mode mode)
{
    static const char *const names[] = { "all", "every", "frames", "fps" };
    return names[mode];
}

/* Writes a number or, for NaN, "-" (text output). */
static void cli_video_text_number(FILE *out, const char *label, double value, const char *tail)
{
    if (isnan(value))
        fprintf(out, "%s -%s\n", label, tail);
    else
        fprintf(out, "%s %.4f%s\n", label, value, tail);
}

static int cli_video_write_text_summary(const cli_video_report *report, FILE *out);

static int cli_video_write_text(const cli_video_report *report, FILE *out)
{
    const fs_video_info *info = report->info;
    double threshold = report->threshold;
    const cli_video_options *options = report->options;
    char sampling[64];
    fprintf(out, "video: %s: %dx%d, %s, rotation %d (%s)\n", options->video, info->width,
            info->height, info->codec, info->orientation.rotation, info->orientation.source);
    if (report->reference)
        fprintf(out, "reference: %s (%d image%s%s)\n", options->reference, report->reference->count,
                report->reference->count == 1 ? "" : "s",
                report->reference->count == 1 ? "" : options->ref_max ? ", max over images"
                                                                   : ", mean embedding");
    else
        fprintf(out, "reference: none\n");
    fprintf(out, "sampling: %s\n", cli_video_sampling_text(options, sampling, sizeof sampling));

    /* Columns: frame, time, [cosine, same,] previous, faces, score, box. */
    bool reference = report->reference != NULL;
    int columns = reference ? 11 : 9;
    fs_table table;
    fs_error err;
    if (fs_table_init(&table, columns, &err) != FACESIM_OK)
        return CLI_EXIT_INTERNAL;
    static const char *const headers[] = { "frame", "time_s", "cosine", "same", "previous",
                                           "faces", "score", "x1", "y1", "x2", "y2" };
    for (int c = 0, column = 0; c < 11; c++) {
        if (!reference && (c == 2 || c == 3))
            continue;
        fs_table_add(&table, headers[c]);
        fs_table_set_align(&table, column++, c == 3 ? FS_TABLE_LEFT : FS_TABLE_RIGHT);
    }
    for (size_t i = 0; i < report->row_count; i++) {
        const fs_video_row *row = &report->rows[i];
        bool face = row->face_count > 0;
        fs_table_addf(&table, "%lld", (long long)row->frame);
        fs_table_addf(&table, "%.3f", row->time);
        if (reference) {
            if (face)
                fs_table_addf(&table, "%.4f", row->cosine);
            else
                fs_table_add(&table, "no face");
            if (!face)
                fs_table_add(&table, "");
            else
                fs_table_add(&table, row->cosine >= threshold ? "yes" : "no");
        }
        if (isnan(row->previous_cosine))
            fs_table_add(&table, !face && !reference ? "no face" : "-");
        else
            fs_table_addf(&table, "%.4f", row->previous_cosine);
        fs_table_addf(&table, "%d", row->face_count);
        if (!face) {
            for (int c = 0; c < 5; c++)
                fs_table_add(&table, "");
            continue;
        }
        fs_table_addf(&table, "%.3f", row->face.score);
        for (int c = 0; c < 4; c++)
            fs_table_addf(&table, "%.1f", row->face.box[c]);
    }
    int status = fs_table_print(&table, out, "  ", &err);
    fs_table_free(&table);
    if (status != FACESIM_OK)
        return CLI_EXIT_INTERNAL;
    return cli_video_write_text_summary(report, out);
}

static int cli_video_write_text_summary(const cli_video_report *report, FILE *out)
{
    const fs_video_summary *summary = &report->summary;
    double threshold = report->threshold;
    const cli_video_options *options = report->options;
    fprintf(out, "frames sampled: %zu, without a face: %zu\n", summary->sampled,
            summary->without_face);
    if (report->reference) {
        fprintf(out, "cosine to reference: mean %.4f, std %.4f (population), min %.4f, max "
                     "%.4f\n", summary->mean, summary->std, summary->min, summary->max);
        cli_video_text_number(out, "consistency (1 - std):", summary->consistency, "");
        fprintf(out, "same person (cosine >= %.4f): %zu of %zu frames with a face\n", threshold,
                summary->same_person, summary->sampled - summary->without_face);
    }
    fprintf(out, "consecutive sampled frames (%zu pairs): ", summary->consecutive_pairs);
    if (summary->consecutive_pairs)
        fprintf(out, "mean %.4f, min %.4f\n", summary->consecutive_mean,
                summary->consecutive_min);
    else
        fprintf(out, "-\n");
    char label[96];
    snprintf(label, sizeof label, "similarity to the first frame with a face (%zu frames):",
             summary->first_count);
    cli_video_text_number(out, label, summary->first_mean, "");
    fprintf(out, "negative cosines: %s\n",
            options->clamp_negative ? "clamped to 0 (--clamp-negative)" : "reported signed");
    return CLI_EXIT_OK;
}

static void cli_video_json_row(fs_json_writer *json, const fs_video_row *row, double threshold,
                               bool has_reference)
{
    fs_json_begin_object(json);
    fs_json_key_int(json, "frame", row->frame);
    fs_json_key_fixed(json, "time", row->time, 6);
    fs_json_key_int(json, "faces", row->face_count);
    fs_json_key(json, "face");
    if (row->face_count > 0)
        cli_json_face(json, &row->face);
    else
        fs_json_null(json);
    fs_json_key_fixed(json, "cosine", row->cosine, 6);
    fs_json_key(json, "same_person");
    if (has_reference && row->face_count > 0)
        fs_json_bool(json, row->cosine >= threshold);
    else
        fs_json_null(json);
    fs_json_key_fixed(json, "previous_cosine", row->previous_cosine, 6);
    fs_json_key_fixed(json, "first_cosine", row->first_cosine, 6);
    fs_json_end_object(json);
}

static void cli_video_json_summary(fs_json_writer *json, const fs_video_summary *summary)
{
    fs_json_begin_object(json);
    fs_json_key_int(json, "frames_sampled", (long long)summary->sampled);
    fs_json_key_int(json, "frames_without_face", (long long)summary->without_face);
    fs_json_key_int(json, "frames_same_person", (long long)summary->same_person);
    fs_json_key_fixed(json, "mean", summary->mean, 6);
    fs_json_key_fixed(json, "std", summary->std, 6);
    fs_json_key_fixed(json, "min", summary->min, 6);
    fs_json_key_fixed(json, "max", summary->max, 6);
    fs_json_key_fixed(json, "consistency", summary->consistency, 6);
    fs_json_key_int(json, "consecutive_pairs", (long long)summary->consecutive_pairs);
    fs_json_key_fixed(json, "consecutive_mean", summary->consecutive_mean, 6);
    fs_json_key_fixed(json, "consecutive_min", summary->consecutive_min, 6);
    fs_json_key_int(json, "first_frame_pairs", (long long)summary->first_count);
    fs_json_key_fixed(json, "first_frame_mean", summary->first_mean, 6);
    fs_json_end_object(json);
}

static void cli_video_json_header(fs_json_writer *json, const cli_video_report *report)
{
    const fs_video_info *info = report->info;
    const cli_video_options *options = report->options;
    fs_json_key(json, "video");
    fs_json_begin_object(json);
    fs_json_key_string(json, "file", options->video);
    fs_json_key_int(json, "width", info->width);
    fs_json_key_int(json, "height", info->height);
    fs_json_key_string(json, "codec", info->codec);
    fs_json_key_int(json, "rotation", info->orientation.rotation);
    fs_json_key_bool(json, "mirrored", info->orientation.mirrored);
    fs_json_key_string(json, "rotation_source", info->orientation.source);
    fs_json_key_fixed(json, "frame_rate", info->frame_rate, 4);
    fs_json_key_int(json, "declared_frames", info->declared_frames);
    fs_json_key_int(json, "frames_decoded", report->frames_decoded);
    const fs_video_damage *damage = report->damage;
    fs_json_key_bool(json, "damaged",
                     damage->decode_errors || damage->read_error || damage->logged_errors);
    fs_json_key_int(json, "decode_errors", damage->decode_errors);
    fs_json_end_object(json);

    fs_json_key(json, "reference");
    if (report->reference) {
        fs_json_begin_object(json);
        fs_json_key_string(json, "path", options->reference);
        fs_json_key_string(json, "mode", options->ref_max ? "max" : "mean");
        fs_json_key(json, "files");
        fs_json_begin_array(json);
        for (int i = 0; i < report->reference->count; i++)
            fs_json_string(json, report->reference->files[i]);
        fs_json_end_array(json);
        fs_json_end_object(json);
    } else {
        fs_json_null(json);
    }
    fs_json_key(json, "sampling");
    fs_json_begin_object(json);
    fs_json_key_string(json, "mode", cli_video_sampling_name(options->sample_mode));
    if (options->sample_mode == FS_SAMPLE_RATE)
        fs_json_key_fixed(json, "value", options->sample_value, 6);
    else if (options->sample_mode != FS_SAMPLE_ALL)
        fs_json_key_int(json, "value", (long long)options->sample_value);
    fs_json_end_object(json);
    fs_json_key_fixed(json, "threshold", report->threshold, 4);
    fs_json_key_string(json, "threshold_source", report->threshold_source);
    fs_json_key_bool(json, "clamp_negative", options->clamp_negative);
}

static int cli_video_write_json(const cli_video_report *report, FILE *out)
{
    fs_json_writer json;
    fs_error err;
    fs_json_init(&json, out, 2);
    fs_json_begin_object(&json);
    cli_video_json_header(&json, report);
    fs_json_key(&json, "frames");
    fs_json_begin_array(&json);
    for (size_t i = 0; i < report->row_count; i++)
        cli_video_json_row(&json, &report->rows[i], report->threshold,
                           report->reference != NULL);
    fs_json_end_array(&json);
    fs_json_key(&json, "summary");
    cli_video_json_summary(&json, &report->summary);
    cli_json_model_pack(&json, report->session);
    fs_json_end_object(&json);
    if (fs_json_finish(&json, &err) != FACESIM_OK) {
        fprintf(stderr, "facesim video: writing the JSON output failed: %s\n", err.message);
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

static int cli_video_write_jsonl(const cli_video_report *report, FILE *out)
{
    const fs_video_summary *summary = &report->summary;
    double threshold = report->threshold;
    fs_error err;
    for (size_t i = 0; i < report->row_count; i++) {
        fs_json_writer json;
        fs_json_init(&json, out, 0);
        cli_video_json_row(&json, &report->rows[i], threshold, report->reference != NULL);
        if (fs_json_finish(&json, &err) != FACESIM_OK)
            return CLI_EXIT_INTERNAL;
    }
    fs_json_writer json;
    fs_json_init(&json, out, 0);
    fs_json_begin_object(&json);
    fs_json_key(&json, "summary");
    cli_video_json_summary(&json, summary);
    fs_json_key_fixed(&json, "threshold", threshold, 4);
    fs_json_key_bool(&json, "clamp_negative", report->options->clamp_negative);
    fs_json_end_object(&json);
    return fs_json_finish(&json, &err) == FACESIM_OK ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
}

static int cli_video_write_csv(const cli_video_report *report, FILE *out)
{
    double threshold = report->threshold;
    fs_csv_writer csv;
    fs_error err;
    fs_csv_init(&csv, out);
    static const char *const headers[] = { "frame", "time_s", "status", "cosine",
                                           "same_person", "faces", "score", "x1", "y1", "x2",
                                           "y2", "previous_cosine", "first_cosine" };
    for (size_t c = 0; c < sizeof headers / sizeof headers[0]; c++)
        fs_csv_field(&csv, headers[c]);
    fs_csv_end_row(&csv);
    for (size_t i = 0; i < report->row_count; i++) {
        const fs_video_row *row = &report->rows[i];
        bool face = row->face_count > 0;
        fs_csv_int(&csv, row->frame);
        fs_csv_fixed(&csv, row->time, 6);
        fs_csv_field(&csv, face ? "ok" : "no face");
        fs_csv_fixed(&csv, row->cosine, 6);
        fs_csv_field(&csv, !face || isnan(row->cosine) ? NULL
                           : row->cosine >= threshold ? "1" : "0");
        fs_csv_int(&csv, row->face_count);
        fs_csv_fixed(&csv, face ? row->face.score : NAN, 5);
        for (int c = 0; c < 4; c++)
            fs_csv_fixed(&csv, face ? row->face.box[c] : NAN, 2);
        fs_csv_fixed(&csv, row->previous_cosine, 6);
        fs_csv_fixed(&csv, row->first_cosine, 6);
        fs_csv_end_row(&csv);
    }
    return fs_csv_finish(&csv, &err) == FACESIM_OK ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
}

/* Writes the --plot SVG: reference cosines, or without a reference the similarity to
 * the first frame with a face. */
static int cli_video_write_plot(const cli_video_report *report)
{
    const fs_video_summary *summary = &report->summary;
    double threshold = report->threshold;
    const cli_video_options *options = report->options;
    FILE *out = fopen(options->plot, "w");
    if (!out) {
        fprintf(stderr, "facesim video: cannot create the plot file '%s': %s. Check that the "
                        "directory exists and is writable.\n", options->plot, strerror(errno));
        return CLI_EXIT_BAD_INPUT;
    }
    fs_timeline_point *points = calloc(report->row_count ? report->row_count : 1, sizeof *points);
    if (!points) {
        fclose(out);
        return CLI_EXIT_INTERNAL;
    }
    bool reference = report->reference != NULL;
    for (size_t i = 0; i < report->row_count; i++) {
        const fs_video_row *row = &report->rows[i];
        /* Without a reference the first frame with a face is the reference, so its own
         * value is 1. */
        double value = reference ? row->cosine
                                 : !isnan(row->first_cosine) ? row->first_cosine
                                                              : row->face_count ? 1.0 : NAN;
        points[i].time = row->time;
        points[i].has_value = row->face_count > 0 && !isnan(value);
        points[i].value = points[i].has_value ? value : 0.0;
    }
    const char *video = strrchr(options->video, '/');
    video = video ? video + 1 : options->video;
    const char *ref = options->reference ? strrchr(options->reference, '/') : NULL;
    ref = ref && ref[1] ? ref + 1 : options->reference;
    char title[512], subtitle[256];
    if (reference) {
        snprintf(title, sizeof title, "%s vs reference %s", video, ref);
        snprintf(subtitle, sizeof subtitle, "mean cosine %.4f, std %.4f, %zu of %zu frames "
                 "without a face%s", summary->mean, summary->std, summary->without_face,
                 summary->sampled, options->clamp_negative ? ", negatives clamped to 0" : "");
    } else {
        snprintf(title, sizeof title, "%s: similarity to the first frame with a face", video);
        snprintf(subtitle, sizeof subtitle, "mean %.4f, %zu of %zu frames without a face",
                 summary->first_mean, summary->without_face, summary->sampled);
    }
    fs_timeline_params params = {
        .title = title,
        .subtitle = subtitle,
        .y_label = reference ? "cosine to reference" : "cosine to first face",
        .threshold = reference ? threshold : NAN,
    };
    fs_error err;
    int status = fs_svg_timeline_write(out, points, report->row_count, &params, &err);
    free(points);
    if (fclose(out) != 0 && status == FACESIM_OK)
        status = fs_error_set(&err, FACESIM_ERR_IO, "closing the file failed");
    if (status != FACESIM_OK) {
        fprintf(stderr, "facesim video: writing the plot '%s' failed: %s\n", options->plot,
                err.message);
        return CLI_EXIT_INTERNAL;
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

static int cli_video_write_results(const cli_video_report *report, FILE *out)
{
    const cli_video_options *options = report->options;
    const fs_video_summary *summary = &report->summary;
    int exit_code = CLI_EXIT_OK;
    switch (options->format) {
    case VIDEO_TEXT: exit_code = cli_video_write_text(report, out); break;
    case VIDEO_JSON: exit_code = cli_video_write_json(report, out); break;
    case VIDEO_JSONL: exit_code = cli_video_write_jsonl(report, out); break;
    case VIDEO_CSV:
        exit_code = cli_video_write_csv(report, out);
        /* CSV has room only for rows: the summary goes to standard error. */
        if (exit_code == CLI_EXIT_OK && !options->common.quiet)
            exit_code = cli_video_write_text_summary(report, stderr);
        break;
    }
    if (exit_code == CLI_EXIT_OK && options->plot)
        exit_code = cli_video_write_plot(report);
    if (exit_code == CLI_EXIT_OK && summary->sampled > 0 &&
        summary->without_face == summary->sampled) {
        fprintf(stderr, "facesim video: %s: no face in any of the %zu sampled frames; try a "
                        "lower --det-thresh\n", options->video, summary->sampled);
        exit_code = CLI_EXIT_NO_FACE;
    }
    return exit_code;
}

/* Opens the video and prepares the sampler; for --frames the frames are counted first. */
static int cli_video_open(const cli_video_options *options, fs_video_reader **reader,
                          fs_sampler *sampler)
{
    fs_error err;
    int status = fs_video_open(options->video, options->common.max_pixels, reader, &err);
    if (status != FACESIM_OK) {
        cli_report_input_error(&options->common, options->video, status, err.message);
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
    if (options->sample_mode == FS_SAMPLE_COUNT && sampler->index_count < options->sample_value)
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
        exit_code = cli_video_process(&options, session.ctx, options.no_ref ? NULL : &reference,
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
        exit_code = cli_video_write_results(&report, session.out);
    }
    exit_code = cli_session_close(&session, exit_code);
    fs_video_result_release(&result);
    cli_video_reference_free(&reference);
    fs_sampler_release(&sampler);
    fs_video_close(reader);
    return exit_code;
}

/*
 * Command line of `facesim video`: the options only video has (sampling, reference
 * mode, plot) on top of the shared ones in options.c, the input checks and --help.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "video.h"

enum cli_video_option_id {
    VOPT_EVERY,
    VOPT_FRAMES,
    VOPT_FPS,
    VOPT_REF_MODE,
    VOPT_NO_REF,
    VOPT_CLAMP,
    VOPT_PLOT
};

static const cli_option_spec cli_video_option_table[] = {
    { VOPT_EVERY, "every", 0, "N", CLI_VIDEO, "sample frames 0, N, 2N, ... by frame index" },
    { VOPT_FRAMES, "frames", 0, "N", CLI_VIDEO,
      "sample N frames evenly spaced over the video, as\n"
      "numpy.linspace(0, count - 1, N).astype(int); the\n"
      "frames are counted by decoding the video first" },
    { VOPT_FPS, "fps", 0, "R", CLI_VIDEO,
      "sample R frames per second: the first frame at or\n"
      "after each multiple of 1/R seconds, by timestamp\n"
      "(default: every frame)" },
    { VOPT_REF_MODE, "ref-mode", 0, "MODE", CLI_VIDEO,
      "with a directory REF: mean (cosine to the\n"
      "re-normalised mean of the images' embeddings;\n"
      "default) or max (highest cosine over the images)" },
    { VOPT_NO_REF, "no-ref", 0, NULL, CLI_VIDEO,
      "no reference image: only consistency metrics" },
    { VOPT_CLAMP, "clamp-negative", 0, NULL, CLI_VIDEO,
      "report negative cosines as 0 in rows, summary and\n"
      "plot (default: signed)" },
    { VOPT_PLOT, "plot", 0, "FILE.svg", CLI_VIDEO, "write a plot of cosine over time as SVG" },
};

#define CLI_VIDEO_OPTION_COUNT (sizeof cli_video_option_table / sizeof cli_video_option_table[0])

static int cli_video_apply(void *user_data, cli_options *common, const cli_option_spec *spec,
                           const char *value);

static cli_local_options cli_video_local(cli_video_options *options)
{
    cli_local_options local = {
        .table = cli_video_option_table,
        .count = CLI_VIDEO_OPTION_COUNT,
        .apply = cli_video_apply,
        .user_data = options,
    };
    return local;
}

void cli_video_usage(FILE *out)
{
    fprintf(out,
            "Usage: facesim video [options] REF VIDEO\n"
            "       facesim video [options] --no-ref VIDEO\n"
            "\n"
            "Compares the largest face in each sampled frame of VIDEO with the reference\n"
            "face, and reports how stable the face is over time. REF is an image or a\n"
            "directory of images; '-' or --no-ref skips the reference. The default output\n"
            "is a text report with one line per sampled frame and a summary.\n"
            "\n"
            "Options:\n");
    cli_local_options local = cli_video_local(NULL);
    cli_print_command_options(out, CLI_VIDEO, &local);
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

/* Parses a finite number in [minimum, maximum]; whole requires an integer. */
static bool cli_video_parse_number(const char *text, double minimum, double maximum, bool whole,
                                   double *value)
{
    if (!cli_parse_double(text, minimum, maximum, value))
        return false;
    return !whole || (*value == floor(*value) && !strpbrk(text, ".eExXpP"));
}

static int cli_video_set_sampling(cli_video_options *options, fs_sample_mode mode,
                                  const char *option, const char *value)
{
    if (options->sample_option)
        return cli_usage_error(&options->common, "%s and %s cannot be combined: choose one "
                               "sampling", options->sample_option, option);
    double number;
    if (mode == FS_SAMPLE_RATE) {
        if (!cli_video_parse_number(value, 1e-6, 1e6, false, &number))
            return cli_usage_error(&options->common, "invalid %s '%s': expected frames per "
                                   "second, from 0.000001 to 1000000", option, value);
    } else if (!cli_video_parse_number(value, 1, FS_SAMPLE_MAX_N, true, &number)) {
        return cli_usage_error(&options->common, "invalid %s '%s': expected a whole number "
                               "from 1 to %d", option, value, FS_SAMPLE_MAX_N);
    }
    options->sample_mode = mode;
    options->sample_value = number;
    options->sample_option = option;
    return CLI_EXIT_OK;
}

/* Applies one of video's own options. common is &options->common. */
static int cli_video_apply(void *user_data, cli_options *common, const cli_option_spec *spec,
                           const char *value)
{
    cli_video_options *options = user_data;
    (void)common;
    switch (spec->id) {
    case VOPT_EVERY: return cli_video_set_sampling(options, FS_SAMPLE_EVERY, "--every", value);
    case VOPT_FRAMES: return cli_video_set_sampling(options, FS_SAMPLE_COUNT, "--frames", value);
    case VOPT_FPS: return cli_video_set_sampling(options, FS_SAMPLE_RATE, "--fps", value);
    case VOPT_REF_MODE:
        if (strcmp(value, "max") != 0 && strcmp(value, "mean") != 0)
            return cli_usage_error(&options->common, "invalid --ref-mode '%s': expected mean "
                                   "or max", value);
        options->ref_max = strcmp(value, "max") == 0;
        break;
    case VOPT_NO_REF: options->no_ref = true; break;
    case VOPT_CLAMP: options->clamp_negative = true; break;
    case VOPT_PLOT: options->plot = value; break;
    }
    return CLI_EXIT_OK;
}

/* Checks the inputs and combinations once every argument has been read. */
static int cli_video_check(cli_video_options *options, char **inputs, int count)
{
    const cli_options *common = &options->common;
    if (options->no_ref && count == 2 && strcmp(inputs[0], "-") != 0)
        return cli_usage_error(common, "--no-ref and a reference '%s' cannot be combined",
                               inputs[0]);
    if (count == 2) {
        options->reference = strcmp(inputs[0], "-") == 0 ? NULL : inputs[0];
        options->video = inputs[1];
    } else if (count == 1 && options->no_ref) {
        options->video = inputs[0];
    } else if (count == 1) {
        return cli_usage_error(common, "expected REF VIDEO, got one argument; pass --no-ref "
                               "to evaluate a video without a reference");
    } else {
        return cli_usage_error(common, "expected REF VIDEO, got %d arguments", count);
    }
    options->no_ref = options->reference == NULL;
    if (options->ref_max && options->no_ref)
        return cli_usage_error(common, "--ref-mode needs a reference");
    return CLI_EXIT_OK;
}

int cli_video_parse(int argc, char **argv, cli_video_options *options)
{
    memset(options, 0, sizeof *options);
    cli_local_options local = cli_video_local(options);
    int status = cli_parse_command(argc, argv, CLI_VIDEO, &local, &options->common);
    if (status != CLI_EXIT_OK || options->common.help)
        return status;
    return cli_video_check(options, options->common.inputs, options->common.input_count);
}

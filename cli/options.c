#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum cli_option_id {
    OPT_HELP,
    OPT_MODELS,
    OPT_DET_SIZE,
    OPT_DET_THRESH,
    OPT_THREADS,
    OPT_MAX_PIXELS,
    OPT_QUIET,
    OPT_VERBOSE,
    OPT_OUTPUT,
    OPT_SELECT,
    OPT_PAD_RETRY,
    OPT_ALIGNED,
    OPT_ALIGNED_A,
    OPT_ALIGNED_B,
    OPT_THRESHOLD,
    OPT_ALL_FACES,
    OPT_JSON,
    OPT_DRAW,
    OPT_SAVE_CROPS,
    OPT_FORMAT,
    OPT_ACCEPT_DAMAGED,
    OPT_CSV,
    OPT_JSONL
};


static const cli_option_spec cli_option_table[] = {
    { OPT_OUTPUT, "output", 'o', "FILE", CLI_ALL,
      "write results to FILE instead of standard output" },
    { OPT_FORMAT, "format", 0, "FMT", CLI_EMBED,
      "npy, csv or jsonl (default: from the -o extension,\n"
      "else csv); npy needs -o" },
    { OPT_JSON, "json", 0, NULL, CLI_COMPARE | CLI_DETECT,
      "print one JSON object instead of text" },
    { OPT_JSON, "json", 0, NULL, CLI_VIDEO,
      "one JSON object with the rows and the summary" },
    { OPT_JSON, "json", 0, NULL, CLI_BATCH_COMMANDS,
      "one JSON document: options, rows, summary" },
    { OPT_CSV, "csv", 0, NULL, CLI_VIDEO,
      "one CSV row per sampled frame; the summary goes\n"
      "to standard error" },
    { OPT_CSV, "csv", 0, NULL, CLI_BATCH_COMMANDS,
      "CSV rows; the summary goes to standard error" },
    { OPT_JSONL, "jsonl", 0, NULL, CLI_VIDEO,
      "one JSON object per sampled frame, then one\n"
      "summary object" },
    { OPT_JSONL, "jsonl", 0, NULL, CLI_BATCH_COMMANDS,
      "one JSON object per row; the summary goes to\n"
      "standard error" },
    { OPT_THRESHOLD, "threshold", 0, "T", CLI_COMPARE | CLI_REPORT_COMMANDS,
      "same person when cosine >= T, from -1 to 1\n"
      "(default: the model pack's threshold)" },
    { OPT_SELECT, "select", 0, "HOW", CLI_COMPARE | CLI_EMBED | CLI_BATCH_COMMANDS,
      "face to use when an image has several: largest\n"
      "(box area; default), score (detector score),\n"
      "center (nearest the image centre) or index:K\n"
      "(K-th face in score order, from 0)" },
    { OPT_ALL_FACES, "all-faces", 0, NULL, CLI_COMPARE,
      "compare every face in A with every face in B\n"
      "and print the cosine matrix" },
    { OPT_PAD_RETRY, "pad-retry", 0, NULL, CLI_COMPARE | CLI_EMBED | CLI_BATCH_COMMANDS,
      "when no face is found, detect again on the image\n"
      "padded by 25% with grey (for tight face crops)" },
    { OPT_PAD_RETRY, "pad-retry", 0, NULL, CLI_VIDEO,
      "for reference images: when no face is found,\n"
      "detect again on the image padded by 25% with grey" },
    { OPT_ALIGNED, "aligned", 0, NULL, CLI_COMPARE | CLI_EMBED | CLI_BATCH_COMMANDS,
      "inputs are 112x112 crops aligned to the ArcFace\n"
      "template: skip detection" },
    { OPT_ALIGNED_A, "aligned-a", 0, NULL, CLI_COMPARE,
      "only A is an aligned 112x112 crop: skip its\n"
      "detection, detect and align the face in B" },
    { OPT_ALIGNED_B, "aligned-b", 0, NULL, CLI_COMPARE,
      "only B is an aligned 112x112 crop: skip its\n"
      "detection, detect and align the face in A" },
    { OPT_ALIGNED, "aligned", 0, NULL, CLI_VIDEO,
      "reference images are 112x112 crops aligned to the\n"
      "ArcFace template: skip their detection" },
    { OPT_DRAW, "draw", 0, "OUT.png", CLI_DETECT,
      "write the image with boxes and landmarks drawn,\n"
      "as PNG; with several images OUT must be an\n"
      "existing directory (files <stem>_detect.png)" },
    { OPT_SAVE_CROPS, "save-crops", 0, "DIR", CLI_DETECT,
      "write each face's aligned 112x112 crop as\n"
      "DIR/<stem>_face<k>.png (k from 0 in score order;\n"
      "DIR is created if missing)" },
    { OPT_MODELS, "models", 0, "DIR", CLI_MODEL_COMMANDS,
      "model pack directory (default: $FACESIM_MODELS,\n"
      "else models/default in the source tree facesim\n"
      "was built from, else ./models/default)" },
    { OPT_DET_SIZE, "det-size", 0, "N", CLI_MODEL_COMMANDS,
      "detector input side in pixels, a multiple of 32\n"
      "from 32 to 4096 (default 640; detectors with a\n"
      "fixed input size ignore it)" },
    { OPT_DET_THRESH, "det-thresh", 0, "X", CLI_MODEL_COMMANDS,
      "minimum detector score, from 0 to 1 (default:\n"
      "the detector's: 0.65 for the default pack's\n"
      "UltraFace detector, 0.5 for SCRFD)" },
    { OPT_ACCEPT_DAMAGED, "accept-damaged", 0, NULL, CLI_IMAGE_COMMANDS | CLI_BATCH_COMMANDS,
      "process truncated or corrupt JPEGs that decode\n"
      "partly (missing rows grey) with a warning,\n"
      "instead of rejecting them" },
    { OPT_ACCEPT_DAMAGED, "accept-damaged", 0, NULL, CLI_VIDEO,
      "use partly decodable reference JPEGs, with a\n"
      "warning (damaged videos are always read up to\n"
      "the damage, with a warning)" },
    { OPT_THREADS, "threads", 0, "N", CLI_IMAGE_COMMANDS | CLI_VIDEO,
      "inference threads, 0 for all cores (default 0)" },
    { OPT_THREADS, "threads", 0, "N", CLI_BATCH_COMMANDS,
      "worker threads in total, each with its own model\n"
      "instance; 0 for all cores, at most 256 (default 0)" },
    { OPT_MAX_PIXELS, "max-pixels", 0, "N", CLI_IMAGE_COMMANDS | CLI_BATCH_COMMANDS,
      "reject images with more than N pixels (width x\n"
      "height; default 100000000)" },
    { OPT_MAX_PIXELS, "max-pixels", 0, "N", CLI_VIDEO,
      "reject images and frames with more than N pixels\n"
      "(width x height; default 100000000)" },
    { OPT_QUIET, "quiet", 'q', NULL, CLI_IMAGE_COMMANDS | CLI_VIDEO,
      "print only results and errors, no warnings" },
    { OPT_QUIET, "quiet", 'q', NULL, CLI_BATCH_COMMANDS,
      "print only results and errors: no warnings and\n"
      "no progress bar" },
    { OPT_QUIET, "quiet", 'q', NULL, CLI_MERGE,
      "do not print the summary or warnings" },
    { OPT_VERBOSE, "verbose", 'v', NULL, CLI_MODEL_COMMANDS,
      "log library progress to standard error; -vv for\n"
      "debug detail" },
    { OPT_HELP, "help", 'h', NULL, CLI_ALL, "show this help and exit" },
};

#define CLI_OPTION_COUNT (sizeof cli_option_table / sizeof cli_option_table[0])

/* Prints the rows of table that apply to command. */
static void cli_print_table(FILE *out, const cli_option_spec *table, size_t count,
                            unsigned command)
{
    for (size_t i = 0; i < count; i++) {
        const cli_option_spec *spec = &table[i];
        if (!(spec->commands & command))
            continue;
        char name[64];
        if (spec->short_name)
            snprintf(name, sizeof name, "-%c, --%s%s%s", spec->short_name, spec->long_name,
                     spec->value_name ? " " : "", spec->value_name ? spec->value_name : "");
        else
            snprintf(name, sizeof name, "    --%s%s%s", spec->long_name,
                     spec->value_name ? " " : "", spec->value_name ? spec->value_name : "");
        fprintf(out, "  %-24s", name);
        if (strlen(name) > 24)
            fprintf(out, "\n  %-24s", "");

        /* Continuation lines of the help text line up under its first line. */
        for (const char *line = spec->help; *line;) {
            const char *end = strchr(line, '\n');
            size_t length = end ? (size_t)(end - line) : strlen(line);
            fprintf(out, "%s%.*s\n", line == spec->help ? "" : "                          ",
                    (int)length, line);
            line += length + (end ? 1 : 0);
        }
    }
}

void cli_print_command_options(FILE *out, unsigned command, const cli_local_options *local)
{
    if (local)
        cli_print_table(out, local->table, local->count, command);
    cli_print_table(out, cli_option_table, CLI_OPTION_COUNT, command);
}

void cli_print_options(FILE *out, unsigned command)
{
    cli_print_command_options(out, command, NULL);
}

int cli_usage_error(const cli_options *options, const char *format, ...)
{
    fprintf(stderr, "facesim %s: ", options->command_name);
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, "\nRun 'facesim %s --help' for the options.\n", options->command_name);
    return CLI_EXIT_USAGE;
}

bool cli_parse_long(const char *text, long long minimum, long long maximum, long long *value)
{
    if (!text || !*text)
        return false;
    errno = 0;
    char *end;
    long long parsed = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || parsed < minimum || parsed > maximum)
        return false;
    *value = parsed;
    return true;
}

bool cli_parse_double(const char *text, double minimum, double maximum, double *value)
{
    if (!text || !*text)
        return false;
    errno = 0;
    char *end;
    double parsed = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(parsed) || parsed < minimum || parsed > maximum)
        return false;
    *value = parsed;
    return true;
}

static int cli_parse_select(cli_options *options, const char *value)
{
    long long index;
    if (strcmp(value, "largest") == 0) {
        options->embed.select = FACESIM_SELECT_LARGEST;
    } else if (strcmp(value, "score") == 0) {
        options->embed.select = FACESIM_SELECT_SCORE;
    } else if (strcmp(value, "center") == 0 || strcmp(value, "centre") == 0) {
        options->embed.select = FACESIM_SELECT_CENTER;
    } else if (strncmp(value, "index:", 6) == 0 && cli_parse_long(value + 6, 0, 9999, &index)) {
        options->embed.select = FACESIM_SELECT_INDEX;
        options->embed.index = (int)index;
    } else {
        return cli_usage_error(options,
                               "invalid --select value '%s': expected largest, score, center "
                               "or index:K with K from 0 to 9999", value);
    }
    return CLI_EXIT_OK;
}

static int cli_parse_format(cli_options *options, const char *value)
{
    if (strcmp(value, "csv") == 0)
        options->format = CLI_FORMAT_CSV;
    else if (strcmp(value, "npy") == 0)
        options->format = CLI_FORMAT_NPY;
    else if (strcmp(value, "jsonl") == 0)
        options->format = CLI_FORMAT_JSONL;
    else
        return cli_usage_error(options, "invalid --format value '%s': expected npy, csv or jsonl",
                               value);
    options->format_set = true;
    return CLI_EXIT_OK;
}

/* Sets --json, --csv or --jsonl, which exclude each other. */
static int cli_set_report(cli_options *options, enum cli_report_format report)
{
    if (options->report != CLI_REPORT_TEXT && options->report != report)
        return cli_usage_error(options, "--json, --csv and --jsonl cannot be combined");
    options->report = report;
    options->json = report == CLI_REPORT_JSON;
    return CLI_EXIT_OK;
}

/* Applies one option with its value (NULL for flags). */
static int cli_apply_option(cli_options *options, const cli_option_spec *spec, const char *value)
{
    long long integer;
    double number;
    switch (spec->id) {
    case OPT_HELP: options->help = true; break;
    case OPT_MODELS: options->models = value; break;
    case OPT_OUTPUT: options->output = value; break;
    case OPT_DRAW: options->draw = value; break;
    case OPT_SAVE_CROPS: options->save_crops = value; break;
    case OPT_QUIET: options->quiet = true; break;
    case OPT_VERBOSE: options->verbose++; break;
    case OPT_PAD_RETRY: options->embed.pad_retry = 1; break;
    case OPT_ALIGNED: options->embed.aligned_input = 1; break;
    case OPT_ALIGNED_A: options->aligned_side[0] = true; break;
    case OPT_ALIGNED_B: options->aligned_side[1] = true; break;
    case OPT_ALL_FACES: options->all_faces = true; break;
    case OPT_ACCEPT_DAMAGED: options->accept_damaged = true; break;
    case OPT_JSON: return cli_set_report(options, CLI_REPORT_JSON);
    case OPT_CSV: return cli_set_report(options, CLI_REPORT_CSV);
    case OPT_JSONL: return cli_set_report(options, CLI_REPORT_JSONL);
    case OPT_SELECT: return cli_parse_select(options, value);
    case OPT_FORMAT: return cli_parse_format(options, value);
    case OPT_DET_SIZE:
        if (!cli_parse_long(value, 32, 4096, &integer) || integer % 32 != 0)
            return cli_usage_error(options,
                                   "invalid --det-size '%s': expected a multiple of 32 from 32 "
                                   "to 4096 pixels", value);
        options->det_size = (int)integer;
        break;
    case OPT_DET_THRESH:
        if (!cli_parse_double(value, 0.0, 1.0, &number))
            return cli_usage_error(options,
                                   "invalid --det-thresh '%s': expected a score from 0 to 1",
                                   value);
        options->det_threshold = (float)number;
        break;
    case OPT_THREADS: {
        /* Each batch worker thread loads its own copy of the models. */
        long long maximum = (options->command & CLI_BATCH_COMMANDS) ? 256 : 1024;
        if (!cli_parse_long(value, 0, maximum, &integer))
            return cli_usage_error(options,
                                   "invalid --threads '%s': expected 0 (all cores) to %lld",
                                   value, maximum);
        options->threads = (int)integer;
        break;
    }
    case OPT_MAX_PIXELS:
        if (!cli_parse_long(value, 1, 1LL << 40, &integer))
            return cli_usage_error(options,
                                   "invalid --max-pixels '%s': expected a pixel count from 1 "
                                   "to 2^40", value);
        options->max_pixels = (uint64_t)integer;
        break;
    case OPT_THRESHOLD:
        if (!cli_parse_double(value, -1.0, 1.0, &number))
            return cli_usage_error(options,
                                   "invalid --threshold '%s': expected a cosine from -1 to 1",
                                   value);
        options->threshold = (float)number;
        options->threshold_set = true;
        break;
    }
    return CLI_EXIT_OK;
}

/* Finds the row for a long name (length bytes of name) or a short name (when name is
 * NULL). Prefers the row that applies to command; otherwise returns a row of another
 * command, so the caller can say the option does not apply. */
static const cli_option_spec *cli_find_option(const cli_option_spec *table, size_t count,
                                              unsigned command, const char *name,
                                              size_t length, char short_name)
{
    const cli_option_spec *other = NULL;
    for (size_t i = 0; i < count; i++) {
        const cli_option_spec *spec = &table[i];
        bool same = name ? strlen(spec->long_name) == length &&
                               strncmp(spec->long_name, name, length) == 0
                         : spec->short_name != 0 && spec->short_name == short_name;
        if (!same)
            continue;
        if (spec->commands & command)
            return spec;
        other = spec;
    }
    return other;
}

/* Parses the option at argv[*index], consuming its value when it takes one. */
static int cli_parse_one(cli_options *options, const cli_local_options *local, int argc,
                         char **argv, int *index)
{
    const char *arg = argv[*index];
    const char *name = NULL;
    size_t length = 0;
    char short_name = 0;
    const char *value = NULL;
    char display[80];

    if (arg[1] == '-') {
        name = arg + 2;
        const char *equals = strchr(name, '=');
        length = equals ? (size_t)(equals - name) : strlen(name);
        snprintf(display, sizeof display, "--%.*s", (int)length, name);
        if (equals)
            value = equals + 1;
    } else {
        /* Short options are single letters; "-vv" counts as two -v. */
        if (arg[1] == 'v' && strspn(arg + 1, "v") == strlen(arg + 1) &&
            (options->command & CLI_MODEL_COMMANDS)) {
            options->verbose += (int)strlen(arg + 1);
            return CLI_EXIT_OK;
        }
        short_name = arg[2] == '\0' ? arg[1] : 0; /* 0 matches no option */
        snprintf(display, sizeof display, "%s", arg);
    }

    /* A command's own options come first, so they may reuse a shared name. */
    const cli_option_spec *spec = NULL;
    bool is_local = false;
    if (local) {
        spec = cli_find_option(local->table, local->count, options->command, name, length,
                               short_name);
        is_local = spec && (spec->commands & options->command);
    }
    if (!is_local) {
        const cli_option_spec *shared = cli_find_option(cli_option_table, CLI_OPTION_COUNT,
                                                        options->command, name, length,
                                                        short_name);
        if (shared && (!spec || (shared->commands & options->command)))
            spec = shared;
    }

    if (!spec)
        return cli_usage_error(options, "unknown option '%s'", display);
    if (!(spec->commands & options->command))
        return cli_usage_error(options, "option '%s' does not apply to '%s'", display,
                               options->command_name);
    if (spec->value_name && !value) {
        if (*index + 1 >= argc)
            return cli_usage_error(options, "option '%s' needs a value (%s)", display,
                                   spec->value_name);
        value = argv[++*index];
    } else if (!spec->value_name && value) {
        return cli_usage_error(options, "option '%s' takes no value", display);
    }
    if (is_local)
        return local->apply(local->user_data, options, spec, value);
    return cli_apply_option(options, spec, value);
}

/* Checks combinations and input counts once every argument has been read. */
static int cli_check_options(cli_options *options)
{
    int count = options->input_count;
    switch (options->command) {
    case CLI_COMPARE:
        if (count != 2)
            return cli_usage_error(options, "expected two images A and B, got %d argument%s",
                                   count, count == 1 ? "" : "s");
        if (options->all_faces &&
            (options->embed.aligned_input || options->aligned_side[0] || options->aligned_side[1]))
            return cli_usage_error(options,
                                   "--all-faces and --aligned (or --aligned-a, --aligned-b) "
                                   "cannot be combined: an aligned crop contains exactly one "
                                   "face");
        if (options->all_faces && options->embed.select != FACESIM_SELECT_LARGEST)
            return cli_usage_error(options,
                                   "--all-faces and --select cannot be combined: every face is "
                                   "compared");
        break;
    case CLI_DETECT:
    case CLI_EMBED:
        if (count == 0)
            return cli_usage_error(options, "expected at least one image");
        if (options->draw) {
            struct stat info;
            bool directory = stat(options->draw, &info) == 0 && S_ISDIR(info.st_mode);
            const char *dot = strrchr(options->draw, '.');
            if (!directory && (!dot || strcasecmp(dot, ".png") != 0))
                return cli_usage_error(options,
                                       "--draw '%s': the drawing is written as PNG, so give the "
                                       "file a .png name (or an existing directory)",
                                       options->draw);
        }
        break;
    default:
        break; /* video, pairs, dirs and merge check their own inputs */
    }
    if (options->quiet && options->verbose)
        return cli_usage_error(options, "--quiet and --verbose cannot be combined");
    if (options->command == CLI_EMBED && options->format == CLI_FORMAT_NPY && !options->output)
        return cli_usage_error(options, "--format npy needs -o FILE: npy is binary");
    return CLI_EXIT_OK;
}

/* Chooses the embed format from the -o extension when --format is absent. */
static void cli_default_format(cli_options *options)
{
    if (options->command != CLI_EMBED || options->format_set || !options->output)
        return;
    const char *dot = strrchr(options->output, '.');
    if (!dot)
        return;
    if (strcasecmp(dot, ".npy") == 0)
        options->format = CLI_FORMAT_NPY;
    else if (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".json") == 0)
        options->format = CLI_FORMAT_JSONL;
}

/* Returns the name of one cli_command bit. */
static const char *cli_command_name(unsigned command)
{
    switch (command) {
    case CLI_COMPARE: return "compare";
    case CLI_DETECT: return "detect";
    case CLI_EMBED: return "embed";
    case CLI_VIDEO: return "video";
    case CLI_PAIRS: return "pairs";
    case CLI_DIRS: return "dirs";
    case CLI_MERGE: return "merge";
    }
    return "?";
}

int cli_parse_command(int argc, char **argv, unsigned command, const cli_local_options *local,
                      cli_options *options)
{
    memset(options, 0, sizeof *options);
    options->command = command;
    options->command_name = cli_command_name(command);
    options->det_threshold = -1.0f;
    options->threads = -1;
    facesim_default_embed_options(&options->embed);

    /* Inputs are collected in place: argv[1..] is reordered so they come first. */
    options->inputs = argv + 1;
    bool options_ended = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_ended && strcmp(arg, "--") == 0) {
            options_ended = true;
        } else if (!options_ended && arg[0] == '-' && arg[1] != '\0') {
            int status = cli_parse_one(options, local, argc, argv, &i);
            if (status != CLI_EXIT_OK)
                return status;
            if (options->help)
                return CLI_EXIT_OK;
        } else {
            options->inputs[options->input_count++] = argv[i];
        }
    }
    cli_default_format(options);
    return cli_check_options(options);
}

int cli_parse_options(int argc, char **argv, unsigned command, cli_options *options)
{
    return cli_parse_command(argc, argv, command, NULL, options);
}

static bool cli_is_directory(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

/* Returns the source tree this file was compiled from, or "" when the compiler was
 * given a relative path (CMake passes absolute paths). */
static void cli_source_tree(char *buffer, size_t size)
{
    const char *file = __FILE__;
    const char *suffix = "/cli/options.c";
    size_t length = strlen(file);
    size_t suffix_length = strlen(suffix);
    buffer[0] = '\0';
    if (file[0] != '/' || length <= suffix_length ||
        strcmp(file + length - suffix_length, suffix) != 0)
        return;
    snprintf(buffer, size, "%.*s", (int)(length - suffix_length), file);
}

int cli_find_models(const cli_options *options, char *buffer, size_t size)
{
    if (options->models) {
        if (!cli_is_directory(options->models)) {
            fprintf(stderr,
                    "facesim %s: model directory '%s' (from --models) does not exist or is not "
                    "a directory. Pass the directory that contains the pack's .onnx files.\n",
                    options->command_name, options->models);
            return CLI_EXIT_MODEL_PACK;
        }
        snprintf(buffer, size, "%s", options->models);
        return CLI_EXIT_OK;
    }

    const char *environment = getenv("FACESIM_MODELS");
    if (environment && *environment) {
        if (!cli_is_directory(environment)) {
            fprintf(stderr,
                    "facesim %s: model directory '%s' (from $FACESIM_MODELS) does not exist or "
                    "is not a directory. Fix the variable or pass --models DIR.\n",
                    options->command_name, environment);
            return CLI_EXIT_MODEL_PACK;
        }
        snprintf(buffer, size, "%s", environment);
        return CLI_EXIT_OK;
    }

    char source_tree[4096];
    char candidate[4200];
    cli_source_tree(source_tree, sizeof source_tree);
    if (source_tree[0]) {
        snprintf(candidate, sizeof candidate, "%s/models/default", source_tree);
        if (cli_is_directory(candidate)) {
            snprintf(buffer, size, "%s", candidate);
            return CLI_EXIT_OK;
        }
    }
    if (cli_is_directory("models/default")) {
        snprintf(buffer, size, "models/default");
        return CLI_EXIT_OK;
    }

    fprintf(stderr, "facesim %s: no model pack found. Tried $FACESIM_MODELS (not set)",
            options->command_name);
    if (source_tree[0])
        fprintf(stderr, ", %s/models/default", source_tree);
    fprintf(stderr, " and ./models/default. Pass --models DIR or set FACESIM_MODELS to a "
                    "directory of ONNX models (see docs/cli.md).\n");
    return CLI_EXIT_MODEL_PACK;
}

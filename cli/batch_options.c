/*
 * Command line of `facesim pairs` and `facesim dirs`: the options only the batch
 * commands have (--batch, --cache, --shard, --plot, ...) on top of the shared ones in
 * options.c, the input checks and --help.
 */
#include <stdio.h>
#include <string.h>

#include "batch.h"

enum cli_batch_option_id {
    BOPT_PLOT,
    BOPT_BATCH,
    BOPT_CACHE,
    BOPT_SHARD,
    BOPT_NO_PROGRESS,
    BOPT_PREFIX_MATCH,
    BOPT_ONE_REF
};

static const cli_option_spec cli_batch_option_table[] = {
    { BOPT_PLOT, "plot", 0, "FILE.svg", CLI_BATCH_COMMANDS, "histogram of the cosines as SVG" },
    { BOPT_BATCH, "batch", 0, "N", CLI_BATCH_COMMANDS,
      "aligned faces per recogniser call, 1 to 64\n"
      "(default 8)" },
    { BOPT_CACHE, "cache", 0, "FILE", CLI_BATCH_COMMANDS,
      "embedding cache: reruns skip images already done\n"
      "with the same file content, models and options" },
    { BOPT_SHARD, "shard", 0, "K/N", CLI_BATCH_COMMANDS,
      "only rows with index % N == K - 1 (K from 1);\n"
      "join the --json outputs with 'facesim merge'" },
    { BOPT_NO_PROGRESS, "no-progress", 0, NULL, CLI_BATCH_COMMANDS,
      "no progress bar (it is shown only on a terminal)" },
    { BOPT_PREFIX_MATCH, "prefix-match", 0, NULL, CLI_DIRS,
      "also pair REF_DIR/id07.jpg with GEN_DIR/id07_*.*\n"
      "(the longest matching reference name wins)" },
    { BOPT_ONE_REF, "one-ref", 0, "FILE", CLI_DIRS,
      "compare FILE with every image in GEN_DIR" },
};

#define CLI_BATCH_OPTION_COUNT (sizeof cli_batch_option_table / sizeof cli_batch_option_table[0])

static int cli_batch_apply(void *user_data, cli_options *common, const cli_option_spec *spec,
                           const char *value);

static cli_local_options cli_batch_local(cli_batch_options *options)
{
    cli_local_options local = {
        .table = cli_batch_option_table,
        .count = CLI_BATCH_OPTION_COUNT,
        .apply = cli_batch_apply,
        .user_data = options,
    };
    return local;
}

void cli_batch_print_help(const char *command)
{
    bool pairs = strcmp(command, "pairs") == 0;
    if (pairs)
        printf("Usage: facesim pairs [options] LIST\n"
               "\n"
               "Compares the two images on every row of LIST, a CSV or TSV file with the\n"
               "columns path_a, path_b and an optional label (same/different, 1/0,\n"
               "true/false). A header row is detected and skipped. Relative paths are\n"
               "resolved against LIST's folder. With labels the summary adds ROC AUC,\n"
               "accuracy, the best threshold and TAR at FAR 1e-2 and 1e-3.\n");
    else
        printf("Usage: facesim dirs [options] REF_DIR GEN_DIR\n"
               "       facesim dirs [options] --one-ref FILE GEN_DIR\n"
               "\n"
               "Compares every image in GEN_DIR with the image of the same relative path\n"
               "(without extension) in REF_DIR; subfolders are searched, hidden files and\n"
               "files that are not .jpg/.jpeg/.png/.webp/.bmp/.tif/.tiff are skipped.\n");
    printf("\n"
           "Each distinct image is decoded and embedded once. A row whose image is missing,\n"
           "corrupt or has no face reports its error and the run goes on. The default\n"
           "output is a table of the rows, then the summary.\n"
           "\n"
           "Options:\n");
    cli_local_options local = cli_batch_local(NULL);
    cli_print_command_options(stdout, pairs ? CLI_PAIRS : CLI_DIRS, &local);
    printf("\n"
           "Exit codes: 0 every row scored, 1 some rows failed, 2 usage error, 4 the list\n"
           "or a directory cannot be read, 5 model pack error, 6 internal error or failed\n"
           "output write, 130 interrupted (the output holds the rows done so far).\n"
           "\n"
           "Examples:\n");
    if (pairs)
        printf("  facesim pairs --json -o result.json pairs.csv\n"
               "  facesim pairs --shard 1/4 --json -o part1.json pairs.csv\n");
    else
        printf("  facesim dirs references/ generated/\n"
               "  facesim dirs --prefix-match --csv -o scores.csv references/ generated/\n"
               "  facesim dirs --one-ref portrait.jpg generated/\n");
}

static int cli_batch_parse_shard(cli_batch_options *options, const cli_options *common,
                                 const char *value)
{
    char copy[64];
    snprintf(copy, sizeof copy, "%s", value);
    char *slash = strchr(copy, '/');
    long long k, n;
    if (slash) {
        *slash = '\0';
        if (cli_parse_long(copy, 1, 1000000, &k) && cli_parse_long(slash + 1, 1, 1000000, &n) &&
            k <= n) {
            options->shard_index = (int)k;
            options->shard_count = (int)n;
            return CLI_EXIT_OK;
        }
    }
    return cli_usage_error(common, "invalid --shard '%s': expected K/N with 1 <= K <= N, such "
                           "as 1/4 (K is 1-based, as in a Slurm array 1-4)", value);
}

/* Applies one of the batch commands' own options. */
static int cli_batch_apply(void *user_data, cli_options *common, const cli_option_spec *spec,
                           const char *value)
{
    cli_batch_options *options = user_data;
    long long integer;
    switch (spec->id) {
    case BOPT_PLOT: options->plot = value; break;
    case BOPT_CACHE: options->cache = value; break;
    case BOPT_ONE_REF: options->one_ref = value; break;
    case BOPT_NO_PROGRESS: options->no_progress = true; break;
    case BOPT_PREFIX_MATCH: options->prefix_match = true; break;
    case BOPT_SHARD: return cli_batch_parse_shard(options, common, value);
    case BOPT_BATCH:
        if (!cli_parse_long(value, 1, 64, &integer))
            return cli_usage_error(common, "invalid --batch '%s': expected 1 to 64 faces",
                                   value);
        options->batch = (int)integer;
        break;
    }
    return CLI_EXIT_OK;
}

/* Copies the shared options into the batch options. */
static void cli_batch_copy_common(cli_batch_options *options, const cli_options *common)
{
    options->help = common->help;
    options->models = common->models;
    options->det_size = common->det_size;
    options->det_threshold = common->det_threshold;
    options->threads = common->threads < 0 ? 0 : common->threads;
    options->max_pixels = common->max_pixels;
    options->accept_damaged = common->accept_damaged;
    options->verbose = common->verbose;
    options->quiet = common->quiet;
    options->output = common->output;
    options->embed = common->embed;
    options->threshold_set = common->threshold_set;
    options->threshold = common->threshold;
    options->inputs = common->inputs;
    options->input_count = common->input_count;
    switch (common->report) {
    case CLI_REPORT_TEXT: options->format = CLI_BATCH_TABLE; break;
    case CLI_REPORT_JSON: options->format = CLI_BATCH_JSON; break;
    case CLI_REPORT_CSV: options->format = CLI_BATCH_CSV; break;
    case CLI_REPORT_JSONL: options->format = CLI_BATCH_JSONL; break;
    }
}

int cli_batch_parse(int argc, char **argv, const char *command, cli_batch_options *options)
{
    memset(options, 0, sizeof *options);
    options->command = command;
    options->batch = 8;
    bool dirs = strcmp(command, "dirs") == 0;

    cli_options common;
    cli_local_options local = cli_batch_local(options);
    int status = cli_parse_command(argc, argv, dirs ? CLI_DIRS : CLI_PAIRS, &local, &common);
    cli_batch_copy_common(options, &common);
    if (status != CLI_EXIT_OK || options->help)
        return status;

    int expected = 1;
    const char *expected_text = "one pair list LIST";
    if (dirs && options->one_ref) {
        expected_text = "one directory GEN_DIR";
    } else if (dirs) {
        expected = 2;
        expected_text = "two directories REF_DIR and GEN_DIR";
    }
    if (options->input_count != expected)
        return cli_usage_error(&common, "expected %s, got %d argument%s", expected_text,
                               options->input_count, options->input_count == 1 ? "" : "s");
    if (options->one_ref && options->prefix_match)
        return cli_usage_error(&common, "--one-ref and --prefix-match cannot be combined: with "
                               "--one-ref every image in GEN_DIR is compared");
    return CLI_EXIT_OK;
}

/*
 * Command-line options shared by the facesim subcommands, their parser and the help
 * text generated from the same table, plus the exit codes every command uses.
 */
#ifndef FACESIM_CLI_OPTIONS_H
#define FACESIM_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "facesim.h"

/* Exit codes, documented in `facesim --help` and docs/cli.md. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_SOME_FAILED = 1, /* several inputs were given and at least one failed */
    CLI_EXIT_USAGE = 2,       /* bad command line */
    CLI_EXIT_NO_FACE = 3,     /* an image decoded but contains no face */
    CLI_EXIT_BAD_INPUT = 4,   /* an input is missing, unreadable, corrupt or too large */
    CLI_EXIT_MODEL_PACK = 5,  /* the model directory is missing or a model is invalid */
    CLI_EXIT_INTERNAL = 6     /* out of memory, a failed output write or a bug */
};

/* Subcommands, as bits so that an option can belong to several. */
enum cli_command {
    CLI_COMPARE = 1,
    CLI_DETECT = 2,
    CLI_EMBED = 4,
    CLI_VIDEO = 8,
    CLI_PAIRS = 16,
    CLI_DIRS = 32,
    CLI_MERGE = 64
};

/* Groups of commands. Every command but merge loads the model pack; merge only reads
 * the JSON outputs of pairs and dirs. */
#define CLI_IMAGE_COMMANDS (CLI_COMPARE | CLI_DETECT | CLI_EMBED)
#define CLI_BATCH_COMMANDS (CLI_PAIRS | CLI_DIRS)
#define CLI_REPORT_COMMANDS (CLI_VIDEO | CLI_BATCH_COMMANDS)
#define CLI_MODEL_COMMANDS (CLI_IMAGE_COMMANDS | CLI_REPORT_COMMANDS)
#define CLI_ALL (CLI_MODEL_COMMANDS | CLI_MERGE)

/* embed's --format. */
enum cli_format { CLI_FORMAT_CSV = 0, CLI_FORMAT_NPY = 1, CLI_FORMAT_JSONL = 2 };

/* --json, --csv or --jsonl of video, pairs and dirs; TEXT when none was given. */
enum cli_report_format {
    CLI_REPORT_TEXT = 0,
    CLI_REPORT_JSON = 1,
    CLI_REPORT_CSV = 2,
    CLI_REPORT_JSONL = 3
};

typedef struct cli_options {
    unsigned command;          /* one cli_command bit */
    const char *command_name;  /* "compare", "detect", "embed", "video", ... */
    bool help;                 /* --help was given: print help and exit 0 */

    /* Shared by every command. Unset values keep facesim_default_params(). */
    const char *models;        /* --models DIR, NULL to search (see cli_find_models) */
    int det_size;              /* 0: unset */
    float det_threshold;       /* negative: unset */
    int threads;               /* negative: unset */
    uint64_t max_pixels;       /* 0: unset */
    bool accept_damaged;       /* load partly decodable images with a warning */
    int verbose;               /* number of -v */
    bool quiet;
    const char *output;        /* -o FILE, NULL for stdout */

    /* compare and embed */
    facesim_embed_options embed;

    /* compare */
    bool threshold_set;        /* also video, pairs and dirs */
    float threshold;
    bool all_faces;
    bool aligned_side[2];      /* --aligned-a, --aligned-b: only that input is a crop */
    bool json;                 /* --json; also detect, video, pairs and dirs */

    /* video, pairs and dirs */
    enum cli_report_format report;

    /* detect */
    const char *draw;
    const char *save_crops;

    /* embed */
    bool format_set;
    enum cli_format format;

    char **inputs;             /* positional arguments, borrowed from argv */
    int input_count;
} cli_options;

/*
 * One row of an option table: the shared table in options.c, or a command's own
 * table passed as cli_local_options. `commands` contains the cli_command bits of the
 * commands that accept the option. An option that means something different for
 * some commands has one row per meaning, each with its own bits and help text.
 */
typedef struct cli_option_spec {
    int id;                 /* meaning; local tables number their own ids */
    const char *long_name;  /* without the leading "--" */
    char short_name;        /* 0: none */
    const char *value_name; /* NULL: a flag without value */
    unsigned commands;      /* cli_command bits */
    const char *help;       /* lines separated by '\n', at most 50 columns each */
} cli_option_spec;

/*
 * Options that only one command (or a few) accept, such as video's --every or
 * batch's --shard. apply is called with a row of table and its value (NULL for a
 * flag) and returns CLI_EXIT_OK or the result of cli_usage_error.
 */
typedef struct cli_local_options {
    const cli_option_spec *table;
    size_t count;
    int (*apply)(void *user_data, cli_options *options, const cli_option_spec *spec,
                 const char *value);
    void *user_data;
} cli_local_options;

/*
 * Parses the arguments after the command name (argv[0] is the command) for `command`.
 * Returns CLI_EXIT_OK, or CLI_EXIT_USAGE after printing a message to stderr that
 * names the bad argument and points to --help. Options and inputs may be mixed;
 * "--" ends the options.
 */
int cli_parse_options(int argc, char **argv, unsigned command, cli_options *options);

/*
 * Like cli_parse_options, and also accepts the options in local (NULL for none).
 * Checks the input count only for compare, detect and embed: the other commands
 * check their inputs themselves.
 */
int cli_parse_command(int argc, char **argv, unsigned command, const cli_local_options *local,
                      cli_options *options);

/* Prints the options of `command` with their units and defaults. */
void cli_print_options(FILE *out, unsigned command);

/* Prints the options of `command` in local (NULL for none), then the shared ones. */
void cli_print_command_options(FILE *out, unsigned command, const cli_local_options *local);

/* Prints "facesim <command>: <message>" and the pointer to --help to stderr.
 * Returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_options *options, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a whole decimal integer in [minimum, maximum]. Returns false for NULL, an
 * empty string, trailing characters or a value out of range. */
bool cli_parse_long(const char *text, long long minimum, long long maximum, long long *value);

/* Parses a finite number in [minimum, maximum], with the same rules. */
bool cli_parse_double(const char *text, double minimum, double maximum, double *value);

/*
 * Picks the model directory, in this order: --models DIR; $FACESIM_MODELS;
 * models/default in the source tree this program was built from; ./models/default.
 * The first that names a directory wins. Writes it into buffer. Returns
 * CLI_EXIT_OK, or CLI_EXIT_MODEL_PACK after printing every place it tried.
 */
int cli_find_models(const cli_options *options, char *buffer, size_t size);

#endif /* FACESIM_CLI_OPTIONS_H */

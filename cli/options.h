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
    CLI_EMBED = 4
};

enum cli_format { CLI_FORMAT_CSV = 0, CLI_FORMAT_NPY = 1, CLI_FORMAT_JSONL = 2 };

typedef struct cli_options {
    unsigned command;          /* one cli_command bit */
    const char *command_name;  /* "compare", "detect" or "embed" */
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
    bool threshold_set;
    float threshold;
    bool all_faces;
    bool json;                 /* also detect */

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
 * Parses the arguments after the command name (argv[0] is the command) for `command`.
 * Returns CLI_EXIT_OK, or CLI_EXIT_USAGE after printing a message to stderr that
 * names the bad argument and points to --help. Options and inputs may be mixed;
 * "--" ends the options.
 */
int cli_parse_options(int argc, char **argv, unsigned command, cli_options *options);

/* Prints the options of `command` with their units and defaults. */
void cli_print_options(FILE *out, unsigned command);

/*
 * Picks the model directory, in this order: --models DIR; $FACESIM_MODELS;
 * models/default in the source tree this program was built from; ./models/default.
 * The first that names a directory wins. Writes it into buffer. Returns
 * CLI_EXIT_OK, or CLI_EXIT_MODEL_PACK after printing every place it tried.
 */
int cli_find_models(const cli_options *options, char *buffer, size_t size);

#endif /* FACESIM_CLI_OPTIONS_H */

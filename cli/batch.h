/*
 * Types shared by the files of the batch commands `facesim pairs` and `facesim dirs`:
 * batch_options.c (command line and --help), dirs.c (pairing two directories by file
 * name) and pairs.c (the run and its output).
 */
#ifndef FACESIM_CLI_BATCH_H
#define FACESIM_CLI_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eval/pair_list.h"
#include "facesim.h"
#include "options.h"

/* Exit code of a run stopped by SIGINT: 128 + the signal number, as shells report it. */
#define CLI_EXIT_INTERRUPTED 130

/* Output format; the values equal those of enum cli_report_format. */
enum cli_batch_format {
    CLI_BATCH_TABLE = 0,
    CLI_BATCH_JSON = 1,
    CLI_BATCH_CSV = 2,
    CLI_BATCH_JSONL = 3
};

typedef struct cli_batch_options {
    const char *command;         /* "pairs" or "dirs" */
    bool help;
    const char *models;
    int det_size;                /* 0: unset */
    float det_threshold;         /* negative: unset */
    int threads;                 /* 0: all cores */
    int batch;
    uint64_t max_pixels;         /* 0: unset */
    bool accept_damaged;
    int verbose;
    bool quiet;
    bool no_progress;
    const char *output;
    facesim_embed_options embed;
    bool threshold_set;
    float threshold;
    enum cli_batch_format format;
    const char *plot;
    const char *cache;
    int shard_index;             /* K of --shard K/N, 1-based; 0 without sharding */
    int shard_count;             /* N */
    bool prefix_match;           /* dirs */
    const char *one_ref;         /* dirs */
    char **inputs;
    int input_count;
} cli_batch_options;

/*
 * Parses the arguments after the command name for command ("pairs" or "dirs").
 * Returns CLI_EXIT_OK (also for --help, with options->help set) or CLI_EXIT_USAGE
 * after printing the reason.
 */
int cli_batch_parse(int argc, char **argv, const char *command, cli_batch_options *options);

/* Prints `facesim pairs --help` or `facesim dirs --help` to standard output. */
void cli_batch_print_help(const char *command);

/* Runs `facesim pairs` or `facesim dirs` (command). Returns an exit code. */
int cli_batch_main(int argc, char **argv, const char *command);

/*
 * Builds the dirs pair list: every image in gen_dir against the image of the same
 * relative path without extension in ref_dir, or against one_ref when it is not
 * NULL (ref_dir is then NULL). Returns an exit code, after printing any error.
 */
int cli_dirs_build_list(const char *command, const char *ref_dir, const char *gen_dir,
                        const char *one_ref, bool prefix_match, bool quiet, fs_pair_list *list,
                        size_t *unmatched_ref, size_t *unmatched_gen);

#endif /* FACESIM_CLI_BATCH_H */

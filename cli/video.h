/*
 * Types shared by the files of `facesim video`: video.c (reference, evaluation and
 * main), video_options.c (command line) and video_output.c (text, JSON, CSV, JSON
 * Lines and the SVG plot).
 */
#ifndef FACESIM_CLI_VIDEO_H
#define FACESIM_CLI_VIDEO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "options.h"
#include "video/evaluate.h"
#include "video/video.h"

/* Largest number of reference images read from a directory. */
#define CLI_VIDEO_MAX_REFERENCES 1000

typedef struct cli_video_options {
    cli_options common;        /* shared options; common.report is the output format */
    fs_sample_mode sample_mode;
    double sample_value;       /* N or frames per second */
    const char *sample_option; /* the option that set the mode, for messages */
    bool ref_max;              /* --ref-mode max */
    bool no_ref;
    bool clamp_negative;
    const char *plot;
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

/* Parses the arguments after "video". Returns CLI_EXIT_OK (also for --help, with
 * options->common.help set) or CLI_EXIT_USAGE after printing the reason. */
int cli_video_parse(int argc, char **argv, cli_video_options *options);

/* Prints `facesim video --help`. */
void cli_video_usage(FILE *out);

/*
 * Writes the report in the chosen format to out, the --plot SVG, and for --csv the
 * summary to standard error. Returns an exit code: CLI_EXIT_NO_FACE when no sampled
 * frame contains a face.
 */
int cli_video_write_results(const cli_video_report *report, FILE *out);

#endif /* FACESIM_CLI_VIDEO_H */

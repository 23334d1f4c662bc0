/*
 * facesim video: identity similarity of the face in each sampled video frame to a
 * reference face, plus the consistency of the face over time.
 *
 * Steps: open the video (and count its frames when --frames needs the count), open
 * the model pack, embed the reference image(s), then decode the video once, detect
 * the largest face in each sampled frame, align it and embed the crops in batches of
 * up to CLI_VIDEO_BATCH. Rows are kept in memory (no embeddings) and written at the
 * end with the summary, because the summary and the plot need every row.
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
#include "video/video.h"

/* Crops embedded per facesim_embed_crops call. */
#define CLI_VIDEO_BATCH 16

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

/* One sampled frame. */
typedef struct cli_video_row {
    int64_t frame;
    double time;
    int face_count;
    facesim_face face;         /* the largest face, when face_count > 0 */
    double cosine;             /* to the reference; NaN without a face or a reference */
    double previous_cosine;    /* to the previous sampled frame, NaN when either has no face */
    double first_cosine;       /* to the first frame with a face; NaN for that frame itself */
} cli_video_row;

typedef struct cli_video_summary {
    size_t sampled;
    size_t without_face;
    size_t same_person;        /* cosine >= threshold */
    double mean, std, min, max, consistency;
    size_t consecutive_pairs;
    double consecutive_mean, consecutive_min;
    size_t first_count;
    double first_mean;
} cli_video_summary;

/* The reference: one mean embedding, or every image's embedding for --ref-mode max. */
typedef struct cli_video_reference {
    int count;                 /* images */
    int dim;
    float *embeddings;         /* count rows (max mode) or 1 row (mean mode) */
    int rows;
    char **files;              /* count paths, owned */
} cli_video_reference;

/* State of the decode-detect-embed loop. */
typedef struct cli_video_run {
    cli_session *session;
    const cli_video_options *options;
    const cli_video_reference *reference;
    int dim;
    cli_video_row *rows;
    size_t row_count, row_capacity;
    uint8_t *crops;            /* CLI_VIDEO_BATCH aligned crops waiting to be embedded */
    size_t pending_rows[CLI_VIDEO_BATCH];
    int pending;
    float *batch_embeddings;   /* CLI_VIDEO_BATCH * dim */
    float *previous;           /* embedding of the last embedded frame */
    int64_t previous_row;      /* its row number, -1 when none */
    float *first;              /* embedding of the first frame with a face */
    bool has_first;
} cli_video_run;


/*
 * `facesim pairs LIST` and the batch runner it shares with `facesim dirs`: sharding,
 * running the batch job (src/eval/job.h) and writing rows and the summary as a
 * table, JSON, CSV or JSON Lines. The command line is parsed in batch_options.c.
 *
 * Rows are written in list order as soon as both of their images are done, so an
 * interrupted run (Ctrl-C) leaves a valid output with a prefix of the rows.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "eval/csv_writer.h"
#include "eval/job.h"
#include "eval/json_writer.h"
#include "eval/pair_list.h"
#include "eval/progress.h"
#include "eval/svg_histogram.h"
#include "eval/table.h"
#include "batch.h"
#include "options.h"

static volatile sig_atomic_t cli_batch_stop_requested = 0;

static void cli_batch_on_sigint(int signal_number)
{
    (void)signal_number;
    cli_batch_stop_requested = 1;
}

/* ---- Run state ---- */

typedef struct cli_batch_run {
    const cli_batch_options *options;
    const fs_pair_list *list;
    size_t *rows;             /* indices into list of the rows in this shard */
    size_t row_count;
    size_t *image_a;          /* per shard row: index of path_a's image in the job */
    size_t *image_b;
    fs_job job;
    const char **image_paths; /* distinct resolved paths, borrowed from list */
    size_t image_count;
    float threshold;          /* NaN until the pack is open, unless --threshold */
    char model_dir[4096];
    size_t unmatched_ref;     /* dirs: files without a partner */
    size_t unmatched_gen;
    bool started;             /* the output has begun */
    FILE *out;
    fs_json_writer json;
    fs_csv_writer csv;
    fs_table table;
    fs_progress progress;
    size_t next_row;          /* first shard row not yet written */
    float *scores;            /* per scored row */
    uint8_t *labels;
    size_t scored;
    size_t no_face;
    size_t errors;
    char error_buffer[2 * FS_ERROR_MESSAGE_MAX + 512];
} cli_batch_run;

static int cli_batch_no_memory(const cli_batch_options *options)
{
    fprintf(stderr, "facesim %s: out of memory\n", options->command);
    return CLI_EXIT_INTERNAL;
}

/* FNV-1a hash for the table of distinct paths. */
static size_t cli_batch_hash(const char *text)
{
    uint64_t hash = 1469598103934665603ULL;
    for (; *text; text++)
        hash = (hash ^ (uint8_t)*text) * 1099511628211ULL;
    return (size_t)hash;
}

/* Returns the job index of path, adding it when new. slots has slot_count entries of
 * image index + 1 (0 empty). */
static size_t cli_batch_intern(cli_batch_run *run, size_t *slots, size_t slot_count,
                               const char *path)
{
    size_t slot = cli_batch_hash(path) & (slot_count - 1);
    while (slots[slot] != 0) {
        if (strcmp(run->image_paths[slots[slot] - 1], path) == 0)
            return slots[slot] - 1;
        slot = (slot + 1) & (slot_count - 1);
    }
    run->image_paths[run->image_count] = path;
    slots[slot] = ++run->image_count;
    return run->image_count - 1;
}

/* Picks the shard's rows and numbers the distinct images by first use. */
static int cli_batch_plan(cli_batch_run *run)
{
    const cli_batch_options *options = run->options;
    size_t total = run->list->count;
    run->rows = malloc(total * sizeof *run->rows);
    run->image_a = malloc(total * sizeof *run->image_a);
    run->image_b = malloc(total * sizeof *run->image_b);
    run->image_paths = malloc(2 * total * sizeof *run->image_paths);
    run->scores = malloc(total * sizeof *run->scores);
    run->labels = malloc(total * sizeof *run->labels);
    size_t slot_count = 16;
    while (slot_count < 4 * total)
        slot_count *= 2;
    size_t *slots = calloc(slot_count, sizeof *slots);
    if (!run->rows || !run->image_a || !run->image_b || !run->image_paths || !run->scores ||
        !run->labels || !slots) {
        free(slots);
        return cli_batch_no_memory(options);
    }
    for (size_t i = 0; i < total; i++) {
        if (options->shard_count > 0 &&
            i % (size_t)options->shard_count != (size_t)(options->shard_index - 1))
            continue;
        const fs_pair_entry *pair = &run->list->pairs[i];
        run->image_a[run->row_count] = cli_batch_intern(run, slots, slot_count, pair->resolved_a);
        run->image_b[run->row_count] = cli_batch_intern(run, slots, slot_count, pair->resolved_b);
        run->rows[run->row_count++] = i;
    }
    free(slots);
    return CLI_EXIT_OK;
}

/* ---- Writing rows ---- */

static void cli_batch_fill_row(cli_batch_run *run, size_t r, fs_job_row *row)
{
    const fs_pair_entry *pair = &run->list->pairs[run->rows[r]];
    const fs_job_image *a = &run->job.images[run->image_a[r]];
    const fs_job_image *b = &run->job.images[run->image_b[r]];
    memset(row, 0, sizeof *row);
    row->index = run->rows[r];
    row->path_a = pair->path_a;
    row->path_b = pair->path_b;
    row->label = pair->label;
    row->has_box_a = a->status == FACESIM_OK && !run->options->embed.aligned_input;
    row->has_box_b = b->status == FACESIM_OK && !run->options->embed.aligned_input;
    memcpy(row->box_a, a->face.box, sizeof row->box_a);
    memcpy(row->box_b, b->face.box, sizeof row->box_b);
    if (a->status == FACESIM_OK && b->status == FACESIM_OK) {
        row->status = FACESIM_OK;
        row->cosine = facesim_cosine(a->embedding, b->embedding, run->job.dim);
        row->same_person = row->cosine >= run->threshold;
        return;
    }
    /* The row reports the first failing image; when both fail, both messages. */
    const fs_job_image *failed = a->status != FACESIM_OK ? a : b;
    row->status = failed->status;
    if (a->status != FACESIM_OK && b->status != FACESIM_OK && a != b)
        snprintf(run->error_buffer, sizeof run->error_buffer, "%s; %s",
                 a->error ? a->error : "failed", b->error ? b->error : "failed");
    else
        snprintf(run->error_buffer, sizeof run->error_buffer, "%s",
                 failed->error ? failed->error : "failed");

    /* The message goes into the CLI's table, CSV and JSON, so it names options. */
    char rewritten[sizeof run->error_buffer];
    const char *message = cli_message_terms(run->error_buffer, rewritten, sizeof rewritten);
    if (message != run->error_buffer)
        memcpy(run->error_buffer, rewritten, strlen(rewritten) + 1);
    row->error = run->error_buffer;
}

static void cli_batch_table_row(cli_batch_run *run, const fs_job_row *row)
{
    fs_table *table = &run->table;
    fs_table_addf(table, "%zu", row->index);
    fs_table_add(table, row->path_a);
    fs_table_add(table, row->path_b);
    if (row->status == FACESIM_OK) {
        fs_table_addf(table, "%.4f", row->cosine);
        fs_table_add(table, row->same_person ? "same" : "different");
    } else {
        fs_table_add(table, "-");
        fs_table_add(table, "-");
    }
    if (row->label < 0)
        fs_table_add(table, "-");
    else
        fs_table_add(table, row->label ? "same" : "different");
    if (row->has_box_a)
        fs_table_addf(table, "%.0f,%.0f,%.0f,%.0f", row->box_a[0], row->box_a[1], row->box_a[2],
                      row->box_a[3]);
    else
        fs_table_add(table, "-");
    if (row->has_box_b)
        fs_table_addf(table, "%.0f,%.0f,%.0f,%.0f", row->box_b[0], row->box_b[1], row->box_b[2],
                      row->box_b[3]);
    else
        fs_table_add(table, "-");
    fs_table_add(table, row->status == FACESIM_OK ? "" : row->error);
}

static void cli_batch_write_row(cli_batch_run *run, const fs_job_row *row)
{
    switch (run->options->format) {
    case CLI_BATCH_TABLE:
        cli_batch_table_row(run, row);
        break;
    case CLI_BATCH_JSON:
        fs_job_json_row(&run->json, row);
        break;
    case CLI_BATCH_CSV:
        fs_job_csv_row(&run->csv, row);
        break;
    case CLI_BATCH_JSONL: {
        fs_json_writer line;
        fs_json_init(&line, run->out, 0);
        fs_job_json_row(&line, row);
        fs_error err;
        if (fs_json_finish(&line, &err) != FACESIM_OK)
            run->csv.status = err.code; /* recorded as an output failure below */
        break;
    }
    }
}

/* Writes every row whose images are both done, in order, up to the first that is not. */
static void cli_batch_flush_rows(cli_batch_run *run)
{
    while (run->next_row < run->row_count) {
        size_t r = run->next_row;
        if (!run->job.images[run->image_a[r]].done || !run->job.images[run->image_b[r]].done)
            break;
        fs_job_row row;
        cli_batch_fill_row(run, r, &row);
        cli_batch_write_row(run, &row);
        if (row.status == FACESIM_OK) {
            run->scores[run->scored] = row.cosine;
            run->labels[run->scored] = row.label > 0;
            run->scored++;
        } else if (row.status == FACESIM_ERR_NO_FACE) {
            run->no_face++;
        } else {
            run->errors++;
        }
        run->next_row++;
    }
    /* Rows reach the file as they complete, for `tail -f` and for a killed run. */
    if (run->options->format != CLI_BATCH_TABLE)
        fflush(run->out);
}

static int cli_batch_begin_output(cli_batch_run *run);

/* Starts the output once the pack is open, since the JSON options carry its threshold. */
static int cli_batch_start(cli_batch_run *run)
{
    run->started = true;
    if (isnan(run->threshold))
        run->threshold = run->job.threshold;
    return cli_batch_begin_output(run);
}

static bool cli_batch_on_progress(void *user_data, size_t done, size_t count)
{
    cli_batch_run *run = user_data;
    (void)count;
    if (!run->started && cli_batch_start(run) != CLI_EXIT_OK)
        return false;
    cli_batch_flush_rows(run);
    fs_progress_update(&run->progress, done);
    return true;
}

/* ---- Document parts ---- */

static const char *cli_batch_select_name(const facesim_embed_options *embed, char *buffer,
                                         size_t size)
{
    switch (embed->select) {
    case FACESIM_SELECT_SCORE: return "score";
    case FACESIM_SELECT_CENTER: return "center";
    case FACESIM_SELECT_INDEX: snprintf(buffer, size, "index:%d", embed->index); return buffer;
    default: return "largest";
    }
}

static void cli_batch_json_options(cli_batch_run *run)
{
    const cli_batch_options *options = run->options;
    fs_json_writer *json = &run->json;
    char buffer[64];
    fs_json_key(json, "options");
    fs_json_begin_object(json);
    if (strcmp(options->command, "pairs") == 0) {
        fs_json_key_string(json, "list", options->inputs[0]);
    } else {
        fs_json_key_string(json, "ref_dir", options->one_ref ? NULL : options->inputs[0]);
        fs_json_key_string(json, "one_ref", options->one_ref);
        fs_json_key_string(json, "gen_dir", options->inputs[options->one_ref ? 0 : 1]);
        fs_json_key_bool(json, "prefix_match", options->prefix_match);
        fs_json_key_int(json, "unmatched_ref", (long long)run->unmatched_ref);
        fs_json_key_int(json, "unmatched_gen", (long long)run->unmatched_gen);
    }
    fs_json_key_string(json, "models", run->model_dir);
    fs_json_key_fixed(json, "threshold", run->threshold, 6);
    fs_json_key_string(json, "select", cli_batch_select_name(&options->embed, buffer,
                                                             sizeof buffer));
    fs_json_key_bool(json, "pad_retry", options->embed.pad_retry);
    fs_json_key_bool(json, "aligned", options->embed.aligned_input);
    fs_json_key_bool(json, "accept_damaged", options->accept_damaged);
    if (options->det_size > 0)
        fs_json_key_int(json, "det_size", options->det_size);
    else
        fs_json_key_string(json, "det_size", "default");
    if (options->det_threshold >= 0.0f)
        fs_json_key_fixed(json, "det_threshold", options->det_threshold, 4);
    else
        fs_json_key_string(json, "det_threshold", "default");
    fs_json_key_bool(json, "labelled", run->list->has_labels);
    fs_json_key_int(json, "total_rows", (long long)run->list->count);
    if (options->shard_count > 0) {
        snprintf(buffer, sizeof buffer, "%d/%d", options->shard_index, options->shard_count);
        fs_json_key_string(json, "shard", buffer);
    } else {
        fs_json_key_string(json, "shard", NULL);
    }
    fs_json_end_object(json);
}

/* Writes the summary and closes the document. Returns an exit code. */
static int cli_batch_finish_output(cli_batch_run *run, const fs_job_summary *summary)
{
    const cli_batch_options *options = run->options;
    fs_error err;
    fs_error_clear(&err);
    int status = FACESIM_OK;
    switch (options->format) {
    case CLI_BATCH_TABLE:
        status = fs_table_print(&run->table, run->out, "", &err);
        fprintf(run->out, "\n");
        fs_job_print_summary(run->out, summary);
        if (run->job.interrupted)
            fprintf(run->out, "Interrupted: %zu of %zu rows done.\n", run->next_row,
                    run->row_count);
        break;
    case CLI_BATCH_JSON:
        fs_json_end_array(&run->json);
        fs_json_key(&run->json, "summary");
        fs_job_json_summary(&run->json, summary);
        fs_json_key_bool(&run->json, "interrupted", run->job.interrupted);
        fs_json_end_object(&run->json);
        status = fs_json_finish(&run->json, &err);
        break;
    case CLI_BATCH_CSV:
    case CLI_BATCH_JSONL:
        if (options->format == CLI_BATCH_CSV)
            status = fs_csv_finish(&run->csv, &err);
        else if (run->csv.status != FACESIM_OK)
            status = fs_error_set(&err, run->csv.status, "a row could not be written");
        fs_job_print_summary(stderr, summary);
        if (run->job.interrupted)
            fprintf(stderr, "Interrupted: %zu of %zu rows done.\n", run->next_row,
                    run->row_count);
        break;
    }
    if (status != FACESIM_OK) {
        fprintf(stderr, "facesim %s: writing the output failed: %s\n", options->command,
                err.message);
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

static int cli_batch_begin_output(cli_batch_run *run)
{
    const cli_batch_options *options = run->options;
    fs_error err;
    switch (options->format) {
    case CLI_BATCH_TABLE: {
        static const char *const headers[] = {"#", "path_a", "path_b", "cosine", "decision",
                                              "label", "box_a", "box_b", "error"};
        if (fs_table_init(&run->table, 9, &err) != FACESIM_OK)
            return cli_batch_no_memory(options);
        for (int c = 0; c < 9; c++)
            fs_table_add(&run->table, headers[c]);
        fs_table_set_align(&run->table, 0, FS_TABLE_RIGHT);
        fs_table_set_align(&run->table, 3, FS_TABLE_RIGHT);
        break;
    }
    case CLI_BATCH_JSON:
        fs_json_init(&run->json, run->out, 2);
        fs_json_begin_object(&run->json);
        fs_json_key_string(&run->json, "command", options->command);
        fs_json_key_string(&run->json, "facesim_version", facesim_version());
        cli_batch_json_options(run);
        fs_json_key(&run->json, "rows");
        fs_json_begin_array(&run->json);
        break;
    case CLI_BATCH_CSV:
        fs_csv_init(&run->csv, run->out);
        fs_job_csv_header(&run->csv);
        break;
    case CLI_BATCH_JSONL:
        run->csv.status = FACESIM_OK;
        break;
    }
    return CLI_EXIT_OK;
}

/* ---- Running ---- */

static void cli_batch_log(void *user_data, int level, const char *message)
{
    const cli_batch_options *options = user_data;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    int shown = options->quiet ? FACESIM_LOG_ERROR : FACESIM_LOG_WARNING + options->verbose;
    if (level > shown)
        return;
    fprintf(stderr, "facesim %s: %s: %s\n", options->command,
            level >= 0 && level <= FACESIM_LOG_DEBUG ? names[level] : "log", message);
}

static void cli_batch_job_params(const cli_batch_options *options, const char *model_dir,
                                 fs_job_params *params)
{
    fs_job_default_params(params);
    params->context.model_dir = model_dir;
    if (options->det_size > 0)
        params->context.det_size = options->det_size;
    if (options->det_threshold >= 0.0f)
        params->context.det_threshold = options->det_threshold;
    if (options->max_pixels > 0)
        params->context.max_pixels = options->max_pixels;
    params->context.accept_damaged = options->accept_damaged;
    params->context.log = cli_batch_log;
    params->context.log_user_data = (void *)options;
    params->embed = options->embed;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    params->threads = options->threads;
    if (params->threads == 0)
        params->threads = cores > 0 ? (int)cores : 1;
    params->batch = options->batch;
    params->cache_path = options->cache;
    params->stop = &cli_batch_stop_requested;
}

static int cli_batch_model_dir(const cli_batch_options *options, char *buffer, size_t size)
{
    cli_options shim;
    memset(&shim, 0, sizeof shim);
    shim.command_name = options->command;
    shim.models = options->models;
    return cli_find_models(&shim, buffer, size);
}

static int cli_batch_exit_for_open(const cli_batch_options *options, int status,
                                   const char *message, const char *model_dir)
{
    if (options->cache && (status == FACESIM_ERR_IO || status == FACESIM_ERR_INVALID_DATA) &&
        strstr(message, options->cache)) {
        fprintf(stderr, "facesim %s: cannot use the cache: %s\n", options->command, message);
        return CLI_EXIT_BAD_INPUT;
    }
    fprintf(stderr, "facesim %s: cannot run on the model pack in '%s': %s\n", options->command,
            model_dir, message);
    if (status == FACESIM_ERR_NO_MEMORY || status == FACESIM_ERR_INTERNAL)
        return CLI_EXIT_INTERNAL;
    return CLI_EXIT_MODEL_PACK;
}

static void cli_batch_free_run(cli_batch_run *run)
{
    fs_job_free(&run->job);
    fs_table_free(&run->table);
    free(run->rows);
    free(run->image_a);
    free(run->image_b);
    free(run->image_paths);
    free(run->scores);
    free(run->labels);
}

static int cli_batch_write_plot(cli_batch_run *run)
{
    fs_error err;
    char title[256];
    snprintf(title, sizeof title, "facesim %s: cosine similarity", run->options->command);
    if (fs_svg_histogram_write(run->options->plot, run->scores,
                               run->list->has_labels ? run->labels : NULL, run->scored,
                               run->threshold, title, &err) != FACESIM_OK) {
        fprintf(stderr, "facesim %s: %s\n", run->options->command, err.message);
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

static int cli_batch_open_output(cli_batch_run *run)
{
    run->out = stdout;
    if (!run->options->output)
        return CLI_EXIT_OK;
    run->out = fopen(run->options->output, "w");
    if (!run->out) {
        fprintf(stderr, "facesim %s: cannot create output file '%s': %s. Check that the "
                        "directory exists and is writable.\n",
                run->options->command, run->options->output, strerror(errno));
        return CLI_EXIT_BAD_INPUT;
    }
    return CLI_EXIT_OK;
}

static int cli_batch_close_output(cli_batch_run *run, int exit_code)
{
    if (!run->out)
        return exit_code;
    bool failed = fflush(run->out) != 0 || ferror(run->out);
    if (run->out != stdout)
        failed = fclose(run->out) != 0 || failed;
    run->out = NULL;
    if (failed) {
        fprintf(stderr, "facesim %s: writing %s failed: %s. Check free disk space.\n",
                run->options->command, run->options->output ? run->options->output
                                                            : "standard output",
                strerror(errno));
        return CLI_EXIT_INTERNAL;
    }
    return exit_code;
}

/* Writes the remaining rows, the summary and the plot. Returns the exit code. */
static int cli_batch_report(cli_batch_run *run, fs_error *err)
{
    const cli_batch_options *options = run->options;

    if (!run->started && cli_batch_start(run) != CLI_EXIT_OK)
        return CLI_EXIT_INTERNAL;
    cli_batch_flush_rows(run);
    fs_job_summary summary;
    int status = fs_job_summarize(run->scores, run->list->has_labels ? run->labels : NULL,
                                  run->scored, run->no_face, run->errors, run->threshold,
                                  &summary, err);
    if (status != FACESIM_OK) {
        fprintf(stderr, "facesim %s: computing the summary failed: %s\n", options->command,
                err->message);
        return CLI_EXIT_INTERNAL;
    }
    int exit_code = cli_batch_finish_output(run, &summary);
    if (exit_code == CLI_EXIT_OK && options->plot)
        exit_code = cli_batch_write_plot(run);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    if (run->job.interrupted)
        return CLI_EXIT_INTERRUPTED;
    return run->scored == run->row_count ? CLI_EXIT_OK : CLI_EXIT_SOME_FAILED;
}

/* Runs the job and writes the report. Returns the exit code. */
static int cli_batch_execute(cli_batch_run *run)
{
    const cli_batch_options *options = run->options;
    fs_error err;
    fs_error_clear(&err);
    if (fs_job_init(&run->job, run->image_paths, run->image_count, &err) != FACESIM_OK)
        return cli_batch_no_memory(options);

    fs_job_params params;
    cli_batch_job_params(options, run->model_dir, &params);
    params.progress = cli_batch_on_progress;
    params.progress_user_data = run;
    fs_progress_init(&run->progress, stderr, !options->quiet && !options->no_progress,
                     options->command, "images", run->image_count);

    struct sigaction action, previous;
    memset(&action, 0, sizeof action);
    action.sa_handler = cli_batch_on_sigint;
    action.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the program at once */
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous);
    int exit_code;
    int status = fs_job_run(&run->job, &params, &err);
    fs_progress_finish(&run->progress);
    if (status == FACESIM_OK)
        exit_code = cli_batch_report(run, &err);
    else
        exit_code = cli_batch_exit_for_open(options, status, err.message, run->model_dir);
    /* The handler stays until the document is closed, so a late Ctrl-C cannot cut it. */
    sigaction(SIGINT, &previous, NULL);
    return exit_code;
}

int cli_batch_main(int argc, char **argv, const char *command)
{
    cli_batch_options options;
    int exit_code = cli_batch_parse(argc, argv, command, &options);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    if (options.help) {
        cli_batch_print_help(command);
        return CLI_EXIT_OK;
    }

    fs_pair_list list;
    cli_batch_run run;
    memset(&run, 0, sizeof run);
    run.options = &options;
    run.list = &list;
    run.threshold = options.threshold_set ? options.threshold : NAN;
    if (strcmp(command, "pairs") == 0) {
        fs_error err;
        int status = fs_pair_list_load(options.inputs[0], &list, &err);
        if (status != FACESIM_OK) {
            fprintf(stderr, "facesim pairs: %s\n", err.message);
            if (status == FACESIM_ERR_IO)
                fprintf(stderr, "  Check that the pair list exists and is readable.\n");
            return status == FACESIM_ERR_NO_MEMORY ? CLI_EXIT_INTERNAL : CLI_EXIT_BAD_INPUT;
        }
    } else {
        exit_code = cli_dirs_build_list(command, options.one_ref ? NULL : options.inputs[0],
                                        options.inputs[options.one_ref ? 0 : 1], options.one_ref,
                                        options.prefix_match, options.quiet, &list,
                                        &run.unmatched_ref, &run.unmatched_gen);
        if (exit_code != CLI_EXIT_OK)
            return exit_code;
    }

    exit_code = cli_batch_model_dir(&options, run.model_dir, sizeof run.model_dir);
    if (exit_code == CLI_EXIT_OK)
        exit_code = cli_batch_plan(&run);
    if (exit_code == CLI_EXIT_OK)
        exit_code = cli_batch_open_output(&run);
    if (exit_code == CLI_EXIT_OK)
        exit_code = cli_batch_execute(&run);
    exit_code = cli_batch_close_output(&run, exit_code);
    cli_batch_free_run(&run);
    fs_pair_list_free(&list);
    return exit_code;
}

int cli_pairs_main(int argc, char **argv)
{
    return cli_batch_main(argc, argv, "pairs");
}

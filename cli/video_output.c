/*
 * Output of `facesim video`: the text report, one JSON document, CSV rows, JSON
 * Lines and the SVG plot of cosine over time. Field names and column order are
 * parsed by tests and scripts: change them only together with docs/video.md.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/csv_writer.h"
#include "eval/json_writer.h"
#include "eval/svg_timeline.h"
#include "eval/table.h"
#include "video.h"

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

/* Formats a number with 4 decimals or, for NaN (no frame to average), "-". */
static const char *cli_video_format_number(double value, char buffer[32])
{
    if (isnan(value))
        return "-";
    snprintf(buffer, 32, "%.4f", value);
    return buffer;
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
        char mean[32], std[32], min[32], max[32];
        fprintf(out, "cosine to reference: mean %s, std %s (population), min %s, max %s\n",
                cli_video_format_number(summary->mean, mean),
                cli_video_format_number(summary->std, std),
                cli_video_format_number(summary->min, min),
                cli_video_format_number(summary->max, max));
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
        char mean[32], std[32];
        snprintf(subtitle, sizeof subtitle, "mean cosine %s, std %s, %zu of %zu frames "
                 "without a face%s", cli_video_format_number(summary->mean, mean),
                 cli_video_format_number(summary->std, std), summary->without_face,
                 summary->sampled, options->clamp_negative ? ", negatives clamped to 0" : "");
    } else {
        snprintf(title, sizeof title, "%s: similarity to the first frame with a face", video);
        char mean[32];
        snprintf(subtitle, sizeof subtitle, "mean %s, %zu of %zu frames without a face",
                 cli_video_format_number(summary->first_mean, mean), summary->without_face,
                 summary->sampled);
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

int cli_video_write_results(const cli_video_report *report, FILE *out)
{
    const cli_video_options *options = report->options;
    const fs_video_summary *summary = &report->summary;
    int exit_code = CLI_EXIT_OK;
    switch (options->common.report) {
    case CLI_REPORT_TEXT: exit_code = cli_video_write_text(report, out); break;
    case CLI_REPORT_JSON: exit_code = cli_video_write_json(report, out); break;
    case CLI_REPORT_JSONL: exit_code = cli_video_write_jsonl(report, out); break;
    case CLI_REPORT_CSV:
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

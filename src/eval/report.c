#include "eval/report.h"

#include <math.h>
#include <string.h>

#include "eval/csv_writer.h"
#include "eval/json_writer.h"
#include "facesim.h"

/* ---- Summary ---- */

int fs_job_summarize(const float *scores, const uint8_t *labels, size_t scored,
                     size_t no_face, size_t errors, double threshold, fs_job_summary *summary,
                     fs_error *err)
{
    memset(summary, 0, sizeof *summary);
    summary->rows = scored + no_face + errors;
    summary->scored = scored;
    summary->no_face = no_face;
    summary->errors = errors;
    summary->threshold = threshold;
    summary->labelled = labels != NULL;
    summary->auc = summary->accuracy = summary->best_threshold = summary->best_accuracy = NAN;
    summary->tar_far[0] = 1e-2;
    summary->tar_far[1] = 1e-3;
    int status = fs_stats_compute(scores, scored, &summary->cosine, err);
    if (status != FACESIM_OK)
        return status;
    for (size_t i = 0; i < scored; i++)
        summary->same_person += scores[i] >= threshold;
    if (!labels)
        return FACESIM_OK;

    for (size_t i = 0; i < scored; i++) {
        summary->positives += labels[i] != 0;
        summary->negatives += labels[i] == 0;
    }
    status = fs_roc_auc(scores, labels, scored, &summary->auc, err);
    if (status == FACESIM_OK)
        status = fs_accuracy_at(scores, labels, scored, threshold, &summary->accuracy, err);
    if (status == FACESIM_OK)
        status = fs_best_threshold(scores, labels, scored, &summary->best_threshold,
                                   &summary->best_accuracy, err);
    for (int k = 0; k < 2 && status == FACESIM_OK; k++) {
        /* A FAR of 1/m needs at least m negatives to be resolvable at all. */
        summary->tar_enough[k] = summary->positives > 0 &&
                                 (double)summary->negatives >= 1.0 / summary->tar_far[k] - 1e-9;
        if (summary->tar_enough[k])
            status = fs_tar_at_far_compute(scores, labels, scored, summary->tar_far[k],
                                           &summary->tar[k], err);
    }
    return status;
}

/* ---- Report writers ---- */

static void job_json_box(fs_json_writer *json, const char *key, bool has_box, const float *box)
{
    fs_json_key(json, key);
    if (!has_box) {
        fs_json_null(json);
        return;
    }
    fs_json_begin_one_line_array(json);
    for (int k = 0; k < 4; k++)
        fs_json_fixed(json, box[k], 2);
    fs_json_end_array(json);
}

void fs_job_json_row(fs_json_writer *json, const fs_job_row *row)
{
    fs_json_begin_object(json);
    fs_json_key_int(json, "index", (long long)row->index);
    fs_json_key_string(json, "path_a", row->path_a);
    fs_json_key_string(json, "path_b", row->path_b);
    fs_json_key(json, "cosine");
    if (row->status == FACESIM_OK)
        fs_json_float(json, row->cosine);
    else
        fs_json_null(json);
    fs_json_key(json, "same_person");
    if (row->status == FACESIM_OK)
        fs_json_bool(json, row->same_person);
    else
        fs_json_null(json);
    fs_json_key(json, "label");
    if (row->label < 0)
        fs_json_null(json);
    else
        fs_json_int(json, row->label);
    job_json_box(json, "box_a", row->has_box_a, row->box_a);
    job_json_box(json, "box_b", row->has_box_b, row->box_b);
    fs_json_key_string(json, "error", row->status == FACESIM_OK ? NULL : row->error);
    fs_json_key_string(json, "error_kind",
                       row->status == FACESIM_OK ? NULL : facesim_status_name(row->status));
    fs_json_end_object(json);
}

static void job_json_metric(fs_json_writer *json, const char *key, double value)
{
    fs_json_key_fixed(json, key, value, 6);
}

void fs_job_json_summary(fs_json_writer *json, const fs_job_summary *summary)
{
    static const char *const tar_keys[2] = {"tar_at_far_1e-2", "tar_at_far_1e-3"};
    fs_json_begin_object(json);
    fs_json_key_int(json, "rows", (long long)summary->rows);
    fs_json_key_int(json, "scored", (long long)summary->scored);
    fs_json_key_int(json, "no_face", (long long)summary->no_face);
    fs_json_key_int(json, "errors", (long long)summary->errors);
    job_json_metric(json, "mean", summary->cosine.mean);
    job_json_metric(json, "std", summary->cosine.std);
    job_json_metric(json, "median", summary->cosine.median);
    job_json_metric(json, "min", summary->cosine.min);
    job_json_metric(json, "max", summary->cosine.max);
    job_json_metric(json, "threshold", summary->threshold);
    fs_json_key_int(json, "same_person", (long long)summary->same_person);
    if (summary->labelled) {
        fs_json_key_int(json, "positives", (long long)summary->positives);
        fs_json_key_int(json, "negatives", (long long)summary->negatives);
        job_json_metric(json, "roc_auc", summary->auc);
        job_json_metric(json, "accuracy", summary->accuracy);
        job_json_metric(json, "best_threshold", summary->best_threshold);
        job_json_metric(json, "best_accuracy", summary->best_accuracy);
        for (int k = 0; k < 2; k++) {
            fs_json_key(json, tar_keys[k]);
            if (!summary->tar_enough[k]) {
                fs_json_string(json, "not enough pairs");
                continue;
            }
            fs_json_begin_object(json);
            job_json_metric(json, "tar", summary->tar[k].tar);
            job_json_metric(json, "far", summary->tar[k].far);
            job_json_metric(json, "threshold", summary->tar[k].threshold);
            fs_json_end_object(json);
        }
    }
    fs_json_end_object(json);
}

void fs_job_csv_header(fs_csv_writer *csv)
{
    static const char *const names[] = {
        "index", "path_a", "path_b", "cosine", "same_person", "label",
        "box_a_x1", "box_a_y1", "box_a_x2", "box_a_y2",
        "box_b_x1", "box_b_y1", "box_b_x2", "box_b_y2", "error_kind", "error"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        fs_csv_field(csv, names[i]);
    fs_csv_end_row(csv);
}

void fs_job_csv_row(fs_csv_writer *csv, const fs_job_row *row)
{
    bool ok = row->status == FACESIM_OK;
    fs_csv_int(csv, (long long)row->index);
    fs_csv_field(csv, row->path_a);
    fs_csv_field(csv, row->path_b);
    if (ok)
        fs_csv_float(csv, row->cosine);
    else
        fs_csv_field(csv, NULL);
    if (ok)
        fs_csv_field(csv, row->same_person ? "1" : "0");
    else
        fs_csv_field(csv, NULL);
    if (row->label < 0)
        fs_csv_field(csv, NULL);
    else
        fs_csv_int(csv, row->label);
    for (int k = 0; k < 4; k++)
        fs_csv_fixed(csv, row->has_box_a ? row->box_a[k] : NAN, 2);
    for (int k = 0; k < 4; k++)
        fs_csv_fixed(csv, row->has_box_b ? row->box_b[k] : NAN, 2);
    fs_csv_field(csv, ok ? NULL : facesim_status_name(row->status));
    fs_csv_field(csv, ok ? NULL : row->error);
    fs_csv_end_row(csv);
}

static void job_print_metric(FILE *out, const char *name, double value)
{
    if (isnan(value))
        fprintf(out, "  %-22s n/a\n", name);
    else
        fprintf(out, "  %-22s %.4f\n", name, value);
}

void fs_job_print_summary(FILE *out, const fs_job_summary *summary)
{
    fprintf(out, "Summary\n");
    fprintf(out, "  %-22s %zu (%zu scored, %zu without a face, %zu with errors)\n", "rows",
            summary->rows, summary->scored, summary->no_face, summary->errors);
    job_print_metric(out, "cosine mean", summary->cosine.mean);
    job_print_metric(out, "cosine std", summary->cosine.std);
    job_print_metric(out, "cosine median", summary->cosine.median);
    job_print_metric(out, "cosine min", summary->cosine.min);
    job_print_metric(out, "cosine max", summary->cosine.max);
    fprintf(out, "  %-22s %.4f (%zu of %zu scored rows at or above)\n", "threshold",
            summary->threshold, summary->same_person, summary->scored);
    if (!summary->labelled)
        return;
    fprintf(out, "  %-22s %zu same person, %zu different\n", "labels", summary->positives,
            summary->negatives);
    job_print_metric(out, "ROC AUC", summary->auc);
    job_print_metric(out, "accuracy at threshold", summary->accuracy);
    if (isnan(summary->best_threshold))
        fprintf(out, "  %-22s n/a\n", "best threshold");
    else
        fprintf(out, "  %-22s %.4f (accuracy %.4f)\n", "best threshold",
                summary->best_threshold, summary->best_accuracy);
    static const char *const names[2] = {"TAR at FAR 1e-2", "TAR at FAR 1e-3"};
    for (int k = 0; k < 2; k++) {
        if (!summary->tar_enough[k] && summary->positives == 0)
            fprintf(out, "  %-22s not enough pairs (no same-person pair)\n", names[k]);
        else if (!summary->tar_enough[k])
            fprintf(out, "  %-22s not enough pairs (%zu negative pair%s, %.0f needed)\n",
                    names[k], summary->negatives, summary->negatives == 1 ? "" : "s",
                    1.0 / summary->tar_far[k]);
        else
            fprintf(out, "  %-22s %.4f (threshold %.4f, FAR %.4f)\n", names[k],
                    summary->tar[k].tar, summary->tar[k].threshold, summary->tar[k].far);
    }
}

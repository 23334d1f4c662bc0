/*
 * facesim embed IMG... -o FILE: one L2-normalised embedding per image, as a .npy
 * matrix, CSV or JSON Lines. A failed image is reported on stderr and still gets a
 * row, marked as failed, so that row i always belongs to input i. The other images
 * are still processed.
 */
#include <math.h>
#include <string.h>

#include "common.h"
#include "eval/csv_writer.h"
#include "eval/npy_writer.h"

int cli_embed_main(int argc, char **argv);

static void cli_embed_help(FILE *out)
{
    fprintf(out,
            "Usage: facesim embed [options] IMG... [-o FILE]\n"
            "\n"
            "Writes the embedding of one face per image (the face --select picks), one row\n"
            "per input in input order:\n"
            "  csv    header file,status,faces,score,e0..e<D-1>; a failed image has its\n"
            "         status (such as \"no face\") and empty embedding cells\n"
            "  jsonl  one object per line: file, faces, padded, face (box, score,\n"
            "         landmarks) and embedding, or file and error\n"
            "  npy    float32 matrix of shape (inputs, D); a failed image's row is NaN\n"
            "D is the recogniser's embedding size (512 for ArcFace). Values have 9\n"
            "significant digits in text formats, enough to restore the float32 exactly.\n"
            "\n"
            "Options:\n");
    cli_print_options(out, CLI_EMBED);
    fprintf(out,
            "\n"
            "Exit codes: 0 every image embedded, 1 several images were given and some\n"
            "failed, 2 usage error, 3 no face (single image), 4 unreadable or invalid image\n"
            "(single image), 5 model pack error, 6 internal error or failed output write.\n");
}

/* The writer for the chosen format. */
typedef struct cli_embed_output {
    enum cli_format format;
    int dim;
    fs_csv_writer csv;
    fs_npy_writer npy;
    FILE *out;
} cli_embed_output;

static int cli_embed_begin(cli_embed_output *output, cli_session *session, int rows)
{
    output->format = session->options->format;
    output->dim = facesim_embedding_size(session->ctx);
    output->out = session->out;
    fs_error err;
    switch (output->format) {
    case CLI_FORMAT_NPY:
        if (fs_npy_begin(&output->npy, output->out, (size_t)rows, (size_t)output->dim, &err) !=
            FACESIM_OK) {
            fprintf(stderr, "facesim embed: %s: %s\n", session->options->output, err.message);
            return CLI_EXIT_INTERNAL;
        }
        break;
    case CLI_FORMAT_CSV: {
        fs_csv_init(&output->csv, output->out);
        fs_csv_field(&output->csv, "file");
        fs_csv_field(&output->csv, "status");
        fs_csv_field(&output->csv, "faces");
        fs_csv_field(&output->csv, "score");
        char name[16];
        for (int i = 0; i < output->dim; i++) {
            snprintf(name, sizeof name, "e%d", i);
            fs_csv_field(&output->csv, name);
        }
        fs_csv_end_row(&output->csv);
        break;
    }
    case CLI_FORMAT_JSONL:
        break;
    }
    return CLI_EXIT_OK;
}

/* Writes the row of one input; result is NULL when it failed with `status`. */
static int cli_embed_write_row(cli_embed_output *output, const cli_session *session,
                               const char *path, const facesim_face_embedding *result,
                               int status)
{
    fs_error err;
    switch (output->format) {
    case CLI_FORMAT_NPY: {
        float missing[FACESIM_MAX_EMBEDDING];
        for (int i = 0; i < output->dim; i++)
            missing[i] = NAN;
        if (fs_npy_write_row(&output->npy, result ? result->embedding : missing, &err) !=
            FACESIM_OK) {
            fprintf(stderr, "facesim embed: %s: %s\n", session->options->output, err.message);
            return CLI_EXIT_INTERNAL;
        }
        return CLI_EXIT_OK;
    }
    case CLI_FORMAT_CSV:
        fs_csv_field(&output->csv, path);
        fs_csv_field(&output->csv, result ? "ok" : facesim_status_name(status));
        if (result) {
            fs_csv_int(&output->csv, result->face_count);
            fs_csv_fixed(&output->csv, result->face.score, 5);
        } else {
            fs_csv_field(&output->csv, NULL);
            fs_csv_field(&output->csv, NULL);
        }
        for (int i = 0; i < output->dim; i++)
            fs_csv_float(&output->csv, result ? result->embedding[i] : NAN);
        fs_csv_end_row(&output->csv);
        return CLI_EXIT_OK;
    case CLI_FORMAT_JSONL: {
        fs_json_writer json;
        fs_json_init(&json, output->out, 0);
        fs_json_begin_object(&json);
        fs_json_key_string(&json, "file", path);
        if (result) {
            fs_json_key_int(&json, "faces", result->face_count);
            fs_json_key_bool(&json, "padded", result->padded);
            fs_json_key(&json, "face");
            if (session->options->embed.aligned_input)
                fs_json_null(&json);
            else
                cli_json_face(&json, &result->face);
            fs_json_key(&json, "embedding");
            fs_json_begin_array(&json);
            for (int i = 0; i < result->dim; i++)
                fs_json_float(&json, result->embedding[i]);
            fs_json_end_array(&json);
        } else {
            fs_json_key(&json, "error");
            fs_json_begin_object(&json);
            fs_json_key_string(&json, "status", facesim_status_name(status));
            char message[2048];
            fs_json_key_string(&json, "message",
                               cli_message_terms(facesim_errmsg(session->ctx), message,
                                                 sizeof message));
            fs_json_end_object(&json);
        }
        fs_json_end_object(&json);
        if (fs_json_finish(&json, &err) != FACESIM_OK) {
            fprintf(stderr, "facesim embed: %s\n", err.message);
            return CLI_EXIT_INTERNAL;
        }
        return CLI_EXIT_OK;
    }
    }
    return CLI_EXIT_OK;
}

static int cli_embed_finish(cli_embed_output *output, const cli_session *session)
{
    fs_error err;
    int status = FACESIM_OK;
    if (output->format == CLI_FORMAT_NPY)
        status = fs_npy_finish(&output->npy, &err);
    else if (output->format == CLI_FORMAT_CSV)
        status = fs_csv_finish(&output->csv, &err);
    if (status != FACESIM_OK) {
        const char *name = session->options->output ? session->options->output
                                                    : "standard output";
        fprintf(stderr, "facesim embed: %s: %s\n", name, err.message);
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

/* Loads and embeds one image, reporting a failure. */
static int cli_embed_one(cli_session *session, const char *path, facesim_face_embedding *result)
{
    facesim_image *image = NULL;
    int status = cli_load_image(session, path, &image);
    if (status != FACESIM_OK)
        return status;
    status = facesim_embed_image(session->ctx, image, &session->options->embed, result);
    if (status != FACESIM_OK)
        cli_report_input_error(session->options, path, status, facesim_errmsg(session->ctx));
    facesim_image_free(image);
    return status;
}

int cli_embed_main(int argc, char **argv)
{
    cli_options options;
    int exit_code = cli_parse_options(argc, argv, CLI_EMBED, &options);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    if (options.help) {
        cli_embed_help(stdout);
        return CLI_EXIT_OK;
    }

    cli_session session;
    exit_code = cli_session_open(&session, &options);
    if (exit_code != CLI_EXIT_OK)
        return cli_session_close(&session, exit_code);

    cli_embed_output output;
    exit_code = cli_embed_begin(&output, &session, options.input_count);
    int failures = 0;
    int last_failure_exit = CLI_EXIT_OK;
    facesim_face_embedding result;
    for (int i = 0; i < options.input_count && exit_code == CLI_EXIT_OK; i++) {
        int status = cli_embed_one(&session, options.inputs[i], &result);
        if (status != FACESIM_OK) {
            failures++;
            last_failure_exit = cli_exit_for_input_status(status);
        }
        exit_code = cli_embed_write_row(&output, &session, options.inputs[i],
                                        status == FACESIM_OK ? &result : NULL, status);
    }
    if (exit_code == CLI_EXIT_OK)
        exit_code = cli_embed_finish(&output, &session);
    if (exit_code == CLI_EXIT_OK && !options.quiet && options.output)
        fprintf(stderr, "facesim embed: wrote %d row%s (%d failed) to %s\n",
                options.input_count, options.input_count == 1 ? "" : "s", failures,
                options.output);
    if (exit_code == CLI_EXIT_OK)
        exit_code = cli_combine_exit(options.input_count, failures, last_failure_exit);
    return cli_session_close(&session, exit_code);
}

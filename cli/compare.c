/*
 * facesim compare A B: cosine similarity of the selected faces of two images, or with
 * --all-faces the matrix over every face of A and every face of B.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/checked.h"
#include "eval/table.h"

int cli_compare_main(int argc, char **argv);

static void cli_compare_help(FILE *out)
{
    fprintf(out,
            "Usage: facesim compare [options] A B\n"
            "\n"
            "Compares the faces in images A and B: prints the cosine similarity of their\n"
            "ArcFace embeddings (4 decimals), the same-person decision (cosine >= threshold)\n"
            "and each chosen face's box and detector score. Boxes are in source-image pixels\n"
            "as x1 y1 x2 y2.\n"
            "\n"
            "Options:\n");
    cli_print_options(out, CLI_COMPARE);
    fprintf(out,
            "\n"
            "Exit codes: 0 compared (whatever the decision), 2 usage error, 3 no face in A\n"
            "or B, 4 unreadable or invalid image, 5 model pack error, 6 internal error.\n");
}

/* One input of a single-face comparison. */
typedef struct cli_compare_side {
    const char *path;
    facesim_embed_options embed; /* the shared options, aligned_input set per input */
    const char *aligned_option;  /* "--aligned-a" or "--aligned-b" when that set it, or NULL */
    facesim_face_embedding result;
    double load_ms;
    double embed_ms;
    int image_warnings; /* facesim_image_warning bits, with --accept-damaged */
    int status;
} cli_compare_side;

static void cli_compare_embed_side(cli_session *session, cli_compare_side *side)
{
    const cli_options *options = session->options;
    facesim_image *image = NULL;
    cli_options side_options = *options;
    side_options.embed = side->embed;

    double start = cli_now_ms();
    side->status = cli_load_image(session, side->path, &image);
    side->load_ms = cli_now_ms() - start;
    if (side->status != FACESIM_OK)
        return;

    side->image_warnings = facesim_image_warnings(image);
    start = cli_now_ms();
    side->status = facesim_embed_image(session->ctx, image, &side->embed, &side->result);
    side->embed_ms = cli_now_ms() - start;
    if (side->status != FACESIM_OK) {
        char terms[2048], message[2200];
        const char *text = cli_message_terms(facesim_errmsg(session->ctx), terms, sizeof terms);
        /* The library names --aligned, but this input was marked by --aligned-a or -b. */
        const char *drop = strstr(text, "drop --aligned");
        if (drop && side->aligned_option) {
            snprintf(message, sizeof message, "%.*sdrop %s%s", (int)(drop - text), text,
                     side->aligned_option, drop + strlen("drop --aligned"));
            text = message;
        }
        cli_report_input_error(&side_options, side->path, side->status, text);
    }
    facesim_image_free(image);
}

static const char *cli_compare_select_name(const facesim_embed_options *embed, char *buffer,
                                           size_t size)
{
    switch (embed->select) {
    case FACESIM_SELECT_SCORE: return "the highest-scoring";
    case FACESIM_SELECT_CENTER: return "the most central";
    case FACESIM_SELECT_INDEX:
        snprintf(buffer, size, "face %d", embed->index);
        return buffer;
    default: return "the largest";
    }
}

static void cli_compare_print_side(const cli_session *session, const cli_compare_side *side)
{
    const facesim_face_embedding *result = &side->result;
    const facesim_face *face = &result->face;
    FILE *out = session->out;
    if (side->embed.aligned_input) {
        fprintf(out, "%s: aligned input, detection skipped\n", side->path);
        return;
    }
    char select[32];
    fprintf(out, "%s: %d face%s", side->path, result->face_count,
            result->face_count == 1 ? "" : "s");
    if (result->face_count > 1)
        fprintf(out, ", using %s",
                cli_compare_select_name(&session->options->embed, select, sizeof select));
    fprintf(out, ": box %.1f %.1f %.1f %.1f, score %.3f", face->box[0], face->box[1],
            face->box[2], face->box[3], face->score);
    if (result->padded)
        fprintf(out, ", found only after the padded retry");
    if (face->flags & FACESIM_FACE_LANDMARKS_OUTSIDE)
        fprintf(out, ", cut off by the image border");
    fputc('\n', out);
}

static int cli_compare_write_json(cli_session *session, const cli_compare_side sides[2],
                                  float cosine, float threshold, double total_ms)
{
    const cli_options *options = session->options;
    fs_json_writer json;
    fs_json_init(&json, session->out, 2);
    fs_json_begin_object(&json);
    fs_json_key(&json, "files");
    fs_json_begin_one_line_array(&json);
    fs_json_string(&json, sides[0].path);
    fs_json_string(&json, sides[1].path);
    fs_json_end_array(&json);
    fs_json_key_fixed(&json, "cosine", cosine, 4);
    fs_json_key_fixed(&json, "threshold", threshold, 4);
    fs_json_key_string(&json, "threshold_source", options->threshold_set ? "option" : "model pack");
    fs_json_key_bool(&json, "same_person", cosine >= threshold);
    fs_json_key_bool(&json, "aligned_input",
                     sides[0].embed.aligned_input && sides[1].embed.aligned_input);

    fs_json_key(&json, "faces");
    fs_json_begin_array(&json);
    for (int i = 0; i < 2; i++) {
        const facesim_face_embedding *result = &sides[i].result;
        fs_json_begin_object(&json);
        fs_json_key_string(&json, "file", sides[i].path);
        fs_json_key_bool(&json, "damaged", sides[i].image_warnings != 0);
        fs_json_key_bool(&json, "aligned_input", sides[i].embed.aligned_input);
        if (sides[i].embed.aligned_input) {
            fs_json_key(&json, "face");
            fs_json_null(&json);
        } else {
            fs_json_key_int(&json, "faces_found", result->face_count);
            fs_json_key_bool(&json, "padded", result->padded);
            fs_json_key(&json, "face");
            cli_json_face(&json, &result->face);
        }
        fs_json_end_object(&json);
    }
    fs_json_end_array(&json);

    cli_json_model_pack(&json, session);
    fs_json_key(&json, "timings_ms");
    fs_json_begin_object(&json);
    fs_json_key_fixed(&json, "open", session->open_ms, 1);
    fs_json_key_fixed(&json, "load_a", sides[0].load_ms, 1);
    fs_json_key_fixed(&json, "load_b", sides[1].load_ms, 1);
    fs_json_key_fixed(&json, "embed_a", sides[0].embed_ms, 1);
    fs_json_key_fixed(&json, "embed_b", sides[1].embed_ms, 1);
    fs_json_key_fixed(&json, "total", total_ms, 1);
    fs_json_end_object(&json);
    fs_json_end_object(&json);

    fs_error err;
    if (fs_json_finish(&json, &err) != FACESIM_OK) {
        fprintf(stderr, "facesim compare: %s\n", err.message);
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

static int cli_compare_one_face(cli_session *session, double start_ms)
{
    const cli_options *options = session->options;
    cli_compare_side sides[2] = { { .path = options->inputs[0] }, { .path = options->inputs[1] } };
    for (int i = 0; i < 2; i++) {
        sides[i].embed = options->embed;
        if (options->aligned_side[i] && !options->embed.aligned_input) {
            sides[i].embed.aligned_input = 1;
            sides[i].aligned_option = i == 0 ? "--aligned-a" : "--aligned-b";
        }
    }

    /* Both sides run even when the first fails, so every problem is reported at once. */
    cli_compare_embed_side(session, &sides[0]);
    cli_compare_embed_side(session, &sides[1]);
    for (int i = 0; i < 2; i++)
        if (sides[i].status != FACESIM_OK)
            return cli_exit_for_input_status(sides[i].status);

    float cosine = facesim_cosine(sides[0].result.embedding, sides[1].result.embedding,
                                  sides[0].result.dim);
    float threshold = options->threshold_set ? options->threshold
                                             : facesim_default_threshold(session->ctx);
    double total_ms = cli_now_ms() - start_ms;

    if (options->json)
        return cli_compare_write_json(session, sides, cosine, threshold, total_ms);
    if (options->quiet) {
        fprintf(session->out, "%.4f\n", cosine);
        return CLI_EXIT_OK;
    }
    cli_compare_print_side(session, &sides[0]);
    cli_compare_print_side(session, &sides[1]);
    fprintf(session->out, "cosine: %.4f\n", cosine);
    fprintf(session->out, "same person: %s (threshold %.4f%s)\n",
            cosine >= threshold ? "yes" : "no", threshold,
            options->threshold_set ? ", from --threshold" : " of the model pack");
    return CLI_EXIT_OK;
}

/* Every face of one image of an --all-faces comparison. */
typedef struct cli_compare_faces {
    const char *path;
    facesim_face *faces;
    int count;
    float *embeddings; /* count * dim */
    int status;
} cli_compare_faces;

static void cli_compare_embed_all(cli_session *session, cli_compare_faces *side, int dim)
{
    facesim_image *image = NULL;
    uint8_t *crops = NULL;
    side->status = cli_load_image(session, side->path, &image);
    if (side->status != FACESIM_OK)
        return;
    side->status = cli_detect_all(session, side->path, image, &side->faces, &side->count);
    if (side->status != FACESIM_OK)
        goto done;
    if (side->count == 0) {
        side->status = FACESIM_ERR_NO_FACE;
        cli_report_input_error(session->options, side->path, side->status, "no face found");
        goto done;
    }

    size_t crop_bytes = (size_t)FACESIM_ALIGNED_SIZE * FACESIM_ALIGNED_SIZE * 3;
    size_t crops_size, floats, embeddings_size;
    if (fs_mul_size((size_t)side->count, crop_bytes, &crops_size) &&
        fs_mul_size((size_t)side->count, (size_t)dim, &floats) &&
        fs_mul_size(floats, sizeof(float), &embeddings_size)) {
        crops = malloc(crops_size);
        side->embeddings = malloc(embeddings_size);
    }
    if (!crops || !side->embeddings) {
        side->status = FACESIM_ERR_NO_MEMORY;
        cli_report_input_error(session->options, side->path, side->status,
                               "out of memory for the aligned crops");
        goto done;
    }
    for (int k = 0; k < side->count && side->status == FACESIM_OK; k++)
        side->status = facesim_align(session->ctx, image, &side->faces[k], crops + k * crop_bytes);
    if (side->status == FACESIM_OK)
        side->status = facesim_embed_crops(session->ctx, crops, side->count, side->embeddings);
    if (side->status != FACESIM_OK)
        cli_report_input_error(session->options, side->path, side->status,
                               facesim_errmsg(session->ctx));
done:
    free(crops);
    facesim_image_free(image);
}

static void cli_compare_print_matrix(cli_session *session, const cli_compare_faces sides[2],
                                     const float *cosines, float threshold)
{
    FILE *out = session->out;
    for (int i = 0; i < 2; i++) {
        fprintf(out, "%s %s: %d face%s\n", i == 0 ? "A" : "B", sides[i].path, sides[i].count,
                sides[i].count == 1 ? "" : "s");
        for (int k = 0; k < sides[i].count; k++) {
            const facesim_face *face = &sides[i].faces[k];
            fprintf(out, "  %c%d  box %.1f %.1f %.1f %.1f, score %.3f\n", i == 0 ? 'A' : 'B', k,
                    face->box[0], face->box[1], face->box[2], face->box[3], face->score);
        }
    }

    /* Cells at or above the threshold are marked with '*' (same person). A sign on every
     * value keeps the left-aligned columns lined up on the decimal point. */
    fs_table table;
    int columns = sides[1].count + 1;
    if (columns > FS_TABLE_MAX_COLUMNS || fs_table_init(&table, columns, NULL) != FACESIM_OK) {
        fprintf(out, "(matrix too wide for a table: use --json)\n");
        return;
    }
    fs_table_add(&table, "cosine");
    for (int b = 0; b < sides[1].count; b++)
        fs_table_addf(&table, "B%d", b);
    for (int a = 0; a < sides[0].count; a++) {
        fs_table_addf(&table, "A%d", a);
        for (int b = 0; b < sides[1].count; b++) {
            float cosine = cosines[a * sides[1].count + b];
            fs_table_addf(&table, "%+.4f%s", cosine, cosine >= threshold ? "*" : "");
        }
    }
    fputc('\n', out);
    fs_table_print(&table, out, "", NULL);
    fs_table_free(&table);
    fprintf(out, "* same person (cosine >= %.4f)\n", threshold);
}

static int cli_compare_write_matrix_json(cli_session *session, const cli_compare_faces sides[2],
                                         const float *cosines, float threshold)
{
    fs_json_writer json;
    fs_json_init(&json, session->out, 2);
    fs_json_begin_object(&json);
    fs_json_key(&json, "files");
    fs_json_begin_one_line_array(&json);
    fs_json_string(&json, sides[0].path);
    fs_json_string(&json, sides[1].path);
    fs_json_end_array(&json);
    fs_json_key_fixed(&json, "threshold", threshold, 4);
    fs_json_key_string(&json, "threshold_source",
                       session->options->threshold_set ? "option" : "model pack");
    for (int i = 0; i < 2; i++) {
        fs_json_key(&json, i == 0 ? "faces_a" : "faces_b");
        fs_json_begin_array(&json);
        for (int k = 0; k < sides[i].count; k++)
            cli_json_face(&json, &sides[i].faces[k]);
        fs_json_end_array(&json);
    }
    /* cosine[a][b] compares face a of A with face b of B. */
    fs_json_key(&json, "cosine");
    fs_json_begin_array(&json);
    for (int a = 0; a < sides[0].count; a++) {
        fs_json_begin_one_line_array(&json);
        for (int b = 0; b < sides[1].count; b++)
            fs_json_fixed(&json, cosines[a * sides[1].count + b], 4);
        fs_json_end_array(&json);
    }
    fs_json_end_array(&json);
    fs_json_key(&json, "same_person");
    fs_json_begin_array(&json);
    for (int a = 0; a < sides[0].count; a++) {
        fs_json_begin_one_line_array(&json);
        for (int b = 0; b < sides[1].count; b++)
            fs_json_bool(&json, cosines[a * sides[1].count + b] >= threshold);
        fs_json_end_array(&json);
    }
    fs_json_end_array(&json);
    cli_json_model_pack(&json, session);
    fs_json_end_object(&json);

    fs_error err;
    if (fs_json_finish(&json, &err) != FACESIM_OK) {
        fprintf(stderr, "facesim compare: %s\n", err.message);
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

static int cli_compare_all_faces(cli_session *session)
{
    const cli_options *options = session->options;
    int dim = facesim_embedding_size(session->ctx);
    cli_compare_faces sides[2] = { { .path = options->inputs[0] }, { .path = options->inputs[1] } };
    float *cosines = NULL;
    int exit_code = CLI_EXIT_OK;

    cli_compare_embed_all(session, &sides[0], dim);
    cli_compare_embed_all(session, &sides[1], dim);
    for (int i = 0; i < 2 && exit_code == CLI_EXIT_OK; i++)
        if (sides[i].status != FACESIM_OK)
            exit_code = cli_exit_for_input_status(sides[i].status);
    if (exit_code != CLI_EXIT_OK)
        goto done;

    size_t cells, bytes;
    if (fs_mul_size((size_t)sides[0].count, (size_t)sides[1].count, &cells) &&
        fs_mul_size(cells, sizeof *cosines, &bytes))
        cosines = malloc(bytes);
    if (!cosines) {
        fprintf(stderr, "facesim compare: out of memory for the %dx%d cosine matrix\n",
                sides[0].count, sides[1].count);
        exit_code = CLI_EXIT_INTERNAL;
        goto done;
    }
    for (int a = 0; a < sides[0].count; a++)
        for (int b = 0; b < sides[1].count; b++)
            cosines[a * sides[1].count + b] =
                facesim_cosine(sides[0].embeddings + (size_t)a * dim,
                               sides[1].embeddings + (size_t)b * dim, dim);

    float threshold = options->threshold_set ? options->threshold
                                             : facesim_default_threshold(session->ctx);
    if (options->json)
        exit_code = cli_compare_write_matrix_json(session, sides, cosines, threshold);
    else
        cli_compare_print_matrix(session, sides, cosines, threshold);
done:
    free(cosines);
    for (int i = 0; i < 2; i++) {
        free(sides[i].faces);
        free(sides[i].embeddings);
    }
    return exit_code;
}

int cli_compare_main(int argc, char **argv)
{
    double start_ms = cli_now_ms();
    cli_options options;
    int exit_code = cli_parse_options(argc, argv, CLI_COMPARE, &options);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    if (options.help) {
        cli_compare_help(stdout);
        return CLI_EXIT_OK;
    }

    cli_session session;
    exit_code = cli_session_open(&session, &options);
    if (exit_code == CLI_EXIT_OK)
        exit_code = options.all_faces ? cli_compare_all_faces(&session)
                                      : cli_compare_one_face(&session, start_ms);
    return cli_session_close(&session, exit_code);
}

/*
 * facesim detect IMG...: every face's box, detector score and 5 landmarks, optionally
 * drawn onto a copy of the image (--draw) and saved as aligned crops (--save-crops).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "eval/table.h"
#include "image/image.h"

int cli_detect_main(int argc, char **argv);

static void cli_detect_help(FILE *out)
{
    fprintf(out,
            "Usage: facesim detect [options] IMG...\n"
            "\n"
            "Detects faces and prints, for each face in score order, its index k (from 0),\n"
            "detector score, box (x1 y1 x2 y2) and 5 landmarks (left eye, right eye, nose\n"
            "tip, left and right mouth corner, as seen in the image), all in source-image\n"
            "pixels.\n"
            "\n"
            "Options:\n");
    cli_print_options(out, CLI_DETECT);
    fprintf(out,
            "\n"
            "Exit codes: 0 a face was found in every image, 1 several images were given and\n"
            "some failed or had no face, 2 usage error, 3 no face (single image), 4\n"
            "unreadable or invalid image (single image), 5 model pack error, 6 internal\n"
            "error.\n");
}

/* Landmark colours in landmark order: left eye red, right eye blue, nose green, mouth
 * corners yellow and magenta. */
static const uint8_t cli_detect_landmark_colors[5][3] = {
    { 255, 0, 0 }, { 0, 0, 255 }, { 0, 255, 0 }, { 255, 255, 0 }, { 255, 0, 255 }
};

/* Prints a failed write of path; the message from the PNG writer may already start
 * with the path. */
static void cli_report_output_error(const char *path, const char *message, const char *hint)
{
    if (strncmp(message, path, strlen(path)) == 0)
        fprintf(stderr, "facesim detect: %s. %s\n", message, hint);
    else
        fprintf(stderr, "facesim detect: cannot write '%s': %s. %s\n", path, message, hint);
}

/* Writes a copy of the image with every face's box and landmarks drawn. */
static int cli_detect_draw(const cli_session *session, const char *path,
                           const facesim_image *image, const facesim_face *faces, int count,
                           const char *out_path)
{
    fs_image canvas = { 0 };
    fs_error err;
    int width = facesim_image_width(image);
    int height = facesim_image_height(image);
    int status = fs_image_alloc(&canvas, width, height, &err);
    if (status != FACESIM_OK) {
        cli_report_input_error(session->options, path, status, err.message);
        return status;
    }
    memcpy(canvas.pixels, facesim_image_pixels(image), (size_t)width * (size_t)height * 3);

    /* Lines scale with the image so they stay visible on large photos. */
    int shorter = width < height ? width : height;
    int line_width = shorter / 300 > 2 ? shorter / 300 : 2;
    float radius = 1.5f * (float)line_width;
    const uint8_t box_color[3] = { 0, 255, 0 };
    for (int k = 0; k < count; k++) {
        const facesim_face *face = &faces[k];
        fs_image_draw_rect(&canvas, face->box[0], face->box[1], face->box[2], face->box[3],
                           line_width, box_color);
        for (int i = 0; i < 5; i++)
            fs_image_draw_disc(&canvas, face->landmarks[2 * i], face->landmarks[2 * i + 1],
                               radius, cli_detect_landmark_colors[i]);
    }

    status = fs_image_write_png(out_path, &canvas, &err);
    if (status != FACESIM_OK)
        cli_report_output_error(out_path, err.message,
                                "Check that the directory exists and is writable.");
    fs_image_release(&canvas);
    return status;
}

/* Writes each face's aligned 112x112 crop as DIR/<stem>_face<k>.png. */
static int cli_detect_save_crops(cli_session *session, const char *path,
                                 const facesim_image *image, const facesim_face *faces, int count)
{
    const char *dir = session->options->save_crops;
    char stem[256];
    cli_file_stem(path, stem, sizeof stem);
    uint8_t crop[FACESIM_ALIGNED_SIZE * FACESIM_ALIGNED_SIZE * 3];
    fs_image crop_image = { .width = FACESIM_ALIGNED_SIZE, .height = FACESIM_ALIGNED_SIZE,
                            .pixels = crop };

    for (int k = 0; k < count; k++) {
        int status = facesim_align(session->ctx, image, &faces[k], crop);
        if (status != FACESIM_OK) {
            cli_report_input_error(session->options, path, status, facesim_errmsg(session->ctx));
            return status;
        }
        char crop_path[4096];
        snprintf(crop_path, sizeof crop_path, "%s/%s_face%d.png", dir, stem, k);
        fs_error err;
        status = fs_image_write_png(crop_path, &crop_image, &err);
        if (status != FACESIM_OK) {
            cli_report_output_error(crop_path, err.message,
                                    "Check that the directory is writable.");
            return status;
        }
    }
    return FACESIM_OK;
}

static void cli_detect_print(const cli_session *session, const char *path,
                             const facesim_image *image, const facesim_face *faces, int count)
{
    FILE *out = session->out;
    fprintf(out, "%s: %dx%d, %d face%s\n", path, facesim_image_width(image),
            facesim_image_height(image), count, count == 1 ? "" : "s");
    if (count == 0)
        return;

    static const char *const headers[] = { "k", "score", "x1", "y1", "x2", "y2", "left eye",
                                           "right eye", "nose", "mouth left", "mouth right" };
    fs_table table;
    if (fs_table_init(&table, 11, NULL) != FACESIM_OK)
        return;
    for (int column = 0; column < 11; column++) {
        fs_table_set_align(&table, column, FS_TABLE_RIGHT);
        fs_table_add(&table, headers[column]);
    }
    for (int k = 0; k < count; k++) {
        const facesim_face *face = &faces[k];
        fs_table_addf(&table, "%d", k);
        fs_table_addf(&table, "%.3f", face->score);
        for (int i = 0; i < 4; i++)
            fs_table_addf(&table, "%.1f", face->box[i]);
        for (int i = 0; i < 5; i++)
            fs_table_addf(&table, "%.1f,%.1f", face->landmarks[2 * i], face->landmarks[2 * i + 1]);
    }
    fs_table_print(&table, out, "  ", NULL);
    fs_table_free(&table);
}

/* Chooses the --draw output for one input: the path itself with a single input, else a
 * file in the directory it names. */
static void cli_detect_draw_path(const cli_options *options, const char *path, char *buffer,
                                 size_t size)
{
    struct stat info;
    if (stat(options->draw, &info) == 0 && S_ISDIR(info.st_mode)) {
        char stem[256];
        cli_file_stem(path, stem, sizeof stem);
        snprintf(buffer, size, "%s/%s_detect.png", options->draw, stem);
    } else {
        snprintf(buffer, size, "%s", options->draw);
    }
}

/* Detects, prints and writes the optional outputs for one image. Returns its status;
 * FACESIM_ERR_NO_FACE when nothing was found. */
static int cli_detect_one(cli_session *session, const char *path, fs_json_writer *json)
{
    const cli_options *options = session->options;
    facesim_image *image = NULL;
    facesim_face *faces = NULL;
    int count = 0;

    int status = cli_load_image(session, path, &image);
    if (status == FACESIM_OK)
        status = cli_detect_all(session, path, image, &faces, &count);

    if (json) {
        fs_json_begin_object(json);
        fs_json_key_string(json, "file", path);
        if (status == FACESIM_OK) {
            fs_json_key_int(json, "width", facesim_image_width(image));
            fs_json_key_int(json, "height", facesim_image_height(image));
            fs_json_key_bool(json, "damaged", facesim_image_warnings(image) != 0);
            fs_json_key(json, "faces");
            fs_json_begin_array(json);
            for (int k = 0; k < count; k++)
                cli_json_face(json, &faces[k]);
            fs_json_end_array(json);
        } else {
            fs_json_key(json, "error");
            fs_json_begin_object(json);
            fs_json_key_string(json, "status", facesim_status_name(status));
            char message[2048];
            fs_json_key_string(json, "message",
                               cli_message_terms(facesim_errmsg(session->ctx), message,
                                                 sizeof message));
            fs_json_end_object(json);
        }
        fs_json_end_object(json);
    } else if (status == FACESIM_OK) {
        cli_detect_print(session, path, image, faces, count);
    }

    if (status == FACESIM_OK && options->draw) {
        char draw_path[4096];
        cli_detect_draw_path(options, path, draw_path, sizeof draw_path);
        status = cli_detect_draw(session, path, image, faces, count, draw_path);
    }
    if (status == FACESIM_OK && options->save_crops)
        status = cli_detect_save_crops(session, path, image, faces, count);
    if (status == FACESIM_OK && count == 0) {
        status = FACESIM_ERR_NO_FACE;
        cli_report_input_error(options, path, status, "no face found");
    }
    free(faces);
    facesim_image_free(image);
    return status;
}

/* Checks the output locations before any work, so that a typo fails fast. */
static int cli_detect_check_outputs(const cli_options *options)
{
    struct stat info;
    if (options->draw && options->input_count > 1 &&
        !(stat(options->draw, &info) == 0 && S_ISDIR(info.st_mode))) {
        fprintf(stderr, "facesim detect: --draw '%s' must be an existing directory when several "
                        "images are given. Create it first, or pass one image.\n",
                options->draw);
        return CLI_EXIT_USAGE;
    }
    if (options->save_crops && mkdir(options->save_crops, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "facesim detect: cannot create the --save-crops directory '%s': %s. "
                        "Check that its parent exists and is writable.\n",
                options->save_crops, strerror(errno));
        return CLI_EXIT_BAD_INPUT;
    }
    if (options->save_crops &&
        !(stat(options->save_crops, &info) == 0 && S_ISDIR(info.st_mode))) {
        fprintf(stderr, "facesim detect: --save-crops '%s' exists but is not a directory. "
                        "Pass a directory.\n", options->save_crops);
        return CLI_EXIT_BAD_INPUT;
    }
    return CLI_EXIT_OK;
}

int cli_detect_main(int argc, char **argv)
{
    cli_options options;
    int exit_code = cli_parse_options(argc, argv, CLI_DETECT, &options);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    if (options.help) {
        cli_detect_help(stdout);
        return CLI_EXIT_OK;
    }
    exit_code = cli_detect_check_outputs(&options);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;

    cli_session session;
    exit_code = cli_session_open(&session, &options);
    if (exit_code != CLI_EXIT_OK)
        return cli_session_close(&session, exit_code);

    fs_json_writer json;
    if (options.json) {
        fs_json_init(&json, session.out, 2);
        fs_json_begin_object(&json);
        fs_json_key(&json, "images");
        fs_json_begin_array(&json);
    }

    int failures = 0;
    int last_failure_exit = CLI_EXIT_OK;
    for (int i = 0; i < options.input_count; i++) {
        int status = cli_detect_one(&session, options.inputs[i], options.json ? &json : NULL);
        if (status != FACESIM_OK) {
            failures++;
            last_failure_exit = cli_exit_for_input_status(status);
        }
    }
    exit_code = cli_combine_exit(options.input_count, failures, last_failure_exit);

    if (options.json) {
        fs_json_end_array(&json);
        cli_json_model_pack(&json, &session);
        fs_json_end_object(&json);
        fs_error err;
        if (fs_json_finish(&json, &err) != FACESIM_OK) {
            fprintf(stderr, "facesim detect: %s\n", err.message);
            exit_code = CLI_EXIT_INTERNAL;
        }
    }
    return cli_session_close(&session, exit_code);
}

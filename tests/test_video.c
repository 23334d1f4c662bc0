/*
 * Tests of video evaluation: the FFmpeg reader (rotation, timestamps, damage, errors),
 * frame sampling, the SVG timeline, the progress bar and `facesim video` end to end.
 *
 * Test videos are made at run time with the ffmpeg program from the photos in
 * $FACESIM_SHARED_DIR/faces; the rotation case comes from
 * $FACESIM_SHARED_DIR/cases/22_video_rotation_metadata. Decoded frames are compared
 * with what the ffmpeg program and cv2.VideoCapture decode, and with numpy.linspace,
 * through /usr/bin/python3 when it has numpy and cv2. The program exits 77 (skipped) when the shared
 * data or ffmpeg are missing, and runs only the model-free tests (then exits 77) when
 * the facesim program or the default model pack are missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <libavutil/display.h>

#include "eval/progress.h"
#include "eval/svg_timeline.h"
#include "support/cli_run.h"
#include "support/data_files.h"
#include "video/video.h"

static const char *test_cli_path;
static char test_faces[4096];    /* $FACESIM_SHARED_DIR/faces */
static char test_rotation[4096]; /* the rotation metadata case */
static char test_models[4096];   /* default pack */
static char test_work[2048];     /* generated videos and outputs */
static char test_ffmpeg[256];
static char test_ffprobe[256];

/* Generated in main: 2 s of a01.jpg then 2 s of b01.jpg at 10 fps, 640x640, H.264,
 * with the index at the front (+faststart) so a truncated copy still opens. */
static char test_ab_video[4200];
/* The same frames with variable frame durations: gaps after frames 9 and 24. */
static char test_vfr_video[4200];
#define TEST_AB_FRAMES 40
#define TEST_AB_SWITCH_S 2.0
#define TEST_AB_FRAME_S 0.1

/* ---- running programs ---- */

/* Runs `facesim video` with the default pack and the given arguments. */
static void test_run_cli(cli_run *run, const char *const *args)
{
    const char *argv[64];
    int argc = 0;
    argv[argc++] = "video";
    argv[argc++] = "--models";
    argv[argc++] = test_models;
    /* One inference thread: these runs are about results, and on a busy machine one
     * thread finishes sooner than several competing for the cores. */
    argv[argc++] = "--threads";
    argv[argc++] = "1";
    for (int i = 0; args[i] && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    cli_run_checked(run, test_work, test_cli_path, NULL, argv);
}

/* Runs ffmpeg quietly with the given arguments; true on success. */
static bool test_ffmpeg_run(const char *const *args)
{
    const char *argv[64] = { "-hide_banner", "-loglevel", "error", "-y" };
    int argc = 4;
    for (int i = 0; args[i] && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    cli_run run = { 0 };
    bool ok = cli_run_program(&run, test_work, test_ffmpeg, NULL, argv) && run.exit_code == 0;
    if (!ok && run.err)
        fprintf(stderr, "ffmpeg failed: %s\n", run.err);
    cli_run_free(&run);
    return ok;
}

/* ---- parsing the program's output ---- */

/* One row of `facesim video --csv` (columns as documented in docs/video.md). */
typedef struct test_row {
    long long frame;
    double time;
    bool face;
    double cosine;          /* NaN when empty */
    double previous_cosine;
    double first_cosine;
} test_row;

static double test_csv_number(const char *field)
{
    if (!*field || *field == ',' || *field == '\n')
        return NAN;
    return strtod(field, NULL);
}

/* Splits a CSV line without quoted fields into at most max_fields pointers. */
static int test_csv_fields(char *line, char **fields, int max_fields)
{
    int count = 0;
    fields[count++] = line;
    for (char *p = line; *p && count < max_fields; p++)
        if (*p == ',') {
            *p = '\0';
            fields[count++] = p + 1;
        }
    return count;
}

/* Parses the CSV rows; returns their number. Fails on a wrong header. */
static int test_parse_csv(char *text, test_row *rows, int max_rows)
{
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    assert_non_null(line);
    assert_string_equal(line, "frame,time_s,status,cosine,same_person,faces,score,x1,y1,x2,y2,"
                              "previous_cosine,first_cosine");
    int count = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        assert_true(count < max_rows);
        char *fields[16];
        int n = test_csv_fields(line, fields, 16);
        assert_int_equal(n, 13);
        test_row *row = &rows[count++];
        row->frame = strtoll(fields[0], NULL, 10);
        row->time = strtod(fields[1], NULL);
        row->face = strcmp(fields[2], "ok") == 0;
        if (!row->face)
            assert_string_equal(fields[2], "no face");
        row->cosine = test_csv_number(fields[3]);
        row->previous_cosine = test_csv_number(fields[11]);
        row->first_cosine = test_csv_number(fields[12]);
    }
    return count;
}

/* Returns the number after "key": in a one-line JSON object, NaN for null. Fails when
 * the key is missing. */
static double test_json_number(const char *line, const char *key)
{
    char pattern[96];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(line, pattern);
    if (!at)
        fail_msg("key %s missing in %s", key, line);
    at += strlen(pattern);
    while (*at == ' ')
        at++;
    if (strncmp(at, "null", 4) == 0)
        return NAN;
    return strtod(at, NULL);
}

/* Reads the same-person threshold from the summary text ("cosine >= T"). */
static double test_summary_threshold(const char *text)
{
    const char *at = strstr(text, "same person (cosine >= ");
    if (!at)
        fail_msg("no threshold in the summary:\n%s", text);
    return strtod(at + strlen("same person (cosine >= "), NULL);
}

/* ---- reader: rotation ---- */

/* Decodes every frame with the reader and compares it with the ffmpeg program's own
 * decode (which autorotates), byte by byte. */
static void test_compare_with_ffmpeg(const char *video, int width, int height)
{
    char raw_path[4200];
    snprintf(raw_path, sizeof raw_path, "%s/ffmpeg_frames.rgb", test_work);
    const char *args[] = { "-i", video, "-f", "rawvideo", "-pix_fmt", "rgb24", raw_path, NULL };
    assert_true(test_ffmpeg_run(args));
    size_t raw_size;
    uint8_t *raw = (uint8_t *)data_read_file(raw_path, &raw_size);
    assert_non_null(raw);

    fs_error err;
    fs_video_reader *reader;
    assert_int_equal(fs_video_open(video, 0, &reader, &err), FACESIM_OK);
    const fs_video_info *info = fs_video_get_info(reader);
    assert_int_equal(info->width, width);
    assert_int_equal(info->height, height);

    size_t frame_bytes = (size_t)width * height * 3;
    size_t frames = 0;
    int max_difference = 0;
    for (;;) {
        fs_video_frame frame;
        bool got;
        assert_int_equal(fs_video_read(reader, &frame, &got, &err), FACESIM_OK);
        if (!got)
            break;
        const fs_image *image;
        assert_int_equal(fs_video_get_pixels(reader, &image, &err), FACESIM_OK);
        assert_int_equal(image->width, width);
        assert_int_equal(image->height, height);
        assert_true((frames + 1) * frame_bytes <= raw_size);
        const uint8_t *expected = raw + frames * frame_bytes;
        for (size_t i = 0; i < frame_bytes; i++) {
            int difference = abs((int)image->pixels[i] - (int)expected[i]);
            if (difference > max_difference)
                max_difference = difference;
        }
        frames++;
    }
    assert_int_equal(frames * frame_bytes, raw_size);
    /* Same libswscale, same flags and the same rotation: the bytes should agree. One
     * level of slack covers a different SIMD path in the library build. */
    if (max_difference > 1)
        fail_msg("%s: frames differ from ffmpeg's by up to %d levels", video, max_difference);
    const fs_video_damage *damage = fs_video_get_damage(reader);
    assert_int_equal(damage->decode_errors + damage->read_error + damage->logged_errors, 0);
    fs_video_close(reader);
    free(raw);
}

static void reader_rotation_matches_ffmpeg(void **state)
{
    static const struct {
        const char *file;
        int width, height, rotation;
    } cases[] = {
        { "upright_portrait_reference.mp4", 360, 480, 0 },
        { "phone_portrait_coded_landscape_displaymatrix_minus90.mp4", 360, 480, 90 },
        { "coded_landscape_displaymatrix_plus90.mp4", 360, 480, 270 },
        { "coded_upside_down_displaymatrix_180.mp4", 360, 480, 180 },
        { "coded_sideways_no_rotation_metadata.mp4", 480, 360, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", test_rotation, cases[i].file);
        fs_error err;
        fs_video_reader *reader;
        assert_int_equal(fs_video_open(path, 0, &reader, &err), FACESIM_OK);
        assert_int_equal(fs_video_get_info(reader)->orientation.rotation, cases[i].rotation);
        assert_false(fs_video_get_info(reader)->orientation.mirrored);
        fs_video_close(reader);
        test_compare_with_ffmpeg(path, cases[i].width, cases[i].height);
    }
}

static void reader_rotation_from_metadata(void **state)
{
    fs_error err;
    fs_video_orientation orientation;
    int32_t matrix[9];

    /* The display matrices of the rotation case files (ffprobe -show_streams), with
     * the clockwise turn that the ffmpeg program applies to them. */
    static const struct {
        int32_t matrix[9];
        double ffprobe_rotation; /* av_display_rotation_get, as ffprobe prints it */
        int rotation;
    } cases[] = {
        { { 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30 }, -90, 90 },
        { { 0, -65536, 0, 65536, 0, 0, 0, 0, 1 << 30 }, 90, 270 },
        { { -65536, 0, 0, 0, -65536, 0, 0, 0, 1 << 30 }, 180, 180 },
        { { 65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30 }, 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_float_equal(fabs(av_display_rotation_get(cases[i].matrix)),
                           fabs(cases[i].ffprobe_rotation), 1e-9);
        assert_int_equal(fs_video_orientation_from_metadata(cases[i].matrix, NULL, &orientation,
                                                            &err),
                         FACESIM_OK);
        assert_int_equal(orientation.rotation, cases[i].rotation);
        assert_false(orientation.mirrored);
    }

    /* The legacy tag is a clockwise angle: rotate=90 equals the matrix ffprobe calls -90. */
    assert_int_equal(fs_video_orientation_from_metadata(NULL, "90", &orientation, &err),
                     FACESIM_OK);
    assert_int_equal(orientation.rotation, 90);
    assert_string_equal(orientation.source, "rotate tag");
    fs_video_orientation from_matrix;
    assert_int_equal(fs_video_orientation_from_metadata(cases[0].matrix, NULL, &from_matrix,
                                                        &err),
                     FACESIM_OK);
    assert_int_equal(from_matrix.transpose, orientation.transpose);
    assert_int_equal(from_matrix.flip_x, orientation.flip_x);
    assert_int_equal(from_matrix.flip_y, orientation.flip_y);

    /* A horizontally mirrored matrix is a mirror, not a plain turn. */
    memcpy(matrix, cases[0].matrix, sizeof matrix);
    av_display_matrix_flip(matrix, 1, 0);
    assert_int_equal(fs_video_orientation_from_metadata(matrix, NULL, &orientation, &err),
                     FACESIM_OK);
    assert_true(orientation.mirrored);

    av_display_rotation_set(matrix, 45);
    assert_int_equal(fs_video_orientation_from_metadata(matrix, NULL, &orientation, &err),
                     FACESIM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "multiples of 90"));
    assert_int_equal(fs_video_orientation_from_metadata(NULL, "sideways", &orientation, &err),
                     FACESIM_ERR_INVALID_DATA);
    assert_int_equal(fs_video_orientation_from_metadata(NULL, NULL, &orientation, &err),
                     FACESIM_OK);
    assert_int_equal(orientation.rotation, 0);
    assert_string_equal(orientation.source, "none");
}

/* Turning four times by 90 degrees, or twice by 180, gives the original image back;
 * one turn moves the top-left pixel to the top-right corner. */
static void reader_orient_properties(void **state)
{
    fs_error err;
    enum { W = 5, H = 3 };
    uint8_t source[W * H * 3];
    for (int i = 0; i < W * H * 3; i++)
        source[i] = (uint8_t)(i * 7 + 1);
    fs_video_orientation clockwise, half;
    assert_int_equal(fs_video_orientation_from_metadata(NULL, "90", &clockwise, &err),
                     FACESIM_OK);
    assert_int_equal(fs_video_orientation_from_metadata(NULL, "180", &half, &err), FACESIM_OK);

    fs_image images[5] = { { 0 } };
    const uint8_t *input = source;
    int width = W, height = H;
    for (int turn = 0; turn < 4; turn++) {
        assert_int_equal(fs_video_orient_image(input, width, height, (ptrdiff_t)width * 3,
                                               &clockwise, &images[turn], &err),
                         FACESIM_OK);
        assert_int_equal(images[turn].width, height);
        assert_int_equal(images[turn].height, width);
        input = images[turn].pixels;
        width = images[turn].width;
        height = images[turn].height;
    }
    assert_memory_equal(images[3].pixels, source, sizeof source);
    /* After one clockwise turn the source's top-left pixel is at the top right. */
    assert_memory_equal(images[0].pixels + (size_t)(H - 1) * 3, source, 3);

    assert_int_equal(fs_video_orient_image(source, W, H, W * 3, &half, &images[4], &err),
                     FACESIM_OK);
    /* 180 degrees: the last pixel comes first. */
    assert_memory_equal(images[4].pixels, source + (W * H - 1) * 3, 3);
    /* Padded rows: the stride is honoured. */
    uint8_t padded[H * (W * 3 + 4)];
    for (int y = 0; y < H; y++)
        memcpy(padded + y * (W * 3 + 4), source + y * W * 3, W * 3);
    fs_image turned = { 0 };
    assert_int_equal(fs_video_orient_image(padded, W, H, W * 3 + 4, &clockwise, &turned, &err),
                     FACESIM_OK);
    assert_memory_equal(turned.pixels, images[0].pixels, sizeof source);
    fs_image_release(&turned);
    for (int i = 0; i < 5; i++)
        fs_image_release(&images[i]);
}

/* The Python reference pipeline reads videos with OpenCV: the decoded frames should be
 * the frames cv2.VideoCapture returns (BGR there, RGB here). Skipped without
 * /usr/bin/python3 and its cv2 module. */
static void reader_matches_opencv(void **state)
{
    char raw_path[4200];
    snprintf(raw_path, sizeof raw_path, "%s/reader_frames.rgb", test_work);
    FILE *raw = fopen(raw_path, "wb");
    assert_non_null(raw);
    fs_error err;
    fs_video_reader *reader;
    assert_int_equal(fs_video_open(test_ab_video, 0, &reader, &err), FACESIM_OK);
    int frames = 0;
    for (;;) {
        fs_video_frame frame;
        bool got;
        assert_int_equal(fs_video_read(reader, &frame, &got, &err), FACESIM_OK);
        if (!got)
            break;
        const fs_image *image;
        assert_int_equal(fs_video_get_pixels(reader, &image, &err), FACESIM_OK);
        size_t bytes = (size_t)image->width * image->height * 3;
        assert_int_equal(fwrite(image->pixels, 1, bytes, raw), bytes);
        frames++;
    }
    fs_video_close(reader);
    assert_int_equal(fclose(raw), 0);

    const char *code =
        "import sys, numpy as np, cv2\n"
        "capture = cv2.VideoCapture(sys.argv[1])\n"
        "ours = np.fromfile(sys.argv[2], np.uint8)\n"
        "frames = []\n"
        "while True:\n"
        "    ok, frame = capture.read()\n"
        "    if not ok: break\n"
        "    frames.append(frame[:, :, ::-1])\n"
        "theirs = np.stack(frames).reshape(-1)\n"
        "print(len(frames), ours.size == theirs.size and "
        "int(np.abs(ours.astype(int) - theirs.astype(int)).max()))\n";
    const char *args[] = { "-c", code, test_ab_video, raw_path, NULL };
    cli_run run = { 0 };
    if (!data_is_file("/usr/bin/python3") ||
        !cli_run_program(&run, test_work, "/usr/bin/python3", NULL, args) || run.exit_code != 0) {
        fprintf(stderr, "note: /usr/bin/python3 with cv2 is missing; the OpenCV comparison was "
                        "skipped\n");
        cli_run_free(&run);
        return;
    }
    int opencv_frames = 0, max_difference = -1;
    char sizes_match[8] = "";
    if (sscanf(run.out, "%d %7s", &opencv_frames, sizes_match) == 2 &&
        strcmp(sizes_match, "False") != 0)
        max_difference = atoi(sizes_match);
    assert_int_equal(opencv_frames, frames);
    if (max_difference < 0 || max_difference > 1)
        fail_msg("frames differ from cv2.VideoCapture's: %s", run.out);
    cli_run_free(&run);
}

/* ---- reader: timestamps, damage and errors ---- */

/* Reads the frame timestamps ffprobe reports for a video. Returns their number. */
static int test_ffprobe_times(const char *video, double *times, int max_times)
{
    const char *args[] = { "-v", "error", "-select_streams", "v:0", "-show_entries",
                           "frame=best_effort_timestamp_time", "-of", "csv=p=0", video, NULL };
    cli_run run = { 0 };
    assert_true(cli_run_program(&run, test_work, test_ffprobe, NULL, args));
    assert_int_equal(run.exit_code, 0);
    int count = 0;
    char *save = NULL;
    for (char *line = strtok_r(run.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        assert_true(count < max_times);
        times[count++] = strtod(line, NULL);
    }
    cli_run_free(&run);
    return count;
}

/* Checks every frame's timestamp against ffprobe's best_effort_timestamp_time, and the
 * frame count the container declares (0 for none). */
static void test_check_timestamps(const char *video, int declared_frames)
{
    double expected[256];
    int count = test_ffprobe_times(video, expected, 256);
    assert_int_equal(count, TEST_AB_FRAMES);

    fs_error err;
    fs_video_reader *reader;
    assert_int_equal(fs_video_open(video, 0, &reader, &err), FACESIM_OK);
    assert_int_equal(fs_video_get_info(reader)->declared_frames, declared_frames);
    int frames = 0;
    for (;;) {
        fs_video_frame frame;
        bool got;
        assert_int_equal(fs_video_read(reader, &frame, &got, &err), FACESIM_OK);
        if (!got)
            break;
        assert_true(frames < count);
        assert_int_equal(frame.index, frames);
        /* ffprobe prints 6 decimals. */
        if (fabs(frame.timestamp - expected[frames]) > 1e-6)
            fail_msg("%s: frame %d at %.9f s, ffprobe says %.6f s", video, frames,
                     frame.timestamp, expected[frames]);
        frames++;
    }
    assert_int_equal(frames, count);
    assert_int_equal(fs_video_frames_read(reader), count);
    /* Converting pixels of a finished stream is an error, not a crash. */
    const fs_image *image;
    assert_int_equal(fs_video_get_pixels(reader, &image, &err), FACESIM_ERR_INVALID_ARGUMENT);
    fs_video_close(reader);
}

static void reader_timestamps_match_ffprobe(void **state)
{
    test_check_timestamps(test_ab_video, TEST_AB_FRAMES);
    /* Variable frame rate, in Matroska, which stores no frame count: gaps that a time
     * computed from the frame rate would miss. */
    test_check_timestamps(test_vfr_video, 0);
}

/* Copies the first `fraction` of a file. */
static void test_truncate_copy(const char *from, const char *to, double fraction)
{
    size_t size;
    char *data = data_read_file(from, &size);
    assert_non_null(data);
    FILE *out = fopen(to, "wb");
    assert_non_null(out);
    size_t keep = (size_t)((double)size * fraction);
    assert_int_equal(fwrite(data, 1, keep, out), keep);
    assert_int_equal(fclose(out), 0);
    free(data);
}

static void reader_truncated_reads_to_damage(void **state)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ab_truncated.mp4", test_work);
    test_truncate_copy(test_ab_video, path, 0.55);

    fs_error err;
    fs_video_reader *reader;
    assert_int_equal(fs_video_open(path, 0, &reader, &err), FACESIM_OK);
    int frames = 0;
    for (;;) {
        fs_video_frame frame;
        bool got;
        assert_int_equal(fs_video_read(reader, &frame, &got, &err), FACESIM_OK);
        if (!got)
            break;
        const fs_image *image;
        assert_int_equal(fs_video_get_pixels(reader, &image, &err), FACESIM_OK);
        frames++;
    }
    assert_true(frames > 0);
    assert_true(frames < TEST_AB_FRAMES);
    const fs_video_damage *damage = fs_video_get_damage(reader);
    assert_true(damage->decode_errors + damage->read_error + damage->logged_errors > 0);
    fs_video_close(reader);
}

static void test_expect_open_error(const char *path, int status, const char *words)
{
    fs_error err;
    fs_video_reader *reader = (fs_video_reader *)1;
    assert_int_equal(fs_video_open(path, 0, &reader, &err), status);
    assert_null(reader);
    if (strncmp(err.message, path, strlen(path)) != 0)
        fail_msg("the message does not start with the path: %s", err.message);
    if (!strstr(err.message, words))
        fail_msg("the message lacks '%s': %s", words, err.message);
}

static void reader_errors_name_file(void **state)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/missing.mp4", test_work);
    unlink(path);
    test_expect_open_error(path, FACESIM_ERR_IO, "not found");

    snprintf(path, sizeof path, "%s/empty.mp4", test_work);
    test_expect_open_error(path, FACESIM_ERR_INVALID_DATA, "empty");

    snprintf(path, sizeof path, "%s/audio_only.m4a", test_work);
    test_expect_open_error(path, FACESIM_ERR_INVALID_DATA, "contains no video stream");

    snprintf(path, sizeof path, "%s/text.avi", test_work);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs("this is not a video\n", file);
    fclose(file);
    test_expect_open_error(path, FACESIM_ERR_INVALID_DATA, "FFmpeg");

    test_expect_open_error(test_work, FACESIM_ERR_IO, "directory");

    /* A frame size over the pixel limit is rejected at open. */
    fs_error err;
    fs_video_reader *reader;
    assert_int_equal(fs_video_open(test_ab_video, 640 * 640 - 1, &reader, &err),
                     FACESIM_ERR_LIMIT);
    assert_null(reader);
    fs_video_close(NULL);
}

/* ---- sampling ---- */

/* Frame indices of numpy.linspace(0, total - 1, count).astype(int), from numpy itself.
 * Returns false when /usr/bin/python3 with numpy is not available. */
static bool test_numpy_linspace(long long total, long long count, long long *indices,
                                int *n)
{
    char code[256];
    snprintf(code, sizeof code,
             "import numpy as np\nfor v in np.linspace(0, %lld - 1, %lld).astype(int): "
             "print(int(v))", total, count);
    const char *args[] = { "-c", code, NULL };
    cli_run run = { 0 };
    if (!data_is_file("/usr/bin/python3") ||
        !cli_run_program(&run, test_work, "/usr/bin/python3", NULL, args) || run.exit_code != 0) {
        return false;
    }
    *n = 0;
    char *save = NULL;
    for (char *line = strtok_r(run.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        indices[(*n)++] = strtoll(line, NULL, 10);
    cli_run_free(&run);
    return true;
}

static void sampler_count_matches_numpy(void **state)
{
    static const long long cases[][2] = { { 40, 7 }, { 100, 16 }, { 1000, 999 }, { 7, 1 },
                                          { 7, 7 }, { 10, 25 }, { 241, 24 } };
    bool checked = false;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        long long total = cases[c][0], count = cases[c][1];
        long long expected[1024];
        int n;
        if (!test_numpy_linspace(total, count, expected, &n))
            break;
        checked = true;
        /* numpy may repeat an index when count > total; the sampler takes it once. */
        long long unique[1024];
        int unique_count = 0;
        for (int i = 0; i < n; i++)
            if (unique_count == 0 || unique[unique_count - 1] != expected[i])
                unique[unique_count++] = expected[i];

        fs_error err;
        fs_sampler sampler;
        assert_int_equal(fs_sampler_init(&sampler, FS_SAMPLE_COUNT, (double)count, total, &err),
                         FACESIM_OK);
        int taken = 0;
        for (long long frame = 0; frame < total; frame++)
            if (fs_sampler_take(&sampler, frame, (double)frame / 10.0)) {
                assert_true(taken < unique_count);
                if (frame != unique[taken])
                    fail_msg("linspace(0, %lld, %lld): sample %d is frame %lld, numpy says %lld",
                             total - 1, count, taken, frame, unique[taken]);
                taken++;
            }
        assert_int_equal(taken, unique_count);
        fs_sampler_release(&sampler);
    }
    if (!checked)
        fprintf(stderr, "note: /usr/bin/python3 with numpy is missing; the numpy comparison "
                        "was skipped\n");

    /* Invalid N. */
    fs_error err;
    fs_sampler sampler;
    assert_int_equal(fs_sampler_init(&sampler, FS_SAMPLE_COUNT, 0, 10, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    assert_int_equal(fs_sampler_init(&sampler, FS_SAMPLE_EVERY, 2.5, 10, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    assert_int_equal(fs_sampler_init(&sampler, FS_SAMPLE_RATE, -1, 10, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    assert_int_equal(fs_sampler_init(&sampler, FS_SAMPLE_RATE, NAN, 10, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
}

/* Checks the rate sampler against a direct reading of its rule: for each multiple k/R
 * of the period, the first frame at or after it, each frame once. */
static void test_check_rate(const double *times, int n, double rate)
{
    bool expected[512] = { false };
    for (long long k = 0; (double)k / rate <= times[n - 1] + FS_SAMPLE_TIME_EPSILON; k++) {
        for (int i = 0; i < n; i++)
            if (times[i] >= (double)k / rate - FS_SAMPLE_TIME_EPSILON) {
                expected[i] = true;
                break;
            }
    }
    fs_error err;
    fs_sampler sampler;
    assert_int_equal(fs_sampler_init(&sampler, FS_SAMPLE_RATE, rate, 0, &err), FACESIM_OK);
    for (int i = 0; i < n; i++) {
        bool taken = fs_sampler_take(&sampler, i, times[i]);
        if (taken != expected[i])
            fail_msg("rate %g: frame %d at %.4f s %s, expected %s", rate, i, times[i],
                     taken ? "taken" : "skipped", expected[i] ? "taken" : "skipped");
    }
    fs_sampler_release(&sampler);
}

static void sampler_rate_and_every(void **state)
{
    double times[512];
    /* 29.97 fps (30000/1001), 10 s. */
    for (int i = 0; i < 300; i++)
        times[i] = i * 1001.0 / 30000.0;
    test_check_rate(times, 300, 1.0);
    test_check_rate(times, 300, 2.5);
    test_check_rate(times, 300, 29.97);
    test_check_rate(times, 300, 60.0);   /* faster than the video: every frame once */
    /* Variable frame rate: gaps and bursts. */
    int n = 0;
    times[0] = 0.0;
    for (n = 1; times[n - 1] < 6.0 && n < 512; n++) {
        double step = 0.05;
        if (n % 7 == 0)
            step = 0.4;
        else if (n % 3 == 0)
            step = 0.01;
        times[n] = times[n - 1] + step;
    }
    test_check_rate(times, n, 3.0);
    test_check_rate(times, n, 0.5);

    fs_error err;
    fs_sampler sampler;
    assert_int_equal(fs_sampler_init(&sampler, FS_SAMPLE_EVERY, 4, 0, &err), FACESIM_OK);
    for (int i = 0; i < 20; i++)
        assert_int_equal(fs_sampler_take(&sampler, i, i * 0.1), i % 4 == 0);
    assert_int_equal(fs_sampler_init(&sampler, FS_SAMPLE_ALL, 0, 0, &err), FACESIM_OK);
    assert_true(fs_sampler_take(&sampler, 5, 0.5));
}

/* ---- SVG timeline and progress ---- */

static size_t test_count(const char *text, const char *needle)
{
    size_t count = 0;
    for (const char *at = strstr(text, needle); at; at = strstr(at + 1, needle))
        count++;
    return count;
}

static void svg_timeline_writes_marks(void **state)
{
    fs_timeline_point points[30];
    size_t no_face = 0;
    for (int i = 0; i < 30; i++) {
        points[i].time = 0.1 * (29 - i); /* out of order on purpose */
        points[i].has_value = i % 9 != 4;
        points[i].value = i < 15 ? 0.8 + 0.001 * i : -0.2;
        no_face += !points[i].has_value;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/timeline.svg", test_work);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    fs_timeline_params params = {
        .title = "a<b>&\"c\" \xff\xfe",
        .subtitle = "mean 0.5",
        .threshold = 0.3,
    };
    fs_error err;
    assert_int_equal(fs_svg_timeline_write(out, points, 30, &params, &err), FACESIM_OK);
    fclose(out);
    char *svg = data_read_file(path, NULL);
    assert_non_null(svg);
    assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\""));
    assert_int_equal(test_count(svg, "<circle"), 30 - no_face);
    assert_int_equal(test_count(svg, "stroke-dasharray"), 2); /* threshold line and legend */
    assert_non_null(strstr(svg, "a&lt;b&gt;&amp;&quot;c&quot; \xEF\xBF\xBD\xEF\xBF\xBD"));
    assert_non_null(strstr(svg, "time (s)"));
    assert_non_null(strstr(svg, "no face (3)"));
    /* The y axis reaches down to the lowest value, -0.2. */
    assert_non_null(strstr(svg, ">-0.2<"));

    /* Well-formed XML, checked by an XML parser when one is at hand. */
    const char *args[] = { "-c", "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])", path,
                           NULL };
    cli_run run = { 0 };
    if (data_is_file("/usr/bin/python3") &&
        cli_run_program(&run, test_work, "/usr/bin/python3", NULL, args)) {
        if (run.exit_code != 0)
            fail_msg("the SVG is not well-formed XML: %s", run.err);
        cli_run_free(&run);
    }
    free(svg);

    points[3].value = NAN;
    out = fopen(path, "w");
    assert_int_equal(fs_svg_timeline_write(out, points, 30, &params, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    fclose(out);
    assert_non_null(strstr(err.message, "point 3"));
}

static void progress_silent_without_terminal(void **state)
{
    FILE *file = tmpfile();
    assert_non_null(file);
    fs_progress progress;
    fs_progress_init(&progress, file, true, "clip.mp4", "frames", 10);
    assert_false(progress.enabled);
    for (uint64_t i = 1; i <= 10; i++)
        fs_progress_update(&progress, i);
    fs_progress_finish(&progress);
    assert_int_equal(ftell(file), 0);
    fclose(file);
}

/* ---- facesim video ---- */

static char *test_face(const char *name)
{
    static char paths[4][4200];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", test_faces, name);
    return path;
}

/* a02.jpg is a different photo of the person in a01.jpg. */
static void cli_switch_at_two_seconds(void **state)
{
    cli_run run = { 0 };
    const char *args[] = { "--csv", test_face("a02.jpg"), test_ab_video, NULL };
    test_run_cli(&run, args);
    cli_expect_exit(&run, 0);
    assert_null(strstr(run.err, "single frame"));
    double threshold = test_summary_threshold(run.err);
    test_row rows[64];
    int count = test_parse_csv(run.out, rows, 64);
    assert_int_equal(count, TEST_AB_FRAMES);
    int first_different = -1;
    for (int i = 0; i < count; i++) {
        assert_int_equal(rows[i].frame, i);
        assert_true(rows[i].face);
        bool same = rows[i].cosine >= threshold;
        if (!same && first_different < 0)
            first_different = i;
        if (first_different >= 0 && same)
            fail_msg("frame %d at %.3f s is the same person again (cosine %.4f)", i,
                     rows[i].time, rows[i].cosine);
    }
    assert_true(first_different > 0);
    double switch_time = rows[first_different].time;
    if (fabs(switch_time - TEST_AB_SWITCH_S) > TEST_AB_FRAME_S + 1e-6)
        fail_msg("the identity changes at %.3f s, expected %.1f s +- one frame", switch_time,
                 TEST_AB_SWITCH_S);
    cli_run_free(&run);
}

/* Three detector threads (frames detected in parallel, in batches that do not divide
 * the frame count evenly) must give exactly the rows of one thread. */
static void cli_parallel_detection_same_rows(void **state)
{
    cli_run serial = { 0 }, parallel = { 0 };
    const char *serial_args[] = { "--csv", test_face("a02.jpg"), test_ab_video, NULL };
    test_run_cli(&serial, serial_args);
    cli_expect_exit(&serial, 0);
    const char *parallel_args[] = { "--threads", "3", "--csv", test_face("a02.jpg"),
                                    test_ab_video, NULL };
    test_run_cli(&parallel, parallel_args);
    cli_expect_exit(&parallel, 0);
    assert_string_equal(parallel.out, serial.out);
    /* test_parse_csv splits the text in place, so it comes after the comparison. */
    test_row rows[64];
    assert_int_equal(test_parse_csv(parallel.out, rows, 64), TEST_AB_FRAMES);
    cli_run_free(&serial);
    cli_run_free(&parallel);
}

/* Recomputes the summary from the rows of --jsonl and compares. */
static void cli_summary_matches_rows(void **state)
{
    cli_run run = { 0 };
    const char *args[] = { "--jsonl", "--every", "3", test_face("a02.jpg"), test_ab_video,
                           NULL };
    test_run_cli(&run, args);
    cli_expect_exit(&run, 0);

    double sum = 0, min = INFINITY, max = -INFINITY, consecutive_sum = 0,
           consecutive_min = INFINITY, first_sum = 0;
    double cosines[64], first_embedding_cosine = NAN;
    int count = 0, rows = 0, pairs = 0, first_count = 0;
    long long previous_frame = -1;
    bool previous_face = false;
    char *save = NULL;
    const char *summary = NULL;
    for (char *line = strtok_r(run.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "{\"summary\"", 10) == 0) {
            summary = line;
            continue;
        }
        long long frame = (long long)test_json_number(line, "frame");
        assert_int_equal(frame % 3, 0);
        assert_true(frame > previous_frame);
        double cosine = test_json_number(line, "cosine");
        double previous = test_json_number(line, "previous_cosine");
        double first = test_json_number(line, "first_cosine");
        bool face = test_json_number(line, "faces") > 0;
        rows++;
        if (face) {
            cosines[count++] = cosine;
            sum += cosine;
            min = fmin(min, cosine);
            max = fmax(max, cosine);
        }
        /* A consecutive pair needs a face in this and the previous sampled frame. */
        assert_int_equal(!isnan(previous), face && previous_face);
        if (!isnan(previous)) {
            pairs++;
            consecutive_sum += previous;
            consecutive_min = fmin(consecutive_min, previous);
        }
        if (!isnan(first)) {
            first_count++;
            first_sum += first;
        } else if (face) {
            assert_true(isnan(first_embedding_cosine)); /* only the first face has none */
            first_embedding_cosine = 1.0;
        }
        previous_face = face;
        previous_frame = frame;
    }
    assert_non_null(summary);
    assert_int_equal(rows, 14);
    double mean = sum / count, variance = 0;
    for (int i = 0; i < count; i++)
        variance += (cosines[i] - mean) * (cosines[i] - mean);
    double std = sqrt(variance / count);

    /* Rows have 6 decimals, so recomputed statistics agree to about 1e-6. */
    const double tolerance = 2e-6;
    assert_int_equal((int)test_json_number(summary, "frames_sampled"), rows);
    assert_int_equal((int)test_json_number(summary, "frames_without_face"), rows - count);
    assert_float_equal(test_json_number(summary, "mean"), mean, tolerance);
    assert_float_equal(test_json_number(summary, "std"), std, tolerance);
    assert_float_equal(test_json_number(summary, "min"), min, tolerance);
    assert_float_equal(test_json_number(summary, "max"), max, tolerance);
    assert_float_equal(test_json_number(summary, "consistency"), 1.0 - std, tolerance);
    assert_int_equal((int)test_json_number(summary, "consecutive_pairs"), pairs);
    assert_float_equal(test_json_number(summary, "consecutive_mean"), consecutive_sum / pairs,
                       tolerance);
    assert_float_equal(test_json_number(summary, "consecutive_min"), consecutive_min, tolerance);
    assert_int_equal((int)test_json_number(summary, "first_frame_pairs"), first_count);
    assert_float_equal(test_json_number(summary, "first_frame_mean"), first_sum / first_count,
                       tolerance);
    /* The identity switch shows in the consecutive minimum. */
    assert_true(consecutive_min < 0.5);
    cli_run_free(&run);
}

/* Runs --fps and checks the rows against the rule: for each multiple of 1/rate, the
 * first frame at or after it by ffprobe's timestamps, each frame once. */
static void test_check_fps(const char *video, double rate, const char *rate_text)
{
    double times[64];
    int frames = test_ffprobe_times(video, times, 64);
    cli_run run = { 0 };
    const char *args[] = { "--csv", "--fps", rate_text, test_face("a02.jpg"), video, NULL };
    test_run_cli(&run, args);
    cli_expect_exit(&run, 0);
    test_row rows[64];
    int count = test_parse_csv(run.out, rows, 64);
    int expected_count = 0;
    for (int k = 0; (double)k / rate <= times[frames - 1] + FS_SAMPLE_TIME_EPSILON; k++) {
        int first = -1;
        for (int i = 0; i < frames && first < 0; i++)
            if (times[i] >= (double)k / rate - FS_SAMPLE_TIME_EPSILON)
                first = i;
        if (expected_count > 0 && rows[expected_count - 1].frame == first)
            continue;
        assert_true(expected_count < count);
        if (rows[expected_count].frame != first)
            fail_msg("%s --fps %s: sample %d is frame %lld, expected frame %d (first at or "
                     "after %.3f s)", video, rate_text, expected_count,
                     rows[expected_count].frame, first, (double)k / rate);
        assert_float_equal(rows[expected_count].time, times[first], 1e-6);
        expected_count++;
    }
    assert_int_equal(count, expected_count);
    cli_run_free(&run);
}

static void cli_sampling_options(void **state)
{
    /* --frames N: the numpy.linspace frames. */
    cli_run run = { 0 };
    const char *frames_args[] = { "--csv", "--frames", "7", test_face("a02.jpg"), test_ab_video,
                                  NULL };
    test_run_cli(&run, frames_args);
    cli_expect_exit(&run, 0);
    test_row rows[64];
    int count = test_parse_csv(run.out, rows, 64);
    assert_int_equal(count, 7);
    long long expected[64];
    int n;
    if (test_numpy_linspace(TEST_AB_FRAMES, 7, expected, &n)) {
        assert_int_equal(n, 7);
        for (int i = 0; i < 7; i++)
            assert_int_equal(rows[i].frame, expected[i]);
    }
    assert_int_equal(rows[0].frame, 0);
    assert_int_equal(rows[6].frame, TEST_AB_FRAMES - 1);
    cli_run_free(&run);

    /* --every N. */
    const char *every_args[] = { "--csv", "--every", "7", test_face("a02.jpg"), test_ab_video,
                                 NULL };
    test_run_cli(&run, every_args);
    cli_expect_exit(&run, 0);
    count = test_parse_csv(run.out, rows, 64);
    assert_int_equal(count, (TEST_AB_FRAMES + 6) / 7);
    for (int i = 0; i < count; i++)
        assert_int_equal(rows[i].frame, 7 * i);
    cli_run_free(&run);

    test_check_fps(test_ab_video, 3.0, "3");
    test_check_fps(test_vfr_video, 2.0, "2");

    /* --frames on Matroska, which stores no frame count: the frames are counted. */
    const char *count_args[] = { "--csv", "--frames", "5", test_face("a02.jpg"), test_vfr_video,
                                 NULL };
    test_run_cli(&run, count_args);
    cli_expect_exit(&run, 0);
    count = test_parse_csv(run.out, rows, 64);
    assert_int_equal(count, 5);
    assert_int_equal(rows[0].frame, 0);
    assert_int_equal(rows[4].frame, TEST_AB_FRAMES - 1);
    if (test_numpy_linspace(TEST_AB_FRAMES, 5, expected, &n))
        for (int i = 0; i < 5; i++)
            assert_int_equal(rows[i].frame, expected[i]);
    cli_run_free(&run);
}

/* Runs the rotation case as its expected.csv lists it. */
static void cli_rotation_case(void **state)
{
    char expected_path[4400];
    snprintf(expected_path, sizeof expected_path, "%s/expected.csv", test_rotation);
    char *expected = data_read_file(expected_path, NULL);
    assert_non_null(expected);
    char *save = NULL;
    int checked = 0;
    strtok_r(expected, "\n", &save); /* header */
    for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *fields[8];
        int n = test_csv_fields(line, fields, 8);
        assert_true(n >= 4);
        char reference[4400], video[4400];
        snprintf(reference, sizeof reference, "%s/%s", test_rotation, fields[0]);
        snprintf(video, sizeof video, "%s/%s", test_rotation, fields[1]);
        cli_run run = { 0 };
        if (strcmp(fields[2], "all_frames_sim_at_least") == 0) {
            double minimum = strtod(fields[3], NULL);
            const char *args[] = { "--csv", reference, video, NULL };
            test_run_cli(&run, args);
            cli_expect_exit(&run, 0);
            test_row rows[64];
            int count = test_parse_csv(run.out, rows, 64);
            assert_int_equal(count, 20);
            for (int i = 0; i < count; i++)
                if (!rows[i].face || !(rows[i].cosine >= minimum))
                    fail_msg("%s: frame %lld: %s cosine %.4f, expected at least %.2f", fields[1],
                             rows[i].frame, rows[i].face ? "" : "no face,", rows[i].cosine,
                             minimum);
        } else if (strcmp(fields[2], "no_rotation_applied") == 0) {
            const char *args[] = { "--jsonl", "--every", "5", reference, video, NULL };
            test_run_cli(&run, args);
            /* Sideways faces may or may not be detected; both are allowed here. */
            assert_true(run.exit_code == 0 || run.exit_code == 3);
            cli_run_free(&run);
            const char *json_args[] = { "--json", "--every", "5", reference, video, NULL };
            test_run_cli(&run, json_args);
            assert_true(run.exit_code == 0 || run.exit_code == 3);
            assert_non_null(strstr(run.out, "\"rotation\": 0"));
            assert_non_null(strstr(run.out, "\"rotation_source\": \"none\""));
            assert_non_null(strstr(run.out, "\"width\": 480"));
            assert_non_null(strstr(run.out, "\"height\": 360"));
        } else {
            fail_msg("unknown expectation '%s' in %s", fields[2], expected_path);
        }
        cli_run_free(&run);
        checked++;
    }
    assert_int_equal(checked, 5);
    free(expected);
}

static void cli_truncated_video_warns(void **state)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ab_truncated_cli.mp4", test_work);
    test_truncate_copy(test_ab_video, path, 0.55);
    cli_run run = { 0 };
    const char *args[] = { "--csv", test_face("a02.jpg"), path, NULL };
    test_run_cli(&run, args);
    cli_expect_exit(&run, 0);
    test_row rows[64];
    int count = test_parse_csv(run.out, rows, 64);
    assert_true(count > 0);
    assert_true(count < TEST_AB_FRAMES);
    for (int i = 0; i < count; i++)
        assert_int_equal(rows[i].frame, i);
    if (!strstr(run.err, "warning") || !strstr(run.err, "damaged"))
        fail_msg("no damage warning on stderr:\n%s", run.err);
    assert_non_null(strstr(run.err, path));
    cli_run_free(&run);
}

static void cli_bad_inputs_exit_codes(void **state)
{
    char audio[4200], empty[4200], missing[4200];
    snprintf(audio, sizeof audio, "%s/audio_only.m4a", test_work);
    snprintf(empty, sizeof empty, "%s/empty.mp4", test_work);
    snprintf(missing, sizeof missing, "%s/missing.mp4", test_work);
    const char *videos[] = { audio, empty, missing };
    const char *words[] = { "contains no video stream", "empty", "not found" };
    for (int i = 0; i < 3; i++) {
        cli_run run = { 0 };
        const char *cli_args[] = { test_face("a02.jpg"), videos[i], NULL };
        test_run_cli(&run, cli_args);
        cli_expect_exit(&run, 4);
        if (!strstr(run.err, words[i]) || !strstr(run.err, videos[i]))
            fail_msg("stderr lacks the path or '%s':\n%s", words[i], run.err);
        if (strstr(run.err, "not an image") || strstr(run.err, "re-export"))
            fail_msg("a video error got the hint for images:\n%s", run.err);
        assert_string_equal(run.out, "");
        cli_run_free(&run);
    }

    /* The video given first: the reference fails to decode and the error suggests swapping. */
    {
        cli_run run = { 0 };
        const char *swapped[] = { test_ab_video, test_face("a02.jpg"), NULL };
        test_run_cli(&run, swapped);
        cli_expect_exit(&run, 4);
        if (!strstr(run.err, test_ab_video) || !strstr(run.err, "swap the arguments"))
            fail_msg("stderr lacks the video path or the hint to swap:\n%s", run.err);
        cli_run_free(&run);
    }

    /* Usage errors. */
    static const char *const usage[][5] = {
        { "--every", "0", "a.jpg", "b.mp4", NULL },
        { "--every", "2", "--fps", "3", NULL },
        { "--frames", "1.5", "a.jpg", "b.mp4", NULL },
        { "--ref-mode", "median", "a.jpg", "b.mp4", NULL },
        { "--json", "--csv", "a.jpg", "b.mp4", NULL },
        { "b.mp4", NULL },
        { "--no-ref", "a.jpg", "b.mp4", NULL },
        { "--bogus", "a.jpg", "b.mp4", NULL },
        { "--select", "score", "a.jpg", "b.mp4", NULL },
        { "--json", "--jsonl", "a.jpg", "b.mp4", NULL },
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        cli_run run = { 0 };
        test_run_cli(&run, (const char *const *)usage[i]);
        cli_expect_exit(&run, 2);
        assert_non_null(strstr(run.err, "--help"));
        cli_run_free(&run);
    }
}

/* A file from which no frame decodes is an error with a hint about videos, not a
 * zero-frame report. */
static void cli_undecodable_video_exit_4(void **state)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/text_named.jpg", test_work);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs("This is a text file, not a video or an image.\n", file);
    assert_int_equal(fclose(file), 0);

    cli_run run = { 0 };
    const char *args[] = { test_face("a02.jpg"), path, NULL };
    test_run_cli(&run, args);
    cli_expect_exit(&run, 4);
    if (!strstr(run.err, path) || !strstr(run.err, "no video frame could be decoded"))
        fail_msg("stderr lacks the path or the reason:\n%s", run.err);
    assert_non_null(strstr(run.err, "ffprobe"));
    assert_null(strstr(run.err, "not an image"));
    assert_string_equal(run.out, "");
    cli_run_free(&run);
}

/* A video without any face: the summary shows "-" where there is no value, in every
 * text output, and never "nan". */
static void cli_no_face_summary_dashes(void **state)
{
    char video[4200], plot[4200];
    snprintf(video, sizeof video, "%s/grey_no_face.mp4", test_work);
    snprintf(plot, sizeof plot, "%s/grey_no_face.svg", test_work);
    const char *make[] = { "-f", "lavfi", "-i", "color=c=gray:s=320x240:r=5:d=1", "-c:v",
                           "mpeg4", video, NULL };
    assert_true(test_ffmpeg_run(make));

    static const char *const formats[] = { NULL, "--csv" };
    for (int f = 0; f < 2; f++) {
        cli_run run = { 0 };
        const char *args[] = { "--plot", plot, test_face("a02.jpg"), video, formats[f], NULL };
        test_run_cli(&run, args);
        cli_expect_exit(&run, 3);
        const char *summary = f == 0 ? run.out : run.err;
        if (!strstr(summary, "mean -, std - (population), min -, max -"))
            fail_msg("the summary should show '-' for the cosine statistics:\n%s", summary);
        if (strstr(run.out, "nan") || strstr(run.err, "nan"))
            fail_msg("'nan' in the output:\n%s\n%s", run.out, run.err);
        cli_run_free(&run);

        size_t size = 0;
        char *svg = data_read_file(plot, &size);
        assert_non_null(svg);
        if (strstr(svg, "nan"))
            fail_msg("'nan' in the plot subtitle");
        free(svg);
    }
}

/* A still image given as the video runs as one frame, with a warning. */
static void cli_still_image_warns(void **state)
{
    cli_run run = { 0 };
    const char *args[] = { test_face("a01.jpg"), test_face("a02.jpg"), NULL };
    test_run_cli(&run, args);
    cli_expect_exit(&run, 0);
    if (!strstr(run.err, "warning") || !strstr(run.err, "single frame") ||
        !strstr(run.err, "still image"))
        fail_msg("no single-frame warning on stderr:\n%s", run.err);
    assert_non_null(strstr(run.err, "a02.jpg"));
    cli_run_free(&run);
}

static void cli_plot_clamp_and_reference_modes(void **state)
{
    char plot[4200];
    snprintf(plot, sizeof plot, "%s/timeline_cli.svg", test_work);
    unlink(plot);

    /* b01.jpg is the second person: the first half of the video scores negative. */
    cli_run signed_run = { 0 }, clamped_run = { 0 };
    const char *signed_args[] = { "--csv", "--every", "4", test_face("b01.jpg"), test_ab_video,
                                  NULL };
    test_run_cli(&signed_run, signed_args);
    cli_expect_exit(&signed_run, 0);
    const char *clamped_args[] = { "--csv", "--every", "4", "--clamp-negative", "--plot", plot,
                                   test_face("b01.jpg"), test_ab_video, NULL };
    test_run_cli(&clamped_run, clamped_args);
    cli_expect_exit(&clamped_run, 0);
    assert_non_null(strstr(clamped_run.err, "clamped to 0"));
    test_row signed_rows[64], clamped_rows[64];
    int count = test_parse_csv(signed_run.out, signed_rows, 64);
    assert_int_equal(test_parse_csv(clamped_run.out, clamped_rows, 64), count);
    int negatives = 0;
    for (int i = 0; i < count; i++) {
        negatives += signed_rows[i].cosine < 0;
        assert_float_equal(clamped_rows[i].cosine, fmax(signed_rows[i].cosine, 0.0), 1e-9);
    }
    assert_true(negatives > 0);

    char *svg = data_read_file(plot, NULL);
    assert_non_null(svg);
    assert_non_null(strstr(svg, "<svg"));
    assert_int_equal(test_count(svg, "<circle"), (size_t)count);
    assert_non_null(strstr(svg, "b01.jpg"));
    free(svg);
    cli_run_free(&signed_run);
    cli_run_free(&clamped_run);

    /* --ref-mode max over a directory of a01.jpg and b01.jpg is the per-frame maximum
     * of the two single-reference runs. */
    char directory[4200];
    snprintf(directory, sizeof directory, "%s/refs", test_work);
    mkdir(directory, 0777);
    const char *names[] = { "a01.jpg", "b01.jpg" };
    for (int i = 0; i < 2; i++) {
        char link_path[4400];
        snprintf(link_path, sizeof link_path, "%s/%s", directory, names[i]);
        unlink(link_path);
        assert_int_equal(symlink(test_face(names[i]), link_path), 0);
    }
    test_row single[2][64], combined[64];
    for (int i = 0; i < 2; i++) {
        cli_run run = { 0 };
        const char *args[] = { "--csv", "--every", "5", test_face(names[i]), test_ab_video, NULL };
        test_run_cli(&run, args);
        cli_expect_exit(&run, 0);
        count = test_parse_csv(run.out, single[i], 64);
        cli_run_free(&run);
    }
    cli_run run = { 0 };
    const char *max_args[] = { "--csv", "--every", "5", "--ref-mode", "max", directory,
                               test_ab_video, NULL };
    test_run_cli(&run, max_args);
    cli_expect_exit(&run, 0);
    assert_int_equal(test_parse_csv(run.out, combined, 64), count);
    for (int i = 0; i < count; i++)
        assert_float_equal(combined[i].cosine, fmax(single[0][i].cosine, single[1][i].cosine),
                           2e-6);
    cli_run_free(&run);

    /* Without a reference only the consistency metrics are reported. */
    const char *no_ref_args[] = { "--jsonl", "--every", "5", "--no-ref", test_ab_video, NULL };
    test_run_cli(&run, no_ref_args);
    cli_expect_exit(&run, 0);
    const char *summary = strstr(run.out, "{\"summary\"");
    assert_non_null(summary);
    assert_true(isnan(test_json_number(summary, "mean")));
    assert_true(test_json_number(summary, "consecutive_mean") > 0.0);
    cli_run_free(&run);
}

/* ---- setup ---- */

static bool test_find_program(const char *name, char *path, size_t size)
{
    const char *search = getenv("PATH");
    if (!search)
        return false;
    char *copy = strdup(search);
    bool found = false;
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        snprintf(path, size, "%s/%s", dir, name);
        found = access(path, X_OK) == 0;
    }
    free(copy);
    return found;
}

/* Makes the a01-then-b01 video. Both photos are scaled into a 640x640 grey-padded
 * square so they can be concatenated. */
static bool test_make_ab_video(void)
{
    snprintf(test_ab_video, sizeof test_ab_video, "%s/a01_then_b01.mp4", test_work);
    const char *fit = "scale=640:640:force_original_aspect_ratio=decrease,"
                      "pad=640:640:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p";
    char filter[1024];
    snprintf(filter, sizeof filter, "[0:v]%s[a];[1:v]%s[b];[a][b]concat=n=2:v=1[v]", fit, fit);
    char a01[4200], b01[4200];
    snprintf(a01, sizeof a01, "%s/a01.jpg", test_faces);
    snprintf(b01, sizeof b01, "%s/b01.jpg", test_faces);
    const char *args[] = { "-loop", "1", "-t", "2", "-r", "10", "-i", a01,
                           "-loop", "1", "-t", "2", "-r", "10", "-i", b01,
                           "-filter_complex", filter, "-map", "[v]", "-c:v", "libx264",
                           "-preset", "ultrafast", "-r", "10", "-movflags", "+faststart",
                           test_ab_video, NULL };
    if (test_ffmpeg_run(args))
        return true;
    /* Without libx264, MPEG-4 part 2 works as well. */
    const char *fallback[] = { "-loop", "1", "-t", "2", "-r", "10", "-i", a01,
                               "-loop", "1", "-t", "2", "-r", "10", "-i", b01,
                               "-filter_complex", filter, "-map", "[v]", "-c:v", "mpeg4",
                               "-q:v", "3", "-r", "10", "-movflags", "+faststart",
                               test_ab_video, NULL };
    return test_ffmpeg_run(fallback);
}

/* Makes the a01-then-b01 video, its variable-frame-rate copy, an audio-only file and
 * an empty file. */
static bool test_make_fixtures(void)
{
    if (!test_make_ab_video())
        return false;
    snprintf(test_vfr_video, sizeof test_vfr_video, "%s/a01_then_b01_vfr.mkv", test_work);
    const char *vfr_args[] = { "-i", test_ab_video, "-vf",
                               "setpts='(N*0.1+if(gte(N,10),0.55,0)+if(gte(N,25),1.3,0))/TB'",
                               "-fps_mode", "vfr", "-c:v", "mpeg4", "-q:v", "3",
                               test_vfr_video, NULL };
    if (!test_ffmpeg_run(vfr_args))
        return false;
    char path[4200];
    snprintf(path, sizeof path, "%s/empty.mp4", test_work);
    FILE *file = fopen(path, "wb");
    if (!file || fclose(file) != 0)
        return false;
    snprintf(path, sizeof path, "%s/audio_only.m4a", test_work);
    const char *args[] = { "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac",
                           path, NULL };
    return test_ffmpeg_run(args);
}

int main(void)
{
    const char *shared = getenv("FACESIM_SHARED_DIR");
    const char *work = getenv("FACESIM_WORK_DIR");
    if (!shared || !work) {
        fprintf(stderr, "test_video: skipped: FACESIM_SHARED_DIR or FACESIM_WORK_DIR is not "
                        "set; run the tests through ctest.\n");
        return 77;
    }
    snprintf(test_faces, sizeof test_faces, "%s/faces", shared);
    snprintf(test_rotation, sizeof test_rotation, "%s/cases/22_video_rotation_metadata", shared);
    if (!data_is_directory(test_faces) || !data_is_directory(test_rotation)) {
        fprintf(stderr, "test_video: skipped: %s or %s is missing.\n", test_faces,
                test_rotation);
        return 77;
    }
    if (!test_find_program("ffmpeg", test_ffmpeg, sizeof test_ffmpeg) ||
        !test_find_program("ffprobe", test_ffprobe, sizeof test_ffprobe)) {
        fprintf(stderr, "test_video: skipped: the ffmpeg and ffprobe programs are needed to "
                        "make test videos (apt-get install ffmpeg).\n");
        return 77;
    }
    snprintf(test_work, sizeof test_work, "%s/video", work);
    mkdir(work, 0777);
    mkdir(test_work, 0777);
    if (!test_make_fixtures()) {
        fprintf(stderr, "test_video: failed: ffmpeg could not make the test files.\n");
        return 1;
    }

    const struct CMUnitTest reader_tests[] = {
        cmocka_unit_test(reader_rotation_matches_ffmpeg),
        cmocka_unit_test(reader_rotation_from_metadata),
        cmocka_unit_test(reader_orient_properties),
        cmocka_unit_test(reader_matches_opencv),
        cmocka_unit_test(reader_timestamps_match_ffprobe),
        cmocka_unit_test(reader_truncated_reads_to_damage),
        cmocka_unit_test(reader_errors_name_file),
        cmocka_unit_test(sampler_count_matches_numpy),
        cmocka_unit_test(sampler_rate_and_every),
        cmocka_unit_test(svg_timeline_writes_marks),
        cmocka_unit_test(progress_silent_without_terminal),
    };
    int failed = cmocka_run_group_tests_name("video reader and sampling", reader_tests, NULL,
                                             NULL);
    if (failed)
        return 1;

    test_cli_path = getenv("FACESIM_CLI");
    const char *models = getenv("FACESIM_MODEL_DIR");
    if (models)
        snprintf(test_models, sizeof test_models, "%s/default", models);
    if (!test_cli_path || !data_is_file(test_cli_path) || !models ||
        !data_is_directory(test_models)) {
        fprintf(stderr, "test_video: skipped the facesim video tests: FACESIM_CLI (%s) or the "
                        "default pack at $FACESIM_MODEL_DIR/default (%s) is missing.\n",
                test_cli_path ? test_cli_path : "not set", test_models);
        return 77;
    }
    const struct CMUnitTest cli_tests[] = {
        cmocka_unit_test(cli_switch_at_two_seconds),
        cmocka_unit_test(cli_parallel_detection_same_rows),
        cmocka_unit_test(cli_summary_matches_rows),
        cmocka_unit_test(cli_sampling_options),
        cmocka_unit_test(cli_rotation_case),
        cmocka_unit_test(cli_truncated_video_warns),
        cmocka_unit_test(cli_bad_inputs_exit_codes),
        cmocka_unit_test(cli_plot_clamp_and_reference_modes),
        cmocka_unit_test(cli_undecodable_video_exit_4),
        cmocka_unit_test(cli_no_face_summary_dashes),
        cmocka_unit_test(cli_still_image_warns),
    };
    failed = cmocka_run_group_tests_name("facesim video", cli_tests, NULL, NULL);
    return failed ? 1 : 0;
}

/*
 * Face pipeline units: Umeyama alignment, NMS, letterbox, SCRFD decoding (on
 * synthetic outputs and on a real model run), the 68-to-5 point reduction, the
 * landmark crop, model-pack role detection and missing-role errors.
 *
 * The pure units always run. The model tests need $FACESIM_SHARED_DIR/models,
 * $FACESIM_SHARED_DIR/faces and $FACESIM_MODEL_DIR/default (the default pack);
 * when those are missing the program reports it and exits with 77 (skipped)
 * after the pure units pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "face/face.h"
#include "facesim.h"
#include "support/data_files.h"
#include "support/pack_links.h"

static char shared_dir[1024];
static char model_dir[1024];
static char work_dir[1024];

/* ---- Small helpers ---- */

/* Deterministic uniform numbers in [lo, hi) (xorshift64). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double rng_uniform(double lo, double hi)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (hi - lo) * (double)(rng_state >> 11) / (double)(1ull << 53);
}

static void apply_transform(const double m[6], const float *src, float *dst, int count)
{
    for (int i = 0; i < count; i++) {
        double x = src[2 * i], y = src[2 * i + 1];
        dst[2 * i] = (float)(m[0] * x + m[1] * y + m[2]);
        dst[2 * i + 1] = (float)(m[3] * x + m[4] * y + m[5]);
    }
}

/* Creates work_dir/name (keeping its contents) and links the given files into it. */
static void make_pack_dir(char *out, size_t size, const char *name, const char *const *files,
                          int n_files)
{
    assert_true(pack_make_dir(out, size, work_dir, name, files, n_files));
}

/* Loads an image with ctx, failing the test with the path and the error. */
static facesim_image *load_image(facesim_context *ctx, const char *path)
{
    facesim_image *image = NULL;
    if (facesim_image_load(ctx, path, &image) != FACESIM_OK)
        fail_msg("load %s: %s", path, facesim_errmsg(ctx));
    return image;
}

/* ---- Umeyama ---- */

static void umeyama_recovers_exact_transform(void **state)
{
    for (int trial = 0; trial < 200; trial++) {
        double angle = rng_uniform(-3.1, 3.1);
        double scale = rng_uniform(0.05, 20.0);
        double truth[6] = {scale * cos(angle), -scale * sin(angle), rng_uniform(-500, 500),
                           scale * sin(angle), scale * cos(angle), rng_uniform(-500, 500)};
        float src[10], dst[10];
        for (int i = 0; i < 10; i++)
            src[i] = (float)rng_uniform(0, 1000);
        apply_transform(truth, src, dst, 5);

        double m[6];
        assert_true(fs_umeyama(src, dst, 5, m));
        for (int k = 0; k < 6; k++) {
            /* dst is rounded to float, so the recovery is exact to float precision. */
            double tolerance = (k == 2 || k == 5) ? 1e-2 + 1e-5 * fabs(truth[k]) : 1e-5 * scale;
            assert_true(fabs(m[k] - truth[k]) <= tolerance);
        }
    }
}

/* Independent least squares: the 4 similarity parameters (a, b, tx, ty) from the normal
 * equations solved by Gaussian elimination. */
static void solve_similarity_normal_equations(const float *src, const float *dst, int count,
                                              double p[4])
{
    double ata[4][5] = {{0}};
    for (int i = 0; i < count; i++) {
        double x = src[2 * i], y = src[2 * i + 1];
        double rows[2][4] = {{x, -y, 1, 0}, {y, x, 0, 1}};
        double rhs[2] = {dst[2 * i], dst[2 * i + 1]};
        for (int r = 0; r < 2; r++) {
            for (int a = 0; a < 4; a++) {
                for (int b = 0; b < 4; b++)
                    ata[a][b] += rows[r][a] * rows[r][b];
                ata[a][4] += rows[r][a] * rhs[r];
            }
        }
    }
    for (int col = 0; col < 4; col++) {
        int pivot = col;
        for (int r = col + 1; r < 4; r++) {
            if (fabs(ata[r][col]) > fabs(ata[pivot][col]))
                pivot = r;
        }
        for (int k = 0; k < 5; k++) {
            double t = ata[col][k];
            ata[col][k] = ata[pivot][k];
            ata[pivot][k] = t;
        }
        for (int r = 0; r < 4; r++) {
            if (r == col)
                continue;
            double f = ata[r][col] / ata[col][col];
            for (int k = 0; k < 5; k++)
                ata[r][k] -= f * ata[col][k];
        }
    }
    for (int k = 0; k < 4; k++)
        p[k] = ata[k][4] / ata[k][k];
}

static void umeyama_matches_least_squares_with_noise(void **state)
{
    for (int trial = 0; trial < 200; trial++) {
        double angle = rng_uniform(-0.6, 0.6);
        double scale = rng_uniform(0.1, 0.8);
        double truth[6] = {scale * cos(angle), -scale * sin(angle), rng_uniform(-50, 50),
                           scale * sin(angle), scale * cos(angle), rng_uniform(-50, 50)};
        float src[10], dst[10];
        for (int i = 0; i < 10; i++)
            src[i] = (float)rng_uniform(100, 400);
        apply_transform(truth, src, dst, 5);
        for (int i = 0; i < 10; i++)
            dst[i] += (float)rng_uniform(-3, 3);

        double m[6], p[4];
        assert_true(fs_umeyama(src, dst, 5, m));
        solve_similarity_normal_equations(src, dst, 5, p);
        assert_true(fabs(m[0] - p[0]) < 1e-6);
        assert_true(fabs(m[3] - p[1]) < 1e-6);
        assert_true(fabs(m[2] - p[2]) < 1e-3);
        assert_true(fabs(m[5] - p[3]) < 1e-3);
        /* The matrix has the similarity form [a -b; b a]. */
        assert_true(fabs(m[0] - m[4]) < 1e-12);
        assert_true(fabs(m[1] + m[3]) < 1e-12);
    }
}

static void umeyama_rejects_coincident_points(void **state)
{
    float src[10] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5};
    double m[6];
    assert_false(fs_umeyama(src, fs_arcface_template, 5, m));
    assert_true(m[0] == 1.0 && m[4] == 1.0 && m[1] == 0.0 && m[2] == 0.0);
}

static void umeyama_template_onto_itself_is_identity(void **state)
{
    double m[6];
    assert_true(fs_umeyama(fs_arcface_template, fs_arcface_template, 5, m));
    assert_true(fabs(m[0] - 1.0) < 1e-9);
    assert_true(fabs(m[1]) < 1e-9);
    assert_true(fabs(m[2]) < 1e-6);
    assert_true(fabs(m[5]) < 1e-6);
}

/* ---- NMS ---- */

static facesim_face face_box(float x1, float y1, float x2, float y2, float score)
{
    facesim_face face;
    memset(&face, 0, sizeof face);
    face.box[0] = x1;
    face.box[1] = y1;
    face.box[2] = x2;
    face.box[3] = y2;
    face.score = score;
    return face;
}

static void nms_keeps_best_of_overlapping_boxes(void **state)
{
    facesim_face faces[4] = {
        face_box(0, 0, 9, 9, 0.6f),     /* overlaps the 0.9 box heavily */
        face_box(50, 50, 59, 59, 0.7f), /* separate */
        face_box(1, 1, 10, 10, 0.9f),
        face_box(0, 0, 9, 9, 0.2f),
    };
    uint8_t keep[4];
    fs_face_sort_by_score(faces, 4);
    assert_true(faces[0].score == 0.9f && faces[3].score == 0.2f);
    int kept = fs_face_nms(faces, 4, 0.4f, keep);
    assert_int_equal(kept, 2);
    assert_true(faces[0].score == 0.9f);
    assert_true(faces[1].score == 0.7f);
}

static void nms_uses_plus_one_area_rule(void **state)
{
    /* Two 10x10-pixel boxes (x2 - x1 + 1 = 10) shifted by 6: intersection 4 x 10 = 40,
     * union 160, IoU 0.25. Without the +1 the intersection would be 3 x 9 = 27 over 135,
     * 0.2. A threshold of 0.22 separates the two rules. */
    facesim_face faces[2] = {face_box(0, 0, 9, 9, 0.9f), face_box(6, 0, 15, 9, 0.8f)};
    uint8_t keep[2];
    assert_int_equal(fs_face_nms(faces, 2, 0.22f, keep), 1);
    facesim_face again[2] = {face_box(0, 0, 9, 9, 0.9f), face_box(6, 0, 15, 9, 0.8f)};
    assert_int_equal(fs_face_nms(again, 2, 0.25f, keep), 2); /* overlap <= threshold is kept */
}

static void sort_keeps_equal_scores_in_order(void **state)
{
    facesim_face faces[3] = {face_box(1, 0, 2, 2, 0.5f), face_box(2, 0, 3, 3, 0.5f),
                             face_box(3, 0, 4, 4, 0.8f)};
    fs_face_sort_by_score(faces, 3);
    assert_true(faces[0].box[0] == 3.0f);
    assert_true(faces[1].box[0] == 1.0f);
    assert_true(faces[2].box[0] == 2.0f);
}

/* ---- SCRFD letterbox and decoding ---- */

static void letterbox_truncates_like_python_int(void **state)
{
    int w, h;
    double scale;
    /* Portrait 1184x1600: ratio 1.3514 > 1, so new_h = 640 and new_w = int(640 / 1.3514)
     * = int(473.6) = 473. */
    fs_scrfd_letterbox(1184, 1600, 640, 640, &w, &h, &scale);
    assert_int_equal(h, 640);
    assert_int_equal(w, 473);
    assert_true(fabs(scale - 640.0 / 1600.0) < 1e-12);
    /* Landscape 1536x1152: new_w = 640, new_h = int(640 * 0.75) = 480. */
    fs_scrfd_letterbox(1536, 1152, 640, 640, &w, &h, &scale);
    assert_int_equal(w, 640);
    assert_int_equal(h, 480);
    assert_true(fabs(scale - 480.0 / 1152.0) < 1e-12);
    /* Square: both sides fill the canvas. */
    fs_scrfd_letterbox(300, 300, 640, 640, &w, &h, &scale);
    assert_int_equal(w, 640);
    assert_int_equal(h, 640);
    /* A 1x5000 strip keeps at least one pixel. */
    fs_scrfd_letterbox(5000, 1, 640, 640, &w, &h, &scale);
    assert_int_equal(w, 640);
    assert_int_equal(h, 1);
}

static void scrfd_decode_places_anchors_by_cell(void **state)
{
    /* A 3x2 grid (width 3, height 2), 2 anchors, stride 16: 12 rows. Only row 9 passes
     * the threshold: cell 4 = (x 1, y 1), its second anchor, centre (16, 16). */
    float scores[12] = {0};
    float distances[48] = {0};
    float landmarks[120] = {0};
    scores[9] = 0.75f;
    distances[9 * 4 + 0] = 0.5f; /* left 8 px */
    distances[9 * 4 + 1] = 1.0f; /* top 16 px */
    distances[9 * 4 + 2] = 2.0f; /* right 32 px */
    distances[9 * 4 + 3] = 0.25f; /* bottom 4 px */
    for (int p = 0; p < 5; p++) {
        landmarks[9 * 10 + 2 * p] = (float)p;      /* x offset p strides */
        landmarks[9 * 10 + 2 * p + 1] = -(float)p; /* y offset -p strides */
    }
    scores[3] = 0.49f; /* below the threshold */

    fs_face_list list = {0};
    assert_int_equal(fs_scrfd_decode_stride(scores, distances, landmarks, 3, 2, 2, 16, 0.5f,
                                            0.5, &list, NULL),
                     FACESIM_OK);
    assert_int_equal(list.count, 1);
    const facesim_face *f = &list.faces[0];
    /* Canvas box (8, 0, 48, 20) divided by the scale 0.5. */
    assert_true(f->score == 0.75f);
    assert_true(fabsf(f->box[0] - 16.0f) < 1e-4f);
    assert_true(fabsf(f->box[1] - 0.0f) < 1e-4f);
    assert_true(fabsf(f->box[2] - 96.0f) < 1e-4f);
    assert_true(fabsf(f->box[3] - 40.0f) < 1e-4f);
    for (int p = 0; p < 5; p++) {
        assert_true(fabsf(f->landmarks[2 * p] - (16.0f + 16.0f * p) / 0.5f) < 1e-4f);
        assert_true(fabsf(f->landmarks[2 * p + 1] - (16.0f - 16.0f * p) / 0.5f) < 1e-4f);
    }
    fs_face_list_release(&list);
}

/* ---- 68-point model helpers ---- */

static void landmark68_reduces_to_five_points(void **state)
{
    float points[136], five[10];
    for (int i = 0; i < 68; i++) {
        points[2 * i] = (float)i;
        points[2 * i + 1] = 1000.0f + 2.0f * i;
    }
    fs_landmark68_to5(points, five);
    /* Left eye: mean of 37, 38, 40, 41 = 39; right eye: mean of 43, 44, 46, 47 = 45. */
    assert_true(five[0] == 39.0f && five[1] == 1078.0f);
    assert_true(five[2] == 45.0f && five[3] == 1090.0f);
    assert_true(five[4] == 30.0f && five[5] == 1060.0f);
    /* Mouth corners: (48 + 60) / 2 = 54 and (54 + 64) / 2 = 59. */
    assert_true(five[6] == 54.0f && five[7] == 1108.0f);
    assert_true(five[8] == 59.0f && five[9] == 1118.0f);
}

static void landmark68_crop_is_square_and_inside(void **state)
{
    int rect[4], box[4];
    /* A 100x120 box in a 640x480 image: square of side 120 around the centre. */
    float inside[4] = {200.5f, 100.25f, 300.5f, 220.25f};
    assert_int_equal(fs_landmark68_crop_rect(inside, 640, 480, rect, box), FACESIM_OK);
    assert_int_equal(box[0], 190); /* 250.5 - 60 = 190.5, truncated */
    assert_int_equal(box[1], 100);
    assert_int_equal(box[2], 120);
    assert_int_equal(box[3], 120);
    assert_int_equal(rect[2], 120);
    assert_int_equal(rect[3], 120);

    /* A box over the left and top edges is clamped and stays inside the image. */
    float corner[4] = {-40.0f, -30.0f, 60.0f, 90.0f};
    assert_int_equal(fs_landmark68_crop_rect(corner, 640, 480, rect, box), FACESIM_OK);
    assert_true(rect[0] >= 0 && rect[1] >= 0);
    assert_true(rect[0] + rect[2] <= 640 && rect[1] + rect[3] <= 480);

    /* A box entirely outside the image has no crop. */
    float outside[4] = {-100.0f, -100.0f, -50.0f, -40.0f};
    assert_int_equal(fs_landmark68_crop_rect(outside, 640, 480, rect, box), FACESIM_ERR_NO_FACE);
}

/* ---- Model packs (need the models) ---- */

static void model_path(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static void pack_finds_scrfd_and_recogniser(void **state)
{
    char det[1100], rec[1100], dir[1200];
    model_path(det, sizeof det, shared_dir, "models/scrfd_500m_bnkps.onnx");
    model_path(rec, sizeof rec, model_dir, "default/fr_feature.onnx");
    const char *files[2] = {det, rec};
    make_pack_dir(dir, sizeof dir, "face-pack-scrfd", files, 2);

    fs_engine_params engine_params;
    fs_engine_default_params(&engine_params);
    fs_pack pack;
    fs_error err;
    fs_error_clear(&err);
    int status = fs_pack_open(&pack, dir, &engine_params, NULL, NULL, &err);
    if (status != FACESIM_OK)
        fail_msg("fs_pack_open: %s", err.message);
    assert_int_equal(pack.detector_kind, FS_DETECTOR_SCRFD);
    assert_true(pack.scrfd.has_landmarks);
    assert_int_equal(pack.scrfd.fixed_width, 640);
    assert_int_equal(pack.recognizer.dim, 512);
    /* fr_feature is recognised by its content: (x - 127) / 128 and threshold 0.30. */
    assert_true(pack.recognizer.mean == 127.0f);
    assert_true(pack.recognizer.std == 128.0f);
    assert_true(fabsf(pack.recognizer.threshold - 0.30f) < 1e-6f);
    assert_non_null(strstr(pack.description, "scrfd_500m_bnkps.onnx"));
    assert_non_null(strstr(pack.description, "recogniser"));
    fs_pack_release(&pack);
}

static void pack_finds_default_pack_roles(void **state)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/default", model_dir);
    fs_engine_params engine_params;
    fs_engine_default_params(&engine_params);
    fs_pack pack;
    fs_error err;
    fs_error_clear(&err);
    int status = fs_pack_open(&pack, dir, &engine_params, NULL, NULL, &err);
    if (status != FACESIM_OK)
        fail_msg("fs_pack_open: %s", err.message);
    assert_int_equal(pack.detector_kind, FS_DETECTOR_ULTRAFACE);
    assert_int_equal(pack.ultraface.width, 320);
    assert_int_equal(pack.ultraface.height, 240);
    assert_true(pack.has_landmark68);
    assert_int_equal(pack.recognizer.dim, 512);
    fs_pack_release(&pack);
}

static void pack_uses_first_detector_by_name(void **state)
{
    char a[1100], b[1100], c[1100], rec[1100], dir[1200];
    model_path(a, sizeof a, shared_dir, "models/scrfd_2.5g_bnkps.onnx");
    model_path(b, sizeof b, shared_dir, "models/scrfd_500m.onnx");
    model_path(c, sizeof c, shared_dir, "models/scrfd_500m_bnkps.onnx");
    model_path(rec, sizeof rec, model_dir, "default/fr_feature.onnx");
    const char *files[4] = {a, b, c, rec};
    make_pack_dir(dir, sizeof dir, "face-pack-three-detectors", files, 4);

    facesim_context *ctx = pack_open_context(dir);
    const char *description = facesim_describe_pack(ctx);
    /* Sorted by name, scrfd_2.5g_bnkps.onnx comes first; it has a free input size. */
    assert_non_null(strstr(description, "detector   scrfd_2.5g_bnkps.onnx"));
    assert_non_null(strstr(description, "ignored    scrfd_500m.onnx: second detector"));
    assert_non_null(strstr(description, "ignored    scrfd_500m_bnkps.onnx: second detector"));
    assert_true(fabsf(facesim_default_threshold(ctx) - 0.30f) < 1e-6f);
    assert_int_equal(facesim_embedding_size(ctx), 512);
    facesim_close(ctx);
}

static void pack_without_detector_lists_files(void **state)
{
    char rec[1100], dir[1200];
    model_path(rec, sizeof rec, model_dir, "default/fr_feature.onnx");
    const char *files[1] = {rec};
    make_pack_dir(dir, sizeof dir, "face-pack-no-detector", files, 1);

    facesim_params params;
    facesim_default_params(&params);
    params.model_dir = dir;
    facesim_context *ctx = (facesim_context *)&params; /* must be reset to NULL */
    assert_int_equal(facesim_open(&params, &ctx), FACESIM_ERR_INVALID_DATA);
    assert_null(ctx);
    const char *message = facesim_last_error();
    assert_non_null(strstr(message, "no face detector"));
    assert_non_null(strstr(message, "fr_feature.onnx (recogniser"));
}

static void pack_without_recogniser_fails(void **state)
{
    char det[1100], dir[1200];
    model_path(det, sizeof det, shared_dir, "models/scrfd_500m_bnkps.onnx");
    const char *files[1] = {det};
    make_pack_dir(dir, sizeof dir, "face-pack-no-recogniser", files, 1);

    facesim_params params;
    facesim_default_params(&params);
    params.model_dir = dir;
    facesim_context *ctx = NULL;
    assert_int_equal(facesim_open(&params, &ctx), FACESIM_ERR_INVALID_DATA);
    assert_non_null(strstr(facesim_last_error(), "no recogniser"));
    assert_non_null(strstr(facesim_last_error(), "scrfd_500m_bnkps.onnx (detector"));
}

static void pack_missing_or_empty_directory(void **state)
{
    facesim_params params;
    facesim_default_params(&params);
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/face-pack-does-not-exist", work_dir);
    params.model_dir = dir;
    facesim_context *ctx = NULL;
    assert_int_equal(facesim_open(&params, &ctx), FACESIM_ERR_IO);
    assert_non_null(strstr(facesim_last_error(), "face-pack-does-not-exist"));

    make_pack_dir(dir, sizeof dir, "face-pack-empty", NULL, 0);
    params.model_dir = dir;
    assert_int_equal(facesim_open(&params, &ctx), FACESIM_ERR_INVALID_DATA);
    assert_non_null(strstr(facesim_last_error(), "no .onnx files"));

    params.det_size = 100;
    assert_int_equal(facesim_open(&params, &ctx), FACESIM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(facesim_last_error(), "det_size"));
}

/* A detector without landmark outputs: scrfd_500m_bnkps with its kps outputs removed by
 * Debian's python3-onnx. Skipped when /usr/bin/python3 cannot import onnx. */
static void pack_rejects_detector_without_landmarks(void **state)
{
    char dir[1200], det[1100], rec[1100], script[4096];
    make_pack_dir(dir, sizeof dir, "face-pack-no-landmarks", NULL, 0);
    model_path(det, sizeof det, shared_dir, "models/scrfd_500m_bnkps.onnx");
    snprintf(script, sizeof script,
             "/usr/bin/python3 -c \"import onnx,sys; m=onnx.load(sys.argv[1]); "
             "keep=[o for o in m.graph.output if not o.name.startswith('kps')]; "
             "del m.graph.output[:]; m.graph.output.extend(keep); onnx.save(m, sys.argv[2])\" "
             "'%s' '%s/scrfd_no_kps.onnx' 2>/dev/null",
             det, dir);
    if (system(script) != 0) {
        skip();
        return;
    }
    model_path(rec, sizeof rec, model_dir, "default/fr_feature.onnx");
    assert_true(pack_link_as(dir, "fr_feature.onnx", rec));

    facesim_params params;
    facesim_default_params(&params);
    params.model_dir = dir;
    facesim_context *ctx = NULL;
    assert_int_equal(facesim_open(&params, &ctx), FACESIM_ERR_UNSUPPORTED);
    assert_non_null(strstr(facesim_last_error(), "detector has no landmark outputs"));
    assert_non_null(strstr(facesim_last_error(), "_bnkps"));
}

/* SCRFD on a real photo: the model run, output mapping and decoding against insightface's
 * numbers for a01.jpg (reference_faces.csv: box and landmarks within 1 px). */
static void scrfd_real_run_matches_reference(void **state)
{
    char det[1100], rec[1100], dir[1200], image_path[1100], csv_path[1100];
    model_path(det, sizeof det, shared_dir, "models/scrfd_500m_bnkps.onnx");
    model_path(rec, sizeof rec, model_dir, "default/fr_feature.onnx");
    const char *files[2] = {det, rec};
    make_pack_dir(dir, sizeof dir, "face-pack-scrfd", files, 2);
    model_path(csv_path, sizeof csv_path, shared_dir, "faces/reference_faces.csv");

    FILE *csv = fopen(csv_path, "r");
    assert_non_null(csv);
    char line[1024];
    float expected[15] = {0};
    bool found = false;
    while (fgets(line, sizeof line, csv)) {
        if (strncmp(line, "a01.jpg,", 8) != 0)
            continue;
        /* file,width,height,faces,score,box x4,kp x10 */
        char *field = strtok(line, ",");
        for (int column = 0; field; column++, field = strtok(NULL, ",")) {
            if (column >= 4 && column < 19)
                expected[column - 4] = strtof(field, NULL);
        }
        found = true;
    }
    fclose(csv);
    assert_true(found);

    facesim_context *ctx = pack_open_context(dir);
    model_path(image_path, sizeof image_path, shared_dir, "faces/a01.jpg");
    facesim_image *image = load_image(ctx, image_path);
    facesim_face faces[8];
    int n = 0;
    if (facesim_detect(ctx, image, faces, 8, &n) != FACESIM_OK)
        fail_msg("detect: %s", facesim_errmsg(ctx));
    assert_int_equal(n, 1);
    assert_true(fabsf(faces[0].score - expected[0]) < 0.01f);
    for (int k = 0; k < 4; k++)
        assert_true(fabsf(faces[0].box[k] - expected[1 + k]) < 1.0f);
    for (int k = 0; k < 10; k++)
        assert_true(fabsf(faces[0].landmarks[k] - expected[5 + k]) < 1.0f);
    assert_int_equal(faces[0].flags, 0);
    facesim_image_free(image);
    facesim_close(ctx);
}

/* Aligned input: 112x112 is embedded directly, any other size is rejected with a hint. */
static void aligned_input_checks_size(void **state)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/default", model_dir);
    facesim_context *ctx = pack_open_context(dir);

    static uint8_t pixels[120 * 120 * 3];
    for (size_t i = 0; i < sizeof pixels; i++)
        pixels[i] = (uint8_t)(i * 7);
    facesim_embed_options options;
    facesim_default_embed_options(&options);
    options.aligned_input = 1;
    facesim_face_embedding out;

    facesim_image *wrong = NULL;
    assert_int_equal(facesim_image_from_rgb(pixels, 120, 120, 360, &wrong), FACESIM_OK);
    assert_int_equal(facesim_embed_image(ctx, wrong, &options, &out),
                     FACESIM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(facesim_errmsg(ctx), "120x120"));

    facesim_image *right = NULL;
    assert_int_equal(facesim_image_from_rgb(pixels, 112, 112, 360, &right), FACESIM_OK);
    assert_int_equal(facesim_embed_image(ctx, right, &options, &out), FACESIM_OK);
    assert_int_equal(out.dim, 512);
    double norm = 0.0;
    for (int i = 0; i < out.dim; i++)
        norm += (double)out.embedding[i] * out.embedding[i];
    assert_true(fabs(norm - 1.0) < 1e-4);

    /* The same crop through facesim_embed_crops gives the same embedding. */
    float direct[512];
    uint8_t crop[112 * 112 * 3];
    for (int y = 0; y < 112; y++)
        memcpy(crop + y * 112 * 3, pixels + y * 360, 112 * 3);
    assert_int_equal(facesim_embed_crops(ctx, crop, 1, direct), FACESIM_OK);
    assert_true(facesim_cosine(direct, out.embedding, 512) > 0.9999f);

    /* A batch of three crops (the crop, its mirror image, the crop again) gives the same
     * embeddings as three single runs. */
    static uint8_t batch[3 * 112 * 112 * 3];
    memcpy(batch, crop, sizeof crop);
    for (int y = 0; y < 112; y++) {
        for (int x = 0; x < 112; x++)
            memcpy(batch + sizeof crop + (y * 112 + x) * 3, crop + (y * 112 + 111 - x) * 3, 3);
    }
    memcpy(batch + 2 * sizeof crop, crop, sizeof crop);
    static float batched[3 * 512], single[512];
    assert_int_equal(facesim_embed_crops(ctx, batch, 3, batched), FACESIM_OK);
    for (int b = 0; b < 3; b++) {
        assert_int_equal(facesim_embed_crops(ctx, batch + b * sizeof crop, 1, single), FACESIM_OK);
        assert_true(facesim_cosine(single, batched + b * 512, 512) > 0.9999f);
    }
    assert_true(facesim_cosine(batched, batched + 512, 512) < 0.9999f);

    facesim_image_free(wrong);
    facesim_image_free(right);
    facesim_close(ctx);
}

/* Face selection on a photo with two faces: each rule picks the face that rule names,
 * computed here from the detector's list. */
static void selection_rules_pick_expected_face(void **state)
{
    char dir[1100], image_path[1100];
    snprintf(dir, sizeof dir, "%s/default", model_dir);
    facesim_context *ctx = pack_open_context(dir);
    model_path(image_path, sizeof image_path, shared_dir, "faces/group-two.jpg");
    facesim_image *image = load_image(ctx, image_path);

    facesim_face faces[8];
    int n = 0;
    assert_int_equal(facesim_detect(ctx, image, faces, 8, &n), FACESIM_OK);
    assert_true(n >= 2);
    for (int i = 1; i < n && i < 8; i++)
        assert_true(faces[i - 1].score >= faces[i].score);

    int largest = 0, nearest = 0;
    double best_area = -1.0, best_distance = 1e30;
    double cx = (facesim_image_width(image) - 1) / 2.0;
    double cy = (facesim_image_height(image) - 1) / 2.0;
    for (int i = 0; i < n && i < 8; i++) {
        double area = ((double)faces[i].box[2] - faces[i].box[0]) *
                      ((double)faces[i].box[3] - faces[i].box[1]);
        if (area > best_area) {
            best_area = area;
            largest = i;
        }
        double dx = (faces[i].box[0] + faces[i].box[2]) / 2.0 - cx;
        double dy = (faces[i].box[1] + faces[i].box[3]) / 2.0 - cy;
        if (dx * dx + dy * dy < best_distance) {
            best_distance = dx * dx + dy * dy;
            nearest = i;
        }
    }

    facesim_embed_options options;
    facesim_default_embed_options(&options);
    static facesim_face_embedding out;
    const struct {
        facesim_select select;
        int index;
        int expected;
    } rules[] = {
        {FACESIM_SELECT_LARGEST, 0, largest},
        {FACESIM_SELECT_SCORE, 0, 0},
        {FACESIM_SELECT_CENTER, 0, nearest},
        {FACESIM_SELECT_INDEX, 1, 1},
    };
    for (size_t r = 0; r < sizeof rules / sizeof *rules; r++) {
        options.select = rules[r].select;
        options.index = rules[r].index;
        if (facesim_embed_image(ctx, image, &options, &out) != FACESIM_OK)
            fail_msg("embed with rule %d: %s", (int)rules[r].select, facesim_errmsg(ctx));
        assert_int_equal(out.face_count, n);
        assert_memory_equal(out.face.box, faces[rules[r].expected].box, sizeof out.face.box);
    }

    options.select = FACESIM_SELECT_INDEX;
    options.index = n;
    assert_int_equal(facesim_embed_image(ctx, image, &options, &out),
                     FACESIM_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(facesim_errmsg(ctx), "face index"));

    facesim_image_free(image);
    facesim_close(ctx);
}

/* insightface's buffalo_l layout: det_10g.onnx (here scrfd_2.5g_bnkps.onnx, also a
 * free-size SCRFD), w600k_r50.onnx (a random-weight iresnet50 built by the shared
 * tools' make_iresnet50.py) and two models the pipeline does not use, genderage.onnx
 * (96x96 input) and 2d106det.onnx (192x192), built here with python3-onnx. Skipped when
 * /usr/bin/python3 cannot build them. */
static void buffalo_layout_opens_unchanged(void **state)
{
    char dir[1200], det[1100], r50[1200], command[4096];
    make_pack_dir(dir, sizeof dir, "face-pack-buffalo_l", NULL, 0);
    snprintf(r50, sizeof r50, "%s/iresnet50_random.onnx", work_dir);
    if (!data_exists(r50)) {
        snprintf(command, sizeof command,
                 "/usr/bin/python3 '%s/tools/make_iresnet50.py' '%s' >/dev/null 2>&1",
                 shared_dir, r50);
        if (system(command) != 0 || !data_exists(r50)) {
            skip();
            return;
        }
    }
    snprintf(command, sizeof command,
             "/usr/bin/python3 -c \"import onnx,sys\n"
             "from onnx import helper as h, TensorProto as T, numpy_helper as nh\n"
             "import numpy as np\n"
             "def make(path, side, outputs):\n"
             "    w = nh.from_array(np.zeros((outputs, 3, side, side), np.float32), 'w')\n"
             "    g = h.make_graph([h.make_node('Conv', ['x', 'w'], ['c'], name='conv'),\n"
             "                      h.make_node('Flatten', ['c'], ['y'], name='flat')], 'g',\n"
             "        [h.make_tensor_value_info('x', T.FLOAT, [1, 3, side, side])],\n"
             "        [h.make_tensor_value_info('y', T.FLOAT, [1, outputs])], [w])\n"
             "    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 11)]), path)\n"
             "make(sys.argv[1] + '/genderage.onnx', 96, 3)\n"
             "make(sys.argv[1] + '/2d106det.onnx', 192, 212)\n\" '%s' 2>/dev/null",
             dir);
    if (system(command) != 0) {
        skip();
        return;
    }
    model_path(det, sizeof det, shared_dir, "models/scrfd_2.5g_bnkps.onnx");
    assert_true(pack_link_as(dir, "det_10g.onnx", det));
    assert_true(pack_link_as(dir, "w600k_r50.onnx", r50));

    facesim_context *ctx = pack_open_context(dir);
    const char *description = facesim_describe_pack(ctx);
    printf("%s", description);
    assert_non_null(strstr(description, "detector   det_10g.onnx: SCRFD, 9 outputs"));
    assert_non_null(strstr(description, "recogniser w600k_r50.onnx: 512-d embedding, mean 127.5"));
    assert_non_null(strstr(description, "ignored    genderage.onnx: attribute model"));
    assert_non_null(strstr(description, "ignored    2d106det.onnx: landmark model"));
    assert_true(fabsf(facesim_default_threshold(ctx) - 0.28f) < 1e-6f);

    char image_path[1100];
    model_path(image_path, sizeof image_path, shared_dir, "faces/a01.jpg");
    facesim_image *image = load_image(ctx, image_path);
    static facesim_face_embedding out;
    if (facesim_embed_image(ctx, image, NULL, &out) != FACESIM_OK)
        fail_msg("embed: %s", facesim_errmsg(ctx));
    assert_int_equal(out.dim, 512);
    assert_int_equal(out.face_count, 1);
    facesim_image_free(image);
    facesim_close(ctx);
}

/* A JPEG cut at 75%: rejected by default, loaded with a logged warning when
 * accept_damaged is set. */
static int damaged_warnings;
static void count_warning(void *user_data, int level, const char *message)
{
    if (level == FACESIM_LOG_WARNING && strstr(message, "truncated_at_75pct.jpg"))
        damaged_warnings++;
}

static void damaged_image_policy(void **state)
{
    char path[1100], dir[1100];
    model_path(path, sizeof path, shared_dir,
               "cases/20_corrupt_truncated_files/truncated_at_75pct.jpg");
    if (!data_exists(path)) {
        skip();
        return;
    }
    facesim_image *image = NULL;
    assert_int_equal(facesim_image_load(NULL, path, &image), FACESIM_ERR_INVALID_DATA);
    assert_null(image);
    assert_non_null(strstr(facesim_last_error(), "truncated_at_75pct.jpg"));
    assert_non_null(strstr(facesim_last_error(), "accept_damaged"));

    snprintf(dir, sizeof dir, "%s/default", model_dir);
    facesim_params params;
    facesim_default_params(&params);
    params.model_dir = dir;
    params.accept_damaged = 1;
    params.log = count_warning;
    facesim_context *ctx = NULL;
    if (facesim_open(&params, &ctx) != FACESIM_OK)
        fail_msg("facesim_open: %s", facesim_last_error());
    damaged_warnings = 0;
    assert_int_equal(facesim_image_load(ctx, path, &image), FACESIM_OK);
    assert_int_equal(damaged_warnings, 1);
    assert_true(facesim_image_warnings(image) & FACESIM_IMAGE_TRUNCATED);
    facesim_image_free(image);
    facesim_close(ctx);
}

/* SCRFD with a free input size on canvases other than 640: the face of a01.jpg is still
 * found where the fixed 640 model finds it (box IoU above 0.8 with reference_faces.csv's
 * box, x1 370.7, y1 147.75, x2 863.49, y2 867.74). */
static void scrfd_free_size_canvases(void **state)
{
    char det[1100], rec[1100], dir[1200], image_path[1100];
    model_path(det, sizeof det, shared_dir, "models/scrfd_2.5g_bnkps.onnx");
    model_path(rec, sizeof rec, model_dir, "default/fr_feature.onnx");
    const char *files[2] = {det, rec};
    make_pack_dir(dir, sizeof dir, "face-pack-scrfd-free-size", files, 2);
    model_path(image_path, sizeof image_path, shared_dir, "faces/a01.jpg");
    const float reference[4] = {370.7f, 147.75f, 863.49f, 867.74f};

    const int sizes[3] = {320, 480, 800};
    for (int s = 0; s < 3; s++) {
        facesim_params params;
        facesim_default_params(&params);
        params.model_dir = dir;
        params.det_size = sizes[s];
        facesim_context *ctx = NULL;
        if (facesim_open(&params, &ctx) != FACESIM_OK)
            fail_msg("facesim_open: %s", facesim_last_error());
        facesim_image *image = load_image(ctx, image_path);
        facesim_face faces[4];
        int n = 0;
        if (facesim_detect(ctx, image, faces, 4, &n) != FACESIM_OK)
            fail_msg("detect at det_size %d: %s", sizes[s], facesim_errmsg(ctx));
        assert_int_equal(n, 1);

        const float *b = faces[0].box;
        float iw = fminf(b[2], reference[2]) - fmaxf(b[0], reference[0]);
        float ih = fminf(b[3], reference[3]) - fmaxf(b[1], reference[1]);
        float inter = iw > 0 && ih > 0 ? iw * ih : 0.0f;
        float uni = (b[2] - b[0]) * (b[3] - b[1]) +
                    (reference[2] - reference[0]) * (reference[3] - reference[1]) - inter;
        printf("det_size %d: box %.1f %.1f %.1f %.1f, IoU %.3f\n", sizes[s], b[0], b[1], b[2],
               b[3], inter / uni);
        assert_true(inter / uni > 0.8f);
        facesim_image_free(image);
        facesim_close(ctx);
    }
}

static int unit_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(umeyama_recovers_exact_transform),
        cmocka_unit_test(umeyama_matches_least_squares_with_noise),
        cmocka_unit_test(umeyama_rejects_coincident_points),
        cmocka_unit_test(umeyama_template_onto_itself_is_identity),
        cmocka_unit_test(nms_keeps_best_of_overlapping_boxes),
        cmocka_unit_test(nms_uses_plus_one_area_rule),
        cmocka_unit_test(sort_keeps_equal_scores_in_order),
        cmocka_unit_test(letterbox_truncates_like_python_int),
        cmocka_unit_test(scrfd_decode_places_anchors_by_cell),
        cmocka_unit_test(landmark68_reduces_to_five_points),
        cmocka_unit_test(landmark68_crop_is_square_and_inside),
    };
    return cmocka_run_group_tests_name("face units", tests, NULL, NULL);
}

static int model_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pack_finds_scrfd_and_recogniser),
        cmocka_unit_test(pack_finds_default_pack_roles),
        cmocka_unit_test(pack_uses_first_detector_by_name),
        cmocka_unit_test(pack_without_detector_lists_files),
        cmocka_unit_test(pack_without_recogniser_fails),
        cmocka_unit_test(pack_missing_or_empty_directory),
        cmocka_unit_test(pack_rejects_detector_without_landmarks),
        cmocka_unit_test(scrfd_real_run_matches_reference),
        cmocka_unit_test(scrfd_free_size_canvases),
        cmocka_unit_test(aligned_input_checks_size),
        cmocka_unit_test(selection_rules_pick_expected_face),
        cmocka_unit_test(damaged_image_policy),
        cmocka_unit_test(buffalo_layout_opens_unchanged),
    };
    return cmocka_run_group_tests_name("face models", tests, NULL, NULL);
}

int main(void)
{
    bool shared = data_env_dir(shared_dir, sizeof shared_dir, "FACESIM_SHARED_DIR", "");
    bool models = data_env_dir(model_dir, sizeof model_dir, "FACESIM_MODEL_DIR", "");
    data_env_dir(work_dir, sizeof work_dir, "FACESIM_WORK_DIR", "/tmp");

    int failures = unit_tests();
    if (failures)
        return 1;

    char probe_shared[1100], probe_default[1100];
    snprintf(probe_shared, sizeof probe_shared, "%s/models/scrfd_500m_bnkps.onnx", shared_dir);
    snprintf(probe_default, sizeof probe_default, "%s/default/fr_feature.onnx", model_dir);
    if (!shared || !models || !data_exists(probe_shared) || !data_exists(probe_default)) {
        fprintf(stderr,
                "skipping the model tests: need %s and %s (set FACESIM_SHARED_DIR and "
                "FACESIM_MODEL_DIR)\n",
                probe_shared, probe_default);
        return 77;
    }
    return model_tests() ? 1 : 0;
}

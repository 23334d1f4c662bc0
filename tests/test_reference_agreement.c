/*
 * Agreement with insightface's pipeline on the shared face set.
 *
 * The pack is the SCRFD-500M detector (scrfd_500m_bnkps.onnx) with the default
 * pack's recogniser (fr_feature.onnx). Every photo's chosen box and landmarks
 * must lie within 1 px of faces/reference_faces.csv, and every pair's cosine
 * within 0.002 of faces/reference_pairs.csv. Both files come from an OpenCV
 * implementation of insightface's steps. Identity separation: all same-person pairs >= 0.35 and
 * all different-person pairs <= 0.25, with that pack and with the default pack
 * alone. The largest deviations are printed.
 *
 * Needs $FACESIM_SHARED_DIR (faces/, models/) and $FACESIM_MODEL_DIR/default;
 * exits with 77 (skipped) when they are missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "facesim.h"
#include "support/data_files.h"
#include "support/pack_links.h"

#define MAX_PHOTOS 64
#define SAME_PERSON_MIN 0.35f
#define DIFFERENT_PERSON_MAX 0.25f

static char shared_dir[1024];
static char model_dir[1024];
static char work_dir[1024];

typedef struct photo {
    char file[64];
    char identity[16];
    /* reference_faces.csv */
    int width, height, faces;
    float score, box[4], landmarks[10];
    bool has_reference;
    /* facesim results, per pack: 0 = SCRFD + fr_feature, 1 = default pack */
    bool embedded[2];
    facesim_face_embedding result[2];
} photo;

static photo photos[MAX_PHOTOS];
static int n_photos;

static photo *find_photo(const char *file)
{
    for (int i = 0; i < n_photos; i++) {
        if (!strcmp(photos[i].file, file))
            return &photos[i];
    }
    return NULL;
}

static photo *add_photo(const char *file)
{
    photo *p = find_photo(file);
    if (p)
        return p;
    assert_true(n_photos < MAX_PHOTOS);
    p = &photos[n_photos++];
    memset(p, 0, sizeof *p);
    snprintf(p->file, sizeof p->file, "%s", file);
    return p;
}

static void read_references(void)
{
    char path[1200], line[1024];
    char *fields[24];

    snprintf(path, sizeof path, "%s/faces/identities.csv", shared_dir);
    FILE *file = fopen(path, "r");
    assert_non_null(file);
    assert_non_null(fgets(line, sizeof line, file)); /* header */
    while (fgets(line, sizeof line, file)) {
        if (data_csv_split(line, fields, 24) < 2)
            continue;
        photo *p = add_photo(fields[0]);
        snprintf(p->identity, sizeof p->identity, "%s", fields[1]);
    }
    fclose(file);

    snprintf(path, sizeof path, "%s/faces/reference_faces.csv", shared_dir);
    file = fopen(path, "r");
    assert_non_null(file);
    assert_non_null(fgets(line, sizeof line, file));
    while (fgets(line, sizeof line, file)) {
        if (data_csv_split(line, fields, 24) < 19)
            continue;
        photo *p = add_photo(fields[0]);
        p->width = atoi(fields[1]);
        p->height = atoi(fields[2]);
        p->faces = atoi(fields[3]);
        p->score = strtof(fields[4], NULL);
        for (int k = 0; k < 4; k++)
            p->box[k] = strtof(fields[5 + k], NULL);
        for (int k = 0; k < 10; k++)
            p->landmarks[k] = strtof(fields[9 + k], NULL);
        p->has_reference = true;
    }
    fclose(file);
}

static void make_scrfd_pack(char *dir, size_t size)
{
    char default_pack[1200];
    snprintf(default_pack, sizeof default_pack, "%s/default", model_dir);
    assert_true(pack_make_scrfd(dir, size, work_dir, "reference-pack-scrfd", shared_dir,
                                default_pack));
}

/* Embeds every photo with the given pack (0: SCRFD + fr_feature, 1: default pack). */
static void embed_all(int pack)
{
    if (n_photos == 0)
        read_references();
    char dir[1200];
    if (pack == 0)
        make_scrfd_pack(dir, sizeof dir);
    else
        snprintf(dir, sizeof dir, "%s/default", model_dir);

    facesim_context *ctx = pack_open_context(dir);

    for (int i = 0; i < n_photos; i++) {
        photo *p = &photos[i];
        if (p->embedded[pack])
            continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/faces/%.63s", shared_dir, p->file);
        facesim_image *image = NULL;
        if (facesim_image_load(ctx, path, &image) != FACESIM_OK)
            fail_msg("%s", facesim_errmsg(ctx));
        if (facesim_embed_image(ctx, image, NULL, &p->result[pack]) != FACESIM_OK)
            fail_msg("%s: %s", p->file, facesim_errmsg(ctx));
        p->embedded[pack] = true;
        facesim_image_free(image);
    }
    facesim_close(ctx);
}

static void scrfd_faces_match_reference(void **state)
{
    embed_all(0);
    float max_box = 0.0f, max_landmark = 0.0f, max_score = 0.0f;
    const char *worst_box = "", *worst_landmark = "";
    int checked = 0;
    for (int i = 0; i < n_photos; i++) {
        photo *p = &photos[i];
        if (!p->has_reference)
            continue;
        const facesim_face *face = &p->result[0].face;
        assert_int_equal(p->result[0].face_count, p->faces);
        for (int k = 0; k < 4; k++) {
            float d = fabsf(face->box[k] - p->box[k]);
            if (d > max_box) {
                max_box = d;
                worst_box = p->file;
            }
        }
        for (int k = 0; k < 10; k++) {
            float d = fabsf(face->landmarks[k] - p->landmarks[k]);
            if (d > max_landmark) {
                max_landmark = d;
                worst_landmark = p->file;
            }
        }
        float ds = fabsf(face->score - p->score);
        if (ds > max_score)
            max_score = ds;
        checked++;
    }
    printf("reference faces: %d photos, max box deviation %.3f px (%s), max landmark "
           "deviation %.3f px (%s), max score deviation %.5f\n",
           checked, max_box, worst_box, max_landmark, worst_landmark, max_score);
    assert_true(checked >= 30);
    assert_true(max_box <= 1.0f);
    assert_true(max_landmark <= 1.0f);
}

static void scrfd_pairs_match_reference(void **state)
{
    embed_all(0);
    char path[1200], line[1024];
    char *fields[8];
    snprintf(path, sizeof path, "%s/faces/reference_pairs.csv", shared_dir);
    FILE *file = fopen(path, "r");
    assert_non_null(file);
    assert_non_null(fgets(line, sizeof line, file));

    int pairs = 0, same = 0, different = 0;
    float max_deviation = 0.0f, min_same = 2.0f, max_different = -2.0f;
    char worst[160] = "";
    int bad_deviation = 0, bad_same = 0, bad_different = 0;
    while (fgets(line, sizeof line, file)) {
        if (data_csv_split(line, fields, 8) < 4)
            continue;
        photo *a = find_photo(fields[0]), *b = find_photo(fields[1]);
        assert_non_null(a);
        assert_non_null(b);
        int same_person = atoi(fields[2]);
        float reference = strtof(fields[3], NULL);
        float cosine = facesim_cosine(a->result[0].embedding, b->result[0].embedding,
                                      a->result[0].dim);
        float deviation = fabsf(cosine - reference);
        if (deviation > max_deviation) {
            max_deviation = deviation;
            snprintf(worst, sizeof worst, "%.63s-%.63s: %.5f vs %.5f", a->file, b->file, cosine,
                     reference);
        }
        if (deviation > 0.002f)
            bad_deviation++;
        if (same_person) {
            same++;
            if (cosine < min_same)
                min_same = cosine;
            if (cosine < SAME_PERSON_MIN)
                bad_same++;
        } else {
            different++;
            if (cosine > max_different)
                max_different = cosine;
            if (cosine > DIFFERENT_PERSON_MAX)
                bad_different++;
        }
        pairs++;
    }
    fclose(file);
    printf("reference pairs (SCRFD-500M + fr_feature): %d pairs, max cosine deviation %.5f "
           "(%s); %d same-person pairs, lowest %.4f; %d different-person pairs, highest "
           "%.4f\n",
           pairs, max_deviation, worst, same, min_same, different, max_different);
    assert_int_equal(same, 61);
    assert_int_equal(different, 345);
    assert_int_equal(bad_deviation, 0);
    assert_int_equal(bad_same, 0);
    assert_int_equal(bad_different, 0);
}

static void default_pack_separates_identities(void **state)
{
    embed_all(1);
    int same = 0, different = 0, bad_same = 0, bad_different = 0;
    float min_same = 2.0f, max_different = -2.0f;
    char worst_same[160] = "", worst_different[160] = "";
    for (int i = 0; i < n_photos; i++) {
        for (int j = i + 1; j < n_photos; j++) {
            photo *a = &photos[i], *b = &photos[j];
            if (!a->identity[0] || !b->identity[0])
                continue;
            float cosine = facesim_cosine(a->result[1].embedding, b->result[1].embedding,
                                          a->result[1].dim);
            if (!strcmp(a->identity, b->identity)) {
                same++;
                if (cosine < min_same) {
                    min_same = cosine;
                    snprintf(worst_same, sizeof worst_same, "%.63s-%.63s", a->file, b->file);
                }
                bad_same += cosine < SAME_PERSON_MIN;
            } else {
                different++;
                if (cosine > max_different) {
                    max_different = cosine;
                    snprintf(worst_different, sizeof worst_different, "%.63s-%.63s", a->file, b->file);
                }
                bad_different += cosine > DIFFERENT_PERSON_MAX;
            }
        }
    }
    printf("default pack: %d same-person pairs, lowest %.4f (%s); %d different-person pairs, "
           "highest %.4f (%s)\n",
           same, min_same, worst_same, different, max_different, worst_different);
    assert_int_equal(same, 61);
    assert_int_equal(different, 345);
    assert_int_equal(bad_same, 0);
    assert_int_equal(bad_different, 0);
}

int main(void)
{
    if (!data_dirs_from_env("test_reference_agreement", shared_dir, model_dir, work_dir,
                            sizeof shared_dir))
        return DATA_EXIT_SKIPPED;

    char probe[3][1200];
    snprintf(probe[0], sizeof probe[0], "%s/faces/reference_pairs.csv", shared_dir);
    snprintf(probe[1], sizeof probe[1], "%s/" PACK_SHARED_SCRFD, shared_dir);
    snprintf(probe[2], sizeof probe[2], "%s/default/fr_feature.onnx", model_dir);
    const char *const needed[] = {probe[0], probe[1], probe[2]};
    if (!data_require_paths("test_reference_agreement", needed, 3))
        return DATA_EXIT_SKIPPED;

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scrfd_faces_match_reference),
        cmocka_unit_test(scrfd_pairs_match_reference),
        cmocka_unit_test(default_pack_separates_identities),
    };
    return cmocka_run_group_tests_name("reference agreement", tests, NULL, NULL);
}

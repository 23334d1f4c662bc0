/*
 * Face lists, score sorting and greedy non-maximum suppression.
 *
 * The suppression follows insightface's SCRFD.nms (python-package 0.7) step by
 * step, in float32 arithmetic as NumPy evaluates it on float32 boxes, so that the
 * same faces survive as in the Python pipeline.
 */
#include "face/face.h"

#include <stdlib.h>
#include <string.h>

#include "core/checked.h"

int fs_face_list_push(fs_face_list *list, const facesim_face *face, fs_error *err)
{
    if (list->count == list->capacity) {
        int capacity = list->capacity ? list->capacity * 2 : 64;
        size_t bytes;
        if (capacity < list->capacity || !fs_mul_size((size_t)capacity, sizeof *face, &bytes))
            return fs_error_set(err, FACESIM_ERR_LIMIT, "too many face candidates (%d)",
                                list->count);
        facesim_face *grown = realloc(list->faces, bytes);
        if (!grown)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                "out of memory growing the face list to %d entries", capacity);
        list->faces = grown;
        list->capacity = capacity;
    }
    list->faces[list->count++] = *face;
    return FACESIM_OK;
}

void fs_face_list_release(fs_face_list *list)
{
    free(list->faces);
    memset(list, 0, sizeof *list);
}

/* A merge sort keeps equal scores in input order, which qsort does not guarantee. */
static void face_merge_sort(facesim_face *faces, facesim_face *tmp, int count)
{
    if (count < 2)
        return;
    int half = count / 2;
    face_merge_sort(faces, tmp, half);
    face_merge_sort(faces + half, tmp, count - half);

    int i = 0, j = half, k = 0;
    while (i < half && j < count) {
        if (faces[j].score > faces[i].score)
            tmp[k++] = faces[j++];
        else
            tmp[k++] = faces[i++];
    }
    while (i < half)
        tmp[k++] = faces[i++];
    while (j < count)
        tmp[k++] = faces[j++];
    memcpy(faces, tmp, (size_t)count * sizeof *faces);
}

void fs_face_sort_by_score(facesim_face *faces, int count)
{
    if (count < 2)
        return;
    facesim_face *tmp = malloc((size_t)count * sizeof *tmp);
    if (tmp) {
        face_merge_sort(faces, tmp, count);
        free(tmp);
        return;
    }
    /* Out of memory: fall back to an in-place insertion sort, still stable. */
    for (int i = 1; i < count; i++) {
        facesim_face face = faces[i];
        int j = i - 1;
        while (j >= 0 && faces[j].score < face.score) {
            faces[j + 1] = faces[j];
            j--;
        }
        faces[j + 1] = face;
    }
}

static float face_area_plus_one(const facesim_face *face)
{
    return (face->box[2] - face->box[0] + 1.0f) * (face->box[3] - face->box[1] + 1.0f);
}

int fs_face_nms(facesim_face *faces, int count, float threshold, uint8_t *keep_scratch)
{
    if (count < 1)
        return 0;
    uint8_t *alive = keep_scratch;
    memset(alive, 1, (size_t)count);

    for (int i = 0; i < count; i++) {
        if (!alive[i])
            continue;
        const facesim_face *kept = &faces[i];
        float kept_area = face_area_plus_one(kept);
        for (int j = i + 1; j < count; j++) {
            if (!alive[j])
                continue;
            const facesim_face *other = &faces[j];
            float xx1 = kept->box[0] > other->box[0] ? kept->box[0] : other->box[0];
            float yy1 = kept->box[1] > other->box[1] ? kept->box[1] : other->box[1];
            float xx2 = kept->box[2] < other->box[2] ? kept->box[2] : other->box[2];
            float yy2 = kept->box[3] < other->box[3] ? kept->box[3] : other->box[3];
            float w = xx2 - xx1 + 1.0f;
            float h = yy2 - yy1 + 1.0f;
            if (w < 0.0f)
                w = 0.0f;
            if (h < 0.0f)
                h = 0.0f;
            float inter = w * h;
            float iou = inter / (kept_area + face_area_plus_one(other) - inter);
            /* insightface keeps boxes with overlap <= threshold; NaN overlaps are dropped
             * there too, because the comparison is false. */
            if (!(iou <= threshold))
                alive[j] = 0;
        }
    }

    int kept_count = 0;
    for (int i = 0; i < count; i++) {
        if (alive[i])
            faces[kept_count++] = faces[i];
    }
    return kept_count;
}

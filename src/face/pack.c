/*
 * Model packs: a directory of ONNX files whose roles are found from each
 * model's inputs and outputs, as insightface's model_zoo.ModelRouter does.
 *
 * Roles, checked in this order for each file (sorted by name, the first file of
 * a role wins and later ones are listed as duplicates, as FaceAnalysis does):
 * - SCRFD detector: 6, 9, 10 or 15 outputs (insightface: 5 or more);
 * - UltraFace detector (the default pack's fr_detect): one 1x3xHxW input and
 *   outputs [1,N,2] and [1,N,4];
 * - recogniser: Nx3x112x112 input and one [N, D] output;
 * - 68-point landmark model: 1x1x64x64 input and 136 outputs;
 * - anything else is ignored, for example buffalo_l's genderage (96x96 input),
 *   2d106det and 1k3d68 (192x192 input).
 */
#include "face/face.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pack_compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *pack_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

static const char *pack_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Lists dir's *.onnx file names, sorted. */
static int pack_list_files(const char *dir, char ***names_out, int *count_out, fs_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return fs_error_set(err, FACESIM_ERR_IO,
                            "cannot open model directory %s: %s; pass a directory of .onnx "
                            "files such as models/default",
                            dir, strerror(errno));
    char **names = NULL;
    int count = 0, capacity = 0;
    int status = FACESIM_OK;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        size_t len = strlen(entry->d_name);
        if (len <= 5 || strcmp(entry->d_name + len - 5, ".onnx") != 0)
            continue;
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 16;
            char **grown = capacity > 4096 ? NULL : realloc(names, (size_t)capacity * sizeof *grown);
            if (!grown) {
                status = fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                      "%s: out of memory listing model files", dir);
                break;
            }
            names = grown;
        }
        names[count] = pack_strdup(entry->d_name);
        if (!names[count]) {
            status = fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                  "%s: out of memory listing model files", dir);
            break;
        }
        count++;
    }
    closedir(d);
    if (status != FACESIM_OK) {
        for (int i = 0; i < count; i++)
            free(names[i]);
        free(names);
        return status;
    }
    if (count > 1)
        qsort(names, (size_t)count, sizeof *names, pack_compare_names);
    *names_out = names;
    *count_out = count;
    return FACESIM_OK;
}

static void pack_log(fs_pack_log_fn log, void *user_data, int level, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static void pack_log(fs_pack_log_fn log, void *user_data, int level, const char *format, ...)
{
    if (!log)
        return;
    char message[FS_ERROR_MESSAGE_MAX + 256];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    log(user_data, level, message);
}

/* Writes the reason a loaded model has no role, for the pack description. */
static void pack_ignored_reason(fs_engine *engine, char *note, size_t size)
{
    fs_tensor_info input;
    if (fs_engine_input_count(engine) >= 1 && fs_engine_input_info(engine, 0, &input) == FACESIM_OK &&
        input.rank == 4) {
        if (input.dims[2] == 192 && input.dims[3] == 192) {
            snprintf(note, size, "landmark model with a 192x192 input, not used");
            return;
        }
        if (input.dims[2] == 96 && input.dims[3] == 96) {
            snprintf(note, size, "attribute model with a 96x96 input, not used");
            return;
        }
    }
    snprintf(note, size, "inputs and outputs match no role (%d inputs, %d outputs)",
             fs_engine_input_count(engine), fs_engine_output_count(engine));
}

/* Marks a model as ignored because it looked like a role but failed that role's checks. */
static void pack_ignore_unusable(fs_pack_model *model, const char *role, const fs_error *why)
{
    model->role = "ignored";
    snprintf(model->note, sizeof model->note, "not usable as %s: %.200s", role, why->message);
}

/* Finds the role of one loaded model and sets it up when its role is still free. A model
 * that fails its role's checks is listed as ignored, as a model without a role is. */
static void pack_assign_role(fs_pack *pack, fs_pack_model *model)
{
    fs_engine *engine = model->engine;
    fs_error why;
    fs_error_clear(&why);

    if (fs_engine_output_count(engine) >= 5) {
        if (pack->detector_kind != FS_DETECTOR_NONE) {
            model->role = "ignored";
            snprintf(model->note, sizeof model->note, "second detector, not used");
            return;
        }
        if (fs_scrfd_init(&pack->scrfd, engine, model->path, &why) != FACESIM_OK) {
            pack_ignore_unusable(model, "an SCRFD detector", &why);
            return;
        }
        pack->detector_kind = FS_DETECTOR_SCRFD;
        model->role = "detector";
        if (pack->scrfd.fixed_width)
            snprintf(model->note, sizeof model->note, "SCRFD, %d outputs, input %dx%d",
                     pack->scrfd.n_outputs, pack->scrfd.fixed_width, pack->scrfd.fixed_height);
        else
            snprintf(model->note, sizeof model->note, "SCRFD, %d outputs, input of free size",
                     pack->scrfd.n_outputs);
        return;
    }
    if (fs_ultraface_matches(engine)) {
        if (pack->detector_kind != FS_DETECTOR_NONE) {
            model->role = "ignored";
            snprintf(model->note, sizeof model->note, "second detector, not used");
            return;
        }
        if (fs_ultraface_init(&pack->ultraface, engine, model->path, &why) != FACESIM_OK) {
            fs_ultraface_release(&pack->ultraface);
            pack_ignore_unusable(model, "an UltraFace detector", &why);
            return;
        }
        pack->detector_kind = FS_DETECTOR_ULTRAFACE;
        model->role = "detector";
        snprintf(model->note, sizeof model->note, "UltraFace, input %dx%d, %d boxes",
                 pack->ultraface.width, pack->ultraface.height, pack->ultraface.rows);
        return;
    }
    if (fs_recognizer_matches(engine)) {
        if (pack->recognizer.engine) {
            model->role = "ignored";
            snprintf(model->note, sizeof model->note, "second recogniser, %s is used",
                     pack_basename(pack->recognizer.path));
            return;
        }
        if (fs_recognizer_init(&pack->recognizer, engine, model->path, &why) != FACESIM_OK) {
            fs_recognizer_release(&pack->recognizer);
            pack_ignore_unusable(model, "a recogniser", &why);
            return;
        }
        model->role = "recogniser";
        snprintf(model->note, sizeof model->note,
                 "%d-d embedding, mean %g, std %g (%s), threshold %.2f", pack->recognizer.dim,
                 pack->recognizer.mean, pack->recognizer.std,
                 pack->recognizer.normalisation_source, pack->recognizer.threshold);
        return;
    }
    if (fs_landmark68_matches(engine)) {
        if (pack->has_landmark68) {
            model->role = "ignored";
            snprintf(model->note, sizeof model->note, "second 68-point landmark model, not used");
            return;
        }
        if (fs_landmark68_init(&pack->landmark68, engine, model->path, &why) != FACESIM_OK) {
            pack_ignore_unusable(model, "a 68-point landmark model", &why);
            return;
        }
        pack->has_landmark68 = true;
        model->role = "landmark68";
        snprintf(model->note, sizeof model->note, "68 points from a 64x64 grey crop");
        return;
    }
    model->role = "ignored";
    pack_ignored_reason(engine, model->note, sizeof model->note);
}

/* Builds the one-line-per-model description. */
static int pack_describe(fs_pack *pack, fs_error *err)
{
    size_t size = 64;
    for (int i = 0; i < pack->n_models; i++)
        size += strlen(pack->models[i].path) + strlen(pack->models[i].note) + 32;
    pack->description = malloc(size);
    if (!pack->description)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory describing the pack");
    size_t used = 0;
    for (int i = 0; i < pack->n_models; i++) {
        const fs_pack_model *m = &pack->models[i];
        used += (size_t)snprintf(pack->description + used, size - used, "%-10s %s: %s\n", m->role,
                                 pack_basename(m->path), m->note);
    }
    if (used == 0)
        pack->description[0] = '\0';
    return FACESIM_OK;
}

/* Error for a pack that lacks a role the pipeline needs, listing what was found. */
static int pack_missing_role(fs_pack *pack, const char *what, fs_error *err)
{
    char found[FS_ERROR_MESSAGE_MAX / 2];
    size_t used = 0;
    found[0] = '\0';
    for (int i = 0; i < pack->n_models && used < sizeof found; i++) {
        used += (size_t)snprintf(found + used, sizeof found - used, "%s%s (%s: %s)",
                                 i ? "; " : "", pack_basename(pack->models[i].path),
                                 pack->models[i].role, pack->models[i].note);
    }
    return fs_error_set(err, FACESIM_ERR_INVALID_DATA, "model pack %s has %s. Found: %s",
                        pack->dir, what, pack->n_models ? found : "no .onnx files");
}

int fs_pack_open(fs_pack *pack, const char *dir, const fs_engine_params *engine_params,
                 fs_pack_log_fn log, void *log_user_data, fs_error *err)
{
    memset(pack, 0, sizeof *pack);
    pack->dir = pack_strdup(dir);
    if (!pack->dir)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory");

    char **names = NULL;
    int count = 0;
    int status = pack_list_files(dir, &names, &count, err);
    if (status != FACESIM_OK)
        return status;

    pack->models = calloc(count ? (size_t)count : 1, sizeof *pack->models);
    if (!pack->models)
        status = fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; status == FACESIM_OK && i < count; i++) {
        fs_pack_model *model = &pack->models[i];
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        model->path = malloc(len);
        if (!model->path) {
            status = fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory");
            break;
        }
        snprintf(model->path, len, "%s/%s", dir, names[i]);
        pack->n_models++;

        fs_error load_error;
        fs_error_clear(&load_error);
        if (fs_engine_load(model->path, engine_params, &model->engine, &load_error) != FACESIM_OK) {
            model->engine = NULL;
            model->role = "ignored";
            snprintf(model->note, sizeof model->note, "failed to load: %.200s",
                     load_error.message);
            pack_log(log, log_user_data, FACESIM_LOG_WARNING, "ignoring %s: %s", model->path,
                     load_error.message);
            continue;
        }
        pack_assign_role(pack, model);
    }
    for (int i = 0; i < count; i++)
        free(names[i]);
    free(names);
    if (status != FACESIM_OK)
        return status;

    if (pack->detector_kind == FS_DETECTOR_NONE)
        return pack_missing_role(pack, "no face detector (SCRFD or UltraFace)", err);
    if (pack->detector_kind == FS_DETECTOR_SCRFD && !pack->scrfd.has_landmarks)
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: detector has no landmark outputs, so faces cannot be aligned; "
                            "use a *_bnkps model (for example scrfd_500m_bnkps.onnx)",
                            pack->scrfd.path);
    if (pack->detector_kind == FS_DETECTOR_ULTRAFACE && !pack->has_landmark68)
        return pack_missing_role(pack,
                                 "an UltraFace detector but no 68-point landmark model "
                                 "(1x1x64x64 input) to align its faces",
                                 err);
    if (!pack->recognizer.engine)
        return pack_missing_role(pack, "no recogniser (Nx3x112x112 input, one [N, D] output)",
                                 err);
    return pack_describe(pack, err);
}

void fs_pack_release(fs_pack *pack)
{
    fs_scrfd_release(&pack->scrfd);
    fs_ultraface_release(&pack->ultraface);
    fs_recognizer_release(&pack->recognizer);
    for (int i = 0; i < pack->n_models; i++) {
        fs_engine_free(pack->models[i].engine);
        free(pack->models[i].path);
    }
    free(pack->models);
    free(pack->description);
    free(pack->dir);
    memset(pack, 0, sizeof *pack);
}

void fs_face_set_flags(facesim_face *face, int width, int height)
{
    face->flags = 0;
    for (int p = 0; p < 5; p++) {
        float x = face->landmarks[2 * p], y = face->landmarks[2 * p + 1];
        if (!(x >= 0.0f && y >= 0.0f && x <= width - 1.0f && y <= height - 1.0f))
            face->flags |= FACESIM_FACE_LANDMARKS_OUTSIDE;
    }

    /* A box within 5% of its own size from an image edge, or beyond it. */
    float margin_x = 0.05f * (face->box[2] - face->box[0]);
    float margin_y = 0.05f * (face->box[3] - face->box[1]);
    if (!(face->box[0] >= margin_x && face->box[1] >= margin_y &&
          face->box[2] <= width - 1.0f - margin_x && face->box[3] <= height - 1.0f - margin_y))
        face->flags |= FACESIM_FACE_AT_BORDER;
}

int fs_pack_detect(fs_pack *pack, const fs_image *image, const fs_detect_params *params,
                   fs_face_list *out, fs_error *err)
{
    int status;
    if (pack->detector_kind == FS_DETECTOR_SCRFD) {
        status = fs_scrfd_detect(&pack->scrfd, image, params, out, err);
    } else {
        status = fs_ultraface_detect(&pack->ultraface, image, params, out, err);
        /* Landmarks come from the 68-point model; faces too small for its crop are
         * dropped because they cannot be aligned. */
        int kept = 0;
        for (int i = 0; status == FACESIM_OK && i < out->count; i++) {
            facesim_face face = out->faces[i];
            fs_error landmark_error;
            int landmark_status =
                fs_landmark68_predict(&pack->landmark68, image, &face, &landmark_error);
            if (landmark_status == FACESIM_ERR_NO_FACE)
                continue;
            if (landmark_status != FACESIM_OK) {
                if (err)
                    *err = landmark_error;
                status = landmark_status;
                break;
            }
            out->faces[kept++] = face;
        }
        if (status == FACESIM_OK)
            out->count = kept;
    }
    if (status != FACESIM_OK)
        return status;
    for (int i = 0; i < out->count; i++)
        fs_face_set_flags(&out->faces[i], image->width, image->height);
    return FACESIM_OK;
}

/*
 * Public API: detection, alignment, embedding and comparison.
 */
#include "api/api.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fraction of each side added by pad_retry, and the grey value of the border. */
#define API_PAD_FRACTION 0.25
#define API_PAD_VALUE 127

static int api_check_image(facesim_context *ctx, const facesim_image *image, const char *call)
{
    if (!image || !image->image.pixels || image->image.width < 1 || image->image.height < 1)
        return fs_error_set(&ctx->error, FACESIM_ERR_INVALID_ARGUMENT, "%s: image is NULL or empty",
                            call);
    return FACESIM_OK;
}

int facesim_detect(facesim_context *ctx, const facesim_image *image, facesim_face *faces,
                   int max_faces, int *n_faces)
{
    if (!ctx)
        return fs_error_set(fs_api_error(NULL), FACESIM_ERR_INVALID_ARGUMENT,
                            "facesim_detect: ctx is NULL");
    fs_api_begin(ctx);
    int status = api_check_image(ctx, image, "facesim_detect");
    if (status != FACESIM_OK)
        return status;
    if (!n_faces || max_faces < 0 || (max_faces > 0 && !faces))
        return fs_error_set(&ctx->error, FACESIM_ERR_INVALID_ARGUMENT,
                            "facesim_detect: n_faces is NULL, or faces is NULL with max_faces %d",
                            max_faces);
    *n_faces = 0;

    fs_detect_params params;
    fs_api_detect_params(ctx, &params);
    status = fs_pack_detect(&ctx->pack, &image->image, &params, &ctx->faces, &ctx->error);
    if (status != FACESIM_OK)
        return status;
    int count = ctx->faces.count;
    for (int i = 0; i < count && i < max_faces; i++)
        faces[i] = ctx->faces.faces[i];
    *n_faces = count;
    return FACESIM_OK;
}

int facesim_align(facesim_context *ctx, const facesim_image *image, const facesim_face *face,
                  uint8_t *crop)
{
    if (!ctx)
        return fs_error_set(fs_api_error(NULL), FACESIM_ERR_INVALID_ARGUMENT,
                            "facesim_align: ctx is NULL");
    fs_api_begin(ctx);
    int status = api_check_image(ctx, image, "facesim_align");
    if (status != FACESIM_OK)
        return status;
    if (!face || !crop)
        return fs_error_set(&ctx->error, FACESIM_ERR_INVALID_ARGUMENT,
                            "facesim_align: face or crop is NULL");
    fs_image aligned = {0};
    status = fs_align_face(&image->image, face->landmarks, &aligned, &ctx->error);
    if (status != FACESIM_OK)
        return status;
    memcpy(crop, aligned.pixels, (size_t)FACESIM_ALIGNED_SIZE * FACESIM_ALIGNED_SIZE * 3);
    fs_image_release(&aligned);
    return FACESIM_OK;
}

int facesim_embed_crops(facesim_context *ctx, const uint8_t *crops, int n, float *embeddings)
{
    if (!ctx)
        return fs_error_set(fs_api_error(NULL), FACESIM_ERR_INVALID_ARGUMENT,
                            "facesim_embed_crops: ctx is NULL");
    fs_api_begin(ctx);
    if (!crops || !embeddings || n < 1)
        return fs_error_set(&ctx->error, FACESIM_ERR_INVALID_ARGUMENT,
                            "facesim_embed_crops: crops or embeddings is NULL, or n (%d) < 1", n);
    return fs_recognizer_embed(&ctx->pack.recognizer, crops, n, embeddings, &ctx->error);
}

float facesim_cosine(const float *a, const float *b, int n)
{
    if (!a || !b || n < 1)
        return 0.0f;
    double dot = 0.0, norm_a = 0.0, norm_b = 0.0;
    for (int i = 0; i < n; i++) {
        dot += (double)a[i] * b[i];
        norm_a += (double)a[i] * a[i];
        norm_b += (double)b[i] * b[i];
    }
    if (!(norm_a > 0.0) || !(norm_b > 0.0))
        return 0.0f;
    return (float)(dot / (sqrt(norm_a) * sqrt(norm_b)));
}

void facesim_default_embed_options(facesim_embed_options *options)
{
    memset(options, 0, sizeof *options);
    options->select = FACESIM_SELECT_LARGEST;
    options->index = 0;
    options->pad_retry = 0;
    options->aligned_input = 0;
}

/* Index of the face chosen by options among count faces (score order). */
static int api_select_face(facesim_context *ctx, const facesim_face *faces, int count,
                           const fs_image *image, const facesim_embed_options *options,
                           int *chosen)
{
    switch (options->select) {
    case FACESIM_SELECT_LARGEST: {
        /* The reference evaluation: argmax of (x2 - x1) * (y2 - y1), first on ties. */
        int best = 0;
        float best_area = -1.0f;
        for (int i = 0; i < count; i++) {
            float area = (faces[i].box[2] - faces[i].box[0]) * (faces[i].box[3] - faces[i].box[1]);
            if (area > best_area) {
                best_area = area;
                best = i;
            }
        }
        *chosen = best;
        return FACESIM_OK;
    }
    case FACESIM_SELECT_SCORE:
        *chosen = 0;
        return FACESIM_OK;
    case FACESIM_SELECT_CENTER: {
        double cx = (image->width - 1) / 2.0, cy = (image->height - 1) / 2.0;
        int best = 0;
        double best_distance = INFINITY;
        for (int i = 0; i < count; i++) {
            double fx = (faces[i].box[0] + faces[i].box[2]) / 2.0 - cx;
            double fy = (faces[i].box[1] + faces[i].box[3]) / 2.0 - cy;
            double distance = fx * fx + fy * fy;
            if (distance < best_distance) {
                best_distance = distance;
                best = i;
            }
        }
        *chosen = best;
        return FACESIM_OK;
    }
    case FACESIM_SELECT_INDEX:
        if (options->index < 0 || options->index >= count)
            return fs_error_set(&ctx->error, FACESIM_ERR_INVALID_ARGUMENT,
                                "face index %d requested but %d face%s found (valid: 0..%d)",
                                options->index, count, count == 1 ? " was" : "s were", count - 1);
        *chosen = options->index;
        return FACESIM_OK;
    }
    return fs_error_set(&ctx->error, FACESIM_ERR_INVALID_ARGUMENT,
                        "unknown face selection %d; use a facesim_select value",
                        (int)options->select);
}

/* Embeds an image that is already a 112x112 ArcFace crop. */
static int api_embed_aligned(facesim_context *ctx, const fs_image *image,
                             facesim_face_embedding *out)
{
    if (image->width != FACESIM_ALIGNED_SIZE || image->height != FACESIM_ALIGNED_SIZE)
        return fs_error_set(&ctx->error, FACESIM_ERR_INVALID_ARGUMENT,
                            "aligned input must be a %dx%d ArcFace crop, this image is %dx%d; "
                            "turn off aligned_input (CLI: drop --aligned) to detect and align "
                            "the face instead",
                            FACESIM_ALIGNED_SIZE, FACESIM_ALIGNED_SIZE, image->width,
                            image->height);
    return fs_recognizer_embed(&ctx->pack.recognizer, image->pixels, 1, out->embedding,
                               &ctx->error);
}

/* Detects on a copy of image padded with grey; faces come back in source space. */
static int api_detect_padded(facesim_context *ctx, const fs_image *image, fs_image *padded,
                             int *left, int *top)
{
    *left = (int)lround(image->width * API_PAD_FRACTION);
    *top = (int)lround(image->height * API_PAD_FRACTION);
    uint64_t padded_pixels = (uint64_t)(image->width + 2 * *left) * (image->height + 2 * *top);
    if (padded_pixels > ctx->params.max_pixels) {
        fs_api_log(ctx, FACESIM_LOG_WARNING,
                   "skipping the padded retry: the padded image would have %llu pixels, more "
                   "than max_pixels (%llu)",
                   (unsigned long long)padded_pixels,
                   (unsigned long long)ctx->params.max_pixels);
        ctx->faces.count = 0;
        return FACESIM_OK;
    }
    int status = fs_image_pad(image, *left, *top, *left, *top, API_PAD_VALUE, padded, &ctx->error);
    if (status != FACESIM_OK)
        return status;
    fs_detect_params params;
    fs_api_detect_params(ctx, &params);
    return fs_pack_detect(&ctx->pack, padded, &params, &ctx->faces, &ctx->error);
}

static void api_face_to_source(facesim_face *face, const fs_image *image, int left, int top)
{
    face->box[0] -= left;
    face->box[2] -= left;
    face->box[1] -= top;
    face->box[3] -= top;
    for (int p = 0; p < 5; p++) {
        face->landmarks[2 * p] -= left;
        face->landmarks[2 * p + 1] -= top;
    }
    fs_face_set_flags(face, image->width, image->height);
}

int facesim_embed_image(facesim_context *ctx, const facesim_image *image,
                        const facesim_embed_options *options, facesim_face_embedding *out)
{
    if (!ctx)
        return fs_error_set(fs_api_error(NULL), FACESIM_ERR_INVALID_ARGUMENT,
                            "facesim_embed_image: ctx is NULL");
    fs_api_begin(ctx);
    int status = api_check_image(ctx, image, "facesim_embed_image");
    if (status != FACESIM_OK)
        return status;
    if (!out)
        return fs_error_set(&ctx->error, FACESIM_ERR_INVALID_ARGUMENT,
                            "facesim_embed_image: out is NULL");
    facesim_embed_options defaults;
    if (!options) {
        facesim_default_embed_options(&defaults);
        options = &defaults;
    }
    memset(out, 0, sizeof *out);
    out->dim = ctx->pack.recognizer.dim;
    const fs_image *source = &image->image;

    if (options->aligned_input)
        return api_embed_aligned(ctx, source, out);

    fs_detect_params params;
    fs_api_detect_params(ctx, &params);
    status = fs_pack_detect(&ctx->pack, source, &params, &ctx->faces, &ctx->error);
    if (status != FACESIM_OK)
        return status;

    fs_image padded = {0};
    int left = 0, top = 0;
    if (ctx->faces.count == 0 && options->pad_retry) {
        status = api_detect_padded(ctx, source, &padded, &left, &top);
        if (status != FACESIM_OK) {
            fs_image_release(&padded);
            return status;
        }
        if (ctx->faces.count > 0) {
            out->padded = 1;
            fs_api_log(ctx, FACESIM_LOG_WARNING,
                       "no face in the %dx%d image; found %d after padding it by %d%% with grey",
                       source->width, source->height, ctx->faces.count,
                       (int)(API_PAD_FRACTION * 100));
        }
    }
    out->face_count = ctx->faces.count;
    if (ctx->faces.count == 0) {
        fs_image_release(&padded);
        return fs_error_set(&ctx->error, FACESIM_ERR_NO_FACE,
                            "no face found in the %dx%d image%s; for a 112x112 ArcFace crop use "
                            "aligned_input (CLI: --aligned)%s",
                            source->width, source->height,
                            options->pad_retry ? ", also after padding" : "",
                            options->pad_retry ? ""
                                               : "; for a tightly cropped face try pad_retry "
                                                 "(CLI: --pad-retry)");
    }

    int chosen = 0;
    status = api_select_face(ctx, ctx->faces.faces, ctx->faces.count, source, options, &chosen);
    if (status != FACESIM_OK) {
        fs_image_release(&padded);
        return status;
    }
    facesim_face face = ctx->faces.faces[chosen];

    /* Align in the space the landmarks are in: the padded image when padding was used,
     * so the border beyond the source is grey as the detector saw it. */
    fs_image crop = {0};
    status = fs_align_face(out->padded ? &padded : source, face.landmarks, &crop, &ctx->error);
    if (out->padded)
        api_face_to_source(&face, source, left, top);
    fs_image_release(&padded);
    if (status != FACESIM_OK)
        return status;
    out->face = face;
    if (face.flags & FACESIM_FACE_LANDMARKS_OUTSIDE)
        fs_api_log(ctx, FACESIM_LOG_WARNING,
                   "a landmark of the chosen face lies outside the image, so the face is cut "
                   "off and its similarity is less reliable");
    else if (face.flags & FACESIM_FACE_AT_BORDER)
        fs_api_log(ctx, FACESIM_LOG_WARNING,
                   "the chosen face's box reaches the image border, so the face may be cut off "
                   "and its similarity less reliable");

    status = fs_recognizer_embed(&ctx->pack.recognizer, crop.pixels, 1, out->embedding,
                                 &ctx->error);
    fs_image_release(&crop);
    return status;
}

/* Loads and embeds one file of a comparison; errors start with the path. */
static int api_embed_file(facesim_context *ctx, const char *path,
                          const facesim_embed_options *options, facesim_face_embedding *out)
{
    facesim_image *image = NULL;
    int status = facesim_image_load(ctx, path, &image);
    if (status != FACESIM_OK)
        return status;
    status = facesim_embed_image(ctx, image, options, out);
    facesim_image_free(image);
    if (status != FACESIM_OK)
        fs_error_prefix(&ctx->error, "%s", path);
    return status;
}

int facesim_compare_files(facesim_context *ctx, const char *path_a, const char *path_b,
                          const facesim_embed_options *options, facesim_comparison *out)
{
    if (!ctx)
        return fs_error_set(fs_api_error(NULL), FACESIM_ERR_INVALID_ARGUMENT,
                            "facesim_compare_files: ctx is NULL");
    fs_api_begin(ctx);
    if (!path_a || !path_b || !out)
        return fs_error_set(&ctx->error, FACESIM_ERR_INVALID_ARGUMENT,
                            "facesim_compare_files: a path or out is NULL");
    memset(out, 0, sizeof *out);
    int status = api_embed_file(ctx, path_a, options, &out->a);
    if (status != FACESIM_OK)
        return status;
    status = api_embed_file(ctx, path_b, options, &out->b);
    if (status != FACESIM_OK)
        return status;
    out->cosine = facesim_cosine(out->a.embedding, out->b.embedding, out->a.dim);
    out->same_person = out->cosine >= facesim_default_threshold(ctx);
    return FACESIM_OK;
}

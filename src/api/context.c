/*
 * Public API: parameters, opening and closing a context, error messages and
 * the pack description.
 */
#include "api/api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Errors of calls made without a context (facesim_open, facesim_image_load(NULL, ...)). */
static _Thread_local fs_error api_thread_error;

fs_error *fs_api_error(facesim_context *ctx)
{
    return ctx ? &ctx->error : &api_thread_error;
}

void fs_api_begin(facesim_context *ctx)
{
    fs_error_clear(fs_api_error(ctx));
}

void fs_api_log(facesim_context *ctx, int level, const char *format, ...)
{
    if (!ctx || !ctx->params.log)
        return;
    char message[FS_ERROR_MESSAGE_MAX + 256];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    ctx->params.log(ctx->params.log_user_data, level, message);
}

void fs_api_detect_params(const facesim_context *ctx, fs_detect_params *params)
{
    params->det_size = ctx->params.det_size;
    params->score_threshold = ctx->params.det_threshold;
    params->nms_threshold = ctx->params.nms_threshold;
}

void facesim_default_params(facesim_params *params)
{
    memset(params, 0, sizeof *params);
    params->model_dir = "models/default";
    params->threads = 0;
    params->det_size = 640;
    params->det_threshold = -1.0f;
    params->nms_threshold = 0.4f;
    params->max_pixels = FS_IMAGE_DEFAULT_MAX_PIXELS;
    params->log = NULL;
    params->log_user_data = NULL;
}

static int api_check_params(const facesim_params *params, fs_error *err)
{
    if (!params->model_dir || !params->model_dir[0])
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "model_dir is empty; set it to a directory of .onnx files");
    if (params->threads < 0 || params->threads > 1024)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "threads is %d; use 0 (all cores) or a count up to 1024",
                            params->threads);
    if (params->det_size < 32 || params->det_size > 8192 || params->det_size % 32)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "det_size is %d; use a multiple of 32 from 32 to 8192, such as 640",
                            params->det_size);
    if (!(params->det_threshold < 1.0f))
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "det_threshold is %g; use a score below 1, or a negative value for "
                            "the detector's default",
                            params->det_threshold);
    if (!(params->nms_threshold > 0.0f && params->nms_threshold <= 1.0f))
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "nms_threshold is %g; use an IoU in (0, 1], such as 0.4",
                            params->nms_threshold);
    if (params->max_pixels == 0)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "max_pixels is 0; use a positive pixel count such as 100000000");
    return FACESIM_OK;
}

static void api_pack_log(void *user_data, int level, const char *message)
{
    facesim_context *ctx = user_data;
    if (ctx->params.log)
        ctx->params.log(ctx->params.log_user_data, level, message);
}

int facesim_open(const facesim_params *params, facesim_context **ctx_out)
{
    fs_api_begin(NULL);
    fs_error *err = fs_api_error(NULL);
    if (!ctx_out)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "facesim_open: ctx is NULL");
    *ctx_out = NULL;

    facesim_params defaults;
    if (!params) {
        facesim_default_params(&defaults);
        params = &defaults;
    }
    int status = api_check_params(params, err);
    if (status != FACESIM_OK)
        return status;

    facesim_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory creating the context");
    ctx->params = *params;
    size_t len = strlen(params->model_dir) + 1;
    ctx->model_dir_copy = malloc(len);
    if (!ctx->model_dir_copy) {
        facesim_close(ctx);
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory creating the context");
    }
    memcpy(ctx->model_dir_copy, params->model_dir, len);
    /* Remove trailing slashes so that file names in messages read dir/file.onnx. */
    while (len > 2 && ctx->model_dir_copy[len - 2] == '/')
        ctx->model_dir_copy[--len - 1] = '\0';
    ctx->params.model_dir = ctx->model_dir_copy;

    fs_engine_params engine_params;
    fs_engine_default_params(&engine_params);
    engine_params.threads = params->threads;
    status = fs_pack_open(&ctx->pack, ctx->model_dir_copy, &engine_params, api_pack_log, ctx, err);
    if (status != FACESIM_OK) {
        facesim_close(ctx);
        return status;
    }
    fs_api_log(ctx, FACESIM_LOG_INFO, "opened model pack %s:\n%s", ctx->model_dir_copy,
               ctx->pack.description);
    *ctx_out = ctx;
    return FACESIM_OK;
}

void facesim_close(facesim_context *ctx)
{
    if (!ctx)
        return;
    fs_pack_release(&ctx->pack);
    fs_face_list_release(&ctx->faces);
    free(ctx->model_dir_copy);
    free(ctx);
}

const char *facesim_errmsg(const facesim_context *ctx)
{
    return ctx ? ctx->error.message : api_thread_error.message;
}

const char *facesim_last_error(void)
{
    return api_thread_error.message;
}

const char *facesim_describe_pack(const facesim_context *ctx)
{
    return ctx && ctx->pack.description ? ctx->pack.description : "";
}

float facesim_default_threshold(const facesim_context *ctx)
{
    return ctx ? ctx->pack.recognizer.threshold : 0.0f;
}

int facesim_embedding_size(const facesim_context *ctx)
{
    return ctx ? ctx->pack.recognizer.dim : 0;
}

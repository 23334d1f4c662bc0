/*
 * Internals shared by the public API's source files: the context and image
 * structs and the error and log helpers.
 */
#ifndef FS_API_API_H
#define FS_API_API_H

#include "core/error.h"
#include "face/face.h"
#include "facesim.h"
#include "image/image.h"

struct facesim_context {
    facesim_params params;  /* model_dir points at model_dir_copy */
    char *model_dir_copy;
    fs_pack pack;
    fs_error error;         /* last failed call on this context */
    fs_face_list faces;     /* detection results, reused between calls */
};

struct facesim_image {
    fs_image image;
};

/* The error record of ctx, or this thread's record when ctx is NULL. */
fs_error *fs_api_error(facesim_context *ctx);

/* Clears the error record of a call that starts now. */
void fs_api_begin(facesim_context *ctx);

/* Sends a message to ctx's log callback, if any. ctx may be NULL (nothing is logged). */
void fs_api_log(facesim_context *ctx, int level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Detection parameters from the context's options. */
void fs_api_detect_params(const facesim_context *ctx, fs_detect_params *params);

#endif /* FS_API_API_H */

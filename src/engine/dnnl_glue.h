/*
 * Shared oneDNN state (version 2.6, C API): one CPU engine and one stream per
 * fs_engine, created by the executor and handed to ops through fs_run_ctx.
 */
#ifndef FS_ENGINE_DNNL_GLUE_H
#define FS_ENGINE_DNNL_GLUE_H

#include <oneapi/dnnl/dnnl.h>

#include "core/error.h"

typedef struct fs_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
} fs_dnnl;

/* Creates a CPU engine and an in-order stream. */
int fs_dnnl_create(fs_dnnl **out, fs_error *err);

/* Releases the stream and engine. Accepts NULL. */
void fs_dnnl_free(fs_dnnl *dnnl);

/* Turns a failed dnnl_status_t into an fs_error naming the call and the node. Returns
 * FACESIM_OK for dnnl_success. */
int fs_dnnl_check(dnnl_status_t status, const char *call, const char *node_name,
                  fs_error *err);

#endif /* FS_ENGINE_DNNL_GLUE_H */

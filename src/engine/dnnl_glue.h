/*
 * Shared oneDNN state (version 2.6, C API): one CPU engine and one stream per
 * fs_engine, created by the executor and handed to ops through fs_run_ctx.
 */
#ifndef FS_ENGINE_DNNL_GLUE_H
#define FS_ENGINE_DNNL_GLUE_H

#include <stdbool.h>
#include <stdint.h>

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

/* Helpers shared by the oneDNN-backed ops (conv, pooling, gemm, matmul). */

/* Initialises an f32 memory descriptor of the given rank (1 to 6) in row-major order. */
int fs_dnnl_plain_desc(dnnl_memory_desc_t *desc, int rank, const int64_t *dims,
                       const char *node_name, fs_error *err);

/* Initialises a rank-4 f32 descriptor for logical dims N, C, H, W stored as NHWC when nhwc is
 * true and as NCHW otherwise. */
int fs_dnnl_activation_desc(dnnl_memory_desc_t *desc, const int64_t dims[4], bool nhwc,
                            const char *node_name, fs_error *err);

/*
 * Creates the primitive descriptor and the primitive for op_desc. attr may be NULL; the
 * helper always sets the user scratchpad mode on a copy of it, so *scratch_bytes is the
 * buffer the caller must bind as DNNL_ARG_SCRATCHPAD. On failure nothing is left allocated.
 */
int fs_dnnl_primitive_create(fs_dnnl *dnnl, const void *op_desc,
                             const_dnnl_primitive_attr_t attr, const char *node_name,
                             dnnl_primitive_desc_t *pd, dnnl_primitive_t *primitive,
                             size_t *scratch_bytes, fs_error *err);

/* Creates a memory object for desc with no buffer; run binds one with
 * dnnl_memory_set_data_handle. */
int fs_dnnl_memory_unbound(fs_dnnl *dnnl, const dnnl_memory_desc_t *desc,
                           const char *node_name, dnnl_memory_t *memory, fs_error *err);

/* Returns the implementation oneDNN chose for pd (for example "brg:avx512_core"), or "". */
const char *fs_dnnl_impl_name(const_dnnl_primitive_desc_t pd);

/* Executes primitive on the stream and waits for it. Errors name the node. */
int fs_dnnl_execute(fs_dnnl *dnnl, dnnl_primitive_t primitive, int n_args,
                    const dnnl_exec_arg_t *args, const char *node_name, fs_error *err);

/* Destroys the non-NULL ones of count memories, the primitive and its descriptor. */
void fs_dnnl_destroy_kernel(dnnl_primitive_t primitive, dnnl_primitive_desc_t pd,
                            const dnnl_memory_t *memories, size_t count);

#endif /* FS_ENGINE_DNNL_GLUE_H */

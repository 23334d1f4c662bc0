/*
 * Helpers shared by the plain-C operator files: error messages that name the
 * node, input checks, axis normalisation, multidirectional broadcasting,
 * reading constant int64 inputs (shapes, axes, starts) and strided copies.
 *
 * Conventions used by every op file:
 * - Errors start with "node '<name>' (<op>): " and name the input or
 *   attribute at fault. A model outside the ONNX spec is FACESIM_ERR_INVALID_DATA;
 *   a valid model using something facesim lacks is FACESIM_ERR_UNSUPPORTED.
 * - Inputs that decide an output shape (Reshape's shape, Slice's starts, ...) must
 *   be constants when the graph is planned. Constant folding makes shape
 *   subgraphs (Shape -> Gather -> Concat) constant before their consumers are
 *   inferred.
 * - run never allocates. Ops that accept NHWC set their output layout in
 *   prepare. Constant folding calls run without prepare, with all tensors plain.
 */
#ifndef FS_ENGINE_OPS_COMMON_H
#define FS_ENGINE_OPS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/op.h"

/* Element count above which an elementwise loop is split across threads. Below it,
 * waking the threads is estimated to cost more than the work saves. */
#define FS_OPS_PARALLEL_MIN 65536

/* Bit for a dtype in the `allowed` masks of fs_ops_check_input. */
#define FS_OPS_TYPE(dtype) (1u << (unsigned)(dtype))
#define FS_OPS_FLOAT FS_OPS_TYPE(FS_DTYPE_FLOAT)
#define FS_OPS_INT64 FS_OPS_TYPE(FS_DTYPE_INT64)
#define FS_OPS_INT32 FS_OPS_TYPE(FS_DTYPE_INT32)
#define FS_OPS_BOOL FS_OPS_TYPE(FS_DTYPE_BOOL)
#define FS_OPS_ANY_TYPE                                                                    \
    (FS_OPS_FLOAT | FS_OPS_INT64 | FS_OPS_INT32 | FS_OPS_BOOL | FS_OPS_TYPE(FS_DTYPE_UINT8) | \
     FS_OPS_TYPE(FS_DTYPE_INT8))

/* Stores code and "node '<name>' (<op>): <message>" in err; returns code. */
int fs_ops_error(fs_error *err, const fs_node *node, int code, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Checks that input `index` is present, has a known shape and one of the dtypes in
 * `allowed` (FS_OPS_* bits). The error names the input by position and value name and
 * lists the accepted types.
 */
int fs_ops_check_input(const fs_graph *graph, const fs_node *node, int index, unsigned allowed,
                       fs_error *err);

/* Turns axis (valid range -rank .. rank-1) into 0 .. rank-1. `what` names the attribute
 * or input in the error, for example "attribute 'axis'". */
int fs_ops_normalize_axis(const fs_node *node, const char *what, int64_t axis, int rank,
                          int *out, fs_error *err);

/* Sets output `index` of node to dtype and shape after checking that its element count
 * and byte size fit in int64 and size_t (FACESIM_ERR_LIMIT otherwise). */
int fs_ops_set_output(fs_graph *graph, const fs_node *node, int index, fs_dtype dtype,
                      int rank, const int64_t *dims, fs_error *err);

/* Computes the multidirectional (numpy-style) broadcast of shapes a and b. */
int fs_ops_broadcast_shape(const fs_node *node, int rank_a, const int64_t *dims_a, int rank_b,
                           const int64_t *dims_b, int *rank, int64_t *dims, fs_error *err);

/*
 * Reads constant input `index` (int64 or int32, rank 0 or 1) into out[0 .. *count-1].
 * Fails when the input is not a constant at plan time, has more than max_count
 * elements or another type. `what` names the input, for example "shape".
 */
int fs_ops_read_ints(const fs_graph *graph, const fs_node *node, int index, const char *what,
                     int64_t *out, int max_count, int *count, fs_error *err);

/* Same for a constant float input (Resize and Upsample scales). */
int fs_ops_read_floats(const fs_graph *graph, const fs_node *node, int index,
                       const char *what, float *out, int max_count, int *count, fs_error *err);

/* True when input `index` is present and a constant (its data known at plan time). */
bool fs_ops_input_is_constant(const fs_graph *graph, const fs_node *node, int index);

/* Row-major strides, in elements, of a tensor with the given dims. */
void fs_ops_strides(int rank, const int64_t *dims, int64_t *strides);

/*
 * Strides, in elements and in logical (NCHW) order, of a tensor stored in `layout`.
 * For FS_LAYOUT_NHWC (rank 4) the channel stride is 1; otherwise this is
 * fs_ops_strides.
 */
void fs_ops_layout_strides(fs_layout layout, int rank, const int64_t *dims, int64_t *strides);

/*
 * Copies the rank-dimensional box `dims` from src to dst, element (i0, i1, ...) going
 * from src + sum(i_k * src_strides[k]) to dst + sum(i_k * dst_strides[k]), strides in
 * elements of elem_size bytes (1, 2, 4 or 8; other sizes are copied bytewise).
 * Contiguous runs become memcpy. Uses up to `threads` threads for large boxes.
 */
void fs_ops_copy_strided(void *dst, const int64_t *dst_strides, const void *src,
                         const int64_t *src_strides, int rank, const int64_t *dims,
                         size_t elem_size, int threads);

/* Threads a loop over `work` elements should use: 1 below FS_OPS_PARALLEL_MIN,
 * otherwise ctx->threads (at least 1). */
static inline int fs_ops_threads(const fs_run_ctx *ctx, int64_t work)
{
    if (work < FS_OPS_PARALLEL_MIN || ctx->threads <= 1)
        return 1;
    return ctx->threads;
}

static inline void *fs_ops_input_data(const fs_run_ctx *ctx, const fs_node *node, int index)
{
    return ctx->tensors[node->inputs[index]].data;
}

static inline void *fs_ops_output_data(const fs_run_ctx *ctx, const fs_node *node, int index)
{
    return ctx->tensors[node->outputs[index]].data;
}

static inline fs_layout fs_ops_input_layout(const fs_run_ctx *ctx, const fs_node *node,
                                            int index)
{
    return ctx->tensors[node->inputs[index]].layout;
}

#endif /* FS_ENGINE_OPS_COMMON_H */

/*
 * Binary elementwise ops with broadcasting: Add, Sub, Mul, Div, Pow
 * (multidirectional, float32, int64 and int32) and PRelu (float32, the slope
 * broadcast to the input's shape).
 *
 * Layouts: run works for any mix of plain and NHWC inputs, because it walks each
 * input through its own strides. accepts_layouts admits NHWC only where that walk
 * is cheap: a rank-4 output whose inputs are NHWC or have H = W = 1 (per-channel
 * constants, scalars), since such inputs have the same memory in both layouts.
 * The output is then NHWC.
 */
#include <math.h>
#include <string.h>

#include "engine/ops/ops_common.h"

typedef enum binary_kind {
    BINARY_ADD,
    BINARY_SUB,
    BINARY_MUL,
    BINARY_DIV,
    BINARY_POW,
    BINARY_PRELU
} binary_kind;

/* The iteration space of a run: output dims in memory order with contiguous
 * neighbours merged, and each input's stride (0 where it is broadcast) per dim. */
typedef struct binary_plan {
    int rank;
    int64_t dims[FS_MAX_RANK];
    int64_t stride_a[FS_MAX_RANK];
    int64_t stride_b[FS_MAX_RANK];
} binary_plan;

static int binary_infer(fs_graph *graph, fs_node *node, binary_kind kind, fs_error *err)
{
    int status = fs_op_check_arity(node, 2, 2, 1, err);
    if (status != FACESIM_OK)
        return status;
    unsigned allowed = kind == BINARY_PRELU ? FS_OPS_FLOAT
                                            : FS_OPS_FLOAT | FS_OPS_INT64 | FS_OPS_INT32;
    status = fs_ops_check_input(graph, node, 0, allowed, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 1, allowed, err);
    if (status != FACESIM_OK)
        return status;

    const fs_value *a = fs_node_input(graph, node, 0);
    const fs_value *b = fs_node_input(graph, node, 1);
    if (a->dtype != b->dtype)
        return fs_ops_error(err, node,
                            kind == BINARY_POW ? FACESIM_ERR_UNSUPPORTED
                                               : FACESIM_ERR_INVALID_DATA,
                            "inputs have different types (%s and %s)%s",
                            fs_dtype_name(a->dtype), fs_dtype_name(b->dtype),
                            kind == BINARY_POW ? "; facesim's Pow needs equal types" : "");

    int rank;
    int64_t dims[FS_MAX_RANK];
    status = fs_ops_broadcast_shape(node, a->rank, a->dims, b->rank, b->dims, &rank, dims, err);
    if (status != FACESIM_OK)
        return status;
    if (kind == BINARY_PRELU) {
        /* PRelu broadcasts the slope to X only, never X to the slope. */
        bool same = rank == a->rank;
        for (int d = 0; same && d < rank; d++)
            same = dims[d] == a->dims[d];
        if (!same)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "slope '%s' (rank %d) does not broadcast to the shape of X "
                                "'%s' (rank %d); it is usually [C, 1, 1] or [C]",
                                b->name, b->rank, a->name, a->rank);
    }
    return fs_ops_set_output(graph, node, 0, a->dtype, rank, dims, err);
}

/* True when a tensor of this shape has the same memory plain and NHWC: rank 4 with
 * H = W = 1, or lower rank padded on the left to such a shape. */
static bool binary_layout_free(const fs_value *value)
{
    if (value->rank > 4)
        return false;
    int64_t padded[4] = { 1, 1, 1, 1 };
    for (int d = 0; d < value->rank; d++)
        padded[4 - value->rank + d] = value->dims[d];
    return padded[2] == 1 && padded[3] == 1;
}

static bool binary_accepts_layouts(const fs_graph *graph, const fs_node *node,
                                   const fs_layout *input_layouts)
{
    bool any_nhwc = input_layouts[0] == FS_LAYOUT_NHWC || input_layouts[1] == FS_LAYOUT_NHWC;
    if (!any_nhwc)
        return true;
    const fs_value *output = &graph->values[node->outputs[0]];
    if (output->rank != 4 || output->dtype != FS_DTYPE_FLOAT)
        return false;
    for (int i = 0; i < 2; i++) {
        const fs_value *input = &graph->values[node->inputs[i]];
        if (input_layouts[i] == FS_LAYOUT_NHWC) {
            if (input->rank != 4)
                return false;
            for (int d = 0; d < 4; d++)
                if (input->dims[d] != output->dims[d])
                    return false;
        } else if (!binary_layout_free(input)) {
            return false;
        }
    }
    return true;
}

static int binary_prepare(fs_run_ctx *ctx, fs_node *node, size_t *scratch_bytes, fs_error *err)
{
    *scratch_bytes = 0;
    bool any_nhwc = fs_ops_input_layout(ctx, node, 0) == FS_LAYOUT_NHWC ||
                    fs_ops_input_layout(ctx, node, 1) == FS_LAYOUT_NHWC;
    const fs_value *output = fs_node_output(ctx->graph, node, 0);
    if (any_nhwc && output->rank == 4)
        ctx->tensors[node->outputs[0]].layout = FS_LAYOUT_NHWC;
    return FACESIM_OK;
}

/* Strides of input `index` over the output's logical dims, 0 where it is broadcast. */
static void binary_input_strides(const fs_run_ctx *ctx, const fs_node *node, int index,
                                 int out_rank, int64_t *strides)
{
    const fs_value *input = fs_node_input(ctx->graph, node, index);
    int64_t own[FS_MAX_RANK];
    fs_ops_layout_strides(fs_ops_input_layout(ctx, node, index), input->rank, input->dims, own);
    int offset = out_rank - input->rank;
    for (int d = 0; d < out_rank; d++) {
        int k = d - offset;
        strides[d] = (k < 0 || input->dims[k] == 1) ? 0 : own[k];
    }
}

static void binary_make_plan(const fs_run_ctx *ctx, const fs_node *node, binary_plan *plan)
{
    const fs_value *output = fs_node_output(ctx->graph, node, 0);
    int rank = output->rank;
    int64_t stride_a[FS_MAX_RANK], stride_b[FS_MAX_RANK];
    binary_input_strides(ctx, node, 0, rank, stride_a);
    binary_input_strides(ctx, node, 1, rank, stride_b);

    /* Visit the output dims in memory order: N, H, W, C for an NHWC output. */
    int order[FS_MAX_RANK];
    for (int d = 0; d < rank; d++)
        order[d] = d;
    if (ctx->tensors[node->outputs[0]].layout == FS_LAYOUT_NHWC && rank == 4) {
        order[1] = 2;
        order[2] = 3;
        order[3] = 1;
    }

    /* Skip unit dims and merge a dim into the previous one when both inputs continue
     * contiguously across the boundary (the output always does). */
    plan->rank = 0;
    for (int k = 0; k < rank; k++) {
        int d = order[k];
        int64_t size = output->dims[d];
        if (size == 1)
            continue;
        int n = plan->rank;
        if (n > 0 && plan->stride_a[n - 1] == stride_a[d] * size &&
            plan->stride_b[n - 1] == stride_b[d] * size) {
            plan->dims[n - 1] *= size;
            plan->stride_a[n - 1] = stride_a[d];
            plan->stride_b[n - 1] = stride_b[d];
            continue;
        }
        plan->dims[n] = size;
        plan->stride_a[n] = stride_a[d];
        plan->stride_b[n] = stride_b[d];
        plan->rank++;
    }
    if (plan->rank == 0) {
        plan->rank = 1;
        plan->dims[0] = 1;
        plan->stride_a[0] = 0;
        plan->stride_b[0] = 0;
    }
}

/* Integer helpers that wrap instead of overflowing (signed overflow is undefined in C),
 * and return 0 for division by zero instead of trapping. */
#define BINARY_INT_HELPERS(T, U)                                                           \
    static inline T binary_add_##T(T x, T z) { return (T)((U)x + (U)z); }                  \
    static inline T binary_sub_##T(T x, T z) { return (T)((U)x - (U)z); }                  \
    static inline T binary_mul_##T(T x, T z) { return (T)((U)x * (U)z); }                  \
    static inline T binary_div_##T(T x, T z)                                               \
    {                                                                                      \
        if (z == 0)                                                                        \
            return 0;                                                                      \
        if (z == -1)                                                                       \
            return (T)(0 - (U)x);                                                          \
        return x / z;                                                                      \
    }                                                                                      \
    static inline T binary_pow_##T(T base, T exponent)                                     \
    {                                                                                      \
        /* A negative exponent leaves only 1 and -1 with an integer result. */             \
        if (exponent < 0 && base == 1)                                                     \
            return 1;                                                                      \
        if (exponent < 0 && base == -1)                                                    \
            return (exponent & 1) ? -1 : 1;                                                \
        if (exponent < 0)                                                                  \
            return 0;                                                                      \
        U result = 1, factor = (U)base;                                                    \
        for (; exponent > 0; exponent >>= 1) {                                             \
            if (exponent & 1)                                                              \
                result *= factor;                                                          \
            factor *= factor;                                                              \
        }                                                                                  \
        return (T)result;                                                                  \
    }

BINARY_INT_HELPERS(int64_t, uint64_t)
BINARY_INT_HELPERS(int32_t, uint32_t)

/* Work split of a run: whole rows per task, or pieces of one row per task when there
 * are fewer rows than threads can share (a single long row when shapes are equal). */
typedef struct binary_split {
    int64_t rows, tasks, rows_per_task, chunks, chunk_length;
} binary_split;

static binary_split binary_make_split(const binary_plan *plan, int threads)
{
    binary_split split;
    int last = plan->rank - 1;
    split.rows = 1;
    for (int d = 0; d < last; d++)
        split.rows *= plan->dims[d];
    int64_t target_tasks = threads > 1 ? 4 * (int64_t)threads : 1;
    if (split.rows >= target_tasks) {
        split.chunks = 1;
        split.tasks = target_tasks;
        split.rows_per_task = (split.rows + target_tasks - 1) / target_tasks;
    } else {
        split.chunks = (target_tasks + split.rows - 1) / split.rows;
        split.tasks = split.rows * split.chunks;
        split.rows_per_task = 1;
    }
    split.chunk_length = (plan->dims[last] + split.chunks - 1) / split.chunks;
    return split;
}

/* Sets index[] (the outer dims of the plan) and the input offsets of row `row`. */
static void binary_seek_row(const binary_plan *plan, int64_t row, int64_t *index,
                            int64_t *offset_a, int64_t *offset_b)
{
    *offset_a = 0;
    *offset_b = 0;
    for (int d = plan->rank - 2; d >= 0; d--) {
        index[d] = row % plan->dims[d];
        row /= plan->dims[d];
        *offset_a += index[d] * plan->stride_a[d];
        *offset_b += index[d] * plan->stride_b[d];
    }
}

/* Advances index[] and the input offsets to the next row, like an odometer. */
static void binary_next_row(const binary_plan *plan, int64_t *index, int64_t *offset_a,
                            int64_t *offset_b)
{
    for (int d = plan->rank - 2; d >= 0; d--) {
        *offset_a += plan->stride_a[d];
        *offset_b += plan->stride_b[d];
        if (++index[d] < plan->dims[d])
            return;
        *offset_a -= plan->stride_a[d] * plan->dims[d];
        *offset_b -= plan->stride_b[d] * plan->dims[d];
        index[d] = 0;
    }
}

/*
 * Defines binary_rows_<name>(plan, a, b, y, threads), which applies `expression` (of
 * the elements x from a and z from b) over the plan. The innermost dim is the row. Its
 * loop has a case for each pair of input steps (1 or 0), so the compiler vectorises
 * the usual cases.
 */
#define BINARY_KERNEL(name, T, expression)                                                 \
    static void binary_rows_##name(const binary_plan *plan, const T *a, const T *b, T *y,   \
                                   int threads)                                            \
    {                                                                                      \
        int last = plan->rank - 1;                                                         \
        int64_t length = plan->dims[last];                                                 \
        int64_t step_a = plan->stride_a[last], step_b = plan->stride_b[last];              \
        binary_split split = binary_make_split(plan, threads);                             \
        bool short_rows = plan->rank == 2 && split.chunks == 1 && step_a == 1 &&           \
                          step_b == 1 && plan->stride_a[0] == length &&                    \
                          plan->stride_b[0] == 0;                                          \
        _Pragma("omp parallel for num_threads(threads) if (threads > 1) schedule(static)") \
        for (int64_t task = 0; task < split.tasks; task++) {                               \
            int64_t row_begin = split.chunks == 1 ? task * split.rows_per_task             \
                                                  : task / split.chunks;                   \
            int64_t row_end = row_begin + split.rows_per_task;                             \
            row_end = row_end < split.rows ? row_end : split.rows;                         \
            int64_t begin = (task % split.chunks) * split.chunk_length;                    \
            int64_t end = begin + split.chunk_length < length ? begin + split.chunk_length \
                                                              : length;                    \
            if (short_rows) {                                                              \
                /* Per-channel NHWC case: [pixels, C] with b repeating per pixel. */       \
                for (int64_t row = row_begin; row < row_end; row++) {                      \
                    const T *pa = a + row * length;                                        \
                    T *py = y + row * length;                                              \
                    _Pragma("omp simd")                                                    \
                    for (int64_t i = 0; i < length; i++) {                                 \
                        T x = pa[i], z = b[i];                                             \
                        py[i] = (expression);                                              \
                    }                                                                      \
                }                                                                          \
                continue;                                                                  \
            }                                                                              \
            int64_t index[FS_MAX_RANK], offset_a, offset_b;                                \
            if (row_begin < row_end)                                                       \
                binary_seek_row(plan, row_begin, index, &offset_a, &offset_b);             \
            for (int64_t row = row_begin; row < row_end; row++) {                          \
                const T *pa = a + offset_a;                                                \
                const T *pb = b + offset_b;                                                \
                T *py = y + row * length;                                                  \
                if (step_a == 1 && step_b == 1) {                                          \
                    _Pragma("omp simd")                                                    \
                    for (int64_t i = begin; i < end; i++) {                                \
                        T x = pa[i], z = pb[i];                                            \
                        py[i] = (expression);                                              \
                    }                                                                      \
                } else if (step_a == 1 && step_b == 0) {                                   \
                    T z = pb[0];                                                           \
                    _Pragma("omp simd")                                                    \
                    for (int64_t i = begin; i < end; i++) {                                \
                        T x = pa[i];                                                       \
                        py[i] = (expression);                                              \
                    }                                                                      \
                } else if (step_a == 0 && step_b == 1) {                                   \
                    T x = pa[0];                                                           \
                    _Pragma("omp simd")                                                    \
                    for (int64_t i = begin; i < end; i++) {                                \
                        T z = pb[i];                                                       \
                        py[i] = (expression);                                              \
                    }                                                                      \
                } else {                                                                   \
                    _Pragma("omp simd")                                                    \
                    for (int64_t i = begin; i < end; i++) {                                \
                        T x = pa[i * step_a], z = pb[i * step_b];                          \
                        py[i] = (expression);                                              \
                    }                                                                      \
                }                                                                          \
                binary_next_row(plan, index, &offset_a, &offset_b);                        \
            }                                                                              \
        }                                                                                  \
    }

BINARY_KERNEL(add_float, float, x + z)
BINARY_KERNEL(sub_float, float, x - z)
BINARY_KERNEL(mul_float, float, x * z)
BINARY_KERNEL(div_float, float, x / z)
BINARY_KERNEL(pow_float, float, powf(x, z))
/* max(x, 0) + slope * min(x, 0): the same values as x > 0 ? x : x * slope, in a form
 * GCC if-converts (it keeps a branch for a compare that guards a multiply). */
BINARY_KERNEL(prelu_float, float, (x > 0.0f ? x : 0.0f) + z * (x < 0.0f ? x : 0.0f))
BINARY_KERNEL(add_int64, int64_t, binary_add_int64_t(x, z))
BINARY_KERNEL(sub_int64, int64_t, binary_sub_int64_t(x, z))
BINARY_KERNEL(mul_int64, int64_t, binary_mul_int64_t(x, z))
BINARY_KERNEL(div_int64, int64_t, binary_div_int64_t(x, z))
BINARY_KERNEL(pow_int64, int64_t, binary_pow_int64_t(x, z))
BINARY_KERNEL(add_int32, int32_t, binary_add_int32_t(x, z))
BINARY_KERNEL(sub_int32, int32_t, binary_sub_int32_t(x, z))
BINARY_KERNEL(mul_int32, int32_t, binary_mul_int32_t(x, z))
BINARY_KERNEL(div_int32, int32_t, binary_div_int32_t(x, z))
BINARY_KERNEL(pow_int32, int32_t, binary_pow_int32_t(x, z))

static int binary_run(fs_run_ctx *ctx, fs_node *node, binary_kind kind, fs_error *err)
{
    const fs_value *output = fs_node_output(ctx->graph, node, 0);
    int64_t count = fs_value_numel(output);
    if (count == 0)
        return FACESIM_OK;
    binary_plan plan;
    binary_make_plan(ctx, node, &plan);
    int threads = fs_ops_threads(ctx, count);
    const void *a = fs_ops_input_data(ctx, node, 0);
    const void *b = fs_ops_input_data(ctx, node, 1);
    void *y = fs_ops_output_data(ctx, node, 0);

    switch (output->dtype) {
    case FS_DTYPE_FLOAT:
        switch (kind) {
        case BINARY_ADD: binary_rows_add_float(&plan, a, b, y, threads); break;
        case BINARY_SUB: binary_rows_sub_float(&plan, a, b, y, threads); break;
        case BINARY_MUL: binary_rows_mul_float(&plan, a, b, y, threads); break;
        case BINARY_DIV: binary_rows_div_float(&plan, a, b, y, threads); break;
        case BINARY_POW: binary_rows_pow_float(&plan, a, b, y, threads); break;
        case BINARY_PRELU: binary_rows_prelu_float(&plan, a, b, y, threads); break;
        }
        return FACESIM_OK;
    case FS_DTYPE_INT64:
        switch (kind) {
        case BINARY_ADD: binary_rows_add_int64(&plan, a, b, y, threads); break;
        case BINARY_SUB: binary_rows_sub_int64(&plan, a, b, y, threads); break;
        case BINARY_MUL: binary_rows_mul_int64(&plan, a, b, y, threads); break;
        case BINARY_DIV: binary_rows_div_int64(&plan, a, b, y, threads); break;
        case BINARY_POW: binary_rows_pow_int64(&plan, a, b, y, threads); break;
        case BINARY_PRELU: break;
        }
        return FACESIM_OK;
    case FS_DTYPE_INT32:
        switch (kind) {
        case BINARY_ADD: binary_rows_add_int32(&plan, a, b, y, threads); break;
        case BINARY_SUB: binary_rows_sub_int32(&plan, a, b, y, threads); break;
        case BINARY_MUL: binary_rows_mul_int32(&plan, a, b, y, threads); break;
        case BINARY_DIV: binary_rows_div_int32(&plan, a, b, y, threads); break;
        case BINARY_POW: binary_rows_pow_int32(&plan, a, b, y, threads); break;
        case BINARY_PRELU: break;
        }
        return FACESIM_OK;
    default:
        return fs_ops_error(err, node, FACESIM_ERR_INTERNAL, "output type %s was not inferred",
                            fs_dtype_name(output->dtype));
    }
}

#define BINARY_OP(name, type, kind)                                                        \
    static int name##_infer(fs_graph *graph, fs_node *node, fs_error *err)                 \
    {                                                                                      \
        return binary_infer(graph, node, kind, err);                                       \
    }                                                                                      \
    static int name##_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)                   \
    {                                                                                      \
        return binary_run(ctx, node, kind, err);                                           \
    }                                                                                      \
    const fs_op fs_op_##name = {                                                           \
        .op_type = type,                                                                   \
        .infer = name##_infer,                                                             \
        .accepts_layouts = binary_accepts_layouts,                                         \
        .prepare = binary_prepare,                                                         \
        .run = name##_run,                                                                 \
    };

BINARY_OP(add, "Add", BINARY_ADD)
BINARY_OP(sub, "Sub", BINARY_SUB)
BINARY_OP(mul, "Mul", BINARY_MUL)
BINARY_OP(div, "Div", BINARY_DIV)
BINARY_OP(pow, "Pow", BINARY_POW)
BINARY_OP(prelu, "PRelu", BINARY_PRELU)

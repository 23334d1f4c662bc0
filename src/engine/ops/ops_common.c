#include "engine/ops/ops_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/checked.h"

int fs_ops_error(fs_error *err, const fs_node *node, int code, const char *format, ...)
{
    char detail[FS_ERROR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(detail, sizeof detail, format, args);
    va_end(args);
    return fs_error_set(err, code, "node '%s' (%s): %s", node->name, node->op_type, detail);
}

static void ops_describe_types(unsigned allowed, char *text, size_t size)
{
    static const fs_dtype all[] = { FS_DTYPE_FLOAT, FS_DTYPE_INT64, FS_DTYPE_INT32,
                                    FS_DTYPE_BOOL,  FS_DTYPE_UINT8, FS_DTYPE_INT8 };
    size_t used = 0;
    text[0] = '\0';
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!(allowed & FS_OPS_TYPE(all[i])))
            continue;
        int written = snprintf(text + used, size - used, "%s%s", used ? " or " : "",
                               fs_dtype_name(all[i]));
        if (written < 0 || (size_t)written >= size - used)
            return;
        used += (size_t)written;
    }
}

int fs_ops_check_input(const fs_graph *graph, const fs_node *node, int index, unsigned allowed,
                       fs_error *err)
{
    if (!fs_node_has_input(node, index))
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA, "required input %d is missing",
                            index);
    const fs_value *value = &graph->values[node->inputs[index]];
    if (!fs_value_shape_known(value))
        return fs_ops_error(err, node, FACESIM_ERR_INTERNAL,
                            "input %d ('%s') has no inferred shape yet", index, value->name);
    if (value->dtype <= 0 || value->dtype >= 32 || !(allowed & FS_OPS_TYPE(value->dtype))) {
        char expected[128];
        ops_describe_types(allowed, expected, sizeof expected);
        return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                            "input %d ('%s') has type %s, expected %s", index, value->name,
                            fs_dtype_name(value->dtype), expected);
    }
    return FACESIM_OK;
}

int fs_ops_normalize_axis(const fs_node *node, const char *what, int64_t axis, int rank,
                          int *out, fs_error *err)
{
    if (axis < -(int64_t)rank || axis >= rank)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "%s is %lld, outside the valid range %d .. %d for rank %d", what,
                            (long long)axis, -rank, rank - 1, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return FACESIM_OK;
}

int fs_ops_set_output(fs_graph *graph, const fs_node *node, int index, fs_dtype dtype,
                      int rank, const int64_t *dims, fs_error *err)
{
    if (rank < 0 || rank > FS_MAX_RANK)
        return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                            "output %d would have rank %d; facesim supports at most %d", index,
                            rank, FS_MAX_RANK);
    int64_t count = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 0)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "output %d would have negative dimension %lld at axis %d",
                                index, (long long)dims[d], d);
        if (!fs_mul_i64(count, dims[d], &count))
            return fs_ops_error(err, node, FACESIM_ERR_LIMIT,
                                "output %d has more elements than int64 can count", index);
    }
    size_t bytes;
    if (!fs_mul_size((size_t)count, fs_dtype_size(dtype), &bytes))
        return fs_ops_error(err, node, FACESIM_ERR_LIMIT,
                            "output %d is larger than the address space", index);
    fs_value_set_shape(fs_node_output(graph, node, index), dtype, rank, dims);
    return FACESIM_OK;
}

int fs_ops_broadcast_shape(const fs_node *node, int rank_a, const int64_t *dims_a, int rank_b,
                           const int64_t *dims_b, int *rank, int64_t *dims, fs_error *err)
{
    int out_rank = rank_a > rank_b ? rank_a : rank_b;
    for (int d = 0; d < out_rank; d++) {
        /* Align the shapes on their last dimension, padding the shorter with 1s. */
        int da = d - (out_rank - rank_a);
        int db = d - (out_rank - rank_b);
        int64_t a = da >= 0 ? dims_a[da] : 1;
        int64_t b = db >= 0 ? dims_b[db] : 1;
        if (a != b && a != 1 && b != 1)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "input shapes cannot be broadcast: dimension %lld and %lld "
                                "at output axis %d",
                                (long long)a, (long long)b, d);
        dims[d] = a == 1 ? b : a;
    }
    *rank = out_rank;
    return FACESIM_OK;
}

bool fs_ops_input_is_constant(const fs_graph *graph, const fs_node *node, int index)
{
    return fs_node_has_input(node, index) && graph->values[node->inputs[index]].data != NULL;
}

/* Checks the parts of a constant list input common to ints and floats; returns its size. */
static int ops_check_constant_list(const fs_graph *graph, const fs_node *node, int index,
                                   const char *what, int max_count, int *count, fs_error *err)
{
    if (!fs_node_has_input(node, index))
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA, "input %d (%s) is missing",
                            index, what);
    const fs_value *value = &graph->values[node->inputs[index]];
    if (!value->data)
        return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                            "input %d (%s) '%s' is computed at run time; facesim needs it to "
                            "be a constant (or foldable to one) when the model is planned",
                            index, what, value->name);
    if (value->rank > 1)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "input %d (%s) '%s' has rank %d, expected a 1-D list", index, what,
                            value->name, value->rank);
    int64_t numel = fs_value_numel(value);
    if (numel < 0 || numel > max_count)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "input %d (%s) '%s' has %lld entries, expected at most %d", index,
                            what, value->name, (long long)numel, max_count);
    *count = (int)numel;
    return FACESIM_OK;
}

int fs_ops_read_ints(const fs_graph *graph, const fs_node *node, int index, const char *what,
                     int64_t *out, int max_count, int *count, fs_error *err)
{
    int status = ops_check_constant_list(graph, node, index, what, max_count, count, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *value = &graph->values[node->inputs[index]];
    if (value->dtype == FS_DTYPE_INT64) {
        memcpy(out, value->data, (size_t)*count * sizeof *out);
    } else if (value->dtype == FS_DTYPE_INT32) {
        const int32_t *data = value->data;
        for (int i = 0; i < *count; i++)
            out[i] = data[i];
    } else {
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "input %d (%s) '%s' has type %s, expected int64", index, what,
                            value->name, fs_dtype_name(value->dtype));
    }
    return FACESIM_OK;
}

int fs_ops_read_floats(const fs_graph *graph, const fs_node *node, int index,
                       const char *what, float *out, int max_count, int *count, fs_error *err)
{
    int status = ops_check_constant_list(graph, node, index, what, max_count, count, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *value = &graph->values[node->inputs[index]];
    if (value->dtype != FS_DTYPE_FLOAT)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "input %d (%s) '%s' has type %s, expected float32", index, what,
                            value->name, fs_dtype_name(value->dtype));
    memcpy(out, value->data, (size_t)*count * sizeof *out);
    return FACESIM_OK;
}

void fs_ops_strides(int rank, const int64_t *dims, int64_t *strides)
{
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; d--) {
        strides[d] = stride;
        stride *= dims[d];
    }
}

void fs_ops_layout_strides(fs_layout layout, int rank, const int64_t *dims, int64_t *strides)
{
    if (layout != FS_LAYOUT_NHWC || rank != 4) {
        fs_ops_strides(rank, dims, strides);
        return;
    }
    /* Memory order N, H, W, C for logical N, C, H, W. */
    int64_t channels = dims[1], height = dims[2], width = dims[3];
    strides[1] = 1;
    strides[3] = channels;
    strides[2] = width * channels;
    strides[0] = height * width * channels;
}

/* Copies one row of `count` elements between strided positions. */
static void ops_copy_row(char *dst, int64_t dst_stride, const char *src, int64_t src_stride,
                         int64_t count, size_t elem_size)
{
    if (dst_stride == 1 && src_stride == 1) {
        memcpy(dst, src, (size_t)count * elem_size);
        return;
    }
    switch (elem_size) {
    case 4: {
        uint32_t *to = (uint32_t *)dst;
        const uint32_t *from = (const uint32_t *)src;
        for (int64_t i = 0; i < count; i++)
            to[i * dst_stride] = from[i * src_stride];
        break;
    }
    case 8: {
        uint64_t *to = (uint64_t *)dst;
        const uint64_t *from = (const uint64_t *)src;
        for (int64_t i = 0; i < count; i++)
            to[i * dst_stride] = from[i * src_stride];
        break;
    }
    case 1:
        for (int64_t i = 0; i < count; i++)
            dst[i * dst_stride] = src[i * src_stride];
        break;
    default:
        for (int64_t i = 0; i < count; i++)
            memcpy(dst + i * dst_stride * (ptrdiff_t)elem_size,
                   src + i * src_stride * (ptrdiff_t)elem_size, elem_size);
        break;
    }
}

void fs_ops_copy_strided(void *dst, const int64_t *dst_strides, const void *src,
                         const int64_t *src_strides, int rank, const int64_t *dims,
                         size_t elem_size, int threads)
{
    /* Drop unit dimensions, then merge neighbours that are contiguous in both tensors,
     * so a transpose that keeps the memory order becomes one memcpy. */
    int64_t size[FS_MAX_RANK], ds[FS_MAX_RANK], ss[FS_MAX_RANK];
    int n = 0;
    for (int d = 0; d < rank; d++) {
        if (dims[d] == 0)
            return;
        if (dims[d] == 1)
            continue;
        if (n > 0 && ds[n - 1] == dst_strides[d] * dims[d] &&
            ss[n - 1] == src_strides[d] * dims[d]) {
            size[n - 1] *= dims[d];
            ds[n - 1] = dst_strides[d];
            ss[n - 1] = src_strides[d];
            continue;
        }
        size[n] = dims[d];
        ds[n] = dst_strides[d];
        ss[n] = src_strides[d];
        n++;
    }
    if (n == 0) {
        memcpy(dst, src, elem_size);
        return;
    }

    int64_t row_length = size[n - 1];
    int64_t rows = 1;
    for (int d = 0; d < n - 1; d++)
        rows *= size[d];
    if (rows * row_length < FS_OPS_PARALLEL_MIN)
        threads = 1;

    #pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (int64_t row = 0; row < rows; row++) {
        int64_t dst_offset = 0, src_offset = 0, rest = row;
        for (int d = n - 2; d >= 0; d--) {
            int64_t index = rest % size[d];
            rest /= size[d];
            dst_offset += index * ds[d];
            src_offset += index * ss[d];
        }
        /* Offsets can be negative for the negative strides of a reversing Slice. */
        ops_copy_row((char *)dst + dst_offset * (ptrdiff_t)elem_size, ds[n - 1],
                     (const char *)src + src_offset * (ptrdiff_t)elem_size, ss[n - 1],
                     row_length, elem_size);
    }
}

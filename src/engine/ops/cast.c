/*
 * Cast between float32, int64, int32, int8, uint8 and bool (attribute `to`,
 * numbered as ONNX TensorProto.DataType).
 *
 * Float to integer truncates toward zero, as a C cast does. ONNX leaves out-of-range
 * values undefined. Here they saturate and NaN becomes 0, which keeps the conversion
 * free of undefined behaviour in C. Anything to bool is "not zero". Integer narrowing
 * wraps (two's complement).
 */
#include <math.h>

#include "engine/ops/ops_common.h"

#define CAST_TYPES                                                                         \
    (FS_OPS_FLOAT | FS_OPS_INT64 | FS_OPS_INT32 | FS_OPS_BOOL | FS_OPS_TYPE(FS_DTYPE_UINT8) | \
     FS_OPS_TYPE(FS_DTYPE_INT8))

static int cast_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, 1, 1, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, CAST_TYPES, err);
    if (status != FACESIM_OK)
        return status;
    const fs_attr *to = fs_node_attr(node, "to");
    if (!to || to->type != FS_ATTR_INT)
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "attribute 'to' (the target type) is missing or not an integer");
    if (to->i <= 0 || to->i >= 32 || !(CAST_TYPES & FS_OPS_TYPE(to->i)))
        return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                            "attribute 'to' is %lld; facesim casts only to float32 (1), "
                            "uint8 (2), int8 (3), int32 (6), int64 (7) and bool (9)",
                            (long long)to->i);
    const fs_value *x = fs_node_input(graph, node, 0);
    return fs_ops_set_output(graph, node, 0, (fs_dtype)to->i, x->rank, x->dims, err);
}

/* Converts a float to int64, saturating, with NaN -> 0. */
static int64_t cast_float_to_int64(float v)
{
    if (isnan(v))
        return 0;
    if (v >= 9223372036854775807.0f)
        return INT64_MAX;
    if (v <= -9223372036854775808.0f)
        return INT64_MIN;
    return (int64_t)v;
}

static int64_t cast_clamp(int64_t v, int64_t low, int64_t high)
{
    if (v < low)
        return low;
    return v > high ? high : v;
}

/* Writes element i of a `dtype` array from an integer, narrowing by wrapping. */
static void cast_store_int(void *y, int64_t i, fs_dtype dtype, int64_t v)
{
    switch (dtype) {
    case FS_DTYPE_FLOAT: ((float *)y)[i] = (float)v; break;
    case FS_DTYPE_INT64: ((int64_t *)y)[i] = v; break;
    case FS_DTYPE_INT32: ((int32_t *)y)[i] = (int32_t)(uint32_t)(uint64_t)v; break;
    case FS_DTYPE_INT8: ((int8_t *)y)[i] = (int8_t)(uint8_t)(uint64_t)v; break;
    case FS_DTYPE_UINT8: ((uint8_t *)y)[i] = (uint8_t)(uint64_t)v; break;
    case FS_DTYPE_BOOL: ((uint8_t *)y)[i] = v != 0; break;
    default: break;
    }
}

static int64_t cast_load_int(const void *x, int64_t i, fs_dtype dtype)
{
    switch (dtype) {
    case FS_DTYPE_INT64: return ((const int64_t *)x)[i];
    case FS_DTYPE_INT32: return ((const int32_t *)x)[i];
    case FS_DTYPE_INT8: return ((const int8_t *)x)[i];
    case FS_DTYPE_UINT8: return ((const uint8_t *)x)[i];
    case FS_DTYPE_BOOL: return ((const uint8_t *)x)[i] != 0;
    default: return 0;
    }
}

static int cast_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    const fs_value *input = fs_node_input(ctx->graph, node, 0);
    fs_dtype to = fs_node_output(ctx->graph, node, 0)->dtype;
    const void *x = fs_ops_input_data(ctx, node, 0);
    void *y = fs_ops_output_data(ctx, node, 0);
    int64_t count = fs_value_numel(input);

    if (input->dtype != FS_DTYPE_FLOAT) {
        for (int64_t i = 0; i < count; i++)
            cast_store_int(y, i, to, cast_load_int(x, i, input->dtype));
        return FACESIM_OK;
    }
    const float *from = x;
    for (int64_t i = 0; i < count; i++) {
        float v = from[i];
        switch (to) {
        case FS_DTYPE_FLOAT: ((float *)y)[i] = v; break;
        case FS_DTYPE_BOOL: ((uint8_t *)y)[i] = v != 0.0f; break;
        case FS_DTYPE_INT64: ((int64_t *)y)[i] = cast_float_to_int64(v); break;
        case FS_DTYPE_INT32:
            ((int32_t *)y)[i] = (int32_t)cast_clamp(cast_float_to_int64(v), INT32_MIN, INT32_MAX);
            break;
        case FS_DTYPE_INT8:
            ((int8_t *)y)[i] = (int8_t)cast_clamp(cast_float_to_int64(v), INT8_MIN, INT8_MAX);
            break;
        case FS_DTYPE_UINT8:
            ((uint8_t *)y)[i] = (uint8_t)cast_clamp(cast_float_to_int64(v), 0, UINT8_MAX);
            break;
        default:
            return fs_ops_error(err, node, FACESIM_ERR_INTERNAL, "unexpected target type %d",
                                (int)to);
        }
    }
    return FACESIM_OK;
}

const fs_op fs_op_cast = {
    .op_type = "Cast",
    .infer = cast_infer,
    .run = cast_run,
};

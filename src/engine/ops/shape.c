/*
 * Ops that make tensors from shapes and attributes: Shape, ConstantOfShape and
 * Constant.
 *
 * Shape never reads its input's data, so it accepts any layout. Opset 15 adds the
 * `start` and `end` attributes, clamped to [0, rank] after negative values are
 * counted from the end.
 *
 * The loader turns Constant nodes into constant values; fs_op_constant exists for
 * graphs built another way. It supports `value` (a tensor) and the opset 12
 * attributes value_float, value_floats, value_int and value_ints.
 */
#include <string.h>

#include "engine/ops/ops_common.h"

static int64_t shape_clamp(int64_t value, int rank)
{
    if (value < 0)
        return 0;
    return value > rank ? rank : value;
}

static void shape_range(const fs_node *node, int rank, int64_t *start, int64_t *end)
{
    const fs_attr *start_attr = fs_node_attr(node, "start");
    const fs_attr *end_attr = fs_node_attr(node, "end");
    *start = start_attr && start_attr->type == FS_ATTR_INT ? start_attr->i : 0;
    *end = end_attr && end_attr->type == FS_ATTR_INT ? end_attr->i : rank;
    if (*start < 0)
        *start += rank;
    if (*end < 0)
        *end += rank;
    *start = shape_clamp(*start, rank);
    *end = shape_clamp(*end, rank);
}

static int shape_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, 1, 1, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0, FS_OPS_ANY_TYPE, err);
    int64_t unused;
    if (status == FACESIM_OK)
        status = fs_node_attr_int(node, "start", 0, &unused, err);
    if (status == FACESIM_OK)
        status = fs_node_attr_int(node, "end", 0, &unused, err);
    if (status != FACESIM_OK)
        return status;
    int64_t start, end;
    shape_range(node, fs_node_input(graph, node, 0)->rank, &start, &end);
    int64_t length = end > start ? end - start : 0;
    return fs_ops_set_output(graph, node, 0, FS_DTYPE_INT64, 1, &length, err);
}

static bool shape_accepts_layouts(const fs_graph *graph, const fs_node *node,
                                  const fs_layout *input_layouts)
{
    return true;
}

static int shape_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    const fs_value *x = fs_node_input(ctx->graph, node, 0);
    int64_t start, end;
    shape_range(node, x->rank, &start, &end);
    int64_t *y = fs_ops_output_data(ctx, node, 0);
    for (int64_t d = start; d < end; d++)
        y[d - start] = x->dims[d];
    return FACESIM_OK;
}

const fs_op fs_op_shape = {
    .op_type = "Shape",
    .infer = shape_infer,
    .accepts_layouts = shape_accepts_layouts,
    .run = shape_run,
};

/* ---- ConstantOfShape ---- */

/* Returns the `value` tensor attribute (a constant value), or NULL for the default 0.0f. */
static const fs_value *constant_of_shape_value(const fs_graph *graph, const fs_node *node)
{
    const fs_attr *attr = fs_node_attr(node, "value");
    if (!attr || attr->type != FS_ATTR_TENSOR || attr->tensor < 0 ||
        attr->tensor >= graph->n_values)
        return NULL;
    return &graph->values[attr->tensor];
}

static int constant_of_shape_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, 1, 1, 1, err);
    if (status != FACESIM_OK)
        return status;
    const fs_attr *attr = fs_node_attr(node, "value");
    const fs_value *value = constant_of_shape_value(graph, node);
    if (attr && (!value || !value->data || fs_value_numel(value) != 1 ||
                 fs_dtype_size(value->dtype) == 0))
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "attribute 'value' must be a one-element tensor of a supported "
                            "type");
    int64_t dims[FS_MAX_RANK];
    int rank;
    status = fs_ops_read_ints(graph, node, 0, "shape", dims, FS_MAX_RANK, &rank, err);
    if (status != FACESIM_OK)
        return status;
    return fs_ops_set_output(graph, node, 0, value ? value->dtype : FS_DTYPE_FLOAT, rank, dims,
                             err);
}

static int constant_of_shape_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    const fs_value *output = fs_node_output(ctx->graph, node, 0);
    const fs_value *value = constant_of_shape_value(ctx->graph, node);
    static const float zero = 0.0f;
    const void *fill = value ? value->data : &zero;
    size_t elem_size = fs_dtype_size(output->dtype);
    int64_t count = fs_value_numel(output);
    char *y = fs_ops_output_data(ctx, node, 0);
    for (int64_t i = 0; i < count; i++)
        memcpy(y + (size_t)i * elem_size, fill, elem_size);
    return FACESIM_OK;
}

const fs_op fs_op_constant_of_shape = {
    .op_type = "ConstantOfShape",
    .infer = constant_of_shape_infer,
    .run = constant_of_shape_run,
};

/* ---- Constant ---- */

/* Returns the attribute holding the constant, or NULL when none is supported. */
static const fs_attr *constant_attr(const fs_node *node)
{
    static const char *const supported[] = { "value", "value_float", "value_floats",
                                             "value_int", "value_ints" };
    for (size_t i = 0; i < sizeof supported / sizeof supported[0]; i++) {
        const fs_attr *attr = fs_node_attr(node, supported[i]);
        if (attr)
            return attr;
    }
    return NULL;
}

static int constant_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    int status = fs_op_check_arity(node, 0, 0, 1, err);
    if (status != FACESIM_OK)
        return status;
    const fs_attr *attr = constant_attr(node);
    if (!attr)
        return fs_ops_error(err, node, FACESIM_ERR_UNSUPPORTED,
                            "needs one of the attributes value, value_float, value_floats, "
                            "value_int or value_ints (sparse and string constants are not "
                            "supported)");
    int64_t count = (int64_t)attr->count;
    switch (attr->type) {
    case FS_ATTR_TENSOR: {
        if (attr->tensor < 0 || attr->tensor >= graph->n_values ||
            !graph->values[attr->tensor].data)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "attribute '%s' has no tensor data", attr->name);
        const fs_value *value = &graph->values[attr->tensor];
        return fs_ops_set_output(graph, node, 0, value->dtype, value->rank, value->dims, err);
    }
    case FS_ATTR_FLOAT:
        return fs_ops_set_output(graph, node, 0, FS_DTYPE_FLOAT, 0, NULL, err);
    case FS_ATTR_INT:
        return fs_ops_set_output(graph, node, 0, FS_DTYPE_INT64, 0, NULL, err);
    case FS_ATTR_FLOATS:
        return fs_ops_set_output(graph, node, 0, FS_DTYPE_FLOAT, 1, &count, err);
    case FS_ATTR_INTS:
        return fs_ops_set_output(graph, node, 0, FS_DTYPE_INT64, 1, &count, err);
    default:
        return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                            "attribute '%s' has the wrong type for its name", attr->name);
    }
}

static int constant_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    const fs_value *output = fs_node_output(ctx->graph, node, 0);
    size_t bytes = (size_t)fs_value_numel(output) * fs_dtype_size(output->dtype);
    void *y = fs_ops_output_data(ctx, node, 0);
    const fs_attr *attr = constant_attr(node);
    if (bytes == 0)
        return FACESIM_OK;
    switch (attr->type) {
    case FS_ATTR_TENSOR: memcpy(y, ctx->graph->values[attr->tensor].data, bytes); break;
    case FS_ATTR_FLOAT: memcpy(y, &attr->f, sizeof attr->f); break;
    case FS_ATTR_INT: memcpy(y, &attr->i, sizeof attr->i); break;
    case FS_ATTR_FLOATS: memcpy(y, attr->floats, bytes); break;
    case FS_ATTR_INTS: memcpy(y, attr->ints, bytes); break;
    default:
        return fs_ops_error(err, node, FACESIM_ERR_INTERNAL, "value attribute changed type");
    }
    return FACESIM_OK;
}

const fs_op fs_op_constant = {
    .op_type = "Constant",
    .infer = constant_infer,
    .run = constant_run,
};

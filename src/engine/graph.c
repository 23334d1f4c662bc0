#include "engine/graph.h"

#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "engine/op.h"

size_t fs_dtype_size(fs_dtype dtype)
{
    switch (dtype) {
    case FS_DTYPE_FLOAT: return 4;
    case FS_DTYPE_UINT8: return 1;
    case FS_DTYPE_INT8: return 1;
    case FS_DTYPE_INT32: return 4;
    case FS_DTYPE_INT64: return 8;
    case FS_DTYPE_BOOL: return 1;
    default: return 0;
    }
}

const char *fs_dtype_name(fs_dtype dtype)
{
    switch (dtype) {
    case FS_DTYPE_FLOAT: return "float32";
    case FS_DTYPE_UINT8: return "uint8";
    case FS_DTYPE_INT8: return "int8";
    case FS_DTYPE_INT32: return "int32";
    case FS_DTYPE_INT64: return "int64";
    case FS_DTYPE_BOOL: return "bool";
    default: return "unsupported type";
    }
}

static char *graph_strdup(const char *text)
{
    if (!text)
        text = "";
    size_t length = strlen(text) + 1;
    char *copy = malloc(length);
    if (copy)
        memcpy(copy, text, length);
    return copy;
}

fs_graph *fs_graph_create(const char *path)
{
    fs_graph *graph = calloc(1, sizeof *graph);
    if (!graph)
        return NULL;
    graph->path = graph_strdup(path);
    if (!graph->path) {
        free(graph);
        return NULL;
    }
    return graph;
}

static void graph_free_attr(fs_attr *attr)
{
    free(attr->name);
    free(attr->s);
    free(attr->floats);
    free(attr->ints);
}

static void graph_free_node(fs_node *node)
{
    if (node->op && node->op->release)
        node->op->release(node);
    free(node->name);
    free(node->op_type);
    free(node->domain);
    free(node->inputs);
    free(node->outputs);
    for (int i = 0; i < node->n_attrs; i++)
        graph_free_attr(&node->attrs[i]);
    free(node->attrs);
}

void fs_graph_free(fs_graph *graph)
{
    if (!graph)
        return;
    for (int i = 0; i < graph->n_values; i++) {
        free(graph->values[i].name);
        if (graph->values[i].owns_data)
            free(graph->values[i].data);
    }
    for (int i = 0; i < graph->n_nodes; i++)
        graph_free_node(&graph->nodes[i]);
    free(graph->values);
    free(graph->nodes);
    free(graph->inputs);
    free(graph->outputs);
    free(graph->path);
    free(graph);
}

int fs_graph_add_value(fs_graph *graph, const char *name)
{
    if (graph->n_values == graph->cap_values) {
        int capacity = graph->cap_values ? graph->cap_values * 2 : 64;
        fs_value *grown = realloc(graph->values, (size_t)capacity * sizeof *grown);
        if (!grown)
            return -1;
        graph->values = grown;
        graph->cap_values = capacity;
    }
    fs_value *value = &graph->values[graph->n_values];
    memset(value, 0, sizeof *value);
    value->name = graph_strdup(name);
    if (!value->name)
        return -1;
    value->rank = -1;
    value->producer = -1;
    for (int d = 0; d < FS_MAX_RANK; d++)
        value->dims[d] = -1;
    return graph->n_values++;
}

static int *graph_copy_ints(const int *source, int count)
{
    int *copy = malloc((size_t)(count > 0 ? count : 1) * sizeof *copy);
    if (copy && count > 0)
        memcpy(copy, source, (size_t)count * sizeof *copy);
    return copy;
}

int fs_graph_add_node(fs_graph *graph, const char *name, const char *op_type,
                      const int *inputs, int n_inputs, const int *outputs, int n_outputs)
{
    if (graph->n_nodes == graph->cap_nodes) {
        int capacity = graph->cap_nodes ? graph->cap_nodes * 2 : 64;
        fs_node *grown = realloc(graph->nodes, (size_t)capacity * sizeof *grown);
        if (!grown)
            return -1;
        graph->nodes = grown;
        graph->cap_nodes = capacity;
    }
    fs_node *node = &graph->nodes[graph->n_nodes];
    memset(node, 0, sizeof *node);
    node->fused_slope = -1;
    node->fused_sum = -1;
    node->name = graph_strdup(name);
    node->op_type = graph_strdup(op_type);
    node->domain = graph_strdup("");
    node->inputs = graph_copy_ints(inputs, n_inputs);
    node->outputs = graph_copy_ints(outputs, n_outputs);
    if (!node->name || !node->op_type || !node->domain || !node->inputs || !node->outputs) {
        graph_free_node(node);
        return -1;
    }
    node->n_inputs = n_inputs;
    node->n_outputs = n_outputs;
    return graph->n_nodes++;
}

int fs_graph_find_value(const fs_graph *graph, const char *name)
{
    for (int i = 0; i < graph->n_values; i++)
        if (strcmp(graph->values[i].name, name) == 0)
            return i;
    return -1;
}

int64_t fs_value_numel(const fs_value *value)
{
    if (value->rank < 0)
        return -1;
    int64_t count = 1;
    for (int d = 0; d < value->rank; d++) {
        if (value->dims[d] < 0 || !fs_mul_i64(count, value->dims[d], &count))
            return -1;
    }
    return count;
}

bool fs_value_shape_known(const fs_value *value)
{
    if (value->rank < 0)
        return false;
    for (int d = 0; d < value->rank; d++)
        if (value->dims[d] < 0)
            return false;
    return true;
}

void fs_value_set_shape(fs_value *value, fs_dtype dtype, int rank, const int64_t *dims)
{
    value->dtype = dtype;
    value->rank = rank;
    for (int d = 0; d < FS_MAX_RANK; d++)
        value->dims[d] = d < rank ? dims[d] : -1;
}

static int graph_copy_attr(fs_attr *to, const fs_attr *from)
{
    *to = *from;
    to->name = graph_strdup(from->name);
    to->s = from->s ? graph_strdup(from->s) : NULL;
    to->floats = NULL;
    to->ints = NULL;
    if (from->floats) {
        to->floats = malloc((from->count ? from->count : 1) * sizeof(float));
        if (to->floats)
            memcpy(to->floats, from->floats, from->count * sizeof(float));
    }
    if (from->ints) {
        to->ints = malloc((from->count ? from->count : 1) * sizeof(int64_t));
        if (to->ints)
            memcpy(to->ints, from->ints, from->count * sizeof(int64_t));
    }
    if (!to->name || (from->s && !to->s) || (from->floats && !to->floats) ||
        (from->ints && !to->ints))
        return -1;
    return 0;
}

fs_graph *fs_graph_clone(const fs_graph *graph, bool share_constants)
{
    fs_graph *copy = fs_graph_create(graph->path);
    if (!copy)
        return NULL;
    copy->opset = graph->opset;

    for (int i = 0; i < graph->n_values; i++) {
        const fs_value *from = &graph->values[i];
        if (fs_graph_add_value(copy, from->name) < 0)
            goto fail;
        fs_value *to = &copy->values[i];
        char *name = to->name;
        *to = *from;
        to->name = name;
        to->owns_data = false;
        if (from->data && !share_constants) {
            int64_t count = fs_value_numel(from);
            size_t bytes;
            if (count < 0 || !fs_mul_size((size_t)count, fs_dtype_size(from->dtype), &bytes))
                goto fail;
            to->data = malloc(bytes ? bytes : 1);
            if (!to->data)
                goto fail;
            memcpy(to->data, from->data, bytes);
            to->owns_data = true;
        }
    }

    for (int i = 0; i < graph->n_nodes; i++) {
        const fs_node *from = &graph->nodes[i];
        if (fs_graph_add_node(copy, from->name, from->op_type, from->inputs, from->n_inputs,
                              from->outputs, from->n_outputs) < 0)
            goto fail;
        fs_node *to = &copy->nodes[i];
        free(to->domain);
        to->domain = graph_strdup(from->domain);
        to->removed = from->removed;
        to->fused_activation = from->fused_activation;
        to->fused_slope = from->fused_slope;
        to->fused_min = from->fused_min;
        to->fused_max = from->fused_max;
        to->fused_sum = from->fused_sum;
        to->fused_sum_activation = from->fused_sum_activation;
        to->fused_sum_min = from->fused_sum_min;
        to->fused_sum_max = from->fused_sum_max;
        if (!to->domain)
            goto fail;
        if (from->n_attrs > 0) {
            to->attrs = calloc((size_t)from->n_attrs, sizeof *to->attrs);
            if (!to->attrs)
                goto fail;
            to->n_attrs = from->n_attrs;
            for (int a = 0; a < from->n_attrs; a++)
                if (graph_copy_attr(&to->attrs[a], &from->attrs[a]) < 0)
                    goto fail;
        }
    }

    copy->inputs = graph_copy_ints(graph->inputs, graph->n_inputs);
    copy->outputs = graph_copy_ints(graph->outputs, graph->n_outputs);
    if (!copy->inputs || !copy->outputs)
        goto fail;
    copy->n_inputs = graph->n_inputs;
    copy->n_outputs = graph->n_outputs;
    return copy;

fail:
    fs_graph_free(copy);
    return NULL;
}

const fs_attr *fs_node_attr(const fs_node *node, const char *name)
{
    for (int i = 0; i < node->n_attrs; i++)
        if (strcmp(node->attrs[i].name, name) == 0)
            return &node->attrs[i];
    return NULL;
}

static int graph_attr_type_error(const fs_node *node, const char *name, const char *expected,
                                 fs_error *err)
{
    return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                        "node '%s' (%s): attribute '%s' must be %s", node->name, node->op_type,
                        name, expected);
}

int fs_node_attr_int(const fs_node *node, const char *name, int64_t fallback, int64_t *out,
                     fs_error *err)
{
    const fs_attr *attr = fs_node_attr(node, name);
    if (!attr) {
        *out = fallback;
        return FACESIM_OK;
    }
    if (attr->type != FS_ATTR_INT)
        return graph_attr_type_error(node, name, "an integer", err);
    *out = attr->i;
    return FACESIM_OK;
}

int fs_node_attr_float(const fs_node *node, const char *name, float fallback, float *out,
                       fs_error *err)
{
    const fs_attr *attr = fs_node_attr(node, name);
    if (!attr) {
        *out = fallback;
        return FACESIM_OK;
    }
    if (attr->type != FS_ATTR_FLOAT)
        return graph_attr_type_error(node, name, "a float", err);
    *out = attr->f;
    return FACESIM_OK;
}

int fs_node_attr_ints(const fs_node *node, const char *name, const int64_t **out, size_t *count,
                      fs_error *err)
{
    const fs_attr *attr = fs_node_attr(node, name);
    *out = NULL;
    *count = 0;
    if (!attr)
        return FACESIM_OK;
    if (attr->type != FS_ATTR_INTS)
        return graph_attr_type_error(node, name, "a list of integers", err);
    *out = attr->ints;
    *count = attr->count;
    return FACESIM_OK;
}

int fs_node_attr_string(const fs_node *node, const char *name, const char *fallback,
                        const char **out, fs_error *err)
{
    const fs_attr *attr = fs_node_attr(node, name);
    if (!attr) {
        *out = fallback;
        return FACESIM_OK;
    }
    if (attr->type != FS_ATTR_STRING)
        return graph_attr_type_error(node, name, "a string", err);
    *out = attr->s ? attr->s : "";
    return FACESIM_OK;
}

int fs_graph_count_uses(const fs_graph *graph, int value_index)
{
    int uses = 0;
    for (int i = 0; i < graph->n_nodes; i++) {
        const fs_node *node = &graph->nodes[i];
        if (node->removed)
            continue;
        for (int k = 0; k < node->n_inputs; k++)
            if (node->inputs[k] == value_index)
                uses++;
    }
    for (int k = 0; k < graph->n_outputs; k++)
        if (graph->outputs[k] == value_index)
            uses++;
    return uses;
}

int fs_op_check_arity(const fs_node *node, int min_inputs, int max_inputs, int n_outputs,
                      fs_error *err)
{
    int present = node->n_inputs;
    if (present < min_inputs || present > max_inputs)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "node '%s' (%s): has %d inputs, expected %d to %d", node->name,
                            node->op_type, present, min_inputs, max_inputs);
    for (int i = 0; i < min_inputs; i++)
        if (node->inputs[i] < 0)
            return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                                "node '%s' (%s): required input %d is missing", node->name,
                                node->op_type, i);
    if (node->n_outputs < n_outputs)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "node '%s' (%s): has %d outputs, expected at least %d", node->name,
                            node->op_type, node->n_outputs, n_outputs);
    return FACESIM_OK;
}

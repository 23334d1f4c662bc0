/*
 * NodeProto -> graph nodes, and Constant nodes -> constant values.
 *
 * Two passes, because a file need not list nodes in topological order: the first
 * creates every node with its outputs (so each value name gets its one producer), the
 * second resolves input names. onnx_order.c then sorts the nodes.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_internal.h"

/* The default ONNX domain is spelled "" or "ai.onnx". */
static bool onnx_is_default_domain(const char *domain)
{
    return !domain || domain[0] == '\0' || strcmp(domain, "ai.onnx") == 0;
}

static const char *onnx_text(const char *text)
{
    return text ? text : "";
}

static char *onnx_copy_bytes(const uint8_t *bytes, size_t length)
{
    char *copy = malloc(length + 1);
    if (copy) {
        if (length > 0)
            memcpy(copy, bytes, length);
        copy[length] = '\0';
    }
    return copy;
}

/* Describes which existing value already uses `index`'s name, for duplicate reports. */
static void onnx_describe_producer(const fs_onnx_loader *loader, int index, char *text,
                                   size_t size)
{
    const fs_value *value = &loader->graph->values[index];
    if (value->producer >= loader->graph->n_nodes) {
        snprintf(text, size, "the same node"); /* the node is still being added */
    } else if (value->producer >= 0) {
        const fs_node *node = &loader->graph->nodes[value->producer];
        snprintf(text, size, "node '%s' (%s)", node->name, node->op_type);
    } else if (value->is_graph_input) {
        snprintf(text, size, "a graph input");
    } else {
        snprintf(text, size, "an initializer or Constant node");
    }
}

/* Fails when value_name is already defined; producer describes the new definition. */
static int onnx_check_new_value(fs_onnx_loader *loader, const char *value_name,
                                const char *producer)
{
    int existing = fs_onnx_names_find(loader, value_name);
    if (existing < 0)
        return FACESIM_OK;
    char first[FS_ERROR_MESSAGE_MAX / 2];
    onnx_describe_producer(loader, existing, first, sizeof first);
    return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                        "value '%s' is produced by %s and again by %s, but every value must "
                        "have exactly one producer",
                        value_name, first, producer);
}

/* Adds a constant of `count` elements of dtype with rank 0 (scalar) or 1. */
static int onnx_add_small_constant(fs_onnx_loader *loader, const char *value_name,
                                   fs_dtype dtype, const void *elements, size_t count,
                                   bool scalar, int *index)
{
    if (count > (uint64_t)loader->limits.max_tensor_elements)
        return fs_onnx_fail(loader, FACESIM_ERR_LIMIT,
                            "Constant '%s' has %zu elements, more than the limit %lld",
                            value_name, count, (long long)loader->limits.max_tensor_elements);
    size_t bytes = count * fs_dtype_size(dtype); /* count is bounded by the file size */
    void *data = malloc(bytes ? bytes : 1);
    if (!data)
        return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory for Constant '%s'",
                            value_name);
    if (bytes > 0)
        memcpy(data, elements, bytes);

    int added;
    int status = fs_onnx_add_value(loader, value_name, &added);
    if (status != FACESIM_OK) {
        free(data);
        return status;
    }
    int64_t dims[1] = {(int64_t)count};
    fs_value *value = &loader->graph->values[added];
    fs_value_set_shape(value, dtype, scalar ? 0 : 1, dims);
    value->data = data;
    value->owns_data = true;
    *index = added;
    return FACESIM_OK;
}

/* Turns a Constant node into a constant value named after its output. */
static int onnx_add_constant_node(fs_onnx_loader *loader, const Onnx__NodeProto *proto,
                                  const char *node_name)
{
    if (proto->n_output != 1 || !proto->output[0] || proto->output[0][0] == '\0')
        return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                            "Constant node '%s' must have exactly one named output", node_name);
    if (proto->n_attribute != 1)
        return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                            "Constant node '%s' has %zu attributes, expected exactly one",
                            node_name, proto->n_attribute);

    const char *value_name = proto->output[0];
    char producer[FS_ERROR_MESSAGE_MAX / 2];
    snprintf(producer, sizeof producer, "Constant node '%s'", node_name);
    int status = onnx_check_new_value(loader, value_name, producer);
    if (status != FACESIM_OK)
        return status;

    const Onnx__AttributeProto *attr = proto->attribute[0];
    const char *attr_name = onnx_text(attr->name);
    int index = -1;
    if (strcmp(attr_name, "value") == 0 && attr->t) {
        char label[FS_ERROR_MESSAGE_MAX / 2];
        snprintf(label, sizeof label, "Constant node '%s' attribute 'value'", node_name);
        status = fs_onnx_add_tensor(loader, attr->t, value_name, label, &index);
    } else if (strcmp(attr_name, "value_float") == 0 && attr->has_f) {
        status = onnx_add_small_constant(loader, value_name, FS_DTYPE_FLOAT, &attr->f, 1, true,
                                         &index);
    } else if (strcmp(attr_name, "value_floats") == 0) {
        status = onnx_add_small_constant(loader, value_name, FS_DTYPE_FLOAT, attr->floats,
                                         attr->n_floats, false, &index);
    } else if (strcmp(attr_name, "value_int") == 0 && attr->has_i) {
        status = onnx_add_small_constant(loader, value_name, FS_DTYPE_INT64, &attr->i, 1, true,
                                         &index);
    } else if (strcmp(attr_name, "value_ints") == 0) {
        status = onnx_add_small_constant(loader, value_name, FS_DTYPE_INT64, attr->ints,
                                         attr->n_ints, false, &index);
    } else if (strcmp(attr_name, "sparse_value") == 0 || strcmp(attr_name, "value_string") == 0 ||
               strcmp(attr_name, "value_strings") == 0) {
        return fs_onnx_fail(loader, FACESIM_ERR_UNSUPPORTED,
                            "Constant node '%s' uses attribute '%s', which facesim does not "
                            "support (it reads value, value_float(s) and value_int(s))",
                            node_name, attr_name);
    } else {
        return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                            "Constant node '%s' has attribute '%s' without a value, expected "
                            "value, value_float(s) or value_int(s)",
                            node_name, attr_name);
    }
    if (status != FACESIM_OK)
        return status;
    return fs_onnx_names_add(loader, index);
}

/* Attribute type of an attribute written before AttributeProto.type existed. */
static int onnx_infer_attr_type(const Onnx__AttributeProto *proto)
{
    if (proto->n_floats)
        return FS_ATTR_FLOATS;
    if (proto->n_ints)
        return FS_ATTR_INTS;
    if (proto->n_strings)
        return FS_ATTR_STRINGS;
    if (proto->has_f)
        return FS_ATTR_FLOAT;
    if (proto->has_i)
        return FS_ATTR_INT;
    if (proto->has_s)
        return FS_ATTR_STRING;
    if (proto->t)
        return FS_ATTR_TENSOR;
    return 0;
}

/* Fills attr (zeroed) from proto for node. */
static int onnx_convert_attr(fs_onnx_loader *loader, const fs_node *node,
                             const Onnx__AttributeProto *proto, fs_attr *attr)
{
    if (!proto->name || proto->name[0] == '\0')
        return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                            "node '%s' (%s) has an attribute without a name", node->name,
                            node->op_type);
    attr->name = onnx_copy_bytes((const uint8_t *)proto->name, strlen(proto->name));
    attr->tensor = -1;
    if (!attr->name)
        return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory for node '%s'",
                            node->name);

    int type = proto->has_type && proto->type != 0 ? (int)proto->type
                                                   : onnx_infer_attr_type(proto);
    attr->type = (fs_attr_type)type;
    switch (type) {
    case FS_ATTR_FLOAT:
        attr->f = proto->f;
        return FACESIM_OK;
    case FS_ATTR_INT:
        attr->i = proto->i;
        return FACESIM_OK;
    case FS_ATTR_STRING:
        attr->s = onnx_copy_bytes(proto->s.data, proto->s.len);
        break;
    case FS_ATTR_FLOATS:
        attr->count = proto->n_floats;
        attr->floats = malloc((proto->n_floats ? proto->n_floats : 1) * sizeof(float));
        if (attr->floats && proto->n_floats)
            memcpy(attr->floats, proto->floats, proto->n_floats * sizeof(float));
        break;
    case FS_ATTR_INTS:
        attr->count = proto->n_ints;
        attr->ints = malloc((proto->n_ints ? proto->n_ints : 1) * sizeof(int64_t));
        if (attr->ints && proto->n_ints)
            memcpy(attr->ints, proto->ints, proto->n_ints * sizeof(int64_t));
        break;
    case FS_ATTR_TENSOR: {
        if (!proto->t)
            return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                                "node '%s' (%s): tensor attribute '%s' has no tensor",
                                node->name, node->op_type, attr->name);
        /* Not added to the name table: only attr.tensor refers to this value. */
        char value_name[FS_ERROR_MESSAGE_MAX / 2];
        char label[FS_ERROR_MESSAGE_MAX / 2];
        snprintf(value_name, sizeof value_name, "%s.%s", node->name, attr->name);
        snprintf(label, sizeof label, "node '%s' (%s) attribute '%s'", node->name,
                 node->op_type, attr->name);
        return fs_onnx_add_tensor(loader, proto->t, value_name, label, &attr->tensor);
    }
    case FS_ATTR_STRINGS:
        /* TODO: fs_attr has no field for a list of strings yet; no op facesim runs
         * reads one. */
    default:
        return fs_onnx_fail(loader, FACESIM_ERR_UNSUPPORTED,
                            "node '%s' (%s): attribute '%s' has type %d (graph, sparse tensor, "
                            "type or list), which facesim does not support",
                            node->name, node->op_type, attr->name, type);
    }
    if (!attr->s && !attr->floats && !attr->ints)
        return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory for node '%s'",
                            node->name);
    return FACESIM_OK;
}

/* Creates the output values of a node that will get index node_index. */
static int onnx_add_outputs(fs_onnx_loader *loader, const Onnx__NodeProto *proto,
                            const char *node_name, int node_index, int *outputs)
{
    char producer[FS_ERROR_MESSAGE_MAX / 2];
    snprintf(producer, sizeof producer, "node '%s' (%s)", node_name, proto->op_type);
    for (size_t k = 0; k < proto->n_output; k++) {
        const char *value_name = onnx_text(proto->output[k]);
        outputs[k] = -1; /* an omitted optional output */
        if (value_name[0] == '\0')
            continue;
        int status = onnx_check_new_value(loader, value_name, producer);
        if (status != FACESIM_OK)
            return status;
        int added;
        status = fs_onnx_add_value(loader, value_name, &added);
        if (status != FACESIM_OK)
            return status;
        loader->graph->values[added].producer = node_index;
        outputs[k] = added;
        status = fs_onnx_names_add(loader, added);
        if (status != FACESIM_OK)
            return status;
    }
    return FACESIM_OK;
}

/* Adds node proto (file position file_index) with its outputs and attributes. Its inputs
 * are all -1 until onnx_resolve_inputs. */
static int onnx_add_node(fs_onnx_loader *loader, const Onnx__NodeProto *proto, size_t file_index,
                         int **scratch, size_t *scratch_size)
{
    const char *op_type = onnx_text(proto->op_type);
    char node_name[FS_ERROR_MESSAGE_MAX / 4];
    if (proto->name && proto->name[0])
        snprintf(node_name, sizeof node_name, "%s", proto->name);
    else
        snprintf(node_name, sizeof node_name, "%s_%zu", op_type, file_index);

    if (op_type[0] == '\0')
        return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA, "node '%s' has no op_type",
                            node_name);
    if (proto->n_input > INT_MAX || proto->n_output > INT_MAX || proto->n_attribute > INT_MAX)
        return fs_onnx_fail(loader, FACESIM_ERR_LIMIT,
                            "node '%s' (%s) has too many inputs, outputs or attributes",
                            node_name, op_type);
    if (onnx_is_default_domain(proto->domain) && strcmp(op_type, "Constant") == 0)
        return onnx_add_constant_node(loader, proto, node_name);

    /* One scratch array contains -1 placeholders for the inputs, then the outputs. */
    size_t needed = proto->n_input + proto->n_output + 1;
    if (needed > *scratch_size) {
        int *grown = realloc(*scratch, needed * sizeof *grown);
        if (!grown)
            return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory for node '%s'",
                                node_name);
        *scratch = grown;
        *scratch_size = needed;
    }
    int *inputs = *scratch;
    int *outputs = *scratch + proto->n_input;
    for (size_t k = 0; k < proto->n_input; k++)
        inputs[k] = -1;

    int node_index = loader->graph->n_nodes;
    int status = onnx_add_outputs(loader, proto, node_name, node_index, outputs);
    if (status != FACESIM_OK)
        return status;
    if (fs_graph_add_node(loader->graph, node_name, op_type, inputs, (int)proto->n_input,
                          outputs, (int)proto->n_output) < 0)
        return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory for node '%s'",
                            node_name);

    fs_node *node = &loader->graph->nodes[node_index];
    if (!onnx_is_default_domain(proto->domain)) {
        char *domain = onnx_copy_bytes((const uint8_t *)proto->domain, strlen(proto->domain));
        if (!domain)
            return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory for node '%s'",
                                node_name);
        free(node->domain);
        node->domain = domain;
    }

    if (proto->n_attribute == 0)
        return FACESIM_OK;
    node->attrs = calloc(proto->n_attribute, sizeof *node->attrs);
    if (!node->attrs)
        return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory for node '%s'",
                            node_name);
    node->n_attrs = (int)proto->n_attribute;
    for (size_t a = 0; a < proto->n_attribute; a++) {
        /* Re-read node: a TENSOR attribute adds a value, but never a node. */
        status = onnx_convert_attr(loader, &loader->graph->nodes[node_index],
                                   proto->attribute[a], &node->attrs[a]);
        if (status != FACESIM_OK)
            return status;
    }
    return FACESIM_OK;
}

/* Looks up every input name of graph node node_index, read from proto. */
static int onnx_resolve_inputs(fs_onnx_loader *loader, const Onnx__NodeProto *proto,
                               int node_index)
{
    fs_node *node = &loader->graph->nodes[node_index];
    for (size_t k = 0; k < proto->n_input; k++) {
        const char *value_name = onnx_text(proto->input[k]);
        if (value_name[0] == '\0')
            continue; /* an omitted optional input stays -1 */
        int index = fs_onnx_names_find(loader, value_name);
        if (index < 0)
            return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                                "node '%s' (%s): input %zu '%s' is not a graph input, an "
                                "initializer or the output of any node",
                                node->name, node->op_type, k, value_name);
        node->inputs[k] = index;
    }
    return FACESIM_OK;
}

int fs_onnx_add_nodes(fs_onnx_loader *loader, const Onnx__GraphProto *graph_proto)
{
    if (graph_proto->n_node > (size_t)loader->limits.max_nodes)
        return fs_onnx_fail(loader, FACESIM_ERR_LIMIT,
                            "the graph has %zu nodes, more than the limit %d",
                            graph_proto->n_node, loader->limits.max_nodes);

    /* file_of[k] is the position in graph_proto->node of graph node k. */
    size_t *file_of = malloc((graph_proto->n_node + 1) * sizeof *file_of);
    if (!file_of)
        return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory for the node list");

    int *scratch = NULL;
    size_t scratch_size = 0;
    int status = FACESIM_OK;
    for (size_t i = 0; status == FACESIM_OK && i < graph_proto->n_node; i++) {
        int before = loader->graph->n_nodes;
        status = onnx_add_node(loader, graph_proto->node[i], i, &scratch, &scratch_size);
        if (loader->graph->n_nodes > before)
            file_of[before] = i;
    }
    for (int k = 0; status == FACESIM_OK && k < loader->graph->n_nodes; k++)
        status = onnx_resolve_inputs(loader, graph_proto->node[file_of[k]], k);

    free(scratch);
    free(file_of);
    return status;
}

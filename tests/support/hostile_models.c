#include "support/hostile_models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stops the test program when a builder runs out of room; assert would vanish under
 * NDEBUG, which release builds define. */
#define TEST_MODEL_REQUIRE(condition)                                                     \
    do {                                                                                   \
        if (!(condition)) {                                                                \
            fprintf(stderr, "%s:%d: test model builder: %s failed\n", __FILE__, __LINE__,  \
                    #condition);                                                           \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

struct test_model {
    Onnx__ModelProto model;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opset_list[1];
    Onnx__GraphProto graph;

    Onnx__NodeProto nodes[TEST_MODEL_CAPACITY];
    Onnx__NodeProto *node_list[TEST_MODEL_CAPACITY];
    char *node_inputs[TEST_MODEL_CAPACITY][TEST_MODEL_MAX_EDGES];
    char *node_outputs[TEST_MODEL_CAPACITY][TEST_MODEL_MAX_EDGES];
    Onnx__AttributeProto *node_attrs[TEST_MODEL_CAPACITY][TEST_MODEL_MAX_EDGES];
    Onnx__AttributeProto attrs[TEST_MODEL_CAPACITY];
    int n_attrs;

    Onnx__TensorProto tensors[TEST_MODEL_CAPACITY];
    int64_t tensor_dims[TEST_MODEL_CAPACITY][TEST_MODEL_MAX_RANK];
    Onnx__TensorProto *initializer_list[TEST_MODEL_CAPACITY];
    int n_tensors;

    Onnx__ValueInfoProto infos[TEST_MODEL_CAPACITY];
    Onnx__TypeProto types[TEST_MODEL_CAPACITY];
    Onnx__TypeProto__Tensor tensor_types[TEST_MODEL_CAPACITY];
    Onnx__TensorShapeProto shapes[TEST_MODEL_CAPACITY];
    Onnx__TensorShapeProto__Dimension dims[TEST_MODEL_CAPACITY][TEST_MODEL_MAX_RANK];
    Onnx__TensorShapeProto__Dimension *dim_lists[TEST_MODEL_CAPACITY][TEST_MODEL_MAX_RANK];
    Onnx__ValueInfoProto *input_list[TEST_MODEL_CAPACITY];
    Onnx__ValueInfoProto *output_list[TEST_MODEL_CAPACITY];
    int n_infos;
};

test_model *test_model_create(int64_t opset)
{
    test_model *tm = calloc(1, sizeof *tm);
    TEST_MODEL_REQUIRE(tm);
    onnx__model_proto__init(&tm->model);
    onnx__operator_set_id_proto__init(&tm->opset);
    onnx__graph_proto__init(&tm->graph);
    tm->model.has_ir_version = 1;
    tm->model.ir_version = 8;
    tm->model.producer_name = "facesim-tests";
    tm->opset.domain = "";
    tm->opset.has_version = 1;
    tm->opset.version = opset;
    tm->opset_list[0] = &tm->opset;
    tm->model.n_opset_import = 1;
    tm->model.opset_import = tm->opset_list;
    tm->graph.name = "test";
    tm->graph.node = tm->node_list;
    tm->graph.initializer = tm->initializer_list;
    tm->graph.input = tm->input_list;
    tm->graph.output = tm->output_list;
    tm->model.graph = &tm->graph;
    return tm;
}

void test_model_free(test_model *tm)
{
    free(tm);
}

Onnx__ModelProto *test_model_proto(test_model *tm)
{
    return &tm->model;
}

static Onnx__ValueInfoProto *test_model_value_info(test_model *tm, const char *name,
                                                   int32_t elem_type, int rank,
                                                   const int64_t *dims)
{
    TEST_MODEL_REQUIRE(tm->n_infos < TEST_MODEL_CAPACITY && rank <= TEST_MODEL_MAX_RANK);
    int i = tm->n_infos++;
    Onnx__ValueInfoProto *info = &tm->infos[i];
    onnx__value_info_proto__init(info);
    onnx__type_proto__init(&tm->types[i]);
    onnx__type_proto__tensor__init(&tm->tensor_types[i]);
    info->name = (char *)name;
    info->type = &tm->types[i];
    tm->types[i].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tm->types[i].tensor_type = &tm->tensor_types[i];
    tm->tensor_types[i].has_elem_type = 1;
    tm->tensor_types[i].elem_type = elem_type;
    if (rank < 0)
        return info;

    onnx__tensor_shape_proto__init(&tm->shapes[i]);
    tm->tensor_types[i].shape = &tm->shapes[i];
    tm->shapes[i].n_dim = (size_t)rank;
    tm->shapes[i].dim = tm->dim_lists[i];
    for (int d = 0; d < rank; d++) {
        Onnx__TensorShapeProto__Dimension *dim = &tm->dims[i][d];
        onnx__tensor_shape_proto__dimension__init(dim);
        if (dims[d] >= 0) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim->dim_value = dims[d];
        } else {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim->dim_param = "N";
        }
        tm->dim_lists[i][d] = dim;
    }
    return info;
}

Onnx__ValueInfoProto *test_model_add_input(test_model *tm, const char *name, int32_t elem_type,
                                           int rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *info = test_model_value_info(tm, name, elem_type, rank, dims);
    tm->graph.input[tm->graph.n_input++] = info;
    return info;
}

Onnx__ValueInfoProto *test_model_add_output(test_model *tm, const char *name, int32_t elem_type,
                                            int rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *info = test_model_value_info(tm, name, elem_type, rank, dims);
    tm->graph.output[tm->graph.n_output++] = info;
    return info;
}

Onnx__TensorProto *test_model_tensor(test_model *tm, const char *name, int32_t data_type,
                                     int rank, const int64_t *dims)
{
    TEST_MODEL_REQUIRE(tm->n_tensors < TEST_MODEL_CAPACITY && rank <= TEST_MODEL_MAX_RANK);
    int i = tm->n_tensors++;
    Onnx__TensorProto *tensor = &tm->tensors[i];
    onnx__tensor_proto__init(tensor);
    tensor->name = (char *)name;
    tensor->has_data_type = 1;
    tensor->data_type = data_type;
    tensor->n_dims = (size_t)rank;
    tensor->dims = tm->tensor_dims[i];
    for (int d = 0; d < rank; d++)
        tm->tensor_dims[i][d] = dims[d];
    return tensor;
}

Onnx__TensorProto *test_model_add_initializer(test_model *tm, const char *name,
                                              int32_t data_type, int rank, const int64_t *dims)
{
    Onnx__TensorProto *tensor = test_model_tensor(tm, name, data_type, rank, dims);
    tm->graph.initializer[tm->graph.n_initializer++] = tensor;
    return tensor;
}

void test_tensor_set_raw(Onnx__TensorProto *tensor, const void *data, size_t size)
{
    tensor->has_raw_data = 1;
    tensor->raw_data.data = (uint8_t *)data;
    tensor->raw_data.len = size;
}

Onnx__NodeProto *test_model_add_node(test_model *tm, const char *op_type, const char *name,
                                     int n_inputs, const char *const *inputs, int n_outputs,
                                     const char *const *outputs)
{
    TEST_MODEL_REQUIRE(tm->graph.n_node < TEST_MODEL_CAPACITY);
    TEST_MODEL_REQUIRE(n_inputs <= TEST_MODEL_MAX_EDGES && n_outputs <= TEST_MODEL_MAX_EDGES);
    size_t i = tm->graph.n_node++;
    Onnx__NodeProto *node = &tm->nodes[i];
    onnx__node_proto__init(node);
    node->op_type = (char *)op_type;
    node->name = (char *)name;
    node->n_input = (size_t)n_inputs;
    node->input = tm->node_inputs[i];
    for (int k = 0; k < n_inputs; k++)
        tm->node_inputs[i][k] = (char *)inputs[k];
    node->n_output = (size_t)n_outputs;
    node->output = tm->node_outputs[i];
    for (int k = 0; k < n_outputs; k++)
        tm->node_outputs[i][k] = (char *)outputs[k];
    node->attribute = tm->node_attrs[i];
    tm->graph.node[i] = node;
    return node;
}

Onnx__AttributeProto *test_model_add_attr(test_model *tm, Onnx__NodeProto *node,
                                          const char *name, int type)
{
    TEST_MODEL_REQUIRE(tm->n_attrs < TEST_MODEL_CAPACITY);
    TEST_MODEL_REQUIRE(node->n_attribute < TEST_MODEL_MAX_EDGES);
    Onnx__AttributeProto *attr = &tm->attrs[tm->n_attrs++];
    onnx__attribute_proto__init(attr);
    attr->name = (char *)name;
    attr->has_type = 1;
    attr->type = (Onnx__AttributeProto__AttributeType)type;
    node->attribute[node->n_attribute++] = attr;
    return attr;
}

uint8_t *test_model_pack(test_model *tm, size_t *size)
{
    *size = onnx__model_proto__get_packed_size(&tm->model);
    uint8_t *bytes = malloc(*size ? *size : 1);
    TEST_MODEL_REQUIRE(bytes);
    onnx__model_proto__pack(&tm->model, bytes);
    return bytes;
}

uint8_t *test_model_pack_nested(int levels, size_t *size)
{
    Onnx__GraphProto *graphs = calloc((size_t)levels + 1, sizeof *graphs);
    Onnx__NodeProto *nodes = calloc((size_t)levels, sizeof *nodes);
    Onnx__NodeProto **node_lists = calloc((size_t)levels, sizeof *node_lists);
    Onnx__AttributeProto *attrs = calloc((size_t)levels, sizeof *attrs);
    Onnx__AttributeProto **attr_lists = calloc((size_t)levels, sizeof *attr_lists);
    TEST_MODEL_REQUIRE(graphs && nodes && node_lists && attrs && attr_lists);

    /* graphs[k] contains nodes[k], whose attribute attrs[k] contains graphs[k + 1]. */
    for (int k = 0; k <= levels; k++)
        onnx__graph_proto__init(&graphs[k]);
    for (int k = 0; k < levels; k++) {
        onnx__node_proto__init(&nodes[k]);
        onnx__attribute_proto__init(&attrs[k]);
        attrs[k].name = "body";
        attrs[k].has_type = 1;
        attrs[k].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
        attrs[k].g = &graphs[k + 1];
        attr_lists[k] = &attrs[k];
        nodes[k].op_type = "Loop";
        nodes[k].n_attribute = 1;
        nodes[k].attribute = &attr_lists[k];
        node_lists[k] = &nodes[k];
        graphs[k].n_node = 1;
        graphs[k].node = &node_lists[k];
    }

    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__OperatorSetIdProto *opset_list[1] = {&opset};
    opset.domain = "";
    opset.has_version = 1;
    opset.version = 13;
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    model.n_opset_import = 1;
    model.opset_import = opset_list;
    model.graph = &graphs[0];

    *size = onnx__model_proto__get_packed_size(&model);
    uint8_t *bytes = malloc(*size);
    TEST_MODEL_REQUIRE(bytes);
    onnx__model_proto__pack(&model, bytes);
    free(graphs);
    free(nodes);
    free(node_lists);
    free(attrs);
    free(attr_lists);
    return bytes;
}

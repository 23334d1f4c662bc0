/* Graph IR basics: values, nodes, attributes, cloning, and the op registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/graph.h"
#include "engine/op.h"

static void graph_clone_copies_constants(void **state)
{
    fs_graph *graph = fs_graph_create("model.onnx");
    assert_non_null(graph);
    int weight = fs_graph_add_value(graph, "w");
    int input = fs_graph_add_value(graph, "x");
    int output = fs_graph_add_value(graph, "y");
    assert_int_equal(weight, 0);
    int64_t dims[2] = {2, 3};
    fs_value_set_shape(&graph->values[weight], FS_DTYPE_FLOAT, 2, dims);
    float *data = malloc(6 * sizeof *data);
    for (int i = 0; i < 6; i++)
        data[i] = (float)i;
    graph->values[weight].data = data;
    graph->values[weight].owns_data = true;
    int node_inputs[2] = {input, weight};
    assert_int_equal(fs_graph_add_node(graph, "mm", "MatMul", node_inputs, 2, &output, 1), 0);

    fs_graph *copy = fs_graph_clone(graph, false);
    assert_non_null(copy);
    assert_ptr_not_equal(copy->values[weight].data, data);
    assert_memory_equal(copy->values[weight].data, data, 6 * sizeof *data);
    assert_string_equal(copy->nodes[0].op_type, "MatMul");
    assert_int_equal(fs_graph_find_value(copy, "y"), output);
    assert_int_equal(fs_value_numel(&copy->values[weight]), 6);
    assert_int_equal(fs_graph_count_uses(copy, weight), 1);
    fs_graph_free(copy);
    fs_graph_free(graph);
}

static void registry_rejects_unknown_op(void **state)
{
    assert_null(fs_op_find("NoSuchOp"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(graph_clone_copies_constants),
        cmocka_unit_test(registry_rejects_unknown_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

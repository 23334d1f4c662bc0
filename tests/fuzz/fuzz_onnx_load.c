/*
 * libFuzzer target for the ONNX loader: any input must either fail with a status and
 * a message naming the buffer, or load into a graph that satisfies the loader's
 * guarantees. Build and run it with scripts/fuzz-smoke.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "onnx/onnx_load.h"

#define FUZZ_NAME "fuzz-input.onnx"

/* Stops the run so libFuzzer saves the input as a crash. */
#define FUZZ_REQUIRE(condition)      \
    do {                             \
        if (!(condition))            \
            __builtin_trap();        \
    } while (0)

static void fuzz_check_graph(const fs_graph *graph)
{
    for (int i = 0; i < graph->n_nodes; i++) {
        const fs_node *node = &graph->nodes[i];
        FUZZ_REQUIRE(node->name && node->op_type && node->domain);
        for (int k = 0; k < node->n_inputs; k++) {
            int input = node->inputs[k];
            FUZZ_REQUIRE(input >= -1 && input < graph->n_values);
            if (input >= 0)
                FUZZ_REQUIRE(graph->values[input].producer < i);
        }
        for (int k = 0; k < node->n_outputs; k++) {
            int output = node->outputs[k];
            FUZZ_REQUIRE(output >= -1 && output < graph->n_values);
            if (output >= 0)
                FUZZ_REQUIRE(graph->values[output].producer == i);
        }
    }
    for (int v = 0; v < graph->n_values; v++) {
        const fs_value *value = &graph->values[v];
        FUZZ_REQUIRE(value->rank >= -1 && value->rank <= FS_MAX_RANK);
        if (value->data)
            FUZZ_REQUIRE(fs_value_numel(value) >= 0);
    }
    for (int i = 0; i < graph->n_outputs; i++)
        FUZZ_REQUIRE(graph->outputs[i] >= 0 && graph->outputs[i] < graph->n_values);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fs_graph *graph = NULL;
    fs_error err;
    int status = fs_onnx_load_buffer(data, size, FUZZ_NAME, NULL, &graph, &err);
    if (status == FACESIM_OK) {
        FUZZ_REQUIRE(graph != NULL);
        fuzz_check_graph(graph);
        fs_graph_free(graph);
    } else {
        FUZZ_REQUIRE(status < 0 && graph == NULL && err.code == status);
        FUZZ_REQUIRE(strstr(err.message, FUZZ_NAME) != NULL);
    }
    return 0;
}

/*
 * A one-node graph for testing an operator through the fs_op interface that the
 * engine uses. Add inputs (constants or runtime tensors, plain or NHWC) and
 * attributes. oh_run then calls infer, accepts_layouts, prepare and run as the
 * executor does, and returns the outputs in plain row-major order.
 *
 *     oh_graph *g = oh_create("Add", 13);
 *     oh_input(g, FS_DTYPE_FLOAT, 2, (int64_t[]){2, 3}, a, false);
 *     oh_input(g, FS_DTYPE_FLOAT, 1, (int64_t[]){3}, b, true);
 *     assert_int_equal(oh_run(g, 1, &err), FACESIM_OK);
 *     const float *y = oh_output_data(g, 0);
 *     oh_free(g);
 */
#ifndef FS_TESTS_OP_HARNESS_H
#define FS_TESTS_OP_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/graph.h"
#include "engine/op.h"

typedef struct oh_graph oh_graph;

/* Starts a graph with one node of op_type, planned under the given default-domain opset. */
oh_graph *oh_create(const char *op_type, int64_t opset);
void oh_free(oh_graph *g);

/*
 * Appends an input of the node. data (row-major, copied) is required for constants and
 * runtime inputs alike. Returns the value index.
 */
int oh_input(oh_graph *g, fs_dtype dtype, int rank, const int64_t *dims, const void *data,
             bool constant);
/* Appends an omitted optional input (index -1). */
void oh_input_omitted(oh_graph *g);
/* Stores runtime input `position` in NHWC memory order (rank-4 float only). */
void oh_input_layout(oh_graph *g, int position, fs_layout layout);

void oh_attr_int(oh_graph *g, const char *name, int64_t value);
void oh_attr_float(oh_graph *g, const char *name, float value);
void oh_attr_string(oh_graph *g, const char *name, const char *value);
void oh_attr_ints(oh_graph *g, const char *name, const int64_t *values, size_t count);
void oh_attr_floats(oh_graph *g, const char *name, const float *values, size_t count);
/* A tensor attribute (Constant's value); data is copied into a new constant value. */
void oh_attr_tensor(oh_graph *g, const char *name, fs_dtype dtype, int rank,
                    const int64_t *dims, const void *data);

/* Threads handed to the op (default 1). */
void oh_threads(oh_graph *g, int threads);
/* Skips prepare, as constant folding does; then every input must be plain. */
void oh_skip_prepare(oh_graph *g);

/*
 * Adds the node with n_outputs outputs and runs it. Returns the first failing status,
 * with the message in err. When accepts_layouts rejects the input layouts, the inputs
 * are converted to plain first, as the executor does.
 */
int oh_run(oh_graph *g, int n_outputs, fs_error *err);

/* Output value (dtype and shape after infer). */
const fs_value *oh_output(const oh_graph *g, int index);
/* Output data in plain row-major order, converted back from NHWC if the op wrote NHWC. */
const void *oh_output_data(const oh_graph *g, int index);
/* Layout the op chose for output index. */
fs_layout oh_output_layout(const oh_graph *g, int index);
/* Whether accepts_layouts took the requested input layouts. */
bool oh_layouts_accepted(const oh_graph *g);
/* The graph, for tests that inspect or change it before oh_run. */
fs_graph *oh_fs_graph(oh_graph *g);

/* Converts a logical NCHW tensor between plain and NHWC memory order. */
void oh_nchw_to_nhwc(const float *src, float *dst, const int64_t *dims);
void oh_nhwc_to_nchw(const float *src, float *dst, const int64_t *dims);

#endif /* FS_TESTS_OP_HARNESS_H */

/*
 * Small ONNX models built in memory with the generated protobuf-c types, for loader
 * tests that need a particular defect (a cycle, a bad dimension, a missing input).
 *
 * Usage:
 *     test_model *tm = test_model_create(13);
 *     test_model_add_input(tm, "x", 1, 2, (int64_t[]){1, 4});
 *     Onnx__TensorProto *w = test_model_add_initializer(tm, "w", 1, 1, (int64_t[]){4});
 *     test_tensor_set_raw(w, weights, sizeof weights);
 *     test_model_add_node(tm, "Add", "add", 2, (const char *[]){"x", "w"}, 1,
 *                         (const char *[]){"y"});
 *     test_model_add_output(tm, "y", 1, 2, (int64_t[]){1, 4});
 *     size_t size;
 *     uint8_t *bytes = test_model_pack(tm, &size);   // malloc'd ModelProto
 *     ... then edit the messages further and pack again ...
 *     test_model_free(tm);
 *
 * Every string and data pointer stored in the messages is borrowed from the caller and
 * must outlive the last test_model_pack call. Each builder aborts the test program
 * when its fixed capacity runs out.
 */
#ifndef FACESIM_TESTS_HOSTILE_MODELS_H
#define FACESIM_TESTS_HOSTILE_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "onnx.pb-c.h"

#define TEST_MODEL_CAPACITY 16 /* nodes, tensors, value infos and attributes, each */
#define TEST_MODEL_MAX_RANK 12 /* more than the loader accepts, to test its limit */
#define TEST_MODEL_MAX_EDGES 6 /* inputs, outputs and attributes per node */

typedef struct test_model test_model;

/* Allocates a model with a graph and an opset import of the default domain (version opset). */
test_model *test_model_create(int64_t opset);
void test_model_free(test_model *tm);

/* The messages, for edits the builders do not cover. */
Onnx__ModelProto *test_model_proto(test_model *tm);

/*
 * Declares a graph input or output of ONNX element type elem_type. A negative entry of
 * dims becomes a symbolic dimension "N"; rank -1 declares no shape.
 */
Onnx__ValueInfoProto *test_model_add_input(test_model *tm, const char *name, int32_t elem_type,
                                           int rank, const int64_t *dims);
Onnx__ValueInfoProto *test_model_add_output(test_model *tm, const char *name, int32_t elem_type,
                                            int rank, const int64_t *dims);

/* Creates a tensor (no data yet) without adding it to the graph, for attributes. */
Onnx__TensorProto *test_model_tensor(test_model *tm, const char *name, int32_t data_type,
                                     int rank, const int64_t *dims);
/* Creates a tensor and appends it to the graph's initializers. */
Onnx__TensorProto *test_model_add_initializer(test_model *tm, const char *name,
                                              int32_t data_type, int rank,
                                              const int64_t *dims);
/* Sets the tensor's raw_data to size bytes at data (borrowed). */
void test_tensor_set_raw(Onnx__TensorProto *tensor, const void *data, size_t size);

/* Appends a node; name may be NULL for an unnamed node. */
Onnx__NodeProto *test_model_add_node(test_model *tm, const char *op_type, const char *name,
                                     int n_inputs, const char *const *inputs, int n_outputs,
                                     const char *const *outputs);
/* Appends an attribute of ONNX AttributeType type to node; the caller sets its value. */
Onnx__AttributeProto *test_model_add_attr(test_model *tm, Onnx__NodeProto *node,
                                          const char *name, int type);

/* Serialises the model into a malloc'd buffer of *size bytes. */
uint8_t *test_model_pack(test_model *tm, size_t *size);

/*
 * Serialises a model whose node has a graph attribute whose node has a graph attribute,
 * `levels` deep, into a malloc'd buffer: a small file with deep message nesting.
 */
uint8_t *test_model_pack_nested(int levels, size_t *size);

#endif /* FACESIM_TESTS_HOSTILE_MODELS_H */

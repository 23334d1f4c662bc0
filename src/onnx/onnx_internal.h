/*
 * Shared state and helpers of the ONNX loader's files:
 *   onnx_load.c    entry points, file mapping, opset, graph inputs and outputs
 *   onnx_wire.c    protobuf wire-format checks and the split of initializers
 *   onnx_tensor.c  TensorProto and declared types -> values
 *   onnx_nodes.c   nodes, attributes and Constant nodes
 *   onnx_order.c   topological sort and cycle reports
 *   onnx_names.c   value-name hash table and value creation
 */
#ifndef FS_ONNX_ONNX_INTERNAL_H
#define FS_ONNX_ONNX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/checked.h"
#include "onnx.pb-c.h"
#include "onnx/onnx_load.h"

/* Largest dimension the loader accepts in a tensor or declared type (ONNX allows int64). */
#define FS_ONNX_MAX_DIM ((int64_t)1 << 31)

/* Open-addressing map from value name to value index. Names are borrowed from the graph. */
typedef struct fs_onnx_names {
    int *slots;      /* value index or -1 */
    size_t capacity; /* power of two */
    size_t count;
} fs_onnx_names;

/* One loading run: the graph being built and what every error message needs. */
typedef struct fs_onnx_loader {
    const char *name;        /* file or buffer name, first in every message */
    fs_onnx_limits limits;
    fs_graph *graph;
    fs_onnx_names names;     /* values that nodes can refer to by name */
    fs_error *err;
} fs_onnx_loader;

/* Sets loader->err to code with "<name>: <message>"; returns code. */
int fs_onnx_fail(const fs_onnx_loader *loader, int code, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* The message for bytes that protobuf cannot decode; returns FACESIM_ERR_INVALID_DATA. */
int fs_onnx_fail_parse(const fs_onnx_loader *loader, const char *detail);

/* ---- onnx_names.c ---- */

/* Maximum number of values in one graph. fs_graph counts values in an int and doubles its
 * capacity as it grows, so 1 << 30 keeps that arithmetic in range. */
#define FS_ONNX_MAX_VALUES (1 << 30)

/* Appends a graph value called name (not added to the name table) through *index. */
int fs_onnx_add_value(fs_onnx_loader *loader, const char *name, int *index);

void fs_onnx_names_free(fs_onnx_names *names);
/* Returns the index of the value called name, or -1. */
int fs_onnx_names_find(const fs_onnx_loader *loader, const char *name);
/* Adds graph value `index` under its name; the caller has checked that it is new. */
int fs_onnx_names_add(fs_onnx_loader *loader, int index);

/* ---- onnx_wire.c ---- */

/* A borrowed byte range of the model. */
typedef struct fs_onnx_slice {
    const uint8_t *data;
    size_t size;
} fs_onnx_slice;

/*
 * Checks that data is well-formed protobuf wire format without excessive nesting, then
 * splits it. *skeleton (malloc'd) is the model with every graph initializer removed.
 * *initializers (malloc'd) lists the encoded TensorProto of each initializer, in file
 * order, as ranges of data.
 */
int fs_onnx_wire_split(const fs_onnx_loader *loader, const uint8_t *data, size_t size,
                       uint8_t **skeleton, size_t *skeleton_size,
                       fs_onnx_slice **initializers, size_t *n_initializers);

/* ---- onnx_tensor.c ---- */

/*
 * Adds a constant value called value_name holding tensor's contents. Raw data buffers
 * are taken from the message (tensor->raw_data.data becomes NULL) when aligned.
 * label names the tensor in messages, such as "initializer 'w'". Returns the value
 * index through *index.
 */
int fs_onnx_add_tensor(fs_onnx_loader *loader, Onnx__TensorProto *tensor,
                       const char *value_name, const char *label, int *index);

/* Sets value's dtype and dims from a declared type (graph input or output). */
int fs_onnx_apply_type(fs_onnx_loader *loader, const Onnx__TypeProto *type, fs_value *value,
                       const char *label);

/* Maps an ONNX TensorProto.DataType to an fs_dtype, or FS_DTYPE_UNDEFINED. */
fs_dtype fs_onnx_dtype(int32_t onnx_type);
/* Name of an ONNX TensorProto.DataType, such as "float16". */
const char *fs_onnx_type_name(int32_t onnx_type);

/* ---- onnx_nodes.c ---- */

/* Converts graph->node into graph nodes (file order) and constant values. */
int fs_onnx_add_nodes(fs_onnx_loader *loader, const Onnx__GraphProto *graph_proto);

/* ---- onnx_order.c ---- */

/* Sorts the graph's nodes topologically and sets every value's producer. */
int fs_onnx_sort_nodes(fs_onnx_loader *loader);

#endif /* FS_ONNX_ONNX_INTERNAL_H */

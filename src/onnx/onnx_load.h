/*
 * ONNX model loader: reads an ONNX file (protobuf ModelProto) into an fs_graph.
 *
 * Usage:
 *     fs_graph *graph;
 *     fs_error err;
 *     if (fs_onnx_load_file("model.onnx", NULL, &graph, &err) != FACESIM_OK)
 *         ... err.message names the file and the node or tensor at fault ...
 *     ... graph->nodes are in topological order ...
 *     fs_graph_free(graph);
 *
 * What the graph contains after a successful load:
 *   - Every initializer and every Constant node output is a constant value: dtype and
 *     shape set, `data` a malloc'd row-major buffer owned by the graph (`owns_data`).
 *     An empty tensor (a zero dimension) still gets a non-NULL `data`, so
 *     `data != NULL` always marks a constant. Constant nodes themselves are dropped.
 *     float64 tensors are converted to float32.
 *   - Graph inputs that are not initializers (older exporters list initializers as
 *     inputs too) in graph->inputs, with dtype and dims from their declared type. A
 *     symbolic or missing dimension is -1; an input without a declared shape has rank -1.
 *   - Graph outputs in graph->outputs, marked is_graph_output, with dtype and dims from
 *     their declared type where the value's shape is not already known.
 *   - Nodes in topological order (stable: nodes already in order keep the file's order),
 *     each named (an unnamed node gets "<op_type>_<index in the file>"), with its domain
 *     ("" for the default ONNX domain, also when the file spells it "ai.onnx"). An omitted
 *     optional input or output (an empty name) is -1. A TENSOR attribute becomes a
 *     constant value named "<node>.<attribute>" that no node input can refer to, and
 *     attr.tensor is its index.
 *   - value->producer is the index of the node that computes it, -1 for inputs and
 *     constants. graph->opset is the version of the default ONNX domain.
 *
 * Errors (apart from FACESIM_ERR_INVALID_ARGUMENT for NULL arguments, err->message
 * starts with the file name or the buffer's name):
 *   FACESIM_ERR_IO           the file cannot be opened, examined or mapped.
 *   FACESIM_ERR_INVALID_DATA not a protobuf ModelProto (empty, truncated, corrupt), no
 *                            graph, a node reading a value nothing produces, a value
 *                            produced twice, a cycle, a negative or oversized dimension,
 *                            tensor data whose size does not match its dims.
 *   FACESIM_ERR_UNSUPPORTED  valid ONNX that facesim does not read: default-domain
 *                            opset outside 7..18, external data, tensor types other
 *                            than float32/64, int8, uint8, int32, int64 and bool,
 *                            sparse tensors, graph-valued and list-of-string attributes.
 *   FACESIM_ERR_LIMIT        the file, a tensor's element count, a rank or the node
 *                            count exceeds fs_onnx_limits.
 *   FACESIM_ERR_NO_MEMORY    an allocation failed.
 *
 * Memory: fs_onnx_load_file maps the file read-only and hands the unpacked weight
 * buffers to the graph without copying them, returning the file's pages to the kernel
 * as it goes. The peak footprint is about one copy of the weights plus the largest
 * tensor: 224 MB peak RSS for the 174.5 MB random-weight iresnet50 that
 * make_iresnet50.py builds (measured with /usr/bin/time -v on x86-64). test_onnx_load
 * checks that the peak stays below twice the weights.
 *
 * Limitations: little-endian hosts only. Nodes of other domains are kept as they are,
 * and the engine rejects the ops it does not implement. Graph-valued attributes (If and
 * Loop bodies) fail with FACESIM_ERR_UNSUPPORTED, and model-local functions are ignored.
 */
#ifndef FS_ONNX_ONNX_LOAD_H
#define FS_ONNX_ONNX_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "engine/graph.h"

/* Lowest and highest version of the default ONNX operator set the loader accepts. */
#define FS_ONNX_MIN_OPSET 7
#define FS_ONNX_MAX_OPSET 18

/* Caps applied while loading untrusted files. Set them with fs_onnx_default_limits. */
typedef struct fs_onnx_limits {
    uint64_t max_file_bytes;      /* larger files fail with FACESIM_ERR_LIMIT */
    int64_t max_tensor_elements;  /* per initializer, constant and declared input/output */
    int max_nodes;                /* nodes in the graph, Constant nodes included */
    int max_rank;                 /* tensor rank; values above FS_MAX_RANK act as FS_MAX_RANK */
} fs_onnx_limits;

/* Fills limits with the defaults: 2 GiB files, 1 << 28 elements per tensor,
 * 100000 nodes, rank 8. */
void fs_onnx_default_limits(fs_onnx_limits *limits);

/*
 * Loads the ONNX model at path. limits may be NULL for the defaults. On success *out is
 * a new graph owned by the caller (free it with fs_graph_free) and graph->path is path.
 * On failure *out is NULL and err (may be NULL) describes the problem, naming path.
 */
int fs_onnx_load_file(const char *path, const fs_onnx_limits *limits, fs_graph **out,
                      fs_error *err);

/*
 * Loads a model from size bytes at data (borrowed, only read during the call). name is
 * used in messages and stored as graph->path; NULL means "<buffer>". Otherwise as
 * fs_onnx_load_file, except that the buffer's pages are not released early.
 */
int fs_onnx_load_buffer(const void *data, size_t size, const char *name,
                        const fs_onnx_limits *limits, fs_graph **out, fs_error *err);

#endif /* FS_ONNX_ONNX_LOAD_H */

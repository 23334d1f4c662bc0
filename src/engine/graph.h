/*
 * The engine's model graph: values (tensors) and nodes, as loaded from an ONNX
 * file and then rewritten by the optimisation passes.
 *
 * Values and nodes live in arrays owned by the graph and are referred to by
 * index, so passes can add entries without invalidating references. A value's
 * shape uses ONNX semantics (logical NCHW order), whatever memory layout the
 * executor later picks for it.
 */
#ifndef FS_ENGINE_GRAPH_H
#define FS_ENGINE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define FS_MAX_RANK 8

/* Element types, numbered as ONNX TensorProto.DataType numbers them. */
typedef enum fs_dtype {
    FS_DTYPE_UNDEFINED = 0,
    FS_DTYPE_FLOAT = 1,
    FS_DTYPE_UINT8 = 2,
    FS_DTYPE_INT8 = 3,
    FS_DTYPE_INT32 = 6,
    FS_DTYPE_INT64 = 7,
    FS_DTYPE_BOOL = 9
} fs_dtype;

/* Size in bytes of one element, or 0 for a type the engine cannot hold. */
size_t fs_dtype_size(fs_dtype dtype);
const char *fs_dtype_name(fs_dtype dtype);

/* A tensor of the graph: a graph input, an initializer, a constant or an intermediate. */
typedef struct fs_value {
    char *name;
    fs_dtype dtype;               /* FS_DTYPE_UNDEFINED until inferred */
    int rank;                     /* -1 until inferred */
    int64_t dims[FS_MAX_RANK];    /* -1 for a dimension not known yet */
    void *data;                   /* constant contents (row-major), NULL for runtime values */
    bool owns_data;               /* data is freed with the graph */
    bool is_graph_input;
    bool is_graph_output;
    int producer;                 /* node index, or -1 for inputs and constants */
    bool packed;                  /* constant whose data now lives only in the engine's weight
                                     cache (data is NULL, shape still valid) */
} fs_value;

/* Attribute types, numbered as ONNX AttributeProto.AttributeType numbers them. */
typedef enum fs_attr_type {
    FS_ATTR_FLOAT = 1,
    FS_ATTR_INT = 2,
    FS_ATTR_STRING = 3,
    FS_ATTR_TENSOR = 4,
    FS_ATTR_FLOATS = 6,
    FS_ATTR_INTS = 7,
    FS_ATTR_STRINGS = 8
} fs_attr_type;

typedef struct fs_attr {
    char *name;
    fs_attr_type type;
    float f;
    int64_t i;
    char *s;              /* FS_ATTR_STRING, NUL-terminated */
    float *floats;        /* FS_ATTR_FLOATS, `count` entries */
    int64_t *ints;        /* FS_ATTR_INTS, `count` entries */
    size_t count;
    int tensor;           /* FS_ATTR_TENSOR: index of a constant value */
} fs_attr;

struct fs_op;

typedef struct fs_node {
    char *name;           /* never NULL: the loader names unnamed nodes "<op>_<index>" */
    char *op_type;
    char *domain;         /* "" for the default ONNX domain */
    int *inputs;          /* value indices; -1 for an omitted optional input */
    int n_inputs;
    int *outputs;
    int n_outputs;
    fs_attr *attrs;
    int n_attrs;
    bool removed;         /* dropped by a pass; skipped everywhere */

    /* Filled by the engine, not the loader. */
    const struct fs_op *op;
    void *state;          /* op-private data, released through op->release */
    int fused_activation; /* fs_activation_kind of a fused Relu/Clip/PRelu, 0 for none */
    int fused_slope;      /* PRelu slope value index, -1 if none */
    float fused_min, fused_max; /* Clip bounds when fused */
    int fused_sum;        /* value index added to the output (residual Add), -1 if none */
    int fused_sum_activation;           /* fs_activation_kind applied after fused_sum: Relu
                                           or Clip, 0 for none */
    float fused_sum_min, fused_sum_max; /* its Clip bounds */
} fs_node;

typedef struct fs_graph {
    char *path;           /* the model file, for messages */
    int64_t opset;        /* version of the default ONNX domain */
    fs_value *values;
    int n_values;
    int cap_values;
    fs_node *nodes;       /* in topological order after loading */
    int n_nodes;
    int cap_nodes;
    int *inputs;          /* graph inputs that are not initializers */
    int n_inputs;
    int *outputs;
    int n_outputs;
} fs_graph;

enum fs_activation_kind {
    FS_ACTIVATION_NONE = 0,
    FS_ACTIVATION_RELU = 1,
    FS_ACTIVATION_CLIP = 2,
    FS_ACTIVATION_PRELU = 3
};

/* Allocates an empty graph; path is copied. Returns NULL when out of memory. */
fs_graph *fs_graph_create(const char *path);

/* Frees the graph, its values' owned data and its nodes' op state. Accepts NULL. */
void fs_graph_free(fs_graph *graph);

/* Deep-copies the graph. Constant data is copied too unless share_constants is
 * true, in which case the copy borrows it (owns_data false). NULL when out of memory. */
fs_graph *fs_graph_clone(const fs_graph *graph, bool share_constants);

/* Appends a value named `name` (copied); returns its index or -1 when out of memory. */
int fs_graph_add_value(fs_graph *graph, const char *name);

/* Appends a node; op_type and name are copied, inputs/outputs copied. Returns index or -1. */
int fs_graph_add_node(fs_graph *graph, const char *name, const char *op_type,
                      const int *inputs, int n_inputs, const int *outputs, int n_outputs);

/* Returns the index of the value named `name`, or -1. Linear search. */
int fs_graph_find_value(const fs_graph *graph, const char *name);

/* Number of elements of a value with a fully known shape, or -1 if unknown or overflowing. */
int64_t fs_value_numel(const fs_value *value);

/* True when every dimension of the value is known (rank >= 0 and no -1 dims). */
bool fs_value_shape_known(const fs_value *value);

/* Sets a value's dtype, rank and dims. */
void fs_value_set_shape(fs_value *value, fs_dtype dtype, int rank, const int64_t *dims);

/* Attribute look-ups. Each returns the attribute or NULL when the node lacks it. */
const fs_attr *fs_node_attr(const fs_node *node, const char *name);

/*
 * Typed attribute getters with a default. They fail (and name the node, its op and the
 * attribute in err) when the attribute exists with another type.
 */
int fs_node_attr_int(const fs_node *node, const char *name, int64_t fallback, int64_t *out,
                     fs_error *err);
int fs_node_attr_float(const fs_node *node, const char *name, float fallback, float *out,
                       fs_error *err);
/* Returns the INTS attribute through *out (borrowed) and *count; *out NULL if absent. */
int fs_node_attr_ints(const fs_node *node, const char *name, const int64_t **out, size_t *count,
                      fs_error *err);
/* Returns the STRING attribute (borrowed) or fallback. */
int fs_node_attr_string(const fs_node *node, const char *name, const char *fallback,
                        const char **out, fs_error *err);

/* Number of non-removed nodes that read value `value_index`, plus one if it is a graph output. */
int fs_graph_count_uses(const fs_graph *graph, int value_index);

#endif /* FS_ENGINE_GRAPH_H */

#include "support/op_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OH_MAX_IO 16

struct oh_graph {
    fs_graph *graph;
    char *op_type;
    int inputs[OH_MAX_IO];
    fs_layout input_layouts[OH_MAX_IO];
    void *input_data[OH_MAX_IO]; /* plain copies of runtime inputs */
    int n_inputs;
    fs_attr *attrs;
    int n_attrs;
    int threads;
    bool skip_prepare;
    bool accepted;

    int node;
    fs_tensor *tensors;
    void *output_plain[OH_MAX_IO];
    void *scratch;
};

/* Test support: running out of memory here is not a case worth a status. */
static void *oh_alloc(size_t bytes)
{
    void *memory = calloc(1, bytes ? bytes : 1);
    if (!memory) {
        fprintf(stderr, "op_harness: out of memory\n");
        abort();
    }
    return memory;
}

static char *oh_strdup(const char *text)
{
    char *copy = oh_alloc(strlen(text) + 1);
    strcpy(copy, text);
    return copy;
}

oh_graph *oh_create(const char *op_type, int64_t opset)
{
    oh_graph *g = oh_alloc(sizeof *g);
    g->graph = fs_graph_create("test.onnx");
    g->graph->opset = opset;
    g->op_type = oh_strdup(op_type);
    g->threads = 1;
    g->node = -1;
    return g;
}

void oh_free(oh_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < OH_MAX_IO; i++) {
        free(g->input_data[i]);
        free(g->output_plain[i]);
    }
    if (g->tensors) {
        for (int i = 0; i < g->graph->n_values; i++) {
            bool borrowed = g->graph->values[i].data == g->tensors[i].data;
            if (!borrowed)
                free(g->tensors[i].data);
        }
    }
    if (g->node < 0) {
        for (int a = 0; a < g->n_attrs; a++) {
            free(g->attrs[a].name);
            free(g->attrs[a].s);
            free(g->attrs[a].floats);
            free(g->attrs[a].ints);
        }
        free(g->attrs);
    }
    free(g->tensors);
    free(g->scratch);
    free(g->op_type);
    fs_graph_free(g->graph);
    free(g);
}

static size_t oh_bytes(const fs_value *value)
{
    return (size_t)fs_value_numel(value) * fs_dtype_size(value->dtype);
}

int oh_input(oh_graph *g, fs_dtype dtype, int rank, const int64_t *dims, const void *data,
             bool constant)
{
    char name[32];
    snprintf(name, sizeof name, "x%d", g->n_inputs);
    int index = fs_graph_add_value(g->graph, name);
    fs_value *value = &g->graph->values[index];
    fs_value_set_shape(value, dtype, rank, dims);
    void *copy = oh_alloc(oh_bytes(value));
    memcpy(copy, data, oh_bytes(value));
    if (constant) {
        value->data = copy;
        value->owns_data = true;
    } else {
        value->is_graph_input = true;
        g->input_data[g->n_inputs] = copy;
    }
    g->input_layouts[g->n_inputs] = FS_LAYOUT_PLAIN;
    g->inputs[g->n_inputs++] = index;
    return index;
}

void oh_input_omitted(oh_graph *g)
{
    g->input_layouts[g->n_inputs] = FS_LAYOUT_PLAIN;
    g->inputs[g->n_inputs++] = -1;
}

void oh_input_layout(oh_graph *g, int position, fs_layout layout)
{
    g->input_layouts[position] = layout;
}

static fs_attr *oh_add_attr(oh_graph *g, const char *name, fs_attr_type type)
{
    g->attrs = realloc(g->attrs, (size_t)(g->n_attrs + 1) * sizeof *g->attrs);
    if (!g->attrs)
        abort();
    fs_attr *attr = &g->attrs[g->n_attrs++];
    memset(attr, 0, sizeof *attr);
    attr->name = oh_strdup(name);
    attr->type = type;
    attr->tensor = -1;
    return attr;
}

void oh_attr_int(oh_graph *g, const char *name, int64_t value)
{
    oh_add_attr(g, name, FS_ATTR_INT)->i = value;
}

void oh_attr_float(oh_graph *g, const char *name, float value)
{
    oh_add_attr(g, name, FS_ATTR_FLOAT)->f = value;
}

void oh_attr_string(oh_graph *g, const char *name, const char *value)
{
    oh_add_attr(g, name, FS_ATTR_STRING)->s = oh_strdup(value);
}

void oh_attr_ints(oh_graph *g, const char *name, const int64_t *values, size_t count)
{
    fs_attr *attr = oh_add_attr(g, name, FS_ATTR_INTS);
    attr->ints = oh_alloc(count * sizeof *values);
    memcpy(attr->ints, values, count * sizeof *values);
    attr->count = count;
}

void oh_attr_floats(oh_graph *g, const char *name, const float *values, size_t count)
{
    fs_attr *attr = oh_add_attr(g, name, FS_ATTR_FLOATS);
    attr->floats = oh_alloc(count * sizeof *values);
    memcpy(attr->floats, values, count * sizeof *values);
    attr->count = count;
}

void oh_attr_tensor(oh_graph *g, const char *name, fs_dtype dtype, int rank,
                    const int64_t *dims, const void *data)
{
    int index = fs_graph_add_value(g->graph, name);
    fs_value *value = &g->graph->values[index];
    fs_value_set_shape(value, dtype, rank, dims);
    value->data = oh_alloc(oh_bytes(value));
    memcpy(value->data, data, oh_bytes(value));
    value->owns_data = true;
    oh_add_attr(g, name, FS_ATTR_TENSOR)->tensor = index;
}

void oh_threads(oh_graph *g, int threads)
{
    g->threads = threads;
}

void oh_skip_prepare(oh_graph *g)
{
    g->skip_prepare = true;
}

void oh_nchw_to_nhwc(const float *src, float *dst, const int64_t *dims)
{
    int64_t n = dims[0], c = dims[1], h = dims[2], w = dims[3];
    for (int64_t in = 0; in < n; in++)
        for (int64_t ic = 0; ic < c; ic++)
            for (int64_t iy = 0; iy < h; iy++)
                for (int64_t ix = 0; ix < w; ix++)
                    dst[((in * h + iy) * w + ix) * c + ic] = src[((in * c + ic) * h + iy) * w + ix];
}

void oh_nhwc_to_nchw(const float *src, float *dst, const int64_t *dims)
{
    int64_t n = dims[0], c = dims[1], h = dims[2], w = dims[3];
    for (int64_t in = 0; in < n; in++)
        for (int64_t ic = 0; ic < c; ic++)
            for (int64_t iy = 0; iy < h; iy++)
                for (int64_t ix = 0; ix < w; ix++)
                    dst[((in * c + ic) * h + iy) * w + ix] = src[((in * h + iy) * w + ix) * c + ic];
}

/* Gives runtime input `position` its data in the requested layout. */
static void oh_bind_input(oh_graph *g, int position, fs_layout layout)
{
    int index = g->inputs[position];
    fs_value *value = &g->graph->values[index];
    free(g->tensors[index].data);
    void *data = oh_alloc(oh_bytes(value));
    if (layout == FS_LAYOUT_NHWC)
        oh_nchw_to_nhwc(g->input_data[position], data, value->dims);
    else
        memcpy(data, g->input_data[position], oh_bytes(value));
    g->tensors[index].data = data;
    g->tensors[index].layout = layout;
}

int oh_run(oh_graph *g, int n_outputs, fs_error *err)
{
    fs_error_clear(err);
    int outputs[OH_MAX_IO];
    for (int i = 0; i < n_outputs; i++) {
        char name[32];
        snprintf(name, sizeof name, "y%d", i);
        outputs[i] = fs_graph_add_value(g->graph, name);
    }
    g->node = fs_graph_add_node(g->graph, "test_node", g->op_type, g->inputs, g->n_inputs,
                                outputs, n_outputs);
    fs_node *node = &g->graph->nodes[g->node];
    node->attrs = g->attrs;
    node->n_attrs = g->n_attrs;
    for (int i = 0; i < n_outputs; i++)
        g->graph->values[outputs[i]].producer = g->node;

    const fs_op *op = fs_op_find(g->op_type);
    if (!op)
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED, "op %s is not linked", g->op_type);
    node->op = op;
    int status = op->infer(g->graph, node, err);
    if (status != FACESIM_OK)
        return status;

    /* Bind tensors: constants borrow their data, runtime values get buffers. */
    g->tensors = oh_alloc((size_t)g->graph->n_values * sizeof *g->tensors);
    for (int i = 0; i < g->graph->n_values; i++)
        g->tensors[i].data = g->graph->values[i].data;
    fs_layout layouts[OH_MAX_IO];
    bool any_nhwc = false;
    for (int k = 0; k < g->n_inputs; k++) {
        layouts[k] = FS_LAYOUT_PLAIN;
        if (g->inputs[k] < 0 || g->graph->values[g->inputs[k]].data)
            continue;
        layouts[k] = g->input_layouts[k];
        any_nhwc |= layouts[k] == FS_LAYOUT_NHWC;
    }
    g->accepted = true;
    if (any_nhwc && (!op->accepts_layouts || !op->accepts_layouts(g->graph, node, layouts))) {
        g->accepted = false;
        for (int k = 0; k < g->n_inputs; k++)
            layouts[k] = FS_LAYOUT_PLAIN;
    }
    for (int k = 0; k < g->n_inputs; k++)
        if (g->inputs[k] >= 0 && !g->graph->values[g->inputs[k]].data)
            oh_bind_input(g, k, layouts[k]);
    for (int i = 0; i < n_outputs; i++) {
        if (outputs[i] < 0 || node->outputs[i] < 0)
            continue;
        g->tensors[outputs[i]].data = oh_alloc(oh_bytes(&g->graph->values[outputs[i]]));
        g->tensors[outputs[i]].layout = FS_LAYOUT_PLAIN;
    }

    fs_run_ctx ctx = { .graph = g->graph, .tensors = g->tensors, .threads = g->threads };
    if (op->prepare && !g->skip_prepare) {
        size_t scratch_bytes = 0;
        status = op->prepare(&ctx, node, &scratch_bytes, err);
        if (status != FACESIM_OK)
            return status;
        g->scratch = oh_alloc(scratch_bytes);
        ctx.scratch = g->scratch;
        ctx.scratch_size = scratch_bytes;
    }
    status = op->run(&ctx, node, err);
    if (status != FACESIM_OK)
        return status;

    for (int i = 0; i < n_outputs; i++) {
        const fs_value *value = &g->graph->values[outputs[i]];
        g->output_plain[i] = oh_alloc(oh_bytes(value));
        if (g->tensors[outputs[i]].layout == FS_LAYOUT_NHWC)
            oh_nhwc_to_nchw(g->tensors[outputs[i]].data, g->output_plain[i], value->dims);
        else
            memcpy(g->output_plain[i], g->tensors[outputs[i]].data, oh_bytes(value));
    }
    return FACESIM_OK;
}

const fs_value *oh_output(const oh_graph *g, int index)
{
    return &g->graph->values[g->graph->nodes[g->node].outputs[index]];
}

const void *oh_output_data(const oh_graph *g, int index)
{
    return g->output_plain[index];
}

fs_layout oh_output_layout(const oh_graph *g, int index)
{
    return g->tensors[g->graph->nodes[g->node].outputs[index]].layout;
}

bool oh_layouts_accepted(const oh_graph *g)
{
    return g->accepted;
}

fs_graph *oh_fs_graph(oh_graph *g)
{
    return g->graph;
}

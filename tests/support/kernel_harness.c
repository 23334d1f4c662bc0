#include "kernel_harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *kernel_alloc(size_t bytes)
{
    void *memory = calloc(1, bytes ? bytes : 1);
    if (!memory) {
        fprintf(stderr, "kernel harness: out of memory allocating %zu bytes\n", bytes);
        abort();
    }
    return memory;
}

static char *kernel_strdup(const char *text)
{
    char *copy = kernel_alloc(strlen(text) + 1);
    strcpy(copy, text);
    return copy;
}

int64_t kernel_numel(int rank, const int64_t *dims)
{
    int64_t count = 1;
    for (int d = 0; d < rank; d++)
        count *= dims[d];
    return count;
}

void kernel_nchw_to_nhwc(const float *src, float *dst, const int64_t dims[4])
{
    int64_t n = dims[0], c = dims[1], plane = dims[2] * dims[3];
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < c; k++)
            for (int64_t p = 0; p < plane; p++)
                dst[(i * plane + p) * c + k] = src[(i * c + k) * plane + p];
}

void kernel_nhwc_to_nchw(const float *src, float *dst, const int64_t dims[4])
{
    int64_t n = dims[0], c = dims[1], plane = dims[2] * dims[3];
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < c; k++)
            for (int64_t p = 0; p < plane; p++)
                dst[(i * c + k) * plane + p] = src[(i * plane + p) * c + k];
}

kernel_case *kernel_case_create(const char *op_type)
{
    kernel_case *kc = kernel_alloc(sizeof *kc);
    kc->graph = fs_graph_create("kernel-test.onnx");
    if (!kc->graph)
        abort();
    kc->graph->opset = 17;
    snprintf(kc->op_type, sizeof kc->op_type, "%s", op_type);
    kc->op = fs_op_find(op_type);
    kc->node = -1;
    kc->n_outputs = 1;
    kc->fused_slope = -1;
    kc->fused_sum = -1;
    return kc;
}

static void kernel_case_free_tensors(kernel_case *kc)
{
    for (int v = 0; v < KERNEL_CASE_MAX_VALUES; v++) {
        free(kc->buffers[v]);
        kc->buffers[v] = NULL;
    }
    free(kc->scratch);
    kc->scratch = NULL;
    free(kc->output);
    kc->output = NULL;
}

void kernel_case_free(kernel_case *kc)
{
    if (!kc)
        return;
    kernel_case_free_tensors(kc);
    for (int v = 0; v < KERNEL_CASE_MAX_VALUES; v++)
        free(kc->plain[v]);
    for (int a = 0; a < kc->n_attrs; a++) {
        free(kc->attrs[a].name);
        free(kc->attrs[a].s);
        free(kc->attrs[a].ints);
    }
    fs_graph_free(kc->graph); /* releases the node's op state */
    fs_weight_cache_free(kc->weights);
    fs_dnnl_free(kc->dnnl);
    free(kc);
}

int kernel_case_value(kernel_case *kc, int rank, const int64_t *dims, const float *data,
                      bool constant, bool as_input)
{
    char name[32];
    snprintf(name, sizeof name, "v%d", kc->graph->n_values);
    int index = fs_graph_add_value(kc->graph, name);
    if (index < 0 || index >= KERNEL_CASE_MAX_VALUES)
        abort();
    fs_value *value = &kc->graph->values[index];
    fs_value_set_shape(value, FS_DTYPE_FLOAT, rank, dims);
    size_t bytes = (size_t)kernel_numel(rank, dims) * sizeof(float);
    float *copy = kernel_alloc(bytes);
    memcpy(copy, data, bytes);
    if (constant) {
        value->data = copy;
        value->owns_data = true;
    } else {
        value->is_graph_input = true;
        kc->plain[index] = copy;
    }
    if (as_input)
        kc->inputs[kc->n_inputs++] = index;
    return index;
}

int kernel_case_input(kernel_case *kc, int rank, const int64_t *dims, const float *data,
                      bool constant)
{
    return kernel_case_value(kc, rank, dims, data, constant, true);
}

void kernel_case_input_omitted(kernel_case *kc)
{
    kc->inputs[kc->n_inputs++] = -1;
}

void kernel_case_set_input(kernel_case *kc, int value, int rank, const int64_t *dims,
                           const float *data)
{
    fs_value_set_shape(&kc->graph->values[value], FS_DTYPE_FLOAT, rank, dims);
    size_t bytes = (size_t)kernel_numel(rank, dims) * sizeof(float);
    free(kc->plain[value]);
    kc->plain[value] = kernel_alloc(bytes);
    memcpy(kc->plain[value], data, bytes);
}

void kernel_case_set_layout(kernel_case *kc, int value, fs_layout layout)
{
    kc->layouts[value] = layout;
}

static fs_attr *kernel_case_new_attr(kernel_case *kc, const char *name, fs_attr_type type)
{
    if (kc->n_attrs == KERNEL_CASE_MAX_ATTRS)
        abort();
    fs_attr *attr = &kc->attrs[kc->n_attrs++];
    memset(attr, 0, sizeof *attr);
    attr->name = kernel_strdup(name);
    attr->type = type;
    attr->tensor = -1;
    return attr;
}

void kernel_case_attr_int(kernel_case *kc, const char *name, int64_t value)
{
    kernel_case_new_attr(kc, name, FS_ATTR_INT)->i = value;
}

void kernel_case_attr_float(kernel_case *kc, const char *name, float value)
{
    kernel_case_new_attr(kc, name, FS_ATTR_FLOAT)->f = value;
}

void kernel_case_attr_ints(kernel_case *kc, const char *name, const int64_t *values,
                           size_t count)
{
    fs_attr *attr = kernel_case_new_attr(kc, name, FS_ATTR_INTS);
    attr->ints = kernel_alloc(count * sizeof *attr->ints);
    memcpy(attr->ints, values, count * sizeof *attr->ints);
    attr->count = count;
}

void kernel_case_attr_string(kernel_case *kc, const char *name, const char *value)
{
    kernel_case_new_attr(kc, name, FS_ATTR_STRING)->s = kernel_strdup(value);
}

void kernel_case_drop_constant(kernel_case *kc, int value)
{
    fs_value *v = &kc->graph->values[value];
    if (v->owns_data)
        free(v->data);
    v->data = NULL;
    v->owns_data = false;
    v->packed = true;
}

/* Adds the node on the first run: its output value, then the node with copied attributes. */
static int kernel_case_add_node(kernel_case *kc, fs_error *err)
{
    int outputs[4];
    for (int i = 0; i < kc->n_outputs; i++) {
        char name[32];
        snprintf(name, sizeof name, "out%d", i);
        outputs[i] = fs_graph_add_value(kc->graph, name);
        if (outputs[i] < 0 || outputs[i] >= KERNEL_CASE_MAX_VALUES)
            abort();
    }
    kc->node = fs_graph_add_node(kc->graph, "node0", kc->op_type, kc->inputs, kc->n_inputs,
                                 outputs, kc->n_outputs);
    if (kc->node < 0)
        abort();
    fs_node *node = &kc->graph->nodes[kc->node];
    node->attrs = kernel_alloc((size_t)(kc->n_attrs ? kc->n_attrs : 1) * sizeof *node->attrs);
    for (int a = 0; a < kc->n_attrs; a++) {
        node->attrs[a] = kc->attrs[a];
        node->attrs[a].name = kernel_strdup(kc->attrs[a].name);
        node->attrs[a].s = kc->attrs[a].s ? kernel_strdup(kc->attrs[a].s) : NULL;
        if (kc->attrs[a].ints) {
            size_t bytes = kc->attrs[a].count * sizeof(int64_t);
            node->attrs[a].ints = kernel_alloc(bytes);
            memcpy(node->attrs[a].ints, kc->attrs[a].ints, bytes);
        }
    }
    node->n_attrs = kc->n_attrs;
    if (!kc->op)
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED, "op %s is not linked in",
                            kc->op_type);
    node->op = kc->op;
    if (!kc->dnnl) {
        int code = fs_dnnl_create(&kc->dnnl, err);
        if (code == FACESIM_OK)
            code = fs_weight_cache_create(&kc->weights, err);
        return code;
    }
    return FACESIM_OK;
}

/* Points every value at its data: constants at the graph, runtime values at fresh buffers
 * in their requested layout. */
static void kernel_case_bind(kernel_case *kc)
{
    for (int v = 0; v < kc->graph->n_values; v++) {
        fs_value *value = &kc->graph->values[v];
        kc->tensors[v].layout = FS_LAYOUT_PLAIN;
        kc->tensors[v].data = value->data;
        if (!kc->plain[v])
            continue;
        size_t bytes = (size_t)fs_value_numel(value) * sizeof(float);
        kc->buffers[v] = kernel_alloc(bytes);
        kc->tensors[v].data = kc->buffers[v];
        if (kc->layouts[v] == FS_LAYOUT_NHWC && value->rank == 4) {
            kc->tensors[v].layout = FS_LAYOUT_NHWC;
            kernel_nchw_to_nhwc(kc->plain[v], kc->buffers[v], value->dims);
        } else {
            memcpy(kc->buffers[v], kc->plain[v], bytes);
        }
    }
}

/* Converts the node's NHWC inputs to plain, as the executor does when an op rejects them. */
static void kernel_case_inputs_to_plain(kernel_case *kc)
{
    const fs_node *node = &kc->graph->nodes[kc->node];
    for (int i = 0; i < node->n_inputs; i++) {
        int v = node->inputs[i];
        if (v < 0 || kc->tensors[v].layout != FS_LAYOUT_NHWC)
            continue;
        memcpy(kc->buffers[v], kc->plain[v],
               (size_t)fs_value_numel(&kc->graph->values[v]) * sizeof(float));
        kc->tensors[v].layout = FS_LAYOUT_PLAIN;
    }
}

int kernel_case_run(kernel_case *kc, fs_error *err)
{
    fs_error_clear(err);
    kernel_case_free_tensors(kc);
    int code = FACESIM_OK;
    if (kc->node < 0 && (code = kernel_case_add_node(kc, err)) != FACESIM_OK)
        return code;
    fs_node *node = &kc->graph->nodes[kc->node];
    node->fused_activation = kc->fused_activation;
    node->fused_min = kc->fused_min;
    node->fused_max = kc->fused_max;
    node->fused_slope = kc->fused_slope;
    node->fused_sum = kc->fused_sum;
    node->fused_sum_activation = kc->fused_sum_activation;
    node->fused_sum_min = kc->fused_sum_min;
    node->fused_sum_max = kc->fused_sum_max;

    if ((code = kc->op->infer(kc->graph, node, err)) != FACESIM_OK)
        return code;
    kernel_case_bind(kc);

    fs_layout input_layouts[KERNEL_CASE_MAX_VALUES];
    for (int i = 0; i < node->n_inputs; i++)
        input_layouts[i] = node->inputs[i] >= 0 ? kc->tensors[node->inputs[i]].layout
                                                : FS_LAYOUT_PLAIN;
    kc->layouts_accepted = kc->op->accepts_layouts &&
                           kc->op->accepts_layouts(kc->graph, node, input_layouts);
    if (!kc->layouts_accepted)
        kernel_case_inputs_to_plain(kc);

    fs_run_ctx ctx = {
        .graph = kc->graph,
        .tensors = kc->tensors,
        .dnnl = kc->dnnl,
        .weights = kc->weights,
        .threads = 1,
    };
    int out = node->outputs[0];
    fs_value *out_value = &kc->graph->values[out];
    kc->out_rank = out_value->rank;
    memcpy(kc->out_dims, out_value->dims, sizeof kc->out_dims);
    kc->out_numel = fs_value_numel(out_value);
    kc->buffers[out] = kernel_alloc((size_t)kc->out_numel * sizeof(float));
    /* NaN everywhere, so an element the op leaves unwritten fails the comparison. */
    for (int64_t i = 0; i < kc->out_numel; i++)
        ((float *)kc->buffers[out])[i] = NAN;
    kc->tensors[out].data = kc->buffers[out];
    kc->tensors[out].layout = FS_LAYOUT_PLAIN;

    size_t scratch_bytes = 0;
    if (kc->op->prepare &&
        (code = kc->op->prepare(&ctx, node, &scratch_bytes, err)) != FACESIM_OK)
        return code;
    kc->scratch = kernel_alloc(scratch_bytes);
    ctx.scratch = kc->scratch;
    ctx.scratch_size = scratch_bytes;
    if ((code = kc->op->run(&ctx, node, err)) != FACESIM_OK)
        return code;

    kc->output_layout = kc->tensors[out].layout;
    kc->output = kernel_alloc((size_t)kc->out_numel * sizeof(float));
    if (kc->output_layout == FS_LAYOUT_NHWC)
        kernel_nhwc_to_nchw(kc->buffers[out], kc->output, kc->out_dims);
    else
        memcpy(kc->output, kc->buffers[out], (size_t)kc->out_numel * sizeof(float));
    return FACESIM_OK;
}

/*
 * ONNX loader entry points: map the file, split and unpack the protobuf, then build the
 * graph in this order: initializers, graph inputs, nodes, graph outputs, sort.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx/onnx_internal.h"

void fs_onnx_default_limits(fs_onnx_limits *limits)
{
    limits->max_file_bytes = (uint64_t)2 << 30;
    limits->max_tensor_elements = (int64_t)1 << 28;
    limits->max_nodes = 100000;
    limits->max_rank = FS_MAX_RANK;
}

int fs_onnx_fail(const fs_onnx_loader *loader, int code, const char *format, ...)
{
    char message[FS_ERROR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    return fs_error_set(loader->err, code, "%s: %s", loader->name, message);
}

int fs_onnx_fail_parse(const fs_onnx_loader *loader, const char *detail)
{
    return fs_error_set(loader->err, FACESIM_ERR_INVALID_DATA,
                        "%s is not a valid ONNX model (protobuf parse failed%s%s): re-export or "
                        "re-download it",
                        loader->name, detail ? ": " : "", detail ? detail : "");
}

/* Pages of a file mapping that the loader no longer needs. */
typedef struct onnx_mapping {
    const uint8_t *base; /* page-aligned start of the mapping, NULL for caller buffers */
    size_t released;     /* bytes from base already returned to the kernel */
} onnx_mapping;

/* Returns the whole pages of the mapping before `until` to the kernel. They belong to a
 * private read-only file mapping, so a later access would read them from the file again. */
static void onnx_release_until(onnx_mapping *mapping, const uint8_t *until)
{
    if (!mapping->base)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t end = (size_t)(until - mapping->base) / page * page;
    if (end > mapping->released) {
        madvise((void *)(mapping->base + mapping->released), end - mapping->released,
                MADV_DONTNEED);
        mapping->released = end;
    }
}

/* Returns the version of the default ONNX domain's operator set through *opset. */
static int onnx_read_opset(fs_onnx_loader *loader, const Onnx__ModelProto *model,
                           int64_t *opset)
{
    for (size_t i = 0; i < model->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *entry = model->opset_import[i];
        const char *domain = entry->domain ? entry->domain : "";
        if (domain[0] != '\0' && strcmp(domain, "ai.onnx") != 0)
            continue;
        int64_t version = entry->has_version ? entry->version : 0;
        if (version < FS_ONNX_MIN_OPSET || version > FS_ONNX_MAX_OPSET)
            return fs_onnx_fail(loader, FACESIM_ERR_UNSUPPORTED,
                                "the model uses ONNX opset %lld, but facesim reads opsets %d "
                                "to %d: convert it with onnx.version_converter",
                                (long long)version, FS_ONNX_MIN_OPSET, FS_ONNX_MAX_OPSET);
        *opset = version;
        return FACESIM_OK;
    }
    return fs_onnx_fail(loader, FACESIM_ERR_UNSUPPORTED,
                        "the model imports no opset of the default ONNX domain (it predates "
                        "ONNX IR version 3): convert it with onnx.version_converter");
}

/* Unpacks each initializer on its own and adds it as a constant value. */
static int onnx_add_initializers(fs_onnx_loader *loader, const fs_onnx_slice *slices,
                                 size_t count, onnx_mapping *mapping)
{
    for (size_t i = 0; i < count; i++) {
        /* NULL allocator: malloc and free, as for the skeleton. */
        Onnx__TensorProto *tensor = onnx__tensor_proto__unpack(NULL, slices[i].size,
                                                               slices[i].data);
        if (!tensor) {
            char detail[64];
            snprintf(detail, sizeof detail, "initializer %zu", i);
            return fs_onnx_fail_parse(loader, detail);
        }

        int status = FACESIM_OK;
        char label[FS_ERROR_MESSAGE_MAX / 2];
        snprintf(label, sizeof label, "initializer '%s'", tensor->name ? tensor->name : "");
        if (!tensor->name || tensor->name[0] == '\0')
            status = fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                                  "initializer %zu has no name", i);
        else if (fs_onnx_names_find(loader, tensor->name) >= 0)
            status = fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                                  "%s is defined more than once", label);
        int index = -1;
        if (status == FACESIM_OK)
            status = fs_onnx_add_tensor(loader, tensor, tensor->name, label, &index);
        if (status == FACESIM_OK)
            status = fs_onnx_names_add(loader, index);
        onnx__tensor_proto__free_unpacked(tensor, NULL);
        if (status != FACESIM_OK)
            return status;
        onnx_release_until(mapping, slices[i].data + slices[i].size);
    }
    return FACESIM_OK;
}

static int onnx_append_index(fs_onnx_loader *loader, int **list, int *count, int index)
{
    int *grown = realloc(*list, ((size_t)*count + 1) * sizeof *grown);
    if (!grown)
        return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory for the graph");
    grown[(*count)++] = index;
    *list = grown;
    return FACESIM_OK;
}

/* Adds the graph inputs, skipping the ones that name initializers. */
static int onnx_add_inputs(fs_onnx_loader *loader, const Onnx__GraphProto *graph_proto)
{
    fs_graph *graph = loader->graph;
    for (size_t i = 0; i < graph_proto->n_input; i++) {
        const Onnx__ValueInfoProto *info = graph_proto->input[i];
        if (!info->name || info->name[0] == '\0')
            return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA, "graph input %zu has no name",
                                i);
        int existing = fs_onnx_names_find(loader, info->name);
        if (existing >= 0 && graph->values[existing].data)
            continue; /* an initializer also listed as an input, as exporters before IR 4 do */
        if (existing >= 0)
            return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                                "graph input '%s' is listed more than once", info->name);

        int index;
        int status = fs_onnx_add_value(loader, info->name, &index);
        if (status != FACESIM_OK)
            return status;
        graph->values[index].is_graph_input = true;
        char label[FS_ERROR_MESSAGE_MAX / 2];
        snprintf(label, sizeof label, "graph input '%s'", info->name);
        status = fs_onnx_apply_type(loader, info->type, &graph->values[index], label);
        if (status == FACESIM_OK)
            status = fs_onnx_names_add(loader, index);
        if (status == FACESIM_OK)
            status = onnx_append_index(loader, &graph->inputs, &graph->n_inputs, index);
        if (status != FACESIM_OK)
            return status;
    }
    return FACESIM_OK;
}

/* Marks the graph outputs; each must name a value that something defines. */
static int onnx_add_outputs(fs_onnx_loader *loader, const Onnx__GraphProto *graph_proto)
{
    fs_graph *graph = loader->graph;
    if (graph_proto->n_output == 0)
        return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA, "the graph declares no outputs");
    for (size_t i = 0; i < graph_proto->n_output; i++) {
        const Onnx__ValueInfoProto *info = graph_proto->output[i];
        const char *name = info->name ? info->name : "";
        int index = name[0] ? fs_onnx_names_find(loader, name) : -1;
        if (index < 0)
            return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                                "graph output '%s' is not produced by any node, initializer or "
                                "graph input",
                                name);

        fs_value *value = &graph->values[index];
        if (value->producer >= 0) {
            char label[FS_ERROR_MESSAGE_MAX / 2];
            snprintf(label, sizeof label, "graph output '%s'", name);
            int status = fs_onnx_apply_type(loader, info->type, value, label);
            if (status != FACESIM_OK)
                return status;
        }
        value->is_graph_output = true;
        int status = onnx_append_index(loader, &graph->outputs, &graph->n_outputs, index);
        if (status != FACESIM_OK)
            return status;
    }
    return FACESIM_OK;
}

/* Builds loader->graph from the unpacked skeleton and the initializer slices. */
static int onnx_build_graph(fs_onnx_loader *loader, const Onnx__ModelProto *model,
                            const fs_onnx_slice *slices, size_t n_slices, onnx_mapping *mapping)
{
    int status = onnx_read_opset(loader, model, &loader->graph->opset);
    if (status != FACESIM_OK)
        return status;
    if (!model->graph)
        return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                            "the model has no graph: re-export it");

    status = onnx_add_initializers(loader, slices, n_slices, mapping);
    if (status == FACESIM_OK)
        status = onnx_add_inputs(loader, model->graph);
    if (status == FACESIM_OK)
        status = fs_onnx_add_nodes(loader, model->graph);
    if (status == FACESIM_OK)
        status = onnx_add_outputs(loader, model->graph);
    if (status == FACESIM_OK)
        status = fs_onnx_sort_nodes(loader);
    return status;
}

/* Loads size bytes at data. When mapping->base is set, the pages of data are released
 * as soon as the loader has read them. */
static int onnx_load_bytes(const uint8_t *data, size_t size, const char *name,
                           const fs_onnx_limits *limits, onnx_mapping *mapping, fs_graph **out,
                           fs_error *err)
{
    fs_onnx_loader loader = {.name = name, .err = err};
    if (limits)
        loader.limits = *limits;
    else
        fs_onnx_default_limits(&loader.limits);
    if (loader.limits.max_rank > FS_MAX_RANK || loader.limits.max_rank < 0)
        loader.limits.max_rank = FS_MAX_RANK;

    if (size == 0)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s is not a valid ONNX model (it is empty): re-export or "
                            "re-download it",
                            name);
    if (size > loader.limits.max_file_bytes)
        return fs_onnx_fail(&loader, FACESIM_ERR_LIMIT,
                            "the model has %zu bytes, more than the limit %llu", size,
                            (unsigned long long)loader.limits.max_file_bytes);

    uint8_t *skeleton = NULL;
    size_t skeleton_size = 0;
    fs_onnx_slice *slices = NULL;
    size_t n_slices = 0;
    int status = fs_onnx_wire_split(&loader, data, size, &skeleton, &skeleton_size, &slices,
                                    &n_slices);
    if (status != FACESIM_OK)
        return status;

    /* protobuf-c copies what it keeps, so the skeleton bytes can go right away. The NULL
     * allocator is protobuf-c's malloc-based default, so raw_data buffers that
     * fs_onnx_add_tensor takes over are freed by fs_graph_free with free(). */
    Onnx__ModelProto *model = onnx__model_proto__unpack(NULL, skeleton_size, skeleton);
    free(skeleton);
    if (!model) {
        free(slices);
        return fs_onnx_fail_parse(&loader, NULL);
    }

    loader.graph = fs_graph_create(name);
    if (!loader.graph)
        status = fs_onnx_fail(&loader, FACESIM_ERR_NO_MEMORY, "out of memory for the graph");
    else
        status = onnx_build_graph(&loader, model, slices, n_slices, mapping);

    onnx__model_proto__free_unpacked(model, NULL);
    free(slices);
    fs_onnx_names_free(&loader.names);
    if (status != FACESIM_OK) {
        fs_graph_free(loader.graph);
        return status;
    }
    *out = loader.graph;
    return FACESIM_OK;
}

int fs_onnx_load_buffer(const void *data, size_t size, const char *name,
                        const fs_onnx_limits *limits, fs_graph **out, fs_error *err)
{
    fs_error_clear(err);
    if (!out)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "fs_onnx_load_buffer: out must not be NULL");
    *out = NULL;
    if (!name)
        name = "<buffer>";
    if (!data && size > 0)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "%s: data is NULL but size is %zu", name, size);
    onnx_mapping no_mapping = {NULL, 0};
    return onnx_load_bytes(data, size, name, limits, &no_mapping, out, err);
}

/* Formats errno into text for an I/O message. */
static const char *onnx_errno_text(int error, char *text, size_t size)
{
    if (strerror_r(error, text, size) != 0)
        snprintf(text, size, "error %d", error);
    return text;
}

int fs_onnx_load_file(const char *path, const fs_onnx_limits *limits, fs_graph **out,
                      fs_error *err)
{
    fs_error_clear(err);
    if (!out || !path)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "fs_onnx_load_file: path and out must not be NULL");
    *out = NULL;

    fs_onnx_limits defaults;
    if (!limits) {
        fs_onnx_default_limits(&defaults);
        limits = &defaults;
    }

    char reason[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fs_error_set(err, FACESIM_ERR_IO, "%s: cannot open the model: %s", path,
                            onnx_errno_text(errno, reason, sizeof reason));
    struct stat info;
    if (fstat(fd, &info) != 0) {
        int error = errno;
        close(fd);
        return fs_error_set(err, FACESIM_ERR_IO, "%s: cannot examine the model: %s", path,
                            onnx_errno_text(error, reason, sizeof reason));
    }
    if (!S_ISREG(info.st_mode)) {
        close(fd);
        return fs_error_set(err, FACESIM_ERR_IO,
                            "%s: is not a regular file: pass the path of an .onnx file", path);
    }
    if ((uint64_t)info.st_size > limits->max_file_bytes) {
        close(fd);
        return fs_error_set(err, FACESIM_ERR_LIMIT,
                            "%s: the model has %lld bytes, more than the limit %llu", path,
                            (long long)info.st_size, (unsigned long long)limits->max_file_bytes);
    }
    size_t size = (size_t)info.st_size;
    if (size == 0) {
        close(fd);
        return onnx_load_bytes(NULL, 0, path, limits, NULL, out, err);
    }

    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_error = errno;
    close(fd);
    if (map == MAP_FAILED)
        return fs_error_set(err, FACESIM_ERR_IO, "%s: cannot map the model into memory: %s",
                            path, onnx_errno_text(map_error, reason, sizeof reason));
    madvise(map, size, MADV_SEQUENTIAL);

    onnx_mapping mapping = {map, 0};
    int status = onnx_load_bytes(map, size, path, limits, &mapping, out, err);
    munmap(map, size);
    return status;
}

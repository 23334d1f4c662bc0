/*
 * Value creation and value-name look-up for the loader. fs_graph_find_value is a
 * linear search, so using it would make loading quadratic in the number of values. A
 * hostile file with the maximum node count would then need on the order of 10^10 name
 * comparisons.
 */
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_internal.h"

static uint64_t onnx_names_hash(const char *name)
{
    uint64_t hash = 14695981039346656037u; /* FNV-1a, 64-bit */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        hash ^= *p;
        hash *= 1099511628211u;
    }
    return hash;
}

int fs_onnx_add_value(fs_onnx_loader *loader, const char *name, int *index)
{
    if (loader->graph->n_values >= FS_ONNX_MAX_VALUES)
        return fs_onnx_fail(loader, FACESIM_ERR_LIMIT,
                            "the model defines more than %d values", FS_ONNX_MAX_VALUES);
    *index = fs_graph_add_value(loader->graph, name);
    if (*index < 0)
        return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory adding value '%s'",
                            name);
    return FACESIM_OK;
}

void fs_onnx_names_free(fs_onnx_names *names)
{
    free(names->slots);
    names->slots = NULL;
    names->capacity = 0;
    names->count = 0;
}

int fs_onnx_names_find(const fs_onnx_loader *loader, const char *name)
{
    const fs_onnx_names *names = &loader->names;
    if (names->capacity == 0)
        return -1;
    size_t mask = names->capacity - 1;
    for (size_t slot = onnx_names_hash(name) & mask;; slot = (slot + 1) & mask) {
        int index = names->slots[slot];
        if (index < 0)
            return -1;
        if (strcmp(loader->graph->values[index].name, name) == 0)
            return index;
    }
}

static void onnx_names_insert(fs_onnx_names *names, const fs_graph *graph, int index)
{
    size_t mask = names->capacity - 1;
    size_t slot = onnx_names_hash(graph->values[index].name) & mask;
    while (names->slots[slot] >= 0)
        slot = (slot + 1) & mask;
    names->slots[slot] = index;
    names->count++;
}

/* Doubles the table (at least 64 slots) and re-inserts every entry. */
static int onnx_names_grow(fs_onnx_loader *loader)
{
    fs_onnx_names *names = &loader->names;
    size_t capacity = names->capacity ? names->capacity * 2 : 64;
    int *slots = malloc(capacity * sizeof *slots);
    if (!slots)
        return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory for the name table");
    for (size_t i = 0; i < capacity; i++)
        slots[i] = -1;

    fs_onnx_names grown = {slots, capacity, 0};
    for (size_t i = 0; i < names->capacity; i++)
        if (names->slots[i] >= 0)
            onnx_names_insert(&grown, loader->graph, names->slots[i]);
    free(names->slots);
    *names = grown;
    return FACESIM_OK;
}

int fs_onnx_names_add(fs_onnx_loader *loader, int index)
{
    fs_onnx_names *names = &loader->names;
    /* Keep the load factor at most one half so probe sequences stay short. */
    if ((names->count + 1) * 2 > names->capacity) {
        int status = onnx_names_grow(loader);
        if (status != FACESIM_OK)
            return status;
    }
    onnx_names_insert(names, loader->graph, index);
    return FACESIM_OK;
}

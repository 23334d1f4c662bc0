/*
 * The packed-weight cache: a flat list of (value index, oneDNN format, memory) entries.
 * A model has a few hundred weights at most, so a linear search at plan time is enough.
 * One value may be stored in several formats when two kernels that read it chose
 * different ones. Every entry lives until the cache is freed, because kernels borrow it.
 */
#include "engine/weight_cache.h"

#include <stdlib.h>

#include "engine/dnnl_glue.h"

typedef struct weight_cache_entry {
    int value_index;
    dnnl_memory_desc_t desc;
    dnnl_memory_t memory; /* owns its buffer (DNNL_MEMORY_ALLOCATE) */
} weight_cache_entry;

struct fs_weight_cache {
    weight_cache_entry *entries;
    int count;
    int capacity;
};

int fs_weight_cache_create(fs_weight_cache **out, fs_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory creating the weight cache");
    return FACESIM_OK;
}

void fs_weight_cache_free(fs_weight_cache *cache)
{
    if (!cache)
        return;
    for (int i = 0; i < cache->count; i++)
        dnnl_memory_destroy(cache->entries[i].memory);
    free(cache->entries);
    free(cache);
}

/* Copies source (in its own format) into destination (in another) with a oneDNN reorder. */
static int weight_cache_reorder(fs_dnnl *dnnl, dnnl_memory_t source, dnnl_memory_t destination,
                                int value_index, fs_error *err)
{
    const dnnl_memory_desc_t *source_desc = NULL;
    const dnnl_memory_desc_t *destination_desc = NULL;
    dnnl_memory_get_memory_desc(source, &source_desc);
    dnnl_memory_get_memory_desc(destination, &destination_desc);

    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t reorder = NULL;
    int code = fs_dnnl_check(dnnl_reorder_primitive_desc_create(&pd, source_desc, dnnl->engine,
                                                                destination_desc, dnnl->engine,
                                                                NULL),
                             "dnnl_reorder_primitive_desc_create", NULL, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_check(dnnl_primitive_create(&reorder, pd), "dnnl_primitive_create", NULL,
                             err);
    if (code == FACESIM_OK) {
        dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, source }, { DNNL_ARG_TO, destination } };
        code = fs_dnnl_check(dnnl_primitive_execute(reorder, dnnl->stream, 2, args),
                             "dnnl_primitive_execute (weight reorder)", NULL, err);
    }
    if (code == FACESIM_OK)
        code = fs_dnnl_check(dnnl_stream_wait(dnnl->stream), "dnnl_stream_wait", NULL, err);
    if (reorder)
        dnnl_primitive_destroy(reorder);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (code != FACESIM_OK)
        fs_error_prefix(err, "packing weight value %d", value_index);
    return code;
}

static int weight_cache_append(fs_weight_cache *cache, int value_index,
                               const dnnl_memory_desc_t *desc, dnnl_memory_t memory,
                               fs_error *err)
{
    if (cache->count == cache->capacity) {
        int capacity = cache->capacity ? cache->capacity * 2 : 64;
        weight_cache_entry *grown = realloc(cache->entries, (size_t)capacity * sizeof *grown);
        if (!grown)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                                "out of memory growing the weight cache");
        cache->entries = grown;
        cache->capacity = capacity;
    }
    cache->entries[cache->count++] = (weight_cache_entry){ value_index, *desc, memory };
    return FACESIM_OK;
}

int fs_weight_cache_get(fs_weight_cache *cache, struct fs_dnnl *dnnl, int value_index,
                        const dnnl_memory_desc_t *desc, const void *plain,
                        const dnnl_memory_desc_t *plain_desc, dnnl_memory_t *out,
                        fs_error *err)
{
    *out = NULL;
    dnnl_memory_t held = NULL;
    for (int i = 0; i < cache->count; i++) {
        weight_cache_entry *entry = &cache->entries[i];
        if (entry->value_index != value_index)
            continue;
        if (dnnl_memory_desc_equal(&entry->desc, desc)) {
            *out = entry->memory;
            return FACESIM_OK;
        }
        held = entry->memory;
    }

    /* Not held in this format: reorder from a format the cache holds, else from plain. */
    dnnl_memory_t plain_memory = NULL;
    if (!held) {
        if (!plain || !plain_desc)
            return fs_error_set(err, FACESIM_ERR_INTERNAL,
                                "weight value %d is neither in the weight cache nor given as "
                                "plain data", value_index);
        int code = fs_dnnl_check(dnnl_memory_create(&plain_memory, plain_desc, dnnl->engine,
                                                    (void *)plain),
                                 "dnnl_memory_create (plain weights)", NULL, err);
        if (code != FACESIM_OK)
            return code;
        held = plain_memory;
    }

    dnnl_memory_t packed = NULL;
    int code = fs_dnnl_check(dnnl_memory_create(&packed, desc, dnnl->engine,
                                                DNNL_MEMORY_ALLOCATE),
                             "dnnl_memory_create (packed weights)", NULL, err);
    if (code == FACESIM_OK)
        code = weight_cache_reorder(dnnl, held, packed, value_index, err);
    if (code == FACESIM_OK)
        code = weight_cache_append(cache, value_index, desc, packed, err);
    if (plain_memory)
        dnnl_memory_destroy(plain_memory);
    if (code != FACESIM_OK) {
        if (packed)
            dnnl_memory_destroy(packed);
        return code;
    }
    *out = packed;
    return FACESIM_OK;
}

/*
 * Packed weights (oneDNN memory in the format a kernel chose), kept by the engine
 * across re-plans so the plain copy from the ONNX file can be freed after packing.
 * Keyed by the index of the constant value in the graph (indices are stable: every
 * plan works on a clone of the loaded graph).
 */
#ifndef FS_ENGINE_WEIGHT_CACHE_H
#define FS_ENGINE_WEIGHT_CACHE_H

#include <oneapi/dnnl/dnnl.h>

#include "core/error.h"

struct fs_dnnl; /* engine/dnnl_glue.h */
typedef struct fs_weight_cache fs_weight_cache;

int fs_weight_cache_create(fs_weight_cache **out, fs_error *err);
void fs_weight_cache_free(fs_weight_cache *cache);

/*
 * Returns (borrowed, owned by the cache) packed memory for value_index in format `desc`.
 * If the cache contains the value in another format, it reorders it. If it does not
 * contain it, it packs from `plain` (described by plain_desc), which must then be non-NULL.
 */
int fs_weight_cache_get(fs_weight_cache *cache, struct fs_dnnl *dnnl, int value_index,
                        const dnnl_memory_desc_t *desc, const void *plain,
                        const dnnl_memory_desc_t *plain_desc, dnnl_memory_t *out,
                        fs_error *err);

#endif /* FS_ENGINE_WEIGHT_CACHE_H */

/*
 * Embedding cache for batch runs, and the SHA-256 it is keyed by.
 *
 * The cache maps a 32-byte key to one image's result: the chosen face, the number
 * of faces found, whether padding was needed and the embedding. The batch job
 * derives the key from the SHA-256 of the image file's bytes, of every model file
 * and of the options that change the embedding (see eval/job.c). A cached entry is
 * therefore reused only for the same bytes under the same models and settings.
 *
 * File format, append-only: a 16-byte header "FACESIM-CACHE-1\n", then records of
 *     "FSC1" | key[32] | dim u32 | face_count i32 | padded i32 | flags i32 |
 *     box[4] score landmarks[10] (float32) | embedding[dim] (float32) |
 *     checksum[8] (first 8 bytes of the SHA-256 of everything before it in the record)
 * in the machine's byte order (little-endian on x86-64 and arm64). A record cut
 * short by a crash or a kill fails its checksum; opening the cache drops it and
 * everything after it, so the next append starts on a record boundary.
 *
 * Several processes may share one cache file on a local file system: loading and
 * every append hold an exclusive flock(2). Network file systems may not honour
 * flock; give each process its own file there.
 */
#ifndef FS_EVAL_CACHE_H
#define FS_EVAL_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "facesim.h"

#define FS_SHA256_SIZE 32

typedef struct fs_sha256 {
    uint32_t state[8];
    uint64_t length;     /* bytes hashed so far */
    uint8_t block[64];
    size_t used;         /* bytes waiting in block */
} fs_sha256;

void fs_sha256_init(fs_sha256 *sha);
void fs_sha256_update(fs_sha256 *sha, const void *data, size_t size);
void fs_sha256_final(fs_sha256 *sha, uint8_t digest[FS_SHA256_SIZE]);

/* Hashes a whole file. Errors: FACESIM_ERR_IO naming the path. */
int fs_sha256_file(const char *path, uint8_t digest[FS_SHA256_SIZE], fs_error *err);

/* One image's cached result. */
typedef struct fs_cache_record {
    uint8_t key[FS_SHA256_SIZE];
    facesim_face face;
    int face_count;
    int padded;
    const float *embedding; /* dim floats: borrowed from the cache after a lookup, from
                               the caller for an append */
} fs_cache_record;

typedef struct fs_cache fs_cache;

/*
 * Opens or creates the cache file at path for embeddings of length dim and loads its
 * records. Records of another length are kept in the file but not loaded. Errors:
 * FACESIM_ERR_IO (cannot open, lock or read), FACESIM_ERR_INVALID_DATA (the file
 * exists but is not a facesim cache), FACESIM_ERR_NO_MEMORY.
 */
int fs_cache_open(const char *path, int dim, fs_cache **cache, fs_error *err);

/* Records loaded at open plus those appended since. */
size_t fs_cache_count(const fs_cache *cache);

/* Finds key. Returns 1 and fills record (embedding borrowed until fs_cache_close) when
 * found, else 0. Not thread-safe: callers serialise lookups and appends. */
int fs_cache_lookup(const fs_cache *cache, const uint8_t key[FS_SHA256_SIZE],
                    fs_cache_record *record);

/* Appends a record to the file (one write under the lock) and to the loaded set. A key
 * that is already loaded is not written again. Errors: FACESIM_ERR_IO,
 * FACESIM_ERR_NO_MEMORY. */
int fs_cache_append(fs_cache *cache, const fs_cache_record *record, fs_error *err);

/* Closes the file and frees the records. Accepts NULL. */
void fs_cache_close(fs_cache *cache);

#endif /* FS_EVAL_CACHE_H */

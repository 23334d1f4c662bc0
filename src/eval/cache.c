#include "eval/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/checked.h"

/* ---- SHA-256 (FIPS 180-4) ---- */

static const uint32_t sha256_round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static uint32_t sha256_rotate(uint32_t x, int bits)
{
    return (x >> bits) | (x << (32 - bits));
}

static void sha256_compress(uint32_t state[8], const uint8_t block[64])
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = sha256_rotate(w[i - 15], 7) ^ sha256_rotate(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = sha256_rotate(w[i - 2], 17) ^ sha256_rotate(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; i++) {
        uint32_t s1 = sha256_rotate(e, 6) ^ sha256_rotate(e, 11) ^ sha256_rotate(e, 25);
        uint32_t choose = (e & f) ^ (~e & g);
        uint32_t t1 = h + s1 + choose + sha256_round_constants[i] + w[i];
        uint32_t s0 = sha256_rotate(a, 2) ^ sha256_rotate(a, 13) ^ sha256_rotate(a, 22);
        uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = s0 + majority;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
}

void fs_sha256_init(fs_sha256 *sha)
{
    static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(sha->state, initial, sizeof initial);
    sha->length = 0;
    sha->used = 0;
}

void fs_sha256_update(fs_sha256 *sha, const void *data, size_t size)
{
    const uint8_t *bytes = data;
    sha->length += size;
    while (size > 0) {
        size_t take = 64 - sha->used;
        if (take > size)
            take = size;
        memcpy(sha->block + sha->used, bytes, take);
        sha->used += take;
        bytes += take;
        size -= take;
        if (sha->used == 64) {
            sha256_compress(sha->state, sha->block);
            sha->used = 0;
        }
    }
}

void fs_sha256_final(fs_sha256 *sha, uint8_t digest[FS_SHA256_SIZE])
{
    uint64_t bits = sha->length * 8;
    uint8_t pad = 0x80;
    uint64_t saved_length = sha->length;
    fs_sha256_update(sha, &pad, 1);
    uint8_t zero = 0;
    while (sha->used != 56)
        fs_sha256_update(sha, &zero, 1);
    uint8_t length_bytes[8];
    for (int i = 0; i < 8; i++)
        length_bytes[i] = (uint8_t)(bits >> (56 - 8 * i));
    fs_sha256_update(sha, length_bytes, 8);
    sha->length = saved_length;
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(sha->state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(sha->state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(sha->state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)sha->state[i];
    }
}

int fs_sha256_file(const char *path, uint8_t digest[FS_SHA256_SIZE], fs_error *err)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return fs_error_set(err, FACESIM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fs_sha256 sha;
    fs_sha256_init(&sha);
    uint8_t buffer[65536];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, file)) > 0)
        fs_sha256_update(&sha, buffer, got);
    int failed = ferror(file);
    fclose(file);
    if (failed)
        return fs_error_set(err, FACESIM_ERR_IO, "%s: reading failed", path);
    fs_sha256_final(&sha, digest);
    return FACESIM_OK;
}

/* ---- Cache file ---- */

#define CACHE_HEADER "FACESIM-CACHE-1\n"
#define CACHE_HEADER_SIZE 16
#define CACHE_RECORD_MAGIC "FSC1"
#define CACHE_CHECKSUM_SIZE 8
/* magic, key, dim, face_count, padded, flags, 15 face floats */
#define CACHE_FIXED_SIZE (4 + FS_SHA256_SIZE + 4 * 4 + 15 * 4)

struct fs_cache {
    int fd;
    char *path;
    int dim;
    size_t count;
    size_t capacity;          /* records the arrays can hold */
    fs_cache_record *records; /* embedding points into embeddings */
    float *embeddings;        /* capacity * dim floats */
    size_t *slots;            /* open-addressing table of record index + 1, 0 empty */
    size_t slot_count;        /* power of two, at least twice capacity */
};

static size_t cache_record_size(int dim)
{
    return CACHE_FIXED_SIZE + (size_t)dim * 4 + CACHE_CHECKSUM_SIZE;
}

static size_t cache_slot_of(const fs_cache *cache, const uint8_t key[FS_SHA256_SIZE])
{
    size_t hash;
    memcpy(&hash, key, sizeof hash);
    return hash & (cache->slot_count - 1);
}

static int cache_find(const fs_cache *cache, const uint8_t key[FS_SHA256_SIZE])
{
    if (cache->slot_count == 0)
        return -1;
    for (size_t slot = cache_slot_of(cache, key);; slot = (slot + 1) & (cache->slot_count - 1)) {
        size_t entry = cache->slots[slot];
        if (entry == 0)
            return -1;
        if (memcmp(cache->records[entry - 1].key, key, FS_SHA256_SIZE) == 0)
            return (int)(entry - 1);
    }
}

/* Grows the record arrays and rebuilds the table when full. */
static int cache_reserve(fs_cache *cache, fs_error *err)
{
    if (cache->count < cache->capacity)
        return FACESIM_OK;
    size_t capacity = cache->capacity ? cache->capacity * 2 : 256;
    size_t record_bytes, float_count, float_bytes, slot_count, slot_bytes;
    if (!fs_mul_size(capacity, sizeof *cache->records, &record_bytes) ||
        !fs_mul_size(capacity, (size_t)cache->dim, &float_count) ||
        !fs_mul_size(float_count, sizeof(float), &float_bytes) ||
        !fs_mul_size(capacity, 2, &slot_count) ||
        !fs_mul_size(slot_count, sizeof(size_t), &slot_bytes))
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: too many cache records (%zu)",
                            cache->path, cache->count);
    fs_cache_record *records = realloc(cache->records, record_bytes);
    if (records)
        cache->records = records;
    float *embeddings = realloc(cache->embeddings, float_bytes);
    if (embeddings)
        cache->embeddings = embeddings;
    size_t *slots = calloc(slot_count, sizeof *slots);
    if (!records || !embeddings || !slots) {
        free(slots);
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory for %zu cache records",
                            cache->path, capacity);
    }
    free(cache->slots);
    cache->slots = slots;
    cache->slot_count = slot_count;
    cache->capacity = capacity;
    for (size_t i = 0; i < cache->count; i++) {
        cache->records[i].embedding = cache->embeddings + i * (size_t)cache->dim;
        size_t slot = cache_slot_of(cache, cache->records[i].key);
        while (cache->slots[slot] != 0)
            slot = (slot + 1) & (slot_count - 1);
        cache->slots[slot] = i + 1;
    }
    return FACESIM_OK;
}

/* Adds a record to the loaded set (the key must not be present). */
static int cache_insert(fs_cache *cache, const fs_cache_record *record, fs_error *err)
{
    int status = cache_reserve(cache, err);
    if (status != FACESIM_OK)
        return status;
    fs_cache_record *stored = &cache->records[cache->count];
    *stored = *record;
    float *embedding = cache->embeddings + cache->count * (size_t)cache->dim;
    memcpy(embedding, record->embedding, (size_t)cache->dim * sizeof(float));
    stored->embedding = embedding;
    size_t slot = cache_slot_of(cache, record->key);
    while (cache->slots[slot] != 0)
        slot = (slot + 1) & (cache->slot_count - 1);
    cache->slots[slot] = ++cache->count;
    return FACESIM_OK;
}

static void cache_put_u32(uint8_t **cursor, uint32_t value)
{
    memcpy(*cursor, &value, 4);
    *cursor += 4;
}

static uint32_t cache_get_u32(const uint8_t **cursor)
{
    uint32_t value;
    memcpy(&value, *cursor, 4);
    *cursor += 4;
    return value;
}

/* Serialises record into buffer (cache_record_size(dim) bytes). */
static void cache_encode(const fs_cache_record *record, int dim, uint8_t *buffer)
{
    uint8_t *cursor = buffer;
    memcpy(cursor, CACHE_RECORD_MAGIC, 4);
    cursor += 4;
    memcpy(cursor, record->key, FS_SHA256_SIZE);
    cursor += FS_SHA256_SIZE;
    cache_put_u32(&cursor, (uint32_t)dim);
    cache_put_u32(&cursor, (uint32_t)record->face_count);
    cache_put_u32(&cursor, (uint32_t)record->padded);
    cache_put_u32(&cursor, (uint32_t)record->face.flags);
    memcpy(cursor, record->face.box, 4 * sizeof(float));
    cursor += 4 * sizeof(float);
    memcpy(cursor, &record->face.score, sizeof(float));
    cursor += sizeof(float);
    memcpy(cursor, record->face.landmarks, 10 * sizeof(float));
    cursor += 10 * sizeof(float);
    memcpy(cursor, record->embedding, (size_t)dim * sizeof(float));
    cursor += (size_t)dim * sizeof(float);
    fs_sha256 sha;
    uint8_t digest[FS_SHA256_SIZE];
    fs_sha256_init(&sha);
    fs_sha256_update(&sha, buffer, (size_t)(cursor - buffer));
    fs_sha256_final(&sha, digest);
    memcpy(cursor, digest, CACHE_CHECKSUM_SIZE);
}

/*
 * Parses the record at data (available bytes). Returns its size, or 0 when the bytes
 * do not hold a complete record with a valid checksum. Records of another embedding
 * length are returned with *loadable false.
 */
static size_t cache_decode(const uint8_t *data, size_t available, int dim,
                           fs_cache_record *record, bool *loadable)
{
    if (available < CACHE_FIXED_SIZE || memcmp(data, CACHE_RECORD_MAGIC, 4) != 0)
        return 0;
    const uint8_t *cursor = data + 4 + FS_SHA256_SIZE;
    uint32_t record_dim = cache_get_u32(&cursor);
    if (record_dim < 1 || record_dim > FACESIM_MAX_EMBEDDING)
        return 0;
    size_t size = cache_record_size((int)record_dim);
    if (available < size)
        return 0;
    fs_sha256 sha;
    uint8_t digest[FS_SHA256_SIZE];
    fs_sha256_init(&sha);
    fs_sha256_update(&sha, data, size - CACHE_CHECKSUM_SIZE);
    fs_sha256_final(&sha, digest);
    if (memcmp(digest, data + size - CACHE_CHECKSUM_SIZE, CACHE_CHECKSUM_SIZE) != 0)
        return 0;

    memset(record, 0, sizeof *record);
    memcpy(record->key, data + 4, FS_SHA256_SIZE);
    record->face_count = (int)cache_get_u32(&cursor);
    record->padded = (int)cache_get_u32(&cursor);
    record->face.flags = (int)cache_get_u32(&cursor);
    memcpy(record->face.box, cursor, 4 * sizeof(float));
    cursor += 4 * sizeof(float);
    memcpy(&record->face.score, cursor, sizeof(float));
    cursor += sizeof(float);
    memcpy(record->face.landmarks, cursor, 10 * sizeof(float));
    cursor += 10 * sizeof(float);
    record->embedding = (const float *)(const void *)cursor; /* may be unaligned: copied */
    *loadable = (int)record_dim == dim;
    return size;
}

/* Reads the whole file (the lock is held), loads its records and cuts a torn tail. */
static int cache_load(fs_cache *cache, fs_error *err)
{
    struct stat info;
    if (fstat(cache->fd, &info) != 0)
        return fs_error_set(err, FACESIM_ERR_IO, "%s: cannot stat the cache: %s", cache->path,
                            strerror(errno));
    size_t size = (size_t)info.st_size;
    if (size == 0) {
        if (write(cache->fd, CACHE_HEADER, CACHE_HEADER_SIZE) != CACHE_HEADER_SIZE)
            return fs_error_set(err, FACESIM_ERR_IO, "%s: cannot write the cache header: %s",
                                cache->path, strerror(errno));
        return FACESIM_OK;
    }
    uint8_t *data = malloc(size);
    if (!data)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory reading %zu bytes",
                            cache->path, size);
    ssize_t got = pread(cache->fd, data, size, 0);
    if (got < 0 || (size_t)got != size) {
        free(data);
        return fs_error_set(err, FACESIM_ERR_IO, "%s: reading the cache failed", cache->path);
    }
    if (size < CACHE_HEADER_SIZE || memcmp(data, CACHE_HEADER, CACHE_HEADER_SIZE) != 0) {
        free(data);
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: not a facesim embedding cache (no %.15s header); pass a new "
                            "file name to --cache, facesim will not overwrite this file",
                            cache->path, CACHE_HEADER);
    }

    size_t offset = CACHE_HEADER_SIZE;
    int status = FACESIM_OK;
    while (offset < size && status == FACESIM_OK) {
        fs_cache_record record;
        bool loadable = false;
        size_t used = cache_decode(data + offset, size - offset, cache->dim, &record, &loadable);
        if (used == 0)
            break;
        if (loadable && cache_find(cache, record.key) < 0) {
            float embedding[FACESIM_MAX_EMBEDDING];
            memcpy(embedding, record.embedding, (size_t)cache->dim * sizeof(float));
            record.embedding = embedding;
            status = cache_insert(cache, &record, err);
        }
        offset += used;
    }
    free(data);
    if (status == FACESIM_OK && offset < size && ftruncate(cache->fd, (off_t)offset) != 0)
        status = fs_error_set(err, FACESIM_ERR_IO,
                              "%s: cannot drop a partly written record at byte %zu: %s",
                              cache->path, offset, strerror(errno));
    return status;
}

int fs_cache_open(const char *path, int dim, fs_cache **out, fs_error *err)
{
    *out = NULL;
    if (!path || dim < 1 || dim > FACESIM_MAX_EMBEDDING)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "fs_cache_open: path is NULL or dim %d is outside 1..%d", dim,
                            FACESIM_MAX_EMBEDDING);
    fs_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory opening the cache");
    cache->fd = -1;
    cache->dim = dim;
    cache->path = strdup(path);
    if (!cache->path) {
        fs_cache_close(cache);
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory opening the cache");
    }
    cache->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (cache->fd < 0) {
        int status = fs_error_set(err, FACESIM_ERR_IO, "%s: cannot open the cache: %s", path,
                                  strerror(errno));
        fs_cache_close(cache);
        return status;
    }
    if (flock(cache->fd, LOCK_EX) != 0) {
        int status = fs_error_set(err, FACESIM_ERR_IO, "%s: cannot lock the cache: %s", path,
                                  strerror(errno));
        fs_cache_close(cache);
        return status;
    }
    int status = cache_load(cache, err);
    flock(cache->fd, LOCK_UN);
    if (status != FACESIM_OK) {
        fs_cache_close(cache);
        return status;
    }
    *out = cache;
    return FACESIM_OK;
}

size_t fs_cache_count(const fs_cache *cache)
{
    return cache ? cache->count : 0;
}

int fs_cache_lookup(const fs_cache *cache, const uint8_t key[FS_SHA256_SIZE],
                    fs_cache_record *record)
{
    int index = cache_find(cache, key);
    if (index < 0)
        return 0;
    *record = cache->records[index];
    return 1;
}

int fs_cache_append(fs_cache *cache, const fs_cache_record *record, fs_error *err)
{
    if (cache_find(cache, record->key) >= 0)
        return FACESIM_OK;
    size_t size = cache_record_size(cache->dim);
    uint8_t *buffer = malloc(size);
    if (!buffer)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory for a cache record");
    cache_encode(record, cache->dim, buffer);

    int status = FACESIM_OK;
    if (flock(cache->fd, LOCK_EX) != 0) {
        status = fs_error_set(err, FACESIM_ERR_IO, "%s: cannot lock the cache: %s",
                              cache->path, strerror(errno));
    } else {
        /* O_APPEND and one write per record keep records whole between processes. */
        ssize_t written = write(cache->fd, buffer, size);
        if (written < 0 || (size_t)written != size)
            status = fs_error_set(err, FACESIM_ERR_IO, "%s: appending to the cache failed: %s",
                                  cache->path, written < 0 ? strerror(errno) : "short write");
        flock(cache->fd, LOCK_UN);
    }
    free(buffer);
    if (status == FACESIM_OK)
        status = cache_insert(cache, record, err);
    return status;
}

void fs_cache_close(fs_cache *cache)
{
    if (!cache)
        return;
    if (cache->fd >= 0)
        close(cache->fd);
    free(cache->path);
    free(cache->records);
    free(cache->embeddings);
    free(cache->slots);
    free(cache);
}

/*
 * Overflow-checked size arithmetic for sizes computed from untrusted
 * dimensions (ONNX tensors, image headers, video streams).
 */
#ifndef FS_CORE_CHECKED_H
#define FS_CORE_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Stores a * b in *out; returns false (and leaves *out undefined) on overflow. */
static inline bool fs_mul_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static inline bool fs_add_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

static inline bool fs_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

#endif /* FS_CORE_CHECKED_H */

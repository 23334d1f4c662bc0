/*
 * Error reporting inside the library: a status code plus a message that names
 * the file, node, tensor or frame involved and what to do about it.
 *
 * Every fallible internal function takes an `fs_error *` (which may be NULL)
 * and returns a facesim_status. The library never prints.
 */
#ifndef FS_CORE_ERROR_H
#define FS_CORE_ERROR_H

#include "facesim.h"

#define FS_ERROR_MESSAGE_MAX 1024

typedef struct fs_error {
    int code;                            /* a facesim_status value */
    char message[FS_ERROR_MESSAGE_MAX];  /* UTF-8, no trailing newline */
} fs_error;

/* Clears err to FACESIM_OK with an empty message. err may be NULL. */
void fs_error_clear(fs_error *err);

/* Stores code and a printf-style message in err (may be NULL); returns code. */
int fs_error_set(fs_error *err, int code, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Puts "prefix: " in front of the message already in err, so that outer
 * layers can add context (usually a file name). Returns err->code, or
 * FACESIM_OK when err is NULL.
 */
int fs_error_prefix(fs_error *err, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* FS_CORE_ERROR_H */

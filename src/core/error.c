#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *facesim_version(void)
{
    return FACESIM_VERSION_STRING;
}

const char *facesim_status_name(int status)
{
    switch (status) {
    case FACESIM_OK: return "ok";
    case FACESIM_ERR_INVALID_ARGUMENT: return "invalid argument";
    case FACESIM_ERR_INVALID_DATA: return "invalid data";
    case FACESIM_ERR_UNSUPPORTED: return "unsupported";
    case FACESIM_ERR_NO_MEMORY: return "out of memory";
    case FACESIM_ERR_IO: return "I/O error";
    case FACESIM_ERR_INTERNAL: return "internal error";
    case FACESIM_ERR_NO_FACE: return "no face";
    case FACESIM_ERR_LIMIT: return "limit exceeded";
    default: return "unknown status";
    }
}

void fs_error_clear(fs_error *err)
{
    if (!err)
        return;
    err->code = FACESIM_OK;
    err->message[0] = '\0';
}

int fs_error_set(fs_error *err, int code, const char *format, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list args;
    va_start(args, format);
    vsnprintf(err->message, sizeof err->message, format, args);
    va_end(args);
    return code;
}

int fs_error_prefix(fs_error *err, const char *format, ...)
{
    if (!err)
        return FACESIM_OK;
    char prefix[FS_ERROR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(prefix, sizeof prefix, format, args);
    va_end(args);

    /* The result is cut to the message size, keeping the prefix. */
    char joined[FS_ERROR_MESSAGE_MAX];
    size_t prefix_length = strnlen(prefix, sizeof joined - 3);
    memcpy(joined, prefix, prefix_length);
    memcpy(joined + prefix_length, ": ", 2);
    size_t rest = sizeof joined - prefix_length - 3;
    size_t message_length = strnlen(err->message, rest);
    memcpy(joined + prefix_length + 2, err->message, message_length);
    joined[prefix_length + 2 + message_length] = '\0';
    memcpy(err->message, joined, sizeof joined);
    return err->code;
}

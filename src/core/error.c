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

    /* Both parts fit in twice the message size; the result is cut to the message size. */
    char joined[2 * FS_ERROR_MESSAGE_MAX + 2];
    snprintf(joined, sizeof joined, "%s: %s", prefix, err->message);
    snprintf(err->message, sizeof err->message, "%s", joined);
    return err->code;
}

/*
 * facesim: face identity similarity (Face-Sim, CSIM) for evaluating image and
 * video generators.
 *
 * This header is the library's manual. The face API (model packs, detection,
 * alignment, embedding, comparison) is documented below the status codes.
 */
#ifndef FACESIM_H
#define FACESIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FACESIM_VERSION_MAJOR 0
#define FACESIM_VERSION_MINOR 1
#define FACESIM_VERSION_PATCH 0
#define FACESIM_VERSION_STRING "0.1.0"

/* Returns the library's version string, for checking against FACESIM_VERSION_STRING. */
const char *facesim_version(void);

/*
 * Status codes. Every call that can fail returns one: 0 on success, a negative
 * value on failure. Values are fixed and only ever appended to.
 */
typedef enum facesim_status {
    FACESIM_OK = 0,
    FACESIM_ERR_INVALID_ARGUMENT = -1, /* the caller passed a bad value */
    FACESIM_ERR_INVALID_DATA = -2,     /* a file or stream is corrupt or malformed */
    FACESIM_ERR_UNSUPPORTED = -3,      /* valid input using a feature facesim does not implement */
    FACESIM_ERR_NO_MEMORY = -4,        /* an allocation failed */
    FACESIM_ERR_IO = -5,               /* a file could not be opened, read or written */
    FACESIM_ERR_INTERNAL = -6,         /* a bug in facesim or a library it uses */
    FACESIM_ERR_NO_FACE = -7,          /* the image decoded but no face was found */
    FACESIM_ERR_LIMIT = -8             /* input exceeds a configured limit (pixels, tensor size) */
} facesim_status;

/* Returns a short constant name for a status code, such as "invalid data". */
const char *facesim_status_name(int status);

#ifdef __cplusplus
}
#endif

#endif /* FACESIM_H */

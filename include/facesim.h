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

/* ------------------------------------------------------------------------
 * Face API
 *
 * Usage:
 *     facesim_params params;
 *     facesim_default_params(&params);
 *     params.model_dir = "models/default";           // or ~/.insightface/models/buffalo_l
 *     facesim_context *ctx;
 *     if (facesim_open(&params, &ctx) != FACESIM_OK)
 *         fprintf(stderr, "%s\n", facesim_last_error());
 *     facesim_comparison result;
 *     facesim_compare_files(ctx, "original.jpg", "generated.png", NULL, &result);
 *     printf("%.4f\n", result.cosine);
 *     facesim_close(ctx);
 *
 * Coordinates: boxes and landmarks are in source-image pixels, after the EXIF
 * orientation is applied, x to the right and y down, as insightface reports them.
 * ------------------------------------------------------------------------ */

#define FACESIM_ALIGNED_SIZE 112     /* side of the aligned ArcFace crop, pixels */
#define FACESIM_MAX_EMBEDDING 1024   /* largest embedding size facesim accepts */

typedef struct facesim_context facesim_context;
typedef struct facesim_image facesim_image;

enum facesim_log_level {
    FACESIM_LOG_ERROR = 0,
    FACESIM_LOG_WARNING = 1,
    FACESIM_LOG_INFO = 2,
    FACESIM_LOG_DEBUG = 3
};

/* Receives library log messages (no trailing newline). Called on the calling thread. */
typedef void (*facesim_log_fn)(void *user_data, int level, const char *message);

typedef struct facesim_params {
    const char *model_dir;    /* directory of ONNX files; roles are found from each model's
                                 inputs and outputs. Copied by facesim_open. */
    int threads;              /* threads for inference; 0 means all cores */
    int det_size;             /* SCRFD canvas side in pixels (default 640) */
    float det_threshold;      /* face score threshold; negative means the pack's default
                                 (0.5 for SCRFD, 0.65 for the default pack's detector) */
    float nms_threshold;      /* non-maximum suppression IoU (default 0.4) */
    uint64_t max_pixels;      /* decoder limit on width * height (default 100 megapixels) */
    facesim_log_fn log;       /* NULL: no logging */
    void *log_user_data;
} facesim_params;

void facesim_default_params(facesim_params *params);

/* Opens a model pack. On failure *ctx is NULL and facesim_last_error() says why. */
int facesim_open(const facesim_params *params, facesim_context **ctx);

/* Frees the context. Accepts NULL. */
void facesim_close(facesim_context *ctx);

/* Message of the last failed call on ctx (never NULL; "" when none). Valid until the next
 * call on ctx. */
const char *facesim_errmsg(const facesim_context *ctx);

/* Message of the last failed call on this thread that had no context (facesim_open,
 * facesim_image_load with ctx NULL). */
const char *facesim_last_error(void);

/* Description of the opened pack: one line per model with its role and file. Owned by ctx. */
const char *facesim_describe_pack(const facesim_context *ctx);

/* Same-person decision threshold documented for the opened pack's recogniser. */
float facesim_default_threshold(const facesim_context *ctx);

/* Length of the embeddings the pack's recogniser produces (512 for ArcFace). */
int facesim_embedding_size(const facesim_context *ctx);

/* ---- Images ---- */

/* Decodes JPEG (EXIF orientation applied), PNG, WebP, BMP or TIFF into 8-bit RGB. Alpha is
 * dropped without blending, as cv2.imread(path, IMREAD_COLOR) does. ctx may be NULL (default
 * limits, error in facesim_last_error). */
int facesim_image_load(facesim_context *ctx, const char *path, facesim_image **image);

/* Wraps a copy of packed 8-bit RGB pixels (stride in bytes). */
int facesim_image_from_rgb(const uint8_t *pixels, int width, int height, int stride,
                           facesim_image **image);

void facesim_image_free(facesim_image *image);
int facesim_image_width(const facesim_image *image);
int facesim_image_height(const facesim_image *image);
/* Packed RGB pixels, width * 3 bytes per row. Borrowed from image. */
const uint8_t *facesim_image_pixels(const facesim_image *image);

/* ---- Detection and alignment ---- */

enum facesim_face_flags {
    FACESIM_FACE_LANDMARKS_OUTSIDE = 1 /* a landmark lies outside the image: quality warning */
};

typedef struct facesim_face {
    float box[4];         /* x1, y1, x2, y2 */
    float score;          /* detector confidence, 0..1 */
    float landmarks[10];  /* (x, y) of: left eye, right eye, nose tip, left and right mouth
                             corners, "left" as seen in the image */
    int flags;            /* facesim_face_flags */
} facesim_face;

/* Detects faces, sorted by score (highest first). Writes at most max_faces into faces and the
 * number found (which may exceed max_faces) into *n_faces. No face is not an error here. */
int facesim_detect(facesim_context *ctx, const facesim_image *image, facesim_face *faces,
                   int max_faces, int *n_faces);

/* Warps the face onto the 112x112 ArcFace template: packed RGB, 112 * 112 * 3 bytes. */
int facesim_align(facesim_context *ctx, const facesim_image *image, const facesim_face *face,
                  uint8_t *crop);

/* Embeds n aligned crops (each 112 * 112 * 3 RGB bytes, consecutive) in one batch.
 * Writes n * facesim_embedding_size(ctx) floats, each embedding L2-normalised. */
int facesim_embed_crops(facesim_context *ctx, const uint8_t *crops, int n, float *embeddings);

/* Cosine similarity of two vectors of length n (need not be normalised). */
float facesim_cosine(const float *a, const float *b, int n);

/* ---- One face per image ---- */

typedef enum facesim_select {
    FACESIM_SELECT_LARGEST = 0, /* largest box area (insightface evaluation scripts) */
    FACESIM_SELECT_SCORE = 1,   /* highest detector score */
    FACESIM_SELECT_CENTER = 2,  /* box centre nearest the image centre */
    FACESIM_SELECT_INDEX = 3    /* the index-th face in score order */
} facesim_select;

typedef struct facesim_embed_options {
    facesim_select select;
    int index;            /* for FACESIM_SELECT_INDEX */
    int pad_retry;        /* when no face is found, retry on the image padded by 25% with grey */
    int aligned_input;    /* the image is already a 112x112 ArcFace crop: skip detection */
} facesim_embed_options;

void facesim_default_embed_options(facesim_embed_options *options);

typedef struct facesim_face_embedding {
    facesim_face face;     /* the chosen face (zeros with aligned_input) */
    int face_count;        /* faces the detector found */
    int padded;            /* 1 when the face was found only after padding */
    int dim;               /* embedding length */
    float embedding[FACESIM_MAX_EMBEDDING]; /* L2-normalised */
} facesim_face_embedding;

/* Detects, selects, aligns and embeds one face. FACESIM_ERR_NO_FACE when none is found.
 * options may be NULL for the defaults. */
int facesim_embed_image(facesim_context *ctx, const facesim_image *image,
                        const facesim_embed_options *options, facesim_face_embedding *out);

typedef struct facesim_comparison {
    float cosine;                 /* cosine similarity of the two embeddings, -1..1 */
    int same_person;              /* cosine >= facesim_default_threshold(ctx) */
    facesim_face_embedding a, b;
} facesim_comparison;

/* Loads both files and compares their selected faces. */
int facesim_compare_files(facesim_context *ctx, const char *path_a, const char *path_b,
                          const facesim_embed_options *options, facesim_comparison *out);

#ifdef __cplusplus
}
#endif

#endif /* FACESIM_H */

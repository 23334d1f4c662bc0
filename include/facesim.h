/*
 * facesim: face identity similarity (Face-Sim, CSIM) for evaluating image and
 * video generators.
 *
 * This header is the library's manual. The face API (model packs, detection,
 * alignment, embedding, comparison) is documented below the status codes.
 * docs/pipeline.md describes the pipeline step by step, with its constants and
 * their sources.
 *
 * Errors: every call that can fail returns a facesim_status. The message of the
 * last failed call is kept per context (facesim_errmsg) or, for calls made
 * without one, per thread (facesim_last_error). Messages name the file, the
 * model or the value involved and suggest a fix. The library never prints and
 * never aborts; warnings go to the log callback in facesim_params.
 *
 * Threads: a context is not thread-safe. Use one context per thread; contexts
 * share nothing.
 *
 * Building a program: the build tree has a pkg-config file that lists the
 * libraries facesim needs (oneDNN, FFmpeg, libjpeg, libpng, libwebp, libtiff,
 * protobuf-c, OpenMP):
 *     cc app.c $(PKG_CONFIG_PATH=build pkg-config --cflags --libs facesim-uninstalled)
 * After `cmake --install build`, use `pkg-config --cflags --libs facesim`.
 *
 * Limitations:
 * - model packs must contain an SCRFD detector with landmark outputs (*_bnkps)
 *   or the default pack's UltraFace detector plus its 68-point landmark model,
 *   and one ArcFace-style recogniser with a 112x112 input;
 * - images: JPEG, PNG, WebP, BMP and TIFF, 8-bit RGB after decoding, at most
 *   facesim_params.max_pixels pixels;
 * - one face per image in facesim_embed_image; use facesim_detect,
 *   facesim_align and facesim_embed_crops for every face.
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
 *     if (facesim_open(&params, &ctx) != FACESIM_OK) {
 *         fprintf(stderr, "%s\n", facesim_last_error());
 *         return 1;
 *     }
 *     facesim_comparison result;
 *     if (facesim_compare_files(ctx, "original.jpg", "generated.png", NULL, &result) == FACESIM_OK)
 *         printf("%.4f %s\n", result.cosine, result.same_person ? "same" : "different");
 *     else
 *         fprintf(stderr, "%s\n", facesim_errmsg(ctx));
 *     facesim_close(ctx);
 *
 * Coordinates: boxes and landmarks are in source-image pixels, after the EXIF
 * orientation is applied, x to the right and y down, pixel centres at integer
 * coordinates, as insightface reports them. They are not clamped: a face cut by
 * the image border has coordinates outside the image (and the flag
 * FACESIM_FACE_LANDMARKS_OUTSIDE when a landmark is outside).
 *
 * Similarity: the cosine of two L2-normalised embeddings, in [-1, 1], reported
 * signed (negative values mean clearly different people). Two faces are judged
 * the same person when cosine >= facesim_default_threshold(ctx).
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

/* Receives library log messages (no trailing newline; some span several lines).
 * Called on the thread that made the call that logs. */
typedef void (*facesim_log_fn)(void *user_data, int level, const char *message);

typedef struct facesim_params {
    const char *model_dir;    /* directory of ONNX files; roles are found from each model's
                                 inputs and outputs (see facesim_open). Copied by
                                 facesim_open. Default "models/default". */
    int threads;              /* threads for inference; 0 means all cores. NOTE: the
                                 threads are OpenMP's; on a machine where other processes
                                 hold the cores, start the host program with
                                 GOMP_SPINCOUNT=0 (the facesim program does this itself),
                                 or more than one thread can run far slower than one. */
    int det_size;             /* SCRFD canvas side in pixels for detectors with a free input
                                 size: a multiple of 32, default 640. Detectors with a fixed
                                 input size use that size instead, as insightface does. */
    float det_threshold;      /* face score threshold; negative means the detector's default
                                 (0.5 for SCRFD, 0.65 for the default pack's detector) */
    float nms_threshold;      /* non-maximum suppression IoU (default 0.4) */
    uint64_t max_pixels;      /* decoder limit on width * height (default 100 megapixels);
                                 larger images fail with FACESIM_ERR_LIMIT */
    facesim_log_fn log;       /* NULL: no logging */
    void *log_user_data;
    int accept_damaged;       /* 0 (default): images the decoder could only partly read
                                 (truncated or corrupt JPEG data) fail with
                                 FACESIM_ERR_INVALID_DATA. 1: they load, with a warning
                                 through log. */
} facesim_params;

/* Fills params with the defaults listed above. */
void facesim_default_params(facesim_params *params);

/*
 * Opens a model pack: loads every .onnx file in params->model_dir once, finds each
 * file's role and checks that the pipeline's roles are present. params may be NULL for
 * the defaults. Roles (the first file by name of each role wins, as in insightface's
 * FaceAnalysis):
 * - detector: SCRFD with 6, 9, 10 or 15 outputs. Only the 9 and 15 output *_bnkps
 *   models have landmarks, and the others fail with FACESIM_ERR_UNSUPPORTED. Or the
 *   default pack's UltraFace fr_detect (one 1x3xHxW input, outputs [1,N,2] and
 *   [1,N,4]), which also needs the 68-point landmark model fr_landmark (1x1x64x64
 *   input, 136 outputs);
 * - recogniser: Nx3x112x112 input and one [N, D] output, D <= FACESIM_MAX_EMBEDDING.
 * Other models (buffalo_l's genderage, 2d106det, 1k3d68) are listed as ignored, as are
 * models that fail their role's checks and files the engine cannot load (the latter with
 * a warning through params->log).
 *
 * Errors: FACESIM_ERR_INVALID_ARGUMENT for bad params; FACESIM_ERR_IO when the directory
 * cannot be read; FACESIM_ERR_INVALID_DATA when a role is missing (the message lists
 * every file found and its role); FACESIM_ERR_UNSUPPORTED for a detector without
 * landmarks. On failure *ctx is NULL and facesim_last_error() returns the reason.
 */
int facesim_open(const facesim_params *params, facesim_context **ctx);

/* Frees the context and everything it owns. Accepts NULL. */
void facesim_close(facesim_context *ctx);

/* Message of the last failed call on ctx (never NULL; "" when none). Valid until the next
 * call on ctx. With ctx NULL, the same as facesim_last_error(). */
const char *facesim_errmsg(const facesim_context *ctx);

/* Message of the last failed call on this thread that had no context (facesim_open,
 * facesim_image_load with ctx NULL, facesim_image_from_rgb, or any call passed a NULL
 * ctx). Never NULL. Valid until the next such call on this thread. */
const char *facesim_last_error(void);

/* Description of the opened pack: one line per model, "<role> <file>: <details>", with
 * the recogniser's normalisation and threshold. Owned by ctx. */
const char *facesim_describe_pack(const facesim_context *ctx);

/*
 * Same-person decision threshold on the cosine for the opened pack's recogniser:
 * - 0.30 for the default pack's fr_feature.onnx: midway between the lowest
 *   same-person cosine (0.393) and the highest different-person cosine (0.201) over
 *   406 pairs of a 30-photo, 7-person test set with insightface's pipeline;
 * - 0.28 for every other (ArcFace) recogniser: the value insightface's recognition
 *   demo (web-demos/src_recognition/main.py, buffalo_l) calls "the same person"
 *   (it calls below 0.2 "not the same person").
 * Calibrate on your own data when the decision matters.
 */
float facesim_default_threshold(const facesim_context *ctx);

/* Length of the embeddings the pack's recogniser produces (512 for ArcFace). */
int facesim_embedding_size(const facesim_context *ctx);

/* ---- Images ---- */

/*
 * Decodes JPEG (EXIF orientation applied), PNG, WebP, BMP or TIFF, chosen by the file's
 * leading bytes, into 8-bit RGB as cv2.imread(path, IMREAD_COLOR) does: grey expanded,
 * alpha dropped without blending, CMYK converted. ctx may be NULL (default limits, damaged
 * images rejected, error in facesim_last_error). On success *image is owned by the caller
 * (free it with facesim_image_free); on failure it is NULL.
 *
 * Errors (messages start with the path): FACESIM_ERR_IO (missing or unreadable file),
 * FACESIM_ERR_INVALID_DATA (corrupt, truncated, or damaged without accept_damaged),
 * FACESIM_ERR_UNSUPPORTED (not an image in a supported format), FACESIM_ERR_LIMIT (more
 * than max_pixels pixels).
 */
int facesim_image_load(facesim_context *ctx, const char *path, facesim_image **image);

/* Wraps a copy of packed 8-bit RGB pixels; stride is the distance between rows in bytes
 * (at least width * 3). pixels is only read during the call. Errors go to
 * facesim_last_error(). */
int facesim_image_from_rgb(const uint8_t *pixels, int width, int height, int stride,
                           facesim_image **image);

/* Frees an image. Accepts NULL. */
void facesim_image_free(facesim_image *image);
int facesim_image_width(const facesim_image *image);
int facesim_image_height(const facesim_image *image);
/* Packed RGB pixels, width * 3 bytes per row. Borrowed from image. */
const uint8_t *facesim_image_pixels(const facesim_image *image);

enum facesim_image_warning {
    FACESIM_IMAGE_TRUNCATED = 1,     /* data ended early; missing rows are grey */
    FACESIM_IMAGE_CORRUPT_DATA = 2   /* corrupt compressed data; some blocks may be wrong */
};

/* facesim_image_warning bits of an image loaded with accept_damaged; 0 for a clean one. */
int facesim_image_warnings(const facesim_image *image);

/* ---- Detection and alignment ---- */

/* Quality flags of a detected face. Both mean the face may be cut off by the image border,
 * which makes its similarity less reliable. */
enum facesim_face_flags {
    FACESIM_FACE_LANDMARKS_OUTSIDE = 1, /* a landmark lies outside the image */
    FACESIM_FACE_AT_BORDER = 2          /* the box comes within 5% of its width (height) of
                                           the left or right (top or bottom) image edge, or
                                           crosses it. A heuristic: a complete face that
                                           touches the edge is flagged too. */
};

typedef struct facesim_face {
    float box[4];         /* x1, y1, x2, y2 in source pixels, unclamped */
    float score;          /* detector confidence, 0..1 */
    float landmarks[10];  /* (x, y) of: left eye, right eye, nose tip, left and right mouth
                             corners, "left" as seen in the image */
    int flags;            /* facesim_face_flags */
} facesim_face;

/*
 * Detects faces, sorted by score (highest first). Writes at most max_faces into faces
 * (which may be NULL when max_faces is 0) and the number found (which may exceed
 * max_faces) into *n_faces. No face is not an error here: *n_faces is 0.
 */
int facesim_detect(facesim_context *ctx, const facesim_image *image, facesim_face *faces,
                   int max_faces, int *n_faces);

/* Warps the face onto the 112x112 ArcFace template (insightface's norm_crop: least-squares
 * similarity transform of the 5 landmarks, bilinear, black border). crop receives packed
 * RGB, 112 * 112 * 3 bytes. FACESIM_ERR_INVALID_ARGUMENT for non-finite or coinciding
 * landmarks. */
int facesim_align(facesim_context *ctx, const facesim_image *image, const facesim_face *face,
                  uint8_t *crop);

/* Embeds n aligned crops (each 112 * 112 * 3 RGB bytes, consecutive) in one batch.
 * Writes n * facesim_embedding_size(ctx) floats, each embedding L2-normalised. */
int facesim_embed_crops(facesim_context *ctx, const uint8_t *crops, int n, float *embeddings);

/* Cosine similarity of two vectors of length n (need not be normalised), signed, in
 * [-1, 1]. Returns 0 when either vector is zero or n < 1. */
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
    int index;            /* for FACESIM_SELECT_INDEX; FACESIM_ERR_INVALID_ARGUMENT when
                             fewer faces are found */
    int pad_retry;        /* when no face is found, retry on the image padded on every side
                             by 25% of its width (left, right) and height (top, bottom) with
                             grey 127; coordinates are still reported in the unpadded
                             image */
    int aligned_input;    /* the image is already a 112x112 ArcFace crop: skip detection.
                             Any other size fails with FACESIM_ERR_INVALID_ARGUMENT. */
} facesim_embed_options;

/* Fills options with the defaults: largest face, no padding, detection on. */
void facesim_default_embed_options(facesim_embed_options *options);

typedef struct facesim_face_embedding {
    facesim_face face;     /* the chosen face (zeros with aligned_input) */
    int face_count;        /* faces the detector found (0 with aligned_input) */
    int padded;            /* 1 when the face was found only after padding */
    int dim;               /* embedding length */
    float embedding[FACESIM_MAX_EMBEDDING]; /* L2-normalised; dim entries used */
} facesim_face_embedding;

/*
 * Detects, selects, aligns and embeds one face. options may be NULL for the defaults.
 * Errors: FACESIM_ERR_NO_FACE when no face is found (the message suggests aligned_input
 * and pad_retry); FACESIM_ERR_INVALID_ARGUMENT for a bad option or a non-112x112 image
 * with aligned_input. A chosen face with quality flags (out->face.flags) is also logged
 * as a warning.
 */
int facesim_embed_image(facesim_context *ctx, const facesim_image *image,
                        const facesim_embed_options *options, facesim_face_embedding *out);

typedef struct facesim_comparison {
    float cosine;                 /* cosine similarity of the two embeddings, -1..1, signed */
    int same_person;              /* cosine >= facesim_default_threshold(ctx) */
    facesim_face_embedding a, b;
} facesim_comparison;

/* Loads both files and compares their selected faces. Errors are those of
 * facesim_image_load and facesim_embed_image, with the failing file's path first in the
 * message. */
int facesim_compare_files(facesim_context *ctx, const char *path_a, const char *path_b,
                          const facesim_embed_options *options, facesim_comparison *out);

#ifdef __cplusplus
}
#endif

#endif /* FACESIM_H */

/*
 * The face pipeline inside the library: detectors, landmark model, alignment,
 * recogniser and the model pack that ties them together.
 *
 * Coordinate spaces, named the same way in every file of this module:
 * - source space: pixels of the decoded image (display orientation), x right,
 *   y down, pixel centres at integer coordinates as in OpenCV;
 * - canvas space: pixels of the detector input (SCRFD's det_size canvas, the
 *   320x240 UltraFace input, the 64x64 landmark crop);
 * - aligned space: the 112x112 ArcFace crop.
 * Faces leave this module in source space, unclamped: boxes and landmarks may
 * lie outside the image.
 */
#ifndef FS_FACE_FACE_H
#define FS_FACE_FACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "engine/engine.h"
#include "facesim.h"
#include "image/image.h"

/* ---- Face lists and non-maximum suppression (nms.c) ---- */

/* A growable array of faces. Zero-initialise before first use. */
typedef struct fs_face_list {
    facesim_face *faces;
    int count;
    int capacity;
} fs_face_list;

int fs_face_list_push(fs_face_list *list, const facesim_face *face, fs_error *err);
void fs_face_list_release(fs_face_list *list);

/* Sorts faces by score, highest first. Equal scores keep their input order. */
void fs_face_sort_by_score(facesim_face *faces, int count);

/*
 * Greedy non-maximum suppression as insightface's SCRFD.nms does it: faces must
 * be sorted by score; a face is dropped when its IoU with a kept, higher-scoring
 * face exceeds threshold. Areas use the (x2 - x1 + 1) * (y2 - y1 + 1) rule.
 * Compacts faces in place and returns the number kept (score order preserved).
 * keep_scratch needs count bytes.
 */
int fs_face_nms(facesim_face *faces, int count, float threshold, uint8_t *keep_scratch);

/* ---- Detection parameters shared by both detectors ---- */

typedef struct fs_detect_params {
    int det_size;          /* SCRFD canvas side for models with a free input size */
    float score_threshold; /* negative: the detector's default */
    float nms_threshold;
} fs_detect_params;

/* ---- SCRFD (scrfd.c) ---- */

#define FS_SCRFD_MAX_STRIDES 5
#define FS_SCRFD_DEFAULT_THRESHOLD 0.5f

typedef struct fs_scrfd {
    fs_engine *engine;      /* borrowed from the pack */
    const char *path;       /* borrowed, for messages */
    int fixed_width;        /* model's input width, 0 when free */
    int fixed_height;
    int n_strides;          /* 3 (strides 8, 16, 32) or 5 (8 .. 128) */
    int strides[FS_SCRFD_MAX_STRIDES];
    int anchors;            /* anchors per feature-map cell: 2 for 3 strides, 1 for 5 */
    bool has_landmarks;     /* 9 or 15 outputs */
    int n_outputs;
    float *input;           /* canvas tensor, reused between calls */
    size_t input_capacity;  /* floats */
    fs_face_list candidates;
    uint8_t *keep;
    size_t keep_capacity;
} fs_scrfd;

/* Checks the model's inputs and outputs against the SCRFD layout. */
int fs_scrfd_init(fs_scrfd *det, fs_engine *engine, const char *path, fs_error *err);
void fs_scrfd_release(fs_scrfd *det);

/*
 * Computes insightface's letterbox: the image is resized keeping its aspect ratio
 * into the top-left corner of a canvas_width x canvas_height canvas. new_width and
 * new_height are truncated to integers as Python's int() does; *scale is
 * new_height / image_height (canvas = scale * source).
 */
void fs_scrfd_letterbox(int image_width, int image_height, int canvas_width, int canvas_height,
                        int *new_width, int *new_height, double *scale);

/*
 * Decodes one stride's outputs (rows = grid_width * grid_height * anchors, in
 * row-major cell order with the anchors of a cell consecutive). scores is [rows],
 * distances [rows, 4] and landmarks [rows, 10] or NULL. Distances are in units of
 * the stride. Faces with score >= threshold are appended in source space (canvas
 * coordinates divided by scale).
 */
int fs_scrfd_decode_stride(const float *scores, const float *distances, const float *landmarks,
                           int grid_width, int grid_height, int anchors, int stride,
                           float threshold, double scale, fs_face_list *out, fs_error *err);

/* Detects faces in source space, sorted by score. out is cleared first. */
int fs_scrfd_detect(fs_scrfd *det, const fs_image *image, const fs_detect_params *params,
                    fs_face_list *out, fs_error *err);

/* ---- UltraFace detector of the default pack, fr_detect.onnx (ultraface.c) ---- */

#define FS_ULTRAFACE_DEFAULT_THRESHOLD 0.65f

typedef struct fs_ultraface {
    fs_engine *engine;      /* borrowed */
    const char *path;       /* borrowed */
    int width, height;      /* model input, 320 x 240 for fr_detect */
    int rows;               /* candidate boxes, 4420 for fr_detect */
    int scores_output;      /* output index of [1, rows, 2] */
    int boxes_output;       /* output index of [1, rows, 4] */
    float *input;
    fs_face_list candidates;
    uint8_t *keep;
} fs_ultraface;

/* True when the model has one 1x3xHxW input and outputs [1,N,2] and [1,N,4]. */
bool fs_ultraface_matches(fs_engine *engine);
int fs_ultraface_init(fs_ultraface *det, fs_engine *engine, const char *path, fs_error *err);
void fs_ultraface_release(fs_ultraface *det);

/* Detects faces (boxes only, no landmarks) in source space, sorted by score. */
int fs_ultraface_detect(fs_ultraface *det, const fs_image *image, const fs_detect_params *params,
                        fs_face_list *out, fs_error *err);

/* ---- 68-point landmark model of the default pack, fr_landmark.onnx (landmark68.c) ---- */

#define FS_LANDMARK68_SIZE 64

typedef struct fs_landmark68 {
    fs_engine *engine;      /* borrowed */
    const char *path;       /* borrowed */
} fs_landmark68;

bool fs_landmark68_matches(fs_engine *engine);
int fs_landmark68_init(fs_landmark68 *model, fs_engine *engine, const char *path, fs_error *err);

/* Reduces 68 points (x0, y0, x1, y1, ...) to the 5 ArcFace points (x, y pairs). */
void fs_landmark68_to5(const float points68[136], float points5[10]);

/* Computes the 64x64 crop rectangle for a detector box the way fr_landmark.js does.
 * box_out receives the square, clamped, integer box the points are mapped back with. */
int fs_landmark68_crop_rect(const float box[4], int image_width, int image_height,
                            int rect[4], int box_out[4]);

/* Predicts 68 points for the face's box and stores the 5-point reduction in
 * face->landmarks (source space). */
int fs_landmark68_predict(fs_landmark68 *model, const fs_image *image, facesim_face *face,
                          fs_error *err);

/* ---- Alignment (align.c) ---- */

/* The ArcFace 5-point template in aligned space (insightface's arcface_dst). */
extern const float fs_arcface_template[10];

/*
 * Estimates the least-squares similarity transform (rotation, uniform scale,
 * translation; no reflection) mapping src[i] onto dst[i], as Umeyama (1991) and
 * skimage's SimilarityTransform.estimate do. points are (x, y) pairs. m receives
 * the 2x3 matrix [a -b tx; b a ty]. Returns false for degenerate input (all
 * points equal), leaving m as the identity.
 */
bool fs_umeyama(const float *src, const float *dst, int count, double m[6]);

/* Warps the face onto the 112x112 template (insightface's norm_crop). */
int fs_align_face(const fs_image *image, const float landmarks[10], fs_image *crop,
                  fs_error *err);

/* ---- Recogniser (recognizer.c) ---- */

typedef struct fs_recognizer {
    fs_engine *engine;      /* borrowed */
    const char *path;       /* borrowed */
    int dim;                /* embedding length */
    float mean, std;        /* input = (pixel - mean) / std, RGB */
    float threshold;        /* documented same-person cosine threshold */
    const char *normalisation_source; /* how mean/std were chosen, for the pack description */
    float *input;
    size_t input_capacity;  /* floats */
} fs_recognizer;

bool fs_recognizer_matches(fs_engine *engine);
int fs_recognizer_init(fs_recognizer *rec, fs_engine *engine, const char *path, fs_error *err);
void fs_recognizer_release(fs_recognizer *rec);

/* Embeds n 112x112 RGB crops (consecutive, 112*112*3 bytes each) in one run.
 * Writes n * rec->dim floats, each embedding L2-normalised. */
int fs_recognizer_embed(fs_recognizer *rec, const uint8_t *crops, int n, float *embeddings,
                        fs_error *err);

/* ---- Model pack (pack.c) ---- */

typedef enum fs_detector_kind {
    FS_DETECTOR_NONE = 0,
    FS_DETECTOR_SCRFD = 1,
    FS_DETECTOR_ULTRAFACE = 2
} fs_detector_kind;

typedef struct fs_pack_model {
    char *path;
    fs_engine *engine;      /* NULL for a file that failed to load */
    const char *role;       /* "detector", "recogniser", "landmark68" or "ignored" */
    char note[256];         /* why a file was ignored, or details of its role */
} fs_pack_model;

typedef struct fs_pack {
    char *dir;
    fs_pack_model *models;
    int n_models;
    fs_detector_kind detector_kind;
    fs_scrfd scrfd;
    fs_ultraface ultraface;
    bool has_landmark68;
    fs_landmark68 landmark68;
    fs_recognizer recognizer;
    char *description;      /* one line per model */
} fs_pack;

typedef void (*fs_pack_log_fn)(void *user_data, int level, const char *message);

/* Loads every .onnx file in dir (sorted by name), finds each one's role from its
 * inputs and outputs, and checks that the roles the pipeline needs are present.
 * Files that fail to load are reported through log and listed as ignored. */
int fs_pack_open(fs_pack *pack, const char *dir, const fs_engine_params *engine_params,
                 fs_pack_log_fn log, void *log_user_data, fs_error *err);
void fs_pack_release(fs_pack *pack);

/* Sets face->flags for a face in source space of a width x height image:
 * FACESIM_FACE_LANDMARKS_OUTSIDE and FACESIM_FACE_AT_BORDER (see facesim.h). */
void fs_face_set_flags(facesim_face *face, int width, int height);

/* Detects faces with the pack's detector (and landmark model), in source space,
 * sorted by score, with their flags set. */
int fs_pack_detect(fs_pack *pack, const fs_image *image, const fs_detect_params *params,
                   fs_face_list *out, fs_error *err);

#endif /* FS_FACE_FACE_H */

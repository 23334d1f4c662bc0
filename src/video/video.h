/*
 * Video decoding and frame sampling for `facesim video`.
 *
 * The reader demuxes and decodes with FFmpeg (libavformat, libavcodec, libswscale)
 * and returns frames as packed 8-bit RGB in display orientation. It applies the
 * stream's display matrix (or, without one, the legacy "rotate" metadata tag) to every
 * decoded frame as the ffmpeg 5.1 command line does with autorotation: 90/180/270
 * degree turns, plus the mirror flips the matrix requests.
 *
 * Frame index: position of the frame in the decoder's output (presentation order),
 * from 0. Timestamp: the frame's best_effort_timestamp times the stream time base,
 * minus the stream's start_time, in seconds, so the first frame of a usual file is at
 * 0 whatever the container's clock starts at. Timestamps never come from the frame
 * rate, except for a frame without any timestamp, which gets the previous frame's
 * timestamp plus one average frame duration.
 *
 * Damaged input: corrupt packets and decode errors are counted and skipped, and a
 * read error or a file that ends early stops the stream as if it ended there. The
 * frames decoded up to the damage are returned; fs_video_damage reports what went
 * wrong so the caller can warn.
 *
 * Colour: swscale converts with its default BT.601 matrix and SWS_BICUBIC. The frames
 * are byte-identical to those of the ffmpeg 5.1 program and, for videos without
 * rotation metadata, of OpenCV 4.6's cv2.VideoCapture (which turns +-90 degree videos
 * the wrong way), on Debian 12. tests/test_video.c compares them.
 *
 * Logging: FFmpeg's own log messages issued while a reader call runs on the calling
 * thread are captured (the last error is kept for messages) instead of printed.
 * Messages from other threads and outside reader calls go to FFmpeg's default log
 * callback as before. Decoding uses one thread so that every decoder message is
 * captured.
 * NOTE: the first fs_video_open installs the capture with av_log_set_callback, which
 * replaces any callback the host program set before. A callback the host sets later
 * turns the capture off, and the host's callback then receives FFmpeg's messages.
 *
 * Limitations: only the best video stream (av_find_best_stream) is read; display
 * matrices that rotate by an angle other than a multiple of 90 degrees fail with
 * FACESIM_ERR_UNSUPPORTED; sides are limited to 65535 pixels and the area to
 * max_pixels.
 */
#ifndef FS_VIDEO_VIDEO_H
#define FS_VIDEO_VIDEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "image/image.h"

typedef struct fs_video_reader fs_video_reader;

/* How decoded frames are turned into display orientation. A display pixel (x, y)
 * reads the decoded pixel (p, q) with (p, q) = transpose ? (y, x) : (x, y), then
 * p = coded_width - 1 - p when flip_x and q = coded_height - 1 - q when flip_y. */
typedef struct fs_video_orientation {
    bool transpose;
    bool flip_x;
    bool flip_y;
    int rotation;      /* clockwise turn in degrees, 0, 90, 180 or 270, as ffmpeg computes
                          it from the matrix; a mirror flip comes on top when mirrored */
    bool mirrored;     /* the transform includes a mirror flip */
    const char *source; /* "display matrix", "rotate tag" or "none" */
} fs_video_orientation;

typedef struct fs_video_info {
    const char *path;            /* the path given to fs_video_open, owned by the reader */
    int width;                   /* display orientation, after rotation */
    int height;
    int coded_width;             /* as decoded */
    int coded_height;
    fs_video_orientation orientation;
    char codec[32];              /* decoder name, such as "h264" */
    char container[32];          /* demuxer name, such as "mov,mp4,m4a,3gp,3g2,mj2" */
    int64_t declared_frames;     /* the container's nb_frames; 0 when it has none */
    double duration;             /* seconds from the container; NaN when unknown */
    double frame_rate;           /* average frames per second; NaN when unknown */
} fs_video_info;

/* One decoded frame's position. Its pixels come from fs_video_get_pixels. */
typedef struct fs_video_frame {
    int64_t index;     /* 0-based position in presentation order */
    double timestamp;  /* seconds from the stream start, see the file comment */
} fs_video_frame;

/* What went wrong while reading, for a warning. All zero for a clean file; any
 * non-zero count means frames may be missing or wrong. */
typedef struct fs_video_damage {
    int decode_errors;       /* packets the decoder rejected, plus frames it flagged corrupt */
    int read_error;          /* 1 when demuxing stopped on an error other than end of file */
    int logged_errors;       /* error messages FFmpeg logged, such as "File ended
                                prematurely" from a demuxer that then reports a clean end */
    char last_message[256];  /* FFmpeg's last error message, or "" */
} fs_video_damage;

/*
 * Opens path and prepares the decoder of its best video stream. Frames over
 * max_pixels (width * height; 0 for FS_IMAGE_DEFAULT_MAX_PIXELS) are rejected before
 * any pixel memory is allocated. On success *reader is owned by the caller
 * (fs_video_close); on failure it is NULL.
 *
 * Errors, each message starting with the path:
 * - FACESIM_ERR_IO: missing or unreadable file, or a directory;
 * - FACESIM_ERR_INVALID_DATA: empty file, not a media file FFmpeg recognises,
 *   "contains no video stream", invalid frame size;
 * - FACESIM_ERR_UNSUPPORTED: no decoder for the codec, a rotation that is not a
 *   multiple of 90 degrees;
 * - FACESIM_ERR_LIMIT: frames over max_pixels;
 * - FACESIM_ERR_NO_MEMORY.
 */
int fs_video_open(const char *path, uint64_t max_pixels, fs_video_reader **reader,
                  fs_error *err);

/* Stream properties, valid until fs_video_close. */
const fs_video_info *fs_video_get_info(const fs_video_reader *reader);

/*
 * Decodes the next frame and fills *frame with its index and timestamp. Sets *got to
 * false at the end of the stream, including the early end of a damaged file. The
 * decoded frame stays in the reader until the next fs_video_read, so the caller can
 * look at the timestamp before paying for fs_video_get_pixels. Damaged data is not an
 * error (see fs_video_damage); errors are FACESIM_ERR_NO_MEMORY and
 * FACESIM_ERR_INVALID_ARGUMENT after the stream ended.
 */
int fs_video_read(fs_video_reader *reader, fs_video_frame *frame, bool *got, fs_error *err);

/*
 * Converts the frame returned by the last successful fs_video_read to packed RGB in
 * display orientation. *image is owned by the reader and valid until the next
 * fs_video_read or fs_video_close.
 *
 * Errors: FACESIM_ERR_INVALID_ARGUMENT without a current frame, FACESIM_ERR_LIMIT or
 * FACESIM_ERR_INVALID_DATA for a frame whose size changed to an invalid one,
 * FACESIM_ERR_UNSUPPORTED for a pixel format swscale cannot convert,
 * FACESIM_ERR_NO_MEMORY; every message names the file and the frame index.
 */
int fs_video_get_pixels(fs_video_reader *reader, const fs_image **image, fs_error *err);

/* Number of frames fs_video_read has returned so far; after the end of the stream,
 * the stream's decodable frame count. */
int64_t fs_video_frames_read(const fs_video_reader *reader);

/* Damage seen so far. Valid until the next call on reader. */
const fs_video_damage *fs_video_get_damage(const fs_video_reader *reader);

/* Frees the reader. Accepts NULL. */
void fs_video_close(fs_video_reader *reader);

/*
 * Finds the orientation that turns decoded frames upright. matrix is a display matrix
 * (nine 32-bit values as in AV_PKT_DATA_DISPLAYMATRIX) or NULL. Without a matrix,
 * rotate_tag is read: the legacy "rotate" tag in clockwise degrees, or NULL. The
 * decisions are those of the ffmpeg 5.1 command line's autorotation. Angles that are
 * not a multiple of 90 degrees fail with FACESIM_ERR_UNSUPPORTED.
 */
int fs_video_orientation_from_metadata(const int32_t matrix[9], const char *rotate_tag,
                                       fs_video_orientation *out, fs_error *err);

/* Applies orientation to RGB pixels of coded size (rows `stride` bytes apart), writing
 * the packed display-oriented image dst. dst is reallocated only when its size does
 * not match. */
int fs_video_orient_image(const uint8_t *src, int width, int height, ptrdiff_t stride,
                          const fs_video_orientation *orientation, fs_image *dst, fs_error *err);

/* ---- Sampling ---- */

typedef enum fs_sample_mode {
    FS_SAMPLE_ALL = 0,    /* every frame */
    FS_SAMPLE_EVERY = 1,  /* frames 0, N, 2N, ... by index */
    FS_SAMPLE_COUNT = 2,  /* N frames evenly spaced over the frame count */
    FS_SAMPLE_RATE = 3    /* R frames per second by timestamp */
} fs_sample_mode;

typedef struct fs_sampler {
    fs_sample_mode mode;
    int64_t every;          /* FS_SAMPLE_EVERY */
    int64_t *indices;       /* FS_SAMPLE_COUNT: sorted distinct frame indices, owned */
    int64_t index_count;
    int64_t next_index;     /* position in indices */
    double rate;            /* FS_SAMPLE_RATE, frames per second */
    int64_t next_tick;      /* FS_SAMPLE_RATE: the next multiple of 1/rate to fill */
} fs_sampler;

/* Tolerance on timestamps for FS_SAMPLE_RATE, in seconds: a frame at 1001/30000 s
 * counts as "at or after" the tick 1/29.97 s although it is 3e-8 s earlier. Far below
 * any real frame interval. */
#define FS_SAMPLE_TIME_EPSILON 1e-6

/* Largest N accepted for FS_SAMPLE_COUNT and FS_SAMPLE_EVERY. */
#define FS_SAMPLE_MAX_N 10000000

/*
 * Prepares a sampler. value is N for FS_SAMPLE_EVERY and FS_SAMPLE_COUNT (1 to
 * FS_SAMPLE_MAX_N), the rate in frames per second for FS_SAMPLE_RATE (finite, > 0)
 * and unused for FS_SAMPLE_ALL. total_frames is the stream's frame count and is only
 * needed for FS_SAMPLE_COUNT.
 *
 * FS_SAMPLE_COUNT picks the frames numpy.linspace(0, total_frames - 1, N).astype(int)
 * lists, as common evaluation scripts do. When N > total_frames that list repeats
 * frames; the sampler keeps each frame once, so it takes fewer than N frames.
 */
int fs_sampler_init(fs_sampler *sampler, fs_sample_mode mode, double value,
                    int64_t total_frames, fs_error *err);

/* Decides whether the frame with this index and timestamp is sampled. Frames must be
 * passed in decoding order, each once. */
bool fs_sampler_take(fs_sampler *sampler, int64_t index, double timestamp);

/* Frees the index list. Accepts a zeroed sampler. */
void fs_sampler_release(fs_sampler *sampler);

#endif /* FS_VIDEO_VIDEO_H */

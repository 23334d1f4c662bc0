/*
 * Video reader: FFmpeg demuxing and decoding of the best video stream, conversion to
 * packed RGB24 with swscale and the display orientation from orient.c.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "core/checked.h"
#include "video/video.h"

#define FS_VIDEO_MAX_SIDE 65535

struct fs_video_reader {
    char *path;
    uint64_t max_pixels;
    AVFormatContext *format;
    AVCodecContext *codec;
    struct SwsContext *sws;
    AVPacket *packet;
    AVFrame *frame;
    int stream_index;
    AVRational time_base;
    int64_t start_pts;          /* stream start_time, 0 when unknown */
    fs_video_info info;
    fs_video_damage damage;
    bool draining;              /* the demuxer is done and the decoder is being flushed */
    bool finished;
    bool has_frame;             /* reader->frame contains the frame fs_video_read returned */
    int64_t next_index;
    double last_timestamp;
    uint8_t *rgb;               /* converted frame in coded orientation, reused (av_malloc) */
    int rgb_width;
    int rgb_height;
    int rgb_stride;             /* bytes per row, padded for swscale's vector stores */
    fs_image display;           /* oriented frame, reused */
};

/* ---- FFmpeg log capture ----
 * While a reader call runs, FFmpeg messages on the calling thread go to that reader
 * (errors are kept for warnings, the rest dropped) instead of standard error. */

static _Thread_local fs_video_reader *fs_video_log_target;
static pthread_once_t fs_video_log_once = PTHREAD_ONCE_INIT;

static void fs_video_log_callback(void *context, int level, const char *format, va_list args)
{
    fs_video_reader *reader = fs_video_log_target;
    if (!reader) {
        av_log_default_callback(context, level, format, args);
        return;
    }
    if (level > AV_LOG_ERROR)
        return;
    reader->damage.logged_errors++;
    char message[sizeof reader->damage.last_message];
    vsnprintf(message, sizeof message, format, args);
    size_t length = strlen(message);
    while (length > 0 && (message[length - 1] == '\n' || message[length - 1] == ' '))
        message[--length] = '\0';
    if (length > 0)
        memcpy(reader->damage.last_message, message, length + 1);
}

static void fs_video_install_log(void)
{
    av_log_set_callback(fs_video_log_callback);
}

static void fs_video_enter(fs_video_reader *reader)
{
    pthread_once(&fs_video_log_once, fs_video_install_log);
    fs_video_log_target = reader;
}

static void fs_video_leave(void)
{
    fs_video_log_target = NULL;
}

static const char *fs_video_av_error(int code, char *buffer, size_t size)
{
    av_strerror(code, buffer, size);
    return buffer;
}

/* ---- opening ---- */

static int fs_video_check_file(const char *path, fs_error *err)
{
    struct stat info;
    if (stat(path, &info) != 0) {
        if (errno == ENOENT)
            return fs_error_set(err, FACESIM_ERR_IO, "%s: file not found", path);
        return fs_error_set(err, FACESIM_ERR_IO, "%s: cannot read the file: %s", path,
                            strerror(errno));
    }
    if (S_ISDIR(info.st_mode))
        return fs_error_set(err, FACESIM_ERR_IO, "%s: is a directory, not a video file", path);
    if (S_ISREG(info.st_mode) && info.st_size == 0)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: the file is empty (0 bytes); expected a video file", path);
    return FACESIM_OK;
}

/* Checks a frame size; `where` names the frame in messages ("" for the stream). */
static int fs_video_check_size(const fs_video_reader *reader, const char *where, int width,
                               int height, fs_error *err)
{
    if (width <= 0 || height <= 0 || width > FS_VIDEO_MAX_SIDE || height > FS_VIDEO_MAX_SIDE)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: %sinvalid frame size %dx%d (expected 1 to %d pixels per side)",
                            reader->path, where, width, height, FS_VIDEO_MAX_SIDE);
    if ((uint64_t)width * (uint64_t)height > reader->max_pixels)
        return fs_error_set(err, FACESIM_ERR_LIMIT,
                            "%s: %sframes of %dx%d pixels exceed the limit of %llu pixels; raise "
                            "the limit if the video is genuine", reader->path, where, width,
                            height, (unsigned long long)reader->max_pixels);
    return FACESIM_OK;
}

/* Lists the stream types of the file, such as "audio (aac)", for the "no video"
 * message. */
static void fs_video_describe_streams(const AVFormatContext *format, char *buffer, size_t size)
{
    size_t used = 0;
    buffer[0] = '\0';
    for (unsigned i = 0; i < format->nb_streams && used + 1 < size; i++) {
        const AVCodecParameters *parameters = format->streams[i]->codecpar;
        const char *type = av_get_media_type_string(parameters->codec_type);
        int written = snprintf(buffer + used, size - used, "%s%s (%s)", i ? ", " : "",
                               type ? type : "unknown", avcodec_get_name(parameters->codec_id));
        if (written < 0)
            break;
        used += (size_t)written;
    }
}

/* Picks the best video stream that is not an attached cover picture. */
static int fs_video_find_stream(fs_video_reader *reader, const AVCodec **decoder,
                                fs_error *err)
{
    AVFormatContext *format = reader->format;
    int index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (index >= 0 && (format->streams[index]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
        index = AVERROR_STREAM_NOT_FOUND;
        for (unsigned i = 0; i < format->nb_streams; i++) {
            const AVStream *stream = format->streams[i];
            if (stream->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
                !(stream->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
                index = (int)i;
                break;
            }
        }
    }
    if (index < 0) {
        char streams[256];
        fs_video_describe_streams(format, streams, sizeof streams);
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: contains no video stream (streams: %s); pass a video file",
                            reader->path, streams[0] ? streams : "none");
    }
    reader->stream_index = index;
    AVCodecParameters *parameters = format->streams[index]->codecpar;
    *decoder = avcodec_find_decoder(parameters->codec_id);
    if (!*decoder)
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: no decoder for the video codec '%s' in this FFmpeg build "
                            "(libavcodec %s); convert the video, for example with "
                            "ffmpeg -i IN -c:v libx264 OUT.mp4", reader->path,
                            avcodec_get_name(parameters->codec_id), AV_STRINGIFY(
                                LIBAVCODEC_VERSION));
    return FACESIM_OK;
}

static int fs_video_open_decoder(fs_video_reader *reader, const AVCodec *decoder, fs_error *err)
{
    AVStream *stream = reader->format->streams[reader->stream_index];
    reader->codec = avcodec_alloc_context3(decoder);
    if (!reader->codec)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory for the decoder",
                            reader->path);
    char reason[128];
    int ret = avcodec_parameters_to_context(reader->codec, stream->codecpar);
    if (ret < 0)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: invalid parameters for the %s decoder: %s", reader->path,
                            decoder->name, fs_video_av_error(ret, reason, sizeof reason));
    reader->codec->pkt_timebase = stream->time_base;
    /* One thread, so decoder messages stay on the calling thread (see video.h). */
    reader->codec->thread_count = 1;
    ret = avcodec_open2(reader->codec, decoder, NULL);
    if (ret < 0)
        return fs_error_set(err, ret == AVERROR(ENOMEM) ? FACESIM_ERR_NO_MEMORY
                                                         : FACESIM_ERR_UNSUPPORTED,
                            "%s: cannot open the %s decoder: %s", reader->path, decoder->name,
                            fs_video_av_error(ret, reason, sizeof reason));
    return FACESIM_OK;
}

/* Fills reader->info from the stream and its metadata. */
static int fs_video_read_info(fs_video_reader *reader, const AVCodec *decoder, fs_error *err)
{
    AVStream *stream = reader->format->streams[reader->stream_index];
    fs_video_info *info = &reader->info;
    info->path = reader->path;
    reader->time_base = stream->time_base;
    reader->start_pts = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
    snprintf(info->codec, sizeof info->codec, "%s", decoder->name);
    snprintf(info->container, sizeof info->container, "%s", reader->format->iformat->name);
    info->declared_frames = stream->nb_frames > 0 ? stream->nb_frames : 0;
    info->duration = NAN;
    if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0)
        info->duration = (double)stream->duration * av_q2d(stream->time_base);
    else if (reader->format->duration != AV_NOPTS_VALUE && reader->format->duration > 0)
        info->duration = (double)reader->format->duration / AV_TIME_BASE;
    info->frame_rate = NAN;
    if (stream->avg_frame_rate.num > 0 && stream->avg_frame_rate.den > 0)
        info->frame_rate = av_q2d(stream->avg_frame_rate);

    size_t matrix_size = 0;
    const uint8_t *matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX,
                                                    &matrix_size);
    if (matrix && matrix_size < 9 * sizeof(int32_t))
        matrix = NULL;
    int32_t values[9];
    if (matrix)
        memcpy(values, matrix, sizeof values);
    const AVDictionaryEntry *rotate = av_dict_get(stream->metadata, "rotate", NULL, 0);
    int status = fs_video_orientation_from_metadata(matrix ? values : NULL,
                                                    rotate ? rotate->value : NULL,
                                                    &info->orientation, err);
    if (status != FACESIM_OK)
        return fs_error_prefix(err, "%s", reader->path);

    info->coded_width = stream->codecpar->width;
    info->coded_height = stream->codecpar->height;
    if (info->coded_width != 0 || info->coded_height != 0) {
        status = fs_video_check_size(reader, "", info->coded_width, info->coded_height, err);
        if (status != FACESIM_OK)
            return status;
    }
    bool transpose = info->orientation.transpose;
    info->width = transpose ? info->coded_height : info->coded_width;
    info->height = transpose ? info->coded_width : info->coded_height;
    return FACESIM_OK;
}

static int fs_video_open_input(fs_video_reader *reader, fs_error *err)
{
    char reason[128];
    int ret = avformat_open_input(&reader->format, reader->path, NULL, NULL);
    if (ret < 0) {
        reader->format = NULL;
        if (ret == AVERROR(ENOENT) || ret == AVERROR(EACCES) || ret == AVERROR(EIO))
            return fs_error_set(err, FACESIM_ERR_IO, "%s: cannot open the file: %s",
                                reader->path, fs_video_av_error(ret, reason, sizeof reason));
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: not a video file FFmpeg can read (%s%s%s); check that the "
                            "file is complete and is a video", reader->path,
                            fs_video_av_error(ret, reason, sizeof reason),
                            reader->damage.last_message[0] ? ": " : "",
                            reader->damage.last_message);
    }
    ret = avformat_find_stream_info(reader->format, NULL);
    if (ret < 0)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: cannot read the stream information: %s", reader->path,
                            fs_video_av_error(ret, reason, sizeof reason));
    return FACESIM_OK;
}

int fs_video_open(const char *path, uint64_t max_pixels, fs_video_reader **out, fs_error *err)
{
    *out = NULL;
    if (!path || !*path)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT, "video path is empty");
    int status = fs_video_check_file(path, err);
    if (status != FACESIM_OK)
        return status;

    fs_video_reader *reader = calloc(1, sizeof *reader);
    if (!reader)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory", path);
    reader->max_pixels = max_pixels ? max_pixels : FS_IMAGE_DEFAULT_MAX_PIXELS;
    reader->path = strdup(path);
    reader->packet = av_packet_alloc();
    reader->frame = av_frame_alloc();
    if (!reader->path || !reader->packet || !reader->frame) {
        fs_video_close(reader);
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory", path);
    }

    fs_video_enter(reader);
    const AVCodec *decoder = NULL;
    status = fs_video_open_input(reader, err);
    if (status == FACESIM_OK)
        status = fs_video_find_stream(reader, &decoder, err);
    if (status == FACESIM_OK)
        status = fs_video_read_info(reader, decoder, err);
    if (status == FACESIM_OK)
        status = fs_video_open_decoder(reader, decoder, err);
    fs_video_leave();
    if (status != FACESIM_OK) {
        fs_video_close(reader);
        return status;
    }
    /* Messages from probing the format are not damage of the stream. */
    reader->damage = (fs_video_damage){ 0 };
    reader->last_timestamp = NAN;
    *out = reader;
    return FACESIM_OK;
}

const fs_video_info *fs_video_get_info(const fs_video_reader *reader)
{
    return &reader->info;
}

int64_t fs_video_frames_read(const fs_video_reader *reader)
{
    return reader->next_index;
}

const fs_video_damage *fs_video_get_damage(const fs_video_reader *reader)
{
    return &reader->damage;
}

void fs_video_close(fs_video_reader *reader)
{
    if (!reader)
        return;
    fs_video_enter(reader);
    sws_freeContext(reader->sws);
    avcodec_free_context(&reader->codec);
    avformat_close_input(&reader->format);
    fs_video_leave();
    av_packet_free(&reader->packet);
    av_frame_free(&reader->frame);
    av_free(reader->rgb);
    fs_image_release(&reader->display);
    free(reader->path);
    free(reader);
}

/* ---- decoding ---- */

/* Seconds from the stream start for the decoded frame (see video.h). */
static double fs_video_frame_time(fs_video_reader *reader, const AVFrame *frame)
{
    double timestamp;
    if (frame->best_effort_timestamp != AV_NOPTS_VALUE) {
        timestamp = (double)(frame->best_effort_timestamp - reader->start_pts) *
                    av_q2d(reader->time_base);
    } else if (isnan(reader->last_timestamp)) {
        timestamp = 0.0;
    } else {
        double step = isnan(reader->info.frame_rate) ? 0.0 : 1.0 / reader->info.frame_rate;
        timestamp = reader->last_timestamp + step;
    }
    reader->last_timestamp = timestamp;
    return timestamp;
}

/* Makes reader->rgb hold a width x height RGB24 frame. swscale's vector code writes
 * whole blocks, so rows are padded to 64 bytes and the buffer has 64 spare bytes. */
static int fs_video_reserve_rgb(fs_video_reader *reader, int width, int height, fs_error *err)
{
    if (reader->rgb && reader->rgb_width == width && reader->rgb_height == height)
        return FACESIM_OK;
    av_freep(&reader->rgb);
    size_t stride = ((size_t)width * 3 + 63) & ~(size_t)63;
    size_t bytes;
    if (!fs_mul_size(stride, (size_t)height, &bytes) || !fs_add_size(bytes, 64, &bytes))
        return fs_error_set(err, FACESIM_ERR_LIMIT, "%s: frame of %dx%d is too large",
                            reader->path, width, height);
    reader->rgb = av_malloc(bytes);
    if (!reader->rgb)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY,
                            "%s: out of memory for a %dx%d frame (%zu bytes)", reader->path,
                            width, height, bytes);
    reader->rgb_width = width;
    reader->rgb_height = height;
    reader->rgb_stride = (int)stride;
    return FACESIM_OK;
}

/* Converts the decoded frame to RGB24 in reader->rgb, then orients it into
 * reader->display. */
static int fs_video_convert(fs_video_reader *reader, const AVFrame *frame, fs_error *err)
{
    char where[48];
    snprintf(where, sizeof where, "frame %lld: ", (long long)(reader->next_index - 1));
    int status = fs_video_check_size(reader, where, frame->width, frame->height, err);
    if (status != FACESIM_OK)
        return status;
    status = fs_video_reserve_rgb(reader, frame->width, frame->height, err);
    if (status != FACESIM_OK)
        return status;

    reader->sws = sws_getCachedContext(reader->sws, frame->width, frame->height,
                                       (enum AVPixelFormat)frame->format, frame->width,
                                       frame->height, AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL,
                                       NULL);
    if (!reader->sws)
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "%s: frame %lld: swscale cannot convert pixel format '%s' to RGB",
                            reader->path, (long long)(reader->next_index - 1),
                            av_get_pix_fmt_name((enum AVPixelFormat)frame->format));
    uint8_t *planes[4] = { reader->rgb, NULL, NULL, NULL };
    int strides[4] = { reader->rgb_stride, 0, 0, 0 };
    int rows = sws_scale(reader->sws, (const uint8_t *const *)frame->data, frame->linesize, 0,
                         frame->height, planes, strides);
    if (rows != frame->height)
        return fs_error_set(err, FACESIM_ERR_INTERNAL,
                            "%s: frame %lld: swscale converted %d of %d rows", reader->path,
                            (long long)(reader->next_index - 1), rows, frame->height);

    status = fs_video_orient_image(reader->rgb, frame->width, frame->height, reader->rgb_stride,
                                   &reader->info.orientation, &reader->display, err);
    if (status != FACESIM_OK)
        return fs_error_prefix(err, "%s", reader->path);
    return FACESIM_OK;
}

/* Feeds the decoder one packet of the video stream, or starts draining at the end of
 * the file or on a read error. */
static void fs_video_feed(fs_video_reader *reader)
{
    for (;;) {
        int ret = av_read_frame(reader->format, reader->packet);
        if (ret < 0) {
            if (ret != AVERROR_EOF) {
                reader->damage.read_error = 1;
                if (!reader->damage.last_message[0])
                    fs_video_av_error(ret, reader->damage.last_message,
                                      sizeof reader->damage.last_message);
            }
            avcodec_send_packet(reader->codec, NULL);
            reader->draining = true;
            return;
        }
        if (reader->packet->stream_index != reader->stream_index) {
            av_packet_unref(reader->packet);
            continue;
        }
        ret = avcodec_send_packet(reader->codec, reader->packet);
        av_packet_unref(reader->packet);
        if (ret < 0 && ret != AVERROR(EAGAIN))
            reader->damage.decode_errors++;
        return;
    }
}

int fs_video_read(fs_video_reader *reader, fs_video_frame *frame, bool *got, fs_error *err)
{
    memset(frame, 0, sizeof *frame);
    *got = false;
    av_frame_unref(reader->frame);
    reader->has_frame = false;
    if (reader->finished)
        return FACESIM_OK;

    fs_video_enter(reader);
    for (;;) {
        int ret = avcodec_receive_frame(reader->codec, reader->frame);
        if (ret == AVERROR_EOF) {
            reader->finished = true;
            break;
        }
        if (ret == AVERROR(EAGAIN)) {
            if (reader->draining) {
                /* A decoder that neither returns frames nor ends is done. */
                reader->finished = true;
                break;
            }
            fs_video_feed(reader);
            continue;
        }
        if (ret < 0) {
            /* A decoding error: skip it, and move on to the next packet so that a
             * decoder repeating the error cannot stall the loop. */
            reader->damage.decode_errors++;
            if (reader->draining) {
                reader->finished = true;
                break;
            }
            fs_video_feed(reader);
            continue;
        }

        if (reader->frame->decode_error_flags || (reader->frame->flags & AV_FRAME_FLAG_CORRUPT))
            reader->damage.decode_errors++;
        frame->index = reader->next_index++;
        frame->timestamp = fs_video_frame_time(reader, reader->frame);
        reader->has_frame = true;
        *got = true;
        break;
    }
    fs_video_leave();
    return FACESIM_OK;
}

int fs_video_get_pixels(fs_video_reader *reader, const fs_image **image, fs_error *err)
{
    *image = NULL;
    if (!reader->has_frame)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "%s: no decoded frame to convert (fs_video_read did not return one)",
                            reader->path);
    fs_video_enter(reader);
    int status = fs_video_convert(reader, reader->frame, err);
    fs_video_leave();
    if (status != FACESIM_OK)
        return status;
    *image = &reader->display;
    return FACESIM_OK;
}

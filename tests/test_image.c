/*
 * Image module tests: decoders, resize, warp and grey conversion against OpenCV 4.6
 * (cv2 from /usr/bin/python3, run through tests/image_reference.py), plus error handling
 * on the damaged files in the shared case set and on generated bad input.
 *
 * Tolerances: every comparison with cv2 is exact (max difference 0). The decoders use
 * the same Debian libjpeg-turbo, libpng, libwebp and libtiff builds that cv2 links, and
 * resize, warp and grey conversion reproduce OpenCV's fixed-point arithmetic, so any
 * difference is a bug. One grey level would not matter for face matching, but the tests
 * report the max difference and hold it to 0, so that any drift from OpenCV shows up.
 *
 * Needs FACESIM_SHARED_DIR (case files and faces) and a Python with cv2 and numpy
 * (FACESIM_PYTHON, default /usr/bin/python3). Without them only the self-contained
 * tests run and the program exits with 77 (skipped).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "image/image.h"

#define PATH_MAX_LEN 1024

#if defined(__SANITIZE_ADDRESS__)
#define TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_UNDER_ASAN 1
#endif
#endif

static char shared_dir[PATH_MAX_LEN];
static char work_dir[PATH_MAX_LEN];
static char script_path[PATH_MAX_LEN];
static const char *python = "/usr/bin/python3";

/* ---- helpers ---------------------------------------------------------------------- */

static void join(char *out, const char *a, const char *b)
{
    int length = snprintf(out, PATH_MAX_LEN, "%s/%s", a, b);
    if (length < 0 || length >= PATH_MAX_LEN)
        fail_msg("path too long: %s/%s", a, b);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static uint64_t seed_state = 0x9E3779B97F4A7C15ULL;

static uint32_t random_u32(void)
{
    seed_state ^= seed_state << 13;
    seed_state ^= seed_state >> 7;
    seed_state ^= seed_state << 17;
    return (uint32_t)(seed_state >> 16);
}

static double random_uniform(double low, double high)
{
    return low + (high - low) * (random_u32() / 4294967296.0);
}

static void make_noise_image(fs_image *image, int width, int height)
{
    assert_int_equal(fs_image_alloc(image, width, height, NULL), FACESIM_OK);
    for (size_t i = 0; i < (size_t)width * height * 3; i++)
        image->pixels[i] = (uint8_t)random_u32();
}

static void write_raw(const char *path, int width, int height, int channels,
                      const uint8_t *pixels)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint32_t header[3] = {(uint32_t)width, (uint32_t)height, (uint32_t)channels};
    assert_int_equal(fwrite(header, sizeof header, 1, f), 1);
    size_t bytes = (size_t)width * height * channels;
    assert_int_equal(fwrite(pixels, 1, bytes, f), bytes);
    assert_int_equal(fclose(f), 0);
}

/* Reads a raw file; returns malloc'd pixels or NULL when the file does not exist. */
static uint8_t *read_raw(const char *path, int *width, int *height, int *channels)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint32_t header[3];
    assert_int_equal(fread(header, sizeof header, 1, f), 1);
    *width = (int)header[0];
    *height = (int)header[1];
    *channels = (int)header[2];
    size_t bytes = (size_t)*width * *height * *channels;
    uint8_t *pixels = malloc(bytes ? bytes : 1);
    assert_non_null(pixels);
    assert_int_equal(fread(pixels, 1, bytes, f), bytes);
    fclose(f);
    return pixels;
}

typedef struct job_file {
    char path[PATH_MAX_LEN];
    FILE *file;
} job_file;

static void jobs_open(job_file *jobs, const char *name)
{
    join(jobs->path, work_dir, name);
    jobs->file = fopen(jobs->path, "w");
    assert_non_null(jobs->file);
}

static void jobs_add(job_file *jobs, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vfprintf(jobs->file, format, args);
    va_end(args);
    fputc('\n', jobs->file);
}

/* Runs every queued job through image_reference.py; fails the test if Python fails. */
static void jobs_run(job_file *jobs)
{
    assert_int_equal(fclose(jobs->file), 0);
    char command[3 * PATH_MAX_LEN + 64];
    snprintf(command, sizeof command, "'%s' '%s' '%s'", python, script_path, jobs->path);
    int rc = system(command);
    if (rc != 0)
        fail_msg("reference script failed (status %d): %s", rc, command);
}

typedef struct difference {
    int max;
    double mean;
} difference;

static difference compare_pixels(const uint8_t *a, const uint8_t *b, size_t count)
{
    difference d = {0, 0.0};
    double total = 0.0;
    for (size_t i = 0; i < count; i++) {
        int diff = abs((int)a[i] - (int)b[i]);
        if (diff > d.max)
            d.max = diff;
        total += diff;
    }
    d.mean = count ? total / (double)count : 0.0;
    return d;
}

static void save_image_raw(const char *name, const fs_image *image, char *path_out)
{
    join(path_out, work_dir, name);
    write_raw(path_out, image->width, image->height, 3, image->pixels);
}

/* Compares image with the raw reference at path; returns the difference. */
static difference compare_with_reference(const fs_image *image, const char *path,
                                         const char *label)
{
    int width, height, channels;
    uint8_t *expected = read_raw(path, &width, &height, &channels);
    if (!expected)
        fail_msg("%s: no reference output at %s", label, path);
    if (width != image->width || height != image->height || channels != 3)
        fail_msg("%s: size %dx%d, cv2 gives %dx%dx%d", label, image->width, image->height, width,
                 height, channels);
    difference d = compare_pixels(image->pixels, expected, (size_t)width * height * 3);
    free(expected);
    return d;
}

/* ---- decoding against cv2.imread --------------------------------------------------- */

static const char *const case_dirs[] = {"cases/01_exif_orientation", "cases/02_grayscale",
                                        "cases/03_cmyk_jpeg", "cases/05_alpha_channel",
                                        "cases/20_corrupt_truncated_files", "faces"};

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    return strcmp(dot, ".jpg") == 0 || strcmp(dot, ".png") == 0 || strcmp(dot, ".webp") == 0 ||
           strcmp(dot, ".tif") == 0;
}

typedef struct decode_case {
    char path[PATH_MAX_LEN];
    char reference[PATH_MAX_LEN];
} decode_case;

/* Lists every image in the case folders and writes one decode job per file. */
static int collect_decode_cases(decode_case *cases, int capacity, job_file *jobs)
{
    int count = 0;
    for (size_t d = 0; d < sizeof case_dirs / sizeof case_dirs[0]; d++) {
        char dir_path[PATH_MAX_LEN];
        join(dir_path, shared_dir, case_dirs[d]);
        DIR *dir = opendir(dir_path);
        assert_non_null(dir);
        struct dirent *entry;
        while ((entry = readdir(dir)) != NULL) {
            if (!is_image_name(entry->d_name))
                continue;
            assert_true(count < capacity);
            decode_case *c = &cases[count];
            join(c->path, dir_path, entry->d_name);
            char name[PATH_MAX_LEN];
            snprintf(name, sizeof name, "decode_%zu_%s.raw", d, entry->d_name);
            join(c->reference, work_dir, name);
            unlink(c->reference);
            char none[PATH_MAX_LEN + 8];
            snprintf(none, sizeof none, "%s.none", c->reference);
            unlink(none);
            jobs_add(jobs, "decode\t%s\t%s", c->path, c->reference);
            count++;
        }
        closedir(dir);
    }
    return count;
}

/* Files where facesim's policy deliberately differs from cv2 (see image.h). */
static int decode_differs_from_cv2(const char *path)
{
    return strstr(path, "truncated_at_15pct.jpg") != NULL;
}

static void decode_matches_cv2(void **state)
{
    (void)state;
    job_file jobs;
    jobs_open(&jobs, "decode_jobs.txt");
    static decode_case cases[128];
    int count = collect_decode_cases(cases, 128, &jobs);
    assert_true(count >= 40);
    jobs_run(&jobs);

    int compared = 0;
    for (int i = 0; i < count; i++) {
        decode_case *c = &cases[i];
        char none[PATH_MAX_LEN + 8];
        snprintf(none, sizeof none, "%s.none", c->reference);
        int cv2_failed = file_exists(none);

        fs_image image;
        fs_error err;
        fs_error_clear(&err);
        int status = fs_image_decode_file(c->path, FS_IMAGE_DEFAULT_MAX_PIXELS, &image, &err);
        if (decode_differs_from_cv2(c->path)) {
            assert_int_not_equal(status, FACESIM_OK);
            continue;
        }
        if (cv2_failed) {
            if (status == FACESIM_OK)
                fail_msg("%s: decoded, but cv2.imread returns None", c->path);
            if (strstr(err.message, c->path) != err.message)
                fail_msg("%s: error message does not start with the path: %s", c->path,
                         err.message);
            continue;
        }
        if (status != FACESIM_OK)
            fail_msg("%s: decode failed (%s) but cv2 decodes it", c->path, err.message);
        difference d = compare_with_reference(&image, c->reference, c->path);
        print_message("decode %-60s %4dx%-4d max diff %d\n", strrchr(c->path, '/') + 1,
                      image.width, image.height, d.max);
        if (d.max != 0)
            fail_msg("%s: max difference %d from cv2.imread (mean %.4f)", c->path, d.max, d.mean);
        fs_image_release(&image);
        compared++;
    }
    assert_true(compared >= 35);
}

/* CMYK files must not come out inverted: compare with the RGB original of the case. */
static void decode_cmyk_close_to_rgb(void **state)
{
    (void)state;
    const char *files[] = {"cmyk.jpg", "cmyk_jpeg_in_tiff.tif"};
    char path[PATH_MAX_LEN], dir[PATH_MAX_LEN];
    join(dir, shared_dir, "cases/03_cmyk_jpeg");
    join(path, dir, "ref_rgb.jpg");
    fs_image reference;
    assert_int_equal(fs_image_decode_file(path, FS_IMAGE_DEFAULT_MAX_PIXELS, &reference, NULL),
                     FACESIM_OK);
    for (size_t i = 0; i < 2; i++) {
        join(path, dir, files[i]);
        fs_image image;
        fs_error err;
        int status = fs_image_decode_file(path, FS_IMAGE_DEFAULT_MAX_PIXELS, &image, &err);
        if (status != FACESIM_OK)
            fail_msg("%s: %s", path, err.message);
        assert_int_equal(image.width, reference.width);
        assert_int_equal(image.height, reference.height);
        difference d = compare_pixels(image.pixels, reference.pixels,
                                      (size_t)image.width * image.height * 3);
        print_message("%s: mean abs diff to ref_rgb.jpg %.3f\n", files[i], d.mean);
        /* libjpeg-turbo through PIL or OpenCV gives a mean of 0.5-0.7 on these files. An
         * inverted (negative) decode gives about 100. */
        assert_true(d.mean < 3.0);
        fs_image_release(&image);
    }
    fs_image_release(&reference);
}

/* ---- damaged files ----------------------------------------------------------------- */

typedef struct damaged_case {
    const char *file;
    int status;           /* expected status */
    const char *contains; /* expected part of the message, or NULL */
    int warnings;         /* expected warning bits on success */
} damaged_case;

static void damaged_files_expected_outcomes(void **state)
{
    (void)state;
    static const damaged_case cases[] = {
        {"jpeg_headers_only_no_scan.jpg", FACESIM_ERR_INVALID_DATA, "not a valid JPEG", 0},
        {"zero_bytes.jpg", FACESIM_ERR_INVALID_DATA, "unrecognised image format", 0},
        {"text_file_named_jpg.jpg", FACESIM_ERR_UNSUPPORTED, "unrecognised image format", 0},
        {"truncated_at_15pct.jpg", FACESIM_ERR_INVALID_DATA, "truncated JPEG", 0},
        {"png_truncated_at_60pct.png", FACESIM_ERR_INVALID_DATA, "not a valid PNG", 0},
        {"png_bad_crc_in_IDAT.png", FACESIM_ERR_INVALID_DATA, "CRC", 0},
        {"png_header_claims_40000x40000.png", FACESIM_ERR_LIMIT, "--max-pixels", 0},
        {"does_not_exist.jpg", FACESIM_ERR_IO, "No such file", 0},
        {"truncated_at_75pct.jpg", FACESIM_OK, NULL, FS_IMAGE_WARNING_TRUNCATED},
        {"bitflips_in_scan_data.jpg", FACESIM_OK, NULL, FS_IMAGE_WARNING_CORRUPT_DATA},
        {"good_control.jpg", FACESIM_OK, NULL, 0},
        {"good_control.png", FACESIM_OK, NULL, 0},
    };
    char dir[PATH_MAX_LEN];
    join(dir, shared_dir, "cases/20_corrupt_truncated_files");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const damaged_case *c = &cases[i];
        char path[PATH_MAX_LEN];
        join(path, dir, c->file);
        fs_image image;
        fs_error err;
        fs_error_clear(&err);
        int status = fs_image_decode_file(path, FS_IMAGE_DEFAULT_MAX_PIXELS, &image, &err);
        print_message("%-36s -> %s%s%s\n", c->file, facesim_status_name(status),
                      status ? ": " : "", status ? err.message : "");
        if (status != c->status)
            fail_msg("%s: status %s, expected %s (%s)", c->file, facesim_status_name(status),
                     facesim_status_name(c->status), err.message);
        if (status != FACESIM_OK) {
            if (strstr(err.message, path) != err.message)
                fail_msg("%s: message does not start with the path: %s", c->file, err.message);
            if (!strstr(err.message, c->contains))
                fail_msg("%s: message lacks \"%s\": %s", c->file, c->contains, err.message);
            assert_null(image.pixels);
        } else {
            if ((image.warnings & c->warnings) != c->warnings || (!c->warnings && image.warnings))
                fail_msg("%s: warnings 0x%x, expected 0x%x", c->file, image.warnings,
                         c->warnings);
            fs_image_release(&image);
        }
    }
}

/*
 * The 40000x40000 header must be rejected before the 4.8 GB pixel buffer is requested:
 * a child process with a 512 MB address-space limit still gets FACESIM_ERR_LIMIT (an
 * attempted allocation would give FACESIM_ERR_NO_MEMORY instead). AddressSanitizer
 * reserves terabytes of shadow memory, so the limit is skipped under it.
 */
static void limit_checked_before_allocation(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN];
    join(path, shared_dir, "cases/20_corrupt_truncated_files/png_header_claims_40000x40000.png");
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
#if !defined(TEST_UNDER_ASAN)
        struct rlimit limit = {512u << 20, 512u << 20};
        setrlimit(RLIMIT_AS, &limit);
#endif
        fs_image image;
        int status = fs_image_decode_file(path, FS_IMAGE_DEFAULT_MAX_PIXELS, &image, NULL);
        _exit(status == FACESIM_ERR_LIMIT ? 0 : 1);
    }
    int wait_status;
    assert_int_equal(waitpid(child, &wait_status, 0), child);
    assert_true(WIFEXITED(wait_status));
    assert_int_equal(WEXITSTATUS(wait_status), 0);

    /* A lower limit applies to ordinary files too. */
    join(path, shared_dir, "cases/20_corrupt_truncated_files/good_control.png");
    fs_image image;
    fs_error err;
    assert_int_equal(fs_image_decode_file(path, 1000, &image, &err), FACESIM_ERR_LIMIT);
    assert_non_null(strstr(err.message, "--max-pixels"));
}

/* ---- EXIF orientation ------------------------------------------------------------- */

static void exif_orientations_match_upright(void **state)
{
    (void)state;
    static const char *const files[] = {
        "stored_orient2_mirror_h.jpg", "stored_orient3_rot180.jpg",
        "stored_orient4_mirror_v.jpg", "stored_orient5_transpose.jpg",
        "stored_orient6_rot90cw.jpg",  "stored_orient7_transverse.jpg",
        "stored_orient8_rot270cw.jpg"};
    char dir[PATH_MAX_LEN], path[PATH_MAX_LEN];
    join(dir, shared_dir, "cases/01_exif_orientation");
    join(path, dir, "upright_orient1.jpg");
    fs_image upright;
    assert_int_equal(fs_image_decode_file(path, FS_IMAGE_DEFAULT_MAX_PIXELS, &upright, NULL),
                     FACESIM_OK);
    assert_int_equal(upright.width, 592);
    assert_int_equal(upright.height, 800);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        join(path, dir, files[i]);
        fs_image image;
        assert_int_equal(fs_image_decode_file(path, FS_IMAGE_DEFAULT_MAX_PIXELS, &image, NULL),
                         FACESIM_OK);
        assert_int_equal(image.width, upright.width);
        assert_int_equal(image.height, upright.height);
        difference d = compare_pixels(image.pixels, upright.pixels,
                                      (size_t)image.width * image.height * 3);
        print_message("%-32s mean abs diff %.3f, max %d\n", files[i], d.mean, d.max);
        /* The files were made with jpegtran -perfect, which keeps the DCT blocks, so only
         * IDCT rounding differs (max 2-3 levels). A wrong orientation gives a mean of tens. */
        assert_true(d.mean < 0.5);
        assert_true(d.max <= 8);
        fs_image_release(&image);
    }
    fs_image_release(&upright);
}

/* ---- other formats, written by cv2 ------------------------------------------------- */

static void other_formats_match_cv2(void **state)
{
    (void)state;
    static const char *const kinds[][2] = {
        {"png16", "png"},        {"bmp24", "bmp"},         {"bmp8gray", "bmp"},
        {"bmp32topdown", "bmp"}, {"webp_lossless", "webp"}, {"webp_lossy", "webp"},
        {"tiff_lzw", "tif"},     {"tiff_gray16", "tif"},   {"png_palette_trns", "png"},
    };
    enum { KIND_COUNT = sizeof kinds / sizeof kinds[0] };
    fs_image source;
    make_noise_image(&source, 67, 41);
    /* Smooth half so lossy WebP is not all noise. */
    for (int y = 0; y < source.height; y++)
        for (int x = 0; x < source.width / 2; x++)
            for (int c = 0; c < 3; c++)
                source.pixels[(y * source.width + x) * 3 + c] = (uint8_t)(x * 4 + y * 2 + c * 50);
    char source_path[PATH_MAX_LEN];
    save_image_raw("formats_source.raw", &source, source_path);

    char encoded[KIND_COUNT][PATH_MAX_LEN], reference[KIND_COUNT][PATH_MAX_LEN];
    job_file jobs;
    jobs_open(&jobs, "format_jobs.txt");
    for (int i = 0; i < KIND_COUNT; i++) {
        char name[64];
        snprintf(name, sizeof name, "format_%s.%s", kinds[i][0], kinds[i][1]);
        join(encoded[i], work_dir, name);
        snprintf(name, sizeof name, "format_%s.raw", kinds[i][0]);
        join(reference[i], work_dir, name);
        jobs_add(&jobs, "encode\t%s\t%s\t%s", source_path, encoded[i], kinds[i][0]);
        jobs_add(&jobs, "decode\t%s\t%s", encoded[i], reference[i]);
    }
    jobs_run(&jobs);

    for (int i = 0; i < KIND_COUNT; i++) {
        fs_image image;
        fs_error err;
        if (fs_image_decode_file(encoded[i], FS_IMAGE_DEFAULT_MAX_PIXELS, &image, &err) != 0)
            fail_msg("%s: %s", kinds[i][0], err.message);
        difference d = compare_with_reference(&image, reference[i], kinds[i][0]);
        print_message("format %-16s max diff to cv2 %d\n", kinds[i][0], d.max);
        if (d.max != 0)
            fail_msg("%s: max difference %d from cv2.imread", kinds[i][0], d.max);
        fs_image_release(&image);
    }
    fs_image_release(&source);
}

/* ---- resize, warp, grey against cv2 ------------------------------------------------ */

typedef struct size_case {
    int src_width, src_height, dst_width, dst_height;
} size_case;

static void resize_matches_cv2(void **state)
{
    (void)state;
    static const size_case sizes[] = {
        {640, 480, 320, 240},  /* exact 2x down: OpenCV's area fast path */
        {101, 77, 50, 38},     /* not an exact 2x */
        {800, 600, 640, 480},  /* detector canvas, landscape */
        {571, 800, 457, 640},  /* detector canvas, portrait */
        {1300, 720, 650, 360}, /* 2x; 650 * 3 values leave a tail after OpenCV's SIMD blocks */
        {202, 100, 101, 50},   /* 2x with an odd destination width */
        {97, 61, 640, 403},    /* upscale, non-integer ratio */
        {112, 112, 224, 224},  /* exact 2x up */
        {300, 200, 100, 67},   /* 3x down */
        {400, 300, 100, 75},   /* exact 4x down: stays bilinear in OpenCV */
        {37, 23, 100, 77},
        {1, 1, 5, 3},
        {5, 1, 2, 7},
        {3, 9, 1, 1},
    };
    enum { COUNT = sizeof sizes / sizeof sizes[0] };
    fs_image sources[COUNT];
    char outputs[COUNT][PATH_MAX_LEN];
    job_file jobs;
    jobs_open(&jobs, "resize_jobs.txt");
    for (int i = 0; i < COUNT; i++) {
        make_noise_image(&sources[i], sizes[i].src_width, sizes[i].src_height);
        char name[64], input[PATH_MAX_LEN];
        snprintf(name, sizeof name, "resize_in_%d.raw", i);
        save_image_raw(name, &sources[i], input);
        snprintf(name, sizeof name, "resize_out_%d.raw", i);
        join(outputs[i], work_dir, name);
        jobs_add(&jobs, "resize\t%s\t%s\t%d\t%d", input, outputs[i], sizes[i].dst_width,
                 sizes[i].dst_height);
    }
    jobs_run(&jobs);

    for (int i = 0; i < COUNT; i++) {
        fs_image resized;
        assert_int_equal(fs_image_resize_linear(&sources[i], sizes[i].dst_width,
                                                sizes[i].dst_height, &resized, NULL),
                         FACESIM_OK);
        char label[64];
        snprintf(label, sizeof label, "resize %dx%d -> %dx%d", sizes[i].src_width,
                 sizes[i].src_height, sizes[i].dst_width, sizes[i].dst_height);
        difference d = compare_with_reference(&resized, outputs[i], label);
        print_message("%-28s max diff to cv2 %d\n", label, d.max);
        if (d.max != 0)
            fail_msg("%s: max difference %d from cv2.resize (mean %.5f)", label, d.max, d.mean);
        fs_image_release(&resized);
        fs_image_release(&sources[i]);
    }
}

/* Similarity transform: rotate by angle, scale, then translate (as face alignment does). */
static void similarity_matrix(double scale, double angle, double tx, double ty, double m[6])
{
    m[0] = scale * cos(angle);
    m[1] = -scale * sin(angle);
    m[2] = tx;
    m[3] = scale * sin(angle);
    m[4] = scale * cos(angle);
    m[5] = ty;
}

static void warp_matches_cv2(void **state)
{
    (void)state;
    enum { COUNT = 64 };
    fs_image noise, photo;
    make_noise_image(&noise, 211, 173);
    char path[PATH_MAX_LEN];
    join(path, shared_dir, "faces/a01.jpg");
    assert_int_equal(fs_image_decode_file(path, FS_IMAGE_DEFAULT_MAX_PIXELS, &photo, NULL),
                     FACESIM_OK);
    char noise_raw[PATH_MAX_LEN], photo_raw[PATH_MAX_LEN];
    save_image_raw("warp_noise.raw", &noise, noise_raw);
    save_image_raw("warp_photo.raw", &photo, photo_raw);

    double matrices[COUNT][6];
    int sizes[COUNT][2];
    char outputs[COUNT][PATH_MAX_LEN];
    job_file jobs;
    jobs_open(&jobs, "warp_jobs.txt");
    for (int i = 0; i < COUNT; i++) {
        const fs_image *src = i % 2 ? &photo : &noise;
        /* Face-alignment-like: a crop of the source scaled to 112x112, some rotated a lot,
         * some shifted so that the crop extends past the image edge. */
        double scale = random_uniform(0.1, 2.5);
        double angle = random_uniform(-0.8, 0.8);
        double cx = random_uniform(-0.2, 1.2) * src->width;
        double cy = random_uniform(-0.2, 1.2) * src->height;
        similarity_matrix(scale, angle, 0, 0, matrices[i]);
        matrices[i][2] = 56 - (matrices[i][0] * cx + matrices[i][1] * cy);
        matrices[i][5] = 56 - (matrices[i][3] * cx + matrices[i][4] * cy);
        sizes[i][0] = i < 48 ? 112 : 64 + (int)(random_u32() % 200);
        sizes[i][1] = i < 48 ? 112 : 64 + (int)(random_u32() % 200);
        char name[64];
        snprintf(name, sizeof name, "warp_out_%d.raw", i);
        join(outputs[i], work_dir, name);
        const double *m = matrices[i];
        jobs_add(&jobs, "warp\t%s\t%s\t%d\t%d\t%.17g\t%.17g\t%.17g\t%.17g\t%.17g\t%.17g",
                 i % 2 ? photo_raw : noise_raw, outputs[i], sizes[i][0], sizes[i][1], m[0], m[1],
                 m[2], m[3], m[4], m[5]);
    }
    jobs_run(&jobs);

    int worst = 0;
    for (int i = 0; i < COUNT; i++) {
        fs_image warped;
        assert_int_equal(fs_image_warp_affine(i % 2 ? &photo : &noise, matrices[i], sizes[i][0],
                                              sizes[i][1], &warped, NULL),
                         FACESIM_OK);
        char label[64];
        snprintf(label, sizeof label, "warp %d (%dx%d)", i, sizes[i][0], sizes[i][1]);
        difference d = compare_with_reference(&warped, outputs[i], label);
        if (d.max > worst)
            worst = d.max;
        if (d.max != 0)
            fail_msg("%s: max difference %d from cv2.warpAffine (mean %.5f)", label, d.max,
                     d.mean);
        fs_image_release(&warped);
    }
    print_message("warpAffine: %d transforms, max diff to cv2 %d\n", COUNT, worst);
    fs_image_release(&noise);
    fs_image_release(&photo);
}

static void gray_matches_cv2(void **state)
{
    (void)state;
    fs_image image;
    make_noise_image(&image, 129, 31);
    char input[PATH_MAX_LEN], output[PATH_MAX_LEN];
    save_image_raw("gray_in.raw", &image, input);
    join(output, work_dir, "gray_out.raw");
    job_file jobs;
    jobs_open(&jobs, "gray_jobs.txt");
    jobs_add(&jobs, "gray\t%s\t%s", input, output);
    jobs_run(&jobs);

    uint8_t *gray = malloc((size_t)image.width * image.height);
    assert_non_null(gray);
    assert_int_equal(fs_image_to_gray(&image, gray), FACESIM_OK);
    int width, height, channels;
    uint8_t *expected = read_raw(output, &width, &height, &channels);
    assert_non_null(expected);
    assert_int_equal(channels, 1);
    assert_int_equal(width, image.width);
    difference d = compare_pixels(gray, expected, (size_t)width * height);
    print_message("gray: max diff to cv2 %d\n", d.max);
    assert_int_equal(d.max, 0);
    free(expected);
    free(gray);
    fs_image_release(&image);
}

/* ---- self-contained tests ---------------------------------------------------------- */

static void decode_rejects_unknown_bytes(void **state)
{
    (void)state;
    fs_image image;
    fs_error err;
    const char text[] = "this is not an image";
    assert_int_equal(fs_image_decode_memory(text, sizeof text, "notes.jpg", 1000000, &image, &err),
                     FACESIM_ERR_UNSUPPORTED);
    assert_string_equal(err.message, "notes.jpg: unsupported or unrecognised image format "
                                     "(expected JPEG, PNG, WebP, BMP or TIFF)");
    assert_null(image.pixels);

    assert_int_equal(fs_image_decode_memory(text, 0, "empty.png", 1000000, &image, &err),
                     FACESIM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "empty.png: "));

    /* Magic bytes alone, then nothing. */
    static const uint8_t jpeg_start[] = {0xFF, 0xD8, 0xFF};
    assert_int_equal(fs_image_decode_memory(jpeg_start, sizeof jpeg_start, "cut.jpg", 1000000,
                                            &image, &err),
                     FACESIM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "cut.jpg: not a valid JPEG ("));
    static const uint8_t png_start[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0};
    assert_int_equal(fs_image_decode_memory(png_start, sizeof png_start, "cut.png", 1000000,
                                            &image, &err),
                     FACESIM_ERR_INVALID_DATA);
    static const uint8_t bmp_start[] = {'B', 'M', 1, 2, 3};
    assert_int_equal(fs_image_decode_memory(bmp_start, sizeof bmp_start, "cut.bmp", 1000000,
                                            &image, &err),
                     FACESIM_ERR_INVALID_DATA);
    static const uint8_t tiff_start[] = {'I', 'I', 42, 0, 8, 0, 0, 0};
    assert_int_equal(fs_image_decode_memory(tiff_start, sizeof tiff_start, "cut.tif", 1000000,
                                            &image, &err),
                     FACESIM_ERR_INVALID_DATA);
    static const uint8_t webp_start[] = {'R', 'I', 'F', 'F', 4, 0, 0, 0, 'W', 'E', 'B', 'P'};
    assert_int_equal(fs_image_decode_memory(webp_start, sizeof webp_start, "cut.webp", 1000000,
                                            &image, &err),
                     FACESIM_ERR_INVALID_DATA);
    assert_non_null(strstr(err.message, "cut.webp: "));
}

static void decode_missing_file_is_io_error(void **state)
{
    (void)state;
    fs_image image;
    fs_error err;
    assert_int_equal(fs_image_decode_file("/nonexistent/face.jpg", 1000000, &image, &err),
                     FACESIM_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent/face.jpg: "));
    assert_non_null(strstr(err.message, strerror(ENOENT)));
}

/* Writes a PNG and decodes it again: both directions must be lossless. */
static void png_write_round_trip(void **state)
{
    (void)state;
    fs_image image, decoded;
    make_noise_image(&image, 33, 17);
    char path[PATH_MAX_LEN];
    join(path, work_dir, "round_trip.png");
    fs_error err;
    assert_int_equal(fs_image_write_png(path, &image, &err), FACESIM_OK);
    assert_int_equal(fs_image_decode_file(path, 1000000, &decoded, &err), FACESIM_OK);
    assert_int_equal(decoded.width, 33);
    assert_int_equal(decoded.height, 17);
    assert_memory_equal(decoded.pixels, image.pixels, (size_t)33 * 17 * 3);
    assert_int_equal(decoded.warnings, 0);

    assert_int_equal(fs_image_write_png("/nonexistent/dir/out.png", &image, &err),
                     FACESIM_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent/dir/out.png: "));
    fs_image_release(&decoded);
    fs_image_release(&image);
}

/* Quarter turns land source pixels exactly on destination pixels, so warping is a pure
 * permutation, and turning back restores the image. */
static void warp_quarter_turns_are_exact(void **state)
{
    (void)state;
    fs_image image, copy;
    make_noise_image(&image, 7, 4);
    assert_int_equal(fs_image_alloc(&copy, 7, 4, NULL), FACESIM_OK);
    memcpy(copy.pixels, image.pixels, (size_t)7 * 4 * 3);

    double rotate_cw[6] = {0, -1, 3, 1, 0, 0}; /* dst = (3 - y, x) for a 7x4 source */
    fs_image rotated, back;
    assert_int_equal(fs_image_warp_affine(&image, rotate_cw, 4, 7, &rotated, NULL), FACESIM_OK);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 7; x++)
            assert_memory_equal(rotated.pixels + ((size_t)x * 4 + (3 - y)) * 3,
                                image.pixels + ((size_t)y * 7 + x) * 3, 3);
    double rotate_ccw[6] = {0, 1, 0, -1, 0, 3};
    assert_int_equal(fs_image_warp_affine(&rotated, rotate_ccw, 7, 4, &back, NULL), FACESIM_OK);
    assert_memory_equal(back.pixels, copy.pixels, (size_t)7 * 4 * 3);
    fs_image_release(&image);
    fs_image_release(&copy);
    fs_image_release(&rotated);
    fs_image_release(&back);
}

static void pad_places_source(void **state)
{
    (void)state;
    fs_image image, padded;
    make_noise_image(&image, 5, 3);
    assert_int_equal(fs_image_pad(&image, 2, 1, 3, 4, 127, &padded, NULL), FACESIM_OK);
    assert_int_equal(padded.width, 10);
    assert_int_equal(padded.height, 8);
    for (int y = 0; y < 8; y++) {
        for (int x = 0; x < 10; x++) {
            const uint8_t *p = padded.pixels + ((size_t)y * 10 + x) * 3;
            int inside = x >= 2 && x < 7 && y >= 1 && y < 4;
            if (inside)
                assert_memory_equal(p, image.pixels + ((size_t)(y - 1) * 5 + (x - 2)) * 3, 3);
            else
                assert_true(p[0] == 127 && p[1] == 127 && p[2] == 127);
        }
    }
    fs_error err;
    assert_int_equal(fs_image_pad(&image, -1, 0, 0, 0, 0, &padded, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    fs_image_release(&padded);
    fs_image_release(&image);
}

static void draw_clips_to_image(void **state)
{
    (void)state;
    fs_image image;
    assert_int_equal(fs_image_alloc(&image, 20, 10, NULL), FACESIM_OK);
    const uint8_t red[3] = {255, 0, 0};
    fs_image_draw_rect(&image, 2, 2, 8, 6, 1, red);
    assert_int_equal(image.pixels[(2 * 20 + 2) * 3], 255);   /* corner */
    assert_int_equal(image.pixels[(4 * 20 + 5) * 3], 0);     /* inside stays empty */
    assert_int_equal(image.pixels[(6 * 20 + 8) * 3], 255);   /* opposite corner */
    /* Far outside, huge, NaN: nothing crashes and nothing outside is written. */
    fs_image_draw_rect(&image, -1e30f, -5, 1e30f, 1e9f, 3, red);
    fs_image_draw_rect(&image, NAN, NAN, NAN, NAN, 2, red);
    fs_image_draw_disc(&image, 100, 100, 5, red);
    fs_image_draw_disc(&image, NAN, 3, 5, red);
    memset(image.pixels, 0, (size_t)20 * 10 * 3);
    fs_image_draw_disc(&image, 10, 5, 2, red);
    assert_int_equal(image.pixels[(5 * 20 + 10) * 3], 255);
    assert_int_equal(image.pixels[(5 * 20 + 12) * 3], 255);
    assert_int_equal(image.pixels[(5 * 20 + 13) * 3], 0);
    assert_int_equal(image.pixels[(7 * 20 + 12) * 3], 0);
    fs_image_release(&image);
}

static void resize_and_warp_reject_bad_arguments(void **state)
{
    (void)state;
    fs_image empty = {0}, image, out;
    fs_error err;
    assert_int_equal(fs_image_resize_linear(&empty, 10, 10, &out, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    make_noise_image(&image, 4, 4);
    assert_int_equal(fs_image_resize_linear(&image, 0, 10, &out, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    double m[6] = {1, 0, 0, 0, 1, 0};
    m[2] = NAN;
    assert_int_equal(fs_image_warp_affine(&image, m, 8, 8, &out, &err),
                     FACESIM_ERR_INVALID_ARGUMENT);
    /* A singular matrix is valid for OpenCV (its inverse is all zeros: every pixel
     * samples the source origin). */
    double singular[6] = {0, 0, 0, 0, 0, 0};
    assert_int_equal(fs_image_warp_affine(&image, singular, 3, 3, &out, &err), FACESIM_OK);
    assert_memory_equal(out.pixels, image.pixels, 3);
    fs_image_release(&out);
    fs_image_release(&image);
}

/* ---- main ------------------------------------------------------------------------- */

static int reference_available(void)
{
    char command[2 * PATH_MAX_LEN];
    snprintf(command, sizeof command, "'%s' -c 'import cv2, numpy' >/dev/null 2>&1", python);
    return system(command) == 0 && file_exists(script_path);
}

int main(void)
{
    const char *shared = getenv("FACESIM_SHARED_DIR");
    const char *work = getenv("FACESIM_WORK_DIR");
    const char *source = getenv("FACESIM_SOURCE_DIR");
    if (getenv("FACESIM_PYTHON"))
        python = getenv("FACESIM_PYTHON");
    snprintf(work_dir, sizeof work_dir, "%s/image", work ? work : "/tmp");
    mkdir(work ? work : "/tmp", 0777);
    mkdir(work_dir, 0777);
    snprintf(script_path, sizeof script_path, "%s/tests/image_reference.py", source ? source : ".");

    const struct CMUnitTest self_contained[] = {
        cmocka_unit_test(decode_rejects_unknown_bytes),
        cmocka_unit_test(decode_missing_file_is_io_error),
        cmocka_unit_test(png_write_round_trip),
        cmocka_unit_test(warp_quarter_turns_are_exact),
        cmocka_unit_test(pad_places_source),
        cmocka_unit_test(draw_clips_to_image),
        cmocka_unit_test(resize_and_warp_reject_bad_arguments),
    };
    int failures = cmocka_run_group_tests_name("image (self-contained)", self_contained, NULL, NULL);

    char probe[PATH_MAX_LEN];
    snprintf(probe, sizeof probe, "%s/cases/20_corrupt_truncated_files", shared ? shared : "");
    if (!shared || !file_exists(probe)) {
        fprintf(stderr, "test_image: FACESIM_SHARED_DIR (%s) has no case files; skipping the "
                        "decoder and OpenCV comparison tests\n", shared ? shared : "unset");
        return failures ? 1 : 77;
    }
    snprintf(shared_dir, sizeof shared_dir, "%s", shared);

    const struct CMUnitTest with_data[] = {
        cmocka_unit_test(damaged_files_expected_outcomes),
        cmocka_unit_test(limit_checked_before_allocation),
        cmocka_unit_test(exif_orientations_match_upright),
        cmocka_unit_test(decode_cmyk_close_to_rgb),
    };
    failures += cmocka_run_group_tests_name("image (shared files)", with_data, NULL, NULL);

    if (!reference_available()) {
        fprintf(stderr, "test_image: %s cannot import cv2 and numpy (or %s is missing); skipping "
                        "the OpenCV comparisons. Install python3-opencv or set FACESIM_PYTHON\n",
                python, script_path);
        return failures ? 1 : 77;
    }
    const struct CMUnitTest with_opencv[] = {
        cmocka_unit_test(decode_matches_cv2),
        cmocka_unit_test(other_formats_match_cv2),
        cmocka_unit_test(resize_matches_cv2),
        cmocka_unit_test(warp_matches_cv2),
        cmocka_unit_test(gray_matches_cv2),
    };
    failures += cmocka_run_group_tests_name("image (against OpenCV)", with_opencv, NULL, NULL);
    return failures ? 1 : 0;
}

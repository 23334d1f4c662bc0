/*
 * libFuzzer target for fs_image_decode_memory: every decoder (JPEG, PNG, WebP, BMP,
 * TIFF), chosen by the input's leading bytes. Build with -DFACESIM_FUZZ=ON (clang) and
 * preferably -DFACESIM_SANITIZE=ON, then run for example:
 *     ./tests/fuzz_image_decode -max_total_time=60 -rss_limit_mb=2048 CORPUS_DIR
 * with CORPUS_DIR seeded from the shared face and case images.
 */
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

/* Small enough that no input can make a decoder allocate more than a few hundred MB. */
#define FUZZ_MAX_PIXELS (4u * 1000 * 1000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fs_image image;
    fs_error err;
    if (fs_image_decode_memory(data, size, "fuzz-input", FUZZ_MAX_PIXELS, &image, &err) ==
        FACESIM_OK) {
        /* Touch every pixel so that uninitialised or short buffers show up under MSan/ASan. */
        unsigned sum = 0;
        for (size_t i = 0; i < (size_t)image.width * image.height * 3; i++)
            sum += image.pixels[i];
        (void)sum;
        fs_image_release(&image);
    } else if (image.pixels != NULL) {
        __builtin_trap(); /* a failed decode must not leave pixels behind */
    }
    return 0;
}

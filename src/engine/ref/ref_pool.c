#include "engine/ref/ref_kernels.h"

#include <float.h>
#include <stddef.h>

static int ref_pool_min(int a, int b)
{
    return a < b ? a : b;
}

static int ref_pool_max(int a, int b)
{
    return a > b ? a : b;
}

void fs_ref_pool(fs_ref_pool_kind kind, const fs_ref_pool_shape *shape, const float *src,
                 float *dst)
{
    const fs_ref_pool_shape *s = shape;
    size_t in_plane = (size_t)s->in_height * s->in_width;

    for (int n = 0; n < s->batch; n++) {
        for (int c = 0; c < s->channels; c++) {
            const float *plane = src + ((size_t)n * s->channels + c) * in_plane;
            float *out = dst + ((size_t)n * s->channels + c) * s->out_height * s->out_width;
            for (int oy = 0; oy < s->out_height; oy++) {
                for (int ox = 0; ox < s->out_width; ox++) {
                    /* Window in input coordinates, first clipped to the padded input
                     * (for count_include_pad), then to the input itself. */
                    int y0 = oy * s->stride_height - s->pad_top;
                    int x0 = ox * s->stride_width - s->pad_left;
                    int y1 = ref_pool_min(y0 + s->kernel_height, s->in_height + s->pad_bottom);
                    int x1 = ref_pool_min(x0 + s->kernel_width, s->in_width + s->pad_right);
                    int padded_count = (y1 - y0) * (x1 - x0);
                    y0 = ref_pool_max(y0, 0);
                    x0 = ref_pool_max(x0, 0);
                    y1 = ref_pool_min(y1, s->in_height);
                    x1 = ref_pool_min(x1, s->in_width);

                    double result = 0.0;
                    if (y1 > y0 && x1 > x0) {
                        double acc = kind == FS_REF_POOL_MAX ? -DBL_MAX : 0.0;
                        for (int y = y0; y < y1; y++) {
                            for (int x = x0; x < x1; x++) {
                                double v = plane[(size_t)y * s->in_width + x];
                                if (kind == FS_REF_POOL_MAX)
                                    acc = v > acc ? v : acc;
                                else
                                    acc += v;
                            }
                        }
                        if (kind == FS_REF_POOL_MAX)
                            result = acc;
                        else if (s->count_include_pad)
                            result = acc / padded_count;
                        else
                            result = acc / ((y1 - y0) * (x1 - x0));
                    }
                    out[(size_t)oy * s->out_width + ox] = (float)result;
                }
            }
        }
    }
}

#include "engine/ref/ref_kernels.h"

#include <stddef.h>

double fs_ref_activate(const fs_ref_activation *activation, int channel, double x)
{
    if (!activation)
        return x;
    switch (activation->kind) {
    case FS_ACTIVATION_RELU:
        return x > 0.0 ? x : 0.0;
    case FS_ACTIVATION_CLIP:
        if (x < activation->min)
            x = activation->min;
        if (x > activation->max)
            x = activation->max;
        return x;
    case FS_ACTIVATION_PRELU: {
        double slope = activation->slope[activation->slope_count == 1 ? 0 : channel];
        return x > 0.0 ? x : x * slope;
    }
    default:
        return x;
    }
}

void fs_ref_conv(const fs_ref_conv_shape *shape, const float *src, const float *weights,
                 const float *bias, const float *sum, const fs_ref_activation *activation,
                 const fs_ref_activation *sum_activation, float *dst)
{
    const fs_ref_conv_shape *s = shape;
    int in_per_group = s->in_channels / s->groups;
    int out_per_group = s->out_channels / s->groups;
    size_t in_plane = (size_t)s->in_height * s->in_width;
    size_t out_plane = (size_t)s->out_height * s->out_width;
    size_t kernel_plane = (size_t)s->kernel_height * s->kernel_width;

    for (int n = 0; n < s->batch; n++) {
        for (int oc = 0; oc < s->out_channels; oc++) {
            int group = oc / out_per_group;
            const float *filter = weights + (size_t)oc * in_per_group * kernel_plane;
            for (int oy = 0; oy < s->out_height; oy++) {
                for (int ox = 0; ox < s->out_width; ox++) {
                    double acc = bias ? bias[oc] : 0.0;
                    for (int ic = 0; ic < in_per_group; ic++) {
                        int channel = group * in_per_group + ic;
                        const float *plane = src + ((size_t)n * s->in_channels + channel) *
                                                       in_plane;
                        for (int ky = 0; ky < s->kernel_height; ky++) {
                            int iy = oy * s->stride_height - s->pad_top + ky * s->dilation_height;
                            if (iy < 0 || iy >= s->in_height)
                                continue;
                            for (int kx = 0; kx < s->kernel_width; kx++) {
                                int ix = ox * s->stride_width - s->pad_left +
                                         kx * s->dilation_width;
                                if (ix < 0 || ix >= s->in_width)
                                    continue;
                                double w = filter[((size_t)ic * s->kernel_height + ky) *
                                                      s->kernel_width + kx];
                                acc += w * plane[(size_t)iy * s->in_width + ix];
                            }
                        }
                    }
                    size_t at = ((size_t)n * s->out_channels + oc) * out_plane +
                                (size_t)oy * s->out_width + ox;
                    acc = fs_ref_activate(activation, oc, acc);
                    if (sum)
                        acc += sum[at];
                    acc = fs_ref_activate(sum_activation, oc, acc);
                    dst[at] = (float)acc;
                }
            }
        }
    }
}

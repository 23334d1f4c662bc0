/*
 * Plain C reference kernels: naive loops over row-major (NCHW) float tensors with double
 * accumulation. The oneDNN ops fall back to them for shapes oneDNN cannot express with
 * ONNX semantics, and the kernel tests use them as the ground truth.
 *
 * None of them allocates, so an op may call them from run.
 */
#ifndef FS_ENGINE_REF_KERNELS_H
#define FS_ENGINE_REF_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/graph.h"

/* The activation fused into a convolution (enum fs_activation_kind). */
typedef struct fs_ref_activation {
    int kind;
    float min, max;       /* FS_ACTIVATION_CLIP bounds */
    const float *slope;   /* FS_ACTIVATION_PRELU: slope_count values, borrowed */
    int slope_count;      /* 1 (one slope for every channel) or the channel count */
} fs_ref_activation;

/* Applies activation (may be NULL for none) to x, an element of output channel `channel`. */
double fs_ref_activate(const fs_ref_activation *activation, int channel, double x);

/* Geometry of a 2-D grouped convolution. A 1-D convolution has in_height = kernel_height =
 * out_height = 1. */
typedef struct fs_ref_conv_shape {
    int batch, in_channels, in_height, in_width;
    int out_channels, out_height, out_width;
    int groups;
    int kernel_height, kernel_width;
    int stride_height, stride_width;
    int dilation_height, dilation_width; /* ONNX convention: 1 means adjacent taps */
    int pad_top, pad_left;               /* bottom and right follow from the output size */
} fs_ref_conv_shape;

/*
 * Computes dst = sum_activation(activation(conv(src, weights) + bias) + sum), all NCHW, in
 * the order the Conv op applies its fused post-ops. weights is [out_channels, in_channels /
 * groups, kernel_height, kernel_width]. bias ([out_channels]), sum (shaped like dst) and
 * both activations may be NULL.
 */
void fs_ref_conv(const fs_ref_conv_shape *shape, const float *src, const float *weights,
                 const float *bias, const float *sum, const fs_ref_activation *activation,
                 const fs_ref_activation *sum_activation, float *dst);

typedef enum fs_ref_pool_kind {
    FS_REF_POOL_MAX = 0,
    FS_REF_POOL_AVERAGE = 1
} fs_ref_pool_kind;

/* Geometry of a 2-D pooling. The pads are the ones the model declares; any extra windows
 * that ceil_mode adds are implied by out_height and out_width. */
typedef struct fs_ref_pool_shape {
    int batch, channels, in_height, in_width;
    int out_height, out_width;
    int kernel_height, kernel_width;
    int stride_height, stride_width;
    int pad_top, pad_left, pad_bottom, pad_right;
    bool count_include_pad;
} fs_ref_pool_shape;

/*
 * Pools NCHW src into NCHW dst with ONNX semantics. Average pooling divides by the number
 * of input elements in the window, or with count_include_pad by the window clipped to the
 * padded input (declared pads only), as onnxruntime and PyTorch do. A window with no input
 * element yields 0.
 */
void fs_ref_pool(fs_ref_pool_kind kind, const fs_ref_pool_shape *shape, const float *src,
                 float *dst);

/* Gemm: y = alpha * op(a) * op(b) + beta * c, with op(a) [m, k] and op(b) [k, n]. c is read
 * at c[i * c_stride_m + j * c_stride_n], so a stride of 0 broadcasts it; c may be NULL. */
typedef struct fs_ref_gemm_shape {
    int64_t m, n, k;
    bool trans_a, trans_b;
    float alpha, beta;
    int64_t c_stride_m, c_stride_n;
} fs_ref_gemm_shape;

void fs_ref_gemm(const fs_ref_gemm_shape *shape, const float *a, const float *b, const float *c,
                 float *y);

/* Batched matrix product with numpy broadcasting: for every index of the batch dims, y
 * [m, n] = a [m, k] * b [k, n]. Batch strides are in elements; 0 broadcasts. */
typedef struct fs_ref_matmul_shape {
    int batch_rank;
    int64_t batch_dims[FS_MAX_RANK];
    int64_t a_batch_strides[FS_MAX_RANK];
    int64_t b_batch_strides[FS_MAX_RANK];
    int64_t m, n, k;
} fs_ref_matmul_shape;

void fs_ref_matmul(const fs_ref_matmul_shape *shape, const float *a, const float *b, float *y);

#endif /* FS_ENGINE_REF_KERNELS_H */

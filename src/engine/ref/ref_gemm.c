#include "engine/ref/ref_kernels.h"

#include <stddef.h>

void fs_ref_gemm(const fs_ref_gemm_shape *shape, const float *a, const float *b, const float *c,
                 float *y)
{
    const fs_ref_gemm_shape *s = shape;
    for (int64_t i = 0; i < s->m; i++) {
        for (int64_t j = 0; j < s->n; j++) {
            double acc = 0.0;
            for (int64_t p = 0; p < s->k; p++) {
                double av = s->trans_a ? a[p * s->m + i] : a[i * s->k + p];
                double bv = s->trans_b ? b[j * s->k + p] : b[p * s->n + j];
                acc += av * bv;
            }
            acc *= s->alpha;
            if (c)
                acc += (double)s->beta * c[i * s->c_stride_m + j * s->c_stride_n];
            y[i * s->n + j] = (float)acc;
        }
    }
}

void fs_ref_matmul(const fs_ref_matmul_shape *shape, const float *a, const float *b, float *y)
{
    const fs_ref_matmul_shape *s = shape;
    int64_t batches = 1;
    for (int d = 0; d < s->batch_rank; d++)
        batches *= s->batch_dims[d];

    for (int64_t batch = 0; batch < batches; batch++) {
        /* Unravel the flat batch index into per-dimension offsets of a and b. */
        int64_t rest = batch, a_offset = 0, b_offset = 0;
        for (int d = s->batch_rank - 1; d >= 0; d--) {
            int64_t index = rest % s->batch_dims[d];
            rest /= s->batch_dims[d];
            a_offset += index * s->a_batch_strides[d];
            b_offset += index * s->b_batch_strides[d];
        }
        const float *a_matrix = a + a_offset;
        const float *b_matrix = b + b_offset;
        float *y_matrix = y + batch * s->m * s->n;
        for (int64_t i = 0; i < s->m; i++) {
            for (int64_t j = 0; j < s->n; j++) {
                double acc = 0.0;
                for (int64_t p = 0; p < s->k; p++)
                    acc += (double)a_matrix[i * s->k + p] * b_matrix[p * s->n + j];
                y_matrix[i * s->n + j] = (float)acc;
            }
        }
    }
}

/*
 * Alignment: the least-squares similarity transform of the five landmarks onto
 * the ArcFace template, then a bilinear warp to 112x112 (insightface's
 * face_align.norm_crop with mode "arcface").
 */
#include "face/face.h"

#include <math.h>

/* insightface python-package/insightface/utils/face_align.py, arcface_dst, in aligned
 * space: left eye, right eye, nose tip, left and right mouth corners. */
const float fs_arcface_template[10] = {
    38.2946f, 51.6963f, 73.5318f, 51.5014f, 56.0252f,
    71.7366f, 41.5493f, 92.3655f, 70.7299f, 92.2041f,
};

/*
 * In two dimensions the Umeyama estimate has a closed form. With demeaned points
 * s and d, a = mean(s.x d.x + s.y d.y), b = mean(s.x d.y - s.y d.x) and
 * v = mean(|s|^2), the transform is scale * rotation = [a -b; b a] / v. This is
 * the least-squares optimum over rotations, scales and translations, which is
 * what skimage's _umeyama returns (its reflection correction keeps the rotation
 * proper). Everything is computed in double, as skimage does in float64.
 */
bool fs_umeyama(const float *src, const float *dst, int count, double m[6])
{
    m[0] = 1.0, m[1] = 0.0, m[2] = 0.0;
    m[3] = 0.0, m[4] = 1.0, m[5] = 0.0;
    if (count < 1)
        return false;

    double src_mean_x = 0.0, src_mean_y = 0.0, dst_mean_x = 0.0, dst_mean_y = 0.0;
    for (int i = 0; i < count; i++) {
        src_mean_x += src[2 * i];
        src_mean_y += src[2 * i + 1];
        dst_mean_x += dst[2 * i];
        dst_mean_y += dst[2 * i + 1];
    }
    src_mean_x /= count;
    src_mean_y /= count;
    dst_mean_x /= count;
    dst_mean_y /= count;

    double a = 0.0, b = 0.0, variance = 0.0;
    for (int i = 0; i < count; i++) {
        double sx = src[2 * i] - src_mean_x;
        double sy = src[2 * i + 1] - src_mean_y;
        double dx = dst[2 * i] - dst_mean_x;
        double dy = dst[2 * i + 1] - dst_mean_y;
        a += sx * dx + sy * dy;
        b += sx * dy - sy * dx;
        variance += sx * sx + sy * sy;
    }
    if (!(variance > 0.0) || !isfinite(a) || !isfinite(b))
        return false;

    double c = a / variance; /* scale * cos(angle) */
    double s = b / variance; /* scale * sin(angle) */
    m[0] = c;
    m[1] = -s;
    m[2] = dst_mean_x - (c * src_mean_x - s * src_mean_y);
    m[3] = s;
    m[4] = c;
    m[5] = dst_mean_y - (s * src_mean_x + c * src_mean_y);
    return true;
}

int fs_align_face(const fs_image *image, const float landmarks[10], fs_image *crop,
                  fs_error *err)
{
    for (int i = 0; i < 10; i++) {
        if (!isfinite(landmarks[i]))
            return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                                "landmark coordinate %d is not a finite number", i);
    }

    double m[6];
    if (!fs_umeyama(landmarks, fs_arcface_template, 5, m))
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "cannot align a face whose five landmarks coincide at (%g, %g)",
                            landmarks[0], landmarks[1]);
    return fs_image_warp_affine(image, m, FACESIM_ALIGNED_SIZE, FACESIM_ALIGNED_SIZE, crop, err);
}

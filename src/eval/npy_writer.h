/*
 * Writer for NumPy .npy files holding a rows x columns float32 matrix, readable with
 * numpy.load(path).
 *
 * Format version 1.0: the magic "\x93NUMPY", version bytes 1 0, a little-endian
 * uint16 header length, then a Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (rows, columns), }
 * padded with spaces and a final newline so the data starts at a multiple of 64
 * bytes. The data follows in row-major order as little-endian float32, whatever the
 * host byte order.
 */
#ifndef FS_EVAL_NPY_WRITER_H
#define FS_EVAL_NPY_WRITER_H

#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

typedef struct fs_npy_writer {
    FILE *out;            /* borrowed */
    size_t rows;          /* from the header */
    size_t columns;
    size_t rows_written;
    int status;           /* FACESIM_OK, or the first error */
} fs_npy_writer;

/* Writes the header for a rows x columns float32 matrix. The shape is fixed here, so
 * the caller must write exactly `rows` rows afterwards. */
int fs_npy_begin(fs_npy_writer *npy, FILE *out, size_t rows, size_t columns, fs_error *err);

/* Writes the next row of `columns` floats. */
int fs_npy_write_row(fs_npy_writer *npy, const float *row, fs_error *err);

/* Flushes. Fails with FACESIM_ERR_INTERNAL when fewer rows were written than the header
 * declared (the file would not load) and FACESIM_ERR_IO when a write failed. */
int fs_npy_finish(fs_npy_writer *npy, fs_error *err);

#endif /* FS_EVAL_NPY_WRITER_H */

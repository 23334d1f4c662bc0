#include "eval/npy_writer.h"

#include <stdint.h>
#include <string.h>

#define FS_NPY_ALIGNMENT 64
#define FS_NPY_PREAMBLE 10 /* magic (6 bytes), version (2), header length (2) */

int fs_npy_begin(fs_npy_writer *npy, FILE *out, size_t rows, size_t columns, fs_error *err)
{
    memset(npy, 0, sizeof *npy);
    npy->out = out;
    npy->rows = rows;
    npy->columns = columns;

    char header[256];
    int length = snprintf(header, sizeof header,
                          "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                          rows, columns);
    if (length < 0 || (size_t)length >= sizeof header - FS_NPY_ALIGNMENT)
        return npy->status = fs_error_set(err, FACESIM_ERR_INTERNAL,
                                          "npy output: header does not fit");

    /* Pad with spaces so that preamble + header + newline is a multiple of 64. */
    size_t total = FS_NPY_PREAMBLE + (size_t)length + 1;
    size_t padding = (FS_NPY_ALIGNMENT - total % FS_NPY_ALIGNMENT) % FS_NPY_ALIGNMENT;
    memset(header + length, ' ', padding);
    length += (int)padding;
    header[length++] = '\n';

    unsigned char preamble[FS_NPY_PREAMBLE] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                                (unsigned char)(length & 0xFF),
                                                (unsigned char)(length >> 8) };
    fwrite(preamble, 1, sizeof preamble, out);
    fwrite(header, 1, (size_t)length, out);
    if (ferror(out))
        return npy->status = fs_error_set(err, FACESIM_ERR_IO, "npy output: write failed");
    return FACESIM_OK;
}

int fs_npy_write_row(fs_npy_writer *npy, const float *row, fs_error *err)
{
    if (npy->status != FACESIM_OK)
        return fs_error_set(err, npy->status, "npy output: an earlier write failed");
    if (npy->rows_written == npy->rows)
        return npy->status = fs_error_set(err, FACESIM_ERR_INTERNAL,
                                          "npy output: row %zu written but the header "
                                          "declares %zu rows",
                                          npy->rows_written + 1, npy->rows);
    for (size_t i = 0; i < npy->columns; i++) {
        uint32_t bits;
        memcpy(&bits, &row[i], sizeof bits);
        unsigned char bytes[4] = { (unsigned char)bits, (unsigned char)(bits >> 8),
                                   (unsigned char)(bits >> 16), (unsigned char)(bits >> 24) };
        fwrite(bytes, 1, sizeof bytes, npy->out);
    }
    npy->rows_written++;
    if (ferror(npy->out))
        return npy->status = fs_error_set(err, FACESIM_ERR_IO, "npy output: write failed");
    return FACESIM_OK;
}

int fs_npy_finish(fs_npy_writer *npy, fs_error *err)
{
    if (npy->status != FACESIM_OK)
        return fs_error_set(err, npy->status, "npy output: an earlier write failed");
    if (npy->rows_written != npy->rows)
        return fs_error_set(err, FACESIM_ERR_INTERNAL,
                            "npy output: %zu rows written but the header declares %zu",
                            npy->rows_written, npy->rows);
    if (fflush(npy->out) != 0 || ferror(npy->out))
        return fs_error_set(err, FACESIM_ERR_IO, "npy output: write failed");
    return FACESIM_OK;
}

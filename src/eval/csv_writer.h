/*
 * CSV writer with RFC 4180 quoting.
 *
 * A field is quoted when it contains a comma, a double quote, CR or LF, or when it
 * starts or ends with a space, which some readers trim. Quotes inside are doubled.
 * Rows end with LF, not the CRLF of RFC 4180, because Unix tools expect LF, and
 * Python's csv module and pandas read both. Write errors are sticky and reported by
 * fs_csv_finish.
 */
#ifndef FS_EVAL_CSV_WRITER_H
#define FS_EVAL_CSV_WRITER_H

#include <stdio.h>

#include "core/error.h"

typedef struct fs_csv_writer {
    FILE *out;         /* borrowed */
    int fields_in_row; /* fields written since the last row end */
    int status;        /* FACESIM_OK, or FACESIM_ERR_IO after a failed write */
} fs_csv_writer;

void fs_csv_init(fs_csv_writer *csv, FILE *out);

/* Writes one text field, quoted when needed. NULL writes an empty field. */
void fs_csv_field(fs_csv_writer *csv, const char *value);

/* Writes a number with `decimals` digits after the point (0..17). NaN and infinities
 * write an empty field, which pandas reads as NaN. */
void fs_csv_fixed(fs_csv_writer *csv, double value, int decimals);

/* Writes a float with 9 significant digits, enough to read back the same float.
 * NaN and infinities write an empty field. */
void fs_csv_float(fs_csv_writer *csv, float value);

void fs_csv_int(fs_csv_writer *csv, long long value);

/* Ends the current row. */
void fs_csv_end_row(fs_csv_writer *csv);

/* Flushes. Returns FACESIM_ERR_IO when a write failed and FACESIM_ERR_INTERNAL when the
 * last row was not ended. */
int fs_csv_finish(fs_csv_writer *csv, fs_error *err);

#endif /* FS_EVAL_CSV_WRITER_H */

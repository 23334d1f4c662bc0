/*
 * Plain-text table for the CLI's human-readable output: cells are collected row by
 * row, then printed with every column padded to its widest cell.
 *
 * Widths count UTF-8 code points, so file names with accents line up. Wide
 * characters such as CJK take two terminal columns and will not line up.
 */
#ifndef FS_EVAL_TABLE_H
#define FS_EVAL_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

#define FS_TABLE_MAX_COLUMNS 64

enum fs_table_align { FS_TABLE_LEFT = 0, FS_TABLE_RIGHT = 1 };

typedef struct fs_table {
    int columns;
    int align[FS_TABLE_MAX_COLUMNS]; /* fs_table_align per column */
    char **cells;                    /* row-major, rows * columns strings, owned */
    size_t rows;
    size_t capacity;                 /* cells allocated, in strings */
    size_t next_cell;                /* cells filled so far */
    int status;                      /* first allocation failure, sticky */
} fs_table;

/* Starts a table whose first row is the header. Fails with FACESIM_ERR_INVALID_ARGUMENT
 * when columns is outside 1..FS_TABLE_MAX_COLUMNS. */
int fs_table_init(fs_table *table, int columns, fs_error *err);

/* Sets a column's alignment (left by default; numbers read better right-aligned). */
void fs_table_set_align(fs_table *table, int column, int align);

/* Appends a cell (copied) to the current row; a row is complete after `columns` cells. */
void fs_table_add(fs_table *table, const char *text);

/* Appends a printf-formatted cell. */
void fs_table_addf(fs_table *table, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints every complete row, each line starting with `prefix` and columns separated by
 * two spaces, without trailing spaces. Returns FACESIM_ERR_NO_MEMORY when a cell could
 * not be stored and FACESIM_ERR_IO when writing failed. */
int fs_table_print(const fs_table *table, FILE *out, const char *prefix, fs_error *err);

/* Frees the cells. Accepts a zeroed table. */
void fs_table_free(fs_table *table);

#endif /* FS_EVAL_TABLE_H */

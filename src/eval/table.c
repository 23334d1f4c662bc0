#include "eval/table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"

int fs_table_init(fs_table *table, int columns, fs_error *err)
{
    memset(table, 0, sizeof *table);
    if (columns < 1 || columns > FS_TABLE_MAX_COLUMNS)
        return fs_error_set(err, FACESIM_ERR_INVALID_ARGUMENT,
                            "table: %d columns requested, expected 1 to %d", columns,
                            FS_TABLE_MAX_COLUMNS);
    table->columns = columns;
    table->status = FACESIM_OK;
    return FACESIM_OK;
}

void fs_table_set_align(fs_table *table, int column, int align)
{
    if (column >= 0 && column < table->columns)
        table->align[column] = align;
}

/* Stores an already-allocated cell, taking ownership of it. */
static void fs_table_store(fs_table *table, char *cell)
{
    if (table->status != FACESIM_OK || !cell) {
        free(cell);
        table->status = FACESIM_ERR_NO_MEMORY;
        return;
    }
    if (table->next_cell == table->capacity) {
        size_t capacity = table->capacity ? table->capacity * 2 : (size_t)table->columns * 8;
        size_t bytes;
        char **cells = NULL;
        if (fs_mul_size(capacity, sizeof *cells, &bytes))
            cells = realloc(table->cells, bytes);
        if (!cells) {
            free(cell);
            table->status = FACESIM_ERR_NO_MEMORY;
            return;
        }
        table->cells = cells;
        table->capacity = capacity;
    }
    table->cells[table->next_cell++] = cell;
    table->rows = table->next_cell / (size_t)table->columns;
}

void fs_table_add(fs_table *table, const char *text)
{
    fs_table_store(table, strdup(text ? text : ""));
}

void fs_table_addf(fs_table *table, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int length = vsnprintf(NULL, 0, format, args);
    va_end(args);

    char *cell = length >= 0 ? malloc((size_t)length + 1) : NULL;
    if (cell) {
        va_start(args, format);
        vsnprintf(cell, (size_t)length + 1, format, args);
        va_end(args);
    }
    fs_table_store(table, cell);
}

/* Counts UTF-8 code points: every byte that is not a continuation byte. */
static size_t fs_table_text_width(const char *text)
{
    size_t width = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        width += (*c & 0xC0) != 0x80;
    return width;
}

static void fs_table_pad(FILE *out, size_t count)
{
    for (size_t i = 0; i < count; i++)
        fputc(' ', out);
}

int fs_table_print(const fs_table *table, FILE *out, const char *prefix, fs_error *err)
{
    if (table->status != FACESIM_OK)
        return fs_error_set(err, table->status, "table: out of memory while storing cells");

    size_t widths[FS_TABLE_MAX_COLUMNS] = { 0 };
    for (size_t row = 0; row < table->rows; row++)
        for (int column = 0; column < table->columns; column++) {
            size_t width = fs_table_text_width(table->cells[row * table->columns + column]);
            if (width > widths[column])
                widths[column] = width;
        }

    for (size_t row = 0; row < table->rows; row++) {
        char *const *cells = table->cells + row * table->columns;

        /* Empty cells at the end of a row, and padding after the last printed cell,
         * would only add trailing spaces. */
        int printed = table->columns;
        while (printed > 1 && cells[printed - 1][0] == '\0')
            printed--;

        fputs(prefix ? prefix : "", out);
        for (int column = 0; column < printed; column++) {
            size_t padding = widths[column] - fs_table_text_width(cells[column]);
            if (column > 0)
                fputs("  ", out);
            if (table->align[column] == FS_TABLE_RIGHT)
                fs_table_pad(out, padding);
            fputs(cells[column], out);
            if (table->align[column] == FS_TABLE_LEFT && column < printed - 1)
                fs_table_pad(out, padding);
        }
        fputc('\n', out);
    }
    if (ferror(out))
        return fs_error_set(err, FACESIM_ERR_IO, "table: write failed");
    return FACESIM_OK;
}

void fs_table_free(fs_table *table)
{
    for (size_t i = 0; i < table->next_cell; i++)
        free(table->cells[i]);
    free(table->cells);
    memset(table, 0, sizeof *table);
}

/*
 * Streaming JSON writer for the CLI's reports.
 *
 * Values go straight to a FILE as they are added, so memory use does not grow with
 * the report. Misuse (a value in an object without a key, a key inside an array,
 * unbalanced ends, nesting deeper than FS_JSON_MAX_DEPTH) and write errors are
 * sticky: later calls do nothing and fs_json_finish reports the first problem.
 *
 * Usage:
 *     fs_json_writer json;
 *     fs_json_init(&json, stdout, 2);
 *     fs_json_begin_object(&json);
 *     fs_json_key(&json, "cosine");
 *     fs_json_fixed(&json, 0.67584, 4);      // 0.6758
 *     fs_json_end_object(&json);
 *     if (fs_json_finish(&json, &err) != FACESIM_OK) ...
 */
#ifndef FS_EVAL_JSON_WRITER_H
#define FS_EVAL_JSON_WRITER_H

#include <stdbool.h>
#include <stdio.h>

#include "core/error.h"

#define FS_JSON_MAX_DEPTH 32

typedef struct fs_json_writer {
    FILE *out;                              /* borrowed */
    int indent;                             /* spaces per level; 0 writes one line */
    int depth;                              /* open objects and arrays */
    bool in_object[FS_JSON_MAX_DEPTH];      /* per level: object (true) or array */
    bool has_items[FS_JSON_MAX_DEPTH];      /* per level: a comma goes before the next item */
    int one_line_depth;                     /* depth of the outermost one-line array, 0 if none */
    bool after_key;                         /* a key was written and awaits its value */
    bool done;                              /* the top-level value is complete */
    int status;                             /* first error, FACESIM_OK while none */
    char message[160];                      /* what the first error was */
} fs_json_writer;

/* Starts a document on out (borrowed until fs_json_finish). indent 0 writes the whole
 * document on one line, indent > 0 pretty-prints with that many spaces per level. */
void fs_json_init(fs_json_writer *json, FILE *out, int indent);

void fs_json_begin_object(fs_json_writer *json);
void fs_json_end_object(fs_json_writer *json);
void fs_json_begin_array(fs_json_writer *json);
void fs_json_end_array(fs_json_writer *json);

/* Begins an array whose contents stay on one line even when pretty-printing, for short
 * vectors such as a box or a landmark. Ends with fs_json_end_array. */
void fs_json_begin_one_line_array(fs_json_writer *json);

/* Writes an object key; the next call must write its value. */
void fs_json_key(fs_json_writer *json, const char *key);

/*
 * Writes a string. Quote, backslash and control characters are escaped (\n, \t, \r,
 * \b, \f, else \u00XX). Bytes that are not valid UTF-8, such as a Latin-1 file
 * name, become U+FFFD so the document stays valid JSON. NULL writes null.
 */
void fs_json_string(fs_json_writer *json, const char *value);

/* Writes value with exactly `decimals` digits after the point (0..17), e.g. 0.6758.
 * NaN and infinities, which JSON cannot represent, are written as null. */
void fs_json_fixed(fs_json_writer *json, double value, int decimals);

/* Writes a float with 9 significant digits, enough to read back the same float
 * (for embeddings). NaN and infinities are written as null. */
void fs_json_float(fs_json_writer *json, float value);

void fs_json_int(fs_json_writer *json, long long value);
void fs_json_bool(fs_json_writer *json, bool value);
void fs_json_null(fs_json_writer *json);

/* Shorthands for a key followed by its value. */
void fs_json_key_string(fs_json_writer *json, const char *key, const char *value);
void fs_json_key_fixed(fs_json_writer *json, const char *key, double value, int decimals);
void fs_json_key_int(fs_json_writer *json, const char *key, long long value);
void fs_json_key_bool(fs_json_writer *json, const char *key, bool value);

/*
 * Ends the document with a newline and flushes. Returns FACESIM_ERR_INTERNAL with the
 * reason when the writer was misused or the document is incomplete, and FACESIM_ERR_IO
 * when writing failed.
 */
int fs_json_finish(fs_json_writer *json, fs_error *err);

#endif /* FS_EVAL_JSON_WRITER_H */

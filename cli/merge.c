/*
 * `facesim merge OUT1.json OUT2.json ...`: joins the --json outputs of sharded
 * `facesim pairs` or `facesim dirs` runs (--shard K/N) into one document with the
 * same rows, in list order, and the summary a single run would have printed.
 *
 * The summary is recomputed from the rows. The shards wrote each cosine with 9
 * significant digits, enough to read back the exact float, so the merged summary
 * equals the unsharded one. The shards must come from the same command,
 * list and options (only "shard" may differ).
 *
 * Contains a small JSON reader (RFC 8259 values, nesting up to MERGE_MAX_DEPTH) for
 * the shard documents.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eval/job.h"
#include "eval/json_writer.h"
#include "options.h"

#define MERGE_MAX_DEPTH 64
#define MERGE_MAX_FILE_BYTES ((size_t)1 << 31)

/* ---- JSON values ---- */

enum merge_type { MERGE_NULL, MERGE_BOOL, MERGE_NUMBER, MERGE_STRING, MERGE_ARRAY, MERGE_OBJECT };

typedef struct merge_value merge_value;
struct merge_value {
    enum merge_type type;
    bool boolean;
    double number;
    char *string;            /* MERGE_STRING, UTF-8, owned */
    merge_value *items;      /* MERGE_ARRAY items or MERGE_OBJECT values, owned */
    char **keys;             /* MERGE_OBJECT keys, owned */
    size_t count;
};

typedef struct merge_parser {
    const char *path;
    const char *text;
    size_t pos;
    size_t length;
    char error[256];
} merge_parser;

static void merge_free_value(merge_value *value)
{
    free(value->string);
    for (size_t i = 0; i < value->count; i++) {
        merge_free_value(&value->items[i]);
        if (value->keys)
            free(value->keys[i]);
    }
    free(value->items);
    free(value->keys);
    memset(value, 0, sizeof *value);
}

static bool merge_fail(merge_parser *parser, const char *what)
{
    if (!parser->error[0])
        snprintf(parser->error, sizeof parser->error, "%s at byte %zu", what, parser->pos);
    return false;
}

static void merge_skip_space(merge_parser *parser)
{
    while (parser->pos < parser->length && strchr(" \t\r\n", parser->text[parser->pos]))
        parser->pos++;
}

static void merge_put_utf8(char **out, unsigned code)
{
    char *o = *out;
    if (code < 0x80) {
        *o++ = (char)code;
    } else if (code < 0x800) {
        *o++ = (char)(0xC0 | code >> 6);
        *o++ = (char)(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        *o++ = (char)(0xE0 | code >> 12);
        *o++ = (char)(0x80 | ((code >> 6) & 0x3F));
        *o++ = (char)(0x80 | (code & 0x3F));
    } else {
        *o++ = (char)(0xF0 | code >> 18);
        *o++ = (char)(0x80 | ((code >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((code >> 6) & 0x3F));
        *o++ = (char)(0x80 | (code & 0x3F));
    }
    *out = o;
}

static bool merge_parse_hex4(merge_parser *parser, unsigned *code)
{
    if (parser->pos + 4 > parser->length)
        return merge_fail(parser, "truncated \\u escape");
    char digits[5];
    memcpy(digits, parser->text + parser->pos, 4);
    digits[4] = '\0';
    char *end;
    *code = (unsigned)strtoul(digits, &end, 16);
    if (*end != '\0')
        return merge_fail(parser, "invalid \\u escape");
    parser->pos += 4;
    return true;
}

/* Parses a string whose opening quote is at pos; *out is malloc'd. Escaped text is
 * never longer than its source, so the source length bounds the buffer. */
static bool merge_parse_string(merge_parser *parser, char **out)
{
    parser->pos++;
    size_t start = parser->pos;
    const char *close = parser->text + start;
    while (close < parser->text + parser->length && *close != '"')
        close += *close == '\\' ? 2 : 1;
    if (close >= parser->text + parser->length)
        return merge_fail(parser, "unterminated string");
    char *buffer = malloc((size_t)(close - (parser->text + start)) + 1);
    if (!buffer)
        return merge_fail(parser, "out of memory");
    char *o = buffer;
    while (parser->text[parser->pos] != '"') {
        char c = parser->text[parser->pos++];
        if ((unsigned char)c < 0x20) {
            free(buffer);
            return merge_fail(parser, "control character in a string");
        }
        if (c != '\\') {
            *o++ = c;
            continue;
        }
        char escape = parser->text[parser->pos++];
        unsigned code;
        switch (escape) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            if (!merge_parse_hex4(parser, &code)) {
                free(buffer);
                return false;
            }
            /* A high surrogate followed by \uDC00..\uDFFF is one code point. */
            if (code >= 0xD800 && code < 0xDC00 && parser->text[parser->pos] == '\\' &&
                parser->text[parser->pos + 1] == 'u') {
                unsigned low;
                parser->pos += 2;
                if (!merge_parse_hex4(parser, &low)) {
                    free(buffer);
                    return false;
                }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            }
            merge_put_utf8(&o, code);
            break;
        default:
            free(buffer);
            return merge_fail(parser, "invalid escape in a string");
        }
    }
    parser->pos++;
    *o = '\0';
    *out = buffer;
    return true;
}

static bool merge_parse_value(merge_parser *parser, merge_value *value, int depth);

static bool merge_append(merge_parser *parser, merge_value *container, size_t *capacity,
                         char *key)
{
    if (container->count == *capacity) {
        size_t grown_capacity = *capacity ? *capacity * 2 : 8;
        merge_value *items = realloc(container->items, grown_capacity * sizeof *items);
        if (!items) {
            free(key);
            return merge_fail(parser, "out of memory");
        }
        container->items = items;
        if (container->type == MERGE_OBJECT) {
            char **keys = realloc(container->keys, grown_capacity * sizeof *keys);
            if (!keys) {
                free(key);
                return merge_fail(parser, "out of memory");
            }
            container->keys = keys;
        }
        *capacity = grown_capacity;
    }
    memset(&container->items[container->count], 0, sizeof *container->items);
    if (container->type == MERGE_OBJECT)
        container->keys[container->count] = key;
    container->count++;
    return true;
}

static bool merge_parse_container(merge_parser *parser, merge_value *value, int depth)
{
    bool object = parser->text[parser->pos] == '{';
    char close = object ? '}' : ']';
    value->type = object ? MERGE_OBJECT : MERGE_ARRAY;
    parser->pos++;
    size_t capacity = 0;
    merge_skip_space(parser);
    if (parser->pos < parser->length && parser->text[parser->pos] == close) {
        parser->pos++;
        return true;
    }
    for (;;) {
        char *key = NULL;
        merge_skip_space(parser);
        if (object) {
            if (parser->pos >= parser->length || parser->text[parser->pos] != '"')
                return merge_fail(parser, "expected a key");
            if (!merge_parse_string(parser, &key))
                return false;
            merge_skip_space(parser);
            if (parser->pos >= parser->length || parser->text[parser->pos] != ':') {
                free(key);
                return merge_fail(parser, "expected ':'");
            }
            parser->pos++;
        }
        if (!merge_append(parser, value, &capacity, key))
            return false;
        if (!merge_parse_value(parser, &value->items[value->count - 1], depth + 1))
            return false;
        merge_skip_space(parser);
        if (parser->pos >= parser->length)
            return merge_fail(parser, "unexpected end of the document");
        char c = parser->text[parser->pos++];
        if (c == close)
            return true;
        if (c != ',')
            return merge_fail(parser, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool merge_parse_value(merge_parser *parser, merge_value *value, int depth)
{
    if (depth > MERGE_MAX_DEPTH)
        return merge_fail(parser, "nesting too deep");
    merge_skip_space(parser);
    if (parser->pos >= parser->length)
        return merge_fail(parser, "unexpected end of the document");
    const char *at = parser->text + parser->pos;
    char c = *at;
    if (c == '{' || c == '[')
        return merge_parse_container(parser, value, depth);
    if (c == '"') {
        value->type = MERGE_STRING;
        return merge_parse_string(parser, &value->string);
    }
    if (strncmp(at, "null", 4) == 0) {
        value->type = MERGE_NULL;
        parser->pos += 4;
        return true;
    }
    if (strncmp(at, "true", 4) == 0 || strncmp(at, "false", 5) == 0) {
        value->type = MERGE_BOOL;
        value->boolean = c == 't';
        parser->pos += c == 't' ? 4 : 5;
        return true;
    }
    char *end;
    errno = 0;
    value->number = strtod(at, &end);
    if (end == at || (c != '-' && (c < '0' || c > '9')))
        return merge_fail(parser, "invalid value");
    value->type = MERGE_NUMBER;
    parser->pos += (size_t)(end - at);
    return true;
}

static const merge_value *merge_get(const merge_value *object, const char *key)
{
    if (!object || object->type != MERGE_OBJECT)
        return NULL;
    for (size_t i = 0; i < object->count; i++)
        if (strcmp(object->keys[i], key) == 0)
            return &object->items[i];
    return NULL;
}

/* Reads and parses a whole file. Prints the error and returns false on failure. */
static bool merge_load(const char *path, merge_value *document)
{
    memset(document, 0, sizeof *document);
    FILE *file = fopen(path, "rb");
    if (!file) {
        fprintf(stderr, "facesim merge: cannot open '%s': %s\n", path, strerror(errno));
        return false;
    }
    struct stat info;
    if (fstat(fileno(file), &info) != 0 || (uint64_t)info.st_size > MERGE_MAX_FILE_BYTES) {
        fprintf(stderr, "facesim merge: '%s' is not a regular file below 2 GiB\n", path);
        fclose(file);
        return false;
    }
    size_t size = (size_t)info.st_size;
    char *text = malloc(size + 1);
    size_t got = text ? fread(text, 1, size, file) : 0;
    fclose(file);
    if (!text || got != size) {
        fprintf(stderr, "facesim merge: reading '%s' failed\n", path);
        free(text);
        return false;
    }
    text[size] = '\0';
    merge_parser parser = {.path = path, .text = text, .length = size};
    bool ok = merge_parse_value(&parser, document, 0);
    merge_skip_space(&parser);
    if (ok && parser.pos != size)
        ok = merge_fail(&parser, "text after the document");
    if (!ok) {
        fprintf(stderr, "facesim merge: '%s' is not valid JSON: %s. Pass the files written by "
                        "'facesim pairs --json' or 'facesim dirs --json'; a run that was killed "
                        "(not interrupted with Ctrl-C) leaves an incomplete file.\n",
                path, parser.error);
        merge_free_value(document);
    }
    free(text);
    return ok;
}

/* ---- Writing values back ---- */

static void merge_write_value(fs_json_writer *json, const merge_value *value)
{
    switch (value->type) {
    case MERGE_NULL: fs_json_null(json); break;
    case MERGE_BOOL: fs_json_bool(json, value->boolean); break;
    case MERGE_STRING: fs_json_string(json, value->string); break;
    case MERGE_NUMBER:
        if (value->number == floor(value->number) && fabs(value->number) < 1e15)
            fs_json_int(json, (long long)value->number);
        else
            fs_json_fixed(json, value->number, 6);
        break;
    case MERGE_ARRAY:
        fs_json_begin_array(json);
        for (size_t i = 0; i < value->count; i++)
            merge_write_value(json, &value->items[i]);
        fs_json_end_array(json);
        break;
    case MERGE_OBJECT:
        fs_json_begin_object(json);
        for (size_t i = 0; i < value->count; i++) {
            fs_json_key(json, value->keys[i]);
            merge_write_value(json, &value->items[i]);
        }
        fs_json_end_object(json);
        break;
    }
}

/* True when two values are equal (numbers compared exactly). */
static bool merge_equal(const merge_value *a, const merge_value *b)
{
    if (a->type != b->type || a->count != b->count)
        return false;
    switch (a->type) {
    case MERGE_NULL: return true;
    case MERGE_BOOL: return a->boolean == b->boolean;
    case MERGE_NUMBER: return a->number == b->number;
    case MERGE_STRING: return strcmp(a->string, b->string) == 0;
    case MERGE_ARRAY:
    case MERGE_OBJECT:
        for (size_t i = 0; i < a->count; i++) {
            if (a->type == MERGE_OBJECT && strcmp(a->keys[i], b->keys[i]) != 0)
                return false;
            if (!merge_equal(&a->items[i], &b->items[i]))
                return false;
        }
        return true;
    }
    return false;
}

/* ---- Rows ---- */

typedef struct merge_row {
    fs_job_row row;
    const char *file; /* the shard output it came from */
} merge_row;

static int merge_status_from_kind(const char *kind)
{
    for (int status = -1; status >= -64; status--)
        if (strcmp(facesim_status_name(status), kind) == 0)
            return status;
    return FACESIM_ERR_INTERNAL;
}

static bool merge_read_box(const merge_value *value, float *box)
{
    if (!value || value->type != MERGE_ARRAY || value->count != 4)
        return false;
    for (int k = 0; k < 4; k++)
        box[k] = value->items[k].type == MERGE_NUMBER ? (float)value->items[k].number : NAN;
    return true;
}

/* Converts a row object; prints the problem and returns false when it is malformed. */
static bool merge_read_row(const char *path, size_t position, const merge_value *object,
                           merge_row *out)
{
    const merge_value *index = merge_get(object, "index");
    const merge_value *path_a = merge_get(object, "path_a");
    const merge_value *path_b = merge_get(object, "path_b");
    const merge_value *cosine = merge_get(object, "cosine");
    const merge_value *label = merge_get(object, "label");
    const merge_value *error = merge_get(object, "error");
    const merge_value *kind = merge_get(object, "error_kind");
    if (!index || index->type != MERGE_NUMBER || index->number < 0 || !path_a ||
        path_a->type != MERGE_STRING || !path_b || path_b->type != MERGE_STRING || !cosine ||
        (cosine->type != MERGE_NUMBER && cosine->type != MERGE_NULL) || !label) {
        fprintf(stderr, "facesim merge: '%s': row %zu lacks index, path_a, path_b, cosine or "
                        "label\n", path, position);
        return false;
    }
    memset(out, 0, sizeof *out);
    out->file = path;
    fs_job_row *row = &out->row;
    row->index = (size_t)index->number;
    row->path_a = path_a->string;
    row->path_b = path_b->string;
    row->label = label->type == MERGE_NUMBER ? (int)label->number : -1;
    if (cosine->type == MERGE_NUMBER) {
        row->status = FACESIM_OK;
        row->cosine = (float)cosine->number;
    } else {
        row->status = kind && kind->type == MERGE_STRING ? merge_status_from_kind(kind->string)
                                                          : FACESIM_ERR_INTERNAL;
        row->error = error && error->type == MERGE_STRING ? error->string : "failed";
    }
    row->has_box_a = merge_read_box(merge_get(object, "box_a"), row->box_a);
    row->has_box_b = merge_read_box(merge_get(object, "box_b"), row->box_b);
    return true;
}

static int merge_compare_rows(const void *a, const void *b)
{
    size_t x = ((const merge_row *)a)->row.index, y = ((const merge_row *)b)->row.index;
    return x < y ? -1 : x > y;
}

/* ---- Command ---- */

typedef struct merge_state {
    merge_value *documents;
    int count;
    merge_row *rows;
    size_t row_count;
    bool *shard_seen;     /* per K, when the inputs are shards */
    int shard_count;      /* N, 0 for unsharded inputs */
    bool interrupted;
    bool quiet;           /* -q: no warnings */
} merge_state;

static void merge_print_help(void)
{
    printf("Usage: facesim merge [-o FILE] [-q] OUT1.json OUT2.json ...\n"
           "\n"
           "Joins the --json outputs of 'facesim pairs' or 'facesim dirs' runs made with\n"
           "--shard K/N into one JSON document: every row in list order and the summary\n"
           "recomputed over all rows, equal to that of one unsharded run. The inputs must\n"
           "use the same list and options. The summary is also printed to standard error\n"
           "unless -q is given.\n"
           "\n"
           "Options:\n");
    cli_print_options(stdout, CLI_MERGE);
    printf("\n"
           "Exit codes: 0 every row scored and every shard present, 1 some rows failed or\n"
           "shards are missing or interrupted, 2 usage error, 4 an input is unreadable or\n"
           "does not match the others, 6 failed output write.\n"
           "\n"
           "Example:\n"
           "  facesim merge -o result.json part1.json part2.json part3.json part4.json\n");
}

/* Checks one document's shard against the others. */
static bool merge_check_shard(merge_state *state, const char *path, const merge_value *options)
{
    const merge_value *shard = merge_get(options, "shard");
    int k = 0, n = 0;
    if (shard && shard->type == MERGE_STRING && sscanf(shard->string, "%d/%d", &k, &n) == 2 &&
        k >= 1 && k <= n) {
        if (state->shard_count == 0 && !state->shard_seen) {
            state->shard_count = n;
            state->shard_seen = calloc((size_t)n + 1, sizeof *state->shard_seen);
            if (!state->shard_seen)
                return false;
        }
        if (n != state->shard_count) {
            fprintf(stderr, "facesim merge: '%s' is shard %d/%d but the first input was split "
                            "into %d shards\n", path, k, n, state->shard_count);
            return false;
        }
        if (state->shard_seen[k]) {
            fprintf(stderr, "facesim merge: shard %d/%d is given twice (again in '%s')\n", k, n,
                    path);
            return false;
        }
        state->shard_seen[k] = true;
        return true;
    }
    if (state->count > 1) {
        fprintf(stderr, "facesim merge: '%s' is not a shard (its options.shard is null); merge "
                        "only outputs of runs with --shard K/N\n", path);
        return false;
    }
    return true;
}

/* Options of two documents, ignoring "shard", must match. */
static bool merge_check_options(const char *first_path, const merge_value *first,
                                const char *path, const merge_value *options)
{
    if (!options || options->type != MERGE_OBJECT || first->count != options->count) {
        fprintf(stderr, "facesim merge: '%s' and '%s' have different options\n", first_path,
                path);
        return false;
    }
    for (size_t i = 0; i < first->count; i++) {
        if (strcmp(first->keys[i], "shard") == 0)
            continue;
        if (strcmp(first->keys[i], options->keys[i]) != 0 ||
            !merge_equal(&first->items[i], &options->items[i])) {
            fprintf(stderr, "facesim merge: '%s' and '%s' differ in option '%s'; merge only "
                            "shards of one run\n", first_path, path, first->keys[i]);
            return false;
        }
    }
    return true;
}

static bool merge_collect(merge_state *state, char **paths)
{
    const merge_value *first_options = NULL;
    for (int d = 0; d < state->count; d++) {
        const merge_value *document = &state->documents[d];
        const merge_value *command = merge_get(document, "command");
        const merge_value *options = merge_get(document, "options");
        const merge_value *rows = merge_get(document, "rows");
        const merge_value *interrupted = merge_get(document, "interrupted");
        if (!command || command->type != MERGE_STRING || !options ||
            options->type != MERGE_OBJECT || !rows || rows->type != MERGE_ARRAY) {
            fprintf(stderr, "facesim merge: '%s' has no command, options and rows; pass the "
                            "output of 'facesim pairs --json' or 'facesim dirs --json'\n",
                    paths[d]);
            return false;
        }
        if (d == 0)
            first_options = options;
        else if (!merge_check_options(paths[0], first_options, paths[d], options))
            return false;
        if (!merge_check_shard(state, paths[d], options))
            return false;
        if (interrupted && interrupted->type == MERGE_BOOL && interrupted->boolean) {
            state->interrupted = true;
            if (!state->quiet)
                fprintf(stderr, "facesim merge: warning: '%s' is from an interrupted run; its "
                                "missing rows are missing from the result\n", paths[d]);
        }

        merge_row *grown = realloc(state->rows, (state->row_count + rows->count + 1) *
                                                    sizeof *grown);
        if (!grown)
            return false;
        state->rows = grown;
        for (size_t r = 0; r < rows->count; r++)
            if (!merge_read_row(paths[d], r, &rows->items[r], &state->rows[state->row_count++]))
                return false;
    }
    qsort(state->rows, state->row_count, sizeof *state->rows, merge_compare_rows);
    for (size_t r = 1; r < state->row_count; r++)
        if (state->rows[r].row.index == state->rows[r - 1].row.index) {
            fprintf(stderr, "facesim merge: row %zu appears in both '%s' and '%s'\n",
                    state->rows[r].row.index, state->rows[r - 1].file, state->rows[r].file);
            return false;
        }
    return true;
}

/* Computes the summary and writes the merged document. Returns an exit code. */
static int merge_write(merge_state *state, FILE *out, bool quiet, fs_job_summary *summary)
{
    const merge_value *options = merge_get(&state->documents[0], "options");
    const merge_value *threshold = merge_get(options, "threshold");
    const merge_value *labelled = merge_get(options, "labelled");
    /* The run compared against a float threshold; rounding the written value back to
     * float gives the same decisions. */
    double limit = threshold && threshold->type == MERGE_NUMBER ? (float)threshold->number : NAN;
    bool has_labels = labelled && labelled->type == MERGE_BOOL && labelled->boolean;

    float *scores = malloc((state->row_count + 1) * sizeof *scores);
    uint8_t *labels = malloc(state->row_count + 1);
    if (!scores || !labels) {
        free(scores);
        free(labels);
        fprintf(stderr, "facesim merge: out of memory\n");
        return CLI_EXIT_INTERNAL;
    }
    size_t scored = 0, no_face = 0, errors = 0;
    fs_json_writer json;
    fs_json_init(&json, out, 2);
    fs_json_begin_object(&json);
    fs_json_key(&json, "command");
    merge_write_value(&json, merge_get(&state->documents[0], "command"));
    fs_json_key_string(&json, "facesim_version", facesim_version());
    fs_json_key(&json, "options");
    fs_json_begin_object(&json);
    for (size_t i = 0; i < options->count; i++) {
        fs_json_key(&json, options->keys[i]);
        if (strcmp(options->keys[i], "shard") == 0)
            fs_json_null(&json);
        else
            merge_write_value(&json, &options->items[i]);
    }
    fs_json_key_int(&json, "merged_files", state->count);
    fs_json_end_object(&json);

    fs_json_key(&json, "rows");
    fs_json_begin_array(&json);
    for (size_t r = 0; r < state->row_count; r++) {
        fs_job_row *row = &state->rows[r].row;
        if (row->status == FACESIM_OK) {
            row->same_person = row->cosine >= limit;
            scores[scored] = row->cosine;
            labels[scored++] = row->label > 0;
        } else if (row->status == FACESIM_ERR_NO_FACE) {
            no_face++;
        } else {
            errors++;
        }
        fs_job_json_row(&json, row);
    }
    fs_json_end_array(&json);

    fs_error err;
    int status = fs_job_summarize(scores, has_labels ? labels : NULL, scored, no_face, errors,
                                  limit, summary, &err);
    free(scores);
    free(labels);
    if (status != FACESIM_OK) {
        fprintf(stderr, "facesim merge: computing the summary failed: %s\n", err.message);
        return CLI_EXIT_INTERNAL;
    }
    fs_json_key(&json, "summary");
    fs_job_json_summary(&json, summary);
    fs_json_key_bool(&json, "interrupted", state->interrupted);
    fs_json_end_object(&json);
    if (fs_json_finish(&json, &err) != FACESIM_OK) {
        fprintf(stderr, "facesim merge: writing the output failed: %s\n", err.message);
        return CLI_EXIT_INTERNAL;
    }
    if (!quiet)
        fs_job_print_summary(stderr, summary);
    return CLI_EXIT_OK;
}

/* Warns about missing shards; returns how many are missing. */
static int merge_missing_shards(const merge_state *state, bool quiet)
{
    int missing = 0;
    for (int k = 1; k <= state->shard_count; k++) {
        if (state->shard_seen[k])
            continue;
        if (!quiet)
            fprintf(stderr, "facesim merge: warning: shard %d/%d is missing; the summary covers "
                            "only the shards given\n", k, state->shard_count);
        missing++;
    }
    return missing;
}

int cli_merge_main(int argc, char **argv);

int cli_merge_main(int argc, char **argv)
{
    cli_options options;
    int exit_code = cli_parse_options(argc, argv, CLI_MERGE, &options);
    if (exit_code != CLI_EXIT_OK)
        return exit_code;
    if (options.help) {
        merge_print_help();
        return CLI_EXIT_OK;
    }
    if (options.input_count == 0)
        return cli_usage_error(&options, "expected at least one JSON output of 'facesim pairs "
                               "--json --shard K/N'");
    const char *output = options.output;
    bool quiet = options.quiet;
    char **paths = options.inputs;
    int path_count = options.input_count;

    merge_state state = {0};
    state.quiet = quiet;
    state.documents = calloc((size_t)path_count, sizeof *state.documents);
    exit_code = state.documents ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
    for (int d = 0; d < path_count && exit_code == CLI_EXIT_OK; d++) {
        if (!merge_load(paths[d], &state.documents[d]))
            exit_code = CLI_EXIT_BAD_INPUT;
        state.count = d + 1;
    }
    if (exit_code == CLI_EXIT_OK && !merge_collect(&state, paths))
        exit_code = CLI_EXIT_BAD_INPUT;

    FILE *out = stdout;
    if (exit_code == CLI_EXIT_OK && output) {
        out = fopen(output, "w");
        if (!out) {
            fprintf(stderr, "facesim merge: cannot create output file '%s': %s\n", output,
                    strerror(errno));
            exit_code = CLI_EXIT_BAD_INPUT;
            out = NULL;
        }
    }
    fs_job_summary summary;
    if (exit_code == CLI_EXIT_OK)
        exit_code = merge_write(&state, out, quiet, &summary);
    if (out && out != stdout && fclose(out) != 0 && exit_code == CLI_EXIT_OK) {
        fprintf(stderr, "facesim merge: writing '%s' failed: %s\n", output, strerror(errno));
        exit_code = CLI_EXIT_INTERNAL;
    }
    if (exit_code == CLI_EXIT_OK) {
        int missing = state.shard_count > 0 ? merge_missing_shards(&state, quiet) : 0;
        if (missing > 0 || state.interrupted || summary.scored < summary.rows)
            exit_code = CLI_EXIT_SOME_FAILED;
    }

    for (int d = 0; d < state.count; d++)
        merge_free_value(&state.documents[d]);
    free(state.documents);
    free(state.rows);
    free(state.shard_seen);
    return exit_code;
}

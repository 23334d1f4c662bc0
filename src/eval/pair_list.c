#include "eval/pair_list.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/checked.h"

/* Largest list file read (1 GiB): far above any real list and a guard against
 * being pointed at a huge binary file by mistake. */
#define PAIR_LIST_MAX_BYTES ((size_t)1 << 30)
#define PAIR_LIST_MAX_FIELDS 3

/* One parsed row: up to PAIR_LIST_MAX_FIELDS fields, each NUL-terminated inside the
 * reader's scratch buffer. */
typedef struct pair_list_row {
    char *fields[PAIR_LIST_MAX_FIELDS];
    int count;        /* fields seen, may exceed PAIR_LIST_MAX_FIELDS */
    size_t line;      /* line the row starts on */
} pair_list_row;

typedef struct pair_list_reader {
    const char *path;
    char *text;       /* whole file, NUL-terminated, owned */
    size_t length;
    size_t pos;
    size_t line;      /* current line, 1-based */
    char delimiter;
    char *scratch;    /* field storage for the current row, owned */
    size_t scratch_size;
} pair_list_reader;

bool fs_pair_parse_label(const char *text, int *label)
{
    static const char *const positive[] = {"1", "same", "true", "yes", "positive"};
    static const char *const negative[] = {"0", "different", "false", "no", "negative"};
    for (size_t i = 0; i < sizeof positive / sizeof positive[0]; i++) {
        if (strcasecmp(text, positive[i]) == 0) {
            *label = 1;
            return true;
        }
        if (strcasecmp(text, negative[i]) == 0) {
            *label = 0;
            return true;
        }
    }
    return false;
}

static int pair_list_read_file(pair_list_reader *reader, fs_error *err)
{
    FILE *file = fopen(reader->path, "rb");
    if (!file)
        return fs_error_set(err, FACESIM_ERR_IO, "%s: cannot open the pair list: %s",
                            reader->path, strerror(errno));
    struct stat info;
    if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
        fclose(file);
        return fs_error_set(err, FACESIM_ERR_IO, "%s: the pair list is not a regular file",
                            reader->path);
    }
    if ((uint64_t)info.st_size > PAIR_LIST_MAX_BYTES) {
        fclose(file);
        return fs_error_set(err, FACESIM_ERR_LIMIT,
                            "%s: the pair list is %lld bytes, more than the %zu bytes accepted",
                            reader->path, (long long)info.st_size, PAIR_LIST_MAX_BYTES);
    }
    size_t size = (size_t)info.st_size;
    reader->text = malloc(size + 1);
    /* One scratch byte per text byte plus a terminator per field is always enough. */
    reader->scratch_size = size + PAIR_LIST_MAX_FIELDS + 1;
    reader->scratch = malloc(reader->scratch_size);
    if (!reader->text || !reader->scratch) {
        fclose(file);
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "%s: out of memory reading %zu bytes",
                            reader->path, size);
    }
    size_t got = fread(reader->text, 1, size, file);
    int read_failed = ferror(file);
    fclose(file);
    if (read_failed || got != size)
        return fs_error_set(err, FACESIM_ERR_IO, "%s: reading the pair list failed",
                            reader->path);
    reader->text[size] = '\0';
    reader->length = size;
    if (size >= 3 && memcmp(reader->text, "\xEF\xBB\xBF", 3) == 0)
        reader->pos = 3;
    if (memchr(reader->text, '\0', size))
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s: contains NUL bytes, so it is not a CSV or TSV text file",
                            reader->path);
    return FACESIM_OK;
}

/* Chooses the delimiter from the extension, else from the first line. */
static void pair_list_pick_delimiter(pair_list_reader *reader)
{
    const char *dot = strrchr(reader->path, '.');
    const char *slash = strrchr(reader->path, '/');
    if (dot && (!slash || dot > slash)) {
        if (strcasecmp(dot, ".tsv") == 0 || strcasecmp(dot, ".tab") == 0) {
            reader->delimiter = '\t';
            return;
        }
        if (strcasecmp(dot, ".csv") == 0) {
            reader->delimiter = ',';
            return;
        }
    }
    const char *start = reader->text + reader->pos;
    const char *end = strchr(start, '\n');
    size_t length = end ? (size_t)(end - start) : strlen(start);
    reader->delimiter = memchr(start, '\t', length) ? '\t' : ',';
}

/* Reads the next row into row. Returns 1 for a row, 0 at the end of the file, or a
 * negative status. Quoted CSV fields may contain delimiters, quotes and newlines. */
static int pair_list_next_row(pair_list_reader *reader, pair_list_row *row, fs_error *err)
{
    for (;;) {
        if (reader->pos >= reader->length)
            return 0;
        memset(row, 0, sizeof *row);
        row->line = reader->line;
        char *out = reader->scratch;
        const char *text = reader->text;
        size_t pos = reader->pos;
        bool at_field_start = true;
        bool quoted = false;
        char *field = out;

        for (;;) {
            char c = text[pos];
            if (quoted) {
                if (c == '\0')
                    return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                                        "%s:%zu: a quoted field is not closed; close it with \"",
                                        reader->path, row->line);
                pos++;
                if (c == '"' && text[pos] == '"') {
                    *out++ = '"';
                    pos++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    if (c == '\n')
                        reader->line++;
                    *out++ = c;
                }
                continue;
            }
            if (at_field_start && c == '"' && reader->delimiter == ',') {
                quoted = true;
                at_field_start = false;
                pos++;
                continue;
            }
            at_field_start = false;
            if (c == reader->delimiter || c == '\n' || c == '\0') {
                /* A CR before the line end belongs to a CRLF line end, not to the field. */
                if (c != reader->delimiter && out > field && out[-1] == '\r')
                    out--;
                *out++ = '\0';
                if (row->count < PAIR_LIST_MAX_FIELDS)
                    row->fields[row->count] = field;
                row->count++;
                field = out;
                if (c == '\0')
                    break;
                pos++;
                if (c == '\n') {
                    reader->line++;
                    break;
                }
                at_field_start = true;
                continue;
            }
            *out++ = c;
            pos++;
        }
        reader->pos = pos;

        /* Skip blank lines and comments. */
        if (row->count == 1 && row->fields[0][0] == '\0')
            continue;
        if (row->fields[0][0] == '#')
            continue;
        return 1;
    }
}

static bool pair_list_has_image_extension(const char *name)
{
    static const char *const extensions[] = {".jpg", ".jpeg", ".png", ".webp", ".bmp",
                                             ".tif", ".tiff"};
    const char *dot = strrchr(name, '.');
    if (!dot)
        return false;
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++)
        if (strcasecmp(dot, extensions[i]) == 0)
            return true;
    return false;
}

/* Joins path to the list's folder unless it is absolute. Returns a malloc'd string. */
static char *pair_list_resolve(const char *list_path, const char *path)
{
    const char *slash = strrchr(list_path, '/');
    if (path[0] == '/' || !slash)
        return strdup(path);
    size_t folder = (size_t)(slash - list_path) + 1;
    size_t length = strlen(path);
    char *joined = malloc(folder + length + 1);
    if (!joined)
        return NULL;
    memcpy(joined, list_path, folder);
    memcpy(joined + folder, path, length + 1);
    return joined;
}

static bool pair_list_file_exists(const char *list_path, const char *path)
{
    char *resolved = pair_list_resolve(list_path, path);
    if (!resolved)
        return false;
    struct stat info;
    bool exists = stat(resolved, &info) == 0;
    free(resolved);
    return exists;
}

static bool pair_list_is_header(const pair_list_reader *reader, const pair_list_row *row)
{
    int label;
    if (row->count < 2)
        return false;
    if (row->count >= 3 && !fs_pair_parse_label(row->fields[2], &label))
        return true;
    /* A label column named "same" parses as a label, so also look at the paths. */
    for (int i = 0; i < 2; i++)
        if (pair_list_has_image_extension(row->fields[i]) ||
            pair_list_file_exists(reader->path, row->fields[i]))
            return false;
    return true;
}

int fs_pair_list_add(fs_pair_list *list, const char *path_a, const char *path_b,
                     const char *resolved_a, const char *resolved_b, int label,
                     fs_error *err)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 64;
        size_t bytes;
        if (!fs_mul_size(capacity, sizeof *list->pairs, &bytes))
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "too many pairs (%zu)", list->count);
        fs_pair_entry *grown = realloc(list->pairs, bytes);
        if (!grown)
            return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory for %zu pairs",
                                capacity);
        list->pairs = grown;
        list->capacity = capacity;
    }
    fs_pair_entry *entry = &list->pairs[list->count];
    memset(entry, 0, sizeof *entry);
    entry->path_a = strdup(path_a);
    entry->path_b = strdup(path_b);
    entry->resolved_a = strdup(resolved_a);
    entry->resolved_b = strdup(resolved_b);
    entry->label = label;
    list->count++;
    if (!entry->path_a || !entry->path_b || !entry->resolved_a || !entry->resolved_b)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory for pair %zu",
                            list->count);
    return FACESIM_OK;
}

/* Checks one data row and appends it. */
static int pair_list_add_row(pair_list_reader *reader, const pair_list_row *row, bool first,
                             fs_pair_list *list, fs_error *err)
{
    if (row->count < 2 || row->count > 3)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s:%zu: expected 2 or 3 %s-separated fields (path_a, path_b and "
                            "an optional label), found %d",
                            reader->path, row->line, reader->delimiter == '\t' ? "tab" : "comma",
                            row->count);
    bool labelled = row->count == 3;
    if (first)
        list->has_labels = labelled;
    else if (labelled != list->has_labels)
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s:%zu: this row %s but the first row %s; give every row a label "
                            "or none",
                            reader->path, row->line, labelled ? "has a label" : "has no label",
                            list->has_labels ? "has one" : "does not");
    for (int i = 0; i < 2; i++)
        if (row->fields[i][0] == '\0')
            return fs_error_set(err, FACESIM_ERR_INVALID_DATA, "%s:%zu: path %c is empty",
                                reader->path, row->line, i == 0 ? 'a' : 'b');
    int label = FS_PAIR_NO_LABEL;
    if (labelled && !fs_pair_parse_label(row->fields[2], &label))
        return fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                            "%s:%zu: invalid label '%s'; use same/different, 1/0 or true/false",
                            reader->path, row->line, row->fields[2]);

    char *resolved_a = pair_list_resolve(reader->path, row->fields[0]);
    char *resolved_b = pair_list_resolve(reader->path, row->fields[1]);
    int status = FACESIM_ERR_NO_MEMORY;
    if (resolved_a && resolved_b)
        status = fs_pair_list_add(list, row->fields[0], row->fields[1], resolved_a, resolved_b,
                                  label, err);
    else
        fs_error_set(err, status, "%s:%zu: out of memory", reader->path, row->line);
    free(resolved_a);
    free(resolved_b);
    if (status == FACESIM_OK)
        list->pairs[list->count - 1].line = row->line;
    return status;
}

int fs_pair_list_load(const char *path, fs_pair_list *list, fs_error *err)
{
    memset(list, 0, sizeof *list);
    pair_list_reader reader = {.path = path, .line = 1};
    int status = pair_list_read_file(&reader, err);
    if (status == FACESIM_OK) {
        pair_list_pick_delimiter(&reader);
        list->delimiter = reader.delimiter;
    }

    pair_list_row row;
    bool first = true;
    while (status == FACESIM_OK) {
        int more = pair_list_next_row(&reader, &row, err);
        if (more <= 0) {
            status = more;
            break;
        }
        if (first && list->count == 0 && !list->had_header && pair_list_is_header(&reader, &row)) {
            list->had_header = true;
            continue;
        }
        status = pair_list_add_row(&reader, &row, first, list, err);
        first = false;
    }
    if (status == FACESIM_OK && list->count == 0)
        status = fs_error_set(err, FACESIM_ERR_INVALID_DATA,
                              "%s: no pairs found; expected rows of path_a,path_b[,label]", path);
    free(reader.text);
    free(reader.scratch);
    if (status != FACESIM_OK) {
        fs_pair_list_free(list);
        list->delimiter = 0;
    }
    return status;
}

void fs_pair_list_free(fs_pair_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++) {
        free(list->pairs[i].path_a);
        free(list->pairs[i].path_b);
        free(list->pairs[i].resolved_a);
        free(list->pairs[i].resolved_b);
    }
    free(list->pairs);
    list->pairs = NULL;
    list->count = 0;
    list->capacity = 0;
    list->has_labels = false;
    list->had_header = false;
}

/*
 * Pair lists for batch evaluation: which two images to compare on each row, and
 * optionally whether they show the same person.
 *
 * File format: CSV (comma) or TSV (tab), one pair per row, two path columns and
 * an optional third label column. The delimiter comes from the extension (.csv,
 * .tsv, .tab) and otherwise from the first line (a tab anywhere in it means TSV).
 * CSV fields may be quoted as in RFC 4180 ("a, b.jpg", doubled quotes inside);
 * TSV fields are taken literally. Empty lines and lines starting with '#' are
 * skipped, and a UTF-8 byte order mark and CR line ends are accepted.
 *
 * Labels: same/different, 1/0, true/false, yes/no and positive/negative (any
 * case) are read as 1 (same person) or 0. Either every row has a label or none.
 *
 * Header: the first row is a header when its third field is not a label. It is also
 * a header when neither of its first two fields is an existing file (relative to the
 * list) or has an image extension (.jpg, .jpeg, .png, .webp, .bmp, .tif, .tiff).
 * Relative paths are resolved against the folder that contains the list file.
 */
#ifndef FS_EVAL_PAIR_LIST_H
#define FS_EVAL_PAIR_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define FS_PAIR_NO_LABEL (-1)

typedef struct fs_pair_entry {
    char *path_a;     /* as written in the list (shown in reports), owned */
    char *path_b;
    char *resolved_a; /* path to open: path_a joined to the list's folder, owned */
    char *resolved_b;
    int label;        /* 1 same person, 0 different, FS_PAIR_NO_LABEL */
    size_t line;      /* 1-based line in the list file; 0 for pairs added in code */
} fs_pair_entry;

typedef struct fs_pair_list {
    fs_pair_entry *pairs; /* owned */
    size_t count;
    size_t capacity;
    bool has_labels;      /* every pair has a label */
    bool had_header;      /* the list's first row was a header and was skipped */
    char delimiter;       /* ',' or '\t' for a loaded list, 0 for one built in code */
} fs_pair_list;

/*
 * Reads a CSV or TSV pair list. On failure the list is empty and err names the
 * file and line. Errors: FACESIM_ERR_IO (cannot read the file), FACESIM_ERR_INVALID_DATA
 * (wrong number of fields, an invalid or missing label, an unterminated quote, no
 * pairs at all), FACESIM_ERR_NO_MEMORY.
 */
int fs_pair_list_load(const char *path, fs_pair_list *list, fs_error *err);

/* Appends a pair with the given shown and resolved paths (all copied). label is
 * FS_PAIR_NO_LABEL, 0 or 1. Fails only with FACESIM_ERR_NO_MEMORY. */
int fs_pair_list_add(fs_pair_list *list, const char *path_a, const char *path_b,
                     const char *resolved_a, const char *resolved_b, int label,
                     fs_error *err);

/* Frees every pair. Accepts a zeroed list. */
void fs_pair_list_free(fs_pair_list *list);

/* Parses a label word (see the file comment) into 1 or 0. Returns false when text is
 * not a label. */
bool fs_pair_parse_label(const char *text, int *label);

#endif /* FS_EVAL_PAIR_LIST_H */

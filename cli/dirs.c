/*
 * `facesim dirs REF_DIR GEN_DIR`: pairs generated images with their references by
 * relative path, then runs the batch comparison of cli/pairs.c.
 *
 * Matching, on relative paths without the last extension ("keys"):
 * - default: GEN_DIR/x/id07.png pairs with REF_DIR/x/id07.jpg (same key);
 * - --prefix-match: GEN_DIR/x/id07_3.png also pairs with REF_DIR/x/id07.jpg. The key
 *   is cut at its last '_' until a reference key matches, so the longest reference
 *   name wins (id07_a_1 pairs with id07_a before id07);
 * - --one-ref FILE: every image of GEN_DIR pairs with FILE.
 * Rows follow GEN_DIR's files in byte order of their relative paths. Two reference
 * files with the same key (a.jpg and a.png) are an error, because the match would be
 * ambiguous.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "batch.h"

/* Deepest folder nesting followed, against symlink loops. */
#define DIRS_MAX_DEPTH 32
/* Unmatched file names listed in the warning before "and N more". */
#define DIRS_WARN_NAMES 5

typedef struct dirs_file {
    char *relative; /* path below the root, '/'-separated */
    char *key;      /* relative without the last extension */
    bool matched;
} dirs_file;

typedef struct dirs_listing {
    dirs_file *files;
    size_t count;
    size_t capacity;
} dirs_listing;

static bool dirs_is_image_name(const char *name)
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

static int dirs_add_file(dirs_listing *listing, const char *relative)
{
    if (listing->count == listing->capacity) {
        size_t capacity = listing->capacity ? listing->capacity * 2 : 128;
        dirs_file *grown = realloc(listing->files, capacity * sizeof *grown);
        if (!grown)
            return -1;
        listing->files = grown;
        listing->capacity = capacity;
    }
    dirs_file *file = &listing->files[listing->count];
    file->relative = strdup(relative);
    file->key = strdup(relative);
    file->matched = false;
    if (!file->relative || !file->key) {
        free(file->relative);
        free(file->key);
        return -1;
    }
    char *dot = strrchr(file->key, '.');
    char *slash = strrchr(file->key, '/');
    if (dot && (!slash || dot > slash))
        *dot = '\0';
    listing->count++;
    return 0;
}

/* Lists image files below root/relative, skipping hidden entries. Prints the error and
 * returns an exit code. */
static int dirs_walk(const char *command, const char *root, const char *relative, int depth,
                     dirs_listing *listing)
{
    char folder[4096];
    if (relative[0])
        snprintf(folder, sizeof folder, "%s/%s", root, relative);
    else
        snprintf(folder, sizeof folder, "%s", root);
    DIR *dir = opendir(folder);
    if (!dir) {
        fprintf(stderr, "facesim %s: cannot read directory '%s': %s\n", command, folder,
                strerror(errno));
        return CLI_EXIT_BAD_INPUT;
    }
    int exit_code = CLI_EXIT_OK;
    struct dirent *entry;
    while (exit_code == CLI_EXIT_OK && (entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char child[4096], path[8192];
        if (relative[0])
            snprintf(child, sizeof child, "%s/%s", relative, entry->d_name);
        else
            snprintf(child, sizeof child, "%s", entry->d_name);
        snprintf(path, sizeof path, "%s/%s", root, child);
        struct stat info;
        if (stat(path, &info) != 0)
            continue; /* a dangling link: nothing to compare */
        if (S_ISDIR(info.st_mode)) {
            if (depth < DIRS_MAX_DEPTH)
                exit_code = dirs_walk(command, root, child, depth + 1, listing);
        } else if (S_ISREG(info.st_mode) && dirs_is_image_name(entry->d_name)) {
            if (dirs_add_file(listing, child) != 0) {
                fprintf(stderr, "facesim %s: out of memory listing '%s'\n", command, root);
                exit_code = CLI_EXIT_INTERNAL;
            }
        }
    }
    closedir(dir);
    return exit_code;
}

static int dirs_compare_relative(const void *a, const void *b)
{
    return strcmp(((const dirs_file *)a)->relative, ((const dirs_file *)b)->relative);
}

static int dirs_compare_key(const void *a, const void *b)
{
    return strcmp(((const dirs_file *)a)->key, ((const dirs_file *)b)->key);
}

static void dirs_free(dirs_listing *listing)
{
    for (size_t i = 0; i < listing->count; i++) {
        free(listing->files[i].relative);
        free(listing->files[i].key);
    }
    free(listing->files);
}

/* Finds the reference for a generated key; refs are sorted by key. */
static dirs_file *dirs_find_ref(dirs_listing *refs, const char *gen_key, bool prefix_match)
{
    char key[4096];
    snprintf(key, sizeof key, "%s", gen_key);
    const char *slash = strrchr(key, '/');
    size_t name_start = slash ? (size_t)(slash - key) + 1 : 0;
    for (;;) {
        dirs_file probe = {.key = key};
        dirs_file *found = bsearch(&probe, refs->files, refs->count, sizeof *refs->files,
                                   dirs_compare_key);
        if (found || !prefix_match)
            return found;
        char *underscore = strrchr(key + name_start, '_');
        if (!underscore || underscore == key + name_start)
            return NULL;
        *underscore = '\0';
    }
}

static void dirs_warn_unmatched(const char *command, const char *root, const dirs_listing *listing,
                                const char *what, size_t count)
{
    fprintf(stderr, "facesim %s: warning: %zu file%s in '%s' %s no %s:", command, count,
            count == 1 ? "" : "s", root, count == 1 ? "has" : "have", what);
    size_t shown = 0;
    for (size_t i = 0; i < listing->count && shown < DIRS_WARN_NAMES; i++) {
        if (listing->files[i].matched)
            continue;
        fprintf(stderr, " %s", listing->files[i].relative);
        shown++;
    }
    if (count > shown)
        fprintf(stderr, " and %zu more", count - shown);
    fprintf(stderr, "\n");
}

static int dirs_check_unique_keys(const char *command, const char *root,
                                  const dirs_listing *refs)
{
    for (size_t i = 1; i < refs->count; i++)
        if (strcmp(refs->files[i - 1].key, refs->files[i].key) == 0) {
            fprintf(stderr,
                    "facesim %s: '%s' has two reference images with the name %s: %s and %s, "
                    "so the match is ambiguous. Rename or remove one of them.\n",
                    command, root, refs->files[i].key, refs->files[i - 1].relative,
                    refs->files[i].relative);
            return CLI_EXIT_BAD_INPUT;
        }
    return CLI_EXIT_OK;
}

/* Appends the pairs; refs sorted by key, gens by relative path. */
static int dirs_match(const char *command, const char *ref_dir, const char *gen_dir,
                      const char *one_ref, bool prefix_match, dirs_listing *refs,
                      dirs_listing *gens, fs_pair_list *list)
{
    fs_error err;
    for (size_t g = 0; g < gens->count; g++) {
        dirs_file *gen = &gens->files[g];
        char gen_path[8192], ref_path[8192];
        snprintf(gen_path, sizeof gen_path, "%s/%s", gen_dir, gen->relative);
        if (one_ref) {
            snprintf(ref_path, sizeof ref_path, "%s", one_ref);
        } else {
            dirs_file *ref = dirs_find_ref(refs, gen->key, prefix_match);
            if (!ref)
                continue;
            ref->matched = true;
            snprintf(ref_path, sizeof ref_path, "%s/%s", ref_dir, ref->relative);
        }
        gen->matched = true;
        if (fs_pair_list_add(list, ref_path, gen_path, ref_path, gen_path, FS_PAIR_NO_LABEL,
                             &err) != FACESIM_OK) {
            fprintf(stderr, "facesim %s: %s\n", command, err.message);
            return CLI_EXIT_INTERNAL;
        }
    }
    return CLI_EXIT_OK;
}

static void dirs_report_unmatched(const char *command, const char *ref_dir, const char *gen_dir,
                                  bool quiet, const dirs_listing *refs, const dirs_listing *gens,
                                  size_t *unmatched_ref, size_t *unmatched_gen)
{
    *unmatched_ref = *unmatched_gen = 0;
    for (size_t i = 0; i < refs->count; i++)
        *unmatched_ref += !refs->files[i].matched;
    for (size_t i = 0; i < gens->count; i++)
        *unmatched_gen += !gens->files[i].matched;
    if (quiet)
        return;
    if (*unmatched_gen > 0)
        dirs_warn_unmatched(command, gen_dir, gens, "reference", *unmatched_gen);
    if (*unmatched_ref > 0 && ref_dir)
        dirs_warn_unmatched(command, ref_dir, refs, "generated image", *unmatched_ref);
}

int cli_dirs_build_list(const char *command, const char *ref_dir, const char *gen_dir,
                        const char *one_ref, bool prefix_match, bool quiet, fs_pair_list *list,
                        size_t *unmatched_ref, size_t *unmatched_gen)
{
    memset(list, 0, sizeof *list);
    dirs_listing refs = {0}, gens = {0};
    int exit_code = CLI_EXIT_OK;
    if (one_ref) {
        struct stat info;
        if (stat(one_ref, &info) != 0 || !S_ISREG(info.st_mode)) {
            fprintf(stderr, "facesim %s: reference image '%s' (from --one-ref) does not exist "
                            "or is not a file\n", command, one_ref);
            return CLI_EXIT_BAD_INPUT;
        }
    } else {
        exit_code = dirs_walk(command, ref_dir, "", 0, &refs);
        qsort(refs.files, refs.count, sizeof *refs.files, dirs_compare_key);
        if (exit_code == CLI_EXIT_OK)
            exit_code = dirs_check_unique_keys(command, ref_dir, &refs);
    }
    if (exit_code == CLI_EXIT_OK)
        exit_code = dirs_walk(command, gen_dir, "", 0, &gens);
    if (exit_code == CLI_EXIT_OK) {
        qsort(gens.files, gens.count, sizeof *gens.files, dirs_compare_relative);
        exit_code = dirs_match(command, ref_dir, gen_dir, one_ref, prefix_match, &refs, &gens,
                               list);
    }
    if (exit_code == CLI_EXIT_OK) {
        dirs_report_unmatched(command, ref_dir, gen_dir, quiet, &refs, &gens, unmatched_ref,
                              unmatched_gen);
        if (list->count == 0) {
            fprintf(stderr, "facesim %s: no pairs: no image in '%s' matches %s%s\n", command,
                    gen_dir, one_ref ? "" : "an image in ", one_ref ? one_ref : ref_dir);
            if (!one_ref && !prefix_match)
                fprintf(stderr, "Names must match without extension; use --prefix-match to "
                                "pair id07.jpg with id07_*.png.\n");
            exit_code = CLI_EXIT_BAD_INPUT;
        }
    }
    dirs_free(&refs);
    dirs_free(&gens);
    if (exit_code != CLI_EXIT_OK)
        fs_pair_list_free(list);
    return exit_code;
}

int cli_dirs_main(int argc, char **argv)
{
    return cli_batch_main(argc, argv, "dirs");
}

/*
 * Finding and reading the test data: the directories CTest passes in the environment
 * (tests/CMakeLists.txt sets them), skipping with a message when something is missing,
 * whole-file reads and writes, and CSV lines.
 *
 * A test program that lacks its data prints why and exits 77, which CTest reports as
 * skipped:
 *
 *     if (!data_dirs_from_env("test_x", shared_dir, model_dir, work_dir, sizeof shared_dir))
 *         return DATA_EXIT_SKIPPED;
 *     snprintf(probe, sizeof probe, "%s/faces", shared_dir);
 *     if (!data_require_paths("test_x", (const char *const[]){probe}, 1))
 *         return DATA_EXIT_SKIPPED;
 */
#ifndef FS_TESTS_DATA_FILES_H
#define FS_TESTS_DATA_FILES_H

#include <stdbool.h>
#include <stddef.h>

/* Exit code that CTest counts as a skipped test (SKIP_RETURN_CODE in tests/CMakeLists.txt). */
#define DATA_EXIT_SKIPPED 77

/*
 * Copies the environment variable `name` into dir (truncated to size), or fallback when
 * it is unset. Returns true when the variable is set.
 */
bool data_env_dir(char *dir, size_t size, const char *name, const char *fallback);

/*
 * Fills shared_dir, model_dir and work_dir, each of size bytes, from FACESIM_SHARED_DIR,
 * FACESIM_MODEL_DIR and FACESIM_WORK_DIR (/tmp when unset). When either of the first two
 * is unset prints "<program>: skipped: <name> is not set; run the tests through ctest" to
 * stderr and returns false.
 */
bool data_dirs_from_env(const char *program, char *shared_dir, char *model_dir, char *work_dir,
                        size_t size);

/*
 * Checks that every path exists. For the first missing one prints "<program>: skipped:
 * <path> is missing (set FACESIM_SHARED_DIR and FACESIM_MODEL_DIR)" to stderr and
 * returns false.
 */
bool data_require_paths(const char *program, const char *const *paths, int count);

bool data_exists(const char *path);
bool data_is_file(const char *path);       /* a regular file, after following links */
bool data_is_directory(const char *path);

/*
 * Reads a whole file into a NUL-terminated buffer that the caller frees, and stores its
 * length in *size when size is not NULL. Returns NULL when the file cannot be opened.
 * Fails the running cmocka test when memory runs out.
 */
char *data_read_file(const char *path, size_t *size);

/* Writes text to path, replacing the file. Fails the running test on any error. */
void data_write_file(const char *path, const char *text);

/*
 * Splits one CSV line in place into at most max fields and returns their number. Follows
 * RFC 4180 quoting ("a ""b""" is the field a "b") but not embedded newlines, and drops a
 * trailing CR or LF. Fields after the first max are dropped.
 */
int data_csv_split(char *line, char **fields, int max);

#endif

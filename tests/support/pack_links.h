/*
 * Model pack directories made of symbolic links, so a test can combine models from
 * different places without copying them. facesim_open finds each model's role from
 * the file names and the graphs in the directory.
 */
#ifndef FS_TESTS_PACK_LINKS_H
#define FS_TESTS_PACK_LINKS_H

#include <stdbool.h>
#include <stddef.h>

#include "facesim.h"

/* The detector of $FACESIM_SHARED_DIR/models that insightface's reference results used. */
#define PACK_SHARED_SCRFD "models/scrfd_500m_bnkps.onnx"

/*
 * Links target into dir under the file name name, replacing an earlier link of that
 * name. Returns false when the link cannot be made.
 */
bool pack_link_as(const char *dir, const char *name, const char *target);

/*
 * Creates work_dir/name (keeping its contents when it exists), writes that path to out
 * and links each of the count files into it under its own file name. files may be NULL
 * when count is 0. Returns false when the path does not fit in out or a link fails.
 */
bool pack_make_dir(char *out, size_t size, const char *work_dir, const char *name,
                   const char *const *files, int count);

/*
 * Makes work_dir/name with the shared SCRFD-500M detector (shared_dir/PACK_SHARED_SCRFD)
 * and the default pack's recogniser (default_pack/fr_feature.onnx): the combination
 * that the reference_*.csv results in $FACESIM_SHARED_DIR/faces come from. Returns
 * false when either model is missing or a link fails.
 */
bool pack_make_scrfd(char *out, size_t size, const char *work_dir, const char *name,
                     const char *shared_dir, const char *default_pack);

/*
 * Opens a context on the pack in dir with facesim_default_params. Fails the running
 * cmocka test with the directory and facesim_last_error() when facesim_open fails.
 * The caller closes the context.
 */
facesim_context *pack_open_context(const char *dir);

#endif

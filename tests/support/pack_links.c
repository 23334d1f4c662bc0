#include "support/pack_links.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/data_files.h"

bool pack_link_as(const char *dir, const char *name, const char *target)
{
    char link_path[4400];
    int length = snprintf(link_path, sizeof link_path, "%s/%s", dir, name);
    if (length < 0 || (size_t)length >= sizeof link_path)
        return false;
    unlink(link_path);
    return symlink(target, link_path) == 0;
}

bool pack_make_dir(char *out, size_t size, const char *work_dir, const char *name,
                   const char *const *files, int count)
{
    int length = snprintf(out, size, "%s/%s", work_dir, name);
    if (length < 0 || (size_t)length >= size)
        return false;
    mkdir(out, 0755);
    for (int i = 0; i < count; i++) {
        const char *base = strrchr(files[i], '/');
        base = base ? base + 1 : files[i];
        if (!pack_link_as(out, base, files[i]))
            return false;
    }
    return true;
}

bool pack_make_scrfd(char *out, size_t size, const char *work_dir, const char *name,
                     const char *shared_dir, const char *default_pack)
{
    char detector[4200], recogniser[4200];
    snprintf(detector, sizeof detector, "%s/%s", shared_dir, PACK_SHARED_SCRFD);
    snprintf(recogniser, sizeof recogniser, "%s/fr_feature.onnx", default_pack);
    if (!data_is_file(detector) || !data_is_file(recogniser))
        return false;
    const char *files[2] = {detector, recogniser};
    return pack_make_dir(out, size, work_dir, name, files, 2);
}

facesim_context *pack_open_context(const char *dir)
{
    facesim_params params;
    facesim_default_params(&params);
    params.model_dir = dir;
    facesim_context *ctx = NULL;
    if (facesim_open(&params, &ctx) != FACESIM_OK)
        fail_msg("facesim_open %s: %s", dir, facesim_last_error());
    return ctx;
}

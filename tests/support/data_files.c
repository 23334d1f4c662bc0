#include "support/data_files.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

bool data_env_dir(char *dir, size_t size, const char *name, const char *fallback)
{
    const char *value = getenv(name);
    snprintf(dir, size, "%s", value ? value : fallback);
    return value != NULL;
}

bool data_dirs_from_env(const char *program, char *shared_dir, char *model_dir, char *work_dir,
                        size_t size)
{
    data_env_dir(work_dir, size, "FACESIM_WORK_DIR", "/tmp");
    const char *const names[2] = {"FACESIM_SHARED_DIR", "FACESIM_MODEL_DIR"};
    char *const dirs[2] = {shared_dir, model_dir};
    for (int i = 0; i < 2; i++) {
        if (!data_env_dir(dirs[i], size, names[i], "")) {
            fprintf(stderr, "%s: skipped: %s is not set; run the tests through ctest.\n",
                    program, names[i]);
            return false;
        }
    }
    return true;
}

bool data_require_paths(const char *program, const char *const *paths, int count)
{
    for (int i = 0; i < count; i++) {
        if (!data_exists(paths[i])) {
            fprintf(stderr, "%s: skipped: %s is missing (set FACESIM_SHARED_DIR and "
                            "FACESIM_MODEL_DIR)\n", program, paths[i]);
            return false;
        }
    }
    return true;
}

bool data_exists(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0;
}

bool data_is_file(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

bool data_is_directory(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

char *data_read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    /* ftell returns -1 for a stream that cannot seek; read nothing then. */
    char *data = malloc((size_t)(length > 0 ? length : 0) + 1);
    assert_non_null(data);
    size_t read = length > 0 ? fread(data, 1, (size_t)length, file) : 0;
    fclose(file);
    data[read] = '\0';
    if (size)
        *size = read;
    return data;
}

void data_write_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(text, 1, strlen(text), file), strlen(text));
    assert_int_equal(fclose(file), 0);
}

int data_csv_split(char *line, char **fields, int max)
{
    line[strcspn(line, "\r\n")] = '\0';
    int count = 0;
    char *in = line;
    while (count < max) {
        char *out = in;
        fields[count++] = out;
        if (*in == '"') {
            in++;
            while (*in) {
                if (in[0] == '"' && in[1] == '"') {
                    *out++ = '"';
                    in += 2;
                } else if (in[0] == '"') {
                    in++;
                    break;
                } else {
                    *out++ = *in++;
                }
            }
        } else {
            while (*in && *in != ',')
                *out++ = *in++;
        }
        bool more = *in == ',';
        *out = '\0';
        if (!more)
            break;
        in++;
    }
    return count;
}

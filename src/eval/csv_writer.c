#include "eval/csv_writer.h"

#include <math.h>
#include <string.h>

void fs_csv_init(fs_csv_writer *csv, FILE *out)
{
    csv->out = out;
    csv->fields_in_row = 0;
    csv->status = FACESIM_OK;
}

static void fs_csv_separator(fs_csv_writer *csv)
{
    if (csv->fields_in_row > 0)
        fputc(',', csv->out);
    csv->fields_in_row++;
}

static void fs_csv_check(fs_csv_writer *csv)
{
    if (ferror(csv->out))
        csv->status = FACESIM_ERR_IO;
}

static int fs_csv_needs_quotes(const char *value)
{
    size_t length = strlen(value);
    if (length == 0)
        return 0;
    if (value[0] == ' ' || value[length - 1] == ' ')
        return 1;
    return strpbrk(value, ",\"\r\n") != NULL;
}

void fs_csv_field(fs_csv_writer *csv, const char *value)
{
    if (csv->status != FACESIM_OK)
        return;
    fs_csv_separator(csv);
    if (value && fs_csv_needs_quotes(value)) {
        fputc('"', csv->out);
        for (const char *c = value; *c; c++) {
            if (*c == '"')
                fputc('"', csv->out);
            fputc(*c, csv->out);
        }
        fputc('"', csv->out);
    } else if (value) {
        fputs(value, csv->out);
    }
    fs_csv_check(csv);
}

void fs_csv_fixed(fs_csv_writer *csv, double value, int decimals)
{
    if (csv->status != FACESIM_OK)
        return;
    fs_csv_separator(csv);
    if (decimals < 0)
        decimals = 0;
    if (decimals > 17)
        decimals = 17;
    if (isfinite(value))
        fprintf(csv->out, "%.*f", decimals, value);
    fs_csv_check(csv);
}

void fs_csv_float(fs_csv_writer *csv, float value)
{
    if (csv->status != FACESIM_OK)
        return;
    fs_csv_separator(csv);
    if (isfinite(value))
        fprintf(csv->out, "%.9g", (double)value);
    fs_csv_check(csv);
}

void fs_csv_int(fs_csv_writer *csv, long long value)
{
    if (csv->status != FACESIM_OK)
        return;
    fs_csv_separator(csv);
    fprintf(csv->out, "%lld", value);
    fs_csv_check(csv);
}

void fs_csv_end_row(fs_csv_writer *csv)
{
    if (csv->status != FACESIM_OK)
        return;
    fputc('\n', csv->out);
    csv->fields_in_row = 0;
    fs_csv_check(csv);
}

int fs_csv_finish(fs_csv_writer *csv, fs_error *err)
{
    if (csv->status == FACESIM_OK && csv->fields_in_row > 0)
        return fs_error_set(err, FACESIM_ERR_INTERNAL,
                            "CSV output: the last row was not ended (%d fields written)",
                            csv->fields_in_row);
    if (csv->status == FACESIM_OK && fflush(csv->out) != 0)
        csv->status = FACESIM_ERR_IO;
    if (csv->status != FACESIM_OK)
        return fs_error_set(err, csv->status, "CSV output: write failed");
    return FACESIM_OK;
}

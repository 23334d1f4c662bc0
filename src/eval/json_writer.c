#include "eval/json_writer.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

static void fs_json_fail(fs_json_writer *json, int status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void fs_json_fail(fs_json_writer *json, int status, const char *format, ...)
{
    if (json->status != FACESIM_OK)
        return;
    json->status = status;
    va_list args;
    va_start(args, format);
    vsnprintf(json->message, sizeof json->message, format, args);
    va_end(args);
}

/* Starts a new line at the current depth when pretty-printing, or separates items of
 * a one-line array with a space. */
static void fs_json_newline_indent(fs_json_writer *json, bool after_comma)
{
    if (json->indent <= 0)
        return;
    if (json->one_line_depth > 0) {
        if (after_comma)
            fputc(' ', json->out);
        return;
    }
    fputc('\n', json->out);
    for (int i = 0; i < json->depth * json->indent; i++)
        fputc(' ', json->out);
}

/* Checks that a value may come next and writes the separator in front of it. Returns
 * false when the writer is in an error state or the value is misplaced. */
static bool fs_json_before_value(fs_json_writer *json, const char *value_kind)
{
    if (json->status != FACESIM_OK)
        return false;
    if (json->done) {
        fs_json_fail(json, FACESIM_ERR_INTERNAL, "%s after the top-level value was complete",
                     value_kind);
        return false;
    }
    if (json->depth > 0 && json->in_object[json->depth - 1]) {
        if (!json->after_key) {
            fs_json_fail(json, FACESIM_ERR_INTERNAL, "%s inside an object without a key",
                         value_kind);
            return false;
        }
        json->after_key = false;
        return true;
    }
    if (json->depth > 0) {
        bool after_comma = json->has_items[json->depth - 1];
        if (after_comma)
            fputc(',', json->out);
        json->has_items[json->depth - 1] = true;
        fs_json_newline_indent(json, after_comma);
    }
    return true;
}

/* Marks the document complete when the value just written was the top-level one. */
static void fs_json_after_value(fs_json_writer *json)
{
    if (json->depth == 0)
        json->done = true;
    if (ferror(json->out))
        fs_json_fail(json, FACESIM_ERR_IO, "write failed");
}

void fs_json_init(fs_json_writer *json, FILE *out, int indent)
{
    memset(json, 0, sizeof *json);
    json->out = out;
    json->indent = indent;
    json->status = FACESIM_OK;
}

static void fs_json_begin(fs_json_writer *json, bool object, bool one_line)
{
    const char *value_kind = object ? "object" : "array";
    if (!fs_json_before_value(json, value_kind))
        return;
    if (json->depth == FS_JSON_MAX_DEPTH) {
        fs_json_fail(json, FACESIM_ERR_INTERNAL, "nesting deeper than %d levels",
                     FS_JSON_MAX_DEPTH);
        return;
    }
    fputc(object ? '{' : '[', json->out);
    json->in_object[json->depth] = object;
    json->has_items[json->depth] = false;
    json->depth++;
    if (one_line && json->one_line_depth == 0)
        json->one_line_depth = json->depth;
}

static void fs_json_end(fs_json_writer *json, bool object)
{
    if (json->status != FACESIM_OK)
        return;
    const char *value_kind = object ? "object" : "array";
    if (json->depth == 0 || json->in_object[json->depth - 1] != object) {
        fs_json_fail(json, FACESIM_ERR_INTERNAL, "end of %s without a matching begin", value_kind);
        return;
    }
    if (json->after_key) {
        fs_json_fail(json, FACESIM_ERR_INTERNAL, "end of object after a key without a value");
        return;
    }
    bool had_items = json->has_items[json->depth - 1];
    bool on_one_line = json->one_line_depth > 0;
    if (json->one_line_depth == json->depth)
        json->one_line_depth = 0;
    json->depth--;
    if (had_items && !on_one_line)
        fs_json_newline_indent(json, false);
    fputc(object ? '}' : ']', json->out);
    fs_json_after_value(json);
}

void fs_json_begin_object(fs_json_writer *json) { fs_json_begin(json, true, false); }
void fs_json_end_object(fs_json_writer *json) { fs_json_end(json, true); }
void fs_json_begin_array(fs_json_writer *json) { fs_json_begin(json, false, false); }
void fs_json_begin_one_line_array(fs_json_writer *json) { fs_json_begin(json, false, true); }
void fs_json_end_array(fs_json_writer *json) { fs_json_end(json, false); }

/* Returns the length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there
 * are not one: a stray continuation byte, a truncated sequence, an overlong form, a
 * surrogate or a code point above U+10FFFF. */
static int fs_json_utf8_length(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    int length;
    uint32_t code_point;
    uint32_t minimum;
    if ((c & 0xE0) == 0xC0) {
        length = 2, code_point = c & 0x1F, minimum = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        length = 3, code_point = c & 0x0F, minimum = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        length = 4, code_point = c & 0x07, minimum = 0x10000;
    } else {
        return 0;
    }
    for (int i = 1; i < length; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0; /* also stops at the terminating NUL */
        code_point = (code_point << 6) | (s[i] & 0x3F);
    }
    if (code_point < minimum || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF))
        return 0;
    return length;
}

static void fs_json_write_escaped(FILE *out, const char *value)
{
    const unsigned char *s = (const unsigned char *)value;
    fputc('"', out);
    while (*s) {
        unsigned char c = *s;
        switch (c) {
        case '"': fputs("\\\"", out); s++; continue;
        case '\\': fputs("\\\\", out); s++; continue;
        case '\n': fputs("\\n", out); s++; continue;
        case '\r': fputs("\\r", out); s++; continue;
        case '\t': fputs("\\t", out); s++; continue;
        case '\b': fputs("\\b", out); s++; continue;
        case '\f': fputs("\\f", out); s++; continue;
        default: break;
        }
        if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
            s++;
            continue;
        }
        int length = fs_json_utf8_length(s);
        if (length == 0) {
            fputs("\\ufffd", out);
            s++;
            continue;
        }
        fwrite(s, 1, (size_t)length, out);
        s += length;
    }
    fputc('"', out);
}

void fs_json_key(fs_json_writer *json, const char *key)
{
    if (json->status != FACESIM_OK)
        return;
    if (json->depth == 0 || !json->in_object[json->depth - 1]) {
        fs_json_fail(json, FACESIM_ERR_INTERNAL, "key \"%s\" outside an object", key);
        return;
    }
    if (json->after_key) {
        fs_json_fail(json, FACESIM_ERR_INTERNAL, "key \"%s\" after a key without a value", key);
        return;
    }
    bool after_comma = json->has_items[json->depth - 1];
    if (after_comma)
        fputc(',', json->out);
    json->has_items[json->depth - 1] = true;
    fs_json_newline_indent(json, after_comma);
    fs_json_write_escaped(json->out, key);
    fputs(json->indent > 0 ? ": " : ":", json->out);
    json->after_key = true;
}

void fs_json_string(fs_json_writer *json, const char *value)
{
    if (!value) {
        fs_json_null(json);
        return;
    }
    if (!fs_json_before_value(json, "string"))
        return;
    fs_json_write_escaped(json->out, value);
    fs_json_after_value(json);
}

void fs_json_fixed(fs_json_writer *json, double value, int decimals)
{
    if (!fs_json_before_value(json, "number"))
        return;
    if (!isfinite(value)) {
        fputs("null", json->out);
    } else {
        if (decimals < 0)
            decimals = 0;
        if (decimals > 17)
            decimals = 17;
        fprintf(json->out, "%.*f", decimals, value);
    }
    fs_json_after_value(json);
}

void fs_json_float(fs_json_writer *json, float value)
{
    if (!fs_json_before_value(json, "number"))
        return;
    if (!isfinite(value))
        fputs("null", json->out);
    else
        fprintf(json->out, "%.9g", (double)value);
    fs_json_after_value(json);
}

void fs_json_int(fs_json_writer *json, long long value)
{
    if (!fs_json_before_value(json, "number"))
        return;
    fprintf(json->out, "%lld", value);
    fs_json_after_value(json);
}

void fs_json_bool(fs_json_writer *json, bool value)
{
    if (!fs_json_before_value(json, "boolean"))
        return;
    fputs(value ? "true" : "false", json->out);
    fs_json_after_value(json);
}

void fs_json_null(fs_json_writer *json)
{
    if (!fs_json_before_value(json, "null"))
        return;
    fputs("null", json->out);
    fs_json_after_value(json);
}

void fs_json_key_string(fs_json_writer *json, const char *key, const char *value)
{
    fs_json_key(json, key);
    fs_json_string(json, value);
}

void fs_json_key_fixed(fs_json_writer *json, const char *key, double value, int decimals)
{
    fs_json_key(json, key);
    fs_json_fixed(json, value, decimals);
}

void fs_json_key_int(fs_json_writer *json, const char *key, long long value)
{
    fs_json_key(json, key);
    fs_json_int(json, value);
}

void fs_json_key_bool(fs_json_writer *json, const char *key, bool value)
{
    fs_json_key(json, key);
    fs_json_bool(json, value);
}

int fs_json_finish(fs_json_writer *json, fs_error *err)
{
    if (json->status == FACESIM_OK && !json->done)
        fs_json_fail(json, FACESIM_ERR_INTERNAL, "document ended with %d unclosed levels",
                     json->depth);
    if (json->status == FACESIM_OK) {
        fputc('\n', json->out);
        if (fflush(json->out) != 0 || ferror(json->out))
            fs_json_fail(json, FACESIM_ERR_IO, "write failed");
    }
    if (json->status != FACESIM_OK)
        return fs_error_set(err, json->status, "JSON output: %s", json->message);
    return FACESIM_OK;
}

/*
 * Protobuf wire format, read directly for two jobs protobuf-c does not do:
 *
 * 1. Bounding the nesting depth. protobuf-c unpacks nested messages recursively with
 *    no depth limit, so a small hostile file nesting attributes inside subgraphs
 *    inside attributes could exhaust the stack. The walk below follows the ONNX
 *    message descriptors and rejects nesting deeper than ONNX_WIRE_MAX_DEPTH.
 *
 * 2. Splitting the initializers off the model. Unpacking the whole ModelProto at once
 *    would keep every page of the mapped file resident while protobuf-c copies the
 *    weights, doubling the peak memory. Instead the loader unpacks a "skeleton" (the
 *    model without GraphProto.initializer fields) and then each initializer on its
 *    own, releasing the file's pages behind it.
 *
 * Wire format (protobuf encoding guide): each field is a varint key
 * (field_number << 3 | wire_type) followed by a varint (type 0), 8 bytes (type 1),
 * a varint length and that many bytes (type 2) or 4 bytes (type 5). Types 3 and 4
 * (groups) do not occur in ONNX and are rejected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_internal.h"

/* Model -> Graph -> Node -> Attribute -> Graph ... is three levels per subgraph, so 64
 * allows about 20 levels of nested If/Loop bodies and keeps protobuf-c's recursion small. */
#define ONNX_WIRE_MAX_DEPTH 64

/* Field numbers from onnx.proto. */
#define ONNX_WIRE_MODEL_GRAPH 7
#define ONNX_WIRE_GRAPH_INITIALIZER 5

enum onnx_wire_type {
    ONNX_WIRE_VARINT = 0,
    ONNX_WIRE_FIXED64 = 1,
    ONNX_WIRE_LENGTH = 2,
    ONNX_WIRE_FIXED32 = 5
};

/* One decoded field: its bytes from key to end, and for length-delimited fields the payload. */
typedef struct onnx_wire_field {
    uint32_t number;
    int wire_type;
    const uint8_t *start;
    const uint8_t *end;
    const uint8_t *payload;
    size_t payload_size;
} onnx_wire_field;

/* Reads a varint of at most 10 bytes at *p; false when it runs past end or is too long. */
static bool onnx_wire_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*p >= end)
            return false;
        uint8_t byte = *(*p)++;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return true;
        }
    }
    return false;
}

/* Reads the field at *p into field; on failure stores the reason in *reason. */
static bool onnx_wire_read_field(const uint8_t **p, const uint8_t *end, onnx_wire_field *field,
                                 const char **reason)
{
    field->start = *p;
    uint64_t key;
    if (!onnx_wire_read_varint(p, end, &key)) {
        *reason = "field key runs past the end";
        return false;
    }
    field->number = (uint32_t)(key >> 3);
    field->wire_type = (int)(key & 7);
    field->payload = NULL;
    field->payload_size = 0;
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff) {
        *reason = "invalid field number";
        return false;
    }

    size_t available = (size_t)(end - *p);
    switch (field->wire_type) {
    case ONNX_WIRE_VARINT: {
        uint64_t ignored;
        if (!onnx_wire_read_varint(p, end, &ignored)) {
            *reason = "varint runs past the end";
            return false;
        }
        break;
    }
    case ONNX_WIRE_FIXED64:
    case ONNX_WIRE_FIXED32: {
        size_t width = field->wire_type == ONNX_WIRE_FIXED64 ? 8 : 4;
        if (available < width) {
            *reason = "fixed-size field runs past the end";
            return false;
        }
        *p += width;
        break;
    }
    case ONNX_WIRE_LENGTH: {
        uint64_t length;
        if (!onnx_wire_read_varint(p, end, &length) || length > (uint64_t)(end - *p)) {
            *reason = "length-delimited field runs past the end";
            return false;
        }
        field->payload = *p;
        field->payload_size = (size_t)length;
        *p += length;
        break;
    }
    default:
        *reason = "unknown or group wire type";
        return false;
    }
    field->end = *p;
    return true;
}

/* Walks a message of type descriptor, recursing into message-typed fields. */
static bool onnx_wire_check(const ProtobufCMessageDescriptor *descriptor, const uint8_t *data,
                            size_t size, int depth, const char **reason)
{
    if (depth > ONNX_WIRE_MAX_DEPTH) {
        *reason = "messages nested too deeply";
        return false;
    }
    const uint8_t *p = data;
    const uint8_t *end = data + size;
    while (p < end) {
        onnx_wire_field field;
        if (!onnx_wire_read_field(&p, end, &field, reason))
            return false;
        if (field.wire_type != ONNX_WIRE_LENGTH || !descriptor)
            continue;
        const ProtobufCFieldDescriptor *member =
            protobuf_c_message_descriptor_get_field(descriptor, field.number);
        if (member && member->type == PROTOBUF_C_TYPE_MESSAGE &&
            !onnx_wire_check(member->descriptor, field.payload, field.payload_size, depth + 1,
                             reason))
            return false;
    }
    return true;
}

static size_t onnx_wire_write_varint(uint8_t *out, uint64_t value)
{
    size_t n = 0;
    while (value >= 0x80) {
        out[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[n++] = (uint8_t)value;
    return n;
}

static int onnx_wire_add_slice(const fs_onnx_loader *loader, fs_onnx_slice **slices,
                               size_t *count, size_t *capacity, const onnx_wire_field *field)
{
    if (*count == *capacity) {
        size_t grown_capacity = *capacity ? *capacity * 2 : 256;
        fs_onnx_slice *grown = realloc(*slices, grown_capacity * sizeof *grown);
        if (!grown)
            return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY,
                                "out of memory for the initializer list");
        *slices = grown;
        *capacity = grown_capacity;
    }
    (*slices)[(*count)++] = (fs_onnx_slice){field->payload, field->payload_size};
    return FACESIM_OK;
}

/*
 * Writes a GraphProto field at out: the key, the new length and the graph's fields
 * except initializers, which go to *slices. Returns the bytes written through *written.
 */
static int onnx_wire_split_graph(const fs_onnx_loader *loader, const onnx_wire_field *graph,
                                 uint8_t *out, size_t *written, fs_onnx_slice **slices,
                                 size_t *count, size_t *capacity)
{
    /* Copy the kept fields 11 bytes in (room for a one-byte key and a 10-byte length),
     * then move them back behind the real length. */
    uint8_t *body = out + 11;
    size_t body_size = 0;
    const uint8_t *p = graph->payload;
    const uint8_t *end = graph->payload + graph->payload_size;
    while (p < end) {
        onnx_wire_field field;
        const char *reason = NULL;
        if (!onnx_wire_read_field(&p, end, &field, &reason))
            return fs_onnx_fail_parse(loader, reason);
        if (field.number == ONNX_WIRE_GRAPH_INITIALIZER && field.wire_type == ONNX_WIRE_LENGTH) {
            int status = onnx_wire_add_slice(loader, slices, count, capacity, &field);
            if (status != FACESIM_OK)
                return status;
            continue;
        }
        size_t field_size = (size_t)(field.end - field.start);
        memcpy(body + body_size, field.start, field_size);
        body_size += field_size;
    }

    size_t header = 0;
    out[header++] = ONNX_WIRE_MODEL_GRAPH << 3 | ONNX_WIRE_LENGTH;
    header += onnx_wire_write_varint(out + header, body_size);
    memmove(out + header, body, body_size);
    *written = header + body_size;
    return FACESIM_OK;
}

int fs_onnx_wire_split(const fs_onnx_loader *loader, const uint8_t *data, size_t size,
                       uint8_t **skeleton, size_t *skeleton_size,
                       fs_onnx_slice **initializers, size_t *n_initializers)
{
    *skeleton = NULL;
    *skeleton_size = 0;
    *initializers = NULL;
    *n_initializers = 0;

    const char *reason = NULL;
    if (!onnx_wire_check(&onnx__model_proto__descriptor, data, size, 0, &reason))
        return fs_onnx_fail_parse(loader, reason);

    /* The skeleton is never longer than the input, but a graph field is assembled
     * 11 bytes ahead of its final place. Pages never written are never resident. */
    size_t buffer_size;
    if (!fs_add_size(size, 16, &buffer_size))
        return fs_onnx_fail(loader, FACESIM_ERR_LIMIT, "the model is too large");
    uint8_t *out = malloc(buffer_size);
    if (!out)
        return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY,
                            "out of memory for the model skeleton (%zu bytes)", buffer_size);

    fs_onnx_slice *slices = NULL;
    size_t count = 0;
    size_t capacity = 0;
    size_t used = 0;
    const uint8_t *p = data;
    const uint8_t *end = data + size;
    while (p < end) {
        onnx_wire_field field;
        if (!onnx_wire_read_field(&p, end, &field, &reason)) {
            free(out);
            free(slices);
            return fs_onnx_fail_parse(loader, reason);
        }
        if (field.number == ONNX_WIRE_MODEL_GRAPH && field.wire_type == ONNX_WIRE_LENGTH) {
            size_t written = 0;
            int status = onnx_wire_split_graph(loader, &field, out + used, &written, &slices,
                                               &count, &capacity);
            if (status != FACESIM_OK) {
                free(out);
                free(slices);
                return status;
            }
            used += written;
            continue;
        }
        size_t field_size = (size_t)(field.end - field.start);
        memcpy(out + used, field.start, field_size);
        used += field_size;
    }

    *skeleton = out;
    *skeleton_size = used;
    *initializers = slices;
    *n_initializers = count;
    return FACESIM_OK;
}

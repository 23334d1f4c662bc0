/*
 * TensorProto -> constant value, and declared types (ValueInfoProto) -> dtype and dims.
 *
 * Tensor contents arrive either as raw_data (little-endian, row-major, element size
 * of the declared type) or in a typed repeated field. The typed fields are float_data
 * for float32, int64_data for int64 and double_data for float64. int32, int8, uint8
 * and bool use int32_data, one element per int32, as onnx.proto specifies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_internal.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ONNX loader reads raw_data in place and needs a little-endian host"
#endif

/* ONNX TensorProto.DataType numbers not in fs_dtype. */
enum {
    ONNX_TYPE_STRING = 8,
    ONNX_TYPE_DOUBLE = 11
};

fs_dtype fs_onnx_dtype(int32_t onnx_type)
{
    switch (onnx_type) {
    case FS_DTYPE_FLOAT:
    case FS_DTYPE_UINT8:
    case FS_DTYPE_INT8:
    case FS_DTYPE_INT32:
    case FS_DTYPE_INT64:
    case FS_DTYPE_BOOL:
        return (fs_dtype)onnx_type;
    default:
        return FS_DTYPE_UNDEFINED;
    }
}

const char *fs_onnx_type_name(int32_t onnx_type)
{
    static const char *const names[] = {
        "undefined", "float32", "uint8", "int8", "uint16", "int16", "int32", "int64",
        "string", "bool", "float16", "float64", "uint32", "uint64", "complex64",
        "complex128", "bfloat16", "float8e4m3fn", "float8e4m3fnuz", "float8e5m2",
        "float8e5m2fnuz"};
    if (onnx_type >= 0 && (size_t)onnx_type < sizeof names / sizeof names[0])
        return names[onnx_type];
    return "unknown type";
}

/* Writes dims as "[1, 3, 112, 112]" into text. */
static void onnx_format_dims(const int64_t *dims, size_t rank, char *text, size_t size)
{
    size_t used = (size_t)snprintf(text, size, "[");
    for (size_t d = 0; d < rank && used < size; d++)
        used += (size_t)snprintf(text + used, size - used, "%s%lld", d ? ", " : "",
                                 (long long)dims[d]);
    if (used < size)
        snprintf(text + used, size - used, "]");
}

/* Checks one dimension read from the file. */
static int onnx_check_dim(fs_onnx_loader *loader, int64_t dim, size_t axis, const char *label)
{
    if (dim < 0)
        return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                            "%s has a negative dimension %lld at axis %zu", label,
                            (long long)dim, axis);
    if (dim > FS_ONNX_MAX_DIM)
        return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                            "%s has dimension %lld at axis %zu, more than the maximum 2^31",
                            label, (long long)dim, axis);
    return FACESIM_OK;
}

static int onnx_check_rank(fs_onnx_loader *loader, size_t rank, const char *label)
{
    if (rank > (size_t)loader->limits.max_rank)
        return fs_onnx_fail(loader, FACESIM_ERR_LIMIT, "%s has rank %zu, more than the limit %d",
                            label, rank, loader->limits.max_rank);
    return FACESIM_OK;
}

/* Multiplies dims (already checked one by one) into *count, within the element limit. */
static int onnx_count_elements(fs_onnx_loader *loader, const int64_t *dims, size_t rank,
                               const char *label, int64_t *count)
{
    int64_t product = 1;
    bool overflow = false;
    for (size_t d = 0; d < rank; d++)
        if (!fs_mul_i64(product, dims[d], &product))
            overflow = true;
    if (overflow || product > loader->limits.max_tensor_elements) {
        char shape[256];
        onnx_format_dims(dims, rank, shape, sizeof shape);
        return fs_onnx_fail(loader, FACESIM_ERR_LIMIT,
                            "%s has dims %s, more elements than the limit %lld", label, shape,
                            (long long)loader->limits.max_tensor_elements);
    }
    *count = product;
    return FACESIM_OK;
}

/* Checks that tensor has a type facesim supports and keeps its data inside the file. */
static int onnx_check_tensor_kind(fs_onnx_loader *loader, const Onnx__TensorProto *tensor,
                                  const char *label)
{
    if ((tensor->has_data_location &&
         tensor->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
        tensor->n_external_data > 0)
        return fs_onnx_fail(loader, FACESIM_ERR_UNSUPPORTED,
                            "%s stores its data in an external file, which facesim does not "
                            "read: save the model with its weights inside the .onnx file",
                            label);
    if (tensor->segment)
        return fs_onnx_fail(loader, FACESIM_ERR_UNSUPPORTED,
                            "%s is a segment of a larger tensor, which facesim does not read",
                            label);
    if (!tensor->has_data_type)
        return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA, "%s has no data type", label);
    if (fs_onnx_dtype(tensor->data_type) == FS_DTYPE_UNDEFINED &&
        tensor->data_type != ONNX_TYPE_DOUBLE)
        return fs_onnx_fail(loader, FACESIM_ERR_UNSUPPORTED,
                            "%s has type %s (%d), which facesim does not support (it reads "
                            "float32, float64, int8, uint8, int32, int64 and bool)",
                            label, fs_onnx_type_name(tensor->data_type), (int)tensor->data_type);
    return FACESIM_OK;
}

/*
 * Returns tensor's raw_data as the value's buffer: the message's own buffer when it is
 * aligned for the element type (protobuf-c allocates it with malloc, so it normally
 * is), otherwise a copy. float64 is converted to float32.
 */
static void *onnx_take_raw(Onnx__TensorProto *tensor, size_t bytes)
{
    uint8_t *raw = tensor->raw_data.data;
    if (tensor->data_type == ONNX_TYPE_DOUBLE) {
        size_t count = bytes / sizeof(float);
        float *converted = malloc(bytes ? bytes : 1);
        for (size_t i = 0; converted && i < count; i++) {
            double element;
            memcpy(&element, raw + i * sizeof element, sizeof element);
            converted[i] = (float)element;
        }
        return converted;
    }

    size_t element_size = fs_dtype_size((fs_dtype)tensor->data_type);
    if (raw && bytes > 0 && (uintptr_t)raw % element_size == 0) {
        tensor->raw_data.data = NULL;
        tensor->raw_data.len = 0;
        return raw;
    }
    void *copy = malloc(bytes ? bytes : 1);
    if (copy && bytes > 0)
        memcpy(copy, raw, bytes);
    return copy;
}

/* Length and name of the typed field that must hold tensor's elements. */
static size_t onnx_typed_count(const Onnx__TensorProto *tensor, const char **field)
{
    switch (tensor->data_type) {
    case FS_DTYPE_FLOAT:
        *field = "float_data";
        return tensor->n_float_data;
    case FS_DTYPE_INT64:
        *field = "int64_data";
        return tensor->n_int64_data;
    case ONNX_TYPE_DOUBLE:
        *field = "double_data";
        return tensor->n_double_data;
    default:
        *field = "int32_data";
        return tensor->n_int32_data;
    }
}

/* Converts the typed field of tensor (count elements, checked) into a new buffer. */
static void *onnx_convert_typed(const Onnx__TensorProto *tensor, size_t count, size_t bytes)
{
    void *data = malloc(bytes ? bytes : 1);
    if (!data)
        return NULL;
    switch (tensor->data_type) {
    case FS_DTYPE_FLOAT:
        if (bytes > 0)
            memcpy(data, tensor->float_data, bytes);
        break;
    case FS_DTYPE_INT64:
        if (bytes > 0)
            memcpy(data, tensor->int64_data, bytes);
        break;
    case FS_DTYPE_INT32:
        if (bytes > 0)
            memcpy(data, tensor->int32_data, bytes);
        break;
    case ONNX_TYPE_DOUBLE:
        for (size_t i = 0; i < count; i++)
            ((float *)data)[i] = (float)tensor->double_data[i];
        break;
    case FS_DTYPE_INT8:
        for (size_t i = 0; i < count; i++)
            ((int8_t *)data)[i] = (int8_t)tensor->int32_data[i];
        break;
    case FS_DTYPE_UINT8:
        for (size_t i = 0; i < count; i++)
            ((uint8_t *)data)[i] = (uint8_t)tensor->int32_data[i];
        break;
    case FS_DTYPE_BOOL:
        for (size_t i = 0; i < count; i++)
            ((uint8_t *)data)[i] = tensor->int32_data[i] != 0;
        break;
    default:
        break;
    }
    return data;
}

/* Reads tensor's elements into a new buffer of `bytes` bytes after checking their size. */
static int onnx_read_tensor_data(fs_onnx_loader *loader, Onnx__TensorProto *tensor,
                                 int64_t count, size_t bytes, const char *label, void **data)
{
    char shape[256];
    onnx_format_dims(tensor->dims, tensor->n_dims, shape, sizeof shape);
    const char *type_name = fs_onnx_type_name(tensor->data_type);

    if (tensor->has_raw_data) {
        size_t stored_size = sizeof(double);
        if (tensor->data_type != ONNX_TYPE_DOUBLE)
            stored_size = fs_dtype_size((fs_dtype)tensor->data_type);
        size_t expected;
        if (!fs_mul_size((size_t)count, stored_size, &expected))
            return fs_onnx_fail(loader, FACESIM_ERR_LIMIT, "%s is too large", label);
        if (tensor->raw_data.len != expected)
            return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                                "%s has %zu bytes of raw data, but %s dims %s need %zu", label,
                                tensor->raw_data.len, type_name, shape, expected);
        *data = onnx_take_raw(tensor, bytes);
    } else {
        const char *field;
        size_t stored = onnx_typed_count(tensor, &field);
        if (stored != (uint64_t)count)
            return fs_onnx_fail(loader, FACESIM_ERR_INVALID_DATA,
                                "%s has %zu values in %s, but %s dims %s need %lld", label,
                                stored, field, type_name, shape, (long long)count);
        *data = onnx_convert_typed(tensor, (size_t)count, bytes);
    }

    if (!*data)
        return fs_onnx_fail(loader, FACESIM_ERR_NO_MEMORY, "out of memory for %s (%zu bytes)",
                            label, bytes);
    return FACESIM_OK;
}

int fs_onnx_add_tensor(fs_onnx_loader *loader, Onnx__TensorProto *tensor,
                       const char *value_name, const char *label, int *index)
{
    int status = onnx_check_tensor_kind(loader, tensor, label);
    if (status == FACESIM_OK)
        status = onnx_check_rank(loader, tensor->n_dims, label);
    for (size_t d = 0; status == FACESIM_OK && d < tensor->n_dims; d++)
        status = onnx_check_dim(loader, tensor->dims[d], d, label);
    int64_t count = 0;
    if (status == FACESIM_OK)
        status = onnx_count_elements(loader, tensor->dims, tensor->n_dims, label, &count);
    if (status != FACESIM_OK)
        return status;

    /* float64 is held as float32. */
    fs_dtype dtype = tensor->data_type == ONNX_TYPE_DOUBLE ? FS_DTYPE_FLOAT
                                                           : (fs_dtype)tensor->data_type;
    size_t bytes;
    if (!fs_mul_size((size_t)count, fs_dtype_size(dtype), &bytes))
        return fs_onnx_fail(loader, FACESIM_ERR_LIMIT, "%s is too large", label);

    void *data = NULL;
    status = onnx_read_tensor_data(loader, tensor, count, bytes, label, &data);
    if (status != FACESIM_OK)
        return status;

    int added;
    status = fs_onnx_add_value(loader, value_name, &added);
    if (status != FACESIM_OK) {
        free(data);
        return status;
    }
    fs_value *value = &loader->graph->values[added];
    fs_value_set_shape(value, dtype, (int)tensor->n_dims, tensor->dims);
    value->data = data;
    value->owns_data = true;
    *index = added;
    return FACESIM_OK;
}

int fs_onnx_apply_type(fs_onnx_loader *loader, const Onnx__TypeProto *type, fs_value *value,
                       const char *label)
{
    if (!type || type->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET)
        return FACESIM_OK; /* no declared type: dtype and shape stay unknown */
    if (type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !type->tensor_type)
        return fs_onnx_fail(loader, FACESIM_ERR_UNSUPPORTED,
                            "%s is not a tensor (a sequence, map, optional or sparse tensor), "
                            "and facesim reads tensors only", label);

    const Onnx__TypeProto__Tensor *tensor_type = type->tensor_type;
    fs_dtype dtype = FS_DTYPE_UNDEFINED;
    if (tensor_type->has_elem_type && tensor_type->elem_type != 0) {
        dtype = fs_onnx_dtype(tensor_type->elem_type);
        if (dtype == FS_DTYPE_UNDEFINED)
            return fs_onnx_fail(loader, FACESIM_ERR_UNSUPPORTED,
                                "%s has type %s (%d), which facesim does not support", label,
                                fs_onnx_type_name(tensor_type->elem_type),
                                (int)tensor_type->elem_type);
    }

    const Onnx__TensorShapeProto *shape = tensor_type->shape;
    if (!shape) {
        value->dtype = dtype; /* rank stays unknown */
        return FACESIM_OK;
    }
    int status = onnx_check_rank(loader, shape->n_dim, label);
    if (status != FACESIM_OK)
        return status;

    int64_t dims[FS_MAX_RANK];
    bool all_known = true;
    for (size_t d = 0; d < shape->n_dim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = shape->dim[d];
        dims[d] = -1; /* symbolic (dim_param) or absent */
        if (dim && dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            status = onnx_check_dim(loader, dim->dim_value, d, label);
            if (status != FACESIM_OK)
                return status;
            dims[d] = dim->dim_value;
        } else {
            all_known = false;
        }
    }
    if (all_known) {
        int64_t count;
        status = onnx_count_elements(loader, dims, shape->n_dim, label, &count);
        if (status != FACESIM_OK)
            return status;
    }
    fs_value_set_shape(value, dtype, (int)shape->n_dim, dims);
    return FACESIM_OK;
}

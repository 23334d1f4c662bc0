#include "engine/dnnl_glue.h"

#include <stdlib.h>

static const char *dnnl_status_text(dnnl_status_t status)
{
    switch (status) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "no implementation for these shapes and formats";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "unknown status";
    }
}

int fs_dnnl_check(dnnl_status_t status, const char *call, const char *node_name,
                  fs_error *err)
{
    if (status == dnnl_success)
        return FACESIM_OK;
    int code = FACESIM_ERR_INTERNAL;
    if (status == dnnl_out_of_memory)
        code = FACESIM_ERR_NO_MEMORY;
    else if (status == dnnl_unimplemented)
        code = FACESIM_ERR_UNSUPPORTED;
    if (node_name)
        return fs_error_set(err, code, "node '%s': oneDNN %s failed: %s (status %d)", node_name,
                            call, dnnl_status_text(status), (int)status);
    return fs_error_set(err, code, "oneDNN %s failed: %s (status %d)", call,
                        dnnl_status_text(status), (int)status);
}

int fs_dnnl_create(fs_dnnl **out, fs_error *err)
{
    *out = NULL;
    fs_dnnl *dnnl = calloc(1, sizeof *dnnl);
    if (!dnnl)
        return fs_error_set(err, FACESIM_ERR_NO_MEMORY, "out of memory creating the oneDNN engine");

    int status = fs_dnnl_check(dnnl_engine_create(&dnnl->engine, dnnl_cpu, 0),
                               "dnnl_engine_create", NULL, err);
    if (status == FACESIM_OK)
        status = fs_dnnl_check(dnnl_stream_create(&dnnl->stream, dnnl->engine,
                                                  dnnl_stream_default_flags),
                               "dnnl_stream_create", NULL, err);
    if (status != FACESIM_OK) {
        fs_dnnl_free(dnnl);
        return status;
    }
    *out = dnnl;
    return FACESIM_OK;
}

void fs_dnnl_free(fs_dnnl *dnnl)
{
    if (!dnnl)
        return;
    if (dnnl->stream)
        dnnl_stream_destroy(dnnl->stream);
    if (dnnl->engine)
        dnnl_engine_destroy(dnnl->engine);
    free(dnnl);
}

int fs_dnnl_plain_desc(dnnl_memory_desc_t *desc, int rank, const int64_t *dims,
                       const char *node_name, fs_error *err)
{
    static const dnnl_format_tag_t tags[] = { dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde,
                                              dnnl_abcdef };
    if (rank < 1 || rank > 6)
        return fs_error_set(err, FACESIM_ERR_UNSUPPORTED,
                            "node '%s': tensors of rank %d are not supported by the oneDNN "
                            "kernels (rank 1 to 6)", node_name, rank);
    dnnl_dims_t shape;
    for (int d = 0; d < rank; d++)
        shape[d] = dims[d];
    return fs_dnnl_check(dnnl_memory_desc_init_by_tag(desc, rank, shape, dnnl_f32,
                                                      tags[rank - 1]),
                         "dnnl_memory_desc_init_by_tag", node_name, err);
}

int fs_dnnl_activation_desc(dnnl_memory_desc_t *desc, const int64_t dims[4], bool nhwc,
                            const char *node_name, fs_error *err)
{
    dnnl_dims_t shape = { dims[0], dims[1], dims[2], dims[3] };
    return fs_dnnl_check(dnnl_memory_desc_init_by_tag(desc, 4, shape, dnnl_f32,
                                                      nhwc ? dnnl_nhwc : dnnl_nchw),
                         "dnnl_memory_desc_init_by_tag", node_name, err);
}

int fs_dnnl_primitive_create(fs_dnnl *dnnl, const void *op_desc,
                             const_dnnl_primitive_attr_t attr, const char *node_name,
                             dnnl_primitive_desc_t *pd, dnnl_primitive_t *primitive,
                             size_t *scratch_bytes, fs_error *err)
{
    *pd = NULL;
    *primitive = NULL;
    *scratch_bytes = 0;

    dnnl_primitive_attr_t own_attr = NULL;
    dnnl_status_t status = attr ? dnnl_primitive_attr_clone(&own_attr, attr)
                                : dnnl_primitive_attr_create(&own_attr);
    int code = fs_dnnl_check(status, "creating primitive attributes", node_name, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_check(dnnl_primitive_attr_set_scratchpad_mode(own_attr,
                                                                     dnnl_scratchpad_mode_user),
                             "dnnl_primitive_attr_set_scratchpad_mode", node_name, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_check(dnnl_primitive_desc_create(pd, op_desc, own_attr, dnnl->engine,
                                                        NULL),
                             "dnnl_primitive_desc_create", node_name, err);
    if (own_attr)
        dnnl_primitive_attr_destroy(own_attr);
    if (code == FACESIM_OK)
        code = fs_dnnl_check(dnnl_primitive_create(primitive, *pd), "dnnl_primitive_create",
                             node_name, err);
    if (code != FACESIM_OK) {
        if (*pd)
            dnnl_primitive_desc_destroy(*pd);
        *pd = NULL;
        return code;
    }

    const dnnl_memory_desc_t *scratch = dnnl_primitive_desc_query_md(*pd,
                                                                     dnnl_query_scratchpad_md, 0);
    if (scratch)
        *scratch_bytes = dnnl_memory_desc_get_size(scratch);
    return FACESIM_OK;
}

int fs_dnnl_memory_unbound(fs_dnnl *dnnl, const dnnl_memory_desc_t *desc,
                           const char *node_name, dnnl_memory_t *memory, fs_error *err)
{
    *memory = NULL;
    return fs_dnnl_check(dnnl_memory_create(memory, desc, dnnl->engine, DNNL_MEMORY_NONE),
                         "dnnl_memory_create", node_name, err);
}

const char *fs_dnnl_impl_name(const_dnnl_primitive_desc_t pd)
{
    const char *name = NULL;
    if (!pd || dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success ||
        !name)
        return "";
    return name;
}

int fs_dnnl_execute(fs_dnnl *dnnl, dnnl_primitive_t primitive, int n_args,
                    const dnnl_exec_arg_t *args, const char *node_name, fs_error *err)
{
    int code = fs_dnnl_check(dnnl_primitive_execute(primitive, dnnl->stream, n_args, args),
                             "dnnl_primitive_execute", node_name, err);
    if (code == FACESIM_OK)
        code = fs_dnnl_check(dnnl_stream_wait(dnnl->stream), "dnnl_stream_wait", node_name,
                             err);
    return code;
}

void fs_dnnl_destroy_kernel(dnnl_primitive_t primitive, dnnl_primitive_desc_t pd,
                            const dnnl_memory_t *memories, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (memories[i])
            dnnl_memory_destroy(memories[i]);
    if (primitive)
        dnnl_primitive_destroy(primitive);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
}

/*
 * ReduceMean (float32) and ReduceSum (float32 and int64) over `axes`, keeping the
 * reduced dims as size 1 when keepdims is 1 (the default).
 *
 * axes is an attribute for ReduceMean (opsets up to 17) and for ReduceSum before
 * opset 13; ReduceSum-13 takes it as an optional constant input, and its
 * noop_with_empty_axes attribute turns "no axes" into a copy instead of a
 * reduction over every dim. Float sums accumulate in double.
 */
#include <math.h>
#include <string.h>

#include "engine/ops/ops_common.h"

typedef struct reduce_config {
    bool reduced[FS_MAX_RANK];
    bool keepdims;
    bool noop;      /* ReduceSum-13 with empty axes and noop_with_empty_axes = 1 */
} reduce_config;

static int reduce_configure(const fs_graph *graph, const fs_node *node, bool is_sum,
                            reduce_config *config, fs_error *err)
{
    const fs_value *x = &graph->values[node->inputs[0]];
    int64_t keepdims, noop_with_empty_axes;
    int status = fs_node_attr_int(node, "keepdims", 1, &keepdims, err);
    if (status == FACESIM_OK)
        status = fs_node_attr_int(node, "noop_with_empty_axes", 0, &noop_with_empty_axes, err);
    if (status != FACESIM_OK)
        return status;
    config->keepdims = keepdims != 0;
    config->noop = false;

    int64_t axes[FS_MAX_RANK];
    int count = 0;
    bool axes_from_input = is_sum && graph->opset >= 13;
    if (axes_from_input) {
        if (fs_node_has_input(node, 1)) {
            status = fs_ops_read_ints(graph, node, 1, "axes", axes, FS_MAX_RANK, &count, err);
            if (status != FACESIM_OK)
                return status;
        }
    } else {
        const int64_t *values;
        size_t n;
        status = fs_node_attr_ints(node, "axes", &values, &n, err);
        if (status != FACESIM_OK)
            return status;
        if (n > FS_MAX_RANK)
            return fs_ops_error(err, node, FACESIM_ERR_INVALID_DATA,
                                "attribute 'axes' has %zu entries, more than rank %d", n,
                                x->rank);
        count = (int)n;
        if (values)
            memcpy(axes, values, n * sizeof *axes);
    }

    for (int d = 0; d < FS_MAX_RANK; d++)
        config->reduced[d] = count == 0;
    if (count == 0 && axes_from_input && noop_with_empty_axes) {
        config->noop = true;
        for (int d = 0; d < FS_MAX_RANK; d++)
            config->reduced[d] = false;
    }
    for (int i = 0; i < count; i++) {
        int axis;
        status = fs_ops_normalize_axis(node, "an entry of 'axes'", axes[i], x->rank, &axis, err);
        if (status != FACESIM_OK)
            return status;
        config->reduced[axis] = true;
    }
    return FACESIM_OK;
}

static int reduce_infer(fs_graph *graph, fs_node *node, bool is_sum, fs_error *err)
{
    int max_inputs = is_sum && graph->opset >= 13 ? 2 : 1;
    int status = fs_op_check_arity(node, 1, max_inputs, 1, err);
    if (status == FACESIM_OK)
        status = fs_ops_check_input(graph, node, 0,
                                    is_sum ? FS_OPS_FLOAT | FS_OPS_INT64 : FS_OPS_FLOAT, err);
    if (status != FACESIM_OK)
        return status;
    reduce_config config;
    status = reduce_configure(graph, node, is_sum, &config, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *x = fs_node_input(graph, node, 0);
    int64_t dims[FS_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < x->rank; d++) {
        if (!config.reduced[d])
            dims[rank++] = x->dims[d];
        else if (config.keepdims)
            dims[rank++] = 1;
    }
    return fs_ops_set_output(graph, node, 0, x->dtype, rank, dims, err);
}

/* The input split into kept dims (one output element each) and reduced dims, with
 * adjacent reduced dims merged since they are contiguous in a plain tensor. */
typedef struct reduce_plan {
    int n_kept, n_reduced;
    int64_t kept_dims[FS_MAX_RANK], kept_strides[FS_MAX_RANK];
    int64_t reduced_dims[FS_MAX_RANK], reduced_strides[FS_MAX_RANK];
    int64_t reduced_count;
} reduce_plan;

static void reduce_make_plan(const fs_value *x, const reduce_config *config, reduce_plan *plan)
{
    int64_t strides[FS_MAX_RANK];
    fs_ops_strides(x->rank, x->dims, strides);
    plan->n_kept = 0;
    plan->n_reduced = 0;
    plan->reduced_count = 1;
    for (int d = 0; d < x->rank; d++) {
        if (!config->reduced[d]) {
            plan->kept_dims[plan->n_kept] = x->dims[d];
            plan->kept_strides[plan->n_kept++] = strides[d];
            continue;
        }
        plan->reduced_count *= x->dims[d];
        int n = plan->n_reduced;
        if (n > 0 && d > 0 && config->reduced[d - 1]) {
            plan->reduced_dims[n - 1] *= x->dims[d];
            plan->reduced_strides[n - 1] = strides[d];
            continue;
        }
        plan->reduced_dims[n] = x->dims[d];
        plan->reduced_strides[n] = strides[d];
        plan->n_reduced++;
    }
}

/* Defines reduce_sum_<T>: the sum of the reduced box that starts at `base`. */
#define REDUCE_SUM_KERNEL(name, T, Acc)                                                    \
    static Acc reduce_sum_##name(const reduce_plan *plan, const T *base)                   \
    {                                                                                      \
        if (plan->n_reduced == 0)                                                          \
            return (Acc)base[0];                                                           \
        int inner = plan->n_reduced - 1;                                                   \
        int64_t length = plan->reduced_dims[inner], step = plan->reduced_strides[inner];   \
        int64_t blocks = plan->reduced_count / (length ? length : 1);                      \
        Acc sum = 0;                                                                       \
        for (int64_t b = 0; length > 0 && b < blocks; b++) {                               \
            int64_t offset = 0, rest = b;                                                  \
            for (int d = inner - 1; d >= 0; d--) {                                         \
                offset += (rest % plan->reduced_dims[d]) * plan->reduced_strides[d];       \
                rest /= plan->reduced_dims[d];                                             \
            }                                                                              \
            const T *p = base + offset;                                                    \
            for (int64_t i = 0; i < length; i++)                                           \
                sum += (Acc)p[i * step];                                                   \
        }                                                                                  \
        return sum;                                                                        \
    }

REDUCE_SUM_KERNEL(float, float, double)
REDUCE_SUM_KERNEL(int64, int64_t, uint64_t)

static int reduce_run(fs_run_ctx *ctx, fs_node *node, bool is_sum, fs_error *err)
{
    reduce_config config;
    int status = reduce_configure(ctx->graph, node, is_sum, &config, err);
    if (status != FACESIM_OK)
        return status;
    const fs_value *x = fs_node_input(ctx->graph, node, 0);
    const fs_value *y = fs_node_output(ctx->graph, node, 0);
    int64_t outputs = fs_value_numel(y);
    reduce_plan plan;
    reduce_make_plan(x, &config, &plan);
    int threads = fs_ops_threads(ctx, fs_value_numel(x));
    const void *input = fs_ops_input_data(ctx, node, 0);
    void *output = fs_ops_output_data(ctx, node, 0);
    bool is_float = x->dtype == FS_DTYPE_FLOAT;

    #pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (int64_t o = 0; o < outputs; o++) {
        int64_t offset = 0, rest = o;
        for (int d = plan.n_kept - 1; d >= 0; d--) {
            offset += (rest % plan.kept_dims[d]) * plan.kept_strides[d];
            rest /= plan.kept_dims[d];
        }
        if (is_float) {
            double sum = reduce_sum_float(&plan, (const float *)input + offset);
            if (!is_sum)
                sum = plan.reduced_count > 0 ? sum / (double)plan.reduced_count : NAN;
            ((float *)output)[o] = (float)sum;
        } else {
            ((int64_t *)output)[o] = (int64_t)reduce_sum_int64(&plan,
                                                               (const int64_t *)input + offset);
        }
    }
    return FACESIM_OK;
}

static int reduce_mean_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    return reduce_infer(graph, node, false, err);
}

static int reduce_mean_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    return reduce_run(ctx, node, false, err);
}

static int reduce_sum_infer(fs_graph *graph, fs_node *node, fs_error *err)
{
    return reduce_infer(graph, node, true, err);
}

static int reduce_sum_run(fs_run_ctx *ctx, fs_node *node, fs_error *err)
{
    return reduce_run(ctx, node, true, err);
}

const fs_op fs_op_reduce_mean = {
    .op_type = "ReduceMean",
    .infer = reduce_mean_infer,
    .run = reduce_mean_run,
};

const fs_op fs_op_reduce_sum = {
    .op_type = "ReduceSum",
    .infer = reduce_sum_infer,
    .run = reduce_sum_run,
};

/*
 * A one-node graph for testing the oneDNN-backed ops (Conv, pooling, Gemm, MatMul) the way
 * the executor drives them: infer, accepts_layouts, prepare (with a real oneDNN engine and
 * a real weight cache) and run, with runtime inputs stored plain or NHWC.
 *
 *     kernel_case *kc = kernel_case_create("Conv");
 *     int x = kernel_case_input(kc, 4, x_dims, x_data, false);
 *     kernel_case_input(kc, 4, w_dims, w_data, true);
 *     kernel_case_set_layout(kc, x, FS_LAYOUT_NHWC);
 *     kernel_case_attr_ints(kc, "pads", pads, 4);
 *     assert_int_equal(kernel_case_run(kc, &err), FACESIM_OK);
 *     ... kc->output is the result in plain NCHW order, kc->out_dims its shape ...
 *     kernel_case_free(kc);
 *
 * Running again (after kernel_case_set_input changed a shape) re-plans the same node with
 * the same weight cache, as the engine does when an input shape changes.
 */
#ifndef FS_TESTS_KERNEL_HARNESS_H
#define FS_TESTS_KERNEL_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/dnnl_glue.h"
#include "engine/graph.h"
#include "engine/op.h"
#include "engine/weight_cache.h"

#define KERNEL_CASE_MAX_VALUES 16
#define KERNEL_CASE_MAX_ATTRS 16

typedef struct kernel_case {
    fs_graph *graph;
    const fs_op *op;
    char op_type[32];
    int node;                         /* -1 until the first run adds it */
    int inputs[KERNEL_CASE_MAX_VALUES];
    int n_inputs;
    int n_outputs;                    /* outputs the node declares (default 1) */
    fs_attr attrs[KERNEL_CASE_MAX_ATTRS];
    int n_attrs;

    float *plain[KERNEL_CASE_MAX_VALUES];      /* runtime values' data, plain order */
    fs_layout layouts[KERNEL_CASE_MAX_VALUES]; /* requested layout of runtime values */

    /* Fusion settings copied into the node before each run. */
    int fused_activation;
    float fused_min, fused_max;
    int fused_slope;
    int fused_sum;
    int fused_sum_activation;
    float fused_sum_min, fused_sum_max;

    fs_dnnl *dnnl;
    fs_weight_cache *weights;
    fs_tensor tensors[KERNEL_CASE_MAX_VALUES];
    void *buffers[KERNEL_CASE_MAX_VALUES];     /* runtime tensors this harness allocated */
    void *scratch;

    bool layouts_accepted;            /* what accepts_layouts returned on the last run */
    fs_layout output_layout;          /* the layout prepare chose for the output */
    float *output;                    /* result in plain order, numel floats */
    int out_rank;
    int64_t out_dims[FS_MAX_RANK];
    int64_t out_numel;
} kernel_case;

/* Starts a case for op_type; aborts the test program when out of memory. */
kernel_case *kernel_case_create(const char *op_type);
void kernel_case_free(kernel_case *kc);

/*
 * Adds a value (copying data, plain row-major order) and, when as_input is true, appends
 * it to the node's inputs. A constant's data lives in the graph; a runtime value is copied
 * into its layout at each run. Returns the value index.
 */
int kernel_case_value(kernel_case *kc, int rank, const int64_t *dims, const float *data,
                      bool constant, bool as_input);
int kernel_case_input(kernel_case *kc, int rank, const int64_t *dims, const float *data,
                      bool constant);
/* Appends an omitted optional input. */
void kernel_case_input_omitted(kernel_case *kc);
/* Replaces a runtime value's shape and data before the next run. */
void kernel_case_set_input(kernel_case *kc, int value, int rank, const int64_t *dims,
                           const float *data);
void kernel_case_set_layout(kernel_case *kc, int value, fs_layout layout);

void kernel_case_attr_int(kernel_case *kc, const char *name, int64_t value);
void kernel_case_attr_float(kernel_case *kc, const char *name, float value);
void kernel_case_attr_ints(kernel_case *kc, const char *name, const int64_t *values,
                           size_t count);
void kernel_case_attr_string(kernel_case *kc, const char *name, const char *value);

/*
 * Runs infer, accepts_layouts (converting rejected NHWC inputs to plain), prepare and run.
 * Returns the first failing status with its message in err. On success kc->output is the
 * output in plain order.
 */
int kernel_case_run(kernel_case *kc, fs_error *err);

/* Frees the weight's plain data and marks it packed, as the engine does once every reader
 * has packed it. */
void kernel_case_drop_constant(kernel_case *kc, int value);

/* Element count of a shape. */
int64_t kernel_numel(int rank, const int64_t *dims);

/* Copies logical-NCHW src into NHWC dst and back. */
void kernel_nchw_to_nhwc(const float *src, float *dst, const int64_t dims[4]);
void kernel_nhwc_to_nchw(const float *src, float *dst, const int64_t dims[4]);

#endif /* FS_TESTS_KERNEL_HARNESS_H */

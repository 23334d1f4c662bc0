/*
 * The table of operators the engine implements.
 *
 * Each ops/<name>.c defines `const fs_op fs_op_<name>`. The table refers to every one,
 * so linking libfacesim.a the ordinary way pulls all op files into a program.
 */
#include <string.h>

#include "engine/op.h"

#define FS_OP_LIST(X)                                                                      \
    X(conv) X(batch_normalization) X(relu) X(prelu) X(leaky_relu) X(clip) X(sigmoid)       \
    X(tanh) X(exp) X(sqrt) X(neg) X(floor) X(softmax) X(add) X(sub) X(mul) X(div) X(pow)   \
    X(max_pool) X(average_pool) X(global_average_pool) X(global_max_pool) X(resize)        \
    X(upsample) X(concat) X(reshape) X(transpose) X(flatten) X(gemm) X(matmul) X(slice)    \
    X(gather) X(shape) X(unsqueeze) X(squeeze) X(constant) X(identity) X(dropout) X(pad)   \
    X(cast) X(constant_of_shape) X(reduce_mean) X(reduce_sum)

#define FS_DECLARE_OP(name) extern const fs_op fs_op_##name;
FS_OP_LIST(FS_DECLARE_OP)

#define FS_OP_ENTRY(name) &fs_op_##name,

const fs_op *fs_op_find(const char *op_type)
{
    static const fs_op *const table[] = { FS_OP_LIST(FS_OP_ENTRY) };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i]->op_type, op_type) == 0)
            return table[i];
    return NULL;
}

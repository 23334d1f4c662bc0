#!/usr/bin/python3
"""Write a copy of an ONNX model whose batch dimension is symbolic.

Usage: /usr/bin/python3 make-dynamic-batch.py IN.onnx OUT.onnx

Some exported models declare batch 1 and hard-code it: the default pack's
fr_feature.onnx has input 1x3x112x112 and a Reshape to [1, -1] before its 1x512
output. onnxruntime rejects other batch sizes for such a model. The copy names
dimension 0 of every graph input and output "N". It also changes a constant Reshape
target whose first entry is 1 to 0, which in ONNX Reshape copies that dimension from
the input. The network then computes the same per-image function for any batch size.
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().split('\n\n')[1], file=sys.stderr)
        return 2
    source, target = sys.argv[1], sys.argv[2]
    model = onnx.load(source)
    graph = model.graph

    initializers = {tensor.name: tensor for tensor in graph.initializer}
    constant_inputs = set(initializers)
    for value in list(graph.input) + list(graph.output):
        if value.name in constant_inputs:
            continue
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 0:
            continue
        dims[0].ClearField('dim_value')
        dims[0].dim_param = 'N'

    rewritten = 0
    for node in graph.node:
        if node.op_type != 'Reshape' or node.input[1] not in initializers:
            continue
        shape = numpy_helper.to_array(initializers[node.input[1]]).copy()
        if shape.ndim == 1 and shape.size > 0 and shape[0] == 1:
            shape[0] = 0
            initializers[node.input[1]].CopyFrom(numpy_helper.from_array(shape.astype(np.int64), node.input[1]))
            rewritten += 1

    # Intermediate shapes recorded for batch 1 would contradict the new batch dimension.
    del graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, target)
    print('make-dynamic-batch: wrote %s (%d Reshape targets rewritten)' % (target, rewritten))
    return 0


if __name__ == '__main__':
    sys.exit(main())

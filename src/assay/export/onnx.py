"""Export a Run's final model -- preprocessing, every member, the margin-space ensemble --
as ONE ONNX graph, verified against the Python model.

Graph contract (also written into the model's metadata):

* inputs: one (N, 1) tensor per raw feature column, named as the column: double for
  numeric and boolean columns (NaN = missing), string for categorical and
  high-cardinality columns (the empty string = missing; unseen levels are fine), double
  seconds since 1970-01-01 UTC for datetime columns (NaN = missing);
* outputs: classification -- `probabilities` (N, K) double in the order of the Run's
  classes and `label` (N,) int64, the index of the predicted class; regression --
  `prediction` (N,) double.

Members combine as in `assay.ensemble.space`: binary -> logit of p1, multiclass -> log p,
weighted mean, then sigmoid / softmax; regression -> weighted mean.

What does not convert (text columns, CatBoost with categorical features,
distance-weighted kNN, HistGradientBoosting with native categorical splits) is named
precisely in `OnnxExportError`. With `allow_partial=True`, members that
do not convert are left out (the others keep their relative weights), the export says so
in export.json, and the difference to the Run's full model is measured and reported --
the exported model is then a different (smaller) ensemble, never passed off as the Run's.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from assay.errors import AssayInputError
from assay.export._graph import MISSING, Graph, NotConvertible

ONNX_FILE = "model.onnx"
REPORT_FILE = "export.json"
PROBA_TOLERANCE = 1e-4         # max abs difference of probabilities allowed at verification
VALUE_TOLERANCE = 1e-4         # regression: relative to max(1, max |prediction|)
MAX_VERIFY_ROWS = 20_000
_EPS = 1e-12                   # as assay.ensemble.space


class OnnxExportError(AssayInputError):
    """The Run's model (or a part of it) cannot be exported to ONNX."""


class OnnxVerificationError(OnnxExportError):
    """The ONNX model's predictions differ from the Python model's beyond the tolerance."""


@dataclass
class ExportReport:
    path: str
    complete: bool                           # every member converted
    members: list[dict]                      # member, family, weight, converted, reason
    verified_on: str                         # a file name, "the DataFrame given", or "synthetic rows"
    n_rows: int
    max_abs_diff: float                      # ONNX vs Python on the exported members
    tolerance: float
    label_agreement: float | None            # classification: share of equal labels
    max_abs_diff_vs_run: float | None = None  # partial export: vs the Run's full model
    inputs: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list)
    opsets: dict = field(default_factory=dict)
    size_bytes: int = 0
    seconds: float = 0.0
    versions: dict = field(default_factory=dict)
    format: str = "onnx"

    def to_dict(self) -> dict:
        from assay.audit.result import _plain

        return _plain(asdict(self))


def _libs(modules=("onnx", "onnxruntime", "skl2onnx", "onnxmltools")):
    from assay.errors import require

    for mod in modules:
        require(mod, "export")


def build_onnx(run, allow_partial: bool = False):
    """(onnx.ModelProto, member rows, converted members). Raises OnnxExportError naming
    what does not convert (unless `allow_partial` and at least one member converts)."""
    _libs()
    from onnx import TensorProto, helper

    from assay.ensemble.build import ConstantModel
    from assay.export.learners import Features, convert_learner
    from assay.export.mlp import convert_mlp
    from assay.export.prep import convert_preprocessor, input_kinds

    schema, model = run.schema, run.model
    task, k = schema.task, len(schema.classes or [])
    g = Graph()
    kinds = input_kinds(schema)
    inputs = {c: g.input(c, TensorProto.STRING if t == "string" else TensorProto.DOUBLE)
              for c, t in kinds.items()}
    rows, kept, margins = [], [], []
    for m in model.members:
        mark = (len(g.nodes), len(g.initializers), dict(g.opsets))
        row = {"member": m.name, "family": m.family, "weight": float(m.weight), "converted": True, "reason": ""}
        try:
            if m.family == "stack":
                raise NotConvertible("the second (stacking) layer does not convert to ONNX; "
                                     "fit with --stack off to export the whole ensemble")
            ms = []
            for est in m.estimators:
                if isinstance(est, ConstantModel):         # the baseline: class prior or mean
                    like = next(iter(inputs.values()))
                    if task == "regression":
                        ms.append(g.reshape(g.rows_of([est.value_], like), [-1]))
                    else:
                        ms.append(_to_margin(g, g.rows_of(est.proba_, like), task))
                    continue
                prep, learner = est.steps[0][1], est.steps[-1][1]
                if m.family == "mlp":
                    out = convert_mlp(g, est, inputs, task)
                else:
                    f64 = convert_preprocessor(g, prep, inputs)
                    out = convert_learner(g, learner, task, k, Features(g, f64, int(prep.n_features_out_)))
                ms.append(_to_margin(g, out, task))
            margins.append((_mean(g, ms), m.weight))
            kept.append(m)
        except Exception as e:            # NotConvertible, or a converter library that gave up
            g.nodes[mark[0]:], g.initializers[mark[1]:] = [], []
            g.opsets = mark[2]
            reason = str(e) if isinstance(e, NotConvertible) else \
                f"the converter failed ({type(e).__name__}: {str(e)[:300]})"
            row.update(converted=False, reason=reason)
        rows.append(row)
    failed = [r for r in rows if not r["converted"]]
    if failed and (not allow_partial or not kept):
        parts = "; ".join(f"{r['member']}: {r['reason']}" for r in failed)
        hint = "To export, fit without the parts named (drop those columns, or leave out those families)"
        if kept:
            hint += (", or use --allow-partial (allow_partial=True) to export the members that convert: a smaller "
                     "ensemble whose difference to the Run is reported")
        raise OnnxExportError(f"cannot export this Run to ONNX: {parts}. {hint}.")
    total = sum(w for _, w in margins)
    margin = None
    for name, w in margins:
        if not w and total:
            continue
        term = g.op("Mul", [name, g.const(w / total if total else 1.0 / len(margins))])
        margin = term if margin is None else g.op("Add", [margin, term])
    outputs = _outputs(g, margin, task, k)
    meta = {"assay.task": task, "assay.target": str(schema.target),
            "assay.classes": json.dumps([str(c) for c in schema.classes or []]),
            "assay.missing_category": MISSING, "assay.inputs": json.dumps(kinds),
            "assay.members": json.dumps([m.name for m in kept])}
    onnx_model = g.model(outputs, doc="assay Run exported by `assay export`: preprocessing + ensemble")
    helper.set_model_props(onnx_model, meta)
    import onnx

    onnx.checker.check_model(onnx_model)
    return onnx_model, rows, kept


def _to_margin(g: Graph, out: str, task: str) -> str:
    if task == "regression":
        return out
    p = g.op("Clip", [out, g.const(_EPS), g.const(1 - _EPS)])
    logp = g.op("Log", [p])
    if task == "binary":
        one = g.op("Gather", [logp, g.const(1, np.int64)], axis=1)
        zero = g.op("Gather", [logp, g.const(0, np.int64)], axis=1)
        return g.op("Sub", [one, zero])
    return logp


def _mean(g: Graph, parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return g.op("Mul", [g.op("Sum", parts), g.const(1.0 / len(parts))])


def _outputs(g: Graph, margin: str, task: str, k: int) -> list:
    from onnx import TensorProto, helper

    if task == "regression":
        g.nodes.append(helper.make_node("Identity", [margin], ["prediction"]))
        return [helper.make_tensor_value_info("prediction", TensorProto.DOUBLE, [None])]
    if task == "binary":
        p1 = g.reshape(g.op("Sigmoid", [margin]), [-1, 1])
        probs = g.op("Concat", [g.op("Sub", [g.const(1.0), p1]), p1], axis=1)
    else:
        probs = g.op("Softmax", [margin], axis=1)
    g.nodes.append(helper.make_node("Identity", [probs], ["probabilities"]))
    g.nodes.append(helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0))
    return [helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE, [None, k]),
            helper.make_tensor_value_info("label", TensorProto.INT64, [None])]


# -- feeding the graph -----------------------------------------------------------------------


def onnx_feeds(X: pd.DataFrame, schema) -> dict[str, np.ndarray]:
    """The graph's inputs from model-ready rows (`assay.data.validate.align_for_predict`)."""
    from assay.export.prep import input_kinds

    feeds = {}
    for col, kind in input_kinds(schema).items():
        s = X[col]
        if kind == "double":
            feeds[col] = s.to_numpy(dtype=np.float64, na_value=np.nan).reshape(-1, 1)
        elif kind == "datetime":          # naive UTC datetime64 (align_for_predict) -> epoch seconds
            secs = (pd.to_datetime(s) - pd.Timestamp(0)).dt.total_seconds()
            feeds[col] = secs.to_numpy(dtype=np.float64, na_value=np.nan).reshape(-1, 1)
        else:
            v = s.to_numpy(dtype=object, copy=True)
            missing = s.isna().to_numpy()
            if missing.any():
                v[missing] = MISSING
            if pd.api.types.infer_dtype(v, skipna=False) not in ("string", "empty"):
                v = np.asarray([x if isinstance(x, str) else str(x) for x in v], dtype=object)
            feeds[col] = v.reshape(-1, 1)
    return feeds


def session(model_bytes: bytes, threads: int | None = None):
    """An ONNX Runtime session (CPU). Its intra-op threads do not spin while idle: spinning
    threads halve the throughput on a machine whose cores other processes (or other server
    workers) share."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return ort.InferenceSession(model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])


def run_session(sess, X: pd.DataFrame, schema) -> np.ndarray:
    """Probabilities (n, K) or values (n,), as `EnsembleModel.predict_output`."""
    k = len(schema.classes or [])
    if len(X) == 0:
        return np.zeros(0) if schema.task == "regression" else np.zeros((0, k))
    out = sess.run([sess.get_outputs()[0].name], onnx_feeds(X, schema))[0]
    return np.asarray(out, dtype=np.float64)


# -- the export -------------------------------------------------------------------------------


def export_onnx(run, data=None, allow_partial: bool = False, path=None,
                tolerance: float | None = None) -> ExportReport:
    """Convert `run`'s final model to ONNX, verify it, write `model.onnx` and `export.json`.

    `run`: a Run or a Run directory. `data`: held-out rows (file or DataFrame) for the
    verification; without it, synthetic rows drawn from the schema are used (weaker: say so).
    `path`: where to write (default: the Run directory). Raises OnnxExportError (what does
    not convert) or OnnxVerificationError (the predictions differ beyond `tolerance`)."""
    from assay.export.prep import input_kinds
    from assay.run import Run, load

    t0 = time.perf_counter()
    if not isinstance(run, Run):
        run = load(run)
    dest = Path(path) if path is not None else run.path
    if dest is None:
        raise OnnxExportError("this Run has not been saved: give `path` (a directory) to write model.onnx to")
    model, rows, kept = build_onnx(run, allow_partial=allow_partial)
    blob = model.SerializeToString()
    sess = session(blob)

    if data is not None:
        X = run.features(data)
        verified_on = Path(data).name if isinstance(data, (str, Path)) else "the DataFrame given"
    else:
        X = synthetic_rows(run.schema)
        verified_on = "synthetic rows (pass held-out data for a real check)"
    X = X.iloc[:MAX_VERIFY_ROWS]
    if len(X) == 0:
        raise OnnxExportError("the verification data has no rows; pass held-out rows with the Run's columns")
    got = run_session(sess, X, run.schema)
    from assay.ensemble.model import EnsembleModel

    exported = EnsembleModel(task=run.task, n_classes=run.model.n_classes, members=kept)
    want = exported.predict_output(X)
    diff = float(np.max(np.abs(got - want)))
    regression = run.task == "regression"
    if tolerance is None:
        tolerance = VALUE_TOLERANCE * max(1.0, float(np.max(np.abs(want)))) if regression else PROBA_TOLERANCE
    agree = None if regression else float(np.mean(got.argmax(axis=1) == want.argmax(axis=1)))
    vs_run = None
    if len(kept) < len(run.model.members):
        vs_run = float(np.max(np.abs(got - run.model.predict_output(X))))
    if not diff <= tolerance:
        raise OnnxVerificationError(
            f"the ONNX model's predictions differ from the Python model's by up to {diff:.3g} on {len(X)} rows of "
            f"{verified_on} (tolerance {tolerance:.3g}); model.onnx was not written")

    dest.mkdir(parents=True, exist_ok=True)
    _atomic_write(dest / ONNX_FILE, blob)
    report = ExportReport(
        path=ONNX_FILE, complete=len(kept) == len(run.model.members), members=rows, verified_on=verified_on,
        n_rows=len(X), max_abs_diff=diff, tolerance=float(tolerance), label_agreement=agree,
        max_abs_diff_vs_run=vs_run,
        inputs=input_kinds(run.schema),
        outputs=[o.name for o in model.graph.output],
        opsets={(imp.domain or "ai.onnx"): imp.version for imp in model.opset_import},
        size_bytes=len(blob), seconds=round(time.perf_counter() - t0, 3), versions=_versions())
    _atomic_write(dest / REPORT_FILE, json.dumps(report.to_dict(), indent=1).encode())
    return report


def synthetic_rows(schema, n: int = 500, seed: int = 0) -> pd.DataFrame:
    """Rows for a verification without data: every known level of each categorical column
    (plus missing and an unseen one), numbers spread over several scales, some missing."""
    from assay.data.schema import BOOLEAN, DATETIME, NUMERIC

    rng = np.random.default_rng(seed)
    cols = {}
    for spec in schema.features:
        if spec.kind == NUMERIC:
            v = rng.normal(size=n) * 10.0 ** rng.integers(-1, 4, size=n)
            v[rng.random(n) < 0.05] = np.nan
        elif spec.kind == BOOLEAN:
            v = rng.integers(0, 2, size=n).astype(float)
        elif spec.kind == DATETIME:      # 1900..2100, to the second, some missing
            v = pd.to_datetime(rng.integers(-2_208_988_800, 4_102_444_800, size=n), unit="s")
            v = pd.Series(v).where(rng.random(n) >= 0.05)
        else:
            levels = [str(c) for c in (spec.categories or [])] + [np.nan, "\x01unseen"]
            v = np.asarray(levels, dtype=object)[rng.integers(0, len(levels), size=n)]
        cols[spec.name] = v
    from assay.data.validate import align_for_predict

    X, _ = align_for_predict(pd.DataFrame(cols), schema)
    return X


def _atomic_write(path: Path, blob: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)


def _versions() -> dict:
    import importlib

    out = {}
    for mod in ("onnx", "onnxruntime", "skl2onnx", "onnxmltools"):
        try:
            out[mod] = importlib.import_module(mod).__version__
        except (ImportError, AttributeError):      # pragma: no cover - all four are required above
            out[mod] = "unknown"
    return out

"""Score with a Run's exported `model.onnx` in ONNX Runtime (`assay serve --engine onnx`).

The rows go through the same checks and coercion as `Run.predict_frame` (the Run's
schema, from run.json), then into the ONNX graph; the Python model is never loaded.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from assay.errors import RunDirectoryError
from assay.export.onnx import ONNX_FILE, REPORT_FILE, _libs, run_session, session


class OnnxModelMissingError(RunDirectoryError):
    """The Run directory holds no model.onnx (it was never exported)."""


class OnnxEngine:
    def __init__(self, run_dir, threads: int | None = None):
        from assay import store
        from assay.data.schema import Schema

        self.path = Path(run_dir)
        meta = store.read_meta(self.path)          # RunDirectoryError for a non-Run
        onnx_path = self.path / ONNX_FILE
        if not onnx_path.is_file():
            raise OnnxModelMissingError(
                f"no {ONNX_FILE} in the Run {self.path}: run `assay export {self.path} --format onnx` first")
        _libs(("onnxruntime",))
        self.schema = Schema.from_dict(meta["schema"])
        self.meta = meta
        report = self.path / REPORT_FILE
        self.export_info = json.loads(report.read_text()) if report.is_file() else {}
        if self.export_info and not self.export_info.get("complete", True):
            left = [m["member"] for m in self.export_info.get("members", []) if not m.get("converted")]
            warnings.warn(f"{ONNX_FILE} of {self.path} is a partial export (left out: {', '.join(left)}); its "
                          f"predictions differ from the Run's by up to "
                          f"{self.export_info.get('max_abs_diff_vs_run')}", stacklevel=2)
        self.session = session(onnx_path.read_bytes(), threads)

    @property
    def task(self) -> str:
        return self.schema.task

    @property
    def classes(self) -> list | None:
        return self.schema.classes

    def _align(self, df) -> pd.DataFrame:
        from assay import log
        from assay.data.validate import align_for_predict

        X, notes = align_for_predict(df, self.schema)
        for note in notes:
            log.info(note)
        return X

    def predict_output(self, data) -> np.ndarray:
        """Probabilities (n, K) or values (n,), in the encoded class order (as `Run.predict_output`)."""
        from assay.data.io import read_table

        return run_session(self.session, self._align(read_table(data, what="prediction data")), self.schema)

    def _labels(self, out: np.ndarray) -> np.ndarray:
        """Class labels by the Run's own decision rule (tuned offsets for threshold metrics,
        run.json "decision"), so labels equal `Run.predict`'s."""
        from assay.data.validate import decode_target
        from assay.ensemble.decision import decide

        offsets = (self.meta.get("decision") or {}).get("offsets")
        return decode_target(decide(out, None if offsets is None else np.asarray(offsets)), self.schema)

    def predict(self, data) -> np.ndarray:
        out = self.predict_output(data)
        if self.task == "regression":
            return out
        return self._labels(out)

    def predict_frame(self, data) -> pd.DataFrame:
        """The input rows with `prediction` (and `proba_<class>` columns), as `Run.predict_frame`."""
        from assay.data.io import read_table

        res = read_table(data, what="prediction data")
        from assay.run import add_predictions

        out = run_session(self.session, self._align(res), self.schema)
        return add_predictions(res, out, self.classes, None if self.task == "regression" else self._labels(out))

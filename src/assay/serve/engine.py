"""Scoring engines behind `assay serve`.

An engine turns a DataFrame of feature columns into the frame `Run.predict_frame` returns:
the input columns plus `prediction` and, for classification, one `proba_<class>` column per
class. `PythonEngine` scores with the Run's own fitted model; `OnnxEngine` (in
`assay.export.onnx_engine`, loaded lazily) with the Run's exported `model.onnx` in ONNX
Runtime. Explanations (/explain) always come from the Python model.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from assay.errors import MissingExtraError, OptionError, RunDirectoryError

ENGINES = ("python", "onnx")


class Engine:
    """The interface: `predict_frame(df) -> DataFrame` (prediction + proba_<class> columns)."""

    name = "engine"

    def predict_frame(self, df: pd.DataFrame) -> pd.DataFrame:  # pragma: no cover - interface
        raise NotImplementedError


class PythonEngine(Engine):
    """The Run's fitted model in this process (`Run.predict_frame`)."""

    name = "python"

    def __init__(self, run):
        self.run = run

    def predict_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        return self.run.predict_frame(df)


def load_engine(name: str, run) -> Engine:
    """The engine called `name` for `run` (a loaded Run). One clear error for each way it can
    be unavailable: an unknown name, a Run never exported to ONNX, the ONNX parts absent."""
    if name == "python":
        return PythonEngine(run)
    if name != "onnx":
        raise OptionError(f"unknown engine {name!r}; choose from: {', '.join(ENGINES)}")
    if run.path is None:
        raise OptionError("the ONNX engine needs a saved Run (RUN/model.onnx); save the Run and export it "
                          "with `assay export RUN --format onnx`")
    onnx_file = Path(run.path) / "model.onnx"
    if not onnx_file.is_file():
        raise RunDirectoryError(f"--engine onnx: the Run {run.path} has no model.onnx; create it with "
                                f"`assay export {run.path} --format onnx`, or serve with --engine python")
    try:
        from assay.export.onnx_engine import OnnxEngine
    except MissingExtraError:
        raise
    except ImportError as e:
        missing = getattr(e, "name", None) or str(e)
        if missing.startswith("assay"):
            raise OptionError("--engine onnx is not available in this assay installation "
                              f"({missing} is missing); serve with --engine python") from None
        raise MissingExtraError(missing, "export") from None
    # one intra-op thread: a server answers many small requests (and --workers adds processes);
    # spinning thread pools only add latency when the cores are shared
    engine = OnnxEngine(run.path, threads=1)
    engine.name = "onnx"
    return engine

"""The Run: the fitted artefact. Small on purpose: it predicts, shows its
leaderboard and metadata, and saves/loads itself. Explanation, audits and
serving are separate services that read a Run."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from assay import store
from assay.data.schema import Schema


class Run:
    def __init__(self, *, schema: Schema, model, leaderboard: pd.DataFrame, meta: dict,
                 path: str | None = None, trials_db: str | None = None, arrays: dict | None = None,
                 candidates: dict | None = None):
        self.schema = schema
        self.model = model
        self._leaderboard = leaderboard
        self.meta = meta
        self.path = Path(path) if path else None
        self._trials_db = trials_db
        self._arrays = arrays
        self._candidates = dict(candidates or {})   # name -> fitted single model (loaded lazily)

    # -- what it is -------------------------------------------------------
    @property
    def task(self) -> str:
        return self.schema.task

    @property
    def classes(self) -> list | None:
        return self.schema.classes

    @property
    def metric(self) -> str:
        return self.meta["metric"]

    def leaderboard(self) -> pd.DataFrame:
        return self._leaderboard.copy()

    def info(self) -> dict:
        keys = ("task", "target", "metric", "cv_score", "best_model", "status", "n_rows",
                "timings", "ensemble", "assay_version", "seed", "dropped_columns", "warnings")
        return {k: self.meta.get(k) for k in keys if k in self.meta}

    def oof(self) -> dict:
        """Out-of-fold predictions saved with the Run: 'y' (encoded target), 'rows' (the
        validated rows), 'ensemble' and 'trial_<id>' for every successful trial."""
        if self._arrays is None:
            self._arrays = store.read_arrays(self.path) if self.path else {}
        return self._arrays

    # -- the models a Run keeps ---------------------------------------------
    def models(self) -> list[str]:
        """Names `predict(..., model=NAME)` accepts: "ensemble" (the default) and the best
        single model of each family (e.g. "lightgbm#3"; a family name picks its best)."""
        return ["ensemble"] + sorted(set(self._candidates) | set(self.meta.get("candidates") or {}))

    def model_for(self, name: str | None = None):
        """The fitted model called `name` (see `models()`); None or "ensemble": the final model."""
        if name is None or name == "ensemble":
            return self.model
        names = self.models()[1:]
        if name not in names:        # a family name: its best (the only one kept per family)
            by_family = [n for n in names if n.split("#")[0] == name]
            if len(by_family) != 1:
                from assay.errors import OptionError

                raise OptionError(f"this Run keeps no model called {name!r}; choose from: "
                                  + ", ".join(self.models()))
            name = by_family[0]
        if name not in self._candidates:
            self._candidates[name] = store.read_candidate(self.path, name, self.meta["candidates"], self.model)
        return self._candidates[name]

    # -- predictions ------------------------------------------------------
    def features(self, data) -> pd.DataFrame:
        """The model-ready feature columns of `data` (checked and coerced to the schema)."""
        from assay.data.io import read_table

        return self._align(read_table(data, what="prediction data"))

    def _align(self, df: pd.DataFrame) -> pd.DataFrame:
        from assay.data.validate import align_for_predict

        X, notes = align_for_predict(df, self.schema)
        for note in notes:
            from assay import log

            log.info(note)
        for col in getattr(self.model, "sensitive_columns", None) or []:
            if col in df.columns and col not in X.columns:   # a fairness-mitigated model reads it
                X[col] = df[col].to_numpy()
        return X

    def predict_output(self, data, model: str | None = None) -> np.ndarray:
        """Probabilities (n, K) or values (n,), in the encoded class order. `model`: one of
        `models()` (default: the final ensemble)."""
        return self.model_for(model).predict_output(self.features(data))

    def predict(self, data, model: str | None = None) -> np.ndarray:
        """Labels in the user's own classes (classification) or values (regression)."""
        out = self.predict_output(data, model)
        if self.task == "regression":
            return out
        return self._labels(out, model)

    def predict_proba(self, data, model: str | None = None) -> pd.DataFrame:
        if self.task == "regression":
            from assay.errors import OptionError

            raise OptionError("predict_proba is for classification; this Run is a regression")
        out = self.predict_output(data, model)
        return pd.DataFrame(out, columns=[str(c) for c in self.classes])

    def _labels(self, out: np.ndarray, model: str | None = None) -> np.ndarray:
        """Class labels from probabilities: the model's tuned decision rule where it has one
        (a threshold for a threshold metric), else the most probable class."""
        from assay.data.validate import decode_target

        decide = getattr(self.model_for(model), "decide", None)
        codes = decide(out) if decide is not None else out.argmax(axis=1)
        return decode_target(codes, self.schema)

    def predict_frame(self, data, model: str | None = None) -> pd.DataFrame:
        """The input rows with `prediction` (and one `proba_<class>` column per class) added."""
        from assay.data.io import read_table

        res = read_table(data, what="prediction data")   # our own copy: the user's data is untouched
        out = self.model_for(model).predict_output(self._align(res))
        return add_predictions(res, out, self.classes, None if self.task == "regression" else self._labels(out, model))

    # -- services over the Run --------------------------------------------
    def explain(self, data, rows=None, **kw):
        """SHAP values of the final model for `data` (see `assay.audit.explain`)."""
        from assay.audit.explain import explain

        return explain(self, data, rows, **kw)

    def report(self, data=None, out=None, **kw):
        """Write the HTML report of this Run (see `assay.report.build_report`); returns its path."""
        from assay.report import build_report

        return build_report(self, data, out, **kw)

    def fairness(self, data, sensitive=None, **kw):
        """Group metrics and disparities with bootstrap intervals, and proxies, for the rows of
        `data` (with their true target); see `assay.fairness.metrics.fairness_audit`."""
        from assay.fairness.metrics import fairness_audit

        return fairness_audit(self, data, sensitive, **kw)

    # -- persistence ------------------------------------------------------
    def keep_trials_db_in_memory(self) -> None:
        """Hold the Optuna study's SQLite file as bytes (for a Run not yet saved)."""
        if isinstance(self._trials_db, str) and Path(self._trials_db).exists():
            self._trials_db = Path(self._trials_db).read_bytes()

    def save(self, path, overwrite: bool = False) -> Path:
        db = self._trials_db
        if db is None and self.path is not None:
            db = str(self.path / store.TRIALS_DB)
        candidates = {name: self.model_for(name) for name in self.models()[1:]}
        self.path = store.write_run(path, meta=self.meta, leaderboard=self._leaderboard,
                                    model=self.model, trials_db=db, overwrite=overwrite,
                                    arrays=self.oof(), candidates=candidates)
        self.meta["candidates"] = store.candidate_entries(self.model, candidates)
        self._trials_db = str(self.path / store.TRIALS_DB)
        return self.path

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return (f"<assay.Run {self.task} target={self.schema.target!r} "
                f"{self.metric}={self.meta.get('cv_score')}{where}>")


def add_predictions(frame: pd.DataFrame, out: np.ndarray, classes, labels) -> pd.DataFrame:
    """`frame` with `prediction` (labels, or the values for a regression: `labels` None) and one
    `proba_<class>` column per class added (the output of every engine's predict_frame)."""
    if labels is None:
        frame["prediction"] = out
        return frame
    frame["prediction"] = labels
    for j, c in enumerate(classes):
        frame[f"proba_{c}"] = out[:, j]
    return frame


def load(path) -> Run:
    """Load a Run directory written by `assay fit --out` or `Run.save`."""
    meta = store.read_meta(path)
    _warn_on_version_drift(meta)
    model = store.read_model(path)
    lb = pd.read_csv(Path(path) / store.LEADERBOARD)
    return Run(schema=Schema.from_dict(meta["schema"]), model=model, leaderboard=lb,
               meta=meta, path=str(path))


def _warn_on_version_drift(meta: dict) -> None:
    from assay.versions import library_versions

    saved = meta.get("versions", {})
    now = library_versions()
    drift = [f"{k} {saved[k]} -> {now.get(k)}" for k in saved
             if k in now and saved[k] != now[k] and k != "python"]
    if drift:
        warnings.warn("this Run was written with other library versions (" + ", ".join(drift)
                      + "); predictions may differ", stacklevel=3)

"""Distillation: the ensemble's knowledge in one LightGBM, for fast predictions.

The student learns the ensemble's *out-of-fold* margins (assay/ensemble/space.py) -- soft
targets that carry the ensemble's confidence, not only its labels -- by regression: one
LightGBM regressor for a binary or regression task, one per class for a multiclass task
(centred log-probabilities; the softmax ignores the per-row constant). The student is
scored honestly: cross-validated on the search's folds against the true target, then
refit on all rows. It is kept in the Run as the model "distilled" (`predict(...,
model="distilled")`) with its own leaderboard row (score, predict rows/s); the ensemble
stays the default model.

Scoring: the student has NO cross-validated score of its own. Its soft targets are
out-of-fold predictions made by models that saw the other folds' labels, so a student
cross-validated on them reads labels of its validation rows through its training targets
(measured on car: "CV" log loss 0.016 against the ensemble's honest 0.038). What is
reported instead is its fidelity: R^2 of its margins against the ensemble's on held-out
folds, and its predict throughput. Check a distilled model on your own held-out data.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass, replace

import numpy as np

from assay.ensemble.space import from_margin, to_margin

NAME = "distilled"
STUDENT_PARAMS = {"learning_rate": 0.05, "num_leaves": 63, "min_child_samples": 10,
                  "colsample_bytree": 0.8, "min_data_per_group": 20}


class DistilledModel:
    """One regressor per margin column; predicts like an EnsembleModel (`predict_output`)."""

    def __init__(self, task: str, n_classes: int, regressors: list):
        self.task, self.n_classes, self.regressors = task, n_classes, regressors

    def predict_margin(self, X) -> np.ndarray:
        cols = [np.asarray(r.predict(X), dtype=float).ravel() for r in self.regressors]
        return cols[0] if len(cols) == 1 else np.column_stack(cols)

    def predict_output(self, X) -> np.ndarray:
        if len(X) == 0:
            return np.zeros(0) if self.task == "regression" else np.zeros((0, self.n_classes))
        return from_margin(self.predict_margin(X), self.task)

    def decide(self, proba):
        return np.asarray(proba).argmax(axis=1)


def soft_targets(ens_oof: np.ndarray, task: str) -> np.ndarray:
    """(n, m) regression targets: the ensemble's out-of-fold margins."""
    m = to_margin(ens_oof, task)
    if task == "multiclass":
        m = m - m.mean(axis=1, keepdims=True)
    return m.reshape(len(m), -1)


@dataclass
class DistillSpec:
    data_path: str
    targets: np.ndarray          # (n, m) soft targets on every training row
    info: object
    metric: str
    folds: list
    model_path: str
    time_budget: float | None


def _student(info, budget_left: float | None):
    from assay.models.registry import get_family

    schema = replace(info.schema, task="regression", classes=None)
    extra = dict(info.extra)
    if budget_left is not None:
        extra["max_time"] = max(0.2, budget_left)
    return get_family("lightgbm").build(dict(STUDENT_PARAMS), replace(info, schema=schema, extra=extra))


def distill_trial(spec: DistillSpec):
    """Cross-validate the student's fidelity, refit it on all rows (in a worker)."""
    from assay.search.trial import TrialOutcome, load_training_data, validated_rows

    X, _ = load_training_data(spec.data_path)
    task, k = spec.info.task, spec.info.n_classes
    T = spec.targets
    n_fits = len(spec.folds) * T.shape[1] + T.shape[1]
    t0 = time.perf_counter()

    def left():
        if spec.time_budget is None:
            return None
        return (spec.time_budget - (time.perf_counter() - t0)) / max(1, n_fits - fitted)

    fitted = 0
    oof_margin = np.full(T.shape, np.nan)
    for tr, va in spec.folds:
        for j in range(T.shape[1]):
            est = _student(spec.info, left()).fit(X.iloc[tr], T[tr, j])
            oof_margin[va, j] = est.predict(X.iloc[va])
            fitted += 1
    mask = validated_rows(oof_margin[:, 0])
    resid = ((oof_margin[mask] - T[mask]) ** 2).sum()
    total = ((T[mask] - T[mask].mean(axis=0)) ** 2).sum()
    fidelity = 1.0 - resid / total if total > 0 else float("nan")
    fit_s = time.perf_counter() - t0
    regressors = []
    for j in range(T.shape[1]):
        regressors.append(_student(spec.info, left()).fit(X, T[:, j]))
        fitted += 1
    model = DistilledModel(task, k, regressors)
    sample = X.iloc[:2000]
    model.predict_output(sample.iloc[:10])
    t = time.perf_counter()
    model.predict_output(sample)
    pred_s = time.perf_counter() - t
    with open(spec.model_path, "wb") as fh:
        pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return TrialOutcome(oof=None, score=fidelity, value=fidelity, fit_seconds=fit_s,
                        predict_rows_per_s=len(sample) / pred_s if pred_s > 0 else float("inf"),
                        model_path=spec.model_path)


def run_distill(ens_oof, y_rows, *, info, metric, folds, data_path: str, workdir: str, executor,
                timeout: float | None):
    """(TrialRecord, DistilledModel or None). Needs out-of-fold predictions on every row."""
    import os

    from assay import log
    from assay.search.records import TrialRecord

    targets = soft_targets(ens_oof, info.task)
    if len(targets) != len(y_rows):
        return None, None
    path = os.path.join(workdir, "distilled.pkl")
    spec = DistillSpec(data_path, targets, info, metric.name, folds, path,
                       None if timeout is None else max(0.5, 0.85 * timeout - 0.5))
    res = executor.run(distill_trial, (spec,), timeout=timeout)
    rec = TrialRecord(-2, NAME, dict(STUDENT_PARAMS), "distillation", res.status, elapsed=res.elapsed,
                      peak_rss_mb=res.peak_rss_mb or float("nan"), error=res.error)
    if not res.ok:
        log.debug(f"distillation {res.status}: {res.error}")
        return rec, None
    out = res.value
    rec.fit_seconds, rec.predict_rows_per_s = out.fit_seconds, out.predict_rows_per_s
    rec.error = (f"not cross-validated (its soft targets would leak labels); fidelity R2 {out.value:.4f} "
                 "to the ensemble's margins on held-out folds")
    with open(path, "rb") as fh:
        model = pickle.load(fh)
    return rec, model

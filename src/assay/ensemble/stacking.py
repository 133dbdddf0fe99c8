"""A second layer: a stacker trained on the first layer's out-of-fold predictions plus the
original features, offered to the greedy selection as one more candidate.

Inputs of the stacker, per row: the margins (assay/ensemble/space.py) of the best model of
each family (at most `MAX_BASES`, from the search's kept candidates) -- out-of-fold for
the training rows, so the stacker learns how far to trust each model where it did not see
the row -- and the raw features. The stacker is a LightGBM with a conservative
configuration (`STACKER_PARAMS`) through the lightgbm family, so it gets the same
preprocessing, early stopping and time allowance as any trial.

Its own out-of-fold predictions come from the same folds as the first layer's (a stacker
fold model never sees the rows it predicts), so the greedy selection compares it fairly
with the first-layer candidates and gives it weight only if it helps. At predict time the
base models' margins are computed from their fold models (averaged), then the stacker's
fold models are averaged in margin space.

It runs after the search, in an isolated worker like a trial (`stack_trial`), and only
when the budget allows: `use_stacking` says when (`stack="auto"`: time limits of at least
`AUTO_MIN_SECONDS`, or no time limit and at least `AUTO_MIN_TRIALS` trials).
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from assay.ensemble.space import from_margin, to_margin

MAX_BASES = 6
AUTO_MIN_SECONDS = 120.0
AUTO_MIN_TRIALS = 20
STACKER_FAMILY = "stack"
STACKER_PARAMS = {"learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 20,
                  "colsample_bytree": 0.8, "min_data_per_group": 20, "reg_lambda": 1.0}


def use_stacking(config, n_candidates: int) -> bool:
    if config.stack == "off" or n_candidates < 2:
        return False
    if config.stack == "on":
        return True
    if config.time_limit is not None:
        return config.time_limit >= AUTO_MIN_SECONDS
    return (config.max_trials or 0) >= AUTO_MIN_TRIALS


def margin_columns(names: list[str], task: str, n_classes: int) -> list[str]:
    width = n_classes if task == "multiclass" else 1
    return [f"__stack_{i}_{j}" for i in range(len(names)) for j in range(width)]


def _margins_frame(margins: list[np.ndarray], columns: list[str], index) -> pd.DataFrame:
    flat = np.column_stack([m.reshape(len(m), -1) for m in margins]) if margins else np.zeros((len(index), 0))
    return pd.DataFrame(flat, columns=columns, index=index)


def stack_info(info):
    """The ProblemInfo of the stacker: the schema plus one numeric column per base margin."""
    from assay.data.schema import ColumnSpec

    schema = info.schema
    cols = margin_columns(info.extra["stack_bases"], schema.task, info.n_classes)
    extra_cols = [ColumnSpec(name=c, kind="numeric", dtype="float64") for c in cols]
    new_schema = replace(schema, columns=list(schema.columns) + extra_cols)
    return replace(info, schema=new_schema)


class StackedEstimator:
    """Base members (first layer) -> their margins + raw features -> stacker fold models."""

    def __init__(self, bases: list, stackers: list, task: str, n_classes: int, columns: list[str]):
        self.bases, self.stackers = bases, stackers
        self.task, self.n_classes, self.columns = task, n_classes, columns

    def _augment(self, X: pd.DataFrame) -> pd.DataFrame:
        margins = [b.margin(X, self.task) for b in self.bases]
        return pd.concat([X, _margins_frame(margins, self.columns, X.index)], axis=1)

    def _margin(self, X) -> np.ndarray:
        from assay.search.trial import predict_output

        Xa = self._augment(X)
        ms = [to_margin(predict_output(s, Xa, self.task), self.task) for s in self.stackers]
        return np.mean(ms, axis=0)

    def predict_proba(self, X):
        if len(X) == 0:
            return np.zeros((0, self.n_classes))
        return from_margin(self._margin(X), self.task)

    def predict(self, X):
        if self.task == "regression":
            return np.zeros(0) if len(X) == 0 else self._margin(X)
        return self.predict_proba(X).argmax(axis=1)


@dataclass
class StackSpec:
    data_path: str
    bases: list                 # [(trial_id, family, params, model_path, oof), ...]
    info: object                # ProblemInfo (extra["stack_bases"] = base names)
    metric: str
    folds: list
    model_path: str
    time_budget: float | None


def stack_trial(spec: StackSpec):
    """Cross-validate the stacker (in a worker); returns a TrialOutcome, saves [StackedEstimator]."""
    from assay.ensemble.model import Member
    from assay.metrics import get_metric
    from assay.models.registry import get_family
    from assay.search.trial import (TrialOutcome, _with_time_allowance, load_training_data, predict_output,
                                    validated_rows)

    X, y = load_training_data(spec.data_path)
    task = spec.info.task
    info = stack_info(spec.info)
    columns = margin_columns(spec.info.extra["stack_bases"], task, spec.info.n_classes)
    oof_margins = [to_margin(b[4], task) for b in spec.bases]   # k-fold: every row validated
    Xa = pd.concat([X.reset_index(drop=True),
                    _margins_frame(oof_margins, columns, pd.RangeIndex(len(X)))], axis=1)
    metric = get_metric(spec.metric, task)
    family = get_family("lightgbm")
    k = spec.info.n_classes
    oof = np.full((len(y), k) if spec.info.is_classification else len(y), np.nan)
    stackers, fold_values, fit_s, pred_s = [], [], 0.0, 0.0
    t_start = time.perf_counter()
    for i, (tr, va) in enumerate(spec.folds):
        fold_info = _with_time_allowance(info, spec.time_budget, t_start, len(spec.folds) - i)
        est = family.build(dict(STACKER_PARAMS), fold_info)
        t = time.perf_counter()
        est.fit(Xa.iloc[tr], y[tr])
        fit_s += time.perf_counter() - t
        t = time.perf_counter()
        oof[va] = predict_output(est, Xa.iloc[va], task)
        pred_s += time.perf_counter() - t
        fold_values.append(metric.value(y[va], oof[va]))
        stackers.append(est)
    mask = validated_rows(oof)
    value = metric.value(y[mask], oof[mask])
    bases = []
    for tid, fam, params, path, _ in spec.bases:
        with open(path, "rb") as fh:
            bases.append(Member(tid, fam, params, 1.0, pickle.load(fh), "folds"))
    model = StackedEstimator(bases, stackers, task, k, columns)
    with open(spec.model_path, "wb") as fh:
        pickle.dump([model], fh, protocol=pickle.HIGHEST_PROTOCOL)
    return TrialOutcome(oof=oof, score=value if metric.greater_is_better else -value, value=value,
                        fold_values=fold_values, fit_seconds=fit_s,
                        predict_rows_per_s=int(mask.sum()) / pred_s if pred_s > 0 else float("inf"),
                        model_path=spec.model_path)


def run_stacker(candidates, *, info, metric, folds, data_path: str, workdir: str, executor,
                timeout: float | None):
    """The stacker as a TrialRecord (an ensemble candidate), or None if it failed or timed out."""
    import os

    from assay import log
    from assay.search.records import TrialRecord

    from assay.search.records import best_per_family

    bases = best_per_family(r for r in candidates if r.model_path and r.oof is not None)[:MAX_BASES]
    if len(bases) < 2:
        return None
    trial_id = max(r.trial_id for r in candidates) + 1000
    names = [r.name for r in bases]
    spec = StackSpec(data_path, [(r.trial_id, r.family, r.params, r.model_path, np.asarray(r.oof, dtype=float))
                                 for r in bases],
                     replace(info, extra={**info.extra, "stack_bases": names}), metric.name, folds,
                     os.path.join(workdir, f"stack_{trial_id}.pkl"),
                     None if timeout is None else max(0.5, 0.85 * timeout - 0.5))
    res = executor.run(stack_trial, (spec,), timeout=timeout)
    rec = TrialRecord(trial_id, STACKER_FAMILY, {"bases": names, **STACKER_PARAMS}, "stacking", res.status,
                      elapsed=res.elapsed, peak_rss_mb=res.peak_rss_mb or float("nan"), error=res.error)
    if not res.ok:
        log.debug(f"stacker {res.status}: {res.error}")
        return rec
    out = res.value
    rec.value, rec.score, rec.oof = out.value, out.score, out.oof
    rec.fit_seconds, rec.predict_rows_per_s, rec.model_path = out.fit_seconds, out.predict_rows_per_s, out.model_path
    return rec

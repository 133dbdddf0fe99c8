"""Metrics: one table, one convention.

Classification predictions are probability matrices (n, K) over the encoded
classes 0..K-1; regression predictions are a vector. `Metric.score` is always
"higher is better" (losses are negated) so the search maximises one number;
`Metric.value` is the number a user reads on the leaderboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from assay.data.schema import BINARY, MULTICLASS, REGRESSION
from assay.errors import OptionError

_EPS = 1e-15


def _labels(proba: np.ndarray) -> np.ndarray:
    return np.asarray(proba).argmax(axis=1)


def _roc_auc(y, proba):
    from sklearn.metrics import roc_auc_score

    proba = np.asarray(proba)
    k = proba.shape[1]
    present = np.unique(y)
    if len(present) < 2:
        return float("nan")
    if k == 2:
        return roc_auc_score(y, proba[:, 1])
    # one-vs-rest macro AUC over the classes present in y
    p = proba[:, present]
    p = p / np.clip(p.sum(axis=1, keepdims=True), _EPS, None)
    if len(present) == 2:
        return roc_auc_score(y == present[1], p[:, 1])
    return roc_auc_score(y, p, multi_class="ovr", labels=present)


def _log_loss(y, proba):
    proba = np.clip(np.asarray(proba, dtype=float), _EPS, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(proba[np.arange(len(y)), np.asarray(y, dtype=int)])))


def _accuracy(y, proba):
    return float(np.mean(_labels(proba) == np.asarray(y)))


def _balanced_accuracy(y, proba):
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y, _labels(proba)))


def _f1(y, proba):
    from sklearn.metrics import f1_score

    proba = np.asarray(proba)
    if proba.shape[1] == 2:
        return float(f1_score(y, _labels(proba), pos_label=1, zero_division=0))
    return float(f1_score(y, _labels(proba), average="macro", zero_division=0))


def _rmse(y, pred):
    d = np.asarray(y, dtype=float) - np.asarray(pred, dtype=float)
    return float(np.sqrt(np.mean(d * d)))


def _mae(y, pred):
    return float(np.mean(np.abs(np.asarray(y, dtype=float) - np.asarray(pred, dtype=float))))


def _r2(y, pred):
    from sklearn.metrics import r2_score

    return float(r2_score(y, pred))


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable
    greater_is_better: bool
    tasks: tuple[str, ...]
    perfect: float | None = None      # the best value there is (1.0 for AUC, 0.0 for a loss)

    def value(self, y_true, pred) -> float:
        return float(self.fn(np.asarray(y_true), np.asarray(pred)))

    def score(self, y_true, pred) -> float:
        v = self.value(y_true, pred)
        return v if self.greater_is_better else -v

    def to_value(self, score: float) -> float:
        return score if self.greater_is_better else -score


_CLS = (BINARY, MULTICLASS)
METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", _roc_auc, True, _CLS, perfect=1.0),
        Metric("log_loss", _log_loss, False, _CLS, perfect=0.0),
        Metric("accuracy", _accuracy, True, _CLS, perfect=1.0),
        Metric("balanced_accuracy", _balanced_accuracy, True, _CLS, perfect=1.0),
        Metric("f1", _f1, True, _CLS, perfect=1.0),
        Metric("rmse", _rmse, False, (REGRESSION,), perfect=0.0),
        Metric("mae", _mae, False, (REGRESSION,), perfect=0.0),
        Metric("r2", _r2, True, (REGRESSION,), perfect=1.0),
    ]
}

DEFAULT_METRIC = {BINARY: "roc_auc", MULTICLASS: "log_loss", REGRESSION: "rmse"}


def get_metric(name: str | None, task: str) -> Metric:
    """The metric called `name` (or the task's default), checked against the task."""
    if name is None:
        name = DEFAULT_METRIC[task]
    key = name.strip().lower()
    if key not in METRICS:
        raise OptionError(f"unknown metric {name!r}; choose from: {', '.join(METRICS)}")
    m = METRICS[key]
    if task not in m.tasks:
        ok = ", ".join(k for k, v in METRICS.items() if task in v.tasks)
        raise OptionError(f"metric {name!r} does not apply to a {task} task; use one of: {ok}")
    return m

"""Decision rules for threshold metrics (balanced accuracy, F1).

The probabilities say how likely each class is; which label to output is a separate
choice, and for metrics that count labels the most probable class is rarely the best
one on imbalanced data (a 5% class is seldom the argmax). assay tunes per-class offsets
on the log-probabilities, label = argmax(log p + b), on the ensemble's out-of-fold
predictions -- rows no model saw while it was fit -- so no refit is needed:

- binary: b = (0, -t) where t is the best cut of log p1 - log p0, searched over the
  out-of-fold values' quantiles (a threshold on p1);
- multiclass: coordinate ascent over each class's offset on a grid, two rounds.

The probabilities themselves (`predict_proba`) are untouched; only labels change. The
gain is measured on the same out-of-fold rows the offsets were chosen on, so it is
optimistic; both values are recorded in run.json ("decision").
"""

from __future__ import annotations

import numpy as np

THRESHOLD_METRICS = ("balanced_accuracy", "f1")
_GRID = np.linspace(-4.0, 4.0, 33)


def _log(proba: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.asarray(proba, dtype=float), 1e-15, 1.0))


def decide(proba: np.ndarray, offsets: np.ndarray | None) -> np.ndarray:
    """Class codes: argmax of the log-probabilities plus the offsets (plain argmax without)."""
    proba = np.asarray(proba)
    if offsets is None:
        return proba.argmax(axis=1)
    return (_log(proba) + offsets).argmax(axis=1)


def _one_hot(codes: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(codes), k))
    out[np.arange(len(codes)), codes] = 1.0
    return out


def fit_offsets(proba: np.ndarray, y: np.ndarray, metric) -> tuple[np.ndarray | None, float, float]:
    """(offsets or None when they do not help, metric before, metric after) on these rows."""
    proba = np.asarray(proba, dtype=float)
    k = proba.shape[1]
    logp = _log(proba)

    def value(b):
        return metric.score(y, _one_hot((logp + b).argmax(axis=1), k))

    b = np.zeros(k)
    before = best = value(b)
    if k == 2:
        d = logp[:, 1] - logp[:, 0]
        cuts = np.unique(np.quantile(d, np.linspace(0.0, 1.0, 201)))
        for t in cuts:
            cand = np.array([0.0, -t + 1e-12])
            v = value(cand)
            if v > best + 1e-12:
                best, b = v, cand
    else:
        for _ in range(2):
            for j in range(k):
                for g in _GRID:
                    cand = b.copy()
                    cand[j] = g
                    v = value(cand)
                    if v > best + 1e-12:
                        best, b = v, cand
    if best <= before + 1e-12:
        return None, metric.to_value(before), metric.to_value(before)
    return b, metric.to_value(before), metric.to_value(best)

"""The space in which ensemble members combine.

Classifiers combine as a weighted mean of *log-odds* (margins), not of
probabilities: the ensemble's margin is then a linear combination of its
members' margins, so per-member SHAP values (exact TreeSHAP for trees, exact
linear SHAP for linear models) combine by the same weights into an exact
explanation of the ensemble. Binary: margin = logit(p1); multiclass: margin =
log p (softmax is invariant to the per-row constant). Regression: plain values.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def to_margin(pred: np.ndarray, task: str) -> np.ndarray:
    pred = np.asarray(pred, dtype=float)
    if task == "regression":
        return pred
    p = np.clip(pred, _EPS, 1 - _EPS)
    if task == "binary":
        return np.log(p[:, 1]) - np.log(p[:, 0])
    return np.log(p)


def from_margin(margin: np.ndarray, task: str) -> np.ndarray:
    """Inverse of `to_margin`: probabilities (n, K) or values (n,)."""
    m = np.asarray(margin, dtype=float)
    if task == "regression":
        return m
    if task == "binary":
        p1 = 1.0 / (1.0 + np.exp(-m))
        return np.column_stack([1.0 - p1, p1])
    z = m - m.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def combine(margins: list[np.ndarray], weights) -> np.ndarray:
    """Weighted mean of member margins (weights are normalised here)."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    out = np.zeros_like(np.asarray(margins[0], dtype=float))
    for wi, m in zip(w, margins):
        if wi:
            out += wi * m
    return out

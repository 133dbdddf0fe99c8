"""Helpers shared by the family modules: thin learner adapters that enforce the contract.

`ProbaAdapter` wraps any scikit-learn classifier so that `predict_proba` always has
K = n_classes columns in code order 0..K-1 (a class absent from the fit gets
probability 0; a fit with a single class predicts it with probability 1), and
0-row input gives an empty answer instead of a validation error. `RegressorAdapter`
does the 0-row part for regressors. The fitted wrapped estimator is `model_`.

Fit time allowance: a family reads it with `max_time_of(params, info)` (a `max_time`
param overrides `info.extra["max_time"]`; None = unlimited) and builds a
`TimedPipeline`, whose `fit` starts the clock that `fit_clock()` reads, so that the
preprocessing counts against the allowance too. A learner cut short by time says so
in `stopped_by_time_` (the adapters copy it from the wrapped model; False otherwise).
"""

from __future__ import annotations

import time
from contextvars import ContextVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.pipeline import Pipeline

STEP_PREP, STEP_LEARNER = "prep", "learner"   # Pipeline step names (sample_weight -> learner__sample_weight)


_FIT_START: ContextVar = ContextVar("assay_fit_start", default=None)


def fit_clock() -> float:
    """`time.monotonic()` at the start of the enclosing `TimedPipeline.fit` (now, outside one)."""
    start = _FIT_START.get()
    return time.monotonic() if start is None else start


def max_time_of(params: dict, info) -> float | None:
    """Pop `max_time` from params (it overrides the search's `info.extra["max_time"]`)."""
    value = params.pop("max_time") if "max_time" in params else info.extra.get("max_time")
    return None if value is None else float(value)


def deadline_of(start: float, max_time: float | None) -> float | None:
    """When training must stop: `max_time` after `start`, less a margin (10%, at most 1 s)
    left for what follows training (the model's finalisation, the validation predictions)."""
    if max_time is None:
        return None
    return start + max_time - min(0.1 * max_time, 1.0)


class TimedPipeline(Pipeline):
    """A Pipeline whose fit starts the clock `fit_clock()` reads (preprocessing counts)."""

    def fit(self, X, y=None, **params):
        token = _FIT_START.set(time.monotonic())
        try:
            return super().fit(X, y, **params)
        finally:
            _FIT_START.reset(token)


def n_rows(X) -> int:
    return X.shape[0]


def _fit_clone(estimator, X, y, sample_weight):
    model = clone(estimator)
    # KNN cannot ask for more neighbours than rows it was fit on (small CV folds).
    if "n_neighbors" in model.get_params():
        model.set_params(n_neighbors=max(1, min(model.n_neighbors, n_rows(X))))
    kw = {} if sample_weight is None else {"sample_weight": sample_weight}
    return model.fit(X, y, **kw)


def _hit_max_iter(model) -> bool:
    m = getattr(model, "regressor_", model)          # TransformedTargetRegressor
    n_iter, cap = getattr(m, "n_iter_", None), getattr(m, "max_iter", None)
    return n_iter is not None and cap is not None and int(np.max(n_iter)) >= int(cap)


def stopped_by_time(model) -> bool:
    """Whether a fitted model (a family's pipeline) was cut short by its time allowance: its
    learner step's `stopped_by_time_` (False where the learner does not say)."""
    steps = getattr(model, "steps", None)
    learner = steps[-1][1] if steps else model
    return bool(getattr(learner, "stopped_by_time_", False))


def _stopped_by_time(adapter) -> bool:
    """The wrapped model's own `stopped_by_time_`; or, for a configuration the family
    reduced for time at build (`time_limited`): "fallback" (another solver), or "capped"
    (fewer iterations) when the solver used them all."""
    if getattr(adapter.model_, "stopped_by_time_", False):
        return True
    if adapter.time_limited == "fallback":
        return adapter.model_ is not None
    return adapter.time_limited == "capped" and adapter.model_ is not None and _hit_max_iter(adapter.model_)


class ProbaAdapter(ClassifierMixin, BaseEstimator):
    def __init__(self, estimator=None, n_classes: int = 2, time_limited: str = ""):
        self.estimator = estimator
        self.n_classes = n_classes
        self.time_limited = time_limited

    def fit(self, X, y, sample_weight=None):
        y = np.asarray(y).astype(int)
        self.classes_ = np.arange(self.n_classes)
        present = np.unique(y)
        if len(present) < 2:
            self.model_, self.constant_ = None, int(present[0])
        else:
            self.model_ = _fit_clone(self.estimator, X, y, sample_weight)
        self.stopped_by_time_ = _stopped_by_time(self)
        return self

    def predict_proba(self, X):
        out = np.zeros((n_rows(X), self.n_classes))
        if out.shape[0] == 0:
            return out
        if self.model_ is None:
            out[:, self.constant_] = 1.0
        else:
            out[:, self.model_.classes_.astype(int)] = self.model_.predict_proba(X)
        return out

    def predict(self, X):
        return self.predict_proba(X).argmax(axis=1)


class RegressorAdapter(RegressorMixin, BaseEstimator):
    def __init__(self, estimator=None, time_limited: str = ""):
        self.estimator = estimator
        self.time_limited = time_limited

    def fit(self, X, y, sample_weight=None):
        self.model_ = _fit_clone(self.estimator, X, np.asarray(y, dtype=float), sample_weight)
        self.stopped_by_time_ = _stopped_by_time(self)
        return self

    def predict(self, X):
        if n_rows(X) == 0:
            return np.zeros(0)
        return np.asarray(self.model_.predict(X), dtype=float).ravel()


def adapt(estimator, info, time_limited: str = ""):
    """Wrap a scikit-learn learner for the problem's task (`time_limited`: see `_stopped_by_time`)."""
    if info.is_classification:
        return ProbaAdapter(estimator, n_classes=info.n_classes, time_limited=time_limited)
    return RegressorAdapter(estimator, time_limited=time_limited)

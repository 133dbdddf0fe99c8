"""Random forest and extra trees (scikit-learn), on the "tree" preprocessing style.

Missing values go to the trees as NaN: scikit-learn >= 1.6 forests split on them
natively, so no imputer is needed.

Fit time allowance (`max_time`, from `info.extra["max_time"]` or a `max_time` param;
counted from the start of the pipeline's fit): the learner is a `TimeBoxedForest`
around the scikit-learn forest. With no allowance it is one plain fit. With one, the
trees are grown with `warm_start` in chunks -- a first chunk of one tree per job
(always fit, so the model is never empty), then up to `CHUNK` trees at a time, as
many as the time per tree measured so far says fit before the deadline (`max_time`
less a margin of 10%, at most 1 s) -- and growing stops when not one more does.
Warm-started forests with an integer seed draw the same trees as one fit, so an
allowance that is not hit gives the same model as none. `stopped_by_time_` says
whether fewer than `n_estimators` trees were grown.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, clone

from assay.features import build_preprocessor
from assay.models._common import (STEP_LEARNER, STEP_PREP, TimedPipeline, adapt, deadline_of, fit_clock,
                                  max_time_of)
from assay.models.base import Capabilities, ModelFamily, ProblemInfo

CHUNK = 50


class TimeBoxedForest(BaseEstimator):
    """A scikit-learn forest grown in warm-started chunks until `max_time` runs out.

    The fitted forest is `forest_`; `classes_`, `predict`, `predict_proba`,
    `feature_importances_` and `estimators_` are the forest's."""

    def __init__(self, estimator=None, max_time: float | None = None):
        self.estimator = estimator
        self.max_time = max_time

    def fit(self, X, y, sample_weight=None):
        start = fit_clock()
        deadline = deadline_of(start, self.max_time)
        forest = clone(self.estimator)
        total = int(forest.n_estimators)
        kw = {} if sample_weight is None else {"sample_weight": sample_weight}
        self.stopped_by_time_ = False
        first = max(1, effective_n_jobs(forest.n_jobs))
        if deadline is None or total <= first:
            self.forest_ = forest.fit(X, y, **kw)
            return self
        forest.set_params(warm_start=True, n_estimators=first)
        t = time.monotonic()
        forest.fit(X, y, **kw)
        grown, grow_s = first, time.monotonic() - t
        while grown < total:
            per_tree = grow_s / grown
            affordable = int((deadline - time.monotonic()) / max(per_tree, 1e-9))
            step = min(CHUNK, total - grown, affordable)
            if step < 1:
                self.stopped_by_time_ = True
                break
            forest.set_params(n_estimators=grown + step)
            t = time.monotonic()
            forest.fit(X, y, **kw)
            grown, grow_s = grown + step, grow_s + time.monotonic() - t
        forest.set_params(warm_start=False)
        self.forest_ = forest
        return self

    @property
    def classes_(self):
        return self.forest_.classes_

    def _n_threads(self, n_rows: int) -> int:
        from assay.compute.cores import predict_threads

        return predict_threads(n_rows, self.forest_.n_jobs, SINGLE_THREAD_PREDICT_ROWS)

    def _tree_sum(self, X, method: str):
        """The forest's mean over trees, summed in a plain loop: the same numbers as the
        forest's own method on one thread, without joblib's per-tree dispatch (half the
        time on a few hundred rows)."""
        X = self.forest_._validate_X_predict(X)
        trees = self.forest_.estimators_
        out = np.array(getattr(trees[0], method)(X, check_input=False), dtype=np.float64)
        for tree in trees[1:]:
            out += getattr(tree, method)(X, check_input=False)
        return out / len(trees)

    @property
    def estimators_(self):
        return self.forest_.estimators_

    @property
    def feature_importances_(self):
        return self.forest_.feature_importances_

    def predict(self, X):
        n = self._n_threads(X.shape[0])
        if n == 1 and not hasattr(self.forest_, "classes_"):
            return self._tree_sum(X, "predict")
        with _threads(self.forest_, n):
            return self.forest_.predict(X)

    def predict_proba(self, X):
        """The trees' vote shares, smoothed as if one more tree had voted uniformly:
        (p * T + 1/K) / (T + 1). A unanimous forest then says 1 - 1/(K(T+1)), not exactly
        1, so its log-odds stay finite (the ensemble averages log-odds)."""
        n = self._n_threads(X.shape[0])
        if n == 1:
            p = self._tree_sum(X, "predict_proba")
        else:
            with _threads(self.forest_, n):
                p = self.forest_.predict_proba(X)
        t, k = len(self.forest_.estimators_), p.shape[1]
        return (p * t + 1.0 / k) / (t + 1)


# scikit-learn forests score with joblib threads that share one output under a lock: on
# credit_g's 250 test rows two threads took 65 ms against 20 ms for one, and on 10k rows
# still 75 vs 62 ms. Below this many rows a forest scores on one thread.
SINGLE_THREAD_PREDICT_ROWS = 100_000


@contextmanager
def _threads(forest, n_jobs):
    fitted = forest.n_jobs
    forest.n_jobs = n_jobs
    try:
        yield
    finally:
        forest.n_jobs = fitted


def _forest_memory_mb(family, params: dict, info: ProblemInfo) -> float:
    """Data copies plus the trees: a fully grown tree has about 2 n / min_samples_leaf nodes
    (n = rows it sees), each ~60 bytes + one float per class for the node values."""
    n = info.n_rows * 0.8
    leaf = max(1, int(params.get("min_samples_leaf", 1)))
    per_node = 60 + 8 * max(1, info.n_classes)
    trees = int(params.get("n_estimators", 100)) * 2 * n / leaf * per_node / 2**20
    return ModelFamily.estimate_memory_mb(family, params, info) + trees


class _ForestFamily(ModelFamily):
    capabilities = Capabilities(sample_weight=True)
    predict_cost = 8.0               # hundreds of deep trees
    _classes: tuple = ()          # (classifier, regressor), imported lazily
    estimate_memory_mb = _forest_memory_mb
    _reg_max_features = 1.0

    def _estimators(self):
        raise NotImplementedError

    def default_configs(self, info: ProblemInfo) -> list[dict]:
        mf = "sqrt" if info.is_classification else self._reg_max_features
        return [
            {"n_estimators": 300, "max_features": mf, "min_samples_leaf": 1},
            {"n_estimators": 300, "max_features": mf, "min_samples_leaf": 5},
        ]

    def search_space(self, trial, info: ProblemInfo) -> dict:
        p = f"{self.name}."
        params = {
            "n_estimators": trial.suggest_int(p + "n_estimators", 100, 500, step=50),
            "max_features": trial.suggest_float(p + "max_features", 0.1, 1.0),
            "min_samples_leaf": trial.suggest_int(p + "min_samples_leaf", 1, 32, log=True),
            "max_depth": trial.suggest_categorical(p + "max_depth", [None, 8, 16, 32]),
            "bootstrap": trial.suggest_categorical(p + "bootstrap", [True, False]),
        }
        if info.is_classification:
            params["criterion"] = trial.suggest_categorical(p + "criterion", ["gini", "entropy"])
        return params

    def build(self, params: dict, info: ProblemInfo):
        params = dict(params)
        max_time = max_time_of(params, info)
        cls, reg = self._estimators()
        est = (cls if info.is_classification else reg)(random_state=info.seed, n_jobs=info.n_jobs, **params)
        return TimedPipeline([(STEP_PREP, build_preprocessor(info.schema, "tree", seed=info.seed)),
                              (STEP_LEARNER, adapt(TimeBoxedForest(est, max_time), info))])


class RandomForestFamily(_ForestFamily):
    name = "random_forest"
    relative_cost = 2.0
    _reg_max_features = 0.5

    def _estimators(self):
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        return RandomForestClassifier, RandomForestRegressor


class ExtraTreesFamily(_ForestFamily):
    name = "extra_trees"
    relative_cost = 1.5
    _reg_max_features = 1.0

    def _estimators(self):
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        return ExtraTreesClassifier, ExtraTreesRegressor

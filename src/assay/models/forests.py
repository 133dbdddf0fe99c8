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

import math
import time

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, clone

from assay.features import build_preprocessor
from assay.models._common import (STEP_LEARNER, STEP_PREP, TimedPipeline, adapt, deadline_of, fit_clock,
                                  max_time_of)
from assay.models.base import Capabilities, ModelFamily, ProblemInfo

CHUNK = 50
MIN_MEMBER_TREES = 10      # thin_member: the fewest trees a low-weight ensemble member keeps


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

    def _tree_sum(self, X, method: str) -> np.ndarray:
        """The forest's mean over trees (its own `predict` / `predict_proba`), summed in
        plain loops: on one thread, or with several, each thread summing its own slice of
        the trees into its own array. scikit-learn's joblib version dispatches every tree
        and adds into one output under a lock, which made two threads slower than one up
        to ~10k rows; the trees' traversal releases the GIL, so slices scale (bank_marketing,
        11k rows x 300 trees: 214 ms on one thread, 107 ms on two)."""
        X = self.forest_._validate_X_predict(X)
        trees = self.forest_.estimators_
        n = min(self._n_threads(X.shape[0]), len(trees))
        # each tree's low-level `tree_.predict` (what its predict / predict_proba return after
        # their per-call checks, which cost ~40% of a small tree's time): the value columns of
        # the classes (fractions), or the one regression value
        width = self.forest_.n_classes_ if method == "predict_proba" else 1

        def part(ts):
            out = np.array(ts[0].tree_.predict(X)[:, :width], dtype=np.float64)
            for tree in ts[1:]:
                out += tree.tree_.predict(X)[:, :width]
            return out if method == "predict_proba" else out[:, 0]

        if n <= 1:
            return part(trees) / len(trees)
        bounds = np.linspace(0, len(trees), n + 1).astype(int)
        parts = _pool(n).map(part, [trees[a:b] for a, b in zip(bounds[:-1], bounds[1:])])
        return sum(parts) / len(trees)

    @property
    def estimators_(self):
        return self.forest_.estimators_

    @property
    def feature_importances_(self):
        return self.forest_.feature_importances_

    def predict(self, X):
        if hasattr(self.forest_, "classes_"):
            return self.forest_.classes_[self.predict_proba(X).argmax(axis=1)]
        return self._tree_sum(X, "predict")

    def predict_proba(self, X):
        """The trees' vote shares, smoothed as if one more tree had voted uniformly:
        (p * T + 1/K) / (T + 1). A unanimous forest then says 1 - 1/(K(T+1)), not exactly
        1, so its log-odds stay finite (the ensemble averages log-odds)."""
        p = self._tree_sum(X, "predict_proba")
        t, k = len(self.forest_.estimators_), p.shape[1]
        return (p * t + 1.0 / k) / (t + 1)


# Below this many rows a forest scores on one thread: waking a second costs more than it saves.
SINGLE_THREAD_PREDICT_ROWS = 500

_POOL: tuple | None = None      # (pid, threads, ThreadPoolExecutor)


def _pool(n: int):
    """A thread pool of `n` threads for scoring, made on first use and again in a forked
    child (a parent's pool threads do not exist there)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    global _POOL
    if _POOL is None or _POOL[0] != os.getpid() or _POOL[1] < n:
        if _POOL is not None and _POOL[0] == os.getpid():    # a larger pool replaces ours
            _POOL[2].shutdown(wait=False)
        _POOL = (os.getpid(), n, ThreadPoolExecutor(max_workers=n, thread_name_prefix="assay-forest"))
    return _POOL[2]


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
    call_seconds = 1e-3
    seconds_per_tree_call = 6e-6     # scikit-learn visits each tree from Python, whatever the rows
    seconds_per_level = 8e-9         # per row and level (log2 of a tree's leaves)
    _classes: tuple = ()          # (classifier, regressor), imported lazily
    estimate_memory_mb = _forest_memory_mb
    _reg_max_features = 1.0

    def predict_seconds(self, model) -> tuple[float, float]:
        """Per call: a fixed part plus `seconds_per_tree_call` per tree; per row: the levels
        of every tree (log2 of its leaves)."""
        forest = getattr(getattr(model.steps[-1][1], "model_", None), "forest_", None)
        if forest is None:               # a single-class fold: the adapter's constant
            return self.call_seconds, 0.0
        trees = forest.estimators_
        levels = sum(math.log2(max(2, t.tree_.n_leaves)) for t in trees)
        return self.call_seconds + len(trees) * self.seconds_per_tree_call, levels * self.seconds_per_level

    def member_seconds(self, call_s: float, row_s: float, n_models: int, per_split: int, rows: int) -> float:
        """A bag's fold forests are thinned to one forest's worth of trees per k-fold split
        (`thin_fold_models`): the tree parts count once per split, the fixed call part once per model."""
        splits = max(1, -(-n_models // max(1, per_split)))
        fixed = n_models * self.call_seconds
        return fixed + splits * (call_s - self.call_seconds + rows * row_s)

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

    def thin_fold_models(self, fold_models: list, per_split: int | None = None) -> list:
        """The fold forests of a k-fold split (T trees each) keep their first ceil(T / k)
        trees: together one forest's worth of trees per split, each grown on (k - 1)/k of the
        rows, so a one-split member scores about as fast as a refit forest (k times faster
        than all the fold trees) for a small rise in variance. The trees are independent
        draws, so a prefix is a smaller forest. On small data, where the bag is the final
        model, the test AUC moved by -0.0006 to +0.0011 on credit_g and titanic (seeds 0, 1)
        while the bag scored 1.5-2.6x faster (docs/benchmarks.md)."""
        k = per_split or len(fold_models)
        if k < 2:
            return fold_models
        for model in fold_models:
            forest = getattr(model.steps[-1][1].model_, "forest_", None)   # pipeline -> adapter -> TimeBoxedForest
            if forest is None:         # a single-class fold: the adapter's constant
                continue
            _keep_trees(forest, max(1, -(-len(forest.estimators_) // k)))
        return fold_models

    def thin_member(self, models: list, share: float) -> list:
        """A bag keeps its first fold models, as any family's; a single forest of T trees
        keeps its first ceil(share x T) (at least MIN_MEMBER_TREES): its trees are independent
        draws, so a prefix is a smaller forest."""
        if len(models) != 1:
            return super().thin_member(models, share)
        forest = getattr(models[0].steps[-1][1].model_, "forest_", None)
        if forest is not None and share < 1.0:
            _keep_trees(forest, max(MIN_MEMBER_TREES, math.ceil(share * len(forest.estimators_))))
        return models

    def build(self, params: dict, info: ProblemInfo):
        params = dict(params)
        max_time = max_time_of(params, info)
        cls, reg = self._estimators()
        est = (cls if info.is_classification else reg)(random_state=info.seed, n_jobs=info.n_jobs, **params)
        return TimedPipeline([(STEP_PREP, build_preprocessor(info.schema, "tree", seed=info.seed)),
                              (STEP_LEARNER, adapt(TimeBoxedForest(est, max_time), info))])


def _keep_trees(forest, keep: int) -> None:
    """Cut a fitted forest to its first `keep` trees (independent draws: a smaller forest)."""
    keep = min(keep, len(forest.estimators_))
    forest.estimators_ = forest.estimators_[:keep]
    forest.n_estimators = keep


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

"""scikit-learn's HistGradientBoosting, on the "tree" preprocessing style.

Why a second LightGBM-like booster: its defaults (100 rounds, lr 0.1, 31 leaves,
20 rows per leaf, native categorical splits) are very strong on small categorical and
multiclass tables (car, segment, letter), where LightGBM's defaults over-fit, and a fit
costs about as much as LightGBM's. Missing values are binned natively.

Categoricals, the `categorical` parameter:
- "ordinal" (the default, and the portfolio's): ordinal codes in target order (the "tree"
  style). Every split is a numeric threshold, so shap's TreeExplainer explains the model
  exactly and fast.
- "native": the "native" style's level codes with scikit-learn's native categorical splits
  (a split sends any subset of the levels left), as HistGradientBoosting's own defaults do on
  a pandas frame with category columns. Better on tables made of categoricals -- 5-fold log
  loss on car 0.0257 vs 0.0308, titanic 0.480 vs 0.482; test log loss on car's seed-1
  benchmark split 0.0137 vs 0.0180 (the same for seeds 0-2) -- but its SHAP values are
  estimated by sampling (shap's TreeExplainer reads only numeric thresholds).
The reference configuration (scikit-learn's defaults, which users measure assay against)
is "native" where the table has categorical columns; the search samples both.

Threads: the OpenMP pool is limited to `info.n_jobs` during fit and predict
(threadpoolctl), like the other families' `n_jobs`.

Fit time allowance (`max_time`): with no allowance it is one plain fit. With one, the
rounds are grown with `warm_start` in chunks -- a first chunk of `FIRST` rounds (always
fit), then as many as the time per round measured so far says fit before the deadline
(`max_time` less a margin of 10%, at most 1 s) -- and growing stops when not one more
does, or when early stopping ends training. A warm-started fit with an integer seed
grows the same rounds as one fit, so an allowance that is not hit gives the same model.

Early stopping on a class with a single row: see `_validation_split`.

Prediction: a final ensemble member's trees are compiled into one LightGBM Booster
(`compile_member`, `assay.models.hist_gb_compiled`), the same trees walked in one C++ call
instead of scikit-learn's loop over trees. Trial fits predict their out-of-fold rows once
and are not compiled.
"""

from __future__ import annotations

import time

from sklearn.base import BaseEstimator, clone

from assay.data.schema import CATEGORICAL, HIGH_CARDINALITY
from assay.features import build_preprocessor
from assay.models._common import (STEP_LEARNER, STEP_PREP, TimedPipeline, adapt, deadline_of, fit_clock,
                                  max_time_of)
from assay.models.base import Capabilities, ModelFamily, ProblemInfo

FIRST = 10
CATEGORICAL_MODES = ("ordinal", "native")


class TimeBoxedHistGB(BaseEstimator):
    """A HistGradientBoosting model grown in warm-started chunks until `max_time` runs out.
    The fitted model is `model_`; `stopped_by_time_` says whether training was cut short.
    A DataFrame input (the "native" style) is read as one float matrix of level codes, its
    category columns marked for native categorical splits (`categorical_`, a mask)."""

    def __init__(self, estimator=None, max_time: float | None = None, n_jobs: int = 1):
        self.estimator = estimator
        self.max_time = max_time
        self.n_jobs = n_jobs

    def fit(self, X, y, sample_weight=None):
        from threadpoolctl import threadpool_limits

        start = fit_clock()
        deadline = deadline_of(start, self.max_time)
        model = clone(self.estimator)
        total = int(model.max_iter)
        self.stopped_by_time_ = False
        self.compiled_ = None                 # a new fit: any compiled trees are stale
        self.categorical_ = _category_mask(X)
        X = _as_codes(X)
        if self.categorical_ is not None:
            model.set_params(categorical_features=self.categorical_)
        X, y, sample_weight, val = _validation_split(model, X, y, sample_weight)
        with threadpool_limits(limits=self.n_jobs, user_api="openmp"):
            if deadline is None or total <= FIRST:
                self.model_ = model.fit(X, y, sample_weight=sample_weight, **val)
                return self
            model.set_params(warm_start=True, max_iter=FIRST)
            t = time.monotonic()
            model.fit(X, y, sample_weight=sample_weight, **val)
            grown, grow_s = model.n_iter_, time.monotonic() - t
            while grown < total and model.n_iter_ >= model.max_iter:   # not stopped early
                per_round = grow_s / max(grown, 1)
                affordable = int((deadline - time.monotonic()) / max(per_round, 1e-9))
                step = min(total - grown, affordable, max(FIRST, grown))
                if step < 1:
                    self.stopped_by_time_ = True
                    break
                model.set_params(max_iter=grown + step)
                t = time.monotonic()
                model.fit(X, y, sample_weight=sample_weight, **val)
                grow_s += time.monotonic() - t
                grown = model.n_iter_
        model.set_params(warm_start=False)
        self.model_ = model
        return self

    @property
    def classes_(self):
        return self.model_.classes_

    def compile(self) -> "TimeBoxedHistGB":
        """Predict from here on with the trees compiled into one LightGBM Booster
        (`compiled_`); the scikit-learn model stays as `model_` (SHAP, ONNX export)."""
        from assay.models.hist_gb_compiled import CompiledHistGB

        self.compiled_ = CompiledHistGB(self.model_)
        return self

    def predict(self, X):
        return self._predict("predict", X)

    def predict_proba(self, X):
        return self._predict("predict_proba", X)

    def _predict(self, method: str, X):
        from assay.compute.cores import openmp_threads, predict_threads

        threads = predict_threads(X.shape[0], self.n_jobs)
        X = _as_codes(X)
        compiled = getattr(self, "compiled_", None)   # absent in Runs saved before compilation existed
        if compiled is not None:
            return getattr(compiled, method)(X, threads)
        with openmp_threads(threads):
            return getattr(self.model_, method)(X)


def _category_mask(X) -> list[bool] | None:
    """Which columns of a "native" frame are categories (None for a matrix, or none)."""
    import pandas as pd

    if not isinstance(X, pd.DataFrame):
        return None
    mask = [isinstance(t, pd.CategoricalDtype) for t in X.dtypes]
    return mask if any(mask) else None


def _as_codes(X):
    """A "native" frame as one float matrix of level codes; a matrix as it is."""
    import pandas as pd

    from assay.features.pipeline import native_matrix

    return native_matrix(X) if isinstance(X, pd.DataFrame) else X


def _validation_split(model, X, y, sample_weight):
    """(X, y, sample_weight, validation arguments of `fit`). scikit-learn's own early-stopping
    split is stratified and fails when a class has a single row (kddcup99's rare attacks in a
    fold: "The least populated classes in y have only 1 member"). Then the split is made
    here instead: the classes with a single row stay in training, the others are split
    stratified with the model's `validation_fraction` and seed, and the held-out rows go to
    `fit` as `X_val` / `y_val`. Otherwise nothing changes (empty arguments)."""
    import numpy as np

    y_arr = np.asarray(y)
    early = model.early_stopping is True or (model.early_stopping == "auto" and len(y_arr) > 10_000)
    if not (hasattr(model, "predict_proba") and early and model.validation_fraction is not None):
        return X, y, sample_weight, {}
    _, inverse, counts = np.unique(y_arr, return_inverse=True, return_counts=True)
    if counts.min() >= 2:
        return X, y, sample_weight, {}
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y_arr))
    shared = rows[counts[inverse] >= 2]
    seed = model.random_state if isinstance(model.random_state, (int, np.integer)) else 0
    fit_rows, val_rows = train_test_split(shared, test_size=model.validation_fraction,
                                          stratify=y_arr[shared], random_state=seed)
    orphans = ~np.isin(y_arr[val_rows], y_arr[fit_rows])      # a class held out whole goes back
    fit_rows = np.sort(np.concatenate([fit_rows, val_rows[orphans], rows[counts[inverse] < 2]]))
    val_rows = val_rows[~orphans]

    def take(a, idx):
        return None if a is None else (a.iloc[idx] if hasattr(a, "iloc") else np.asarray(a)[idx])

    val = {"X_val": take(X, val_rows), "y_val": y_arr[val_rows]}
    if sample_weight is not None:
        val["sample_weight_val"] = take(sample_weight, val_rows)
    return take(X, fit_rows), y_arr[fit_rows], take(sample_weight, fit_rows), val


class HistGBFamily(ModelFamily):
    name = "hist_gb"
    capabilities = Capabilities(sample_weight=True)
    relative_cost = 1.0
    call_seconds = 1.5e-3
    seconds_per_leaf = 2e-9              # compiled into LightGBM: its cost per leaf (boosters.py)

    def reference_configs(self, info: ProblemInfo) -> list[dict]:
        # scikit-learn's defaults: cheap (100 rounds) and hard to beat on small categorical /
        # multiclass tables, so tried before the portfolio's slower configurations; with
        # its native categorical splits where there are categoricals, as users run them
        return [{"categorical": "native"}] if _has_categoricals(info) else [{}]

    def default_configs(self, info: ProblemInfo) -> list[dict]:
        return [
            {},
            {"learning_rate": 0.05, "max_iter": 1000, "early_stopping": True, "n_iter_no_change": 30,
             "max_leaf_nodes": 15, "l2_regularization": 1.0},
        ]

    def predict_seconds(self, model) -> tuple[float, float]:
        """As compiled into one LightGBM Booster: per row, every tree's leaves at LightGBM's
        cost per leaf (leaf-wise trees are deep: the time grows with the leaves)."""
        learner = getattr(model.steps[-1][1], "model_", None)
        if not isinstance(learner, TimeBoxedHistGB):
            return self.call_seconds, 0.0
        leaves = sum(p.get_n_leaf_nodes() for per_class in learner.model_._predictors for p in per_class)
        return self.call_seconds, leaves * self.seconds_per_leaf

    def refit_params(self, params: dict, fold_models: list, row_ratio: float = 1.0) -> dict:
        """With early stopping, the mean of the fold models' rounds times `row_ratio`, without
        a holdout (as the boosters' `refit_params`)."""
        rounds = [int(m.steps[-1][1].model_.model_.n_iter_) for m in fold_models
                  if isinstance(getattr(m.steps[-1][1], "model_", None), TimeBoxedHistGB)
                  and getattr(m.steps[-1][1].model_.model_, "do_early_stopping_", False)]
        if not rounds:
            return params
        return {**params, "max_iter": max(1, round(sum(rounds) / len(rounds) * row_ratio)),
                "early_stopping": False}

    def compile_member(self, models: list) -> list:
        for pipe in models:
            learner = getattr(pipe.steps[-1][1], "model_", None)   # None: a constant (one class)
            if isinstance(learner, TimeBoxedHistGB):
                learner.compile()
        return models

    def search_space(self, trial, info: ProblemInfo) -> dict:
        p = f"{self.name}."
        return {
            "learning_rate": trial.suggest_float(p + "learning_rate", 0.01, 0.3, log=True),
            "max_iter": trial.suggest_int(p + "max_iter", 100, 1500, log=True),
            "early_stopping": True,
            "n_iter_no_change": 30,
            "max_leaf_nodes": trial.suggest_int(p + "max_leaf_nodes", 4, 128, log=True),
            "min_samples_leaf": trial.suggest_int(p + "min_samples_leaf", 2, 100, log=True),
            "l2_regularization": trial.suggest_float(p + "l2_regularization", 1e-6, 10.0, log=True),
            "max_features": trial.suggest_float(p + "max_features", 0.4, 1.0),
            **({"categorical": trial.suggest_categorical(p + "categorical", CATEGORICAL_MODES)}
               if _has_categoricals(info) else {}),
        }

    def build(self, params: dict, info: ProblemInfo):
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        params = dict(params)
        mode = params.pop("categorical", "ordinal")
        if mode not in CATEGORICAL_MODES:
            raise ValueError(f"hist_gb: categorical must be one of {CATEGORICAL_MODES}, got {mode!r}")
        style = "native" if mode == "native" and _has_categoricals(info) else "tree"
        max_time = max_time_of(params, info)
        cls = HistGradientBoostingClassifier if info.is_classification else HistGradientBoostingRegressor
        est = cls(random_state=info.seed, **params)
        learner = TimeBoxedHistGB(est, max_time=max_time, n_jobs=max(1, int(info.n_jobs or 1)))
        return TimedPipeline([(STEP_PREP, build_preprocessor(info.schema, style, seed=info.seed)),
                              (STEP_LEARNER, adapt(learner, info))])


def _has_categoricals(info: ProblemInfo) -> bool:
    return bool(info.schema.of_kind(CATEGORICAL, HIGH_CARDINALITY))

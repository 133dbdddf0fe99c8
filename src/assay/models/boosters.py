"""Gradient-boosted trees: LightGBM, XGBoost, CatBoost, on the "native" preprocessing style.

Early stopping (all three): the learner holds out a seeded inner split of whatever
it is fit on (`validation_fraction`, 10%, stratified by class; at least 20 rows where
the data allows), trains up to `n_estimators` rounds (cap 2000) and stops after
`early_stopping_rounds` (50) rounds without improvement on the held-out part. The
model at the best iteration is kept as is -- no refit on all rows -- which halves
the fit time and keeps the fitted model a pure function of (data, params, seed).
Below 40 rows there is no inner split and `min(n_estimators, 100)` rounds are fit.
`early_stopping_rounds=0` fits exactly `n_estimators` rounds on every row (LightGBM's
reference defaults; a refit at the rounds cross-validation chose, `refit_params`).

On the fitted learner: `model_` is the fitted library estimator (LGBMClassifier,
XGBRegressor, CatBoostClassifier, ...; its predictions use the best iteration),
`booster_` the library booster cut at the best iteration (for TreeSHAP), and
`best_iteration_` the number of rounds kept. Classifiers are trained on the classes
present in the fit (re-encoded 0..P-1) and `predict_proba` scatters them back to
K = n_classes columns in code order.

Params: library hyperparameters (sklearn-API names); besides those, `n_estimators`
(the round cap), `early_stopping_rounds`, `monotone` ({column: +1/-1}, matched
against the preprocessed column names, which are the sanitised raw names for numerics) and
`max_time` (overrides the search's `info.extra["max_time"]`).

Monotone constraints (`assay.fit(..., monotone={raw column: +1/-1})`) reach the families
in `info.extra["monotone"]` and are mapped to the preprocessed names by
`monotone_columns`; all three libraries enforce them exactly on the tree margins.
CatBoost with constraints: `max_ctr_complexity=1` where there are categoricals (its
feature-combination CTRs mix in binarised numeric splits and break the constraints), and
on the CPU (its GPU mode has no monotone constraints).

Fit time allowance (`max_time` seconds, counted from the start of the pipeline's fit,
so preprocessing and the inner split count): boosting stops after the first round
that ends past the deadline (`max_time` less a margin of 10%, at most 1 s), and the
best iteration so far is kept -- LightGBM through a callback raising
`EarlyStopException(best so far)`, XGBoost through a `TrainingCallback` returning True
(the early-stopping callback's `best_iteration` stays as it was), CatBoost on CPU
through a `callbacks=[...]` object returning False (`use_best_model` still cuts the
model at the best iteration). CatBoost on GPU takes no Python callbacks: there a
20-round probe fit times the rounds, and the real fit gets as many rounds as fit in
what is left (the probe is kept if not even that many do). At least one round is
always fit. `stopped_by_time_` says whether the allowance cut training short.
"""

from __future__ import annotations

import inspect
import math
import time

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import ClassifierTags, RegressorTags
from sklearn.utils.metaestimators import available_if

from assay.data.schema import BINARY, BOOLEAN, MULTICLASS, NUMERIC
from assay.features import build_preprocessor
from assay.features.pipeline import _safe_names
from assay.models._common import STEP_LEARNER, STEP_PREP, TimedPipeline, deadline_of, fit_clock, max_time_of
from assay.models.base import Capabilities, ModelFamily, ProblemInfo

N_ESTIMATORS_CAP = 2000
EARLY_STOPPING_ROUNDS = 50
MIN_ROWS_FOR_EARLY_STOPPING = 40
MULTICLASS_MAX_DELTA_STEP = 2.0   # LightGBM's multiclass reference: leaf outputs <= this x learning rate
SMALL_PREDICT_ROWS = 256      # LightGBM scores up to this many rows on one thread


def leafwise_leaves(num_leaves, max_depth=-1) -> int:
    """The leaves of a tree grown leaf-wise to `num_leaves` (at most 2^max_depth where that is set)."""
    leaves = max(2, int(num_leaves))
    return min(leaves, 2 ** int(max_depth)) if max_depth and int(max_depth) > 0 else leaves


def inner_split(y, n: int, fraction: float, seed: int, stratify: bool):
    """Indices (train, valid) of a seeded hold-out; stratified so every class keeps >= 1 train row."""
    rng = np.random.default_rng(seed)
    n_val = max(int(round(fraction * n)), min(20, n // 4))
    if not stratify:
        perm = rng.permutation(n)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])
    val = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = min(int(round(n_val * len(idx) / n)), len(idx) - 1)
        val.append(idx[:k])
    val = np.sort(np.concatenate(val))
    return np.setdiff1d(np.arange(n), val), val


def _take(X, idx):
    return X.iloc[idx] if isinstance(X, pd.DataFrame) else X[idx]


class _BoosterLearner(BaseEstimator):
    """Template: subclasses implement `_fit_library` and `_booster`."""

    def __init__(self, task: str = "regression", n_classes: int = 0, params: dict | None = None,
                 n_estimators: int = N_ESTIMATORS_CAP, early_stopping_rounds: int = EARLY_STOPPING_ROUNDS,
                 validation_fraction: float = 0.1, monotone: dict | None = None,
                 seed: int = 0, n_jobs: int = 1, device: str = "cpu", max_time: float | None = None):
        self.task = task
        self.n_classes = n_classes
        self.params = params
        self.n_estimators = n_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.monotone = monotone
        self.seed = seed
        self.n_jobs = n_jobs
        self.device = device
        self.max_time = max_time

    def _is_classifier(self) -> bool:
        return self.task in (BINARY, MULTICLASS)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self._is_classifier():
            tags.estimator_type, tags.classifier_tags = "classifier", ClassifierTags()
        else:
            tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags()
        return tags

    def fit(self, X, y, sample_weight=None):
        deadline = deadline_of(fit_clock(), self.max_time)
        self.stopped_by_time_ = False
        y = np.asarray(y)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.model_, self.constant_ = None, None
        if self._is_classifier():
            y = y.astype(int)
            self.classes_ = np.arange(self.n_classes)
            self.present_ = np.unique(y)
            if len(self.present_) < 2:          # nothing to learn: predict the one class
                self.constant_, self.best_iteration_ = int(self.present_[0]), 0
                return self
            y = np.searchsorted(self.present_, y)
        else:
            y = y.astype(float)
        n = len(y)
        if n >= MIN_ROWS_FOR_EARLY_STOPPING and self.early_stopping_rounds:
            tr, va = inner_split(y, n, self.validation_fraction, self.seed, self._is_classifier())
            valid = (_take(X, va), y[va], None if w is None else w[va])
            rounds = self.n_estimators
        elif self.early_stopping_rounds == 0:     # rounds fixed by the caller: every row, n_estimators rounds
            tr, valid, rounds = np.arange(n), None, self.n_estimators
        else:
            tr, valid, rounds = np.arange(n), None, min(self.n_estimators, 100)
        params = dict(self.params or {})
        if self.monotone and isinstance(X, pd.DataFrame):
            params["monotone_constraints"] = [int(self.monotone.get(c, 0)) for c in X.columns]
        self.model_ = self._fit_library(_take(X, tr), y[tr], None if w is None else w[tr], valid, rounds, params,
                                        deadline)
        return self

    @available_if(_is_classifier)
    def predict_proba(self, X):
        out = np.zeros((X.shape[0], self.n_classes))
        if out.shape[0] == 0:
            return out
        if self.constant_ is not None:
            out[:, self.constant_] = 1.0
        else:
            out[:, self.present_] = self._library_proba(X)
        return out

    def predict(self, X):
        if self._is_classifier():
            return self.predict_proba(X).argmax(axis=1)
        if X.shape[0] == 0:
            return np.zeros(0)
        return np.asarray(self._library_values(X), dtype=float).ravel()

    def _library_proba(self, X) -> np.ndarray:
        """The fitted library model's probabilities (n, classes present in the fit)."""
        return self.model_.predict_proba(self._to_library(X), **self._predict_kw(X.shape[0]))

    def _library_values(self, X) -> np.ndarray:
        return self.model_.predict(self._to_library(X), **self._predict_kw(X.shape[0]))

    @property
    def booster_(self):
        """The library's booster cut at the best iteration (None for a single-class fit)."""
        return None if self.model_ is None else self._booster()

    def _to_library(self, X):
        return X

    def _predict_kw(self, n_rows: int) -> dict:
        """Extra predict arguments of the library (LightGBM: one thread for a few rows)."""
        return {}

    def _fit_library(self, X, y, w, valid, rounds, params, deadline):
        raise NotImplementedError

    def _booster(self):
        raise NotImplementedError


class _LightGBMDeadline:
    """LightGBM callback: past `deadline`, stop with the best iteration so far (on the
    first metric of the first validation set, as `early_stopping(first_metric_only=True)`)."""

    order = 40                  # after early_stopping (30)
    before_iteration = False

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.best, self.best_iter, self.best_scores, self.stopped = None, 0, [], False

    def __call__(self, env):
        import lightgbm as lgb

        results = env.evaluation_result_list or []
        valid = [r for r in results if r[0] != "training"]
        if valid:
            score, higher = valid[0][2], valid[0][3]
            if self.best is None or (score > self.best if higher else score < self.best):
                self.best, self.best_iter, self.best_scores = score, env.iteration, results
        else:
            self.best_iter, self.best_scores = env.iteration, results
        if time.monotonic() >= self.deadline:
            self.stopped = True
            raise lgb.callback.EarlyStopException(self.best_iter, self.best_scores)


class LightGBMLearner(_BoosterLearner):
    def _predict_kw(self, n_rows: int) -> dict:
        # waking an OpenMP team costs more than scoring a few rows (and much more on busy cores)
        from assay.compute.cores import predict_threads

        return {"num_threads": predict_threads(n_rows, self.n_jobs, SMALL_PREDICT_ROWS)}

    # Scoring goes to the Booster with a float matrix (`native_matrix`: category codes, -1 ->
    # NaN), which is what LightGBM's own pandas path builds, without its per-call checks of
    # every column (credit_g, 250 rows x 100 trees: 6.0 -> 2.1 ms per model, same output).
    # The Booster's default iteration is the early-stopping best, as in the sklearn wrapper.
    def _library_values(self, X) -> np.ndarray:
        from assay.features.pipeline import native_matrix

        return self.model_.booster_.predict(native_matrix(X), **self._predict_kw(X.shape[0]))

    def _library_proba(self, X) -> np.ndarray:
        p = self._library_values(X)               # binary: P(class 1); multiclass: (n, K)
        return np.column_stack([1.0 - p, p]) if p.ndim == 1 else p

    def _fit_library(self, X, y, w, valid, rounds, params, deadline):
        import lightgbm as lgb

        cls = lgb.LGBMClassifier if self._is_classifier() else lgb.LGBMRegressor
        m = cls(n_estimators=rounds, random_state=self.seed, n_jobs=self.n_jobs, verbose=-1,
                deterministic=True, force_col_wise=True, **params)
        kw, callbacks = {}, []
        if valid is not None:
            # LightGBM >= 4.6 takes eval_X/eval_y (eval_set is deprecated there).
            new_api = "eval_X" in inspect.signature(m.fit).parameters
            ev = dict(eval_X=(valid[0],), eval_y=(valid[1],)) if new_api else dict(eval_set=[valid[:2]])
            kw = dict(**ev, eval_sample_weight=None if valid[2] is None else [valid[2]])
            callbacks.append(lgb.early_stopping(self.early_stopping_rounds, first_metric_only=True, verbose=False))
        timer = None if deadline is None else _LightGBMDeadline(deadline)
        if timer is not None:
            callbacks.append(timer)
        m.fit(X, y, sample_weight=w, callbacks=callbacks or None, **kw)
        self.best_iteration_ = int(m.best_iteration_ or m.booster_.current_iteration())
        self.stopped_by_time_ = bool(timer is not None and timer.stopped)
        return m

    def _booster(self):
        import lightgbm as lgb

        return lgb.Booster(model_str=self.model_.booster_.model_to_string(num_iteration=self.best_iteration_))


def _xgboost_deadline(deadline: float, has_valid: bool):
    """XGBoost TrainingCallback: stop (return True) after the first round that ends past `deadline`."""
    import xgboost as xgb

    class Deadline(xgb.callback.TrainingCallback):
        stopped = False

        def after_iteration(self, model, epoch, evals_log):
            if time.monotonic() < self.deadline:
                return False
            self.stopped = True
            # The EarlyStopping callback runs after this one (and not at all in the round
            # this one stops), so its best_iteration is the best of the earlier rounds;
            # stopped in round 0 it never ran: round 0 is then the best.
            if has_valid and model.attr("best_iteration") is None:
                model.set_attr(best_iteration=str(epoch))
            return True

    cb = Deadline()
    cb.deadline = deadline
    return cb


class XGBoostLearner(_BoosterLearner):
    def _fit_library(self, X, y, w, valid, rounds, params, deadline):
        import xgboost as xgb

        cls = xgb.XGBClassifier if self._is_classifier() else xgb.XGBRegressor
        if isinstance(params.get("monotone_constraints"), list):     # XGBoost takes a tuple, not a list
            params["monotone_constraints"] = tuple(params["monotone_constraints"])
        m = cls(n_estimators=rounds, tree_method="hist", enable_categorical=True, random_state=self.seed,
                n_jobs=self.n_jobs, device=self.device,
                early_stopping_rounds=self.early_stopping_rounds if valid is not None else None, **params)
        timer = None if deadline is None else _xgboost_deadline(deadline, valid is not None)
        if timer is not None:
            m.set_params(callbacks=[timer])
        kw = {}
        if valid is not None:
            kw = dict(eval_set=[valid[:2]], sample_weight_eval_set=None if valid[2] is None else [valid[2]])
        try:
            m.fit(X, y, sample_weight=w, verbose=False, **kw)
        finally:
            m.callbacks = None          # the callback class is local: it must not be pickled with the model
        if valid is not None:
            self.best_iteration_ = int(m.best_iteration + 1)
        else:
            self.best_iteration_ = int(m.get_booster().num_boosted_rounds())
        self.stopped_by_time_ = bool(timer is not None and timer.stopped)
        return m

    def _booster(self):
        return self.model_.get_booster()[: self.best_iteration_]


class _CatBoostDeadline:
    """CatBoost (CPU) callback: `after_iteration` returns False (stop) past `deadline`."""

    def __init__(self, deadline: float):
        self.deadline, self.stopped = deadline, False

    def after_iteration(self, info) -> bool:
        if time.monotonic() >= self.deadline:
            self.stopped = True
            return False
        return True


class CatBoostLearner(_BoosterLearner):
    def _to_library(self, X):
        # CatBoost wants categorical values as str/int, never NaN: missing becomes a level.
        # The strings come from each column's categories by code (one lookup per row), not
        # from per-value astype/where passes, which cost more than CatBoost's own scoring
        # on a few thousand rows.
        cols = {}
        for c in X.columns:
            s = X[c]
            if isinstance(s.dtype, pd.CategoricalDtype):
                names = np.array([str(v) for v in s.cat.categories] + ["__nan__"], dtype=object)
                s = pd.Series(names[s.cat.codes.to_numpy()], index=X.index, dtype=object)   # -1 -> "__nan__"
            cols[c] = s
        return pd.DataFrame(cols, index=X.index, columns=X.columns)

    def _fit_library(self, X, y, w, valid, rounds, params, deadline):
        from catboost import CatBoostClassifier, CatBoostRegressor, Pool

        cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        if self._is_classifier():
            loss = "Logloss" if len(self.present_) == 2 else "MultiClass"
            cls = CatBoostClassifier
        else:
            loss, cls = "RMSE", CatBoostRegressor
        monotone = any(params.get("monotone_constraints") or ())
        if monotone and cats:
            # CTRs of feature combinations mix categoricals with binarised numeric splits,
            # which bypasses the constraints: no combinations then.
            params["max_ctr_complexity"] = 1
        # CatBoost's GPU mode has no monotone constraints: fit those on the CPU.
        gpu = self.device == "cuda" and not monotone
        if gpu:                         # CatBoost's GPU mode rejects rsm outside pairwise losses
            params.pop("rsm", None)
        make = lambda n: cls(iterations=n, loss_function=loss, random_seed=self.seed,  # noqa: E731
                             thread_count=self.n_jobs, task_type="GPU" if gpu else "CPU", verbose=False,
                             allow_writing_files=False, **params)
        kw = {}
        if valid is not None:
            kw = dict(eval_set=Pool(self._to_library(valid[0]), valid[1], cat_features=cats, weight=valid[2]),
                      early_stopping_rounds=self.early_stopping_rounds, use_best_model=True)
        train = Pool(self._to_library(X), y, cat_features=cats, weight=w)
        if deadline is None:
            m = make(rounds).fit(train, **kw)
        elif not gpu:
            timer = _CatBoostDeadline(deadline)
            m = make(rounds).fit(train, callbacks=[timer], **kw)
            self.stopped_by_time_ = timer.stopped
        else:
            m = self._fit_gpu_timed(make, train, kw, rounds, deadline)
        self.best_iteration_ = int(m.tree_count_)    # use_best_model already cut the model
        return m

    def _fit_gpu_timed(self, make, train, kw, rounds, deadline):
        """No Python callbacks on GPU: time a short probe fit, then refit with the rounds that fit."""
        probe_rounds = min(rounds, 20)
        t = time.monotonic()
        probe = make(probe_rounds).fit(train, **kw)
        per_round = (time.monotonic() - t) / probe_rounds        # setup included: errs on the safe side
        if probe_rounds == rounds:
            return probe
        affordable = int((deadline - time.monotonic()) / per_round)
        if affordable <= probe_rounds:
            self.stopped_by_time_ = True
            return probe
        self.stopped_by_time_ = affordable < rounds
        return make(min(rounds, affordable)).fit(train, **kw)

    def _booster(self):
        return self.model_


# -- families ------------------------------------------------------------------------------


def monotone_columns(param: dict | None, info: ProblemInfo) -> dict | None:
    """The monotone constraints in "native" column names: the user's constraints
    (`info.extra["monotone"]`, raw numeric/boolean column names) mapped to the names the
    preprocessing gives those columns (the raw names sanitised; numerics come first, so the
    mapping does not depend on the other columns), then a `monotone` param (already in
    preprocessed names) on top."""
    out = {}
    user = info.extra.get("monotone") or {}
    if user:
        num = info.schema.of_kind(NUMERIC, BOOLEAN)
        native = dict(zip(num, _safe_names(num)))
        for col, direction in user.items():
            if col not in native:
                raise ValueError(f"monotone constraint on {col!r}, not a numeric feature of the schema")
            out[native[col]] = int(direction)
    out.update(param or {})
    return out or None


class _BoosterFamily(ModelFamily):
    learner: type = _BoosterLearner

    def refit_params(self, params: dict, fold_models: list, row_ratio: float = 1.0) -> dict:
        """The mean of the fold models' early-stopped rounds times `row_ratio`, fit on every
        row without an inner split. The refit's own early stopping would pick its rounds on a
        10% holdout -- on a few thousand rows a noisy choice: segment's CatBoost folds stopped
        at 455 to 2000 rounds and its refit at 343 (test log loss 0.073, against 0.061 for its
        folds' mean). More rows bear more rounds before they overfit: scaled by k/(k-1) the
        refit scored better on 16 of 21 members of kept Runs (`benchmarks/refit_rounds.py`)."""
        rounds = [int(m.steps[-1][1].best_iteration_) for m in fold_models
                  if getattr(m.steps[-1][1], "model_", None) is not None]
        if not rounds or params.get("early_stopping_rounds") == 0:
            return params
        return {**params, "n_estimators": max(1, round(float(np.mean(rounds)) * row_ratio)),
                "early_stopping_rounds": 0}

    def predict_seconds(self, model) -> tuple[float, float]:
        """Per row: rounds kept x the cost of one round's trees (`_tree_seconds`: leaves or
        levels per tree, by family); a one-class fit is a constant."""
        learner = model.steps[-1][1]
        if getattr(learner, "model_", None) is None:
            return self.call_seconds, 0.0
        rounds = max(1, int(getattr(learner, "best_iteration_", 0) or 0))
        per_round = len(learner.present_) if learner.task == MULTICLASS else 1
        return self.call_seconds, rounds * self._tree_seconds(learner.params or {}, per_round)

    def _tree_seconds(self, params: dict, per_round: int) -> float:
        """Seconds one row takes through the trees of one boosting round."""
        raise NotImplementedError

    def build(self, params: dict, info: ProblemInfo):
        params = dict(params)
        max_time = max_time_of(params, info)
        learner = self.learner(
            task=info.task, n_classes=info.n_classes,
            n_estimators=params.pop("n_estimators", N_ESTIMATORS_CAP),
            early_stopping_rounds=params.pop("early_stopping_rounds", EARLY_STOPPING_ROUNDS),
            monotone=monotone_columns(params.pop("monotone", None), info),
            params=params, seed=info.seed, n_jobs=info.n_jobs, device=info.device,
            max_time=max_time,
        )
        return TimedPipeline([(STEP_PREP, build_preprocessor(info.schema, "native", seed=info.seed)),
                         (STEP_LEARNER, learner)])


class LightGBMFamily(_BoosterFamily):
    name = "lightgbm"
    capabilities = Capabilities(monotone=True, native_categorical=True)
    requires = ("lightgbm",)
    extra = ""
    relative_cost = 1.0
    learner = LightGBMLearner
    call_seconds = 1.5e-3
    seconds_per_leaf = 2e-9              # per row and leaf of each tree: leaf-wise trees are deep

    def _tree_seconds(self, params: dict, per_round: int) -> float:
        return per_round * leafwise_leaves(params.get("num_leaves", 31), params.get("max_depth", -1)) \
            * self.seconds_per_leaf

    def reference_configs(self, info: ProblemInfo) -> list[dict]:
        # LightGBM's own defaults (100 rounds on every training row, no inner split): the
        # reference users measure against; on letter they beat a 60 s search by 1.9%.
        defaults = {"n_estimators": 100, "early_stopping_rounds": 0}
        if info.task == MULTICLASS:
            # With several classes, a rare class's leaves have hessians near zero and
            # LightGBM's defaults can take huge steps and diverge: on kddcup99 (23 classes,
            # some with < 5 rows) their holdout log loss was 0.66, worse than the class
            # prior. A cap on each leaf's raw output (max_delta_step x learning rate) keeps
            # them stable (0.0015 there) at no cost elsewhere: 5-fold log loss on letter
            # 0.147 -> 0.144, car 0.075 -> 0.073, segment 0.110 -> 0.115, vehicle
            # 0.615 -> 0.607, cmc 1.116 -> 1.126 (docs/benchmarks.md).
            defaults["max_delta_step"] = MULTICLASS_MAX_DELTA_STEP
        return [defaults]

    def default_configs(self, info: ProblemInfo) -> list[dict]:
        # min_data_per_group (default 100) would forbid categorical splits on small data.
        base = {"learning_rate": 0.05, "min_data_per_group": 20}
        # The first default reaches a good model fast (the budget may allow only it); the
        # others are slower learners that early stopping lets run longer.
        return [
            {**base, "num_leaves": 31, "min_child_samples": 20, "colsample_bytree": 0.9, "learning_rate": 0.1},
            {**base, "num_leaves": 15, "min_child_samples": 10, "colsample_bytree": 0.7,
             "subsample": 0.8, "subsample_freq": 1, "reg_lambda": 1.0},
            {**base, "num_leaves": 127, "min_child_samples": 30, "colsample_bytree": 0.6,
             "subsample": 0.8, "subsample_freq": 1, "reg_lambda": 3.0, "learning_rate": 0.03},
        ]

    def search_space(self, trial, info: ProblemInfo) -> dict:
        p = f"{self.name}."
        return {
            "learning_rate": trial.suggest_float(p + "learning_rate", 0.01, 0.3, log=True),
            "num_leaves": trial.suggest_int(p + "num_leaves", 4, 256, log=True),
            "min_child_samples": trial.suggest_int(p + "min_child_samples", 2, 100, log=True),
            "subsample": trial.suggest_float(p + "subsample", 0.5, 1.0),
            "subsample_freq": 1,
            "colsample_bytree": trial.suggest_float(p + "colsample_bytree", 0.4, 1.0),
            "reg_alpha": trial.suggest_float(p + "reg_alpha", 1e-8, 10.0, log=True),
            "reg_lambda": trial.suggest_float(p + "reg_lambda", 1e-8, 10.0, log=True),
            "min_data_per_group": trial.suggest_int(p + "min_data_per_group", 5, 100, log=True),
        }


class XGBoostFamily(_BoosterFamily):
    name = "xgboost"
    capabilities = Capabilities(gpu=True, monotone=True, native_categorical=True)
    requires = ("xgboost",)
    extra = "boosters"
    relative_cost = 1.5
    learner = XGBoostLearner
    call_seconds = 2.5e-3
    seconds_per_level = 1.5e-9           # per row and level of each depth-wise tree

    def _tree_seconds(self, params: dict, per_round: int) -> float:
        return per_round * int(params.get("max_depth", 6) or 6) * self.seconds_per_level

    def default_configs(self, info: ProblemInfo) -> list[dict]:
        return [
            {"learning_rate": 0.1, "max_depth": 6, "min_child_weight": 1.0, "subsample": 0.8,
             "colsample_bytree": 0.8, "reg_lambda": 1.0},
            {"learning_rate": 0.05, "max_depth": 4, "min_child_weight": 5.0, "subsample": 0.9,
             "colsample_bytree": 0.7, "reg_lambda": 3.0},
        ]

    def search_space(self, trial, info: ProblemInfo) -> dict:
        p = f"{self.name}."
        return {
            "learning_rate": trial.suggest_float(p + "learning_rate", 0.01, 0.3, log=True),
            "max_depth": trial.suggest_int(p + "max_depth", 2, 10),
            "min_child_weight": trial.suggest_float(p + "min_child_weight", 0.5, 50.0, log=True),
            "subsample": trial.suggest_float(p + "subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float(p + "colsample_bytree", 0.4, 1.0),
            "reg_alpha": trial.suggest_float(p + "reg_alpha", 1e-8, 10.0, log=True),
            "reg_lambda": trial.suggest_float(p + "reg_lambda", 1e-3, 10.0, log=True),
        }


class CatBoostFamily(_BoosterFamily):
    name = "catboost"
    capabilities = Capabilities(gpu=True, monotone=True, native_categorical=True)
    requires = ("catboost",)
    extra = "boosters"
    relative_cost = 3.0
    learner = CatBoostLearner
    call_seconds = 2e-3
    seconds_per_level = 1e-10            # oblivious trees: one comparison per level, vectorised
    seconds_per_leaf_value = 2.5e-10     # multiclass trees hold a vector per leaf
    seconds_per_row = 3e-7               # per row whatever the trees (feature quantisation, CTRs)

    def predict_seconds(self, model) -> tuple[float, float]:
        call_s, row_s = super().predict_seconds(model)
        return call_s, row_s + (self.seconds_per_row if row_s > 0 else 0.0)

    def _tree_seconds(self, params: dict, per_round: int) -> float:
        # one tree per round whatever the classes; each leaf holds one value per class
        return int(params.get("depth", 6)) * self.seconds_per_level + per_round * self.seconds_per_leaf_value

    def default_configs(self, info: ProblemInfo) -> list[dict]:
        return [
            {"learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0},
            {"learning_rate": 0.05, "depth": 8, "l2_leaf_reg": 5.0},
        ]

    def search_space(self, trial, info: ProblemInfo) -> dict:
        # CatBoost's symmetric trees have no min-child knob; random_strength and
        # bagging_temperature play the regularising/subsampling roles.
        p = f"{self.name}."
        return {
            "learning_rate": trial.suggest_float(p + "learning_rate", 0.01, 0.3, log=True),
            "depth": trial.suggest_int(p + "depth", 3, 10),
            "l2_leaf_reg": trial.suggest_float(p + "l2_leaf_reg", 0.5, 30.0, log=True),
            "random_strength": trial.suggest_float(p + "random_strength", 1e-3, 10.0, log=True),
            "bagging_temperature": trial.suggest_float(p + "bagging_temperature", 0.0, 1.0),
            "rsm": trial.suggest_float(p + "rsm", 0.5, 1.0),
        }

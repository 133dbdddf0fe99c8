"""SHAP values of one fitted family pipeline, in the ensemble's margin space, per raw feature.

The final model combines members as a weighted mean of margins (binary: log-odds of
class 1; multiclass: per-class log-scores, defined up to a per-row constant that the
softmax ignores; regression: the prediction). If every member's margin is written
exactly as `base + sum(values)`, the ensemble's is too, by the same weights. Per learner:

- boosters (LightGBM, XGBoost, CatBoost): the libraries' own exact TreeSHAP on the raw
  score (`pred_contrib` / `pred_contribs` / `ShapValues`), which is the margin;
- linear models: exact interventional linear SHAP, coef * (x - mean(background));
- forests: shap's TreeExplainer in probability space, rescaled per row to the margin
  (values keep their proportions; local accuracy is exact by construction);
- HistGradientBoosting: shap's TreeExplainer on its raw score, with ordinal codes; with
  native categorical splits (its `categorical="native"` variant), as anything else;
- anything else (k-NN, the MLP): shap's PermutationExplainer on the margin over the raw
  features (local accuracy exact, the values themselves a sampling estimate).

Values on the preprocessed columns are summed back to the raw feature each column comes
from (found by perturbing one raw column at a time), which keeps local accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from assay.ensemble.space import to_margin
from assay.errors import require
from assay.search.trial import predict_output

_EPS = 1e-12


@dataclass
class Contributions:
    values: np.ndarray      # (n, F_raw, C)
    base: np.ndarray        # (C,)
    method: str
    exact: bool             # True where the values are exact Shapley values of the margin


def n_outputs(task: str, n_classes: int) -> int:
    return n_classes if task == "multiclass" else 1


def estimator_contributions(est, X: pd.DataFrame, task: str, n_classes: int,
                            background: pd.DataFrame, seed: int = 0) -> Contributions:
    if not hasattr(est, "steps"):        # the constant baseline model, or a stacker
        prep, learner = None, None
        kind = "other" if hasattr(est, "stackers") else "constant"
    else:
        prep, learner = est.steps[0][1], est.steps[-1][1]
        kind = _learner_kind(learner)
    if kind == "constant":
        m = _margin_matrix(est, X.iloc[:1], task, n_classes)[0]
        return Contributions(np.zeros((len(X), X.shape[1], len(m))), m, "constant", True)
    if kind in ("booster", "linear", "forest", "hist_gb"):
        Xt = prep.transform(X)
        if kind == "hist_gb":
            vals, base = _hist_gb_values(learner, Xt, task, n_classes)
            method = "tree (shap TreeSHAP)"
            vals, fix = _close_residual(vals, base, _margin_matrix(est, X, task, n_classes), task)
            exact = fix < 1e-6
        elif kind == "booster":
            vals, base, exact = _booster_values(learner, Xt, task, n_classes)
            method = "tree (native TreeSHAP)"
            # XGBoost computes in float32 and the ensemble reads the margin back from
            # probabilities: spread that rounding residual over the features (reported)
            vals, fix = _close_residual(vals, base, _margin_matrix(est, X, task, n_classes), task)
            exact = exact and fix < 1e-4
        elif kind == "linear":
            vals, base = _linear_values(learner, Xt, prep.transform(background), task, n_classes)
            method, exact = "linear (interventional)", True
        else:
            vals, base = _forest_values(learner, Xt, _margin_matrix(est, X, task, n_classes), task)
            method, exact = "tree (probability TreeSHAP rescaled to margin)", False
        origins = feature_origins(prep, background, list(X.columns))
        return Contributions(_sum_by_origin(vals, origins, X.shape[1]), base, method, exact)
    vals, base = _permutation_values(est, X, background, task, n_classes, seed)
    return Contributions(vals, base, "permutation", False)


# -- which learner ----------------------------------------------------------------------


_BOOSTERS = ("LightGBMLearner", "XGBoostLearner", "CatBoostLearner")
_LINEAR = ("LogisticRegression", "BoundedLogisticRegression", "TransformedTargetRegressor", "Ridge", "ElasticNet",
           "LinearRegression")


def _learner_kind(learner) -> str:
    if getattr(learner, "constant_", None) is not None:
        return "constant"
    if type(learner).__name__ in _BOOSTERS:
        return "booster"
    inner = getattr(learner, "model_", None)
    if type(inner).__name__ in _LINEAR:
        return "linear"
    if type(inner).__name__ == "TimeBoxedForest":
        return "forest"
    if type(inner).__name__ == "TimeBoxedHistGB":
        # native categorical splits: shap's TreeExplainer reads numeric thresholds only
        return "other" if getattr(inner, "categorical_", None) is not None else "hist_gb"
    return "other"


def _margin_matrix(est, X, task, n_classes) -> np.ndarray:
    m = to_margin(predict_output(est, X, task), task)
    return m.reshape(len(X), -1)


# -- boosters ---------------------------------------------------------------------------


def _booster_values(learner, Xt, task, n_classes):
    lib = learner._to_library(Xt)
    name = type(learner).__name__
    if name.startswith("LightGBM"):
        raw = learner.model_.predict(lib, pred_contrib=True, num_iteration=learner.best_iteration_)
    elif name.startswith("XGBoost"):
        import xgboost as xgb

        raw = learner._booster().predict(xgb.DMatrix(lib, enable_categorical=True), pred_contribs=True)
    else:
        from catboost import Pool

        cats = [c for c in lib.columns if not pd.api.types.is_numeric_dtype(lib[c])]
        raw = learner.model_.get_feature_importance(data=Pool(lib, cat_features=cats), type="ShapValues")
    raw = np.asarray(raw, dtype=float)
    n, f = len(lib), lib.shape[1]
    if task != "multiclass":
        raw = raw.reshape(n, f + 1)
        return raw[:, :f, None], np.array([raw[0, f]]), True
    present = np.asarray(getattr(learner, "present_", np.arange(n_classes)))
    raw = raw.reshape(n, len(present), f + 1) if raw.ndim == 2 else raw
    vals = np.zeros((n, f, n_classes))
    base = np.full(n_classes, np.log(_EPS))
    vals[:, :, present] = np.transpose(raw[:, :, :f], (0, 2, 1))
    base[present] = raw[0, :, f]
    return vals, base, len(present) == n_classes


def _hist_gb_values(learner, Xt, task, n_classes):
    """shap's TreeExplainer on scikit-learn's HistGradientBoosting (numeric splits only: the
    family feeds it ordinal codes). Its raw score is the margin: log-odds (binary), per-class
    scores equal to log p up to a per-row constant (multiclass), the value (regression)."""
    import shap

    hgb = learner.model_.model_
    explainer = shap.TreeExplainer(hgb)
    v = np.asarray(explainer.shap_values(_dense(Xt)), dtype=float)
    ev = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    n, f = v.shape[0], v.shape[1]
    if task != "multiclass":
        return v.reshape(n, f, 1), ev[:1]
    present = np.asarray(hgb.classes_).astype(int)
    vals = np.zeros((n, f, n_classes))
    base = np.full(n_classes, np.log(_EPS))
    vals[:, :, present] = v.reshape(n, f, len(present))
    base[present] = ev
    return vals, base


def _close_residual(vals, base, margin, task):
    """Make base + sum(values) equal the margin the ensemble uses, row by row, by spreading
    the residual over the features in proportion to |value|; returns the largest residual."""
    resid = margin - (base[None, :] + vals.sum(axis=1))
    if task == "multiclass":    # margins are defined up to a per-row constant
        resid = resid - resid.mean(axis=1, keepdims=True)
    w = np.abs(vals)
    s = w.sum(axis=1, keepdims=True)
    w = np.where(s > 0, w / np.where(s > 0, s, 1), 1.0 / max(1, vals.shape[1]))
    return vals + w * resid[:, None, :], float(np.max(np.abs(resid))) if resid.size else 0.0


# -- linear models ----------------------------------------------------------------------


def _dense(a) -> np.ndarray:
    if hasattr(a, "toarray"):
        a = a.toarray()
    if isinstance(a, pd.DataFrame):
        a = a.to_numpy(dtype=float)
    return np.asarray(a, dtype=float)


def _linear_values(learner, Xt, Bt, task, n_classes):
    model = learner.model_
    if type(model).__name__ == "TransformedTargetRegressor":
        reg, scaler = model.regressor_, model.transformer_
        scale = float(np.ravel(getattr(scaler, "scale_", [1.0]))[0])
        mean = float(np.ravel(getattr(scaler, "mean_", [0.0]))[0])
        coef = np.ravel(reg.coef_)[None, :] * scale
        intercept = np.array([mean + scale * float(np.ravel(reg.intercept_)[0])])
    else:
        coef = np.atleast_2d(model.coef_)
        intercept = np.ravel(np.atleast_1d(model.intercept_)).astype(float)
    mu = _dense(Bt).mean(axis=0)
    X = _dense(Xt)
    if task == "multiclass":
        present = np.asarray(model.classes_, dtype=int)
        full_c = np.zeros((n_classes, X.shape[1]))
        full_b = np.full(n_classes, np.log(_EPS))
        if coef.shape[0] == 1:   # two classes present in a multiclass fit: logistic on the second
            full_c[present[1]], full_b[present[1]] = coef[0], intercept[0]
            full_b[present[0]] = 0.0
        else:
            full_c[present], full_b[present] = coef, intercept
        coef, intercept = full_c, full_b
    vals = (X - mu)[:, :, None] * coef.T[None, :, :]
    base = intercept + mu @ coef.T
    return vals, base


# -- forests ----------------------------------------------------------------------------


def _forest_values(learner, Xt, margin, task):
    shap = require("shap", "audit")

    inner = learner.model_
    forest = getattr(inner, "forest_", inner)
    X = _dense(Xt)
    expl = shap.TreeExplainer(forest, feature_perturbation="tree_path_dependent")
    sv = np.asarray(expl.shap_values(X, check_additivity=False), dtype=float)
    ev = np.ravel(np.asarray(expl.expected_value, dtype=float))
    if sv.ndim == 2:
        sv = sv[:, :, None]
    if task == "regression":
        out_p, ev_p, base = sv, ev, ev
    else:
        present = np.asarray(inner.classes_ if hasattr(inner, "classes_") else forest.classes_, dtype=int)
        k = margin.shape[1] if task == "multiclass" else 2
        p_vals = np.zeros((X.shape[0], X.shape[1], k))
        p_base = np.zeros(k)
        p_vals[:, :, present] = sv
        p_base[present] = ev
        if task == "binary":
            out_p, ev_p = p_vals[:, :, 1:2], p_base[1:2]
            base = np.log(np.clip(ev_p, _EPS, 1)) - np.log(np.clip(1 - ev_p, _EPS, 1))
        else:
            out_p, ev_p = p_vals, p_base
            base = np.log(np.clip(ev_p, _EPS, 1))
    return _rescale(out_p, ev_p, margin, base), base


def _rescale(vals, base_p, target, base_m):
    """Scale each row's values so they sum to (margin - margin base), keeping proportions."""
    total_p = vals.sum(axis=1)                       # (n, C)
    total_m = target - base_m[None, :]
    out = np.empty_like(vals)
    for c in range(vals.shape[2]):
        tp, tm = total_p[:, c], total_m[:, c]
        ok = np.abs(tp) > 1e-12
        ratio = np.where(ok, tm / np.where(ok, tp, 1.0), 0.0)
        out[:, :, c] = vals[:, :, c] * ratio[:, None]
        if (~ok).any():   # no probability movement: share the margin movement by |value| (or evenly)
            w = np.abs(vals[~ok, :, c])
            s = w.sum(axis=1, keepdims=True)
            w = np.where(s > 0, w / np.where(s > 0, s, 1), 1.0 / vals.shape[1])
            out[~ok, :, c] = w * tm[~ok, None]
    return out


# -- black boxes ------------------------------------------------------------------------


def _permutation_values(est, X, background, task, n_classes, seed):
    shap = require("shap", "audit")

    codec = _Codec(pd.concat([background, X], ignore_index=True))
    f = lambda Z: _margin_matrix(est, codec.decode(Z), task, n_classes)  # noqa: E731
    masker = shap.maskers.Independent(codec.encode(background), max_samples=min(len(background), 50))
    expl = shap.explainers.Permutation(f, masker, seed=seed)
    res = expl(codec.encode(X), max_evals=2 * X.shape[1] + 1, silent=True)
    vals = np.asarray(res.values, dtype=float)
    if vals.ndim == 2:
        vals = vals[:, :, None]
    base = np.asarray(res.base_values, dtype=float).reshape(len(X), -1)[0]
    return vals, base


class _Codec:
    """Raw columns <-> a float matrix (non-numeric columns as codes into their values)."""

    def __init__(self, df: pd.DataFrame):
        self.columns = list(df.columns)
        self.tables = {}
        for c in self.columns:
            if not pd.api.types.is_float_dtype(df[c]):
                self.tables[c] = pd.unique(df[c].astype(object))
        self.dtypes = df.dtypes

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(df), len(self.columns)))
        for j, c in enumerate(self.columns):
            if c in self.tables:
                out[:, j] = pd.Index(self.tables[c]).get_indexer(df[c].astype(object))
            else:
                out[:, j] = df[c].to_numpy(dtype=float)
        return out

    def decode(self, Z: np.ndarray) -> pd.DataFrame:
        cols = {}
        for j, c in enumerate(self.columns):
            if c in self.tables:
                vals = self.tables[c][np.clip(Z[:, j].astype(int), 0, len(self.tables[c]) - 1)]
                cols[c] = pd.Series(vals, dtype=object).astype(self.dtypes[c]) \
                    if self.dtypes[c] != object else pd.Series(vals, dtype=object)
            else:
                cols[c] = Z[:, j]
        return pd.DataFrame(cols, columns=self.columns)


# -- preprocessed column -> raw feature ---------------------------------------------------


def _as_matrix(t) -> np.ndarray:
    if isinstance(t, pd.DataFrame):
        return np.column_stack([
            t[c].cat.codes.to_numpy(float) if isinstance(t[c].dtype, pd.CategoricalDtype)
            else t[c].to_numpy(dtype=float) for c in t.columns]) if t.shape[1] else np.zeros((len(t), 0))
    return _dense(t)


def _missing_like(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return pd.Series(pd.NaT, index=s.index, dtype=s.dtype)
    if pd.api.types.is_float_dtype(s):
        return pd.Series(np.nan, index=s.index)
    return pd.Series([np.nan] * len(s), index=s.index, dtype=object)


def feature_origins(prep, sample: pd.DataFrame, raw_names: list[str]) -> np.ndarray:
    """For each preprocessed column, the index of the raw feature it is computed from
    (-1 if none was found): perturb one raw column at a time and see which outputs move."""
    sample = sample.reset_index(drop=True)
    base = _as_matrix(prep.transform(sample))
    owner = np.full(base.shape[1], -1)
    for j, name in enumerate(raw_names):
        col = sample[name]
        for variant in (col.iloc[np.roll(np.arange(len(col)), 1)].reset_index(drop=True), _missing_like(col)):
            Xp = sample.copy()
            Xp[name] = variant.to_numpy() if variant.dtype != object else variant.astype(object).to_numpy()
            moved = ~np.isclose(_as_matrix(prep.transform(Xp)), base, equal_nan=True).all(axis=0)
            owner[moved & (owner == -1)] = j
    return owner


def _sum_by_origin(vals: np.ndarray, origins: np.ndarray, n_raw: int) -> np.ndarray:
    """(n, F_out, C) -> (n, F_raw, C); unattributed columns go to the raw feature with
    the largest share (never lost: local accuracy is kept)."""
    out = np.zeros((vals.shape[0], n_raw, vals.shape[2]))
    for j in range(n_raw):
        cols = origins == j
        if cols.any():
            out[:, j, :] = vals[:, cols, :].sum(axis=1)
    rest = origins < 0
    if rest.any():
        spill = vals[:, rest, :].sum(axis=1)
        target = int(np.argmax(np.abs(out).sum(axis=(0, 2)))) if n_raw else 0
        out[:, target, :] += spill
    return out

"""Proxies: features that predict a sensitive attribute.

Leaving a sensitive column out of the features does not keep its information out of the
model when other features encode it (a "proxy": marital status or relationship for sex,
neighbourhood for race). For each sensitive column we fit a quick model on at most
`max_rows` rows, 3-fold cross-validated, and report its AUC for predicting the sensitive
attribute (one-vs-rest, weighted by group size, for more than two groups):

- from each single feature: a smoothed lookup table of group shares per level (numeric
  features in 20 quantile bins; missing values are a level), i.e. the best any model of
  that feature alone can do up to binning, in milliseconds;
- from all features together: a small LightGBM (single thread).

AUC 0.5 = no information; features at or above `flag_auc` are flagged as proxies.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

FLAG_AUC = 0.7
MAX_ROWS = 4000
MIN_GROUP_ROWS = 10
N_BINS = 20


def _encode(col: pd.Series) -> tuple[np.ndarray, bool] | None:
    """A feature as a float column (NaN = missing); (values, categorical?)."""
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
        return col.to_numpy(dtype=float, na_value=np.nan), False
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        v = col.astype("int64").to_numpy(dtype=float)
        v[col.isna().to_numpy()] = np.nan
        return v, False
    codes, uniques = pd.factorize(col.astype(object), use_na_sentinel=True)
    if len(uniques) > 250:          # text or high cardinality: most frequent 250 levels, rest pooled
        top = pd.Series(codes[codes >= 0]).value_counts().index[:249]
        remap = np.full(len(uniques), 249)
        remap[top.to_numpy()] = np.arange(len(top))
        codes = np.where(codes >= 0, remap[np.clip(codes, 0, None)], -1)
    v = codes.astype(float)
    v[codes < 0] = np.nan
    return v, True


def _levels(v: np.ndarray, cat: bool) -> np.ndarray:
    """Integer levels: categories as they are, numbers in quantile bins; missing = its own level."""
    out = np.full(len(v), -1, dtype=np.int64)
    ok = np.isfinite(v)
    if ok.any():
        if cat:
            out[ok] = v[ok].astype(np.int64)
        else:
            edges = np.unique(np.quantile(v[ok], np.linspace(0, 1, N_BINS + 1)[1:-1]))
            out[ok] = np.searchsorted(edges, v[ok], side="right")
    return out - out.min()


def _auc(target: np.ndarray, classes: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(classes) == 2:
        return float(roc_auc_score(target == classes[1], proba[:, 1]))
    return float(roc_auc_score(target, proba, multi_class="ovr", average="weighted", labels=classes))


def _folds(target, seed):
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(n_splits=3, shuffle=True, random_state=seed).split(np.zeros(len(target)), target)


def _lookup_auc(levels: np.ndarray, target: np.ndarray, seed: int) -> float:
    classes, t = np.unique(target, return_inverse=True)
    k, n_lv = len(classes), int(levels.max()) + 1
    proba = np.zeros((len(t), k))
    for tr, va in _folds(target, seed):
        prior = np.bincount(t[tr], minlength=k) / len(tr)
        counts = np.zeros((n_lv, k))
        np.add.at(counts, (levels[tr], t[tr]), 1.0)
        table = (counts + prior) / (counts.sum(axis=1, keepdims=True) + 1.0)
        proba[va] = table[levels[va]]
    return _auc(target, classes, proba)


def _model_auc(Z: np.ndarray, cat: list[bool], target: np.ndarray, seed: int) -> float:
    import lightgbm as lgb

    classes, t = np.unique(target, return_inverse=True)
    proba = np.zeros((len(t), len(classes)))
    cats = [i for i, c in enumerate(cat) if c]
    for tr, va in _folds(target, seed):
        m = lgb.LGBMClassifier(n_estimators=60, learning_rate=0.1, num_leaves=15, n_jobs=1,
                               random_state=seed, verbose=-1)
        m.fit(Z[tr], t[tr], categorical_feature=cats or "auto")
        p = m.predict_proba(Z[va])
        proba[np.ix_(va, m.classes_)] = p
    return _auc(target, classes, proba)


def find_proxies(X: pd.DataFrame, groups: pd.DataFrame, *, seed: int = 0, max_rows: int = MAX_ROWS,
                 flag_auc: float = FLAG_AUC) -> list[dict]:
    """One dict per (sensitive column, feature), plus feature "(all features)"; sorted by AUC."""
    X = X.reset_index(drop=True)
    groups = groups.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    idx = np.arange(len(X)) if len(X) <= max_rows else np.sort(rng.choice(len(X), max_rows, replace=False))
    enc = {}
    for c in X.columns:
        if c in groups.columns:
            continue                    # allowed as a feature: trivially its own proxy
        e = _encode(X[c].iloc[idx].reset_index(drop=True))
        if e is not None and np.isfinite(e[0]).any():
            enc[c] = e
    out = []
    for s in groups.columns:
        g = groups[s].to_numpy(dtype=str)[idx]
        counts = pd.Series(g).value_counts()
        keep = np.isin(g, counts.index[counts >= MIN_GROUP_ROWS])
        if len(counts[counts >= MIN_GROUP_ROWS]) < 2 or not enc:
            continue
        t = g[keep]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = []
            for c, (v, cat) in enc.items():
                auc = _lookup_auc(_levels(v[keep], cat), t, seed)
                rows.append({"sensitive": s, "feature": c, "auc": round(auc, 4), "proxy": auc >= flag_auc})
            Z = np.column_stack([v[keep] for v, _ in enc.values()])
            auc = _model_auc(Z, [cat for _, cat in enc.values()], t, seed)
            rows.append({"sensitive": s, "feature": "(all features)", "auc": round(auc, 4),
                         "proxy": auc >= flag_auc})
        out += sorted(rows, key=lambda r: -r["auc"])
    return out

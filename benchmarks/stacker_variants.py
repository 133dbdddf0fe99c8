"""Other second layers on the inputs of assay's stacker, scored on the benchmark's test split.

For a saved Run fit on a manifest dataset's seed-0 training split, this takes the
out-of-fold predictions (oof.npz) of the Run's kept models -- the best trial of each family,
the same first layer the stacker uses -- and their fold models' predictions on the test
rows, and cross-validates on the Run's own folds a few second layers: LightGBM on features
plus margins (assay's stacker configuration), LightGBM on the margins alone, a slower
LightGBM, CatBoost, and ridge / logistic regression on the margins. It prints each one's
out-of-fold and test metric, then each first-layer model's. Used to ask whether a gap to
AutoGluon is in the second layer or in the first (docs/benchmarks.md).

    .venv/bin/python benchmarks/stacker_variants.py RUN_DIR DATASET [--datasets-dir ../shared/datasets]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from vs_lightgbm import load_and_split, load_manifest


def _inner_split(n: int):
    idx = np.random.default_rng(0).permutation(n)
    return idx[n // 10:], idx[: n // 10]


def lightgbm_layer(task, params, cols):
    import lightgbm as lgb

    def fit_predict(A, y, B):
        cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
        tr, va = _inner_split(len(y))
        m = cls(n_estimators=3000, verbose=-1, n_jobs=2, **params)
        m.fit(A[cols].iloc[tr], y[tr], eval_set=[(A[cols].iloc[va], y[va])],
              callbacks=[lgb.early_stopping(100, verbose=False)])
        return m.predict(B[cols]) if task == "regression" else m.predict_proba(B[cols])
    return fit_predict


def catboost_layer(task, cols):
    def fit_predict(A, y, B):
        from catboost import CatBoostClassifier, CatBoostRegressor

        cats = [c for c in cols if isinstance(A[c].dtype, pd.CategoricalDtype)]
        A, B = A[cols].copy(), B[cols].copy()
        for c in cats:
            A[c], B[c] = A[c].astype(str), B[c].astype(str)
        cls = CatBoostRegressor if task == "regression" else CatBoostClassifier
        tr, va = _inner_split(len(y))
        m = cls(iterations=3000, learning_rate=0.05, depth=6, verbose=0, thread_count=2,
                early_stopping_rounds=100, cat_features=cats)
        m.fit(A.iloc[tr], y[tr], eval_set=(A.iloc[va], y[va]))
        return m.predict(B) if task == "regression" else m.predict_proba(B)
    return fit_predict


def linear_layer(task, cols):
    def fit_predict(A, y, B):
        from sklearn.linear_model import LogisticRegression, RidgeCV

        if task == "regression":
            return RidgeCV().fit(A[cols], y).predict(B[cols])
        return LogisticRegression(max_iter=1000).fit(A[cols], y).predict_proba(B[cols])
    return fit_predict


def main(argv=None) -> None:
    import assay
    from assay.data.split import make_folds
    from assay.ensemble.space import to_margin
    from assay.ensemble.stacking import STACKER_PARAMS
    from assay.metrics import get_metric

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("dataset")
    ap.add_argument("--datasets-dir", default="../shared/datasets")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")

    d = Path(args.datasets_dir)
    entry = {e["name"]: e for e in load_manifest(d)}[args.dataset]
    train, test = load_and_split(entry, d, 0)[:2]
    task, target = entry["task"], entry["target"]
    metric = get_metric(entry["metric"], task)
    run = assay.load(args.run_dir)
    z = np.load(Path(args.run_dir) / "oof.npz")
    y = z["y"]
    labels = [str(c) for c in run.classes] if run.classes else None
    y_test = (test[target].to_numpy(float) if labels is None
              else np.array([labels.index(str(v)) for v in test[target]]))
    X, X_test = train.drop(columns=[target]).reset_index(drop=True), test.drop(columns=[target]).reset_index(drop=True)
    names = [n for n in run.models() if "#" in n]

    def margins(preds, n):
        return np.column_stack([to_margin(p, task).reshape(n, -1) for p in preds])

    oof = {n: z["trial_" + n.split("#")[1]].astype(float) for n in names}
    on_test = {n: run.predict_output(X_test, model=n) for n in names}
    for c in X.columns:                       # one category list per column for both splits
        if X[c].dtype == object:
            cats = pd.Categorical(pd.concat([X[c], X_test[c]])).categories
            X[c], X_test[c] = pd.Categorical(X[c], categories=cats), pd.Categorical(X_test[c], categories=cats)
    m_tr, m_te = margins([oof[n] for n in names], len(y)), margins([on_test[n] for n in names], len(X_test))
    mcols = [f"__margin_{i}" for i in range(m_tr.shape[1])]
    A = pd.concat([X, pd.DataFrame(m_tr, columns=mcols)], axis=1)
    B = pd.concat([X_test, pd.DataFrame(m_te, columns=mcols)], axis=1)
    every = list(A.columns)
    layers = {
        "lightgbm, features + margins (assay's stacker)": lightgbm_layer(task, STACKER_PARAMS, every),
        "lightgbm, margins only": lightgbm_layer(task, STACKER_PARAMS, mcols),
        "lightgbm lr 0.02, 31 leaves": lightgbm_layer(task, {**STACKER_PARAMS, "learning_rate": 0.02, "num_leaves": 31},
                                                      every),
        "catboost, features + margins": catboost_layer(task, every),
        "ridge / logistic, margins": linear_layer(task, mcols),
    }
    folds = make_folds(y, task, seed=run.meta["seed"], n_folds=run.meta["n_folds"])
    print(f"{args.dataset}: {len(y)} training rows, {len(folds)} folds, first layer {names}")
    print("| second layer | out-of-fold | test | seconds |\n|---|---|---|---|")
    for label, fit_predict in layers.items():
        t = time.perf_counter()
        cv = np.zeros((len(y),) if task == "regression" else (len(y), len(labels)))
        pred = 0.0
        for tr, va in folds:
            cv[va] = fit_predict(A.iloc[tr], y[tr], A.iloc[va])
            pred = pred + fit_predict(A.iloc[tr], y[tr], B) / len(folds)
        print(f"| {label} | {metric.value(y, cv):.5f} | {metric.value(y_test, pred):.5f} | "
              f"{time.perf_counter() - t:.0f} |")
    for n in names:
        print(f"| (first layer) {n} | {metric.value(y, oof[n]):.5f} | {metric.value(y_test, on_test[n]):.5f} | |")


if __name__ == "__main__":
    main()

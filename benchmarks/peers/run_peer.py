#!/usr/bin/env python
"""Fit one peer system on a prepared split and write its test predictions.

Runs in the peers' own virtualenv (see benchmarks/README.md), never in assay's: it imports
nothing from assay. `benchmarks/compare.py` prepares the split, starts this script in its
own process group with a hard kill, measures its wall time and peak memory from outside,
and scores the predictions with assay's metrics, so every system is scored the same way.

Input: train.csv / test.csv where a classification target is already coded as the strings
"c0", "c1", ... (class k = code k), so no system can guess a different label order or
mistake integer labels for a regression. Output (--out, .npz): `pred` (n_test x n_classes
probabilities in code order, or n_test values), `fit_s`, `predict_s` (a warm second call),
`predict_first_s`, `model` (what the system chose, for the record).

    python run_peer.py --system flaml --train train.csv --test test.csv --target y \
        --task binary --metric roc_auc --time-limit 60 --seed 0 --threads 2 --out pred.npz
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import pandas as pd

SYSTEMS = ("lightgbm", "hgb", "flaml", "autogluon_best", "autogluon_medium", "h2o")

METRIC_NAMES = {  # manifest metric -> each system's own name for it
    "flaml": {"roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "rmse"},
    "autogluon": {"roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "root_mean_squared_error"},
    "h2o": {"roc_auc": "AUC", "log_loss": "logloss", "rmse": "RMSE"},
}


def categorical_frame(train: pd.DataFrame, test: pd.DataFrame):
    """object columns -> pandas category with the training categories (LightGBM / HGB)."""
    tr, te = train.copy(), test.copy()
    for c in tr.columns:
        if tr[c].dtype == object or pd.api.types.is_string_dtype(tr[c].dtype):
            cats = pd.Index(pd.unique(tr[c].dropna().astype(str)))
            tr[c] = pd.Categorical(tr[c].astype("string"), categories=cats)
            te[c] = pd.Categorical(te[c].astype("string"), categories=cats)
        elif pd.api.types.is_bool_dtype(tr[c].dtype):
            tr[c], te[c] = tr[c].astype(float), te[c].astype(float)
    # columns LightGBM rejects by name: plain positional names
    names = {c: f"f{i}" for i, c in enumerate(tr.columns)}
    return tr.rename(columns=names), te.rename(columns=names)


def proba_in_code_order(proba: np.ndarray, classes, n_classes: int) -> np.ndarray:
    out = np.zeros((proba.shape[0], n_classes))
    for j, c in enumerate(classes):
        out[:, int(str(c)[1:])] = proba[:, j]
    return out


def timed_predict(fn, X):
    t = time.perf_counter()
    pred = fn(X)
    first = time.perf_counter() - t
    t = time.perf_counter()
    pred = fn(X)
    return pred, first, time.perf_counter() - t


def run_reference(system, Xtr, ytr, Xte, task, n_classes, seed, threads):
    tr, te = categorical_frame(Xtr, Xte)
    if system == "lightgbm":
        import lightgbm as lgb

        cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
        model = cls(n_jobs=threads, random_state=seed, verbose=-1)
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
        model = cls(categorical_features="from_dtype", random_state=seed)
        # HGB bins categoricals into at most 255 levels: larger ones become ordinal codes
        for c in tr.columns:
            if isinstance(tr[c].dtype, pd.CategoricalDtype) and len(tr[c].cat.categories) > 250:
                tr[c] = tr[c].cat.codes.replace(-1, np.nan).astype(float)
                te[c] = te[c].cat.codes.replace(-1, np.nan).astype(float)
        tr = tr.loc[:, ~tr.isna().all().to_numpy()]
        te = te[tr.columns]
    t = time.perf_counter()
    model.fit(tr, ytr)
    fit_s = time.perf_counter() - t
    if task == "regression":
        pred, first, warm = timed_predict(model.predict, te)
    else:
        proba, first, warm = timed_predict(model.predict_proba, te)
        pred = proba_in_code_order(proba, model.classes_, n_classes)
    return pred, fit_s, first, warm, type(model).__name__


def run_flaml(Xtr, ytr, Xte, task, n_classes, metric, limit, seed, threads):
    from flaml import AutoML

    automl = AutoML()
    t = time.perf_counter()
    automl.fit(Xtr, ytr, task="regression" if task == "regression" else "classification",
               metric=METRIC_NAMES["flaml"][metric], time_budget=limit, n_jobs=threads, seed=seed,
               verbose=0)
    fit_s = time.perf_counter() - t
    if task == "regression":
        pred, first, warm = timed_predict(automl.predict, Xte)
    else:
        proba, first, warm = timed_predict(automl.predict_proba, Xte)
        pred = proba_in_code_order(proba, automl.classes_, n_classes)
    return pred, fit_s, first, warm, str(automl.best_estimator)


def run_autogluon(preset, train, Xte, target, task, n_classes, metric, limit, seed, threads):
    from autogluon.tabular import TabularPredictor

    path = tempfile.mkdtemp(prefix="ag-")
    try:
        predictor = TabularPredictor(label=target, problem_type=task, path=path, verbosity=0,
                                     eval_metric=METRIC_NAMES["autogluon"][metric])
        t = time.perf_counter()
        predictor.fit(train, time_limit=limit, presets=preset,
                      num_cpus=threads, num_gpus=0)
        fit_s = time.perf_counter() - t
        best = predictor.model_best
        if task == "regression":
            pred, first, warm = timed_predict(predictor.predict, Xte)
            pred = np.asarray(pred, dtype=float)
        else:
            proba, first, warm = timed_predict(predictor.predict_proba, Xte)
            pred = proba_in_code_order(np.asarray(proba), list(proba.columns), n_classes)
        return pred, fit_s, first, warm, str(best)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_h2o(train, Xte, target, task, n_classes, metric, limit, seed, threads):
    import h2o
    from h2o.automl import H2OAutoML

    h2o.init(nthreads=threads, max_mem_size="6G", verbose=False)
    h2o.no_progress()
    try:
        htr = h2o.H2OFrame(train)
        hte = h2o.H2OFrame(Xte)
        if task != "regression":
            htr[target] = htr[target].asfactor()
        aml = H2OAutoML(max_runtime_secs=int(limit), seed=seed, sort_metric=METRIC_NAMES["h2o"][metric],
                        verbosity=None)
        t = time.perf_counter()
        aml.train(x=[c for c in train.columns if c != target], y=target, training_frame=htr)
        fit_s = time.perf_counter() - t

        def predict(frame):
            return aml.leader.predict(frame).as_data_frame(use_pandas=True)

        out, first, warm = timed_predict(predict, hte)
        if task == "regression":
            pred = out["predict"].to_numpy(dtype=float)
        else:
            cols = [c for c in out.columns if c != "predict"]
            pred = proba_in_code_order(out[cols].to_numpy(dtype=float), cols, n_classes)
        return pred, fit_s, first, warm, str(aml.leader.model_id)
    finally:
        h2o.cluster().shutdown()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--system", required=True, choices=SYSTEMS)
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--task", required=True, choices=("binary", "multiclass", "regression"))
    p.add_argument("--metric", required=True, choices=("roc_auc", "log_loss", "rmse"))
    p.add_argument("--n-classes", type=int, default=0)
    p.add_argument("--time-limit", type=float, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(a.threads))

    train = pd.read_csv(a.train, low_memory=False)
    test = pd.read_csv(a.test, low_memory=False)
    Xte = test.drop(columns=[a.target], errors="ignore")
    Xtr, ytr = train.drop(columns=[a.target]), train[a.target]
    s = a.system
    if s in ("lightgbm", "hgb"):
        res = run_reference(s, Xtr, ytr, Xte, a.task, a.n_classes, a.seed, a.threads)
    elif s == "flaml":
        res = run_flaml(Xtr, ytr, Xte, a.task, a.n_classes, a.metric, a.time_limit, a.seed, a.threads)
    elif s.startswith("autogluon"):
        preset = "best_quality" if s == "autogluon_best" else "medium_quality"
        res = run_autogluon(preset, train, Xte, a.target, a.task, a.n_classes, a.metric, a.time_limit,
                            a.seed, a.threads)
    else:
        res = run_h2o(train, Xte, a.target, a.task, a.n_classes, a.metric, a.time_limit, a.seed, a.threads)
    pred, fit_s, first, warm, model = res
    np.savez(a.out, pred=np.asarray(pred, dtype=float), fit_s=fit_s, predict_first_s=first,
             predict_s=warm, model=model)
    print(json.dumps({"system": s, "fit_s": fit_s, "predict_s": warm, "model": model}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

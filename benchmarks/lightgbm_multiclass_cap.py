#!/usr/bin/env python
"""LightGBM's multiclass defaults against leaf-output caps and L2 variants.

Why LightGBM's multiclass reference configuration in assay adds ``max_delta_step=2``
(docs/benchmarks.md, seventh session): for each dataset, the benchmark's seed-0 training
split (``vs_lightgbm.load_and_split``) is scored by 5-fold stratified CV log loss (or, with
``--holdout``, one stratified 90/10 split, for kddcup99's 370k rows), 100 rounds, each
variant on the same folds.

    .venv/bin/python benchmarks/lightgbm_multiclass_cap.py --datasets letter,car,segment,vehicle,cmc
    .venv/bin/python benchmarks/lightgbm_multiclass_cap.py --datasets kddcup99_10pct --holdout
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from vs_lightgbm import DEFAULT_DATASETS, load_and_split, load_manifest, parse_dataset_list

VARIANTS = {
    "defaults": {},
    "max_delta_step=1": {"max_delta_step": 1.0},
    "max_delta_step=2": {"max_delta_step": 2.0},
    "max_delta_step=4": {"max_delta_step": 4.0},
    "reg_lambda=1": {"reg_lambda": 1.0},
    "min_sum_hessian_in_leaf=1": {"min_sum_hessian_in_leaf": 1.0},
}


def frame(train: pd.DataFrame, target: str):
    X = train.drop(columns=[target]).copy()
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            X[c] = X[c].astype("category")
    labels = train[target].astype(str)
    classes = sorted(labels.unique())
    return X, labels.map({c: i for i, c in enumerate(classes)}).to_numpy(), len(classes)


def main(argv=None) -> int:
    import lightgbm as lgb
    from assay.metrics import get_metric
    from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", required=True)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--holdout", action="store_true", help="one 90/10 split instead of 5 folds")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    names = a.variants.split(",")
    log_loss = get_metric("log_loss", "multiclass").value      # what compare.py scores with
    print("| dataset | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for entry in parse_dataset_list(a.datasets, load_manifest(DEFAULT_DATASETS)):
        train = load_and_split(entry, DEFAULT_DATASETS, 0)[0]
        X, y, k = frame(train, entry["target"])
        # classes with a single row cannot be stratified: they are folded into the training side
        strat = np.where(np.bincount(y, minlength=k)[y] >= 5, y, -1)
        cv = StratifiedShuffleSplit(1, test_size=0.1, random_state=0) if a.holdout else \
            StratifiedKFold(5, shuffle=True, random_state=0)
        folds = list(cv.split(X, strat))
        cells = []
        for name in names:
            t0, oof, seen = time.perf_counter(), np.zeros((len(y), k)), np.zeros(len(y), bool)
            for tr, va in folds:
                m = lgb.LGBMClassifier(n_estimators=100, verbose=-1, n_jobs=a.threads, **VARIANTS[name])
                m.fit(X.iloc[tr], y[tr])
                oof[np.ix_(va, m.classes_)] = m.predict_proba(X.iloc[va])
                seen[va] = True
            cells.append(f"{log_loss(y[seen], oof[seen]):.4f} ({time.perf_counter() - t0:.0f} s)")
        print(f"| {entry['name']} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Booster-specific behaviour: inner split, early stopping, the exposed booster, monotone constraints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.data.schema import ColumnSpec, Schema
from assay.models.base import ProblemInfo
from assay.models.boosters import CatBoostFamily, LightGBMFamily, XGBoostFamily, inner_split

FAMILIES = [pytest.param(F(), id=F.name) for F in (LightGBMFamily, XGBoostFamily, CatBoostFamily)
            if F().is_available()]


def regression_problem(n=300, seed=0):
    r = np.random.default_rng(seed)
    X = pd.DataFrame({"x": r.uniform(-2, 2, n), "z": r.normal(size=n)})
    y = np.sin(X["x"].to_numpy()) + X["x"].to_numpy() + 0.2 * r.normal(size=n)
    schema = Schema(target="y", task="regression", columns=[
        ColumnSpec("x", "numeric", "float64"), ColumnSpec("z", "numeric", "float64")])
    return X, y, ProblemInfo(schema=schema, n_rows=n, seed=seed)


def test_inner_split_stratified_keeps_every_class_in_train():
    y = np.array([0] * 50 + [1] * 45 + [2] * 5 + [3])
    tr, va = inner_split(y, len(y), 0.1, seed=1, stratify=True)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(y)
    assert set(y[tr]) == {0, 1, 2, 3}             # the singleton class stays in train
    assert 15 <= len(va) <= 25                    # at least 20 rows where the data allows
    again = inner_split(y, len(y), 0.1, seed=1, stratify=True)
    np.testing.assert_array_equal(again[1], va)


@pytest.mark.parametrize("family", FAMILIES)
def test_early_stopping_keeps_best_iteration_and_exposes_booster(family):
    X, y, info = regression_problem()
    params = {**family.default_configs(info)[0], "learning_rate": 0.3, "n_estimators": 400,
              "early_stopping_rounds": 10}
    model = family.build(params, info).fit(X, y)
    learner = model.named_steps["learner"]
    assert 1 <= learner.best_iteration_ < 400        # stopped early on an easy 1-d signal
    assert learner.model_ is not None and learner.booster_ is not None
    Z = model.named_steps["prep"].transform(X)
    if family.name == "lightgbm":
        np.testing.assert_allclose(learner.booster_.predict(Z), model.predict(X), rtol=1e-6)
    elif family.name == "xgboost":
        assert learner.booster_.num_boosted_rounds() == learner.best_iteration_
    else:
        assert learner.booster_.tree_count_ == learner.best_iteration_


@pytest.mark.parametrize("family", FAMILIES)
def test_monotone_constraint_by_column_name(family):
    X, y, info = regression_problem()
    params = {**family.default_configs(info)[0], "n_estimators": 80, "monotone": {"x": 1}}
    model = family.build(params, info).fit(X, y)
    grid = pd.DataFrame({"x": np.linspace(-2, 2, 50), "z": 0.0})
    assert np.all(np.diff(model.predict(grid)) >= -1e-9)


@pytest.mark.parametrize("task,n_classes", [("binary", 2), ("multiclass", 3), ("regression", 0)])
def test_lightgbm_scores_its_float_matrix_as_its_own_pandas_path(task, n_classes):
    """The Booster on `native_matrix` (category codes, -1 -> NaN) gives what LightGBM's own
    DataFrame path gives, with categories, missing and unseen levels and early stopping."""
    r = np.random.default_rng(5)
    n = 400
    X = pd.DataFrame({"x": r.normal(size=n), "c": r.choice(list("abcde"), n).astype(object)})
    X.loc[::9, "x"] = np.nan
    X.loc[::11, "c"] = np.nan
    signal = X["x"].fillna(0).to_numpy() + (X["c"] == "b").to_numpy() * 1.5
    y = (signal + 0.3 * r.normal(size=n) if task == "regression"
         else np.digitize(signal, [0.0, 1.0][: n_classes - 1]))
    schema = Schema(target="y", task=task, columns=[ColumnSpec("x", "numeric", "float64"),
                                                    ColumnSpec("c", "categorical", "object")],
                    classes=[str(k) for k in range(n_classes)] or None)
    info = ProblemInfo(schema=schema, n_rows=n, seed=0)
    family = LightGBMFamily()
    model = family.build({**family.default_configs(info)[0], "early_stopping_rounds": 10}, info).fit(X, y)
    learner = model.named_steps["learner"]
    test = X.iloc[:60].copy()
    test.loc[test.index[:5], "c"] = "never-seen"
    Z = model.named_steps["prep"].transform(test)
    if task == "regression":
        np.testing.assert_allclose(learner.predict(Z), learner.model_.predict(Z), rtol=1e-12, atol=1e-12)
    else:
        want = np.zeros((len(Z), n_classes))
        want[:, learner.present_] = learner.model_.predict_proba(Z)
        np.testing.assert_allclose(learner.predict_proba(Z), want, rtol=1e-12, atol=1e-12)

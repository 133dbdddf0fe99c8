"""HistGradientBoosting's trees compiled into one LightGBM Booster (`CompiledHistGB`): the same
predictions as scikit-learn's own loop over trees, for every kind of split and task, and the
final ensemble's HistGradientBoosting members predict through it."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from assay.data.validate import encode_target, prepare_training
from assay.models.base import ProblemInfo
from assay.models.hist_gb import TimeBoxedHistGB
from assay.models.hist_gb_compiled import CompiledHistGB
from assay.models.registry import get_family
from tests.conftest import DATA

CATS = [4, 5]


def _data(n: int, seed: int, levels=(12, 40)):
    """Numeric columns with missing values, two integer-coded categorical columns with missing
    values; a test draw also holds levels never seen in fit."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[:, 4] = rng.integers(0, levels[0], n)
    X[:, 5] = rng.integers(0, levels[1], n)
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.15, 4] = np.nan
    return X


def _targets(X, rng):
    c4, c5 = np.nan_to_num(X[:, 4], nan=1.0), X[:, 5]
    binary = (X[:, 1] + (c5 % 5 == 1) + np.isnan(X[:, 4]) + rng.normal(size=len(X)) * 0.3 > 0.5).astype(int)
    multi = (X[:, 1] > 0).astype(int) + (c4 % 3 == 0) + (np.nan_to_num(X[:, 0]) > 1)
    value = 2 * X[:, 1] + np.nan_to_num(X[:, 0]) + c4 % 4 - np.isnan(X[:, 4])
    return {"binary": binary, "multiclass": multi.astype(int), "regression": value}


CASES = [("binary", HistGradientBoostingClassifier, {}),
         ("multiclass", HistGradientBoostingClassifier, {}),
         ("regression", HistGradientBoostingRegressor, {}),
         ("binary", HistGradientBoostingClassifier, {"categorical_features": CATS}),
         ("multiclass", HistGradientBoostingClassifier, {"categorical_features": CATS}),
         ("regression", HistGradientBoostingRegressor, {"categorical_features": CATS})]


@pytest.mark.parametrize("task, cls, extra", CASES, ids=[f"{t}{'-cat' if e else ''}" for t, _, e in CASES])
def test_compiled_trees_predict_what_scikit_learn_predicts(task, cls, extra):
    X = _data(2000, 0)
    y = _targets(X, np.random.default_rng(1))[task]
    model = cls(max_iter=80, early_stopping=False, random_state=0, **extra).fit(X, y)
    Xt = _data(700, 2, levels=(15, 45))       # levels 12-14 and 40-44 were never seen
    compiled = CompiledHistGB(model)
    assert np.abs(compiled.raw(Xt) - model._raw_predict(Xt)).max() < 1e-10
    assert (compiled.predict(Xt) == model.predict(Xt)).all() if task != "regression" else \
        np.allclose(compiled.predict(Xt), model.predict(Xt), rtol=0, atol=1e-10)
    if task != "regression":
        assert np.abs(compiled.predict_proba(Xt, n_threads=2) - model.predict_proba(Xt)).max() < 1e-12
    if extra:       # both directions of missing values on categorical splits were exercised
        nodes = [p.nodes for per in model._predictors for p in per]
        cat = np.concatenate([n["missing_go_to_left"][n["is_categorical"] == 1] for n in nodes])
        assert set(cat.tolist()) == {0, 1}


def test_trees_that_are_a_single_leaf_and_infinite_thresholds():
    """A model whose trees cannot split (too few rows per leaf) is its baseline plus leaves;
    a split on "missing or not" carries an infinite threshold."""
    X = _data(300, 3)
    y = (X[:, 1] > 0).astype(int)
    stumps = HistGradientBoostingClassifier(max_iter=5, min_samples_leaf=300, random_state=0).fit(X, y)
    assert all(p.nodes["is_leaf"][0] for per in stumps._predictors for p in per)
    assert np.abs(CompiledHistGB(stumps).predict_proba(X) - stumps.predict_proba(X)).max() < 1e-12
    Xm = np.where(np.random.default_rng(0).random((300, 1)) < 0.5, np.nan, 1.0)
    ym = np.isnan(Xm[:, 0]).astype(int)
    gap = HistGradientBoostingClassifier(max_iter=3, min_samples_leaf=5, random_state=0).fit(Xm, ym)
    probe = np.array([[np.nan], [1.0], [-5.0], [1e300]])
    assert np.abs(CompiledHistGB(gap).predict_proba(probe) - gap.predict_proba(probe)).max() < 1e-12


def test_wrong_width_is_refused_and_the_compiled_model_pickles():
    X = _data(500, 4)
    y = (X[:, 1] > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    compiled = pickle.loads(pickle.dumps(CompiledHistGB(model)))
    assert np.abs(compiled.predict_proba(X) - model.predict_proba(X)).max() < 1e-12
    with pytest.raises(ValueError, match="expected 6 columns"):
        compiled.raw(X[:, :5])


@pytest.mark.parametrize("mode", ["ordinal", "native"])
def test_family_members_compile_and_keep_their_predictions(mode):
    """`HistGBFamily.compile_member` switches a fitted member to the compiled trees (on car,
    all six columns categorical) with the same probabilities; the scikit-learn model stays
    for SHAP and export."""
    df = pd.read_csv(DATA / "car.csv.gz").sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, test = df.iloc[:1000], df.iloc[1000:]
    X, y, schema = prepare_training(train, "class")
    info = ProblemInfo(schema=schema, n_rows=len(X), seed=0, n_jobs=1)
    pipe = get_family("hist_gb").build({"categorical": mode, "max_iter": 60}, info).fit(X, encode_target(y, schema))
    Xt = test.drop(columns=["class"])
    before = pipe.predict_proba(Xt)
    (same,) = get_family("hist_gb").compile_member([pipe])
    learner = same.steps[-1][1].model_
    assert isinstance(learner, TimeBoxedHistGB) and isinstance(learner.compiled_, CompiledHistGB)
    assert np.abs(same.predict_proba(Xt) - before).max() < 1e-12
    assert hasattr(learner.model_, "_predictors")

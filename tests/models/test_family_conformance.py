"""The shared checks every model family passes (like scikit-learn's common estimator checks).

Parametrised over `available_families()` x the tasks each supports, on a small synthetic
table with numeric, boolean, categorical, high-cardinality and datetime columns and a
missing-value pattern. A family joins by being in the registry; `FAST` only shrinks
round/epoch caps so that the suite stays quick.
"""

from __future__ import annotations

import pickle

import numpy as np
import optuna
import pandas as pd
import pytest

from assay.data.schema import BINARY, MULTICLASS, REGRESSION, ColumnSpec, Schema
from assay.models.base import Capabilities, ModelFamily, ProblemInfo
from assay.models.registry import available_families

FAST = {
    "lightgbm": {"n_estimators": 60},
    "xgboost": {"n_estimators": 60},
    "catboost": {"n_estimators": 60},
    "random_forest": {"n_estimators": 30},
    "extra_trees": {"n_estimators": 30},
    "mlp": {"max_epochs": 15, "width": 32, "batch_size": 64, "lr": 5e-3, "patience": 5},
}
N_TRAIN, N_TEST = 300, 120
TASKS = (BINARY, MULTICLASS, REGRESSION)
CASES = [pytest.param(f, t, id=f"{f.name}-{t}") for f in available_families() for t in TASKS if f.supports(t)]


def make_data(task: str, n: int, seed: int = 0):
    r = np.random.default_rng(seed)
    num = r.normal(size=n)
    cat = np.array(["a", "b", "c", "d"], dtype=object)[r.integers(0, 4, n)]
    flag = r.integers(0, 2, n).astype("float64")
    score = 1.5 * num + pd.Series(cat).map({"a": -1.0, "b": 0.0, "c": 0.5, "d": 1.5}).to_numpy() + 0.5 * flag
    score = score + 0.3 * r.normal(size=n)
    X = pd.DataFrame({
        "num": num,
        "num_nan": np.where(r.random(n) < 0.3, np.nan, r.normal(size=n)),      # missing-value pattern
        "flag": flag,
        "cat": pd.Series(np.where(r.random(n) < 0.1, np.nan, cat), dtype=object),
        "hc": pd.Series([f"id{i}" for i in r.integers(0, 60, n)], dtype=object),
        "when": pd.Series(pd.to_datetime("2021-01-01") + pd.to_timedelta(r.integers(0, 10**6, n), unit="m")),
    })
    X.loc[r.random(n) < 0.05, "when"] = pd.NaT
    if task == REGRESSION:
        y = score
    elif task == BINARY:
        y = (score > 0.3).astype(int)
    else:
        y = np.digitize(score, [-0.5, 1.0]).astype(int)
    return X, y


def make_info(task: str, seed: int = 0) -> ProblemInfo:
    cols = [
        ColumnSpec("num", "numeric", "float64"),
        ColumnSpec("num_nan", "numeric", "float64", missing_fraction=0.3),
        ColumnSpec("flag", "boolean", "float64", categories=[0.0, 1.0]),
        ColumnSpec("cat", "categorical", "object", n_unique=4, categories=["a", "b", "c", "d"]),
        ColumnSpec("hc", "high_cardinality", "object", n_unique=60),
        ColumnSpec("when", "datetime", "datetime64[ns]"),
        ColumnSpec("row_id", "identifier", "int64", note="identifier"),   # dropped: never passed in
    ]
    classes = {BINARY: ["no", "yes"], MULTICLASS: ["lo", "mid", "hi"], REGRESSION: None}[task]
    schema = Schema(target="y", task=task, columns=cols, classes=classes, n_rows=N_TRAIN)
    return ProblemInfo(schema=schema, n_rows=N_TRAIN, seed=seed, n_jobs=1)


def fast(family: ModelFamily, params: dict) -> dict:
    return {**params, **FAST.get(family.name, {})}


def build_fit(family, task, X, y, params=None, seed=0, **fit_kw):
    info = make_info(task, seed)
    params = family.default_configs(info)[0] if params is None else params
    return family.build(fast(family, params), info).fit(X, y, **fit_kw)


def outputs(model, X, task):
    return model.predict(X) if task == REGRESSION else model.predict_proba(X)


_CACHE: dict = {}


def fitted(family, task):
    """(model, X_train, y_train, X_test, y_test), fit once per family x task."""
    key = (family.name, task)
    if key not in _CACHE:
        X, y = make_data(task, N_TRAIN + N_TEST)
        Xtr, Xte, ytr, yte = X.iloc[:N_TRAIN], X.iloc[N_TRAIN:], y[:N_TRAIN], y[N_TRAIN:]
        _CACHE[key] = (build_fit(family, task, Xtr, ytr), Xtr, ytr, Xte, yte)
    return _CACHE[key]


def check_output(out, n, task, k):
    assert np.all(np.isfinite(out))
    if task == REGRESSION:
        assert out.shape == (n,)
    else:
        assert out.shape == (n, k)
        assert np.all(out >= 0) and np.all(out <= 1)
        np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6)


# -- declarations -----------------------------------------------------------------------


def test_registry_names_unique():
    names = [f.name for f in available_families()]
    assert len(names) == len(set(names)) and all(names)


@pytest.mark.parametrize("family", [pytest.param(f, id=f.name) for f in available_families()])
def test_declarations(family):
    assert isinstance(family.capabilities, Capabilities)
    assert family.relative_cost > 0
    assert family.task_types and set(family.task_types) <= set(TASKS)
    for task in TASKS:
        if family.supports(task):
            configs = family.default_configs(make_info(task))
            assert configs and all(isinstance(c, dict) for c in configs)


# -- behaviour --------------------------------------------------------------------------


@pytest.mark.parametrize("family,task", CASES)
def test_fit_predict_shapes(family, task):
    model, _, _, Xte, _ = fitted(family, task)
    k = make_info(task).n_classes
    check_output(outputs(model, Xte, task), len(Xte), task, k)
    pred = model.predict(Xte)
    assert pred.shape == (len(Xte),)
    if task != REGRESSION:
        assert set(np.unique(pred)) <= set(range(k))


@pytest.mark.parametrize("family,task", CASES)
def test_beats_constant_baseline(family, task):
    model, _, ytr, Xte, yte = fitted(family, task)
    if task == REGRESSION:
        mse = np.mean((model.predict(Xte) - yte) ** 2)
        base = np.mean((ytr.mean() - yte) ** 2)
        assert mse < 0.8 * base
    else:
        k = make_info(task).n_classes
        onehot = np.eye(k)[yte]
        prior = np.bincount(ytr, minlength=k) / len(ytr)
        brier = np.mean(np.sum((model.predict_proba(Xte) - onehot) ** 2, axis=1))
        base = np.mean(np.sum((prior - onehot) ** 2, axis=1))
        assert brier < 0.9 * base  # KNN suffers from the noise columns


@pytest.mark.parametrize("family,task", CASES)
def test_pickle_round_trip(family, task):
    model, _, _, Xte, _ = fitted(family, task)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(outputs(again, Xte, task), outputs(model, Xte, task))


@pytest.mark.parametrize("family,task", CASES)
def test_compiled_member_predicts_the_same(family, task):
    """`compile_member` (a final member's faster predictor) changes no prediction: on the test
    rows, on unseen levels and missing values, on zero rows, and after a pickle round trip."""
    import copy

    model, _, _, Xte, _ = fitted(family, task)
    (compiled,) = family.compile_member([copy.deepcopy(model)])
    compiled = pickle.loads(pickle.dumps(compiled))
    X = Xte.copy()
    X.loc[X.index[::2], "cat"] = "never-seen"
    X.loc[X.index[1::4], "num"] = np.nan
    for rows in (Xte, X):
        np.testing.assert_allclose(outputs(compiled, rows, task), outputs(model, rows, task), rtol=0, atol=1e-10)
        if task != REGRESSION:          # values agree to rounding (checked above), labels exactly
            np.testing.assert_array_equal(compiled.predict(rows), model.predict(rows))
    assert outputs(compiled, Xte.iloc[:0], task).shape == outputs(model, Xte.iloc[:0], task).shape


@pytest.mark.parametrize("family,task", CASES)
def test_same_seed_same_predictions(family, task):
    model, Xtr, ytr, Xte, _ = fitted(family, task)
    twin = build_fit(family, task, Xtr, ytr)
    np.testing.assert_array_equal(outputs(twin, Xte, task), outputs(model, Xte, task))


@pytest.mark.parametrize("family,task", CASES)
def test_unseen_categories_and_missing_at_predict(family, task):
    model, _, _, Xte, _ = fitted(family, task)
    X = Xte.copy()
    X["cat"] = "never-seen"
    X.loc[X.index[::2], "cat"] = np.nan
    X["hc"] = "also-new"
    X["num_nan"] = np.nan                  # all-NaN column at predict
    X.loc[X.index[::3], "num"] = np.nan    # missing where training had none
    X["when"] = pd.NaT
    check_output(outputs(model, X, task), len(X), task, make_info(task).n_classes)


@pytest.mark.parametrize("family,task", CASES)
def test_zero_rows(family, task):
    model, _, _, Xte, _ = fitted(family, task)
    k = make_info(task).n_classes
    out = outputs(model, Xte.iloc[:0], task)
    assert out.shape == ((0,) if task == REGRESSION else (0, k))
    assert model.predict(Xte.iloc[:0]).shape == (0,)


@pytest.mark.parametrize("family,task", CASES)
def test_sampled_config_builds_and_fits(family, task):
    info = make_info(task)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    trial = study.ask()
    params = family.search_space(trial, info)
    assert trial.params, "the search space sampled nothing"
    assert all(name.startswith(f"{family.name}.") for name in trial.params)
    assert not any(key.startswith(f"{family.name}.") for key in params)
    _, Xtr, ytr, Xte, _ = fitted(family, task)
    model = build_fit(family, task, Xtr, ytr, params=params)
    check_output(outputs(model, Xte, task), len(Xte), task, info.n_classes)


@pytest.mark.parametrize("family,task", [c for c in CASES if c.values[1] == MULTICLASS])
def test_class_missing_from_fit_keeps_k_columns(family, task):
    _, Xtr, ytr, Xte, _ = fitted(family, task)
    keep = ytr != 1                      # the middle class is absent from this fit
    model = build_fit(family, task, Xtr[keep], ytr[keep])
    proba = model.predict_proba(Xte)
    check_output(proba, len(Xte), task, 3)
    assert proba[:, 1].max() < 0.5


@pytest.mark.parametrize("family,task", [c for c in CASES if c.values[0].capabilities.sample_weight])
def test_sample_weight(family, task):
    _, Xtr, ytr, Xte, _ = fitted(family, task)
    info = make_info(task)
    model = family.build(fast(family, family.default_configs(info)[0]), info)
    step = model.steps[-1][0] if hasattr(model, "steps") else None
    key = f"{step}__sample_weight" if step else "sample_weight"
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(ytr))
    model.fit(Xtr, ytr, **{key: w})
    check_output(outputs(model, Xte, task), len(Xte), task, info.n_classes)


@pytest.mark.parametrize("family,task", CASES)
def test_tiny_fit(family, task):
    """A CV fold of a small table: a dozen rows, one class seen only once."""
    X, y = make_data(task, 60)
    if task == REGRESSION:
        idx = np.arange(12)
    else:
        idx = np.concatenate([np.flatnonzero(y == c)[: (1 if c == 0 else 6)] for c in np.unique(y)])
    model = build_fit(family, task, X.iloc[idx], y[idx])
    check_output(outputs(model, X, task), len(X), task, make_info(task).n_classes)

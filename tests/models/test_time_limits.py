"""Fit time allowances: every family returns a valid (maybe partial) model within `max_time`.

The allowance comes from `info.extra["max_time"]` (set per fold fit by the search) or a
`max_time` param; learners say in `stopped_by_time_` whether it cut training short.
"""

from __future__ import annotations

import pickle
import time

import numpy as np
import pandas as pd
import pytest

from assay.data.schema import BINARY, REGRESSION, ColumnSpec, Schema
from assay.models.base import ProblemInfo
from assay.models.registry import available_families, get_family

AVAILABLE = {f.name for f in available_families()}
SLOW_FAMILIES = [f for f in ("lightgbm", "xgboost", "catboost", "random_forest", "extra_trees") if f in AVAILABLE]
# Parameters that make an unlimited fit on the big table take far more than the allowance.
SLOW = {
    "lightgbm": {"learning_rate": 0.02, "n_estimators": 2000, "early_stopping_rounds": 2000},
    "xgboost": {"learning_rate": 0.02, "n_estimators": 2000, "early_stopping_rounds": 2000},
    "catboost": {"learning_rate": 0.02, "n_estimators": 2000, "early_stopping_rounds": 2000},
    "random_forest": {"n_estimators": 500},
    "extra_trees": {"n_estimators": 500},
}
MAX_TIME, WALL_LIMIT = 1.5, 4.0
N_BIG, N_FEATURES = 50_000, 30


def make_problem(task: str, n: int, d: int = N_FEATURES, seed: int = 0, max_time=None):
    r = np.random.default_rng(seed)
    X = pd.DataFrame(r.normal(size=(n, d)), columns=[f"x{i}" for i in range(d)])
    s = (X["x0"] + np.sin(2 * X["x1"]) + X["x2"] * X["x3"]).to_numpy() + 0.5 * r.normal(size=n)
    y = s if task == REGRESSION else (s > 0).astype(int)
    schema = Schema(target="y", task=task, columns=[ColumnSpec(c, "numeric", "float64") for c in X.columns],
                    classes=None if task == REGRESSION else ["no", "yes"], n_rows=n)
    extra = {} if max_time is None else {"max_time": max_time}
    return X, y, ProblemInfo(schema=schema, n_rows=n, seed=seed, extra=extra)


@pytest.fixture(scope="module")
def big():
    return {task: make_problem(task, N_BIG + 5000, max_time=MAX_TIME) for task in (REGRESSION, BINARY)}


def _split(X, y):
    return X.iloc[:N_BIG], y[:N_BIG], X.iloc[N_BIG:], y[N_BIG:]


def _learner(model):
    return model.steps[-1][1]


CASES = [pytest.param(f, REGRESSION, id=f"{f}-regression") for f in SLOW_FAMILIES] + \
        [pytest.param(f, BINARY, id=f"{f}-binary") for f in ("lightgbm", "random_forest") if f in AVAILABLE]


@pytest.mark.parametrize("name, task", CASES)
def test_fit_stops_within_max_time_and_predicts(big, name, task):
    X, y, info = big[task]
    Xtr, ytr, Xte, yte = _split(X, y)
    family = get_family(name)
    model = family.build({**family.default_configs(info)[0], **SLOW[name]}, info)
    t = time.monotonic()
    model.fit(Xtr, ytr)
    elapsed = time.monotonic() - t
    assert elapsed < WALL_LIMIT, f"{name} took {elapsed:.2f}s with max_time={MAX_TIME}"
    assert _learner(model).stopped_by_time_ is True
    if task == REGRESSION:
        pred = model.predict(Xte)
        assert pred.shape == (len(yte),) and np.all(np.isfinite(pred))
        assert np.mean((pred - yte) ** 2) < np.mean((yte - ytr.mean()) ** 2)     # beats a constant
    else:
        proba = model.predict_proba(Xte)
        assert proba.shape == (len(yte), 2) and np.all(np.isfinite(proba))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
        # Brier score, not log loss: a forest cut to a few trees predicts hard 0/1 probabilities.
        assert np.mean((proba[:, 1] - yte) ** 2) < np.mean((ytr.mean() - yte) ** 2)
    again = pickle.loads(pickle.dumps(model))            # a time-stopped model pickles like any other
    np.testing.assert_allclose(again.predict(Xte[:200]), model.predict(Xte[:200]))


def test_max_time_param_overrides_info(big):
    name = "lightgbm" if "lightgbm" in AVAILABLE else SLOW_FAMILIES[0]
    X, y, info = big[REGRESSION]
    Xtr, ytr, _, _ = _split(X, y)
    unlimited = ProblemInfo(schema=info.schema, n_rows=info.n_rows, extra={})
    family = get_family(name)
    model = family.build({**SLOW[name], "max_time": 1.0}, unlimited)
    t = time.monotonic()
    model.fit(Xtr, ytr)
    assert time.monotonic() - t < WALL_LIMIT
    assert _learner(model).stopped_by_time_ is True


@pytest.mark.parametrize("name", sorted(AVAILABLE - {"mlp"}))
def test_no_max_time_is_not_stopped(name):
    X, y, info = make_problem(REGRESSION, 200, d=4)
    family = get_family(name)
    params = {**family.default_configs(info)[0], **({"n_estimators": 30} if name in SLOW else {})}
    model = family.build(params, info).fit(X, y)
    assert _learner(model).stopped_by_time_ is False


@pytest.mark.parametrize("name", [f for f in ("random_forest", "extra_trees") if f in AVAILABLE])
def test_forest_allowance_not_hit_gives_same_model_as_none(name):
    X, y, info = make_problem(BINARY, 300, d=4)
    limited = ProblemInfo(schema=info.schema, n_rows=300, extra={"max_time": 600.0})
    family = get_family(name)
    a = family.build({"n_estimators": 60}, info).fit(X, y)
    b = family.build({"n_estimators": 60}, limited).fit(X, y)     # grown in warm-started chunks
    assert _learner(b).stopped_by_time_ is False and len(_learner(b).model_.estimators_) == 60
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("name", [f for f in ("lightgbm", "xgboost") if f in AVAILABLE])
def test_booster_stopped_by_time_keeps_best_iteration(name):
    # A high learning rate on a noisy target overfits fast: the best round comes early, and
    # the time stop (early stopping itself disabled) must still predict with that round.
    X, y, info = make_problem(REGRESSION, 3000, d=10, max_time=0.8)
    y = y + 3 * np.random.default_rng(1).normal(size=len(y))
    family = get_family(name)
    params = {"learning_rate": 1.0, "n_estimators": 100_000, "early_stopping_rounds": 100_000}
    params.update({"num_leaves": 127, "min_child_samples": 2} if name == "lightgbm" else {"max_depth": 10})
    model = family.build(params, info).fit(X, y)
    learner = _learner(model)
    assert learner.stopped_by_time_ is True
    lib = learner.model_
    # The validation curve of every round trained; XGBoost's early-stopping callback does
    # not see the round in which the time callback stops.
    if name == "lightgbm":
        curve = next(iter(lib.evals_result_["valid_0"].values()))
    else:
        curve = next(iter(lib.evals_result()["validation_0"].values()))[:-1]
    assert len(curve) > learner.best_iteration_ >= 1
    assert learner.best_iteration_ == int(np.argmin(curve)) + 1
    Xp = model.steps[0][1].transform(X.iloc[:100])
    if name == "lightgbm":
        expected = lib.booster_.predict(Xp, num_iteration=learner.best_iteration_)
    else:
        expected = lib.predict(Xp, iteration_range=(0, learner.best_iteration_))
    np.testing.assert_allclose(model.predict(X.iloc[:100]), expected, rtol=1e-6)


@pytest.mark.skipif("linear" not in AVAILABLE, reason="linear family missing")
def test_linear_slow_solvers_fall_back_or_cap_under_a_small_allowance():
    from assay.models.linear import MIN_EPOCHS

    X, y, info = make_problem(BINARY, 400, d=4)
    family = get_family("linear")
    big_info = ProblemInfo(schema=info.schema, n_rows=1_000_000, extra={"max_time": 1.0})
    model = family.build({"C": 1.0, "l1_ratio": 0.5}, big_info)
    assert _learner(model).estimator.solver == "lbfgs"           # saga would not fit: L2 fallback
    assert _learner(model.fit(X, y)).stopped_by_time_ is True
    mid_info = ProblemInfo(schema=info.schema, n_rows=20_000, extra={"max_time": 1.0})
    est = _learner(family.build({"C": 1.0, "l1_ratio": 0.5}, mid_info)).estimator
    assert est.solver == "saga" and MIN_EPOCHS <= est.max_iter < 300               # capped
    est = _learner(family.build({"C": 1.0, "l1_ratio": 0.5}, info)).estimator    # no allowance
    assert est.solver == "saga" and est.max_iter == 300
    Xr, yr, rinfo = make_problem(REGRESSION, 400, d=4)
    rbig = ProblemInfo(schema=rinfo.schema, n_rows=1_000_000, extra={"max_time": 1.0})
    reg = _learner(family.build({"model": "elasticnet", "alpha": 0.01, "l1_ratio": 0.5}, rbig)).estimator
    assert type(reg.regressor).__name__ == "Ridge"


@pytest.mark.skipif("linear" not in AVAILABLE, reason="linear family missing")
def test_linear_lbfgs_iterations_are_capped_by_rows_columns_and_classes():
    """lbfgs has no cheaper cousin: its iterations are capped to what the allowance pays
    for (at least one), counting every class's margin column on multiclass problems."""
    from assay.data.schema import MULTICLASS
    from assay.models.linear import LBFGS_MAX_ITER

    X, y, info = make_problem(BINARY, 400, d=4)
    family = get_family("linear")
    unlimited = _learner(family.build({"C": 1.0}, info))
    assert unlimited.estimator.max_iter == LBFGS_MAX_ITER and unlimited.time_limited == ""
    wide = Schema(target="y", task=MULTICLASS, columns=info.schema.columns, classes=[f"c{i}" for i in range(20)],
                  n_rows=100_000)
    mc = ProblemInfo(schema=wide, n_rows=100_000, extra={"max_time": 10.0})
    capped = _learner(family.build({"C": 1.0}, mc))
    binary = _learner(family.build({"C": 1.0}, ProblemInfo(schema=info.schema, n_rows=100_000,
                                                           extra={"max_time": 10.0})))
    assert capped.estimator.solver == "lbfgs" and capped.time_limited == "capped"
    assert 1 <= capped.estimator.max_iter < binary.estimator.max_iter // 10      # 20 margin columns, not 1
    hopeless = ProblemInfo(schema=wide, n_rows=10_000_000, extra={"max_time": 1.0})
    assert _learner(family.build({"C": 1.0}, hopeless)).estimator.max_iter == 1
    model = family.build({"C": 1.0}, ProblemInfo(schema=info.schema, n_rows=400, extra={"max_time": 1e-5}))
    assert _learner(model.fit(X, y)).stopped_by_time_ is True     # one iteration: a valid, unconverged model
    assert model.predict_proba(X).shape == (400, 2)

"""Structural predict-cost estimates (`ModelFamily.predict_seconds`) and what speed-aware
pruning makes of them (`assay.ensemble.build.member_costs`). The constants are calibrated by
benchmarks/predict_cost_calibration.py; these tests check the structure, not the seconds."""

from __future__ import annotations

import numpy as np
import pytest

from assay.data.schema import MULTICLASS, REGRESSION
from assay.ensemble.build import COST_ROWS, member_costs
from assay.ensemble.stacking import STACKER_FAMILY
from assay.models.registry import available_families, get_family
from assay.search.records import TrialRecord
from tests.models.test_family_conformance import make_data, make_info

FAMILIES = {f.name for f in available_families()}


def _fit(name: str, task: str, params: dict, seed: int = 0):
    fam = get_family(name)
    info = make_info(task, seed)
    X, y = make_data(task, 300, seed)
    est = fam.build(dict(params), info)
    est.fit(X, y)
    return fam, fam.compile_member([est])[0]


@pytest.mark.parametrize("fam", sorted(FAMILIES))
def test_every_family_estimates_a_finite_positive_cost(fam):
    family = get_family(fam)
    task = MULTICLASS if family.supports(MULTICLASS) else REGRESSION
    params = {**family.first_configs(make_info(task))[0]}
    small = {"lightgbm": {"n_estimators": 30}, "xgboost": {"n_estimators": 30}, "catboost": {"n_estimators": 30},
             "random_forest": {"n_estimators": 20}, "extra_trees": {"n_estimators": 20},
             "mlp": {"max_epochs": 3, "width": 16}}
    family, est = _fit(fam, task, {**params, **small.get(fam, {})})
    call_s, row_s = family.predict_seconds(est)
    assert np.isfinite(call_s) and np.isfinite(row_s)
    assert call_s > 0 and row_s > 0


@pytest.mark.parametrize("fam,few,many", [
    ("lightgbm", {"n_estimators": 20, "early_stopping_rounds": 0}, {"n_estimators": 80, "early_stopping_rounds": 0}),
    ("hist_gb", {"max_iter": 20, "early_stopping": False}, {"max_iter": 80, "early_stopping": False}),
    ("random_forest", {"n_estimators": 10}, {"n_estimators": 40}),
    ("catboost", {"n_estimators": 20, "early_stopping_rounds": 0}, {"n_estimators": 80, "early_stopping_rounds": 0}),
])
def test_more_trees_cost_more_per_row(fam, few, many):
    if fam not in FAMILIES:
        pytest.skip(f"{fam} is not installed")
    family, a = _fit(fam, MULTICLASS, few)
    _, b = _fit(fam, MULTICLASS, many)
    fixed = getattr(family, "seconds_per_row", 0.0)          # CatBoost: a per-row part whatever the trees
    assert family.predict_seconds(b)[1] - fixed > 2 * (family.predict_seconds(a)[1] - fixed)


def test_oblivious_trees_cost_far_less_than_leaf_wise_ones_of_the_same_rounds():
    """What the static per-family costs could not say: at equal rounds, CatBoost's symmetric
    trees score rows several times faster than LightGBM's (measured 10-40x in the calibration)."""
    if not {"catboost", "lightgbm"} <= FAMILIES:
        pytest.skip("needs CatBoost and LightGBM")
    rounds = {"n_estimators": 60, "early_stopping_rounds": 0}
    cat, c = _fit("catboost", MULTICLASS, rounds)
    lgb, g = _fit("lightgbm", MULTICLASS, rounds)
    assert lgb.predict_seconds(g)[1] > 5 * cat.predict_seconds(c)[1]


def test_a_single_class_fold_costs_only_its_call():
    fam = get_family("lightgbm")
    info = make_info(MULTICLASS)
    X, _ = make_data(MULTICLASS, 100)
    est = fam.build({"n_estimators": 20}, info).fit(X, np.zeros(len(X), dtype=int))
    call_s, row_s = fam.predict_seconds(est)
    assert call_s > 0 and row_s == 0


def _record(tid, family, cost=(np.nan, np.nan), repeats=1, **params):
    r = TrialRecord(tid, family, params, "default", "ok", value=0.5, score=0.5)
    r.predict_cost, r.repeats = cost, repeats
    return r


def test_member_costs_count_the_fold_models_a_bag_keeps():
    r = _record(0, "lightgbm", (1e-3, 1e-5), repeats=2)
    refit = member_costs([r], bagged=False, n_folds=5)[0]
    bag = member_costs([r], bagged=True, n_folds=5)[0]
    assert refit == pytest.approx(1e-3 + COST_ROWS * 1e-5)
    assert bag == pytest.approx(10 * refit)                    # 5 folds x 2 repeats


def test_a_bag_of_forests_costs_one_forest_of_trees_per_split():
    """Fold forests are thinned to 1/k of their trees each (thin_fold_models)."""
    fam = get_family("random_forest")
    call_s, row_s = fam.call_seconds + 100 * fam.seconds_per_tree_call, 2e-5
    r = _record(0, "random_forest", (call_s, row_s))
    bag = member_costs([r], bagged=True, n_folds=5)[0]
    refit = member_costs([r], bagged=False, n_folds=5)[0]
    assert bag == pytest.approx(refit + 4 * fam.call_seconds)


def test_records_without_an_estimate_use_the_familys_constants():
    fam = get_family("knn")
    r = _record(0, "knn")
    del r.predict_cost                                       # a record saved before the estimate existed
    assert member_costs([r], bagged=False, n_folds=5)[0] == pytest.approx(
        fam.call_seconds + COST_ROWS * fam.row_seconds)


def test_a_stacker_costs_its_bases_fold_models_too():
    a = _record(0, "lightgbm", (1e-3, 1e-5))
    b = _record(1, "catboost", (2e-3, 1e-6))
    stack = _record(1000, STACKER_FAMILY, bases=[a.name, b.name])
    costs = member_costs([a, b, stack], bagged=False, n_folds=5)
    bases = member_costs([a, b], bagged=True, n_folds=5).sum()
    assert costs[2] > bases


def test_trial_outcomes_carry_the_estimate(tmp_path):
    """A real trial (evaluate in this process) records its fold models' mean estimate."""
    import pickle

    from assay.search.trial import TrialSpec, evaluate

    info = make_info(MULTICLASS)
    X, y = make_data(MULTICLASS, 300)
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps((X, y)))
    idx = np.arange(len(y))
    folds = [(idx[idx % 3 != k], idx[idx % 3 == k]) for k in range(3)]
    out = evaluate(TrialSpec(0, "lightgbm", {"n_estimators": 30}, info, "log_loss", str(path), folds))
    call_s, row_s = out.predict_cost
    assert call_s == pytest.approx(get_family("lightgbm").call_seconds) and row_s > 0

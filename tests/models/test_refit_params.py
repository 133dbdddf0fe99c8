"""Refits at the rounds cross-validation chose (`ModelFamily.refit_params`)."""

from __future__ import annotations

import pytest

from assay.data.schema import BINARY, MULTICLASS
from assay.models.registry import available_families, get_family
from tests.models.test_family_conformance import make_data, make_info

BOOSTERS = [f for f in ("lightgbm", "xgboost", "catboost") if f in {x.name for x in available_families()}]


def _folds(name: str, params: dict, task=MULTICLASS, k: int = 3):
    fam = get_family(name)
    info = make_info(task)
    X, y = make_data(task, 300)
    return fam, info, X, y, [fam.build(dict(params), info).fit(X.iloc[i::k], y[i::k]) for i in range(k)]


@pytest.mark.parametrize("name", BOOSTERS)
def test_a_booster_is_refit_for_its_folds_mean_rounds_on_every_row(name):
    params = {"learning_rate": 0.3, "n_estimators": 400}
    fam, info, X, y, folds = _folds(name, params)
    rounds = [m.steps[-1][1].best_iteration_ for m in folds]
    refit = fam.refit_params(params, folds)
    assert refit["early_stopping_rounds"] == 0
    assert refit["n_estimators"] == round(sum(rounds) / len(rounds))
    assert params == {"learning_rate": 0.3, "n_estimators": 400}          # the trial's own is untouched
    full = fam.build(dict(refit), info).fit(X, y)
    assert full.steps[-1][1].best_iteration_ == refit["n_estimators"]      # no holdout, no cap


def test_fixed_rounds_are_kept_as_they_are():
    """LightGBM's reference defaults already fix 100 rounds on every row."""
    if "lightgbm" not in BOOSTERS:
        pytest.skip("needs LightGBM")
    params = {"n_estimators": 100, "early_stopping_rounds": 0}
    fam, *_, folds = _folds("lightgbm", params, BINARY)
    assert fam.refit_params(params, folds) == params


def test_hist_gb_with_early_stopping_is_refit_for_its_folds_mean_iterations():
    params = {"early_stopping": True, "n_iter_no_change": 5, "max_iter": 500, "learning_rate": 0.3}
    fam, info, X, y, folds = _folds("hist_gb", params)
    iters = [m.steps[-1][1].model_.model_.n_iter_ for m in folds]
    refit = fam.refit_params(params, folds)
    assert refit["early_stopping"] is False and refit["max_iter"] == round(sum(iters) / len(iters))
    full = fam.build(dict(refit), info).fit(X, y)
    assert full.steps[-1][1].model_.model_.n_iter_ == refit["max_iter"]


def test_hist_gb_without_early_stopping_is_refit_as_configured():
    params = {"max_iter": 50}
    fam, *_, folds = _folds("hist_gb", params)
    assert fam.refit_params(params, folds) == params


@pytest.mark.parametrize("name", BOOSTERS + ["hist_gb"])
def test_the_rounds_scale_with_the_rows_the_refit_sees(name):
    """A refit on all rows of 5 folds sees 5/4 of a fold model's rows: 5/4 of its rounds."""
    params = ({"early_stopping": True, "n_iter_no_change": 5, "max_iter": 500, "learning_rate": 0.3}
              if name == "hist_gb" else {"learning_rate": 0.3, "n_estimators": 400})
    fam, *_, folds = _folds(name, params)
    key = "max_iter" if name == "hist_gb" else "n_estimators"
    plain = fam.refit_params(params, folds)[key]
    scaled = fam.refit_params(params, folds, row_ratio=1.25)[key]
    assert scaled == max(1, round(plain * 1.25)) or abs(scaled - plain * 1.25) <= 1
    assert scaled > plain or plain == 1


def test_the_full_rows_ratio_is_k_over_k_minus_one():
    from assay.search.budget import full_rows_ratio

    assert full_rows_ratio(5) == 1.25 and full_rows_ratio(3) == 1.5 and full_rows_ratio(1) == 1.0

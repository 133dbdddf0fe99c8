"""Class imbalance as a search dimension; memory estimates before a trial starts."""
import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline

from assay.data.schema import Schema
from assay.models.base import ProblemInfo
from assay.models.registry import get_family
from assay.search.imbalance import choices, fit_with, is_imbalanced, split_params


def _info(task, counts):
    schema = Schema(target="y", task=task, columns=[], classes=list(range(len(counts))) if counts else None)
    return ProblemInfo(schema=schema, n_rows=int(sum(counts) or 100),
                       extra={"class_counts": counts} if counts else {})


def test_is_imbalanced():
    assert is_imbalanced([900, 100]) and not is_imbalanced([500, 500]) and not is_imbalanced([10])


def test_choices_depend_on_problem_and_family():
    assert choices(get_family("lightgbm"), _info("binary", [500, 500])) == ["none"]
    assert choices(get_family("lightgbm"), _info("regression", [])) == ["none"]
    opts = choices(get_family("lightgbm"), _info("binary", [950, 50]))
    assert opts == ["none", "balanced", "undersample", "oversample"]
    assert "balanced" not in choices(get_family("knn"), _info("binary", [950, 50]))   # no sample weights


def test_split_params():
    assert split_params({"a": 1, "imbalance": "oversample"}) == ({"a": 1}, "oversample")
    assert split_params({"a": 1}) == ({"a": 1}, "none")


@pytest.mark.parametrize("strategy", ["none", "balanced", "undersample", "oversample"])
def test_fit_with_strategies_balance_the_fit(strategy):
    X = pd.DataFrame({"x": np.arange(1000.0), "c": ["a", "b"] * 500})
    y = np.r_[np.zeros(900, int), np.ones(100, int)]
    est = Pipeline([("learner", DummyClassifier(strategy="prior"))])
    fit_with(est, X, y, strategy, seed=0)
    prior = est.named_steps["learner"].class_prior_
    if strategy == "none":
        np.testing.assert_allclose(prior, [0.9, 0.1])
    else:
        np.testing.assert_allclose(prior, [0.5, 0.5])
    if strategy in ("undersample", "oversample"):
        assert est.named_steps["learner"].n_features_in_ == 2


def test_memory_estimates_grow_with_data_and_trees():
    from assay.models.registry import get_family

    small, big = _info("binary", [500, 500]), _info("binary", [500_000, 500_000])
    lgb = get_family("lightgbm")
    assert lgb.estimate_memory_mb({}, big) > lgb.estimate_memory_mb({}, small) >= 250
    rf = get_family("random_forest")
    deep = rf.estimate_memory_mb({"n_estimators": 500, "min_samples_leaf": 1}, big)
    shallow = rf.estimate_memory_mb({"n_estimators": 100, "min_samples_leaf": 32}, big)
    assert deep > 5 * shallow and deep > 10_000     # 500 full trees on 1M rows: many GB


def test_search_skips_a_trial_estimated_over_the_memory_limit():
    import pandas as pd

    import assay
    from tests.conftest import DATA

    df = pd.read_csv(DATA / "titanic.csv.gz")
    # a limit below what any worker needs: every trial is skipped before it starts
    run = assay.fit(df, "Survived", time_limit=None, max_trials=2, families=["linear"], verbosity=0,
                    memory_limit_mb=100)
    lb = run.leaderboard()
    skipped = lb[lb["status"] == "memory"]
    assert len(skipped) == 2 and skipped["error"].str.contains("skipped before fitting").all()
    assert run.meta["status"] == "baseline-only"

"""Permutation importance: informative features first with CIs above 0, noise near 0;
the target column is required."""
import json

import numpy as np
import pandas as pd
import pytest

import assay
from assay.audit.importance import PermutationImportance, permutation_importance
from assay.errors import ColumnError, OptionError


@pytest.fixture(scope="module")
def signal():
    rng = np.random.default_rng(0)
    n = 1200
    X = pd.DataFrame({f"noise{i}": rng.normal(size=n) for i in range(4)})
    X["signal_a"] = rng.normal(size=n)
    X["signal_b"] = rng.normal(size=n)
    y = (X["signal_a"] + 0.8 * X["signal_b"] + rng.normal(0, 0.3, n) > 0).astype(int)
    df = X.assign(y=y)
    train, test = df.iloc[:800], df.iloc[800:].reset_index(drop=True)
    run = assay.fit(train, "y", time_limit=None, max_trials=2, families=["lightgbm", "linear"], verbosity=0,
                     n_folds=3)
    return run, test


def test_informative_features_first_with_cis_above_zero(signal):
    run, test = signal
    res = permutation_importance(run, test, n_repeats=5, seed=0)
    assert isinstance(res, PermutationImportance)
    assert res.metric == run.metric
    assert set(res.features[:2]) == {"signal_a", "signal_b"}
    frame = res.to_frame()
    assert list(frame.columns) == ["mean", "std", "ci_low", "ci_high"]
    assert list(frame.index) == res.features
    assert (np.diff(frame["mean"].to_numpy()) <= 1e-12).all()          # sorted by mean drop
    for f in ("signal_a", "signal_b"):
        assert frame.loc[f, "ci_low"] > 0
    for f in (f"noise{i}" for i in range(4)):
        lo, hi = frame.loc[f, ["ci_low", "ci_high"]]
        assert lo <= 0.01 and hi >= -0.01                               # contains ~0
        assert abs(frame.loc[f, "mean"]) < 0.02
    assert (frame["ci_low"] <= frame["mean"]).all() and (frame["mean"] <= frame["ci_high"]).all()
    assert res.baseline_score > 0.9 and res.n_rows == len(test)
    assert all(len(d) == 5 for d in res.drops)
    d = json.loads(res.to_json())
    assert d["kind"] == "permutation_importance" and d["features"] == res.features


def test_seeded_subsample_and_other_metric(signal):
    run, test = signal
    a = permutation_importance(run, test, metric="log_loss", n_repeats=3, seed=1, max_rows=150)
    b = permutation_importance(run, test, metric="log_loss", n_repeats=3, seed=1, max_rows=150)
    assert a.n_rows == 150 and a.metric == "log_loss"
    assert a.baseline_value == pytest.approx(-a.baseline_score)          # a loss, negated in score
    assert a.mean == b.mean and a.features == b.features                 # same seed, same answer
    state = np.random.get_state()[1][:5].copy()
    permutation_importance(run, test, n_repeats=2, seed=3, max_rows=100)
    assert (np.random.get_state()[1][:5] == state).all()                 # global RNG untouched


def test_missing_target_and_bad_options(signal):
    run, test = signal
    with pytest.raises(ColumnError, match="needs the target column 'y'"):
        permutation_importance(run, test.drop(columns=["y"]))
    with pytest.raises(ColumnError, match="signal_a"):
        permutation_importance(run, test.drop(columns=["signal_a"]))
    with pytest.raises(OptionError):
        permutation_importance(run, test, metric="rmse")
    with pytest.raises(OptionError):
        permutation_importance(run, test, n_repeats=0)

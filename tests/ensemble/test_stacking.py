"""The second layer: a stacker on out-of-fold margins + features, as an ensemble candidate."""
import pickle

import numpy as np
import pandas as pd
import pytest

import assay
from assay.config import FitConfig
from assay.ensemble.stacking import StackedEstimator, use_stacking
from tests.conftest import DATA


def test_when_stacking_is_used():
    assert not use_stacking(FitConfig(time_limit=60), 5)
    assert use_stacking(FitConfig(time_limit=300), 5)
    assert not use_stacking(FitConfig(time_limit=300), 1)          # one family: nothing to stack
    assert use_stacking(FitConfig(time_limit=None, max_trials=30), 3)
    assert use_stacking(FitConfig(time_limit=10, stack="on"), 2)
    assert not use_stacking(FitConfig(time_limit=600, stack="off"), 5)


@pytest.fixture(scope="module")
def stacked(tmp_path_factory):
    df = pd.read_csv(DATA / "car.csv.gz")
    run = assay.fit(df, "class", time_limit=None, max_trials=5, families=["linear", "hist_gb"],
                    verbosity=0, stack="on", pruner="none")
    return df, run, run.save(tmp_path_factory.mktemp("stack") / "run")


def test_stacker_is_a_scored_candidate(stacked):
    df, run, path = stacked
    lb = run.leaderboard()
    row = lb[lb["family"] == "stack"]
    assert len(row) == 1 and row["status"].item() == "ok"
    assert np.isfinite(row["cv_log_loss"].item())
    assert f"trial_{int(row['trial'].item())}" in run.oof()       # its out-of-fold predictions are kept
    assert "bases" in row["params"].item()


def test_stacked_model_is_kept_predicts_and_explains_exactly(stacked, tmp_path):
    df, run, path = stacked
    lb = run.leaderboard()
    name = lb.loc[lb["family"] == "stack", "model"].item()
    assert name in run.models()                          # kept, whether or not the selection used it
    X = run.features(df.drop(columns=["class"]).head(40))
    solo = run.model_for(name)
    est = solo.members[0].estimators[0]
    assert isinstance(est, StackedEstimator) and len(est.bases) == 2
    p = solo.predict_output(X)
    assert p.shape == (40, 4) and np.allclose(p.sum(1), 1.0)
    loaded = assay.load(path)
    np.testing.assert_allclose(loaded.predict_output(X, model=name), p)
    np.testing.assert_allclose(loaded.predict_output(X), run.predict_output(X))
    loaded.model = loaded.model_for(name)                # explain the stacker as if it were final
    res = loaded.explain(df.drop(columns=["class"]).head(5))
    assert res.additivity_error < 1e-6
    pickle.loads(pickle.dumps(est))


def test_a_stackers_bases_are_compiled_with_the_same_predictions(stacked):
    """`compile_members` reaches into a stacker: its HistGradientBoosting bases, which it scores
    on every call, predict through their compiled trees, and the stacked output is unchanged."""
    import copy

    from assay.ensemble.build import compile_members
    from assay.models.hist_gb import TimeBoxedHistGB

    df, run, _ = stacked
    name = run.leaderboard().query("family == 'stack'")["model"].item()
    solo = copy.deepcopy(run.model_for(name))
    X = run.features(df.drop(columns=["class"]).head(60))
    before = solo.predict_output(X)
    compile_members(solo.members)
    learners = [fold.steps[-1][1].model_ for b in solo.members[0].estimators[0].bases if b.family == "hist_gb"
                for fold in b.estimators]
    assert learners and all(isinstance(m, TimeBoxedHistGB) and m.compiled_ is not None for m in learners)
    np.testing.assert_allclose(solo.predict_output(X), before, rtol=0, atol=1e-10)

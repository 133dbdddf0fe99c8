"""The second layer: a stacker on out-of-fold margins + features, as an ensemble candidate."""
import pickle

import numpy as np
import pandas as pd
import pytest

import assay
from assay.config import FitConfig
from assay.ensemble.model import EnsembleModel, Member
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


def test_stacked_member_predicts_and_explains_exactly(stacked, tmp_path):
    df, run, path = stacked
    lb = run.leaderboard()
    tid = int(lb.loc[lb["family"] == "stack", "trial"].item())
    X = run.features(df.drop(columns=["class"]).head(40))
    # on car the stacker earns a place in the ensemble (deterministic: no time limit, seed 0)
    models = [m for m in run.model.members if m.family == "stack"]
    assert len(models) == 1 and models[0].weight > 0
    est = models[0].estimators[0]
    # the stacker alone, as the only member of an ensemble
    assert isinstance(est, StackedEstimator) and len(est.bases) == 2
    solo = EnsembleModel("multiclass", 4, [Member(tid, "stack", {}, 1.0, [est], "folds")])
    p = solo.predict_output(X)
    assert p.shape == (40, 4) and np.allclose(p.sum(1), 1.0)
    loaded = assay.load(path)
    np.testing.assert_allclose(loaded.predict_output(X), run.predict_output(X))
    res = loaded.explain(df.drop(columns=["class"]).head(5))
    assert res.additivity_error < 1e-6
    pickle.loads(pickle.dumps(est))

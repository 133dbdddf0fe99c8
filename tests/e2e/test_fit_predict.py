"""End to end on real (small, bundled) data: fit -> save -> load -> predict, through the API."""
import numpy as np
import pandas as pd
import pytest

import assay
from tests.conftest import DATA

FAST = dict(time_limit=None, max_trials=4, families=["lightgbm", "linear"], verbosity=0)


@pytest.mark.parametrize("name,target,task,metric", [
    ("titanic.csv.gz", "Survived", "binary", "roc_auc"),
    ("car.csv.gz", "class", "multiclass", "log_loss"),
    ("abalone.csv.gz", "Rings", "regression", "rmse"),
])
def test_fit_save_load_predict(tmp_path, name, target, task, metric):
    df = pd.read_csv(DATA / name)
    before = df.copy()
    run = assay.fit(df, target, **FAST)
    pd.testing.assert_frame_equal(df, before)  # the user's frame is untouched
    assert run.task == task and run.metric == metric
    lb = run.leaderboard()
    assert lb.iloc[0]["model"] == "ensemble"
    assert (lb["status"] == "ok").sum() >= 3
    base = lb.loc[lb["model"] == "baseline", f"cv_{metric}"].item()
    best = lb.iloc[0][f"cv_{metric}"]
    assert (best > base) if metric == "roc_auc" else (best < base)

    path = run.save(tmp_path / "run")
    for f in ("run.json", "leaderboard.csv", "trials.db", "models/final.pkl"):
        assert (path / f).exists(), f
    loaded = assay.load(path)
    oof = loaded.oof()
    assert len(oof["ensemble"]) == len(oof["rows"]) == len(df)  # k-fold: every row validated
    assert sum(k.startswith("trial_") for k in oof) >= 3
    X = df.drop(columns=[target]).head(50)
    np.testing.assert_allclose(loaded.predict_output(X), run.predict_output(X))
    pred = loaded.predict(X)
    if task == "regression":
        assert np.all(np.isfinite(pred.astype(float)))
    else:
        assert set(pred) <= set(df[target].unique())
        proba = loaded.predict_proba(X)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
        assert list(proba.columns) == [str(c) for c in run.classes]
        # predicted labels are the user's labels, decoded from the most probable class
        assert (pred == np.asarray(run.classes, dtype=object)[proba.to_numpy().argmax(1)]).all()


def test_same_seed_same_leaderboard():
    df = pd.read_csv(DATA / "titanic.csv.gz")
    cfg = dict(time_limit=None, max_trials=6, families=["lightgbm", "linear"], verbosity=0, seed=3)
    a = assay.fit(df, "Survived", **cfg).leaderboard()
    b = assay.fit(df, "Survived", **cfg).leaderboard()
    cols = ["model", "family", "status", "cv_roc_auc", "params", "ensemble_weight"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_tiny_budget_still_returns_a_model():
    df = pd.read_csv(DATA / "titanic.csv.gz")
    run = assay.fit(df, "Survived", time_limit=1.0, verbosity=0)
    out = run.predict(df.head(5))
    assert len(out) == 5

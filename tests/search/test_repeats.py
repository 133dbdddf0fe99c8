"""Repeated k-fold bagging (assay/search/repeats.py): more fold splits for the ensemble's members."""
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import assay
from assay.cli import app
from assay.config import FitConfig
from assay.errors import OptionError
from assay.metrics import get_metric
from assay.search.budget import Budget
from assay.search.repeats import AUTO_SPLITS, REPEAT_SHARE, planned_splits
from tests.conftest import DATA


@pytest.fixture(scope="module")
def titanic():
    return pd.read_csv(DATA / "titanic.csv.gz")


def test_auto_repeats_only_where_the_members_keep_their_fold_models():
    cfg = FitConfig(time_limit=60)
    assert planned_splits(cfg, 700, 5, "binary") == AUTO_SPLITS          # small data: a bag
    assert planned_splits(cfg, 50_000, 3, "binary") == 1                 # refit on all rows instead
    assert planned_splits(FitConfig(time_limit=60, refit="full"), 700, 5, "binary") == 1
    assert planned_splits(cfg, 700, 1, "binary") == 1                    # a holdout has nothing to repeat
    assert planned_splits(FitConfig(time_limit=None, max_trials=5), 700, 5, "binary") == 1
    assert planned_splits(cfg, 700, 5, "multiclass") == 1                # measured worse: not by default
    assert planned_splits(cfg, 700, 5, "regression") == 1                # not measured: not by default
    asked = FitConfig(time_limit=60, bag_repeats=2)                      # asked for: honoured
    assert planned_splits(asked, 50_000, 3, "regression") == 2
    assert planned_splits(FitConfig(time_limit=60, bag_repeats=1), 700, 5, "binary") == 1


def test_the_search_leaves_a_share_of_the_limit_for_repeats():
    b = Budget(100.0)
    before = b.search_left()
    b.repeat_share = REPEAT_SHARE
    assert b.search_left() == pytest.approx(before - REPEAT_SHARE * 100, abs=0.05)
    assert b.search_left(with_repeats=True) == pytest.approx(before, abs=0.05)


def test_bag_repeats_must_be_positive():
    with pytest.raises(OptionError, match="bag repeats must be at least 1"):
        FitConfig(bag_repeats=0)
    res = CliRunner().invoke(app, ["fit", str(DATA / "titanic.csv.gz"), "--target", "Survived",
                                   "--bag-repeats", "0"])
    assert res.exit_code == 2 and "bag repeats must be at least 1" in res.output


def test_members_are_bagged_over_three_splits_and_stay_out_of_fold(titanic, tmp_path):
    kw = {"time_limit": None, "max_trials": 3, "families": ["linear", "hist_gb"], "verbosity": 0, "seed": 3}
    once = assay.fit(titanic, "Survived", bag_repeats=1, **kw)
    run = assay.fit(titanic, "Survived", bag_repeats=3, **kw)
    assert run.meta["bag_splits"] == 3 and once.meta["bag_splits"] == 1
    lb = run.leaderboard().set_index("model")
    members = [m for m in run.meta["ensemble"] if m["weight"] > 0]
    assert members
    top = max(m["weight"] for m in members)
    for m in members:                     # every member: 5 folds x 3 splits, all averaged --
        # fewer where the member is thinned by its weight (ensemble.build.thin_by_weight)
        share = 15 * m["weight"] / top    # ceil(share); the weights in run.json are rounded
        assert m["fit"] == "folds" and share - 1e-4 <= m["n_models"] < share + 1 + 1e-4
        assert lb.loc[m["member"], "splits"] == 3
        oof = run.oof()[f"trial_{m['trial']}"]
        first = once.oof()[f"trial_{m['trial']}"]     # the same configuration on the first split only
        assert oof.shape == first.shape and not np.allclose(oof, first)
        # the leaderboard's CV score is the metric of the stored (averaged) out-of-fold predictions
        y = run.oof()["y"]
        auc = get_metric("roc_auc", "binary").value(y, oof)
        assert lb.loc[m["member"], "cv_roc_auc"] == pytest.approx(auc, rel=1e-5)
        # out of fold: not fitted to the rows it predicts (a fit on all rows would score far higher)
        assert auc < 0.9
    assert run.predict(titanic.drop(columns=["Survived"]).head(20)).shape == (20,)
    # the CLI's leaderboard shows the splits column where some trial was repeated, not otherwise
    runner = CliRunner()
    shown = runner.invoke(app, ["leaderboard", str(run.save(tmp_path / "rep"))])
    assert shown.exit_code == 0 and "splits" in shown.output
    shown = runner.invoke(app, ["leaderboard", str(once.save(tmp_path / "once"))])
    assert shown.exit_code == 0 and "splits" not in shown.output

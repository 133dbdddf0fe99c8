"""fit --fairness: NSGA-II over (metric, out-of-fold disparity); Pareto front on the
leaderboard; the chosen model meets the constraint, or the Run says plainly that none does."""
import numpy as np
import optuna
import pandas as pd
import pytest

import assay
from assay.fairness.objective import disparity
from tests.conftest import DATA

TARGET = "two_year_recid"
BOUND = 0.25


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    df = pd.read_csv(DATA / "compas_two_year.csv.gz")
    out = tmp_path_factory.mktemp("nsga") / "run"
    return assay.fit(df, TARGET, time_limit=None, max_trials=6, families=["lightgbm", "linear"],
                     verbosity=0, sensitive=["race"], fairness=f"equalized_odds<={BOUND}", out=out)


def test_study_is_multi_objective_nsga2(run):
    study = optuna.load_study(study_name="assay", storage=f"sqlite:///{run.path / 'trials.db'}")
    assert len(study.directions) == 2
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) >= 4 and all(len(t.values) == 2 for t in done)
    assert len(study.best_trials) >= 1                   # Optuna's own Pareto front


def test_leaderboard_marks_a_correct_pareto_front(run):
    lb = run.leaderboard()
    trials = lb[lb["trial"].notna() & (lb["trial"] >= 0) & lb["status"].eq("ok")]
    assert trials["disparity"].notna().all()
    s, d = trials["cv_roc_auc"].to_numpy(), trials["disparity"].to_numpy()
    for i, (si, di, p) in enumerate(zip(s, d, trials["pareto"])):
        dominated = np.any((s >= si) & (d <= di) & ((s > si) | (d < di)))
        assert bool(p) == (not dominated), trials.iloc[i]
    assert trials["pareto"].any()
    assert (trials["meets_constraint"] == (trials["disparity"] <= BOUND)).all()


def test_disparity_is_measured_on_out_of_fold_predictions(run):
    oof = run.oof()
    lb = run.leaderboard().set_index("model")
    groups = oof["sensitive__race"]
    for name, row in lb.iterrows():
        if row["family"] in ("lightgbm", "linear") and row["status"] == "ok":
            p = oof[f"trial_{int(row['trial'])}"]
            d = disparity(p, oof["y"], groups, "equalized_odds")
            assert d == pytest.approx(row["disparity"], abs=1e-4)


def test_chosen_model_honours_the_constraint(run):
    fair = run.meta["fairness"]
    lb = run.leaderboard()
    trials = lb[lb["trial"].notna() & (lb["trial"] >= 0) & lb["status"].eq("ok")]
    oof = run.oof()
    rows = oof["rows"]
    d_final = disparity(oof["ensemble"], oof["y"][rows], oof["sensitive__race"][rows], "equalized_odds")
    members = {m["trial"] for m in run.meta["ensemble"]}
    member_disp = trials.set_index("trial").loc[sorted(members), "disparity"]
    if (trials["disparity"] <= BOUND).any():
        assert fair["met"] is True and "met" in fair["message"]
        assert d_final <= BOUND + 1e-9
        assert (member_disp <= BOUND).all()          # only trials meeting the bound are members
    else:
        assert fair["met"] is False and "NO trial meets" in fair["message"]
        assert member_disp.min() == pytest.approx(trials["disparity"].min())

"""Multi-fidelity: the study's pruner stops bad configurations after a fold; samplers."""
import optuna
import pandas as pd
import pytest

import assay
from assay.errors import OptionError
from tests.conftest import DATA


@pytest.fixture(scope="module")
def titanic():
    return pd.read_csv(DATA / "titanic.csv.gz")


def test_median_pruner_stops_trials_after_a_fold(titanic, tmp_path):
    run = assay.fit(titanic, "Survived", time_limit=None, max_trials=14, families=["linear"],
                    verbosity=0, pruner="median", seed=1)
    lb = run.leaderboard()
    pruned = lb[lb["status"] == "pruned"]
    assert run.meta["n_pruned"] == len(pruned) >= 1
    assert run.meta["n_failed"] == 0
    assert pruned["cv_roc_auc"].isna().all()               # a partial score is not a CV score
    assert (pruned["source"] != "default").all()           # first configurations always run in full
    assert pruned["error"].str.contains(r"pruned after \d of 5 folds").all()
    # pruned trials are ranked below every complete one and never join the ensemble
    assert pruned["rank"].min() > lb.loc[lb["status"] == "ok", "rank"].max()
    assert (pruned["ensemble_weight"] == 0).all()
    assert not any(f"trial_{t}" in run.oof() for t in pruned["trial"].astype(int))
    # the study itself knows: Optuna's own state, and intermediate values per fold
    path = run.save(tmp_path / "run")
    study = optuna.load_study(study_name="assay", storage=f"sqlite:///{path / 'trials.db'}")
    states = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(states) == len(pruned) and all(t.intermediate_values for t in states)


def test_no_pruner_runs_every_fold(titanic):
    run = assay.fit(titanic, "Survived", time_limit=None, max_trials=8, families=["linear"],
                    verbosity=0, pruner="none")
    assert run.meta["n_pruned"] == 0 and (run.leaderboard()["status"] == "ok").all()


def test_cmaes_sampler_and_bad_names(titanic):
    run = assay.fit(titanic, "Survived", time_limit=None, max_trials=7, families=["linear"],
                    verbosity=0, search="cmaes")
    assert (run.leaderboard()["status"].isin(["ok", "pruned"])).all()
    with pytest.raises(OptionError, match="unknown pruner"):
        assay.fit(titanic, "Survived", max_trials=2, pruner="sometimes")
    with pytest.raises(OptionError, match="unknown search"):
        assay.fit(titanic, "Survived", max_trials=2, search="grid")


@pytest.fixture(scope="module")
def compas():
    return pd.read_csv(DATA / "compas_two_year.csv.gz")


def test_hyperband_on_larger_data_starts_from_a_subsample_of_the_first_fold(compas, tmp_path):
    """Successive halving on data subsamples: with Hyperband, where the first fold trains on
    at least SUBSAMPLE_MIN_ROWS rows, a sampled configuration is first fit on a quarter of
    them (step 1, Hyperband's first rung) and can be stopped there, before any full fold."""
    from assay.search.trial import SUBSAMPLE_MIN_ROWS, has_subsample_rung, pruning_steps, subsample_rows

    run = assay.fit(compas, "two_year_recid", time_limit=None, max_trials=24, families=["linear"],
                    verbosity=0, pruner="hyperband", n_folds=3, seed=0)
    lb = run.leaderboard()
    pruned = lb[lb["status"] == "pruned"]
    on_subsample = pruned[pruned["error"].str.contains("pruned on a 25% subsample")]
    assert len(on_subsample) >= 1 and (pruned["source"] != "default").all()
    path = run.save(tmp_path / "run")
    study = optuna.load_study(study_name="assay", storage=f"sqlite:///{path / 'trials.db'}")
    steps = {t.number: sorted(t.intermediate_values) for t in study.trials}
    for number in on_subsample["trial"].astype(int):
        assert steps[number] == [1]                     # stopped at the rung, no fold reported
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.intermediate_values]
    assert complete and all(sorted(t.intermediate_values) == [1, 2, 3] for t in complete)

    # the rung needs enough rows, and keeps every class of a rare-class target
    import numpy as np
    folds = [(np.arange(SUBSAMPLE_MIN_ROWS), np.arange(10)), (np.arange(10), np.arange(10))]
    assert has_subsample_rung(folds, "hyperband") and pruning_steps(folds, "hyperband") == 3
    assert not has_subsample_rung(folds, "median") and pruning_steps(folds, "median") == 2
    assert not has_subsample_rung([(np.arange(SUBSAMPLE_MIN_ROWS - 1), np.arange(10))] * 2, "hyperband")
    y = np.zeros(SUBSAMPLE_MIN_ROWS, int)
    y[:3] = 1
    sub = subsample_rows(np.arange(SUBSAMPLE_MIN_ROWS), y, True, 0)
    assert set(y[sub]) == {0, 1} and abs(len(sub) - SUBSAMPLE_MIN_ROWS // 4) <= 2

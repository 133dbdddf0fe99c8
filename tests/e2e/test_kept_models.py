"""A Run keeps the best model of each family: predict with it, see its throughput."""
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import assay
from assay.cli import app
from assay.errors import OptionError
from tests.conftest import DATA


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    df = pd.read_csv(DATA / "car.csv.gz")
    run = assay.fit(df, "class", time_limit=None, max_trials=5, families=["hist_gb", "linear", "lightgbm"],
                    verbosity=0)
    return df, run, run.save(tmp_path_factory.mktemp("kept") / "run")


def test_models_listed_and_leaderboard_marks_them(saved):
    df, run, path = saved
    names = run.models()
    assert names[0] == "ensemble" and {n.split("#")[0] for n in names[1:]} == {"hist_gb", "linear", "lightgbm"}
    lb = run.leaderboard()
    assert set(lb.loc[lb["kept"], "model"]) == set(names)
    ens = lb.loc[lb["model"] == "ensemble"].iloc[0]
    assert ens["predict_rows_per_s"] > 0
    # the kept single model is the best of its family on the leaderboard
    for name in names[1:]:
        fam = lb[lb["family"] == name.split("#")[0]].sort_values("cv_log_loss")
        assert fam.iloc[0]["model"] == name


def test_predict_with_a_kept_model_after_load(saved):
    df, run, path = saved
    X = df.drop(columns=["class"]).head(40)
    loaded = assay.load(path)
    assert loaded.models() == run.models()
    name = [n for n in run.models() if n.startswith("linear")][0]
    by_family = loaded.predict_proba(X, model="linear").to_numpy()
    np.testing.assert_allclose(by_family, loaded.predict_proba(X, model=name).to_numpy())
    np.testing.assert_allclose(by_family, run.predict_proba(X, model=name).to_numpy())
    # a different model than the ensemble, but a proper probability matrix
    assert not np.allclose(by_family, loaded.predict_proba(X).to_numpy())
    np.testing.assert_allclose(by_family.sum(1), 1.0, atol=1e-9)
    with pytest.raises(OptionError, match="keeps no model called 'knn'"):
        loaded.predict(X, model="knn")


def test_cli_predict_model_option(saved, tmp_path):
    df, run, path = saved
    data = tmp_path / "rows.csv"
    df.head(5).to_csv(data, index=False)
    res = CliRunner().invoke(app, ["predict", str(path), str(data), "--model", "hist_gb"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0].endswith("proba_vgood") and len(res.output.splitlines()) == 6
    res = CliRunner().invoke(app, ["predict", str(path), str(data), "--model", "nope"])
    assert res.exit_code == 2 and "keeps no model called 'nope'" in res.output


def test_a_family_whose_fold_models_are_too_big_is_not_kept(monkeypatch, tmp_path):
    """Fold models over the size cap (grown forests on a few thousand rows reach gigabytes)
    are not kept: writing them made a 60 s fit overrun its limit by 13 s. The ensemble's
    member is kept whatever its size: it is written once, as part of the final model."""
    import json

    import assay.api

    monkeypatch.setattr(assay.api, "KEPT_MAX_MB", 1e-6)     # every family's fold models are bigger
    df = pd.read_csv(DATA / "car.csv.gz")
    run = assay.fit(df, "class", time_limit=None, max_trials=2, families=["linear", "random_forest"],
                    ensemble_size=1, verbosity=0)           # one greedy round: a single member
    (member,) = run.model.members
    others = {"linear", "random_forest"} - {member.family}
    assert [n.split("#")[0] for n in run.models()[1:]] == [member.family]
    lb = run.leaderboard()
    assert not lb.loc[lb["family"].isin(others), "kept"].any()
    path = run.save(tmp_path / "run")
    assert json.loads((path / "run.json").read_text())["candidates"] == {member.name: {"member": member.trial_id}}
    assert not list((path / "models" / "candidates").glob("*.pkl"))


def test_a_kept_model_that_is_an_ensemble_member_is_that_member(saved):
    """The best trial of a family that the ensemble holds is kept as the member itself (refit
    on all rows here: car has 1,728 rows), not as its k fold models."""
    from assay.ensemble.model import EnsembleModel

    df, run, path = saved
    X = df.drop(columns=["class"]).head(200)
    loaded = assay.load(path)
    shared = [m for m in run.model.members if m.name in run.models()]
    assert shared, "the ensemble holds no family's best trial"
    for m in shared:
        kept = loaded.model_for(m.name).members[0]
        assert (kept.kind, len(kept.estimators)) == (m.kind, len(m.estimators)) == ("full", 1)
        alone = EnsembleModel(run.task, run.model.n_classes, [m]).predict_output(run.features(X))
        np.testing.assert_allclose(loaded.predict_output(X, model=m.name), alone, rtol=1e-6, atol=1e-9)
    others = [n for n in run.models()[1:] if n not in {m.name for m in shared}]
    for name in others:          # not in the ensemble: its fold models
        assert loaded.model_for(name).members[0].kind == "folds"


def test_hist_gb_members_predict_through_compiled_trees_after_load(saved):
    """The ensemble's HistGradientBoosting members were compiled at assembly (one LightGBM
    Booster for all trees) and stay so in the saved Run, with scikit-learn's predictions."""
    df, run, path = saved
    loaded = assay.load(path)
    rows = df.drop(columns=["class"]).head(200)
    learners = [e.steps[-1][1].model_ for m in loaded.model.members if m.family == "hist_gb" for e in m.estimators]
    assert learners, "car's ensemble holds a HistGradientBoosting member"
    assert all(learner.compiled_ is not None for learner in learners)
    compiled = loaded.predict_proba(rows).to_numpy()
    for learner in learners:
        learner.compiled_ = None          # back to scikit-learn's own loop over trees
    np.testing.assert_allclose(loaded.predict_proba(rows).to_numpy(), compiled, rtol=0, atol=1e-12)

"""Monotone constraints: boosters and linear models honour them (zero violations on a dense
grid), unconstrained models do not; the option is checked; `--monotone` parses."""
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import assay
from assay.audit.monotone import check_monotone
from assay.config import FitConfig
from assay.data.validate import encode_target, prepare_training
from assay.ensemble.model import EnsembleModel, Member
from assay.errors import OptionError
from assay.models.base import ProblemInfo
from assay.models.registry import get_family
from assay.run import Run

FAMILIES = [f for f in ("lightgbm", "xgboost", "catboost", "linear") if get_family(f).is_available()]
CONSTRAINTS = {"x1": 1, "debt ratio": -1}


def make_df(task: str, n: int = 300, seed: int = 0) -> pd.DataFrame:
    """The truth is far from monotone in x1 and in 'debt ratio' (a name the boosters sanitise)."""
    r = np.random.default_rng(seed)
    x1 = r.uniform(-2, 2, n)
    debt = r.uniform(0, 3, n)
    x2 = r.normal(size=n)
    grp = r.choice(["a", "b", "c"], n)
    f = np.sin(3 * x1) + 0.5 * x2 + 0.8 * np.sin(2 * debt) + 0.5 * (grp == "b")
    x1 = np.where(r.random(n) < 0.05, np.nan, x1)      # missing values: an indicator column for linear
    df = pd.DataFrame({"x1": x1, "debt ratio": debt, "x2": x2, "grp": grp})
    if task == "regression":
        df["y"] = f + 0.1 * r.normal(size=n)
    else:
        df["y"] = np.where(f + 0.3 * r.normal(size=n) > 0, "yes", "no")
    return df


def single_model_run(df: pd.DataFrame, family: str, monotone: dict | None) -> Run:
    """Fit one family's first default configuration in-process and wrap it as a Run."""
    X, y_raw, schema = prepare_training(df, "y", None)
    y = encode_target(y_raw, schema)
    info = ProblemInfo(schema=schema, n_rows=len(y), extra={"monotone": monotone} if monotone else {})
    fam = get_family(family)
    est = fam.build(dict(fam.default_configs(info)[0]), info).fit(X, y)
    model = EnsembleModel(schema.task, info.n_classes, [Member(0, family, {}, 1.0, [est], "full")])
    return Run(schema=schema, model=model, leaderboard=pd.DataFrame(),
               meta={"metric": "", "config": {"monotone": monotone}})


@pytest.mark.parametrize("task", ["regression", "binary"])
@pytest.mark.parametrize("family", FAMILIES)
def test_constrained_family_has_no_violation(family, task):
    df = make_df(task)
    res = check_monotone(single_model_run(df, family, CONSTRAINTS), df, grid_points=40, max_rows=60)
    assert res.ok and res.violations == 0, res.features
    assert [f["feature"] for f in res.features] == list(CONSTRAINTS)
    assert all(f["rows_checked"] == 60 and f["grid_points"] >= 40 for f in res.features)


@pytest.mark.parametrize("task", ["regression", "binary"])
def test_unconstrained_model_violates(task):
    df = make_df(task)
    run = single_model_run(df, "lightgbm", None)
    with pytest.raises(OptionError, match="no monotone constraints"):
        check_monotone(run, df)
    res = check_monotone(run, df, {"x1": 1}, grid_points=40, max_rows=60)
    (f,) = res.features
    assert not res.ok and f["violations"] > 0 and f["worst_violation"] > 0.01
    assert 0 < f["share_rows_violating"] <= 1


def test_linear_constraint_lands_on_the_standardised_column():
    df = make_df("regression")
    X, y_raw, schema = prepare_training(df, "y", None)
    info = ProblemInfo(schema=schema, n_rows=len(X), extra={"monotone": {"x1": 1}})
    est = get_family("linear").build({"model": "ridge", "alpha": 1.0}, info).fit(X, encode_target(y_raw, schema))
    names = list(est.named_steps["prep"].get_feature_names_out())
    coef = est.named_steps["learner"].model_.regressor_.coef_
    assert names.index("num__x1") == 0 and coef[0] >= 0           # the least-squares slope is negative
    assert coef[0] < 1e-8                                          # so the bound is active
    assert "num__missingindicator_x1" in names                     # left unconstrained


def test_fit_with_monotone_searches_capable_families_and_the_ensemble_holds(tmp_path):
    df = make_df("binary", n=240)
    # LightGBM's reference configuration runs first, then one turn per capable family
    run = assay.fit(df, "y", time_limit=None, max_trials=len(FAMILIES) + 1, families=None,
                    monotone=CONSTRAINTS, verbosity=0, ensemble_size=10, n_folds=2, n_jobs=1)
    lb = run.leaderboard()
    assert set(lb.loc[lb["status"].eq("ok"), "family"]) - {"ensemble", "baseline"} == set(FAMILIES)
    assert len(run.model.members) >= 2
    assert run.meta["config"]["monotone"] == CONSTRAINTS
    res = check_monotone(run, df, grid_points=40, max_rows=60)
    assert res.ok, res.features
    assert res.save(tmp_path / "m.json").exists()


@pytest.mark.parametrize("monotone,match", [
    ({"x3": 1}, "unknown column 'x3'; did you mean .*'x1'"),
    ({"grp": 1}, "need a numeric column"),
    ({"y": 1}, "the target"),
    ({"x1": 2}, r"\+1 \(increasing\) or -1"),
    ({"x1": "+1"}, r"\+1 \(increasing\) or -1"),
])
def test_option_errors(monotone, match):
    with pytest.raises(OptionError, match=match):
        assay.fit(make_df("regression", n=60), "y", max_trials=1, monotone=monotone, verbosity=0)


def test_option_errors_multiclass_and_named_families():
    df = make_df("regression", n=60)
    df["y"] = np.digitize(df["y"], [-0.5, 0.5]).astype(str)
    with pytest.raises(OptionError, match="binary classification and regression"):
        assay.fit(df, "y", max_trials=1, monotone={"x1": 1}, verbosity=0)
    with pytest.raises(OptionError, match="random_forest cannot honour monotone"):
        assay.fit(make_df("binary", n=60), "y", max_trials=1, monotone={"x1": 1}, verbosity=0,
                  families=["lightgbm", "random_forest"])


def test_cli_monotone_option(tmp_path):
    from assay.cli import app, parse_monotone

    assert parse_monotone("age:+1, debt:-1,x:1,z:-") == {"age": 1, "debt": -1, "x": 1, "z": -1}
    for bad in ("age", "age:2", ":+1", "age:+1,,debt:-1"):
        with pytest.raises(OptionError, match="--monotone"):
            parse_monotone(bad)
    path = tmp_path / "d.csv"
    make_df("regression", n=60).to_csv(path, index=False)
    runner = CliRunner()
    res = runner.invoke(app, ["fit", str(path), "-t", "y", "--monotone", "x1+1", "-q", "-o", str(tmp_path / "r")])
    assert res.exit_code == 2 and "--monotone" in res.output
    res = runner.invoke(app, ["fit", str(path), "-t", "y", "--monotone", "x9:+1", "-q", "-o", str(tmp_path / "r")])
    assert res.exit_code == 2 and "unknown column 'x9'" in res.output
    assert FitConfig(monotone=parse_monotone("x1:+1")).monotone == {"x1": 1}

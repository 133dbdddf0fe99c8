"""The whole final model in one graph: ensembles of several families (full and fold
members, margin-space combination), partial exports, unconvertible parts named."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxmltools")

from assay.export import OnnxEngine, OnnxExportError, export_onnx
from tests.export._helpers import fit_member, make_run, split


def _ensemble(task):
    train, test, target = split(task)
    members = []
    for i, (fam, n_models, w) in enumerate([("lightgbm", 1, 3.0), ("xgboost", 2, 2.0),
                                            ("random_forest", 1, 1.0), ("linear", 2, 1.5)]):
        m, schema = fit_member(train, target, fam, n_models=n_models, weight=w, trial_id=i)
        members.append(m)
    return make_run(schema, members), test


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_ensemble_of_four_families_parity(task, tmp_path):
    run, test = _ensemble(task)
    rep = export_onnx(run, data=test, path=tmp_path)
    assert rep.complete and [m["member"] for m in rep.members] == [m.name for m in run.model.members]
    tol = 1e-4 if task != "regression" else 1e-4 * 30
    assert rep.max_abs_diff <= tol
    # the ensemble differs from each member alone: the combination really happens in the graph
    X = run.features(test)
    single = run.model.members[0].margin(X, task)
    from assay.ensemble.space import from_margin

    assert np.max(np.abs(from_margin(single, task) - run.model.predict_output(X))) > 10 * tol


def test_partial_export_leaves_out_what_does_not_convert(tmp_path):
    pytest.importorskip("catboost")
    train, test, target = split("binary")
    lgbm, schema = fit_member(train, target, "lightgbm", weight=2.0, trial_id=0)
    cat, _ = fit_member(train, target, "catboost", weight=1.0, trial_id=1, extra={"n_estimators": 30})
    run = make_run(schema, [lgbm, cat])
    with pytest.raises(OnnxExportError) as err:
        export_onnx(run, data=test, path=tmp_path)
    msg = str(err.value)
    assert "catboost#1: CatBoost with categorical features" in msg and "--allow-partial" in msg
    assert not (tmp_path / "model.onnx").exists()

    rep = export_onnx(run, data=test, path=tmp_path, allow_partial=True)
    assert not rep.complete
    rows = {m["member"]: m for m in rep.members}
    assert rows["lightgbm#0"]["converted"] and not rows["catboost#1"]["converted"]
    assert rep.max_abs_diff <= 1e-4                      # vs the exported members in Python
    # vs the Run's full model: measured and reported, and really different
    X = run.features(test)
    alone = make_run(schema, [lgbm]).model.predict_output(X)
    assert rep.max_abs_diff_vs_run == pytest.approx(np.max(np.abs(alone - run.model.predict_output(X))), abs=1e-4)
    assert rep.max_abs_diff_vs_run > 1e-3
    saved = json.loads((tmp_path / "export.json").read_text())
    assert saved["complete"] is False

    # a saved Run with a partial export: the ONNX engine says so when it loads it
    run_dir = run.save(tmp_path / "run")
    export_onnx(run, data=test, path=run_dir, allow_partial=True)
    with pytest.warns(UserWarning, match=r"partial export \(left out: catboost#1\)"):
        engine = OnnxEngine(run_dir)
    assert np.allclose(engine.predict_output(test), alone, atol=1e-4)


def test_verification_without_data_uses_synthetic_rows_with_unseen_and_missing(tmp_path):
    train, _, target = split("multiclass")
    m, schema = fit_member(train, target, "lightgbm")
    rep = export_onnx(make_run(schema, [m]), path=tmp_path)
    assert rep.verified_on.startswith("synthetic rows") and rep.n_rows == 500
    assert rep.max_abs_diff <= 1e-4


def test_unseen_levels_missing_values_and_zero_rows(tmp_path):
    train, test, target = split("binary")
    m, schema = fit_member(train, target, "linear")
    run = make_run(schema, [m])
    export_onnx(run, data=test, path=tmp_path)
    odd = test.head(6).copy()
    odd["Sex"] = ["alien", None, "female", "", "male", "MALE"]
    odd["Age"] = [np.nan, 1e6, -5, 30, np.nan, 0]
    odd["Embarked"] = [None] * 6
    from assay.export.onnx import run_session, session

    sess = session((tmp_path / "model.onnx").read_bytes())
    X = run.features(odd)                        # the checks and coercion every engine applies first
    assert np.max(np.abs(run_session(sess, X, schema) - run.model.predict_output(X))) <= 1e-6
    assert run_session(sess, X.iloc[:0], schema).shape == (0, 2)


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "random_forest", "hist_gb"])
def test_values_missing_only_at_prediction_time(family, tmp_path):
    """Trees never saw a missing value in training (LightGBM: missing_type None, NaN -> 0;
    scikit-learn: the larger child): the graph routes them as the libraries do."""
    import pandas as pd

    from assay.export.onnx import run_session, session

    rng = np.random.default_rng(0)
    n = 900
    df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n), "c": rng.choice(list("abc"), n)})
    df["y"] = ((df["x"] > 0.3) ^ (df["z"] < -0.2) ^ (df["c"] == "a")).astype(int)
    member, schema = fit_member(df.iloc[:600], "y", family)
    run = make_run(schema, [member])
    export_onnx(run, data=df.iloc[600:], path=tmp_path)
    test = df.iloc[600:].drop(columns=["y"]).copy()
    test.loc[test.index[::3], "x"] = np.nan
    test.loc[test.index[1::3], "c"] = None
    X = run.features(test)
    got = run_session(session((tmp_path / "model.onnx").read_bytes()), X, schema)
    assert np.max(np.abs(got - run.model.predict_output(X))) <= 1e-5

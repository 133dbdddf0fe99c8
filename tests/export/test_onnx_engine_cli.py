"""A Run from `assay.fit` (a real search) exported by the CLI and scored by OnnxEngine:
the same frame as `Run.predict_frame`; clear errors for a non-Run, a Run without
model.onnx, and a Run with a part that does not convert."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxmltools")

import assay
from assay.cli import app
from assay.errors import AssayInputError
from assay.export import OnnxEngine, OnnxModelMissingError
from tests.export._helpers import fit_member, make_run, split


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """(Run directory, held-out CSV, held-out rows): titanic without its text column."""
    base = tmp_path_factory.mktemp("onnx_run")
    train, test, target = split("binary")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = assay.fit(train, target, time_limit=40, max_trials=2, families=["lightgbm", "linear"], verbosity=0)
    assert run.info()["status"] != "baseline-only", "the machine was too busy to fit one trial in 40 s"
    run.save(base / "run")
    test = test.drop(columns=[target])
    test.to_csv(base / "heldout.csv", index=False)
    return base / "run", base / "heldout.csv", test


def test_cli_export_then_engine_matches_run_predict_frame(fitted):
    run_dir, heldout, test = fitted
    res = CliRunner().invoke(app, ["export", str(run_dir), "--format", "onnx", "--data", str(heldout)])
    assert res.exit_code == 0, res.output
    assert "max abs difference of probabilities" in res.output
    info = json.loads((run_dir / "export.json").read_text())
    assert info["complete"] and info["max_abs_diff"] <= 1e-4 and info["verified_on"] == "heldout.csv"
    assert set(info["inputs"]) == set(assay.load(run_dir).schema.feature_names)

    run = assay.load(run_dir)
    engine = OnnxEngine(run_dir)
    want, got = run.predict_frame(test), engine.predict_frame(test)
    assert list(got.columns) == list(want.columns) == list(test.columns) + ["prediction", "proba_0", "proba_1"]
    proba = ["proba_0", "proba_1"]
    assert np.max(np.abs(got[proba].to_numpy() - want[proba].to_numpy())) <= 1e-4
    clear = (want["proba_1"] - 0.5).abs() > 1e-4
    assert (got["prediction"][clear] == want["prediction"][clear]).all()
    assert got["prediction"].dtype == want["prediction"].dtype
    pd.testing.assert_frame_equal(got[test.columns], test)          # the input rows untouched
    assert np.allclose(engine.predict_output(test), run.predict_output(test), atol=1e-4)
    assert np.array_equal(engine.predict(test.iloc[:0]), run.predict(test.iloc[:0]))


def test_engine_reads_a_file_and_ignores_extra_columns(fitted):
    run_dir, heldout, test = fitted
    if not (run_dir / "model.onnx").exists():
        CliRunner().invoke(app, ["export", str(run_dir), "--data", str(heldout)])
    engine = OnnxEngine(run_dir)
    from_file = engine.predict_frame(str(heldout))
    extra = test.assign(unused=1)
    assert np.allclose(from_file["proba_1"], engine.predict_frame(extra)["proba_1"])


def test_engine_without_model_onnx_is_a_clear_input_error(fitted, tmp_path):
    run_dir, _, _ = fitted
    bare = tmp_path / "bare"
    assay.load(run_dir).save(bare)
    with pytest.raises(OnnxModelMissingError, match=r"no model\.onnx .*assay export"):
        OnnxEngine(bare)
    assert issubclass(OnnxModelMissingError, AssayInputError)


def test_cli_export_on_a_non_run_directory_exits_2(tmp_path):
    (tmp_path / "some.csv").write_text("a,b\n1,2\n")
    res = CliRunner().invoke(app, ["export", str(tmp_path), "--format", "onnx"])
    assert res.exit_code == 2
    assert "is not an assay Run" in res.output
    assert not (tmp_path / "model.onnx").exists()


def test_baseline_only_run_exports(tmp_path):
    """A fit where no trial finished returns the class prior: that converts too."""
    import numpy as np

    from assay.ensemble.build import baseline_model
    from assay.export import export_onnx

    train, test, target = split("multiclass")
    _, schema = fit_member(train, target, "linear")
    from assay.data.validate import encode_target

    y = encode_target(train[target], schema)
    model = baseline_model(y, schema.task, len(schema.classes))
    run = make_run(schema, model.members)
    rep = export_onnx(run, data=test, path=tmp_path)
    assert rep.max_abs_diff <= 1e-9 and rep.members[0]["member"] == "baseline#-1"
    from assay.export.onnx import run_session, session

    got = run_session(session((tmp_path / "model.onnx").read_bytes()), run.features(test.head(3)), schema)
    assert np.allclose(got, model.members[0].estimators[0].proba_)


def test_cli_export_unknown_format_exits_2(fitted):
    res = CliRunner().invoke(app, ["export", str(fitted[0]), "--format", "pmml"])
    assert res.exit_code == 2 and "unknown export format 'pmml'" in res.output


def test_cli_export_names_the_unconvertible_part_and_exits_2(tmp_path):
    from tests.conftest import DATA

    df = pd.read_csv(DATA / "titanic.csv.gz")
    member, schema = fit_member(df.iloc[:400], "Survived", "linear")
    run = make_run(schema, [member])
    run.save(tmp_path / "run")
    res = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--data", str(DATA / "titanic.csv.gz")])
    assert res.exit_code == 2
    assert "linear#0: text column 'Name' (TF-IDF, in the 'linear' preprocessing)" in res.output
    assert not (tmp_path / "run" / "model.onnx").exists()

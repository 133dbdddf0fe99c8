"""ONNX parity, family by family: each exportable family's real pipeline (preprocessing +
learner) on binary (titanic), multiclass (car) and regression (abalone) rows, exported,
run in ONNX Runtime and compared with the Python predictions on held-out rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxmltools")

from assay.export import OnnxExportError, export_onnx
from assay.export.onnx import PROBA_TOLERANCE
from tests.export._helpers import fit_member, make_run, split

TASKS = ["binary", "multiclass", "regression"]
FAMILIES = ["lightgbm", "xgboost", "random_forest", "extra_trees", "hist_gb", "linear"]


def _check(run, test, tmp_path):
    rep = export_onnx(run, data=test, path=tmp_path)
    assert (tmp_path / "model.onnx").is_file()
    saved = json.loads((tmp_path / "export.json").read_text())
    assert saved["max_abs_diff"] == pytest.approx(rep.max_abs_diff)
    assert rep.complete and rep.n_rows == len(test)
    # the verification's own number is re-measured here, independently of export_onnx
    from assay.export.onnx import run_session, session

    X = run.features(test)
    got = run_session(session((tmp_path / "model.onnx").read_bytes()), X, run.schema)
    want = run.model.predict_output(X)
    diff = float(np.max(np.abs(got - want)))
    if run.task == "regression":
        assert diff <= 1e-4 * max(1.0, float(np.abs(want).max()))
    else:
        assert diff <= PROBA_TOLERANCE
        # labels agree except where the Python model's top two classes are (near) tied
        top2 = np.sort(want, axis=1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > 2 * diff
        assert np.array_equal(got.argmax(axis=1)[clear], want.argmax(axis=1)[clear])
        assert rep.label_agreement >= 0.99
        assert np.allclose(got.sum(axis=1), 1.0)
    return rep


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("family", FAMILIES)
def test_family_parity(family, task, tmp_path):
    train, test, target = split(task)
    member, schema = fit_member(train, target, family)
    _check(make_run(schema, [member]), test, tmp_path)


@pytest.mark.parametrize("task", TASKS)
def test_mlp_parity(task, tmp_path):
    """The MLP: EmbeddingPreprocessor as ONNX ops, the network by torch.onnx."""
    pytest.importorskip("torch")
    train, test, target = split(task)
    member, schema = fit_member(train, target, "mlp")
    _check(make_run(schema, [member]), test, tmp_path)


@pytest.mark.parametrize("task", TASKS)
def test_catboost_parity_numeric_features(task, tmp_path):
    pytest.importorskip("catboost")
    train, test, target = split(task, numeric_only=True)
    member, schema = fit_member(train, target, "catboost", extra={"n_estimators": 60})
    _check(make_run(schema, [member]), test, tmp_path)


def test_knn_parity_continuous_features(tmp_path):
    """kNN with uniform weights converts (skl2onnx). Where distances tie exactly at the k-th
    neighbour (one-hot data such as car) the neighbours picked may differ, as they do between
    scikit-learn's own search algorithms; abalone's measurements do not tie."""
    train, test, target = split("regression")
    member, schema = fit_member(train, target, "knn", config=1)
    assert member.estimators[0].steps[-1][1].model_.weights == "uniform"
    _check(make_run(schema, [member]), test, tmp_path)


def test_knn_distance_weights_are_named_as_not_convertible(tmp_path):
    train, test, target = split("regression")
    member, schema = fit_member(train, target, "knn", config=0)
    with pytest.raises(OnnxExportError, match=r"knn#0: kNN with weights='distance'"):
        export_onnx(make_run(schema, [member]), data=test, path=tmp_path)
    assert not (tmp_path / "model.onnx").exists()


def test_catboost_with_categorical_features_is_named(tmp_path):
    pytest.importorskip("catboost")
    train, test, target = split("regression")
    member, schema = fit_member(train, target, "catboost", extra={"n_estimators": 20})
    with pytest.raises(OnnxExportError, match=r"catboost#0: CatBoost with categorical features \(Sex\)"):
        export_onnx(make_run(schema, [member]), data=test, path=tmp_path)


def test_text_column_is_named(tmp_path):
    """titanic's Name is a text column (TF-IDF + SVD): nothing that uses it converts."""
    import pandas as pd

    from tests.conftest import DATA

    df = pd.read_csv(DATA / "titanic.csv.gz")
    member, schema = fit_member(df.iloc[:500], "Survived", "lightgbm")
    with pytest.raises(OnnxExportError) as err:
        export_onnx(make_run(schema, [member]), data=df.iloc[500:], path=tmp_path)
    msg = str(err.value)
    assert "lightgbm#0: text column 'Name' (TF-IDF + SVD, in the 'native' preprocessing)" in msg
    assert "--allow-partial" not in msg          # nothing would be left to export


def test_a_verification_failure_writes_nothing(tmp_path, monkeypatch):
    """kNN on one-hot data (car): distances tie at the k-th neighbour, ONNX Runtime's TopK and
    scikit-learn pick different neighbours -- the verification catches it, no file is written.
    Which tied neighbour scikit-learn picks depends on its thread count, so the queries run
    on two threads here, as they did before k-NN scoring followed `predict_threads`."""
    from assay.compute import cores
    from assay.export import OnnxVerificationError

    monkeypatch.setattr(cores, "predict_threads", lambda n_rows, n_jobs, small=256: 2)

    train, test, target = split("multiclass")
    member, schema = fit_member(train, target, "knn", config=1)
    with pytest.raises(OnnxVerificationError, match=r"differ from the Python model's by up to .* on 519 rows"):
        export_onnx(make_run(schema, [member]), data=test, path=tmp_path)
    assert not (tmp_path / "model.onnx").exists() and not (tmp_path / "export.json").exists()

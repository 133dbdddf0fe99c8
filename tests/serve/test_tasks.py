"""/predict and /explain for a multiclass and a regression Run."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from tests.conftest import DATA

# fastapi.testclient imports starlette's, which announces a future switch to httpx2
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


def _client(run):
    from fastapi.testclient import TestClient

    from assay.serve import create_app

    return TestClient(create_app(run))


def test_multiclass(multiclass_run):
    rows = pd.read_csv(DATA / "car.csv.gz").drop(columns=["class"]).sample(8, random_state=1)
    recs = json.loads(rows.to_json(orient="records"))
    c = _client(multiclass_run)
    body = c.post("/predict", json={"records": recs}).json()
    classes = [str(k) for k in multiclass_run.classes]
    expected = multiclass_run.predict_frame(rows)
    assert body["predictions"] == expected["prediction"].tolist()
    for i, p in enumerate(body["probabilities"]):
        assert list(p) == classes and math.isclose(sum(p.values()), 1.0, rel_tol=1e-9)
        assert max(p, key=p.get) == body["predictions"][i]
    # levels that look like numbers may be sent as numbers: doors 2 is the level "2"
    as_numbers = [dict(r, doors=int(r["doors"]) if r["doors"].isdigit() else r["doors"]) for r in recs]
    assert c.post("/predict", json=as_numbers).json()["probabilities"] == body["probabilities"]
    ex = c.post("/explain", json={"records": recs[:2]}).json()
    assert ex["output_names"] == classes
    for i, row in enumerate(ex["rows"]):
        margins = np.array([ex["base_values"][k] + sum(row["values"][k].values()) for k in classes])
        soft = np.exp(margins - margins.max())
        soft /= soft.sum()
        np.testing.assert_allclose(soft, [body["probabilities"][i][k] for k in classes], atol=1e-5)
    meta = c.get("/metadata").json()
    assert meta["task"] == "multiclass" and [str(k) for k in meta["classes"]] == classes


def test_regression(regression_run):
    rows = pd.read_csv(DATA / "abalone.csv.gz").drop(columns=["Rings"]).head(5)
    recs = json.loads(rows.to_json(orient="records"))
    c = _client(regression_run)
    body = c.post("/predict", json={"records": recs}).json()
    assert "probabilities" not in body
    np.testing.assert_allclose(body["predictions"], regression_run.predict(rows), rtol=1e-12)
    csv = c.post("/predict", content=rows.to_csv(index=False), headers={"Content-Type": "text/csv"}).json()
    np.testing.assert_allclose(csv["predictions"], body["predictions"], rtol=1e-12)
    ex = c.post("/explain", json=recs[0]).json()
    assert ex["output_names"] == ["Rings"]
    total = ex["base_values"]["Rings"] + sum(ex["rows"][0]["values"]["Rings"].values())
    assert total == pytest.approx(body["predictions"][0], abs=1e-5)
    bad = c.post("/predict", json=dict(recs[0], Length="long"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "Length"]


def test_onnx_engine_serves_the_exported_model(multiclass_run, tmp_path):
    """--engine onnx through the app: ONNX Runtime answers as the Python model does."""
    pytest.importorskip("onnxruntime", reason="the export extra is not installed")
    import shutil

    from fastapi.testclient import TestClient

    from assay.export.onnx import export_onnx
    from assay.serve import create_app

    run_dir = tmp_path / "car"
    shutil.copytree(multiclass_run.path, run_dir)
    import assay

    export_onnx(assay.load(run_dir))
    assert (run_dir / "model.onnx").is_file()
    rows = pd.read_csv(DATA / "car.csv.gz").drop(columns=["class"]).sample(20, random_state=3)
    body = {"records": json.loads(rows.to_json(orient="records"))}
    onnx = TestClient(create_app(run_dir, engine="onnx"))
    assert onnx.get("/health").json()["engine"] == "onnx"
    got = onnx.post("/predict", json=body).json()
    want = TestClient(create_app(run_dir)).post("/predict", json=body).json()
    assert got["predictions"] == want["predictions"]
    for g, w in zip(got["probabilities"], want["probabilities"]):
        assert list(g) == list(w)
        np.testing.assert_allclose(list(g.values()), list(w.values()), atol=1e-5)
    # explanations always come from the Python model
    assert onnx.post("/explain", json=body["records"][0]).status_code == 200

"""The REST app over a binary Run, through FastAPI's TestClient (the real app, in process):
every endpoint, the schema-generated OpenAPI, the validation matrix, API keys."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from tests.conftest import DATA

# fastapi.testclient imports starlette's, which announces a future switch to httpx2
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture(scope="module")
def rows():
    return pd.read_csv(DATA / "titanic.csv.gz").drop(columns=["Survived"]).head(12)


def records(df):
    # JSON null for missing values, as a client would send them
    return json.loads(df.to_json(orient="records"))


@pytest.fixture(scope="module")
def client(binary_run):
    from fastapi.testclient import TestClient

    from assay.serve import create_app

    return TestClient(create_app(binary_run.path, max_body_bytes=200_000))


@pytest.fixture(scope="module")
def keyed(binary_run):
    from fastapi.testclient import TestClient

    from assay.serve import create_app

    return TestClient(create_app(binary_run, api_key="s3cret"))


def test_predict_one_record_matches_the_run(client, binary_run, rows):
    r = client.post("/predict", json=records(rows.head(1))[0])
    assert r.status_code == 200, r.text
    body = r.json()
    expected = binary_run.predict_frame(rows.head(1))
    assert body["predictions"] == expected["prediction"].tolist()
    p = body["probabilities"][0]
    assert set(p) == {"0", "1"}
    assert math.isclose(sum(p.values()), 1.0, rel_tol=1e-9)
    assert p["1"] == pytest.approx(expected["proba_1"].iloc[0], abs=1e-12)
    assert body["warnings"] == []


def test_predict_batch_list_and_csv_agree(client, binary_run, rows):
    expected = binary_run.predict_frame(rows)
    batch = client.post("/predict", json={"records": records(rows)}).json()
    as_list = client.post("/predict", json=records(rows)).json()
    csv = client.post("/predict", content=rows.to_csv(index=False).encode(),
                      headers={"Content-Type": "text/csv"}).json()
    for body in (batch, as_list, csv):
        assert body["predictions"] == expected["prediction"].tolist()
        got = np.array([b["1"] for b in body["probabilities"]])
        np.testing.assert_allclose(got, expected["proba_1"].to_numpy(), atol=1e-12)


def test_explain_adds_up_to_the_margin(client, binary_run, rows):
    r = client.post("/explain", json={"records": records(rows.head(3))})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["output_names"] == ["1"]
    base = body["base_values"]["1"]
    proba = binary_run.predict_proba(rows.head(3))["1"].to_numpy()
    for i, row in enumerate(body["rows"]):
        values = row["values"]["1"]
        assert set(values) == set(binary_run.schema.feature_names)
        margin = base + sum(values.values())
        assert 1 / (1 + math.exp(-margin)) == pytest.approx(proba[i], abs=1e-5)
        assert row["features"]["Sex"] == rows["Sex"].iloc[i]
    assert {m["member"].split("#")[0] for m in body["members"]} <= {"lightgbm", "linear"}
    # no --background: the linear member's values are relative to the posted rows, and it says so
    if any(m["method"].startswith("linear") for m in body["members"]):
        assert any(w["type"] == "no_background" for w in body["warnings"])


def test_explain_with_background_uses_it(binary_run, rows):
    from fastapi.testclient import TestClient

    from assay.serve import create_app

    c = TestClient(create_app(binary_run, background=DATA / "titanic.csv.gz"))
    body = c.post("/explain", json=records(rows.head(1))[0]).json()
    assert not any(w["type"] == "no_background" for w in body["warnings"])
    margin = body["base_values"]["1"] + sum(body["rows"][0]["values"]["1"].values())
    p = binary_run.predict_proba(rows.head(1))["1"].iloc[0]
    assert 1 / (1 + math.exp(-margin)) == pytest.approx(p, abs=1e-5)
    # one row explained against the training rows: contributions are not all zero
    assert max(abs(v) for v in body["rows"][0]["values"]["1"].values()) > 1e-3


def test_health_and_metadata(client, binary_run):
    h = client.get("/health")
    assert h.status_code == 200 and h.json()["status"] == "ok"
    m = client.get("/metadata").json()
    assert m["task"] == "binary" and m["target"] == "Survived" and m["classes"] == [0, 1]
    assert [f["name"] for f in m["features"]] == binary_run.schema.feature_names
    kinds = {f["name"]: (f["kind"], f["type"]) for f in m["features"]}
    assert kinds["Age"] == ("numeric", "number") and kinds["Sex"] == ("categorical", "string")
    assert next(f for f in m["features"] if f["name"] == "Embarked")["categories"] == ["C", "Q", "S"]
    lb = binary_run.leaderboard()
    assert m["leaderboard_best"]["model"] == lb["model"].iloc[0]
    assert m["leaderboard_best"]["score"] == pytest.approx(lb["cv_roc_auc"].iloc[0])
    assert m["metric"] == "roc_auc" and m["engine"] == "python" and m["assay_version"]
    board = client.get("/leaderboard").json()
    assert board["rows"][0][board["columns"].index("model")] == lb["model"].iloc[0]
    assert client.get("/report").status_code == 404          # no report.html in this Run


def test_openapi_is_generated_from_the_schema(client, binary_run):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    rec = schemas["SurvivedRecord"]
    assert list(rec["properties"]) == binary_run.schema.feature_names
    assert sorted(rec["required"]) == sorted(binary_run.schema.feature_names)
    types = {n: {t.get("type") for t in p["anyOf"]} for n, p in rec["properties"].items()}
    assert types["Age"] == {"number", "null"} and types["Sex"] == {"string", "null"}
    assert "female, male" in rec["properties"]["Sex"]["description"]
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]
    refs = [s.get("$ref") for s in body["application/json"]["schema"]["oneOf"]]
    assert "#/components/schemas/SurvivedBatch" in refs and "text/csv" in body
    assert schemas["SurvivedBatch"]["properties"]["records"]["minItems"] == 1


# ---------------------------------------------------------------------------- validation matrix

def _detail(r):
    assert r.status_code == 422, r.text
    return r.json()["detail"]


def test_missing_field_names_it(client, rows):
    rec = records(rows.head(1))[0]
    del rec["Age"]
    d = _detail(client.post("/predict", json=rec))
    assert d[0]["loc"] == ["body", "Age"] and d[0]["type"] == "missing"
    d = _detail(client.post("/predict", json={"records": [records(rows.head(1))[0], rec]}))
    assert d[0]["loc"] == ["body", "records", 1, "Age"]


def test_wrong_type_names_it(client, rows):
    rec = dict(records(rows.head(1))[0], Fare="cheap")
    d = _detail(client.post("/predict", json=rec))
    assert d[0]["loc"] == ["body", "Fare"] and d[0]["input"] == "cheap"
    d = _detail(client.post("/predict", json=dict(rec, Fare=3.0, Sex=["male"])))
    assert d[0]["loc"] == ["body", "Sex"]
    # a CSV column of words where a number belongs: row and field named
    csv = rows.head(2).assign(Age=["old", "young"]).to_csv(index=False).encode()
    d = _detail(client.post("/predict", content=csv, headers={"Content-Type": "text/csv"}))
    assert d[0]["loc"] == ["body", 0, "Age"]


def test_numbers_as_strings_and_levels_as_numbers_are_read(client, binary_run, rows):
    rec = records(rows.head(1))[0]
    a = client.post("/predict", json=rec).json()
    b = client.post("/predict", json=dict(rec, Age=str(rec["Age"]), Pclass=str(rec["Pclass"]))).json()
    assert a["probabilities"] == b["probabilities"]


def test_unseen_category_is_scored_and_reported(client, binary_run, rows):
    rec = dict(records(rows.head(1))[0], Embarked="Z", Sex="unknown", Extra="x")
    r = client.post("/predict", json={"records": [records(rows.head(1))[0], rec]})
    assert r.status_code == 200, r.text
    w = r.json()["warnings"]
    unseen = {(x["row"], x["field"], x["value"]) for x in w if x["type"] == "unseen_category"}
    assert unseen == {(1, "Embarked", "Z"), (1, "Sex", "unknown")}
    assert [x["field"] for x in w if x["type"] == "ignored_field"] == ["Extra"]
    expected = binary_run.predict_frame(pd.DataFrame([rec]))
    assert r.json()["probabilities"][1]["1"] == pytest.approx(expected["proba_1"].iloc[0], abs=1e-12)


@pytest.mark.parametrize("body,ctype", [(b"", "application/json"), (b"   ", "application/json"),
                                        (b"{}", "application/json"), (b'{"records": []}', "application/json"),
                                        (b"[]", "application/json"), (b"Pclass,Sex\n", "text/csv"),
                                        (b"", "text/csv"), (b'{"records": [', "application/json"),
                                        (b"42", "application/json")])
def test_empty_or_malformed_body_is_422(client, body, ctype):
    d = _detail(client.post("/predict", content=body, headers={"Content-Type": ctype}))
    assert d[0]["loc"][0] == "body" and d[0]["msg"]


def test_oversized_body_is_413(client, rows):
    big = {"records": records(rows) * 200}               # ~ 0.5 MB > the 200 kB limit of this app
    assert client.post("/predict", json=big).status_code == 413

    def chunks():                                        # no Content-Length: counted while read
        data = json.dumps(big).encode()
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]
    assert client.post("/predict", content=chunks()).status_code == 413
    assert client.post("/explain", json=big).status_code == 413


def test_unsupported_media_type_is_415(client):
    r = client.post("/predict", content=b"<x/>", headers={"Content-Type": "application/xml"})
    assert r.status_code == 415


def test_explain_row_cap(binary_run, rows):
    from fastapi.testclient import TestClient

    from assay.serve import create_app

    c = TestClient(create_app(binary_run, max_explain_rows=5))
    d = _detail(c.post("/explain", json={"records": records(rows.head(6))}))
    assert "at most 5" in d[0]["msg"]


# ---------------------------------------------------------------------------- API key

@pytest.mark.parametrize("method,path", [("post", "/predict"), ("post", "/explain"), ("get", "/metadata"),
                                         ("get", "/leaderboard"), ("get", "/report"), ("get", "/openapi.json")])
def test_api_key_required(keyed, rows, method, path):
    kw = {"json": records(rows.head(1))[0]} if method == "post" else {}
    assert getattr(keyed, method)(path, **kw).status_code == 401
    assert getattr(keyed, method)(path, headers={"X-API-Key": "wrong"}, **kw).status_code == 401
    ok = getattr(keyed, method)(path, headers={"X-API-Key": "s3cret"}, **kw)
    assert ok.status_code == (404 if path == "/report" else 200), ok.text


def test_health_and_dashboard_shell_need_no_key(keyed):
    assert keyed.get("/health").status_code == 200
    page = keyed.get("/")
    assert page.status_code == 200 and "score-form" in page.text
    assert keyed.get("/static/app.js").status_code == 200


def test_dashboard_assets_have_no_external_urls(client):
    for path in ("/", "/static/app.js", "/static/style.css"):
        text = client.get(path).text
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text, path


def test_onnx_engine_without_model_onnx_is_a_clear_error(binary_run):
    from assay.errors import RunDirectoryError
    from assay.serve import create_app

    with pytest.raises(RunDirectoryError, match="assay export .* --format onnx"):
        create_app(binary_run.path, engine="onnx")
    with pytest.raises(Exception, match="unknown engine"):
        create_app(binary_run.path, engine="tensorrt")


def test_requests_arriving_together_are_batched(binary_run, rows):
    """Adaptive micro-batching: concurrent requests share one engine call, answers unchanged."""
    import asyncio

    import httpx

    from assay.serve import create_app
    from assay.serve.engine import PythonEngine

    class Recording(PythonEngine):
        sizes: list = []

        def predict_frame(self, df):
            self.sizes.append(len(df))
            return super().predict_frame(df)

    eng = Recording(binary_run)
    app = create_app(binary_run, engine=eng)
    eng.sizes.clear()
    recs = records(rows)

    async def fire():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            return await asyncio.gather(*[c.post("/predict", json=r) for r in recs])

    answers = [r.json() for r in _run_async(fire())]
    expected = binary_run.predict_frame(rows)
    assert [a["predictions"][0] for a in answers] == expected["prediction"].tolist()
    assert [a["probabilities"][0]["1"] for a in answers] == pytest.approx(expected["proba_1"].tolist(), abs=1e-12)
    assert sum(eng.sizes) == len(recs) and max(eng.sizes) > 1 and len(eng.sizes) < len(recs)


def _run_async(coro):
    """asyncio.run in a thread of its own: Playwright's sync API (the session `browser` fixture)
    keeps an event loop running in the main thread once a browser test has run."""
    from concurrent.futures import ThreadPoolExecutor

    import asyncio

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()

"""A real uvicorn server (`python -m assay serve` in a subprocess) over HTTP, and the CLI's errors."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import DATA
from tests.serve.conftest import live_server

httpx = pytest.importorskip("httpx")


def test_served_over_http_with_an_api_key(binary_run):
    rows = pd.read_csv(DATA / "titanic.csv.gz").drop(columns=["Survived"]).head(3)
    recs = json.loads(rows.to_json(orient="records"))
    with live_server(binary_run.path, "--api-key", "k3y") as url:
        assert httpx.get(url + "/health").json()["status"] == "ok"
        assert httpx.post(url + "/predict", json=recs[0]).status_code == 401
        r = httpx.post(url + "/predict", json={"records": recs}, headers={"X-API-Key": "k3y"})
        assert r.status_code == 200
        assert r.json()["predictions"] == binary_run.predict_frame(rows)["prediction"].tolist()
        r = httpx.post(url + "/predict", content=rows.to_csv(index=False),
                       headers={"X-API-Key": "k3y", "Content-Type": "text/csv"})
        assert r.status_code == 200 and len(r.json()["predictions"]) == 3
        bad = httpx.post(url + "/predict", json=dict(recs[0], Age="x"), headers={"X-API-Key": "k3y"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "Age"]
        big = httpx.post(url + "/predict", content=b"x" * (11 * 1024 * 1024),
                         headers={"X-API-Key": "k3y", "Content-Type": "text/csv"})
        assert big.status_code == 413
        meta = httpx.get(url + "/metadata", headers={"X-API-Key": "k3y"}).json()
        assert meta["target"] == "Survived"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "assay", *args], capture_output=True, text=True, timeout=120)


def test_cli_serve_on_a_non_run_directory_exits_2(tmp_path):
    (tmp_path / "notes.txt").write_text("not a run")
    r = _cli("serve", str(tmp_path), "--port", "8765")
    assert r.returncode == 2
    assert "is not an assay Run" in r.stderr and "Traceback" not in r.stderr
    r = _cli("serve", str(tmp_path / "missing"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_cli_serve_onnx_without_export_exits_2(binary_run):
    r = _cli("serve", str(binary_run.path), "--engine", "onnx")
    assert r.returncode == 2
    assert "model.onnx" in r.stderr and "assay export" in r.stderr and "Traceback" not in r.stderr
    r = _cli("serve", str(binary_run.path), "--engine", "gpu")
    assert r.returncode == 2 and "unknown engine" in r.stderr


def test_concurrent_requests_get_their_own_answers(binary_run):
    """Requests arriving together are scored as one batch; each still gets its own rows' answer."""
    import asyncio

    rows = pd.read_csv(DATA / "titanic.csv.gz").drop(columns=["Survived"]).head(40)
    recs = json.loads(rows.to_json(orient="records"))
    expected = binary_run.predict_frame(rows)

    async def fire(url):
        async with httpx.AsyncClient(base_url=url, timeout=120) as c:
            rs = await asyncio.gather(*[c.post("/predict", json=r) for r in recs],
                                      c.post("/predict", json={"records": recs[:5]}))
        return [r.json() for r in rs]

    with live_server(binary_run.path) as url:
        answers = _run_async(fire(url))
    for i, a in enumerate(answers[:-1]):
        assert a["predictions"] == [expected["prediction"].iloc[i]]
        assert a["probabilities"][0]["1"] == pytest.approx(expected["proba_1"].iloc[i], abs=1e-12)
    assert answers[-1]["predictions"] == expected["prediction"].iloc[:5].tolist()


def _run_async(coro):
    """asyncio.run in a thread of its own: Playwright's sync API (the session `browser` fixture)
    keeps an event loop running in the main thread once a browser test has run."""
    from concurrent.futures import ThreadPoolExecutor

    import asyncio

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()

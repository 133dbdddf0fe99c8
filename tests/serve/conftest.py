"""Fixtures of the serve tests: small Runs fitted once per session, and a real uvicorn server
(`python -m assay serve RUN --port P` in a subprocess) on a free loopback port."""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from tests.conftest import DATA

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")


def _fit(tmp_path_factory, name, target, families=("lightgbm", "linear")):
    import assay

    out = tmp_path_factory.mktemp("serve-runs") / name
    return assay.fit(DATA / f"{name}.csv.gz", target, time_limit=60, max_trials=len(families),
                     families=list(families), verbosity=0, out=out)


@pytest.fixture(scope="session")
def binary_run(tmp_path_factory):
    """Titanic: numeric, categorical, high-cardinality and text columns; lightgbm + linear."""
    return _fit(tmp_path_factory, "titanic", "Survived")


@pytest.fixture(scope="session")
def multiclass_run(tmp_path_factory):
    return _fit(tmp_path_factory, "car", "class", families=("lightgbm",))


@pytest.fixture(scope="session")
def regression_run(tmp_path_factory):
    return _fit(tmp_path_factory, "abalone", "Rings", families=("lightgbm", "linear"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(run_dir, *extra, timeout: float = 120.0):
    """`assay serve RUN` as a subprocess on a free port; yields the base URL; stops it after."""
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "assay", "serve", str(run_dir), "--host", "127.0.0.1", "--port", str(port),
           "--no-access-log", *extra]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"assay serve exited with {proc.returncode}: {proc.stdout.read()}")
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"assay serve did not answer /health within {timeout}s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()

"""Threads follow the cores that are free, and small batches score on one thread."""
import os

from assay.compute import cores
from assay.config import FitConfig


def test_free_cores_takes_off_the_load(monkeypatch):
    monkeypatch.setattr(cores, "usable_cores", lambda: 8)
    monkeypatch.setattr(os, "getloadavg", lambda: (2.6, 0.0, 0.0))
    assert cores.free_cores() == 5
    monkeypatch.setattr(os, "getloadavg", lambda: (30.0, 0.0, 0.0))
    assert cores.free_cores() == 1                       # never fewer than one
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert cores.free_cores() == 8


def test_config_threads_prefers_an_explicit_n_jobs(monkeypatch):
    monkeypatch.setattr(cores, "free_cores", lambda: 1)
    assert FitConfig(n_jobs=4).threads == 4
    assert FitConfig().threads == 1


def test_predict_threads(monkeypatch):
    monkeypatch.setattr(cores, "free_cores", lambda: 2)
    assert cores.predict_threads(10, 8) == 1             # a few rows: one thread
    assert cores.predict_threads(100_000, 8) == 2        # capped at the free cores
    assert cores.predict_threads(100_000, 1) == 1

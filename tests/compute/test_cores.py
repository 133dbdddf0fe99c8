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


def test_free_cores_now_counts_what_runs_at_this_instant(monkeypatch, tmp_path):
    f = tmp_path / "loadavg"
    f.write_text("4.00 3.10 1.20 1/345 12345\n")                    # only the reader runs
    assert cores._runnable_others(str(f)) == 0
    f.write_text("4.00 3.10 1.20 3/345 12345\n")
    monkeypatch.setattr(cores, "_own_running_threads", lambda: 1)
    assert cores._runnable_others(str(f)) == 2
    monkeypatch.setattr(cores, "_own_running_threads", lambda: 2)  # our spinning OpenMP worker
    assert cores._runnable_others(str(f)) == 1
    assert cores._runnable_others(str(tmp_path / "absent")) is None
    monkeypatch.setattr(cores, "usable_cores", lambda: 4)
    monkeypatch.setattr(os, "getloadavg", lambda: (4.0, 0.0, 0.0))   # a fit just ended
    monkeypatch.setattr(cores, "_runnable_others", lambda: 0)
    assert cores.free_cores() == 1 and cores.free_cores(now=True) == 4
    monkeypatch.setattr(cores, "_runnable_others", lambda: None)     # no /proc: the average
    assert cores.free_cores(now=True) == 1


def test_config_threads_prefers_an_explicit_n_jobs(monkeypatch):
    monkeypatch.setattr(cores, "free_cores", lambda: 1)
    assert FitConfig(n_jobs=4).threads == 4
    assert FitConfig().threads == 1


def test_predict_threads(monkeypatch):
    monkeypatch.setattr(cores, "free_cores", lambda now=False: 2)
    assert cores.predict_threads(10, 8) == 1             # a few rows: one thread
    assert cores.predict_threads(100_000, 8) == 2        # capped at the free cores
    assert cores.predict_threads(100_000, 1) == 1

"""The Runs `compare.py --keep-runs` kept, with their test splits and AG best's record from
the same compare JSONL: what `score_members.py`, `thin_members.py` and `compiled_members.py`
read."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class KeptRun:
    dataset: str
    run: object                # assay.Run
    X: object                  # the test rows' features (DataFrame)
    y: np.ndarray              # encoded test target
    keep: np.ndarray           # rows whose label the Run knows
    metric: object
    record: dict               # assay's compare record
    ag: dict                   # AG best's compare record on this dataset and seed


def kept_parser(doc: str):
    """The command line the kept-Run scripts share: RESULTS.jsonl KEPT_DIR [--seed N]; a
    script adds its own options to it."""
    import argparse

    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("results")
    p.add_argument("kept_dir")
    p.add_argument("--seed", type=int, default=0)
    return p


def kept_args(doc: str, argv=None):
    return kept_parser(doc).parse_args(argv)


def kept_runs(results: str, kept_dir: str, seed: int):
    """Each assay record of `results` at `seed` with a kept Run under `kept_dir` and an
    AG best record beside it, as a KeptRun."""
    import pandas as pd

    import assay
    from assay.data.schema import value_key
    from assay.metrics import get_metric

    recs = [json.loads(line) for line in open(results)]
    ag = {r["dataset"]: r for r in recs if r["system"] == "autogluon_best" and r["seed"] == seed and r.get("ok")}
    for r in recs:
        base = Path(kept_dir) / f"{r['dataset']}-s{seed}"
        if r["system"] != "assay" or r["seed"] != seed or r["dataset"] not in ag or not base.exists():
            continue
        run = assay.load(base / "run")
        test = pd.read_csv(base / "test.csv")
        target = run.meta["target"]
        if run.task == "regression":
            y, keep = test[target].to_numpy(float), np.ones(len(test), bool)
        else:
            lookup = {value_key(c): i for i, c in enumerate(run.classes)}
            y = np.array([lookup.get(value_key(v), -1) for v in test[target]])
            keep = y >= 0
        yield KeptRun(r["dataset"], run, test.drop(columns=[target]), y, keep,
                      get_metric(run.meta["metric"], run.task), r, ag[r["dataset"]])


def warm_rows_per_s(model, run, X, repeats: int = 5) -> float:
    """Rows/s of `model.predict_output` over the whole `run.features(X)` path, as compare.py
    times it: one warm-up call, then the median of `repeats`."""
    model.predict_output(run.features(X))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.predict_output(run.features(X))
        times.append(time.perf_counter() - t)
    return len(X) / statistics.median(times)

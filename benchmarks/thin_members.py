"""What thinning members by weight (`assay.ensemble.build.thin_by_weight`) does to Runs kept
by `compare.py --keep-runs`: each Run's final model as it was saved and with its members
thinned, scored on the kept test split, with warm predict throughput (the whole
`run.predict_output` path, as compare.py times it) as a multiple of AG best's, from the same
compare JSONL. For Runs fit before the thinning existed; a Run fit since is already thinned.

    PYTHONPATH=src .venv/bin/python benchmarks/thin_members.py RESULTS.jsonl KEPT_DIR --seed 1
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import numpy as np


def _rate(model, run, X, repeats: int = 5) -> float:
    model.predict_output(run.features(X))            # warm
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.predict_output(run.features(X))
        times.append(time.perf_counter() - t)
    return len(X) / statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("kept_dir")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import pandas as pd

    import assay
    from assay.data.schema import value_key
    from assay.ensemble.build import thin_by_weight
    from assay.metrics import get_metric

    recs = [json.loads(line) for line in open(args.results)]
    ag = {r["dataset"]: r for r in recs if r["system"] == "autogluon_best" and r["seed"] == args.seed and r.get("ok")}
    print("| dataset | AG best | as saved: score (x AG best rows/s) | thinned | members (weight: parts saved -> thinned) |")
    print("|---|---|---|---|---|")
    for r in recs:
        base = Path(args.kept_dir) / f"{r['dataset']}-s{args.seed}"
        if r["system"] != "assay" or r["seed"] != args.seed or r["dataset"] not in ag or not base.exists():
            continue
        run = assay.load(base / "run")
        test = pd.read_csv(base / "test.csv")
        target = run.meta["target"]
        X = test.drop(columns=[target])
        metric = get_metric(run.meta["metric"], run.task)
        if run.task == "regression":
            y, keep = test[target].to_numpy(float), np.ones(len(test), bool)
        else:
            lookup = {value_key(c): i for i, c in enumerate(run.classes)}
            y = np.array([lookup.get(value_key(v), -1) for v in test[target]])
            keep = y >= 0
        thinned = copy.deepcopy(run.model)
        thin_by_weight(thinned.members)
        a = ag[r["dataset"]]
        cells = []
        for model in (run.model, thinned):
            score = metric.value(y[keep], np.asarray(model.predict_output(run.features(X)))[keep])
            cells.append(f"{score:.5g} ({_rate(model, run, X) / a['predict_rows_per_s']:.1f})")
        parts = "; ".join(f"{m.name} {m.weight:.2f}: {_parts(m)} -> {_parts(t)}"
                          for m, t in zip(run.model.members, thinned.members))
        print(f"| {r['dataset']} | {a['test_score']:.5g} | {cells[0]} | {cells[1]} | {parts} |")
    return 0


def _parts(member) -> str:
    forest = getattr(getattr(member.estimators[0].steps[-1][1], "model_", None), "forest_", None) \
        if hasattr(member.estimators[0], "steps") else None
    trees = f", {len(forest.estimators_)} trees" if forest is not None and len(member.estimators) == 1 else ""
    return f"x{len(member.estimators)}{trees}"


if __name__ == "__main__":
    raise SystemExit(main())

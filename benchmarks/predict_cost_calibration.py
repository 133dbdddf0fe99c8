"""How well each family's structural predict-cost estimate (`ModelFamily.predict_seconds`,
what speed-aware ensemble pruning compares) matches measured predict times.

For each dataset and each available family, fits a few configurations (the family's first
configurations and a larger variant) on 75% of the rows, compiles them as a final member is
compiled (`compile_member`), and times one model's `predict_output` on one thread: one row
(median of 25 calls: the per-call part) and BATCH rows (median of 5: the per-row part is
(t_batch - t_1) / (BATCH - 1)). Prints measured and estimated seconds and their ratio per
model, then per family the median ratio -- the factor by which that family's constants
(`call_seconds`, `seconds_per_level`, ...) are off.

    PYTHONPATH=src .venv/bin/python benchmarks/predict_cost_calibration.py \
        [--datasets segment,adult,california_housing] [--families lightgbm,hist_gb,...] [--rows 4000]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hist_gb_compiled_speed import _ms  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
BATCH = 2000
BIGGER = {   # a larger variant of the first configuration, so that the fit spans model sizes
    "lightgbm": {"num_leaves": 127, "n_estimators": 600, "early_stopping_rounds": 10000, "learning_rate": 0.03},
    "xgboost": {"max_depth": 8, "n_estimators": 600, "early_stopping_rounds": 10000, "learning_rate": 0.03},
    "catboost": {"depth": 8, "n_estimators": 600, "early_stopping_rounds": 10000, "learning_rate": 0.03},
    "hist_gb": {"max_iter": 600, "early_stopping": False, "learning_rate": 0.03, "max_leaf_nodes": 63},
    "random_forest": {"n_estimators": 300, "min_samples_leaf": 1},
    "extra_trees": {"n_estimators": 300, "min_samples_leaf": 1},
    "knn": {"n_neighbors": 15, "weights": "distance", "p": 2},
}


def _problem(name: str, n_rows: int, seed: int = 0):
    import pandas as pd

    from assay.data.validate import encode_target, prepare_training
    from assay.models.base import ProblemInfo

    manifest = {d["name"]: d for d in json.loads((SHARED / "manifest.json").read_text())}
    spec = manifest[name]
    df = pd.read_csv(SHARED / spec["file"])
    df = df.sample(n=min(n_rows, len(df)), random_state=seed).reset_index(drop=True)
    X, y_raw, schema = prepare_training(df, spec["target"], spec.get("task"))
    y = encode_target(y_raw, schema)
    cut = int(0.75 * len(y))
    info = ProblemInfo(schema=schema, n_rows=cut, seed=seed, n_jobs=1)
    return info, X.iloc[:cut], y[:cut], X.iloc[cut:]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="segment,adult,california_housing,letter")
    p.add_argument("--families", default="")
    p.add_argument("--rows", type=int, default=4000)
    args = p.parse_args(argv)

    import pandas as pd

    from assay.models.registry import available_families
    from assay.search.trial import predict_output

    wanted = set(filter(None, args.families.split(",")))
    ratios: dict[str, dict[str, list[float]]] = {}
    print("| dataset | family | config | trees/size | call ms (est) | row us (est) | row ratio |")
    print("|---|---|---|---|---|---|---|")
    for name in args.datasets.split(","):
        info, X, y, X_test = _problem(name, args.rows)
        batch = pd.concat([X_test] * -(-BATCH // len(X_test)), ignore_index=True).iloc[:BATCH]
        for fam in available_families():
            if (wanted and fam.name not in wanted) or not fam.supports(info.task) or fam.name not in BIGGER:
                continue
            first = fam.first_configs(info)[0]
            for label, params in (("first", first), ("bigger", {**first, **BIGGER[fam.name]})):
                est = fam.build(dict(params), info)
                est.fit(X, y)
                est = fam.compile_member([est])[0]
                one = batch.iloc[:1]
                t1 = _ms(lambda: predict_output(est, one, info.task), 25) / 1000
                tb = _ms(lambda: predict_output(est, batch, info.task), 5) / 1000
                row = max(tb - t1, 0.0) / (BATCH - 1)
                call_e, row_e = fam.predict_seconds(est)
                r = ratios.setdefault(fam.name, {"call": [], "row": []})
                r["call"].append(t1 / call_e)
                r["row"].append(row / row_e if row_e > 0 else float("nan"))
                print(f"| {name} | {fam.name} | {label} | {_size(est)} | {t1 * 1e3:.2f} ({call_e * 1e3:.2f}) | "
                      f"{row * 1e6:.2f} ({row_e * 1e6:.2f}) | {r['row'][-1]:.2f} |", flush=True)
    print("\n| family | median measured / estimated: call | row | models |")
    print("|---|---|---|---|")
    for fam, r in ratios.items():
        print(f"| {fam} | {np.nanmedian(r['call']):.2f} | {np.nanmedian(r['row']):.2f} | {len(r['row'])} |")
    return 0


def _size(pipe) -> str:
    """Trees (or training rows) of a fitted model, for the table."""
    learner = pipe.steps[-1][1]
    inner = getattr(learner, "model_", None)
    if hasattr(learner, "best_iteration_"):
        return f"{learner.best_iteration_} rounds"
    if hasattr(inner, "forest_"):
        return f"{len(inner.forest_.estimators_)} trees"
    if hasattr(inner, "model_") and hasattr(inner.model_, "_predictors"):
        return f"{sum(len(t) for t in inner.model_._predictors)} trees"
    if hasattr(inner, "n_samples_fit_"):
        return f"{inner.n_samples_fit_} rows"
    return ""


if __name__ == "__main__":
    raise SystemExit(main())

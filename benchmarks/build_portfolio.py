#!/usr/bin/env python
"""Build assay's zero-shot portfolio: which configurations each family tries first.

1. Candidates: for every family and task type, the family's hand-written defaults plus
   `--random` configurations sampled from its own search space (Optuna RandomSampler,
   fixed seed), sized for a representative dataset of that task type.
2. Evaluation: every candidate on every dataset of the shared manifest (up to
   `--max-rows` rows, a seeded stratified subsample), 3-fold cross-validation through
   assay's own trial code (`assay.search.trial.evaluate`, one thread, a per-trial time
   allowance), appended to `--scores` (JSONL; re-running resumes).
3. Normalisation per (dataset, family): (score - worst) / (best - worst) over that
   family's candidates, so datasets with different metrics weigh alike.
4. Selection, per (family, task type): greedy, the configuration that most raises the mean
   over datasets of the best normalised score among those chosen so far (the portfolio
   covers datasets, it does not average them), `--size` configurations.
5. Leave-one-dataset-out check: for each dataset, a portfolio built WITHOUT it, scored on
   it (best normalised score of its first 1 / all configurations) against the hand-written
   defaults on the same dataset. Printed and written to `--report`.

The output portfolio (built on all datasets) goes to `--out`, by default
src/assay/models/portfolio.json, which `ModelFamily.first_configs` reads.

    .venv/bin/python benchmarks/build_portfolio.py --random 8 --max-rows 3000 \
        --scores benchmarks/results/portfolio_scores.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from vs_lightgbm import DEFAULT_DATASETS, load_manifest, log  # noqa: E402

OUT = HERE.parent / "src" / "assay" / "models" / "portfolio.json"
FAMILIES = ("lightgbm", "hist_gb", "xgboost", "catboost", "extra_trees", "random_forest", "linear")
TASK_GROUPS = {"binary": "classification", "multiclass": "classification", "regression": "regression"}


def prepare(entry, datasets_dir: Path, max_rows: int, seed: int):
    from assay.data.split import make_folds
    from assay.data.validate import encode_target, prepare_training
    from assay.metrics import get_metric
    from assay.models.base import ProblemInfo

    df = pd.read_csv(datasets_dir / entry["file"], low_memory=False)
    df = df[df[entry["target"]].notna()]
    if len(df) > max_rows:
        if entry["task"] == "regression":
            df = df.sample(max_rows, random_state=seed)
        else:   # keep every class present: the same share of each class
            rng = np.random.default_rng(seed)
            frac = max_rows / len(df)
            keep = []
            for _, idx in df.groupby(entry["target"]).indices.items():
                keep.extend(rng.choice(idx, size=max(1, int(round(len(idx) * frac))), replace=False))
            df = df.iloc[np.sort(keep)]
    X, y_raw, schema = prepare_training(df.reset_index(drop=True), entry["target"], entry["task"])
    y = encode_target(y_raw, schema)
    folds = make_folds(y, schema.task, seed=seed, n_folds=3)
    info = ProblemInfo(schema=schema, n_rows=len(y), seed=seed, n_jobs=1)
    return X, y, folds, info, get_metric(entry["metric"], schema.task)


def candidates(family, info, n_random: int, seed: int) -> list[dict]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = [dict(c) for c in family.default_configs(info)]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed), direction="maximize")
    for _ in range(n_random):
        trial = study.ask()
        out.append(family.search_space(trial, info))
        study.tell(trial, 0.0)
    return out


def key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def evaluate_all(args, manifest) -> None:
    import pickle
    import tempfile

    from assay.models.registry import get_family
    from assay.search.trial import TrialSpec, evaluate

    done = set()
    if args.scores.exists():
        for line in args.scores.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done.add((r["dataset"], r["family"], r["config"]))
    # candidates per (family, task group), sized on the first dataset of the group
    pools: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="portfolio-"))
    for entry in manifest:
        group = TASK_GROUPS[entry["task"]]
        try:
            X, y, folds, info, metric = prepare(entry, args.datasets_dir, args.max_rows, args.seed)
        except Exception as e:  # noqa: BLE001
            log(f"[{entry['name']}] cannot prepare: {e}")
            continue
        data_path = tmp / f"{entry['name']}.pkl"
        with open(data_path, "wb") as fh:
            pickle.dump((X, y), fh)
        for fam_name in args.families:
            family = get_family(fam_name)
            if not family.is_available() or not family.supports(info.task):
                continue
            pool = pools.setdefault((fam_name, group), candidates(family, info, args.random, args.seed))
            for i, params in enumerate(pool):
                if (entry["name"], fam_name, key(params)) in done:
                    continue
                spec = TrialSpec(i, fam_name, dict(params), info, metric.name, str(data_path), folds,
                                 time_budget=args.trial_seconds)
                t = time.perf_counter()
                rec = {"dataset": entry["name"], "task": entry["task"], "group": group, "family": fam_name,
                       "index": i, "default": i < len(family.default_configs(info)), "config": key(params),
                       "metric": metric.name}
                try:
                    out = evaluate(spec)
                    rec.update(score=out.score, value=out.value)
                except Exception as e:  # noqa: BLE001 - a failing configuration scores worst
                    rec.update(score=None, error=f"{type(e).__name__}: {e}"[:300])
                    log(traceback.format_exc(limit=2))
                rec["seconds"] = round(time.perf_counter() - t, 2)
                with open(args.scores, "a") as f:
                    f.write(json.dumps(rec) + "\n")
                log(f"[{entry['name']}] {fam_name} #{i}: {rec.get('value')} ({rec['seconds']}s)")


def normalised(scores: pd.DataFrame) -> pd.DataFrame:
    out = scores.copy()
    grp = out.groupby(["dataset", "family"])["score"]
    lo, hi = grp.transform("min"), grp.transform("max")
    span = (hi - lo).where(hi > lo)
    out["norm"] = ((out["score"] - lo) / span).where(span.notna(), 1.0).fillna(0.0)
    return out


def greedy(table: pd.DataFrame, size: int) -> list[str]:
    """table: rows = configs, columns = datasets, values = normalised score."""
    chosen: list[str] = []
    best = np.zeros(table.shape[1])
    for _ in range(min(size, len(table))):
        gains = {c: np.maximum(best, table.loc[c].to_numpy()).mean() for c in table.index if c not in chosen}
        c = max(gains, key=gains.get)
        chosen.append(c)
        best = np.maximum(best, table.loc[c].to_numpy())
    return chosen


def build(scores: pd.DataFrame, size: int):
    portfolio, loo = {}, []
    df = normalised(scores)
    for (fam, group), g in df.groupby(["family", "group"]):
        table = g.pivot_table(index="config", columns="dataset", values="norm", aggfunc="mean").fillna(0.0)
        if table.shape[1] < 2:
            continue
        portfolio.setdefault(fam, {})[group] = [json.loads(c) for c in greedy(table, size)]
        defaults = g.loc[g["default"], "config"].unique().tolist()
        first_default = g.loc[g["default"] & g["index"].eq(g.loc[g["default"], "index"].min()), "config"]
        for d in table.columns:
            pick = greedy(table.drop(columns=[d]), size)
            loo.append({"family": fam, "group": group, "dataset": d,
                        "portfolio_first": table.at[pick[0], d],
                        "portfolio_all": max(table.at[c, d] for c in pick),
                        "defaults_first": table.at[first_default.iloc[0], d] if len(first_default) else np.nan,
                        "defaults_all": max(table.at[c, d] for c in defaults) if defaults else np.nan})
    return portfolio, pd.DataFrame(loo)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets-dir", type=Path, default=DEFAULT_DATASETS)
    p.add_argument("--datasets", help="comma list (default: every manifest dataset)")
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--random", type=int, default=8, help="random configurations per family and task group")
    p.add_argument("--max-rows", type=int, default=3000)
    p.add_argument("--trial-seconds", type=float, default=30.0)
    p.add_argument("--size", type=int, default=3, help="configurations per family in the portfolio")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scores", type=Path, required=True)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--report", type=Path, default=None)
    p.add_argument("--build-only", action="store_true", help="skip evaluation; build from --scores")
    args = p.parse_args(argv)
    args.families = [f.strip() for f in args.families.split(",") if f.strip()]
    manifest = load_manifest(args.datasets_dir)
    if args.datasets:
        by_name = {e["name"]: e for e in manifest}
        manifest = [by_name[n] for n in args.datasets.split(",") if n in by_name]   # in the order given
    if not args.build_only:
        evaluate_all(args, manifest)
    scores = pd.DataFrame([json.loads(x) for x in args.scores.read_text().splitlines() if x.strip()])
    scores["score"] = pd.to_numeric(scores["score"], errors="coerce")
    portfolio, loo = build(scores, args.size)
    meta = {"built_from": sorted(scores["dataset"].unique()), "n_evaluations": len(scores),
            "max_rows": args.max_rows, "random_per_family": args.random, "seed": args.seed,
            "command": "python " + " ".join(sys.argv)}
    args.out.write_text(json.dumps({"meta": meta, "portfolio": portfolio}, indent=1, sort_keys=True))
    summary = loo.groupby(["family", "group"])[["portfolio_first", "defaults_first", "portfolio_all",
                                                "defaults_all"]].mean().round(3)
    text = ("Leave-one-dataset-out: mean normalised score on the held-out dataset (1 = best candidate)\n\n"
            + summary.to_string() + "\n")
    print(text)
    if args.report:
        args.report.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

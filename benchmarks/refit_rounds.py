"""How many rounds a member refit on all rows should fit: for each early-stopped booster or
HistGradientBoosting member that a Run kept by `compare.py --keep-runs` refit on all rows,
its k fold models are fit again on the Run's folds, and the refit is fit at the folds' mean
rounds times each scale of `--scales` (`ModelFamily.refit_params(..., row_ratio=scale)`),
then scored alone on the kept test split. The fit's default is k/(k-1)
(`assay.search.budget.full_rows_ratio`).

    PYTHONPATH=src .venv/bin/python benchmarks/refit_rounds.py RESULTS.jsonl KEPT_DIR --seed 1 \
        [--scales 1,1.15,1.3] [--datasets car,segment]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kept_runs import kept_parser, kept_runs  # noqa: E402

ROUNDS = ("n_estimators", "max_iter")


def main(argv=None) -> int:
    p = kept_parser(__doc__)
    p.add_argument("--scales", default="1,1.15,1.3")
    p.add_argument("--datasets", default=None, help="comma list (default: every kept Run)")
    args = p.parse_args(argv)
    scales = [float(s) for s in args.scales.split(",")]
    wanted = set(args.datasets.split(",")) if args.datasets else None

    import pandas as pd

    from assay.data.split import make_folds
    from assay.data.validate import encode_target, prepare_training
    from assay.models.base import ProblemInfo
    from assay.models.registry import get_family
    from assay.search.trial import predict_output

    print("| dataset | member | " + " | ".join(f"x{s:g}" for s in scales) + " |")
    print("|---|---|" + "---|" * len(scales))
    for k in kept_runs(args.results, args.kept_dir, args.seed):
        if wanted and k.dataset not in wanted:
            continue
        run = k.run
        train = pd.read_csv(Path(args.kept_dir) / f"{k.dataset}-s{args.seed}" / "train.csv")
        X, raw, schema = prepare_training(train, run.meta["target"], run.task)
        y = encode_target(raw, schema)
        info = ProblemInfo(schema=schema, n_rows=len(y), seed=int(run.meta.get("seed", 0)), n_jobs=2)
        folds = make_folds(y, run.task, seed=info.seed, n_folds=int(run.meta["n_folds"]))
        Xt = run.features(k.X)
        params_of = run.leaderboard().set_index("model")["params"]
        for m in run.meta["ensemble"]:
            if m.get("fit") != "full" or m["family"] not in ("lightgbm", "xgboost", "catboost", "hist_gb"):
                continue
            fam, params = get_family(m["family"]), json.loads(params_of[m["member"]])
            fold_models = [fam.build(dict(params), info).fit(X.iloc[tr], y[tr]) for tr, _ in folds]
            base = fam.refit_params(dict(params), fold_models)
            key = next((r for r in ROUNDS if r in base), None)
            if key is None or base == params:          # fixed rounds (a reference): refit as is
                continue
            cells = []
            for s in scales:
                q = fam.refit_params(dict(params), fold_models, row_ratio=s)
                full = fam.build(q, info).fit(X, y)
                score = k.metric.value(k.y[k.keep], predict_output(full, Xt, run.task)[k.keep])
                cells.append(f"{score:.5g} ({q[key]})")
            print(f"| {k.dataset} | {m['member']} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

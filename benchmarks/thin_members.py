"""What thinning members by weight (`assay.ensemble.build.thin_by_weight`) does to Runs kept
by `compare.py --keep-runs`: each Run's final model as it was saved and with its members
thinned, scored on the kept test split, with warm predict throughput (the whole
`run.predict_output` path, as compare.py times it) as a multiple of AG best's, from the same
compare JSONL. For Runs fit before the thinning existed; a Run fit since is already thinned.

    PYTHONPATH=src .venv/bin/python benchmarks/thin_members.py RESULTS.jsonl KEPT_DIR --seed 1
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kept_runs import kept_args, kept_runs, warm_rows_per_s  # noqa: E402


def main(argv=None) -> int:
    args = kept_args(__doc__, argv)

    from assay.ensemble.build import thin_by_weight

    print("| dataset | AG best | as saved: score (x AG best rows/s) | thinned | members (weight: parts saved -> thinned) |")
    print("|---|---|---|---|---|")
    for k in kept_runs(args.results, args.kept_dir, args.seed):
        run, X, y, keep, metric, a = k.run, k.X, k.y, k.keep, k.metric, k.ag
        thinned = copy.deepcopy(run.model)
        thin_by_weight(thinned.members)
        cells = []
        for model in (run.model, thinned):
            score = metric.value(y[keep], np.asarray(model.predict_output(run.features(X)))[keep])
            cells.append(f"{score:.5g} ({warm_rows_per_s(model, run, X) / a['predict_rows_per_s']:.1f})")
        parts = "; ".join(f"{m.name} {m.weight:.2f}: {_parts(m)} -> {_parts(t)}"
                          for m, t in zip(run.model.members, thinned.members))
        print(f"| {k.dataset} | {a['test_score']:.5g} | {cells[0]} | {cells[1]} | {parts} |")
    return 0


def _parts(member) -> str:
    forest = getattr(getattr(member.estimators[0].steps[-1][1], "model_", None), "forest_", None) \
        if hasattr(member.estimators[0], "steps") else None
    trees = f", {len(forest.estimators_)} trees" if forest is not None and len(member.estimators) == 1 else ""
    return f"x{len(member.estimators)}{trees}"


if __name__ == "__main__":
    raise SystemExit(main())

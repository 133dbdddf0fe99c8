"""What compiling members for prediction (`ensemble.build.compile_members`: HistGradientBoosting's
trees in one LightGBM Booster) does to Runs kept by `compare.py --keep-runs`: each Run's final
model as it was saved and with its members compiled, scored on the kept test split, with warm
predict throughput (the whole `run.predict_output` path, as compare.py times it) as a multiple
of AG best's, from the same compare JSONL. For Runs fit before the compilation existed.

    PYTHONPATH=src .venv/bin/python benchmarks/compiled_members.py RESULTS.jsonl KEPT_DIR --seed 0
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kept_runs import kept_args, kept_runs, warm_rows_per_s  # noqa: E402


def main(argv=None) -> int:
    args = kept_args(__doc__, argv)

    from assay.ensemble.build import compile_members

    print("| dataset | AG best | as saved: score (x AG best rows/s) | compiled | max abs diff | compile s |"
          " members |")
    print("|---|---|---|---|---|---|---|")
    for k in kept_runs(args.results, args.kept_dir, args.seed):
        run, X, y, keep, metric, a = k.run, k.X, k.y, k.keep, k.metric, k.ag
        compiled = copy.deepcopy(run.model)
        t = time.perf_counter()
        compile_members(compiled.members)
        compile_s = time.perf_counter() - t
        cells, outs = [], []
        for model in (run.model, compiled):
            out = np.asarray(model.predict_output(run.features(X)))
            outs.append(out)
            score = metric.value(y[keep], out[keep])
            cells.append(f"{score:.5g} ({warm_rows_per_s(model, run, X) / a['predict_rows_per_s']:.1f})")
        members = ", ".join(m.name for m in run.model.members)
        print(f"| {k.dataset} | {a['test_score']:.5g} | {cells[0]} | {cells[1]} | "
              f"{np.abs(outs[0] - outs[1]).max():.1e} | {compile_s:.2f} | {members} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Each final-ensemble member on its own, on the test splits of Runs kept by
`compare.py --keep-runs`: test score, ahead of AutoGluon best_quality or not, and warm
predict throughput (the whole `run.predict_output` call, timed as compare.py times it) as
a multiple of AG best's, from the same compare JSONL.

    PYTHONPATH=src .venv/bin/python benchmarks/score_members.py RESULTS.jsonl KEPT_DIR --seed 1

For Runs written before kept models became the ensemble's own members (commit 614a45e),
`--score-candidates` scored k fold models where the ensemble held a refit; this scores
what the ensemble holds.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kept_runs import kept_args, kept_runs  # noqa: E402


def main(argv=None) -> int:
    args = kept_args(__doc__, argv)

    print("| dataset | AG best | ensemble | member (fit x models, weight): test score, x AG best rows/s |")
    print("|---|---|---|---|")
    for k in kept_runs(args.results, args.kept_dir, args.seed):
        run, X, y, keep, metric, a = k.run, k.X, k.y, k.keep, k.metric, k.ag
        cells = []
        for m in run.model.members:
            alone = run.model.member_alone(m.trial_id)
            alone.predict_output(run.features(X))        # warm, as compare.py's second call
            t = time.perf_counter()                      # the whole call: features, then the model
            out = alone.predict_output(run.features(X))
            seconds = time.perf_counter() - t
            score = metric.value(y[keep], np.asarray(out)[keep])
            ahead = score > a["test_score"] if metric.greater_is_better else score < a["test_score"]
            ratio = len(X) / seconds / a["predict_rows_per_s"]
            cells.append(f"{m.name} ({m.kind} x{len(m.estimators)}, {m.weight:.2f}): "
                         f"{'**' if ahead and ratio >= 20 else ''}{score:.4g}, {ratio:.1f}x"
                         f"{'**' if ahead and ratio >= 20 else ''}")
        print(f"| {k.dataset} | {a['test_score']:.4g} | {k.record['test_score']:.4g} | {'; '.join(cells)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

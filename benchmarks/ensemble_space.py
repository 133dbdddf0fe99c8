"""What combining ensemble members in log-odds (margin) space costs against probability space.

assay combines classifier members as a weighted mean of log-odds so that the ensemble stays
exactly explainable by TreeSHAP; the usual choice (AutoGluon, H2O) is a weighted mean of
probabilities. For each Run given, this re-runs greedy ensemble selection on the Run's saved
out-of-fold predictions (oof.npz) both ways and reports the out-of-fold metric of each.

    .venv/bin/python benchmarks/ensemble_space.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import sys

import numpy as np


def prob_space_selection(preds, y, metric, n_rounds=40):
    """Caruana selection with the weighted mean taken over probabilities."""
    counts = np.zeros(len(preds))
    current, best, best_counts = None, -np.inf, None
    for r in range(n_rounds):
        scores = [metric.score(y, p if current is None else (current * r + p) / (r + 1)) for p in preds]
        i = int(np.argmax(scores))
        counts[i] += 1
        current = preds[i] if current is None else (current * r + preds[i]) / (r + 1)
        if scores[i] > best + 1e-12:
            best, best_counts = scores[i], counts.copy()
    return best_counts / best_counts.sum()


def main(paths):
    import assay
    from assay.ensemble.selection import greedy_selection
    from assay.ensemble.space import from_margin, to_margin
    from assay.metrics import get_metric

    print("| run | task | metric | members | margin space (assay) | probability space | difference |")
    print("|---|---|---|---|---|---|---|")
    for path in paths:
        run = assay.load(path)
        if run.task == "regression":
            continue
        oof = run.oof()
        if "rows" not in oof:
            print(f"| {path} | (no oof.npz: written by an older assay) | | | | | |")
            continue
        rows, y = oof["rows"], oof["y"][oof["rows"]]
        names = sorted(k for k in oof if k.startswith("trial_"))
        preds = [oof[k][rows].astype(float) for k in names]
        preds = [p / p.sum(axis=1, keepdims=True) for p in preds if np.isfinite(p).all()]
        metric = get_metric(run.metric, run.task)
        w_m = greedy_selection([to_margin(p, run.task) for p in preds], y, metric, run.task)
        m_val = metric.value(y, from_margin(sum(w * to_margin(p, run.task) for w, p in zip(w_m, preds)), run.task))
        w_p = prob_space_selection(preds, y, metric)
        p_val = metric.value(y, sum(w * p for w, p in zip(w_p, preds)))
        print(f"| {path} | {run.task} | {metric.name} | {len(preds)} | {m_val:.5f} | {p_val:.5f} | "
              f"{m_val - p_val:+.5f} |")


if __name__ == "__main__":
    main(sys.argv[1:])

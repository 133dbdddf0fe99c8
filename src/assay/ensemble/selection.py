"""Greedy ensemble selection with replacement (Caruana et al., 2004), in margin space."""

from __future__ import annotations

import numpy as np

from assay.ensemble.space import from_margin


def greedy_selection(margins: list[np.ndarray], y: np.ndarray, metric, task: str,
                     n_rounds: int = 40) -> np.ndarray:
    """Weights (summing to 1) over the candidate `margins` (out-of-fold, same rows).

    Each round adds (with replacement) the candidate whose inclusion gives the
    best metric score of the running weighted mean; ties go to the earlier
    candidate, so the result is deterministic. Starts from the single best.
    """
    n_cand = len(margins)
    if n_cand == 0:
        raise ValueError("no candidates to select from")
    counts = np.zeros(n_cand, dtype=int)
    current = None
    best_score = -np.inf
    history_best = None
    for r in range(n_rounds):
        scores = np.empty(n_cand)
        for i, m in enumerate(margins):
            trial = m if current is None else (current * r + m) / (r + 1)
            scores[i] = metric.score(y, from_margin(trial, task))
        i_best = int(np.argmax(scores))
        counts[i_best] += 1
        current = margins[i_best] if current is None else (current * r + margins[i_best]) / (r + 1)
        if scores[i_best] > best_score + 1e-12:
            best_score = scores[i_best]
            history_best = counts.copy()
    # keep the best prefix of the greedy path (adding more never helps past it)
    w = history_best.astype(float)
    return w / w.sum()

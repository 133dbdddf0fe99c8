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


GAP_FACTOR = 10.0     # prune_for_speed: slack at most tolerance x 10 x the distance to a perfect score


def prune_for_speed(margins: list[np.ndarray], weights: np.ndarray, costs: np.ndarray, y: np.ndarray,
                    metric, task: str, tolerance: float) -> np.ndarray:
    """Drop members that cost prediction time but add (almost) nothing: backward elimination
    over the members with a weight, each step removing the most expensive member (`costs`:
    relative cost per row) whose removal -- the others' weights renormalised -- keeps the
    ensemble's score within `tolerance` (relative, of the metric as users read it; for a
    metric with a perfect value, also within GAP_FACTOR x `tolerance` of the distance to it)
    of the unpruned ensemble's. Stops when no member can go. Returns the new weights (summing to 1).
    """
    w = np.asarray(weights, dtype=float).copy()
    if tolerance <= 0 or np.count_nonzero(w) < 2:
        return w

    def value(weights_):
        combined = sum(wi * m for wi, m in zip(weights_, margins) if wi > 0) / weights_.sum()
        return metric.value(y, from_margin(combined, task))

    full = value(w)
    # the worst value still allowed, in the metric's own direction: `tolerance` of the score,
    # but never more than GAP_FACTOR x `tolerance` of what is left to a perfect score (at an
    # AUC of 0.9995, 0.1% of the score would let pruning double the error)
    scale = abs(full)
    perfect = getattr(metric, "perfect", None)
    if perfect is not None:
        scale = min(scale, GAP_FACTOR * abs(perfect - full))
    slack = tolerance * max(scale, 1e-12)
    limit = full - slack if metric.greater_is_better else full + slack
    while np.count_nonzero(w) > 1:
        options = []
        for i in np.flatnonzero(w):
            trial = w.copy()
            trial[i] = 0.0
            v = value(trial)
            if (v >= limit) if metric.greater_is_better else (v <= limit):
                options.append((costs[i], -i, trial))
        if not options:
            break
        _, _, w = max(options, key=lambda o: (o[0], o[1]))
    return w / w.sum()

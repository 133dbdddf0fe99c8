"""Group-specific decision thresholds in margin space, fitted on out-of-fold predictions.

Each group g gets one threshold t_g on the ensemble's log-odds; the mitigated score is
sigmoid(margin - t_g), so the usual 0.5 cut becomes "margin >= t_g". Within a group the
transform is strictly monotone: scores stay continuous and the group's AUC is unchanged
(unlike a randomised post-processor, whose scores take a handful of values).

Fitting (all on out-of-fold predictions, so no refit and no in-sample optimism):
1. candidate thresholds per group = midpoints between its distinct margins, thinned evenly
   to ~400 (plus 0, the unmitigated cut);
   rates (TPR, FPR, selection rate) and correct decisions for every candidate come from
   sorted margins by binary search;
2. a common target rate (pair of rates for equalized odds) is scanned on a grid; each
   group takes the candidate closest to it; the most accurate target whose disparity is
   within the bound wins (if none is, the smallest disparity);
3. coordinate ascent then spends the remaining slack: each group's threshold moves to the
   candidate of highest total accuracy that keeps the disparity within the bound.
"""

from __future__ import annotations

import numpy as np

N_CANDIDATES = 400
STATS = {"demographic_parity": ("sr",), "equal_opportunity": ("tpr",),
         "equalized_odds": ("tpr", "fpr")}


class _GroupCurve:
    def __init__(self, m: np.ndarray, y: np.ndarray):
        # candidates midway between distinct margins (no row sits on a threshold), thinned
        # evenly over the sorted values (~quantiles); decisions are margin - t > 0, as predict's
        u = np.unique(m)
        mids = (u[:-1] + u[1:]) / 2
        if len(mids) > N_CANDIDATES:
            mids = mids[np.linspace(0, len(mids) - 1, N_CANDIDATES).astype(int)]
        self.t = np.unique(np.r_[mids, u[0] - 1.0, u[-1] + 1.0, 0.0])
        pos = np.sort(m[y == 1])
        neg = np.sort(m[y == 0])
        self.n_pos, self.n_neg = len(pos), len(neg)
        tp = self.n_pos - np.searchsorted(pos, self.t, side="right")
        fp = self.n_neg - np.searchsorted(neg, self.t, side="right")
        self.correct = tp + (self.n_neg - fp)
        self.stats = {"tpr": tp / max(self.n_pos, 1), "fpr": fp / max(self.n_neg, 1),
                      "sr": (tp + fp) / max(len(m), 1)}
        self.k0 = int(np.searchsorted(self.t, 0.0))   # index of the unmitigated threshold


def _disparity(curves, ks, names) -> float:
    out = 0.0
    for s in names:
        v = [c.stats[s][k] for c, k in zip(curves, ks)]
        out = max(out, max(v) - min(v))
    return out


def fit_thresholds(margin: np.ndarray, y: np.ndarray, groups: np.ndarray, constraint: str,
                   bound: float, fit_groups: list[str]) -> tuple[dict[str, float], dict]:
    """Thresholds {group: t} for `fit_groups` and a summary of the fit on these rows."""
    names = STATS[constraint]
    curves = [_GroupCurve(margin[groups == g], y[groups == g]) for g in fit_groups]
    n_total = len(y)
    # 2. common targets
    if len(names) == 1:
        targets = [(a,) for a in np.linspace(0, 1, 201)]
    else:
        grid = np.linspace(0, 1, 61)
        targets = [(a, b) for a in grid for b in grid if a >= b]      # TPR >= FPR: better than chance
    best = None
    T = np.array(targets)                                  # (n_targets, n_stats)
    choice = []
    for c in curves:
        S = np.column_stack([c.stats[s] for s in names])   # (K, n_stats)
        dist = np.abs(S[None, :, :] - T[:, None, :]).max(axis=2)   # (n_targets, K)
        # closest candidate; among equally close, the most accurate
        score = dist - 1e-9 * c.correct[None, :]
        choice.append(score.argmin(axis=1))
    ks_all = np.column_stack(choice)                       # (n_targets, n_groups)
    for ks in np.unique(ks_all, axis=0):
        d = _disparity(curves, ks, names)
        acc = sum(c.correct[k] for c, k in zip(curves, ks))
        key = (0 if d <= bound else 1, -acc if d <= bound else d)
        if best is None or key < best[0]:
            best = (key, list(ks))
    ks = best[1]
    # 3. coordinate ascent on accuracy within the bound
    for _ in range(4):
        moved = False
        for i, c in enumerate(curves):
            others = [curves[j] for j in range(len(curves)) if j != i]
            oks = [ks[j] for j in range(len(curves)) if j != i]
            d = np.zeros(len(c.t))
            for s in names:
                ov = [o.stats[s][k] for o, k in zip(others, oks)]
                lo, hi = min(ov), max(ov)
                d = np.maximum(d, np.maximum(hi, c.stats[s]) - np.minimum(lo, c.stats[s]))
            cur_d = d[ks[i]]
            feasible = d <= max(bound, cur_d) + 1e-12
            cand = np.where(feasible, c.correct, -1)
            k_new = int(cand.argmax())
            if cand[k_new] > c.correct[ks[i]]:
                ks[i], moved = k_new, True
        if not moved:
            break
    thresholds = {g: float(c.t[k]) for g, c, k in zip(fit_groups, curves, ks)}
    summary = {
        "disparity_before": _disparity(curves, [c.k0 for c in curves], names),
        "disparity_after": _disparity(curves, ks, names),
        "correct_before": int(sum(c.correct[c.k0] for c in curves)),
        "correct_after": int(sum(c.correct[k] for c, k in zip(curves, ks))),
        "rows": int(n_total),
    }
    return thresholds, summary

"""Class imbalance as a search dimension.

For a classification problem whose rarest class holds less than `IMBALANCED` of the rows,
every sampled configuration also draws how its folds treat the imbalance (param
`imbalance`, stored with the family's params so refits repeat it):

- "none": as is;
- "balanced": sample weights n / (K * n_class) (families with `capabilities.sample_weight`);
- "undersample" / "oversample": imbalanced-learn's RandomUnderSampler / RandomOverSampler,
  applied to the training rows of each fold only -- validation rows are never resampled,
  so the out-of-fold predictions (and the score) stay honest.

Default configurations stay "none". Probabilities of a reweighted/resampled model are
shifted towards the rare classes; the margin-space ensemble selection on out-of-fold
predictions decides whether that helps the metric. Threshold metrics additionally get a
tuned decision rule (`assay.ensemble.decision`).
"""

from __future__ import annotations

import numpy as np

IMBALANCED = 0.2          # rarest class share below which the dimension is searched
PARAM = "imbalance"
STRATEGIES = ("none", "balanced", "undersample", "oversample")


def is_imbalanced(class_counts) -> bool:
    counts = np.asarray(class_counts, dtype=float)
    return len(counts) >= 2 and counts.sum() > 0 and counts.min() / counts.sum() < IMBALANCED


def choices(family, info) -> list[str]:
    """The strategies this family can use on this problem (["none"] when balanced)."""
    if not info.is_classification or not is_imbalanced(info.extra.get("class_counts", ())):
        return ["none"]
    import importlib.util

    out = ["none"]
    if importlib.util.find_spec("imblearn") is not None:
        out += ["undersample", "oversample"]
    if family.capabilities.sample_weight:
        out.insert(1, "balanced")
    return out


def split_params(params: dict) -> tuple[dict, str]:
    """(the family's own params, the imbalance strategy)."""
    params = dict(params)
    return params, params.pop(PARAM, "none") or "none"


def fit_with(est, X, y, strategy: str, seed: int):
    """Fit `est` (a family Pipeline) on (X, y) treated by `strategy`; returns `est`."""
    if strategy == "none":
        return est.fit(X, y)
    if strategy == "balanced":
        counts = np.bincount(np.asarray(y, dtype=int))
        w = len(y) / (np.count_nonzero(counts) * counts[np.asarray(y, dtype=int)])
        return est.fit(X, y, **{f"{est.steps[-1][0]}__sample_weight": w})
    from imblearn.under_sampling import RandomUnderSampler
    from imblearn.over_sampling import RandomOverSampler

    sampler = (RandomUnderSampler if strategy == "undersample" else RandomOverSampler)(random_state=seed)
    sampler.fit_resample(np.zeros((len(y), 1)), y)     # indices only: any column types pass through
    idx = np.sort(sampler.sample_indices_)
    return est.fit(X.iloc[idx], np.asarray(y)[idx])

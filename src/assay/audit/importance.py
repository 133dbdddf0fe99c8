"""Permutation importance of a Run's raw features on held-out data.

For every raw feature the column is shuffled `n_repeats` times (a seeded
`numpy.random.Generator`, never global state) and the model re-scored; the importance is
the drop in `Metric.score` (higher-is-better, so losses are negated and a positive drop
always means "the model got worse without this feature"). Each feature gets the mean drop,
its standard deviation over repeats and a 95% t-interval for the mean (scipy.stats.t);
features are sorted by mean drop, largest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assay.audit.result import AuditResult
from assay.errors import ColumnError, OptionError

CONFIDENCE = 0.95
# at most this many rows go through one predict call (shuffled copies are batched)
BATCH_ROWS = 200_000


@dataclass
class PermutationImportance(AuditResult):
    kind = "permutation_importance"
    metric: str
    baseline_score: float              # Metric.score (higher is better) on the unshuffled data
    baseline_value: float              # the metric as a user reads it (losses not negated)
    n_rows: int
    n_repeats: int
    seed: int
    features: list                     # sorted by mean drop, largest first
    mean: list                         # mean drop in score per feature
    std: list                          # std (ddof=1) of the drop over repeats
    ci_low: list                       # 95% t-interval of the mean drop
    ci_high: list
    drops: list = field(default_factory=list)   # per feature: the drop of every repeat
    confidence: float = CONFIDENCE

    def to_frame(self) -> pd.DataFrame:
        """One row per feature (largest importance first): mean, std, ci_low, ci_high."""
        return pd.DataFrame({"mean": self.mean, "std": self.std, "ci_low": self.ci_low,
                             "ci_high": self.ci_high},
                            index=pd.Index(self.features, name="feature"))


def permutation_importance(run, data, *, metric=None, n_repeats: int = 5, seed: int = 0,
                           max_rows: int | None = 5000) -> PermutationImportance:
    """Drop in `metric` (default: the Run's metric) when each raw feature is shuffled.

    `data` must be held-out rows that include the target column. Rows whose target is
    missing are ignored; more than `max_rows` rows are subsampled (seeded).
    """
    from scipy import stats

    from assay.data.io import read_table
    from assay.data.validate import encode_target
    from assay.metrics import get_metric

    if int(n_repeats) < 1:
        raise OptionError(f"n_repeats must be at least 1 (got {n_repeats})")
    n_repeats = int(n_repeats)
    m = get_metric(metric or run.metric, run.task)
    df = read_table(data, what="permutation importance data")
    target = run.schema.target
    if target not in df.columns:
        raise ColumnError(f"permutation importance needs the target column '{target}' in the data "
                          f"(it measures how much the score drops); the data has no such column")
    df = df.loc[df[target].notna()].reset_index(drop=True)
    if len(df) == 0:
        raise ColumnError(f"permutation importance needs rows with a target: every value of "
                          f"'{target}' in the data is missing")
    rng = np.random.default_rng(seed)
    if max_rows is not None and len(df) > max_rows:
        df = df.iloc[np.sort(rng.choice(len(df), size=int(max_rows), replace=False))].reset_index(drop=True)
    X = run.features(df).reset_index(drop=True)
    y = encode_target(df[target], run.schema)
    model = run.model
    baseline = m.score(y, model.predict_output(X))
    n = len(X)

    names, drops = [], []
    for col in X.columns:
        values = X[col].to_numpy()
        perms = [rng.permutation(n) for _ in range(n_repeats)]
        scores = []
        per_call = max(1, BATCH_ROWS // max(n, 1))
        for start in range(0, n_repeats, per_call):
            chunk = perms[start:start + per_call]
            Xr = X.iloc[np.tile(np.arange(n), len(chunk))].reset_index(drop=True)
            Xr[col] = pd.Series(np.concatenate([values[p] for p in chunk]), index=Xr.index).astype(X[col].dtype)
            out = model.predict_output(Xr)
            for i in range(len(chunk)):
                scores.append(m.score(y, out[i * n:(i + 1) * n]))
        names.append(col)
        drops.append(baseline - np.asarray(scores, dtype=float))

    mean = np.array([d.mean() for d in drops])
    std = np.array([d.std(ddof=1) if len(d) > 1 else np.nan for d in drops])
    if n_repeats > 1:
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, df=n_repeats - 1) * std / np.sqrt(n_repeats)
    else:
        half = np.full(len(mean), np.nan)
    order = np.argsort(-np.nan_to_num(mean, nan=-np.inf), kind="stable")
    return PermutationImportance(
        metric=m.name, baseline_score=float(baseline), baseline_value=float(m.to_value(baseline)),
        n_rows=int(n), n_repeats=n_repeats, seed=int(seed),
        features=[names[i] for i in order], mean=[float(mean[i]) for i in order],
        std=[float(std[i]) for i in order], ci_low=[float(mean[i] - half[i]) for i in order],
        ci_high=[float(mean[i] + half[i]) for i in order],
        drops=[[float(v) for v in drops[i]] for i in order])

"""Verify a Run's monotone constraints on data.

For each constrained feature and each of up to `max_rows` sampled rows, the model's margin
(`run.model.predict_margin`: the log-odds of `run.classes[1]` for binary classification,
the prediction for regression) is evaluated along a dense grid over the feature's observed
range -- its quantiles at `grid_points` levels from 0 to 1 together with `grid_points`
evenly spaced values from min to max -- holding the row's other features fixed. A step
from one grid value to the next that goes against the constraint by more than `tol`
(1e-9) is a violation.

Why the ensemble stays monotone: it is a weighted mean of its members' margins with
non-negative weights (log-odds for classifiers, values for regression), and a non-negative
combination of functions that are monotone in the same direction is monotone; a member
kept as fold models averages them in margin space, likewise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assay.audit.result import AuditResult
from assay.errors import OptionError

TOL = 1e-9
BATCH_ROWS = 100_000


@dataclass
class MonotoneCheck(AuditResult):
    kind = "monotone_check"
    constraints: dict           # {feature: +1 / -1}
    features: list = field(default_factory=list)   # per feature: see `check_monotone`
    ok: bool = True             # no violation anywhere
    task: str = ""
    tolerance: float = TOL
    seed: int = 0

    @property
    def violations(self) -> int:
        return int(sum(f["violations"] for f in self.features))

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.features).set_index("feature") if self.features else pd.DataFrame()


def check_monotone(run, data, constraints: dict | None = None, *, grid_points: int = 50,
                   max_rows: int = 200, seed: int = 0, tol: float = TOL) -> MonotoneCheck:
    """Check monotone `constraints` ({column: +1 / -1}; default: the ones the Run was fit
    with) of `run` on `data` (a path or a frame with the training columns).

    Per feature (`MonotoneCheck.features`): `feature`, `direction`, `grid_points` (distinct
    grid values), `rows_checked`, `violations` (steps against the constraint over all rows),
    `rows_violating`, `share_rows_violating` and `worst_violation` (the largest step
    against the constraint, 0.0 when there is none). `ok` is True when there is no
    violation at all.
    """
    from assay.config import _monotone_values
    from assay.models.registry import check_monotone as check_option

    if constraints is None:
        constraints = (run.meta.get("config") or {}).get("monotone")
    if not constraints:
        raise OptionError("no monotone constraints: pass --monotone or fit with them")
    constraints = check_option(_monotone_values(dict(constraints)), run.schema)
    if grid_points < 2 or max_rows < 1:
        raise OptionError("grid_points must be at least 2 and max_rows at least 1")
    X = run.features(data)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(X), size=min(len(X), max_rows), replace=False)) if len(X) else np.zeros(0, int)
    base = X.iloc[rows].reset_index(drop=True)
    out = []
    for col, direction in constraints.items():
        observed = pd.to_numeric(X[col], errors="coerce").to_numpy(dtype=float)
        observed = observed[np.isfinite(observed)]
        entry = {"feature": col, "direction": int(direction), "grid_points": 0, "rows_checked": 0,
                 "violations": 0, "rows_violating": 0, "share_rows_violating": 0.0, "worst_violation": 0.0}
        if len(observed) == 0 or len(base) == 0:
            out.append(entry)
            continue
        grid = np.unique(np.concatenate([
            np.quantile(observed, np.linspace(0.0, 1.0, grid_points)),
            np.linspace(observed.min(), observed.max(), grid_points),
        ]))
        margin = _margins_on_grid(run.model, base, col, grid)           # (rows, grid)
        against = -direction * np.diff(margin, axis=1)                  # > 0: a step the wrong way
        bad = against > tol
        entry.update(grid_points=len(grid), rows_checked=len(base), violations=int(bad.sum()),
                     rows_violating=int(bad.any(axis=1).sum()),
                     share_rows_violating=float(bad.any(axis=1).mean()),
                     worst_violation=float(max(0.0, against.max())) if against.size else 0.0)
        out.append(entry)
    return MonotoneCheck(constraints=constraints, features=out, ok=all(f["violations"] == 0 for f in out),
                         task=run.task, tolerance=tol, seed=seed)


def _margins_on_grid(model, base: pd.DataFrame, col, grid: np.ndarray) -> np.ndarray:
    """The model margin for every (row of `base`, value of `grid` in `col`) pair."""
    n, g = len(base), len(grid)
    per_batch = max(1, BATCH_ROWS // g)
    out = np.empty((n, g))
    for start in range(0, n, per_batch):
        part = base.iloc[start:start + per_batch]
        big = part.loc[part.index.repeat(g)].reset_index(drop=True)
        big[col] = np.tile(grid, len(part))
        m = np.asarray(model.predict_margin(big), dtype=float)
        if m.ndim != 1:
            raise OptionError("monotone constraints apply to binary classification and regression")
        out[start:start + len(part)] = m.reshape(len(part), g)
    return out

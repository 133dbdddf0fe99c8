"""Explain a Run: SHAP values of its final model, per raw feature, in margin space.

`explain(run, data)` combines the members' SHAP values by the ensemble weights (members
kept as fold models average theirs first), so the ensemble's explanation is exact where
its members' are: base + sum(values) equals the ensemble's margin on every row
(`Explanation.additivity_error` reports the largest deviation). Margins: binary = log-odds
of the positive class; multiclass = per-class log-scores (the probabilities are their
softmax); regression = the prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assay.audit.result import AuditResult
from assay.audit.shap_values import estimator_contributions, n_outputs
from assay.ensemble.space import from_margin
from assay.errors import OptionError

BACKGROUND_ROWS = 100


@dataclass
class Explanation(AuditResult):
    kind = "explanation"
    feature_names: list
    output_names: list                  # one per output column of `values`
    output_space: str
    values: np.ndarray                  # (rows, features, outputs)
    base_values: np.ndarray             # (outputs,)
    rows: list                          # row numbers of the explained rows in the data given
    data: pd.DataFrame = field(repr=False, default=None)
    members: list = field(default_factory=list)    # member, weight, method, exact
    exact: bool = True
    additivity_error: float = 0.0

    def margin(self) -> np.ndarray:
        """base + sum of values: the model's margin for each row (n, outputs)."""
        return self.base_values[None, :] + self.values.sum(axis=1)

    def to_frame(self, output=None) -> pd.DataFrame:
        """One row per explained row, one column per feature (values of one output)."""
        j = 0 if output is None else self.output_names.index(output)
        return pd.DataFrame(self.values[:, :, j], columns=self.feature_names, index=self.rows)

    def importance(self) -> pd.Series:
        """Global importance: mean |SHAP| over rows (and outputs), largest first."""
        imp = np.abs(self.values).mean(axis=(0, 2))
        return pd.Series(imp, index=self.feature_names).sort_values(ascending=False)

    def save_plots(self, directory, top: int = 4) -> list:
        """Summary, importance, dependence (top features) and waterfall PNGs in `directory`."""
        from assay.audit.plots import save_all

        return save_all(self, directory, top=top)

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["data"] = None if self.data is None else self.data.astype(object).where(
            self.data.notna(), None).astype(str).to_dict(orient="records")
        return d


def explain(run, data, rows=None, *, seed: int = 0, background_rows: int = BACKGROUND_ROWS) -> Explanation:
    """SHAP values of `run`'s final model for the rows of `data` (all, or `rows`: a slice,
    a list of row numbers, or "START:STOP")."""
    X_all = run.features(data).reset_index(drop=True)
    idx = select_rows(rows, len(X_all))
    X = X_all.iloc[idx].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    bg_idx = np.sort(rng.choice(len(X_all), size=min(len(X_all), background_rows), replace=False))
    background = X_all.iloc[bg_idx].reset_index(drop=True)
    task = run.task
    k = len(run.classes or [])
    c = n_outputs(task, k)
    values = np.zeros((len(X), X.shape[1], c))
    base = np.zeros(c)
    members, exact = [], True
    model = run.model
    if not hasattr(model, "members"):      # e.g. a fairness-mitigated Run's wrapper
        from assay.errors import OptionError

        raise OptionError(f"this Run's model ({type(model).__name__}) is not an ensemble of members and "
                          "cannot be explained by SHAP; explain the Run it was made from")
    total_w = sum(m.weight for m in model.members)
    for m in model.members:
        parts = [estimator_contributions(e, X, task, k, background, seed) for e in m.estimators]
        v = np.mean([p.values for p in parts], axis=0)
        b = np.mean([p.base for p in parts], axis=0)
        w = m.weight / total_w
        values += w * v
        base += w * b
        member_exact = all(p.exact for p in parts)
        exact &= member_exact
        members.append({"member": m.name, "weight": w, "method": parts[0].method, "exact": member_exact})
    err = _additivity_error(model, X, values, base, task)
    return Explanation(feature_names=list(X.columns), output_names=output_names(run),
                       output_space=_output_space(run), values=values, base_values=base,
                       rows=[int(i) for i in idx], data=X, members=members, exact=exact,
                       additivity_error=err)


def select_rows(rows, n: int) -> np.ndarray:
    if rows is None:
        return np.arange(n)
    if isinstance(rows, str):
        try:
            if ":" in rows:
                a, b = rows.split(":", 1)
                rows = slice(int(a) if a.strip() else None, int(b) if b.strip() else None)
            else:
                rows = [int(r) for r in rows.split(",") if r.strip()]
        except ValueError:
            raise OptionError(f"rows {rows!r}: give START:STOP (e.g. 0:20) or row numbers (e.g. 3,7,9)") from None
    if isinstance(rows, slice):
        idx = np.arange(n)[rows]
    else:
        idx = np.asarray(list(rows), dtype=int)
        bad = idx[(idx < 0) | (idx >= n)]
        if len(bad):
            raise OptionError(f"rows {', '.join(map(str, bad[:5]))} are out of range: the data has {n} rows (0..{n - 1})")
    if len(idx) == 0:
        raise OptionError(f"no rows selected: the data has {n} rows")
    return idx


def _additivity_error(model, X, values, base, task) -> float:
    recon = base[None, :] + values.sum(axis=1)
    if task == "multiclass":
        return float(np.max(np.abs(from_margin(recon, task) - model.predict_output(X))))
    return float(np.max(np.abs(recon[:, 0] - model.predict_margin(X))))


def output_names(run) -> list:
    """Names of a Run's outputs: the positive class (binary), every class, or the target."""
    if run.task == "binary":
        return [str(run.classes[1])]
    if run.task == "multiclass":
        return [str(c) for c in run.classes]
    return [run.schema.target]


def _output_space(run) -> str:
    if run.task == "binary":
        return f"log-odds of {run.schema.target} = {run.classes[1]}"
    if run.task == "multiclass":
        return "log-score per class (probabilities are their softmax)"
    return f"predicted {run.schema.target}"

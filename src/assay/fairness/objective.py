"""Fairness inside `fit`: sensitive columns kept out of the features, and the
multi-objective search of `--fairness equalized_odds<=0.05`.

`FitFairness` is the one object `assay.api.fit` talks to:

- `split(df, target, config)` removes the sensitive columns from the training table (unless
  `allow_sensitive_features`) and keeps their labels for the rows that are trained on;
- `objective` (when a constraint is given) is handed to the Search: the study becomes
  Optuna NSGA-II over (metric, disparity), the disparity measured on each trial's
  out-of-fold predictions (the larger over the sensitive columns, groups of at least
  `MIN_GROUP_SIZE` rows); it keeps the fold models of every trial on the Pareto front or
  meeting the constraint, so they stay ensemble candidates;
- `select(...)` builds the final model from the trials that meet the constraint (greedy
  ensemble of them, or the best single one where the ensemble would break the bound); if
  no trial meets it, the trial with the smallest disparity is chosen and the Run says so;
- `annotate(leaderboard)`, `meta()` and `arrays()` add the disparity / pareto columns, the
  run.json entries and the training rows' sensitive labels (oof.npz `sensitive__<column>`,
  used by `assay mitigate` and `assay audit fairness`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assay.errors import OptionError
from assay.fairness import groups as G

SENSITIVE_KEY = "sensitive__"
KEEP_FEASIBLE = 10


def disparity(proba: np.ndarray, y: np.ndarray, labels: np.ndarray, constraint: str, *,
              groups: list | None = None, min_size: int = G.MIN_GROUP_SIZE) -> float:
    """Disparity of the decisions argmax(proba) == 1 across `groups` (default: every group of
    `labels` with at least `min_size` rows): demographic_parity = spread of selection rates,
    equal_opportunity = of TPR, equalized_odds = the larger of the TPR and FPR spreads.
    NaN if fewer than two groups can be compared."""
    proba = np.asarray(proba, dtype=float)
    yhat = proba.argmax(axis=1) == 1 if proba.ndim == 2 else proba >= 0.5
    y = np.asarray(y).astype(bool)
    labels = np.asarray(labels)
    if groups is None:
        u, n = np.unique(labels, return_counts=True)
        groups = list(u[n >= min_size])
    stats = {"sr": [], "tpr": [], "fpr": []}
    for g in groups:
        m = labels == g
        if not m.any():
            continue
        stats["sr"].append(yhat[m].mean())
        if y[m].any():
            stats["tpr"].append(yhat[m & y].mean())
        if (~y[m]).any():
            stats["fpr"].append(yhat[m & ~y].mean())
    names = {"demographic_parity": ("sr",), "equal_opportunity": ("tpr",),
             "equalized_odds": ("tpr", "fpr")}[constraint]
    spreads = [max(stats[s]) - min(stats[s]) for s in names if len(stats[s]) >= 2]
    if len(spreads) < len(names):
        return float("nan")
    return float(max(spreads))


def _pareto(score: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """Non-dominated points: higher score, lower disparity."""
    ok = np.isfinite(score) & np.isfinite(disp)
    out = np.zeros(len(score), dtype=bool)
    for i in np.flatnonzero(ok):
        dominated = ok & (score >= score[i]) & (disp <= disp[i]) & ((score > score[i]) | (disp < disp[i]))
        out[i] = not dominated.any()
    return out


class SearchObjective:
    """The second objective of the search: disparity on out-of-fold predictions."""

    def __init__(self, constraint: G.Constraint, groups: pd.DataFrame, y: np.ndarray):
        self.constraint = constraint
        self.bound = constraint.bound if constraint.bound is not None else 0.05
        self.labels = {c: groups[c].to_numpy(dtype=str) for c in groups.columns}
        self.y = np.asarray(y)
        self.disparities: dict[int, float] = {}

    # -- used by assay.search.tuner.Search ---------------------------------
    def study_args(self, seed: int) -> dict:
        import optuna

        return {"directions": ["maximize", "minimize"],
                "sampler": optuna.samplers.NSGAIISampler(seed=seed, population_size=20)}

    def values(self, record) -> list[float]:
        d = self.measure(record.oof)
        self.disparities[record.trial_id] = d
        return [record.score, d if np.isfinite(d) else 1.0]

    def keep(self, records) -> set[int]:
        """Trials whose fold models must stay (Pareto front; best ones meeting the bound)."""
        recs = [r for r in records if r.trial_id in self.disparities]
        if not recs:
            return set()
        score = np.array([r.score for r in recs])
        disp = np.array([self.disparities[r.trial_id] for r in recs])
        keep = {r.trial_id for r, p in zip(recs, _pareto(score, disp)) if p}
        feas = sorted((r for r in recs if self.meets(r.trial_id)), key=lambda r: -r.score)
        return keep | {r.trial_id for r in feas[:KEEP_FEASIBLE]}

    # -- measuring ---------------------------------------------------------
    def measure(self, oof: np.ndarray, rows: np.ndarray | None = None) -> float:
        """Disparity of out-of-fold predictions (all rows, NaN where unvalidated; or the
        validated `rows` only); the larger over the sensitive columns."""
        oof = np.asarray(oof, dtype=float)
        if rows is None:
            rows = np.flatnonzero(~np.isnan(oof[:, 0]))
            oof = oof[rows]
        ds = [disparity(oof, self.y[rows], lab[rows], self.constraint.name) for lab in self.labels.values()]
        ds = [d for d in ds if np.isfinite(d)]
        return max(ds) if ds else float("nan")

    def meets(self, trial_id: int) -> bool:
        d = self.disparities.get(trial_id, float("nan"))
        return bool(np.isfinite(d) and d <= self.bound)

    # -- the final model ---------------------------------------------------
    def select(self, candidates, y, metric, task, n_rounds):
        """(weights, cv value, ensemble oof) like `select_members`, honouring the bound."""
        from assay.ensemble.build import select_members
        from assay.search.trial import validated_rows

        feas = [r for r in candidates if self.meets(r.trial_id)]
        self.summary = {"constraint": str(self.constraint), "bound": self.bound}
        if feas:
            weights, value, oof = select_members(feas, y, metric, task, n_rounds)
            rows = np.flatnonzero(validated_rows(feas[0].oof))
            d = self.measure(oof, rows)
            how = "ensemble of the trials that meet the constraint"
            if not (np.isfinite(d) and d <= self.bound):
                best = max(feas, key=lambda r: r.score)
                weights, value, oof = {best.trial_id: 1.0}, best.value, best.oof[rows]
                d = self.disparities[best.trial_id]
                how = (f"the best single trial that meets the constraint ({best.name}; the ensemble "
                       f"of such trials did not)")
            self.summary.update(met=True, disparity=d, chosen=how,
                                message=f"fairness: {self.constraint} met on out-of-fold predictions "
                                        f"(disparity {d:.4f}); model: {how}")
        else:
            pool = [r for r in candidates if r.trial_id in self.disparities] or list(candidates)
            best = min(pool, key=lambda r: (self.disparities.get(r.trial_id, np.inf), -r.score))
            rows = np.flatnonzero(validated_rows(best.oof))
            weights, value, oof = {best.trial_id: 1.0}, best.value, best.oof[rows]
            d = self.disparities.get(best.trial_id, float("nan"))
            self.summary.update(met=False, disparity=d, chosen=f"the trial with the smallest disparity ({best.name})",
                                message=f"fairness: NO trial meets {self.constraint} (smallest disparity "
                                        f"{d:.4f}, {best.name}, is used); try a longer fit, or `assay mitigate`")
        return weights, value, oof

    def annotate(self, lb: pd.DataFrame) -> pd.DataFrame:
        lb = lb.copy()
        disp = lb["trial"].map(lambda t: self.disparities.get(int(t), np.nan) if pd.notna(t) and t >= 0
                               else (0.0 if pd.notna(t) else np.nan))
        disp[lb["model"].eq("ensemble")] = self.summary.get("disparity", np.nan)
        lb["disparity"] = disp.astype(float).round(5)
        score = lb[[c for c in lb.columns if c.startswith("cv_")][0]].astype(float).to_numpy()
        score = np.where(lb["status"].eq("ok"), score, np.nan)
        trial_rows = lb["model"].ne("ensemble").to_numpy()
        sign = 1.0
        if not self._greater:
            sign = -1.0
        par = np.zeros(len(lb), dtype=bool)
        par[trial_rows] = _pareto(sign * score[trial_rows], lb["disparity"].to_numpy()[trial_rows])
        lb["pareto"] = par
        lb["meets_constraint"] = lb["disparity"] <= self.bound
        return lb

    _greater = True


class FitFairness:
    """`--sensitive` / `--fairness` of one fit (see the module docstring)."""

    def __init__(self, sensitive: list[str], allow_features: bool, constraint: str | None):
        self.sensitive = sensitive
        self.allow_features = allow_features
        self.constraint = G.parse_constraint(constraint) if constraint else None
        self.groups: pd.DataFrame | None = None
        self.objective: SearchObjective | None = None

    @classmethod
    def from_config(cls, config) -> FitFairness | None:
        sens = G.sensitive_list(config.sensitive)
        if config.fairness and not sens:
            raise OptionError("--fairness needs the sensitive columns: add --sensitive (e.g. --sensitive sex)")
        if not sens:
            return None
        return cls(sens, config.allow_sensitive_features, config.fairness)

    def split(self, df: pd.DataFrame, target: str) -> pd.DataFrame:
        """The training table without the sensitive columns (unless allowed); keeps their labels
        for the rows whose target is known (the rows `prepare_training` keeps)."""
        G.check_columns(df, self.sensitive, "the training data")
        if target in self.sensitive:
            raise OptionError(f"'{target}' is the target; it cannot also be a sensitive column")
        known = df[target].notna().to_numpy() if target in df.columns else np.ones(len(df), bool)
        self.groups = G.group_frame(df.loc[known], self.sensitive)
        return df if self.allow_features else df.drop(columns=self.sensitive)

    def start(self, task: str, y: np.ndarray, metric) -> None:
        if self.constraint is None:
            return
        G.check_classification(task, f"--fairness {self.constraint}")
        self.objective = SearchObjective(self.constraint, self.groups, y)
        self.objective._greater = metric.greater_is_better

    def annotate(self, lb: pd.DataFrame) -> pd.DataFrame:
        return self.objective.annotate(lb) if self.objective else lb

    def meta(self) -> dict:
        out = {"sensitive": self.sensitive, "sensitive_used_as_features": self.allow_features}
        if self.objective is not None:
            out["fairness"] = dict(getattr(self.objective, "summary", {}))
        return out

    def arrays(self) -> dict:
        return {SENSITIVE_KEY + s: self.groups[s].to_numpy(dtype=str) for s in self.sensitive}

"""Group metrics and disparities with bootstrap confidence intervals.

Point estimates come from Fairlearn's `MetricFrame` (one per sensitive attribute and per
intersection of attributes). The intervals, intersections and small-group flags are ours:

- Rate metrics (selection rate, TPR, FPR, FNR, precision) depend on a group only through
  its four confusion-matrix cells, so the nonparametric bootstrap of a group is exactly a
  multinomial draw of those cell counts: `rng.multinomial(n_g, cells / n_g, size=B)`.
  That is the same distribution as resampling rows, at the cost of B x 4 numbers.
- AUC (and regression's mean error / MAE) need the rows: multinomial row weights,
  drawn in chunks, with a tie-aware weighted Mann-Whitney statistic for AUC.
- The bootstrap is stratified by group (each group keeps its size), and groups are
  resampled independently, so a disparity's replicate is max - min over the groups'
  replicates; intervals are percentile intervals.
- Groups smaller than `min_group_size` are flagged (`small`): their own rates are reported
  with their (wide) intervals, but they are left out of disparities, which say which groups
  were left out; with fewer than two groups left, the disparity "cannot be estimated".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay.audit.result import AuditResult
from assay.errors import ColumnError, OptionError
from assay.fairness import groups as G

RATE_METRICS = ("selection_rate", "tpr", "fpr", "fnr", "precision")
CLASSIFICATION_METRICS = RATE_METRICS + ("auc", "accuracy")
REGRESSION_METRICS = ("mean_prediction", "mean_error", "mae")
CLASSIFICATION_DISPARITIES = ("demographic_parity_difference", "demographic_parity_ratio",
                              "equalized_odds_difference", "equal_opportunity_difference")
REGRESSION_DISPARITIES = ("mean_prediction_difference", "mean_error_difference", "mae_difference")
N_BOOT = 1000
_CHUNK_CELLS = 2_000_000     # bootstrap weights held at once (rows x replicates)


# ----------------------------------------------------------------------------- results


@dataclass
class FairnessAudit(AuditResult):
    kind = "fairness"
    task: str
    sensitive: list
    n_rows: int
    confidence: float
    n_boot: int
    min_group_size: int
    positive_class: Any = None
    threshold: str = ""
    overall: dict = field(default_factory=dict)      # metric -> {value, lo, hi}
    groups: list = field(default_factory=list)       # one dict per (attribute, group)
    disparities: list = field(default_factory=list)  # one dict per (attribute, disparity)
    proxies: list = field(default_factory=list)      # see assay.fairness.proxies
    warnings: list = field(default_factory=list)

    def group_frame(self) -> pd.DataFrame:
        """One row per (attribute, group): size, flag, and value / lo / hi of each metric."""
        rows = []
        for g in self.groups:
            r = {"attribute": g["attribute"], "group": g["group"], "size": g["size"], "small": g["small"]}
            for m, v in g["metrics"].items():
                r[m], r[f"{m}_lo"], r[f"{m}_hi"] = v["value"], v["lo"], v["hi"]
            rows.append(r)
        return pd.DataFrame(rows)

    def disparity_frame(self) -> pd.DataFrame:
        cols = ["attribute", "name", "value", "lo", "hi", "estimable", "groups_used", "excluded", "note"]
        return pd.DataFrame([{k: d.get(k) for k in cols} for d in self.disparities], columns=cols)

    def disparity(self, name: str, attribute: str | None = None) -> dict:
        for d in self.disparities:
            if d["name"] == name and (attribute is None or d["attribute"] == attribute):
                return d
        raise KeyError(f"no disparity {name!r} for {attribute!r}")

    def group(self, attribute: str, group: str) -> dict:
        for g in self.groups:
            if g["attribute"] == attribute and g["group"] == group:
                return g
        raise KeyError(f"no group {group!r} of {attribute!r}")

    def save_plots(self, directory) -> list:
        from assay.fairness.plots import plot_group_metrics

        return plot_group_metrics(self, directory)


# ----------------------------------------------------------------------------- public


def fairness_audit(run, data, sensitive=None, *, metrics=None, n_boot: int = N_BOOT,
                   confidence: float = 0.95, min_group_size: int = G.MIN_GROUP_SIZE,
                   positive_class=None, proxies: bool = True, seed: int = 0) -> FairnessAudit:
    """Audit `run`'s predictions on `data` (which must hold the true target and the sensitive
    columns) per group of each sensitive column and of their intersection.

    sensitive: column names (default: those recorded by `fit --sensitive`). metrics: a subset
    of the task's metrics. proxies: also report features that predict each sensitive column.
    """
    from assay.data.io import read_table
    from assay.data.validate import encode_target

    df = read_table(data, what="audit data")
    sens = G.sensitive_list(sensitive) or list(run.meta.get("sensitive") or [])
    if not sens:
        raise OptionError("name the sensitive columns (e.g. --sensitive sex,race); this Run was "
                          "fitted without `--sensitive`, so it has no default")
    G.check_columns(df, sens, "the audit data")
    target = run.schema.target
    if target not in df.columns:
        raise ColumnError(f"the audit data has no target column '{target}': fairness metrics compare "
                          "predictions with true outcomes, so give rows with their known target")
    task = run.task
    wanted = _check_metrics(metrics, task)
    known = df[target].notna().to_numpy()
    notes = []
    if not known.all():
        notes.append(f"{int((~known).sum())} rows with a missing target '{target}' were left out")
        df = df.loc[known].reset_index(drop=True)
    if len(df) == 0:
        raise ColumnError("the audit data has no rows with a known target")
    gf = G.group_frame(df, sens)
    y = encode_target(df[target], run.schema)
    out = run.predict_output(df)
    if task == "regression":
        audit = audit_arrays(y, out, gf, task="regression", metrics=wanted, n_boot=n_boot,
                             confidence=confidence, min_group_size=min_group_size, seed=seed)
    else:
        k = _positive_index(run, positive_class)
        audit = audit_arrays((y == k).astype(int), (out.argmax(axis=1) == k).astype(int), gf,
                             score=out[:, k], metrics=wanted, n_boot=n_boot, confidence=confidence,
                             min_group_size=min_group_size, seed=seed)
        audit.positive_class = run.classes[k]
        audit.threshold = f"predicted label (argmax of probabilities) == {run.classes[k]!r}"
    audit.warnings[:0] = notes
    if proxies:
        from assay.fairness.proxies import find_proxies

        audit.proxies = find_proxies(run.features(df), gf, seed=seed)
    return audit


def audit_arrays(y, pred, groups: pd.DataFrame, *, task: str = "binary", score=None, metrics=None,
                 n_boot: int = N_BOOT, confidence: float = 0.95, min_group_size: int = G.MIN_GROUP_SIZE,
                 seed: int = 0) -> FairnessAudit:
    """The audit of given predictions. Binary: `y` and `pred` are 0/1 (outcome, decision),
    `score` the positive class's score (for AUC); regression: values. `groups`: one column of
    string labels per sensitive attribute (see `assay.fairness.groups.group_frame`)."""
    if not isinstance(groups, pd.DataFrame):
        groups = pd.DataFrame({"group": G.labels(pd.Series(groups))})
    wanted = _check_metrics(metrics, task)
    if score is None and "auc" in wanted:
        wanted = [m for m in wanted if m != "auc"]
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    pred = np.asarray(pred)
    if task == "regression":
        res = _regression_audit(y, pred, groups, wanted, rng, n_boot, confidence, min_group_size)
    else:
        res = _classification_audit(y.astype(int), pred.astype(int),
                                    None if score is None else np.asarray(score, float), groups, wanted,
                                    rng, n_boot, confidence, min_group_size)
    overall, grp, disp = res
    notes = [f"{g['attribute']} = {g['group']!r} has {g['size']} row{'s' if g['size'] != 1 else ''} "
             f"(< {min_group_size}): its rates are shown with their intervals but not used in disparities"
             for g in grp if g["small"]]
    return FairnessAudit(task=task, sensitive=list(groups.columns), n_rows=len(y), confidence=confidence,
                         n_boot=n_boot, min_group_size=min_group_size, overall=overall, groups=grp,
                         disparities=disp, warnings=notes)


# ----------------------------------------------------------------------------- helpers


def _check_metrics(metrics, task: str) -> list[str]:
    allowed = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    if metrics is None:
        return list(allowed)
    ms = [m.strip().lower() for m in (metrics.split(",") if isinstance(metrics, str) else metrics)]
    for m in ms:
        if task == "regression" and m in CLASSIFICATION_METRICS:
            raise OptionError(f"metric {m!r} is for classification; this Run is a regression: "
                              f"use {', '.join(REGRESSION_METRICS)}")
        if m not in allowed:
            raise OptionError(f"unknown fairness metric {m!r}; choose from: {', '.join(allowed)}")
    return ms


def _positive_index(run, positive_class) -> int:
    classes = list(run.classes or [])
    if positive_class is None:
        if len(classes) == 2:
            return 1
        raise OptionError(f"this Run has {len(classes)} classes: pick the positive one with "
                          f"positive_class= (one of {', '.join(map(repr, classes[:20]))})")
    for i, c in enumerate(classes):
        if c == positive_class or str(c) == str(positive_class):
            return i
    raise OptionError(f"positive class {positive_class!r} is not a class of this Run "
                      f"({', '.join(map(repr, classes[:20]))})")


def _interval(reps: np.ndarray, confidence: float) -> tuple[float, float]:
    reps = np.asarray(reps, dtype=float)
    reps = reps[np.isfinite(reps)]
    if reps.size < 2:
        return float("nan"), float("nan")
    a = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(reps, [a, 100 - a])
    return float(lo), float(hi)


def _cell(value, reps, confidence) -> dict:
    lo, hi = _interval(reps, confidence)
    return {"value": float(value) if value is not None else float("nan"), "lo": lo, "hi": hi}


def _div(a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def rates_from_cells(c: np.ndarray) -> dict[str, np.ndarray]:
    """Rate metrics from confusion cells (..., 4) = TP, FP, FN, TN (NaN where undefined)."""
    tp, fp, fn, tn = (c[..., i].astype(float) for i in range(4))
    n = tp + fp + fn + tn
    return {"selection_rate": _div(tp + fp, n), "tpr": _div(tp, tp + fn), "fpr": _div(fp, fp + tn),
            "fnr": _div(fn, tp + fn), "precision": _div(tp, tp + fp), "accuracy": _div(tp + tn, n)}


def cells(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    y = np.asarray(y).astype(bool)
    yhat = np.asarray(yhat).astype(bool)
    return np.array([np.sum(y & yhat), np.sum(~y & yhat), np.sum(y & ~yhat), np.sum(~y & ~yhat)])


def bootstrap_cells(c: np.ndarray, n_boot: int, rng) -> np.ndarray:
    """Exact row-bootstrap of a group's confusion cells: (n_boot, 4) counts."""
    n = int(c.sum())
    if n == 0:
        return np.zeros((n_boot, 4), dtype=np.int64)
    return rng.multinomial(n, c / n, size=n_boot)


def _weight_chunks(n: int, n_boot: int, rng):
    """Multinomial row weights (a row bootstrap), `chunk x n` at a time."""
    step = max(1, min(n_boot, _CHUNK_CELLS // max(n, 1)))
    p = np.full(n, 1.0 / n)
    done = 0
    while done < n_boot:
        b = min(step, n_boot - done)
        yield rng.multinomial(n, p, size=b).astype(float)
        done += b


def weighted_auc(score: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """AUC (ties count one half) under row weights w (B, n) -> (B,)."""
    order = np.argsort(score, kind="mergesort")
    s, yy, ww = score[order], np.asarray(y)[order].astype(bool), w[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    wp = np.add.reduceat(ww * yy, starts, axis=1)
    wn = np.add.reduceat(ww * ~yy, starts, axis=1)
    below = np.cumsum(wn, axis=1) - wn
    num = np.sum(wp * (below + 0.5 * wn), axis=1)
    return _div(num, wp.sum(axis=1) * wn.sum(axis=1))


def bootstrap_auc(score, y, n_boot, rng) -> np.ndarray:
    n = len(y)
    if n == 0:
        return np.full(n_boot, np.nan)
    return np.concatenate([weighted_auc(score, y, w) for w in _weight_chunks(n, n_boot, rng)])


def _auc_point(score, y) -> float:
    return float(weighted_auc(np.asarray(score, float), y, np.ones((1, len(y))))[0])


def _metric_frame(metrics: dict, y_true, y_pred, groups) -> pd.DataFrame:
    """Fairlearn's MetricFrame by group (point estimates)."""
    import warnings

    from assay.errors import require

    require("fairlearn", "fairness")
    from fairlearn.metrics import MetricFrame

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # undefined rates (no positives in a group) -> NaN below
        mf = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred,
                         sensitive_features=pd.Series(groups, name="group"))
    return mf.by_group


def _fl_rate(name):
    from fairlearn.metrics import (
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    return {"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate,
            "fnr": false_negative_rate}.get(name)


def _precision(y_true, y_pred):
    from sklearn.metrics import precision_score

    return precision_score(y_true, y_pred, zero_division=np.nan)


def _accuracy(y_true, y_pred):
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def _classification_audit(y, yhat, score, gf, wanted, rng, n_boot, confidence, min_size):
    rate_ms = [m for m in wanted if m in RATE_METRICS or m == "accuracy"]
    want_auc = "auc" in wanted
    # overall
    c_all = cells(y, yhat)
    r_all = rates_from_cells(c_all)
    rb_all = rates_from_cells(bootstrap_cells(c_all, n_boot, rng))
    overall = {m: _cell(r_all[m], rb_all[m], confidence) for m in rate_ms}
    if want_auc:
        overall["auc"] = _cell(_auc_point(score, y), bootstrap_auc(score, y, n_boot, rng), confidence)
    groups, disparities = [], []
    for attr, lab in G.attributes(gf).items():
        fl = {m: (_fl_rate(m) or (_precision if m == "precision" else _accuracy)) for m in rate_ms}
        by = _metric_frame(fl, y, yhat, lab)
        if want_auc:
            auc_by = pd.Series({g: _auc_point(score[lab == g], y[lab == g])
                                for g in by.index}, name="auc")
        reps: dict[str, dict[str, np.ndarray]] = {}
        for g in by.index:
            m = lab == g
            cg = cells(y[m], yhat[m])
            point = rates_from_cells(cg)       # NaN where a rate is undefined in the group
            boot = rates_from_cells(bootstrap_cells(cg, n_boot, rng))
            ms = {}
            for name in rate_ms:
                v = by.loc[g, name] if np.isfinite(point[name]) else float("nan")
                ms[name] = _cell(v, boot[name], confidence)
            if want_auc:
                ab = bootstrap_auc(score[m], y[m], n_boot, rng)
                ms["auc"] = _cell(auc_by[g], ab, confidence)
            size = int(m.sum())
            groups.append({"attribute": attr, "group": str(g), "size": size, "small": size < min_size,
                           "positives": int(cg[0] + cg[2]), "metrics": ms})
            reps[str(g)] = boot
        disparities += _classification_disparities(attr, groups, reps, confidence, min_size)
    return overall, groups, disparities


def _spread(points: dict, reps: dict, name: str, used: list[str]):
    vals = np.array([points[g][name] for g in used], dtype=float)
    ok = np.isfinite(vals)
    use = [g for g, o in zip(used, ok) if o]
    if len(use) < 2:
        return float("nan"), np.full(1, np.nan), use
    value = float(np.nanmax(vals) - np.nanmin(vals))
    R = np.column_stack([reps[g][name] for g in use])
    with np.errstate(invalid="ignore"):
        rep = np.nanmax(R, axis=1) - np.nanmin(R, axis=1)
    return value, rep, use


def _classification_disparities(attr, groups, reps, confidence, min_size) -> list[dict]:
    mine = [g for g in groups if g["attribute"] == attr]
    used = [g["group"] for g in mine if not g["small"]]
    excluded = [f"{g['group']} (n={g['size']})" for g in mine if g["small"]]
    points = {g["group"]: {k: v["value"] for k, v in g["metrics"].items()} for g in mine}
    out = []

    def add(name, value, rep, use, note=""):
        estimable = len(use) >= 2 and np.isfinite(value)
        if not estimable:
            note = note or (f"cannot be estimated: {len(use)} group(s) with at least {min_size} rows "
                            f"and a defined rate")
            value = float("nan")
        lo, hi = _interval(rep, confidence) if estimable else (float("nan"), float("nan"))
        out.append({"attribute": attr, "name": name, "value": value, "lo": lo, "hi": hi,
                    "estimable": bool(estimable), "groups_used": use, "excluded": excluded, "note": note})

    has = set(next(iter(points.values()), {}))
    if "selection_rate" in has:
        v, rep, use = _spread(points, reps, "selection_rate", used)
        add("demographic_parity_difference", v, rep, use)
        if len(use) >= 2:
            vals = np.array([points[g]["selection_rate"] for g in use])
            R = np.column_stack([reps[g]["selection_rate"] for g in use])
            ratio = float(vals.min() / vals.max()) if vals.max() > 0 else float("nan")
            rrep = _div(R.min(axis=1), R.max(axis=1))
            add("demographic_parity_ratio", ratio, rrep, use)
        else:
            add("demographic_parity_ratio", float("nan"), rep, use)
    if "tpr" in has and "fpr" in has:
        vt, rt, ut = _spread(points, reps, "tpr", used)
        vf, rf, uf = _spread(points, reps, "fpr", used)
        use = [g for g in ut if g in uf]
        v = max(vt, vf) if len(use) >= 2 else float("nan")
        rep = np.fmax(rt, rf) if rt.shape == rf.shape else np.full(1, np.nan)
        add("equalized_odds_difference", v, rep, use)
    if "tpr" in has:
        v, rep, use = _spread(points, reps, "tpr", used)
        add("equal_opportunity_difference", v, rep, use)
    return out


def _regression_audit(y, pred, gf, wanted, rng, n_boot, confidence, min_size):
    from sklearn.metrics import mean_absolute_error

    y = np.asarray(y, dtype=float)
    pred = np.asarray(pred, dtype=float)
    err = pred - y
    cols = {"mean_prediction": pred, "mean_error": err, "mae": np.abs(err)}

    def boot(m):
        n = int(m.sum())
        reps = {k: [] for k in wanted}
        for w in _weight_chunks(n, n_boot, rng):
            for k in wanted:
                reps[k].append(w @ cols[k][m] / n)
        return {k: np.concatenate(v) for k, v in reps.items()}

    all_rows = np.ones(len(y), dtype=bool)
    b_all = boot(all_rows)
    overall = {k: _cell(cols[k].mean(), b_all[k], confidence) for k in wanted}
    fl = {"mean_prediction": lambda yt, yp: float(np.mean(yp)),
          "mean_error": lambda yt, yp: float(np.mean(np.asarray(yp) - np.asarray(yt))),
          "mae": mean_absolute_error}
    groups, disparities = [], []
    for attr, lab in G.attributes(gf).items():
        by = _metric_frame({k: fl[k] for k in wanted}, y, pred, lab)
        reps = {}
        for g in by.index:
            m = lab == g
            b = boot(m)
            size = int(m.sum())
            groups.append({"attribute": attr, "group": str(g), "size": size, "small": size < min_size,
                           "metrics": {k: _cell(by.loc[g, k], b[k], confidence) for k in wanted}})
            reps[str(g)] = b
        mine = [g for g in groups if g["attribute"] == attr]
        used = [g["group"] for g in mine if not g["small"]]
        excluded = [f"{g['group']} (n={g['size']})" for g in mine if g["small"]]
        points = {g["group"]: {k: v["value"] for k, v in g["metrics"].items()} for g in mine}
        for k in wanted:
            v, rep, use = _spread(points, reps, k, used)
            estimable = len(use) >= 2
            lo, hi = _interval(rep, confidence) if estimable else (float("nan"), float("nan"))
            disparities.append({"attribute": attr, "name": f"{k}_difference", "value": v if estimable else float("nan"),
                                "lo": lo, "hi": hi, "estimable": estimable, "groups_used": use,
                                "excluded": excluded,
                                "note": "" if estimable else f"cannot be estimated: fewer than 2 groups with "
                                                             f"at least {min_size} rows"})
    return overall, groups, disparities

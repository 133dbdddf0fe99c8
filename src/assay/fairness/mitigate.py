"""Mitigation: a new Run whose predictions satisfy a fairness constraint.

Methods (`method=`):

- "shift" (default, assay's own): one threshold per group on the ensemble's log-odds,
  fitted on the out-of-fold predictions the Run already holds (no refit; see
  `assay.fairness.shift`). Scores stay continuous. Needs the sensitive column at predict time.
- "threshold_optimizer": Fairlearn's ThresholdOptimizer (post-processing) fitted on the same
  out-of-fold scores. Its decisions are randomised; the Run's probabilities are those hard
  0/1 decisions (Fairlearn has no predict_proba). Needs the sensitive column at predict time.
- "exponentiated_gradient": Fairlearn's ExponentiatedGradient (reductions) around the
  configuration of the ensemble's strongest member whose family accepts sample weights,
  refitted on the training table (`data=`); its decisions are randomised too (the Run's
  probabilities are 0/1, seeded). Does not need the sensitive column at predict time.
- "reweighing": Kamiran & Calders weights P(g)P(y)/P(g,y) and every weight-accepting member
  refitted with them on the training table (`data=`); the sensitive column is not needed
  at predict time.

The sensitive values of the training rows come from the Run itself when it was fitted with
`--sensitive` (stored in oof.npz as `sensitive__<column>`), otherwise from `data=` (the
training table, checked to be the one the Run was fitted on).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from assay import log
from assay.errors import ColumnError, OptionError
from assay.fairness import groups as G

METHODS = ("shift", "threshold_optimizer", "exponentiated_gradient", "reweighing")
DEFAULT_TOLERANCE = 0.02
SENSITIVE_KEY = "sensitive__"       # oof.npz arrays: sensitive__<column> (labels of training rows)


# ----------------------------------------------------------------------------- wrapped model


class MitigatedModel:
    """Wraps a Run's final model (it is not changed) and applies the mitigation.

    `sensitive_columns`: the columns it reads at predict time (the Run attaches them to
    its features, see `Run._align`); empty for refitting methods.
    """

    def __init__(self, base, *, method: str, constraint: str, sensitive: list[str],
                 feature_names: list[str], thresholds: dict | None = None, postprocessor=None,
                 seed: int = 0):
        self.base, self.method, self.constraint = base, method, constraint
        self.sensitive = list(sensitive)
        self.feature_names = list(feature_names)
        self.thresholds = dict(thresholds or {})
        self.postprocessor = postprocessor
        self.seed = seed
        self.task, self.n_classes = "binary", 2

    @property
    def sensitive_columns(self) -> list[str]:
        return self.sensitive if self.method in ("shift", "threshold_optimizer") else []

    def describe(self) -> list[dict]:
        return self.base.describe() if hasattr(self.base, "describe") else []

    def _groups(self, X) -> np.ndarray:
        missing = [s for s in self.sensitive_columns if s not in X.columns]
        if missing:
            raise ColumnError(f"this Run was mitigated for fairness ({self.method}, {self.constraint}) and "
                              f"needs the sensitive column{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(repr(m) for m in missing)} at predict time; add "
                              f"{'them' if len(missing) > 1 else 'it'} to the rows to score")
        return G.intersect(pd.DataFrame({s: G.labels(X[s].reset_index(drop=True)) for s in self.sensitive}))

    def predict_margin(self, X) -> np.ndarray:
        if self.method != "shift":
            from assay.ensemble.space import to_margin

            return to_margin(self.predict_output(X), "binary")
        g = self._groups(X)
        m = self.base.predict_margin(X[self.feature_names])
        unseen = sorted(set(g) - set(self.thresholds))
        if unseen:
            log.warn(f"groups not seen when the mitigation was fitted keep the unmitigated threshold: "
                     f"{', '.join(unseen[:10])}")
        t = np.array([self.thresholds.get(v, 0.0) for v in g])
        return m - t

    def predict_output(self, X) -> np.ndarray:
        from assay.ensemble.space import from_margin

        if len(X) == 0:
            return np.zeros((0, 2))
        if self.method == "shift":
            return from_margin(self.predict_margin(X), "binary")
        if self.method == "threshold_optimizer":
            g = self._groups(X)
            p1 = self.base.predict_output(X[self.feature_names])[:, 1]
            lab = self.postprocessor.predict(pd.DataFrame({"score": p1}), sensitive_features=g,
                                             random_state=self.seed)
            lab = np.asarray(lab, dtype=float)
            return np.column_stack([1 - lab, lab])
        # exponentiated_gradient: the randomised mixture's decisions (its guarantee is for those)
        lab = np.asarray(self.postprocessor.predict(X[self.feature_names], random_state=self.seed), dtype=float)
        return np.column_stack([1 - lab, lab])


class _ScoreColumn(ClassifierMixin, BaseEstimator):
    """A fitted 'estimator' whose probability of class 1 is the input's `score` column: lets
    Fairlearn's ThresholdOptimizer (prefit) work on out-of-fold scores without a refit."""

    classes_ = np.array([0, 1])

    def fit(self, X, y=None):
        return self

    def predict_proba(self, X):
        p = np.asarray(X["score"] if isinstance(X, pd.DataFrame) else X[:, 0], dtype=float)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def __sklearn_is_fitted__(self):
        return True


# ----------------------------------------------------------------------------- training groups


def training_groups(run, sensitive: list[str], data=None) -> pd.DataFrame:
    """Sensitive labels of the Run's training rows (stored at fit, or read from `data`)."""
    arrays = run.oof()
    stored = {s: arrays.get(SENSITIVE_KEY + s) for s in sensitive}
    if data is None and all(v is not None for v in stored.values()):
        return pd.DataFrame({s: np.asarray(v).astype(str) for s, v in stored.items()})
    if data is None:
        lack = [s for s, v in stored.items() if v is None]
        raise OptionError(f"this Run holds no values of {', '.join(repr(s) for s in lack)} for its "
                          f"training rows (it was not fitted with --sensitive {','.join(lack)}); pass the "
                          "training table with --data")
    df = _training_table(run, data)
    G.check_columns(df, sensitive, "the training data")
    return G.group_frame(df, sensitive)


def _training_table(run, data) -> pd.DataFrame:
    from assay.data.io import read_table
    from assay.data.validate import encode_target

    df = read_table(data, what="training data")
    target = run.schema.target
    if target not in df.columns:
        raise ColumnError(f"the training data has no target column '{target}'; pass the table the "
                          "Run was fitted on")
    df = df.loc[df[target].notna()].reset_index(drop=True)
    y = run.oof().get("y")
    ok = y is not None and len(df) == len(y)
    if ok:
        try:
            ok = bool(np.array_equal(encode_target(df[target], run.schema), y))
        except Exception:
            ok = False
    if not ok:
        raise ColumnError(f"the data given ({len(df)} rows with a target) is not the table this Run was "
                          f"fitted on ({run.meta.get('n_rows')} rows): mitigation needs the training rows "
                          "in their original order")
    return df


def _fit_groups(labels: np.ndarray, y: np.ndarray, min_size: int) -> tuple[list[str], list[str]]:
    fit, small = [], []
    for g in sorted(str(v) for v in set(labels)):
        m = labels == g
        n, npos = int(m.sum()), int(y[m].sum())
        if n >= min_size and npos >= 5 and n - npos >= 5:
            fit.append(g)
        else:
            small.append(f"{g} (n={n}, positives={npos})")
    return fit, small


# ----------------------------------------------------------------------------- public


def mitigate(run, constraint: str, sensitive=None, *, data=None, method: str = "shift",
             tolerance: float | None = None, min_group_size: int = G.MIN_GROUP_SIZE,
             out=None, overwrite: bool = False, seed: int = 0):
    """A new Run whose predictions are mitigated for `constraint` over the groups of
    `sensitive` (their intersection when several). `tolerance`: the largest difference
    allowed on the out-of-fold predictions (default 0.02). Saved to `out` if given."""
    from assay import store
    from assay.run import Run

    G.check_classification(run.task, f"the fairness constraint {constraint!r}")
    c = G.parse_constraint(constraint)
    if method not in METHODS:
        raise OptionError(f"unknown mitigation method {method!r}; choose from: {', '.join(METHODS)}")
    if isinstance(run.model, MitigatedModel):
        raise OptionError("this Run is already mitigated; mitigate the Run it came from")
    sens = G.sensitive_list(sensitive) or list(run.meta.get("sensitive") or [])
    if not sens:
        raise OptionError("name the sensitive columns (e.g. --sensitive sex); this Run was fitted without "
                          "--sensitive, so it has no default")
    bound = c.bound if c.bound is not None else (DEFAULT_TOLERANCE if tolerance is None else tolerance)
    if tolerance is not None:
        bound = tolerance
    if out is not None:
        store.check_writable_target(out, overwrite)
    t0 = time.monotonic()
    arrays = run.oof()
    if "ensemble" not in arrays or "rows" not in arrays:
        raise OptionError("this Run has no out-of-fold predictions (oof.npz); refit it with this assay")
    gf = training_groups(run, sens, data)
    labels_all = G.intersect(gf)
    rows = np.asarray(arrays["rows"])
    y = np.asarray(arrays["y"])[rows].astype(int)
    p1 = np.asarray(arrays["ensemble"], dtype=float)[:, 1]
    labels = labels_all[rows]
    fit_groups, small = _fit_groups(labels, y, min_group_size)
    if len(fit_groups) < 2:
        raise OptionError(f"fewer than two groups of {', '.join(sens)} have at least {min_group_size} "
                          f"training rows with both outcomes; nothing to equalise ({', '.join(small)})")
    info = {"method": method, "constraint": c.name, "tolerance": bound, "sensitive": sens,
            "groups_fitted": fit_groups, "groups_not_fitted": small,
            "parent_run": Path(run.path).name if run.path else None}
    if small:
        info["note"] = ("groups too small to estimate their rates keep the unmitigated threshold; "
                        "their gap cannot be estimated: " + ", ".join(small))
    if method == "shift":
        from assay.ensemble.space import to_margin
        from assay.fairness.shift import fit_thresholds

        margin = to_margin(np.column_stack([1 - p1, p1]), "binary")
        thr, summ = fit_thresholds(margin, y, labels, c.name, bound, fit_groups)
        thr.update({str(g): 0.0 for g in set(labels) if str(g) not in thr})   # too small: unmitigated
        model = MitigatedModel(run.model, method=method, constraint=c.name, sensitive=sens,
                               feature_names=run.schema.feature_names, thresholds=thr, seed=seed)
        t = np.array([thr.get(v, 0.0) for v in labels])
        new_oof = np.column_stack([1 - _sigmoid(margin - t), _sigmoid(margin - t)])
        info.update(thresholds=thr, oof=summ)
        if summ["disparity_after"] > bound + 1e-9:
            info["bound_met"] = False
            info["note"] = (f"{c.name} <= {bound:g} cannot be reached on the out-of-fold predictions with one "
                            f"threshold per group; the smallest disparity found ({summ['disparity_after']:.4f}) "
                            f"is used. " + info.get("note", "")).strip()
        else:
            info["bound_met"] = True
    elif method == "threshold_optimizer":
        model, new_oof = _threshold_optimizer(run, c, sens, p1, y, labels, fit_groups, seed)
    else:
        X, yy, w_groups = _refit_inputs(run, data, sens)
        if method == "exponentiated_gradient":
            model = _exponentiated_gradient(run, c, sens, X, yy, w_groups, bound, seed)
        else:
            model = _reweighed(run, X, yy, w_groups)
        new_oof = None
        info["note"] = (info.get("note", "") + " refitted on all training rows: the out-of-fold "
                        "predictions below are the parent's").strip()
    if method in POST_PROCESSING and _refit_members(run.model):
        info["note"] = (info.get("note", "") + " " + REFIT_NOTE).strip()
    elapsed = time.monotonic() - t0
    meta = _new_meta(run, info, elapsed, new_oof, y, labels, fit_groups, c.name, p1)
    new_arrays = dict(arrays)
    if new_oof is not None:
        new_arrays["ensemble_unmitigated"] = arrays["ensemble"]
        new_arrays["ensemble"] = new_oof.astype(np.float32)
    for s in sens:
        new_arrays[SENSITIVE_KEY + s] = gf[s].to_numpy(dtype=str)
    db = str(run.path / store.TRIALS_DB) if run.path is not None else run._trials_db
    new = Run(schema=run.schema, model=model, leaderboard=run.leaderboard(), meta=meta,
              trials_db=db, arrays=new_arrays)
    if out is not None:
        new.save(out, overwrite=overwrite)
    return new


POST_PROCESSING = ("shift", "threshold_optimizer")   # fitted on the parent's out-of-fold scores
REFIT_NOTE = ("the thresholds were fitted on out-of-fold scores, but members refit on all rows "
              "predict: their scores are more confident than those, so the disparity on new rows "
              "can exceed the tolerance by more than sampling noise; to predict with the models "
              "that produced the out-of-fold scores, fit with --refit folds")


def _refit_members(model) -> list[str]:
    """Members of an ensemble that predict with a refit on all rows, not their fold models
    (the post-processing methods fit on the fold models' out-of-fold scores). On COMPAS,
    equalized odds at tolerance 0.02 (tests/fairness/test_fairness_run.py): the held-out
    difference was 0.067 [0.021, 0.128] with a refit LightGBM and 0.054 [0.012, 0.126] with
    its three fold models, from the same out-of-fold thresholds (fourteenth session)."""
    return [m.name for m in getattr(model, "members", []) if m.kind == "full"]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _new_meta(run, info, elapsed, new_oof, y, labels, fit_groups, cname, p1) -> dict:
    from assay.fairness.objective import disparity
    from assay.metrics import get_metric

    meta = dict(run.meta)
    meta.pop("candidates", None)   # the parent's single models are not mitigated: not offered here
    metric = get_metric(run.metric, run.task)
    mask = np.isin(labels, fit_groups)
    before = disparity(np.column_stack([1 - p1, p1]), y, labels, cname, groups=fit_groups)
    info["oof_before"] = {"disparity": before, run.metric: metric.value(y, np.column_stack([1 - p1, p1])),
                          "accuracy": float(np.mean((p1 >= 0.5) == y))}
    if new_oof is not None:
        info["oof_after"] = {"disparity": disparity(new_oof, y, labels, cname, groups=fit_groups),
                             run.metric: metric.value(y, new_oof),
                             "accuracy": float(np.mean(new_oof.argmax(axis=1) == y))}
        meta["cv_score"] = info["oof_after"][run.metric]
    info["rows_in_fitted_groups"] = int(mask.sum())
    info["seconds"] = round(elapsed, 3)
    meta["mitigation"] = info
    meta["sensitive"] = info["sensitive"]
    meta["best_model"] = f"{meta.get('best_model', 'ensemble')} + {info['method']} ({cname})"
    meta["timings"] = {**meta.get("timings", {}), "mitigation": round(elapsed, 3)}
    return meta


def _threshold_optimizer(run, c, sens, p1, y, labels, fit_groups, seed):
    from assay.errors import require

    require("fairlearn", "fairness")
    from fairlearn.postprocessing import ThresholdOptimizer

    keep = np.isin(labels, fit_groups)
    to = ThresholdOptimizer(estimator=_ScoreColumn(), constraints=_fl_constraint_name(c.name),
                            objective="accuracy_score", prefit=True, predict_method="predict_proba")
    to.fit(pd.DataFrame({"score": p1[keep]}), y[keep], sensitive_features=labels[keep])
    model = MitigatedModel(run.model, method="threshold_optimizer", constraint=c.name, sensitive=sens,
                           feature_names=run.schema.feature_names, postprocessor=to, seed=seed)
    lab = np.asarray(to.predict(pd.DataFrame({"score": p1}), sensitive_features=labels,
                                random_state=seed), dtype=float) if keep.all() else None
    new_oof = None if lab is None else np.column_stack([1 - lab, lab])
    return model, new_oof


def _fl_constraint_name(name: str) -> str:
    return {"demographic_parity": "demographic_parity", "equalized_odds": "equalized_odds",
            "equal_opportunity": "true_positive_rate_parity"}[name]


def _refit_inputs(run, data, sens):
    from assay.data.validate import encode_target

    if data is None:
        raise OptionError("exponentiated_gradient and reweighing refit models: pass the training table "
                          "with --data")
    df = _training_table(run, data)
    gf = G.group_frame(df, sens)
    X = run.features(df.drop(columns=[run.schema.target]))
    return X[run.schema.feature_names], encode_target(df[run.schema.target], run.schema), G.intersect(gf)


def _weighted_members(run):
    from assay.models.registry import get_family

    out = []
    for m in getattr(run.model, "members", []):
        try:
            fam = get_family(m.family)
        except Exception:
            continue
        if fam.capabilities.sample_weight:
            out.append((m, fam))
    if not out:
        raise OptionError("no member of this Run's ensemble accepts sample weights; use --method shift "
                          "or threshold_optimizer")
    return out


def _problem_info(run, n_rows, seed):
    from assay.models.base import ProblemInfo

    extra = {"monotone": run.meta["config"]["monotone"]} if run.meta.get("config", {}).get("monotone") else {}
    return ProblemInfo(schema=run.schema, n_rows=n_rows, seed=seed, n_jobs=run.meta.get("config", {}).get("n_jobs") or 1,
                       extra=extra)


def _weight_param(est) -> str:
    return f"{est.steps[-1][0]}__sample_weight" if hasattr(est, "steps") else "sample_weight"


def _exponentiated_gradient(run, c, sens, X, y, g, bound, seed):
    from assay.errors import require

    require("fairlearn", "fairness")
    from fairlearn.reductions import (
        DemographicParity,
        EqualizedOdds,
        ExponentiatedGradient,
        TruePositiveRateParity,
    )

    member, fam = max(_weighted_members(run), key=lambda mf: mf[0].weight)
    est = fam.build(dict(member.params), _problem_info(run, len(y), seed))
    cons = {"demographic_parity": DemographicParity, "equalized_odds": EqualizedOdds,
            "equal_opportunity": TruePositiveRateParity}[c.name](difference_bound=bound)
    eg = ExponentiatedGradient(est, constraints=cons, sample_weight_name=_weight_param(est))
    eg.fit(X, y, sensitive_features=g)
    return MitigatedModel(run.model, method="exponentiated_gradient", constraint=c.name, sensitive=sens,
                          feature_names=run.schema.feature_names, postprocessor=eg, seed=seed)


def reweighing_weights(y: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Kamiran & Calders: w(g, y) = P(g) P(y) / P(g, y), so group and outcome look independent."""
    df = pd.DataFrame({"g": g, "y": y})
    n = len(df)
    pg = df["g"].map(df["g"].value_counts() / n)
    py = df["y"].map(df["y"].value_counts() / n)
    pgy = df.groupby(["g", "y"])["y"].transform("size") / n
    return (pg * py / pgy).to_numpy(dtype=float)


def _reweighed(run, X, y, g):
    from assay.ensemble.model import EnsembleModel, Member

    w = reweighing_weights(y, g)
    members = []
    for m, fam in _weighted_members(run):
        est = fam.build(dict(m.params), _problem_info(run, len(y), run.meta.get("seed", 0)))
        est.fit(X, y, **{_weight_param(est): w})
        members.append(Member(m.trial_id, m.family, m.params, m.weight, [est], "full"))
    total = sum(m.weight for m in members)
    for m in members:
        m.weight = m.weight / total
    return EnsembleModel(run.task, len(run.classes), members)

"""From search records to the final model: select members greedily on
out-of-fold predictions, then refit them on all rows where the budget allows
(otherwise, and always on small data, keep their fold models, which a family
may thin: forests keep 1/k of each fold's trees, one forest's worth per k-fold split)."""

from __future__ import annotations

import os
import pickle

import numpy as np

from assay import log
from assay.ensemble.model import EnsembleModel, Member
from assay.ensemble.selection import greedy_selection, prune_for_speed
from assay.ensemble.space import from_margin, to_margin
from assay.ensemble.stacking import STACKER_FAMILY
from assay.models._common import stopped_by_time
from assay.models.registry import get_family
from assay.search.records import TrialRecord
from assay.search.trial import validated_rows


COST_ROWS = 1000   # speed-aware pruning compares members by their estimated time to score this many rows


def select_members(candidates: list[TrialRecord], y: np.ndarray, metric, task: str,
                   n_rounds: int, tolerance: float = 0.0, *, bagged: bool = False,
                   n_folds: int = 5) -> tuple[dict[int, float], float, np.ndarray]:
    """Weights by trial id, the ensemble's out-of-fold metric value, and its out-of-fold
    predictions on the validated rows. With a `tolerance`, members that slow prediction
    down but add less than that (relative) to the out-of-fold score are dropped, the
    costliest first (`prune_for_speed`; costs from `member_costs`, where `bagged` says that
    the final members will be their fold models and `n_folds` how many make one split)."""
    cands = sorted(candidates, key=lambda r: -r.score)
    mask = validated_rows(cands[0].oof)
    margins = [to_margin(r.oof[mask], task) for r in cands]
    w = greedy_selection(margins, y[mask], metric, task, n_rounds=n_rounds)
    if tolerance > 0:
        costs = member_costs(cands, bagged=bagged, n_folds=n_folds)
        w = prune_for_speed(margins, w, costs, y[mask], metric, task, tolerance)
    weights = {r.trial_id: float(wi) for r, wi in zip(cands, w) if wi > 0}
    combined = sum(wi * m for wi, m in zip(w, margins) if wi > 0)
    oof = from_margin(combined, task)
    value = metric.value(y[mask], oof)
    return weights, value, oof


def member_costs(cands: list[TrialRecord], *, bagged: bool, n_folds: int, rows: int = COST_ROWS) -> np.ndarray:
    """Each candidate's estimated seconds to score `rows` rows as a final member: the
    structural estimate of one of its fitted models (`TrialRecord.predict_cost`, from
    `ModelFamily.predict_seconds`; the family's static constants for records without one),
    times one refit model, or its n_folds x repeats fold models where `bagged`
    (`ModelFamily.member_seconds`). Estimated, not timed: the same seed selects the same
    ensemble whatever the machine's load. A second layer costs its own fold models (as
    LightGBM's static constants) plus every base's fold models, which it scores on every call."""
    from assay.errors import OptionError
    from assay.models.base import ModelFamily

    def family_of(name: str):
        try:
            return get_family(name)
        except OptionError:          # the stacker: not a registered family
            return ModelFamily()

    def cost(r: TrialRecord, as_bag: bool) -> float:
        fam = family_of(r.family)
        call_s, row_s = getattr(r, "predict_cost", (np.nan, np.nan))   # absent in older records
        if not (np.isfinite(call_s) and np.isfinite(row_s)):
            call_s, row_s = fam.call_seconds, fam.row_seconds
        n_models = n_folds * max(1, r.repeats) if as_bag else 1
        return fam.member_seconds(call_s, row_s, n_models, n_folds, rows)

    by_name = {r.name: r for r in cands}
    out = []
    for r in cands:
        if r.family == STACKER_FAMILY:
            own = n_folds * (ModelFamily.call_seconds + rows * ModelFamily.row_seconds)
            out.append(own + sum(cost(by_name[b], True) if b in by_name else own
                                 for b in r.params.get("bases", [])))
        else:
            out.append(cost(r, bagged))
    return np.array(out)


def assemble(candidates: list[TrialRecord], weights: dict[int, float], *, task: str, n_classes: int,
             refit: str, budget, executor, info, data_path: str, workdir: str, n_folds: int) -> EnsembleModel:
    by_id = {r.trial_id: r for r in candidates}
    members = []
    for tid, w in sorted(weights.items(), key=lambda kv: -kv[1]):
        rec = by_id[tid]
        with open(rec.model_path, "rb") as fh:
            fold_models = pickle.load(fh)
        members.append(Member(tid, rec.family, rec.params, w, fold_models, "folds"))
    keep_bags = keeps_fold_models(refit, info.n_rows)
    for m in members:
        if m.family == STACKER_FAMILY:     # its bases and stackers are fold models by design
            continue
        if not keep_bags:
            _maybe_refit(m, by_id[m.trial_id], refit, budget, executor, info, data_path, workdir, n_folds)
        if m.kind == "folds":              # a kept bag, or the refit did not fit the budget
            m.estimators = get_family(m.family).thin_fold_models(m.estimators, per_split=n_folds)
    thin_by_weight(members)
    compile_members(members)
    return EnsembleModel(task, n_classes, members)


def compile_members(members: list[Member]) -> None:
    """Each member's models made ready to predict fast by their family
    (`ModelFamily.compile_member`: HistGradientBoosting's trees in one LightGBM Booster); a
    stacker's first-layer bases, which it scores on every call, the same way."""
    for m in members:
        if m.family == STACKER_FAMILY:
            for stacked in m.estimators:
                compile_members(stacked.bases)
        else:
            m.estimators = get_family(m.family).compile_member(m.estimators)


def thin_by_weight(members: list[Member]) -> None:
    """Shrink each member in proportion to its weight, for speed: a member whose weight is a
    share s of the top member's keeps about s of its averaged parts -- the fold models of a
    bag, the trees of a forest (`ModelFamily.thin_member`; boosters' trees are not
    independent, so a single booster stays whole). A part's sampling noise reaches the
    ensemble scaled by the member's weight squared: with s x n of n parts, a member's share
    of that noise, w^2 / (s n) = w x w_top / n, stays below the top member's own, w_top^2 / n.
    A forest at 7% of the top weight then costs 7% of its trees' time. Measured on the 60 s
    benchmark Runs of seed 1 (test split, `benchmarks/thin_members.py`): abalone's RMSE
    2.0449 -> 2.0445 while it predicts 2.2x faster (a 300-tree forest at weight 0.07 keeps
    40 trees); bank_marketing's AUC 0.8076 -> 0.8071, 1.5x faster; credit_g's 0.8328 ->
    0.8346, 1.9x faster (a LightGBM bag at weight 0.05 keeps 2 of its 15 fold models);
    default_credit_card's 0.7815 -> 0.7813, 1.3x faster; the other 8 unchanged."""
    top = max((m.weight for m in members), default=0.0)
    if top <= 0:
        return
    for m in members:
        if m.family == STACKER_FAMILY or m.weight >= top:
            continue
        m.estimators = get_family(m.family).thin_member(m.estimators, m.weight / top)


BAG_MAX_ROWS = 1200   # at most this many training rows, refit="auto" keeps the fold models


def keeps_fold_models(refit: str, n_rows: int) -> bool:
    """Whether the final members stay their cross-validation fold models (a bag) instead
    of being refit on all rows: always with refit="folds"; with "auto" on small data.
    There the k fold models averaged beat one model refit on all rows: each sees (k-1)/k of
    the rows, but averaging k of them cuts the variance that dominates at a few hundred
    rows. Measured at 60 s, seed 0, test split, `--refit full` vs `--refit folds`:
    titanic (668 rows) AUC 0.831 vs 0.844, cmc (1,105) log loss 0.890 vs 0.884; above the
    line the refit wins: car (1,296) 0.0074 vs 0.0077, segment (1,732) 0.034 vs 0.042,
    life_expectancy (2,196) RMSE 1.713 vs 1.726. On credit_g (750) every member's refit
    scored below its 5 averaged fold models (HistGradientBoosting 0.791 vs 0.811, CatBoost
    0.797 vs 0.819, k-NN 0.777 vs 0.794). It also leaves the finishing phase nothing to refit."""
    return refit == "folds" or (refit == "auto" and n_rows <= BAG_MAX_ROWS)


def _maybe_refit(member: Member, rec: TrialRecord, refit: str, budget, executor, info,
                 data_path: str, workdir: str, n_folds: int) -> None:
    from assay.search.budget import full_rows_ratio, refit_seconds
    from assay.search.trial import fit_full

    estimate = refit_seconds(rec.fit_seconds, len(member.estimators), n_folds)
    left = budget.finish_left()
    if refit == "auto" and estimate > left:
        log.debug(f"keeping the fold models of {member.name}: refit needs ~{estimate:.1f}s, {left:.1f}s left")
        return
    path = os.path.join(workdir, f"full_{member.trial_id}.pkl")
    timeout = None if left == float("inf") else max(left, 0.5)
    params = get_family(member.family).refit_params(member.params, member.estimators,
                                                    row_ratio=full_rows_ratio(n_folds))
    res = executor.run(fit_full, (member.family, params, info, data_path, path,
                                  None if timeout is None else 0.9 * timeout - 0.5), timeout=timeout)
    if res.ok:
        with open(path, "rb") as fh:
            full = pickle.load(fh)
        os.remove(path)
        if refit == "auto" and stopped_by_time(full) and not all(stopped_by_time(m) for m in member.estimators):
            # the budget cut the refit short where cross-validation's fits were not: it is not
            # the model the out-of-fold score (and the selection) vouched for
            log.debug(f"the refit of {member.name} was cut short by the time left; keeping its fold models")
            return
        member.estimators = [full]
        member.kind = "full"
    else:
        log.debug(f"refit of {member.name} {res.status}: {res.error}; keeping its fold models")


class ConstantModel:
    """The class prior or the mean: the model returned when nothing else finished."""

    def __init__(self, task: str, n_classes: int):
        self.task, self.n_classes = task, n_classes

    def fit(self, X, y):
        if self.task == "regression":
            self.value_ = float(np.mean(y))
        else:
            counts = np.bincount(np.asarray(y, dtype=int), minlength=self.n_classes) + 1e-3
            self.proba_ = counts / counts.sum()
        return self

    def predict(self, X):
        return np.full(len(X), self.value_)

    def predict_proba(self, X):
        return np.tile(self.proba_, (len(X), 1))


def baseline_model(y: np.ndarray, task: str, n_classes: int) -> EnsembleModel:
    est = ConstantModel(task, n_classes).fit(None, y)
    return EnsembleModel(task, n_classes, [Member(-1, "baseline", {}, 1.0, [est], "full")])

"""Repeated k-fold bagging: more fold splits for the ensemble's members.

On small data the final members are their cross-validation fold models averaged (a bag,
`ensemble.build.keeps_fold_models`), and the variance of those few-hundred-row fits is
what limits accuracy. After the search, each member of a first greedy selection is
cross-validated again on fresh k-fold splits (seeds `seed + SEED_STEP * r`): its fold
models join the bag (k x splits models) and its out-of-fold prediction becomes the mean
over the splits (in margin space, as the bag predicts) -- still out of fold for every row,
and less noisy for the selection and the stacker that follow. Breadth first (every
member's second split, then third ...), the heaviest member first, each only while the
time its earlier splits took still fits.

With `bag_repeats` None ("auto") the search plans repeats for binary tasks where the members
keep their fold models, under a time limit, and leaves `REPEAT_SHARE` of the limit for them; an explicit
`bag_repeats` > 1 asks for that many splits whatever the data size.
"""

from __future__ import annotations

import os
import pickle

from assay import log
from assay.compute.executor import OK
from assay.ensemble.space import from_margin, to_margin
from assay.search.records import TrialRecord
from assay.search.trial import TrialSpec, evaluate, validated_rows

AUTO_SPLITS = 3       # fold splits per member (the search's own included) with bag_repeats "auto"
REPEAT_SHARE = 0.2    # of the time limit the search leaves for repeats when they are planned
AUTO_TASK = "binary"   # the task "auto" repeats (measured in `planned_splits`)
SEED_STEP = 7919      # split seeds: seed + SEED_STEP * r, far from seeds users pick next to each other


def planned_splits(config, n_rows: int, n_folds: int, task: str) -> int:
    """Fold splits per ensemble member (1 = no repeats) for this fit. "auto" repeats binary
    tasks only: at 60 s, 3 splits against 1 (test split, seeds 0 and 1, `--bag-repeats 3`
    vs `1`) raised AUC on credit_g (+0.008, +0.003) and titanic (+0.005, +0.009), but
    worsened multiclass log loss on vehicle (+1.4%, +2.1%) and cmc at seed 1 (+0.7%; -0.4% at
    seed 0), where the MLP that dominates got only a second split in the time left. Regression,
    on 1,000-row samples of abalone and life_expectancy's training splits, was mixed (RMSE
    +0.4% and -0.5% on abalone, +0.3% and -1.0% on life_expectancy), so it stays at 1 too."""
    from assay.ensemble.build import keeps_fold_models

    if n_folds < 2 or config.fairness is not None:
        return 1
    if config.bag_repeats is not None:
        return int(config.bag_repeats)
    if config.time_limit is None or task != AUTO_TASK or not keeps_fold_models(config.refit, n_rows):
        return 1
    return AUTO_SPLITS


def repeated_bagging(leaderboard) -> bool:
    """Whether some trial of a leaderboard was cross-validated on more than one split (its
    `splits` column is then worth showing)."""
    return "splits" in leaderboard and bool((leaderboard["splits"].fillna(1) > 1).any())


def repeat_members(members: list[TrialRecord], *, splits: int, y, search) -> int:
    """Cross-validate `members` (heaviest first) on `splits - 1` more fold splits of the
    search's fold count, merging each into the record in place (`oof`, `value`, `score`,
    `fit_seconds`, fold models). Returns how many extra splits were fitted."""
    from assay.data.split import make_folds

    done = 0
    for r in range(1, splits):
        folds = make_folds(y, search.info.task, seed=search.config.seed + SEED_STEP * r,
                           n_folds=len(search.folds))
        for rec in members:
            if rec.repeats != r:           # a member whose earlier split did not fit stays behind
                continue
            per_split = rec.elapsed / rec.repeats
            left = search.budget.search_left(with_repeats=True)
            if per_split * 1.2 + 0.5 > left:
                log.debug(f"no split {r + 1} for {rec.name}: it needs ~{per_split:.1f}s, {left:.1f}s left")
                continue
            if _fit_split(rec, folds, r, y, search, timeout=None if left == float("inf") else left):
                done += 1
    return done


def _fit_split(rec: TrialRecord, folds, r: int, y, search, timeout: float | None) -> bool:
    path = os.path.join(search.models_dir, f"trial_{rec.trial_id}_split{r}.pkl")
    spec = TrialSpec(rec.trial_id, rec.family, rec.params, search.info, search.metric.name, search.data_path,
                     folds, path, time_budget=None if timeout is None else max(0.3, 0.9 * timeout - 0.5))
    search.progress.trial_started(rec.trial_id, rec.family)
    res = search.executor.run(evaluate, (spec,), timeout=timeout, memory_limit_mb=search.memory_limit)
    if res.status != OK:
        log.debug(f"split {r + 1} of {rec.name} {res.status}: {res.error}")
        return False
    out = res.value
    n = rec.repeats
    # the mean in margin space, as the bag's fold models are averaged when it predicts
    task = search.info.task
    oof = from_margin((to_margin(rec.oof, task) * n + to_margin(out.oof, task)) / (n + 1), task)
    with open(rec.model_path, "rb") as fh:
        models = pickle.load(fh)
    with open(path, "rb") as fh:
        models += pickle.load(fh)
    with open(rec.model_path, "wb") as fh:
        pickle.dump(models, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.remove(path)
    mask = validated_rows(oof)
    value = search.metric.value(y[mask], oof[mask])
    rec.oof, rec.repeats = oof, n + 1
    rec.value, rec.score = value, value if search.metric.greater_is_better else -value
    rec.fit_seconds += out.fit_seconds
    rec.elapsed += res.elapsed
    return True

"""The search: each family's default configurations first (cheapest first), then
Optuna (TPE or random) over families and their spaces, every trial
cross-validated in an isolated worker under the budget."""

from __future__ import annotations

import os
import pickle
import warnings
from dataclasses import dataclass

import numpy as np

from assay import log
from assay.compute.executor import OK, Executor, default_memory_limit_mb
from assay.config import FitConfig
from assay.metrics import Metric
from assay.models.base import ModelFamily, ProblemInfo
from assay.search.budget import Budget, refit_seconds
from assay.search.records import TrialRecord, best_per_family
from assay.search.trial import SUBSAMPLE_FRACTION, TrialSpec, evaluate, pruning_steps

TRIAL_SHARE = 0.4     # most of the time limit one trial may use (unless trial_time_limit is set)
KEEP_TOP = 10          # trials whose fold models are kept as ensemble candidates (plus best per family)
FINISH_MEMBERS = 4     # finishing estimate: refits of the best trial of this many families
FINISH_FIXED_S = 3.0   # finishing estimate: selection, compiling, kept models, writing the Run
STACK_FACTOR = 2.0     # finishing estimate: the stacker, as this many times a LightGBM trial


@dataclass
class SearchResult:
    records: list[TrialRecord]
    folds: list
    interrupted: bool = False

    @property
    def successful(self) -> list[TrialRecord]:
        return [r for r in self.records if r.ok]

    def candidates(self) -> list[TrialRecord]:
        return [r for r in self.successful if r.oof is not None and r.model_path]

    def oof_arrays(self) -> dict:
        """Out-of-fold predictions of every successful trial, by name (saved in the Run)."""
        return {f"trial_{r.trial_id}": r.oof.astype(np.float32) for r in self.successful
                if r.oof is not None}


def _make_sampler(config: FitConfig):
    import optuna

    if config.search == "random":
        return optuna.samplers.RandomSampler(seed=config.seed)
    if config.search == "cmaes":
        from assay.errors import require

        require("cmaes", "all")
        # CMA-ES models the numeric parameters of one family at a time; the family choice
        # and categorical parameters fall back to independent (random) sampling
        return optuna.samplers.CmaEsSampler(seed=config.seed, warn_independent_sampling=False,
                                            consider_pruned_trials=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # multivariate/group are flagged experimental
        return optuna.samplers.TPESampler(seed=config.seed, multivariate=True, group=True,
                                          n_startup_trials=5, constant_liar=False)


def _default_queue(families: list[ModelFamily], info: ProblemInfo) -> list[tuple[str, dict]]:
    """The configurations tried before the model-based search: first every family's
    `reference_configs` (a library's own defaults: cheap, and what users measure against),
    then a round-robin over the families in registry order (strongest per second first)
    of their other first configurations: every family's first, then every second, ...
    Right after the first reference (LightGBM's defaults, the strongest and cheapest): the
    first configuration of each family that leads on this problem (`ModelFamily.leads_search`:
    the MLP with many classes), ahead of the slower references. Measured at 60 s: on letter
    (26 classes) after all references the MLP had 4 s left (out-of-fold log loss 1.27; test
    0.073 for the ensemble), after LightGBM's defaults 20 s (0.107; test 0.060). Ahead of
    every reference, on kddcup99 (23 classes, 494k rows) it took 24 s and left LightGBM's
    defaults 7 s (out-of-fold 0.0186, against 0.0006 with their full 18 s).

    The references come first as a group, rather than as each family's first turn, so that
    a family's best portfolio configuration is not queued behind every other family's: on
    bike_sharing_hourly at 60 s LightGBM's first portfolio configuration (the best single
    model there) used to run last, after extra trees, random forest and the MLP, with the
    1 s the budget had left."""
    refs = [(f, f.reference_configs(info)) for f in families]
    # first_configs puts the family's references first: the rest follows them
    per_family = [(f.name, f.first_configs(info)[len(r):]) for f, r in refs]
    # a family that leads on this problem (`ModelFamily.leads_search`) runs its first
    # configuration right after the first reference
    leads = [(name, cfgs.pop(0)) for (f, _), (name, cfgs) in zip(refs, per_family)
             if cfgs and f.leads_search(info)]
    references = [(f.name, c) for f, r in refs for c in r]
    queue = references[:1] + leads + references[1:]
    for i in range(max((len(c) for _, c in per_family), default=0)):
        queue += [(name, cfgs[i]) for name, cfgs in per_family if i < len(cfgs)]
    return queue


def _with_imbalance(trial, family: ModelFamily, info: ProblemInfo, params: dict) -> dict:
    """Add the class-imbalance strategy to a sampled configuration (search/imbalance.py)."""
    from assay.search.imbalance import PARAM, choices

    options = choices(family, info)
    if len(options) > 1:
        params = {**params, PARAM: trial.suggest_categorical(f"{family.name}.{PARAM}", options)}
    return params


class Search:
    def __init__(self, *, families, info: ProblemInfo, metric: Metric, config: FitConfig,
                 budget: Budget, executor: Executor, workdir: str, folds, progress,
                 fairness=None):
        # fairness: an assay.fairness.objective.SearchObjective (fit --fairness) or None; with
        # it the study is multi-objective (NSGA-II over metric and out-of-fold disparity)
        self.fairness = fairness
        if info.extra.get("monotone"):   # constraints reach families in info.extra; only capable ones search
            families = [f for f in families if f.capabilities.monotone]
        self.families = {f.name: f for f in families}
        self.info, self.metric, self.config = info, metric, config
        self.budget, self.executor, self.workdir = budget, executor, workdir
        self.folds, self.progress = folds, progress
        self.records: list[TrialRecord] = []
        self.data_path = os.path.join(workdir, "_train.pkl")
        self.models_dir = os.path.join(workdir, "models", "trials")
        os.makedirs(self.models_dir, exist_ok=True)
        self.memory_limit = config.memory_limit_mb or default_memory_limit_mb()

    # -- public -----------------------------------------------------------
    def run(self, X, y) -> SearchResult:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        with open(self.data_path, "wb") as fh:
            pickle.dump((X, y), fh, protocol=pickle.HIGHEST_PROTOCOL)
        storage = f"sqlite:///{os.path.join(self.workdir, 'trials.db')}"
        objectives = (self.fairness.study_args(self.config.seed) if self.fairness is not None
                      else {"direction": "maximize", "sampler": _make_sampler(self.config),
                            "pruner": make_pruner(self.config.pruner, pruning_steps(self.folds, self.config.pruner))})
        self._storage = storage if self.fairness is None else None   # no pruning multi-objective
        study = optuna.create_study(study_name="assay", storage=storage, load_if_exists=True,
                                    **objectives)
        queue = _default_queue(list(self.families.values()), self.info)
        names = list(self.families)
        interrupted = False
        try:
            while not self._should_stop():
                if queue:
                    family_name, params = queue.pop(0)
                    study.enqueue_trial({"family": family_name}, skip_if_exists=False)
                    trial = study.ask()
                    trial.suggest_categorical("family", names)
                    trial.set_user_attr("source", "default")
                    source = "default"
                else:
                    trial = study.ask()
                    family_name = trial.suggest_categorical("family", names)
                    params = self.families[family_name].search_space(trial, self.info)
                    params = _with_imbalance(trial, self.families[family_name], self.info, params)
                    source = self.config.search
                record = self._evaluate(trial.number, family_name, params, source, trial._trial_id)
                trial.set_user_attr("params", params)
                trial.set_user_attr("status", record.status)
                if record.ok:
                    study.tell(trial, record.score if self.fairness is None
                               else self.fairness.values(record))
                elif record.status == PRUNED:
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                else:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                self.records.append(record)
                self._prune_models()
                self.budget.finish_estimate = finish_estimate(self.records, len(self.folds),
                                                              self._plans_stacking())
                self.progress.trial_done(record, self.best())
        except KeyboardInterrupt:
            interrupted = True
            log.warn("interrupted: keeping the trials that finished")
        return SearchResult(self.records, self.folds, interrupted)

    def best(self) -> TrialRecord | None:
        ok = [r for r in self.records if r.ok]
        return max(ok, key=lambda r: r.score) if ok else None

    # -- internals --------------------------------------------------------
    def _should_stop(self) -> bool:
        if self.config.max_trials is not None and len(self.records) >= self.config.max_trials:
            return True
        return self.budget.search_left() < 0.5

    def _plans_stacking(self) -> bool:
        from assay.ensemble.stacking import use_stacking

        return len(self.folds) >= 2 and use_stacking(self.config, len({r.family for r in self.records if r.ok}))

    def _evaluate(self, trial_id: int, family: str, params: dict, source: str,
                  study_trial_id: int | None = None) -> TrialRecord:
        timeout = self.budget.search_left()
        if self.config.trial_time_limit:
            timeout = min(timeout, self.config.trial_time_limit)
        elif self.config.time_limit:
            # no single trial may take most of the budget: slow families fit what they can
            timeout = min(timeout, max(5.0, TRIAL_SHARE * self.config.time_limit))
        timeout = None if timeout == float("inf") else max(timeout, 0.5)
        spec = TrialSpec(trial_id, family, params, self.info, self.metric.name, self.data_path,
                         self.folds, os.path.join(self.models_dir, f"trial_{trial_id}.pkl"),
                         time_budget=None if timeout is None else max(0.3, 0.9 * timeout - 0.5),
                         pruning=None if source == "default" else self._pruning(study_trial_id))
        self.progress.trial_started(trial_id, family)
        estimate = self._estimate_memory(family, params)
        if estimate > self.memory_limit:
            return TrialRecord(trial_id, family, params, source, "memory", peak_rss_mb=estimate,
                               error=f"skipped before fitting: estimated {estimate:,.0f} MB, over the "
                                     f"memory limit of {self.memory_limit:,.0f} MB")
        res = self.executor.run(evaluate, (spec,), timeout=timeout, memory_limit_mb=self.memory_limit)
        rec = TrialRecord(trial_id, family, params, source, res.status, elapsed=res.elapsed,
                          peak_rss_mb=res.peak_rss_mb or float("nan"), error=res.error)
        if res.status == OK and res.value.pruned:
            rec.status, rec.fit_seconds = PRUNED, res.value.fit_seconds
            rec.error = (f"pruned after {len(res.value.fold_values)} of {len(self.folds)} folds "
                         f"({self.metric.name} {res.value.value:.5g} on those)" if res.value.fold_values else
                         f"pruned on a {SUBSAMPLE_FRACTION:.0%} subsample of the first fold's rows "
                         f"({self.metric.name} {res.value.value:.5g} there)")
        elif res.status == OK:
            out = res.value
            rec.value, rec.score, rec.oof = out.value, out.score, out.oof
            rec.fit_seconds, rec.predict_rows_per_s = out.fit_seconds, out.predict_rows_per_s
            rec.predict_cost, rec.model_path = out.predict_cost, out.model_path
        else:
            log.debug(f"trial {trial_id} ({family}) {res.status}: {res.error}")
        return rec

    def _estimate_memory(self, family: str, params: dict) -> float:
        from assay.search.imbalance import split_params

        fam = self.families[family]
        own, _ = split_params(params)
        try:
            return float(fam.estimate_memory_mb(own, self.info))
        except Exception:  # noqa: BLE001 - an estimate must never stop a search
            return 0.0

    def _pruning(self, study_trial_id: int | None):
        """What a worker needs to ask the study's pruner after each fold (None: no pruning).
        Each family's first configurations are never pruned: a weaker family still gets one
        complete, out-of-fold-scored model for the ensemble to consider."""
        if (self._storage is None or study_trial_id is None or self.config.pruner == "none"
                or len(self.folds) < 2):
            return None
        return (self._storage, study_trial_id, self.config.pruner, pruning_steps(self.folds, self.config.pruner))

    def _prune_models(self) -> None:
        """Keep fold models (and out-of-fold predictions) only for ensemble candidates."""
        ok = sorted((r for r in self.records if r.ok and r.model_path), key=lambda r: -r.score)
        keep = {r.trial_id for r in ok[:KEEP_TOP]}
        seen = set()
        for r in ok:
            if r.family not in seen:
                keep.add(r.trial_id)
                seen.add(r.family)
        if self.fairness is not None:    # Pareto front and trials meeting the constraint stay candidates
            keep |= self.fairness.keep(ok)
        for r in ok:
            if r.trial_id not in keep:
                try:
                    os.remove(r.model_path)
                except OSError:
                    pass
                r.model_path = None
                if r.oof is not None and r.oof.dtype != np.float32:
                    r.oof = r.oof.astype(np.float32)  # kept for every trial, compactly


def finish_estimate(records: list[TrialRecord], n_folds: int, stacking: bool) -> float | None:
    """Seconds the finishing phase should need if the search stopped now: refitting the best
    trial of the best few families (the usual ensemble members), the stacker where one is
    planned, and a fixed part. None until a trial has succeeded. Where the members keep
    their fold models instead (`ensemble.build.keeps_fold_models`) the refit time is still
    counted: k models per member are then compiled, timed and saved, which on credit_g took
    about as long (with the refits left out the fit ended at 64.5 s of 60)."""
    ok = [r for r in records if r.ok and np.isfinite(r.fit_seconds)]
    if not ok:
        return None
    best = best_per_family(ok)
    total = FINISH_FIXED_S + sum(refit_seconds(r.fit_seconds, n_folds, n_folds) for r in best[:FINISH_MEMBERS])
    if stacking:
        boosters = [r.fit_seconds for r in best if r.family == "lightgbm"]
        total += STACK_FACTOR * (boosters[0] if boosters else float(np.median([r.fit_seconds for r in ok])))
    return total


PRUNED = "pruned"


def make_pruner(name: str, n_steps: int):
    """Optuna pruner over the steps of a trial (`trial.pruning_steps`): step i = mean score of
    the first i+1 folds; with Hyperband, where the first fold trains on enough rows, step 1
    is that fold's model fit on a quarter of its rows (`trial.has_subsample_rung`; Hyperband's
    first rung is at step 1) and the folds follow at steps 2..k. "median" stops a trial whose
    running score is below the median of earlier trials at the same step (after 5 complete
    trials); "hyperband" runs successive halving brackets with the subsample and the folds as
    the resource; "none" never stops one."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(n_steps, 1), reduction_factor=3)
    return optuna.pruners.NopPruner()


def baseline_record(y: np.ndarray, folds, info: ProblemInfo, metric: Metric) -> TrialRecord:
    """A constant predictor (class prior / mean) scored on the same folds: the floor, and the
    model returned when the budget allows nothing else."""
    n = len(y)
    oof = np.full((n, info.n_classes) if info.is_classification else n, np.nan)
    for tr, va in folds:
        if info.is_classification:
            counts = np.bincount(y[tr], minlength=info.n_classes).astype(float) + 1e-3
            oof[va] = counts / counts.sum()
        else:
            oof[va] = float(np.mean(y[tr]))
    mask = ~np.isnan(oof if oof.ndim == 1 else oof[:, 0])
    value = metric.value(y[mask], oof[mask])
    return TrialRecord(-1, "baseline", {}, "baseline", "ok", value=value,
                       score=value if metric.greater_is_better else -value, oof=oof)

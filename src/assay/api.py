"""`assay.fit`: read -> validate -> search -> ensemble -> Run. Data flows one way."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from assay import log
from assay.config import FitConfig


def fit(data, target: str, config: FitConfig | None = None, *, out=None, overwrite: bool = False,
        progress=None, **options) -> "Run":  # noqa: F821
    """Fit the best model assay can find for `target` within the budget.

    data: a path (CSV, Parquet, Feather, JSONL), a pandas/polars DataFrame or a NumPy array.
    config: a FitConfig; keyword `options` override its fields (time_limit=, max_trials=,
    task=, metric=, families=, search=, seed=, ...). out: write the Run there too.
    """
    t0 = time.monotonic()
    cpu0 = _cpu_seconds()
    config = _merge(config, options)
    from assay import store

    if out is not None:
        store.check_writable_target(out, overwrite)
    timings = {}
    from assay.data.io import read_table
    from assay.data.split import make_folds
    from assay.data.validate import encode_target, prepare_training
    from assay.metrics import get_metric
    from assay.models.base import ProblemInfo
    from assay.models.registry import check_monotone, monotone_families, resolve_families
    from assay.search.budget import Budget

    # a second (stacking) layer, when planned, runs in the finishing phase: give it room
    from assay.ensemble.stacking import use_stacking

    budget = Budget(config.time_limit, t0, search_fraction=0.75 if use_stacking(config, 2) else 0.85)
    df = read_table(data)
    fair = _fairness(config)              # --sensitive / --fairness: assay.fairness.objective
    if fair is not None:
        df = fair.split(df, target)       # sensitive columns out of the features (unless allowed)
    X, y_raw, schema = prepare_training(df, target, config.task)
    del df
    metric = get_metric(config.metric, schema.task)
    families = resolve_families(config.families, schema.task)
    monotone = check_monotone(config.monotone, schema)
    if monotone:
        families = monotone_families(families, named=bool(config.families))
    y = encode_target(y_raw, schema)
    if fair is not None:
        fair.start(schema.task, y, metric)
    folds = make_folds(y, schema.task, seed=config.seed, n_folds=config.n_folds)
    extra = {"monotone": monotone} if monotone else {}
    if schema.task != "regression":      # the imbalance search dimension reads them
        extra["class_counts"] = np.bincount(y, minlength=len(schema.classes)).tolist()
    from assay.compute.devices import resolve_device

    info = ProblemInfo(schema=schema, n_rows=len(y), seed=config.seed, n_jobs=config.threads,
                       device=resolve_device(config.device), extra=extra)
    timings["prepare"] = round(budget.elapsed(), 3)

    workdir = _make_workdir(out)
    progress = progress if progress is not None else _progress(config)
    try:
        run = _search_and_build(X, y, schema, config, metric, families, folds, info, budget,
                                workdir, progress, timings, fair=fair)
        # CPU seconds of the fit (this process and its trial workers): the report's energy figure
        timings["cpu"] = round(_cpu_seconds() - cpu0, 3)
        if out is not None:
            t = time.monotonic()
            run.save(out, overwrite=overwrite)
            run.meta["timings"]["save"] = round(time.monotonic() - t, 3)
        else:
            run.keep_trials_db_in_memory()  # the work directory goes; a later save() writes it
        run.meta["timings"]["total"] = round(time.monotonic() - t0, 3)
        return run
    finally:
        progress.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its child processes: the fork
    server's reaped trial workers (their times add to its children_* times), reaped direct
    children, and live children's own times."""
    import psutil

    total = time.process_time()
    try:
        import resource

        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        total += ru.ru_utime + ru.ru_stime
    except ImportError:      # no resource module (Windows): live children only
        pass
    try:
        children = psutil.Process().children(recursive=False)
    except psutil.Error:
        children = []
    for c in children:
        try:
            t = c.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def _make_workdir(out) -> str:
    """Scratch space for the search: beside the output (so the final rename is atomic)."""
    from assay.errors import RunDirectoryError

    try:
        if out is None:
            return tempfile.mkdtemp(prefix="assay-work-")
        parent = Path(out).resolve().parent
        parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkdtemp(prefix=".assay-work-", dir=str(parent))
    except OSError as e:
        raise RunDirectoryError(f"cannot create the Run directory {out}: {e.strerror or e}") from None


def _merge(config: FitConfig | None, options: dict) -> FitConfig:
    if config is None:
        return FitConfig(**options)
    if not options:
        return config
    d = config.to_dict()
    d.update(options)
    return FitConfig.from_dict(d)


def _progress(config: FitConfig):
    from assay.progress import make_progress

    return make_progress(config.verbosity)


def _search_and_build(X, y, schema, config, metric, families, folds, info, budget, workdir,
                      progress, timings, fair=None):
    from assay.compute.executor import LocalProcessExecutor
    from assay.ensemble.build import assemble, baseline_model, keeps_fold_models, select_members
    from assay.run import Run
    from assay.search.repeats import REPEAT_SHARE, planned_splits
    from assay.search.tuner import Search, baseline_record
    from assay.versions import library_versions

    executor = LocalProcessExecutor()
    splits = planned_splits(config, len(y), len(folds), schema.task)
    if splits > 1:
        budget.repeat_share = REPEAT_SHARE
    progress.start(budget, config.max_trials, metric.name)
    search = Search(families=families, info=info, metric=metric, config=config, budget=budget,
                    executor=executor, workdir=workdir, folds=folds, progress=progress,
                    fairness=fair.objective if fair is not None else None)
    t = time.monotonic()
    result = search.run(X, y)
    timings["search"] = round(time.monotonic() - t, 3)

    candidates = result.candidates()
    if splits > 1 and candidates:
        t = time.monotonic()
        _repeat(candidates, splits, y, config, info, metric, search, progress)
        timings["repeats"] = round(time.monotonic() - t, 3)

    t = time.monotonic()
    progress.phase("ensembling")
    base = baseline_record(y, folds, info, metric)
    stacker = _stack(candidates, config, info, metric, folds, search, workdir, executor, budget)
    if stacker is not None:
        result.records.append(stacker)
        if stacker.ok:
            candidates.append(stacker)
    weights: dict[int, float] = {}
    if candidates and fair is not None and fair.objective is not None:   # honours --fairness
        weights, cv_value, ens_oof = fair.objective.select(candidates, y, metric, schema.task,
                                                           config.ensemble_size)
    elif candidates:
        weights, cv_value, ens_oof = select_members(candidates, y, metric, schema.task,
                                                    config.ensemble_size, config.speed_tolerance,
                                                    bagged=keeps_fold_models(config.refit, info.n_rows),
                                                    n_folds=len(folds))
    if candidates:
        progress.phase("refitting")
        model = assemble(candidates, weights, task=schema.task, n_classes=info.n_classes,
                         refit=config.refit, budget=budget, executor=executor, info=info,
                         data_path=search.data_path, workdir=workdir, n_folds=len(folds))
        from assay.features.compiled import compile_model

        compile_model(model, X)
        status = "interrupted" if result.interrupted else "complete"
    else:
        log.warn("no trial finished within the budget: returning the constant baseline model; "
                 "give a larger --time-limit")
        model = baseline_model(y, schema.task, info.n_classes)
        cv_value = base.value
        ens_oof = base.oof[~np.isnan(base.oof if base.oof.ndim == 1 else base.oof[:, 0])]
        status = "baseline-only"
    timings["ensemble"] = round(time.monotonic() - t, 3)

    decision = _tune_decision(model, ens_oof, y, base, metric, schema.task) if candidates else None
    kept = _kept_models(candidates, schema.task, info.n_classes, model) if candidates else {}
    if config.distill and candidates:
        from assay.ensemble.distill import NAME, run_distill

        left = budget.finish_left()
        rec, student = run_distill(ens_oof, y, info=info, metric=metric, folds=folds,
                                   data_path=search.data_path, workdir=workdir, executor=executor,
                                   timeout=None if left == float("inf") else max(1.0, 0.8 * left))
        if rec is not None:
            result.records.append(rec)
        if student is not None:
            kept[NAME] = student
    lb = _leaderboard(result.records, base, weights, cv_value, metric, model)
    lb = _throughput_and_kept(lb, model, X, kept)
    best_single = max(result.successful, key=lambda r: r.score) if result.successful else base
    meta = {
        "assay_version": _version(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "target": schema.target,
        "task": schema.task,
        "metric": metric.name,
        "cv_score": cv_value,
        "best_model": "ensemble" if candidates else "baseline",
        "best_single_model": {"model": best_single.name, "score": best_single.value},
        "ensemble": model.describe(),
        "decision": decision,
        "status": status,
        "n_rows": int(len(y)),
        "n_folds": len(folds),
        "bag_splits": splits,
        "n_trials": len(result.records),
        "n_failed": sum(r.status not in ("ok", "pruned") for r in result.records),
        "n_pruned": sum(r.status == "pruned" for r in result.records),
        "seed": config.seed,
        "config": config.to_dict(),
        "schema": schema.to_dict(),
        "dropped_columns": schema.dropped,
        "warnings": list(schema.warnings),
        "versions": library_versions(),
        "timings": timings,
    }
    from assay.search.trial import validated_rows

    rows = np.flatnonzero(validated_rows(base.oof))
    arrays = {"y": y, "rows": rows, "ensemble": np.asarray(ens_oof, dtype=np.float32),
              **result.oof_arrays()}
    if fair is not None:   # disparity / pareto columns, run.json entries, sensitive labels in oof.npz
        lb = fair.annotate(lb)
        meta.update(fair.meta())
        arrays.update(fair.arrays())
    return Run(schema=schema, model=model, leaderboard=lb, meta=meta,
               trials_db=os.path.join(workdir, "trials.db"), arrays=arrays, candidates=kept)


def _repeat(candidates, splits, y, config, info, metric, search, progress) -> None:
    """Repeated k-fold bagging (assay/search/repeats.py) for the members of a first greedy
    selection, heaviest first."""
    from assay.ensemble.build import keeps_fold_models, select_members
    from assay.search.repeats import repeat_members

    weights = select_members(candidates, y, metric, info.task, config.ensemble_size, config.speed_tolerance,
                             bagged=keeps_fold_models(config.refit, info.n_rows), n_folds=len(search.folds))[0]
    members = sorted((c for c in candidates if weights.get(c.trial_id, 0) > 0),
                     key=lambda c: -weights[c.trial_id])
    progress.phase("bagging repeats")
    done = repeat_members(members, splits=splits, y=y, search=search)
    log.info(f"bagging: {done} more fold split{'s' if done != 1 else ''} for "
             f"{', '.join(f'{m.name} ({m.repeats})' for m in members)}")


def _stack(candidates, config, info, metric, folds, search, workdir, executor, budget):
    """The second layer (assay/ensemble/stacking.py) as one more candidate, where planned."""
    from assay.ensemble.stacking import run_stacker, use_stacking

    if len(folds) < 2 or not use_stacking(config, len({r.family for r in candidates})):
        return None
    left = budget.finish_left()
    timeout = None if left == float("inf") else 0.45 * left
    if timeout is not None and timeout < 2.0:
        return None
    return run_stacker(candidates, info=info, metric=metric, folds=folds, data_path=search.data_path,
                       workdir=workdir, executor=executor, timeout=timeout)


def _tune_decision(model, ens_oof, y, base, metric, task: str) -> dict | None:
    """Label offsets for a threshold metric, fitted on the ensemble's out-of-fold
    predictions (assay/ensemble/decision.py); None where the metric reads probabilities."""
    from assay.ensemble.decision import THRESHOLD_METRICS, fit_offsets
    from assay.search.trial import validated_rows

    if task == "regression" or metric.name not in THRESHOLD_METRICS:
        return None
    offsets, before, after = fit_offsets(ens_oof, y[validated_rows(base.oof)], metric)
    model.offsets = offsets
    return {"rule": "argmax" if offsets is None else "argmax(log p + offsets)",
            "offsets": None if offsets is None else [round(float(b), 6) for b in offsets],
            "oof_value_argmax": before, "oof_value_tuned_in_sample": after}


# A kept model is saved with the Run. Fold models of fully grown forests on a few thousand
# rows take gigabytes (california_housing: 0.8 GB random forest + 1.3 GB extra trees), and
# writing them cost 13 s past a 60 s limit; a family whose fold models exceed this is not kept.
KEPT_MAX_MB = 150.0


def _kept_models(candidates, task: str, n_classes: int, final=None) -> dict:
    """The best trial of each family as a one-member model, kept in the Run so a user can
    trade accuracy for speed (`run.predict(..., model="lightgbm")`). A trial that is a member
    of the `final` ensemble is kept as that member's models (its refit on all rows, or its
    thinned fold models): what the ensemble predicts with, and on more than a few thousand
    rows faster and usually better than its k fold models (car, 1,296 rows, seed 1:
    HistGradientBoosting's 5 fold models test log loss 0.046, its refit 0.018). Other
    trials are kept as their fold models; families whose fold models take more than
    `KEPT_MAX_MB` on disk are left out (logged)."""
    import pickle

    from assay.ensemble.model import EnsembleModel, Member
    from assay.search.records import best_per_family

    in_final = {m.trial_id for m in getattr(final, "members", [])}
    kept = {}
    for r in best_per_family(c for c in candidates if c.model_path and os.path.exists(c.model_path)):
        if r.trial_id in in_final:
            kept[r.name] = final.member_alone(r.trial_id)
            continue
        size_mb = os.path.getsize(r.model_path) / 2**20
        if size_mb > KEPT_MAX_MB:
            log.info(f"not keeping {r.name} for predict(model=...): its fold models take "
                     f"{size_mb:,.0f} MB (more than {KEPT_MAX_MB:,.0f} MB)")
            continue
        with open(r.model_path, "rb") as fh:
            folds = pickle.load(fh)
        kept[r.name] = EnsembleModel(task, n_classes, [Member(r.trial_id, r.family, r.params, 1.0, folds, "folds")])
    return kept


def _throughput_and_kept(lb: pd.DataFrame, model, X: pd.DataFrame, kept: dict) -> pd.DataFrame:
    """The final model's predict throughput (rows/s on up to 2,000 training rows, after one
    warm-up call) on the ensemble row, and which rows `predict(model=...)` can use."""
    sample = X.iloc[:2000]
    model.predict_output(sample.iloc[:10])
    t = time.perf_counter()
    model.predict_output(sample)
    elapsed = time.perf_counter() - t
    is_ens = lb["model"].eq("ensemble")
    if is_ens.any() and elapsed > 0:
        lb["predict_rows_per_s"] = lb["predict_rows_per_s"].astype("Float64")
        lb.loc[is_ens, "predict_rows_per_s"] = round(len(sample) / elapsed)
    lb["kept"] = is_ens | lb["model"].isin(list(kept))
    return lb


def _fairness(config):
    if not config.sensitive:
        return None
    from assay.fairness.objective import FitFairness

    return FitFairness.from_config(config)


def _leaderboard(records, base, weights, cv_value, metric, model) -> pd.DataFrame:
    rows = [r.row() for r in records] + [base.row()]
    lb = pd.DataFrame(rows)
    lb["ensemble_weight"] = lb["trial"].map(lambda t: round(weights.get(t, 0.0), 4))
    ens = {"trial": None, "model": "ensemble", "family": "ensemble", "source": "selection",
           "status": "ok", "score": cv_value, "ensemble_weight": None,
           "params": "{}", "error": ""}
    if weights:
        lb = pd.concat([pd.DataFrame([ens]), lb], ignore_index=True)
    ok = lb["status"].eq("ok")
    sign = 1 if metric.greater_is_better else -1
    # rounded: an ensemble of one member equals it up to the margin round trip's last bits
    lb["_key"] = np.where(ok, np.round(-sign * lb["score"].astype(float), 9), np.inf)
    lb["_ens"] = lb["model"].ne("ensemble")        # on a tie the ensemble (what predict uses) first
    lb = lb.sort_values(["_key", "_ens", "trial"], kind="stable", na_position="last")
    lb = lb.drop(columns=["_key", "_ens"])
    lb.insert(0, "rank", range(1, len(lb) + 1))
    lb = lb.rename(columns={"score": f"cv_{metric.name}"})
    return lb.reset_index(drop=True)


def _version() -> str:
    from assay import __version__

    return __version__

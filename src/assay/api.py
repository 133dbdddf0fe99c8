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

    budget = Budget(config.time_limit, t0)
    df = read_table(data)
    X, y_raw, schema = prepare_training(df, target, config.task)
    del df
    metric = get_metric(config.metric, schema.task)
    families = resolve_families(config.families, schema.task)
    monotone = check_monotone(config.monotone, schema)
    if monotone:
        families = monotone_families(families, named=bool(config.families))
    y = encode_target(y_raw, schema)
    folds = make_folds(y, schema.task, seed=config.seed, n_folds=config.n_folds)
    info = ProblemInfo(schema=schema, n_rows=len(y), seed=config.seed, n_jobs=config.threads,
                       extra={"monotone": monotone} if monotone else {})
    timings["prepare"] = round(budget.elapsed(), 3)

    workdir = _make_workdir(out)
    progress = progress if progress is not None else _progress(config)
    try:
        run = _search_and_build(X, y, schema, config, metric, families, folds, info, budget,
                                workdir, progress, timings)
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
                      progress, timings):
    from assay.compute.executor import LocalProcessExecutor
    from assay.ensemble.build import assemble, baseline_model, select_members
    from assay.run import Run
    from assay.search.tuner import Search, baseline_record
    from assay.versions import library_versions

    executor = LocalProcessExecutor()
    progress.start(budget, config.max_trials, metric.name)
    search = Search(families=families, info=info, metric=metric, config=config, budget=budget,
                    executor=executor, workdir=workdir, folds=folds, progress=progress)
    t = time.monotonic()
    result = search.run(X, y)
    timings["search"] = round(time.monotonic() - t, 3)

    t = time.monotonic()
    progress.phase("ensembling")
    base = baseline_record(y, folds, info, metric)
    candidates = result.candidates()
    weights: dict[int, float] = {}
    if candidates:
        weights, cv_value, ens_oof = select_members(candidates, y, metric, schema.task,
                                                    config.ensemble_size)
        progress.phase("refitting")
        model = assemble(candidates, weights, task=schema.task, n_classes=info.n_classes,
                         refit=config.refit, budget=budget, executor=executor, info=info,
                         data_path=search.data_path, workdir=workdir, n_folds=len(folds))
        status = "interrupted" if result.interrupted else "complete"
    else:
        log.warn("no trial finished within the budget: returning the constant baseline model; "
                 "give a larger --time-limit")
        model = baseline_model(y, schema.task, info.n_classes)
        cv_value = base.value
        ens_oof = base.oof[~np.isnan(base.oof if base.oof.ndim == 1 else base.oof[:, 0])]
        status = "baseline-only"
    timings["ensemble"] = round(time.monotonic() - t, 3)

    lb = _leaderboard(result.records, base, weights, cv_value, metric, model)
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
        "status": status,
        "n_rows": int(len(y)),
        "n_folds": len(folds),
        "n_trials": len(result.records),
        "n_failed": sum(not r.ok for r in result.records),
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
    return Run(schema=schema, model=model, leaderboard=lb, meta=meta,
               trials_db=os.path.join(workdir, "trials.db"), arrays=arrays)


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
    lb["_key"] = np.where(ok, -sign * lb["score"].astype(float), np.inf)
    lb["_ens"] = lb["model"].ne("ensemble")        # on a tie the ensemble (what predict uses) first
    lb = lb.sort_values(["_key", "_ens", "trial"], kind="stable", na_position="last")
    lb = lb.drop(columns=["_key", "_ens"])
    lb.insert(0, "rank", range(1, len(lb) + 1))
    lb = lb.rename(columns={"score": f"cv_{metric.name}"})
    return lb.reset_index(drop=True)


def _version() -> str:
    from assay import __version__

    return __version__

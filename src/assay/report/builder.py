"""`build_report(run, data=None, out=None)`: one self-contained HTML page about a Run.

Sections: headline numbers, model card, data, leaderboard, search trajectory, performance
(on held-out data when given, else on the Run's out-of-fold predictions, and the page says
which), explanations (SHAP on a sample of the held-out rows), the audits found under
RUN/audit/, energy and CO2 of the fit, and the reproducibility details. Every image is an
inline PNG (data URI) and the CSS is inline: the file opens offline and can be mailed.
"""

from __future__ import annotations

import datetime as _dt
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from assay import log
from assay.errors import (
    ColumnError,
    OptionError,
    RunDirectoryError,
    TargetError,
)
from assay.report import audits as audit_sections
from assay.report import energy as energy_mod
from assay.report import plots
from assay.report.card import load_card, model_card
from assay.report.explanations import SHAP_ROWS, SHAP_SECONDS, explain_section

LEADERBOARD_ROWS = 25    # rows shown before the rest fold away

@dataclass
class _Eval:
    source: str                 # "heldout" | "oof"
    label: str                  # where the rows come from, in words
    y: np.ndarray               # encoded target (classification) or values
    out: np.ndarray             # probabilities (n, K) or predictions (n,)
    frame: pd.DataFrame | None = field(default=None, repr=False)   # held-out rows (with target)


def build_report(run, data=None, out=None, *, card=None, shap_rows: int = SHAP_ROWS,
                 shap_seconds: float = SHAP_SECONDS,
                 watts_per_core: float | None = None, grid_intensity: float | None = None,
                 seed: int = 0) -> Path:
    """Write the report of `run` (a Run or a Run directory) to `out` (default RUN/report.html)
    and return its path.

    data: held-out rows with the target column (path or DataFrame): performance plots and
    SHAP are computed on them; without it the Run's out-of-fold predictions are used.
    card: a JSON or YAML file (or a dict) with the model card's own text (intended_use,
    out_of_scope, owner, limitations, ethical_considerations, ...).
    watts_per_core, grid_intensity: the figures of the energy / CO2 estimate.
    """
    t0 = time.perf_counter()
    user_card = load_card(card) if card is not None else {}     # cheap checks first
    run, run_dir = _load_run(run)
    dest = _destination(out, run_dir)
    ev_held = _read_heldout(run, data) if data is not None else None
    ev = ev_held or _oof_eval(run)

    meta = run.meta
    lb = run.leaderboard()
    score_col = f"cv_{run.metric}"
    from assay.metrics import METRICS, get_metric

    metric = get_metric(run.metric, run.task)
    ctx = {
        "title": user_card.get("model_name") or f"{meta['target']} \u2014 assay report",
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "run_name": run_dir.name if run_dir else "(unsaved Run)",
        "meta": meta,
        "task": run.task,
        "metric": run.metric,
        "greater": metric.greater_is_better,
        "notes": [],
    }
    ctx["evaluation"] = _evaluation(run, ev, METRICS) if ev is not None else None
    ctx["headline"] = _headline(run, lb, ctx["evaluation"], ev)
    ctx["data"] = _data_section(run, ev_held)
    ctx["leaderboard"] = _leaderboard(lb, score_col)
    ctx["search"] = _search(run, run_dir, lb, score_col, metric)
    ctx["explain"] = explain_section(run, run_dir, ev_held, shap_rows, shap_seconds, seed)
    sections, extra_plots, notes = audit_sections.collect(run_dir)
    ctx["audits"] = {"sections": sections, "extra_plots": extra_plots, "notes": notes}
    en = energy_mod.estimate(meta, watts_per_core, grid_intensity)
    ctx["energy"] = _energy(en, lb, meta)
    ctx["card"] = model_card(run, user_card, ctx, card)
    ctx["repro"] = _repro(meta, run_dir)

    from assay.report.template import render

    text = render(ctx)
    elapsed = time.perf_counter() - t0
    text = text.replace("__BUILD_SECONDS__", f"{elapsed:.1f}")
    _write(dest, text)
    log.info(f"wrote {dest} ({len(text) / 1024:.0f} KB) in {elapsed:.1f}s")
    return dest


# ---------------------------------------------------------------------------- inputs


def _load_run(run):
    from assay.run import Run, load

    if isinstance(run, Run):
        return run, run.path
    path = Path(run)
    from assay import store

    store.read_meta(path)       # a clear RunDirectoryError for a missing / non-Run directory
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # version drift is shown in the report itself
        return load(path), path


def _destination(out, run_dir) -> Path:
    if out is None:
        if run_dir is None:
            raise OptionError("this Run is not saved: pass out= (where to write the report) or save the Run first")
        return Path(run_dir) / "report.html"
    out = Path(out)
    if out.is_dir():
        raise OptionError(f"--out {out} is a directory; give a file name such as {out / 'report.html'}")
    return out


def _write(dest: Path, text: str) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(dest)
    except OSError as e:
        raise RunDirectoryError(f"cannot write the report to {dest}: {e.strerror or e}") from None


def _read_heldout(run, data) -> _Eval:
    from assay.data.io import read_table
    from assay.data.validate import encode_target

    label = f"'{data}'" if isinstance(data, (str, os.PathLike)) else "(a DataFrame)"
    df = read_table(data, what="held-out data")
    target = run.schema.target
    if target not in df.columns:
        shown = ", ".join(f"'{c}'" for c in list(df.columns)[:12])
        raise ColumnError(f"held-out data {label} has no target column '{target}' (its columns: {shown}"
                          f"{', ...' if df.shape[1] > 12 else ''}): the report measures performance against the "
                          f"true '{target}'; add that column, or leave out --data to use out-of-fold predictions")
    keep = df[target].notna().to_numpy()
    if not keep.any():
        raise TargetError(f"held-out data {label}: target column '{target}' is empty (all values missing)")
    dropped = int((~keep).sum())
    df = df.loc[keep].reset_index(drop=True)
    try:
        y = encode_target(df[target], run.schema)
    except TargetError as e:
        raise TargetError(f"held-out data {label}: {e}") from None
    out = run.model.predict_output(run.features(df))
    name = Path(str(data)).name if isinstance(data, (str, os.PathLike)) else "a DataFrame"
    text = f"{len(df):,} held-out rows from {name}"
    if dropped:
        text += f" ({dropped} rows without a target value left out)"
    return _Eval("heldout", text, y, np.asarray(out), df)


def _oof_eval(run) -> _Eval | None:
    a = run.oof()
    if not a or "ensemble" not in a or "y" not in a:
        return None
    rows = a.get("rows")
    y = a["y"] if rows is None else a["y"][rows]
    out = np.asarray(a["ensemble"], dtype=float)
    if len(out) != len(y):
        return None
    if run.task != "regression" and out.ndim == 1:
        out = np.column_stack([1 - out, out])
    if run.task != "regression":
        y = y.astype(int)
    return _Eval("oof", f"{len(y):,} out-of-fold predictions of the training rows", y, out)


# ---------------------------------------------------------------------------- sections


def _headline(run, lb, evaluation, ev) -> list[dict]:
    meta = run.meta
    t = meta.get("timings", {})
    fit_s = t.get("total") or sum(float(t.get(k) or 0) for k in ("prepare", "search", "ensemble", "save"))
    members = meta.get("ensemble") or []
    cards = [
        {"label": "task", "value": f"{meta['task']}", "sub": f"target '{meta['target']}'"},
        {"label": f"CV {meta['metric']}", "value": audit_sections.fmt(meta.get("cv_score")),
         "sub": f"{meta.get('n_folds')}-fold cross-validation" if meta.get("n_folds") else "cross-validation"},
    ]
    if evaluation is not None and ev is not None and ev.source == "heldout":
        main = next((m for m in evaluation["metrics"] if m["name"] == meta["metric"]), None)
        if main:
            cards.append({"label": f"held-out {meta['metric']}", "value": audit_sections.fmt(main["value"]),
                          "sub": f"{len(ev.y):,} rows"})
    cards += [
        {"label": "models in the ensemble", "value": str(len(members)) if members else "baseline",
         "sub": ", ".join(f"{m['member']} ({m['weight']:.2f})" for m in members[:4])
         + (" ..." if len(members) > 4 else "")},
        {"label": "fit time", "value": f"{fit_s:.1f} s",
         "sub": f"limit {meta['config'].get('time_limit')} s" if meta.get("config", {}).get("time_limit") else "no limit"},
        {"label": "trials", "value": str(meta.get("n_trials", len(lb))),
         "sub": f"{meta.get('n_failed', 0)} failed"},
        {"label": "training rows", "value": f"{meta.get('n_rows', 0):,}",
         "sub": f"{len(run.schema.features)} features used"},
        {"label": "status", "value": meta.get("status", "?"), "sub": f"assay {meta.get('assay_version')}"},
    ]
    return cards


def _data_section(run, ev_held) -> dict:
    schema = run.schema
    df = ev_held.frame if ev_held is not None else None
    rows = []
    for c in schema.columns:
        r = {"name": c.name, "kind": c.kind, "dtype": c.dtype, "unique": c.n_unique,
             "missing": f"{c.missing_fraction:.1%}", "used": "yes" if c.used else "dropped",
             "note": c.note}
        if df is not None:
            r["heldout_missing"] = f"{df[c.name].isna().mean():.1%}" if c.name in df else "absent"
        rows.append(r)
    a = run.oof()
    y_train = a.get("y") if a else None
    section = {"columns": rows, "has_heldout": df is not None, "warnings": list(schema.warnings),
               "n_rows": schema.n_rows or run.meta.get("n_rows"), "n_features": len(schema.features),
               "dropped": schema.dropped, "plot": None, "balance": []}
    if run.task == "regression":
        if y_train is not None:
            yh = ev_held.y.astype(float) if ev_held is not None else None
            section["plot"] = plots.target_histogram(np.asarray(y_train, dtype=float), yh, schema.target)
            yt = np.asarray(y_train, dtype=float)
            section["balance"] = [{"": "training", "rows": len(yt), "mean": float(np.mean(yt)),
                                   "sd": float(np.std(yt)), "min": float(np.min(yt)),
                                   "median": float(np.median(yt)), "max": float(np.max(yt))}]
            if yh is not None:
                section["balance"].append({"": "held-out", "rows": len(yh), "mean": float(np.mean(yh)),
                                           "sd": float(np.std(yh)), "min": float(np.min(yh)),
                                           "median": float(np.median(yh)), "max": float(np.max(yh))})
    elif y_train is not None:
        k = len(schema.classes)
        tc = np.bincount(np.asarray(y_train, dtype=int), minlength=k)
        hc = np.bincount(ev_held.y, minlength=k) if ev_held is not None else None
        section["plot"] = plots.class_balance([str(c) for c in schema.classes], tc, hc)
        for i, c in enumerate(schema.classes):
            r = {"class": str(c), "training rows": int(tc[i]), "training share": f"{tc[i] / max(1, tc.sum()):.1%}"}
            if hc is not None:
                r.update({"held-out rows": int(hc[i]), "held-out share": f"{hc[i] / max(1, hc.sum()):.1%}"})
            section["balance"].append(r)
        section["minority_share"] = float(tc.min() / max(1, tc.sum()))
    return section


def _leaderboard(lb: pd.DataFrame, score_col: str) -> dict:
    from assay.search.repeats import repeated_bagging

    wanted = ["rank", "model", "status", score_col, "ensemble_weight", "splits", "fit_s", "trial_s", "peak_mb",
              "predict_rows_per_s"]
    cols = [c for c in wanted if c in lb.columns and (c != "splits" or repeated_bagging(lb))]
    rows = []
    for _, r in lb.iterrows():
        cells = [audit_sections.fmt(_py(r[c])) if not (c == "ensemble_weight" and _isnan(r[c])) else "" for c in cols]
        params = str(r.get("params", "") or "")
        err = str(r.get("error", "") or "") if not _isnan(r.get("error")) else ""
        rows.append({"cells": cells, "params": "" if params in ("{}", "nan") else params, "error": err,
                     "member": (not _isnan(r.get("ensemble_weight")) and float(r.get("ensemble_weight") or 0) > 0),
                     "failed": r.get("status") != "ok"})
    return {"columns": [c.replace("_", " ") for c in cols], "rows": rows[:LEADERBOARD_ROWS],
            "more": rows[LEADERBOARD_ROWS:], "n": len(rows)}


def _py(v):
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None
    return v


def _isnan(v) -> bool:
    try:
        return v is None or (isinstance(v, float) and np.isnan(v)) or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _search(run, run_dir, lb, score_col, metric) -> dict:
    """Best score over time: trial finish times from the Optuna study (trials.db), values and
    families from the leaderboard; without the study, cumulative trial wall times."""
    trials = lb[lb["trial"].notna() & (lb.get("source") != "baseline")] if "trial" in lb else lb.iloc[0:0]
    trials = trials[trials["trial"].astype(float) >= 0]
    by_id = {int(r["trial"]): r for _, r in trials.iterrows()}
    points, note = [], ""
    times = _study_times(run, run_dir)
    if times:
        note = "finish times from trials.db"
        for num, t in sorted(times.items()):
            r = by_id.get(num)
            if r is None:
                continue
            points.append({"t": t, "value": _py(r[score_col]) if r["status"] == "ok" else None,
                           "family": r["family"], "trial": num})
    else:
        note = "cumulative trial wall times: trials.db not available"
        t = 0.0
        for num in sorted(by_id):
            r = by_id[num]
            t += float(r.get("trial_s") or 0)
            points.append({"t": t, "value": _py(r[score_col]) if r["status"] == "ok" else None,
                           "family": r["family"], "trial": num})
    fams = []
    for fam, g in trials.groupby("family"):
        ok = g[g["status"] == "ok"]
        best = (ok[score_col].max() if metric.greater_is_better else ok[score_col].min()) if len(ok) else None
        fams.append({"family": fam, "trials": len(g), "failed": int((g["status"] != "ok").sum()),
                     "best": audit_sections.fmt(_py(best)),
                     "wall_s": audit_sections.fmt(float(g["trial_s"].fillna(0).sum())) if "trial_s" in g else ""})
    fams.sort(key=lambda f: f["family"])
    first_best = None
    if points:
        ok = [p for p in points if p["value"] is not None]
        if ok:
            target = max(p["value"] for p in ok) if metric.greater_is_better else min(p["value"] for p in ok)
            first_best = next(p for p in sorted(ok, key=lambda p: p["t"]) if p["value"] == target)
    plot = plots.trajectory(points, run.metric, metric.greater_is_better, note) if points else None
    return {"plot": plot, "families": fams, "note": note, "n": len(points), "best": first_best}


def _study_times(run, run_dir) -> dict[int, float]:
    held = getattr(run, "_trials_db", None)       # an unsaved Run holds its study as bytes
    if run_dir is not None and (Path(run_dir) / "trials.db").is_file():
        return _read_study_times(Path(run_dir) / "trials.db")
    if isinstance(held, str) and Path(held).is_file():
        return _read_study_times(Path(held))
    if isinstance(held, bytes):
        with tempfile.TemporaryDirectory(prefix="assay-report-") as tmp:
            db = Path(tmp) / "trials.db"
            db.write_bytes(held)
            return _read_study_times(db)
    return {}


def _read_study_times(db: Path) -> dict[int, float]:
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True)   # read-only: the Run is not touched
        try:
            rows = con.execute("SELECT number, datetime_start, datetime_complete FROM trials "
                               "ORDER BY number").fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return {}
    parse = [(n, _ts(a), _ts(b)) for n, a, b in rows]
    starts = [a for _, a, _ in parse if a is not None]
    if not starts:
        return {}
    t0 = min(starts)
    return {int(n): (b - t0).total_seconds() for n, _, b in parse if b is not None}


def _ts(s):
    if not s:
        return None
    try:
        return _dt.datetime.fromisoformat(str(s))
    except ValueError:
        return None


def _evaluation(run, ev: _Eval, METRICS) -> dict:
    task = run.task
    metrics = []
    for m in METRICS.values():
        if task in m.tasks:
            try:
                v = m.value(ev.y, ev.out)
            except ValueError:
                v = float("nan")
            metrics.append({"name": m.name, "value": v, "better": "higher" if m.greater_is_better else "lower",
                            "main": m.name == run.metric})
    figs = []
    ece = None
    if task == "regression":
        figs.append({"uri": plots.residuals(ev.y.astype(float), ev.out.astype(float), run.schema.target),
                     "caption": "Left: actual against predicted values; points on the dashed diagonal are exact. "
                                "Middle: residuals (actual - predicted) against the prediction; the orange line is "
                                "the mean residual per bin, which should stay near zero - a trend means the model "
                                "is biased for that range. Right: the spread of the residuals.", "wide": True})
    else:
        classes = [str(c) for c in run.classes]
        pred = ev.out.argmax(axis=1)
        figs.append({"uri": plots.roc(ev.y, ev.out, classes),
                     "caption": "True positive rate against false positive rate over all thresholds; the closer "
                                "the curve hugs the top-left corner the better; the dashed diagonal is guessing. "
                                + ("One curve per class (one-vs-rest)." if len(classes) > 2 else "")})
        figs.append({"uri": plots.precision_recall(ev.y, ev.out, classes),
                     "caption": "Precision against recall over all thresholds. With rare classes this says more than "
                                "ROC: a model that guesses sits at the dotted line (the class share)."})
        uri, ece = plots.calibration(ev.y, ev.out, classes)
        figs.append({"uri": uri,
                     "caption": "Do predicted probabilities mean what they say? Rows are binned by predicted "
                                "probability; each point is the observed share in a bin. On the dashed diagonal, a "
                                "70% prediction is right 70% of the time (bins with fewer than 5 rows are not drawn). "
                                "ECE is the row-weighted mean gap over all bins; the histogram shows how many rows "
                                "fall in each bin."})
        figs.append({"uri": plots.confusion(ev.y, pred, classes),
                     "caption": "Rows: true class; columns: predicted class (the most probable one). Each cell "
                                "shows the count and its share of the true class; the diagonal is correct."})
    return {"source": ev.source, "label": ev.label, "metrics": metrics, "figures": figs, "ece": ece,
            "n": len(ev.y)}


def _energy(en, lb: pd.DataFrame, meta: dict) -> dict:
    t = meta.get("timings", {})
    phases = [{"phase": k, "wall seconds": float(t[k])} for k in ("prepare", "search", "ensemble", "save")
              if t.get(k) is not None]
    fams = []
    if "trial_s" in lb and "family" in lb:
        g = lb[lb["trial"].notna()].groupby("family")["trial_s"].sum()
        tot = float(g.sum()) or 1.0
        fams = [{"family": f, "trial wall seconds": float(s), "share": f"{s / tot:.0%}"}
                for f, s in g.sort_values(ascending=False).items() if s > 0]
    return {"e": en, "phases": phases, "families": fams}


def _repro(meta: dict, run_dir) -> dict:
    cfg = {k: v for k, v in (meta.get("config") or {}).items() if v not in (None, {}, [])}
    from assay.versions import library_versions

    now = library_versions()
    versions = [{"library": k, "fit with": v, "now": now.get(k, "")} for k, v in (meta.get("versions") or {}).items()]
    drift = [v["library"] for v in versions if v["now"] and v["now"] != v["fit with"] and v["library"] != "python"]
    return {"config": cfg, "versions": versions, "drift": drift,
            "path": str(run_dir) if run_dir is not None else None}

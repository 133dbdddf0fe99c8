"""`build_report(run, data=None, out=None)`: one self-contained HTML page about a Run.

Sections: headline numbers, model card, data, leaderboard, search trajectory, performance
(on held-out data when given, else on the Run's out-of-fold predictions, and the page says
which), explanations (SHAP on a sample of the held-out rows), the audits found under
RUN/audit/, energy and CO2 of the fit, and the reproducibility details. Every image is an
inline PNG (data URI) and the CSS is inline: the file opens offline and can be mailed.
"""

from __future__ import annotations

import datetime as _dt
import json
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
    DataFileError,
    MissingExtraError,
    OptionError,
    RunDirectoryError,
    TargetError,
)
from assay.report import audits as audit_sections
from assay.report import energy as energy_mod
from assay.report import plots

SHAP_ROWS = 500          # held-out rows explained (a random sample)
SHAP_SECONDS = 8.0       # time for SHAP when a member needs (slow) permutation SHAP
SHAP_PROBE_ROWS = 3      # fewest rows explained
PERMUTATION_OVERHEAD = 2.5   # shap's own work per permuted row over the model's (measured on adult)
DEPENDENCE_PLOTS = 3     # SHAP dependence plots of the most important features
LEADERBOARD_ROWS = 25    # rows shown before the rest fold away

CARD_FIELDS = [          # (key, heading, what the generated text says when the user gives none)
    ("model_name", "Model", None),
    ("owner", "Owner / contact", None),
    ("intended_use", "Intended use", None),
    ("out_of_scope", "Out-of-scope uses", None),
    ("data", "Training data", None),
    ("evaluation", "Evaluation", None),
    ("limitations", "Limitations and caveats", None),
    ("ethical_considerations", "Ethical considerations", None),
]


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
    ctx["explain"] = _explain_section(run, run_dir, ev_held, shap_rows, shap_seconds, seed)
    sections, extra_plots, notes = audit_sections.collect(run_dir)
    ctx["audits"] = {"sections": sections, "extra_plots": extra_plots, "notes": notes}
    en = energy_mod.estimate(meta, watts_per_core, grid_intensity)
    ctx["energy"] = _energy(en, lb, meta)
    ctx["card"] = _card(run, user_card, ctx, card)
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


def load_card(card) -> dict:
    """The user's model-card text: a dict, or a .json / .yaml / .yml file holding a mapping."""
    if isinstance(card, dict):
        d = card
    else:
        p = Path(card)
        suffix = p.suffix.lower()
        if not p.is_file():
            raise DataFileError(f"model card file '{p}' does not exist")
        if suffix not in (".json", ".yaml", ".yml"):
            raise DataFileError(f"model card file '{p}': use a .json, .yaml or .yml file")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise DataFileError(f"model card file '{p}' could not be read: {e}") from None
        if suffix == ".json":
            try:
                d = json.loads(text)
            except ValueError as e:
                raise DataFileError(f"model card file '{p}' is not valid JSON: {e}") from None
        else:
            try:
                import yaml
            except ImportError:
                raise MissingExtraError("pyyaml", "report") from None
            try:
                d = yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise DataFileError(f"model card file '{p}' is not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(d, dict):
        where = "" if isinstance(card, dict) else f" in '{card}'"
        raise DataFileError(f"the model card{where} must be a mapping of fields "
                            "(intended_use: ..., limitations: ...)")
    return {str(k): v for k, v in d.items()}


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
    wanted = ["rank", "model", "status", score_col, "ensemble_weight", "fit_s", "trial_s", "peak_mb",
              "predict_rows_per_s"]
    cols = [c for c in wanted if c in lb.columns]
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


def _explain_section(run, run_dir, ev_held, shap_rows: int, shap_seconds: float, seed: int) -> dict:
    out = {"figures": [], "note": "", "table": [], "available": False, "members": [], "meta": {}}
    if ev_held is None:
        path = Path(run_dir) / "audit" / "explanation.json" if run_dir is not None else None
        if path is not None and path.is_file():
            try:
                d = json.loads(path.read_text())
            except (OSError, ValueError):
                d = {}
            imp = audit_sections.explanation_importance(d)
            if imp is not None:
                names, vals = imp
                out["figures"].append({"uri": plots.importance_bar(
                    names, vals, f"mean |SHAP value| ({d.get('output_space', 'margin')})",
                    f"Feature importance ({len(d.get('rows') or [])} rows, from audit/explanation.json)"),
                    "caption": "Mean absolute SHAP value per feature: how far, on average, each feature moves "
                               "a prediction away from the average prediction. From the explanation saved by "
                               "`assay explain`."})
                out["available"] = True
        out["note"] = ("No held-out data was given, and a Run does not keep its training rows, so SHAP values "
                       "cannot be computed here. " + ("The importance below comes from audit/explanation.json. "
                                                      if out["available"] else "")
                       + "Run `assay report RUN --data HELDOUT.csv` to add SHAP importance, a summary "
                         "(beeswarm) plot and dependence plots of the top features on held-out rows.")
        return out
    try:
        from assay.audit import plots as aplots

        df = ev_held.frame
        n = len(df)
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(n, size=min(n, shap_rows), replace=False))
        t = time.perf_counter()
        # only the sample is coerced and explained (its background rows are drawn from it too)
        ex, budget_note = _explain_within(run, df.iloc[idx].reset_index(drop=True), shap_seconds, seed)
        secs = time.perf_counter() - t
    except MissingExtraError as e:
        out["note"] = f"SHAP values need the audit extra: {e}"
        return out
    except OptionError as e:
        out["note"] = f"SHAP values could not be computed: {e}"
        return out
    out["available"] = True
    out["note"] = budget_note
    out["meta"] = {"rows": len(ex.rows), "of": n, "space": ex.output_space, "exact": ex.exact,
                   "additivity": ex.additivity_error, "seconds": secs}
    out["members"] = ex.members
    imp = ex.importance()
    total = float(imp.sum()) or 1.0
    out["table"] = [{"feature": str(k), "mean |SHAP|": float(v), "share": f"{v / total:.1%}"}
                    for k, v in imp.head(15).items()]
    multi = len(ex.output_names) > 1
    with tempfile.TemporaryDirectory(prefix="assay-report-") as tmp:
        tmp = Path(tmp)
        figs = [(aplots.plot_importance(ex, tmp / "importance.png"),
                 ("Mean absolute SHAP value per feature: how far, on average, each feature moves a prediction "
                  "away from the average prediction (in the model's margin"
                  + ("; averaged over the classes" if multi else "") + ").")),
                (aplots.plot_summary(ex, tmp / "summary.png"),
                 ("One dot per explained row and feature: its position is the feature's SHAP value for that row "
                  "(right pushes the prediction up), its colour the feature's value (red high, blue low). "
                  + (f"Shown for class {ex.output_names[0]}." if multi else "")))]
        for i, name in enumerate(list(imp.index[:DEPENDENCE_PLOTS])):
            figs.append((aplots.plot_dependence(ex, name, tmp / f"dep{i}.png"),
                         (f"How the SHAP value of '{name}' varies with its value: the shape of the effect the "
                          "model learnt (spread at one value comes from interactions with other features).")))
        for p, caption in figs:
            out["figures"].append({"uri": plots.png_file_uri(p, max_bytes=20_000_000), "caption": caption})
    return out


def _slow_estimators(run) -> list[tuple[str, object]]:
    """(member, estimator) pairs SHAP can only explain by permutation (many model calls per row)."""
    try:
        from assay.audit.shap_values import _learner_kind
    except ImportError:
        return []
    return [(m.name, e) for m in getattr(run.model, "members", []) for e in m.estimators
            if hasattr(e, "steps") and _learner_kind(e.steps[-1][1]) == "other"]


def _explain_within(run, sample: pd.DataFrame, seconds: float, seed: int):
    """Explain `sample`; when a member needs permutation SHAP, only as many rows as its measured
    cost allows in `seconds`."""
    slow = _slow_estimators(run)
    if not slow or len(sample) <= SHAP_PROBE_ROWS:
        return run.explain(sample, seed=seed), ""
    from assay.audit.explain import BACKGROUND_ROWS
    from assay.search.trial import predict_output

    # shap evaluates one row's 2 x features + 1 masked copies of the (at most 50) background
    # rows in one batch: time one such batch per slow estimator
    X = run.features(sample.head(min(len(sample), BACKGROUND_ROWS // 2)))
    batch = pd.concat([X] * (2 * X.shape[1] + 1), ignore_index=True)
    per_row = 0.0
    for _, est in slow:
        predict_output(est, X.head(5), run.task)          # warm up
        t = time.perf_counter()
        predict_output(est, batch, run.task)
        per_row += time.perf_counter() - t
    per_row *= PERMUTATION_OVERHEAD
    n = int(min(len(sample), max(SHAP_PROBE_ROWS, seconds / max(per_row, 1e-9))))
    ex = run.explain(sample, rows=slice(0, n), seed=seed)
    note = ""
    if n < len(sample):
        names = ", ".join(dict.fromkeys(name for name, _ in slow))
        note = (f"{n} of the {len(sample)} sampled rows were explained: {names} can only be explained by "
                f"permutation SHAP (about {per_row:.2g} s per row here), so SHAP had a budget of {seconds:g} s "
                "(--shap-seconds).")
    return ex, note


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


def _card(run, user: dict, ctx: dict, card_src) -> dict:
    meta = run.meta
    members = meta.get("ensemble") or []
    ens = ", ".join(f"{m['member']} (weight {m['weight']:.2f}, {m['fit']})" for m in members) or "constant baseline"
    ev = ctx.get("evaluation")
    gen: dict[str, str] = {}
    gen["model_name"] = (f"{'Ensemble of ' + str(len(members)) + ' models' if members else 'Baseline'} predicting "
                         f"'{meta['target']}' ({meta['task']}); assay {meta.get('assay_version')}, created "
                         f"{meta.get('created', '?')}, seed {meta.get('seed')}. Members: {ens}.")
    classes = run.classes
    gen["intended_use"] = (f"Predict '{meta['target']}'"
                           + (f" (classes: {', '.join(map(str, classes[:10]))}{' ...' if len(classes) > 10 else ''})"
                              if classes else "")
                           + f" for rows shaped like the training data ({len(run.schema.features)} feature columns). "
                           "The purpose, users and decisions this model supports are not recorded in the Run: "
                           "state them in a card file (intended_use).")
    dropped = run.schema.dropped
    gen["data"] = (f"{meta.get('n_rows', 0):,} training rows, {len(run.schema.features)} features used"
                   + (f"; dropped: {', '.join(f'{k} ({v})' for k, v in list(dropped.items())[:8])}" if dropped else "")
                   + ". The source of the data is not recorded in the Run.")
    ev_text = (f"{meta['metric']} {audit_sections.fmt(meta.get('cv_score'))} by {meta.get('n_folds')}-fold "
               "cross-validation (out-of-fold predictions of the ensemble; the ensemble was selected on them, "
               "so this is slightly optimistic)")
    if ev is not None and ev["source"] == "heldout":
        main = next((m for m in ev["metrics"] if m["main"]), None)
        if main:
            ev_text += f"; {meta['metric']} {audit_sections.fmt(main['value'])} on {ev['label']}"
    gen["evaluation"] = ev_text + "."
    lim = []
    if meta.get("status") != "complete":
        lim.append(f"The fit ended with status '{meta.get('status')}': fewer models were tried than planned.")
    n = int(meta.get("n_rows") or 0)
    if n and n < 1000:
        lim.append(f"Trained on only {n} rows: scores carry wide uncertainty.")
    share = ctx["data"].get("minority_share")
    if share is not None and share < 0.1:
        lim.append(f"The rarest class makes up {share:.1%} of the training rows: accuracy is misleading; "
                   "read the precision-recall curve and per-class results.")
    if ev is not None and ev.get("ece") is not None and ev["ece"] > 0.05:
        lim.append(f"Probabilities are miscalibrated (expected calibration error {ev['ece']:.3f}): do not read "
                   "them as frequencies without recalibration.")
    if ev is None or ev["source"] != "heldout":
        lim.append("Performance here is measured on out-of-fold predictions of the training data, not on an "
                   "independent held-out set.")
    kinds = {s["title"] for s in ctx["audits"]["sections"]}
    if "Fairness" not in kinds:
        lim.append("No fairness audit is saved with this Run: differences in errors between groups have not "
                   "been measured.")
    lim.append("The model reflects the training data's population and period; it is not validated under "
               "distribution shift, and unseen categories are treated as missing.")
    lim += [f"Data warning: {w}" for w in meta.get("warnings", [])[:5]]
    gen["limitations"] = lim
    gen["out_of_scope"] = "Not stated. Add out_of_scope to a card file."
    gen["ethical_considerations"] = "Not stated. Add ethical_considerations to a card file."
    gen["owner"] = "Not stated. Add owner to a card file."
    fields = []
    for key, heading, _ in CARD_FIELDS:
        fields.append({"key": key, "heading": heading, "user": _as_list(user.get(key)) if key in user else None,
                       "generated": _as_list(gen.get(key))})
    known = {k for k, _, _ in CARD_FIELDS}
    for k, v in user.items():
        if k not in known:
            fields.append({"key": k, "heading": k.replace("_", " ").capitalize(), "user": _as_list(v),
                           "generated": []})
    src = None
    if card_src is not None:
        src = str(card_src) if not isinstance(card_src, dict) else "a dict passed to build_report"
    return {"fields": fields, "source": src}


def _as_list(v) -> list[str]:
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    if isinstance(v, dict):
        return [f"{k}: {x}" for k, x in v.items()]
    return [str(v)]


def _repro(meta: dict, run_dir) -> dict:
    cfg = {k: v for k, v in (meta.get("config") or {}).items() if v not in (None, {}, [])}
    from assay.versions import library_versions

    now = library_versions()
    versions = [{"library": k, "fit with": v, "now": now.get(k, "")} for k, v in (meta.get("versions") or {}).items()]
    drift = [v["library"] for v in versions if v["now"] and v["now"] != v["fit with"] and v["library"] != "python"]
    return {"config": cfg, "versions": versions, "drift": drift,
            "path": str(run_dir) if run_dir is not None else None}

"""The report's SHAP section: a sample of the held-out rows explained with `Run.explain`
(members that only permutation SHAP can explain get a time budget), or, without held-out
data, the importance saved in RUN/audit/explanation.json."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from assay.errors import MissingExtraError, OptionError
from assay.report import audits as audit_sections
from assay.report import plots

SHAP_ROWS = 500          # held-out rows explained (a random sample)
SHAP_SECONDS = 8.0       # time for SHAP when a member needs (slow) permutation SHAP
SHAP_PROBE_ROWS = 3      # fewest rows explained
PERMUTATION_OVERHEAD = 2.5   # shap's own work per permuted row over the model's (measured on adult)
DEPENDENCE_PLOTS = 3     # SHAP dependence plots of the most important features


def explain_section(run, run_dir, ev_held, shap_rows: int, shap_seconds: float, seed: int) -> dict:
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

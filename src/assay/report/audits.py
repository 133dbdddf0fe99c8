"""The report's audit sections: every RUN/audit/*.json rendered as readable tables (any
shape: scalars, records, nested objects, arrays), the SHAP explanation summarised, and the
audit's PNG plots embedded.

A PNG belongs to an audit when its name starts with the audit's file stem (audit/ or
audit/plots/) or lies in audit/<stem>/; `assay explain --plots` output (audit/plots/ summary,
importance, dependence_*, waterfall_*) belongs to the explanation. Others are shown last.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

MAX_ROWS = 50          # rows of a record table
MAX_COLS = 14          # columns of a record table
MAX_DEPTH = 4
MAX_PLOTS = 40
EXPLAIN_PLOTS = ("summary", "importance", "dependence_", "waterfall_")

TITLES = {
    "explanation": "SHAP explanation", "lime": "LIME explanations", "fairness": "Fairness",
    "robustness": "Robustness", "privacy": "Privacy", "permutation_importance": "Permutation importance",
    "partial_dependence": "Partial dependence", "tree_rules": "Rules from tree members",
    "surrogate": "Surrogate tree", "monotone_check": "Monotone constraints",
}


def collect(run_dir: Path | None) -> tuple[list[dict], list[dict], list[str]]:
    """(audit sections, unassigned plots, notes) from run_dir/audit."""
    if run_dir is None or not (Path(run_dir) / "audit").is_dir():
        return [], [], []
    root = Path(run_dir) / "audit"
    jsons = sorted(root.glob("*.json"))
    pngs = sorted(p for p in root.rglob("*.png") if p.is_file())
    notes = []
    if len(pngs) > MAX_PLOTS:
        notes.append(f"{len(pngs)} PNG files under audit/: the first {MAX_PLOTS} are shown")
        pngs = pngs[:MAX_PLOTS]
    used: set[Path] = set()
    sections = []
    for jp in jsons:
        stem = jp.stem
        try:
            data = json.loads(jp.read_text())
        except (OSError, ValueError) as e:
            notes.append(f"audit/{jp.name} could not be read ({e}); skipped")
            continue
        kind = str(data.get("kind", stem)) if isinstance(data, dict) else stem
        mine = [p for p in pngs if p not in used and _belongs(p, root, stem, kind)]
        used.update(mine)
        body = explanation_html(data) if kind == "explanation" and isinstance(data, dict) else value_html(
            {k: v for k, v in data.items() if k != "kind"} if isinstance(data, dict) else data)
        sections.append({"id": f"audit-{_slug(stem)}", "title": TITLES.get(kind, kind.replace("_", " ").capitalize()),
                         "file": f"audit/{jp.name}", "html": body,
                         "plots": _plots(mine, root, notes)})
    rest = _plots([p for p in pngs if p not in used], root, notes)
    return sections, rest, notes


def _belongs(p: Path, root: Path, stem: str, kind: str) -> bool:
    rel = p.relative_to(root)
    if rel.parts[0] == stem and len(rel.parts) > 1:
        return True
    if len(rel.parts) > 2:
        return False
    if p.stem.startswith(stem):
        return True
    return kind == "explanation" and rel.parts[0] == "plots" and p.stem.startswith(EXPLAIN_PLOTS)


def _plots(paths, root: Path, notes: list) -> list[dict]:
    from assay.report.plots import png_file_uri

    out = []
    for p in paths:
        uri = png_file_uri(p)
        if uri is None:
            notes.append(f"audit/{p.relative_to(root)} is not a PNG under 5 MB; not embedded")
            continue
        out.append({"uri": uri, "name": str(p.relative_to(root))})
    return out


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in s.lower()).strip("-") or "audit"


# ---------------------------------------------------------------------------- generic


def fmt(v) -> str:
    """One scalar as text."""
    if v is None:
        return "\u2014"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "\u2014"
        if v.is_integer() and 1000 <= abs(v) < 1e15:
            return fmt(int(v))
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
            return f"{v:.3g}"
        return f"{v:.4g}"
    return str(v)


def _esc(v) -> str:
    return html.escape(fmt(v))


def _is_scalar(v) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _label(k) -> str:
    return html.escape(str(k).replace("_", " "))


def value_html(v, depth: int = 0) -> str:
    if _is_scalar(v):
        return f"<p>{_esc(v)}</p>"
    if isinstance(v, dict):
        return _dict_html(v, depth)
    if isinstance(v, list):
        return _list_html(v, depth)
    return f"<p>{html.escape(str(v))}</p>"


def _dict_html(d: dict, depth: int) -> str:
    if not d:
        return "<p class='muted'>(empty)</p>"
    scalars = {k: v for k, v in d.items() if _is_scalar(v) or _short_list(v)}
    parts = []
    if scalars:
        rows = "".join(f"<tr><th>{_label(k)}</th><td>{_inline(v)}</td></tr>" for k, v in scalars.items())
        parts.append(f"<table class='kv'>{rows}</table>")
    for k, v in d.items():
        if k in scalars:
            continue
        tag = f"h{min(6, 4 + depth)}"
        if depth >= MAX_DEPTH:
            text = json.dumps(v, default=str)
            parts.append(f"<details><summary>{_label(k)}</summary><pre>{html.escape(text[:4000])}"
                         f"{'...' if len(text) > 4000 else ''}</pre></details>")
            continue
        parts.append(f"<{tag}>{_label(k)}</{tag}>" + value_html(v, depth + 1))
    return "".join(parts)


def _short_list(v) -> bool:
    return isinstance(v, list) and len(v) <= 12 and all(_is_scalar(x) for x in v)


def _inline(v) -> str:
    if isinstance(v, list):
        return html.escape(", ".join(fmt(x) for x in v)) if v else "(none)"
    return _esc(v)


def _list_html(v: list, depth: int) -> str:
    if not v:
        return "<p class='muted'>(none)</p>"
    if all(isinstance(x, dict) for x in v):
        if all(all(_is_scalar(y) or _short_list(y) for y in x.values()) for x in v):
            return records_table(v)
        return "".join(f"<div class='item'>{_dict_html(x, depth + 1)}</div>" for x in v[:MAX_ROWS]) + _more(len(v))
    if all(_is_scalar(x) for x in v):
        return f"<p>{_scalar_list(v)}</p>"
    if all(isinstance(x, list) and all(_is_scalar(y) for y in x) for x in v):
        ncol = max(len(x) for x in v)
        if len(v) <= 20 and ncol <= 12:
            rows = "".join("<tr>" + "".join(f"<td>{_esc(y)}</td>" for y in x) + "</tr>" for x in v)
            return f"<table class='grid'>{rows}</table>"
        arr = _numeric(v)
        extra = f": min {fmt(float(np.nanmin(arr)))}, max {fmt(float(np.nanmax(arr)))}" if arr is not None else ""
        return f"<p class='muted'>array of {len(v)} \u00d7 {ncol} values{extra}</p>"
    arr = _numeric(v)
    if arr is not None:
        shape = " \u00d7 ".join(map(str, arr.shape))
        return (f"<p class='muted'>array of shape {shape}: "
                f"min {fmt(float(np.nanmin(arr)))}, max {fmt(float(np.nanmax(arr)))}</p>")
    return "".join(f"<div class='item'>{value_html(x, depth + 1)}</div>" for x in v[:MAX_ROWS]) + _more(len(v))


def _scalar_list(v: list) -> str:
    nums = [x for x in v if isinstance(x, (int, float)) and not isinstance(x, bool)]
    if len(v) > 12 and len(nums) == len(v):
        a = np.asarray(nums, dtype=float)
        return html.escape(f"{len(v)} values: min {fmt(float(np.nanmin(a)))}, mean {fmt(float(np.nanmean(a)))}, "
                           f"max {fmt(float(np.nanmax(a)))}")
    shown = ", ".join(fmt(x) for x in v[:20])
    return html.escape(shown + (f", ... ({len(v)} in all)" if len(v) > 20 else ""))


def _numeric(v):
    try:
        a = np.asarray(v, dtype=float)
        return a if a.size else None
    except (TypeError, ValueError):
        return None


def _more(n: int) -> str:
    return f"<p class='muted'>... {n - MAX_ROWS} more not shown</p>" if n > MAX_ROWS else ""


def records_table(records: list[dict], max_rows: int = MAX_ROWS) -> str:
    cols: list = []
    for r in records:
        for k in r:
            if k not in cols:
                cols.append(k)
    hidden = cols[MAX_COLS:]
    cols = cols[:MAX_COLS]
    head = "".join(f"<th>{_label(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td class='{_align(r.get(c))}'>{_inline(r.get(c))}</td>" for c in cols)
                   + "</tr>" for r in records[:max_rows])
    note = f"<p class='muted'>{len(hidden)} more columns not shown: {html.escape(', '.join(map(str, hidden)))}</p>" \
        if hidden else ""
    return f"<div class='scroll'><table class='data'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>" \
        + _more(len(records)) + note


def _align(v) -> str:
    return "num" if isinstance(v, (int, float)) and not isinstance(v, bool) else ""


# ---------------------------------------------------------------------------- explanation


def explanation_html(d: dict) -> str:
    """The SHAP explanation: what was explained, how exactly, and the global importance
    (mean |SHAP| per feature) computed from its values."""
    parts = []
    vals = _numeric(d.get("values") or [])
    n_rows = len(d.get("rows") or [])
    kv = {"rows explained": n_rows, "output space": d.get("output_space"),
          "outputs": ", ".join(map(str, d.get("output_names") or [])),
          "exact": d.get("exact"), "largest additivity error": d.get("additivity_error")}
    parts.append(_dict_html(kv, 1))
    members = d.get("members") or []
    if members:
        parts.append("<h4>Members and how each was explained</h4>" + records_table(members))
    names = d.get("feature_names") or []
    if vals is not None and vals.ndim == 3 and vals.shape[1] == len(names) and len(names):
        imp = np.abs(vals).mean(axis=(0, 2))
        order = np.argsort(-imp)[:20]
        recs = [{"feature": names[i], "mean |SHAP|": float(imp[i]),
                 "share": f"{imp[i] / max(imp.sum(), 1e-300):.1%}"} for i in order]
        parts.append("<h4>Global importance (mean |SHAP| over rows and outputs)</h4>" + records_table(recs))
    return "".join(parts)


def explanation_importance(d: dict) -> tuple[list, np.ndarray] | None:
    vals = _numeric(d.get("values") or [])
    names = d.get("feature_names") or []
    if vals is None or vals.ndim != 3 or vals.shape[1] != len(names) or not len(names):
        return None
    return list(names), np.abs(vals).mean(axis=(0, 2))

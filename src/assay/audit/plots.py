"""PNG plots of an `Explanation`: summary (beeswarm), importance (bar), dependence and
waterfall, and `save_all` to write the usual set into one folder.

Every function writes one PNG and returns its path. matplotlib and shap are imported inside
the functions, so `import assay` never pulls them in; the Agg backend is selected unless
pyplot is already in use (then its backend is left alone, so a notebook keeps its figures).
Axis labels name the output space of the explanation (e.g. "log-odds of Survived = 1") and,
for multiclass, the class plotted (`output`, one of `expl.output_names`; default the first).
"""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from assay.errors import MissingExtraError, OptionError

MAX_LEVELS = 20          # dependence plots of categorical features: most frequent levels shown
MAX_COLOUR_LEVELS = 50   # categorical features with more levels are not coloured in the summary
DPI = 110


# ---------------------------------------------------------------------------- public API


def plot_summary(expl, path, output=None, max_display: int = 15) -> Path:
    """Beeswarm of SHAP values: one row per feature (most important on top), one dot per
    explained row, coloured by the feature's value (categorical: by level)."""
    plt = pyplot()
    import shap

    j = _output_index(expl, output)
    feats = list(expl.feature_names)
    colour = _colour_matrix(expl)
    sexp = shap.Explanation(values=np.asarray(expl.values[:, :, j], dtype=float),
                            base_values=np.full(len(expl.values), float(expl.base_values[j])),
                            data=colour, feature_names=feats)
    n_shown = min(max_display, len(feats))
    fig = plt.figure(figsize=(8.5, 1.2 + 0.42 * (n_shown + (len(feats) > max_display))))
    ax = fig.add_subplot(111)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)    # uncoloured (all-NaN) features
            shap.plots.beeswarm(sexp, max_display=max_display, ax=ax, show=False, plot_size=None,
                                color_bar_label="Feature value (categorical: by level)")
        ax.set_xlabel(f"SHAP value ({_space(expl, j)})", fontsize=11)
        ax.set_title(_title(expl, j, "SHAP summary"), fontsize=12)
        return _save(plt, fig, path)
    finally:
        plt.close(fig)


def plot_importance(expl, path, max_display: int = 15) -> Path:
    """Horizontal bar of mean |SHAP| per feature (multiclass: averaged over the classes)."""
    plt = pyplot()
    imp = expl.importance()
    shown = imp.iloc[:max_display]
    rest = imp.iloc[max_display:]
    labels = [_short(n, 40) for n in shown.index]
    vals = list(shown.values)
    if len(rest):
        labels.append(f"sum of {len(rest)} other features")
        vals.append(float(rest.sum()))
    labels, vals = labels[::-1], vals[::-1]
    fig, ax = plt.subplots(figsize=(8.5, 1.3 + 0.4 * len(vals)))
    try:
        colours = ["#9e9e9e" if lab.startswith("sum of ") else "#1e88e5" for lab in labels]
        bars = ax.barh(range(len(vals)), vals, color=colours)
        ax.set_yticks(range(len(vals)), labels, fontsize=10)
        top = max(vals) if vals and max(vals) > 0 else 1.0
        for b, v in zip(bars, vals):
            ax.text(b.get_width() + 0.01 * top, b.get_y() + b.get_height() / 2, f"{v:.3g}",
                    va="center", fontsize=9)
        ax.set_xlim(0, top * 1.15)
        space = expl.output_space
        if len(expl.output_names) > 1:
            ax.set_xlabel(f"mean |SHAP value| ({space}; averaged over {len(expl.output_names)} classes)",
                          fontsize=10)
        else:
            ax.set_xlabel(f"mean |SHAP value| ({space})", fontsize=11)
        ax.set_title(f"Feature importance ({len(expl.values)} rows)", fontsize=12)
        ax.spines[["top", "right"]].set_visible(False)
        return _save(plt, fig, path)
    finally:
        plt.close(fig)


def plot_dependence(expl, feature, path, output=None) -> Path:
    """SHAP value of `feature` against its value: a scatter for numeric and date features,
    a box and strip per level for categorical ones (the most frequent levels)."""
    plt = pyplot()
    j = _output_index(expl, output)
    k = _feature_index(expl, feature)
    name = expl.feature_names[k]
    y = np.asarray(expl.values[:, k, j], dtype=float)
    col = _column(expl, name)
    kind = _kind(col)
    fig, ax = plt.subplots(figsize=(8, 5.2))
    try:
        if kind in ("numeric", "datetime"):
            x = col.astype(float) if kind == "numeric" else col
            ok = col.notna().to_numpy()
            ax.scatter(x[ok], y[ok], s=14, alpha=0.7, color="#1e88e5", edgecolors="none")
            if (~ok).any() and ok.any():
                # missing values: marked at the left edge of the observed values
                ax.scatter([x[ok].min()] * int((~ok).sum()), y[~ok], s=18, alpha=0.7,
                           color="#e53935", marker="x", label=f"missing ({int((~ok).sum())} rows)")
                ax.legend(loc="best", fontsize=9)
            if kind == "datetime":
                fig.autofmt_xdate()
            ax.set_xlabel(f"{_short(name, 60)} (value)", fontsize=11)
        elif _is_free_text(col):
            # identifiers / free text: too many levels for a box each; rows ranked by SHAP
            # value, the most extreme labelled with their text
            order = np.argsort(y)
            ys = y[order]
            ax.scatter(np.arange(len(ys)), ys, s=10, alpha=0.7, color="#1e88e5", edgecolors="none")
            text = col.astype("string").fillna("(missing)").to_numpy()[order]
            n_lab = min(5, len(ys) // 2)
            for r in list(range(n_lab)) + list(range(len(ys) - n_lab, len(ys))):
                ax.annotate(_short(text[r], 28), (r, ys[r]), xytext=(6, 0), textcoords="offset points",
                            fontsize=7.5, va="center", color="#424242")
            ax.set_xlim(-0.03 * len(ys), len(ys) * 1.3)
            ax.set_xlabel(f"rows ranked by SHAP value ({_short(name, 40)}: "
                          f"{col.nunique()} distinct values, extremes labelled)", fontsize=10)
        else:
            levels, groups = _levels(col, y)
            pos = np.arange(len(levels))
            ax.boxplot([g for g in groups], positions=pos, widths=0.55, showfliers=False,
                       medianprops={"color": "#e53935"})
            rng = np.random.default_rng(0)
            for p, g in zip(pos, groups):
                ax.scatter(p + rng.uniform(-0.18, 0.18, len(g)), g, s=10, alpha=0.5,
                           color="#1e88e5", edgecolors="none")
            if len(levels) > 6:
                ax.set_xticks(pos, [f"{_short(lev, 20)} (n={len(g)})" for lev, g in zip(levels, groups)],
                              rotation=40, ha="right", rotation_mode="anchor", fontsize=9)
            else:
                ax.set_xticks(pos, [f"{_short(lev, 20)}\n(n={len(g)})" for lev, g in zip(levels, groups)],
                              fontsize=9)
            ax.set_xlabel(f"{_short(name, 60)} (level)", fontsize=11)
        ax.axhline(0, color="#9e9e9e", lw=0.8, zorder=0)
        ax.set_ylabel(f"SHAP value of {_short(name, 30)}\n({_space(expl, j)})", fontsize=10)
        ax.set_title(_title(expl, j, f"Dependence on {_short(name, 50)}"), fontsize=12)
        ax.spines[["top", "right"]].set_visible(False)
        return _save(plt, fig, path)
    finally:
        plt.close(fig)


def plot_waterfall(expl, row, path, output=None, max_display: int = 12) -> Path:
    """One row's explanation: from the base value, feature by feature, to the model's margin.
    `row` is a row number of the data explained (one of `expl.rows`)."""
    plt = pyplot()
    import shap

    j = _output_index(expl, output)
    i = _row_index(expl, row)
    display = None
    if expl.data is not None:
        display = np.array([_display_value(expl.data[n].iloc[i]) if n in expl.data else "?"
                            for n in expl.feature_names], dtype=object)
    sexp = shap.Explanation(values=np.asarray(expl.values[i, :, j], dtype=float),
                            base_values=float(expl.base_values[j]),
                            data=display, display_data=display,
                            feature_names=[_short(n, 30) for n in expl.feature_names])
    start = plt.figure()
    fig = start
    try:
        shap.plots.waterfall(sexp, max_display=max_display, show=False)
        fig = plt.gcf()
        ax = fig.axes[0]
        margin = float(expl.base_values[j] + expl.values[i, :, j].sum())
        ax.set_xlabel(f"{_space(expl, j)}\nbase value {float(expl.base_values[j]):.3g}"
                      f" \u2192 margin f(x) = {margin:.3g}", fontsize=10)
        fig.suptitle(_title(expl, j, f"Explanation of row {expl.rows[i]}"), fontsize=13, y=1.04)
        return _save(plt, fig, path)
    finally:
        plt.close(fig)
        if fig is not start:
            plt.close(start)


def save_all(expl, directory, top: int = 4) -> list[Path]:
    """summary.png, importance.png, dependence_<feature>.png for the `top` most important
    features and waterfall_row<N>.png for the first explained row, in `directory`."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = [plot_summary(expl, d / "summary.png"), plot_importance(expl, d / "importance.png")]
    used = set()
    for name in list(expl.importance().index[:top]):
        stem = f"dependence_{safe_name(name)}"
        s, n = stem, 2
        while s in used:
            s, n = f"{stem}_{n}", n + 1
        used.add(s)
        paths.append(plot_dependence(expl, name, d / f"{s}.png"))
    paths.append(plot_waterfall(expl, expl.rows[0], d / f"waterfall_row{expl.rows[0]}.png"))
    return paths


def safe_name(name) -> str:
    """A file-name-safe version of a feature name."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    return s[:60] or "feature"


# ---------------------------------------------------------------------------- helpers


def pyplot(extra: str = "audit"):
    """matplotlib.pyplot on the Agg backend (no display), or MissingExtraError naming `extra`."""
    try:
        import matplotlib
    except ImportError as e:
        raise MissingExtraError("matplotlib", extra) from e
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", format="png")
    return path


def _choices(items, limit: int = 20) -> str:
    items = [str(x) for x in items]
    s = ", ".join(items[:limit])
    return s + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def _output_index(expl, output) -> int:
    if output is None:
        return 0
    names = [str(n) for n in expl.output_names]
    if str(output) in names:
        return names.index(str(output))
    raise OptionError(f"output {output!r} is not an output of this explanation: choose one of "
                      f"{_choices(names)}")


def _feature_index(expl, feature) -> int:
    names = list(expl.feature_names)
    if feature in names:
        return names.index(feature)
    raise OptionError(f"feature {feature!r} is not in this explanation: choose one of {_choices(names)}")


def _row_index(expl, row) -> int:
    rows = list(expl.rows)
    try:
        r = int(row)
    except (TypeError, ValueError):
        r = None
    if r is not None and r == row and r in rows:
        return rows.index(r)
    raise OptionError(f"row {row!r} was not explained: choose one of the rows explained "
                      f"({_choices(rows)})")


def _space(expl, j: int) -> str:
    if len(expl.output_names) > 1:
        return f"{expl.output_space}; class {expl.output_names[j]}"
    return expl.output_space


def _title(expl, j: int, what: str) -> str:
    if len(expl.output_names) > 1:
        return f"{what} \u2014 class {expl.output_names[j]}"
    return what


def _short(s, n: int) -> str:
    s = str(s).replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "\u2026"


def _column(expl, name) -> pd.Series:
    if expl.data is None or name not in expl.data:
        raise OptionError(f"this explanation holds no data for feature {name!r}: explain the run again "
                          "with its data to plot values")
    return expl.data[name].reset_index(drop=True)


def _kind(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s):
        return "numeric"
    if pd.api.types.is_numeric_dtype(s):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    return "categorical"


def _colour_matrix(expl) -> np.ndarray | None:
    """Numbers for colouring the beeswarm: numeric values, dates as numbers, categorical
    levels as their codes (alphabetical), NaN (grey) where missing or too many levels."""
    if expl.data is None:
        return None
    n = len(expl.values)
    out = np.full((n, len(expl.feature_names)), np.nan)
    for k, name in enumerate(expl.feature_names):
        if name not in expl.data:
            continue
        s = expl.data[name].reset_index(drop=True)
        kind = _kind(s)
        if kind == "numeric":
            out[:, k] = np.array(pd.to_numeric(s, errors="coerce"), dtype=float)
        elif kind == "datetime":
            t = pd.to_datetime(s)
            v = np.array(t.astype("int64").to_numpy(), dtype=float)
            v[t.isna().to_numpy()] = np.nan
            out[:, k] = v
        else:
            st = s.astype("string")
            levels = sorted(st.dropna().unique())
            if 0 < len(levels) <= MAX_COLOUR_LEVELS:
                codes = pd.Categorical(st, categories=levels).codes.astype(float)
                codes[codes < 0] = np.nan
                out[:, k] = codes
    return out


def _is_free_text(col: pd.Series) -> bool:
    """Many distinct values, most of them seen once: an identifier or free text."""
    counts = col.astype("string").dropna().value_counts()
    return len(counts) > MAX_LEVELS and float(counts.median()) < 2


def _levels(col: pd.Series, y: np.ndarray):
    """Most frequent levels (missing shown as its own level, the rest grouped)."""
    s = col.astype("string").fillna("(missing)")
    counts = s.value_counts()
    keep = list(counts.index[:MAX_LEVELS])
    if len(counts) > MAX_LEVELS:
        s = s.where(s.isin(keep), "(other)")
        keep.append("(other)")
    sv = s.to_numpy()
    groups = [y[sv == lev] for lev in keep]
    return keep, groups


def _display_value(v) -> object:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "missing"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, float, np.number)):
        return float(v)
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d") if v == v.normalize() else v.strftime("%Y-%m-%d %H:%M")
    return _short(v, 24)

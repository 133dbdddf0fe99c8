"""The report's figures, each returned as a `data:image/png;base64,...` URI so the HTML
holds everything it shows (no files beside it, nothing fetched when it opens).

matplotlib (Agg) is imported inside the functions; every figure is closed after encoding.
"""

from __future__ import annotations

import base64
import io

import numpy as np

from assay.audit import plots as audit_plots

DPI = 96
BLUE, ORANGE, GREY, RED, GREEN = "#1e88e5", "#fb8c00", "#9e9e9e", "#e53935", "#43a047"
PALETTE = ["#1e88e5", "#fb8c00", "#43a047", "#e53935", "#8e24aa", "#00acc1", "#6d4c41",
           "#d81b60", "#7cb342", "#3949ab", "#fdd835", "#546e7a"]
MAX_CURVES = 8        # multiclass ROC / PR: the most frequent classes
MAX_CONFUSION = 20    # confusion matrix: the most frequent classes (others grouped)


def pyplot():
    return audit_plots.pyplot("report")


def to_uri(fig) -> str:
    """Encode a figure as a PNG data URI and close it."""
    plt = pyplot()
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    finally:
        plt.close(fig)


def png_file_uri(path, max_bytes: int = 5_000_000) -> str | None:
    """A PNG file as a data URI (None if it is too large or not a PNG)."""
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes or not data.startswith(b"\x89PNG"):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _axes(figsize=(6.4, 4.2)):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=figsize)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _short(s, n: int = 24) -> str:
    s = str(s)
    return s if len(s) <= n else s[: n - 1] + "\u2026"


# ---------------------------------------------------------------------------- data


def class_balance(labels: list, train_counts: np.ndarray, heldout_counts: np.ndarray | None = None) -> str:
    """Horizontal bars: share of each class in the training rows (and the held-out rows)."""
    n = len(labels)
    fig, ax = _axes((6.4, 1.0 + 0.38 * min(n, 30) * (1.6 if heldout_counts is not None else 1)))
    order = np.argsort(-train_counts)[:30]
    y = np.arange(len(order))
    tr = train_counts[order] / max(1, train_counts.sum())
    h = 0.4 if heldout_counts is not None else 0.7
    ax.barh(y - (h / 2 if heldout_counts is not None else 0), tr, height=h, color=BLUE,
            label=f"training ({int(train_counts.sum())} rows)")
    if heldout_counts is not None:
        ho = heldout_counts[order] / max(1, heldout_counts.sum())
        ax.barh(y + h / 2, ho, height=h, color=ORANGE, label=f"held-out ({int(heldout_counts.sum())} rows)")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    for yi, v, c in zip(y, tr, train_counts[order]):
        ax.text(v, yi - (h / 2 if heldout_counts is not None else 0), f" {v:.1%} ({int(c)})",
                va="center", fontsize=8)
    ax.set_yticks(y, [_short(labels[i]) for i in order], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, min(1.0, max(tr.max(), (heldout_counts[order] / max(1, heldout_counts.sum())).max()
                                if heldout_counts is not None else 0) * 1.3 + 0.02))
    ax.set_xlabel("share of rows")
    ax.set_title("Class balance", fontsize=11)
    return to_uri(fig)


def target_histogram(y_train: np.ndarray, y_heldout: np.ndarray | None = None, name: str = "target") -> str:
    fig, ax = _axes((6.4, 3.4))
    both = y_train if y_heldout is None else np.concatenate([y_train, y_heldout])
    bins = np.histogram_bin_edges(both[np.isfinite(both)], bins=40)
    ax.hist(y_train, bins=bins, color=BLUE, alpha=0.75, density=True, label=f"training ({len(y_train)} rows)")
    if y_heldout is not None:
        ax.hist(y_heldout, bins=bins, color=ORANGE, alpha=0.55, density=True,
                label=f"held-out ({len(y_heldout)} rows)")
    ax.legend(fontsize=8, frameon=False)
    ax.set_xlabel(_short(name, 40))
    ax.set_ylabel("density")
    ax.set_title("Target distribution", fontsize=11)
    return to_uri(fig)


# ---------------------------------------------------------------------------- search


def trajectory(points: list[dict], metric: str, greater_is_better: bool, time_note: str) -> str:
    """Every trial's CV score against the time it finished, and the best so far as a step line.
    points: dicts with t (seconds), value (NaN if failed), family."""
    fig, ax = _axes((7.6, 4.0))
    fams = sorted({p["family"] for p in points})
    colour = {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(fams)}
    ok = [p for p in points if p["value"] is not None and np.isfinite(p["value"])]
    bad = [p for p in points if not (p["value"] is not None and np.isfinite(p["value"]))]
    for f in fams:
        pts = [p for p in ok if p["family"] == f]
        if pts:
            ax.scatter([p["t"] for p in pts], [p["value"] for p in pts], s=28, color=colour[f],
                       label=f, zorder=3, edgecolors="white", linewidths=0.5)
    if ok:
        order = sorted(ok, key=lambda p: p["t"])
        best, xs, ys = None, [], []
        for p in order:
            v = p["value"]
            if best is None or (v > best if greater_is_better else v < best):
                best = v
            xs.append(p["t"])
            ys.append(best)
        t_end = max(p["t"] for p in points)
        ax.step(xs + [t_end], ys + [ys[-1]], where="post", color="#212121", lw=1.6,
                label="best so far", zorder=2)
    if bad:
        lo = ax.get_ylim()[0]
        ax.scatter([p["t"] for p in bad], [lo] * len(bad), marker="x", color=RED, s=30,
                   label=f"failed ({len(bad)})", zorder=3, clip_on=False)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"seconds since the search started ({time_note})")
    ax.set_ylabel(f"CV {metric} ({'higher' if greater_is_better else 'lower'} is better)")
    ax.set_title("Search trajectory", fontsize=11)
    ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return to_uri(fig)


# ---------------------------------------------------------------------------- classification


def roc(y: np.ndarray, proba: np.ndarray, classes: list) -> str:
    from sklearn.metrics import auc, roc_curve

    fig, ax = _axes((5.2, 4.6))
    for k, label in _curve_classes(y, proba, classes):
        fpr, tpr, _ = roc_curve(y == k, proba[:, k])
        ax.plot(fpr, tpr, lw=1.8, label=f"{label} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color=GREY, lw=1, label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve", fontsize=11)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.set_aspect("equal")
    return to_uri(fig)


def precision_recall(y: np.ndarray, proba: np.ndarray, classes: list) -> str:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = _axes((5.2, 4.6))
    for i, (k, label) in enumerate(_curve_classes(y, proba, classes)):
        prec, rec, _ = precision_recall_curve(y == k, proba[:, k])
        ap = average_precision_score(y == k, proba[:, k])
        line, = ax.plot(rec, prec, lw=1.8, label=f"{label} (AP {ap:.3f})")
        base = float(np.mean(y == k))
        ax.axhline(base, ls=":", lw=1, color=line.get_color())
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall curve (dotted: class share)", fontsize=11)
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    return to_uri(fig)


def calibration(y: np.ndarray, proba: np.ndarray, classes: list, bins: int = 10) -> tuple[str, float]:
    """Reliability diagram (binary: P(positive class); multiclass: confidence of the predicted
    class against its accuracy) over a histogram of the predictions; returns (uri, ECE)."""
    plt = pyplot()
    if proba.shape[1] == 2:
        p, hit = proba[:, 1], (y == 1).astype(float)
        xlabel = f"predicted probability of {_short(classes[1])}"
        ylabel = f"observed share of {_short(classes[1])}"
    else:
        p, hit = proba.max(axis=1), (proba.argmax(axis=1) == y).astype(float)
        xlabel, ylabel = "confidence (largest predicted probability)", "accuracy"
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    xs, ys, ns = [], [], []
    for b in range(bins):
        m = idx == b
        if m.any():
            xs.append(p[m].mean())
            ys.append(hit[m].mean())
            ns.append(int(m.sum()))
    ns_a = np.array(ns, dtype=float)
    ece = float(np.sum(ns_a * np.abs(np.array(xs) - np.array(ys))) / max(1, len(p)))
    fig, (ax, axh) = plt.subplots(2, 1, figsize=(5.2, 5.4), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ls="--", color=GREY, lw=1, label="perfect calibration")
    drawn = ns_a >= 5           # a bin of one or two rows is noise, not calibration
    ax.plot(np.array(xs)[drawn], np.array(ys)[drawn], marker="o", color=BLUE, lw=1.8,
            label=f"model (ECE {ece:.3f})")
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Calibration", fontsize=11)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    axh.hist(p, bins=edges, color=GREY)
    axh.set_xlabel(xlabel)
    axh.set_ylabel("rows")
    for a in (ax, axh):
        a.spines[["top", "right"]].set_visible(False)
    return to_uri(fig), ece


def confusion(y: np.ndarray, pred: np.ndarray, classes: list) -> str:
    from sklearn.metrics import confusion_matrix

    k = len(classes)
    keep = list(np.argsort(-np.bincount(y, minlength=k))[:MAX_CONFUSION])
    labels = [str(classes[i]) for i in keep]
    if k > MAX_CONFUSION:
        other = k
        y = np.where(np.isin(y, keep), y, other)
        pred = np.where(np.isin(pred, keep), pred, other)
        keep = keep + [other]
        labels.append("(other classes)")
    cm = confusion_matrix(y, pred, labels=keep)
    share = cm / np.clip(cm.sum(axis=1, keepdims=True), 1, None)
    n = len(keep)
    fig, ax = _axes((1.8 + 0.55 * n, 1.4 + 0.5 * n))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{cm[i, j]}\n{share[i, j]:.0%}", ha="center", va="center", fontsize=8 if n < 8 else 6,
                    color="white" if share[i, j] > 0.6 else "#212121")
    ticks = [_short(s, 16) for s in labels]
    ax.set_xticks(range(n), ticks, rotation=40 if n > 4 else 0, ha="right" if n > 4 else "center", fontsize=8)
    ax.set_yticks(range(n), ticks, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix (count, share of the true class)", fontsize=10)
    return to_uri(fig)


def _curve_classes(y, proba, classes):
    """(encoded class, label) pairs to draw: the positive class for binary; the most frequent
    classes (up to MAX_CURVES) for multiclass."""
    k = proba.shape[1]
    if k == 2:
        return [(1, f"{_short(classes[1])} vs {_short(classes[0])}")]
    counts = np.bincount(y, minlength=k)
    order = [i for i in np.argsort(-counts) if counts[i] > 0][:MAX_CURVES]
    return [(int(i), _short(classes[i])) for i in order]


# ---------------------------------------------------------------------------- regression


def residuals(y: np.ndarray, pred: np.ndarray, target: str) -> str:
    plt = pyplot()
    res = y - pred
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.0))
    n = len(y)
    alpha = 0.6 if n < 2000 else 0.25
    ax = axes[0]
    ax.scatter(pred, y, s=8, alpha=alpha, color=BLUE, edgecolors="none")
    lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], ls="--", color=GREY, lw=1)
    ax.set_xlabel("predicted")
    ax.set_ylabel(f"actual {_short(target, 30)}")
    ax.set_title("Actual vs predicted", fontsize=11)
    ax = axes[1]
    ax.scatter(pred, res, s=8, alpha=alpha, color=BLUE, edgecolors="none")
    ax.axhline(0, color=GREY, lw=1, ls="--")
    _binned_mean(ax, pred, res)
    ax.set_xlabel("predicted")
    ax.set_ylabel("residual (actual - predicted)")
    ax.set_title("Residuals vs predicted", fontsize=11)
    ax = axes[2]
    ax.hist(res, bins=40, color=BLUE, alpha=0.85)
    ax.axvline(0, color=GREY, lw=1, ls="--")
    ax.set_xlabel("residual (actual - predicted)")
    ax.set_ylabel("rows")
    ax.set_title(f"Residual distribution (mean {res.mean():.3g}, sd {res.std():.3g})", fontsize=11)
    for a in axes:
        a.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return to_uri(fig)


def _binned_mean(ax, x, r, bins: int = 12) -> None:
    if len(x) < 3 * bins:
        return
    edges = np.quantile(x, np.linspace(0, 1, bins + 1))
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    cx = [x[idx == b].mean() for b in range(bins) if (idx == b).any()]
    cy = [r[idx == b].mean() for b in range(bins) if (idx == b).any()]
    ax.plot(cx, cy, color=ORANGE, lw=2, marker="o", ms=3, label="mean residual (binned)")
    ax.legend(fontsize=8, frameon=False)


# ---------------------------------------------------------------------------- importance


def importance_bar(names: list, values: np.ndarray, xlabel: str, title: str, max_display: int = 15) -> str:
    order = np.argsort(-np.asarray(values))
    shown = order[:max_display]
    labels = [_short(names[i], 36) for i in shown][::-1]
    vals = [float(values[i]) for i in shown][::-1]
    fig, ax = _axes((6.8, 1.1 + 0.34 * len(vals)))
    ax.barh(range(len(vals)), vals, color=BLUE)
    ax.set_yticks(range(len(vals)), labels, fontsize=9)
    top = max(vals) if vals and max(vals) > 0 else 1.0
    for i, v in enumerate(vals):
        ax.text(v + 0.01 * top, i, f"{v:.3g}", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.15)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_title(title, fontsize=11)
    return to_uri(fig)

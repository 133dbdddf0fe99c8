"""PNG plots of fairness results: group metrics with their intervals, and the Pareto
front of a fairness-aware search (metric vs disparity). matplotlib is imported inside
(the `audit` extra); the Agg backend is used unless pyplot is already in use."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from assay.audit import plots as audit_plots

DPI = 110


def _pyplot():
    return audit_plots.pyplot("audit")


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("_") or "attribute"


def plot_group_metrics(audit, directory) -> list[Path]:
    """One PNG per sensitive attribute (and intersection): each metric per group with its
    interval; small groups drawn hollow and marked '*'."""
    plt = _pyplot()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    gf = audit.group_frame()
    metrics = list(audit.overall)
    written = []
    for attr, part in gf.groupby("attribute", sort=False):
        part = part.reset_index(drop=True)
        n = len(metrics)
        fig, axes = plt.subplots(1, n, figsize=(2.6 * n + 1.5, 0.45 * len(part) + 1.8), sharey=True,
                                 squeeze=False)
        ypos = np.arange(len(part))
        labels = [f"{g}{' *' if s else ''} (n={z})" for g, s, z in zip(part["group"], part["small"], part["size"])]
        for ax, m in zip(axes[0], metrics):
            v = part[m].to_numpy(dtype=float)
            lo = part[f"{m}_lo"].to_numpy(dtype=float)
            hi = part[f"{m}_hi"].to_numpy(dtype=float)
            err = np.vstack([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)])
            err = np.where(np.isfinite(err), err, 0)
            small = part["small"].to_numpy(dtype=bool)
            for mask, face in ((~small, "C0"), (small, "none")):
                if mask.any():
                    ax.errorbar(v[mask], ypos[mask], xerr=err[:, mask], fmt="o", color="C0",
                                markerfacecolor=face, capsize=3)
            ov = audit.overall[m]["value"]
            if ov is not None and np.isfinite(ov):
                ax.axvline(ov, color="grey", lw=0.8, ls="--")
            ax.set_title(m, fontsize=9)
            ax.grid(axis="x", alpha=0.3)
        axes[0][0].set_yticks(ypos)
        axes[0][0].set_yticklabels(labels, fontsize=8)
        axes[0][0].invert_yaxis()
        fig.suptitle(f"{attr}: group metrics with {audit.confidence:.0%} bootstrap intervals "
                     f"(dashed: all rows; * fewer than {audit.min_group_size} rows)", fontsize=9)
        fig.tight_layout()
        path = directory / f"fairness_{_slug(attr)}.png"
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        written.append(path)
    return written


def plot_pareto(leaderboard, path, meta: dict | None = None) -> Path | None:
    """Metric vs disparity of every trial of a `fit --fairness` search, the Pareto front
    joined, the bound drawn; None when the leaderboard has no disparity column."""
    lb = pd.read_csv(leaderboard) if not isinstance(leaderboard, pd.DataFrame) else leaderboard
    if "disparity" not in lb.columns:
        return None
    plt = _pyplot()
    score_col = [c for c in lb.columns if c.startswith("cv_")][0]
    ok = lb["status"].eq("ok") & lb["model"].ne("ensemble") & lb["disparity"].notna()
    d = lb[ok]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.scatter(d["disparity"], d[score_col], s=18, color="C0", alpha=0.6, label="trials")
    front = d[d["pareto"].astype(bool)].sort_values("disparity")
    ax.plot(front["disparity"], front[score_col], "o-", color="C3", label="Pareto front")
    ens = lb[lb["model"].eq("ensemble")]
    if len(ens) and ens["disparity"].notna().all():
        ax.scatter(ens["disparity"], ens[score_col], marker="*", s=160, color="C2", label="chosen model",
                   zorder=5)
    fair = (meta or {}).get("fairness", {})
    if fair.get("bound") is not None:
        ax.axvline(fair["bound"], color="grey", ls="--", lw=1, label=f"bound {fair['bound']:g}")
    ax.set_xlabel(f"disparity ({fair.get('constraint', 'constraint')}) on out-of-fold predictions")
    ax.set_ylabel(score_col)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path

"""Partial dependence, ICE curves and Friedman's H interaction statistic of a Run.

All curves are in the model's output space: the probability of `run.classes[1]` (binary),
one probability curve per class (multiclass), or the prediction (regression).

Grids, per feature kind:

* numeric: the unique values when there are at most `grid_points` of them, otherwise the
  unique quantiles at `grid_points` evenly spaced levels from 5% to 95% (the tails are
  left out so that a few outliers do not stretch the curve);
* categorical, high-cardinality, boolean and text: the `grid_points` most frequent values
  (booleans are their canonical 0.0 / 1.0);
* datetime: quantiles of the timestamps, as for numeric (stored as ISO 8601 strings).

Missing values never enter a grid. Grid values are stored JSON-safe (float, str, ISO date).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assay.audit.explain import output_names
from assay.audit.result import AuditResult
from assay.errors import OptionError

SHAP_ROWS = 200
BATCH_ROWS = 100_000
QUANTILE_RANGE = (0.05, 0.95)
LEVEL_KINDS = ("categorical", "high_cardinality", "boolean", "text")


# --------------------------------------------------------------------------- results

@dataclass
class PartialDependence(AuditResult):
    kind = "partial_dependence"
    target: str
    task: str
    output_names: list          # one per output: [classes[1]] binary, classes multiclass, [target]
    y_label: str
    features: list
    feature_kinds: list
    grids: list                 # per feature: the grid values (JSON-safe)
    average: list               # per feature: array (grid, outputs), the PDP
    ice: list                   # per feature: array (ice rows, grid, outputs)
    ice_rows: list              # row numbers (in the data given) of the ICE rows
    n_rows: int                 # rows averaged for the PDP
    seed: int = 0

    def curve(self, feature: str, output=None) -> pd.Series:
        """The PDP of one feature (and one output: default the first) as a Series over the grid."""
        i = _index_of(feature, self.features)
        j = 0 if output is None else [str(o) for o in self.output_names].index(str(output))
        return pd.Series(np.asarray(self.average[i])[:, j], index=pd.Index(self.grids[i], name=feature),
                         name=str(self.output_names[j]))

    def to_frame(self) -> pd.DataFrame:
        """Long format: feature, value (as str), output, average."""
        rows = []
        for f, grid, avg in zip(self.features, self.grids, self.average):
            avg = np.asarray(avg)
            for g, v in enumerate(grid):
                for j, o in enumerate(self.output_names):
                    rows.append({"feature": f, "value": str(v), "output": str(o), "average": float(avg[g, j])})
        return pd.DataFrame(rows, columns=["feature", "value", "output", "average"])


@dataclass
class Interactions(AuditResult):
    kind = "interactions"
    pairs: list                 # [[feature_a, feature_b], ...] sorted by h_statistic, largest first
    h_statistic: list           # Friedman's H (square root of the share of joint-PD variance)
    h_squared: list             # H^2
    n_rows: int
    grid_points: int
    seed: int = 0
    notes: list = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"feature_a": [p[0] for p in self.pairs], "feature_b": [p[1] for p in self.pairs],
                             "h_statistic": self.h_statistic, "h_squared": self.h_squared})


# --------------------------------------------------------------------------- helpers

def _index_of(name, names) -> int:
    try:
        return list(names).index(name)
    except ValueError:
        raise OptionError(f"'{name}' is not in this result; it holds: {', '.join(map(str, names))}") from None


def _check_features(run, features) -> list[str]:
    from assay.data.schema import close_matches

    if isinstance(features, str):
        features = [features]
    names = run.schema.feature_names
    dropped = run.schema.dropped
    out = []
    for f in features:
        f = str(f)
        if f in names:
            if f not in out:
                out.append(f)
            continue
        if f in dropped:
            raise OptionError(f"feature '{f}' is not used by the model (dropped at fit time: {dropped[f]})")
        hits = close_matches(f, names)
        hint = f" Did you mean {' or '.join(repr(h) for h in hits)}?" if hits else ""
        raise OptionError(f"unknown feature '{f}'.{hint} The model's features are: "
                          f"{', '.join(names[:30])}{' ...' if len(names) > 30 else ''}")
    if not out:
        raise OptionError("no features given")
    return out


def _top_features(run, df: pd.DataFrame, top: int, rng) -> list[str]:
    from assay.audit.explain import explain

    idx = np.sort(rng.choice(len(df), size=min(len(df), SHAP_ROWS), replace=False))
    imp = explain(run, df.iloc[idx].reset_index(drop=True)).importance()
    return list(imp.index[:max(1, int(top))])


def _kind(run, feature) -> str:
    return next(c.kind for c in run.schema.features if c.name == feature)


def _grid(col: pd.Series, kind: str, grid_points: int) -> np.ndarray:
    """Grid values in the column's canonical dtype (no missing values)."""
    s = col.dropna()
    if kind in LEVEL_KINDS:
        return s.value_counts(sort=True).index[:grid_points].to_numpy(dtype=col.dtype)
    if kind == "datetime":
        ns = s.to_numpy(dtype="datetime64[ns]").astype("int64")
        grid = _numeric_grid(ns.astype(float), grid_points)
        return np.unique(np.round(grid).astype("int64")).astype("datetime64[ns]").astype(col.dtype)
    return _numeric_grid(s.to_numpy(dtype=float), grid_points)


def _numeric_grid(v: np.ndarray, grid_points: int) -> np.ndarray:
    u = np.unique(v)
    if len(u) <= grid_points:
        return u
    return np.unique(np.quantile(v, np.linspace(*QUANTILE_RANGE, grid_points)))


def _json_grid(grid: np.ndarray, kind: str) -> list:
    if kind == "datetime":
        return [pd.Timestamp(g).isoformat() for g in grid]
    if kind in ("categorical", "high_cardinality", "text"):
        return [str(g) for g in grid]
    return [float(g) for g in grid]


def _outputs(run, out: np.ndarray) -> np.ndarray:
    """Model output as (n, outputs): P(classes[1]) binary, all classes multiclass, value regression."""
    out = np.asarray(out, dtype=float)
    if run.task == "binary":
        return out[:, 1:2]
    if run.task == "multiclass":
        return out
    return out.reshape(-1, 1)


def _y_label(run) -> str:
    t = run.schema.target
    if run.task == "binary":
        return f"P({t} = {run.classes[1]})"
    if run.task == "multiclass":
        return f"P({t} = class)"
    return f"predicted {t}"


def _predict_set(run, X: pd.DataFrame, settings: dict) -> np.ndarray:
    """Model outputs when the columns in `settings` (name -> array of L values) are set, in
    turn, to each of their L values on every row of X: array (L, n, outputs)."""
    n = len(X)
    L = len(next(iter(settings.values())))
    per_call = max(1, BATCH_ROWS // max(n, 1))
    parts = []
    for start in range(0, L, per_call):
        stop = min(L, start + per_call)
        Xr = X.iloc[np.tile(np.arange(n), stop - start)].reset_index(drop=True)
        for col, vals in settings.items():
            arr = np.repeat(np.asarray(vals)[start:stop], n)
            Xr[col] = pd.Series(arr, index=Xr.index).astype(X[col].dtype)
        parts.append(_outputs(run, run.model.predict_output(Xr)).reshape(stop - start, n, -1))
    return np.concatenate(parts, axis=0)


def _read(run, data):
    from assay.data.io import read_table

    df = read_table(data, what="partial dependence data").reset_index(drop=True)
    X = run.features(df).reset_index(drop=True)
    return df, X


# --------------------------------------------------------------------------- partial dependence

def partial_dependence(run, data, features=None, *, top: int = 4, grid_points: int = 20,
                       ice_rows: int = 50, seed: int = 0, max_rows: int | None = 1000) -> PartialDependence:
    """Partial dependence (PDP) and ICE curves of `features` (default: the `top` features by
    mean |SHAP| on at most 200 rows). The PDP averages the model output over at most
    `max_rows` rows of `data` (seeded sample); ICE curves are kept for `ice_rows` of them."""
    if int(grid_points) < 2:
        raise OptionError(f"grid_points must be at least 2 (got {grid_points})")
    rng = np.random.default_rng(seed)
    if features is not None:
        features = _check_features(run, features)
    df, X = _read(run, data)
    if len(X) == 0:
        raise OptionError("partial dependence needs at least one row of data")
    if features is None:
        features = _top_features(run, df, top, rng)
    rows = np.arange(len(X))
    if max_rows is not None and len(X) > max_rows:
        rows = np.sort(rng.choice(len(X), size=int(max_rows), replace=False))
    Xs = X.iloc[rows].reset_index(drop=True)
    k_ice = min(int(ice_rows), len(Xs))
    ice_pos = np.sort(rng.choice(len(Xs), size=k_ice, replace=False)) if k_ice else np.array([], dtype=int)

    kinds, grids, avgs, ices = [], [], [], []
    for f in features:
        kind = _kind(run, f)
        grid = _grid(X[f], kind, int(grid_points))
        if len(grid) == 0:
            out = np.zeros((0, len(Xs), len(output_names(run))))
        else:
            out = _predict_set(run, Xs, {f: grid})            # (grid, rows, outputs)
        kinds.append(kind)
        grids.append(_json_grid(grid, kind))
        avgs.append(out.mean(axis=1))
        ices.append(np.transpose(out[:, ice_pos, :], (1, 0, 2)))
    return PartialDependence(target=run.schema.target, task=run.task, output_names=output_names(run),
                             y_label=_y_label(run), features=list(features), feature_kinds=kinds,
                             grids=grids, average=avgs, ice=ices,
                             ice_rows=[int(rows[i]) for i in ice_pos], n_rows=int(len(Xs)), seed=int(seed))


# --------------------------------------------------------------------------- interactions

def _cell_index(col: pd.Series, grid: np.ndarray, kind: str) -> np.ndarray:
    """For every row, the index of its grid value (nearest for numeric/datetime; -1: none)."""
    if kind in LEVEL_KINDS:
        lookup = {g: i for i, g in enumerate(grid.tolist())}
        return np.array([lookup.get(v, -1) for v in col.tolist()], dtype=int)
    if kind == "datetime":
        v = col.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
        v[col.isna().to_numpy()] = np.nan
        g = grid.astype("datetime64[ns]").astype("int64").astype(float)
    else:
        v = col.to_numpy(dtype=float)
        g = grid.astype(float)
    idx = np.abs(v[:, None] - g[None, :]).argmin(axis=1) if len(g) else np.zeros(len(v), dtype=int)
    idx[np.isnan(v)] = -1
    return idx


def interaction_strength(run, data, pairs=None, *, top: int = 3, grid_points: int = 10,
                         max_rows: int | None = 300, seed: int = 0) -> Interactions:
    """Friedman's H-statistic for pairs of features (default: every pair among the `top`
    features by mean |SHAP|), largest first.

    H^2(j, k) = sum (PD_jk - PD_j - PD_k)^2 / sum PD_jk^2, all partial dependences centred,
    evaluated on a grid of `grid_points` values per feature and weighted by how many of the
    (at most `max_rows`, seeded) rows fall in each grid cell (numeric: nearest grid value).
    Multiclass sums numerator and denominator over the class probabilities. H is 0 for a
    purely additive pair and about 1 when the joint effect is all interaction (the grid
    approximation can put it slightly above 1)."""
    if int(grid_points) < 2:
        raise OptionError(f"grid_points must be at least 2 (got {grid_points})")
    rng = np.random.default_rng(seed)
    if pairs is not None:
        pairs = [tuple(p) for p in pairs]
        bad = [p for p in pairs if len(p) != 2 or p[0] == p[1]]
        if bad:
            raise OptionError(f"pairs must be two different feature names each; got {bad[0]!r}")
        pairs = [tuple(_check_features(run, list(p))) for p in pairs]
    df, X = _read(run, data)
    if len(X) == 0:
        raise OptionError("interaction strength needs at least one row of data")
    notes = []
    if pairs is None:
        feats = _top_features(run, df, max(2, int(top)), rng)
        if len(feats) < 2:
            raise OptionError("interaction strength needs at least two features")
        pairs = list(itertools.combinations(feats, 2))
    rows = np.arange(len(X))
    if max_rows is not None and len(X) > max_rows:
        rows = np.sort(rng.choice(len(X), size=int(max_rows), replace=False))
    Xs = X.iloc[rows].reset_index(drop=True)

    grids, cells, single = {}, {}, {}
    for f in sorted({f for p in pairs for f in p}):
        kind = _kind(run, f)
        g = _grid(X[f], kind, int(grid_points))
        grids[f] = g
        cells[f] = _cell_index(Xs[f], g, kind)
        single[f] = _predict_set(run, Xs, {f: g}).mean(axis=1) if len(g) else None   # (G, outputs)

    results = []
    for a, b in pairs:
        ga, gb = grids[a], grids[b]
        if len(ga) < 2 or len(gb) < 2:
            notes.append(f"{a} x {b}: a feature has fewer than two values; H set to 0")
            results.append((a, b, 0.0))
            continue
        ia, ib = np.meshgrid(np.arange(len(ga)), np.arange(len(gb)), indexing="ij")
        ia, ib = ia.ravel(), ib.ravel()
        joint = _predict_set(run, Xs, {a: ga[ia], b: gb[ib]}).mean(axis=1)   # (Ga*Gb, outputs)
        joint = joint.reshape(len(ga), len(gb), -1)
        w = np.zeros((len(ga), len(gb)))
        ok = (cells[a] >= 0) & (cells[b] >= 0)
        np.add.at(w, (cells[a][ok], cells[b][ok]), 1.0)
        if w.sum() == 0:
            notes.append(f"{a} x {b}: no rows fall on the grid; H set to 0")
            results.append((a, b, 0.0))
            continue
        w /= w.sum()
        wa, wb = w.sum(axis=1), w.sum(axis=0)
        pa = single[a] - (wa[:, None] * single[a]).sum(axis=0)
        pb = single[b] - (wb[:, None] * single[b]).sum(axis=0)
        pj = joint - (w[:, :, None] * joint).sum(axis=(0, 1))
        num = (w[:, :, None] * (pj - pa[:, None, :] - pb[None, :, :]) ** 2).sum()
        den = (w[:, :, None] * pj ** 2).sum()
        results.append((a, b, float(num / den) if den > 1e-24 else 0.0))
    results.sort(key=lambda r: -r[2])
    return Interactions(pairs=[[a, b] for a, b, _ in results],
                        h_statistic=[float(np.sqrt(max(h2, 0.0))) for _, _, h2 in results],
                        h_squared=[h2 for _, _, h2 in results], n_rows=int(len(Xs)),
                        grid_points=int(grid_points), seed=int(seed), notes=notes)


# --------------------------------------------------------------------------- plot

def plot_partial_dependence(result: PartialDependence, path, *, max_ice: int | None = None):
    """Write a PNG: one panel per feature, the PDP bold and the ICE curves thin and faint."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nf = len(result.features)
    if nf == 0:
        raise OptionError("the partial dependence result holds no features to plot")
    ncols = min(3, nf)
    nrows = int(np.ceil(nf / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    multi = len(result.output_names) > 1
    for i, f in enumerate(result.features):
        ax = axes[i // ncols][i % ncols]
        grid, kind = result.grids[i], result.feature_kinds[i]
        avg, ice = np.asarray(result.average[i]), np.asarray(result.ice[i])
        if kind in LEVEL_KINDS and kind != "boolean":
            x = np.arange(len(grid))
            ax.set_xticks(x)
            ax.set_xticklabels([str(g)[:18] for g in grid], rotation=45, ha="right", fontsize=8)
        elif kind == "datetime":
            x = pd.to_datetime(grid).to_numpy()
            ax.tick_params(axis="x", labelrotation=30)
        else:
            x = np.asarray(grid, dtype=float)
            if kind == "boolean":
                ax.set_xticks(x)
                ax.set_xticklabels(["false" if v == 0 else "true" for v in x])
        ice = ice[:max_ice] if max_ice is not None else ice
        for j, out in enumerate(result.output_names):
            c = colors[j % len(colors)]
            if len(ice) and len(grid):
                ax.plot(x, ice[:, :, j].T, color=c, alpha=0.15 if not multi else 0.08, linewidth=0.7)
            marker = "o" if kind in LEVEL_KINDS else None
            ax.plot(x, avg[:, j], color=c if multi else "black", linewidth=2.5, marker=marker,
                    label=str(out) if multi else "average")
        ax.set_title(f)
        ax.set_xlabel(f)
        ax.set_ylabel(result.y_label)
        ax.grid(alpha=0.3)
        if multi and i == 0:
            ax.legend(fontsize=7, title=result.target, title_fontsize=7)
    for k in range(nf, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.suptitle(f"Partial dependence (bold) and ICE curves: {result.target}")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

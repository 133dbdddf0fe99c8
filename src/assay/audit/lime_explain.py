"""LIME explanations of a Run, with a stability check.

`lime_explain(run, data, rows)` fits LIME's local surrogate (`lime.lime_tabular.
LimeTabularExplainer`, quartile-discretised) around each explained row of the Run's final
model. The library does the sampling and the fit; this module only encodes the raw features
into the numeric matrix LIME works on and decodes LIME's samples back into raw rows for
`run.model.predict_output`:

* numeric columns as they are; missing values are imputed by the background median for
  LIME (its statistics and the explained row's own bin), but the model always sees the
  explained row itself, missing values included;
* categorical, high-cardinality and boolean columns as integer codes (declared to LIME as
  `categorical_features` with `categorical_names`; a missing value is its own level
  "(missing)"); LIME samples them by their frequency in the background;
* datetime and text columns are held fixed at the explained row's value: they are left out
  of the perturbation and of the explanation (listed in `held_fixed`).

LIME's statistics (quartiles, frequencies) come from a seeded background sample of `data`
(`background_rows`). What is explained: binary = the probability of `run.classes[1]`;
multiclass = the probability of each row's predicted class (`labels`); regression = the
prediction.

Stability: LIME is random, so every row is explained `repeats` times (seeds seed ..
seed+repeats-1, each a fresh `np.random.RandomState` given to the explainer; the global
numpy random state is never used). A row's stability is the mean pairwise Jaccard
similarity of the top-k feature sets (k = min(5, num_features), by |weight|) across the
repeats; `worst_stability` is that of the least similar pair. The reported weights,
intercept, local prediction and score are those of the first repeat (seed `seed`): a real
LIME fit, whose pieces are consistent with each other; the other repeats only measure how
much it could have differed. Each row uses the same seeds, so a row's explanation does not
depend on which other rows are explained with it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assay.audit.explain import select_rows
from assay.audit.result import AuditResult
from assay.data.schema import BOOLEAN, CATEGORICAL, DATETIME, HIGH_CARDINALITY, NUMERIC, TEXT
from assay.errors import OptionError

MISSING = "(missing)"
TOP_K = 5


@dataclass
class LimeExplanation(AuditResult):
    kind = "lime"
    rows: list                       # row numbers of the explained rows in the data given
    feature_names: list              # the features LIME perturbs and explains
    held_fixed: list                 # datetime/text columns held at each row's value
    output_space: str
    labels: list                     # what was explained per row (class label, or the target)
    weights: list                    # per row: [(feature, condition, weight)], largest |weight| first
    intercept: list                  # per row: the surrogate's intercept
    local_prediction: list           # per row: the surrogate's prediction at the row
    model_prediction: list           # per row: the model's output being explained
    score: list                      # per row: the surrogate's weighted R² on LIME's samples
    stability: list                  # per row: mean pairwise Jaccard of top-k sets over repeats
    worst_stability: list            # per row: the least similar pair's Jaccard
    mean_stability: float = float("nan")
    top_k: int = TOP_K
    repeats: int = 5
    num_samples: int = 1000
    seed: int = 0
    options: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Long format: one line per (row, feature) of the first repeat's explanation."""
        recs = []
        for i, r in enumerate(self.rows):
            for rank, (feat, cond, w) in enumerate(self.weights[i], start=1):
                recs.append({"row": r, "label": self.labels[i], "rank": rank, "feature": feat,
                             "condition": cond, "weight": w, "stability": self.stability[i]})
        cols = ["row", "label", "rank", "feature", "condition", "weight", "stability"]
        return pd.DataFrame(recs, columns=cols)

    def importance(self) -> pd.Series:
        """Mean |weight| per feature over the explained rows (0 where not in a row's list)."""
        tot = dict.fromkeys(self.feature_names, 0.0)
        for ws in self.weights:
            for feat, _, w in ws:
                tot[feat] += abs(w)
        n = max(len(self.weights), 1)
        return (pd.Series(tot) / n).sort_values(ascending=False)


def lime_explain(run, data, rows=None, *, num_features: int = 10, num_samples: int = 1000,
                 repeats: int = 5, seed: int = 0, background_rows: int = 1000) -> LimeExplanation:
    """LIME explanations of `run`'s final model for the rows of `data` (all, or `rows`: a
    slice, a list of row numbers, or "START:STOP"), with their stability over `repeats`."""
    from lime.lime_tabular import LimeTabularExplainer

    _check_options(num_features, num_samples, repeats, background_rows)
    X_all = run.features(data).reset_index(drop=True)
    idx = select_rows(rows, len(X_all))
    rng = np.random.default_rng(seed)
    bg_idx = np.sort(rng.choice(len(X_all), size=min(len(X_all), background_rows), replace=False))
    background = X_all.iloc[bg_idx].reset_index(drop=True)
    enc = _Encoding(run.schema, X_all.columns, background, X_all.iloc[idx])
    if not enc.names:
        raise OptionError("LIME has no feature to perturb: every feature is a datetime or text column")
    train = enc.encode(background)
    mode = "regression" if run.task == "regression" else "classification"
    k = min(TOP_K, num_features)
    model = run.model

    out = {key: [] for key in ("labels", "weights", "intercept", "local_prediction",
                               "model_prediction", "score", "stability", "worst_stability")}
    for i in idx:
        raw = X_all.iloc[[int(i)]].reset_index(drop=True)
        pred = np.asarray(model.predict_output(raw))
        if run.task == "regression":
            label, name, model_pred = 0, str(run.schema.target), float(pred[0])
        else:
            label = 1 if run.task == "binary" else int(np.argmax(pred[0]))
            name, model_pred = str(run.classes[label]), float(pred[0, label])
        row = enc.encode(raw)[0]
        predict_fn = _predict_fn(model, enc, raw, mode)
        sets, first = [], None
        for r in range(repeats):
            rs = np.random.RandomState(seed + r)
            explainer = LimeTabularExplainer(
                train, mode=mode, feature_names=enc.names,
                categorical_features=enc.categorical, categorical_names=enc.categorical_names,
                discretizer=_quartiles(train, enc.categorical, enc.names, rs),
                random_state=rs)
            kw = {} if mode == "regression" else {"labels": (label,)}
            exp = explainer.explain_instance(row, predict_fn, num_features=num_features,
                                             num_samples=num_samples, **kw)
            lab = 0 if mode == "regression" else label
            local = exp.local_exp[lab]
            sets.append({enc.names[j] for j, _ in local[:k]})
            if first is None:
                conds = dict(_conditions(exp, lab))
                first = ([(enc.names[j], conds.get(j, enc.names[j]), float(w)) for j, w in local],
                         float(exp.intercept[lab]), float(np.ravel(exp.local_pred)[0]), float(exp.score))
        sims = [_jaccard(a, b) for a, b in itertools.combinations(sets, 2)]
        out["labels"].append(name)
        out["weights"].append(first[0])
        out["intercept"].append(first[1])
        out["local_prediction"].append(first[2])
        out["model_prediction"].append(model_pred)
        out["score"].append(first[3])
        out["stability"].append(float(np.mean(sims)))
        out["worst_stability"].append(float(np.min(sims)))
    return LimeExplanation(
        rows=[int(i) for i in idx], feature_names=list(enc.names), held_fixed=list(enc.fixed),
        output_space=_output_space(run), mean_stability=float(np.mean(out["stability"])),
        top_k=k, repeats=repeats, num_samples=num_samples, seed=seed,
        options={"num_features": num_features, "background_rows": int(len(background)),
                 "discretizer": "quartile", "weights_from": "first repeat (seed)"},
        **out)


# -- encoding ---------------------------------------------------------------

class _Encoding:
    """Raw feature frame <-> LIME's numeric matrix (numeric values and integer codes)."""

    def __init__(self, schema, columns, background: pd.DataFrame, explained: pd.DataFrame):
        kinds = {c.name: c.kind for c in schema.features}
        self.columns = list(columns)
        self.names, self.categorical, self.categorical_names = [], [], {}
        self.fixed, self.medians, self.levels, self.lookup = [], {}, {}, {}
        for col in self.columns:
            kind = kinds.get(col, NUMERIC)
            if kind in (DATETIME, TEXT):
                self.fixed.append(col)
                continue
            j = len(self.names)
            self.names.append(col)
            if kind in (CATEGORICAL, HIGH_CARDINALITY, BOOLEAN):
                seen = pd.concat([background[col], explained[col]])
                vals = sorted({v for v in seen if not _isna(v)}, key=lambda v: (str(type(v)), v))
                has_na = bool(seen.isna().any())
                levels = vals + ([np.nan] if has_na else [])
                self.levels[col] = np.array(levels, dtype=object if kind != BOOLEAN else "float64")
                self.lookup[col] = {v: n for n, v in enumerate(vals)}
                self.categorical.append(j)
                self.categorical_names[j] = [_level_name(v, kind) for v in levels]
            else:
                med = pd.to_numeric(background[col], errors="coerce").median()
                self.medians[col] = 0.0 if pd.isna(med) else float(med)

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        M = np.empty((len(X), len(self.names)))
        for j, col in enumerate(self.names):
            if col in self.lookup:
                na_code = len(self.lookup[col])     # the NaN level is last (when present)
                M[:, j] = [na_code if _isna(v) else self.lookup[col][v] for v in X[col]]
            else:
                v = pd.to_numeric(X[col], errors="coerce").to_numpy(dtype="float64")
                M[:, j] = np.where(np.isnan(v), self.medians[col], v)
        return M

    def decode(self, M: np.ndarray, raw: pd.DataFrame) -> pd.DataFrame:
        """LIME's samples as raw rows; held-fixed columns take the explained row's value."""
        n = len(M)
        cols = {}
        for col in self.columns:
            if col in self.lookup:
                codes = np.clip(np.rint(M[:, self.names.index(col)]).astype(int), 0, len(self.levels[col]) - 1)
                cols[col] = self.levels[col][codes]
            elif col in self.medians:
                cols[col] = M[:, self.names.index(col)].astype("float64")
            else:
                cols[col] = np.repeat(raw[col].to_numpy(), n)
        out = pd.DataFrame(cols)
        for col in self.columns:
            if out[col].dtype != raw[col].dtype:
                out[col] = out[col].astype(raw[col].dtype)
        return out


def _predict_fn(model, enc: _Encoding, raw: pd.DataFrame, mode: str):
    def predict(M):
        # LIME's first sample is the row itself: the model sees it exactly (missing values too)
        X = pd.concat([raw, enc.decode(M[1:], raw)], ignore_index=True)
        p = np.asarray(model.predict_output(X), dtype="float64")
        return p if mode == "classification" else p.reshape(-1)
    return predict


def _quartiles(train, categorical, names, random_state):
    """LIME's quartile discretizer, fixed for single-valued bins (min == max): lime 0.2.0.1
    returns the bin's z-score (0) there instead of its value, which turns a constant column
    into zeros. The random draws are LIME's own. (lime is imported here, when used.)"""
    from lime.discretize import QuartileDiscretizer

    class Quartiles(QuartileDiscretizer):
        def get_undiscretize_values(self, feature, values):
            ret = super().get_undiscretize_values(feature, values)
            mins = np.array(self.mins[feature])[values]
            maxs = np.array(self.maxs[feature])[values]
            same = mins == maxs
            ret[same] = mins[same]
            return ret

    return Quartiles(train, categorical, names, random_state=random_state)


def _conditions(exp, label) -> list:
    """(feature index, LIME's condition text) pairs for the explained label."""
    mapper = exp.domain_mapper
    names = mapper.discretized_feature_names or mapper.feature_names
    return [(j, names[j]) for j, _ in exp.local_exp[label]]


def _jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _isna(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _level_name(v, kind) -> str:
    if _isna(v):
        return MISSING
    if kind == BOOLEAN:
        return "true" if v == 1 else "false"
    return str(v)


def _check_options(num_features, num_samples, repeats, background_rows) -> None:
    if int(repeats) < 2:
        raise OptionError(f"repeats={repeats}: give at least 2 (the stability score compares repeats)")
    if int(num_features) < 1:
        raise OptionError(f"num_features={num_features}: give at least 1")
    if int(num_samples) < 10:
        raise OptionError(f"num_samples={num_samples}: give at least 10 (LIME fits a model on them)")
    if int(background_rows) < 1:
        raise OptionError(f"background_rows={background_rows}: give at least 1")


def _output_space(run) -> str:
    if run.task == "binary":
        return f"probability of {run.schema.target} = {run.classes[1]}"
    if run.task == "multiclass":
        return "probability of each row's predicted class (see labels)"
    return f"predicted {run.schema.target}"

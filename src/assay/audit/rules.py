"""Rules: the logic of a Run's tree models as short, readable IF ... THEN ... lists.

`tree_rules(run, data)` reads the fitted trees of the Run's tree-based members and turns
root-to-leaf paths into conjunctions of conditions on the RAW features:

* numeric splits read `age <= 42.5` / `age > 42.5` (a bounded pair `30 < age <= 42.5`);
* ordinal-coded categoricals ("tree" preprocessing, scikit-learn forests) and native
  pandas categoricals (LightGBM) read as level sets `workclass in {Private, Self-emp}`:
  the fitted OrdinalEncoder / the category levels of the preprocessor give each level's
  code, and every level seen in `data` is put on the side of the split its code (or, for a
  level the model never saw, the missing-value direction) sends it to;
* missing values follow the split's missing direction; "or x is missing" is written only
  when `data` has missing values in that column;
* what cannot be mapped to one raw column is kept as the derived column the tree split on:
  datetime parts (`signup_month`; the `_unix` part reads as dates on `signup`), frequency
  encodings of high-cardinality columns (`city_freq`) and text SVD components (`review_svd3`) -- their thresholds are on those
  derived values, computed by the member's own preprocessor.

Supported learners: scikit-learn random forest and extra trees (their fitted trees),
LightGBM (`dump_model()`) and XGBoost (`trees_to_dataframe()`). CatBoost members (oblivious
trees over its own quantised / one-hot / CTR features) are skipped, as are linear and other
models (listed in `RuleSet.members` with the reason); use `surrogate` for them.

Deep forest trees are read to `max_conditions` splits (a path is cut at that depth or where
a node holds less than half of `min_coverage` of the training rows: the cut node's rows
form the rule); `max_trees` trees per member (the first ones) are read.

Simplification, per candidate rule: (1) conditions on the same feature are merged, keeping
the tightest bounds / the intersection of the level sets; conditions true for every row
are dropped; (2) a condition (or one bound of an interval) is dropped when that does not lower the rule's
precision by more than `tolerance` (regression: does not move the covered mean by more
than `tolerance` standard deviations of the labels), greedily, against the unsimplified
rule, and likewise the "or x is missing" part of a condition; (3) identical rules are
deduplicated; (4) rules are ranked by precision x coverage
(regression: coverage x |mean - overall mean| / std), each next rule of a class scored
on the rows the class's rules chosen so far do not cover yet, and only rules whose precision
is at least halfway from the class's base rate to 1 (or `min_precision`) are kept,
`max_rules` per class (regression: in all).

A rule's class is the leaf's majority class for forests; for boosters (whose leaves are
additive margins, not classes) it is the class the Run predicts for most covered rows.
Labels for coverage/precision: the target column when `data` carries it (rows where it is
missing use the Run's prediction), else the Run's predictions.

`surrogate(run, data)` fits a small decision tree to the Run's predictions on the raw
features (categoricals ordinal-coded in the order of their mean prediction, so a split is
a level set; datetimes as days since 1970 shown as dates; text and high-cardinality columns
left out: their splits would not read) and
reports its fidelity (accuracy / R-squared against the Run's predictions) on 30% held-out
rows and on all rows, its leaves as rules and its tree as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assay.audit.result import AuditResult
from assay.errors import OptionError

SUPPORTED = ("random_forest", "extra_trees", "lightgbm", "xgboost")
MAX_LEVELS_SHOWN = 8
CANDIDATES_PER_CLASS = 30        # x max_rules: candidates simplified per class


# -- results -------------------------------------------------------------------------------


@dataclass
class Rule:
    conditions: list                   # readable conditions, ANDed
    prediction: object                 # class label (classification) or covered mean (regression)
    coverage: float                    # share of rows covered
    n_covered: int
    precision: float | None = None     # classification: share of covered rows labelled `prediction`
    mean: float | None = None          # regression: mean / std of the labels on covered rows
    std: float | None = None
    score: float = 0.0
    fidelity: float | None = None      # surrogate only: agreement with the Run's predictions
    source: str = ""                   # member#trial/tree (tree rules) or "surrogate"

    def text(self, task: str, target: str) -> str:
        cond = " AND ".join(self.conditions) if self.conditions else "(all rows)"
        if task == "regression":
            tail = f"(coverage {_pct(self.coverage)}, mean {_num(self.mean)}, std {_num(self.std)}"
            then = f"{target} ~ {_num(self.mean)}"
        else:
            tail = f"(coverage {_pct(self.coverage)}, precision {_pct(self.precision, 0)}"
            then = f"{self.prediction}"
        if self.fidelity is not None:
            tail += f", fidelity {_pct(self.fidelity, 0)}"
        return f"IF {cond} THEN {then}  {tail})"


@dataclass
class RuleSet(AuditResult):
    kind = "tree_rules"
    task: str
    target: str
    label_source: str                  # "target" or "prediction"
    rules: list                        # Rule, best first (classification: grouped by class)
    classes: list = field(default_factory=list)    # per class: label, n_rules, coverage, precision, base_rate
    members: list = field(default_factory=list)    # member, family, used, trees, reason
    n_candidates: int = 0
    n_rows: int = 0
    settings: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def for_class(self, label) -> list:
        return [r for r in self.rules if str(r.prediction) == str(label)]

    def to_text(self) -> str:
        used = ", ".join(m["member"] for m in self.members if m["used"])
        lines = [f"Rules from the trees of {used} ({len(self.rules)} rules, {self.n_rows} rows; "
                 f"precision against the {self.label_source})"]
        if self.task == "regression":
            lines += ["  " + r.text(self.task, self.target) for r in self.rules]
        else:
            for c in self.classes:
                lines.append(f"{self.target} = {c['label']}: {c['n_rules']} rules, together coverage "
                             f"{_pct(c['coverage'])}, precision {_pct(c['precision'], 0)} "
                             f"(base rate {_pct(c['base_rate'], 0)})")
                lines += ["  " + r.text(self.task, self.target) for r in self.for_class(c["label"])]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass
class Surrogate(AuditResult):
    kind = "surrogate"
    task: str
    target: str
    label_source: str
    fidelity_holdout: float | None     # accuracy (classification) / R-squared (regression) vs the Run
    fidelity_all: float
    fidelity_metric: str
    rules: list                        # Rule per leaf, largest coverage first
    tree_text: str
    feature_names: list
    max_depth: int = 3
    max_leaves: int = 8
    n_rows: int = 0
    n_holdout: int = 0
    notes: list = field(default_factory=list)

    def to_text(self) -> str:
        hold = "n/a" if self.fidelity_holdout is None else f"{self.fidelity_holdout:.3f}"
        lines = [f"Surrogate decision tree (depth <= {self.max_depth}, <= {self.max_leaves} leaves) of the "
                 f"Run's predictions: fidelity ({self.fidelity_metric}) {hold} on {self.n_holdout} held-out "
                 f"rows, {self.fidelity_all:.3f} on all {self.n_rows} rows"]
        lines += ["  " + r.text(self.task, self.target) for r in self.rules]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


# -- formatting ----------------------------------------------------------------------------


def _num(x) -> str:
    if x is None or not np.isfinite(x):
        return str(x)
    x = float(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    digits = int(np.floor(np.log10(abs(x)))) + 1 if x else 1
    return f"{x:.{max(4, digits)}g}"


def _pct(x, decimals: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{decimals}f}%"


# -- the evaluation frame: one column per rule-able feature --------------------------------


class _Frame:
    """Columns conditions are evaluated on: raw numeric (float), raw categorical (integer
    codes over the levels observed in the data, -1 = missing) and derived columns."""

    def __init__(self, n: int):
        self.n = n
        self.num: dict = {}       # key -> float array
        self.cat: dict = {}       # key -> (codes int array, levels list)
        self.names: dict = {}     # key -> display name
        self.dates: dict = {}     # numeric key -> seconds per unit of a date column (since 1970)
        self.cache: dict = {}

    def add_num(self, key, values, name=None):
        self.num[key] = np.asarray(values, dtype=float)
        self.names[key] = name or key

    def add_cat(self, key, series: pd.Series):
        codes, levels = pd.factorize(series, sort=True)
        self.cat[key] = (np.asarray(codes), [str(v) for v in levels])
        self.names[key] = key

    def has_na(self, key) -> bool:
        if key in self.cat:
            return bool((self.cat[key][0] < 0).any())
        return bool(np.isnan(self.num[key]).any())

    def mask(self, cond) -> np.ndarray:
        m = self.cache.get(cond)
        if m is None:
            if cond[0] == "num":
                _, key, lo, hi, na = cond
                v = self.num[key]
                with np.errstate(invalid="ignore"):
                    m = (v > lo) & (v <= hi)
                if na:
                    m |= np.isnan(v)
            else:
                _, key, levels, na = cond
                codes, names = self.cat[key]
                want = np.zeros(len(names) + 1, dtype=bool)       # last slot: code -1 (missing)
                idx = {n: i for i, n in enumerate(names)}
                for lv in levels:
                    if lv in idx:
                        want[idx[lv]] = True
                want[-1] = na
                m = want[codes]
            self.cache[cond] = m
        return m

    def rule_mask(self, conds) -> np.ndarray:
        m = np.ones(self.n, dtype=bool)
        for c in conds:
            m &= self.mask(c)
        return m

    # -- conditions ------------------------------------------------------------------------

    def merge(self, conds) -> tuple | None:
        """Merge conditions per feature (tightest bounds, level-set intersection); drop the
        trivially true ones. None when the merged rule can cover nothing."""
        by_key: dict = {}
        for c in conds:
            prev = by_key.get(c[1])
            if prev is None:
                by_key[c[1]] = c
            elif c[0] == "num":
                by_key[c[1]] = ("num", c[1], max(prev[2], c[2]), min(prev[3], c[3]), prev[4] and c[4])
            else:
                by_key[c[1]] = ("set", c[1], prev[2] & c[2], prev[3] and c[3])
        out = []
        for c in by_key.values():
            has_na = self.has_na(c[1])
            if c[0] == "num":
                empty = c[2] >= c[3]
                if empty and not (c[4] and has_na):
                    return None
                if c[2] == -np.inf and c[3] == np.inf and (c[4] or not has_na):
                    continue
            else:
                all_levels = set(self.cat[c[1]][1])
                if not (c[2] & all_levels) and not (c[3] and has_na):
                    return None
                if all_levels <= c[2] and (c[3] or not has_na):
                    continue
            out.append(c)
        return tuple(sorted(out, key=lambda c: (str(self.names[c[1]]), str(c[2]))))

    def render(self, cond) -> str:
        key = cond[1]
        name = self.names[key]
        has_na = self.has_na(key)
        if cond[0] == "num":
            _, _, lo, hi, na = cond
            unit = self.dates.get(key)
            fmt = _num if unit is None else (lambda v: _date(v, unit))
            if lo >= hi:
                return f"{name} is missing"
            if lo > -np.inf and hi < np.inf:
                text = f"{fmt(lo)} < {name} <= {fmt(hi)}"
            elif hi < np.inf:
                text = f"{name} <= {fmt(hi)}"
            elif lo > -np.inf:
                text = f"{name} > {fmt(lo)}"
            else:
                return f"{name} is missing" if na else f"{name} is not missing"
            if na and has_na:
                return f"({text} or {name} is missing)"
            return text
        _, _, levels, na = cond
        all_levels = self.cat[key][1]
        inside = [lv for lv in all_levels if lv in levels]
        outside = [lv for lv in all_levels if lv not in levels]
        if not inside:
            return f"{name} is missing"
        if len(inside) <= len(outside) or not outside:
            text = f"{name} in {_levels(inside)}"
            return f"({text} or {name} is missing)" if (na and has_na) else text
        text = f"{name} not in {_levels(outside)}"
        return f"{text} and {name} is not missing" if (has_na and not na) else text


def _levels(levels) -> str:
    shown = ", ".join(levels[:MAX_LEVELS_SHOWN])
    more = f", ... +{len(levels) - MAX_LEVELS_SHOWN} more" if len(levels) > MAX_LEVELS_SHOWN else ""
    return "{" + shown + more + "}"


def _date(value, unit: float) -> str:
    t = pd.Timestamp(round(float(value) * unit * 1e9))
    return str(t.date()) if t == t.normalize() else t.strftime("%Y-%m-%d %H:%M")


def _raw_frame(run, X: pd.DataFrame) -> tuple[_Frame, pd.DataFrame]:
    from assay.data.schema import BOOLEAN, CATEGORICAL, HIGH_CARDINALITY, NUMERIC
    from assay.features.pipeline import _prepare

    P = _prepare(X, run.schema).reset_index(drop=True)
    frame = _Frame(len(P))
    for spec in run.schema.features:
        if spec.kind in (NUMERIC, BOOLEAN):
            frame.add_num(spec.name, P[spec.name].to_numpy(dtype=float))
        elif spec.kind in (CATEGORICAL, HIGH_CARDINALITY):
            frame.add_cat(spec.name, P[spec.name])
    return frame, P


# -- labels ----------------------------------------------------------------------------------


def _labels(run, df: pd.DataFrame, X: pd.DataFrame):
    """(labels, source, Run predictions): classes as codes, regression as values."""
    out = run.model.predict_output(X)
    pred = out if run.task == "regression" else out.argmax(axis=1)
    target = run.schema.target
    if target not in df.columns:
        return pred, "prediction", pred
    from assay.data.validate import encode_target

    s = df[target].reset_index(drop=True)
    known = s.notna().to_numpy()
    if not known.any():
        return pred, "prediction", pred
    y = pred.astype(float).copy()
    try:
        y[known] = encode_target(s[known].reset_index(drop=True), run.schema)
    except Exception:
        return pred, "prediction", pred
    if run.task != "regression":
        y = y.astype(int)
    return y, "target", pred


# -- reading the trees -------------------------------------------------------------------


def _learner_kind(est) -> tuple[str, object, object]:
    """(kind, preprocessor, library model): kind 'forest', 'lightgbm', or a reason to skip."""
    steps = getattr(est, "steps", None)
    if not steps:
        return "not a pipeline", None, None
    prep, learner = steps[0][1], steps[-1][1]
    if getattr(learner, "constant_", None) is not None:
        return "constant (a single class)", prep, None
    name = type(learner).__name__
    if name == "LightGBMLearner":
        return "lightgbm", prep, learner
    if name == "XGBoostLearner":
        return "xgboost", prep, learner
    if name == "CatBoostLearner":
        return "CatBoost trees are not read (use the surrogate)", prep, None
    inner = getattr(learner, "model_", None)
    forest = getattr(inner, "forest_", None)
    if forest is not None and hasattr(forest, "estimators_"):
        return "forest", prep, forest
    return f"{type(inner or learner).__name__} is not a tree model", prep, None


def _column_specs(prep, P: pd.DataFrame, frame: _Frame, uid: str) -> list:
    """Per preprocessed column: ("num", key) or ("cat", key, {level: code}); adds derived
    columns to `frame`."""
    inner = prep.inner_
    Xt = prep.transform(P)
    specs: list = []
    if prep.style == "native":
        n_num, n_cat = len(inner.num_), len(inner.cat_)
        specs += [("num", c) for c in inner.num_]
        for c in inner.cat_:
            pos = {lv: float(i) for i, lv in enumerate(inner.levels_[c])}
            specs.append(("cat", c, {lv: pos.get(lv, np.nan) for lv in frame.cat[c][1]}))
        derived = []
        for enc, shared in ((inner.dt_, True), (inner.freq_, False), (inner.text_, False)):
            if enc is not None:
                derived += [(n, shared) for n in enc.get_feature_names_out()]
        for i, (name, shared) in enumerate(derived):
            specs.append(_derived(frame, name, shared, uid, Xt.iloc[:, n_num + n_cat + i]))
        return specs
    Xt = np.asarray(Xt.toarray() if hasattr(Xt, "toarray") else Xt, dtype=float)
    for tname, trans, cols in inner.transformers_:
        if tname == "remainder":
            continue
        sl = inner.output_indices_[tname]
        if tname == "num":
            specs += [("num", c) for c in cols]
        elif tname in ("cat", "hc"):
            levels = {c: frame.cat[c][1] for c in cols}
            width = max(1, max(len(v) for v in levels.values()))
            probe = pd.DataFrame({c: ((v or ["__none__"]) * (width // max(1, len(v)) + 1))[:width]
                                  for c, v in levels.items()}, dtype=object)
            codes = np.asarray(trans.transform(probe), dtype=float)
            for j, c in enumerate(cols):
                specs.append(("cat", c, {lv: codes[i, j] for i, lv in enumerate(levels[c])}))
        else:
            names = list(trans.get_feature_names_out())
            for i, name in enumerate(names):
                specs.append(_derived(frame, name, tname == "dt", uid, Xt[:, sl.start + i]))
    return specs


def _derived(frame: _Frame, name: str, shared: bool, uid: str, values) -> tuple:
    key = name if shared else f"{name}@{uid}"
    if key not in frame.num:
        is_date = shared and name.endswith("_unix")          # DatetimeParts: seconds since 1970
        frame.add_num(key, np.asarray(values, dtype=float), name=name[:-5] if is_date else name)
        if is_date:
            frame.dates[key] = 1.0
    return ("num", key)


def _condition(spec, op: str, thr, na: bool):
    """A raw condition from a split on a preprocessed column: op 'le' / 'gt' (threshold)
    or 'in' (a set of category codes)."""
    if spec[0] == "num":
        lo, hi = (-np.inf, float(thr)) if op == "le" else (float(thr), np.inf)
        return ("num", spec[1], lo, hi, bool(na))
    _, key, code_of = spec
    if op == "le":
        keep = [lv for lv, c in code_of.items() if (c <= thr if np.isfinite(c) else na)]
    elif op == "gt":
        keep = [lv for lv, c in code_of.items() if (c > thr if np.isfinite(c) else na)]
    else:
        keep = [lv for lv, c in code_of.items() if (c in thr if np.isfinite(c) else na)]
    return ("set", key, frozenset(keep), bool(na))


def _sklearn_paths(tree, max_conditions: int, min_share: float):
    """(splits, node value) per cut root-to-leaf path of a fitted scikit-learn tree."""
    t = tree.tree_
    counts = t.weighted_n_node_samples
    min_count = min_share * counts[0]
    miss_left = getattr(t, "missing_go_to_left", None)
    stack = [(0, ())]
    while stack:
        node, path = stack.pop()
        left, right = t.children_left[node], t.children_right[node]
        kids = [k for k in (left, right) if k >= 0 and counts[k] >= min_count]
        if left < 0 or len(path) >= max_conditions or not kids:
            yield path, t.value[node]
            continue
        f, thr = int(t.feature[node]), float(t.threshold[node])
        ml = bool(miss_left[node]) if miss_left is not None else True
        if counts[left] >= min_count:
            stack.append((left, path + ((f, "le", thr, ml),)))
        if counts[right] >= min_count:
            stack.append((right, path + ((f, "gt", thr, not ml),)))


def _lightgbm_paths(tree: dict, max_conditions: int, min_share: float):
    root = tree["tree_structure"]
    total = root.get("internal_count", root.get("leaf_count", 1)) or 1
    min_count = min_share * total

    def count(n):
        return n.get("internal_count", n.get("leaf_count", 0))

    stack = [(root, ())]
    while stack:
        node, path = stack.pop()
        if "split_feature" not in node:
            yield path, None
            continue
        kids = [k for k in (node["left_child"], node["right_child"]) if count(k) >= min_count]
        if len(path) >= max_conditions or not kids:
            yield path, None
            continue
        f = int(node["split_feature"])
        if node["decision_type"] == "==":
            codes = {float(v) for v in str(node["threshold"]).split("||")}
            left, right = (f, "in", codes, False), (f, "out", codes, True)
        else:
            thr = float(node["threshold"])
            if node.get("missing_type") == "None":
                ml = 0.0 <= thr
            else:
                ml = bool(node.get("default_left", True))
            left, right = (f, "le", thr, ml), (f, "gt", thr, not ml)
        if count(node["left_child"]) >= min_count:
            stack.append((node["left_child"], path + (left,)))
        if count(node["right_child"]) >= min_count:
            stack.append((node["right_child"], path + (right,)))


XGB_LISTED_GO_YES = True       # XGBoost categorical splits: the listed categories go to "Yes"


def _xgboost_paths(nodes: dict, tree: int, names: list, max_conditions: int, min_share: float):
    """Paths of one tree of `Booster.trees_to_dataframe()` (nodes: ID -> row). Numeric
    splits are `x < Split` (stored as x <= the float just below Split)."""
    root = nodes[f"{tree}-0"]
    min_count = min_share * root["Cover"]
    stack = [(root, ())]
    while stack:
        node, path = stack.pop()
        if node["Feature"] == "Leaf":
            yield path, None
            continue
        yes, no = nodes[node["Yes"]], nodes[node["No"]]
        kids = [k for k in (yes, no) if k["Cover"] >= min_count]
        if len(path) >= max_conditions or not kids:
            yield path, None
            continue
        f = names.index(node["Feature"])
        na_yes = node["Missing"] == node["Yes"]
        cats = node.get("Category")
        if isinstance(cats, (list, tuple, np.ndarray)):
            codes = {float(c) for c in cats}
            listed, other = (f, "in", codes, None), (f, "out", codes, None)
            y_split, n_split = (listed, other) if XGB_LISTED_GO_YES else (other, listed)
            y_split, n_split = y_split[:3] + (na_yes,), n_split[:3] + (not na_yes,)
        else:
            thr = float(np.nextafter(np.float32(node["Split"]), np.float32(-np.inf)))
            y_split, n_split = (f, "le", thr, na_yes), (f, "gt", thr, not na_yes)
        if yes["Cover"] >= min_count:
            stack.append((yes, path + (y_split,)))
        if no["Cover"] >= min_count:
            stack.append((no, path + (n_split,)))


def _to_conditions(path, specs) -> list:
    out = []
    for f, op, thr, na in path:
        spec = specs[f]
        if op == "out":          # LightGBM categorical right side: codes not in the set
            _, key, code_of = spec
            keep = [lv for lv, c in code_of.items() if (c not in thr if np.isfinite(c) else na)]
            out.append(("set", key, frozenset(keep), bool(na)))
        else:
            out.append(_condition(spec, op, thr, na))
    return out


# -- tree rules ------------------------------------------------------------------------------


def tree_rules(run, data, *, max_rules: int = 10, min_coverage: float = 0.01, target=None,
               tolerance: float = 0.01, max_conditions: int = 6, max_trees: int = 50,
               min_precision: float | None = None) -> RuleSet:
    """Readable rules from the trees of `run`'s tree-based members, evaluated on `data`.

    target: a class label to report rules for (classification; default every class).
    min_precision: a kept rule's least precision (default: halfway from its class's base
    rate to 1, so every rule says clearly more than the base rate does).
    See the module docstring for how paths are read, simplified and ranked."""
    from assay.data.io import read_table

    df = read_table(data, what="data").reset_index(drop=True)
    X = run.features(df).reset_index(drop=True)
    task = run.task
    readers, report = [], []
    for m in run.model.members:
        kinds = [_learner_kind(e) for e in m.estimators]
        usable = [(kd, p, lib) for kd, p, lib in kinds if kd in ("forest", "lightgbm", "xgboost")]
        reason = "" if usable else (kinds[0][0] if kinds else "no fitted models")
        report.append({"member": m.name, "family": m.family, "weight": float(m.weight),
                       "used": bool(usable), "trees": 0, "reason": reason})
        readers.append(usable)
    if not any(readers):
        have = ", ".join(f"{r['member']} ({r['reason']})" for r in report) or "no members"
        raise OptionError(f"tree rules need a tree-based model ({', '.join(SUPPORTED)}); this Run's final "
                          f"model has: {have}; use the surrogate instead")
    frame, P = _raw_frame(run, X)
    y, source, pred = _labels(run, df, X)
    min_share = 0.5 * min_coverage
    cands: dict = {}                       # merged conditions -> (class code or None, source)
    for m, usable, rep in zip(run.model.members, readers, report):
        per_est = max(1, int(np.ceil(max_trees / max(1, len(usable)))))
        for e_i, (kd, prep, lib) in enumerate(usable):
            specs = _column_specs(prep, P, frame, f"{m.name}/{e_i}")
            if kd == "forest":
                trees = lib.estimators_[:per_est]
                classes = getattr(lib, "classes_", None)
                for t_i, tree in enumerate(trees):
                    for path, value in _sklearn_paths(tree, max_conditions, min_share):
                        cls = None if task == "regression" else int(classes[int(np.argmax(value[0]))])
                        _add(cands, frame, _to_conditions(path, specs), cls, f"{m.name} tree {t_i}")
                rep["trees"] += len(trees)
            elif kd == "xgboost":
                booster = lib.booster_
                per_iter = max(1, booster.num_boosted_rounds() and
                               len(booster.get_dump()) // max(1, booster.num_boosted_rounds()))
                n_iter = max(1, min(booster.num_boosted_rounds(), int(np.ceil(per_est / per_iter))))
                tdf = booster[:n_iter].trees_to_dataframe()
                names = list(booster.feature_names)
                for t_i, g in tdf.groupby("Tree", sort=True):
                    nodes = {r["ID"]: r for r in g.to_dict("records")}
                    for path, _ in _xgboost_paths(nodes, int(t_i), names, max_conditions, min_share):
                        _add(cands, frame, _to_conditions(path, specs), None, f"{m.name} tree {t_i}")
                rep["trees"] += int(tdf["Tree"].nunique())
            else:
                n_iter = max(1, min(int(lib.best_iteration_ or per_est), per_est))
                dump = lib.model_.booster_.dump_model(num_iteration=n_iter)
                for tree in dump["tree_info"]:
                    for path, _ in _lightgbm_paths(tree, max_conditions, min_share):
                        _add(cands, frame, _to_conditions(path, specs), None,
                             f"{m.name} tree {tree['tree_index']}")
                rep["trees"] += len(dump["tree_info"])
    rules, classes_summary, notes = _select(run, frame, cands, y, pred, max_rules=max_rules,
                                            min_coverage=min_coverage, tolerance=tolerance, only=target,
                                            min_precision=min_precision)
    notes += [f"{r['member']}: skipped ({r['reason']})" for r in report if not r["used"]]
    return RuleSet(task=task, target=run.schema.target, label_source=source, rules=rules,
                   classes=classes_summary, members=report, n_candidates=len(cands), n_rows=frame.n,
                   settings={"max_rules": max_rules, "min_coverage": min_coverage, "tolerance": tolerance,
                             "max_conditions": max_conditions, "max_trees": max_trees},
                   notes=notes)


def _add(cands: dict, frame: _Frame, conds, cls, source: str):
    merged = frame.merge(conds)
    if merged and merged not in cands:
        cands[merged] = (cls, source)


def _stats(task, mask, y, cls=None):
    n = int(mask.sum())
    if task == "regression":
        v = y[mask]
        return n, (float(v.mean()) if n else np.nan), (float(v.std()) if n else np.nan)
    return n, (float((y[mask] == cls).mean()) if n else 0.0)


def _select(run, frame: _Frame, cands: dict, y, pred, *, max_rules, min_coverage, tolerance, only,
            min_precision=None):
    task, n = run.task, frame.n
    notes: list = []
    classes = list(run.classes or [])
    if task == "regression":
        y = np.asarray(y, dtype=float)
        gmean, gstd = float(y.mean()), float(y.std()) or 1.0
    # 1) evaluate, fix each rule's class, keep the best candidates per class
    scored: dict = {}
    for conds, (cls, src) in cands.items():
        mask = frame.rule_mask(conds)
        cov = mask.mean()
        if cov < min_coverage:
            continue
        if task == "regression":
            _, mu, _ = _stats(task, mask, y)
            s = cov * abs(mu - gmean) / gstd
            cls = None
        else:
            if cls is None:          # booster leaf: the class the Run predicts for most covered rows
                cls = int(np.bincount(pred[mask], minlength=len(classes)).argmax())
            _, prec = _stats(task, mask, y, cls)
            s = prec * cov
        scored.setdefault(cls, []).append((s, conds, src))
    want = None
    if only is not None and task != "regression":
        want = [i for i, c in enumerate(classes) if str(c) == str(only)]
        if not want:
            raise OptionError(f"target class {only!r} is not one of this Run's classes: "
                              f"{', '.join(map(str, classes))}")
        scored = {c: v for c, v in scored.items() if c in want}
    # 2) simplify the best candidates; 3) deduplicate
    simple: dict = {}
    for cls, lst in scored.items():
        lst.sort(key=lambda t: -t[0])
        for _, conds, src in lst[:CANDIDATES_PER_CLASS * max_rules]:
            conds = _simplify(task, frame, conds, y, cls, tolerance, None if task != "regression" else gstd)
            simple.setdefault((cls, conds), src)
    # 4) rank: greedy, each next rule scored on rows not covered yet
    rules, summary = [], []
    groups: dict = {}
    for (cls, conds), src in simple.items():
        groups.setdefault(cls, []).append((conds, src, frame.rule_mask(conds)))
    if task == "regression":
        order = [None]
    else:
        order = want if only is not None else list(range(len(classes)))
    for cls in order:
        pool = groups.get(cls, [])
        base = None if task == "regression" else float((y == cls).mean())
        floor = None if base is None else (base + (1 - base) / 2 if min_precision is None else min_precision)
        covered = np.zeros(n, dtype=bool)
        chosen = []
        while pool and len(chosen) < max_rules:
            best = None
            for i, (conds, src, mask) in enumerate(pool):
                new = (mask & ~covered).mean()
                if new < min_coverage:
                    continue
                if task == "regression":
                    _, mu, _ = _stats(task, mask, y)
                    gain = new * abs(mu - gmean) / gstd
                else:
                    _, prec = _stats(task, mask, y, cls)
                    if prec <= base or prec < floor:
                        continue
                    gain = prec * new
                if best is None or gain > best[0]:
                    best = (gain, i)
            if best is None:
                break
            conds, src, mask = pool.pop(best[1])
            covered |= mask
            chosen.append(_rule(task, frame, conds, src, mask, y, cls, classes, best[0]))
        rules += chosen
        if task != "regression":
            prec_all = float((y[covered] == cls).mean()) if covered.any() else None
            summary.append({"label": classes[cls], "n_rules": len(chosen), "coverage": float(covered.mean()),
                            "precision": prec_all, "base_rate": base})
            if not chosen:
                notes.append(f"no rule for {classes[cls]} reaches precision {_pct(floor, 0)} "
                             f"(base rate {_pct(base, 0)}) with coverage >= {_pct(min_coverage)}")
    return rules, summary, notes


def _simplify(task, frame: _Frame, conds, y, cls, tol, gstd) -> tuple:
    """Drop conditions, greedily, while precision (regression: covered mean) stays within
    `tol` of the unsimplified rule's."""
    conds = list(conds)
    m0 = frame.rule_mask(conds)
    if task == "regression":
        ref = _stats(task, m0, y)[1]

        def ok(mask):
            return mask.any() and abs(_stats(task, mask, y)[1] - ref) <= tol * gstd

        def quality(mask):
            return -abs(_stats(task, mask, y)[1] - ref)
    else:
        ref = _stats(task, m0, y, cls)[1]

        def ok(mask):
            return _stats(task, mask, y, cls)[1] >= ref - tol

        def quality(mask):
            return _stats(task, mask, y, cls)[1]
    for i, c in enumerate(conds):       # "(x > 1 or x is missing)" -> "x > 1" when precision holds
        na = c[-1]
        if na and frame.has_na(c[1]) and not (c[0] == "num" and c[2] >= c[3]):
            tight = c[:-1] + (False,)
            if ok(frame.rule_mask(conds[:i] + [tight] + conds[i + 1:])):
                conds[i] = tight
    while True:                          # drop a condition, or one bound of an interval
        best = None
        for cand in _variants(conds):
            mask = frame.rule_mask(cand)
            if ok(mask):
                q = (quality(mask), mask.sum())
                if best is None or q > best[0]:
                    best = (q, cand)
        if best is None:
            break
        conds = best[1]
    return tuple(conds)


def _variants(conds: list):
    for i, c in enumerate(conds):
        if len(conds) > 1:
            yield conds[:i] + conds[i + 1:]
        if c[0] == "num" and -np.inf < c[2] < c[3] < np.inf:
            yield conds[:i] + [("num", c[1], -np.inf, c[3], c[4])] + conds[i + 1:]
            yield conds[:i] + [("num", c[1], c[2], np.inf, c[4])] + conds[i + 1:]


def _rule(task, frame, conds, src, mask, y, cls, classes, score, fidelity=None) -> Rule:
    texts = [frame.render(c) for c in conds]
    if task == "regression":
        cnt, mu, sd = _stats(task, mask, y)
        return Rule(conditions=texts, prediction=mu, coverage=float(mask.mean()), n_covered=cnt,
                    mean=mu, std=sd, score=float(score), source=src, fidelity=fidelity)
    cnt, prec = _stats(task, mask, y, cls)
    return Rule(conditions=texts, prediction=classes[cls], coverage=float(mask.mean()), n_covered=cnt,
                precision=prec, score=float(score), source=src, fidelity=fidelity)


# -- surrogate ---------------------------------------------------------------------------


def surrogate(run, data, *, max_depth: int = 3, max_leaves: int = 8, seed: int = 0,
              holdout: float = 0.3) -> Surrogate:
    """A small decision tree fitted to `run`'s predictions on `data` (see the module docstring)."""
    from sklearn.metrics import r2_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    from assay.data.io import read_table
    from assay.data.schema import BOOLEAN, CATEGORICAL, DATETIME, NUMERIC

    df = read_table(data, what="data").reset_index(drop=True)
    X = run.features(df).reset_index(drop=True)
    task = run.task
    frame, P = _raw_frame(run, X)
    y, source, pred = _labels(run, df, X)
    n = frame.n
    notes = []
    # the surrogate's design matrix: numerics, datetimes (days), categoricals coded by mean prediction
    cols, specs, names = [], [], []
    ref = pred.astype(float) if task != "multiclass" else (pred == np.bincount(pred).argmax()).astype(float)
    for spec in run.schema.features:
        c = spec.name
        if spec.kind in (NUMERIC, BOOLEAN):
            cols.append(frame.num[c])
            specs.append(("num", c))
        elif spec.kind == DATETIME:
            d = pd.to_datetime(P[c], errors="coerce")
            days = (d - pd.Timestamp("1970-01-01", tz=d.dt.tz)) / pd.Timedelta(days=1)
            frame.add_num(c, days.to_numpy(dtype=float, na_value=np.nan))
            frame.dates[c] = 86400.0
            cols.append(frame.num[c])
            specs.append(("num", c))
        elif spec.kind == CATEGORICAL:
            codes, levels = frame.cat[c]
            means = pd.Series(ref).groupby(codes).mean()
            means = means[means.index >= 0].sort_values(kind="stable")
            rank = {int(code): float(r) for r, code in enumerate(means.index)}
            col = np.array([rank.get(int(v), np.nan) for v in codes], dtype=float)
            cols.append(col)
            specs.append(("cat", c, {lv: rank.get(i, np.nan) for i, lv in enumerate(levels)}))
        else:
            why = "too many levels for a readable split" if spec.kind != "text" else "free text"
            notes.append(f"{c} ({spec.kind}) is not used by the surrogate: {why}")
            continue
        names.append(c)
    if not cols:
        raise OptionError("the surrogate needs numeric, categorical or datetime features; this Run has none")
    Z = np.column_stack(cols)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_hold = int(round(holdout * n)) if n >= 10 else 0
    hold, train = np.sort(perm[:n_hold]), np.sort(perm[n_hold:])
    leaf = max(1, int(0.01 * len(train)))
    kw = dict(max_depth=max_depth, max_leaf_nodes=max(2, max_leaves), random_state=seed, min_samples_leaf=leaf)
    tree = (DecisionTreeRegressor if task == "regression" else DecisionTreeClassifier)(**kw)
    tree.fit(Z[train], pred[train])
    sp = tree.predict(Z)
    if task == "regression":
        metric = "R-squared"

        def fid(idx):
            return float(r2_score(pred[idx], sp[idx])) if len(idx) > 1 else None
    else:
        metric = "accuracy"

        def fid(idx):
            return float((sp[idx] == pred[idx]).mean()) if len(idx) else None
    # leaves as rules
    classes = list(run.classes or [])
    rules = []
    for path, value, node in _surrogate_paths(tree):
        conds = frame.merge(_to_conditions(path, specs)) or ()
        mask = frame.rule_mask(conds)
        if task == "regression":
            agree = None
            cls, score = None, float(value[0][0])
        else:
            cls = int(tree.classes_[int(np.argmax(value[0]))])
            agree = float((pred[mask] == cls).mean()) if mask.any() else None
            score = float(mask.mean())
        r = _rule(task, frame, conds, "surrogate", mask, y, cls, classes, score, fidelity=agree)
        if task == "regression":
            r.prediction = float(value[0][0])
            r.fidelity = None         # a leaf predicts one value: no per-rule agreement to report
        rules.append(r)
    rules.sort(key=lambda r: -r.coverage)
    text = _tree_text(tree, frame, specs, task, classes)
    return Surrogate(task=task, target=run.schema.target, label_source=source, fidelity_holdout=fid(hold),
                     fidelity_all=fid(np.arange(n)), fidelity_metric=metric, rules=rules, tree_text=text,
                     feature_names=names, max_depth=max_depth, max_leaves=max_leaves, n_rows=n,
                     n_holdout=len(hold), notes=notes)


def _surrogate_paths(tree):
    t = tree.tree_
    miss_left = getattr(t, "missing_go_to_left", None)
    stack = [(0, ())]
    while stack:
        node, path = stack.pop()
        left, right = t.children_left[node], t.children_right[node]
        if left < 0:
            yield path, t.value[node], node
            continue
        f, thr = int(t.feature[node]), float(t.threshold[node])
        ml = bool(miss_left[node]) if miss_left is not None else True
        stack.append((right, path + ((f, "gt", thr, not ml),)))
        stack.append((left, path + ((f, "le", thr, ml),)))


def _tree_text(tree, frame: _Frame, specs, task, classes) -> str:
    """export_text's layout, with raw feature names, level sets and dates."""
    t = tree.tree_
    miss_left = getattr(t, "missing_go_to_left", None)
    lines = []

    def walk(node, depth):
        pad = "|   " * depth + "|--- "
        left, right = t.children_left[node], t.children_right[node]
        if left < 0:
            v = t.value[node][0]
            what = (f"value: {_num(v[0])}" if task == "regression"
                    else f"class: {classes[int(tree.classes_[int(np.argmax(v))])]}")
            lines.append(pad + what)
            return
        f, thr = int(t.feature[node]), float(t.threshold[node])
        ml = bool(miss_left[node]) if miss_left is not None else True
        for child, op, na in ((left, "le", ml), (right, "gt", not ml)):
            cond = _to_conditions([(f, op, thr, na)], specs)[0]
            lines.append(pad + frame.render(cond))
            walk(child, depth + 1)

    walk(0, 0)
    return "\n".join(lines)

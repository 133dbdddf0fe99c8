"""scikit-learn's fitted HistGradientBoosting trees rewritten as one LightGBM Booster, so that
a prediction walks all trees in one compiled call.

Why: scikit-learn predicts tree by tree from a Python loop (`_predict_iterations`), a few
microseconds of interpreter work per tree and call. A multiclass member with 1,000 rounds
holds 1,000 trees per class; on car's 432 test rows (4 classes, 4,000 trees) that loop took
49 of the ensemble's 66 ms per call. LightGBM's predictor (a core dependency) walks the same
trees in C++ from one call.

The trees are the same trees: every split, threshold and leaf value is copied, so the sums
agree with scikit-learn's to rounding (`tests/models/test_hist_gb_compiled.py`). The rules
that have to be carried over:
- numeric splits: `x <= threshold` goes left, a missing value goes where the node's
  `missing_go_to_left` says (LightGBM: missing type NaN, `default_left`);
- native categorical splits are read in the input's level codes (scikit-learn re-encodes
  categories internally; `input_columns` undoes it). LightGBM sends a level left when its bit
  is set and a missing value always right, so a node whose missing values go left is written
  with its children swapped and the complementary set of levels -- the levels seen in `fit`
  that go right;
- a tree that is a single leaf is a LightGBM tree with one leaf;
- the baseline (`_baseline_prediction`) is added to LightGBM's raw sum, and scikit-learn's
  own link turns the sum into probabilities or values.
"""

from __future__ import annotations

import numpy as np

CODES = 256        # the "native" style's level codes lie in [0, 256): HistGradientBoosting's max_bins
_NAN_MISSING = 8   # LightGBM decision_type bits: 1 categorical, 2 default left, 8 missing type NaN
_DEFAULT_LEFT = 2
_CATEGORICAL = 1
_MAX_THRESHOLD = float(np.finfo(np.float64).max)     # LightGBM's text reader has no "inf"


def input_columns(model) -> tuple[list[int], list]:
    """(input column of each column the trees split on, the input codes behind each categorical
    one's values). With categorical features, scikit-learn puts them first and re-encodes their
    values as positions among the values seen in `fit` (its `_preprocessor`)."""
    mask = getattr(model, "is_categorical_", None)
    if mask is None:
        return list(range(model.n_features_in_)), [None] * model.n_features_in_
    seen = model._preprocessor.named_transformers_["encoder"].categories_
    origin = [int(c) for c in np.flatnonzero(mask)] + [int(c) for c in np.flatnonzero(~mask)]
    return origin, [np.asarray(c, dtype=float) for c in seen] + [None] * int((~mask).sum())


def left_codes(predictor, bitset_idx, seen: np.ndarray, missing_left: int) -> np.ndarray:
    """The input codes (sorted floats) a categorical node sends left: those whose position among
    the values seen in `fit` is set in the node's bitset (8 x uint32), and -- where missing
    values go left -- every code not seen in `fit`, which scikit-learn reads as missing."""
    words = np.asarray(predictor.raw_left_cat_bitsets[int(bitset_idx)], dtype=np.uint32)
    bits = ((words[:, None] >> np.arange(32, dtype=np.uint32)) & 1).reshape(-1)
    left = np.asarray(seen, dtype=float)[np.flatnonzero(bits[: len(seen)])]
    if missing_left:
        left = np.union1d(left, np.setdiff1d(np.arange(CODES, dtype=float), seen))
    return np.sort(left)


class CompiledHistGB:
    """The trees of a fitted HistGradientBoostingClassifier / Regressor as a LightGBM Booster
    over the same input matrix. `raw(X)` is scikit-learn's `_raw_predict(X)`; `predict` and
    `predict_proba` are the estimator's."""

    def __init__(self, model):
        import lightgbm as lgb

        self.n_targets = len(model._predictors[0])
        self.n_features = int(model.n_features_in_)
        self.baseline = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(1, -1)
        self.loss = model._loss
        self.classes_ = getattr(model, "classes_", None)
        self.booster = lgb.Booster(model_str=model_text(model))

    def raw(self, X, n_threads: int = 1) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} columns, got {X.shape}")
        out = self.booster.predict(X, raw_score=True, num_threads=max(1, int(n_threads)))
        return np.asarray(out, dtype=np.float64).reshape(len(X), self.n_targets) + self.baseline

    def predict_proba(self, X, n_threads: int = 1) -> np.ndarray:
        return self.loss.predict_proba(self.raw(X, n_threads))

    def predict(self, X, n_threads: int = 1) -> np.ndarray:
        raw = self.raw(X, n_threads)
        if self.classes_ is None:
            return self.loss.link.inverse(raw.ravel())
        encoded = (raw.ravel() > 0).astype(int) if self.n_targets == 1 else np.argmax(raw, axis=1)
        return self.classes_[encoded]


def model_text(model) -> str:
    """A fitted HistGradientBoosting model's trees in LightGBM's model text format."""
    origin, levels = input_columns(model)
    k = len(model._predictors[0])
    trees = [_tree_text(i, p, origin, levels)
             for i, p in enumerate(p for per_class in model._predictors for p in per_class)]
    n = int(model.n_features_in_)
    objective = "regression" if k == 1 and getattr(model, "classes_", None) is None else (
        "binary sigmoid:1" if k == 1 else f"multiclass num_class:{k}")
    head = ["tree", "version=v4", f"num_class={k}", f"num_tree_per_iteration={k}", "label_index=0",
            f"max_feature_idx={n - 1}", f"objective={objective}",
            "feature_names=" + " ".join(f"f{j}" for j in range(n)),
            "feature_infos=" + " ".join(["none"] * n),
            "tree_sizes=" + " ".join(str(len(t) + 1) for t in trees)]
    return "\n".join(head) + "\n\n" + "\n".join(trees) + "\nend of trees\n"


def _nums(values) -> str:
    return " ".join(repr(float(v)) if isinstance(v, float) else str(v) for v in values)


def _tree_text(index: int, predictor, origin: list[int], levels: list) -> str:
    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    if leaf[0]:
        return (f"Tree={index}\nnum_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\n"
                f"decision_type=\nleft_child=\nright_child=\nleaf_value={float(nodes['value'][0])!r}\n"
                f"leaf_weight=\nleaf_count=\ninternal_value=\ninternal_weight=\ninternal_count=\n"
                f"is_linear=0\nshrinkage=1\n")
    internal = np.flatnonzero(~leaf)              # stored parents first: the root is internal 0
    leaves = np.flatnonzero(leaf)
    code = np.empty(len(nodes), dtype=np.int64)
    code[internal] = np.arange(len(internal))
    code[leaves] = ~np.arange(len(leaves))        # LightGBM: leaf j is child -(j + 1)
    left = code[nodes["left"][internal].astype(np.int64)]
    right = code[nodes["right"][internal].astype(np.int64)]
    miss_left = nodes["missing_go_to_left"][internal].astype(bool)
    feature = np.asarray(origin)[nodes["feature_idx"][internal].astype(np.int64)]
    threshold = np.minimum(nodes["num_threshold"][internal].astype(np.float64), _MAX_THRESHOLD).tolist()
    decision = np.where(miss_left, _NAN_MISSING | _DEFAULT_LEFT, _NAN_MISSING)
    categorical = nodes["is_categorical"][internal].astype(bool)
    boundaries, words = [0], []
    for pos in np.flatnonzero(categorical):
        i = internal[pos]
        f = int(nodes["feature_idx"][i])
        goes_left = np.zeros(CODES, dtype=bool)
        goes_left[left_codes(predictor, nodes["bitset_idx"][i], levels[f], miss_left[pos]).astype(int)] = True
        if miss_left[pos]:      # LightGBM sends missing values right: swap the sides
            goes_left = ~goes_left
            left[pos], right[pos] = right[pos], left[pos]
        bits = np.packbits(goes_left, bitorder="little").view(np.uint32)
        threshold[pos] = len(boundaries) - 1      # the node's bitset
        words.extend(int(w) for w in bits)
        boundaries.append(len(words))
        decision[pos] = _CATEGORICAL | _NAN_MISSING
    values = nodes["value"][leaves].astype(np.float64).tolist()
    lines = [f"Tree={index}", f"num_leaves={len(leaves)}", f"num_cat={len(boundaries) - 1}",
             "split_feature=" + _nums(feature.tolist()), "split_gain=" + " ".join(["0"] * len(internal)),
             "threshold=" + _nums(threshold), "decision_type=" + _nums(decision.tolist()),
             "left_child=" + _nums(left.tolist()), "right_child=" + _nums(right.tolist()),
             "leaf_value=" + _nums(values)]
    if len(boundaries) > 1:
        lines += ["cat_boundaries=" + _nums(boundaries), "cat_threshold=" + _nums(words)]
    lines += ["is_linear=0", "shrinkage=1"]
    return "\n".join(lines) + "\n"

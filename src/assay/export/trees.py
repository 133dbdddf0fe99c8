"""Rewrite the tree ensembles the converters emit (ONNX-ML TreeEnsembleClassifier /
TreeEnsembleRegressor, ai.onnx.ml opset <= 4) as the opset-5 `TreeEnsemble` operator.

Why: a categorical split ("category in {a, b, c}") reaches ONNX from onnxmltools as a
chain of BRANCH_EQ nodes, one per category, which every row outside the set walks to its
end; `TreeEnsemble` has a set-membership node (BRANCH_MEMBER) that tests the set at once
(about 6x faster on 30-level chains in ONNX Runtime 1.32). The chains are merged here.

The new operator gives one raw score per target; the old operators' `base_values`,
`post_transform` (NONE, LOGISTIC, SOFTMAX) and, for classifiers, the binary case
(one score column -> [1 - p, p]) and the label output are rebuilt with plain ops, so the
rewritten sub-graph has the same outputs as before. A leaf that carries weights for
several targets (scikit-learn's multiclass forests, CatBoost multiclass) makes one copy of
the trees per target, since a `TreeEnsemble` leaf feeds a single target.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from assay.export._graph import NotConvertible

_MODES = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4, "BRANCH_NEQ": 5}
_MEMBER = 6
_AGGREGATE = {"AVERAGE": 0, "SUM": 1, "MIN": 2, "MAX": 3}
ML_OPSET_V5 = 5


def upgrade_trees(model):
    """Rewrite every TreeEnsembleClassifier/Regressor node of `model` (in place); returns it."""
    from onnx import helper

    graph = model.graph
    new_nodes = []
    changed = False
    for node in graph.node:
        if node.domain == "ai.onnx.ml" and node.op_type in ("TreeEnsembleClassifier", "TreeEnsembleRegressor"):
            new_nodes.extend(_rewrite(node))
            changed = True
        else:
            new_nodes.append(node)
    if changed:
        del graph.node[:]
        graph.node.extend(new_nodes)
        imports = [i for i in model.opset_import if i.domain != "ai.onnx.ml"]
        del model.opset_import[:]
        model.opset_import.extend(imports + [helper.make_opsetid("ai.onnx.ml", ML_OPSET_V5)])
    return model


def _attrs(node) -> dict:
    from onnx import helper, numpy_helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if hasattr(v, "dims"):                      # *_as_tensor attributes
            v = numpy_helper.to_array(v).tolist()
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode() for x in v]
        out[a.name.replace("_as_tensor", "")] = v
    return out


def _rewrite(node) -> list:
    a = _attrs(node)
    classifier = node.op_type == "TreeEnsembleClassifier"
    pre = "class" if classifier else "target"
    leaf_w = defaultdict(list)                      # (tree, node) -> [(target, weight)]
    for t, n, k, w in zip(a[f"{pre}_treeids"], a[f"{pre}_nodeids"], a[f"{pre}_ids"], a[f"{pre}_weights"]):
        leaf_w[(t, n)].append((int(k), float(w)))
    if classifier:
        n_targets = max([k for ws in leaf_w.values() for k, _ in ws], default=0) + 1
    else:
        n_targets = int(a.get("n_targets", 1))
    multi = any(len({k for k, _ in ws}) > 1 for ws in leaf_w.values())
    per_copy = list(range(n_targets)) if multi else [None]
    build = _Builder()
    trees = _trees(a)
    for target in per_copy:
        for nodes in trees:
            build.tree(nodes, leaf_w, target)
    return _nodes(node, a, build, n_targets, classifier)


def _trees(a: dict) -> list[dict]:
    """Per tree: {node id: (mode, feature, value, true id, false id, missing->true)}."""
    by_tree = defaultdict(dict)
    missing = a.get("nodes_missing_value_tracks_true") or [0] * len(a["nodes_nodeids"])
    for i, (t, n) in enumerate(zip(a["nodes_treeids"], a["nodes_nodeids"])):
        by_tree[t][n] = (a["nodes_modes"][i], int(a["nodes_featureids"][i]), float(a["nodes_values"][i]),
                         int(a["nodes_truenodeids"][i]), int(a["nodes_falsenodeids"][i]), int(missing[i]))
    out = []
    for t in sorted(by_tree):
        nodes = by_tree[t]
        children = {c for m, _, _, ti, fi, _ in nodes.values() if m != "LEAF" for c in (ti, fi)}
        roots = [n for n in nodes if n not in children]
        if len(roots) != 1:
            raise NotConvertible(f"tree {t} of a tree ensemble has {len(roots)} roots")
        out.append({"root": roots[0], "nodes": nodes, "id": t})
    return out


class _Builder:
    """Accumulates `TreeEnsemble` (opset 5) node and leaf arrays."""

    def __init__(self):
        self.feature, self.split, self.mode, self.missing = [], [], [], []
        self.true, self.true_leaf, self.false, self.false_leaf = [], [], [], []
        self.members, self.roots = [], []
        self.leaf_target, self.leaf_weight = [], []

    def _leaf(self, key, leaf_w, target) -> int:
        ws = leaf_w.get(key, [])
        if target is None:
            k = ws[0][0] if ws else 0
            w = sum(x for _, x in ws)
        else:
            k, w = target, sum(x for kk, x in ws if kk == target)
        self.leaf_target.append(int(k))
        self.leaf_weight.append(float(w))
        return len(self.leaf_weight) - 1

    def tree(self, tree: dict, leaf_w, target) -> None:
        nodes, t = tree["nodes"], tree["id"]
        root = nodes[tree["root"]]
        if root[0] == "LEAF":            # a stump: a split that always reaches the leaf
            leaf = self._leaf((t, tree["root"]), leaf_w, target)
            self.roots.append(self._node(0, 0.0, 0, 0, (leaf, 1), (leaf, 1)))
            return
        stack = [(tree["root"], None, None)]      # (node id, parent index, "true" / "false")
        while stack:
            nid, parent, side = stack.pop()
            mode, feat, value, ti, fi, miss = nodes[nid]
            if mode == "LEAF":
                self._link(parent, side, self._leaf((t, nid), leaf_w, target), 1)
                continue
            if mode == "BRANCH_EQ":
                values, last = [value], nid
                while True:              # follow the chain: same feature, same true child
                    nxt = nodes.get(nodes[last][4])
                    if nxt is None or nxt[0] != "BRANCH_EQ" or nxt[1] != feat or nxt[3] != ti:
                        break
                    last = nodes[last][4]
                    values.append(nxt[2])
                    miss = miss or nxt[5]
                fi = nodes[last][4]
                if len(values) > 1:
                    idx = self._node(feat, 0.0, _MEMBER, miss, None, None)
                    self.members.extend(values + [np.nan])
                else:
                    idx = self._node(feat, value, _MODES[mode], miss, None, None)
            elif mode in _MODES:
                idx = self._node(feat, value, _MODES[mode], miss, None, None)
            else:
                raise NotConvertible(f"tree node mode {mode}")
            if parent is None:
                self.roots.append(idx)
            else:
                self._link(parent, side, idx, 0)
            stack.append((fi, idx, "false"))
            stack.append((ti, idx, "true"))

    def _node(self, feat, split, mode, miss, true, false) -> int:
        self.feature.append(int(feat))
        self.split.append(float(split))
        self.mode.append(int(mode))
        self.missing.append(int(bool(miss)))
        self.true.append(true[0] if true else -1)
        self.true_leaf.append(true[1] if true else 0)
        self.false.append(false[0] if false else -1)
        self.false_leaf.append(false[1] if false else 0)
        return len(self.feature) - 1

    def _link(self, parent: int, side: str, child: int, is_leaf: int) -> None:
        if side == "true":
            self.true[parent], self.true_leaf[parent] = child, is_leaf
        else:
            self.false[parent], self.false_leaf[parent] = child, is_leaf


def _nodes(old, a: dict, b: _Builder, n_targets: int, classifier: bool) -> list:
    from onnx import TensorProto, helper, numpy_helper

    def t(arr, dtype):
        return numpy_helper.from_array(np.asarray(arr, dtype=dtype))

    x = old.input[0]
    prefix = old.name or old.output[0]
    names = iter(f"{prefix}__v5_{i}" for i in range(100))
    out = []

    def add(op, inputs, domain="", **kw):
        name = next(names)
        out.append(helper.make_node(op, inputs, [name], domain=domain or None, **kw))
        return name

    def const(value, dtype=np.float32):
        name = next(names)
        out.append(helper.make_node("Constant", [], [name], value=t(value, dtype)))
        return name

    kw = dict(
        n_targets=n_targets, aggregate_function=_AGGREGATE[a.get("aggregate_function", "SUM")],
        post_transform=0, tree_roots=b.roots, nodes_featureids=b.feature,
        nodes_splits=t(b.split, np.float32), nodes_modes=t(b.mode, np.uint8),
        nodes_truenodeids=b.true, nodes_trueleafs=b.true_leaf, nodes_falsenodeids=b.false,
        nodes_falseleafs=b.false_leaf, nodes_missing_value_tracks_true=b.missing,
        leaf_targetids=b.leaf_target, leaf_weights=t(b.leaf_weight, np.float32))
    if b.members:
        kw["membership_values"] = t(b.members, np.float32)
    xf = add("Cast", [x], to=TensorProto.FLOAT)
    score = add("TreeEnsemble", [xf], domain="ai.onnx.ml", **kw)
    base = a.get("base_values")
    if base and any(base):
        score = add("Add", [score, const(np.asarray(base, dtype=np.float32)[None, :n_targets])])
    post = a.get("post_transform", "NONE")
    if post == "LOGISTIC":
        score = add("Sigmoid", [score])
    elif post == "SOFTMAX":
        score = add("Softmax", [score], axis=1)
    elif post != "NONE":
        raise NotConvertible(f"tree ensemble post_transform {post}")
    if not classifier:
        out.append(helper.make_node("Identity", [score], [old.output[0]]))
        return out
    labels = a.get("classlabels_int64s")
    if labels is None:
        raise NotConvertible("a tree classifier with string class labels")
    if n_targets == 1 and len(labels) == 2:        # the binary case: the score is the positive class's
        score = add("Concat", [add("Sub", [const(1.0), score]), score], axis=1)
    elif n_targets != len(labels):
        raise NotConvertible(f"a tree classifier with {n_targets} score columns for {len(labels)} classes")
    out.append(helper.make_node("Identity", [score], [old.output[1]]))
    best = add("ArgMax", [score], axis=1, keepdims=0)
    out.append(helper.make_node("Gather", [const(np.asarray(labels), np.int64), best], [old.output[0]], axis=0))
    return out


def hist_gb(g, model, x: str, classify: bool) -> str:
    """scikit-learn's HistGradientBoosting (numeric splits on the "tree" preprocessing's codes;
    native categorical splits as BRANCH_MEMBER nodes on the "native" style's level codes)
    straight from its fitted predictors into one `TreeEnsemble` in double precision --
    skl2onnx 1.20 cannot build the node from scikit-learn 1.9's uint32 node arrays.
    Returns probabilities (N, K) or values (N,), as double."""
    from onnx import numpy_helper

    loss = type(model._loss).__name__
    if loss not in ("HalfSquaredError", "HalfBinomialLoss", "HalfMultinomialLoss"):
        raise NotConvertible(f"HistGradientBoosting with the {loss} loss")
    b = _Builder()
    n_targets = len(model._predictors[0])
    from assay.models.hist_gb_compiled import input_columns, left_codes

    origin, levels = input_columns(model)
    for per_class in model._predictors:
        for k, predictor in enumerate(per_class):
            nodes = predictor.nodes
            index = {}
            for i in range(len(nodes)):          # nodes are stored parents first
                if nodes["is_leaf"][i]:
                    continue
                f, miss = int(nodes["feature_idx"][i]), int(nodes["missing_go_to_left"][i])
                if nodes["is_categorical"][i]:
                    index[i] = b._node(origin[f], 0.0, _MEMBER, miss, None, None)
                    b.members.extend(left_codes(predictor, nodes["bitset_idx"][i], levels[f], miss).tolist() + [np.nan])
                    continue
                index[i] = b._node(origin[f], float(nodes["num_threshold"][i]), 0, miss, None, None)
            if not index:                        # a single leaf
                leaf = _leaf_value(b, k, float(nodes["value"][0]))
                b.roots.append(b._node(0, 0.0, 0, 0, (leaf, 1), (leaf, 1)))
                continue
            b.roots.append(index[0])
            for i, j in index.items():
                for child, side in ((int(nodes["left"][i]), "true"), (int(nodes["right"][i]), "false")):
                    if nodes["is_leaf"][child]:
                        b._link(j, side, _leaf_value(b, k, float(nodes["value"][child])), 1)
                    else:
                        b._link(j, side, index[child], 0)
    kw = dict(n_targets=n_targets, aggregate_function=1, post_transform=0, tree_roots=b.roots,
              nodes_featureids=b.feature, nodes_splits=numpy_helper.from_array(np.asarray(b.split, np.float64)),
              nodes_modes=numpy_helper.from_array(np.asarray(b.mode, np.uint8)), nodes_truenodeids=b.true,
              nodes_trueleafs=b.true_leaf, nodes_falsenodeids=b.false, nodes_falseleafs=b.false_leaf,
              nodes_missing_value_tracks_true=b.missing, leaf_targetids=b.leaf_target,
              leaf_weights=numpy_helper.from_array(np.asarray(b.leaf_weight, np.float64)))
    if b.members:
        kw["membership_values"] = numpy_helper.from_array(np.asarray(b.members, np.float64))
    g.opsets["ai.onnx.ml"] = max(g.opsets.get("ai.onnx.ml", 0), ML_OPSET_V5)
    raw = g.op("TreeEnsemble", [x], domain="ai.onnx.ml", **kw)
    raw = g.op("Add", [raw, g.const(np.asarray(model._baseline_prediction, dtype=float).reshape(1, -1))])
    if not classify:
        return g.reshape(raw, [-1])
    if n_targets == 1:
        p1 = g.op("Sigmoid", [raw])
        return g.op("Concat", [g.op("Sub", [g.const(1.0), p1]), p1], axis=1)
    return g.op("Softmax", [raw], axis=1)


def _leaf_value(b: _Builder, target: int, value: float) -> int:
    b.leaf_target.append(int(target))
    b.leaf_weight.append(value)
    return len(b.leaf_weight) - 1

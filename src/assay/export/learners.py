"""ONNX for the learners of assay's families, each fed the preprocessed matrix.

Every converter returns what `assay.search.trial.predict_output` returns for the fitted
learner: probabilities (N, K) over all K classes in code order, or values (N,) -- as a
double tensor -- so that the ensemble combines them exactly as the Python model does.

* LightGBM: onnxmltools (the booster cut at its best iteration; categorical splits included);
* XGBoost: onnxmltools (categorical splits become chains of BRANCH_EQ nodes);
* CatBoost: its own `save_model(format="onnx")`, numeric features only;
* random forest / extra trees, HistGradientBoosting (hist_gb), logistic regression, ridge /
  elastic net, kNN: skl2onnx, plus
  the adapters' own arithmetic (forest vote smoothing, target de-standardisation,
  sign-bounded linear models);
* the MLP: see `assay.export.mlp`.

Tree ensembles run on float32 features (as scikit-learn's and XGBoost's own trees do;
LightGBM compares doubles, so a value within float32 rounding of a threshold can
take the other branch); linear models and kNN run in double.
"""

from __future__ import annotations

import numpy as np

from assay.export._graph import MAIN_OPSET, ML_OPSET, Graph, NotConvertible


class Features:
    """The preprocessed matrix as double and (lazily) float32."""

    def __init__(self, g: Graph, f64: str, width: int):
        self.g, self.f64, self.width, self._f32 = g, f64, width, None

    @property
    def f32(self) -> str:
        if self._f32 is None:
            self._f32 = self.g.to_float(self.f64)
        return self._f32


def convert_learner(g: Graph, learner, task: str, n_classes: int, feats: Features) -> str:
    from assay.models._common import ProbaAdapter, RegressorAdapter
    from assay.models.boosters import _BoosterLearner

    classify = task != "regression"
    if isinstance(learner, _BoosterLearner):
        if learner.constant_ is not None:
            return _constant(g, learner.constant_, n_classes, feats)
        out = _booster(g, learner, feats, classify)
        return _scatter(g, out, learner.present_, n_classes) if classify else out
    if isinstance(learner, ProbaAdapter):
        if learner.model_ is None:
            return _constant(g, learner.constant_, n_classes, feats)
        out = _sklearn_like(g, learner.model_, feats, classify=True)
        return _scatter(g, out, learner.model_.classes_.astype(int), n_classes)
    if isinstance(learner, RegressorAdapter):
        return _sklearn_like(g, learner.model_, feats, classify=False)
    raise NotConvertible(f"learner {type(learner).__name__}")


# -- shared pieces ------------------------------------------------------------------------


def _constant(g: Graph, code: int, n_classes: int, feats: Features) -> str:
    row = np.zeros(n_classes)
    row[int(code)] = 1.0
    return g.rows_of(row, feats.f64)


def _scatter(g: Graph, probs: str, present, n_classes: int) -> str:
    """(N, P) probabilities of the classes `present` -> (N, K), zero for the absent ones."""
    present = np.asarray(present, dtype=int)
    if len(present) == n_classes and np.array_equal(present, np.arange(n_classes)):
        return probs
    m = np.zeros((len(present), n_classes))
    m[np.arange(len(present)), present] = 1.0
    return g.op("MatMul", [probs, g.const(m)])


def _as_values(g: Graph, out: str) -> str:
    return g.reshape(g.to_double(out), [-1])


def _sub_model(g: Graph, model, feats_name: str, prefix: str, classify: bool) -> str:
    """Embed a converted model with one input; its probabilities (2nd output) or values (1st)."""
    from assay.export.trees import upgrade_trees

    name = model.graph.input[0].name
    outs = g.embed(upgrade_trees(model), {name: feats_name}, prefix)
    return outs[1] if classify else outs[0]


_SKL_OPSET = {"": MAIN_OPSET, "ai.onnx.ml": ML_OPSET}


def _skl2onnx(model, width: int, double: bool, classify: bool):
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    kind = DoubleTensorType if double else FloatTensorType
    options = {id(model): {"zipmap": False}} if classify else None
    return to_onnx(model, initial_types=[("input", kind([None, width]))], target_opset=_SKL_OPSET,
                   options=options)


# -- boosters ---------------------------------------------------------------------------


def _booster(g: Graph, learner, feats: Features, classify: bool) -> str:
    from onnxmltools.convert.common.data_types import FloatTensorType

    from assay.models.boosters import CatBoostLearner, LightGBMLearner, XGBoostLearner

    types = [("input", FloatTensorType([None, feats.width]))]
    if isinstance(learner, LightGBMLearner):
        from onnxmltools import convert_lightgbm

        model = convert_lightgbm(learner.booster_, initial_types=types, zipmap=False, target_opset=MAIN_OPSET)
    elif isinstance(learner, XGBoostLearner):
        from onnxmltools import convert_xgboost

        booster = learner.booster_.copy()
        booster.feature_names = [f"f{i}" for i in range(feats.width)]      # onnxmltools reads f<i>
        with _linear_xgboost_remap():
            model = convert_xgboost(booster, initial_types=types, target_opset=MAIN_OPSET)
    elif isinstance(learner, CatBoostLearner):
        return _catboost(g, learner, feats, classify)
    else:
        raise NotConvertible(f"booster {type(learner).__name__}")
    out = _sub_model(g, model, feats.f32, g.fresh("m") + "_", classify)
    return g.to_double(out) if classify else _as_values(g, out)


class _linear_xgboost_remap:
    """onnxmltools 1.16 numbers XGBoost tree nodes by a recursion that re-enters the subtree
    shared by the nodes of a categorical chain once per chain node: exponential in the
    chains' nesting (minutes for a 2,000-tree adult model). For the conversion's duration its
    `_remap_nodeid` is replaced by a traversal visiting each node once, which assigns the
    same numbers (a revisited subtree was numbered completely on its first visit)."""

    def __enter__(self):
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import XGBConverter

        self.cls, self.saved = XGBConverter, XGBConverter.__dict__["_remap_nodeid"]
        XGBConverter._remap_nodeid = staticmethod(_remap_once)

    def __exit__(self, *exc):
        self.cls._remap_nodeid = self.saved


def _remap_once(jsnode, remap=None):
    remap = {} if remap is None else remap
    stack = [jsnode]
    while stack:
        node = stack.pop()
        if node["nodeid"] in remap:
            continue
        remap[node["nodeid"]] = len(remap)
        stack.extend(reversed(node.get("children", [])))
    return remap


def _catboost(g: Graph, learner, feats: Features, classify: bool) -> str:
    import os
    import tempfile

    import onnx

    model = learner.model_
    cats = model.get_cat_feature_indices()
    if cats:
        names = [model.feature_names_[i] for i in cats]
        raise NotConvertible(f"CatBoost with categorical features ({', '.join(names)}): CatBoost's ONNX "
                             "export has no categorical features (its CTR statistics)")
    fd, path = tempfile.mkstemp(suffix=".onnx")
    os.close(fd)
    try:
        model.save_model(path, format="onnx")
        sub = onnx.load(path)
    finally:
        os.unlink(path)
    if classify:
        sub = _without_zipmap(sub)
    from assay.export.trees import upgrade_trees

    outs = g.embed(upgrade_trees(sub), {sub.graph.input[0].name: feats.f32}, g.fresh("m") + "_")
    return g.to_double(outs[1]) if classify else _as_values(g, outs[0])


def _without_zipmap(model):
    """CatBoost's classifiers end in a ZipMap (a sequence of maps): output its input tensor instead."""
    from onnx import TensorProto, helper

    graph = model.graph
    zipmaps = [n for n in graph.node if n.op_type == "ZipMap"]
    if len(zipmaps) != 1:
        raise NotConvertible("CatBoost ONNX classifier without its ZipMap probabilities")
    zm = zipmaps[0]
    graph.node.remove(zm)
    outs = [o for o in graph.output if o.name != zm.output[0]]
    del graph.output[:]
    graph.output.extend(outs + [helper.make_tensor_value_info(zm.input[0], TensorProto.FLOAT, None)])
    return model


# -- scikit-learn learners ------------------------------------------------------------------


def _sklearn_like(g: Graph, model, feats: Features, classify: bool) -> str:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    from assay.models.forests import TimeBoxedForest
    from assay.models.knn import ThreadedQueries
    from assay.models.linear import BoundedLogisticRegression, BoundedRidge

    if isinstance(model, TimeBoxedForest):
        forest = model.forest_
        out = _sub_model(g, _with_missing_directions(_skl2onnx(forest, feats.width, False, classify), forest),
                         feats.f32, g.fresh("m") + "_", classify)
        if not classify:
            return _as_values(g, out)
        # the adapter's smoothing: one more, uniform vote -> (p*T + 1/K) / (T + 1)
        t, k = len(forest.estimators_), len(forest.classes_)
        p = g.op("Mul", [g.to_double(out), g.const(t / (t + 1.0))])
        return g.op("Add", [p, g.const(1.0 / (k * (t + 1.0)))])
    if type(model).__name__ == "TimeBoxedHistGB":          # hist_gb: scikit-learn's HistGradientBoosting
        from assay.export.trees import hist_gb

        return hist_gb(g, model.model_, feats.f64, classify)
    if isinstance(model, ThreadedQueries):                  # assay's k-NN: as scikit-learn's own
        model = model.plain()
    if isinstance(model, (KNeighborsClassifier, KNeighborsRegressor)) and model.weights != "uniform":
        raise NotConvertible("kNN with weights='distance': skl2onnx 1.20 negates the distances, which makes "
                             "the weights uniform")
    if isinstance(model, (LogisticRegression, KNeighborsClassifier, KNeighborsRegressor, Ridge, ElasticNet)):
        out = _sub_model(g, _skl2onnx(model, feats.width, True, classify), feats.f64,
                         g.fresh("m") + "_", classify)
        return out if classify else _as_values(g, out)
    if isinstance(model, BoundedLogisticRegression):
        z = _affine(g, feats.f64, model.coef_[0], model.intercept_[0])
        p1 = g.op("Sigmoid", [z])
        return g.op("Concat", [g.op("Sub", [g.const(1.0), p1]), p1], axis=1)
    if isinstance(model, BoundedRidge):
        return g.reshape(_affine(g, feats.f64, model.coef_, model.intercept_), [-1])
    if isinstance(model, TransformedTargetRegressor):
        from sklearn.preprocessing import StandardScaler

        scaler = model.transformer_
        if not isinstance(scaler, StandardScaler):
            raise NotConvertible(f"target transformer {type(scaler).__name__}")
        y = _sklearn_like(g, model.regressor_, feats, classify=False)
        if scaler.scale_ is not None:
            y = g.op("Mul", [y, g.const(float(scaler.scale_[0]))])
        if scaler.mean_ is not None:
            y = g.op("Add", [y, g.const(float(scaler.mean_[0]))])
        return y
    raise NotConvertible(f"model {type(model).__name__}")


def _with_missing_directions(model, forest):
    """skl2onnx 1.20 leaves `nodes_missing_value_tracks_true` at 0 for scikit-learn trees,
    which send a NaN to the side learnt at fit (`missing_go_to_left`); set it from the trees."""
    from onnx import helper

    left = [t.tree_.missing_go_to_left.astype(int) for t in forest.estimators_]
    for node in model.graph.node:
        if not node.op_type.startswith("TreeEnsemble"):
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        tracks = [int(left[t][n]) if mode != b"LEAF" else 0
                  for t, n, mode in zip(attrs["nodes_treeids"], attrs["nodes_nodeids"], attrs["nodes_modes"])]
        keep = [a for a in node.attribute if a.name != "nodes_missing_value_tracks_true"]
        del node.attribute[:]
        node.attribute.extend(keep + [helper.make_attribute("nodes_missing_value_tracks_true", tracks)])
    return model


def _affine(g: Graph, x: str, coef, intercept) -> str:
    """x @ coef + intercept as (N, 1)."""
    w = np.asarray(coef, dtype=float).reshape(-1, 1)
    return g.op("Add", [g.op("MatMul", [x, g.const(w)]), g.const(float(np.ravel(intercept)[0]))])

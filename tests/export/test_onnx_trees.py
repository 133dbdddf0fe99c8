"""The rewrite of ONNX-ML tree ensembles into opset-5 TreeEnsemble: categorical chains
become set-membership nodes, and the outputs stay those of the original operator."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxmltools")


def _run(model, X):
    from assay.export.onnx import session

    s = session(model.SerializeToString())
    return s.run(None, {s.get_inputs()[0].name: X})


def _modes(model):
    from onnx import helper, numpy_helper

    out = []
    for n in model.graph.node:
        if n.op_type == "TreeEnsemble":
            a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
            out += numpy_helper.to_array(a["nodes_modes"]).tolist()
    return out


def _data(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "c": pd.Categorical(rng.choice([f"l{i}" for i in range(25)], n))})
    X.loc[::9, "a"] = np.nan
    X.loc[::13, "c"] = np.nan
    y = ((X["a"].fillna(0) > 0) ^ X["c"].isin([f"l{i}" for i in range(0, 25, 3)])).astype(int).to_numpy()
    codes = X["c"].cat.codes.to_numpy().astype(float)
    codes[codes < 0] = np.nan
    return X, y, np.column_stack([X["a"].to_numpy(), codes]).astype(np.float32)


@pytest.mark.parametrize("objective", ["binary", "multiclass", "regression"])
def test_lightgbm_categorical_chains_become_member_nodes(objective):
    import lightgbm as lgb
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    from assay.export.trees import upgrade_trees

    X, y, F = _data()
    if objective == "multiclass":
        y = y + (X["a"].fillna(0) > 1).to_numpy()
    cls = lgb.LGBMRegressor if objective == "regression" else lgb.LGBMClassifier
    m = cls(n_estimators=20, min_data_per_group=5, cat_smooth=1, verbose=-1).fit(X, y)
    onx = convert_lightgbm(m.booster_, initial_types=[("input", FloatTensorType([None, 2]))], zipmap=False,
                           target_opset=15)
    before = _run(onx, F)
    new = upgrade_trees(copy.deepcopy(onx))
    after = _run(new, F)
    modes = _modes(new)
    assert 6 in modes                                    # BRANCH_MEMBER
    assert modes.count(4) < modes.count(6)               # few single-category BRANCH_EQ left
    assert not any(n.op_type.startswith("TreeEnsembleC") or n.op_type == "TreeEnsembleRegressor"
                   for n in new.graph.node)
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, atol=1e-6)
    want = m.predict(X) if objective == "regression" else m.predict_proba(X)
    np.testing.assert_allclose(after[-1 if objective == "regression" else 1].reshape(want.shape), want, atol=1e-5)


def test_multitarget_leaves_of_a_multiclass_forest():
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier

    from assay.export.trees import upgrade_trees

    _, y, F = _data()
    y = y + (np.nan_to_num(F[:, 0]) > 1)
    F = np.nan_to_num(F, nan=-1.0)
    rf = RandomForestClassifier(n_estimators=10, random_state=0).fit(F, y)
    onx = to_onnx(rf, initial_types=[("input", __import__("skl2onnx").common.data_types.FloatTensorType([None, 2]))],
                  target_opset={"": 15, "ai.onnx.ml": 3}, options={id(rf): {"zipmap": False}})
    label, proba = _run(upgrade_trees(copy.deepcopy(onx)), F)
    np.testing.assert_allclose(proba, rf.predict_proba(F), atol=1e-6)
    assert np.array_equal(label, rf.predict(F))


def test_xgboost_node_numbering_is_the_library_s_own_in_linear_time():
    """`_remap_once` (used while converting XGBoost) numbers nodes as onnxmltools' recursion
    does, on trees whose categorical chains share subtrees."""
    import json

    import xgboost as xgb
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import XGBConverter

    from assay.export.learners import _linear_xgboost_remap, _remap_once

    X, y, _ = _data()
    m = xgb.XGBClassifier(n_estimators=8, max_depth=4, enable_categorical=True, tree_method="hist").fit(X, y)
    trees = [json.loads(t) for t in m.get_booster().get_dump(dump_format="json")]
    trees = XGBConverter._process_categorical_features(trees)
    assert any('"BRANCH_EQ"' in json.dumps(t) for t in trees)
    for t in trees:
        assert _remap_once(t) == XGBConverter._remap_nodeid(t)
    original = XGBConverter.__dict__["_remap_nodeid"]
    with _linear_xgboost_remap():
        assert XGBConverter._remap_nodeid is _remap_once
    assert XGBConverter.__dict__["_remap_nodeid"] is original

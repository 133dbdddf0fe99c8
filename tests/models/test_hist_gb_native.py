"""HistGradientBoosting's native categorical variant (`categorical="native"`): the same model
as scikit-learn's own defaults on a pandas frame with category columns, searched beside the
ordinal codes, explained by sampling, exported with set-membership nodes."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from assay.audit.explain import explain
from assay.data.validate import encode_target, prepare_training
from assay.models.base import ProblemInfo
from assay.models.registry import get_family
from tests.conftest import DATA
from tests.export._helpers import fit_member, make_run, split


def _car():
    df = pd.read_csv(DATA / "car.csv.gz").sample(frac=1.0, random_state=0).reset_index(drop=True)
    n = int(len(df) * 0.75)
    return df.iloc[:n], df.iloc[n:]


def _info(train: pd.DataFrame, target: str):
    X, y, schema = prepare_training(train, target)
    return X, encode_target(y, schema), ProblemInfo(schema=schema, n_rows=len(y), seed=0, n_jobs=1)


def test_native_variant_is_scikit_learns_defaults_on_category_columns():
    """What users run as "HistGradientBoosting defaults" on car (all six columns categorical):
    a frame of pandas categories, `categorical_features="from_dtype"`. The family's native
    variant predicts the same probabilities, and its splits are categorical ones."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    train, test = _car()
    X, y, info = _info(train, "class")
    model = get_family("hist_gb").build({"categorical": "native"}, info).fit(X, y)
    Xt = test.drop(columns=["class"])
    got = model.predict_proba(Xt)
    cats = {c: X[c].astype("category").cat.categories for c in X.columns}
    as_cat = lambda df: pd.DataFrame({c: pd.Categorical(df[c], categories=cats[c]) for c in X.columns})  # noqa: E731
    plain = HistGradientBoostingClassifier(random_state=0).fit(as_cat(X), y)
    assert np.abs(got - plain.predict_proba(as_cat(Xt))).max() < 1e-12
    hgb = model.steps[-1][1].model_.model_
    assert hgb.is_categorical_.all()
    assert any(p.nodes["is_categorical"].any() for per_class in hgb._predictors for p in per_class)


def test_ordinal_codes_stay_the_default_and_numeric_tables_ignore_the_option():
    train, _ = _car()
    X, y, info = _info(train, "class")
    ordinal = get_family("hist_gb").build({}, info).fit(X, y)
    assert ordinal.steps[-1][1].model_.categorical_ is None
    df = pd.read_csv(DATA / "abalone.csv.gz").drop(columns=["Sex"]).head(400)
    X, y, info = _info(df, "Rings")
    native = get_family("hist_gb").build({"categorical": "native"}, info).fit(X, y)
    assert native.steps[0][1].style == "tree" and native.steps[-1][1].model_.categorical_ is None
    with pytest.raises(ValueError, match="categorical must be one of"):
        get_family("hist_gb").build({"categorical": "onehot"}, info)


def test_the_search_samples_both_encodings_only_where_there_are_categoricals():
    train, _ = _car()
    _, _, info = _info(train, "class")
    family = get_family("hist_gb")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = {family.search_space(study.ask(), info)["categorical"] for _ in range(20)}
    assert seen == {"ordinal", "native"}
    df = pd.read_csv(DATA / "abalone.csv.gz").drop(columns=["Sex"]).head(300)
    _, _, numeric = _info(df, "Rings")
    assert "categorical" not in family.search_space(study.ask(), numeric)


def test_native_splits_are_explained_by_sampling_ordinal_codes_exactly():
    train, test = _car()
    rows = test.drop(columns=["class"]).head(25)
    native, schema = fit_member(train, "class", "hist_gb", extra={"categorical": "native"})
    ex = explain(make_run(schema, [native]), rows)
    assert not ex.exact and ex.additivity_error < 1e-6
    assert ex.members[0]["method"] == "permutation"
    ordinal, schema = fit_member(train, "class", "hist_gb")
    ex = explain(make_run(schema, [ordinal]), rows)
    assert ex.exact and ex.additivity_error < 1e-6


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_native_splits_export_to_onnx_as_member_nodes(task, tmp_path):
    """titanic (Sex, Embarked, high-cardinality Ticket and Cabin) and car: ONNX Runtime's
    probabilities match the Python model's on held-out rows, unseen levels included."""
    pytest.importorskip("onnxruntime")
    from assay.export import export_onnx
    from assay.export.onnx import PROBA_TOLERANCE

    train, test, target = split(task)
    member, schema = fit_member(train, target, "hist_gb", extra={"categorical": "native"})
    rep = export_onnx(make_run(schema, [member]), data=test, path=tmp_path)
    assert rep.complete and rep.max_abs_diff <= PROBA_TOLERANCE

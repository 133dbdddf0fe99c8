"""The compiled (numpy) form of fitted preprocessors gives scikit-learn's output exactly."""
import numpy as np
import pandas as pd
import pytest

import assay
from assay.data.validate import align_for_predict, encode_target, prepare_training
from assay.features import build_preprocessor
from assay.features.compiled import compile_column_transformer, compile_model
from tests.conftest import DATA


def _titanic():
    # without the free-text Name: the "linear" style's TF-IDF makes its output sparse (covered
    # below, as is the "tree" style's text part)
    df = pd.read_csv(DATA / "titanic.csv.gz").drop(columns=["Name"])
    X, y_raw, schema = prepare_training(df, "Survived", "binary")
    return df, X, encode_target(y_raw, schema), schema


def _odd_rows(X: pd.DataFrame) -> pd.DataFrame:
    """Rows with unseen levels, missing categories and missing numbers."""
    odd = X.iloc[:6].copy()
    cats = [c for c in X.columns if X[c].dtype == object]
    nums = [c for c in X.columns if X[c].dtype != object]
    odd.loc[odd.index[0], cats] = "never-seen-level"
    odd.loc[odd.index[1], cats] = np.nan
    odd.loc[odd.index[2], nums] = np.nan
    return odd


@pytest.mark.parametrize("style", ["tree", "linear"])
def test_compiled_preprocessor_equals_sklearn_on_real_rows_unseen_and_missing(style):
    df, X, y, schema = _titanic()
    assert (X.dtypes == object).any() and X.isna().any().any()     # categories and gaps to exercise
    prep = build_preprocessor(schema, style, seed=0)
    prep.fit(X.iloc[:600], y[:600])
    rows = pd.concat([X.iloc[600:], _odd_rows(X)])
    want = prep.transform(rows)
    assert prep.compile(X.iloc[:50])
    got = prep.transform(rows)
    assert isinstance(got, np.ndarray) and got.shape == want.shape
    np.testing.assert_array_equal(got, want)     # bit for bit, NaN in the same places


def test_sparse_output_compiles_to_the_same_sparse_matrix():
    """With the free-text Name, the "linear" style's output is sparse (TF-IDF): the compiled
    form stacks its numpy parts with the fitted TF-IDF into the same CSR matrix."""
    df = pd.read_csv(DATA / "titanic.csv.gz")
    X, y_raw, schema = prepare_training(df, "Survived", "binary")
    y = encode_target(y_raw, schema)
    prep = build_preprocessor(schema, "linear", seed=0).fit(X.iloc[:600], y[:600])
    rows = pd.concat([X.iloc[600:], _odd_rows(X)])
    want = prep.transform(rows)
    assert hasattr(want, "tocsr")
    assert prep.compile(X.iloc[:50]) and "compiled_" in prep.__dict__
    got = prep.transform(rows)
    assert hasattr(got, "tocsr") and got.shape == want.shape
    np.testing.assert_array_equal(got.toarray(), want.toarray())


def test_compiled_transform_of_text_and_datetime_parts_uses_the_fitted_encoders():
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({
        "when": pd.date_range("2020-01-01", periods=n, freq="37h").astype(str),
        "note": rng.choice(["red apple", "green pear", "ripe red cherry", "old green apple"], n),
        "x": rng.normal(size=n),
        "y": rng.integers(0, 2, n),
    })
    X, y_raw, schema = prepare_training(df, "y", "binary")
    prep = build_preprocessor(schema, "tree", seed=0).fit(X, encode_target(y_raw, schema))
    fast = compile_column_transformer(prep.inner_)
    from assay.features.pipeline import _prepare

    np.testing.assert_allclose(fast(_prepare(X, schema)), prep.inner_.transform(_prepare(X, schema)))


def test_compile_model_compiles_an_ensembles_preprocessors_and_keeps_its_predictions(tmp_path):
    df = _titanic()[0]
    run = assay.fit(df, "Survived", time_limit=None, max_trials=3, families=["linear", "hist_gb"],
                    verbosity=0, refit="folds")
    # the "native" style (HistGradientBoosting's native categorical variant) is not compiled
    preps = [e.steps[0][1] for m in run.model.members for e in m.estimators if e.steps[0][1].style != "native"]
    assert preps and all("compiled_" in p.__dict__ for p in preps)     # fit compiled them
    X = run.features(df.drop(columns=["Survived"]))
    fast = run.model.predict_output(X)
    for p in preps:
        del p.__dict__["compiled_"]
    np.testing.assert_allclose(fast, run.model.predict_output(X), rtol=0, atol=1e-12)
    assert compile_model(run.model, X) == len(preps)
    # and a saved Run keeps them
    loaded = assay.load(run.save(tmp_path / "run"))
    assert all("compiled_" in e.steps[0][1].__dict__ for m in loaded.model.members for e in m.estimators
               if e.steps[0][1].style != "native")
    np.testing.assert_allclose(loaded.predict_output(X), fast, rtol=0, atol=1e-12)


def test_align_for_predict_counts_values_that_are_not_boolean_tokens():
    df = pd.DataFrame({"b": ["yes", "no"] * 20, "n": np.arange(40.0), "t": [0, 1] * 20})
    X, _, schema = prepare_training(df, "t", "binary")
    assert schema.column("b").kind == "boolean"
    new = pd.DataFrame({"b": ["YES", " no ", "maybe", None, "maybe"], "n": [1.0] * 5})
    Xp, notes = align_for_predict(new, schema)
    np.testing.assert_array_equal(Xp["b"].to_numpy(), [1.0, 0.0, np.nan, np.nan, np.nan])
    assert any("'b': 2 values" in n for n in notes)


def test_level_positions_maps_levels_unseen_missing_and_non_strings():
    from assay.features.compiled import level_positions

    X = pd.DataFrame({"c": np.array(["b", "a", None, "zz", np.nan, 3, "b"], dtype=object)})
    got = level_positions(X, "c", {"a": 0, "b": 1, "3": 2}, unseen=7, missing=9)
    np.testing.assert_array_equal(got, [1, 0, 9, 7, 9, 2, 1])
    empty = pd.DataFrame({"c": np.array([], dtype=object)})
    assert level_positions(empty, "c", {"a": 0}, 7, 9).shape == (0,)


def test_level_positions_factorize_each_column_once_per_shared_block():
    """Inside shared_preparation() every encoder reading one frame's column reuses one
    factorization (an ensemble's fold models share their input), and stays exact per table."""
    from unittest import mock

    import assay.features.pipeline as pipeline
    from assay.features.compiled import level_positions

    X = pd.DataFrame({"c": np.array(["x", "y", "x", None], dtype=object)})
    calls = []
    real = pd.factorize
    with mock.patch.object(pipeline.pd, "factorize", side_effect=lambda *a, **k: calls.append(1) or real(*a, **k)):
        with pipeline.shared_preparation():
            a = level_positions(X, "c", {"x": 0, "y": 1}, 5, 6)
            b = level_positions(X, "c", {"y": 0}, 5, 6)
    assert len(calls) == 1
    np.testing.assert_array_equal(a, [0, 1, 0, 6])
    np.testing.assert_array_equal(b, [5, 0, 5, 6])

"""Tests of the per-style preprocessors: shapes, fit-on-train-only, unseen levels, datetime, text, 0 rows."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from assay.data.schema import ColumnSpec, Schema
from assay.features import STYLES, build_preprocessor


def make_frame(n: int = 80, seed: int = 0) -> pd.DataFrame:
    r = np.random.default_rng(seed)
    words = np.array(["red apple", "green pear pie", "", "ripe red cherry", "apple pie"], dtype=object)
    return pd.DataFrame({
        "x": r.normal(size=n),
        "x_nan": np.where(r.random(n) < 0.3, np.nan, r.normal(size=n)),
        "flag": r.integers(0, 2, n).astype("float64"),
        "color": pd.Series(np.array(["red", "green", "blue"], dtype=object)[r.integers(0, 3, n)], dtype=object),
        "city": pd.Series([f"c{i}" for i in r.integers(0, 30, n)], dtype=object),
        "when": pd.Series(pd.to_datetime("2022-03-01") + pd.to_timedelta(r.integers(0, 10**5, n), unit="m")),
        "day": pd.Series(pd.to_datetime("2022-03-01") + pd.to_timedelta(r.integers(0, 300, n), unit="D")),
        "note": pd.Series(words[r.integers(0, 5, n)], dtype=object),
    })


SCHEMA = Schema(target="y", task="binary", classes=[0, 1], columns=[
    ColumnSpec("x", "numeric", "float64"),
    ColumnSpec("x_nan", "numeric", "float64"),
    ColumnSpec("flag", "boolean", "float64"),
    ColumnSpec("color", "categorical", "object"),
    ColumnSpec("city", "high_cardinality", "object"),
    ColumnSpec("when", "datetime", "datetime64[ns]"),
    ColumnSpec("day", "datetime", "datetime64[ns]"),
    ColumnSpec("note", "text", "object"),
    ColumnSpec("rowid", "identifier", "int64"),
])


def dense(Z):
    if isinstance(Z, pd.DataFrame):
        return Z
    return Z.toarray() if sp.issparse(Z) else np.asarray(Z)


def names(p):
    return list(p.get_feature_names_out())


@pytest.fixture(params=STYLES)
def style(request):
    return request.param


def test_unknown_style_rejected():
    with pytest.raises(ValueError, match="style"):
        build_preprocessor(SCHEMA, "nope")


def test_shapes_and_dtypes(style):
    X = make_frame()
    p = build_preprocessor(SCHEMA, style).fit(X)
    Z = p.transform(X)
    assert Z.shape[0] == len(X) and Z.shape[1] == len(names(p))
    if style == "native":
        assert isinstance(Z, pd.DataFrame)
        assert isinstance(Z["color"].dtype, pd.CategoricalDtype)
        assert list(Z["color"].cat.categories) == ["blue", "green", "red"]
        assert all(Z[c].dtype == np.float64 for c in Z.columns if c not in ("color", "city"))
    else:
        assert dense(Z).dtype == np.float64
    if style == "linear":
        assert np.isfinite(dense(Z)).all()     # imputed, no NaN left for linear models


def test_extra_and_reordered_columns_are_ignored(style):
    X = make_frame()
    p = build_preprocessor(SCHEMA, style).fit(X)
    shuffled = X[X.columns[::-1]].assign(extra=1.0)
    a, b = dense(p.transform(X)), dense(p.transform(shuffled))
    if style == "native":
        pd.testing.assert_frame_equal(a, b)
    else:
        np.testing.assert_array_equal(a, b)


def test_zero_rows(style):
    X = make_frame()
    p = build_preprocessor(SCHEMA, style).fit(X)
    Z = p.transform(X.iloc[:0])
    assert Z.shape == (0, p.transform(X).shape[1])


def test_unseen_levels_and_all_missing_at_predict(style):
    X = make_frame()
    p = build_preprocessor(SCHEMA, style).fit(X)
    new = X.head(10).copy()
    new["color"] = "purple"
    new["city"] = np.nan
    new["x_nan"] = np.nan
    new["when"] = pd.NaT
    new["note"] = "completely unseen words"
    Z = dense(p.transform(new))
    assert Z.shape == (10, len(names(p)))
    if style == "native":
        assert Z["color"].isna().all() and Z["city"].isna().all()
    elif style == "tree":
        assert np.isnan(Z[:, names(p).index("cat__color")]).all()
    else:
        assert np.isfinite(Z).all()
        onehot = [i for i, n in enumerate(names(p)) if n.startswith("cat__color_")]
        assert Z[:, onehot].sum() == 0      # unknown level: no one-hot column lit


def test_fit_sees_training_rows_only():
    """Imputation and scaling statistics come from the rows fit on, not the rows transformed."""
    X = make_frame()
    train, test = X.iloc[:60], X.iloc[60:].copy()
    p = build_preprocessor(SCHEMA, "linear").fit(train)
    # a missing value in x_nan is imputed with the *training* median, then scaled with training stats
    j = names(p).index("num__x_nan")
    row = test.iloc[[0]].assign(x_nan=np.nan)
    xs = train["x_nan"]
    expected = (xs.median() - xs.fillna(xs.median()).mean()) / xs.fillna(xs.median()).std(ddof=0)
    assert dense(p.transform(row))[0, j] == pytest.approx(expected)
    # frequency encoding counts training rows only: a level seen only in test rows maps to 0
    q = build_preprocessor(SCHEMA, "tree").fit(train)
    f = names(q).index("hcf__city_freq")
    only_test = test.assign(city="c-new")
    assert (dense(q.transform(only_test))[:, f] == 0).all()
    seen = train["city"].iloc[0]
    share = (train["city"] == seen).mean()
    assert dense(q.transform(test.assign(city=seen)))[:, f] == pytest.approx(share)


def test_native_categories_fixed_at_fit():
    X = make_frame()
    train = X[X["color"] != "blue"]
    p = build_preprocessor(SCHEMA, "native").fit(train)
    Z = p.transform(X)
    assert list(Z["color"].cat.categories) == ["green", "red"]
    assert Z.loc[X["color"] == "blue", "color"].isna().all()


def test_datetime_expansion(style):
    X = make_frame()
    p = build_preprocessor(SCHEMA, style).fit(X)
    n = names(p)
    for part in ("year", "month", "day", "dayofweek", "hour", "unix"):
        assert any(f"when_{part}" in c for c in n)
    assert not any("day_hour" in c for c in n)            # date-only column: no hour part
    if style == "tree":
        Z = dense(p.transform(X))
        month = Z[:, n.index("dt__when_month")]
        np.testing.assert_array_equal(month, X["when"].dt.month.to_numpy(dtype=float))


def test_text_vectorised(style):
    X = make_frame()
    p = build_preprocessor(SCHEMA, style).fit(X)
    text_cols = [c for c in names(p) if "note_" in c]
    assert text_cols
    if style == "linear":
        assert any(c.endswith("note_tfidf_apple") for c in text_cols)
    else:
        assert all("svd" in c for c in text_cols) and len(text_cols) <= 20


def test_text_with_no_vocabulary_contributes_nothing():
    X = make_frame().assign(note="")
    for style in STYLES:
        p = build_preprocessor(SCHEMA, style).fit(X)
        assert not [c for c in names(p) if "note_" in c]
        assert p.transform(X).shape[0] == len(X)


def test_all_missing_columns_at_fit(style):
    X = make_frame().assign(x_nan=np.nan, city=np.nan)
    X["city"] = X["city"].astype(object)
    p = build_preprocessor(SCHEMA, style).fit(X)
    Z = dense(p.transform(make_frame(seed=1)))
    assert Z.shape[0] == 80


def test_string_dtype_input_accepted(style):
    """pandas' "str" dtype (and stray non-str levels) are normalised, not rejected."""
    X = make_frame()
    Xs = X.assign(color=X["color"].astype("str"), city=X["city"].astype("str"))
    p = build_preprocessor(SCHEMA, style).fit(X)
    a, b = dense(p.transform(X)), dense(p.transform(Xs))
    if style == "native":
        pd.testing.assert_frame_equal(a, b)
    else:
        np.testing.assert_array_equal(a, b)


def test_pickle_round_trip(style):
    X = make_frame()
    p = build_preprocessor(SCHEMA, style).fit(X)
    q = pickle.loads(pickle.dumps(p))
    a, b = dense(p.transform(X)), dense(q.transform(X))
    if style == "native":
        pd.testing.assert_frame_equal(a, b)
    else:
        np.testing.assert_array_equal(a, b)


def test_native_names_safe_for_boosters():
    schema = Schema(target="y", task="regression", columns=[
        ColumnSpec("a [kg]", "numeric", "float64"), ColumnSpec('b:"x"', "numeric", "float64"),
        ColumnSpec("a_kg_", "numeric", "float64"),
    ])
    X = pd.DataFrame({"a [kg]": [1.0, 2.0], 'b:"x"': [3.0, 4.0], "a_kg_": [0.0, 1.0]})
    Z = build_preprocessor(schema, "native").fit_transform(X)
    assert len(set(Z.columns)) == 3
    assert not any(ch in "".join(Z.columns) for ch in '[]{}":,<> ')

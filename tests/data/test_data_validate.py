"""prepare_training / coerce_features / align_for_predict / encode+decode."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from assay.data.schema import BINARY, REGRESSION, Schema
from assay.data.validate import (
    align_for_predict,
    coerce_features,
    decode_target,
    encode_target,
    prepare_training,
)
from assay.errors import ColumnError, DataFileError, TargetError


def train_frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "city code": rng.choice([1, 2, 3], n).astype(str),   # numbers held as text: numeric
        "plan": rng.choice(["basic", "pro", "team"], n),
        "member": rng.choice(["yes", "no"], n),
        "joined": pd.date_range("2020-01-01", periods=n, freq="D", tz="US/Eastern"),
        "comment": [" ".join(rng.choice(list("abcdefghij"), int(k))) for k in rng.integers(4, 9, n)],
        "label": rng.choice(["churn", "stay"], n),
    })


def test_prepare_training_canonical_dtypes_and_no_mutation():
    df = train_frame()
    df.loc[3, "plan"] = None
    df.loc[4, "comment"] = None
    before = df.copy()
    X, y, schema = prepare_training(df, "label")
    pd.testing.assert_frame_equal(df, before)
    assert schema.task == BINARY and schema.classes == ["churn", "stay"]
    assert list(X.columns) == schema.feature_names == ["age", "city code", "plan", "member", "joined", "comment"]
    assert X["age"].dtype == "float64"
    assert X["city code"].dtype == "float64" and X["plan"].dtype == object
    assert pd.isna(X.loc[3, "plan"]) and X.loc[3, "plan"] is np.nan
    assert all(type(v) is str for v in X["plan"].dropna())
    assert X["member"].dtype == "float64" and set(X["member"].unique()) == {0.0, 1.0}
    assert (X["member"] == 1.0).tolist() == (df["member"] == "yes").tolist()
    assert X["joined"].dtype == "datetime64[ns]"
    assert X.loc[0, "joined"] == pd.Timestamp("2020-01-01 05:00")  # midnight US/Eastern in UTC, naive
    assert X["comment"].dtype == object and X.loc[4, "comment"] == ""
    assert isinstance(X.index, pd.RangeIndex) and isinstance(y.index, pd.RangeIndex)
    assert y.tolist() == df["label"].tolist()


def test_missing_target_rows_dropped_with_warning(caplog):
    df = train_frame(50)
    df.index = range(100, 150)
    df.loc[[101, 110, 120], "label"] = None
    with caplog.at_level(logging.WARNING, logger="assay"):
        X, y, schema = prepare_training(df, "label")
    assert len(X) == len(y) == 47 and schema.n_rows == 47
    assert "dropped 3 of 50 rows" in caplog.text and "dropped 3 of 50 rows" in schema.warnings[0]
    assert X.index.tolist() == list(range(47))


@pytest.mark.parametrize("y,match", [
    ([None] * 4, "no values"),
    (["a"] * 4, "single class"),
    ([1.0, np.inf, 2.0, 3.0], "infinite"),
])
def test_bad_targets(y, match):
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "t": y})
    with pytest.raises(TargetError, match=f"'t'.*{match}|{match}.*'t'"):
        prepare_training(df, "t")


def test_missing_target_column_hints():
    with pytest.raises(TargetError, match="Did you mean 'label'"):
        prepare_training(train_frame(20), "Label")


def test_zero_rows_and_zero_features():
    with pytest.raises(DataFileError, match="no rows"):
        prepare_training(pd.DataFrame({"x": [], "t": []}), "t")
    with pytest.raises(ColumnError, match="only column"):
        prepare_training(pd.DataFrame({"t": [0, 1, 0]}), "t")
    df = pd.DataFrame({"id": range(30), "c": 1, "t": [0, 1] * 15})
    with pytest.raises(ColumnError, match="no usable feature columns: all were dropped as 'id': identifier.*'c': constant"):
        prepare_training(df, "t")


def test_infinite_feature_values_become_missing_with_warning(caplog):
    df = pd.DataFrame({"a": [1.0, np.inf, 3.0, -np.inf] * 5, "b": range(20), "t": [0, 1] * 10})
    with caplog.at_level(logging.WARNING, logger="assay"):
        X, _, schema = prepare_training(df, "t")
    assert X["a"].isna().sum() == 10 and not np.isinf(X["a"]).any()
    assert "'a' (10)" in caplog.text and any("'a'" in w for w in schema.warnings)


def test_mixed_object_column_mostly_numeric():
    vals = pd.Series([1, "2", 3.5, "oops", 5, 6.0, "7", 8, 9, 10] * 5, dtype=object)
    df = pd.DataFrame({"m": vals, "t": [0, 1] * 25})
    X, _, schema = prepare_training(df, "t")
    assert schema.column("m").kind == "numeric"
    assert X["m"].dtype == "float64" and X["m"].isna().sum() == 5
    assert X["m"].tolist()[:3] == [1.0, 2.0, 3.5]
    assert any("'m'" in w and "5 non-numeric" in w for w in schema.warnings)
    # mostly text: categorical strings, numbers formatted consistently
    df = pd.DataFrame({"m": pd.Series([1, "a", 2.0, "b"] * 5, dtype=object), "t": [0, 1] * 10})
    X, _, schema = prepare_training(df, "t")
    assert schema.column("m").kind == "categorical" and X["m"].tolist()[:4] == ["1", "a", "2", "b"]


def test_nullable_dtypes_and_unicode_names():
    n = 60
    df = pd.DataFrame({
        "Größe µm": pd.array([1, 2, None] * 20, dtype="Int64"),
        "ok?": pd.array([True, False, None] * 20, dtype="boolean"),
        "s t r": pd.array(["a", "b", None, "c"] * 15, dtype="string"),
        "t": pd.array([1, 2, 3] * 20, dtype="Int64"),
    })
    X, y, schema = prepare_training(df, "t")
    assert X["Größe µm"].dtype == "float64" and X["Größe µm"].isna().sum() == 20
    assert X["ok?"].tolist()[:3][:2] == [1.0, 0.0] and np.isnan(X["ok?"].iloc[2])
    assert X["s t r"].dtype == object and X["s t r"].iloc[2] is np.nan
    assert schema.classes == [1, 2, 3] and y.dtype == "int64"


def test_fit_and_predict_give_identical_levels():
    # codes that are mostly numbers but with letters too: categorical
    fit = pd.DataFrame({"code": pd.Series(["3", "4", "10", None, "x"] * 10, dtype=object), "t": [0, 1] * 25})
    _, _, schema = prepare_training(fit, "t")
    assert schema.column("code").kind == "categorical"
    a = coerce_features(fit, schema)["code"]
    # at predict time the same column arrives as numbers (int, then float with NaN)
    for pred_col in ([3, 4, 10, 3], [3.0, 4.0, 10.0, np.nan], np.array(["3", "4", "10", "3"])):
        b = coerce_features(pd.DataFrame({"code": pred_col}), schema)["code"]
        assert b.dtype == object
        assert b.dropna().tolist() == ["3", "4", "10", "3"][: len(b.dropna())]
        assert set(b.dropna()) <= set(a.dropna())


def _fitted():
    df = train_frame(120)
    X, y, schema = prepare_training(df, "label")
    return df, X, schema


def test_align_for_predict_reordered_extra_and_types():
    df, X, schema = _fitted()
    new = df.drop(columns="label")[list(reversed(df.columns[:-1]))].copy()
    new["unused"] = 1
    new["age"] = new["age"].astype(int).astype(str)  # numbers as text
    before = new.copy()
    Xp, notes = align_for_predict(new, schema)
    pd.testing.assert_frame_equal(new, before)
    assert list(Xp.columns) == schema.feature_names
    pd.testing.assert_frame_equal(Xp.reset_index(drop=True), X)
    assert any("'unused'" in n for n in notes)


def test_align_for_predict_missing_and_renamed_columns():
    df, _, schema = _fitted()
    new = df.drop(columns=["label", "plan"]).rename(columns={"age": "Age", "member": "membr"})
    with pytest.raises(ColumnError) as exc:
        align_for_predict(new, schema)
    msg = str(exc.value)
    for name in ("'age'", "'plan'", "'member'"):
        assert name in msg
    assert "did you mean 'Age'" in msg and "did you mean 'membr'" in msg


def test_align_for_predict_zero_rows_and_unseen_values():
    df, X, schema = _fitted()
    Xp, _ = align_for_predict(df.iloc[:0], schema)
    assert len(Xp) == 0 and list(Xp.columns) == schema.feature_names
    assert Xp.dtypes.tolist() == X.dtypes.tolist()
    new = df.iloc[:3].copy()
    new["plan"] = ["enterprise", None, "pro"]
    new["age"] = [np.nan, 30.0, np.inf]
    Xp, notes = align_for_predict(new, schema)
    assert Xp["plan"].tolist()[0] == "enterprise" and Xp["plan"].iloc[1] is np.nan
    assert Xp["age"].isna().tolist() == [True, False, True]


def test_align_for_predict_garbage_in_numeric_column():
    df, _, schema = _fitted()
    new = df.iloc[:10].copy()
    new["age"] = ["abc"] * 10
    with pytest.raises(ColumnError, match="column 'age' was numeric"):
        align_for_predict(new, schema)


@pytest.mark.parametrize("labels", [
    [3, 1, 2, 1, 3],
    ["no", "yes", "yes", "no"],
    [True, False, True],
    [0.5, 1.5, 0.5, 2.5],
])
def test_encode_decode_round_trip(labels):
    n = len(labels) * 6
    df = pd.DataFrame({"x": np.arange(n, dtype=float) % 7, "t": labels * 6})
    task = "multiclass" if len(set(labels)) > 2 else "binary"
    _, y, schema = prepare_training(df, "t", task=task)
    schema = Schema.from_dict(json.loads(json.dumps(schema.to_dict())))  # as loaded from run.json
    codes = encode_target(y, schema)
    assert codes.dtype == np.int64 and codes.min() == 0 and codes.max() == len(schema.classes) - 1
    back = decode_target(codes, schema)
    assert back.tolist() == labels * 6
    assert [type(v) for v in back.tolist()] == [type(v) for v in labels * 6]
    assert encode_target(pd.Series(labels * 6), schema).tolist() == codes.tolist()


def test_encode_unseen_label_and_regression():
    df = pd.DataFrame({"x": [i % 5 for i in range(20)], "t": ["a", "b"] * 10})
    _, _, schema = prepare_training(df, "t")
    with pytest.raises(TargetError, match="not seen in training: 'c'"):
        encode_target(["a", "c"], schema)
    df = pd.DataFrame({"x": np.random.default_rng(0).normal(size=50), "t": np.linspace(0, 1, 50)})
    _, y, schema = prepare_training(df, "t")
    assert schema.task == REGRESSION and schema.classes is None
    enc = encode_target(y, schema)
    assert enc.dtype == np.float64 and np.allclose(decode_target(enc, schema), y)


def test_prepare_training_accepts_a_path(tmp_path):
    p = tmp_path / "train.csv"
    p.write_text("x;t\n" + "".join(f"{i % 7};{'ab'[i % 2]}\n" for i in range(30)))
    X, y, schema = prepare_training(p, "t")
    assert X.shape == (30, 1) and schema.classes == ["a", "b"]


def test_datetime_text_format_from_fit_is_used_at_predict():
    days = pd.date_range("2021-03-01", periods=60, freq="D")
    df = pd.DataFrame({"d": days.strftime("%d/%m/%Y"), "v": np.arange(60) % 5, "t": [0, 1] * 30})
    _, _, schema = prepare_training(df, "t")
    assert schema.column("d").kind == "datetime" and schema.column("d").datetime_format == "%d/%m/%Y"
    # every predict value is ambiguous (day <= 12): parsed day-first as at fit time, not guessed anew
    Xp, _ = align_for_predict(pd.DataFrame({"d": ["02/01/2021", "03/04/2021"], "v": [1, 2]}), schema)
    assert Xp["d"].tolist() == [pd.Timestamp("2021-01-02"), pd.Timestamp("2021-04-03")]


def test_object_column_of_python_bools():
    df = pd.DataFrame({"b": pd.Series([True, False, None] * 10, dtype=object), "v": np.arange(30) % 4,
                       "t": [0, 1] * 15})
    X, _, schema = prepare_training(df, "t")
    assert schema.column("b").kind == "boolean"
    assert X["b"].tolist()[:2] == [1.0, 0.0] and np.isnan(X["b"].iloc[2])

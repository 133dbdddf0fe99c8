"""infer_schema: column kinds, drops with warnings, task inference, JSON safety."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from assay.data.schema import (
    BINARY,
    BOOLEAN,
    CATEGORICAL,
    CONSTANT,
    DATETIME,
    HIGH_CARDINALITY,
    IDENTIFIER,
    MULTICLASS,
    NUMERIC,
    REGRESSION,
    TARGET_LEAK,
    TEXT,
    Schema,
    infer_schema,
    infer_task,
)
from assay.errors import OptionError, TargetError

N = 400
WORDS = "the quick brown fox jumps over a lazy dog while seven wizards quietly hex".split()


def every_kind_frame(n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    df = pd.DataFrame({
        "num float": rng.normal(size=n),                       # continuous, all unique: NOT an id
        "num_int": rng.integers(0, 100, n),
        "low cat": rng.choice(["red", "green", "blue"], n),
        "high_card": [f"c{v}" for v in rng.integers(0, 300, n)],
        "flag": rng.random(n) < 0.5,
        "yes_no": rng.choice(["yes", "no"], n),
        "zero_one_str": rng.choice(["0", "1"], n),
        "when": pd.date_range("2020-01-01", periods=n, freq="D"),
        "when_tz": pd.date_range("2020-01-01", periods=n, freq="h", tz="Europe/Berlin"),
        "date_text": pd.date_range("2021-03-01", periods=n, freq="D").strftime("%d/%m/%Y"),
        "free text": [" ".join(rng.choice(WORDS, rng.integers(4, 12))) for _ in range(n)],
        "row_id": np.arange(n) + 1000,
        "shuffled_id": rng.permutation(n),
        "uuid": [f"u-{i:08x}" for i in rng.permutation(n)],
        "const": 7,
        "all_nan": np.nan,
        "leak": y.copy(),
        "Int64 nullable": pd.array(list(rng.integers(0, 5, n - 1)) + [None], dtype="Int64"),
        "bool nullable": pd.array([True, False, None] * (n // 3) + [True] * (n % 3), dtype="boolean"),
        "string dtype": pd.array(rng.choice(["a", "b", "c", None], n), dtype="string"),
        "größe µ": rng.normal(size=n),
    })
    df["target"] = y
    return df


def test_every_kind(caplog):
    df = every_kind_frame()
    before = df.copy()
    with caplog.at_level(logging.WARNING, logger="assay"):
        schema = infer_schema(df, "target")
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {
        "num float": NUMERIC,
        "num_int": NUMERIC,
        "low cat": CATEGORICAL,
        "high_card": HIGH_CARDINALITY,
        "flag": BOOLEAN,
        "yes_no": BOOLEAN,
        "zero_one_str": BOOLEAN,
        "when": DATETIME,
        "when_tz": DATETIME,
        "date_text": DATETIME,
        "free text": TEXT,
        "row_id": IDENTIFIER,
        "shuffled_id": IDENTIFIER,
        "uuid": IDENTIFIER,
        "const": CONSTANT,
        "all_nan": CONSTANT,
        "leak": TARGET_LEAK,
        "Int64 nullable": NUMERIC,
        "bool nullable": BOOLEAN,
        "string dtype": CATEGORICAL,
        "größe µ": NUMERIC,
    }
    assert [c.name for c in schema.columns] == [c for c in df.columns if c != "target"]
    assert set(schema.dropped) == {"row_id", "shuffled_id", "uuid", "const", "all_nan", "leak"}
    assert "leaks the target" in schema.column("leak").note
    assert "missing" in schema.column("all_nan").note
    # the drops are warned about, by name, and recorded
    text = " ".join(schema.warnings)
    for name in ("row_id", "uuid", "const", "all_nan", "leak"):
        assert f"'{name}'" in text
        assert name in caplog.text
    assert schema.task == BINARY and schema.classes == [0, 1]
    assert schema.column("low cat").categories == ["blue", "green", "red"]
    assert schema.column("yes_no").categories == ["no", "yes"]
    assert schema.column("flag").categories == ["False", "True"]
    assert schema.column("string dtype").categories == ["a", "b", "c"]
    assert 0.2 < schema.column("string dtype").missing_fraction < 0.3
    assert schema.column("all_nan").missing_fraction == 1.0
    pd.testing.assert_frame_equal(df, before)  # input not modified


def test_schema_is_json_safe_and_round_trips():
    schema = infer_schema(every_kind_frame(), "target")
    text = json.dumps(schema.to_dict())  # no numpy types anywhere
    back = Schema.from_dict(json.loads(text))
    assert back == schema
    assert all(type(c) is int for c in back.classes)


def test_float_unique_values_are_not_identifiers_but_integer_sequences_are():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({
        "cont": rng.normal(size=100),                         # unique floats
        "wide_ints": rng.choice(10**9, 100, replace=False),   # unique ints, random, wide span
        "seq_float": np.arange(100, dtype=float),             # integer-valued, sequential
        "y": rng.normal(size=100),
    })
    kinds = {c.name: c.kind for c in infer_schema(df, "y").columns}
    assert kinds == {"cont": NUMERIC, "wide_ints": NUMERIC, "seq_float": IDENTIFIER}


def test_tiny_data_does_not_drop_unique_columns_as_ids():
    df = pd.DataFrame({"a": ["p", "q", "r", "s"], "b": [1, 2, 3, 4], "y": [0, 1, 0, 1]})
    kinds = {c.name: c.kind for c in infer_schema(df, "y").columns}
    assert kinds == {"a": CATEGORICAL, "b": NUMERIC}


def test_mixed_object_column():
    vals = [1, 2.5, "3", 4, "oops"] * 20 + [5.0] * 100  # 20 bad of 200
    df = pd.DataFrame({"mostly_num": pd.Series(vals, dtype=object),
                       "mixed": pd.Series([1, "a", "b", 2.0] * 50, dtype=object),
                       "y": np.arange(200) % 2})
    schema = infer_schema(df, "y")
    mn = schema.column("mostly_num")
    assert mn.kind == NUMERIC and "20 non-numeric" in mn.note
    assert any("mostly_num" in w for w in schema.warnings)
    mixed = schema.column("mixed")
    assert mixed.kind == CATEGORICAL and mixed.categories == ["1", "2", "a", "b"]


def test_numeric_strings_and_high_cardinality_threshold():
    n = 1000
    df = pd.DataFrame({
        "num_text": [str(i % 37 + 0.5) for i in range(n)],
        "cat60": [f"L{i % 60}" for i in range(n)],
        "y": np.arange(n) % 2,
    })
    schema = infer_schema(df, "y")
    assert schema.column("num_text").kind == NUMERIC
    assert schema.column("cat60").kind == HIGH_CARDINALITY  # more than 50 levels


def test_target_copy_detected_across_representations():
    df = pd.DataFrame({"y": ["a", "b", "a", "c"] * 10, "copy": ["a", "b", "a", "c"] * 10,
                       "y_num": [1, 2, 1, 3] * 10})
    schema = infer_schema(df, "y")
    assert schema.column("copy").kind == TARGET_LEAK
    assert schema.column("y_num").kind != TARGET_LEAK  # different values, same pattern: kept
    df2 = pd.DataFrame({"y": [0, 1, 1, 0] * 10, "s": ["0", "1", "1", "0"] * 10, "x": range(40)})
    assert infer_schema(df2, "y").column("s").kind == TARGET_LEAK


# ------------------------------------------------------------------ task inference

@pytest.mark.parametrize("values,task", [
    (["a", "b"] * 50, BINARY),
    (["a", "b", "c"] * 50, MULTICLASS),
    ([True, False] * 50, BINARY),
    ([0, 1] * 50, BINARY),
    ([0.0, 1.0] * 50, BINARY),
    ([1, 2, 3, 4] * 50, MULTICLASS),
    (list(range(200)), REGRESSION),
    ([0.5, 1.5, 2.0] * 50, REGRESSION),
    (list(range(30)) * 10, REGRESSION),  # 30 distinct integers: a count, not classes
])
def test_infer_task(values, task):
    assert infer_task(pd.Series(values)) == task


def test_classes_keep_user_types():
    x = list(range(40))
    assert infer_schema(pd.DataFrame({"y": [3, 1, 2, 1] * 10, "x": x}), "y").classes == [1, 2, 3]
    assert infer_schema(pd.DataFrame({"y": [True, False] * 20, "x": x}), "y").classes == [False, True]
    s = infer_schema(pd.DataFrame({"y": ["b", "a"] * 20, "x": x}), "y")
    assert s.classes == ["a", "b"] and all(type(c) is str for c in s.classes)
    # floats holding integers (e.g. because of missing values) give int classes
    s = infer_schema(pd.DataFrame({"y": [0.0, 1.0, None, 1.0] * 10, "x": x}), "y")
    assert s.classes == [0, 1] and all(type(c) is int for c in s.classes)


def test_task_override_validated():
    x = list(range(30))
    df = pd.DataFrame({"y": ["a", "b", "c"] * 10, "x": x})
    with pytest.raises(TargetError, match="'y'.*non-numeric.*regression"):
        infer_schema(df, "y", task="regression")
    with pytest.raises(TargetError, match="binary.*exactly 2 classes.*has 3"):
        infer_schema(df, "y", task="binary")
    with pytest.raises(TargetError, match="Use task='binary'"):
        infer_schema(pd.DataFrame({"y": ["a", "b"] * 15, "x": x}), "y", task="multiclass")
    with pytest.raises(OptionError, match="task 'clustering' is not known"):
        infer_schema(df, "y", task="clustering")
    assert infer_schema(pd.DataFrame({"y": [1, 2, 3] * 10, "x": x}), "y", task="regression").task == REGRESSION
    assert infer_schema(pd.DataFrame({"y": [0.5, 1.5, 2.5] * 10, "x": x}), "y", task="multiclass").classes == [0.5, 1.5, 2.5]
    assert infer_schema(df, "y", task="classification").task == MULTICLASS


def test_missing_target_lists_close_matches():
    df = pd.DataFrame({"Survived": [0, 1], "Age": [1, 2]})
    with pytest.raises(TargetError, match="'survived' is not in the data.*Did you mean 'Survived'"):
        infer_schema(df, "survived")


def test_guessing_a_datetime_format_warns_nothing():
    """pandas warns when a day-first guess does not apply to ISO text; the guess tries both
    readings, so the user would see that warning on every fit and predict."""
    import warnings

    from assay.data.schema import guess_datetime_format

    values = pd.Series(["2019-03-23 20:21:09", "2019-03-24 07:01:00", None])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert guess_datetime_format(values) == "%Y-%m-%d %H:%M:%S"
    assert [str(w.message) for w in seen] == []

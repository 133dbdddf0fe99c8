"""read_table: every format and every user error gives one typed, clear message."""

from __future__ import annotations

import bz2
import gzip
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from assay.data.io import read_table
from assay.errors import ColumnError, DataFileError

ROWS = "a{d}b{d}c\n1{d}x{d}2.5\n2{d}y{d}NA\n3{d}?{d}4.0\n"


def _check_abc(df: pd.DataFrame) -> None:
    assert list(df.columns) == ["a", "b", "c"]
    assert df["a"].tolist() == [1, 2, 3]
    assert df["b"].iloc[0] == "x" and pd.isna(df["b"].iloc[2])  # "?" is missing
    assert pd.isna(df["c"].iloc[1]) and df["c"].iloc[2] == 4.0  # "NA" is missing


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_csv_delimiters_are_sniffed(tmp_path, delim):
    p = tmp_path / "t.csv"
    p.write_text(ROWS.format(d=delim), encoding="utf-8")
    _check_abc(read_table(p))


def test_tsv_and_str_path(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_text(ROWS.format(d="\t"))
    _check_abc(read_table(str(p)))


def test_semicolon_with_decimal_commas_in_quotes(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text('name;value\n"a, b";1\n"c";2\n')
    df = read_table(p)
    assert list(df.columns) == ["name", "value"]
    assert df["name"].tolist() == ["a, b", "c"]


@pytest.mark.parametrize("suffix,opener", [(".csv.gz", gzip.open), (".csv.bz2", bz2.open)])
def test_compressed_csv(tmp_path, suffix, opener):
    p = tmp_path / f"t{suffix}"
    with opener(p, "wt", encoding="utf-8") as fh:
        fh.write(ROWS.format(d=";"))
    _check_abc(read_table(p))


def test_zip_csv(tmp_path):
    p = tmp_path / "t.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("inner.csv", ROWS.format(d=","))
    _check_abc(read_table(p))


def test_zip_with_two_files_is_an_error(tmp_path):
    p = tmp_path / "t.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("a.csv", "a\n1\n")
        zf.writestr("b.csv", "a\n1\n")
    with pytest.raises(DataFileError, match="exactly one"):
        read_table(p)


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"], "c": [2.5, None, 4.0]})


def test_parquet(tmp_path):
    p = tmp_path / "t.parquet"
    _frame().to_parquet(p)
    df = read_table(p)
    assert df["a"].tolist() == [1, 2, 3] and pd.isna(df["b"].iloc[1])


@pytest.mark.parametrize("suffix", [".feather", ".arrow"])
def test_feather(tmp_path, suffix):
    p = tmp_path / f"t{suffix}"
    _frame().to_feather(p)
    df = read_table(p)
    assert df.shape == (3, 3) and df["c"].iloc[2] == 4.0


def test_jsonl_and_json_records(tmp_path):
    recs = [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    df = read_table(p)
    assert df["a"].tolist() == [1, 2] and pd.isna(df["b"].iloc[1])
    q = tmp_path / "t.json"
    q.write_text(json.dumps(recs))
    assert read_table(q)["b"].iloc[0] == "x"
    r = tmp_path / "cols.json"
    r.write_text(json.dumps({"a": [1, 2], "b": ["x", "y"]}))
    assert read_table(r).shape == (2, 2)


def test_pandas_input_is_copied_not_modified():
    src = pd.DataFrame({0: [1, 2], "b": ["x", "y"]})
    before = src.copy()
    df = read_table(src)
    assert list(df.columns) == ["0", "b"]  # non-string names become str
    df.iloc[0, 0] = 99
    pd.testing.assert_frame_equal(src, before)


def test_polars_numpy_dict():
    pl = pytest.importorskip("polars")
    df = read_table(pl.DataFrame({"a": [1, 2], "b": ["x", None]}))
    assert df["a"].tolist() == [1, 2] and pd.isna(df["b"].iloc[1])
    arr = np.arange(6.0).reshape(3, 2)
    df = read_table(arr)
    assert list(df.columns) == ["x0", "x1"] and df["x1"].tolist() == [1.0, 3.0, 5.0]
    df.iloc[0, 0] = -1
    assert arr[0, 0] == 0.0
    assert read_table({"a": [1, 2], 3: ["p", "q"]}).columns.tolist() == ["a", "3"]


def test_unsupported_object():
    with pytest.raises(DataFileError, match="cannot read data from a int"):
        read_table(42)


# ------------------------------------------------------------------ errors

def test_missing_file_names_it(tmp_path):
    p = tmp_path / "nope.csv"
    with pytest.raises(DataFileError, match="nope.csv.*does not exist"):
        read_table(p)


def test_missing_file_suggests_close_name(tmp_path):
    (tmp_path / "train.csv").write_text("a\n1\n")
    with pytest.raises(DataFileError, match="Did you mean.*train.csv"):
        read_table(tmp_path / "trian.csv")


def test_directory(tmp_path):
    with pytest.raises(DataFileError, match="is a directory"):
        read_table(tmp_path)


@pytest.mark.parametrize("content", [b"", b"a,b,c\n", b"a,b,c", b"\n\n"])
def test_empty_or_header_only_has_no_rows(tmp_path, content):
    p = tmp_path / "e.csv"
    p.write_bytes(content)
    with pytest.raises(DataFileError, match="e.csv.*has no rows"):
        read_table(p)


def test_empty_gz_has_no_rows(tmp_path):
    p = tmp_path / "e.csv.gz"
    with gzip.open(p, "wb") as fh:
        fh.write(b"a,b\n")
    with pytest.raises(DataFileError, match="has no rows"):
        read_table(p)


def test_not_utf8(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes("name,city\nJos\u00e9,M\u00fcnchen\n".encode("latin-1"))
    with pytest.raises(DataFileError, match="latin.csv.*not UTF-8.*UTF-8"):
        read_table(p)


def test_corrupt_parquet(tmp_path):
    p = tmp_path / "bad.parquet"
    p.write_bytes(b"PAR1 this is not parquet at all PAR1")
    with pytest.raises(DataFileError, match="bad.parquet"):
        read_table(p)


def test_unknown_binary_format(tmp_path):
    p = tmp_path / "model.xlsx"
    p.write_bytes(b"\x00\x01\x02\x03binary\x00stuff")
    with pytest.raises(DataFileError, match="model.xlsx.*not a format"):
        read_table(p)


def test_ragged_csv(tmp_path):
    p = tmp_path / "ragged.csv"
    p.write_text("a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(DataFileError, match="ragged.csv"):
        read_table(p)


def test_duplicate_column_names(tmp_path):
    p = tmp_path / "dup.csv"
    p.write_text("a,b,a\n1,2,3\n")
    with pytest.raises(ColumnError, match="dup.csv.*duplicate column names.*'a'"):
        read_table(p)
    with pytest.raises(ColumnError, match="duplicate column names.*'1'"):
        read_table(pd.DataFrame([[1, 2]], columns=[1, "1"]))


def test_unicode_and_spaces_in_names(tmp_path):
    p = tmp_path / "u.csv"
    p.write_text("\ufeffçafé name,Größe (cm)\nx,1\ny,2\n", encoding="utf-8")
    df = read_table(p)
    assert list(df.columns) == ["çafé name", "Größe (cm)"]

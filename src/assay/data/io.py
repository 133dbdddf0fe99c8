"""Reading tables: files (CSV/TSV, Parquet, Feather/Arrow IPC, JSON Lines, JSON records,
optionally gzip/bz2/zip-compressed) and in-memory objects (pandas, polars, NumPy, dict).

Everything goes through :func:`read_table`. Files are read through pyarrow and converted
to pandas. Every problem a user can cause is one :class:`~assay.errors.DataFileError`
(or :class:`~assay.errors.ColumnError` for duplicate column names) whose message names
the file and says what to do.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import os
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from ..errors import ColumnError, DataFileError

NA_TOKENS = ["", "NA", "N/A", "NaN", "nan", "null", "None", "?"]

CSV_SUFFIXES = {".csv", ".tsv", ".tab", ".txt", ".dat", ".data"}
PARQUET_SUFFIXES = {".parquet", ".pq", ".parq"}
FEATHER_SUFFIXES = {".feather", ".arrow", ".ipc", ".fea"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
JSON_SUFFIXES = {".json"}
COMPRESSION_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zip": "zip"}
_DELIMITERS = [",", ";", "\t", "|"]
_SNIFF_BYTES = 256 * 1024

SUPPORTED = "CSV/TSV, Parquet, Feather/Arrow IPC, JSON Lines (optionally .gz, .bz2, .zip)"


def read_table(source: Any, *, what: str = "data") -> pd.DataFrame:
    """Read ``source`` into a new pandas DataFrame with unique string column names.

    ``source`` is a path (str or Path) to a supported file, or a pandas DataFrame (copied,
    never modified), polars DataFrame, 2-D NumPy array (columns ``x0..xN``) or dict of
    columns. ``what`` names the table in error messages (e.g. "training data").
    """
    if isinstance(source, pd.DataFrame):
        df = source.copy()
        label = f"the {what} DataFrame"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        label = f"{what} file '{path}'"
        df = _read_path(path, label)
    elif _is_polars(source):
        label = f"the {what} polars DataFrame"
        if hasattr(source, "collect") and not hasattr(source, "to_pandas"):
            source = source.collect()  # LazyFrame
        df = source.to_pandas()
    elif isinstance(source, np.ndarray):
        label = f"the {what} array"
        if source.ndim == 1:
            source = source.reshape(-1, 1)
        if source.ndim != 2:
            raise DataFileError(
                f"{label} has {source.ndim} dimensions; pass a 2-D array (rows x columns)."
            )
        df = pd.DataFrame(source.copy(), columns=[f"x{i}" for i in range(source.shape[1])])
    elif isinstance(source, dict):
        label = f"the {what} dict"
        try:
            df = pd.DataFrame({k: (v.copy() if hasattr(v, "copy") else v) for k, v in source.items()})
        except ValueError as exc:
            raise DataFileError(
                f"{label} cannot be made into a table ({exc}); give every column the same length."
            ) from None
    else:
        raise DataFileError(
            f"cannot read {what} from a {type(source).__name__}: pass a file path "
            f"({SUPPORTED}), a pandas or polars DataFrame, a 2-D NumPy array or a dict of columns."
        )
    return _finish(df, label)


# --------------------------------------------------------------------------- helpers

def _is_polars(obj: Any) -> bool:
    mod = type(obj).__module__ or ""
    return mod.startswith("polars") and type(obj).__name__ in ("DataFrame", "LazyFrame")


def _finish(df: pd.DataFrame, label: str) -> pd.DataFrame:
    """String column names, checked for duplicates; a RangeIndex-free copy is not forced."""
    names = []
    for i, c in enumerate(df.columns):
        if isinstance(c, tuple):  # MultiIndex columns
            name = "_".join(str(p) for p in c if str(p) != "")
        else:
            name = str(c)
        name = name.lstrip("\ufeff")
        if name == "":
            name = f"unnamed_{i}"
        names.append(name)
    dup = sorted(n for n, k in Counter(names).items() if k > 1)
    if dup:
        shown = ", ".join(f"'{n}' ({Counter(names)[n]} times)" for n in dup[:10])
        raise ColumnError(
            f"{label} has duplicate column names: {shown}. Rename the columns so each name is unique."
        )
    df.columns = names
    return df


def _read_path(path: Path, label: str) -> pd.DataFrame:
    if not path.exists():
        hint = ""
        parent = path.parent if str(path.parent) else Path(".")
        if parent.is_dir():
            import difflib

            close = difflib.get_close_matches(path.name, [p.name for p in parent.iterdir()], n=3)
            if close:
                hint = " Did you mean " + " or ".join(f"'{parent / c}'" for c in close) + "?"
        raise DataFileError(f"{label} does not exist. Check the path.{hint}")
    if path.is_dir():
        raise DataFileError(f"{label} is a directory, not a file. Give the path of a data file inside it.")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise DataFileError(f"{label} cannot be opened ({exc.strerror or exc}). Check its permissions.") from None
    if size == 0:
        raise DataFileError(f"{label} is empty (0 bytes) and has no rows. Give a file with a header and data rows.")

    suffixes = [s.lower() for s in path.suffixes]
    compression = None
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        compression = COMPRESSION_SUFFIXES[suffixes[-1]]
        suffixes = suffixes[:-1]
    # content beats the name: detect compression and binary formats by magic bytes
    if head.startswith(b"\x1f\x8b"):
        compression = "gzip"
    elif head.startswith(b"BZh"):
        compression = "bz2"
    elif head.startswith(b"PK\x03\x04"):
        compression = "zip"
    elif compression is not None and not head.startswith((b"\x1f\x8b", b"BZh", b"PK")):
        compression = None  # named .gz but not compressed: read as is

    fmt = None
    ext = suffixes[-1] if suffixes else ""
    if compression is None and head.startswith(b"PAR1"):
        fmt = "parquet"
    elif compression is None and head.startswith((b"ARROW1", b"FEA1")):
        fmt = "feather"
    elif ext in PARQUET_SUFFIXES:
        fmt = "parquet"
    elif ext in FEATHER_SUFFIXES:
        fmt = "feather"
    elif ext in JSONL_SUFFIXES:
        fmt = "jsonl"
    elif ext in JSON_SUFFIXES:
        fmt = "json"
    else:
        fmt = "csv"  # CSV/TSV, or an unknown extension: try text, fail with a clear message
    unknown_ext = ext not in (CSV_SUFFIXES | PARQUET_SUFFIXES | FEATHER_SUFFIXES | JSONL_SUFFIXES | JSON_SUFFIXES | {""})

    try:
        if fmt == "parquet":
            df = _read_parquet(path, compression, label)
        elif fmt == "feather":
            df = _read_feather(path, compression, label)
        elif fmt == "jsonl":
            df = _read_jsonl(path, compression, label)
        elif fmt == "json":
            df = _read_json(path, compression, label)
        else:
            df = _read_csv(path, compression, label, unknown_ext)
    except (DataFileError, ColumnError):
        raise
    except UnicodeDecodeError:
        raise DataFileError(_utf8_message(label)) from None
    except Exception as exc:  # pyarrow / zipfile / json errors
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "utf8" in msg.lower() or "utf-8" in msg.lower():
            raise DataFileError(_utf8_message(label)) from None
        raise DataFileError(
            f"{label} cannot be read as {fmt.upper()} ({msg}). Check that the file is a valid "
            f"{SUPPORTED} file and not truncated."
        ) from None
    if len(df.columns) == 0:
        raise DataFileError(f"{label} has no columns and no rows. Give a file with a header and data rows.")
    if len(df) == 0:
        raise DataFileError(f"{label} has no rows (only a header). Give a file with data rows.")
    return df


def _utf8_message(label: str) -> str:
    return (
        f"{label} is not UTF-8 encoded text. Re-save it as UTF-8 (e.g. in a spreadsheet choose "
        f"'CSV UTF-8', or run: iconv -f latin1 -t utf-8 in.csv > out.csv)."
    )


def _open_binary(path: Path, compression: str | None, label: str) -> BinaryIO:
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "bz2":
        return bz2.open(path, "rb")
    if compression == "zip":
        zf = zipfile.ZipFile(path)
        members = [
            m for m in zf.infolist()
            if not m.is_dir() and not m.filename.startswith("__MACOSX") and not Path(m.filename).name.startswith(".")
        ]
        if len(members) != 1:
            names = ", ".join(m.filename for m in members[:10]) or "nothing"
            zf.close()
            raise DataFileError(
                f"{label} is a zip archive holding {len(members)} files ({names}); "
                f"a zip must hold exactly one data file. Extract the one you want and pass its path."
            )
        return zf.open(members[0])
    return open(path, "rb")


def _check_duplicate_names(names: list[str], label: str) -> None:
    counts = Counter(names)
    dup = [n for n, k in counts.items() if k > 1]
    if dup:
        shown = ", ".join(f"'{n}' ({counts[n]} times)" for n in dup[:10])
        raise ColumnError(
            f"{label} has duplicate column names: {shown}. Rename the columns so each name is unique."
        )


def _read_parquet(path: Path, compression: str | None, label: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    if compression is None:
        table = pq.read_table(path)
    else:
        with _open_binary(path, compression, label) as fh:
            table = pq.read_table(io.BytesIO(fh.read()))
    _check_duplicate_names(table.column_names, label)
    return table.to_pandas()


def _read_feather(path: Path, compression: str | None, label: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.feather as feather

    if compression is None:
        source: Any = str(path)
    else:
        with _open_binary(path, compression, label) as fh:
            source = pa.BufferReader(fh.read())
    try:
        table = feather.read_table(source)
    except Exception:
        # Arrow IPC *stream* format (not the file format)
        import pyarrow.ipc as ipc

        if compression is None:
            with pa.memory_map(str(path)) as mm:
                table = ipc.open_stream(mm).read_all()
        else:
            source.seek(0)
            table = ipc.open_stream(source).read_all()
    _check_duplicate_names(table.column_names, label)
    return table.to_pandas()


def _read_jsonl(path: Path, compression: str | None, label: str) -> pd.DataFrame:
    import pyarrow.json as pajson

    with _open_binary(path, compression, label) as fh:
        data = fh.read()
    _check_utf8(data, label)
    if not data.strip():
        raise DataFileError(f"{label} has no rows (no JSON records). Give a file with one JSON object per line.")
    table = pajson.read_json(io.BytesIO(data))
    _check_duplicate_names(table.column_names, label)
    return table.to_pandas()


def _read_json(path: Path, compression: str | None, label: str) -> pd.DataFrame:
    import pyarrow as pa

    with _open_binary(path, compression, label) as fh:
        data = fh.read()
    _check_utf8(data, label)
    text = data.decode("utf-8-sig").strip()
    if not text:
        raise DataFileError(f"{label} has no rows (it is blank). Give a JSON array of records.")
    if text.startswith("{") and "\n" in text:
        # could be JSON Lines saved as .json
        first = text.split("\n", 1)[0].strip()
        try:
            json.loads(first)
            return _read_jsonl(path, compression, label)
        except json.JSONDecodeError:
            pass
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(
            f"{label} is not valid JSON ({exc.msg} at line {exc.lineno}). Give a JSON array of "
            f"records, an object of columns, or JSON Lines (.jsonl)."
        ) from None
    if isinstance(obj, list):
        if obj and not all(isinstance(r, dict) for r in obj):
            raise DataFileError(
                f"{label} holds a JSON array whose items are not all objects; give an array of records "
                f'like [{{"a": 1, "b": "x"}}, ...].'
            )
        if not obj:
            raise DataFileError(f"{label} has no rows (an empty JSON array).")
        table = pa.Table.from_pylist(obj)
    elif isinstance(obj, dict) and obj and all(isinstance(v, list) for v in obj.values()):
        lengths = {len(v) for v in obj.values()}
        if len(lengths) != 1:
            raise DataFileError(f"{label} holds columns of different lengths; give every column the same length.")
        table = pa.table(obj)
    else:
        raise DataFileError(
            f"{label} does not hold a table: give a JSON array of records or an object of equal-length column lists."
        )
    return table.to_pandas()


def _check_utf8(data: bytes, label: str) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataFileError(_utf8_message(label)) from None


def _sniff_delimiter(sample: str) -> str:
    """Pick the delimiter giving the most columns consistently over the first lines."""
    lines = sample.splitlines()
    if len(lines) > 1:
        lines = lines[:-1] if not sample.endswith(("\n", "\r")) else lines  # drop a partial last line
    lines = [ln for ln in lines[:200] if ln.strip()]
    if not lines:
        return ","
    best, best_score = ",", (0, 0.0)
    for d in _DELIMITERS:
        try:
            rows = list(csv.reader(lines, delimiter=d))
        except csv.Error:
            continue
        counts = [len(r) for r in rows]
        header = counts[0]
        if header < 2:
            continue
        consistent = sum(c == header for c in counts) / len(counts)
        if consistent < 0.8:
            continue
        score = (header, consistent)
        if score > best_score:
            best, best_score = d, score
    return best


def _read_csv(path: Path, compression: str | None, label: str, unknown_ext: bool) -> pd.DataFrame:
    import pyarrow.csv as pacsv

    with _open_binary(path, compression, label) as fh:
        sample_bytes = fh.read(_SNIFF_BYTES)
    if not sample_bytes.strip():
        raise DataFileError(f"{label} has no rows (it is blank). Give a file with a header and data rows.")
    if b"\x00" in sample_bytes[:4096]:
        if unknown_ext:
            raise DataFileError(
                f"{label} is not a format assay can read (binary content, extension "
                f"'{path.suffix}'). Supported: {SUPPORTED}."
            )
        raise DataFileError(
            f"{label} holds binary data, not text: it may be UTF-16 or another encoding, or not a CSV "
            f"at all. Re-save it as UTF-8 CSV."
        )
    try:
        sample = sample_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample_bytes) - 4:  # not just a multi-byte char cut at the end
            raise DataFileError(_utf8_message(label)) from None
        sample = sample_bytes[: exc.start].decode("utf-8-sig")
    delimiter = "\t" if path.suffixes and path.suffixes[0].lower() in (".tsv", ".tab") else _sniff_delimiter(sample)

    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert = pacsv.ConvertOptions(
        null_values=NA_TOKENS,
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    read = pacsv.ReadOptions(block_size=1 << 22)
    with _open_binary(path, compression, label) as fh:
        try:
            table = pacsv.read_csv(fh, read_options=read, parse_options=parse, convert_options=convert)
        except Exception as exc:
            msg = str(exc)
            if "Empty CSV file" in msg:
                raise DataFileError(f"{label} has no rows (it is blank). Give a file with a header and data rows.") from None
            if "utf8" in msg.lower() or "utf-8" in msg.lower():
                raise DataFileError(_utf8_message(label)) from None
            if "duplicate" in msg.lower():
                raise ColumnError(f"{label} has duplicate column names ({msg.splitlines()[0]}). Rename them.") from None
            first = msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__
            if unknown_ext:
                raise DataFileError(
                    f"{label} is not a format assay can read (extension '{path.suffix}': {first}). "
                    f"Supported: {SUPPORTED}."
                ) from None
            raise DataFileError(
                f"{label} cannot be parsed as a table with delimiter {delimiter!r} ({first}). "
                f"Check that every row has the same number of fields as the header."
            ) from None
    _check_duplicate_names(table.column_names, label)
    return table.to_pandas()

"""From a raw table to model-ready data, with one clear error for every bad input.

* :func:`prepare_training` - checks the target, infers the schema, returns X, y, schema.
* :func:`coerce_features` - the ONE place raw columns become canonical dtypes (fit and predict).
* :func:`align_for_predict` - checks and coerces new data against a fitted schema.
* :func:`encode_target` / :func:`decode_target` - user labels <-> integer codes.

Canonical dtypes of X (per schema kind):

=================  ===========================================================
numeric            float64; unparseable values and +-inf -> NaN
boolean            float64 1.0 / 0.0 / NaN
categorical,       object holding Python str (integer-valued numbers without ".0",
high_cardinality   so "3", 3 and 3.0 are one level); np.nan for missing
datetime           datetime64[ns], naive UTC; unparseable -> NaT
text               object holding Python str; missing -> ""
=================  ===========================================================

Inputs are never modified.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .. import log
from ..errors import ColumnError, DataFileError, TargetError
from . import io as _io
from .schema import (
    BINARY,
    BOOLEAN,
    CATEGORICAL,
    DATETIME,
    HIGH_CARDINALITY,
    MULTICLASS,
    NUMERIC,
    REGRESSION,
    TEXT,
    ColumnSpec,
    Schema,
    _describe,
    _target_kind,
    bool_codes_counted,
    close_matches,
    infer_schema,
    level_strings,
    missing_target_error,
    parse_datetimes,
    value_key,
)

CLASSIFICATION_TASKS = (BINARY, MULTICLASS)
# at predict time, a numeric column where more than this fraction of the present values do not
# parse as numbers is an error (the column was probably swapped or re-encoded)
MAX_UNPARSEABLE_AT_PREDICT = 0.5


# --------------------------------------------------------------------------- helpers

def _as_frame(df: Any, what: str) -> pd.DataFrame:
    """A DataFrame with unique str column names, sharing data with the input (never modified)."""
    if isinstance(df, pd.DataFrame):
        return _io._finish(df.copy(deep=False), f"the {what} DataFrame")
    return _io.read_table(df, what=what)


def _numeric(s: pd.Series) -> tuple[np.ndarray, int, int]:
    """(float64 values with +-inf -> NaN, number of infinite values, number of unparseable values)."""
    dt = s.dtype
    if pd.api.types.is_bool_dtype(dt) or pd.api.types.is_numeric_dtype(dt):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        n_bad = 0
    elif pd.api.types.is_timedelta64_dtype(dt):
        values = s.dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
        n_bad = 0
    elif pd.api.types.is_datetime64_any_dtype(dt):
        values = np.full(len(s), np.nan)
        n_bad = int(s.notna().sum())
    else:
        levels = level_strings(s)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_numeric(levels.str.strip(), errors="coerce")
        values = parsed.to_numpy(dtype="float64", na_value=np.nan)
        n_bad = int((levels.notna().to_numpy() & np.isnan(values)).sum())
    inf = np.isinf(values)
    n_inf = int(inf.sum())
    if n_inf:
        values = values.copy()
        values[inf] = np.nan
    return values, n_inf, n_bad


def _coerce_one(s: pd.Series, spec: ColumnSpec) -> tuple[np.ndarray | pd.Series, int, int]:
    """One column to its canonical dtype (float64 columns as bare arrays, which the frame
    takes without a Series each); returns (values, n_inf, n_unparseable)."""
    name = s.name
    kind = spec.kind
    if kind == NUMERIC:
        return _numeric(s)
    if kind == BOOLEAN:
        values, n_bad = bool_codes_counted(s)
        return values, 0, n_bad
    if kind in (CATEGORICAL, HIGH_CARDINALITY):
        return level_strings(s), 0, 0
    if kind == TEXT:
        levels = level_strings(s)
        out = levels.where(levels.notna(), "")
        return pd.Series(out.to_numpy(dtype=object), index=s.index, name=name, dtype=object), 0, 0
    if kind == DATETIME:
        out = parse_datetimes(s, spec.datetime_format)
        n_bad = int((s.notna().to_numpy() & out.isna().to_numpy()).sum())
        return out.rename(name), 0, n_bad
    raise ValueError(f"column '{name}' has kind '{kind}', which is not a usable feature kind")


def _coerce(df: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, dict[str, tuple[int, int]]]:
    missing = [c.name for c in schema.features if c.name not in df.columns]
    if missing:
        raise _missing_columns_error(missing, [str(c) for c in df.columns])
    cols: dict[str, np.ndarray | pd.Series] = {}
    stats: dict[str, tuple[int, int]] = {}
    for spec in schema.features:
        values, n_inf, n_bad = _coerce_one(df[spec.name], spec)
        cols[spec.name] = values   # Series keep their dtype (object level strings stay object)
        stats[spec.name] = (n_inf, n_bad)
    out = pd.DataFrame(cols, index=df.index, columns=schema.feature_names)
    return out, stats


def _missing_columns_error(missing: list[str], available: list[str]) -> ColumnError:
    parts = []
    for m in missing:
        hits = [h for h in close_matches(m, available) if h not in missing]
        parts.append(f"'{m}'" + (f" (did you mean {' or '.join(repr(h) for h in hits)}?)" if hits else ""))
    return ColumnError(
        f"the data is missing {len(missing)} feature column{'s' if len(missing) > 1 else ''} the model "
        f"was trained on: {', '.join(parts)}. Add {'them' if len(missing) > 1 else 'it'} (or rename the "
        f"columns back) and try again."
    )


# --------------------------------------------------------------------------- public

def coerce_features(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The used feature columns of ``df`` in canonical dtypes (see module doc), in schema order.

    The result keeps ``df``'s index. Raises ColumnError when a feature column is missing.
    """
    out, _ = _coerce(_as_frame(df, "feature data"), schema)
    return out


def prepare_training(df: Any, target: str, task: str | None = None) -> tuple[pd.DataFrame, pd.Series, Schema]:
    """Check the training table and return ``(X, y, schema)``.

    X holds only the used feature columns in canonical dtypes; y holds the user's target
    labels (classification: the types of ``schema.classes``; regression: float64). Both have
    a fresh RangeIndex. Rows with a missing target are dropped with a warning.
    """
    df = _as_frame(df, "training data")
    target = str(target)
    if target not in df.columns:
        raise missing_target_error(target, list(df.columns))
    if len(df) == 0:
        raise DataFileError("the training data has no rows. Give a table with data rows.")
    if len(df.columns) == 1:
        raise ColumnError(
            f"the training data has no feature columns: '{target}' (the target) is its only column."
        )

    y_raw = df[target]
    notes: list[str] = []
    kind = _target_kind(y_raw)
    if kind == "numeric":
        yv = pd.to_numeric(y_raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        n_inf = int(np.isinf(yv).sum())
        if n_inf:
            raise TargetError(
                f"target column '{target}' has {n_inf} infinite value{'s' if n_inf > 1 else ''}; "
                f"remove those rows or replace the values before training."
            )
    missing = y_raw.isna().to_numpy()
    n_missing = int(missing.sum())
    if n_missing == len(df):
        raise TargetError(f"target column '{target}' has no values: all {len(df)} rows are missing.")
    if n_missing:
        msg = f"dropped {n_missing} of {len(df)} rows whose target '{target}' is missing"
        log.warn(msg)
        notes.append(msg)
        df = df.loc[~missing].reset_index(drop=True)
    else:
        df = df.reset_index(drop=True)

    schema = infer_schema(df, target, task)
    schema.warnings[:0] = notes

    if not schema.features:
        why = "; ".join(f"'{n}': {reason}" for n, reason in schema.dropped.items())
        raise ColumnError(f"no usable feature columns: all were dropped as {why}.")

    X, stats = _coerce(df, schema)
    inf_cols = [(n, st[0]) for n, st in stats.items() if st[0]]
    if inf_cols:
        shown = ", ".join(f"'{n}' ({k})" for n, k in inf_cols)
        msg = f"infinite values treated as missing in column{'s' if len(inf_cols) > 1 else ''} {shown}"
        log.warn(msg)
        schema.warnings.append(msg)
    y = _user_labels(df[target], schema)
    return X.reset_index(drop=True), y.reset_index(drop=True), schema


def _user_labels(y: pd.Series, schema: Schema) -> pd.Series:
    """Target values in the types of schema.classes (or float64 for regression)."""
    name = schema.target
    if schema.task == REGRESSION:
        if pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
            vals = y.to_numpy(dtype="float64", na_value=np.nan)
        else:
            vals = pd.to_numeric(level_strings(y).str.strip(), errors="coerce").to_numpy(dtype="float64")
        return pd.Series(vals, index=y.index, name=name, dtype="float64")
    codes = encode_target(y, schema)
    return pd.Series(decode_target(codes, schema), index=y.index, name=name)


def align_for_predict(df: Any, schema: Schema) -> tuple[pd.DataFrame, list[str]]:
    """Check new data against a fitted schema and coerce it; returns ``(X, notes)``.

    Missing feature columns -> ColumnError naming all of them (with close-match hints).
    Extra columns are ignored (mentioned in ``notes``); order does not matter; 0 rows are
    fine. Unseen categories and missing values pass through. A numeric column where most
    present values do not parse as numbers -> ColumnError. X keeps the input's index.
    """
    frame = _as_frame(df, "prediction data")
    known = {c.name for c in schema.columns} | {schema.target}
    extra = [c for c in frame.columns if c not in known]
    notes: list[str] = []
    X, stats = _coerce(frame, schema)
    if extra:
        shown = ", ".join(f"'{c}'" for c in extra[:20]) + (f" and {len(extra) - 20} more" if len(extra) > 20 else "")
        notes.append(f"ignored {len(extra)} column{'s' if len(extra) > 1 else ''} not seen in training: {shown}")
    for spec in schema.features:
        n_inf, n_bad = stats[spec.name]
        if not (n_bad or n_inf):      # the usual case: nothing to report (and no per-column pandas calls)
            continue
        raw = frame[spec.name]
        n_present = int(raw.notna().sum())
        if spec.kind == NUMERIC and n_present and n_bad > MAX_UNPARSEABLE_AT_PREDICT * n_present:
            examples = ", ".join(_describe(v) for v in raw[raw.notna()].map(value_key).unique()[:3])
            raise ColumnError(
                f"column '{spec.name}' was numeric in training but {n_bad} of its {n_present} values here "
                f"are not numbers (e.g. {examples}). Check that the right column has this name."
            )
        if n_bad:
            notes.append(f"column '{spec.name}': {n_bad} value{'s' if n_bad > 1 else ''} that could not be read as "
                         f"{spec.kind} treated as missing")
        if n_inf:
            notes.append(f"column '{spec.name}': {n_inf} infinite value{'s' if n_inf > 1 else ''} treated as missing")
    return X, notes


def encode_target(y: Any, schema: Schema) -> np.ndarray:
    """Classification: int64 codes 0..K-1 in the order of ``schema.classes``; regression: float64."""
    s = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y, dtype=object) if not isinstance(y, np.ndarray) else y)
    if schema.task == REGRESSION:
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            return s.to_numpy(dtype="float64", na_value=np.nan)
        return pd.to_numeric(level_strings(s).str.strip(), errors="coerce").to_numpy(dtype="float64")
    if not schema.classes:
        raise TargetError(f"the schema for target '{schema.target}' has no classes")
    lookup = {value_key(c): i for i, c in enumerate(schema.classes)}
    keys = level_strings(s)
    codes = keys.map(lookup)
    bad = codes.isna().to_numpy()
    if bad.any():
        unseen = keys[bad]
        n_missing = int(unseen.isna().sum())
        labels = [v for v in unseen.dropna().unique()[:5]]
        parts = []
        if labels:
            parts.append("labels not seen in training: " + ", ".join(_describe(v) for v in labels))
        if n_missing:
            parts.append(f"{n_missing} missing values")
        raise TargetError(f"target '{schema.target}' has {'; '.join(parts)}. Known classes: "
                          f"{', '.join(_describe(c) for c in schema.classes[:20])}.")
    return codes.to_numpy(dtype="int64")


def decode_target(codes: Any, schema: Schema) -> np.ndarray:
    """Integer codes (or regression values) back to the user's labels, in their original type."""
    arr = np.asarray(codes)
    if schema.task == REGRESSION:
        return arr.astype("float64")
    classes = list(schema.classes or [])
    if arr.size and (not np.all(np.isfinite(arr.astype("float64")))):
        raise ValueError("decode_target: codes must be finite integers")
    idx = arr.astype("int64")
    if idx.size and (idx.min() < 0 or idx.max() >= len(classes)):
        raise ValueError(f"decode_target: codes must lie in 0..{len(classes) - 1}")
    if classes and all(isinstance(c, bool) for c in classes):
        table = np.array(classes, dtype=bool)
    elif classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        table = np.array(classes, dtype="int64")
    elif classes and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in classes):
        table = np.array(classes, dtype="float64")
    else:
        table = np.empty(len(classes), dtype=object)
        table[:] = classes
    return table[idx]


__all__ = [
    "align_for_predict",
    "coerce_features",
    "decode_target",
    "encode_target",
    "prepare_training",
]

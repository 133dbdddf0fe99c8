"""Schema of a table: what kind each column is, which are dropped and why, and the task.

The dataclasses here are the contract between data inference (this package),
preprocessing (`assay.features`) and the Run on disk (they round-trip through JSON).
"""

from __future__ import annotations

import difflib
import math
import re
import warnings
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from .. import log
from ..errors import OptionError, TargetError

# Column kinds -------------------------------------------------------------
# (TARGET_LEAK, a dropped kind for a copy of the target, is defined with the inference below)
NUMERIC = "numeric"
CATEGORICAL = "categorical"          # low cardinality: one-hot / native categorical
HIGH_CARDINALITY = "high_cardinality"  # many levels: ordinal / target-style encodings
BOOLEAN = "boolean"
DATETIME = "datetime"                # expanded into parts by the preprocessor
TEXT = "text"                        # free text, vectorised by the preprocessor
IDENTIFIER = "identifier"            # dropped
CONSTANT = "constant"                # dropped
USABLE_KINDS = (NUMERIC, CATEGORICAL, HIGH_CARDINALITY, BOOLEAN, DATETIME, TEXT)

# Tasks -------------------------------------------------------------------
BINARY = "binary"
MULTICLASS = "multiclass"
REGRESSION = "regression"
TASKS = (BINARY, MULTICLASS, REGRESSION)


@dataclass
class ColumnSpec:
    name: str
    kind: str                      # one of the kinds above
    dtype: str                     # pandas dtype string as seen at fit time
    n_unique: int = 0
    missing_fraction: float = 0.0
    categories: list[Any] | None = None   # for categorical/boolean: levels seen at fit time
    note: str = ""                 # why it was dropped, or any remark
    datetime_format: str | None = None  # strptime format of a datetime column stored as text

    @property
    def used(self) -> bool:
        return self.kind in USABLE_KINDS


@dataclass
class Schema:
    target: str
    task: str                               # binary | multiclass | regression
    columns: list[ColumnSpec]               # every feature column, in input order (dropped too)
    classes: list[Any] | None = None        # the user's class labels, sorted; None for regression
    target_dtype: str = ""
    n_rows: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[ColumnSpec]:
        """Columns the models use."""
        return [c for c in self.columns if c.used]

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.features]

    @property
    def dropped(self) -> dict[str, str]:
        return {c.name: (c.note or c.kind) for c in self.columns if not c.used}

    def of_kind(self, *kinds: str) -> list[str]:
        return [c.name for c in self.features if c.kind in kinds]

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Schema":
        d = dict(d)
        d["columns"] = [ColumnSpec(**c) for c in d["columns"]]
        return cls(**d)


# ==========================================================================
# Inference
# ==========================================================================
#
# Everything below turns a pandas DataFrame into a Schema. The value helpers
# (`level_strings`, `value_key`, `bool_codes`, `parse_datetimes`) are shared with
# `assay.data.validate`, so fit-time inference and predict-time coercion agree.

TARGET_LEAK = "target_leak"          # dropped: identical to the target

MAX_CATEGORIES_STORED = 1000
MIN_ROWS_FOR_IDENTIFIER = 20
TEXT_MIN_MEAN_TOKENS = 4.0
DATETIME_MIN_PARSED = 0.95
MOSTLY_NUMERIC = 0.9
MAX_MULTICLASS_INTEGER_LEVELS = 20

TRUE_TOKENS = frozenset({"true", "t", "yes", "y", "1", "on"})
FALSE_TOKENS = frozenset({"false", "f", "no", "n", "0", "off"})

_ID_NAME = re.compile(
    r"(?:^|[_\W])(?:id|uuid|guid|idx|index|key|row_?num(?:ber)?|rowid)$|^(?:id|uuid|guid|index|rowid)$",
    re.IGNORECASE,
)
_ID_NAME_CAMEL = re.compile(r"[a-z0-9](?:Id|ID)$")


def categorical_threshold(n_rows: int) -> int:
    """Most levels a column may have and still be CATEGORICAL (else HIGH_CARDINALITY)."""
    return max(50, min(255, n_rows // 100))


# --------------------------------------------------------------------------- values

def value_key(v: Any) -> Any:
    """One value as the canonical level string (np.nan for missing).

    Integer-valued floats lose their ".0", so ``"3"``, ``3`` and ``3.0`` are one level.
    """
    if v is None or v is pd.NA or v is pd.NaT:
        return np.nan
    if isinstance(v, (bool, np.bool_)):
        return "True" if v else "False"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return np.nan
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        if f.is_integer() and abs(f) < 2**53:
            return str(int(f))
        return repr(f)
    if isinstance(v, str):
        return v
    if isinstance(v, (pd.Timestamp, datetime, date)):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    return str(v)


_SMALL = 32           # level_strings: up to this many values, convert one by one


def level_strings(s: pd.Series) -> pd.Series:
    """A column as canonical level strings: object dtype, Python str, np.nan for missing."""
    if len(s) <= _SMALL:  # a few rows (serving): per value, skipping pandas' per-call overhead
        vals = np.empty(len(s), dtype=object)
        vals[:] = [np.nan if _is_missing(v) else value_key(v) for v in s.tolist()]
        return pd.Series(vals, index=s.index, dtype=object, name=s.name)
    try:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists, dicts from JSON)
        codes, uniques = pd.factorize(s.map(lambda v: v if _is_missing(v) else str(v)), use_na_sentinel=True)
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = [value_key(u) for u in uniques]
    table[-1] = np.nan
    return pd.Series(table[codes], index=s.index, dtype=object, name=s.name)


def _is_missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def bool_codes(s: pd.Series) -> np.ndarray:
    """1.0 for true-ish, 0.0 for false-ish (true/false, yes/no, t/f, y/n, 1/0, on/off; any case), else NaN."""
    return bool_codes_counted(s)[0]


def bool_codes_counted(s: pd.Series) -> tuple[np.ndarray, int]:
    """`bool_codes(s)` and the number of present values that are not boolean tokens."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype="float64", na_value=np.nan), 0
    try:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists, dicts from JSON): never a boolean token
        codes, uniques = pd.factorize(s.map(lambda v: v if _is_missing(v) else str(v)), use_na_sentinel=True)
    # the tokens are looked up once per distinct value, not once per row
    table = np.full(len(uniques) + 1, np.nan)
    for i, u in enumerate(uniques):
        key = value_key(u).strip().lower()
        table[i] = 1.0 if key in TRUE_TOKENS else 0.0 if key in FALSE_TOKENS else np.nan
    values = table[codes]
    return values, int(np.isnan(values[codes >= 0]).sum())


def _is_bool_pair(levels: list[str]) -> bool:
    if len(levels) != 2:
        return False
    a, b = (x.strip().lower() for x in levels)
    return (a in TRUE_TOKENS and b in FALSE_TOKENS) or (a in FALSE_TOKENS and b in TRUE_TOKENS)


def guess_datetime_format(values: pd.Series) -> str | None:
    """A strptime format under which >= 95% of the (string) values parse, or None."""
    from pandas.tseries.api import guess_datetime_format as _guess

    sample = values.dropna()
    if len(sample) == 0:
        return None
    sample = sample.astype(str).drop_duplicates().head(2000)
    fmts: list[str] = []
    for v in sample.head(5):
        for dayfirst in (False, True):
            try:
                with warnings.catch_warnings():   # pandas warns when dayfirst does not apply
                    warnings.simplefilter("ignore")
                    f = _guess(v.strip(), dayfirst=dayfirst)
            except Exception:  # pragma: no cover - pandas internals
                f = None
            if f and f not in fmts:
                fmts.append(f)
    for fmt in fmts:
        if not any(tok in fmt for tok in ("%Y", "%y")) and not ("%d" in fmt and "%m" in fmt):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(sample.str.strip(), format=fmt, errors="coerce", utc=True)
        if parsed.notna().mean() >= DATETIME_MIN_PARSED:
            return fmt
    return None


def parse_datetimes(s: pd.Series, fmt: str | None = None) -> pd.Series:
    """Any column as naive UTC datetime64[ns]; tz-aware values converted to UTC; unparseable -> NaT.

    Text is parsed with ``fmt`` (the format seen at fit time) when given, else a guessed one;
    values in other formats are parsed one by one.
    """
    dt = s.dtype
    try:
        if isinstance(dt, pd.DatetimeTZDtype):
            return s.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
        if pd.api.types.is_datetime64_any_dtype(dt):
            return s.astype("datetime64[ns]")
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        pass
    if pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt):
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]", name=s.name)
    if len(s) == 0:
        return pd.Series([], index=s.index, dtype="datetime64[ns]", name=s.name)
    obj = s.astype(object)
    is_str = obj.map(lambda v: isinstance(v, str))
    text = obj.where(~is_str, obj[is_str].str.strip() if is_str.any() else obj)
    if fmt is None and is_str.any():
        fmt = guess_datetime_format(obj[is_str])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = pd.to_datetime(text, format=fmt or "mixed", errors="coerce", utc=True)
        except (ValueError, TypeError, OverflowError):
            out = pd.to_datetime(text.map(lambda v: v if isinstance(v, (str, datetime, date)) else None),
                                 format="mixed", errors="coerce", utc=True)
        if fmt is not None and out.isna().sum() > obj.isna().sum():
            # values in other formats: parse those individually
            rest = out.isna() & obj.notna()
            out[rest] = pd.to_datetime(text[rest], format="mixed", errors="coerce", utc=True)
    return out.dt.tz_localize(None).astype("datetime64[ns]").rename(s.name)


# --------------------------------------------------------------------------- columns

def _name_looks_like_id(name: str) -> bool:
    return bool(_ID_NAME.search(name)) or bool(_ID_NAME_CAMEL.search(name))


def _numeric_is_identifier(values: np.ndarray, n_rows: int, name: str) -> bool:
    """values: float64, no missing, all unique."""
    if n_rows < MIN_ROWS_FOR_IDENTIFIER or len(values) != n_rows:
        return False
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        return False
    diffs = np.diff(values)
    monotone = bool(np.all(diffs > 0) or np.all(diffs < 0))
    span = float(values.max() - values.min()) + 1.0
    sequential = span <= 1.1 * n_rows + 1
    return monotone or sequential or _name_looks_like_id(name)


def _mean_tokens(levels: pd.Series) -> float:
    sample = levels.dropna()
    if len(sample) > 5000:
        sample = sample.sample(5000, random_state=0)
    if len(sample) == 0:
        return 0.0
    return float(sample.str.split().str.len().mean())


def _describe(v: Any) -> str:
    text = str(v)
    return repr(text if len(text) <= 30 else text[:27] + "...")


def infer_column(s: pd.Series, n_rows: int) -> tuple[ColumnSpec, str | None]:
    """Kind of one feature column. Returns the spec and an optional warning message."""
    name = str(s.name)
    dtype = s.dtype
    n_missing = int(s.isna().sum())
    missing_fraction = float(n_missing / n_rows) if n_rows else 0.0
    spec = ColumnSpec(name=name, kind=NUMERIC, dtype=str(dtype), missing_fraction=missing_fraction)
    warning = None

    def constant() -> tuple[ColumnSpec, None]:
        spec.kind = CONSTANT
        if spec.n_unique == 0:
            spec.note = "constant: every value is missing"
        else:
            first = s.dropna().iloc[0]
            spec.note = f"constant: the only value is {_describe(value_key(first))}"
        return spec, None

    # booleans ------------------------------------------------------------
    if pd.api.types.is_bool_dtype(dtype):
        levels = level_strings(s)
        spec.n_unique = int(levels.nunique())
        if spec.n_unique <= 1:
            return constant()
        spec.kind = BOOLEAN
        spec.categories = sorted(levels.dropna().unique().tolist())
        return spec, None

    # datetimes -----------------------------------------------------------
    if pd.api.types.is_datetime64_any_dtype(dtype):
        spec.n_unique = int(s.nunique())
        if spec.n_unique <= 1:
            return constant()
        spec.kind = DATETIME
        return spec, None

    # numbers -------------------------------------------------------------
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        if pd.api.types.is_timedelta64_dtype(dtype):
            values = s.dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
        else:
            values = s.to_numpy(dtype="float64", na_value=np.nan)
        return _numeric_spec(spec, values, n_rows, n_missing, name, constant)

    # everything else: strings, objects, categoricals -------------------------
    levels = level_strings(s)
    present = levels.dropna()
    spec.n_unique = int(present.nunique())
    if spec.n_unique <= 1:
        return constant()
    uniques = present.unique().tolist()
    is_categorical_dtype = isinstance(dtype, pd.CategoricalDtype)

    raw = s.dropna()
    if not is_categorical_dtype and len(raw) and raw.map(lambda v: isinstance(v, (bool, np.bool_))).all():
        spec.kind = BOOLEAN
        spec.categories = sorted(uniques)
        return spec, None
    if _is_bool_pair(uniques):
        spec.kind = BOOLEAN
        spec.categories = sorted(uniques)
        return spec, None

    if not is_categorical_dtype:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nums = pd.to_numeric(present.str.strip(), errors="coerce")
        ok = nums.notna()
        frac = float(ok.mean()) if len(ok) else 0.0
        if frac >= MOSTLY_NUMERIC:
            n_bad = int((~ok).sum())
            values = pd.to_numeric(levels.str.strip(), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            spec_out, _ = _numeric_spec(spec, values, n_rows, n_missing + n_bad, name, constant)
            if n_bad and spec_out.kind == NUMERIC:
                examples = ", ".join(_describe(v) for v in present[~ok].unique()[:3])
                spec_out.note = f"mostly numeric: {n_bad} non-numeric values (e.g. {examples}) treated as missing"
                warning = f"column '{name}' is mostly numeric; {n_bad} non-numeric values (e.g. {examples}) are treated as missing"
            return spec_out, warning

        fmt = guess_datetime_format(present)
        if fmt is not None:
            spec.kind = DATETIME
            spec.datetime_format = fmt
            spec.note = f"dates stored as text (format {fmt})"
            return spec, None
        if 0 < frac:
            spec.note = "mixed numbers and text: treated as categories"

    threshold = categorical_threshold(n_rows)
    n_present = len(present)
    tokens = _mean_tokens(present)
    if tokens >= TEXT_MIN_MEAN_TOKENS and (spec.n_unique > threshold or spec.n_unique > 0.5 * n_present):
        spec.kind = TEXT
        return spec, warning
    if (not is_categorical_dtype and n_missing == 0 and spec.n_unique == n_rows
            and n_rows >= MIN_ROWS_FOR_IDENTIFIER):
        spec.kind = IDENTIFIER
        spec.note = "identifier: every value is unique"
        return spec, warning
    if spec.n_unique <= threshold:
        spec.kind = CATEGORICAL
        spec.categories = sorted(uniques)[:MAX_CATEGORIES_STORED]
    else:
        spec.kind = HIGH_CARDINALITY
    return spec, warning


def _numeric_spec(spec, values, n_rows, n_missing, name, constant):
    present = values[~np.isnan(values)]
    spec.n_unique = int(len(np.unique(present)))
    spec.missing_fraction = float(n_missing / n_rows) if n_rows else 0.0
    if spec.n_unique <= 1:
        return constant()
    if spec.n_unique == n_rows and _numeric_is_identifier(present, n_rows, name):
        spec.kind = IDENTIFIER
        spec.note = "identifier: every value is a unique integer (looks like a row id)"
        return spec, None
    spec.kind = NUMERIC
    return spec, None


# --------------------------------------------------------------------------- target / task

def close_matches(name: str, columns: list[str]) -> list[str]:
    cols = [str(c) for c in columns]
    lower = {c.lower(): c for c in cols}
    hits = []
    if name.lower() in lower:
        hits.append(lower[name.lower()])
    stripped = {c.strip().lower().replace(" ", "_"): c for c in cols}
    key = name.strip().lower().replace(" ", "_")
    if key in stripped and stripped[key] not in hits:
        hits.append(stripped[key])
    for c in difflib.get_close_matches(name, cols, n=3, cutoff=0.6):
        if c not in hits:
            hits.append(c)
    return hits[:3]


def missing_target_error(target: str, columns: list[str]) -> TargetError:
    hits = close_matches(target, columns)
    shown = ", ".join(repr(str(c)) for c in list(columns)[:20])
    more = f" (and {len(columns) - 20} more)" if len(columns) > 20 else ""
    hint = f" Did you mean {' or '.join(repr(h) for h in hits)}?" if hits else ""
    return TargetError(f"target column '{target}' is not in the data.{hint} Columns are: {shown}{more}.")


def _json_scalar(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return int(f) if f.is_integer() and abs(f) < 2**53 else f
    return value_key(v)


def _target_kind(y: pd.Series) -> str:
    """'bool', 'numeric' or 'label' for the non-missing target values."""
    if pd.api.types.is_bool_dtype(y.dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(y.dtype):
        return "numeric"
    present = y.dropna()
    if isinstance(y.dtype, pd.CategoricalDtype):
        return "label"
    if len(present) and present.map(lambda v: isinstance(v, (bool, np.bool_))).all():
        return "bool"
    if len(present) and present.map(lambda v: isinstance(v, (int, float, np.integer, np.floating))
                                     and not isinstance(v, (bool, np.bool_))).all():
        return "numeric"
    return "label"


def target_classes(y: pd.Series) -> list[Any]:
    """Sorted, JSON-safe class labels of the non-missing target values (ints stay ints)."""
    present = y.dropna()
    kind = _target_kind(y)
    if kind == "bool":
        return sorted({bool(v) for v in present})
    if kind == "numeric":
        vals = pd.to_numeric(present).to_numpy(dtype="float64")
        return [_json_scalar(v) for v in np.unique(vals)]
    return sorted(level_strings(present).unique().tolist())


def infer_task(y: pd.Series) -> str:
    """binary / multiclass / regression from the (non-missing) target values."""
    present = y.dropna()
    kind = _target_kind(y)
    n_classes = int(level_strings(present).nunique())
    if kind in ("bool", "label"):
        return BINARY if n_classes <= 2 else MULTICLASS
    vals = pd.to_numeric(present).to_numpy(dtype="float64")
    vals = vals[np.isfinite(vals)]
    if len(vals) == 0:
        return REGRESSION
    if not np.all(vals == np.round(vals)):
        return REGRESSION
    n_unique = len(np.unique(vals))
    if n_unique <= 2:
        return BINARY
    if n_unique <= MAX_MULTICLASS_INTEGER_LEVELS and n_unique <= max(0.05 * len(vals), 5):
        return MULTICLASS
    return REGRESSION


_TASK_ALIASES = {
    "classification": "classification", "classifier": "classification", "classify": "classification",
    "binary": BINARY, "binary_classification": BINARY,
    "multiclass": MULTICLASS, "multi_class": MULTICLASS, "multiclass_classification": MULTICLASS,
    "regression": REGRESSION, "regressor": REGRESSION, "regress": REGRESSION,
    "auto": None,
}


def resolve_task(y: pd.Series, target: str, task: str | None) -> tuple[str, list[Any] | None]:
    """Check / infer the task for target ``y``; returns (task, classes)."""
    if task is not None:
        key = str(task).strip().lower().replace("-", "_").replace(" ", "_")
        if key not in _TASK_ALIASES:
            raise OptionError(f"task '{task}' is not known: use one of {', '.join(TASKS)} (or leave it out to infer it).")
        task = _TASK_ALIASES[key]
    present = y.dropna()
    if len(present) == 0:
        raise TargetError(f"target column '{target}' has no values: every row is missing.")
    kind = _target_kind(y)
    if task is None:
        task = infer_task(y)
    if task == REGRESSION:
        if kind == "label":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                nums = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
            bad = present[nums.isna().to_numpy()]
            if len(bad):
                examples = ", ".join(_describe(v) for v in bad.unique()[:3])
                raise TargetError(
                    f"target column '{target}' holds non-numeric values (e.g. {examples}), so it cannot be "
                    f"used for regression. Use task='binary' or 'multiclass', or fix the values."
                )
        vals = pd.to_numeric(present.astype(str).str.strip() if kind == "label" else present).astype("float64")
        if vals.nunique() <= 1:
            raise TargetError(f"target column '{target}' has a single value ({_describe(vals.iloc[0])}); there is nothing to learn.")
        return REGRESSION, None

    classes = target_classes(y)
    k = len(classes)
    if k <= 1:
        raise TargetError(
            f"target column '{target}' has a single class ({_describe(classes[0]) if classes else 'none'}); "
            f"classification needs at least two classes."
        )
    if task == "classification":
        task = BINARY if k == 2 else MULTICLASS
    if task == BINARY and k != 2:
        shown = ", ".join(_describe(c) for c in classes[:5]) + (", ..." if k > 5 else "")
        raise TargetError(
            f"task 'binary' needs exactly 2 classes but target column '{target}' has {k} ({shown}). "
            f"Use task='multiclass'{' or regression' if kind == 'numeric' else ''}."
        )
    if task == MULTICLASS and k == 2:
        raise TargetError(
            f"task 'multiclass' needs 3 or more classes but target column '{target}' has 2 "
            f"({_describe(classes[0])}, {_describe(classes[1])}). Use task='binary'."
        )
    return task, classes


# --------------------------------------------------------------------------- schema

def _same_values(a: pd.Series, b: pd.Series) -> bool:
    """Equal as canonical level strings, missing in the same rows."""
    la, lb = level_strings(a), level_strings(b)
    na, nb = la.isna().to_numpy(), lb.isna().to_numpy()
    if not np.array_equal(na, nb):
        return False
    return bool((la.to_numpy()[~na] == lb.to_numpy()[~nb]).all())


def infer_schema(df: pd.DataFrame, target: str, task: str | None = None) -> Schema:
    """Kind of every feature column, the task and the class labels.

    Identifier, constant and target-copy columns are kept in ``columns`` but marked
    unusable (kind IDENTIFIER / CONSTANT / TARGET_LEAK) with a ``note``; each such drop
    is logged through :func:`assay.log.warn` and recorded in ``warnings``.
    ``df`` is never modified.
    """
    target = str(target)
    columns = [str(c) for c in df.columns]
    if target not in columns:
        raise missing_target_error(target, columns)
    y = df[df.columns[columns.index(target)]]
    task, classes = resolve_task(y, target, task)
    n_rows = len(df)

    specs: list[ColumnSpec] = []
    msgs: list[str] = []
    target_levels = None
    y_unique = int(level_strings(y).nunique())
    for col, name in zip(df.columns, columns):
        if name == target:
            continue
        s = df[col]
        s = s.rename(name)
        spec, warning = infer_column(s, n_rows)
        if warning:
            msgs.append(warning)
        if spec.kind != CONSTANT and spec.n_unique == y_unique:
            if target_levels is None:
                target_levels = y
            if _same_values(s, target_levels):
                spec.kind = TARGET_LEAK
                spec.categories = None
                spec.note = "leaks the target: identical to the target column"
        specs.append(spec)

    drop_reasons = {
        IDENTIFIER: "identifier (every value unique)",
        CONSTANT: "constant (one value or all missing)",
        TARGET_LEAK: f"leaks the target (identical to '{target}')",
    }
    for kind, why in drop_reasons.items():
        names = [c.name for c in specs if c.kind == kind]
        if names:
            shown = ", ".join(f"'{n}'" for n in names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
            msgs.append(f"dropped {len(names)} column{'s' if len(names) > 1 else ''} as {why}: {shown}")
    if classes is not None and len(classes) > 100:
        msgs.append(f"target column '{target}' has {len(classes)} classes; is this really a classification task?")
    for m in msgs:
        log.warn(m)
    return Schema(
        target=target,
        task=task,
        columns=specs,
        classes=classes,
        target_dtype=str(y.dtype),
        n_rows=int(n_rows),
        warnings=msgs,
    )

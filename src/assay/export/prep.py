"""ONNX for assay's preprocessing (`assay.features.pipeline.Preprocessor`).

The graph's inputs are the raw feature columns, one (N, 1) tensor each: double for
numeric and boolean columns (NaN = missing), string for categorical and high-cardinality
columns (`MISSING`, the empty string, = missing), double seconds since 1970-01-01 UTC for
datetime columns (NaN = missing). Every preprocessor becomes ONNX ops that produce the
matrix its learner was fit on:

* numbers: passed through ("tree", "native"); median imputation + missing indicators +
  standardisation ("linear": IsNaN / Where / Sub / Div);
* datetimes: year, month, day, day of week, [hour], unix seconds from the seconds, by
  integer calendar arithmetic (days -> civil date, H. Hinnant's algorithm) in Floor/Mul/Sub;
* categories: every categorical encoder of the three styles is a function of one
  column's value, known on a finite domain -- the levels seen at fit time, plus "unseen"
  and "missing". It becomes a lookup table computed by running the *fitted Python
  encoder itself* on that domain (so ordinal codes, one-hot with grouped rare levels,
  frequency encoding, pandas-category codes are reproduced exactly), then an ONNX-ML
  LabelEncoder (level -> row) and a Gather. The tables come from
  `assay.features.compiled.encoder_tables`, which the compiled prediction path uses too.

Not convertible (NotConvertible names the column): text (TF-IDF / SVD).
"""

from __future__ import annotations

import numpy as np

from assay.data.schema import BOOLEAN, DATETIME, NUMERIC
from assay.export._graph import MISSING, Graph, NotConvertible


def convert_preprocessor(g: Graph, prep, inputs: dict[str, str]) -> str:
    """Ops turning the raw inputs into `prep`'s output; returns a (N, width) double tensor."""
    from assay.features.pipeline import NativeFrame

    inner = prep.inner_
    if isinstance(inner, NativeFrame):
        blocks = _native(g, inner, inputs)
    else:
        blocks = _column_transformer(g, inner, prep.schema, prep.style, inputs)
    if not blocks:
        raise NotConvertible(f"the {prep.style!r} preprocessing produced no columns")
    return g.concat(blocks)


def input_kinds(schema) -> dict[str, str]:
    """{column: "double" | "datetime" | "string"} for the schema's features (the graph's inputs;
    "datetime" is a double tensor of seconds since 1970-01-01 UTC)."""
    def kind(c):
        if c.kind in (NUMERIC, BOOLEAN):
            return "double"
        return "datetime" if c.kind == DATETIME else "string"

    return {c.name: kind(c) for c in schema.features}


def _unsupported_text(cols, style: str) -> NotConvertible:
    why = "TF-IDF" + (" + SVD" if style != "linear" else "")
    names = ", ".join(repr(c) for c in cols)
    return NotConvertible(f"text column{'s' if len(cols) > 1 else ''} {names} ({why}, "
                          f"in the {style!r} preprocessing)")


# -- native (boosters) --------------------------------------------------------------


def _native(g: Graph, nf, inputs) -> list[str]:
    if nf.text_ is not None:
        raise _unsupported_text(nf.text_.columns_, "native")
    blocks = []
    if nf.num_:
        blocks.append(g.concat([inputs[c] for c in nf.num_]))
    for c in nf.cat_:
        levels = list(nf.levels_[c])
        # code = position in the fitted levels; unseen and missing -> NaN (as pandas does)
        table = np.concatenate([np.arange(len(levels), dtype=float), [np.nan, np.nan]])[:, None]
        blocks.append(_lookup(g, inputs[c], [str(v) for v in levels], table))
    if nf.dt_ is not None:
        blocks.append(_datetime_parts(g, nf.dt_, inputs))
    if nf.freq_ is not None:
        blocks.extend(_table_blocks(g, nf.freq_, nf.freq_.columns_, inputs))
    return blocks


# -- linear / tree: the ColumnTransformer ----------------------------------------------


def _column_transformer(g: Graph, ct, schema, style: str, inputs) -> list[str]:
    from sklearn.pipeline import Pipeline

    from assay.features.compiled import is_identity
    from assay.features.encoders import DatetimeParts

    blocks = []
    for name, trans, cols in ct.transformers_:
        if name == "remainder" or trans == "drop" or len(cols) == 0:
            continue
        cols = list(cols)
        if name == "text":
            raise _unsupported_text(cols, style)
        if is_identity(trans):
            blocks.append(g.concat([inputs[c] for c in cols]))
        elif name == "num" and isinstance(trans, Pipeline):
            blocks.append(_impute_scale(g, trans.steps, g.concat([inputs[c] for c in cols])))
        elif name == "dt" and isinstance(trans, DatetimeParts):
            blocks.append(_datetime_parts(g, trans, inputs))
        elif name == "dt" and isinstance(trans, Pipeline) and isinstance(trans.steps[0][1], DatetimeParts):
            blocks.append(_impute_scale(g, trans.steps[1:], _datetime_parts(g, trans.steps[0][1], inputs)))
        elif name in ("cat", "hc", "hcf"):
            blocks.extend(_table_blocks(g, trans, cols, inputs))
        else:
            raise NotConvertible(f"the {name!r} step ({type(trans).__name__}) of the {style!r} preprocessing")
    return blocks


def _impute_scale(g: Graph, steps, x: str) -> str:
    """SimpleImputer(add_indicator) -> StandardScaler, as the "linear" style fits it, on `x`."""
    from assay.features.compiled import NotCompilable, impute_scale_params

    try:
        stats, indicators, mean, scale = impute_scale_params(steps)
    except NotCompilable as e:
        raise NotConvertible(str(e)) from None
    nan = g.op("IsNaN", [x])
    parts = [g.op("Where", [nan, g.const(stats[None, :]), x])]
    if len(indicators):
        from onnx import TensorProto

        sel = g.op("Gather", [nan, g.const(indicators, np.int64)], axis=1)
        parts.append(g.op("Cast", [sel], to=TensorProto.DOUBLE))
    z = g.concat(parts)
    if mean is not None:
        z = g.op("Sub", [z, g.const(mean[None, :])])
    if scale is not None:
        z = g.op("Div", [z, g.const(scale[None, :])])
    return z


# -- datetime parts --------------------------------------------------------------------------


def _datetime_parts(g: Graph, dp, inputs) -> str:
    """`DatetimeParts` from seconds since the epoch: per column year, month, day, day of
    week (Monday = 0), [hour], seconds -- NaN where the input is NaN."""
    parts = []
    for c in dp.columns_:
        secs = inputs[c]
        year, month, day, dow, hour = calendar_parts(g, secs, with_hour=bool(dp.has_time_[c]))
        parts += [year, month, day, dow]
        if hour is not None:
            parts.append(hour)
        parts.append(secs)
    return g.concat(parts)


def calendar_parts(g: Graph, secs: str, with_hour: bool = True):
    """Year, month, day, day of week (Monday = 0) and hour (None unless `with_hour`) of
    seconds since the epoch, as graph outputs."""
    days = _floordiv(g, secs, 86400.0)
    year, month, day = _civil_from_days(g, days)
    # 1970-01-01 was a Thursday (3)
    shifted = g.op("Add", [days, g.const(3.0)])
    dow = g.op("Sub", [shifted, g.op("Mul", [_floordiv(g, shifted, 7.0), g.const(7.0)])])
    hour = (_floordiv(g, g.op("Sub", [secs, g.op("Mul", [days, g.const(86400.0)])]), 3600.0)
            if with_hour else None)
    return year, month, day, dow, hour


def _floordiv(g: Graph, x: str, d: float) -> str:
    return g.op("Floor", [g.op("Div", [x, g.const(d)])])


def _civil_from_days(g: Graph, days: str):
    """(year, month, day) of a day count since 1970-01-01 (proleptic Gregorian; H. Hinnant)."""
    def c(v):
        return g.const(float(v))

    def sub(a, b):
        return g.op("Sub", [a, b])

    def add(a, b):
        return g.op("Add", [a, b])

    def mul(a, v):
        return g.op("Mul", [a, c(v)])

    z = add(days, c(719468))
    era = _floordiv(g, z, 146097.0)
    doe = sub(z, mul(era, 146097))
    yoe = _floordiv(g, sub(add(sub(doe, _floordiv(g, doe, 1460.0)), _floordiv(g, doe, 36524.0)),
                           _floordiv(g, doe, 146096.0)), 365.0)
    doy = sub(doe, add(sub(mul(yoe, 365), _floordiv(g, yoe, 100.0)), _floordiv(g, yoe, 4.0)))
    mp = _floordiv(g, add(mul(doy, 5), c(2)), 153.0)
    day = add(sub(doy, _floordiv(g, add(mul(mp, 153), c(2)), 5.0)), c(1))
    late = g.to_double(g.op("GreaterOrEqual", [mp, c(10)]))          # March-based year: Jan, Feb
    month = sub(add(mp, c(3)), mul(late, 12))
    early = g.to_double(g.op("LessOrEqual", [month, c(2)]))
    year = add(add(yoe, mul(era, 400)), early)
    return year, month, day


# -- categorical encoders as lookup tables ------------------------------------------------


def _table_blocks(g: Graph, trans, cols: list, inputs) -> list[str]:
    """One (N, width_j) block per column: the encoder's output on that column's domain
    (`assay.features.compiled.encoder_tables`), looked up by level."""
    from assay.features.compiled import NotCompilable, encoder_tables

    try:
        tables = encoder_tables(trans, cols)
    except NotCompilable as e:
        raise NotConvertible(str(e)) from None
    return [_lookup(g, inputs[col], levels, table) for col, (levels, table) in zip(cols, tables)]


def _lookup(g: Graph, x: str, levels: list[str], table: np.ndarray) -> str:
    """Rows of `table` (levels..., unseen, missing) selected by the string input `x`."""
    keys, rows = [], []
    for i, v in enumerate(levels):
        if v != MISSING:                 # "" is the missing marker in the ONNX inputs
            keys.append(v)
            rows.append(i)
    n = len(levels)
    keys.append(MISSING)
    rows.append(n + 1)
    idx = g.op("LabelEncoder", [x], domain="ai.onnx.ml", keys_strings=keys, values_int64s=rows,
               default_int64=n)
    idx = g.reshape(idx, [-1])
    return g.op("Gather", [g.const(table), idx], axis=0)

"""Preprocessing for neural networks: numbers to a standardised float block,
categories to integer codes for embedding tables.

`EmbeddingPreprocessor(schema)` takes the raw feature DataFrame (columns =
``schema.feature_names``, canonical dtypes) and returns an :class:`EmbeddedData`:

- ``numeric``  float32 (n, d):
    numeric and boolean columns: clipped to the fit-time [0.1%, 99.9%] quantiles,
    median-imputed, standardised; plus a 0/1 missing indicator for every column
    that had missing values at fit time;
    datetime columns: year, month, day, day of week, hour and time since 1970 in
    years, each then treated like a numeric column (NaT -> median + indicator);
    text columns: a hashed bag of words (``text_dims`` buckets, l2-normalised,
    no fitting); ``text_dims=0`` drops text columns.
- ``codes``    int64 (n, c): one column per categorical / high-cardinality
  column; code 0 = missing, unseen at fit time, or rarer than ``min_frequency``;
  the fit-time categories are 1..n_levels (at most ``max_levels``, most frequent first).
- ``cardinalities``: embedding-table size per code column (n_levels + 1).

Column order and dtypes of the input may drift at predict time (columns are
selected by name and coerced); 0 rows give 0-row blocks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from assay.data.schema import BOOLEAN, CATEGORICAL, DATETIME, HIGH_CARDINALITY, NUMERIC, TEXT
from assay.errors import ColumnError

_DATE_PARTS = ("year", "month", "day", "dayofweek", "hour", "epoch_years")
_SECONDS_PER_YEAR = 365.25 * 86400.0


@dataclass
class EmbeddedData:
    """What the MLP consumes: a float block, an integer code block, table sizes."""

    numeric: np.ndarray          # float32 (n, d)
    codes: np.ndarray            # int64 (n, c)
    cardinalities: list[int]     # len c

    def __len__(self) -> int:
        return self.numeric.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.numeric.shape[1] + self.codes.shape[1])


def _as_float(s: pd.Series) -> np.ndarray:
    if s.dtype == object or isinstance(s.dtype, pd.StringDtype) or str(s.dtype) == "str":
        s = pd.to_numeric(s, errors="coerce")
    return pd.Series(s).astype("float64").to_numpy(copy=True)


def _date_parts(s: pd.Series) -> np.ndarray:
    d = pd.to_datetime(s, errors="coerce")
    if getattr(d.dt, "tz", None) is not None:
        d = d.dt.tz_convert("UTC").dt.tz_localize(None)
    epoch = (d - pd.Timestamp("1970-01-01")).dt.total_seconds() / _SECONDS_PER_YEAR
    parts = [d.dt.year, d.dt.month, d.dt.day, d.dt.day_of_week, d.dt.hour, epoch]
    return np.column_stack([p.astype("float64").to_numpy() for p in parts]) if len(d) else np.zeros((0, 6))


class EmbeddingPreprocessor(TransformerMixin, BaseEstimator):
    def __init__(self, schema=None, text_dims: int = 32, min_frequency: int = 1,
                 max_levels: int = 10_000, clip_quantile: float = 0.001):
        self.schema = schema
        self.text_dims = text_dims
        self.min_frequency = min_frequency
        self.max_levels = max_levels
        self.clip_quantile = clip_quantile

    # -- column groups ------------------------------------------------------
    def _columns(self, X: pd.DataFrame) -> list[str]:
        names = self.schema.feature_names if self.schema is not None else list(X.columns)
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise ColumnError(f"columns missing from the input: {missing[:10]}")
        return names

    def _kinds(self, X: pd.DataFrame, names) -> dict:
        if self.schema is None:   # no schema: numbers are numeric, everything else categorical
            return {c: NUMERIC if pd.api.types.is_numeric_dtype(X[c]) else CATEGORICAL for c in names}
        return {c: self.schema.column(c).kind for c in names}

    def _raw_numeric(self, X: pd.DataFrame) -> np.ndarray:
        blocks = [_as_float(X[c])[:, None] for c in self.num_cols_]
        blocks += [_date_parts(X[c]) for c in self.date_cols_]
        if not blocks:
            return np.zeros((len(X), 0))
        return np.hstack(blocks)

    # -- fit / transform ----------------------------------------------------
    def fit(self, X, y=None):
        self.__dict__.pop("_positions_cache", None)
        X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        names = self._columns(X)
        kinds = self._kinds(X, names)
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.num_cols_ = [c for c in names if kinds[c] in (NUMERIC, BOOLEAN)]
        self.date_cols_ = [c for c in names if kinds[c] == DATETIME]
        self.cat_cols_ = [c for c in names if kinds[c] in (CATEGORICAL, HIGH_CARDINALITY)]
        self.text_cols_ = [c for c in names if kinds[c] == TEXT] if self.text_dims > 0 else []

        raw = self._raw_numeric(X)
        raw[~np.isfinite(raw)] = np.nan
        with warnings.catch_warnings():           # all-NaN columns: statistics fall back to 0
            warnings.simplefilter("ignore", RuntimeWarning)
            q = self.clip_quantile
            if raw.shape[0] and raw.shape[1]:
                lo, hi = np.nanquantile(raw, [q, 1 - q], axis=0)
                med = np.nanmedian(raw, axis=0)
            else:
                lo = hi = med = np.zeros(raw.shape[1])
        self.lo_, self.hi_ = np.nan_to_num(lo), np.nan_to_num(hi)
        self.median_ = np.nan_to_num(np.clip(med, self.lo_, self.hi_))
        self.indicator_mask_ = np.isnan(raw).any(axis=0)
        filled = self._clip_fill(raw)
        self.mean_ = filled.mean(axis=0) if len(filled) else np.zeros(raw.shape[1])
        std = filled.std(axis=0) if len(filled) else np.ones(raw.shape[1])
        self.scale_ = np.where(std > 1e-12, std, 1.0)

        self.levels_ = {}
        for c in self.cat_cols_:
            counts = X[c].dropna().astype(str).value_counts(sort=False)
            counts = counts[counts >= self.min_frequency]
            order = sorted(counts.index, key=lambda k: (-counts[k], k))[: self.max_levels]
            self.levels_[c] = pd.Index(order, dtype=object)
        self.cardinalities_ = [len(self.levels_[c]) + 1 for c in self.cat_cols_]
        self.n_numeric_ = raw.shape[1] + int(self.indicator_mask_.sum()) + self.text_dims * len(self.text_cols_)
        return self

    def _clip_fill(self, raw: np.ndarray) -> np.ndarray:
        out = np.clip(raw, self.lo_, self.hi_)          # +-inf -> bounds, NaN stays NaN
        return np.where(np.isnan(out), self.median_, out)

    def transform(self, X) -> EmbeddedData:
        X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=self.feature_names_in_)
        self._columns(X)
        raw = self._raw_numeric(X)
        nan = np.isnan(raw)
        blocks = [(self._clip_fill(raw) - self.mean_) / self.scale_, nan[:, self.indicator_mask_]]
        if self.text_cols_:
            from sklearn.feature_extraction.text import HashingVectorizer

            hv = HashingVectorizer(n_features=self.text_dims, alternate_sign=False, norm="l2")
            for c in self.text_cols_:
                docs = X[c].astype(object).where(X[c].notna(), "").astype(str).tolist()
                blocks.append(hv.transform(docs).toarray() if docs else np.zeros((0, self.text_dims)))
        numeric = np.hstack(blocks).astype(np.float32) if blocks else np.zeros((len(X), 0), np.float32)

        from assay.features.compiled import level_positions

        codes = np.zeros((len(X), len(self.cat_cols_)), dtype=np.int64)
        positions = self._positions()
        for j, c in enumerate(self.cat_cols_):     # code 0: missing or unseen
            codes[:, j] = level_positions(X, c, positions[c], 0, 0)
        return EmbeddedData(numeric, codes, list(self.cardinalities_))

    def _positions(self) -> dict:
        """{column: {level: code}} (codes from 1), made once per fitted preprocessor."""
        cache = self.__dict__.get("_positions_cache")
        if cache is None:
            cache = {c: {v: i + 1 for i, v in enumerate(self.levels_[c])} for c in self.cat_cols_}
            self.__dict__["_positions_cache"] = cache
        return cache

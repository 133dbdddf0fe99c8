"""Preprocessors per model style, built from the Schema and fitted on training rows only.

Styles
------
"linear"  dense (sparse only when text is present) float64 matrix for linear models, KNN:
          numerics/booleans/datetime parts: median impute + missing indicators + standardise;
          categoricals: one-hot, rare levels grouped (min_frequency), unknown -> infrequent/zero;
          high cardinality: one-hot of the top levels + frequency encoding;
          text: TF-IDF (2000 terms per column, sparse).
"tree"    float64 matrix for sklearn forests and HistGradientBoosting: numerics as is (NaN kept),
          datetime parts, categoricals ordinal-encoded in target order (unknown/missing -> NaN;
          see `target_order`: one threshold split can then cut the levels as a categorical
          split would), high cardinality ordinal (rare grouped) + frequency, text TF-IDF -> 20
          SVD components.
"native"  a DataFrame for LightGBM / XGBoost / CatBoost: categoricals as pandas `category`
          with the levels fixed at fit time (unseen -> NaN), high cardinality capped at the
          255 most frequent levels + a frequency column; numerics, datetime parts and text SVD
          as float64. Column names are sanitised for the boosters (no []{}",:<> or spaces).

Every preprocessor accepts 0 rows at transform (returns an empty result of the right width)
and selects/reorders the schema's feature columns itself.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from assay.data.schema import BOOLEAN, CATEGORICAL, DATETIME, HIGH_CARDINALITY, NUMERIC, TEXT, Schema
from assay.errors import ColumnError
from assay.features.encoders import DatetimeParts, FrequencyEncoder, TextEncoder, target_order

STYLES = ("linear", "tree", "native")

MIN_FREQUENCY = 5          # one-hot / ordinal: levels seen fewer times are grouped as "infrequent"
HIGH_CARD_ONEHOT = 20      # linear: one-hot columns kept for a high-cardinality column
NATIVE_MAX_LEVELS = 255    # native: levels kept for a high-cardinality column
TEXT_TERMS_LINEAR = 2000
TEXT_TERMS_TREE = 1000
TEXT_SVD = 20


def build_preprocessor(schema: Schema, style: str, seed: int = 0) -> "Preprocessor":
    """An unfitted transformer for `style` (one of STYLES)."""
    if style not in STYLES:
        raise ValueError(f"unknown preprocessing style {style!r}; choose from {STYLES}")
    return Preprocessor(schema=schema, style=style, seed=seed)


class Preprocessor(TransformerMixin, BaseEstimator):
    """Selects the schema's features, normalises dtypes, then applies the style's encoders."""

    def __init__(self, schema: Schema | None = None, style: str = "tree", seed: int = 0):
        self.schema = schema
        self.style = style
        self.seed = seed

    def fit(self, X, y=None):
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        X = _prepare(X, self.schema)
        if self.style == "native":
            self.inner_ = NativeFrame(schema=self.schema, seed=self.seed)
        else:
            self.inner_ = _column_transformer(self.schema, self.style, self.seed, X, y)
        Xt = self.inner_.fit_transform(X)
        self.fingerprint_ = _fingerprint(X, y, self.style, self.seed)
        self.empty_ = Xt.iloc[:0] if isinstance(Xt, pd.DataFrame) else Xt[:0]
        self.n_features_out_ = Xt.shape[1]
        return Xt

    def transform(self, X):
        fingerprint = getattr(self, "fingerprint_", None)     # absent in Runs saved before it
        if fingerprint is None:
            return self._transform(X)
        # members refit on the same rows with the same style fit identical preprocessors:
        # within a shared_preparation() block their output is computed once
        return shared_value(("out", fingerprint), X, lambda: self._transform(X))

    def _transform(self, X):
        X = _prepare(X, self.schema)
        if len(X) == 0:      # sklearn encoders refuse 0 rows; the answer is known
            return self.empty_.copy()
        fast = self.__dict__.get("compiled_")
        return fast(X) if fast is not None else self.inner_.transform(X)

    def compile(self, sample: pd.DataFrame) -> bool:
        """Use the numpy form of the fitted encoders (`assay.features.compiled`) from now on,
        if it reproduces the scikit-learn output on `sample` (to 1e-12); returns whether it does.
        For final models: compiling costs a probe per categorical level, paid once."""
        from assay.features.compiled import NotCompilable, compile_column_transformer

        self.__dict__.pop("compiled_", None)
        if self.style == "native" or not hasattr(self, "inner_") or len(sample) == 0:
            return False
        try:
            fast = compile_column_transformer(self.inner_)
            Xp = _prepare(sample, self.schema)
            got, want = fast(Xp), self.inner_.transform(Xp)
        except NotCompilable:
            return False
        got, want = (m.toarray() if hasattr(m, "toarray") else m for m in (got, want))
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True):
            from assay import log

            log.info(f"the compiled {self.style!r} preprocessing differs from scikit-learn's; not used")
            return False
        self.compiled_ = fast
        return True

    def get_feature_names_out(self, input_features=None):
        if isinstance(self.empty_, pd.DataFrame):
            return np.asarray(self.empty_.columns, dtype=object)
        return self.inner_.get_feature_names_out()


def _fingerprint(X: pd.DataFrame, y, style: str, seed: int) -> str:
    """What a fitted preprocessor's state depends on: its style and seed, the training rows
    (schema columns, normalised) and the target (target-ordered codes). Two preprocessors
    with equal fingerprints transform any input identically."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    h.update(f"{style}|{seed}|{'|'.join(map(str, X.columns))}|{len(X)}".encode())
    h.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    if y is not None:
        h.update(np.ascontiguousarray(np.asarray(y, dtype=float)).tobytes())
    return h.hexdigest()


# -- dtype normalisation ---------------------------------------------------------------


_SHARED: ContextVar = ContextVar("assay_shared_preparation", default=None)


@contextmanager
def shared_preparation():
    """Within this block, the dtype normalisation of one input frame is done once and shared
    by every preprocessor that sees that same frame object with the same feature schema (an
    ensemble's members and their fold models all start from the same raw rows), and so is the
    whole transform of preprocessors fitted identically (same style, seed, training rows and
    target: `_fingerprint`), as members refit on all rows are. The cache lives only for the
    block, so a frame changed in place between two predictions is never served stale."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _prepare(X, schema: Schema) -> pd.DataFrame:
    key = ("prepared", tuple((c.name, c.kind) for c in schema.features))
    return shared_value(key, X, lambda: _prepare_now(X, schema))


def shared_value(key: tuple, X, compute):
    """`compute()`, done once per frame `X` and `key` within a `shared_preparation` block
    (every time outside one): the dtype normalisation, identically fitted preprocessors'
    output, and what the encoders of an ensemble's members derive from the same input
    columns. Keyed by the frame's id, which stays its own because the entry keeps X alive."""
    cache = _SHARED.get()
    if cache is None:
        return compute()
    full = key + (id(X),)
    hit = cache.get(full)
    if hit is None or hit[0] is not X:
        hit = cache[full] = (X, compute())
    return hit[1]


def shared_for_values(key: tuple, values: list, compute):
    """`compute(values)`, done once per equal list of `values` (strings, say) and `key` within
    a `shared_preparation` block: for encoders that see the same column as different frame
    objects (a ColumnTransformer hands each part a new slice of its input)."""
    cache = _SHARED.get()
    if cache is None:
        return compute(values)
    full = key + (len(values), hash(tuple(values)))
    hit = cache.get(full)
    if hit is None or hit[0] != values:
        hit = cache[full] = (values, compute(values))
    return hit[1]


def factorized(X: pd.DataFrame, col) -> tuple[np.ndarray, np.ndarray]:
    """`pd.factorize` of column `col` of `X` (codes, -1 for missing; the distinct values),
    computed once per frame and column within a `shared_preparation` block."""
    return shared_value(("factorized", col), X,
                        lambda: pd.factorize(X[col].to_numpy(dtype=object), use_na_sentinel=True))


def _prepare_now(X, schema: Schema) -> pd.DataFrame:
    names = schema.feature_names
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(X, columns=names)
    missing = [c for c in names if c not in X.columns]
    if missing:
        raise ColumnError(f"feature columns missing from the data: {', '.join(map(str, missing))}")
    out = {}
    for spec in schema.features:
        s = X[spec.name]
        if spec.kind in (NUMERIC, BOOLEAN):
            out[spec.name] = _as_float(s)
        elif spec.kind in (CATEGORICAL, HIGH_CARDINALITY, TEXT):
            out[spec.name] = _as_str_object(s)
        else:
            out[spec.name] = s
    return pd.DataFrame(out, index=X.index, columns=names)


def _as_float(s: pd.Series) -> pd.Series:
    if s.dtype == np.float64:
        return s
    if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        s = pd.to_numeric(s, errors="coerce")
    return pd.Series(pd.array(s, dtype="Float64").to_numpy(dtype="float64", na_value=np.nan), index=s.index)


_SMALL = 32     # up to this many rows, convert values one by one (same result, less overhead)


def _as_str_object(s: pd.Series) -> pd.Series:
    """Object dtype of Python str with np.nan for missing (what sklearn's encoders expect)."""
    if len(s) <= _SMALL:  # a few rows (serving): per value, skipping pandas' per-call overhead
        vals = np.empty(len(s), dtype=object)
        vals[:] = [v if isinstance(v, str) else (np.nan if _isna(v) else str(v)) for v in s.tolist()]
        return pd.Series(vals, index=s.index, name=s.name, dtype=object)
    vals = s.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(vals, skipna=True) not in ("string", "empty"):
        vals = np.array([v if isinstance(v, str) else (np.nan if _isna(v) else str(v)) for v in vals.tolist()],
                        dtype=object)
    else:
        missing = pd.isna(vals)          # None / pd.NA / NaT -> np.nan
        if missing.any():
            vals = vals.copy()           # (the input's own values are never changed)
            vals[missing] = np.nan
    return pd.Series(vals, index=s.index, name=s.name, dtype=object, copy=False)


def _isna(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


# -- linear / tree: one ColumnTransformer --------------------------------------------------


def _column_transformer(schema: Schema, style: str, seed: int, X: pd.DataFrame, y=None) -> ColumnTransformer:
    num = schema.of_kind(NUMERIC, BOOLEAN)
    dt = schema.of_kind(DATETIME)
    cat = schema.of_kind(CATEGORICAL)
    hc = schema.of_kind(HIGH_CARDINALITY)
    text = schema.of_kind(TEXT)
    parts = []
    if style == "linear":
        def scaled():
            return [SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), StandardScaler()]

        onehot = dict(handle_unknown="infrequent_if_exist", min_frequency=MIN_FREQUENCY, dtype=np.float64)
        parts += [("num", make_pipeline(*scaled()), num)]
        parts += [("dt", make_pipeline(DatetimeParts(), *scaled()), dt)]
        parts += [("cat", OneHotEncoder(**onehot), cat)]
        parts += [("hc", OneHotEncoder(max_categories=HIGH_CARD_ONEHOT + 1, **onehot), hc)]
        parts += [("hcf", make_pipeline(FrequencyEncoder(), StandardScaler()), hc)]
        parts += [("text", TextEncoder(max_features=TEXT_TERMS_LINEAR, seed=seed), text)]
    else:  # tree
        ordinal = dict(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan)
        parts += [("num", "passthrough", num)]
        parts += [("dt", DatetimeParts(), dt)]
        levels = "auto" if y is None else [target_order(X[c], y, schema.task) for c in cat]
        parts += [("cat", OrdinalEncoder(categories=levels, **ordinal), cat)]
        parts += [("hc", OrdinalEncoder(min_frequency=MIN_FREQUENCY, **ordinal), hc)]
        parts += [("hcf", FrequencyEncoder(), hc)]
        parts += [("text", TextEncoder(max_features=TEXT_TERMS_TREE, svd_components=TEXT_SVD, seed=seed), text)]
    parts = [p for p in parts if p[2]]
    # Sparse output only where TF-IDF makes it worthwhile; dense otherwise.
    sparse = 0.3 if (style == "linear" and text) else 0.0
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=sparse)


# -- native: a DataFrame with pandas categoricals ---------------------------------------------


class NativeFrame(TransformerMixin, BaseEstimator):
    """DataFrame output for boosters with native categorical support (see module docstring)."""

    def __init__(self, schema: Schema | None = None, seed: int = 0):
        self.schema = schema
        self.seed = seed

    def fit(self, X, y=None):
        self.__dict__.pop("_codes_cache", None)
        s = self.schema
        self.num_ = s.of_kind(NUMERIC, BOOLEAN)
        self.cat_ = s.of_kind(CATEGORICAL, HIGH_CARDINALITY)
        self.hc_ = s.of_kind(HIGH_CARDINALITY)
        self.levels_ = {}
        for c in self.cat_:
            counts = X[c].value_counts(dropna=True)
            if c in self.hc_:
                counts = counts[counts >= 2].iloc[:NATIVE_MAX_LEVELS]
            # A category dtype with no levels breaks XGBoost: keep a placeholder level.
            self.levels_[c] = sorted(counts.index) or ["__none__"]
        dt, text = s.of_kind(DATETIME), s.of_kind(TEXT)
        self.dt_ = DatetimeParts().fit(X[dt]) if dt else None
        self.text_ = TextEncoder(TEXT_TERMS_TREE, TEXT_SVD, self.seed).fit(X[text]) if text else None
        self.freq_ = FrequencyEncoder().fit(X[self.hc_]) if self.hc_ else None
        raw = list(self.num_) + list(self.cat_)
        for enc in (self.dt_, self.freq_, self.text_):
            if enc is not None:
                raw += list(enc.get_feature_names_out())
        self.columns_ = _safe_names(raw)
        return self

    def transform(self, X):
        from assay.features.compiled import level_positions

        dtypes, positions = self._category_dtypes()
        # one dict of columns and one frame (pd.concat of blocks cost more than the boosters'
        # scoring on a few hundred rows); unseen levels (and missing) -> code -1 = NaN; the
        # dtypes and level positions are built once per fitted transformer, not on every call
        values = [X[c].to_numpy(dtype="float64", na_value=np.nan) for c in self.num_]
        values += [pd.Categorical.from_codes(level_positions(X, c, positions[c], -1, -1), dtype=dtypes[c])
                   for c in self.cat_]
        for enc in (self.dt_, self.freq_, self.text_):
            if enc is not None:
                arr = np.asarray(enc.transform(X[enc.columns_]), dtype="float64")
                values += [arr[:, j] for j in range(arr.shape[1])]
        return pd.DataFrame(dict(zip(self.columns_, values)), index=X.index, columns=self.columns_)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.columns_, dtype=object)

    def _category_dtypes(self) -> tuple[dict, dict]:
        """({column: CategoricalDtype}, {column: {level: code}}), made once."""
        cache = self.__dict__.get("_codes_cache")     # (Runs saved earlier hold a "_dtype_cache")
        if cache is None:
            cache = ({c: pd.CategoricalDtype(self.levels_[c]) for c in self.cat_},
                     {c: {v: i for i, v in enumerate(self.levels_[c])} for c in self.cat_})
            self.__dict__["_codes_cache"] = cache
        return cache


def native_matrix(X) -> np.ndarray:
    """A "native" frame as one float64 matrix: categoricals as their codes (missing / unseen
    -1 -> NaN), other columns as floats -- LightGBM's own conversion of a pandas frame."""
    if not isinstance(X, pd.DataFrame):
        return np.asarray(X, dtype=np.float64)
    out = np.empty(X.shape, dtype=np.float64)
    for j, c in enumerate(X.columns):
        s = X[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy()
            out[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            out[:, j] = s.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _safe_names(names) -> list[str]:
    """Feature names the boosters accept (LightGBM rejects JSON characters, XGBoost []<), unique."""
    out, seen = [], set()
    for n in names:
        base = re.sub(r'[\[\]{}",:<>\s]', "_", str(n)) or "f"
        name, i = base, 1
        while name in seen:
            name, i = f"{base}_{i}", i + 1
        seen.add(name)
        out.append(name)
    return out

"""A fitted "tree" or "linear" preprocessor as plain numpy, for prediction.

scikit-learn's ColumnTransformer re-validates its input on every call: it selects each
part's columns through pandas, checks every array, and the encoders re-derive their
lookups. On the few hundred to few thousand rows of a prediction that fixed cost is most
of the time (kr_vs_kp's 799 rows: 5 ms in the transform against 3 ms in the model).
`compile_preprocessor` turns the fitted parts into what they compute:

* numbers passed through ("tree"): the float64 columns as they are;
* median imputation + missing indicators + standardisation ("linear"): the fitted
  statistics applied with numpy;
* categorical encoders (ordinal codes in target order, one-hot with grouped rare levels,
  frequency): a lookup table per column computed by running the *fitted encoder itself*
  on the column's domain -- its levels, one unseen value and missing (`encoder_tables`;
  the ONNX export builds its graphs from the same tables);
* anything else (datetime parts, text): the fitted transformer, on its own columns.

`compile_model` compiles every preprocessor of a final model and checks each against the
scikit-learn path on sample rows: a preprocessor whose compiled output differs in any
value is left uncompiled (so the compiled path can only be faster, never different).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

UNSEEN = "\x00assay:unseen\x00"      # a probe value no encoder has seen


class NotCompilable(Exception):
    pass


# -- lookup tables of categorical encoders --------------------------------------------------


def encoder_tables(trans, cols: list) -> list[tuple[list[str], np.ndarray]]:
    """For each column j of the fitted categorical encoder `trans` (OrdinalEncoder,
    OneHotEncoder, FrequencyEncoder, or a Pipeline starting with one): (levels, table),
    where table's rows are the encoder's output block for each level, then for an unseen
    value, then for missing (the other columns held at missing while probing)."""
    widths = _widths(trans, len(cols))
    starts = np.concatenate([[0], np.cumsum(widths)])
    out = []
    for j, col in enumerate(cols):
        levels = _levels(trans, j, col)
        probe = levels + [UNSEEN, np.nan]
        frame = pd.DataFrame({c: pd.Series([np.nan] * len(probe), dtype=object) for c in cols})
        frame[col] = pd.Series(probe, dtype=object)
        res = trans.transform(frame)
        res = res.toarray() if hasattr(res, "toarray") else np.asarray(res, dtype=float)
        table = np.asarray(res[:, starts[j]:starts[j + 1]], dtype=float)
        if table.shape[1] != widths[j]:
            raise NotCompilable(f"encoder {type(trans).__name__} for column {col!r}: unexpected width")
        out.append((levels, table))
    return out


def _levels(trans, j: int, col) -> list[str]:
    """The levels encoder `trans` knows for its j-th column (missing excluded)."""
    from sklearn.pipeline import Pipeline

    from assay.features.encoders import FrequencyEncoder

    first = trans.steps[0][1] if isinstance(trans, Pipeline) else trans
    if isinstance(first, FrequencyEncoder):
        values = list(first.freqs_[col])
    elif hasattr(first, "categories_"):
        values = list(first.categories_[j])
    else:
        raise NotCompilable(f"categorical encoder {type(first).__name__} for column {col!r}")
    return [str(v) for v in values if isinstance(v, str)]


def _widths(trans, n: int) -> list[int]:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    last = trans.steps[-1][1] if isinstance(trans, Pipeline) else trans
    first = trans.steps[0][1] if isinstance(trans, Pipeline) else trans
    if isinstance(first, OneHotEncoder) and last is first:
        return [int(w) for w in first._n_features_outs]
    return [1] * n                      # ordinal / frequency (+ scaler): one column per input


def impute_scale_params(steps) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(medians, indicator column indices, mean, scale) of SimpleImputer(add_indicator) ->
    StandardScaler, as the "linear" style fits them (mean / scale None when not used)."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    steps = [s for _, s in steps]
    if len(steps) != 2 or not isinstance(steps[0], SimpleImputer) or not isinstance(steps[1], StandardScaler):
        raise NotCompilable(f"numeric pipeline {[type(s).__name__ for s in steps]}")
    imp, sc = steps
    stats = np.nan_to_num(np.asarray(imp.statistics_, dtype=float))       # keep_empty_features -> 0
    ind = getattr(imp, "indicator_", None)
    features = np.asarray(ind.features_, dtype=np.int64) if ind is not None else np.zeros(0, np.int64)
    mean = None if sc.mean_ is None else np.asarray(sc.mean_, dtype=float)
    scale = None if sc.scale_ is None else np.asarray(sc.scale_, dtype=float)
    return stats, features, mean, scale


def is_identity(trans) -> bool:
    """A fitted ColumnTransformer holds "passthrough" as FunctionTransformer(func=None)."""
    from sklearn.preprocessing import FunctionTransformer

    return trans == "passthrough" or (isinstance(trans, FunctionTransformer) and trans.func is None)


# -- the compiled parts -----------------------------------------------------------------------


class _Passthrough:
    def __init__(self, cols):
        self.cols, self.width = list(cols), len(cols)

    def __call__(self, X: pd.DataFrame) -> np.ndarray:
        return _floats(X, self.cols)


class _ImputeScale:
    def __init__(self, cols, steps):
        self.cols = list(cols)
        self.stats, self.indicators, self.mean, self.scale = impute_scale_params(steps)
        self.width = len(self.cols) + len(self.indicators)

    def __call__(self, X: pd.DataFrame) -> np.ndarray:
        v = _floats(X, self.cols)
        nan = np.isnan(v)
        z = np.where(nan, self.stats[None, :], v)
        if len(self.indicators):
            z = np.hstack([z, nan[:, self.indicators].astype(float)])
        if self.mean is not None:
            z = z - self.mean[None, :]
        if self.scale is not None:
            z = z / self.scale[None, :]
        return z


def level_positions(X: pd.DataFrame, col, positions: dict, unseen: int, missing: int) -> np.ndarray:
    """For each value of column `col` of `X` (level strings; other values are looked up as
    `str(value)`), its position in `positions` ({level: position}); `unseen` for a value
    not there, `missing` for a missing one. Each row is hashed once (factorize, done once per
    frame and column for every preprocessor of a `shared_preparation` block: an ensemble's
    fold models all read the same columns) and only the distinct values are looked up:
    faster than pandas' Index.get_indexer, which under pandas 3 first converts object arrays
    to strings."""
    from assay.features.pipeline import factorized

    codes, uniques = factorized(X, col)
    pos = np.fromiter((positions.get(u if isinstance(u, str) else str(u), unseen) for u in uniques),
                      dtype=np.int64, count=len(uniques))
    return np.append(pos, missing)[codes]      # code -1 (missing) -> the last entry


class _Lookup:
    """One categorical column through its encoder's lookup table."""

    def __init__(self, col, levels: list[str], table: np.ndarray):
        self.col, self.table, self.width = col, table, table.shape[1]
        self.rows = {v: i for i, v in enumerate(levels)}

    def __call__(self, X: pd.DataFrame) -> np.ndarray:
        n = len(self.rows)
        return self.table[level_positions(X, self.col, self.rows, n, n + 1)]


class _Fitted:
    """A part kept as its fitted transformer (datetime parts, text; TF-IDF stays sparse in a
    sparse transform)."""

    def __init__(self, trans, cols, width: int, sparse: bool = False):
        self.trans, self.cols, self.width, self.sparse = trans, list(cols), width, sparse

    def __call__(self, X: pd.DataFrame):
        out = self.trans.transform(X[self.cols])
        if hasattr(out, "toarray"):
            return out.tocsr() if self.sparse else out.toarray()
        return np.asarray(out, dtype=float)


def _floats(X: pd.DataFrame, cols: list) -> np.ndarray:
    out = np.empty((len(X), len(cols)))
    for j, c in enumerate(cols):
        out[:, j] = X[c].to_numpy(dtype="float64", na_value=np.nan)
    return out


class CompiledTransform:
    """The output of a fitted ColumnTransformer from numpy parts (see the module docstring)."""

    def __init__(self, parts: list, sparse: bool = False):
        self.parts = parts
        self.width = sum(p.width for p in parts)
        self.sparse = sparse

    def __call__(self, X: pd.DataFrame):
        # the ColumnTransformer's sparse output (text in "linear"); absent in Runs saved before it
        if getattr(self, "sparse", False):
            import scipy.sparse as sp

            blocks = [b if sp.issparse(b) else sp.csr_matrix(b) for b in (p(X) for p in self.parts)]
            return sp.hstack(blocks, format="csr", dtype=np.float64)
        out = np.empty((len(X), self.width))
        at = 0
        for p in self.parts:
            out[:, at:at + p.width] = p(X)
            at += p.width
        return out


def compile_column_transformer(ct) -> CompiledTransform:
    """`ct`, a fitted ColumnTransformer of the "tree" or "linear" style, as numpy parts.
    A transformer with sparse output (TF-IDF) gives the same sparse matrix."""
    from sklearn.pipeline import Pipeline

    sparse = bool(getattr(ct, "sparse_output_", False))
    widths = _part_widths(ct)
    parts = []
    for name, trans, cols in ct.transformers_:
        if name == "remainder" or (isinstance(trans, str) and trans == "drop") or len(cols) == 0:
            continue
        cols = list(cols)
        if is_identity(trans):
            parts.append(_Passthrough(cols))
        elif name == "num" and isinstance(trans, Pipeline):
            parts.append(_ImputeScale(cols, trans.steps))
        elif name in ("cat", "hc", "hcf"):
            parts.extend(_Lookup(c, levels, table) for c, (levels, table) in zip(cols, encoder_tables(trans, cols)))
        else:
            parts.append(_Fitted(trans, cols, widths[name], sparse))
    return CompiledTransform(parts, sparse)


def _part_widths(ct) -> dict[str, int]:
    sl = getattr(ct, "output_indices_", {})
    return {name: s.stop - s.start for name, s in sl.items()}


# -- compiling a final model ---------------------------------------------------------------------


def compile_model(model, X: pd.DataFrame, check_rows: int = 200) -> int:
    """Compile every "tree" / "linear" preprocessor inside `model` (an EnsembleModel, its
    members' pipelines, a stacker's bases) and keep each compiled form only if it gives the
    scikit-learn path's output (to 1e-12) on up to `check_rows` rows of `X` (the model's
    aligned feature frame). Returns how many were compiled."""
    from assay.features.pipeline import Preprocessor

    sample = X.iloc[:check_rows]
    n = 0
    for prep in _walk(model, set()):
        if isinstance(prep, Preprocessor) and prep.compile(sample):
            n += 1
    return n


def _walk(obj, seen: set):
    if id(obj) in seen or obj is None:
        return
    seen.add(id(obj))
    from assay.features.pipeline import Preprocessor

    if isinstance(obj, Preprocessor):
        yield obj
        return
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _walk(o, seen)
        return
    for attr in ("members", "estimators", "steps", "bases", "stackers", "estimator"):
        child = getattr(obj, attr, None)
        if child is not None and not callable(child):
            yield from _walk(child, seen)

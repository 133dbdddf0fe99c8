"""Cross-validation folds and train/test splits.

Deterministic for a seed; never touches NumPy's global random state (every splitter
gets an integer ``random_state``). Stratified for classification and robust to rare
classes: a class with a single row is kept in every training fold (it never appears in
a test fold), and when stratification is impossible the split falls back to a plain one.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit

from ..errors import AssayInputError, OptionError
from .schema import BINARY, MULTICLASS, REGRESSION, TASKS, level_strings

HOLDOUT_FRACTION = 0.2

Folds = list[tuple[np.ndarray, np.ndarray]]


def default_n_folds(n_rows: int, holdout_rows: int = 100_000) -> int:
    """1 (a single 20% holdout) above ``holdout_rows``; else 5 folds up to 5,000 rows, 3 above
    (each trial then costs about 3 fits, not 5, where fits stop being cheap)."""
    if n_rows > holdout_rows:
        return 1
    return 5 if n_rows <= 5_000 else 3


def make_folds(
    y_encoded,
    task: str,
    *,
    seed: int = 0,
    n_folds: int | None = None,
    holdout_rows: int = 100_000,
) -> Folds:
    """``[(train_idx, test_idx), ...]`` as sorted int64 arrays of row positions.

    ``n_folds`` None picks :func:`default_n_folds`; ``n_folds`` of 1 gives one stratified
    20% holdout. Classification folds are stratified on ``y_encoded``.
    """
    if task not in TASKS:
        raise OptionError(f"task '{task}' is not known: use one of {', '.join(TASKS)}")
    y = np.asarray(y_encoded)
    if y.ndim != 1:
        y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y.reshape(-1)
    n = len(y)
    if n < 2:
        raise AssayInputError(f"cannot split {n} row{'s' if n != 1 else ''} into training and validation: need at least 2 rows")
    k = default_n_folds(n, holdout_rows) if n_folds is None else int(n_folds)
    if k < 1:
        raise OptionError(f"n_folds must be 1 (holdout) or more, got {n_folds}")
    seed = int(seed)
    classify = task in (BINARY, MULTICLASS)

    if k == 1:
        return [_holdout(y, classify, seed)]
    k = min(k, n)
    if not classify:
        return _sorted(KFold(k, shuffle=True, random_state=seed).split(np.zeros(n)))

    labels = _labels(y)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    singleton = counts[inverse] == 1
    rest = np.flatnonzero(~singleton)
    always_train = np.flatnonzero(singleton)
    if len(rest) >= 2:
        k_eff = min(k, len(rest))
        rest_counts = np.unique(labels[rest], return_counts=True)[1]
        if rest_counts.max() < k_eff:
            k_eff = int(rest_counts.max())
        if k_eff >= 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "least populated class has only N members"
                skf = StratifiedKFold(k_eff, shuffle=True, random_state=seed)
                folds = []
                for tr, te in skf.split(np.zeros(len(rest)), labels[rest]):
                    folds.append((np.concatenate([rest[tr], always_train]), rest[te]))
            return _sorted(folds)
    # stratification impossible (e.g. every class has one row): plain shuffled k-fold
    return _sorted(KFold(k, shuffle=True, random_state=seed).split(np.zeros(n)))


def _labels(y: np.ndarray) -> np.ndarray:
    if y.dtype.kind in "iub":
        return y.astype("int64")
    if y.dtype.kind == "f":
        out = y.astype("float64").copy()
        out[np.isnan(out)] = -np.inf  # missing as its own stratum
        return out
    return level_strings(pd.Series(y, dtype=object)).fillna("\0missing").to_numpy(dtype=object).astype(str)


def _sorted(folds) -> Folds:
    return [(np.sort(np.asarray(tr, dtype="int64")), np.sort(np.asarray(te, dtype="int64"))) for tr, te in folds]


def _holdout(y: np.ndarray, classify: bool, seed: int, test_size: float = HOLDOUT_FRACTION):
    n = len(y)
    n_test = max(1, int(round(test_size * n)))
    n_test = min(n_test, n - 1)
    if classify:
        labels = _labels(y)
        _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        rare = counts[inverse] < 2
        rest = np.flatnonzero(~rare)
        n_classes = len(np.unique(labels[rest])) if len(rest) else 0
        if len(rest) >= 2 and n_classes >= 1:
            n_test_rest = min(max(n_test, n_classes), len(rest) - n_classes)
            if n_test_rest >= n_classes and n_classes >= 2:
                sss = StratifiedShuffleSplit(n_splits=1, test_size=n_test_rest, random_state=seed)
                tr, te = next(sss.split(np.zeros(len(rest)), labels[rest]))
                return _sorted([(np.concatenate([rest[tr], np.flatnonzero(rare)]), rest[te])])[0]
    tr, te = next(ShuffleSplit(n_splits=1, test_size=n_test, random_state=seed).split(np.zeros(n)))
    return _sorted([(tr, te)])[0]


def train_test_split_frame(
    df: pd.DataFrame,
    target: str,
    task: str,
    *,
    test_size: float = 0.25,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a table into (train, test) copies with fresh indexes; stratified for classification."""
    if target not in df.columns:
        from .schema import missing_target_error

        raise missing_target_error(str(target), [str(c) for c in df.columns])
    if task not in TASKS:
        raise OptionError(f"task '{task}' is not known: use one of {', '.join(TASKS)}")
    n = len(df)
    if n < 2:
        raise AssayInputError(f"cannot split {n} row{'s' if n != 1 else ''} into train and test: need at least 2 rows")
    if not 0 < test_size < 1:
        raise OptionError(f"test_size must be between 0 and 1, got {test_size}")
    y = df[target]
    if task == REGRESSION:
        codes = np.zeros(n)
        classify = False
    else:
        codes = level_strings(y).fillna("\0missing").to_numpy(dtype=object).astype(str)
        classify = True
    tr, te = _holdout(codes, classify, int(seed), test_size)
    return df.iloc[tr].reset_index(drop=True), df.iloc[te].reset_index(drop=True)

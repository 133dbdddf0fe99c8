"""scikit-learn estimators over `assay.fit`: AutoClassifier and AutoRegressor.

They take array-likes or DataFrames, follow scikit-learn's conventions
(hyperparameters only in __init__, learned state ends in `_`, fit returns
self) and keep the fitted Run in `run_`.

Input handling
--------------
* pandas DataFrames go to assay's own data layer as they are (strings, categories,
  datetimes, booleans, missing values all allowed); scikit-learn only checks their
  shape and sets/checks ``n_features_in_`` and ``feature_names_in_`` (string column
  names only, as scikit-learn does).
* Other array-likes are validated the scikit-learn way (``validate_data``): 2-D, at
  least one row and one column, no complex numbers, no sparse matrices, no infinite
  values (NaN is allowed: assay imputes it). They are converted to float when possible;
  arrays holding strings are kept as objects and typed by assay's data layer.
* Columns are named positionally inside the wrapper (``feature_names_in_`` when the
  training data had string column names, else ``x0, x1, ...``), so a model fitted on a
  DataFrame predicts from an array of the same layout and vice versa.
* y is checked like scikit-learn does it (``y=None``, NaN / infinite values, 2-D y with
  one column -> warning and ravel). Classification labels keep the user's values and
  dtype: ``classes_`` is ``np.unique(y)`` and ``predict`` returns those labels.

Note that assay's data layer may drop columns it considers identifiers (unique integers
in sequence), constants or copies of the target; they are reported in
``run_.meta["dropped_columns"]``. When every column is dropped, fit raises assay's
``ColumnError`` (a ValueError).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

_TARGET = "__assay_target__"

# messages numpy / scikit-learn give when an array cannot be read as numbers
_CONVERSION_ERRORS = ("could not convert", "argument must be", "invalid literal",
                      "not compatible with arrays of bytes/strings", "unable to convert")


def _is_sparse(X) -> bool:
    import scipy.sparse as sp

    return sp.issparse(X)


class _AutoBase(BaseEstimator):
    def __init__(self, time_limit=60.0, max_trials=None, metric=None, families=None,
                 search="tpe", n_folds=None, seed=0, n_jobs=None, verbosity=0):
        self.time_limit = time_limit
        self.max_trials = max_trials
        self.metric = metric
        self.families = families
        self.search = search
        self.n_folds = n_folds
        self.seed = seed
        self.n_jobs = n_jobs
        self.verbosity = verbosity

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True    # missing values are imputed by assay
        tags.input_tags.string = True       # string / object columns are typed by assay
        tags.input_tags.sparse = False
        tags.target_tags.required = True
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = False
        # a fixed seed and a trial count give the same model; a search bounded only by
        # time_limit runs as many trials as the machine manages
        tags.non_deterministic = self.max_trials is None
        return tags

    # -- X -----------------------------------------------------------------
    def _frame(self, X, *, fitting: bool) -> pd.DataFrame:
        """X as a DataFrame with the wrapper's positional column names; validates shape."""
        from sklearn.utils.validation import validate_data

        if not fitting:
            check_is_fitted(self, "run_")
        if isinstance(X, pd.DataFrame):
            n, m = X.shape
            if n < 1:
                raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a "
                                 f"minimum of 1 is required by {type(self).__name__}.")
            if m < 1:
                raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a "
                                 f"minimum of 1 is required by {type(self).__name__}.")
            # sets / checks n_features_in_ and feature_names_in_ (with sklearn's messages)
            validate_data(self, X, reset=fitting, skip_check_array=True)
            df = X.copy(deep=False)
        else:
            arr = self._array(X, fitting=fitting)
            df = pd.DataFrame(arr)
        if fitting:
            names = getattr(self, "feature_names_in_", None)
            self._columns = ([str(c) for c in names] if names is not None
                             else [f"x{i}" for i in range(df.shape[1])])
        df.columns = self._columns
        return df.reset_index(drop=True)

    def _array(self, X, *, fitting: bool) -> np.ndarray:
        from sklearn.utils.validation import validate_data

        kw = dict(reset=fitting, ensure_all_finite="allow-nan", accept_sparse=False)
        try:
            return validate_data(self, X, dtype="numeric", **kw)
        except (TypeError, ValueError) as exc:
            # strings (or other objects) in an array: assay's data layer types the columns
            if _is_sparse(X) or not any(s in str(exc) for s in _CONVERSION_ERRORS):
                raise
        return validate_data(self, X, dtype=object, **kw)

    # -- y -----------------------------------------------------------------
    def _target(self, y, n_rows: int, *, numeric: bool) -> np.ndarray:
        from sklearn.utils import check_array, check_consistent_length, column_or_1d

        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y = check_array(y, ensure_2d=False, dtype="numeric" if numeric else None,
                        ensure_all_finite=True, input_name="y")
        y = column_or_1d(y, warn=True)
        check_consistent_length(np.empty((n_rows, 0)), y)
        if numeric:
            y = y.astype("float64", copy=False)
        return y

    # -- fitting -----------------------------------------------------------
    def _config(self, task):
        from assay.config import FitConfig

        families = list(self.families) if self.families is not None else None
        return FitConfig(time_limit=self.time_limit, max_trials=self.max_trials, task=task,
                         metric=self.metric, families=families, search=self.search,
                         n_folds=self.n_folds, seed=self.seed, n_jobs=self.n_jobs,
                         verbosity=self.verbosity)

    def _fit_frame(self, df: pd.DataFrame, y: np.ndarray, task: str):
        from assay.api import fit

        if len(df) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 samples; got "
                             f"{len(df)} sample (n_samples={len(df)}).")
        target = _TARGET
        while target in df.columns:
            target = "_" + target
        df = df.copy(deep=False)
        df[target] = y
        config = self._config(task)  # invalid options raise before any work starts
        self.run_ = fit(df, target, config)
        return self

    def _predict_output(self, X) -> np.ndarray:
        from assay.data.validate import align_for_predict

        df = self._frame(X, fitting=False)
        Xa, _ = align_for_predict(df, self.run_.schema)
        return self.run_.model.predict_output(Xa)


class AutoClassifier(ClassifierMixin, _AutoBase):
    """Automatic classifier: `AutoClassifier(time_limit=60).fit(X, y).predict(X)`.

    Parameters are those of :class:`assay.config.FitConfig`. After fit: ``classes_``
    (sorted labels, the dtype of y), ``n_features_in_``, ``feature_names_in_`` (string
    column names only) and ``run_`` (the fitted :class:`assay.run.Run`).
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = False
        return tags

    def fit(self, X, y):
        from sklearn.utils.multiclass import check_classification_targets

        from assay.data.schema import value_key

        df = self._frame(X, fitting=True)
        y = self._target(y, len(df), numeric=False)
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in y; got 1 class "
                             f"({classes[0]!r}).")
        self._fit_frame(df, y, "binary" if len(classes) == 2 else "multiclass")
        # columns of the model's probabilities, in the order of classes_
        keys = [value_key(c) for c in self.run_.classes]
        self._proba_order = np.asarray([keys.index(value_key(c)) for c in classes])
        self.classes_ = classes
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "classes_")
        return np.asarray(self._predict_output(X), dtype="float64")[:, self._proba_order]

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


class AutoRegressor(RegressorMixin, _AutoBase):
    """Automatic regressor: `AutoRegressor(time_limit=60).fit(X, y).predict(X)`.

    Parameters are those of :class:`assay.config.FitConfig`. After fit:
    ``n_features_in_``, ``feature_names_in_`` (string column names only) and ``run_``.
    """

    def fit(self, X, y):
        df = self._frame(X, fitting=True)
        y = self._target(y, len(df), numeric=True)
        return self._fit_frame(df, y, "regression")

    def predict(self, X):
        check_is_fitted(self, "run_")
        return np.asarray(self._predict_output(X), dtype="float64")

"""scikit-learn estimators over `assay.fit`: AutoClassifier and AutoRegressor.

They take array-likes or DataFrames, follow scikit-learn's conventions
(hyperparameters only in __init__, learned state ends in `_`, fit returns
self) and keep the fitted Run in `run_`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

_TARGET = "__assay_target__"


class _AutoBase(BaseEstimator):
    _task_kind = ""

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

    def _frame(self, X, *, fitting: bool) -> pd.DataFrame:
        from sklearn.utils.validation import validate_data

        if isinstance(X, pd.DataFrame):
            if fitting:
                self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
                self.n_features_in_ = X.shape[1]
            else:
                check_is_fitted(self)
                if X.shape[1] != self.n_features_in_:
                    raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} "
                                     f"is expecting {self.n_features_in_} features as input")
            df = X.copy()
            df.columns = [str(c) for c in df.columns]
            return df.reset_index(drop=True)
        arr = validate_data(self, X, reset=fitting, ensure_all_finite="allow-nan", dtype=None)
        cols = [f"x{i}" for i in range(arr.shape[1])]
        return pd.DataFrame(arr, columns=cols)

    def _config(self, task):
        from assay.config import FitConfig

        return FitConfig(time_limit=self.time_limit, max_trials=self.max_trials, task=task,
                         metric=self.metric, families=self.families, search=self.search,
                         n_folds=self.n_folds, seed=self.seed, n_jobs=self.n_jobs,
                         verbosity=self.verbosity)

    def _fit(self, X, y, task):
        from assay.api import fit

        df = self._frame(X, fitting=True)
        y = np.asarray(y)
        if y.ndim != 1:
            y = y.ravel() if y.ndim == 2 and y.shape[1] == 1 else y
        if len(y) != len(df):
            raise ValueError(f"X has {len(df)} rows but y has {len(y)}")
        df[_TARGET] = y
        self.run_ = fit(df, _TARGET, self._config(task))
        return self

    def _features(self, X):
        check_is_fitted(self, "run_")
        return self._frame(X, fitting=False)


class AutoClassifier(ClassifierMixin, _AutoBase):
    """Automatic classifier: `AutoClassifier(time_limit=60).fit(X, y).predict(X)`."""

    def fit(self, X, y):
        from sklearn.utils.multiclass import check_classification_targets, type_of_target

        check_classification_targets(y)
        kind = type_of_target(y)
        self._fit(X, y, "binary" if kind == "binary" else "multiclass")
        self.classes_ = np.asarray(self.run_.classes)
        return self

    def predict_proba(self, X):
        return self.run_.model.predict_output(self._aligned(X))

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def _aligned(self, X):
        from assay.data.validate import align_for_predict

        X, _ = align_for_predict(self._features(X), self.run_.schema)
        return X


class AutoRegressor(RegressorMixin, _AutoBase):
    """Automatic regressor: `AutoRegressor(time_limit=60).fit(X, y).predict(X)`."""

    def fit(self, X, y):
        y = np.asarray(y, dtype=float)
        return self._fit(X, y, "regression")

    def predict(self, X):
        from assay.data.validate import align_for_predict

        X, _ = align_for_predict(self._features(X), self.run_.schema)
        return self.run_.model.predict_output(X)

"""Helpers shared by the family modules: thin learner adapters that enforce the contract.

`ProbaAdapter` wraps any scikit-learn classifier so that `predict_proba` always has
K = n_classes columns in code order 0..K-1 (a class absent from the fit gets
probability 0; a fit with a single class predicts it with probability 1), and
0-row input gives an empty answer instead of a validation error. `RegressorAdapter`
does the 0-row part for regressors. The fitted wrapped estimator is `model_`.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone

STEP_PREP, STEP_LEARNER = "prep", "learner"   # Pipeline step names (sample_weight -> learner__sample_weight)


def n_rows(X) -> int:
    return X.shape[0]


def _fit_clone(estimator, X, y, sample_weight):
    model = clone(estimator)
    # KNN cannot ask for more neighbours than rows it was fit on (small CV folds).
    if "n_neighbors" in model.get_params():
        model.set_params(n_neighbors=max(1, min(model.n_neighbors, n_rows(X))))
    kw = {} if sample_weight is None else {"sample_weight": sample_weight}
    return model.fit(X, y, **kw)


class ProbaAdapter(ClassifierMixin, BaseEstimator):
    def __init__(self, estimator=None, n_classes: int = 2):
        self.estimator = estimator
        self.n_classes = n_classes

    def fit(self, X, y, sample_weight=None):
        y = np.asarray(y).astype(int)
        self.classes_ = np.arange(self.n_classes)
        present = np.unique(y)
        if len(present) < 2:
            self.model_, self.constant_ = None, int(present[0])
        else:
            self.model_ = _fit_clone(self.estimator, X, y, sample_weight)
        return self

    def predict_proba(self, X):
        out = np.zeros((n_rows(X), self.n_classes))
        if out.shape[0] == 0:
            return out
        if self.model_ is None:
            out[:, self.constant_] = 1.0
        else:
            out[:, self.model_.classes_.astype(int)] = self.model_.predict_proba(X)
        return out

    def predict(self, X):
        return self.predict_proba(X).argmax(axis=1)


class RegressorAdapter(RegressorMixin, BaseEstimator):
    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y, sample_weight=None):
        self.model_ = _fit_clone(self.estimator, X, np.asarray(y, dtype=float), sample_weight)
        return self

    def predict(self, X):
        if n_rows(X) == 0:
            return np.zeros(0)
        return np.asarray(self.model_.predict(X), dtype=float).ravel()


def adapt(estimator, info):
    """Wrap a scikit-learn learner for the problem's task."""
    if info.is_classification:
        return ProbaAdapter(estimator, n_classes=info.n_classes)
    return RegressorAdapter(estimator)

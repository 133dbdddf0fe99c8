"""Forests score small batches on one thread with a plain loop over trees
(assay.models.forests.TimeBoxedForest._tree_sum): the numbers must be the forest's own."""

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier

from assay.models.forests import TimeBoxedForest


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_probabilities_equal_the_forests_own(n_classes):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    X[::7, 2] = np.nan
    y = rng.integers(0, n_classes, 300)
    m = TimeBoxedForest(RandomForestClassifier(n_estimators=25, n_jobs=2, random_state=0)).fit(X, y)
    Xt = rng.normal(size=(40, 5))
    p = m.predict_proba(Xt)
    t, k = 25, n_classes
    np.testing.assert_allclose(p, (m.forest_.predict_proba(Xt) * t + 1.0 / k) / (t + 1), rtol=1e-12)
    assert m.forest_.n_jobs == 2              # the fitted setting is left as it was


def test_regressor_values_equal_the_forests_own():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4))
    y = X[:, 0] * 3 + rng.normal(size=200)
    m = TimeBoxedForest(ExtraTreesRegressor(n_estimators=20, n_jobs=2, random_state=0)).fit(X, y)
    Xt = rng.normal(size=(30, 4))
    np.testing.assert_allclose(m.predict(Xt), m.forest_.predict(Xt), rtol=1e-12)

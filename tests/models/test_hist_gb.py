"""HistGradientBoosting's early stopping where a class has a single row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assay.data.schema import MULTICLASS, ColumnSpec, Schema
from assay.models.base import ProblemInfo
from assay.models.hist_gb import _validation_split
from assay.models.registry import get_family


def _problem(n: int = 12_000, seed: int = 0):
    r = np.random.default_rng(seed)
    X = pd.DataFrame(r.normal(size=(n, 4)), columns=[f"x{i}" for i in range(4)])
    y = (X["x0"] > 0).astype(int).to_numpy() + (X["x1"] > 0.5).astype(int).to_numpy()
    y[7] = 3                                   # a class seen once, as in a fold of kddcup99
    schema = Schema(target="y", task=MULTICLASS, columns=[ColumnSpec(c, "numeric", "float64") for c in X.columns],
                    classes=["a", "b", "c", "d"], n_rows=n)
    return X, y, ProblemInfo(schema=schema, n_rows=n, seed=seed)


def test_defaults_fit_when_a_class_has_a_single_row():
    """scikit-learn's defaults early-stop above 10,000 rows on a stratified split, which
    raises on a one-row class; the family's model fits, and scores every class."""
    X, y, info = _problem()
    model = get_family("hist_gb").build({}, info).fit(X, y)
    proba = model.predict_proba(X.iloc[:50])
    assert proba.shape == (50, 4) and np.allclose(proba.sum(axis=1), 1.0)
    assert (model.predict_proba(X).argmax(axis=1) == y).mean() > 0.85
    learner = model.steps[-1][1].model_.model_
    assert learner.do_early_stopping_ and learner.n_iter_ >= 1


def test_the_own_split_keeps_single_rows_in_training_and_holds_out_the_rest_stratified():
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y, _ = _problem()
    model = HistGradientBoostingClassifier(random_state=0)
    Xf, yf, wf, val = _validation_split(model, X.to_numpy(), y, None)
    assert 3 in set(yf) and 3 not in set(val["y_val"])                 # the single row trains
    assert len(yf) + len(val["y_val"]) == len(y) and wf is None
    assert abs(len(val["y_val"]) - 0.1 * (len(y) - 1)) <= 3             # validation_fraction
    assert set(val["y_val"]) == {0, 1, 2}
    y2 = y.copy()
    y2[7] = 0                                  # no single-row class: scikit-learn's own split
    assert _validation_split(model, X.to_numpy(), y2, None)[3] == {}
    small = _validation_split(model, X.to_numpy()[:5000], y[:5000], None)   # "auto": no early stopping
    assert small[3] == {}

"""Forests score with plain loops over trees (assay.models.forests.TimeBoxedForest._tree_sum),
on one thread for small batches and on slices of the trees per thread for larger ones: the
numbers must be the forest's own. Fold forests kept in the final model are thinned to one
forest's worth of trees (`thin_fold_models`)."""

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier

from assay.models import forests
from assay.models.forests import TimeBoxedForest


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_probabilities_equal_the_forests_own(n_classes):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    X[::7, 2] = np.nan
    y = rng.integers(0, n_classes, 300)
    m = TimeBoxedForest(RandomForestClassifier(n_estimators=25, n_jobs=2, random_state=0)).fit(X, y)
    Xt = rng.normal(size=(40, 5))
    Xt[::5, 2] = np.nan                        # missing values take the trees' learned side
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


@pytest.mark.parametrize("threads", [2, 3])
def test_trees_summed_on_several_threads_equal_the_forests_own(monkeypatch, threads):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 6))
    y = rng.integers(0, 3, 400)
    m = TimeBoxedForest(RandomForestClassifier(n_estimators=31, random_state=0)).fit(X, y)
    Xt = rng.normal(size=(900, 6))
    monkeypatch.setattr(m, "_n_threads", lambda n_rows: threads)
    t, k = 31, 3
    np.testing.assert_allclose(m.predict_proba(Xt), (m.forest_.predict_proba(Xt) * t + 1.0 / k) / (t + 1),
                               rtol=1e-12)
    np.testing.assert_array_equal(m.predict(Xt), m.forest_.predict(Xt))
    r = TimeBoxedForest(ExtraTreesRegressor(n_estimators=9, random_state=0)).fit(X, X[:, 0])
    monkeypatch.setattr(r, "_n_threads", lambda n_rows: threads)
    np.testing.assert_allclose(r.predict(Xt), r.forest_.predict(Xt), rtol=1e-12)


def test_fold_forests_keep_one_forest_worth_of_trees():
    import pandas as pd

    from assay.data.schema import infer_schema
    from assay.models.base import ProblemInfo
    from assay.models.registry import get_family

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"a": rng.normal(size=300), "b": rng.choice(list("xyz"), 300)})
    y = (df["a"] > 0).astype(int).to_numpy()
    schema = infer_schema(df.assign(t=y), "t", task="binary")
    info = ProblemInfo(schema=schema, n_rows=300, seed=0)
    fam = get_family("extra_trees")
    folds = [fam.build({"n_estimators": 10, "max_features": 1.0}, info).fit(df.iloc[i::3], y[i::3])
             for i in range(3)]
    before = [f.predict_proba(df) for f in folds]
    thinned = fam.thin_fold_models(folds)
    assert [len(f.steps[-1][1].model_.estimators_) for f in thinned] == [4, 4, 4]    # ceil(10 / 3)
    for f, p in zip(thinned, before):
        assert f.predict_proba(df).shape == p.shape
        assert np.isfinite(f.predict_proba(df)).all()
    assert get_family("lightgbm").thin_fold_models(folds[:1]) == folds[:1]      # others: unchanged


def test_the_scoring_pool_is_remade_in_a_forked_child():
    import os

    pool = forests._pool(2)
    assert forests._pool(2) is pool
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                               # child: a fresh pool, and it works
        ok = forests._pool(2) is not pool and forests._pool(2).submit(lambda: 1).result(timeout=10) == 1
        os.write(w, b"1" if ok else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(r, 1) == b"1"


def test_thinning_per_split_keeps_one_forest_per_k_fold_split():
    """A bag of two 3-fold splits (6 fold forests of 9 trees) keeps ceil(9 / 3) = 3 trees per
    fold forest: one forest's worth per split, not per bag."""
    import pandas as pd

    from assay.data.schema import infer_schema
    from assay.models.base import ProblemInfo
    from assay.models.registry import get_family

    rng = np.random.default_rng(4)
    df = pd.DataFrame({"a": rng.normal(size=240), "b": rng.normal(size=240)})
    y = (df["a"] + df["b"] > 0).astype(int).to_numpy()
    info = ProblemInfo(schema=infer_schema(df.assign(t=y), "t", task="binary"), n_rows=240, seed=0)
    fam = get_family("random_forest")
    folds = [fam.build({"n_estimators": 9}, info).fit(df.iloc[i::6], y[i::6]) for i in range(6)]
    thinned = fam.thin_fold_models(folds, per_split=3)
    assert [len(f.steps[-1][1].model_.estimators_) for f in thinned] == [3] * 6

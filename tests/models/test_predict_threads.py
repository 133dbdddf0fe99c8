"""k-NN and the MLP score a few rows on one thread and larger batches on the cores free at
that instant (`assay.compute.cores.predict_threads`), like the boosters and forests; the
numbers are the same as scikit-learn's / an unrestricted forward pass, and the threaded
k-NN still converts to ONNX as scikit-learn's own class."""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from assay.compute import cores
from assay.models.knn import ThreadedKNeighborsClassifier, ThreadedKNeighborsRegressor


def _openmp_limits(monkeypatch):
    seen = []
    real = cores.openmp_threads

    def spy(n):
        seen.append(n)
        return real(n)

    monkeypatch.setattr(cores, "openmp_threads", spy)
    return seen


@pytest.mark.parametrize("n_test", [40, 900])
def test_knn_queries_run_on_predict_threads_and_match_sklearn(monkeypatch, n_test):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(500, 6)), rng.integers(0, 3, 500)
    Xt = rng.normal(size=(n_test, 6))
    seen = _openmp_limits(monkeypatch)
    monkeypatch.setattr(cores, "free_cores", lambda now=False: 2)
    mine = ThreadedKNeighborsClassifier(n_neighbors=7, weights="distance", n_jobs=2).fit(X, y)
    ref = KNeighborsClassifier(n_neighbors=7, weights="distance").fit(X, y)
    np.testing.assert_allclose(mine.predict_proba(Xt), ref.predict_proba(Xt))
    assert seen == [1 if n_test <= 256 else 2]
    reg = ThreadedKNeighborsRegressor(n_neighbors=5, n_jobs=2).fit(X, X[:, 0])
    np.testing.assert_allclose(reg.predict(Xt), KNeighborsRegressor(n_neighbors=5).fit(X, X[:, 0]).predict(Xt))


def test_knn_plain_is_sklearns_class_with_the_fitted_state():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(100, 3)), rng.integers(0, 2, 100)
    m = ThreadedKNeighborsClassifier(n_neighbors=3).fit(X, y)
    p = m.plain()
    assert type(p) is KNeighborsClassifier
    np.testing.assert_array_equal(p.predict_proba(X[:10]), m.predict_proba(X[:10]))
    assert type(ThreadedKNeighborsRegressor().fit(X, X[:, 0]).plain()) is KNeighborsRegressor


def test_mlp_forward_limits_torch_threads_and_restores_them(monkeypatch):
    torch = pytest.importorskip("torch")
    import pandas as pd

    from assay.models.mlp import MLPRegressorTorch

    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    y = X["a"].to_numpy() * 2 + rng.normal(size=300) * 0.1
    m = MLPRegressorTorch(n_layers=1, width=16, max_epochs=3, n_jobs=2).fit(X, y)
    before = torch.get_num_threads()
    full = m.predict(X)                                   # 300 rows: predict_threads' choice
    calls = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n)))
    few = m.predict(X.iloc[:50])
    assert calls[0] == 1 and calls[-1] == before          # one thread for 50 rows, then restored
    assert torch.get_num_threads() == before
    np.testing.assert_allclose(few, full[:50], rtol=1e-5)

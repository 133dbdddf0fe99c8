"""Tests of the PyTorch MLP family and its embedding preprocessor (tiny data, few epochs)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402

from assay.data.schema import ColumnSpec, Schema  # noqa: E402
from assay.features.embedding import EmbeddingPreprocessor  # noqa: E402
from assay.models.base import ProblemInfo  # noqa: E402
from assay.models.mlp import MLPFamily, embedding_dim  # noqa: E402

FAST = dict(n_layers=2, width=32, max_epochs=15, batch_size=64, lr=5e-3, patience=5)


def make_data(task: str, n: int = 300, seed: int = 0):
    r = np.random.default_rng(seed)
    X = pd.DataFrame({
        "x1": np.where(r.random(n) < 0.1, np.nan, r.normal(size=n)),
        "x2": r.normal(size=n),
        "flag": r.integers(0, 2, n).astype("float64"),
        "color": pd.Series(np.array(["red", "green", "blue", "grey"], dtype=object)[r.integers(0, 4, n)],
                           dtype=object),
        "city": pd.Series([f"c{i}" for i in r.integers(0, 40, n)], dtype=object),
        "when": pd.Timestamp("2021-01-01") + pd.to_timedelta(r.integers(0, 700, n), unit="D"),
        "note": pd.Series(np.array(["fast car", "slow boat", ""], dtype=object)[r.integers(0, 3, n)], dtype=object),
    })
    X.loc[r.random(n) < 0.1, "color"] = np.nan
    X.loc[r.random(n) < 0.05, "when"] = pd.NaT
    cols = [ColumnSpec("x1", "numeric", "float64"), ColumnSpec("x2", "numeric", "float64"),
            ColumnSpec("flag", "boolean", "float64"), ColumnSpec("color", "categorical", "object"),
            ColumnSpec("city", "high_cardinality", "object"), ColumnSpec("when", "datetime", "datetime64[ns]"),
            ColumnSpec("note", "text", "object")]
    signal = np.nan_to_num(X["x1"].to_numpy()) + X["x2"].to_numpy() + 1.5 * (X["color"] == "red").to_numpy()
    if task == "regression":
        y, classes = signal + 0.1 * r.normal(size=n), None
    elif task == "binary":
        y, classes = (signal > 0.4).astype(np.int64), ["no", "yes"]
    else:
        y, classes = np.digitize(signal, [-0.5, 0.5, 1.5]).astype(np.int64), ["a", "b", "c", "d"]
    return X, y, Schema("y", task, cols, classes=classes)


def fitted(task, seed=0, n=300, params=None, device="cpu"):
    X, y, schema = make_data(task, n)
    info = ProblemInfo(schema, n_rows=n, seed=seed, device=device)
    est = MLPFamily().build({**FAST, **(params or {})}, info)
    return est.fit(X, y), X, y


def out(est, X):
    return est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)


# -- preprocessor -------------------------------------------------------------
def test_preprocessor_blocks_unseen_and_missing():
    X, _, schema = make_data("binary", 100)
    prep = EmbeddingPreprocessor(schema, text_dims=8).fit(X)
    Z = prep.transform(X)
    assert Z.numeric.dtype == np.float32 and Z.codes.dtype == np.int64
    assert Z.codes.shape == (100, 2) and len(Z.cardinalities) == 2
    assert np.isfinite(Z.numeric).all()
    assert (Z.codes[X["color"].isna().to_numpy(), 0] == 0).all()
    assert Z.codes.max(axis=0).tolist() == [c - 1 for c in Z.cardinalities]
    new = X.head(3).copy()
    new["color"] = ["purple", np.nan, "red"]
    new["x1"] = [np.nan, np.inf, -np.inf]
    new = new[list(reversed(X.columns))]          # reordered columns are fine
    Z2 = prep.transform(new)
    assert Z2.codes[:2, 0].tolist() == [0, 0] and Z2.codes[2, 0] > 0
    assert np.isfinite(Z2.numeric).all()
    assert prep.transform(X.iloc[:0]).numeric.shape == (0, Z.numeric.shape[1])


def test_embedding_dim_rule():
    assert embedding_dim(2) == 2 and embedding_dim(10_000) == 32
    assert embedding_dim(100, multiplier=2.0, max_dim=8) == 8


# -- learning -----------------------------------------------------------------
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_beats_constant_baseline(task):
    est, X, y = fitted(task, n=400)
    Xt, yt, _ = make_data(task, 300, seed=1)
    if task == "regression":
        mse = np.mean((est.predict(Xt) - yt) ** 2)
        assert mse < 0.5 * np.var(yt)
    else:
        p = est.predict_proba(Xt)
        k = 2 if task == "binary" else 4
        assert p.shape == (300, k) and np.allclose(p.sum(axis=1), 1.0) and (p >= 0).all()
        base = np.bincount(yt, minlength=k).max() / len(yt)
        assert (est.predict(Xt) == yt).mean() > base + 0.1


def test_missing_class_still_gives_k_columns():
    X, y, schema = make_data("multiclass", 200)
    keep = y != 3
    info = ProblemInfo(schema, n_rows=200, seed=0)
    est = MLPFamily().build(FAST, info).fit(X[keep], y[keep])
    assert est.predict_proba(X).shape == (200, 4)
    assert list(est.classes_) == [0, 1, 2, 3]


# -- conformance-style checks ----------------------------------------------------
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_deterministic_and_pickle_round_trip(task):
    a, X, _ = fitted(task, seed=3)
    b, _, _ = fitted(task, seed=3)
    np.testing.assert_array_equal(out(a, X), out(b, X))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(out(a, X), out(c, X))
    d = clone(a).fit(X, make_data(task)[1])
    np.testing.assert_array_equal(out(a, X), out(d, X))


def test_zero_rows_and_unseen_categories():
    est, X, _ = fitted("binary")
    assert est.predict_proba(X.iloc[:0]).shape == (0, 2)
    assert est.predict(X.iloc[:0]).shape == (0,)
    new = X.head(4).copy()
    new["city"] = ["never", "seen", np.nan, "c1"]
    new["x2"] = np.nan
    new["when"] = pd.NaT
    p = est.predict_proba(new)
    assert p.shape == (4, 2) and np.isfinite(p).all()


def test_global_rng_and_threads_untouched():
    torch.manual_seed(1234)
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    np_state = np.random.get_state()[1].copy()
    fitted("binary", params=dict(max_epochs=2))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads
    assert np.array_equal(np.random.get_state()[1], np_state)


def test_max_time_stops_training():
    est, _, _ = fitted("regression", params=dict(max_time=0.0, max_epochs=500, patience=500))
    assert est[-1].n_epochs_ == 1


def test_family_space_and_defaults():
    import optuna

    _, _, schema = make_data("binary", 10)
    info = ProblemInfo(schema, n_rows=10)
    fam = MLPFamily()
    assert fam.name == "mlp" and fam.capabilities.gpu and fam.capabilities.differentiable
    assert 1 <= len(fam.default_configs(info)) <= 2
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    params = fam.search_space(trial, info)
    assert all(k.startswith("mlp.") for k in trial.params)
    assert set(params) == {k[len("mlp."):] for k in trial.params}
    fam.build(params, info)  # every sampled name is a real parameter


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fit_matches_cpu_roughly():
    Xt, yt, _ = make_data("binary", 300, seed=1)
    acc = {}
    for device in ("cpu", "cuda"):
        est, _, _ = fitted("binary", n=400, device=device)
        assert est[-1].device_.startswith(device)
        acc[device] = (est.predict(Xt) == yt).mean()
        back = pickle.loads(pickle.dumps(est))          # unpickles onto the CPU
        np.testing.assert_allclose(back.predict_proba(Xt), est.predict_proba(Xt), atol=1e-4)
    assert abs(acc["cpu"] - acc["cuda"]) < 0.08

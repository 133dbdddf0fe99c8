"""make_folds / train_test_split_frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.data.split import default_n_folds, make_folds, train_test_split_frame


def _check_partition(folds, n):
    tests = np.concatenate([te for _, te in folds])
    for tr, te in folds:
        assert len(np.intersect1d(tr, te)) == 0
        assert len(te) > 0 and len(tr) > 0
        assert tr.dtype == np.int64 and te.dtype == np.int64
    return tests


def test_stratified_folds_partition_rows():
    y = np.array([0] * 80 + [1] * 20)
    folds = make_folds(y, "binary", seed=3)
    assert len(folds) == 5
    tests = _check_partition(folds, 100)
    assert sorted(tests.tolist()) == list(range(100))
    for _, te in folds:
        assert y[te].sum() == 4  # stratified: 4 positives in each test fold of 20


def test_one_row_class_stays_in_training():
    y = np.array([0] * 30 + [1] * 30 + [2] * 3 + [3])  # class 3 has a single row, class 2 fewer than 5
    folds = make_folds(y, "multiclass", seed=0)
    assert len(folds) == 5
    _check_partition(folds, len(y))
    lone = len(y) - 1
    for tr, te in folds:
        assert lone in tr and lone not in te
        assert set(y[tr]) == {0, 1, 2, 3}  # every training fold sees every class
    covered = np.concatenate([te for _, te in folds])
    assert sorted(covered.tolist()) == list(range(len(y) - 1))


def test_tiny_and_degenerate_data_never_crash():
    for y in ([0, 1], [0, 1, 2], [0, 0, 1], [0, 1, 1, 2, 2, 2]):
        folds = make_folds(np.array(y), "multiclass")
        _check_partition(folds, len(y))
    folds = make_folds(np.array([1.0, 2.0, 3.0]), "regression")
    assert len(folds) == 3


def test_deterministic_and_global_state_untouched():
    y = np.random.default_rng(0).integers(0, 3, 500)
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    a = make_folds(y, "multiclass", seed=7)
    b = make_folds(y, "multiclass", seed=7)
    c = make_folds(y, "multiclass", seed=8)
    assert np.array_equal(np.random.get_state()[1], state)
    assert all(np.array_equal(x[1], z[1]) for x, z in zip(a, b))
    assert not all(np.array_equal(x[1], z[1]) for x, z in zip(a, c))


def test_default_fold_counts_and_holdout():
    assert default_n_folds(1000) == 5 and default_n_folds(50_000) == 3 and default_n_folds(200_000) == 1
    y = np.array([0] * 90 + [1] * 10)
    folds = make_folds(y, "binary", holdout_rows=50)  # above holdout_rows: one 20% holdout
    assert len(folds) == 1
    tr, te = folds[0]
    assert len(te) == 20 and y[te].sum() == 2 and len(tr) == 80
    assert len(make_folds(np.arange(10.0), "regression", n_folds=1)) == 1


def test_train_test_split_frame_stratified_and_copies():
    df = pd.DataFrame({"x": range(100), "t": ["a"] * 80 + ["b"] * 19 + ["c"]})
    before = df.copy()
    tr, te = train_test_split_frame(df, "t", "multiclass", test_size=0.25, seed=1)
    pd.testing.assert_frame_equal(df, before)
    assert len(tr) + len(te) == 100 and len(te) == 25
    assert set(tr["x"]).isdisjoint(te["x"])
    assert (te["t"] == "b").sum() in (4, 5) and "c" in set(tr["t"])
    tr2, te2 = train_test_split_frame(df, "t", "multiclass", test_size=0.25, seed=1)
    pd.testing.assert_frame_equal(te, te2)
    tr, te = train_test_split_frame(df.assign(t=np.linspace(0, 1, 100)), "t", "regression")
    assert len(te) == 25


def test_bad_task():
    with pytest.raises(ValueError):
        make_folds(np.zeros(10), "clustering")

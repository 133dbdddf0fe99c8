import numpy as np
import pytest

from assay.ensemble.selection import greedy_selection
from assay.ensemble.space import combine, from_margin, to_margin
from assay.metrics import get_metric


@pytest.mark.parametrize("task,k", [("binary", 2), ("multiclass", 4)])
def test_margin_round_trip(task, k):
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(k), size=50)
    back = from_margin(to_margin(p, task), task)
    np.testing.assert_allclose(back, p, atol=1e-9)


def test_binary_combination_is_linear_in_log_odds():
    p1 = np.array([[0.2, 0.8], [0.6, 0.4]])
    p2 = np.array([[0.5, 0.5], [0.9, 0.1]])
    m = combine([to_margin(p1, "binary"), to_margin(p2, "binary")], [3, 1])
    expected = 0.75 * np.log(0.8 / 0.2) + 0.25 * 0.0
    assert m[0] == pytest.approx(expected)
    assert from_margin(m, "binary")[0, 1] == pytest.approx(1 / (1 + np.exp(-expected)))


def test_greedy_selection_prefers_informative_member_and_is_deterministic():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    good = np.where(y == 1, 2.0, -2.0) + rng.normal(0, 1.5, 400)
    noise = rng.normal(0, 1, 400)
    metric = get_metric("roc_auc", "binary")
    w1 = greedy_selection([noise, good], y, metric, "binary", n_rounds=20)
    w2 = greedy_selection([noise, good], y, metric, "binary", n_rounds=20)
    np.testing.assert_array_equal(w1, w2)
    assert w1.sum() == pytest.approx(1.0)
    assert w1[1] > 0.5


def test_greedy_selection_combines_complementary_members():
    rng = np.random.default_rng(2)
    n = 2000
    y = rng.normal(size=n)
    a = y + rng.normal(0, 1, n)   # two independent noisy views: their mean is better
    b = y + rng.normal(0, 1, n)
    metric = get_metric("rmse", "regression")
    w = greedy_selection([a, b], y, metric, "regression", n_rounds=20)
    assert 0.3 < w[0] < 0.7 and 0.3 < w[1] < 0.7

"""Speed-aware pruning of the greedy ensemble (assay.ensemble.selection.prune_for_speed)."""

import numpy as np

from assay.ensemble.selection import greedy_selection, prune_for_speed
from assay.ensemble.space import to_margin
from assay.metrics import get_metric


def _candidates(seed=0, n=2000):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    signal = (2 * y - 1) * 1.0
    good = 1 / (1 + np.exp(-(signal + rng.normal(0, 1.0, n))))
    # a near copy of `good`: adds nothing once `good` is in
    twin = np.clip(good + rng.normal(0, 0.01, n), 1e-6, 1 - 1e-6)
    # an independent, useful model
    other = 1 / (1 + np.exp(-(signal + rng.normal(0, 1.0, n))))
    margins = [to_margin(np.column_stack([1 - p, p]), "binary") for p in (good, twin, other)]
    return y, margins


def test_the_expensive_member_that_adds_nothing_goes():
    y, margins = _candidates()
    metric = get_metric("log_loss", "binary")
    w = np.array([0.4, 0.2, 0.4])
    costs = np.array([1e-5, 1e-3, 1e-5])       # the twin is 100x slower
    pruned = prune_for_speed(margins, w, costs, y, metric, "binary", tolerance=0.002)
    assert pruned[1] == 0 and pruned[0] > 0 and pruned[2] > 0
    assert np.isclose(pruned.sum(), 1.0)


def test_the_score_stays_within_the_tolerance_of_the_unpruned_ensemble():
    y, margins = _candidates(1)
    metric = get_metric("roc_auc", "binary")
    w = greedy_selection(margins, y, metric, "binary")
    costs = np.array([3e-4, 2e-4, 1e-4])
    for tol in (0.0005, 0.005, 0.05):
        pruned = prune_for_speed(margins, w, costs, y, metric, "binary", tolerance=tol)

        def value(weights):
            from assay.ensemble.space import from_margin
            return metric.value(y, from_margin(sum(a * m for a, m in zip(weights, margins)) / weights.sum(), "binary"))

        assert value(pruned) >= value(w) * (1 - tol) - 1e-12
        assert np.count_nonzero(pruned) >= 1


def test_a_useful_member_stays_and_zero_tolerance_changes_nothing():
    y, margins = _candidates(2)
    metric = get_metric("log_loss", "binary")
    w = np.array([0.5, 0.0, 0.5])
    costs = np.array([1e-5, 1e-5, 1e-2])        # the useful "other" is slow, but it matters
    assert np.array_equal(prune_for_speed(margins, w, costs, y, metric, "binary", tolerance=0.0), w)
    pruned = prune_for_speed(margins, w, costs, y, metric, "binary", tolerance=1e-4)
    assert pruned[2] > 0


def test_near_a_perfect_score_the_slack_follows_the_remaining_error():
    """At an AUC of 0.9993 a second member with independent errors removes most of the error,
    a change within 0.1% of the score but far above 1% of the remaining error: it stays."""
    from assay.ensemble.selection import GAP_FACTOR

    rng = np.random.default_rng(0)
    n = 20000
    y = rng.integers(0, 2, n)
    signal = (2 * y - 1) * 2.26
    a = signal + rng.normal(0, 1.0, n)
    b = signal + rng.normal(0, 1.0, n)          # independent errors: together better than either
    metric = get_metric("roc_auc", "binary")
    margins = [a, b]
    def auc(m):
        p = 1 / (1 + np.exp(-m))
        return metric.value(y, np.column_stack([1 - p, p]))

    full, alone = auc((a + b) / 2), auc(a)
    assert full > 0.999 and full - alone < 0.001 * full          # the old slack would drop b
    assert full - alone > 0.001 * GAP_FACTOR * (1 - full)
    w = np.array([0.5, 0.5])
    kept = prune_for_speed(margins, w, np.array([1.0, 2.0]), y, metric, "binary", tolerance=0.001)
    np.testing.assert_allclose(kept, [0.5, 0.5])

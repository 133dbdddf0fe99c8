"""Decision rules for threshold metrics, tuned on out-of-fold probabilities."""
import numpy as np

from assay.ensemble.decision import decide, fit_offsets
from assay.metrics import get_metric


def _imbalanced_binary(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.08).astype(int)
    # a useful but under-confident score: positives rarely reach p1 > 0.5
    logit = -2.5 + 2.0 * y + rng.normal(0, 0.8, n)
    p1 = 1 / (1 + np.exp(-logit))
    return np.c_[1 - p1, p1], y


def test_binary_threshold_improves_f1_and_generalises():
    proba, y = _imbalanced_binary(seed=0)
    f1 = get_metric("f1", "binary")
    offsets, before, after = fit_offsets(proba, y, f1)
    assert offsets is not None and offsets[1] > 0      # the rare class gets a lower bar
    assert after > before + 0.1
    # on fresh rows from the same process the tuned rule still beats argmax
    p2, y2 = _imbalanced_binary(seed=1)
    onehot = np.eye(2)[decide(p2, offsets)]
    assert f1.value(y2, onehot) > f1.value(y2, p2) + 0.05


def test_multiclass_offsets_improve_balanced_accuracy():
    rng = np.random.default_rng(0)
    n, k = 3000, 3
    y = rng.choice(k, size=n, p=[0.8, 0.15, 0.05])
    logits = rng.normal(0, 1, (n, k)) + 1.5 * np.eye(k)[y] + np.log([0.8, 0.15, 0.05]) * 1.5
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    bacc = get_metric("balanced_accuracy", "multiclass")
    offsets, before, after = fit_offsets(proba, y, bacc)
    assert offsets is not None and after > before + 0.05
    assert bacc.value(y, np.eye(k)[decide(proba, offsets)]) == after


def test_no_offsets_when_argmax_is_already_best():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])
    offsets, before, after = fit_offsets(proba, y, get_metric("f1", "binary"))
    assert offsets is None and before == after == 1.0
    assert (decide(proba, None) == proba.argmax(1)).all()

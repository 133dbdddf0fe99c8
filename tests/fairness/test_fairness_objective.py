"""The search objective alone, on synthetic trials: which model is chosen under a bound."""
import numpy as np
import pandas as pd

from assay.fairness.groups import Constraint
from assay.fairness.objective import SearchObjective, disparity
from assay.metrics import get_metric
from assay.search.records import TrialRecord

rng = np.random.default_rng(0)
N = 2000
G = np.where(rng.random(N) < 0.5, "a", "b")
Y = (rng.random(N) < 0.4).astype(int)


def _trial(tid, gap, noise):
    """Scores informative about Y; group b's scores shifted up by `gap` (an unfair model)."""
    s = Y + rng.normal(0, noise, N) + gap * (G == "b") - 0.5
    p1 = 1 / (1 + np.exp(-4 * s))
    oof = np.column_stack([1 - p1, p1])
    m = get_metric("roc_auc", "binary")
    v = m.value(Y, oof)
    return TrialRecord(tid, "lightgbm", {}, "tpe", "ok", value=v, score=v, oof=oof, model_path="x")


def _objective(bound):
    obj = SearchObjective(Constraint("equalized_odds", bound), pd.DataFrame({"g": G}), Y)
    recs = [_trial(0, 0.8, 0.3), _trial(1, 0.05, 0.45), _trial(2, 0.0, 0.7)]
    for r in recs:
        values = obj.values(r)
        assert values[1] == disparity(r.oof, Y, G, "equalized_odds")
    return obj, recs


def test_best_model_meeting_the_bound_is_chosen():
    obj, recs = _objective(0.08)
    assert not obj.meets(0) and obj.meets(1)
    weights, _value, oof = obj.select(recs, Y, get_metric("roc_auc", "binary"), "binary", 10)
    assert 0 not in weights                           # the most accurate trial breaks the bound
    assert disparity(oof, Y, G, "equalized_odds") <= 0.08
    assert obj.summary["met"] is True
    assert obj.keep(recs) >= {1, 2}


def test_no_trial_meets_the_bound_says_so():
    obj, recs = _objective(0.001)
    weights, _value, _oof = obj.select(recs, Y, get_metric("roc_auc", "binary"), "binary", 10)
    best = min(obj.disparities, key=obj.disparities.get)
    assert weights == {best: 1.0}
    assert obj.summary["met"] is False and "NO trial meets" in obj.summary["message"]


def test_group_thresholds_do_what_their_fit_reports():
    """Decisions margin - t > 0 reproduce the fitted disparity and accuracy exactly, also with
    tied margins (no row may sit on a threshold)."""
    from assay.fairness.shift import fit_thresholds

    m = np.round(rng.normal(0, 1.5, N) + 1.2 * Y - 0.6 + 0.5 * (G == "b"), 1)   # many ties
    for constraint in ("equalized_odds", "demographic_parity", "equal_opportunity"):
        thr, summ = fit_thresholds(m, Y, G, constraint, 0.02, ["a", "b"])
        t = np.array([thr[g] for g in G])
        yhat = (m - t > 0).astype(int)
        p = np.column_stack([1 - yhat, yhat]).astype(float)
        assert disparity(p, Y, G, constraint) == summ["disparity_after"] <= 0.02
        assert int((yhat == Y).sum()) == summ["correct_after"]
        assert summ["disparity_before"] > 0.05

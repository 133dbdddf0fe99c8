"""Group metrics against hand-computed values; bootstrap interval coverage; small groups,
missing values and unknown columns."""
import numpy as np
import pandas as pd
import pytest

from assay.errors import ColumnError, OptionError
from assay.fairness import groups as G
from assay.fairness.metrics import (
    audit_arrays,
    bootstrap_auc,
    bootstrap_cells,
    cells,
    rates_from_cells,
    weighted_auc,
)

# group A: y = 1 1 1 0 0, yhat = 1 1 0 1 0  -> TP 2, FN 1, FP 1, TN 1
# group B: y = 1 0 0 0 0, yhat = 1 0 0 0 1  -> TP 1, FN 0, FP 1, TN 3
TABLE = pd.DataFrame({
    "g": list("AAAAABBBBB"),
    "y": [1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
    "yhat": [1, 1, 0, 1, 0, 1, 0, 0, 0, 1],
    "score": [.9, .8, .3, .7, .1, .6, .2, .3, .1, .55],
})


def _audit(**kw):
    return audit_arrays(TABLE["y"], TABLE["yhat"], G.group_frame(TABLE, ["g"]), score=TABLE["score"],
                        min_group_size=1, n_boot=200, **kw)


def test_group_metrics_match_hand_computed_values():
    a = _audit()
    A, B = a.group("g", "A")["metrics"], a.group("g", "B")["metrics"]
    hand = {"A": {"selection_rate": 3 / 5, "tpr": 2 / 3, "fpr": 1 / 2, "fnr": 1 / 3, "precision": 2 / 3,
                  "accuracy": 3 / 5, "auc": 5 / 6},
            "B": {"selection_rate": 2 / 5, "tpr": 1.0, "fpr": 1 / 4, "fnr": 0.0, "precision": 1 / 2,
                  "accuracy": 4 / 5, "auc": 1.0}}
    for name, got in (("A", A), ("B", B)):
        for m, v in hand[name].items():
            assert got[m]["value"] == pytest.approx(v), (name, m)
            assert got[m]["lo"] <= v + 1e-12 and got[m]["hi"] >= v - 1e-12 or m in ("auc",)
    # disparities: DP |3/5 - 2/5|, ratio (2/5)/(3/5), EO max(|2/3-1|, |1/2-1/4|), EOp |2/3 - 1|
    assert a.disparity("demographic_parity_difference")["value"] == pytest.approx(0.2)
    assert a.disparity("demographic_parity_ratio")["value"] == pytest.approx(2 / 3)
    assert a.disparity("equalized_odds_difference")["value"] == pytest.approx(1 / 3)
    assert a.disparity("equal_opportunity_difference")["value"] == pytest.approx(1 / 3)
    assert a.overall["selection_rate"]["value"] == pytest.approx(0.5)


def test_disparities_agree_with_fairlearn():
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
    )

    rng = np.random.default_rng(3)
    n = 3000
    g = rng.choice(["x", "y", "z"], n, p=[.5, .3, .2])
    y = rng.integers(0, 2, n)
    yhat = (rng.random(n) < np.where(g == "x", .6, .4)).astype(int)
    a = audit_arrays(y, yhat, pd.DataFrame({"g": g}), n_boot=100)
    assert a.disparity("equalized_odds_difference")["value"] == pytest.approx(
        equalized_odds_difference(y, yhat, sensitive_features=g))
    assert a.disparity("demographic_parity_difference")["value"] == pytest.approx(
        demographic_parity_difference(y, yhat, sensitive_features=g))
    assert a.disparity("demographic_parity_ratio")["value"] == pytest.approx(
        demographic_parity_ratio(y, yhat, sensitive_features=g))


def test_weighted_auc_equals_sklearn_with_ties_and_weights():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    s = np.round(rng.random(300), 1)          # many ties
    y = rng.integers(0, 2, 300)
    w = rng.integers(0, 4, size=(3, 300)).astype(float)
    got = weighted_auc(s, y, w)
    for i in range(3):
        assert got[i] == pytest.approx(roc_auc_score(y, s, sample_weight=w[i]))


def test_cell_bootstrap_is_the_row_bootstrap():
    """Multinomial cell counts have the same distribution as counts in resampled rows."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    yhat = rng.integers(0, 2, 400)
    c = cells(y, yhat)
    fast = rates_from_cells(bootstrap_cells(c, 4000, rng))["tpr"]
    idx = rng.integers(0, 400, size=(4000, 400))
    slow = np.array([rates_from_cells(cells(y[i], yhat[i]))["tpr"] for i in idx[:1500]])
    assert np.mean(fast) == pytest.approx(np.mean(slow), abs=0.004)
    assert np.std(fast) == pytest.approx(np.std(slow), rel=0.08)


def test_bootstrap_interval_coverage_is_about_95_percent():
    """Data generated with known rates: the 95% intervals contain the truth in ~95% of repetitions."""
    rng = np.random.default_rng(7)
    reps, n = 400, 300
    p_pos, tpr, fpr = 0.4, 0.7, 0.2
    true_sr = p_pos * tpr + (1 - p_pos) * fpr
    hit = {"tpr": 0, "selection_rate": 0, "fpr": 0}
    for _ in range(reps):
        y = rng.random(n) < p_pos
        yhat = np.where(y, rng.random(n) < tpr, rng.random(n) < fpr)
        r = rates_from_cells(bootstrap_cells(cells(y, yhat), 500, rng))
        for m, truth in (("tpr", tpr), ("selection_rate", true_sr), ("fpr", fpr)):
            lo, hi = np.percentile(r[m], [2.5, 97.5])
            hit[m] += lo <= truth <= hi
    for m, k in hit.items():
        assert 0.91 <= k / reps <= 0.98, (m, k / reps)


def test_auc_interval_coverage():
    rng = np.random.default_rng(11)
    reps, n, shift = 150, 200, 1.0
    from scipy.stats import norm

    truth = norm.cdf(shift / np.sqrt(2))          # AUC of N(1,1) vs N(0,1)
    hits = 0
    for _ in range(reps):
        y = rng.random(n) < 0.5
        s = rng.normal(size=n) + shift * y
        b = bootstrap_auc(s, y, 400, rng)
        lo, hi = np.percentile(b, [2.5, 97.5])
        hits += lo <= truth <= hi
    assert 0.88 <= hits / reps <= 0.99


def test_small_group_is_flagged_and_left_out_of_disparities():
    rng = np.random.default_rng(0)
    g = np.array(["big1"] * 200 + ["big2"] * 200 + ["solo"])
    y = rng.integers(0, 2, len(g))
    yhat = rng.integers(0, 2, len(g))
    a = audit_arrays(y, yhat, pd.DataFrame({"race": g}), n_boot=100)
    solo = a.group("race", "solo")
    assert solo["small"] and solo["size"] == 1
    eo = a.disparity("equalized_odds_difference")
    assert eo["groups_used"] == ["big1", "big2"] and eo["excluded"] == ["solo (n=1)"]
    assert any("'solo' has 1 row " in w for w in a.warnings)


def test_only_small_groups_means_the_gap_cannot_be_estimated():
    a = audit_arrays([1, 0, 1, 0, 1], [1, 0, 0, 0, 1], pd.DataFrame({"s": list("aabbc")}), n_boot=100)
    eo = a.disparity("equalized_odds_difference")
    assert not eo["estimable"] and "cannot be estimated" in eo["note"]
    assert eo["value"] is None or not np.isfinite(eo["value"])
    assert a.to_dict()["disparities"][0]["value"] is None    # JSON: null, not NaN


def test_missing_sensitive_values_are_their_own_group():
    df = pd.DataFrame({"sex": ["F", None, "M", np.nan, "F"], "race": ["a", "b", None, "a", "b"]})
    gf = G.group_frame(df, ["sex", "race"])
    assert list(gf["sex"]) == ["F", "missing", "M", "missing", "F"]
    assert list(G.intersect(gf)) == ["F & a", "missing & b", "M & missing", "missing & a", "F & b"]
    assert df["sex"].isna().sum() == 2       # the user's frame is untouched


def test_unknown_sensitive_column_names_it_with_a_hint():
    df = pd.DataFrame({"sex": ["F"], "race": ["a"]})
    with pytest.raises(ColumnError, match=r"'sexx'.*did you mean 'sex'"):
        G.group_frame(df, ["sexx"])


def test_regression_with_classification_metric_is_one_clear_message():
    with pytest.raises(OptionError, match="'tpr' is for classification; this Run is a regression"):
        audit_arrays([1.0, 2.0], [1.5, 2.5], pd.DataFrame({"g": ["a", "b"]}), task="regression",
                     metrics=["tpr"])
    with pytest.raises(OptionError, match="binary classification"):
        G.check_classification("regression", "the fairness constraint 'equalized_odds'")


def test_regression_group_metrics():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([2.0, 2.0, 1.0, 4.0])
    a = audit_arrays(y, p, pd.DataFrame({"g": ["a", "a", "b", "b"]}), task="regression",
                     min_group_size=1, n_boot=100)
    assert a.group("g", "a")["metrics"]["mean_error"]["value"] == pytest.approx(0.5)
    assert a.group("g", "b")["metrics"]["mae"]["value"] == pytest.approx(1.0)
    assert a.disparity("mae_difference")["value"] == pytest.approx(0.5)


@pytest.mark.parametrize("text,name,bound", [("equalized_odds<=0.05", "equalized_odds", 0.05),
                                             ("dp", "demographic_parity", None),
                                             (" equal_opportunity <= 0.1 ", "equal_opportunity", 0.1)])
def test_parse_constraint(text, name, bound):
    c = G.parse_constraint(text)
    assert (c.name, c.bound) == (name, bound)


@pytest.mark.parametrize("text", ["fairness<=0.1", "equalized_odds<=2", "equalized_odds>=0.1"])
def test_parse_constraint_rejects(text):
    with pytest.raises(OptionError):
        G.parse_constraint(text)

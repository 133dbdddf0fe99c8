"""The tree style's ordinal codes follow the target (assay.features.encoders.target_order)."""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold

from assay.data.validate import encode_target, prepare_training
from assay.features import build_preprocessor
from assay.features.encoders import target_order

DATA = Path(__file__).parents[1] / "data"


def test_binary_levels_sorted_by_their_smoothed_positive_rate():
    values = pd.Series(["a"] * 50 + ["b"] * 50 + ["c"] * 50, dtype=object)
    y = np.array([1] * 40 + [0] * 10 + [0] * 45 + [1] * 5 + [1] * 25 + [0] * 25)
    assert target_order(values, y, "binary") == ["b", "c", "a"]


def test_regression_levels_sorted_by_mean_and_missing_is_not_a_level():
    values = pd.Series(["lo", "hi", np.nan, "mid", "hi", "lo", "mid"], dtype=object)
    y = np.array([1.0, 9.0, 100.0, 5.0, 11.0, 0.0, 4.0])
    assert target_order(values, y, "regression") == ["lo", "mid", "hi"]


def test_a_rare_level_is_pulled_toward_the_overall_rate():
    # "rare" is all positive but seen twice: with a prior of 10 rows it stays below "often",
    # which is 90% positive over 200 rows
    values = pd.Series(["rare"] * 2 + ["often"] * 200 + ["never"] * 200, dtype=object)
    y = np.array([1, 1] + [1] * 180 + [0] * 20 + [0] * 200)
    assert target_order(values, y, "binary") == ["never", "rare", "often"]


def test_multiclass_levels_follow_the_class_distributions():
    # three levels whose class distributions lie on a line: x -> mostly 0, y -> mixed, z -> mostly 2
    values = pd.Series(["z"] * 30 + ["x"] * 30 + ["y"] * 30, dtype=object)
    y = np.array([2] * 27 + [1] * 3 + [0] * 27 + [1] * 3 + [0] * 10 + [1] * 10 + [2] * 10)
    order = target_order(values, y, "multiclass")
    assert order in (["x", "y", "z"], ["z", "y", "x"])


def test_the_tree_preprocessor_codes_levels_in_target_order_and_unknowns_as_missing():
    X = pd.DataFrame({"c": ["a", "b", "c", "a", "b", "c"] * 20, "n": np.arange(120.0)})
    y = np.array([1, 0, 1, 1, 0, 0] * 20)        # rate: a 1.0, c 0.5, b 0.0
    X, y_raw, schema = prepare_training(X.assign(t=y), "t", "binary")
    prep = build_preprocessor(schema, "tree").fit(X, encode_target(y_raw, schema))
    codes = prep.transform(pd.DataFrame({"c": ["b", "c", "a", "zzz", None], "n": [0.0] * 5}))[:, 0]
    assert codes[:3].tolist() == [0.0, 1.0, 2.0]
    assert np.isnan(codes[3]) and np.isnan(codes[4])


def test_without_a_target_the_levels_stay_sorted():
    X = pd.DataFrame({"c": ["b", "a", "c"] * 10, "n": np.arange(30.0)})
    _, _, schema = prepare_training(X.assign(t=np.arange(30) % 2), "t", "binary")
    prep = build_preprocessor(schema, "tree").fit(X)
    assert prep.transform(pd.DataFrame({"c": ["a", "b", "c"], "n": [0.0] * 3}))[:, 0].tolist() == [0, 1, 2]


def test_target_order_beats_alphabetical_codes_on_car():
    """Real data: car's levels (vhigh/high/med/low, 2/3/4/5more, ...) sort alphabetically out
    of their natural order; ordered by the target, HistGradientBoosting's defaults reach a
    clearly lower 5-fold log loss (0.0254 vs 0.0308 measured; native categorical splits 0.0257)."""
    df = pd.read_csv(DATA / "car.csv.gz")
    X, y_raw, schema = prepare_training(df, "class", None)
    y = encode_target(y_raw, schema)
    losses = {}
    for with_target in (False, True):
        oof = np.zeros((len(y), len(schema.classes)))
        for tr, va in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
            prep = build_preprocessor(schema, "tree")
            Xtr = prep.fit_transform(X.iloc[tr], y[tr] if with_target else None)
            model = HistGradientBoostingClassifier(random_state=0).fit(Xtr, y[tr])
            oof[va] = model.predict_proba(prep.transform(X.iloc[va]))
        losses[with_target] = log_loss(y, oof)
    assert losses[True] < 0.9 * losses[False]

"""Partial dependence, ICE and Friedman's H: a monotone signal gives an increasing PDP,
multiclass gives one curve per class, a multiplicative pair interacts more than an additive
one, and the plot is a PNG."""
import json

import numpy as np
import pandas as pd
import pytest

import assay
from assay.audit.dependence import (
    Interactions,
    PartialDependence,
    interaction_strength,
    partial_dependence,
    plot_partial_dependence,
)
from assay.errors import ColumnError, OptionError
from tests.conftest import DATA


def _fit(df, target):
    return assay.fit(df, target, time_limit=None, max_trials=2, families=["lightgbm", "linear"], verbosity=0,
                     n_folds=3)


@pytest.fixture(scope="module")
def regression():
    """y = 3*x + x1*x2 + x3 + noise, plus a noise column and a categorical with an effect."""
    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame({"x": rng.uniform(-2, 2, n), "x1": rng.uniform(-2, 2, n),
                       "x2": rng.uniform(-2, 2, n), "x3": rng.uniform(-2, 2, n),
                       "noise": rng.normal(size=n),
                       "colour": rng.choice(["red", "green", "blue"], n)})
    df["y"] = (3 * df["x"] + 2 * df["x1"] * df["x2"] + df["x3"] + (df["colour"] == "red")
               + rng.normal(0, 0.5, n))
    return _fit(df, "y"), df


@pytest.fixture(scope="module")
def car():
    df = pd.read_csv(DATA / "car.csv.gz")
    df = df.sample(n=min(len(df), 500), random_state=0).reset_index(drop=True)
    return _fit(df, "class"), df


def test_pdp_of_monotone_signal_increases_and_ice_shape(regression):
    run, df = regression
    data = df.drop(columns=["y"])
    res = partial_dependence(run, data, ["x", "colour"], grid_points=12, ice_rows=25, max_rows=300)
    assert isinstance(res, PartialDependence)
    assert res.features == ["x", "colour"] and res.feature_kinds == ["numeric", "categorical"]
    assert res.output_names == ["y"] and "y" in res.y_label
    curve = res.curve("x")
    assert len(curve) == len(res.grids[0]) <= 12
    assert np.all(np.diff(res.grids[0]) > 0)
    steps = np.diff(curve.to_numpy())
    assert (steps > -0.25).all() and curve.iloc[-1] - curve.iloc[0] > 6      # ~3 per unit over ~3.6
    assert np.corrcoef(res.grids[0], curve.to_numpy())[0, 1] > 0.97
    assert np.asarray(res.ice[0]).shape == (25, len(res.grids[0]), 1)
    assert len(res.ice_rows) == 25 and res.n_rows == 300
    assert np.allclose(np.asarray(res.ice[0]).mean(axis=0).shape, np.asarray(res.average[0]).shape)
    assert set(res.grids[1]) == {"red", "green", "blue"}
    col = res.curve("colour")
    assert col["red"] > col["green"] + 0.5 and col["red"] > col["blue"] + 0.5
    d = json.loads(res.to_json())                                            # JSON-safe
    assert d["kind"] == "partial_dependence" and d["grids"][1] == res.grids[1]
    frame = res.to_frame()
    assert set(frame["feature"]) == {"x", "colour"}


def test_default_features_are_the_top_shap_features(regression):
    run, df = regression
    res = partial_dependence(run, df.drop(columns=["y"]), top=2, grid_points=5, ice_rows=3, max_rows=100)
    assert len(res.features) == 2 and "x" in res.features and "noise" not in res.features


def test_multiclass_one_curve_per_class(car):
    run, df = car
    res = partial_dependence(run, df, ["safety"], grid_points=10, ice_rows=10, max_rows=200)
    k = len(run.classes)
    avg = np.asarray(res.average[0])
    assert res.output_names == [str(c) for c in run.classes]
    assert avg.shape == (len(res.grids[0]), k)
    assert np.allclose(avg.sum(axis=1), 1.0)                                  # probabilities
    assert np.asarray(res.ice[0]).shape == (10, len(res.grids[0]), k)


def test_h_statistic_finds_the_interacting_pair(regression):
    run, df = regression
    res = interaction_strength(run, df, pairs=[("x1", "x2"), ("x", "x3")], grid_points=8, max_rows=150)
    assert isinstance(res, Interactions)
    h = dict(zip(map(tuple, res.pairs), res.h_statistic))
    assert h[("x1", "x2")] > 0.5 and h[("x", "x3")] < 0.2
    assert res.pairs[0] == ["x1", "x2"]                                       # sorted descending
    assert res.to_frame()["h_statistic"].is_monotonic_decreasing
    auto = interaction_strength(run, df, top=3, grid_points=6, max_rows=100)
    assert len(auto.pairs) == 3 and auto.h_statistic == sorted(auto.h_statistic, reverse=True)
    assert json.loads(auto.to_json())["kind"] == "interactions"


def test_bad_input(regression):
    run, df = regression
    with pytest.raises(OptionError, match="did you mean 'x3'|Did you mean 'x3'"):
        partial_dependence(run, df, ["x33"])
    with pytest.raises(OptionError, match="unknown feature"):
        interaction_strength(run, df, pairs=[("x1", "nope")])
    with pytest.raises(ColumnError, match="x2"):
        partial_dependence(run, df.drop(columns=["x2"]), ["x"])


def test_plot_writes_png(regression, car, tmp_path):
    run, df = regression
    res = partial_dependence(run, df, ["x", "colour"], grid_points=6, ice_rows=10, max_rows=100)
    p = plot_partial_dependence(res, tmp_path / "pdp.png")
    assert p.stat().st_size > 1000 and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run_c, df_c = car
    res_c = partial_dependence(run_c, df_c, ["safety", "buying"], grid_points=5, ice_rows=5, max_rows=100)
    p2 = plot_partial_dependence(res_c, tmp_path / "sub" / "car.png")
    assert p2.stat().st_size > 1000

"""LIME explanations of Runs: reproducible from the seed, a stability score in [0, 1],
informative features on top, all tasks, and the global numpy random state untouched."""
import numpy as np
import pandas as pd
import pytest

import assay
from assay.audit.lime_explain import LimeExplanation, lime_explain
from assay.errors import OptionError
from tests.conftest import DATA

FAST = {"num_samples": 300, "repeats": 2, "background_rows": 300}


def _fit(df, target, families=("lightgbm", "linear"), trials=2):
    return assay.fit(df, target, time_limit=None, max_trials=trials, families=list(families), verbosity=0)


@pytest.fixture(scope="module")
def titanic():
    df = pd.read_csv(DATA / "titanic.csv.gz")
    return _fit(df, "Survived"), df.drop(columns=["Survived"])


def test_binary_titanic_mixed_kinds(titanic):
    run, X = titanic
    state = np.random.get_state()
    ex = lime_explain(run, X, rows="0:3", num_features=6, **FAST)
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2:] == state[2:]

    assert isinstance(ex, LimeExplanation) and ex.kind == "lime"
    assert ex.rows == [0, 1, 2]
    kinds = {c.name: c.kind for c in run.schema.features}
    assert ex.held_fixed == [c for c in run.schema.feature_names if kinds[c] in ("text", "datetime")]
    assert "Name" in ex.held_fixed and "Name" not in ex.feature_names
    assert ex.labels == [str(run.classes[1])] * 3
    proba = run.predict_output(X.iloc[:3])[:, 1]
    np.testing.assert_allclose(ex.model_prediction, proba, rtol=1e-9)
    for ws in ex.weights:
        assert 1 <= len(ws) <= 6
        assert all(f in ex.feature_names and isinstance(c, str) for f, c, _ in ws)
        assert [abs(w) for _, _, w in ws] == sorted((abs(w) for _, _, w in ws), reverse=True)
    # categorical conditions read as LIME's "name=value", numeric ones as quartile bins
    conds = [c for ws in ex.weights for f, c, _ in ws if f == "Sex"]
    assert conds and all(c in ("Sex=male", "Sex=female") for c in conds)
    assert all(0.0 <= s <= 1.0 for s in ex.stability + ex.worst_stability)
    assert all(w <= s for s, w in zip(ex.stability, ex.worst_stability))
    assert ex.mean_stability == pytest.approx(np.mean(ex.stability))
    assert all(np.isfinite(ex.score)) and all(np.isfinite(ex.local_prediction))
    fr = ex.to_frame()
    assert list(fr.columns) == ["row", "label", "rank", "feature", "condition", "weight", "stability"]
    assert len(fr) == sum(len(ws) for ws in ex.weights)
    assert ex.to_dict()["kind"] == "lime"


def test_same_seed_same_weights_and_row_independence(titanic):
    run, X = titanic
    a = lime_explain(run, X, rows=[4, 5], seed=3, **FAST)
    b = lime_explain(run, X, rows=[4, 5], seed=3, **FAST)
    assert a.weights == b.weights and a.stability == b.stability and a.intercept == b.intercept
    alone = lime_explain(run, X, rows=[5], seed=3, **FAST)
    assert alone.weights[0] == a.weights[1]


def test_bad_options(titanic):
    run, X = titanic
    with pytest.raises(OptionError):
        lime_explain(run, X, rows=[0], repeats=1)
    with pytest.raises(OptionError, match="out of range"):
        lime_explain(run, X, rows=[len(X) + 5], **FAST)
    with pytest.raises(OptionError, match="no rows"):
        lime_explain(run, X, rows="7:7", **FAST)


def test_informative_features_on_top():
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame(rng.uniform(-1, 1, size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    df["y"] = 3 * df["x0"] - 2 * df["x3"] + rng.normal(0, 0.05, n)
    run = _fit(df, "y", families=["lightgbm"], trials=1)
    ex = lime_explain(run, df.drop(columns=["y"]), rows="0:8", num_features=6, **FAST)
    top2 = [{f for f, _, _ in ws[:2]} for ws in ex.weights]
    assert sum(t == {"x0", "x3"} for t in top2) >= 6
    assert ex.held_fixed == []


def test_multiclass_car_explains_predicted_class():
    df = pd.read_csv(DATA / "car.csv.gz")
    run = _fit(df, "class", families=["linear"], trials=1)
    assert run.task == "multiclass"
    X = df.drop(columns=["class"])
    ex = lime_explain(run, X, rows="0:3", num_features=4, **FAST)
    p = run.predict_output(X.iloc[:3])
    assert ex.labels == [str(run.classes[j]) for j in p.argmax(axis=1)]
    np.testing.assert_allclose(ex.model_prediction, p.max(axis=1), rtol=1e-9)
    assert ex.top_k == 4 and all(0.0 <= s <= 1.0 for s in ex.stability)


def test_regression_abalone():
    df = pd.read_csv(DATA / "abalone.csv.gz")
    run = _fit(df, "Rings", families=["linear"], trials=1)
    assert run.task == "regression"
    X = df.drop(columns=["Rings"])
    ex = lime_explain(run, X, rows=[10, 20], **FAST)
    np.testing.assert_allclose(ex.model_prediction, run.predict_output(X.iloc[[10, 20]]), rtol=1e-9)
    assert ex.labels == ["Rings", "Rings"]
    assert ex.output_space == "predicted Rings"

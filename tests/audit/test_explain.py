"""SHAP explanations of Runs: local accuracy to 1e-6 for trees, linear models and
ensembles of them, in every task; informative features ranked above noise."""
import numpy as np
import pandas as pd
import pytest

import assay
from assay.audit.explain import explain, select_rows
from assay.errors import OptionError
from tests.conftest import DATA

EXACT = ["lightgbm", "xgboost", "catboost", "linear"]


@pytest.fixture(scope="module")
def titanic():
    return pd.read_csv(DATA / "titanic.csv.gz")


def _fit(df, target, families, trials=None):
    return assay.fit(df, target, time_limit=None, max_trials=trials or len(families),
                     families=families, verbosity=0, ensemble_size=10)


@pytest.mark.parametrize("family", EXACT + ["random_forest", "extra_trees"])
def test_single_family_local_accuracy_binary(titanic, family):
    run = _fit(titanic, "Survived", [family], trials=1)
    ex = explain(run, titanic.drop(columns=["Survived"]), rows="0:40")
    assert ex.values.shape == (40, len(run.schema.feature_names), 1)
    assert ex.additivity_error < 1e-6
    if family in EXACT:
        assert ex.exact


@pytest.mark.parametrize("name,target", [("titanic.csv.gz", "Survived"), ("car.csv.gz", "class"),
                                         ("abalone.csv.gz", "Rings")])
def test_ensemble_local_accuracy(name, target):
    df = pd.read_csv(DATA / name)
    run = _fit(df, target, ["lightgbm", "linear", "xgboost", "random_forest"], trials=6)
    assert len(run.model.members) >= 1
    ex = explain(run, df.drop(columns=[target]).head(60))
    assert ex.additivity_error < 1e-6
    m = ex.margin()
    if run.task == "multiclass":
        assert m.shape == (60, len(run.classes))


def test_informative_features_rank_above_noise():
    rng = np.random.default_rng(0)
    n = 1500
    X = pd.DataFrame({f"noise{i}": rng.normal(size=n) for i in range(4)})
    X["signal_a"] = rng.normal(size=n)
    X["signal_b"] = rng.normal(size=n)
    y = (X["signal_a"] + 0.8 * X["signal_b"] + rng.normal(0, 0.3, n) > 0).astype(int)
    df = X.assign(y=y)
    run = _fit(df, "y", ["lightgbm", "linear"])
    imp = explain(run, X.head(300)).importance()
    assert set(imp.index[:2]) == {"signal_a", "signal_b"}


def test_row_selection_errors():
    assert list(select_rows("2:5", 10)) == [2, 3, 4]
    assert list(select_rows("1,3", 10)) == [1, 3]
    with pytest.raises(OptionError, match="out of range"):
        select_rows([12], 10)
    with pytest.raises(OptionError, match="START:STOP"):
        select_rows("a:b", 10)

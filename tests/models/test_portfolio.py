"""The zero-shot portfolio: valid configurations, used first, defaults where it is silent."""
import json

import numpy as np
import pandas as pd
import pytest

from assay.data.validate import encode_target, prepare_training
from assay.models import portfolio
from assay.models.base import ProblemInfo
from assay.models.registry import get_family
from tests.conftest import DATA


def _info(name, target):
    df = pd.read_csv(DATA / name).head(300)
    X, y_raw, schema = prepare_training(df, target, None)
    return X, encode_target(y_raw, schema), ProblemInfo(schema=schema, n_rows=len(X), seed=0, n_jobs=1)


def test_the_file_says_how_it_was_built():
    data = json.loads(portfolio.PATH.read_text())
    assert len(data["meta"]["built_from"]) >= 10 and "build_portfolio.py" in data["meta"]["command"]
    assert set(data["portfolio"]) >= {"lightgbm", "hist_gb", "xgboost", "linear"}


@pytest.mark.parametrize("name,target", [("titanic.csv.gz", "Survived"), ("abalone.csv.gz", "Rings")])
def test_every_portfolio_configuration_builds_and_fits(name, target):
    X, y, info = _info(name, target)
    for fam_name in json.loads(portfolio.PATH.read_text())["portfolio"]:
        family = get_family(fam_name)
        if not family.is_available():
            continue
        configs = family.first_configs(info)
        ref = family.reference_configs(info)
        assert configs[:len(ref)] == ref
        assert [c for c in configs if c not in ref] == [
            c for c in portfolio.portfolio_configs(fam_name, info.task) if c not in ref] != []
        for params in configs:
            est = family.build(dict(params), info).fit(X, y)
            out = est.predict_proba(X) if info.is_classification else est.predict(X)
            assert np.all(np.isfinite(out))


def test_families_without_an_entry_use_their_defaults():
    _, _, info = _info("titanic.csv.gz", "Survived")
    knn = get_family("knn")
    assert portfolio.portfolio_configs("knn", info.task) == []
    assert knn.first_configs(info) == knn.default_configs(info)


def test_hist_gb_tries_scikit_learns_defaults_before_the_portfolio():
    """scikit-learn's defaults, with native categorical splits where there are categoricals
    (titanic), with its plain defaults on an all-numeric table."""
    _, _, info = _info("titanic.csv.gz", "Survived")
    configs = get_family("hist_gb").first_configs(info)
    assert configs[0] == {"categorical": "native"} and configs.count(configs[0]) == 1 and len(configs) > 1
    _, _, numeric = _info("abalone.csv.gz", "Sex")
    configs = get_family("hist_gb").first_configs(numeric)
    assert configs[0] == {} and configs.count({}) == 1 and len(configs) > 1


def test_lightgbm_tries_its_library_defaults_first():
    """100 rounds on every training row, no inner split: LightGBM's own defaults."""
    _, _, info = _info("titanic.csv.gz", "Survived")
    family = get_family("lightgbm")
    configs = family.first_configs(info)
    assert configs[0] == {"n_estimators": 100, "early_stopping_rounds": 0} and len(configs) > 1
    learner = family.build(dict(configs[0]), info).steps[-1][1]
    assert learner.n_estimators == 100 and learner.early_stopping_rounds == 0


def test_lightgbm_multiclass_reference_caps_leaf_outputs_where_the_defaults_diverge():
    """On a 20,000-row sample of kddcup99 (23 classes, several with a handful of rows)
    LightGBM's plain defaults diverge (held-out log loss above 20 in this test; the class
    prior scores under 1); the multiclass reference caps each leaf's output and stays well under 0.05."""
    from assay.metrics import get_metric

    df = pd.read_csv(DATA / "kddcup99_20k.csv.gz")
    X, y_raw, schema = prepare_training(df, "label", None)
    y = encode_target(y_raw, schema)
    half = len(X) // 2
    info = ProblemInfo(schema=schema, n_rows=half, seed=0, n_jobs=2)
    family = get_family("lightgbm")
    ref = family.first_configs(info)[0]
    assert ref == {"n_estimators": 100, "early_stopping_rounds": 0, "max_delta_step": 2.0}
    proba = family.build(dict(ref), info).fit(X.iloc[:half], y[:half]).predict_proba(X.iloc[half:])
    assert get_metric("log_loss", schema.task).value(y[half:], proba) < 0.05


def test_the_search_tries_every_reference_then_each_familys_portfolio_in_turn():
    """References (library defaults) first, then a round-robin of the other first
    configurations: LightGBM's best portfolio configuration is not queued behind every
    other family's first one."""
    from assay.models.registry import available_families
    from assay.search.tuner import _default_queue

    _, _, info = _info("abalone.csv.gz", "Rings")
    families = available_families(info.task)
    queue = _default_queue(families, info)
    refs = [(f.name, c) for f in families for c in f.reference_configs(info)]
    assert len(refs) >= 2 and queue[:len(refs)] == refs
    rest = queue[len(refs):]
    assert rest[0] == ("lightgbm", portfolio.portfolio_configs("lightgbm", info.task)[0])
    assert [name for name, _ in rest[:len(families)]] == [f.name for f in families]
    every = [(f.name, c) for f in families for c in f.first_configs(info)]
    assert sorted(map(repr, queue)) == sorted(map(repr, every))     # each once, none lost


def _synthetic_info(n_classes: int) -> ProblemInfo:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(40 * n_classes, 4)), columns=list("abcd"))
    df["label"] = [f"c{i % n_classes}" for i in range(len(df))]
    X, _, schema = prepare_training(df, "label", None)
    return ProblemInfo(schema=schema, n_rows=len(X), seed=0, n_jobs=1)


def test_with_many_classes_the_mlp_runs_right_after_lightgbms_defaults():
    """Each boosting round grows one tree per class, the MLP's output layer scores them all:
    from MANY_CLASSES classes on, its first configuration follows the first reference
    (LightGBM's defaults) instead of waiting for its registry turn (eighth)."""
    from assay.models.mlp import MANY_CLASSES
    from assay.models.registry import available_families
    from assay.search.tuner import _default_queue

    many = _synthetic_info(MANY_CLASSES)
    families = available_families(many.task)
    if "mlp" not in {f.name for f in families}:
        pytest.skip("the MLP family needs torch")
    mlp = get_family("mlp")
    refs = [(f.name, c) for f in families for c in f.reference_configs(many)]
    queue = _default_queue(families, many)
    assert refs[0][0] == "lightgbm" and len(refs) >= 2
    assert queue[:len(refs) + 1] == refs[:1] + [("mlp", mlp.first_configs(many)[0])] + refs[1:]
    every = [(f.name, c) for f in families for c in f.first_configs(many)]
    assert sorted(map(repr, queue)) == sorted(map(repr, every))     # moved, not repeated

    few = _synthetic_info(MANY_CLASSES - 1)
    assert not mlp.leads_search(few)
    queue = _default_queue(families, few)
    assert queue[len(refs)][0] == families[0].name != "mlp"

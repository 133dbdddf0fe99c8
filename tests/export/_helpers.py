"""Real family pipelines fitted on bundled data, wrapped into an in-memory Run (fast:
no search), for the ONNX parity tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assay.data.validate import encode_target, prepare_training
from assay.ensemble.model import EnsembleModel, Member
from assay.models.base import ProblemInfo
from assay.models.registry import get_family
from assay.run import Run
from tests.conftest import DATA

# task -> (bundled file, target, columns dropped)
DATASETS = {
    "binary": ("titanic.csv.gz", "Survived", ["Name"]),              # Name is text: not convertible
    "multiclass": ("car.csv.gz", "class", []),
    "regression": ("abalone.csv.gz", "Rings", []),
}
NUMERIC_ONLY = {               # CatBoost converts only without categorical features
    "binary": ("titanic.csv.gz", "Survived", ["Name", "Sex", "Ticket", "Cabin", "Embarked"]),
    "multiclass": ("abalone.csv.gz", "Sex", []),
    "regression": ("abalone.csv.gz", "Rings", ["Sex"]),
}
SMALL = {"random_forest": {"n_estimators": 20}, "extra_trees": {"n_estimators": 20},
         "lightgbm": {"n_estimators": 150}, "xgboost": {"n_estimators": 150}, "mlp": {"max_epochs": 6}}


def split(task: str, numeric_only: bool = False, frac: float = 0.7):
    """(train rows, held-out rows) of the task's dataset, shuffled with a fixed seed."""
    name, target, drop = (NUMERIC_ONLY if numeric_only else DATASETS)[task]
    df = pd.read_csv(DATA / name).drop(columns=drop).sample(frac=1.0, random_state=0).reset_index(drop=True)
    n = int(len(df) * frac)
    return df.iloc[:n], df.iloc[n:], target


def fit_member(train: pd.DataFrame, target: str, family: str, config: int = 0, n_models: int = 1,
               weight: float = 1.0, trial_id: int = 0, extra: dict | None = None):
    """A Member of `family` (its `config`-th default configuration), fit on `train`; with
    n_models > 1 it holds that many models fit on different halves (as fold models are)."""
    X, y, schema = prepare_training(train, target)
    y = encode_target(y, schema)
    info = ProblemInfo(schema=schema, n_rows=len(y), seed=0, n_jobs=1)
    fam = get_family(family)
    params = {**fam.default_configs(info)[config], **SMALL.get(family, {}), **(extra or {})}
    rng = np.random.default_rng(trial_id)
    models = []
    for i in range(n_models):
        rows = np.arange(len(y)) if n_models == 1 else np.sort(rng.permutation(len(y))[: len(y) * 2 // 3])
        models.append(fam.build(dict(params), info).fit(X.iloc[rows], y[rows]))
    kind = "full" if n_models == 1 else "folds"
    return Member(trial_id, family, params, weight, models, kind), schema


def make_run(schema, members: list[Member]) -> Run:
    model = EnsembleModel(schema.task, len(schema.classes or []), members)
    board = pd.DataFrame({"model": [m.name for m in members], "family": [m.family for m in members]})
    meta = {"metric": "n/a", "task": schema.task, "schema": schema.to_dict()}
    return Run(schema=schema, model=model, leaderboard=board, meta=meta)

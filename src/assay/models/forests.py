"""Random forest and extra trees (scikit-learn), on the "tree" preprocessing style.

Missing values go to the trees as NaN: scikit-learn >= 1.6 forests split on them
natively, so no imputer is needed.
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from assay.features import build_preprocessor
from assay.models._common import STEP_LEARNER, STEP_PREP, adapt
from assay.models.base import Capabilities, ModelFamily, ProblemInfo


class _ForestFamily(ModelFamily):
    capabilities = Capabilities(sample_weight=True)
    _classes: tuple = ()          # (classifier, regressor), imported lazily
    _reg_max_features = 1.0

    def _estimators(self):
        raise NotImplementedError

    def default_configs(self, info: ProblemInfo) -> list[dict]:
        mf = "sqrt" if info.is_classification else self._reg_max_features
        return [
            {"n_estimators": 300, "max_features": mf, "min_samples_leaf": 1},
            {"n_estimators": 300, "max_features": mf, "min_samples_leaf": 5},
        ]

    def search_space(self, trial, info: ProblemInfo) -> dict:
        p = f"{self.name}."
        params = {
            "n_estimators": trial.suggest_int(p + "n_estimators", 100, 500, step=50),
            "max_features": trial.suggest_float(p + "max_features", 0.1, 1.0),
            "min_samples_leaf": trial.suggest_int(p + "min_samples_leaf", 1, 32, log=True),
            "max_depth": trial.suggest_categorical(p + "max_depth", [None, 8, 16, 32]),
            "bootstrap": trial.suggest_categorical(p + "bootstrap", [True, False]),
        }
        if info.is_classification:
            params["criterion"] = trial.suggest_categorical(p + "criterion", ["gini", "entropy"])
        return params

    def build(self, params: dict, info: ProblemInfo):
        cls, reg = self._estimators()
        est = (cls if info.is_classification else reg)(random_state=info.seed, n_jobs=info.n_jobs, **params)
        return Pipeline([(STEP_PREP, build_preprocessor(info.schema, "tree", seed=info.seed)),
                         (STEP_LEARNER, adapt(est, info))])


class RandomForestFamily(_ForestFamily):
    name = "random_forest"
    relative_cost = 2.0
    _reg_max_features = 0.5

    def _estimators(self):
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        return RandomForestClassifier, RandomForestRegressor


class ExtraTreesFamily(_ForestFamily):
    name = "extra_trees"
    relative_cost = 1.5
    _reg_max_features = 1.0

    def _estimators(self):
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        return ExtraTreesClassifier, ExtraTreesRegressor

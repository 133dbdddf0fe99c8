"""k-nearest neighbours on the "linear" preprocessing style (scaled numerics, one-hot).

Prediction cost grows with the training size, hence the higher relative cost.
n_neighbors is capped at the number of training rows at fit time (small folds).

Fit time allowance (`max_time`): ignored -- fitting only stores the (preprocessed)
rows, or builds a tree index, which is quick; the cost is at prediction time. A
`max_time` param is accepted and dropped; `stopped_by_time_` is always False.
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from assay.features import build_preprocessor
from assay.models._common import STEP_LEARNER, STEP_PREP, adapt
from assay.models.base import Capabilities, ModelFamily, ProblemInfo


class KNNFamily(ModelFamily):
    name = "knn"
    capabilities = Capabilities(sample_weight=False)
    relative_cost = 2.0
    predict_cost = 6.0              # grows with the training rows

    def default_configs(self, info: ProblemInfo) -> list[dict]:
        return [
            {"n_neighbors": 15, "weights": "distance", "p": 2},
            {"n_neighbors": 5, "weights": "uniform", "p": 2},
        ]

    def search_space(self, trial, info: ProblemInfo) -> dict:
        p = f"{self.name}."
        return {
            "n_neighbors": trial.suggest_int(p + "n_neighbors", 1, 64, log=True),
            "weights": trial.suggest_categorical(p + "weights", ["uniform", "distance"]),
            "p": trial.suggest_categorical(p + "p", [1, 2]),
        }

    def build(self, params: dict, info: ProblemInfo):
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        params = dict(params)
        params.pop("max_time", None)            # nothing to cut short (see the module docstring)

        cls = KNeighborsClassifier if info.is_classification else KNeighborsRegressor
        est = cls(n_jobs=info.n_jobs, **params)
        return Pipeline([(STEP_PREP, build_preprocessor(info.schema, "linear", seed=info.seed)),
                         (STEP_LEARNER, adapt(est, info))])

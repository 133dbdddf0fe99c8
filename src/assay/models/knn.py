"""k-nearest neighbours on the "linear" preprocessing style (scaled numerics, one-hot).

Prediction cost grows with the training size, hence the higher relative cost.
n_neighbors is capped at the number of training rows at fit time (small folds).

Fit time allowance (`max_time`): ignored -- fitting only stores the (preprocessed)
rows, or builds a tree index, which is quick; the cost is at prediction time. A
`max_time` param is accepted and dropped; `stopped_by_time_` is always False.

Threads: the distance computation is scikit-learn's OpenMP code, which otherwise uses
every core for any input; a query of a few rows runs on one thread, a larger one on the
cores free at that instant (`compute.cores.predict_threads`), like the boosters. With
other work on the cores, a two-thread team took 72 ms per fold model on credit_g's 250
test rows; on a quiet machine the difference is within noise.
"""

from __future__ import annotations

from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import Pipeline

from assay.features import build_preprocessor
from assay.models._common import STEP_LEARNER, STEP_PREP, adapt
from assay.models.base import Capabilities, ModelFamily, ProblemInfo


class ThreadedQueries:
    """Neighbour queries on `predict_threads` OpenMP threads (mixed into scikit-learn's k-NN)."""

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        from assay.compute.cores import openmp_threads, predict_threads

        n = self.n_samples_fit_ if X is None else X.shape[0]
        with openmp_threads(predict_threads(n, self.n_jobs)):
            return super().kneighbors(X, n_neighbors, return_distance)

    def plain(self):
        """The same fitted model as scikit-learn's own class (what converters recognise)."""
        base = KNeighborsClassifier if isinstance(self, KNeighborsClassifier) else KNeighborsRegressor
        out = base.__new__(base)
        out.__dict__.update(self.__dict__)
        return out


class ThreadedKNeighborsClassifier(ThreadedQueries, KNeighborsClassifier):
    pass


class ThreadedKNeighborsRegressor(ThreadedQueries, KNeighborsRegressor):
    pass


class KNNFamily(ModelFamily):
    name = "knn"
    capabilities = Capabilities(sample_weight=False)
    relative_cost = 2.0
    call_seconds = 3e-3
    seconds_per_distance = 2.5e-10    # one training row x one feature, per predicted row (calibrated)

    def predict_seconds(self, model) -> tuple[float, float]:
        """Per row: a distance to every training row, over the encoded features."""
        knn = getattr(model.steps[-1][1], "model_", None)
        if knn is None or not hasattr(knn, "n_samples_fit_"):
            return self.call_seconds, self.row_seconds
        return self.call_seconds, knn.n_samples_fit_ * knn.n_features_in_ * self.seconds_per_distance

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
        params = dict(params)
        params.pop("max_time", None)            # nothing to cut short (see the module docstring)

        cls = ThreadedKNeighborsClassifier if info.is_classification else ThreadedKNeighborsRegressor
        est = cls(n_jobs=info.n_jobs, **params)
        return Pipeline([(STEP_PREP, build_preprocessor(info.schema, "linear", seed=info.seed)),
                         (STEP_LEARNER, adapt(est, info))])

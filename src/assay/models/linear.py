"""Linear models on the "linear" preprocessing style (imputed, scaled, one-hot).

Classification: LogisticRegression, L2 with lbfgs by default; the search may pick
elastic net (saga). Regression: Ridge or ElasticNet, on a standardised target so
that the regularisation strength does not depend on the target's scale.
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from assay.features import build_preprocessor
from assay.models._common import STEP_LEARNER, STEP_PREP, adapt
from assay.models.base import Capabilities, ModelFamily, ProblemInfo


class LinearFamily(ModelFamily):
    name = "linear"
    capabilities = Capabilities(sample_weight=True, monotone=False)
    relative_cost = 0.3

    def default_configs(self, info: ProblemInfo) -> list[dict]:
        if info.is_classification:
            return [{"C": 1.0}, {"C": 0.1}]
        return [{"model": "ridge", "alpha": 1.0}, {"model": "ridge", "alpha": 10.0}]

    def search_space(self, trial, info: ProblemInfo) -> dict:
        p = f"{self.name}."
        if info.is_classification:
            params = {"C": trial.suggest_float(p + "C", 1e-3, 100.0, log=True)}
            # saga is slow on big tables; offer elastic net only where it stays cheap.
            if info.n_rows <= 50_000 and trial.suggest_categorical(p + "elasticnet", [False, True]):
                params["l1_ratio"] = trial.suggest_float(p + "l1_ratio", 0.05, 1.0)
            return params
        model = trial.suggest_categorical(p + "model", ["ridge", "elasticnet"])
        if model == "ridge":
            return {"model": model, "alpha": trial.suggest_float(p + "alpha", 1e-3, 1e3, log=True)}
        return {
            "model": model,
            "alpha": trial.suggest_float(p + "enet_alpha", 1e-4, 10.0, log=True),
            "l1_ratio": trial.suggest_float(p + "l1_ratio", 0.05, 1.0),
        }

    def build(self, params: dict, info: ProblemInfo):
        params = dict(params)
        if info.is_classification:
            from sklearn.linear_model import LogisticRegression

            l1 = params.pop("l1_ratio", 0.0)
            solver = dict(solver="saga", tol=1e-3, max_iter=300) if l1 > 0 else dict(solver="lbfgs", max_iter=1000)
            est = LogisticRegression(l1_ratio=l1, random_state=info.seed, **solver, **params)
        else:
            from sklearn.compose import TransformedTargetRegressor
            from sklearn.linear_model import ElasticNet, Ridge
            from sklearn.preprocessing import StandardScaler

            model = params.pop("model", "ridge")
            reg = Ridge(**params) if model == "ridge" else ElasticNet(max_iter=2000, random_state=info.seed, **params)
            est = TransformedTargetRegressor(regressor=reg, transformer=StandardScaler())
        return Pipeline([(STEP_PREP, build_preprocessor(info.schema, "linear", seed=info.seed)),
                         (STEP_LEARNER, adapt(est, info))])

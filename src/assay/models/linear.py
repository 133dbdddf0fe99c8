"""Linear models on the "linear" preprocessing style (imputed, scaled, one-hot).

Classification: LogisticRegression, L2 with lbfgs by default; the search may pick
elastic net (saga). Regression: Ridge or ElasticNet, on a standardised target so
that the regularisation strength does not depend on the target's scale.

Fit time allowance (`max_time`, from `info.extra["max_time"]` or a `max_time` param):
lbfgs and Ridge are fast and left alone. The iterative solvers for the L1 part --
saga (elastic-net logistic regression) and coordinate descent (ElasticNet) -- get
their `max_iter` capped, at build time, to the epochs that an estimate of their cost
(`rows x encoded columns x SECONDS_PER_CELL[solver]` per epoch, deliberately rough)
says fit in half the allowance. Where fewer than `MIN_EPOCHS` would fit, the
configuration falls back to its L2-only cousin: lbfgs logistic regression with the
same C, or Ridge with the elastic net's total penalty as an L2 one
(`alpha_ridge = n_rows * alpha`). `stopped_by_time_` on the learner is True after a
fallback, or when a capped solver used all its iterations.
"""

from __future__ import annotations

from assay.features import build_preprocessor
from assay.models._common import STEP_LEARNER, STEP_PREP, TimedPipeline, adapt, max_time_of
from assay.models.base import Capabilities, ModelFamily, ProblemInfo

SECONDS_PER_CELL = {"saga": 3e-8, "cd": 1e-8}     # per row x column x epoch, rough and pessimistic
MIN_EPOCHS = 20


def encoded_width(info: ProblemInfo) -> int:
    """About how many columns the "linear" preprocessing makes (one-hot categoricals)."""
    return max(1, sum(min(max(c.n_unique, 2), 100) if c.kind in ("categorical", "high_cardinality") else 1
                      for c in info.schema.features))


def epoch_budget(info: ProblemInfo, max_time: float | None, solver: str) -> int | None:
    """Epochs of `solver` that fit in half of `max_time` (None: unlimited)."""
    if max_time is None:
        return None
    per_epoch = max(1, info.n_rows) * encoded_width(info) * SECONDS_PER_CELL[solver]
    return int(0.5 * max_time / per_epoch)


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
        max_time = max_time_of(params, info)
        limited = ""
        if info.is_classification:
            from sklearn.linear_model import LogisticRegression

            l1 = params.pop("l1_ratio", 0.0)
            solver = dict(solver="saga", tol=1e-3, max_iter=300) if l1 > 0 else dict(solver="lbfgs", max_iter=1000)
            epochs = epoch_budget(info, max_time, "saga") if l1 > 0 else None
            if epochs is not None and epochs < MIN_EPOCHS:
                l1, solver, limited = 0.0, dict(solver="lbfgs", max_iter=1000), "fallback"
            elif epochs is not None and epochs < solver["max_iter"]:
                solver["max_iter"], limited = epochs, "capped"
            est = LogisticRegression(l1_ratio=l1, random_state=info.seed, **solver, **params)
        else:
            from sklearn.compose import TransformedTargetRegressor
            from sklearn.linear_model import ElasticNet, Ridge
            from sklearn.preprocessing import StandardScaler

            model = params.pop("model", "ridge")
            max_iter = 2000
            epochs = epoch_budget(info, max_time, "cd") if model != "ridge" else None
            if epochs is not None and epochs < MIN_EPOCHS:
                model, limited = "ridge", "fallback"
                params = {"alpha": max(1, info.n_rows) * params.get("alpha", 1.0)}
            elif epochs is not None and epochs < max_iter:
                max_iter, limited = epochs, "capped"
            reg = Ridge(**params) if model == "ridge" else \
                ElasticNet(max_iter=max_iter, random_state=info.seed, **params)
            est = TransformedTargetRegressor(regressor=reg, transformer=StandardScaler())
        return TimedPipeline([(STEP_PREP, build_preprocessor(info.schema, "linear", seed=info.seed)),
                              (STEP_LEARNER, adapt(est, info, time_limited=limited))])

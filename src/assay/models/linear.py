"""Linear models on the "linear" preprocessing style (imputed, scaled, one-hot).

Classification: LogisticRegression, L2 with lbfgs by default; the search may pick
elastic net (saga). Regression: Ridge or ElasticNet, on a standardised target so
that the regularisation strength does not depend on the target's scale.

Fit time allowance (`max_time`, from `info.extra["max_time"]` or a `max_time` param):
Ridge is one linear solve and left alone. The iterative solvers -- lbfgs and saga
(logistic regression) and coordinate descent (ElasticNet) -- get their `max_iter`
capped, at build time, to the iterations that an estimate of their cost (`rows x
encoded columns x margin columns x SECONDS_PER_CELL[solver]` per iteration, margin
columns = the classes for multiclass, else 1; deliberately rough) says fit in half the
allowance. Where fewer than `MIN_EPOCHS` would fit, an elastic net falls back to its
L2-only cousin: lbfgs logistic regression with the same C (itself capped), or Ridge
with the elastic net's total penalty as an L2 one (`alpha_ridge = n_rows * alpha`).
lbfgs has no cheaper cousin and keeps at least one iteration: a poor model that
finishes, which ensemble selection can leave out, instead of a trial killed at its
allowance (kddcup99, 370k rows x ~100 columns x 23 classes: about 7 s per lbfgs
iteration, against the 1000 it may take). `stopped_by_time_` on the learner is True
after a fallback, or when a capped solver used all its iterations.

Monotone constraints (`info.extra["monotone"]`, {raw numeric/boolean column: +1/-1};
binary classification and regression only): the model is then fit by L-BFGS-B on the
same L2-regularised objective (logistic: `sum(w_i * logloss_i) + ||coef||^2 / (2C)`;
ridge: `sum(w_i * r_i^2) / 2 + alpha * ||coef||^2 / 2` on the standardised target) with
the coefficients of the constrained features' standardised columns bounded to
[0, inf) (+1) or (-inf, 0] (-1) -- `BoundedLogisticRegression` / `BoundedRidge`.
Imputation and standardisation are increasing maps of the raw value, so the margin is
monotone in the raw feature. The missing-indicator column of a constrained feature is
left unconstrained: it only moves rows whose value is missing, which have no place on
the feature's axis. The search offers only L2 configurations then; an elastic-net
configuration is fit as its L2-only cousin (as in the time fallback above).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from assay.data.schema import BOOLEAN, MULTICLASS, NUMERIC
from assay.errors import OptionError
from assay.features import build_preprocessor
from assay.models._common import STEP_LEARNER, STEP_PREP, TimedPipeline, adapt, max_time_of
from assay.models.base import Capabilities, ModelFamily, ProblemInfo

# per row x column x margin column x iteration, rough and pessimistic (lbfgs: 8-9e-9
# measured on 20k rows of kddcup99, 79 columns, 17 classes, 2 busy cores)
SECONDS_PER_CELL = {"saga": 3e-8, "cd": 1e-8, "lbfgs": 1e-8}
LBFGS_MAX_ITER = 1000
MIN_EPOCHS = 20


def encoded_width(info: ProblemInfo) -> int:
    """About how many columns the "linear" preprocessing makes (one-hot categoricals)."""
    return max(1, sum(min(max(c.n_unique, 2), 100) if c.kind in ("categorical", "high_cardinality") else 1
                      for c in info.schema.features))


def epoch_budget(info: ProblemInfo, max_time: float | None, solver: str) -> int | None:
    """Epochs (iterations) of `solver` that fit in half of `max_time` (None: unlimited)."""
    if max_time is None:
        return None
    margins = info.n_classes if info.task == MULTICLASS else 1
    per_epoch = max(1, info.n_rows) * encoded_width(info) * margins * SECONDS_PER_CELL[solver]
    return int(0.5 * max_time / per_epoch)


class LinearFamily(ModelFamily):
    name = "linear"
    capabilities = Capabilities(sample_weight=True, monotone=True)
    relative_cost = 0.3
    call_seconds = 2e-4
    row_seconds = 2e-7

    def default_configs(self, info: ProblemInfo) -> list[dict]:
        if info.is_classification:
            return [{"C": 1.0}, {"C": 0.1}]
        return [{"model": "ridge", "alpha": 1.0}, {"model": "ridge", "alpha": 10.0}]

    def search_space(self, trial, info: ProblemInfo) -> dict:
        p = f"{self.name}."
        if info.is_classification:
            params = {"C": trial.suggest_float(p + "C", 1e-3, 100.0, log=True)}
            if info.extra.get("monotone"):      # sign-bounded fits are L2 only
                return params
            # saga is slow on big tables; offer elastic net only where it stays cheap.
            if info.n_rows <= 50_000 and trial.suggest_categorical(p + "elasticnet", [False, True]):
                params["l1_ratio"] = trial.suggest_float(p + "l1_ratio", 0.05, 1.0)
            return params
        if info.extra.get("monotone"):
            return {"model": "ridge", "alpha": trial.suggest_float(p + "alpha", 1e-3, 1e3, log=True)}
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
        if info.extra.get("monotone"):
            return self._build_monotone(params, info)
        limited = ""
        if info.is_classification:
            from sklearn.linear_model import LogisticRegression

            l1 = params.pop("l1_ratio", 0.0)
            solver = dict(solver="saga", tol=1e-3, max_iter=300) if l1 > 0 else \
                dict(solver="lbfgs", max_iter=LBFGS_MAX_ITER)
            epochs = epoch_budget(info, max_time, "saga") if l1 > 0 else None
            if epochs is not None and epochs < MIN_EPOCHS:
                l1, solver, limited = 0.0, dict(solver="lbfgs", max_iter=LBFGS_MAX_ITER), "fallback"
            elif epochs is not None and epochs < solver["max_iter"]:
                solver["max_iter"], limited = epochs, "capped"
            if solver["solver"] == "lbfgs":
                iters = epoch_budget(info, max_time, "lbfgs")
                if iters is not None and iters < solver["max_iter"]:
                    solver["max_iter"], limited = max(1, iters), limited or "capped"
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

    def _build_monotone(self, params: dict, info: ProblemInfo):
        """Sign-bounded L2 models (see the module docstring)."""
        if info.task == MULTICLASS:
            raise OptionError("monotone constraints apply to binary classification and regression")
        signs = monotone_signs(info)
        if info.is_classification:
            est = BoundedLogisticRegression(C=float(params.get("C", 1.0)), signs=signs)
        else:
            from sklearn.compose import TransformedTargetRegressor
            from sklearn.preprocessing import StandardScaler

            alpha = float(params.get("alpha", 1.0))
            if params.get("model", "ridge") != "ridge":     # elastic net -> its L2-only cousin
                alpha = max(1, info.n_rows) * alpha
            est = TransformedTargetRegressor(regressor=BoundedRidge(alpha=alpha, signs=signs),
                                             transformer=StandardScaler())
        return TimedPipeline([(STEP_PREP, build_preprocessor(info.schema, "linear", seed=info.seed)),
                              (STEP_LEARNER, adapt(est, info))])


def monotone_signs(info: ProblemInfo) -> dict[int, int]:
    """{encoded column index: +1/-1} for `info.extra["monotone"]` under the "linear" style:
    its first block is the numeric/boolean columns, imputed (every column kept) and
    standardised, in schema order; their missing indicators come after them."""
    num = info.schema.of_kind(NUMERIC, BOOLEAN)
    out = {}
    for col, direction in (info.extra.get("monotone") or {}).items():
        if col not in num:
            raise ValueError(f"monotone constraint on {col!r}, not a numeric feature of the schema")
        out[num.index(col)] = int(direction)
    return out


def _fit_bounded(X, y, sample_weight, alpha: float, signs: dict, loss: str, max_iter: int, tol: float):
    """Minimise `(sum_i w_i loss_i + alpha/2 ||coef||^2) / sum(w)` by L-BFGS-B with sign
    bounds on the coefficients in `signs` (the intercept is free and not penalised)."""
    from scipy.optimize import minimize
    from scipy.special import expit

    n, p = X.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    total = max(float(w.sum()), 1e-12)

    def objective(theta):
        coef, b = theta[:p], theta[p]
        z = np.asarray(X @ coef).ravel() + b
        if loss == "logistic":
            value = w * (np.logaddexp(0.0, z) - y * z)
            g = w * (expit(z) - y)
        else:
            r = z - y
            value, g = 0.5 * w * r * r, w * r
        f = (value.sum() + 0.5 * alpha * coef @ coef) / total
        grad = np.empty(p + 1)
        grad[:p] = (np.asarray(X.T @ g).ravel() + alpha * coef) / total
        grad[p] = g.sum() / total
        return f, grad

    bounds = [(0.0, None) if signs.get(j) == 1 else (None, 0.0) if signs.get(j) == -1 else (None, None)
              for j in range(p)] + [(None, None)]
    theta0 = np.zeros(p + 1)
    if loss == "logistic":
        m = np.clip(np.average(y, weights=w), 1e-6, 1 - 1e-6)
        theta0[p] = np.log(m / (1 - m))
    else:
        theta0[p] = np.average(y, weights=w)
    res = minimize(objective, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": max_iter, "gtol": tol})
    theta = res.x
    for j, d in signs.items():                   # exactly on the right side of zero
        theta[j] = max(theta[j], 0.0) if d == 1 else min(theta[j], 0.0)
    return theta[:p], float(theta[p]), int(res.nit)


def _matrix(X):
    if hasattr(X, "tocsr"):
        return X.tocsr().astype(np.float64)
    return np.asarray(X, dtype=np.float64)


class BoundedLogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary L2 logistic regression (sklearn's objective with `C`) whose coefficients
    `signs` ({column index: +1/-1}) are bounded to be >= 0 / <= 0: the log-odds are then
    monotone in those columns. `coef_` (1, p) and `intercept_` (1,) as in sklearn."""

    def __init__(self, C: float = 1.0, signs: dict | None = None, max_iter: int = 1000, tol: float = 1e-6):
        self.C = C
        self.signs = signs
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y, sample_weight=None):
        X, y = _matrix(X), np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"BoundedLogisticRegression is binary; got {len(self.classes_)} classes")
        coef, b, self.n_iter_ = _fit_bounded(X, (y == self.classes_[1]).astype(float), sample_weight,
                                             1.0 / self.C, dict(self.signs or {}), "logistic",
                                             self.max_iter, self.tol)
        self.coef_, self.intercept_ = coef[None, :], np.array([b])
        return self

    def decision_function(self, X):
        return np.asarray(_matrix(X) @ self.coef_[0]).ravel() + self.intercept_[0]

    def predict_proba(self, X):
        from scipy.special import expit

        p1 = expit(self.decision_function(X))
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


class BoundedRidge(RegressorMixin, BaseEstimator):
    """Ridge (`sum(w_i r_i^2) + alpha ||coef||^2`, as sklearn's) with the coefficients
    `signs` ({column index: +1/-1}) bounded to be >= 0 / <= 0."""

    def __init__(self, alpha: float = 1.0, signs: dict | None = None, max_iter: int = 2000, tol: float = 1e-7):
        self.alpha = alpha
        self.signs = signs
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y, sample_weight=None):
        X, y = _matrix(X), np.asarray(y, dtype=float).ravel()
        self.coef_, self.intercept_, self.n_iter_ = _fit_bounded(
            X, y, sample_weight, float(self.alpha), dict(self.signs or {}), "squared", self.max_iter, self.tol)
        return self

    def predict(self, X):
        return np.asarray(_matrix(X) @ self.coef_).ravel() + self.intercept_

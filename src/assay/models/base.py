"""The model-family extension point.

A family is one small object that says what it can do and how to build an
estimator for a configuration. Adding a family = one file in this package +
one line in `registry.py`; `tests/models/test_family_conformance.py` then runs
it through the shared checks.

Contract of `build(params, info)`: returns an *unfitted* scikit-learn estimator
(usually a Pipeline of `assay.features.build_preprocessor(info.schema, style)`
and the learner) that accepts the raw feature DataFrame (columns =
`info.schema.feature_names`, dtypes as after `assay.data.validate`), and an
encoded target (classification: integers 0..K-1; regression: float).
Classifiers expose `predict_proba` with K columns in class order 0..K-1;
regressors expose `predict`. The estimator must be picklable and must not
touch global random state (use `info.seed`). Boosters do their own early
stopping on an inner split of whatever they are fit on.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from typing import Any

from assay.data.schema import BINARY, MULTICLASS, REGRESSION, Schema


@dataclass(frozen=True)
class Capabilities:
    gpu: bool = False
    sample_weight: bool = True
    monotone: bool = False
    differentially_private: bool = False
    differentiable: bool = False
    native_categorical: bool = False


@dataclass
class ProblemInfo:
    """What a family needs to know about the problem to size its space and build."""

    schema: Schema
    n_rows: int                 # rows the estimator will be fit on (about)
    seed: int = 0
    n_jobs: int = 1
    device: str = "cpu"         # "cpu" or "cuda"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return self.schema.task

    @property
    def n_classes(self) -> int:
        return len(self.schema.classes or [])

    @property
    def n_features(self) -> int:
        return len(self.schema.features)

    @property
    def is_classification(self) -> bool:
        return self.task in (BINARY, MULTICLASS)


class ModelFamily:
    """Base class: subclass, set the class attributes, implement the three methods."""

    name: str = ""
    task_types: frozenset = frozenset({BINARY, MULTICLASS, REGRESSION})
    capabilities: Capabilities = Capabilities()
    requires: tuple[str, ...] = ()   # importable modules the family needs
    extra: str = ""                  # pip extra that installs them
    relative_cost: float = 1.0       # rough fit cost vs a default LightGBM (search ordering)
    call_seconds: float = 5e-4       # one predict call of one fitted model, before any row (pruning)
    row_seconds: float = 5e-6        # per row, where `predict_seconds` has no structural estimate

    def is_available(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    def supports(self, task: str) -> bool:
        return task in self.task_types

    def default_configs(self, info: ProblemInfo) -> list[dict]:
        """Good configurations to try first, best guess first. Must not be empty."""
        raise NotImplementedError

    def first_configs(self, info: ProblemInfo) -> list[dict]:
        """What the search tries first: the family's `reference_configs`, then the offline
        portfolio's configurations for this family and task (models/portfolio.py) where there
        are some, else `default_configs`."""
        from assay.models.portfolio import portfolio_configs

        ref = self.reference_configs(info)
        rest = portfolio_configs(self.name, info.task) or self.default_configs(info)
        return ref + [c for c in rest if c not in ref]

    def leads_search(self, info: ProblemInfo) -> bool:
        """Whether this family's first configuration runs right after the first reference
        (LightGBM's defaults), ahead of the other references and every other family's
        (`search.tuner._default_queue`): for a problem where the family is expected to be
        both stronger and much cheaper than the boosters the search starts with. False by
        default."""
        return False

    def reference_configs(self, info: ProblemInfo) -> list[dict]:
        """Configurations always tried first, whatever the portfolio says: a library's own
        defaults where users measure assay against them (a search that loses to them is not
        good enough). None by default."""
        return []

    def search_space(self, trial, info: ProblemInfo) -> dict:
        """Sample a configuration with an Optuna trial. Parameter names must be
        prefixed with the family name (e.g. ``lightgbm.num_leaves``) so that
        families do not collide in one study; return them *without* the prefix."""
        raise NotImplementedError

    def build(self, params: dict, info: ProblemInfo):
        """Return an unfitted estimator (see module docstring)."""
        raise NotImplementedError

    def estimate_memory_mb(self, params: dict, info: ProblemInfo) -> float:
        """Rough peak memory of fitting one configuration, checked before the trial starts
        (a trial estimated above the memory limit is skipped, not started). Default: the
        worker (~250 MB of libraries) plus a few working copies of the data as float64
        (the fold split, the preprocessed matrix, the learner's own binned copy)."""
        return 250.0 + 4 * info.n_rows * max(1, info.n_features) * 8 / 2**20

    def thin_fold_models(self, fold_models: list, per_split: int | None = None) -> list:
        """The fitted fold models of a configuration kept as they are in the final model
        (small data keeps its bags; elsewhere the refit did not fit the budget). A family
        whose models average many independent parts may shrink each fold model so that the
        models of one k-fold split (`per_split` = k; all of them by default) together cost
        about one model's prediction time. Unchanged by default."""
        return fold_models

    def thin_member(self, models: list, share: float) -> list:
        """The models of an ensemble member whose weight is `share` (in (0, 1]) of the top
        member's, shrunk for speed (`assay.ensemble.build.thin_by_weight`): a bag of fold
        models keeps its first ceil(share x n) of them (whole k-fold splits come first). A
        single model is kept as it is; a family whose model averages independent parts (a
        forest's trees) may shrink it the same way."""
        if len(models) < 2 or share >= 1.0:
            return models
        return models[: max(1, math.ceil(share * len(models)))]

    def predict_seconds(self, model) -> tuple[float, float]:
        """(seconds per call, seconds per row) that one fitted model of this family is expected
        to take to predict, from its structure (a tree ensemble: its trees and their depth),
        as compiled for the final ensemble (`compile_member`). What speed-aware ensemble
        pruning compares (`assay.ensemble.build.select_members`): estimated, not timed, so that
        a seed selects the same ensemble on a busy machine as on an idle one. The constants
        are fitted by `benchmarks/predict_cost_calibration.py`. Default: the family's static
        `call_seconds` and `row_seconds`."""
        return self.call_seconds, self.row_seconds

    def member_seconds(self, call_s: float, row_s: float, n_models: int, per_split: int, rows: int) -> float:
        """Estimated seconds a final member of `n_models` fitted models (each costing
        `call_s` + `row_s` per row) takes to score `rows` rows. `per_split` is the number of
        fold models in one k-fold split, for a family whose `thin_fold_models` shrinks them."""
        return n_models * (call_s + rows * row_s)

    def refit_params(self, params: dict, fold_models: list, row_ratio: float = 1.0) -> dict:
        """The configuration a member is refit with on all rows (`ensemble.build`), given
        its fitted cross-validation fold models and how many times their training rows the
        refit sees (`row_ratio`, k/(k-1)): a family that early-stops may fix the rounds its
        folds chose, scaled to the rows, instead of choosing again. Unchanged by default."""
        return params

    def compile_member(self, models: list) -> list:
        """The fitted models of a final ensemble member, made ready to predict fast (called
        once, by `assay.ensemble.build.compile_members` at the end of `assemble`); a family whose prediction has a faster
        form than its fit's (HistGradientBoosting's trees in one LightGBM Booster) switches
        to it here. By default the models are kept as they are."""
        return models

    def __repr__(self) -> str:
        return f"<family {self.name}>"

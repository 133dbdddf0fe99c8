"""The final model: a weighted ensemble of members, combined in margin space.

A member is one configuration either refit on all training rows ("full") or
kept as its cross-validation fold models ("folds", averaged in margin space,
which keeps the ensemble margin a linear combination of model margins).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from assay.ensemble.space import combine, from_margin, to_margin
from assay.search.trial import predict_output


@dataclass
class Member:
    trial_id: int
    family: str
    params: dict
    weight: float
    estimators: list = field(default_factory=list)
    kind: str = "folds"            # "full" | "folds"

    def margin(self, X, task: str) -> np.ndarray:
        ms = [to_margin(predict_output(e, X, task), task) for e in self.estimators]
        return ms[0] if len(ms) == 1 else np.mean(ms, axis=0)

    @property
    def name(self) -> str:
        return f"{self.family}#{self.trial_id}"


@dataclass
class EnsembleModel:
    task: str
    n_classes: int
    members: list[Member]
    offsets: np.ndarray | None = None   # label rule for threshold metrics (ensemble/decision.py)

    def predict_margin(self, X) -> np.ndarray:
        if len(X) == 0:
            shape = (0,) if self.task in ("regression", "binary") else (0, self.n_classes)
            return np.zeros(shape)
        from assay.features.pipeline import shared_preparation

        with shared_preparation():       # members' preprocessors normalise X's dtypes once
            margins = [m.margin(X, self.task) for m in self.members]
        return combine(margins, [m.weight for m in self.members])

    def predict_output(self, X) -> np.ndarray:
        """Probabilities (n, K) for classification, values (n,) for regression."""
        if len(X) == 0 and self.task != "regression":
            return np.zeros((0, self.n_classes))
        return from_margin(self.predict_margin(X), self.task)

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """Class codes from `predict_output` probabilities (argmax, or the tuned rule)."""
        from assay.ensemble.decision import decide

        return decide(proba, getattr(self, "offsets", None))

    def member_alone(self, trial_id: int) -> "EnsembleModel":
        """The member from trial `trial_id` as a model of its own (weight 1, the same fitted
        models): what `run.predict(..., model=NAME)` uses for a family's best trial when the
        ensemble holds it."""
        m = next(m for m in self.members if m.trial_id == trial_id)
        return EnsembleModel(self.task, self.n_classes,
                             [Member(m.trial_id, m.family, m.params, 1.0, m.estimators, m.kind)])

    def describe(self) -> list[dict]:
        return [{"member": m.name, "family": m.family, "trial": m.trial_id,
                 "weight": round(float(m.weight), 6), "fit": m.kind,
                 "n_models": len(m.estimators)} for m in self.members]

"""What the search remembers about each trial (the leaderboard's rows)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np


@dataclass
class TrialRecord:
    trial_id: int
    family: str
    params: dict
    source: str                     # "default" | "tpe" | "random" | "baseline"
    status: str                     # "ok" | "timeout" | "memory" | "crashed" | "error" | "interrupted"
    value: float = float("nan")     # CV metric as users read it
    score: float = float("-inf")    # higher is better
    fit_seconds: float = float("nan")
    predict_rows_per_s: float = float("nan")
    predict_cost: tuple = (float("nan"), float("nan"))  # one fitted model's (call s, row s), estimated
    elapsed: float = 0.0            # wall time of the trial, process start included
    peak_rss_mb: float = float("nan")
    error: str = ""
    oof: np.ndarray | None = field(default=None, repr=False)
    model_path: str | None = None
    repeats: int = 1                # fold splits cross-validated (search/repeats.py); oof is their mean

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def name(self) -> str:
        if self.source in ("baseline", "distillation"):
            return self.family
        return f"{self.family}#{self.trial_id}"

    def row(self) -> dict:
        return {
            "trial": self.trial_id,
            "model": self.name,
            "family": self.family,
            "source": self.source,
            "status": self.status,
            "score": self.value,
            "fit_s": round(self.fit_seconds, 3) if np.isfinite(self.fit_seconds) else None,
            "predict_rows_per_s": round(self.predict_rows_per_s) if np.isfinite(self.predict_rows_per_s) else None,
            "trial_s": round(self.elapsed, 3),
            "splits": self.repeats,
            "peak_mb": round(self.peak_rss_mb, 1) if np.isfinite(self.peak_rss_mb) else None,
            "params": json.dumps(self.params, sort_keys=True, default=str),
            "error": self.error.strip().splitlines()[0][:300] if self.error else "",
        }


def best_per_family(records) -> list[TrialRecord]:
    """The best-scoring record of each family, best first."""
    best: dict[str, TrialRecord] = {}
    for r in sorted(records, key=lambda r: -r.score):
        best.setdefault(r.family, r)
    return list(best.values())

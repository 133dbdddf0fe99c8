"""FitConfig: every option of a fit in one object (no 55-argument fit())."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from assay.errors import OptionError

SEARCHERS = ("tpe", "random", "cmaes")
PRUNERS = ("median", "hyperband", "none")
REFIT = ("auto", "full", "folds")


@dataclass
class FitConfig:
    time_limit: float | None = 60.0      # seconds for the whole fit; None = no limit (needs max_trials)
    max_trials: int | None = None        # cap on search trials (defaults included)
    task: str | None = None              # binary | multiclass | regression; None = infer
    metric: str | None = None            # None = task default
    families: list[str] | None = None    # None = every installed family for the task
    search: str = "tpe"                  # tpe | random | cmaes
    pruner: str = "median"               # stop bad trials after a fold: median | hyperband | none
    stack: str = "auto"                  # second layer (ensemble/stacking.py): auto | on | off
    distill: bool = False                # also fit one LightGBM on the ensemble's soft targets
    device: str = "auto"                 # auto (CUDA where a GPU is present) | cpu | cuda
    n_folds: int | None = None           # None = by data size (5 / 3 / holdout)
    bag_repeats: int | None = None       # fold splits per ensemble member (search/repeats.py); None = auto
    seed: int = 0
    n_jobs: int | None = None            # threads per trial; None = all cores
    trial_time_limit: float | None = None  # hard cap per trial (s); None = what the budget leaves
    memory_limit_mb: float | None = None   # per trial; None = 75% of available memory
    ensemble_size: int = 40              # greedy selection rounds
    speed_tolerance: float = 0.001       # drop slow members adding less than this (relative) to the CV score
    refit: str = "auto"                  # auto | full | folds
    verbosity: int = 1                   # 0 quiet, 1 progress, 2 verbose logs
    monotone: dict[str, int] | None = None  # {raw column: +1 / -1}; only monotone-capable families
    sensitive: list[str] | None = None   # sensitive columns: kept out of the features, recorded for audits
    allow_sensitive_features: bool = False  # ... unless this is set
    fairness: str | None = None          # e.g. "equalized_odds<=0.05": NSGA-II over (metric, disparity)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.time_limit is not None:
            if not (self.time_limit > 0):
                raise OptionError(f"time limit must be positive seconds, got {self.time_limit}")
        if self.max_trials is not None and self.max_trials < 1:
            raise OptionError(f"max trials must be at least 1, got {self.max_trials}")
        if self.search not in SEARCHERS:
            raise OptionError(f"unknown search {self.search!r}; choose from: {', '.join(SEARCHERS)}")
        from assay.compute.devices import DEVICES

        if self.device not in DEVICES:
            raise OptionError(f"unknown device {self.device!r}; choose from: {', '.join(DEVICES)}")
        if self.stack not in ("auto", "on", "off"):
            raise OptionError(f"unknown stack {self.stack!r}; choose from: auto, on, off")
        if self.pruner not in PRUNERS:
            raise OptionError(f"unknown pruner {self.pruner!r}; choose from: {', '.join(PRUNERS)}")
        if self.refit not in REFIT:
            raise OptionError(f"unknown refit {self.refit!r}; choose from: {', '.join(REFIT)}")
        if not (0.0 <= self.speed_tolerance < 1.0):
            raise OptionError(f"speed tolerance must be in [0, 1), got {self.speed_tolerance}")
        if self.n_folds is not None and self.n_folds < 2:
            raise OptionError(f"n_folds must be at least 2, got {self.n_folds}")
        if self.bag_repeats is not None and self.bag_repeats < 1:
            raise OptionError(f"bag repeats must be at least 1 (1 = no repeats), got {self.bag_repeats}")
        if self.monotone is not None:
            self.monotone = _monotone_values(self.monotone)
        if self.sensitive is not None or self.fairness is not None:
            from assay.fairness.groups import parse_constraint, sensitive_list

            self.sensitive = sensitive_list(self.sensitive) or None
            if self.fairness is not None:
                parse_constraint(self.fairness)
                if not self.sensitive:
                    raise OptionError("a fairness constraint needs the sensitive columns "
                                      "(--sensitive, e.g. --sensitive sex)")
        if self.time_limit is None and self.max_trials is None:
            raise OptionError("give a time limit or a maximum number of trials (or both)")

    @property
    def threads(self) -> int:
        """Threads per trial: `n_jobs`, or the cores free right now (assay.compute.cores)."""
        if self.n_jobs:
            return self.n_jobs
        from assay.compute.cores import free_cores

        return free_cores()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FitConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _monotone_values(monotone) -> dict | None:
    """Check the directions of `monotone` ({column: +1 / -1}); the columns are checked
    against the schema in `assay.fit` (`assay.models.registry.check_monotone`)."""
    if not isinstance(monotone, dict):
        raise OptionError(f"monotone must be a mapping {{column: +1 or -1}}, got {type(monotone).__name__}")
    out = {}
    for col, d in monotone.items():
        if isinstance(d, bool) or d not in (1, -1):
            raise OptionError(f"monotone direction for {col!r} must be +1 (increasing) or -1 (decreasing), "
                              f"got {d!r}")
        out[col] = int(d)
    return out or None

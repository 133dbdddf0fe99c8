"""The time budget: one clock for the whole fit, so a limit of N seconds is kept."""

from __future__ import annotations

import time

# The finishing phase keeps at least / at most these shares of the limit once the search
# has an estimate of what it needs (`Budget.finish_estimate`).
MIN_FINISH_SHARE = 0.05
MAX_FINISH_SHARE = 0.35


def full_rows_ratio(n_folds: int) -> float:
    """How many times a fold model's training rows a refit on all rows sees: k/(k-1) for k
    folds (1 without cross-validation)."""
    return n_folds / (n_folds - 1) if n_folds > 1 else 1.0


def refit_seconds(fit_seconds: float, n_models: int, n_folds: int) -> float:
    """Estimated seconds to refit on all rows a configuration whose `n_models` fold models
    took `fit_seconds` together: a full fit sees `full_rows_ratio` times a fold's rows and
    fits are roughly linear in rows; 30% and a second of margin."""
    per_fold = fit_seconds / max(1, n_models)
    return per_fold * full_rows_ratio(n_folds) * 1.3 + 1.0


class Budget:
    """Splits a time limit into a search phase and a finishing phase (stacker, ensemble,
    refits, save).

    `t0` is when the user's call started (time.monotonic()), so reading and
    validating the data count against the limit too. Until the search sets
    `finish_estimate` (seconds it expects the finishing phase to need, from the fit times
    of its best trials), the finishing phase keeps the fixed share 1 - `search_fraction`;
    after that, the estimate within [MIN_FINISH_SHARE, MAX_FINISH_SHARE] of the limit, so
    a search whose refits are cheap searches longer and one whose refits are slow stops in
    time to refit.
    """

    def __init__(self, time_limit: float | None, t0: float | None = None, search_fraction: float = 0.85):
        self.time_limit = time_limit
        self.t0 = time.monotonic() if t0 is None else t0
        self.search_fraction = search_fraction
        self.finish_estimate: float | None = None
        self.repeat_share = 0.0     # of the limit kept after the search for bagging repeats

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def total_left(self) -> float:
        if self.time_limit is None:
            return float("inf")
        return self.time_limit - self.elapsed()

    def search_left(self, with_repeats: bool = False) -> float:
        """Seconds left for search trials; `with_repeats`: for the bagging repeats that
        follow the search (search/repeats.py), which may use `repeat_share` of the limit too."""
        if self.time_limit is None:
            return float("inf")
        reserve = 0.0 if with_repeats else self.repeat_share * self.time_limit
        return self.time_limit - self.finish_reserve() - reserve - self.elapsed()

    def finish_reserve(self) -> float:
        """Seconds of the limit kept for the finishing phase (at least one): the estimate
        plus what `finish_left` holds back for writing the Run, within the share bounds."""
        if self.time_limit is None:
            return 0.0
        if self.finish_estimate is None:
            return max(1.0, (1 - self.search_fraction) * self.time_limit)
        low = max(1.0, MIN_FINISH_SHARE * self.time_limit)
        need = self.finish_estimate + self.write_reserve()
        return min(max(low, MAX_FINISH_SHARE * self.time_limit), max(low, need))

    def write_reserve(self) -> float:
        """Seconds kept after the refits for writing the Run: 3% of the limit, at least 0.5.
        The reserve counts it on top of the estimate: without it, at 300 s, the 9 s it
        holds back came out of the refits' time, and adult's CatBoost member (refit
        estimated at 24 s) was left as its fold models with 19 s of the limit unused."""
        return 0.0 if self.time_limit is None else max(0.5, 0.03 * self.time_limit)

    def finish_left(self) -> float:
        """Time left for refits, keeping `write_reserve` for writing the Run."""
        if self.time_limit is None:
            return float("inf")
        return self.total_left() - self.write_reserve()

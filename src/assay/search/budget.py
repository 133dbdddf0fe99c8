"""The time budget: one clock for the whole fit, so a limit of N seconds is kept."""

from __future__ import annotations

import time


class Budget:
    """Splits a time limit into a search phase and a finishing phase (ensemble, refit, save).

    `t0` is when the user's call started (time.monotonic()), so reading and
    validating the data count against the limit too.
    """

    def __init__(self, time_limit: float | None, t0: float | None = None, search_fraction: float = 0.85):
        self.time_limit = time_limit
        self.t0 = time.monotonic() if t0 is None else t0
        self.search_fraction = search_fraction

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def total_left(self) -> float:
        if self.time_limit is None:
            return float("inf")
        return self.time_limit - self.elapsed()

    def search_left(self) -> float:
        if self.time_limit is None:
            return float("inf")
        # the finishing phase keeps a share of the limit, at least one second
        reserve = max(1.0, (1 - self.search_fraction) * self.time_limit)
        return self.time_limit - reserve - self.elapsed()

    def finish_left(self) -> float:
        """Time left for refits, keeping a little for writing the Run."""
        if self.time_limit is None:
            return float("inf")
        return self.total_left() - max(0.5, 0.03 * self.time_limit)

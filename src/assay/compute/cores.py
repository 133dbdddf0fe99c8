"""How many threads a trial should use: the cores this process may run on, less the
cores other programs keep busy.

Why: the boosters (LightGBM, XGBoost, HistGradientBoosting) parallelise with OpenMP,
whose threads wait for each other at every round. When other programs already use the
cores, those waits stretch into scheduler time slices: measured on a 2-core machine at a
load of 8, a HistGradientBoosting fit on 1,728 rows took 15 s with 2 threads and 0.55 s
with 1. So with `n_jobs` unset, assay asks for the cores that are free right now (the
one-minute load average rounded, taken off the usable cores, at least one).

Scoring is a burst of milliseconds, for which the one-minute average says more about the
past than the present (just after a fit it still counts the fit's two busy cores), so
`predict_threads` counts what is runnable at this instant instead (`/proc/loadavg`'s
running-entities field, less this process's own running threads), where the system has one.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def free_cores(now: bool = False) -> int:
    """Usable cores less the busy ones: the one-minute load average, or with `now` the
    entities runnable at this instant besides the caller (falling back to the average)."""
    cores = usable_cores()
    busy = _runnable_others() if now else None
    if busy is None:
        try:
            busy = int(os.getloadavg()[0] + 0.5)
        except (AttributeError, OSError):     # no load average (Windows)
            return cores
    return max(1, min(cores, cores - busy))


def _runnable_others(path: str = "/proc/loadavg") -> int | None:
    """Threads runnable right now outside this process (Linux), else None. This process's
    own are left out: the reader, and OpenMP workers still spinning after the previous
    member's scoring would otherwise count as another program's load."""
    try:
        with open(path) as fh:
            running = int(fh.read().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None
    return max(0, running - _own_running_threads())


def _own_running_threads() -> int:
    own = 0
    try:
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as fh:
                    own += fh.read().rpartition(")")[2].split()[0] == "R"
            except OSError:              # the thread ended meanwhile
                pass
    except OSError:
        return 1
    return max(1, own)


def predict_threads(n_rows: int, n_jobs: int | None, small: int = 256) -> int:
    """Threads for scoring `n_rows`: one for a few rows (waking an OpenMP team costs more
    than scoring them), else `n_jobs` capped at the cores free at this instant."""
    if n_rows <= small:
        return 1
    return max(1, min(int(n_jobs or usable_cores()), free_cores(now=True)))


_CONTROLLER = None


def openmp_threads(n: int):
    """A context manager that limits OpenMP (scikit-learn's HistGradientBoosting) to `n`
    threads. threadpoolctl's `threadpool_limits` scans the loaded libraries on every call
    (about 4 ms, more than scoring a few hundred rows); one controller, made on first use
    (after scikit-learn's OpenMP runtime is loaded), is reused."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=n, user_api="openmp")

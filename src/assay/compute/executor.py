"""One executor interface for every path that runs work.

`LocalProcessExecutor` runs each call in a fresh process forked from a clean
fork server (heavy libraries pre-imported once, no OpenMP state inherited), with
a hard wall-clock limit and a resident-memory limit. A call that crashes, hangs,
is killed or exhausts memory comes back as a failed `TaskResult`; the caller
goes on. Other executors (Dask, GPU) implement the same `run` method.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
import warnings
from dataclasses import dataclass
from typing import Any, Callable

OK, TIMEOUT, MEMORY, CRASHED, ERROR, INTERRUPTED = (
    "ok", "timeout", "memory", "crashed", "error", "interrupted")

_PRELOAD = ["assay.compute.preload"]


@dataclass
class TaskResult:
    status: str
    value: Any = None
    error: str = ""
    elapsed: float = 0.0
    peak_rss_mb: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == OK


class Executor:
    """Runs `fn(*args)` somewhere else and reports how it went."""

    def run(self, fn: Callable, args: tuple, *, timeout: float | None,
            memory_limit_mb: float | None = None) -> TaskResult:
        raise NotImplementedError

    def shutdown(self) -> None:
        pass


def _child(conn, fn, args):
    # The parent handles Ctrl-C; a child dies quietly with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # library warnings from inside a trial would interleave with the progress display;
    # what matters (failures) comes back in the result
    warnings.simplefilter("ignore")
    try:
        value = fn(*args)
        conn.send((OK, value, ""))
    except MemoryError:
        conn.send((MEMORY, None, "MemoryError"))
    except BaseException as e:  # noqa: BLE001 - report anything, parent decides
        tb = traceback.format_exc(limit=6)
        conn.send((ERROR, None, f"{type(e).__name__}: {e}\n{tb}"))
    finally:
        conn.close()


def _rss_mb(pid: int) -> float:
    import psutil

    try:
        p = psutil.Process(pid)
        total = p.memory_info().rss
        for c in p.children(recursive=True):
            try:
                total += c.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20
    except psutil.Error:
        return 0.0


def default_memory_limit_mb() -> float:
    import psutil

    return 0.75 * psutil.virtual_memory().available / 2**20


class LocalProcessExecutor(Executor):
    poll_interval = 0.05

    def __init__(self, preload: list[str] | None = None):
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        # A worker killed at its time limit may leave a semaphore for multiprocessing's
        # resource tracker to clean up; it does, but warns at exit. The option only reaches
        # the interpreters multiprocessing starts (the tracker), not this one.
        quiet = "ignore:resource_tracker:UserWarning"
        if quiet not in sys.warnoptions:
            sys.warnoptions.append(quiet)
        self._ctx = mp.get_context(method)
        if method == "forkserver":
            self._ctx.set_forkserver_preload(preload if preload is not None else _PRELOAD)

    def run(self, fn, args, *, timeout=None, memory_limit_mb=None) -> TaskResult:
        recv, send = self._ctx.Pipe(duplex=False)
        # not a daemon: joblib (forests, k-NN) refuses to use threads inside daemonic workers;
        # the worker is always killed and joined below, so none outlives its call
        proc = self._ctx.Process(target=_child, args=(send, fn, args), daemon=False)
        t0 = time.monotonic()
        with _without_main_reimport():
            proc.start()
        send.close()
        peak = 0.0
        status, value, error = None, None, ""
        try:
            while True:
                if recv.poll(self.poll_interval):
                    try:
                        status, value, error = recv.recv()
                    except (EOFError, OSError):
                        status, error = CRASHED, _exit_reason(proc)
                    break
                if not proc.is_alive():
                    # it may have sent just before exiting
                    if recv.poll(0):
                        continue
                    status, error = CRASHED, _exit_reason(proc)
                    break
                elapsed = time.monotonic() - t0
                if timeout is not None and elapsed > timeout:
                    status, error = TIMEOUT, f"exceeded its time limit of {timeout:.1f} s"
                    break
                if memory_limit_mb is not None:
                    rss = _rss_mb(proc.pid)
                    peak = max(peak, rss)
                    if rss > memory_limit_mb:
                        status, error = MEMORY, (
                            f"used {rss:.0f} MB, over its memory limit of {memory_limit_mb:.0f} MB")
                        break
        except KeyboardInterrupt:
            _kill(proc)
            raise
        finally:
            _kill(proc)
            recv.close()
        return TaskResult(status, value, error, time.monotonic() - t0, peak)


@contextlib.contextmanager
def _without_main_reimport():
    """Start workers without re-importing the caller's __main__ script.

    multiprocessing's fork server and spawn re-run the user's main module in every
    worker (a script without an ``if __name__ == "__main__"`` guard would recurse).
    Workers only ever run assay's own importable functions, so the main module is
    left out of the preparation data while a worker starts.
    """
    from multiprocessing import spawn

    original = spawn.get_preparation_data

    def prep(name):
        data = original(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    spawn.get_preparation_data = prep
    try:
        yield
    finally:
        spawn.get_preparation_data = original


def _exit_reason(proc) -> str:
    proc.join(1)
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"worker killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    return f"worker exited with code {code}"


def _kill(proc) -> None:
    if proc.is_alive():
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.join(5)


class InlineExecutor(Executor):
    """Runs in this process: no isolation, for debugging and tiny jobs."""

    def run(self, fn, args, *, timeout=None, memory_limit_mb=None) -> TaskResult:
        t0 = time.monotonic()
        try:
            return TaskResult(OK, fn(*args), "", time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001
            return TaskResult(ERROR, None, f"{type(e).__name__}: {e}", time.monotonic() - t0)

"""The executor isolates work: a crash, a hang or a memory blow-up is a failed result, not a dead search."""
import os
import time

import numpy as np

from assay.compute.executor import CRASHED, ERROR, MEMORY, OK, TIMEOUT, LocalProcessExecutor


def _square(x):
    return x * x


def _raise():
    raise RuntimeError("boom")


def _hang():
    time.sleep(60)


def _die():
    os._exit(3)


def _hog():
    blocks = []
    for _ in range(200):
        blocks.append(np.ones(25 * 2**20 // 8))  # 25 MB each
        time.sleep(0.01)
    return len(blocks)


def test_executor_outcomes():
    ex = LocalProcessExecutor(preload=[])
    r = ex.run(_square, (7,), timeout=30)
    assert r.status == OK and r.value == 49
    r = ex.run(_raise, (), timeout=30)
    assert r.status == ERROR and "boom" in r.error
    t = time.monotonic()
    r = ex.run(_hang, (), timeout=1.0)
    assert r.status == TIMEOUT and time.monotonic() - t < 10
    r = ex.run(_die, (), timeout=30)
    assert r.status == CRASHED and "code 3" in r.error
    r = ex.run(_hog, (), timeout=60, memory_limit_mb=400)
    assert r.status == MEMORY and "memory limit" in r.error
    # and the executor still works afterwards
    assert ex.run(_square, (3,), timeout=30).value == 9

"""Per-call predict time of one HistGradientBoosting model, scikit-learn's own loop over trees
vs its trees compiled into one LightGBM Booster (`assay.models.hist_gb_compiled`), by batch
size and threads. The model: 1,000 rounds on a 4-class synthetic table (4,000 trees).

    PYTHONPATH=src .venv/bin/python benchmarks/hist_gb_compiled_speed.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def _ms(fn, repeats: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main() -> int:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    from assay.models.hist_gb_compiled import CompiledHistGB

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 6))
    y = (X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5) + (X[:, 3] > 1)
    model = HistGradientBoostingClassifier(max_iter=1000, early_stopping=False, learning_rate=0.05,
                                           random_state=0).fit(X, y)
    t = time.perf_counter()
    compiled = CompiledHistGB(model)
    print(f"{sum(len(p) for p in model._predictors)} trees; compiled in {time.perf_counter() - t:.2f} s")
    print("| rows | threads | scikit-learn ms | compiled ms | ratio |")
    print("|---|---|---|---|---|")
    for rows in (1, 100, 432, 5000):
        Xt = rng.normal(size=(rows, 6))
        for threads in (1, 2):
            with threadpool_limits(threads, user_api="openmp"):
                a = _ms(lambda: model._raw_predict(Xt, n_threads=threads))
            b = _ms(lambda: compiled.raw(Xt, threads))
            print(f"| {rows} | {threads} | {a:.2f} | {b:.2f} | {a / b:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where a Run's prediction time goes: the whole `Run.predict_output` call and each
ensemble member on its own, on the rows of a data file (median of warm calls).

    .venv/bin/python benchmarks/predict_profile.py RUN DATA.csv [--repeats 25] [--compile]

`--compile` first compiles the loaded model's preprocessors (`compile_model`), as a fit
with the current code does: for Runs saved by an older version. Each member is timed in
a fresh `shared_preparation()` block, so its preprocessing counts (the ensemble call
shares the input's dtype normalisation among members; the sum of the members is a bit
more than the call). Prints one line per member (its fit kind and model count) and the
call's median / min milliseconds and rows/s.
"""

from __future__ import annotations

import argparse
import statistics
import time


def _median_ms(fn, repeats: int) -> tuple[float, float]:
    fn()                                          # warm: lazy imports, thread pools
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, min(times) * 1000


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("data")
    p.add_argument("--repeats", type=int, default=25)
    p.add_argument("--compile", action="store_true")
    args = p.parse_args(argv)

    import assay
    from assay.data.io import read_table
    from assay.features.compiled import compile_model
    from assay.features.pipeline import shared_preparation

    run = assay.load(args.run)
    X = read_table(args.data, what="prediction data").drop(columns=[run.meta.get("target")], errors="ignore")
    features = run.features(X)
    if args.compile:
        print(f"compiled preprocessors: {compile_model(run.model, features)}")
    for m in getattr(run.model, "members", []):
        def member(m=m):
            with shared_preparation():
                m.margin(features, run.task)
        med, _ = _median_ms(member, max(3, args.repeats // 3))
        print(f"  {m.name:24s} {m.kind:5s} x{len(m.estimators):<3d} weight {m.weight:.3f}  {med:8.1f} ms")
    med, low = _median_ms(lambda: run.predict_output(X), args.repeats)
    print(f"predict_output on {len(X):,} rows: median {med:.1f} ms (min {low:.1f}), {len(X) / med * 1000:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Batch scoring throughput and single-row latency: the ONNX Runtime engine vs the Python engine.

Target (issue 6, part 3): for 1M rows of a boosted adult Run, the ONNX engine scores >= 2x
faster than the Python engine.

    nice -n 19 .venv/bin/python benchmarks/onnx_speed.py [--run runs/bench_adult_onnx]
        [--rows 1000000] [--families lightgbm,xgboost] [--time-limit 60] [--single 300]

Without --run it fits one (`assay.fit`, families given, `--time-limit` s) on a 75/25 split
of adult (seed 0) and exports it (`export_onnx`, verified on the test rows). The test rows
(features only) are replicated to `--rows` rows. Both engines take the same DataFrame and
do the same work around the model (read_table copy, schema checks and coercion):

* Python: `Run.predict_output(df)` / `Run.predict_frame(df)` (EnsembleModel of fitted pipelines);
* ONNX:   `OnnxEngine.predict_output(df)` / `OnnxEngine.predict_frame(df)` (model.onnx in
  ONNX Runtime, CPU provider, default threads).

Each batch measurement is the best of `--repeats` runs. Single-row latency: `--single` calls
of predict_frame with a 1-row DataFrame (different rows), p50 / p99. Results: printed, and
appended to benchmarks/results/onnx_speed.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASSAY_SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))


def best_of(fn, repeats: int) -> tuple[float, float, object]:
    """(best wall seconds, CPU seconds of that run -- all threads of this process --, output)."""
    best, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall = time.perf_counter() - t
        if wall < best:
            best, cpu = wall, time.process_time() - c
    return best, cpu, out


def latency(fn, rows: list[pd.DataFrame]) -> dict:
    fn(rows[0])                                   # warm-up
    ts = []
    for r in rows:
        t = time.perf_counter()
        fn(r)
        ts.append(time.perf_counter() - t)
    ts = np.asarray(ts) * 1e3
    return {"p50_ms": round(float(np.percentile(ts, 50)), 3), "p99_ms": round(float(np.percentile(ts, 99)), 3),
            "mean_ms": round(float(ts.mean()), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, default=None)
    ap.add_argument("--name", default="bench_adult_onnx", help="Run directory under runs/ when fitting")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--families", default="lightgbm,xgboost")
    ap.add_argument("--time-limit", type=float, default=60)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--single", type=int, default=300)
    ap.add_argument("--no-frame", action="store_true", help="time predict_output only (not predict_frame)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    import assay
    from assay.data.split import train_test_split_frame
    from assay.export import OnnxEngine, export_onnx

    df = pd.read_csv(SHARED / "adult.csv.gz")
    train, test = train_test_split_frame(df, "class", "binary", seed=0)
    test = test.drop(columns=["class"]).reset_index(drop=True)
    if args.run is None:
        run_dir = ROOT / "runs" / args.name
        t = time.perf_counter()
        assay.fit(train, "class", time_limit=args.time_limit, families=args.families.split(","), verbosity=0,
                  out=run_dir, overwrite=True)
        print(f"fit {time.perf_counter() - t:.1f}s -> {run_dir}")
    else:
        run_dir = args.run
    run = assay.load(run_dir)
    t = time.perf_counter()
    rep = export_onnx(run, data=test)
    export_s = time.perf_counter() - t
    print(f"export {export_s:.1f}s, {rep.size_bytes / 1e6:.1f} MB, max abs diff {rep.max_abs_diff:.2e} on "
          f"{rep.n_rows} test rows; members: " + ", ".join(m["member"] for m in rep.members))
    engine = OnnxEngine(run_dir)

    reps = -(-args.rows // len(test))
    big = pd.concat([test] * reps, ignore_index=True).iloc[: args.rows]
    res = {"run": str(run_dir), "rows": len(big), "members": [m["member"] for m in rep.members],
           "n_models": sum(len(m.estimators) for m in run.model.members),
           "max_abs_diff_test": rep.max_abs_diff}
    outs = {}
    todo = [("python_predict_output", lambda: run.predict_output(big)),
            ("onnx_predict_output", lambda: engine.predict_output(big))]
    if not args.no_frame:
        todo += [("python_predict_frame", lambda: run.predict_frame(big)),
                 ("onnx_predict_frame", lambda: engine.predict_frame(big))]
    for name, fn in todo:
        s, cpu, outs[name] = best_of(fn, args.repeats)
        res[name + "_s"] = round(s, 3)
        res[name + "_cpu_s"] = round(cpu, 3)
        res[name + "_rows_per_s"] = round(len(big) / s)
        print(f"{name}: {s:.2f}s wall, {cpu:.2f}s CPU ({len(big) / s:,.0f} rows/s)")
    res["max_abs_diff_all_rows"] = float(np.max(np.abs(outs["onnx_predict_output"]
                                                       - outs["python_predict_output"])))
    outs.clear()
    res["speedup_predict_output"] = round(res["python_predict_output_s"] / res["onnx_predict_output_s"], 2)
    if not args.no_frame:
        res["speedup_predict_frame"] = round(res["python_predict_frame_s"] / res["onnx_predict_frame_s"], 2)
    res["cpu_ratio_predict_output"] = round(res["python_predict_output_cpu_s"] / res["onnx_predict_output_cpu_s"], 2)
    rows = [test.iloc[[i]] for i in range(min(args.single, len(test)))]
    res["single_row_python"] = latency(run.predict_frame, rows)
    res["single_row_onnx"] = latency(engine.predict_frame, rows)
    print(f"speedup (predict_output): {res['speedup_predict_output']}x wall, {res['cpu_ratio_predict_output']}x CPU; "
          f"(predict_frame): {res.get('speedup_predict_frame')}x wall")
    print(f"single row predict_frame: python {res['single_row_python']}, onnx {res['single_row_onnx']}")
    res.update(machine=platform.processor() or platform.machine(), cpus=os.cpu_count(),
               when=time.strftime("%Y-%m-%d %H:%M:%S"), export_s=round(export_s, 2),
               versions=rep.versions)
    out = ROOT / "benchmarks" / "results" / "onnx_speed.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a") as fh:
        fh.write(json.dumps(res) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

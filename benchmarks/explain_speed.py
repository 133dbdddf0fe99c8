"""Explain speed and exactness on adult: assay's ensemble SHAP vs KernelSHAP on the same model.

Target (issue "Explain every model"): the adult Run's final ensemble explained for 10,000
rows in <= 60 s on 2 cores, >= 150x faster than KernelSHAP on the same ensemble, exact to
1e-6 where members are trees or linear.

    .venv/bin/python benchmarks/explain_speed.py [--run runs/adult] [--rows 10000] [--kernel-rows 10]

Without --run it fits one (assay fit, 60 s) on a 75/25 split of adult (seed 0). KernelSHAP
(shap.KernelExplainer, l1_reg=False, 50 background rows, default nsamples) explains the same
model's margin over the same raw-feature encoding for --kernel-rows rows; its per-row time is
extrapolated to --rows. Results: printed, and appended to benchmarks/results/explain_speed.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASSAY_SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, default=None)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--kernel-rows", type=int, default=10)
    ap.add_argument("--time-limit", type=float, default=60)
    args = ap.parse_args()

    import assay
    from assay.audit.shap_values import _Codec
    from assay.data.split import train_test_split_frame

    df = pd.read_csv(SHARED / "adult.csv.gz")
    train, test = train_test_split_frame(df, "class", "binary", seed=0)
    if args.run is None:
        run_dir = ROOT / "runs" / "bench_adult_explain"
        t = time.perf_counter()
        assay.fit(train, "class", time_limit=args.time_limit, verbosity=0, out=run_dir, overwrite=True)
        print(f"fit {time.perf_counter() - t:.1f}s -> {run_dir}")
    else:
        run_dir = args.run
    run = assay.load(run_dir)
    X = test.drop(columns=["class"]).head(args.rows).reset_index(drop=True)

    t = time.perf_counter()
    ex = run.explain(X)
    ours = time.perf_counter() - t
    print(f"assay explain: {len(X)} rows in {ours:.1f}s; exact={ex.exact}; "
          f"max additivity error {ex.additivity_error:.2e}; members: "
          + ", ".join(f"{m['member']} ({m['method']})" for m in ex.members))

    import shap

    feats = run.features(X)
    codec = _Codec(feats)
    f = lambda Z: run.model.predict_margin(codec.decode(Z))  # noqa: E731
    bg = codec.encode(feats.sample(50, random_state=0))
    kern = shap.KernelExplainer(f, bg)
    Z = codec.encode(feats.head(args.kernel_rows))
    t = time.perf_counter()
    kern.shap_values(Z, l1_reg=False, silent=True)
    k_per_row = (time.perf_counter() - t) / args.kernel_rows
    k_total = k_per_row * len(X)
    print(f"KernelSHAP: {k_per_row:.2f}s per row -> {k_total:.0f}s for {len(X)} rows (extrapolated)")
    print(f"speed-up: {k_total / ours:.0f}x")
    rec = {"rows": len(X), "assay_s": ours, "exact": ex.exact, "additivity_error": ex.additivity_error,
           "members": ex.members, "kernel_s_per_row": k_per_row, "kernel_rows": args.kernel_rows,
           "speedup": k_total / ours, "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
           "command": " ".join([Path(sys.executable).name, *sys.argv])}
    out = ROOT / "benchmarks" / "results" / "explain_speed.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a") as fh:
        fh.write(json.dumps(rec, default=str) + "\n")


if __name__ == "__main__":
    main()

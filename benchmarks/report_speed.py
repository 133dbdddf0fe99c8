"""Report generation speed on adult: `assay report RUN --data HELDOUT` timed as a user runs it.

Target (issue 6): the adult Run's report in <= 30 s on 2 cores, HTML self-contained.

    .venv/bin/python benchmarks/report_speed.py [--run RUN_DIR] [--out FILE] [--time-limit 60] [--repeat 3]

Without --run it fits one (assay.fit, --time-limit seconds) on a 75/25 split of adult (seed 0)
from ../shared/datasets/adult.csv.gz; the 25% (12,211 rows, with the target) is the held-out
file given to --data. Each repeat is a fresh `assay report` process (interpreter start,
imports, prediction of every held-out row, SHAP on 500 of them, all plots, writing the HTML).
Results: printed, and appended to benchmarks/results/report_speed.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASSAY_SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, default=None)
    ap.add_argument("--time-limit", type=float, default=60)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="report file (default RUN/report.html)")
    args = ap.parse_args()

    import assay
    from assay.data.split import train_test_split_frame

    df = pd.read_csv(SHARED / "adult.csv.gz")
    train, test = train_test_split_frame(df, "class", "binary", seed=0)
    work = ROOT / "runs"
    work.mkdir(exist_ok=True)
    heldout = work / "bench_adult_report_heldout.csv.gz"
    test.to_csv(heldout, index=False)
    if args.run is None:
        run_dir = work / "bench_adult_report"
        t = time.perf_counter()
        assay.fit(train, "class", time_limit=args.time_limit, verbosity=0, out=run_dir, overwrite=True)
        print(f"fit {time.perf_counter() - t:.1f}s -> {run_dir}")
    else:
        run_dir = args.run
    out = args.out or run_dir / "report.html"
    import resource

    times, cpus = [], []
    for i in range(args.repeat):
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0 = ru.ru_utime + ru.ru_stime
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "assay.cli", "report", str(run_dir), "--data", str(heldout),
                            "--out", str(out)], capture_output=True, text=True, check=False)
        dt = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit(f"assay report failed: {r.stderr}")
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(ru.ru_utime + ru.ru_stime - c0)     # CPU seconds of the report process (load-independent)
        times.append(dt)
        print(f"run {i + 1}: assay report {dt:.1f}s wall, {cpus[-1]:.1f}s CPU  ({r.stderr.strip()})")
    html = out.read_text()
    external = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:|//)""", html)
    meta = json.loads((run_dir / "run.json").read_text())
    res = {
        "benchmark": "report_speed", "run": str(run_dir.relative_to(ROOT) if run_dir.is_relative_to(ROOT) else run_dir),
        "run_status": meta.get("status"), "dataset": "adult", "heldout_rows": len(test),
        "run_members": [m["member"] for m in meta.get("ensemble", [])],
        "report_s": [round(x, 2) for x in times], "best_s": round(min(times), 2),
        "median_s": round(sorted(times)[len(times) // 2], 2), "target_s": 30, "met": max(times) <= 30,
        "report_cpu_s": [round(x, 2) for x in cpus],
        "html_kb": round(len(html.encode()) / 1024), "images": html.count('<img src="data:image/png'),
        "external_urls": len(external), "fit_cpu_s": meta.get("timings", {}).get("cpu"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "loadavg_1min_after": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    print(json.dumps(res))
    dest = ROOT / "benchmarks" / "results" / "report_speed.jsonl"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "a") as fh:
        fh.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""assay side by side with the systems users would otherwise pick, at an equal time budget.

For every dataset of a manifest (or --datasets, e.g. @benchmarks/subset12.txt) and seed:

* one 75/25 split (``assay.data.split.train_test_split_frame``, rows with a missing target
  dropped) shared by every system;
* each system runs in its own process group with a hard kill (2 x limit + 120 s), the same
  time limit and the same number of threads; its wall time and peak memory (resident set of
  the whole process tree as PSS, sampled every 0.2 s) are measured from outside;
  - ``assay``: the real CLI (``assay fit ... --time-limit L``), then the saved Run predicts
    the test rows in this process;
  - peers, in their own virtualenv (``--peers-python``, see benchmarks/README.md), through
    ``benchmarks/peers/run_peer.py``: ``lightgbm`` and ``hgb`` (defaults), ``flaml``,
    ``autogluon_medium`` / ``autogluon_best`` (presets), ``h2o`` (needs Java);
* every system's test predictions are scored here with ``assay.metrics`` (the manifest's
  metric), so no system scores itself.

One JSON line per (dataset, seed, system) is appended to --out as soon as it finishes
(--resume skips those already there). The markdown summary (--out with .md) has the test
score per dataset, the mean rank, the mean normalised score ((s - worst) / (best - worst),
a failure counts as worst), wins, fit seconds, predict rows/s, peak memory and failures.

    .venv/bin/python benchmarks/compare.py --datasets @benchmarks/subset12.txt --time-limit 60 \
        --peers-python /work/peers-venv/bin/python --out benchmarks/results/compare_60s.jsonl
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from vs_lightgbm import (  # noqa: E402  (a sibling script: shared split / scoring helpers)
    DEFAULT_DATASETS, allowed_wall, append_record, assay_command, label_keys, load_and_split,
    load_manifest, log, machine_info, parse_dataset_list, score_assay)

PEER_RUNNER = HERE / "peers" / "run_peer.py"
PEERS = ("lightgbm", "hgb", "flaml", "autogluon_medium", "autogluon_best", "h2o")
DEFAULT_SYSTEMS = ("assay",) + PEERS
STDERR_TAIL = 1500


# ---------------------------------------------------------------------------------------
# a process with a hard limit, its wall time and the peak memory of its whole tree
# ---------------------------------------------------------------------------------------
def run_monitored(cmd: list[str], hard_s: float, log_path: Path) -> dict:
    import psutil

    with open(log_path, "wb") as logf:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        peak, timed_out = 0, False
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            if time.monotonic() - t0 > hard_s:
                timed_out = True
                break
            try:
                tree = [root] + root.children(recursive=True)
                rss = 0
                for p in tree:   # proportional set size: shared pages counted once
                    try:
                        rss += p.memory_full_info().pss
                    except (psutil.Error, AttributeError):
                        pass
                peak = max(peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.2)
        wall = time.monotonic() - t0
        _end_group(proc)
    tail = log_path.read_bytes()[-STDERR_TAIL:].decode("utf-8", errors="replace")
    return {"rc": proc.returncode, "timed_out": timed_out, "wall_s": wall,
            "peak_rss_mb": peak / 2**20, "output_tail": tail}


def _end_group(proc: subprocess.Popen) -> None:
    """SIGTERM then SIGKILL to the group we started (H2O's JVM, AutoGluon's Ray workers...)."""
    import os
    import signal

    for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        if wait:
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
    if proc.poll() is None:
        proc.wait()
    _wait_for_group_exit(proc.pid)


def _wait_for_group_exit(pgid: int, limit_s: float = 30.0) -> None:
    """Block until no process of the group is left (a killed JVM or Ray worker can take
    seconds to go), so that the next system does not start while the last one still holds
    the cores or the memory."""
    import os

    import psutil

    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        left = []
        for p in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(p.info["pid"]) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(p)
            except (ProcessLookupError, psutil.Error, OSError):
                pass
        if not left:
            return
        time.sleep(0.2)
    log(f"processes of group {pgid} still alive after {limit_s:.0f} s; going on")


# ---------------------------------------------------------------------------------------
# systems
# ---------------------------------------------------------------------------------------
def bench_assay(entry, files, args, metric) -> dict:
    run_dir = files["dir"] / "assay-run"
    cmd = assay_command() + ["fit", str(files["train"]), "--target", entry["target"], "--task", entry["task"],
                             "--metric", entry["metric"], "--time-limit", f"{args.time_limit:g}",
                             "--seed", str(args.seed), "--jobs", str(args.threads),
                             "--out", str(run_dir), "--quiet"] + shlex.split(args.assay_args)
    res = run_monitored(cmd, 2 * args.time_limit + 120, files["dir"] / "assay.log")
    res["cmd"] = " ".join(shlex.quote(c) for c in cmd)
    if res["rc"] != 0 or res["timed_out"]:
        return res
    scored = score_assay(run_dir, files["test"], entry, files["test_keys"], files["y_reg"])
    res.update(test_score=scored["test_score"], predict_rows_per_s=scored["predict_warm_rows_per_s"],
               model=",".join(str(m) for m in scored["ensemble_members"]), n_trials=scored["n_trials"],
               status=scored["status"], timings=scored["internal_timings"])   # phases, to explain a slow fit
    if args.score_candidates:
        res["candidates"] = score_kept_models(run_dir, files, entry)
    if args.keep_runs:
        keep = Path(args.keep_runs) / f"{entry['name']}-s{args.seed}"
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(run_dir, keep / "run")
        shutil.copy(files["test"], keep / "test.csv")
        shutil.copy(files["train"], keep / "train.csv")
    return res


def score_kept_models(run_dir: Path, files: dict, entry: dict) -> dict:
    """{name: test score and warm predict rows/s} of every single model the Run keeps
    (the best of each family, `run.models()`): what a user choosing a faster model
    (`run.predict(..., model=NAME)`) would get."""
    import assay

    out = {}
    for name in assay.load(run_dir).models()[1:]:
        s = score_assay(run_dir, files["test"], entry, files["test_keys"], files["y_reg"], model=name)
        out[name] = {"test_score": s["test_score"], "predict_rows_per_s": s["predict_warm_rows_per_s"]}
    return out


def bench_peer(system, entry, files, args, metric) -> dict:
    pred_path = files["dir"] / f"{system}.npz"
    cmd = [args.peers_python, str(PEER_RUNNER), "--system", system, "--train", str(files["peer_train"]),
           "--test", str(files["peer_test"]), "--target", entry["target"], "--task", entry["task"],
           "--metric", entry["metric"], "--n-classes", str(files["n_classes"] or 0),
           "--time-limit", f"{args.time_limit:g}", "--seed", str(args.seed), "--threads", str(args.threads),
           "--out", str(pred_path)]
    res = run_monitored(cmd, 2 * args.time_limit + 120, files["dir"] / f"{system}.log")
    res["cmd"] = " ".join(shlex.quote(c) for c in cmd)
    if res["rc"] != 0 or res["timed_out"] or not pred_path.exists():
        return res
    with np.load(pred_path, allow_pickle=False) as z:
        pred, predict_s, model = z["pred"], float(z["predict_s"]), str(z["model"])
        fit_s = float(z["fit_s"])
    y = files["y_reg"] if entry["task"] == "regression" else files["y_codes"]
    res.update(test_score=metric.value(y, pred), fit_s=fit_s, model=model,
               predict_rows_per_s=len(y) / predict_s if predict_s > 0 else None)
    return res


# ---------------------------------------------------------------------------------------
# one dataset: split once, every system on the same files
# ---------------------------------------------------------------------------------------
def prepare(entry, args, tmp: Path) -> dict:
    task, target = entry["task"], entry["target"]
    train, test, _ = load_and_split(entry, args.datasets_dir, args.seed)
    files = {"dir": tmp, "train": tmp / "train.csv", "test": tmp / "test.csv",
             "peer_train": tmp / "peer_train.csv", "peer_test": tmp / "peer_test.csv",
             "n_classes": None, "y_reg": None, "y_codes": None, "test_keys": None}
    peer_train, peer_test = train.copy(), test.copy()
    if task == "regression":
        files["y_reg"] = pd.to_numeric(test[target], errors="coerce").to_numpy(dtype=float)
    else:
        tr_keys, te_keys = label_keys(train[target]), label_keys(test[target])
        classes = sorted(pd.unique(tr_keys).tolist(), key=str)
        lookup = {k: i for i, k in enumerate(classes)}
        codes = np.array([lookup.get(k, -1) for k in te_keys], dtype="int64")
        keep = codes >= 0  # test rows whose class never occurs in training: dropped for all
        test, peer_test = test.loc[keep].reset_index(drop=True), peer_test.loc[keep].reset_index(drop=True)
        files.update(n_classes=len(classes), y_codes=codes[keep], test_keys=te_keys[keep])
        peer_train[target] = [f"c{lookup[k]}" for k in tr_keys]
        peer_test[target] = [f"c{c}" for c in codes[keep]]
    train.to_csv(files["train"], index=False)
    test.to_csv(files["test"], index=False)
    peer_train.to_csv(files["peer_train"], index=False)
    peer_test.to_csv(files["peer_test"], index=False)
    files.update(train_rows=len(train), test_rows=len(test))
    return files


def bench_dataset(entry, args, systems, done: set) -> list[dict]:
    from assay.metrics import get_metric

    metric = get_metric(entry["metric"], entry["task"])
    tmp = Path(tempfile.mkdtemp(prefix=f"cmp-{entry['name']}-", dir=args.work_dir))
    out = []
    try:
        files = prepare(entry, args, tmp)
        for system in systems:
            if (entry["name"], args.seed, system) in done:
                continue
            log(f"[{entry['name']} seed {args.seed}] {system} ...")
            rec = {"dataset": entry["name"], "seed": args.seed, "system": system, "task": entry["task"],
                   "metric": metric.name, "greater_is_better": metric.greater_is_better,
                   "time_limit": args.time_limit, "threads": args.threads,
                   "train_rows": files["train_rows"], "test_rows": files["test_rows"]}
            try:
                res = (bench_assay(entry, files, args, metric) if system == "assay"
                       else bench_peer(system, entry, files, args, metric))
            except Exception as e:  # noqa: BLE001 - a system's failure is a result, not a crash
                res = {"error": f"{type(e).__name__}: {e}"}
            rec.update(res)
            rec["ok"] = rec.get("test_score") is not None and np.isfinite(rec["test_score"])
            rec["limit_kept"] = rec.get("wall_s", np.inf) <= allowed_wall(args.time_limit)
            if not rec["ok"]:
                log(f"  FAILED rc={rec.get('rc')} timed_out={rec.get('timed_out')}: "
                    f"{(rec.get('error') or rec.get('output_tail') or '')[-400:]}")
            else:
                log(f"  score {rec['test_score']:.5f}  wall {rec['wall_s']:.1f}s  "
                    f"peak {rec['peak_rss_mb']:.0f} MB  predict {rec.get('predict_rows_per_s') or 0:,.0f} rows/s")
            append_record(args.out, rec)
            out.append(rec)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# ---------------------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------------------
def summarise(records: list[dict], systems: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (dataset, seed): ranks (ties averaged, failures last) and normalised scores."""
    df = pd.DataFrame(records)
    rows = []
    for (ds, seed), g in df.groupby(["dataset", "seed"], sort=False):
        g = g.drop_duplicates("system", keep="last").set_index("system")
        greater = bool(g["greater_is_better"].iloc[0])
        score = pd.Series({s: (g.at[s, "test_score"] if s in g.index and g.at[s, "ok"] else np.nan)
                           for s in systems}, dtype=float)
        signed = score if greater else -score
        worst_fill = signed.min() - 1 if signed.notna().any() else 0
        rank = signed.fillna(worst_fill).rank(ascending=False, method="average")
        best, worst = signed.max(), signed.min()
        norm = ((signed - worst) / (best - worst)).fillna(0.0) if best > worst else signed.notna().astype(float)
        for s in systems:
            r = g.loc[s] if s in g.index else {}
            rows.append({"dataset": ds, "seed": seed, "system": s, "score": score[s], "rank": rank[s],
                         "norm": norm[s], "win": bool(rank[s] == rank.min() and np.isfinite(score[s])),
                         "wall_s": r.get("wall_s"), "fit_s": r.get("fit_s", r.get("wall_s")),
                         "predict_rows_per_s": r.get("predict_rows_per_s"),
                         "peak_rss_mb": r.get("peak_rss_mb"), "ok": bool(np.isfinite(score[s])),
                         "limit_kept": bool(r.get("limit_kept", False)),
                         "candidates": r.get("candidates") if isinstance(r.get("candidates"), dict) else None})
    long = pd.DataFrame(rows)
    long.attrs["greater"] = {r["dataset"]: bool(r["greater_is_better"]) for r in records}
    summary = long.groupby("system", sort=False).agg(
        mean_rank=("rank", "mean"), mean_norm=("norm", "mean"), wins=("win", "sum"),
        failures=("ok", lambda s: int((~s).sum())), median_wall_s=("wall_s", "median"),
        median_predict_rows_per_s=("predict_rows_per_s", "median"), median_peak_mb=("peak_rss_mb", "median"),
        limit_kept=("limit_kept", "sum"), runs=("ok", "size")).sort_values("mean_rank")
    return long, summary


def markdown(long: pd.DataFrame, summary: pd.DataFrame, systems: list[str], machine: dict, command: str) -> str:
    lines = ["# assay vs peers", "", f"Command: `{command}`", "",
             f"Machine: {machine.get('cpu_model', '?')}, {machine.get('usable_cores')} usable cores, "
             f"{machine.get('memory_gib')} GiB", "", "## Summary (mean over datasets and seeds)", "",
             "| system | mean rank | mean normalised score | wins | failures | limit kept | median fit wall s "
             "| median predict rows/s | median peak MB |", "|---|---|---|---|---|---|---|---|---|"]
    for s, r in summary.iterrows():
        lines.append(f"| {s} | {r.mean_rank:.2f} | {r.mean_norm:.3f} | {int(r.wins)} | {int(r.failures)} | "
                     f"{int(r.limit_kept)}/{int(r.runs)} | {_f(r.median_wall_s, 1)} | "
                     f"{_f(r.median_predict_rows_per_s, 0)} | {_f(r.median_peak_mb, 0)} |")
    lines += ["", "## Test score per dataset (seed; metric; best in bold)", "",
              "| dataset | seed | " + " | ".join(systems) + " |", "|---|---|" + "---|" * len(systems)]
    for (ds, seed), g in long.groupby(["dataset", "seed"], sort=False):
        g = g.set_index("system")
        cells = [f"**{_f(g.at[s, 'score'], 4)}**" if g.at[s, "win"] else _f(g.at[s, "score"], 4) for s in systems]
        lines.append(f"| {ds} | {seed} | " + " | ".join(cells) + " |")
    lines += targets(long, systems)
    return "\n".join(lines) + "\n"


def targets(long: pd.DataFrame, systems: list[str]) -> list[str]:
    """The issue's checks: assay vs the better of LightGBM / HGB defaults (0.5% of the
    metric), predict throughput vs AutoGluon best_quality, time limit kept."""
    if "assay" not in systems:
        return []
    out = ["", "## Targets", ""]
    refs = [s for s in ("lightgbm", "hgb") if s in systems]
    rows = []
    for (ds, seed), g in long.groupby(["dataset", "seed"], sort=False):
        g = g.set_index("system")
        a = g.at["assay", "score"]
        greater = bool(long.attrs.get("greater", {}).get(ds, True))
        line = {"dataset": ds, "seed": seed, "assay": a, "limit_kept": bool(g.at["assay", "limit_kept"])}
        if refs:
            ref_scores = [g.at[r, "score"] for r in refs if np.isfinite(g.at[r, "score"])]
            if ref_scores and np.isfinite(a):
                best = max(ref_scores) if greater else min(ref_scores)
                gap = (best - a) / abs(best) if greater else (a - best) / abs(best)
                line["gap_vs_best_default_pct"] = 100 * gap
        if "autogluon_best" in systems:
            ag = g.at["autogluon_best", "predict_rows_per_s"]
            mine = g.at["assay", "predict_rows_per_s"]
            if ag and mine and np.isfinite(ag) and np.isfinite(mine):
                line["throughput_x_vs_ag_best"] = mine / ag
            line["ahead_of_ag_best"] = bool(g.at["assay", "rank"] < g.at["autogluon_best", "rank"])
        rows.append(line)
    out.append("| dataset | seed | assay worse than best default by (% of metric; target <= 0.5) "
               "| predict throughput x AG best (target >= 20) | ahead of AG best | limit kept |")
    out.append("|---|---|---|---|---|---|")
    for r in rows:
        out.append(f"| {r['dataset']} | {r['seed']} | {_f(r.get('gap_vs_best_default_pct'), 2)} | "
                   f"{_f(r.get('throughput_x_vs_ag_best'), 1)} | {r.get('ahead_of_ag_best', '-')} | "
                   f"{r['limit_kept']} |")
    out += ["", _targets_met(rows)]
    out += kept_models(long, systems)
    return out


def kept_models(long: pd.DataFrame, systems: list[str]) -> list[str]:
    """With `--score-candidates`: per dataset, the kept single models that score ahead of
    AutoGluon best_quality, and the fastest of them as a multiple of AG best's throughput --
    whether choosing a faster model than the ensemble could meet the throughput target
    without falling behind."""
    if "autogluon_best" not in systems or "candidates" not in long.columns:
        return []
    out = ["", "## Kept single models against AG best (`--score-candidates`)", "",
           "| dataset | seed | AG best | ensemble (x AG best rows/s) | kept models ahead of AG best "
           "| fastest of them (x AG best rows/s) |", "|---|---|---|---|---|---|"]
    for (ds, seed), g in long.groupby(["dataset", "seed"], sort=False):
        g = g.set_index("system")
        cands = g.at["assay", "candidates"]
        if not isinstance(cands, dict):
            continue
        greater = bool(long.attrs.get("greater", {}).get(ds, True))
        ag, ag_rate = g.at["autogluon_best", "score"], g.at["autogluon_best", "predict_rows_per_s"]

        def ahead(score):
            return np.isfinite(score) and (not np.isfinite(ag) or (score > ag if greater else score < ag))

        def ratio(rate):
            return rate / ag_rate if rate and ag_rate and np.isfinite(ag_rate) else np.nan

        good = {n: c for n, c in cands.items() if c.get("test_score") is not None and ahead(c["test_score"])}
        fastest = max(good, key=lambda n: good[n]["predict_rows_per_s"] or 0, default=None)
        ens = f"{_f(g.at['assay', 'score'], 4)} ({_f(ratio(g.at['assay', 'predict_rows_per_s']), 1)})"
        best = "-" if fastest is None else \
            f"{fastest} {_f(good[fastest]['test_score'], 4)} ({_f(ratio(good[fastest]['predict_rows_per_s']), 1)})"
        out.append(f"| {ds} | {seed} | {_f(ag, 4)} | {ens} | "
                   f"{', '.join(sorted(good)) or 'none'} | {best} |")
    return out


def _targets_met(rows: list[dict]) -> str:
    """One line counting the datasets (x seeds) on which each target holds, and the median
    over them of assay's throughput ratio to AutoGluon best_quality."""
    n = len(rows)
    gaps = [r["gap_vs_best_default_pct"] for r in rows if "gap_vs_best_default_pct" in r]
    ratios = [r["throughput_x_vs_ag_best"] for r in rows if "throughput_x_vs_ag_best" in r]
    fast = sum(1 for r in rows if r.get("throughput_x_vs_ag_best", 0) >= 20)
    both = sum(1 for r in rows if r.get("throughput_x_vs_ag_best", 0) >= 20 and r.get("ahead_of_ag_best"))
    ahead = sum(1 for r in rows if r.get("ahead_of_ag_best"))
    parts = [f"defaults rule (<= 0.5%) {sum(g <= 0.5 for g in gaps)}/{len(gaps)}",
             f"ahead of AG best {ahead}/{n}", f"throughput >= 20x AG best {fast}/{len(ratios)}",
             f"both {both}/{n}", f"limit kept {sum(r['limit_kept'] for r in rows)}/{n}"]
    if ratios:
        parts.append(f"median throughput ratio {np.median(ratios):.1f}x")
    return "Targets met: " + "; ".join(parts) + "."


def _f(x, digits) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "-"
    if not np.isfinite(x):
        return "FAIL"
    return f"{x:,.{digits}f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", help="comma list or @file (default: the whole manifest)")
    p.add_argument("--datasets-dir", type=Path, default=DEFAULT_DATASETS)
    p.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS))
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--peers-python", default=str(Path("/work/peers-venv/bin/python")),
                   help="python of the peers' virtualenv (benchmarks/README.md)")
    p.add_argument("--assay-args", default="", help="extra arguments for `assay fit`")
    p.add_argument("--score-candidates", action="store_true",
                   help="also score every single model the assay Run keeps (test score, rows/s)")
    p.add_argument("--work-dir", default=None)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--keep-runs", metavar="DIR",
                   help="keep each assay Run with its train.csv / test.csv under DIR/<dataset>-s<seed> "
                        "(for benchmarks/predict_profile.py)")
    p.add_argument("--summary-only", action="store_true", help="only rewrite the .md from --out")
    args = p.parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(DEFAULT_SYSTEMS)
    if unknown:
        p.error(f"unknown system(s) {sorted(unknown)}; known: {', '.join(DEFAULT_SYSTEMS)}")
    if any(s in PEERS for s in systems) and not Path(args.peers_python).exists():
        p.error(f"--peers-python {args.peers_python} does not exist: install the peers (benchmarks/README.md)")
    if "h2o" in systems and shutil.which("java") is None:
        log("java not found: h2o left out")
        systems.remove("h2o")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    records = [json.loads(x) for x in args.out.read_text().splitlines() if x.strip()] if args.out.exists() else []
    if not args.resume and not args.summary_only:
        records = []
        args.out.write_text("")
    if not args.summary_only:
        done = {(r["dataset"], r["seed"], r["system"]) for r in records}
        for entry in parse_dataset_list(args.datasets, load_manifest(args.datasets_dir)):
            records += bench_dataset(entry, args, systems, done)
    seen = [s for s in DEFAULT_SYSTEMS if any(r["system"] == s for r in records)]
    long, summary = summarise(records, seen)
    text = markdown(long, summary, seen, machine_info(), "python " + " ".join(shlex.quote(a) for a in sys.argv))
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""assay vs LightGBM (and scikit-learn HistGradientBoosting) with default parameters.

For every dataset of the shared manifest (or those chosen with --datasets):

* split the table 75/25 with ``assay.data.split.train_test_split_frame`` (same seed for all
  models; rows with a missing target are dropped first) and write train/test CSVs to a
  temporary directory;
* run the real CLI in a subprocess,
  ``assay fit train.csv --target T --task TASK --metric M --time-limit L --seed S --out DIR --quiet``,
  timing the process from start to exit (hard kill of its process group at 3 x L + 60 s);
* load the Run in this process, predict the test rows and score them with
  ``assay.metrics.get_metric(manifest metric, task)``;
* fit ``lightgbm.LGBMClassifier/LGBMRegressor()`` and
  ``sklearn HistGradientBoostingClassifier/Regressor(categorical_features="from_dtype")``
  with default hyperparameters on the same train split and score them the same way.

One JSON line per dataset is appended to ``--out`` as soon as the dataset finishes
(``--resume`` skips datasets already there); at the end a markdown report with the
per-dataset table and a summary is printed and written next to it (``.md``).

Targets checked (core issue): assay beats LightGBM defaults on >= 80% of datasets, and the
``assay fit`` wall time is <= 1.05 x limit + 5 s on every dataset.

Run from the repository root, e.g.::

    .venv/bin/python benchmarks/vs_lightgbm.py --time-limit 60 --out benchmarks/results/vs_lightgbm_60s.jsonl
    .venv/bin/python benchmarks/vs_lightgbm.py --datasets @benchmarks/subset12.txt --time-limit 60 \
        --out benchmarks/results/vs_lightgbm_subset12_60s.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# ../shared/datasets beside the repository (override with --datasets-dir or ASSAY_SHARED_DATASETS)
DEFAULT_DATASETS = Path(os.environ.get("ASSAY_SHARED_DATASETS",
                                      Path(__file__).resolve().parents[2] / "shared" / "datasets"))
TASKS = ("binary", "multiclass", "regression")
STDERR_TAIL = 2000


# ---------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def allowed_wall(limit: float) -> float:
    return 1.05 * limit + 5.0


def machine_info() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count()}
    try:
        info["usable_cores"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        info["usable_cores"] = os.cpu_count()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except (OSError, ValueError, IndexError):
        pass
    # cgroup CPU quota (containers): "max 100000" or "200000 100000"
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            info["cgroup_cpu_quota"] = round(int(quota) / int(period), 2)
    except (OSError, ValueError):
        pass
    try:
        from importlib.metadata import version

        info["versions"] = {p: version(p) for p in ("assay", "lightgbm", "scikit-learn", "pandas", "numpy")}
    except Exception:  # noqa: BLE001 - informational only
        pass
    return info


def load_manifest(datasets_dir: Path) -> list[dict]:
    with open(datasets_dir / "manifest.json") as f:
        entries = json.load(f)
    return [e for e in entries if e.get("task") in TASKS]


def parse_dataset_list(spec: str | None, manifest: list[dict]) -> list[dict]:
    if not spec:
        return manifest
    names: list[str] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if part.startswith("@"):
            for line in Path(part[1:]).read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    names.append(line)
        else:
            names.append(part)
    by_name = {e["name"]: e for e in manifest}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        sys.exit(f"error: unknown dataset(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    seen: set[str] = set()
    return [by_name[n] for n in names if not (n in seen or seen.add(n))]


def read_done(path: Path) -> dict[str, dict]:
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if "dataset" in rec:
            done[rec["dataset"]] = rec
    return done


def append_record(path: Path, rec: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(rec, default=_json_default) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _finite(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x) else None


# ---------------------------------------------------------------------------------------
# data: split, labels, reference-model features
# ---------------------------------------------------------------------------------------
def load_and_split(entry: dict, datasets_dir: Path, seed: int):
    from assay.data.split import train_test_split_frame

    df = pd.read_csv(datasets_dir / entry["file"], low_memory=False)
    target, task = entry["target"], entry["task"]
    if task == "regression":
        y_num = pd.to_numeric(df[target], errors="coerce")
        keep = y_num.notna()
    else:
        keep = df[target].notna()
    n_dropped = int((~keep).sum())
    df = df.loc[keep].reset_index(drop=True)
    train, test = train_test_split_frame(df, target, task, test_size=0.25, seed=seed)
    return train, test, n_dropped


def label_keys(s: pd.Series) -> np.ndarray:
    """Canonical level strings (assay's own: '3', 3 and 3.0 are one label)."""
    from assay.data.schema import level_strings

    return level_strings(s).to_numpy(dtype=object)


def reference_features(train_X: pd.DataFrame, test_X: pd.DataFrame):
    """Columns renamed f0..fN (LightGBM rejects JSON characters in names); object/string
    columns -> pandas category with the training categories (datetime-like strings too)."""
    names = {c: f"f{i}" for i, c in enumerate(train_X.columns)}
    tr = train_X.rename(columns=names).copy()
    te = test_X.rename(columns=names).copy()
    n_cat = 0
    for c in tr.columns:
        col = tr[c]
        if (pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype)
                or isinstance(col.dtype, pd.CategoricalDtype)):
            tr_s = col.astype(object).where(col.notna(), None).map(lambda v: v if v is None else str(v))
            te_s = te[c].astype(object).where(te[c].notna(), None).map(lambda v: v if v is None else str(v))
            cats = pd.Index(pd.unique(tr_s.dropna()))
            tr[c] = pd.Categorical(tr_s, categories=cats)
            te[c] = pd.Categorical(te_s, categories=cats)
            n_cat += 1
        elif pd.api.types.is_bool_dtype(col.dtype):
            tr[c] = col.astype("float64")
            te[c] = te[c].astype("float64")
    return tr, te, n_cat


def hgb_features(tr: pd.DataFrame, te: pd.DataFrame, max_categories: int = 250):
    """HistGradientBoosting's categorical_features='from_dtype' needs <= max_bins (255)
    categories per column: larger categoricals become ordinal codes (noted in the record);
    columns missing on every training row are dropped."""
    # all-missing training columns carry nothing and crash HGB's binning (sklearn 1.9): drop them
    empty = [c for c in tr.columns if tr[c].isna().all()]
    tr, te = tr.drop(columns=empty), te.drop(columns=empty)
    ordinal = []
    for c in tr.columns:
        if isinstance(tr[c].dtype, pd.CategoricalDtype) and len(tr[c].cat.categories) > max_categories:
            tr[c] = tr[c].cat.codes.replace(-1, np.nan).astype("float64")
            te[c] = te[c].cat.codes.replace(-1, np.nan).astype("float64")
            ordinal.append(c)
    return tr, te, ordinal


# ---------------------------------------------------------------------------------------
# assay
# ---------------------------------------------------------------------------------------
def assay_command() -> list[str]:
    exe = Path(sys.executable).parent / "assay"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("assay")
    return [found] if found else [sys.executable, "-m", "assay"]


def run_assay_fit(train_csv: Path, run_dir: Path, entry: dict, limit: float, seed: int,
                  log_path: Path, extra: list[str]) -> dict:
    cmd = assay_command() + ["fit", str(train_csv), "--target", entry["target"], "--task", entry["task"],
                             "--metric", entry["metric"], "--time-limit", f"{limit:g}", "--seed", str(seed),
                             "--out", str(run_dir), "--quiet"] + extra
    hard = 3 * limit + 60
    with open(log_path, "wb") as errf:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=errf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        timed_out = False
        try:
            rc = proc.wait(timeout=hard)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            rc = proc.wait()
        wall = time.monotonic() - t0
    # stray workers of a killed fit: end the group we started
    _kill_group(proc, quiet=True)
    tail = log_path.read_bytes()[-STDERR_TAIL:].decode("utf-8", errors="replace")
    return {"cmd": cmd, "rc": rc, "timed_out": timed_out, "wall_s": wall, "output_tail": tail}


def _kill_group(proc: subprocess.Popen, quiet: bool = False) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        time.sleep(2)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except OSError as e:
        if not quiet:
            log(f"  could not kill process group {proc.pid}: {e}")


def score_assay(run_dir: Path, test_csv: Path, entry: dict, test_keys: np.ndarray | None,
                y_test_reg: np.ndarray | None, model: str | None = None) -> dict:
    """Test score and predict timings of the Run's final model (or of the kept model
    `model`, a name of `run.models()`), with the Run's metadata."""
    import assay
    from assay.data.io import read_table
    from assay.data.schema import value_key
    from assay.metrics import get_metric

    metric = get_metric(entry["metric"], entry["task"])
    run = assay.load(run_dir)
    meta = run.meta
    X_test = read_table(test_csv, what="prediction data")
    X_test = X_test.drop(columns=[entry["target"]], errors="ignore")
    t = time.perf_counter()
    out = run.predict_output(X_test, model=model)
    predict_s = time.perf_counter() - t
    t = time.perf_counter()  # a second call: without first-call costs (lazy imports, thread pools)
    run.predict_output(X_test, model=model)
    warm_s = time.perf_counter() - t
    res: dict = {
        "predict_s": predict_s,
        "predict_rows_per_s": len(X_test) / predict_s if predict_s > 0 else None,
        "predict_warm_s": warm_s,
        "predict_warm_rows_per_s": len(X_test) / warm_s if warm_s > 0 else None,
        "cv_score": _finite(meta.get("cv_score")),
        "n_trials": meta.get("n_trials"),
        "n_failed_trials": meta.get("n_failed"),
        "n_folds": meta.get("n_folds"),
        "status": meta.get("status"),
        "best_single_model": meta.get("best_single_model"),
        "ensemble_members": [m.get("member") for m in (meta.get("ensemble") or [])],
        "n_ensemble_members": len(meta.get("ensemble") or []),
        "internal_timings": meta.get("timings"),
        "dropped_columns": meta.get("dropped_columns"),
    }
    if entry["task"] == "regression":
        res["test_score"] = metric.value(y_test_reg, np.asarray(out, dtype=float))
        res["n_test_scored"] = int(len(y_test_reg))
        return res
    lookup = {value_key(c): i for i, c in enumerate(run.classes)}
    codes = np.array([lookup.get(k, -1) for k in test_keys], dtype="int64")
    ok = codes >= 0
    res["n_test_unseen_by_run"] = int((~ok).sum())
    res["test_score"] = metric.value(codes[ok], np.asarray(out)[ok])
    res["n_test_scored"] = int(ok.sum())
    return res


# ---------------------------------------------------------------------------------------
# references
# ---------------------------------------------------------------------------------------
def fit_reference(kind: str, task: str, Xtr, ytr, Xte, yte, n_classes, metric, seed, n_jobs) -> dict:
    t = time.perf_counter()
    if kind == "lightgbm":
        import lightgbm as lgb

        cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
        model = cls(n_jobs=n_jobs, random_state=seed, verbose=-1)
        model.fit(Xtr, ytr)
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        from threadpoolctl import threadpool_limits

        cls = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
        model = cls(categorical_features="from_dtype", random_state=seed)
        with threadpool_limits(limits=n_jobs, user_api="openmp"):
            model.fit(Xtr, ytr)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    if task == "regression":
        pred = np.asarray(model.predict(Xte), dtype=float)
    else:
        proba = np.asarray(model.predict_proba(Xte))
        pred = np.zeros((len(Xte), n_classes))
        pred[:, np.asarray(model.classes_, dtype=int)] = proba
    predict_s = time.perf_counter() - t
    return {"test_score": metric.value(yte, pred), "fit_s": fit_s, "predict_s": predict_s}


# ---------------------------------------------------------------------------------------
# one dataset
# ---------------------------------------------------------------------------------------
def bench_dataset(entry: dict, args, extra: list[str]) -> dict:
    from assay.metrics import get_metric

    name, task, target = entry["name"], entry["task"], entry["target"]
    metric = get_metric(entry["metric"], task)
    rec: dict = {"dataset": name, "task": task, "metric": metric.name,
                 "greater_is_better": metric.greater_is_better, "time_limit": args.time_limit,
                 "seed": args.seed, "allowed_wall_s": allowed_wall(args.time_limit)}
    t_all = time.monotonic()
    train, test, n_missing_target = load_and_split(entry, args.datasets_dir, args.seed)
    rec.update(rows=len(train) + len(test), train_rows=len(train), test_rows=len(test),
               features=train.shape[1] - 1, dropped_missing_target=n_missing_target)

    # labels: codes over the training classes; test rows with unseen labels are dropped for all models
    if task == "regression":
        ytr = pd.to_numeric(train[target], errors="coerce").to_numpy(dtype=float)
        yte = pd.to_numeric(test[target], errors="coerce").to_numpy(dtype=float)
        test_keys, keep, n_classes = None, np.ones(len(test), dtype=bool), None
    else:
        tr_keys, test_keys = label_keys(train[target]), label_keys(test[target])
        classes = sorted(pd.unique(tr_keys).tolist(), key=str)
        lookup = {k: i for i, k in enumerate(classes)}
        ytr = np.array([lookup[k] for k in tr_keys], dtype="int64")
        yte_all = np.array([lookup.get(k, -1) for k in test_keys], dtype="int64")
        keep = yte_all >= 0
        yte = yte_all[keep]
        n_classes = len(classes)
        rec["n_classes"] = n_classes
    rec["test_unseen_label_rows_dropped"] = int((~keep).sum())

    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-", dir=args.work_dir))
    try:
        train_csv, test_csv = tmp / "train.csv", tmp / "test.csv"
        train.to_csv(train_csv, index=False)
        test.loc[keep].reset_index(drop=True).to_csv(test_csv, index=False)
        y_test_reg = yte if task == "regression" else None
        test_keys_kept = test_keys[keep] if test_keys is not None else None

        # ---- assay (its own process, wall time measured from outside)
        run_dir = tmp / "run"
        log(f"[{name}] assay fit ({task}, {len(train)} train rows, limit {args.time_limit:g}s) ...")
        fit = run_assay_fit(train_csv, run_dir, entry, args.time_limit, args.seed, tmp / "assay.log", extra)
        rec["assay_cmd"] = " ".join(shlex.quote(c) for c in fit["cmd"])
        rec["assay_fit_wall_s"] = round(fit["wall_s"], 3)
        rec["assay_wall_over_limit"] = round(fit["wall_s"] / args.time_limit, 4) if args.time_limit else None
        rec["limit_kept"] = fit["wall_s"] <= allowed_wall(args.time_limit) and not fit["timed_out"]
        rec["assay_rc"] = fit["rc"]
        if fit["rc"] != 0 or fit["timed_out"]:
            rec["assay_ok"] = False
            rec["assay_error"] = ("killed after %.0fs (hard limit 3 x limit + 60 s)" % fit["wall_s"]
                                  if fit["timed_out"] else f"assay fit exited with code {fit['rc']}")
            rec["assay_output_tail"] = fit["output_tail"]
        else:
            try:
                rec.update({f"assay_{k}": v for k, v in
                            score_assay(run_dir, test_csv, entry, test_keys_kept, y_test_reg).items()})
                rec["assay_ok"] = True
                if fit["output_tail"].strip():
                    rec["assay_output_tail"] = fit["output_tail"]
            except Exception as e:  # noqa: BLE001 - a failure is a result, not a crash
                rec["assay_ok"] = False
                rec["assay_error"] = f"predict/score failed: {type(e).__name__}: {e}"
                rec["assay_output_tail"] = (fit["output_tail"] + "\n" + traceback.format_exc())[-STDERR_TAIL:]
        if args.keep_runs:
            dest = Path(args.keep_runs) / name
            shutil.rmtree(dest, ignore_errors=True)
            if run_dir.exists():
                shutil.copytree(run_dir, dest)

        # ---- references (same split, same labels, same metric)
        Xtr, Xte, n_cat = reference_features(train.drop(columns=[target]),
                                             test.loc[keep].drop(columns=[target]).reset_index(drop=True))
        rec["reference_categorical_columns"] = n_cat
        for kind in ("lightgbm", "hgb"):
            if kind in args.skip:
                continue
            log(f"[{name}] {kind} defaults ...")
            try:
                if kind == "hgb":
                    a, b, ordinal = hgb_features(Xtr, Xte)
                    if ordinal:
                        rec["hgb_ordinal_columns"] = len(ordinal)
                else:
                    a, b = Xtr, Xte
                r = fit_reference(kind, task, a, ytr, b, yte, n_classes, metric, args.seed, args.n_jobs)
                rec.update({f"{kind}_{k}": v for k, v in r.items()})
                rec[f"{kind}_ok"] = True
            except Exception as e:  # noqa: BLE001
                rec[f"{kind}_ok"] = False
                rec[f"{kind}_error"] = f"{type(e).__name__}: {e}"[:STDERR_TAIL]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    a, l = rec.get("assay_test_score"), rec.get("lightgbm_test_score")
    if rec.get("assay_ok") and a is not None and l is not None and np.isfinite(a) and np.isfinite(l):
        rec["assay_beats_lightgbm"] = bool(a > l) if metric.greater_is_better else bool(a < l)
    else:
        rec["assay_beats_lightgbm"] = False if not rec.get("assay_ok") else None
    rec["bench_seconds"] = round(time.monotonic() - t_all, 1)
    return rec


# ---------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------
def _fmt(x, digits: int = 4) -> str:
    if x is None:
        return "-"
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not np.isfinite(x):
        return "nan"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}" if abs(x) < 1 else f"{x:.{digits}f}".rstrip("0").rstrip(".")


def report(records: list[dict], machine: dict, command: str, args) -> str:
    lines = [f"# assay vs LightGBM / HistGradientBoosting defaults (time limit {args.time_limit:g} s)", ""]
    lines.append(f"- command: `{command}`")
    lines.append(f"- machine: {machine.get('cpu_model', '?')}; {machine.get('usable_cores')} usable cores "
                 f"(os.cpu_count {machine.get('cpu_count')}"
                 + (f", cgroup quota {machine['cgroup_cpu_quota']}" if "cgroup_cpu_quota" in machine else "")
                 + f"); {machine.get('memory_gib', '?')} GiB memory; {machine.get('platform')}; "
                   f"Python {machine.get('python')}")
    if machine.get("versions"):
        lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()))
    lines.append(f"- split: assay.data.split.train_test_split_frame, test_size 0.25, seed {args.seed}; "
                 f"references: LGBM*/HistGradientBoosting* defaults, n_jobs={args.n_jobs}, random_state={args.seed}")
    lines.append(f"- limit kept: `assay fit` process wall time <= 1.05 x {args.time_limit:g} + 5 = "
                 f"{allowed_wall(args.time_limit):.1f} s")
    lines.append("")
    head = ["dataset", "task", "metric", "rows", "assay test", "LightGBM default", "HGB default",
            "assay > LGBM?", "assay fit wall s", "limit kept?", "predict rows/s", "trials", "members"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * len(head)) + "|")
    for r in records:
        if r.get("assay_ok"):
            a = _fmt(r.get("assay_test_score"))
            better = {True: "yes", False: "no", None: "?"}[r.get("assay_beats_lightgbm")]
        else:
            a, better = "FAIL", "no (fail)"
        lg = _fmt(r.get("lightgbm_test_score")) if r.get("lightgbm_ok") else ("fail" if "lightgbm_ok" in r else "-")
        hg = _fmt(r.get("hgb_test_score")) if r.get("hgb_ok") else ("fail" if "hgb_ok" in r else "-")
        row = [r["dataset"], r["task"], r["metric"], str(r.get("rows")), a, lg, hg, better,
               _fmt(r.get("assay_fit_wall_s"), 3), "yes" if r.get("limit_kept") else "**NO**",
               _fmt(r.get("assay_predict_rows_per_s"), 3), _trials(r),
               str(r.get("assay_n_ensemble_members", "-"))]
        lines.append("| " + " | ".join(row) + " |")
    n = len(records)
    beats = sum(1 for r in records if r.get("assay_beats_lightgbm"))
    ratios = [r["assay_fit_wall_s"] / r["time_limit"] for r in records
              if r.get("assay_fit_wall_s") is not None and r.get("time_limit")]
    worst = max(records, key=lambda r: r.get("assay_fit_wall_s") or 0, default=None)
    kept = sum(1 for r in records if r.get("limit_kept"))
    fails = [r for r in records if not r.get("assay_ok")]
    ref_fails = [(r["dataset"], k) for r in records for k in ("lightgbm", "hgb") if r.get(f"{k}_ok") is False]
    beats_hgb = sum(1 for r in records if r.get("assay_ok") and r.get("hgb_ok")
                    and _better(r["assay_test_score"], r["hgb_test_score"], r["greater_is_better"]))
    lines += ["", "## Summary", ""]
    if n:
        share = beats / n
        lines.append(f"- assay beats LightGBM defaults on {beats}/{n} datasets ({share:.0%}); target >= 80%: "
                     f"{'met' if share >= 0.8 else 'NOT met'}")
        lines.append(f"- assay beats HistGradientBoosting defaults on {beats_hgb}/{n} datasets")
        if ratios:
            lines.append(f"- max wall/limit ratio: {max(ratios):.3f} ({worst['dataset']}, "
                         f"{worst['assay_fit_wall_s']:.1f} s); limit kept on {kept}/{n} datasets; target all: "
                         f"{'met' if kept == n else 'NOT met'}")
        lines.append(f"- assay failures: {len(fails)}" + (
            " (" + ", ".join(f"{r['dataset']}: {r.get('assay_error')}" for r in fails) + ")" if fails else ""))
        odd = [r for r in records if r.get("assay_ok") and r.get("assay_status") not in (None, "complete")]
        if odd:
            lines.append("- Runs not 'complete' (run.json status): "
                         + ", ".join(f"{r['dataset']} {r['assay_status']}" for r in odd))
        if ref_fails:
            lines.append("- reference failures: " + ", ".join(f"{d} ({k})" for d, k in ref_fails))
        unseen = [(r["dataset"], r["test_unseen_label_rows_dropped"]) for r in records
                  if r.get("test_unseen_label_rows_dropped")]
        if unseen:
            lines.append("- test rows dropped (label unseen in training): "
                         + ", ".join(f"{d} {k}" for d, k in unseen))
    else:
        lines.append("- no dataset finished")
    for r in fails:
        lines += ["", f"### {r['dataset']}: {r.get('assay_error')}", "", "```",
                  (r.get("assay_output_tail") or "").strip()[-1500:], "```"]
    return "\n".join(lines) + "\n"


def _trials(r: dict) -> str:
    n, bad = r.get("assay_n_trials"), r.get("assay_n_failed_trials")
    if n is None:
        return "-"
    return f"{n} ({bad} failed)" if bad else str(n)


def _better(a, b, greater) -> bool:
    if a is None or b is None or not (np.isfinite(a) and np.isfinite(b)):
        return False
    return a > b if greater else a < b


# ---------------------------------------------------------------------------------------
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=None,
                   help="comma-separated names, or @file with one name per line (default: all in the manifest)")
    p.add_argument("--datasets-dir", type=Path, default=DEFAULT_DATASETS,
                   help="folder with manifest.json and the *.csv.gz files (default %(default)s)")
    p.add_argument("--time-limit", type=float, default=60.0, help="assay fit --time-limit (default 60)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None,
                   help="JSONL results (default benchmarks/results/vs_lightgbm_<limit>s.jsonl); the report goes to .md")
    p.add_argument("--resume", action="store_true", help="skip datasets already in --out (else --out is restarted)")
    p.add_argument("--n-jobs", type=int, default=2, help="threads for LightGBM and HGB (default 2)")
    p.add_argument("--skip", default="", help="comma-separated references to skip: lightgbm,hgb")
    p.add_argument("--keep-runs", default=None, help="copy each assay Run directory under this folder")
    p.add_argument("--work-dir", default=None, help="where temporary train/test CSVs and Runs go (default system tmp)")
    p.add_argument("--assay-args", default="", help="extra arguments for `assay fit`, quoted as one string")
    args = p.parse_args(argv)
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.time_limit <= 0:
        p.error("--time-limit must be > 0")
    if args.out is None:
        args.out = HERE / "results" / f"vs_lightgbm_{args.time_limit:g}s.jsonl"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    md_path = args.out.with_suffix(".md")
    extra = shlex.split(args.assay_args)

    entries = parse_dataset_list(args.datasets, load_manifest(args.datasets_dir))
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    machine = machine_info()
    log(f"machine: {json.dumps(machine)}")
    log(f"command: {command}")

    done = read_done(args.out) if args.resume else {}
    if not args.resume and args.out.exists():
        args.out.unlink()
    for i, entry in enumerate(entries, 1):
        if entry["name"] in done:
            log(f"[{entry['name']}] already in {args.out}: skipped")
            continue
        log(f"== {i}/{len(entries)} {entry['name']}")
        try:
            rec = bench_dataset(entry, args, extra)
        except KeyboardInterrupt:
            log("interrupted: results so far are in " + str(args.out))
            break
        except Exception as e:  # noqa: BLE001 - e.g. the dataset file cannot be read
            rec = {"dataset": entry["name"], "task": entry["task"], "metric": entry["metric"],
                   "time_limit": args.time_limit, "seed": args.seed, "assay_ok": False,
                   "assay_beats_lightgbm": False, "limit_kept": False,
                   "assay_error": f"benchmark error: {type(e).__name__}: {e}",
                   "assay_output_tail": traceback.format_exc()[-STDERR_TAIL:]}
        rec["machine"] = {k: machine.get(k) for k in ("cpu_model", "usable_cores", "memory_gib")}
        append_record(args.out, rec)
        log(f"[{entry['name']}] assay {rec.get('assay_test_score')} | lightgbm {rec.get('lightgbm_test_score')} | "
            f"hgb {rec.get('hgb_test_score')} | wall {rec.get('assay_fit_wall_s')}s | "
            f"limit kept {rec.get('limit_kept')}" + ("" if rec.get("assay_ok") else f" | FAIL {rec.get('assay_error')}"))

    wanted = [e["name"] for e in entries]
    finished = read_done(args.out)
    records = [finished[n] for n in wanted if n in finished]
    text = report(records, machine, command, args)
    md_path.write_text(text)
    print(text)
    log(f"wrote {args.out} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

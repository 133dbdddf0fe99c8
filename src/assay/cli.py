"""The `assay` command line. Thin: parse, call the API, print.

Imports of the heavy parts happen inside the commands so `assay --help` is fast.
A user error prints one line and exits with code 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="assay: from a table to a tuned, explained, audited model.")


def _fail(message: str, code: int = 2):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _setup_logging(quiet: bool, verbose: bool) -> None:
    import logging

    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    if verbose:
        level = logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log = logging.getLogger("assay")
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def _guard(fn):
    """Run a command body, turning user errors into one line + exit 2."""
    from assay.errors import AssayInputError, MissingExtraError

    try:
        return fn()
    except (AssayInputError, MissingExtraError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130)


@app.command()
def fit(
    data: str = typer.Argument(..., help="table: CSV (any delimiter, .gz), Parquet, Feather, JSONL"),
    target: str = typer.Option(..., "--target", "-t", help="column to predict"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default runs/<data name>)"),
    time_limit: Optional[float] = typer.Option(60.0, "--time-limit", help="seconds for the whole fit"),
    max_trials: Optional[int] = typer.Option(None, "--max-trials", help="cap on search trials"),
    task: Optional[str] = typer.Option(None, "--task", help="binary | multiclass | regression (default: inferred)"),
    metric: Optional[str] = typer.Option(None, "--metric", help="roc_auc, log_loss, accuracy, balanced_accuracy, f1, rmse, mae, r2"),
    families: Optional[str] = typer.Option(None, "--families", help="comma-separated model families (default: all installed)"),
    search: str = typer.Option("tpe", "--search", help="tpe | random | cmaes"),
    pruner: str = typer.Option("median", "--pruner", help="stop bad configurations after a fold: "
                               "median | hyperband | none"),
    stack: str = typer.Option("auto", "--stack", help="second layer trained on out-of-fold predictions + "
                              "features: auto (time limit >= 120 s) | on | off"),
    device: str = typer.Option("auto", "--device", help="auto (CUDA where a GPU is present) | cpu | cuda: "
                               "for the MLP, XGBoost and CatBoost"),
    distill: bool = typer.Option(False, "--distill", help="also distill the ensemble into one fast LightGBM "
                                 "(kept as model 'distilled': predict --model distilled)"),
    folds: Optional[int] = typer.Option(None, "--folds", help="CV folds (default by data size)"),
    bag_repeats: Optional[int] = typer.Option(None, "--bag-repeats", help="k-fold splits per ensemble member "
                                              "(repeated bagging; default: 3 for a binary target on "
                                              "small data, where the fold models are kept, else 1)"),
    seed: int = typer.Option(0, "--seed"),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="threads per trial (default all cores)"),
    refit: str = typer.Option("auto", "--refit", help="auto | full | folds (auto: the fold models on "
                              "small data, else a refit on all rows where the budget allows)"),
    speed_tolerance: float = typer.Option(0.001, "--speed-tolerance", help="drop ensemble members that slow "
                                          "prediction but add less than this share of the CV score "
                                          "(0.001 = 0.1%; 0 keeps every selected member)"),
    monotone: Optional[str] = typer.Option(None, "--monotone", help="monotone constraints, e.g. age:+1,debt:-1 (numeric columns)"),
    sensitive: Optional[str] = typer.Option(None, "--sensitive", help="sensitive columns, e.g. sex,race: kept out of "
                                            "the features and recorded for fairness audits"),
    allow_sensitive_features: bool = typer.Option(False, "--allow-sensitive-features",
                                                  help="also use the --sensitive columns as features"),
    fairness: Optional[str] = typer.Option(None, "--fairness", help="e.g. equalized_odds<=0.05: search for models "
                                           "that are accurate AND fair (NSGA-II over metric and disparity)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing Run at --out"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress display"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logs"),
):
    """Search models for TARGET within the time limit and save the Run."""
    _setup_logging(quiet, verbose)

    def body():
        import assay
        from assay.config import FitConfig

        fams = [f.strip() for f in families.split(",") if f.strip()] if families else None
        cfg = FitConfig(time_limit=time_limit if time_limit and time_limit > 0 else None,
                        max_trials=max_trials, task=task, metric=metric, families=fams,
                        search=search, pruner=pruner, stack=stack, distill=distill, device=device, n_folds=folds, bag_repeats=bag_repeats, seed=seed, n_jobs=jobs, refit=refit,
                        speed_tolerance=speed_tolerance,
                        monotone=parse_monotone(monotone) if monotone else None,
                        sensitive=sensitive, allow_sensitive_features=allow_sensitive_features,
                        fairness=fairness,
                        verbosity=0 if quiet else (2 if verbose else 1))
        dest = out if out is not None else Path("runs") / _stem(data)
        run = assay.fit(data, target, cfg, out=dest, overwrite=overwrite)
        if not quiet:
            _print_leaderboard(run.leaderboard(), top=10)
            info = run.info()
            typer.echo(f"Run saved to {run.path}  ({info['metric']} {info['cv_score']:.5g} by cross-validation, "
                       f"{run.meta['timings']['total']:.1f}s)")
        if run.meta.get("fairness", {}).get("message"):     # --fairness: met or not, said plainly
            typer.echo(run.meta["fairness"]["message"], err=not run.meta["fairness"].get("met"))

    _guard(body)


@app.command()
def leaderboard(
    run_dir: Path = typer.Argument(..., help="Run directory"),
    all_rows: bool = typer.Option(False, "--all", help="every trial, not the top 20"),
    csv: bool = typer.Option(False, "--csv", help="print CSV instead of a table"),
):
    """Show the trials of a Run, best first."""
    def body():
        import pandas as pd

        from assay import store

        store.read_meta(run_dir)
        lb = pd.read_csv(run_dir / store.LEADERBOARD)
        if csv:
            typer.echo(lb.to_csv(index=False), nl=False)
        else:
            _print_leaderboard(lb, top=None if all_rows else 20)

    _guard(body)


@app.command()
def predict(
    run_dir: Path = typer.Argument(..., help="Run directory"),
    data: str = typer.Argument(..., help="rows to score (same columns as training; target not needed)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="write here (.csv, .parquet, .jsonl); default stdout as CSV"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="a kept model instead of the ensemble: "
                                        "a family (e.g. lightgbm) or a leaderboard name (lightgbm#3); "
                                        "see the leaderboard's predict rows/s to trade accuracy for speed"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Add `prediction` (and class probabilities) to the rows of DATA."""
    _setup_logging(quiet, False)

    def body():
        import assay
        from assay.errors import OptionError

        if output is not None and Path(data).exists() and output.resolve() == Path(data).resolve():
            raise OptionError(f"--output {output} is the input file; choose another path (nothing was changed)")
        run = assay.load(run_dir)
        frame = run.predict_frame(data, model=model)
        if output is None:
            typer.echo(frame.to_csv(index=False), nl=False)
            return
        _write_frame(frame, output)
        if not quiet:
            typer.echo(f"wrote {len(frame)} predictions to {output}", err=True)

    _guard(body)


@app.command()
def info(run_dir: Path = typer.Argument(..., help="Run directory"),
         as_json: bool = typer.Option(False, "--json", help="print run.json's summary as JSON")):
    """Schema, task, metric, best model and timings of a Run."""
    def body():
        import json

        from assay import store

        meta = store.read_meta(run_dir)
        if as_json:
            keep = {k: v for k, v in meta.items() if k != "schema"}
            typer.echo(json.dumps(keep, indent=2, default=str))
            return
        _print_info(meta, run_dir)

    _guard(body)


@app.command()
def explain(
    run_dir: Path = typer.Argument(..., help="Run directory"),
    data: str = typer.Option(..., "--data", "-d", help="rows to explain (same columns as training)"),
    rows: Optional[str] = typer.Option(None, "--rows", help="START:STOP or row numbers (default: all)"),
    method: str = typer.Option("auto", "--method", help="auto | shap | lime | permutation"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="directory for JSON and plots (default RUN/audit)"),
    plots: bool = typer.Option(False, "--plots", help="also write PNG plots"),
    top: int = typer.Option(10, "--top", help="features to print"),
    check_monotone: bool = typer.Option(False, "--check-monotone", help="verify the Run's monotone constraints on DATA"),
    rules: bool = typer.Option(False, "--rules", help="readable rules from tree members and a surrogate tree"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Explain a Run's predictions: SHAP (exact for trees, linear and their ensembles), LIME,
    permutation importance or rules; optionally verify monotone constraints."""
    _setup_logging(quiet, False)
    methods = ("auto", "shap", "lime", "permutation")

    def body():
        import assay
        from assay.errors import OptionError

        if method not in methods:
            raise OptionError(f"unknown method {method!r}; choose from: {', '.join(methods)}")
        run = assay.load(run_dir)
        dest = out if out is not None else run_dir / "audit"
        if check_monotone:
            from assay.audit.monotone import check_monotone as check

            res = check(run, data)
            res.save(dest / "monotone_check.json")
            _print_monotone(res)
            if not res.ok:
                raise typer.Exit(1)
            return
        if rules:
            _explain_rules(run, data, dest)
            return
        if method in ("auto", "shap"):
            res = run.explain(data, rows)
            path = res.save(dest / "explanation.json")
            _print_explanation(res, top)
            if plots:
                from assay.audit.dependence import partial_dependence, plot_partial_dependence
                from assay.audit.plots import save_all

                written = save_all(res, dest / "plots")
                top_features = list(res.importance().index[:4])
                pdp = partial_dependence(run, data, top_features)
                pdp.save(dest / "partial_dependence.json")
                written.append(plot_partial_dependence(pdp, dest / "plots" / "partial_dependence.png"))
                for p in written:
                    typer.echo(f"wrote {p}", err=True)
        elif method == "lime":
            from assay.audit.lime_explain import lime_explain

            res = lime_explain(run, data, rows)
            path = res.save(dest / "lime.json")
            typer.echo(res.to_frame().to_string(max_rows=top * 5))
            typer.echo(f"LIME stability (mean top-k Jaccard over seeds): {res.mean_stability:.3f}")
        else:
            from assay.audit.importance import permutation_importance

            res = permutation_importance(run, data)
            path = res.save(dest / "permutation_importance.json")
            typer.echo(res.to_frame().head(top).to_string())
        if not quiet:
            typer.echo(f"wrote {path}", err=True)

    _guard(body)


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="Run directory"),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="held-out rows WITH the target column "
                                       "(default: the Run's out-of-fold predictions; no SHAP plots)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="HTML file to write (default RUN/report.html)"),
    card: Optional[Path] = typer.Option(None, "--card", help="model card text: JSON or YAML with intended_use, "
                                        "out_of_scope, owner, limitations, ethical_considerations, ..."),
    shap_rows: int = typer.Option(500, "--shap-rows", help="held-out rows sampled for SHAP plots"),
    shap_seconds: float = typer.Option(8.0, "--shap-seconds", help="time for SHAP when a member needs "
                                       "permutation SHAP (slow): fewer rows are explained"),
    watts_per_core: Optional[float] = typer.Option(None, "--watts-per-core", help="power of a busy core for the "
                                                   "energy estimate (default 10 W)"),
    grid_intensity: Optional[float] = typer.Option(None, "--grid-intensity", help="g CO2e per kWh for the CO2 "
                                                   "estimate (default 475, world average)"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Write a self-contained HTML report of a Run: data, leaderboard, search, model card,
    performance plots, SHAP, audits, energy and CO2. Opens offline."""
    _setup_logging(quiet, False)

    def body():
        import os
        import time

        from assay.errors import OptionError
        from assay.report import build_report

        # a report explains a few dozen rows at most with shap's numba-jitted permutation code:
        # compiling it costs 5-15 s per process, running it as Python well under a second
        if "numba" not in sys.modules:
            os.environ.setdefault("NUMBA_DISABLE_JIT", "1")

        if shap_rows < 1:
            raise OptionError("--shap-rows must be at least 1")
        t = time.perf_counter()
        path = build_report(run_dir, data=data, out=out, card=card, shap_rows=shap_rows,
                            shap_seconds=shap_seconds, watts_per_core=watts_per_core,
                            grid_intensity=grid_intensity)
        if not quiet:
            typer.echo(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB) in {time.perf_counter() - t:.1f}s",
                       err=True)

    _guard(body)


# -- audits (a sub-app: `assay audit fairness ...`; other audits join it) -------------------

audit_app = typer.Typer(no_args_is_help=True, help="Audit a Run: fairness (more audits to come).")
app.add_typer(audit_app, name="audit")


@audit_app.command("fairness")
def audit_fairness(
    run_dir: Path = typer.Argument(..., help="Run directory"),
    data: str = typer.Option(..., "--data", "-d", help="rows WITH the true target and the sensitive columns"),
    sensitive: Optional[str] = typer.Option(None, "--sensitive", help="sensitive columns, e.g. sex,race "
                                            "(default: those of `fit --sensitive`)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="directory for JSON and plots (default RUN/audit)"),
    plots: bool = typer.Option(False, "--plots", help="also write PNG plots (group metrics with intervals, Pareto front)"),
    n_boot: int = typer.Option(1000, "--n-boot", help="bootstrap replicates for the intervals"),
    min_group_size: int = typer.Option(30, "--min-group-size", help="smaller groups are flagged, not compared"),
    proxies: bool = typer.Option(True, "--proxies/--no-proxies", help="report features that predict the sensitive columns"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Group metrics (selection rate, TPR, FPR, FNR, precision, AUC; regression: mean error, MAE)
    per group and intersection with bootstrap 95% intervals, disparities, small-group flags, proxies."""
    _setup_logging(quiet, False)

    def body():
        import assay
        from assay.errors import OptionError

        if n_boot < 50 or min_group_size < 1:
            raise OptionError("--n-boot must be at least 50 and --min-group-size at least 1")
        run = assay.load(run_dir)
        res = run.fairness(data, sensitive, n_boot=n_boot, min_group_size=min_group_size, proxies=proxies)
        dest = out if out is not None else run_dir / "audit"
        path = res.save(dest / "fairness.json")
        _print_fairness(res)
        if plots:
            from assay.fairness.plots import plot_group_metrics, plot_pareto

            written = plot_group_metrics(res, dest / "plots")
            lb_path = run_dir / "leaderboard.csv"
            pareto = plot_pareto(lb_path, dest / "plots" / "pareto.png", run.meta)
            for p in written + ([pareto] if pareto else []):
                typer.echo(f"wrote {p}", err=True)
        if not quiet:
            typer.echo(f"wrote {path}", err=True)

    _guard(body)


def _print_fairness(res) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console() if Console().is_terminal else Console(width=200)
    gf = res.group_frame()
    metrics = [m for m in res.overall]
    t = Table(title=f"groups ({res.confidence:.0%} bootstrap intervals; * = fewer than {res.min_group_size} rows)")
    for c in ["attribute", "group", "size", *metrics]:
        t.add_column(c, justify="left" if c in ("attribute", "group") else "right", no_wrap=True)
    for _, r in gf.iterrows():
        cells = [f"{r[m]:.3f} [{r[m + '_lo']:.2f}, {r[m + '_hi']:.2f}]" if r[m] == r[m] else "-" for m in metrics]
        t.add_row(str(r["attribute"]), str(r["group"]) + (" *" if r["small"] else ""), str(r["size"]), *cells)
    con.print(t)
    d = Table(title="disparities (between groups of adequate size)")
    for c in ("attribute", "disparity", "value", "interval", "note"):
        d.add_column(c)
    for x in res.disparities:
        ok = x["estimable"]
        d.add_row(x["attribute"], x["name"], f"{x['value']:.3f}" if ok else "-",
                  f"[{x['lo']:.3f}, {x['hi']:.3f}]" if ok else "-",
                  x["note"] or (f"left out: {', '.join(x['excluded'])}" if x["excluded"] else ""))
    con.print(d)
    flagged = [p for p in res.proxies if p["proxy"]]
    if res.proxies:
        con.print("proxies (AUC of predicting the sensitive column): " + (", ".join(
            f"{p['feature']} -> {p['sensitive']} {p['auc']:.2f}" for p in flagged) or "none at or above 0.70; "
            + ", ".join(f"{p['feature']} -> {p['sensitive']} {p['auc']:.2f}" for p in res.proxies[:3])))
    for w in res.warnings:
        con.print(f"[yellow]note[/]: {w}")


@app.command()
def mitigate(
    run_dir: Path = typer.Argument(..., help="Run directory"),
    constraint: str = typer.Option(..., "--constraint", "-c", help="demographic_parity | equalized_odds | "
                                   "equal_opportunity (optionally NAME<=BOUND)"),
    out: Path = typer.Option(..., "--out", "-o", help="directory of the new (mitigated) Run"),
    sensitive: Optional[str] = typer.Option(None, "--sensitive", help="sensitive columns (default: those of "
                                            "`fit --sensitive`); several = their intersection"),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="the training table (needed when the Run was "
                                       "fitted without --sensitive, and for the refitting methods)"),
    method: str = typer.Option("shift", "--method", help="shift (group thresholds on out-of-fold margins, "
                               "continuous scores) | threshold_optimizer | exponentiated_gradient | reweighing"),
    tolerance: Optional[float] = typer.Option(None, "--tolerance", help="largest difference allowed on the "
                                              "out-of-fold predictions (default 0.02)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing Run at --out"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Write a new Run whose predictions satisfy a fairness constraint (the Run given is unchanged)."""
    _setup_logging(quiet, False)

    def body():
        import assay
        from assay.fairness.mitigate import mitigate as do_mitigate

        if Path(out).resolve() == Path(run_dir).resolve():
            from assay.errors import OptionError

            raise OptionError("--out is the Run being mitigated; choose a new directory (nothing was changed)")
        run = assay.load(run_dir)
        new = do_mitigate(run, constraint, sensitive, data=data, method=method, tolerance=tolerance,
                          out=out, overwrite=overwrite)
        if not quiet:
            mi = new.meta["mitigation"]
            b, a = mi["oof_before"], mi.get("oof_after")
            typer.echo(f"{mi['method']} for {mi['constraint']} over {', '.join(mi['sensitive'])} "
                       f"({mi['seconds']:.2f}s): out-of-fold disparity {b['disparity']:.4f}"
                       + (f" -> {a['disparity']:.4f}, {run.metric} {b[run.metric]:.4f} -> {a[run.metric]:.4f}, "
                          f"accuracy {b['accuracy']:.4f} -> {a['accuracy']:.4f}" if a else ""))
            if mi.get("note"):
                typer.echo(f"note: {mi['note']}", err=True)
            typer.echo(f"Run saved to {new.path}")

    _guard(body)



@app.command()
def serve(
    run_dir: Path = typer.Argument(..., help="Run directory"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (0.0.0.0: every interface)"),
    port: int = typer.Option(8000, "--port", help="TCP port"),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="ASSAY_API_KEY",
                                          help="require header X-API-Key on every endpoint but /health "
                                               "(or set ASSAY_API_KEY)"),
    engine: str = typer.Option("python", "--engine", help="python | onnx (needs `assay export RUN --format onnx`)"),
    workers: int = typer.Option(1, "--workers", help="server processes (each loads the model)"),
    max_body_mb: float = typer.Option(10.0, "--max-body-mb", help="largest request body (413 above it)"),
    background: Optional[str] = typer.Option(None, "--background", help="training-like rows used as SHAP "
                                             "background by /explain (default: the posted rows)"),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="log every request"),
    batching: bool = typer.Option(True, "--batching/--no-batching", help="score /predict requests that "
                                  "arrive together as one batch (same answers, more throughput)"),
):
    """Serve a Run over HTTP: POST /predict and /explain, GET /health and /metadata, the
    OpenAPI schema at /openapi.json and a dashboard at /."""
    def body():
        from assay.serve.app import serve as run_server

        run_server(run_dir, host=host, port=port, api_key=api_key, engine=engine, workers=workers,
                   max_body_bytes=int(max_body_mb * 1024 * 1024), background=background, access_log=access_log,
                   batching=batching)

    _guard(body)

@app.command()
def export(
    run_dir: Path = typer.Argument(..., help="Run directory"),
    fmt: str = typer.Option("onnx", "--format", help="onnx (the only format so far)"),
    data: Optional[str] = typer.Option(None, "--data", help="held-out rows to verify the export on "
                                       "(default: synthetic rows from the schema, a weaker check)"),
    allow_partial: bool = typer.Option(False, "--allow-partial", help="export the members that convert "
                                       "when others do not (a smaller ensemble; its difference is reported)"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Write RUN/model.onnx (preprocessing + ensemble in one ONNX graph), verified against the
    Python model, and RUN/export.json with the verification numbers."""
    _setup_logging(quiet, False)

    def body():
        from assay.errors import OptionError

        if fmt != "onnx":
            raise OptionError(f"unknown export format {fmt!r}; choose: onnx")
        from assay.export import export_onnx

        rep = export_onnx(run_dir, data=data, allow_partial=allow_partial)
        if quiet:
            return
        what = "probabilities" if rep.label_agreement is not None else "predictions"
        typer.echo(f"wrote {run_dir / rep.path} ({rep.size_bytes / 1e6:.1f} MB); max abs difference of {what} "
                   f"vs Python: {rep.max_abs_diff:.2g} on {rep.n_rows} rows of {rep.verified_on}")
        for m in rep.members:
            if not m["converted"]:
                typer.echo(f"left out {m['member']} (weight {m['weight']:.3g}): {m['reason']}", err=True)
        if rep.max_abs_diff_vs_run is not None:
            typer.echo(f"partial export: differs from the Run's model by up to {rep.max_abs_diff_vs_run:.3g}",
                       err=True)

    _guard(body)


def _explain_rules(run, data, dest: Path) -> None:
    from assay.audit.rules import surrogate, tree_rules
    from assay.errors import OptionError

    try:
        rs = tree_rules(run, data)
        rs.save(dest / "tree_rules.json")
        typer.echo("Rules from the tree-based members:")
        typer.echo(rs.to_text())
    except OptionError as e:      # no tree member: the surrogate still explains
        typer.echo(f"note: {e}", err=True)
    sg = surrogate(run, data)
    sg.save(dest / "surrogate.json")
    typer.echo("\nSurrogate tree fitted to the Run's predictions:")
    typer.echo(sg.to_text())


def _print_explanation(res, top: int) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"SHAP values in {res.output_space}; {len(res.rows)} rows; "
              f"{'exact' if res.exact else 'approximate'} (max additivity error {res.additivity_error:.2g})")
    for m in res.members:
        con.print(f"  member {m['member']} weight {m['weight']:.3f}: {m['method']}")
    t = Table(title="global importance (mean |SHAP|)")
    t.add_column("feature")
    t.add_column("mean |SHAP|", justify="right")
    for name, v in res.importance().head(top).items():
        t.add_row(str(name), f"{v:.4g}")
    con.print(t)


def _print_monotone(res) -> None:
    from rich.console import Console

    con = Console()
    for f in res.features:
        con.print(f"{f['feature']} ({'+' if f['direction'] > 0 else '-'}1): {f['violations']} violations "
                  f"over {f['rows_checked']} rows, worst {f['worst_violation']:.3g}")
    con.print("[green]all constraints hold[/]" if res.ok else "[red]constraints violated[/]")


def parse_monotone(text: str) -> dict[str, int]:
    """`age:+1,debt:-1` -> {"age": 1, "debt": -1} (directions +1/1/+ or -1/-); OptionError otherwise."""
    from assay.errors import OptionError

    signs = {"+1": 1, "1": 1, "+": 1, "-1": -1, "-": -1}
    out = {}
    for item in (p.strip() for p in text.split(",")):
        col, sep, d = item.rpartition(":")
        if not item or not sep or not col.strip() or d.strip() not in signs:
            raise OptionError(f"--monotone: cannot read {item!r}; write COLUMN:+1 or COLUMN:-1, "
                              "comma-separated (e.g. age:+1,debt:-1)")
        out[col.strip()] = signs[d.strip()]
    return out


def _stem(data: str) -> str:
    name = Path(str(data)).name
    for suffix in (".gz", ".bz2", ".zip", ".csv", ".tsv", ".txt", ".parquet", ".feather", ".arrow", ".jsonl", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name or "run"


def _write_frame(frame, output: Path) -> None:
    from assay.errors import OptionError

    suffix = "".join(output.suffixes[-2:]).lower()
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        if suffix.endswith(".parquet"):
            frame.to_parquet(tmp, index=False)
        elif suffix.endswith((".jsonl", ".ndjson")):
            frame.to_json(tmp, orient="records", lines=True)
        elif suffix.endswith((".csv", ".csv.gz", ".txt")) or suffix == "":
            frame.to_csv(tmp, index=False, compression="gzip" if suffix.endswith(".gz") else None)
        else:
            raise OptionError(f"cannot write {output}: use a .csv, .csv.gz, .parquet or .jsonl name")
        tmp.replace(output)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OptionError(f"cannot write {output}: {e.strerror or e}") from None


def _print_leaderboard(lb, top=None) -> None:
    from rich.console import Console
    from rich.table import Table

    from assay.search.repeats import repeated_bagging

    wanted = ["rank", "model", "status", *[c for c in lb.columns if c.startswith("cv_")],
              "disparity", "pareto", "ensemble_weight", "splits", "fit_s", "predict_rows_per_s", "trial_s"]
    cols = [c for c in wanted if c in lb.columns and (c != "splits" or repeated_bagging(lb))]
    shown = lb if top is None else lb.head(top)
    table = Table(show_lines=False)
    for c in cols:
        table.add_column(c.replace("_", " "), justify="left" if c in ("model", "status") else "right",
                         no_wrap=True)
    for _, row in shown.iterrows():
        table.add_row(*[_fmt(row[c]) for c in cols])
    con = Console()
    (con if con.is_terminal else Console(width=200)).print(table)
    if top is not None and len(lb) > top:
        typer.echo(f"... {len(lb) - top} more rows (--all)")


def _fmt(v) -> str:
    import math

    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.5g}"
    return str(v)


def _print_info(meta: dict, run_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"[bold]Run[/] {run_dir}  (assay {meta.get('assay_version')}, {meta.get('created')}, {meta.get('status')})")
    con.print(f"target [bold]{meta['target']}[/]  task {meta['task']}  metric {meta['metric']}  "
              f"cv score {meta['cv_score']:.5g}  rows {meta['n_rows']}  folds {meta.get('n_folds')}")
    con.print(f"best model: {meta['best_model']}  (best single: {meta['best_single_model']['model']} "
              f"{meta['best_single_model']['score']:.5g}); trials {meta['n_trials']}, failed {meta['n_failed']}")
    t = Table(title="ensemble members")
    for c in ("member", "weight", "fit", "n_models"):
        t.add_column(c)
    for m in meta.get("ensemble", []):
        t.add_row(m["member"], f"{m['weight']:.3f}", m["fit"], str(m["n_models"]))
    con.print(t)
    s = Table(title="schema")
    for c in ("column", "kind", "dtype", "unique", "missing", "note"):
        s.add_column(c)
    for c in meta["schema"]["columns"]:
        s.add_row(str(c["name"]), c["kind"], c["dtype"], str(c["n_unique"]),
                  f"{c['missing_fraction']:.1%}", c.get("note", ""))
    con.print(s)
    con.print("timings (s): " + ", ".join(f"{k} {v}" for k, v in meta.get("timings", {}).items()))
    for w in meta.get("warnings", []):
        con.print(f"[yellow]warning[/]: {w}")


def main():
    app()


if __name__ == "__main__":
    main()

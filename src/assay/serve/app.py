"""The REST service over one Run: `create_app(run_or_path)` -> a FastAPI app.

Endpoints (all but /health, / and /static/* need the `X-API-Key` header when an API key is set):

    POST /predict      JSON ({"records": [...]}, a list of records, or one record) or text/csv;
                       returns predictions, class probabilities and warnings (unseen categories,
                       ignored fields)
    POST /explain      SHAP values of the posted rows (`Run.explain`): per-row contributions per
                       output and the base values
    GET  /health       liveness (no key needed)
    GET  /metadata     schema, assay version, task, metric, CV score, best leaderboard row, classes
    GET  /leaderboard  the Run's leaderboard (top rows)
    GET  /report       RUN/report.html where `assay report` wrote one
    GET  /openapi.json the OpenAPI schema; its request bodies are generated from the Run's schema
    GET  /             the dashboard (static page in this package; it calls the endpoints above)

Bad bodies answer 422 with FastAPI's error shape ({"detail": [{"loc", "msg", "type"}]}, the loc
naming the field), bodies over `max_body_bytes` 413, a missing/wrong key 401. The handlers
are `async`; small /predict bodies are micro-batched (`_Batcher`: requests that arrive while a
batch is scored form the next batch), large bodies and /explain run in the thread pool, so
/health stays responsive.
"""

import hmac
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import AssayInputError, OptionError, require

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_EXPLAIN_ROWS = 100
INLINE_ROWS = 256                 # score up to this many rows on the event loop itself
BACKGROUND_ROWS = 100
STATIC = Path(__file__).parent / "static"
LEADERBOARD_ROWS = 50

_log = logging.getLogger("assay.serve")


def create_app(run_or_path, engine: Any = "python", api_key: str | None = None,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, *, background=None,
               max_explain_rows: int = MAX_EXPLAIN_ROWS, batching: bool = True):
    """A FastAPI app serving `run_or_path` (a Run or a Run directory).

    engine: "python", "onnx", or an object with `predict_frame(df)` (see `assay.serve.engine`).
    api_key: if given, every endpoint except /health (and the static dashboard shell) needs
    the header `X-API-Key: <api_key>`.
    background: rows (path or DataFrame, training-like) that /explain uses as SHAP background for
    linear and permutation members; without it the posted rows are their own background.
    batching: score small /predict requests that arrive while a batch is being scored together
    in the next batch (adaptive micro-batching, no waiting window); False scores each request
    on the event loop as it comes.
    """
    require("fastapi", "serve")
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.security import APIKeyHeader
    from fastapi.staticfiles import StaticFiles
    from starlette.concurrency import run_in_threadpool

    import assay
    from assay.run import Run
    from assay.serve.engine import load_engine
    from assay.serve.schema import BodyError, RequestModels, json_type

    if int(max_body_bytes) < 1:
        raise OptionError(f"max_body_bytes={max_body_bytes}: give a positive number of bytes")
    run = run_or_path if isinstance(run_or_path, Run) else assay.load(run_or_path)
    eng = load_engine(engine, run) if isinstance(engine, str) else engine
    models = RequestModels.build(run.schema)
    bg = _background(run, background)
    schema = run.schema
    feature_specs = schema.features
    classes = [str(c) for c in run.classes] if run.classes else None
    n_features = len(feature_specs)

    app = FastAPI(
        title=f"assay model: {schema.target} ({run.task})",
        version=assay.__version__,
        description=(f"Predicts '{schema.target}' ({run.task}; {run.metric} {_num(run.meta.get('cv_score'))} by "
                     f"cross-validation). Request bodies are generated from the Run's schema."),
        openapi_url=None, docs_url=None, redoc_url=None, max_body_size=int(max_body_bytes),
    )
    app.state.run, app.state.engine, app.state.models = run, eng, models
    batcher = _Batcher(eng, INLINE_ROWS) if batching else None

    key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="required when the server was started with --api-key")

    async def check_key(key: str | None = Depends(key_header)):
        if api_key is None:
            return
        if key is None or not hmac.compare_digest(key.encode(), api_key.encode()):
            raise HTTPException(401, "missing or wrong API key: send the header X-API-Key",
                                headers={"WWW-Authenticate": "X-API-Key"})

    auth = [Depends(check_key)] if api_key is not None else []

    @app.exception_handler(BodyError)
    async def _body_error(request, exc: BodyError):
        return JSONResponse({"detail": exc.errors}, status_code=422)

    @app.exception_handler(AssayInputError)
    async def _input_error(request, exc: AssayInputError):
        return JSONResponse({"detail": [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]},
                            status_code=422)

    async def parse(request: Request, limit_rows: int | None = None):
        body = await _read_body(request, int(max_body_bytes))
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not body.strip():
            raise BodyError([{"loc": ["body"], "type": "missing",
                              "msg": "the request body is empty: send JSON (one record, or {\"records\": "
                                     "[...]}) or CSV with a header row"}])
        if ctype in ("text/csv", "application/csv"):
            data = _csv_records(body)
        elif ctype in ("", "application/json") or ctype.endswith("+json"):
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError) as e:
                raise BodyError([{"loc": ["body", getattr(e, "pos", 0)], "type": "json_invalid",
                                  "msg": f"JSON decode error: {getattr(e, 'msg', e)}"}]) from None
        else:
            raise HTTPException(415, f"unsupported content type {ctype!r}: send application/json or text/csv")
        recs, raw, loc = models.records_from_json(data)
        if limit_rows is not None and len(recs) > limit_rows:
            raise BodyError([{"loc": ["body"], "type": "too_long",
                              "msg": f"{len(recs)} records: at most {limit_rows} per request here"}])
        return models.frame(recs), models.warnings(recs, raw, loc)

    def predictions(out: pd.DataFrame) -> dict:
        res: dict[str, Any] = {"predictions": out["prediction"].tolist()}
        if classes is not None:
            p = out[[f"proba_{c}" for c in run.classes]].to_numpy(dtype="float64")
            res["probabilities"] = [dict(zip(classes, row)) for row in p.tolist()]
        return res

    @app.post("/predict", dependencies=auth, summary="Score rows", tags=["model"],
              openapi_extra=_body_spec("The rows to score."),
              responses={200: {"description": "predictions (labels or values), class probabilities, "
                                              "warnings", "content": {"application/json": {"schema": _predict_out(run)}}},
                         413: {"description": "body too large"}, 422: {"description": "invalid body"}})
    async def predict(request: Request):
        df, warns = await parse(request)
        if batcher is not None and len(df) <= INLINE_ROWS:
            out = await batcher.predict(df)
        elif len(df) <= INLINE_ROWS:
            out = eng.predict_frame(df)
        else:
            out = await run_in_threadpool(eng.predict_frame, df)
        res = predictions(out)
        res["warnings"] = warns
        return _json(res)

    def explain_rows(df: pd.DataFrame) -> dict:
        data = df if bg is None else pd.concat([df, bg], ignore_index=True)
        ex = run.explain(data, rows=list(range(len(df))), background_rows=len(data))
        out = run.predict_frame(df)
        res = predictions(out)
        names = list(ex.feature_names)
        rows = []
        X = ex.data
        for i in range(len(df)):
            vals = {o: dict(zip(names, np.round(ex.values[i, :, j], 8).tolist()))
                    for j, o in enumerate(ex.output_names)}
            feats = {c: _plain(X.iloc[i][c]) for c in names}
            rows.append({"row": i, "values": vals, "features": feats})
        res.update({
            "output_space": ex.output_space,
            "output_names": list(ex.output_names),
            "base_values": dict(zip(ex.output_names, np.asarray(ex.base_values, dtype=float).tolist())),
            "rows": rows,
            "exact": bool(ex.exact),
            "additivity_error": float(ex.additivity_error),
            "members": [{k: _plain(v) for k, v in m.items()} for m in ex.members],
        })
        return res

    @app.post("/explain", dependencies=auth, summary="SHAP values of rows", tags=["model"],
              openapi_extra=_body_spec(f"The rows to explain (at most {max_explain_rows})."),
              responses={200: {"description": "per-row SHAP contributions per output (margin space: "
                                              "log-odds, per-class log-scores, or the predicted value) "
                                              "and the base values; base + sum(values) = the margin"},
                         413: {"description": "body too large"}, 422: {"description": "invalid body"}})
    async def explain(request: Request):
        df, warns = await parse(request, limit_rows=max_explain_rows)
        res = await run_in_threadpool(explain_rows, df)
        if bg is None and any(m["method"].startswith(("linear", "permutation")) for m in res["members"]):
            warns.append({"row": None, "field": None, "value": None, "type": "no_background",
                          "message": "the server has no background data (assay serve --background): linear "
                                     "and permutation SHAP values are relative to the posted rows' mean"})
        res["warnings"] = warns
        return _json(res)

    @app.get("/health", summary="Liveness (no key needed)", tags=["service"])
    async def health():
        return _json({"status": "ok", "engine": getattr(eng, "name", type(eng).__name__),
                      "assay_version": assay.__version__})

    @app.get("/metadata", dependencies=auth, summary="What this model is", tags=["service"])
    async def metadata():
        return _json(_metadata(run, eng, json_type, feature_specs))

    @app.get("/leaderboard", dependencies=auth, summary="The Run's leaderboard (best first)", tags=["service"])
    async def leaderboard():
        lb = run.leaderboard().head(LEADERBOARD_ROWS)
        keep = [c for c in ("rank", "model", "family", "status") if c in lb.columns]
        keep += [c for c in lb.columns if c.startswith("cv_")]
        keep += [c for c in ("ensemble_weight", "fit_s", "trial_s") if c in lb.columns]
        lb = lb[keep]
        rows = [[_plain(v) for v in r] for r in lb.itertuples(index=False, name=None)]
        return _json({"columns": keep, "rows": rows, "n_total": int(len(run.leaderboard()))})

    @app.get("/report", dependencies=auth, summary="The Run's HTML report", tags=["service"])
    async def report():
        path = run.path / "report.html" if run.path is not None else None
        if path is None or not path.is_file():
            raise HTTPException(404, "this Run has no report.html: create it with `assay report RUN`")
        return FileResponse(path, media_type="text/html")

    @app.get("/openapi.json", dependencies=auth, include_in_schema=False)
    async def openapi():
        return JSONResponse(app.openapi())

    if api_key is None:
        from fastapi.openapi.docs import get_swagger_ui_html

        @app.get("/docs", include_in_schema=False)
        async def docs():
            return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title)

    @app.get("/", include_in_schema=False)
    async def dashboard():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    def custom_openapi():
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi
        from pydantic.json_schema import models_json_schema

        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        _, defs = models_json_schema([(models.record, "validation"), (models.batch, "validation")],
                                     ref_template="#/components/schemas/{model}")
        spec.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        for p in ("/predict", "/explain"):
            body = spec["paths"][p]["post"]["requestBody"]["content"]
            body["application/json"]["schema"] = {"oneOf": [
                {"$ref": f"#/components/schemas/{models.batch.__name__}"},
                {"$ref": f"#/components/schemas/{models.record.__name__}"},
                {"type": "array", "items": {"$ref": f"#/components/schemas/{models.record.__name__}"}},
            ]}
        app.openapi_schema = spec
        return spec

    app.openapi = custom_openapi
    _warm_up(eng, models, n_features)
    return app


# --------------------------------------------------------------------------- helpers

def _json(obj, status: int = 200):
    from fastapi.responses import Response

    return Response(json.dumps(obj, separators=(",", ":"), allow_nan=False, default=_plain).encode(),
                    status_code=status, media_type="application/json")


def _plain(v):
    """A JSON-ready Python value (NaN/NaT -> None, numpy scalars -> Python)."""
    if v is None:
        return None
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float):
        return None if (v != v or v in (float("inf"), float("-inf"))) else v
    if isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, (pd.Timestamp,)):
        return None if pd.isna(v) else v.isoformat()
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def _num(v) -> str:
    try:
        return f"{float(v):.4g}"
    except (TypeError, ValueError):
        return "n/a"


def _body_spec(what: str) -> dict:
    # the schemas are filled in from the Run's request models in create_app's openapi()
    return {"requestBody": {"required": True, "description": what + " JSON: {\"records\": [...]}, a list of "
                            "records, or one record; or CSV with a header row.",
                            "content": {"application/json": {"schema": {}},
                                        "text/csv": {"schema": {"type": "string"}}}}}


def _predict_out(run) -> dict:
    if run.task == "regression":
        pred = {"type": "array", "items": {"type": "number"}}
    else:
        pred = {"type": "array", "items": {}, "description": f"labels, one of {[str(c) for c in run.classes][:20]}"}
    props = {"predictions": pred,
             "warnings": {"type": "array", "items": {"type": "object", "properties": {
                 "row": {"type": ["integer", "null"]}, "field": {"type": ["string", "null"]},
                 "value": {}, "type": {"type": "string"}, "message": {"type": "string"}}}}}
    if run.task != "regression":
        props["probabilities"] = {"type": "array", "items": {"type": "object", "additionalProperties":
                                                             {"type": "number"}},
                                  "description": "per row: class -> probability"}
    return {"type": "object", "properties": props}


def _metadata(run, eng, json_type, feature_specs) -> dict:
    import assay

    lb = run.leaderboard()
    best = None
    if len(lb):
        row = lb.iloc[0]
        score_col = next((c for c in lb.columns if c.startswith("cv_")), None)
        best = {"model": _plain(row.get("model")), "score": _plain(row.get(score_col)) if score_col else None,
                "metric": run.metric}
    feats = []
    for s in feature_specs:
        feats.append({"name": s.name, "kind": s.kind, "type": json_type(s),
                      "categories": [str(c) for c in s.categories] if s.categories else None,
                      "missing_fraction": round(float(s.missing_fraction), 6),
                      "datetime_format": s.datetime_format})
    return {
        "assay_version": assay.__version__,
        "run_assay_version": run.meta.get("assay_version"),
        "target": run.schema.target,
        "task": run.task,
        "metric": run.metric,
        "cv_score": _plain(run.meta.get("cv_score")),
        "best_model": run.meta.get("best_model"),
        "leaderboard_best": best,
        "classes": [_plain(c) for c in run.classes] if run.classes else None,
        "features": feats,
        "dropped_columns": run.schema.dropped,
        "n_rows": run.meta.get("n_rows"),
        "created": run.meta.get("created"),
        "status": run.meta.get("status"),
        "ensemble": run.meta.get("ensemble"),
        "engine": getattr(eng, "name", type(eng).__name__),
        "report": bool(run.path is not None and (Path(run.path) / "report.html").is_file()),
    }


def _background(run, background):
    if background is None:
        return None
    X = run.features(background).reset_index(drop=True)
    if len(X) > BACKGROUND_ROWS:
        rng = np.random.default_rng(0)
        X = X.iloc[np.sort(rng.choice(len(X), BACKGROUND_ROWS, replace=False))].reset_index(drop=True)
    return X


def _csv_records(body: bytes) -> list[dict]:
    import io

    import pyarrow.csv as pacsv

    from assay.data.io import NA_TOKENS, _sniff_delimiter
    from assay.serve.schema import BodyError

    try:
        sample = body[:65536].decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BodyError([{"loc": ["body"], "type": "value_error",
                          "msg": "the CSV body is not UTF-8 text; send UTF-8"}]) from None
    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            parse_options=pacsv.ParseOptions(delimiter=_sniff_delimiter(sample), newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(null_values=NA_TOKENS, strings_can_be_null=True,
                                                 quoted_strings_can_be_null=True))
    except Exception as e:  # pyarrow's parse errors
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BodyError([{"loc": ["body"], "type": "value_error",
                          "msg": f"cannot parse the CSV body ({first}); send a header row and one line per record"}]) from None
    names = [n.lstrip("\ufeff") for n in table.column_names]
    table = table.rename_columns(names)
    rows = table.to_pylist()
    if not rows:
        raise BodyError([{"loc": ["body"], "type": "missing",
                          "msg": "the CSV body has a header but no rows: send at least one record"}])
    return rows


async def _read_body(request, max_bytes: int) -> bytes:
    from fastapi import HTTPException

    chunks, n = [], 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > max_bytes:
            raise HTTPException(413, f"request body over the limit of {max_bytes} bytes: send fewer rows per request")
        chunks.append(chunk)
    return b"".join(chunks)


class _Batcher:
    """Adaptive micro-batching for small /predict requests.

    The first request is scored at once in a worker thread; requests that arrive meanwhile
    queue on the event loop (which stays free to read them) and are scored together, as one
    frame, in the next call. A model's per-call cost (pandas, preprocessing, per-estimator
    overhead) is paid once per batch instead of once per request, so throughput under load
    grows with the batch while a lone request waits for nothing. Rows are scored independently
    by every engine, so each request gets exactly the answer it would get alone. If a batch
    fails, its requests are scored one by one so one bad request cannot fail the others.
    """

    def __init__(self, engine, max_rows: int):
        from concurrent.futures import ThreadPoolExecutor

        self.engine = engine
        self.max_rows = max_rows
        self.queue: list = []
        self.running = False
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="assay-score")   # one batch at a time

    async def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        import asyncio

        fut = asyncio.get_running_loop().create_future()
        self.queue.append((df, fut))
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        try:
            while self.queue:
                batch, rows = [], 0
                while self.queue and (not batch or rows + len(self.queue[0][0]) <= self.max_rows):
                    item = self.queue.pop(0)
                    batch.append(item)
                    rows += len(item[0])
                try:
                    outs = await loop.run_in_executor(self.pool, self._score, [df for df, _ in batch])
                except Exception as e:  # noqa: BLE001 - handed to the requests' own handlers
                    outs = [e] * len(batch)
                for (_, fut), out in zip(batch, outs):
                    if fut.done():
                        continue
                    if isinstance(out, Exception):
                        fut.set_exception(out)
                    else:
                        fut.set_result(out)
        finally:
            self.running = False

    def _score(self, frames: list) -> list:
        if len(frames) == 1:
            return [self.engine.predict_frame(frames[0])]
        try:
            out = self.engine.predict_frame(pd.concat(frames, ignore_index=True))
        except Exception:
            results = []
            for f in frames:
                try:
                    results.append(self.engine.predict_frame(f))
                except Exception as e:  # noqa: BLE001
                    results.append(e)
            return results
        parts, i = [], 0
        for f in frames:
            parts.append(out.iloc[i:i + len(f)].reset_index(drop=True))
            i += len(f)
        return parts


def _warm_up(eng, models, n_features: int) -> None:
    """Score one all-missing row so lazy imports and first-call costs are paid before serving."""
    try:
        rec = models.record.model_validate({name: None for _, name in models.fields})
        eng.predict_frame(models.frame([rec]))
    except Exception as e:  # a model that cannot score an all-missing row still serves real rows
        _log.debug("warm-up prediction failed: %s", e)


# --------------------------------------------------------------------------- running it

_ENV = "ASSAY_SERVE_CONFIG"


def serve(run_dir, *, host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None,
          engine: str = "python", workers: int = 1, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
          background=None, access_log: bool = True, batching: bool = True) -> None:
    """Build the app (every user error surfaces here, before the port is bound) and run uvicorn.
    With several workers each process builds its own app from the same settings."""
    import os

    uvicorn = require("uvicorn", "serve")
    if workers < 1:
        raise OptionError(f"--workers {workers}: give at least 1")
    if not (0 < port < 65536):
        raise OptionError(f"--port {port}: give a port between 1 and 65535")
    app = create_app(run_dir, engine=engine, api_key=api_key, max_body_bytes=max_body_bytes,
                     background=background, batching=batching)
    kw = dict(host=host, port=port, access_log=access_log, log_level="info", timeout_graceful_shutdown=5)
    if workers == 1:
        uvicorn.run(app, **kw)
        return
    del app
    os.environ[_ENV] = json.dumps({"run_dir": str(Path(run_dir).resolve()), "engine": engine, "api_key": api_key,
                                   "max_body_bytes": max_body_bytes, "batching": batching,
                                   "background": None if background is None else str(background)})
    uvicorn.run("assay.serve.app:app_from_env", factory=True, workers=workers, **kw)


def app_from_env():
    """The app of one worker process (uvicorn --factory), from the settings `serve` left in the environment."""
    import os

    cfg = json.loads(os.environ[_ENV])
    return create_app(cfg["run_dir"], engine=cfg["engine"], api_key=cfg["api_key"],
                      max_body_bytes=cfg["max_body_bytes"], background=cfg["background"],
                      batching=cfg["batching"])

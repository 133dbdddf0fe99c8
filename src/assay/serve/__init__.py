"""Serving a Run over HTTP: `create_app(run_or_path)` (FastAPI), the engines behind it, the
request models generated from the Run's schema, and the dashboard (static files here).
Needs the `serve` extra (FastAPI, uvicorn)."""

from __future__ import annotations


def create_app(run_or_path, engine="python", api_key=None, max_body_bytes=None, **kw):
    """See `assay.serve.app.create_app`."""
    from assay.serve.app import DEFAULT_MAX_BODY_BYTES
    from assay.serve.app import create_app as _create

    return _create(run_or_path, engine=engine, api_key=api_key,
                   max_body_bytes=DEFAULT_MAX_BODY_BYTES if max_body_bytes is None else max_body_bytes, **kw)


__all__ = ["create_app"]

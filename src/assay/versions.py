"""Versions of the libraries a Run depends on (recorded in run.json)."""

from __future__ import annotations

import importlib.metadata as md
import platform

_PACKAGES = ("assay", "numpy", "pandas", "scikit-learn", "lightgbm", "xgboost", "catboost",
             "torch", "optuna", "pyarrow")


def library_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out

"""assay: from a table to a tuned, explained, audited and deployable model.

Public API (imported lazily so that `import assay` and `assay --help` stay fast):
    fit, load, Run, AutoClassifier, AutoRegressor, FitConfig
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "fit": ("assay.api", "fit"),
    "load": ("assay.run", "load"),
    "Run": ("assay.run", "Run"),
    "FitConfig": ("assay.config", "FitConfig"),
    "AutoClassifier": ("assay.sklearn", "AutoClassifier"),
    "AutoRegressor": ("assay.sklearn", "AutoRegressor"),
}

__all__ = list(_LAZY) + ["__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'assay' has no attribute {name!r}")

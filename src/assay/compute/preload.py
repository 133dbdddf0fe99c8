"""Imported once by the fork server so every trial process starts with the heavy
libraries already loaded (forking is then cheap). Nothing here runs any model."""

import importlib

for _name in ("numpy", "pandas", "scipy", "sklearn.ensemble", "sklearn.linear_model",
              "lightgbm", "xgboost", "catboost", "assay.search.trial"):
    try:
        importlib.import_module(_name)
    except Exception:  # an optional library that is not installed
        pass

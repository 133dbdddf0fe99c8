"""Audits read a Run and data and return plain result objects (JSON-able, plottable,
servable). They never reach back into the search. See `explain` for SHAP values of any
Run (exact for trees, linear models and ensembles of them)."""

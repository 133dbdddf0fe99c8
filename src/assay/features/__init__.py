"""Per-family preprocessing, fitted inside CV folds only (it is the first step of
every family's Pipeline, so it never sees validation rows).

`build_preprocessor(schema, style)` returns an unfitted scikit-learn transformer
that takes the raw feature DataFrame (columns = schema.feature_names) and
returns a numeric matrix (styles "linear", "tree", "embedding") or a
DataFrame with pandas `category` columns for boosters with native categorical
support (style "native").
"""

from assay.features.pipeline import STYLES, build_preprocessor

__all__ = ["build_preprocessor", "STYLES"]

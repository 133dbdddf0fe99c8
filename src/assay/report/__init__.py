"""The HTML report of a Run: `build_report(run, data=None, out=None) -> Path`.

`assay report RUN [--data HELDOUT] [--out report.html]` is the command line over it and
`Run.report(...)` the method. Needs the `report` extra (Jinja2, matplotlib); SHAP plots need
the `audit` extra.
"""

from assay.report.builder import build_report
from assay.report.card import load_card

__all__ = ["build_report", "load_card"]

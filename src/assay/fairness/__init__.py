"""Fairness: audit with confidence intervals (`metrics.fairness_audit`), proxies
(`proxies.find_proxies`), mitigation into a new Run (`mitigate.mitigate`), and the
fairness-aware search of `fit --fairness` (`objective`). Plots in `plots`.

Heavy imports (Fairlearn, matplotlib) happen inside the functions that need them.
"""

from __future__ import annotations


def fairness_audit(run, data, sensitive=None, **kw):
    from assay.fairness.metrics import fairness_audit as _audit

    return _audit(run, data, sensitive, **kw)


def mitigate(run, constraint, sensitive=None, **kw):
    from assay.fairness.mitigate import mitigate as _mitigate

    return _mitigate(run, constraint, sensitive, **kw)


__all__ = ["fairness_audit", "mitigate"]

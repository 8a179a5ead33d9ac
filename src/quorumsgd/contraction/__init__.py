"""Contraction analysis: symbolic Jacobians, metrics and rates (SymPy); LMI certificates (cvxpy).

``contraction.certify(alg, strong_convexity=, smoothness=, n_agents=)`` certifies the contraction metric and rate
of any affine agent system (your own algorithm: :mod:`quorumsgd.contraction.own_algorithm`); the paper's systems
are in :mod:`quorumsgd.contraction.symbolic` (SymPy) and :mod:`quorumsgd.contraction.lmi` (certificates).
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:  # PEP 562: cvxpy is imported on first use, not by `import contraction`
    if name in ("certify", "ContractionCertificate", "NotContracting"):
        value = getattr(importlib.import_module("quorumsgd.contraction.own_algorithm"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

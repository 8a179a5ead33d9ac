"""quorumsgd: verify Boffi & Slotine's continuous-time analysis of distributed SGD.

Layers (data flows one way): ``algorithms`` -> ``contraction`` -> ``bounds`` -> ``verify`` <- ``simulate`` <-
``algorithms``; ``training`` <- ``algorithms``.
"""

from quorumsgd.errors import HypothesisViolation, InvalidParameter, QuorumSGDError

__version__ = "0.1.0"
__all__ = ["HypothesisViolation", "InvalidParameter", "QuorumSGDError", "__version__"]

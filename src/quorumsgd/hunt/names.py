"""The names a hunt accepts (kept import-light: the command line reads them at start-up).

The theorem names come from the registry (:mod:`quorumsgd.bounds.registry`), the one place they are listed.
"""

from quorumsgd.bounds.registry import HUNTABLE, SDP_CERTIFIED

THEOREMS: tuple[str, ...] = HUNTABLE
"""Every measurable upper bound a hunt can target (the calculator's theorem names)."""

SDP_THEOREMS: tuple[str, ...] = tuple(name for name in HUNTABLE if name in SDP_CERTIFIED)
"""The bounds with an SDP certificate over S(lambda, L) (``bound NAME --method sdp``): a hunt can attack the
certificate instead of the paper's bound (``--against sdp``)."""

AGAINST: tuple[str, ...] = ("paper", "sdp")
"""What a hunt measures tightness against: the paper's bound, or the SDP certificate."""

FAMILIES: tuple[str, ...] = ("softplus", "switch", "logcosh", "quadratic")
"""Objective families: :class:`~quorumsgd.objectives.RotatedPieces` profiles, log-cosh, rotated quadratics."""

NOISES: tuple[str, ...] = ("isotropic", "anisotropic", "modulated", "uniform")
"""Noise models: isotropic Gaussian, or :class:`~quorumsgd.objectives.ShapedNoise` variants."""


def target(name: str, against: str = "paper") -> str:
    """A hunt's target: the theorem name, with ``@sdp`` when the certificate is attacked (``thm5.1@sdp``).

    The target names the hunt everywhere (store keys, reports), so the two hunts of a theorem never mix.

    >>> target("thm5.1", "sdp"), split("thm5.1@sdp"), split("thm5.1")
    ('thm5.1@sdp', ('thm5.1', 'sdp'), ('thm5.1', 'paper'))
    """
    return name if against == "paper" else f"{name}@{against}"


def split(hunt_target: str) -> tuple[str, str]:
    """``(theorem, against)`` of a target (see :func:`target`)."""
    name, _, against = hunt_target.partition("@")
    return name, against or "paper"

"""The names a hunt accepts (kept import-light: the command line reads them at start-up)."""

THEOREMS: tuple[str, ...] = ("lemma3.1", "thm3.2", "sgd", "thm5.1", "thm5.2", "thm5.3", "lemma5.5")
"""Every measurable upper bound a hunt can target (the calculator's theorem names)."""

FAMILIES: tuple[str, ...] = ("softplus", "switch", "logcosh", "quadratic")
"""Objective families: :class:`~quorumsgd.objectives.RotatedPieces` profiles, log-cosh, rotated quadratics."""

NOISES: tuple[str, ...] = ("isotropic", "anisotropic", "modulated", "uniform")
"""Noise models: isotropic Gaussian, or :class:`~quorumsgd.objectives.ShapedNoise` variants."""

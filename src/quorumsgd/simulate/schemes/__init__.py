"""Integration schemes, one per module, selected through one registry.

=================  ==========================================================  ==================================
key                scheme                                                      module
=================  ==========================================================  ==================================
``"euler"``        Euler--Maruyama on the algorithm's drift                    :mod:`~.euler`
                   (as one matrix product on small linear systems)             :mod:`~.affine`
                   (as the fused simulation kernel where it applies)           :mod:`~.fused`
``"exact"``        exact Gaussian transitions of the linear SDE                :mod:`~.exact`
``"cv"``           Euler beside the linearized twin (control variate)          :mod:`~.control_variate`
``"euler_cv"``     same, expectations from the Euler chain's law               :mod:`~.control_variate`
``"discrete"``     the discrete iterations                                     :mod:`~.discrete`
=================  ==========================================================  ==================================

:func:`select` is the one place that turns a :class:`~quorumsgd.simulate.config.RunConfig` into a scheme: each
key lists its variants, fastest first, and the first whose ``applies`` holds is used.

Example:
    >>> from quorumsgd.algorithms import QSGD
    >>> from quorumsgd.objectives import GaussianNoise, LogCosh
    >>> from quorumsgd.simulate.config import RunConfig
    >>> cfg = RunConfig.build(QSGD(), LogCosh(2), GaussianNoise.isotropic(2, 1.0), n_agents=3, sims=4,
    ...                       steps=10, dt=0.01, lr=0.1)
    >>> type(select(cfg)).__name__          # LogCosh is not quadratic: no fused kernel, the array step
    'Euler'
"""

from __future__ import annotations

from quorumsgd.simulate.config import RunConfig
from quorumsgd.simulate.schemes.affine import AffineEuler
from quorumsgd.simulate.schemes.base import NoiseSpec, Scheme
from quorumsgd.simulate.schemes.control_variate import ControlVariate
from quorumsgd.simulate.schemes.discrete import Discrete
from quorumsgd.simulate.schemes.euler import Euler
from quorumsgd.simulate.schemes.exact import Exact
from quorumsgd.simulate.schemes.fused import FusedKernel

SCHEMES: dict[str, tuple[type[Scheme], ...]] = {
    "euler": (FusedKernel, AffineEuler, Euler),
    "exact": (Exact,),
    "cv": (ControlVariate,),
    "euler_cv": (ControlVariate,),
    "discrete": (Discrete,),
}
"""Scheme key -> its implementations, the preferred first (the last one always applies)."""


def select(config: RunConfig) -> Scheme:
    """The scheme instance that integrates ``config`` (the first variant of its key that applies)."""
    for cls in SCHEMES[config.solver.scheme]:
        if cls.applies(config):
            return cls()
    raise AssertionError(f"no scheme applies to {config.solver.scheme!r}")  # pragma: no cover - last applies


__all__ = ["SCHEMES", "NoiseSpec", "Scheme", "select"]

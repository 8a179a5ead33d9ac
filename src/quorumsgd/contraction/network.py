r"""Full N-agent linearized systems, built from the algorithm definitions, and their synchronization rates.

For a quadratic loss :math:`f=\frac12\mathbf x^{\mathsf T}\mathbf H\mathbf x` the drift of every algorithm in
:mod:`quorumsgd.algorithms` is linear in the whole state (agents, velocities, quorum), so its Jacobian is
read off the algorithm's own ``drift`` (:func:`quorumsgd.algorithms.linearize.affine_map`); nothing is retyped
here.

The consensus subspace :math:`\mathcal C=\{\mathbf x^1=\dots=\mathbf x^p,\ \mathbf v^1=\dots=\mathbf v^p\}`
(quorum variables free) is invariant, so with orthonormal bases :math:`\mathbf U` of :math:`\mathcal C` and
:math:`\mathbf V` of its orthogonal complement :math:`\mathbf V^{\mathsf T}\mathbf J\mathbf U=0` and the
disagreement coordinates :math:`\mathbf V^{\mathsf T}\mathbf X` evolve on their own:

.. math::
    \tfrac{d}{dt}\mathbf V^{\mathsf T}\mathbf X=\mathbf J_d\,\mathbf V^{\mathsf T}\mathbf X,\qquad
    \mathbf J_d=\mathbf V^{\mathsf T}\mathbf J\mathbf V .

The LMI rate of :math:`\{\mathbf J_d(h)\}_{h\in\{\lambda,L\}}` is the certified synchronization rate (Thm 3.1:
:math:`k+\lambda` for QSGD and EASGD, whatever :math:`p`; Lemma 3.2 with momentum), and
:math:`\mathbf J_c=\mathbf U^{\mathsf T}\mathbf J\mathbf U` is the synchronized system of Lemmas 5.2 and 5.3.

Example:
    >>> net = linearize_network("qsgd", {"coupling": 2.0}, n_agents=3, hessian=0.5)
    >>> net.jacobian.shape, net.disagreement_jacobian.shape
    ((3, 3), (2, 2))
    >>> sorted(np.linalg.eigvals(net.jacobian).real.round(6).tolist())   # -(k + h) twice, -h once
    [-2.5, -2.5, -0.5]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from quorumsgd.algorithms import EASGD, QSGD, ContinuousAlgorithm, MomentumEASGD, MomentumQSGD
from quorumsgd.algorithms.linearize import affine_map
from quorumsgd.algorithms.ops import SIM_OPS
from quorumsgd.contraction.lmi import Certificate, certify
from quorumsgd.errors import InvalidParameter
from quorumsgd.parameters import validate_values

NETWORK_ALGORITHMS: tuple[str, ...] = ("qsgd", "easgd", "momentum_qsgd", "momentum_easgd")



def network_algorithm(name: str, params: Mapping[str, float]) -> ContinuousAlgorithm:
    """The algorithm object for a network name, with the toolkit's parameter names.

    ``qsgd`` and ``easgd`` need ``coupling``; the momentum variants also ``damping`` (``momentum_qsgd``
    optionally ``velocity_coupling``).

    Example:
        >>> network_algorithm("momentum_qsgd", {"coupling": 1.0, "damping": 2.0})
        MomentumQSGD(coupling=1.0, damping=2.0, velocity_coupling=0.0)
    """
    need = {
        "qsgd": ("coupling",),
        "easgd": ("coupling",),
        "momentum_qsgd": ("coupling", "damping"),
        "momentum_easgd": ("coupling", "damping"),
    }
    if name not in need:
        raise InvalidParameter("algorithm", f"one of {', '.join(NETWORK_ALGORITHMS)}", name, where="network")
    missing = [p for p in need[name] if p not in params]
    if missing:
        raise InvalidParameter(missing[0], f"be given for {name}", where="network")
    k = float(params["coupling"])
    if name == "qsgd":
        return QSGD(coupling=k)
    if name == "easgd":
        return EASGD(coupling=k)
    if name == "momentum_qsgd":
        return MomentumQSGD(
            coupling=k,
            damping=float(params["damping"]),
            velocity_coupling=float(params.get("velocity_coupling", 0.0)),
        )
    return MomentumEASGD(coupling=k, damping=float(params["damping"]))


def helmert_basis(n_agents: int) -> np.ndarray:
    r"""Orthonormal basis (columns) of :math:`\mathbf 1^\perp\subset\mathbb R^p`, shape ``(p, p-1)``.

    Column j compares agent j+1 with the first j agents (Helmert contrasts).

    Example:
        >>> b = helmert_basis(4)
        >>> np.allclose(b.T @ b, np.eye(3)), np.allclose(b.sum(axis=0), 0)
        (True, True)
    """
    basis = np.zeros((n_agents, n_agents - 1))
    for j in range(1, n_agents):
        basis[:j, j - 1] = 1.0
        basis[j, j - 1] = -j
        basis[:, j - 1] /= np.sqrt(j * (j + 1))
    return basis


@dataclass(frozen=True, eq=False)
class LinearizedNetwork:
    r"""The Jacobian of an N-agent algorithm at a quadratic loss, with its consensus / disagreement split.

    The state vector stacks the fields in ``fields`` order, each flattened row-major: agent fields are
    ``(n_agents, dim)``, quorum fields ``(dim,)``.
    """

    algorithm: ContinuousAlgorithm
    n_agents: int
    dim: int
    hessian: np.ndarray
    fields: tuple[str, ...]
    agent_fields: tuple[str, ...]
    jacobian: np.ndarray

    def shape(self, name: str) -> tuple[int, ...]:
        return (self.n_agents, self.dim) if name in self.agent_fields else (self.dim,)

    def _blocks(self, for_agents: np.ndarray, for_quorum: np.ndarray) -> np.ndarray:
        """Block-diagonal basis: ``for_agents`` on each agent field, ``for_quorum`` on each quorum field."""
        pieces = [for_agents if f in self.agent_fields else for_quorum for f in self.fields]
        rows = sum(p.shape[0] for p in pieces)
        cols = sum(p.shape[1] for p in pieces)
        out = np.zeros((rows, cols))
        r = c = 0
        for p in pieces:
            out[r : r + p.shape[0], c : c + p.shape[1]] = p
            r, c = r + p.shape[0], c + p.shape[1]
        return out

    @cached_property
    def consensus_basis(self) -> np.ndarray:
        r""":math:`\mathbf U`: every agent equal (:math:`\mathbf 1/\sqrt p\otimes\mathbf I`); quorum fields free."""
        ones = np.full((self.n_agents, 1), 1 / np.sqrt(self.n_agents))
        return self._blocks(np.kron(ones, np.eye(self.dim)), np.eye(self.dim))

    @cached_property
    def disagreement_basis(self) -> np.ndarray:
        r""":math:`\mathbf V`: orthonormal complement of :math:`\mathbf U` (Helmert contrasts :math:`\otimes\mathbf I`)."""
        # quorum fields get no columns: they belong to the consensus subspace
        return self._blocks(np.kron(helmert_basis(self.n_agents), np.eye(self.dim)), np.zeros((self.dim, 0)))

    @cached_property
    def disagreement_jacobian(self) -> np.ndarray:
        r""":math:`\mathbf J_d=\mathbf V^{\mathsf T}\mathbf J\mathbf V`, the dynamics of the agents' differences."""
        v = self.disagreement_basis
        return v.T @ self.jacobian @ v

    @cached_property
    def consensus_jacobian(self) -> np.ndarray:
        r""":math:`\mathbf J_c=\mathbf U^{\mathsf T}\mathbf J\mathbf U`, the synchronized system."""
        u = self.consensus_basis
        return u.T @ self.jacobian @ u

    def coupling_leak(self) -> float:
        r""":math:`\|\mathbf V^{\mathsf T}\mathbf J\mathbf U\|` relative to :math:`\|\mathbf J\|`: zero iff consensus is invariant."""
        leak = self.disagreement_basis.T @ self.jacobian @ self.consensus_basis
        return float(np.linalg.norm(leak) / max(np.linalg.norm(self.jacobian), 1e-300))

    @classmethod
    def of(cls, algorithm: ContinuousAlgorithm, n_agents: int, hessian: Any, dim: int | None = None
           ) -> LinearizedNetwork:
        r"""Jacobian of ``algorithm``'s drift for :math:`p` agents at :math:`f=\frac12\mathbf x^{\mathsf T}\mathbf H\mathbf x`.

        ``hessian`` is a number :math:`h` (:math:`\mathbf H=h\mathbf I_{\rm dim}`), a vector of eigenvalues or a
        symmetric matrix. The Jacobian is read off the drift by :func:`quorumsgd.algorithms.linearize.affine_map`.
        Raises :class:`InvalidParameter` if the drift is not linear (e.g. an affine input) or if the consensus
        subspace is not invariant.
        """
        if int(n_agents) != n_agents or n_agents < 1:
            raise InvalidParameter("n_agents", "n_agents integer >= 1", n_agents, where="network")
        n_agents = int(n_agents)
        h = _hessian(hessian, dim)
        d = h.shape[0]

        def grad(x: np.ndarray) -> np.ndarray:
            return x @ h  # H symmetric: row i is (H x^i)^T

        template = algorithm.init(np.zeros((1, n_agents, d)), SIM_OPS)
        drift = affine_map(lambda s: algorithm.drift(s, grad, SIM_OPS), template, where="network")
        if np.any(drift.offset != 0):
            raise InvalidParameter("algorithm", "a drift that vanishes at the minimizer (linear)", where="network")
        fields = tuple(drift.layout.shapes)
        agent_fields = tuple(f for f in fields if drift.layout.shapes[f] == (n_agents, d))
        net = cls(algorithm, n_agents, d, h, fields, agent_fields, drift.matrix)
        if n_agents > 1 and net.coupling_leak() > 1e-12:
            raise InvalidParameter(
                "algorithm",
                "a drift that leaves the consensus subspace invariant",
                f"leak {net.coupling_leak():.3g}",
                where="network",
            )
        return net


def _hessian(hessian: Any, dim: int | None) -> np.ndarray:
    h = np.asarray(hessian, dtype=float)
    if h.ndim == 0:
        return h * np.eye(1 if dim is None else dim)
    if h.ndim == 1:
        return np.diag(h)
    if h.ndim == 2 and h.shape[0] == h.shape[1] and np.allclose(h, h.T):
        return h
    raise InvalidParameter(
        "hessian", "a number, a vector of eigenvalues or a symmetric matrix", h.shape, where="network"
    )


def linearize_network(
    name: str, params: Mapping[str, float], n_agents: int, hessian: Any, dim: int | None = None
) -> LinearizedNetwork:
    """:meth:`LinearizedNetwork.of` for a named algorithm (:data:`NETWORK_ALGORITHMS`) and the toolkit's parameters."""
    return LinearizedNetwork.of(network_algorithm(name, params), n_agents, hessian, dim)


def curvature_vertices(params: Mapping[str, float]) -> tuple[float, ...]:
    r"""Hessian eigenvalues at the vertices of the family: :math:`\{\lambda, L\}`, or :math:`-\lambda_{\max}`."""
    if "strong_convexity" in params:
        lam = float(params["strong_convexity"])
        return (lam, float(params.get("smoothness", lam)))
    if "lambda_max" in params:
        return (-float(params["lambda_max"]),)
    raise InvalidParameter("strong_convexity", "be given (or lambda_max)", where="network")


def network_family(
    name: str,
    params: Mapping[str, float],
    n_agents: int,
    dim: int = 1,
    curvatures: Sequence[float] | None = None,
) -> list[LinearizedNetwork]:
    r"""One linearized network per Hessian eigenvalue :math:`h` (default :func:`curvature_vertices`), with
    :math:`\mathbf H=h\mathbf I_{\rm dim}`: the vertices of the polytope of Jacobians over :math:`h\in[\lambda,L]`."""
    validate_values({k: v for k, v in params.items() if k != "lambda_max"}, where="network")
    hs = curvature_vertices(params) if curvatures is None else tuple(curvatures)
    alg = network_algorithm(name, params)
    return [LinearizedNetwork.of(alg, n_agents, h, dim) for h in hs]


def certify_synchronization(
    name: str, params: Mapping[str, float], n_agents: int, dim: int = 1, **certify_options: Any
) -> Certificate:
    r"""LMI certificate of the synchronization rate: :func:`~quorumsgd.contraction.lmi.certify` on the
    disagreement Jacobians :math:`\mathbf V^{\mathsf T}\mathbf J(h)\mathbf V`, :math:`h\in\{\lambda,L\}`.

    Example:
        >>> cert = certify_synchronization("qsgd", {"coupling": 1.5, "strong_convexity": 0.5,
        ...                                         "smoothness": 3.0}, n_agents=5, dim=2)
        >>> cert.verified, round(cert.rate, 6)                      # k + lambda, for any n_agents
        (True, 2.0)
    """
    if n_agents < 2:
        raise InvalidParameter("n_agents", "n_agents >= 2 (one agent has no disagreement)", n_agents, where="network")
    family = network_family(name, params, n_agents, dim)
    return certify([net.disagreement_jacobian for net in family], **certify_options)


def certify_consensus(
    name: str, params: Mapping[str, float], n_agents: int, dim: int = 1, **certify_options: Any
) -> Certificate:
    r"""LMI certificate of the synchronized system :math:`\mathbf U^{\mathsf T}\mathbf J(h)\mathbf U`
    (Lemma 5.2 for EASGD, Lemma 5.3 for QSGD with momentum, the gradient flow for QSGD)."""
    family = network_family(name, params, n_agents, dim)
    return certify([net.consensus_jacobian for net in family], **certify_options)

r"""The building blocks the paper's proofs are made of, as SymPy functions.

Every bound in :mod:`quorumsgd.bounds.catalog` is a composition of these; nothing there is typed as a
closed form.

* :func:`robustness_distance` — Lemma 2.1 (12): :math:`\|\mathbf x-\mathbf y\|\le\chi\bar d/\lambda`;
* :func:`mean_square_gap` — Thm 2.1 / Cor 2.1 steady state for two trajectories with noise bounds
  :math:`C_a, C_b` in a metric :math:`\mathbf M\succeq\beta_{\min}\mathbf I`:
  :math:`\frac{C_a+C_b}{2\lambda\beta_{\min}}` (two noisy copies: :math:`C/(\lambda\beta_{\min})`; one:
  :math:`C/(2\lambda\beta_{\min})`);
* :func:`mean_square_gap_transient` — the full Thm 2.1 inequality with its transient;
* :func:`spread_from_pair_sum` — the pair-sum identity
  :math:`\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2=\frac1{2p}\sum_{i,j}\|\mathbf x^i-\mathbf x^j\|^2`;
* :func:`distinct_pair_noise_sum` — :math:`\sum_{i\ne j}(C_i+C_j)=2(p-1)\sum_iC_i` (the i = j terms vanish);
* :func:`taylor_disturbance` — (30): :math:`\|\boldsymbol\epsilon\|\le\frac{Q\sqrt n}{2p}\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2`;
* :func:`jensen` — :math:`\mathbb E\|X\|\le\sqrt{\mathbb E\|X\|^2}`;
* :func:`triangle` — :math:`\|a+b\|\le\|a\|+\|b\|`.

Example:
    >>> import sympy
    >>> C, lam = sympy.symbols("C lambda", positive=True)
    >>> mean_square_gap(C, C, lam), mean_square_gap(C, 0, lam)
    (C/lambda, C/(2*lambda))
"""

from __future__ import annotations

import sympy

Expr = sympy.Expr


def robustness_distance(chi: Expr, disturbance: Expr, rate: Expr) -> Expr:
    r"""Lemma 2.1 (12): distance between a contracting system and its perturbation, :math:`\chi\bar d/\lambda`."""
    return chi * disturbance / rate


def mean_square_gap(noise_a: Expr, noise_b: Expr, rate: Expr, beta_min: Expr = sympy.Integer(1)) -> Expr:
    r"""Thm 2.1 steady state, :math:`\mathbb E\|\mathbf a-\mathbf b\|^2\le\frac{C_a+C_b}{2\lambda\beta_{\min}}`.

    From :math:`dV\le(-2\lambda V+C_a+C_b)dt` for :math:`V=\|\mathbf a-\mathbf b\|^2_{\mathbf M}`; with
    ``noise_b = 0`` this is Cor 2.1 (a noise-free reference trajectory).
    """
    return (noise_a + noise_b) / (2 * rate * beta_min)


def mean_square_gap_transient(
    noise_a: Expr, noise_b: Expr, rate: Expr, beta_min: Expr, initial_gap2: Expr, time: Expr
) -> Expr:
    r"""Thm 2.1 in full: :math:`\frac1{\beta_{\min}}\big(\frac{\bar C}\lambda+(V_0-\frac{\bar C}\lambda)^+e^{-2\lambda t}\big)`, :math:`\bar C=\frac{C_a+C_b}2`."""
    steady = mean_square_gap(noise_a, noise_b, rate, sympy.Integer(1))
    return (steady + sympy.Max(0, initial_gap2 - steady) * sympy.exp(-2 * rate * time)) / beta_min


def spread_from_pair_sum(pair_sum: Expr, n_agents: Expr) -> Expr:
    r"""Pair-sum identity: :math:`\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2=\frac1{2p}\sum_{i,j}\|\mathbf x^i-\mathbf x^j\|^2`."""
    return pair_sum / (2 * n_agents)


def distinct_pair_noise_sum(total_noise: Expr, n_agents: Expr) -> Expr:
    r""":math:`\sum_{i\ne j}(C_i+C_j)=2(p-1)\sum_iC_i`: only ordered pairs of *distinct* agents contribute.

    This is where the derivation departs from the printed (22), which counts all :math:`p^2` pairs and gets
    :math:`2p\sum_iC_i`; the :math:`i=j` terms are identically zero, so :math:`p-1` is the sharp factor.
    """
    return 2 * (n_agents - 1) * total_noise


def taylor_disturbance(spread: Expr, q: Expr, dim: Expr, n_agents: Expr) -> Expr:
    r"""(30): :math:`\|\boldsymbol\epsilon\|\le\frac{Q\sqrt n}{2p}\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2` (second-order Taylor)."""
    return q * sympy.sqrt(dim) / (2 * n_agents) * spread


def jensen(mean_square: Expr) -> Expr:
    r"""Jensen: :math:`\mathbb E\|X\|\le\sqrt{\mathbb E\|X\|^2}`."""
    return sympy.sqrt(mean_square)


def triangle(*terms: Expr) -> Expr:
    """Triangle inequality: the distance along a chain of systems is at most the sum of the links."""
    return sympy.Add(*terms)

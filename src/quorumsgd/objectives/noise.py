r"""Gradient-noise models: the single-sample noise :math:`\mathbf B(\mathbf x)\mathbf z` of eqs. (1)--(2).

A model maps *base variates* :math:`\mathbf z` (i.i.d. standard normal, or i.i.d. uniform on :math:`(-1,1)`) to
one-sample gradient noise with covariance :math:`\boldsymbol\Sigma(\mathbf x)=\mathbf B\mathbf B^{\mathsf T}`
and carries the bound ``sigma2`` :math:`\ge\operatorname{tr}\boldsymbol\Sigma(\mathbf x)=\operatorname{tr}(\mathbf B^{\mathsf T}\mathbf B)`
used by Lemma 3.1 and Thms 3.2, 5.1--5.3. The engine scales it: by :math:`\sqrt{\eta/b}\sqrt{dt}` for an
Euler--Maruyama step of (2)/(6), by :math:`1/\sqrt b` for the minibatch noise :math:`\boldsymbol\zeta` of the
discrete iterations (1), (41)--(43).

* :class:`GaussianNoise`: constant covariance (isotropic, diagonal or full);
* :class:`ModulatedGaussianNoise`: a state-dependent diagonal :math:`\mathbf B(\mathbf x)` with known ``sigma2``;
* :class:`UniformNoise`: i.i.d. :math:`\mathcal U(-w,w)` per component, as in the paper's model problems.

Example:
    >>> import numpy as np
    >>> GaussianNoise.isotropic(dim=4, sigma2=2.0).covariance().diagonal().tolist()
    [0.5, 0.5, 0.5, 0.5]
    >>> round(UniformNoise(dim=3, width=1.0).sigma2, 6)    # 3 * w^2 / 3
    1.0
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal, final

import numpy as np

from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives.arrays import Array, constant, namespace

Distribution = Literal["normal", "uniform"]


class NoiseModel(ABC):
    """Single-sample gradient noise :math:`\\mathbf B(\\mathbf x)\\mathbf z`."""

    distribution: ClassVar[Distribution] = "normal"
    state_dependent: ClassVar[bool] = False
    dim: int
    sigma2: float

    @abstractmethod
    def apply(self, x: Array | None, z: Array) -> Array:
        """:math:`\\mathbf B(\\mathbf x)\\mathbf z` for base variates ``z`` shaped like ``x`` (``x`` unused if constant)."""

    @abstractmethod
    def covariance(self, x: np.ndarray | None = None) -> np.ndarray:
        """:math:`\\boldsymbol\\Sigma(\\mathbf x)` (numpy), shape ``(dim, dim)`` for one point ``x`` of shape ``(dim,)``."""

    def apply_inplace(self, z: Array) -> Array:
        """Constant models: :math:`\\mathbf B\\mathbf z`, overwriting ``z`` when the factor is diagonal."""
        return self.apply(None, z)

    @property
    def scalar_factor(self) -> float | None:
        """:math:`s` when :math:`\\mathbf B(\\mathbf x)\\mathbf z=s\\,\\mathbf z` (lets generators draw scaled variates)."""
        return None


def _check_dim(dim: int, where: str) -> int:
    if int(dim) != dim or dim < 1:
        raise InvalidParameter("dim", "a positive integer", dim, where)
    return int(dim)


@final
class GaussianNoise(NoiseModel):
    """Gaussian noise with a constant covariance ``cov`` (or its factor ``factor``, :math:`\\mathbf B`)."""

    def __init__(self, dim: int, cov: np.ndarray | float | None = None, factor: np.ndarray | None = None) -> None:
        self.dim = _check_dim(dim, "GaussianNoise")
        if (cov is None) == (factor is None):
            raise InvalidParameter("cov", "exactly one of cov / factor given", None, "GaussianNoise")
        if factor is not None:
            b = np.asarray(factor, dtype=np.float64)
            if b.shape != (dim, dim):
                raise InvalidParameter("factor", f"shape ({dim}, {dim})", b.shape, "GaussianNoise")
            c = b @ b.T
        else:
            c = np.asarray(cov, dtype=np.float64)
            if c.ndim == 0:
                c = float(c) * np.eye(dim)
            elif c.ndim == 1:
                c = np.diag(c)
            if c.shape != (dim, dim) or not np.allclose(c, c.T):
                raise InvalidParameter("cov", f"a symmetric ({dim}, {dim}) matrix", c.shape, "GaussianNoise")
            eig = np.linalg.eigvalsh(c)
            if eig[0] < -1e-12 * max(1.0, eig[-1]):
                raise InvalidParameter("cov", "positive semidefiniteness", float(eig[0]), "GaussianNoise")
            b = np.linalg.cholesky(c + 0.0 * np.eye(dim)) if eig[0] > 0 else _psd_sqrt(c)
        self._cov = c
        self.sigma2 = float(np.trace(c))
        off = c - np.diag(np.diag(c))
        # Fast paths: a scalar or a diagonal factor is one elementwise multiply per step.
        if not np.any(off) and np.allclose(np.diag(c), c[0, 0]):
            self._kind, self._factor = "scalar", np.sqrt(c[0, 0])
        elif not np.any(off):
            self._kind, self._factor = "diagonal", np.sqrt(np.diag(c))
        else:
            self._kind, self._factor = "full", np.ascontiguousarray(b.T)  # z @ B^T applies B to each row

    @classmethod
    def isotropic(cls, dim: int, sigma2: float) -> GaussianNoise:
        """:math:`\\boldsymbol\\Sigma=\\frac{\\sigma^2}{n}\\mathbf I`, so :math:`\\operatorname{tr}\\boldsymbol\\Sigma=\\sigma^2` exactly."""
        if not sigma2 >= 0:
            raise InvalidParameter("sigma2", ">= 0", sigma2, "GaussianNoise")
        return cls(dim, cov=sigma2 / dim)

    def __repr__(self) -> str:
        return f"GaussianNoise(dim={self.dim}, sigma2={self.sigma2:g}, kind={self._kind!r})"

    def apply(self, x: Array | None, z: Array) -> Array:
        if self._kind == "scalar":
            return z * float(self._factor)
        if self._kind == "diagonal":
            return z * constant(self._factor, like=z)
        return z @ constant(self._factor, like=z)

    def apply_inplace(self, z: Array) -> Array:
        if self._kind == "scalar":
            z *= float(self._factor)
            return z
        if self._kind == "diagonal":
            z *= constant(self._factor, like=z)
            return z
        return z @ constant(self._factor, like=z)

    def covariance(self, x: np.ndarray | None = None) -> np.ndarray:
        return self._cov.copy()

    @property
    def scalar_factor(self) -> float | None:
        return float(self._factor) if self._kind == "scalar" else None


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    eig, vec = np.linalg.eigh(c)
    return vec * np.sqrt(np.clip(eig, 0.0, None))


@final
class ModulatedGaussianNoise(NoiseModel):
    r"""State-dependent diagonal Gaussian noise with a known trace bound.

    .. math:: B_{jj}(\mathbf x)=\sqrt{\sigma^2/n}\,\Big(1-m+m\,e^{-(x_j-c_j)^2/(2\ell^2)}\Big),\qquad
       \operatorname{tr}(\mathbf B^{\mathsf T}\mathbf B)\le\sigma^2 ,

    with equality at :math:`\mathbf x=\mathbf c`: the noise is strongest at ``center`` (e.g. the minimizer) and
    falls to a fraction :math:`1-m` of it far away.
    """

    state_dependent = True

    def __init__(self, dim: int, sigma2: float, modulation: float = 0.5,
                 center: np.ndarray | float = 0.0, length: float = 1.0) -> None:
        self.dim = _check_dim(dim, "ModulatedGaussianNoise")
        if not sigma2 >= 0:
            raise InvalidParameter("sigma2", ">= 0", sigma2, "ModulatedGaussianNoise")
        if not 0 <= modulation <= 1:
            raise InvalidParameter("modulation", "0 <= modulation <= 1", modulation, "ModulatedGaussianNoise")
        if not length > 0:
            raise InvalidParameter("length", "> 0", length, "ModulatedGaussianNoise")
        self.sigma2, self.modulation, self.length = float(sigma2), float(modulation), float(length)
        self.center = np.broadcast_to(np.asarray(center, dtype=np.float64), (dim,)).copy()

    def __repr__(self) -> str:
        return (f"ModulatedGaussianNoise(dim={self.dim}, sigma2={self.sigma2:g}, modulation={self.modulation}, "
                f"length={self.length})")

    def scales(self, x: Array) -> Array:
        """The diagonal of :math:`\\mathbf B(\\mathbf x)`, shaped like ``x``."""
        xp = namespace(x)
        y = x - constant(self.center, like=x)
        bump = xp.exp(-(y * y) / (2.0 * self.length**2))
        return (self.sigma2 / self.dim) ** 0.5 * (1.0 - self.modulation + self.modulation * bump)

    def apply(self, x: Array | None, z: Array) -> Array:
        if x is None:
            raise InvalidParameter("x", "given (the noise is state dependent)", None, "ModulatedGaussianNoise")
        return self.scales(x) * z

    def covariance(self, x: np.ndarray | None = None) -> np.ndarray:
        x = self.center if x is None else np.asarray(x, dtype=np.float64)
        return np.diag(self.scales(x) ** 2)


@final
class UniformNoise(NoiseModel):
    r"""I.i.d. :math:`\mathcal U(-w,w)` components (the paper's model problems, (41)): :math:`\boldsymbol\Sigma=\frac{w^2}3\mathbf I`."""

    distribution = "uniform"

    def __init__(self, dim: int, width: float) -> None:
        self.dim = _check_dim(dim, "UniformNoise")
        if not width >= 0:
            raise InvalidParameter("width", ">= 0", width, "UniformNoise")
        self.width = float(width)
        self.sigma2 = self.dim * self.width**2 / 3.0

    def __repr__(self) -> str:
        return f"UniformNoise(dim={self.dim}, width={self.width})"

    def apply(self, x: Array | None, z: Array) -> Array:
        return z * self.width

    def apply_inplace(self, z: Array) -> Array:
        z *= self.width
        return z

    def covariance(self, x: np.ndarray | None = None) -> np.ndarray:
        return self.width**2 / 3.0 * np.eye(self.dim)

    @property
    def scalar_factor(self) -> float:
        return self.width


@final
class ShapedNoise(NoiseModel):
    r"""Anisotropic, optionally state-dependent and non-Gaussian diagonal noise with :math:`\operatorname{tr}\boldsymbol\Sigma\le\sigma^2`.

    .. math:: B_{jj}(\mathbf x)=\sqrt{\frac{\sigma^2\,\omega_j}{\nu\sum_k\omega_k}}\Big(1-m+m\,e^{-(x_j-c_j)^2/(2\ell^2)}\Big),
       \qquad \omega_j=e^{-a\,j},

    where :math:`\nu=1` for normal base variates and :math:`\nu=1/3` for uniform ones on :math:`(-1,1)` (their
    variance), so :math:`\operatorname{tr}\boldsymbol\Sigma(\mathbf x)\le\sigma^2` with equality at :math:`\mathbf c`.
    ``anisotropy`` :math:`a` concentrates the noise on the first coordinates; ``modulation`` :math:`m>0` makes it
    state dependent; ``distribution="uniform"`` makes it non-Gaussian (bounded, light-tailed).

    >>> n = ShapedNoise(dim=3, sigma2=2.0, anisotropy=1.0, distribution="uniform")
    >>> round(float(np.trace(n.covariance())), 12), n.state_dependent
    (2.0, False)
    """

    def __init__(self, dim: int, sigma2: float, anisotropy: float = 0.0, modulation: float = 0.0,
                 center: np.ndarray | float = 0.0, length: float = 1.0, distribution: Distribution = "normal") -> None:
        where = "ShapedNoise"
        self.dim = _check_dim(dim, where)
        if not sigma2 >= 0:
            raise InvalidParameter("sigma2", ">= 0", sigma2, where)
        if not anisotropy >= 0:
            raise InvalidParameter("anisotropy", ">= 0", anisotropy, where)
        if not 0 <= modulation <= 1:
            raise InvalidParameter("modulation", "0 <= modulation <= 1", modulation, where)
        if not length > 0:
            raise InvalidParameter("length", "> 0", length, where)
        if distribution not in ("normal", "uniform"):
            raise InvalidParameter("distribution", "be 'normal' or 'uniform'", distribution, where)
        self.sigma2, self.anisotropy, self.modulation = float(sigma2), float(anisotropy), float(modulation)
        self.length = float(length)
        self.distribution = distribution  # type: ignore[misc]  # per instance: normal or uniform base variates
        self.state_dependent = self.modulation > 0  # type: ignore[misc]
        self.center = np.broadcast_to(np.asarray(center, dtype=np.float64), (dim,)).copy()
        weights = np.exp(-self.anisotropy * np.arange(dim))
        variance = 1.0 if distribution == "normal" else 1.0 / 3.0
        self._peak = np.sqrt(self.sigma2 * weights / weights.sum() / variance)
        self._variance = variance

    def __repr__(self) -> str:
        return (f"ShapedNoise(dim={self.dim}, sigma2={self.sigma2:g}, anisotropy={self.anisotropy}, "
                f"modulation={self.modulation}, length={self.length}, distribution={self.distribution!r})")

    def scales(self, x: Array | None) -> Array:
        """The diagonal of :math:`\\mathbf B(\\mathbf x)` (shaped like ``x``; the constant factor if not state dependent)."""
        if not self.state_dependent or x is None:
            return self._peak if x is None else constant(self._peak, like=x)
        xp = namespace(x)
        y = x - constant(self.center, like=x)
        bump = xp.exp(-(y * y) / (2.0 * self.length**2))
        return constant(self._peak, like=x) * (1.0 - self.modulation + self.modulation * bump)

    def apply(self, x: Array | None, z: Array) -> Array:
        if self.state_dependent:
            if x is None:
                raise InvalidParameter("x", "given (the noise is state dependent)", None, "ShapedNoise")
            return self.scales(x) * z
        return z * constant(self._peak, like=z)

    def apply_inplace(self, z: Array) -> Array:
        if self.state_dependent:
            raise InvalidParameter("x", "given (the noise is state dependent)", None, "ShapedNoise")
        z *= constant(self._peak, like=z)
        return z

    def covariance(self, x: np.ndarray | None = None) -> np.ndarray:
        x = self.center if x is None else np.asarray(x, dtype=np.float64)
        return np.diag(np.asarray(self.scales(x), dtype=np.float64) ** 2 * self._variance)

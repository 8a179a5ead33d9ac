"""Objectives: gradients, Hessians and the constants the theorems use are checked numerically."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives import (
    CoupledDoubleWellSurrogate,
    GaussianNoise,
    LogCosh,
    ModulatedGaussianNoise,
    NonconvexSurrogate1D,
    Quadratic,
    UniformNoise,
)

OBJECTIVES = [
    Quadratic.random(4, 0.3, 2.0, seed=1),
    Quadratic(np.diag([1.0, 3.0]), center=np.array([0.5, -1.0])),
    LogCosh(dim=3, strong_convexity=0.5, curvature=2.0, shift=np.array([1.0, -0.5, 0.0])),
    NonconvexSurrogate1D(),
    CoupledDoubleWellSurrogate(dim=5),
]


def _num_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        g[j] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("obj", OBJECTIVES, ids=lambda o: type(o).__name__)
def test_gradient_and_hessian_match_finite_differences(obj):
    rng = np.random.default_rng(0)
    for x in rng.uniform(-2, 2, size=(5, obj.dim)):
        g = obj.grad(x)
        np.testing.assert_allclose(g, _num_grad(lambda y: float(obj.value(y)), x), rtol=1e-5, atol=1e-6)
        h_num = np.stack([_num_grad(lambda y, j=j: float(obj.grad(y)[j]), x) for j in range(obj.dim)])
        np.testing.assert_allclose(obj.hessian(x), h_num, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("obj", OBJECTIVES, ids=lambda o: type(o).__name__)
def test_batched_and_torch_evaluation_agree(obj):
    x = np.random.default_rng(1).uniform(-2, 2, size=(3, 4, obj.dim))
    ref_v, ref_g = obj.value(x), obj.grad(x)
    assert ref_v.shape == (3, 4) and ref_g.shape == x.shape
    for i in range(3):
        np.testing.assert_allclose(obj.grad(x[i, 1]), ref_g[i, 1], rtol=1e-12)
    xt = torch.from_numpy(x)
    np.testing.assert_allclose(obj.value(xt).numpy(), ref_v, rtol=1e-12)
    np.testing.assert_allclose(obj.grad(xt).numpy(), ref_g, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("obj", OBJECTIVES[:3], ids=lambda o: type(o).__name__)
def test_strong_convexity_and_smoothness_bound_the_hessian(obj):
    x = np.random.default_rng(2).uniform(-6, 6, size=(2000, obj.dim))
    eig = np.linalg.eigvalsh(obj.hessian(x))
    assert eig.min() >= obj.strong_convexity - 1e-12
    assert eig.max() <= obj.smoothness + 1e-12
    assert obj.lambda_max == pytest.approx(-obj.strong_convexity)
    np.testing.assert_allclose(obj.grad(obj.minimizer), 0.0, atol=1e-10)


def test_logcosh_q_is_the_sharp_third_derivative_bound():
    f = LogCosh(dim=2, strong_convexity=0.1, curvature=1.5, shift=0.0)
    y = np.linspace(-5, 5, 200_001)
    third = f.third_derivative(np.stack([y, y], axis=-1))[:, 0]
    assert np.abs(third).max() <= f.q + 1e-12
    assert np.abs(third).max() >= f.q * (1 - 1e-6)  # attained: the constant is tight
    # Finite-difference check of the third derivative itself.
    h = 1e-3
    x = np.array([[0.37, -1.2]])
    fd = (f.hessian(x + h)[0].diagonal() - f.hessian(x - h)[0].diagonal()) / (2 * h)
    np.testing.assert_allclose(fd, f.third_derivative(x)[0], rtol=1e-5)


def test_surrogates_are_labelled_and_have_the_described_shape():
    f1 = NonconvexSurrogate1D()
    assert f1.surrogate and f1.strong_convexity is None
    # Two deep basins, the right one deeper (Fig. 3(f)); sharp spurious minima in between.
    assert f1.minimizer[0] > 1.5
    left = min(float(f1.value(np.array([z]))) for z in np.linspace(-3, -1, 20001))
    assert f1.minimum < left
    x = np.linspace(-3, 3, 60001)[:, None]
    v = f1.value(x)
    n_local_min = int(np.sum((v[1:-1] < v[:-2]) & (v[1:-1] < v[2:])))
    assert n_local_min >= 6
    # lambda_max is the supremum of -f'' (grid check, with the analytic upper bound)
    neg = -f1.hessian(np.linspace(-4, 4, 400_001)[:, None])[:, 0, 0]
    assert neg.max() <= f1.lambda_max + 1e-9
    assert f1.lambda_max <= f1.scale * (2 + np.sum(f1.amplitudes * f1.frequencies**2))

    f2 = CoupledDoubleWellSurrogate(dim=4)
    assert f2.surrogate
    assert np.all(f2.minimizer < 0)  # global minimum in the all-negative corner
    np.testing.assert_allclose(f2.grad(f2.minimizer), 0.0, atol=1e-6)
    h = f2.hessian(np.random.default_rng(3).uniform(-2, 2, size=(500, 4)))
    assert np.linalg.eigvalsh(-h).max() <= f2.lambda_max


@pytest.mark.parametrize("obj", [OBJECTIVES[1], NonconvexSurrogate1D(), CoupledDoubleWellSurrogate(dim=3)],
                         ids=lambda o: type(o).__name__)
def test_smoothed_value_is_the_uniform_average(obj):
    rng = np.random.default_rng(4)
    x = rng.uniform(-1.5, 1.5, size=(4, obj.dim))
    a = 0.3
    u = rng.uniform(-a, a, size=(200_000, 1, obj.dim))
    mc = obj.value(x[None] + u)
    se = mc.std(axis=0) / np.sqrt(mc.shape[0])
    assert np.all(np.abs(mc.mean(axis=0) - obj.smoothed_value(x, a)) < 5 * se + 1e-12)


@given(sigma2=st.floats(0.01, 10.0), dim=st.integers(1, 6))
def test_noise_models_trace_bound(sigma2, dim):
    g = GaussianNoise.isotropic(dim, sigma2)
    assert np.trace(g.covariance()) == pytest.approx(sigma2)
    m = ModulatedGaussianNoise(dim, sigma2, modulation=0.7, center=0.5)
    xs = np.random.default_rng(dim).uniform(-3, 3, size=(50, dim))
    assert all(np.trace(m.covariance(x)) <= sigma2 * (1 + 1e-12) for x in xs)
    assert np.trace(m.covariance(np.full(dim, 0.5))) == pytest.approx(sigma2)  # attained at the center


def test_noise_models_produce_their_covariance():
    rng = np.random.default_rng(5)
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    full = GaussianNoise(2, cov=cov)
    z = rng.standard_normal((200_000, 2))
    emp = np.cov(full.apply(None, z), rowvar=False)
    np.testing.assert_allclose(emp, cov, atol=0.03)
    uni = UniformNoise(dim=3, width=0.8)
    zu = rng.uniform(-1, 1, size=(200_000, 3))
    np.testing.assert_allclose(np.cov(uni.apply(None, zu), rowvar=False), uni.covariance(), atol=0.01)
    mod = ModulatedGaussianNoise(2, 1.0, modulation=0.5)
    x = np.array([[0.0, 3.0]])
    np.testing.assert_allclose(mod.apply(x, np.ones((1, 2))) ** 2, np.diag(mod.covariance(x[0]))[None])


def test_invalid_parameters_are_rejected_with_one_line_errors():
    cases = [
        lambda: Quadratic(np.array([[1.0, 2.0], [2.0, 1.0]])),  # indefinite
        lambda: Quadratic(np.ones((2, 3))),
        lambda: LogCosh(dim=2, strong_convexity=0.0),
        lambda: GaussianNoise(2, cov=-np.eye(2)),
        lambda: UniformNoise(2, width=-1.0),
        lambda: ModulatedGaussianNoise(2, 1.0, modulation=2.0),
        lambda: CoupledDoubleWellSurrogate(dim=1),
    ]
    for make in cases:
        with pytest.raises(InvalidParameter) as err:
            make()
        assert "\n" not in str(err.value)

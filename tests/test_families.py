"""The adversarial families' constants are exact: checked against numerical derivatives and attained suprema."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives import RotatedPieces, ShapedNoise
from quorumsgd.objectives.families import softplus_constants

families = st.builds(
    RotatedPieces,
    dim=st.integers(1, 4),
    strong_convexity=st.floats(0.1, 2.0),
    curvature=st.floats(0.0, 5.0),
    width=st.floats(0.1, 3.0),
    shift=st.floats(-3.0, 3.0),
    angle=st.floats(0.0, 3.0),
    seed=st.integers(0, 50),
    profile=st.just("softplus"),
)


def _points(f: RotatedPieces, seed: int) -> np.ndarray:
    return f.minimizer + np.random.default_rng(seed).normal(0.0, 2.0, (5, f.dim))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(f=families, seed=st.integers(0, 100))
def test_derivatives_match_finite_differences(f: RotatedPieces, seed: int) -> None:
    x = _points(f, seed)
    h = 1e-5
    eye = np.eye(f.dim)
    num_grad = np.stack([(f.value(x + h * e) - f.value(x - h * e)) / (2 * h) for e in eye], axis=-1)
    np.testing.assert_allclose(f.grad(x), num_grad, rtol=1e-5, atol=1e-5 * (1 + f.curvature))
    num_hess = np.stack([(f.grad(x + h * e) - f.grad(x - h * e)) / (2 * h) for e in eye], axis=-1)
    np.testing.assert_allclose(f.hessian(x), num_hess, rtol=1e-5, atol=1e-5 * (1 + f.curvature))
    num_third = np.stack([(f.hessian(x + h * e) - f.hessian(x - h * e)) / (2 * h) for e in eye], axis=-1)
    np.testing.assert_allclose(f.third_derivative(x), num_third, rtol=1e-4,
                               atol=1e-4 * (1 + f.curvature / f.width))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(f=families, seed=st.integers(0, 100))
def test_constants_bound_and_are_attained(f: RotatedPieces, seed: int) -> None:
    # Bounds everywhere: lambda I <= Hessian <= L I and |Hessian of each gradient component| <= Q.
    x = _points(f, seed)
    eig = np.linalg.eigvalsh(f.hessian(x))
    assert eig.min() >= f.strong_convexity - 1e-12 and eig.max() <= f.smoothness + 1e-12
    third = f.third_derivative(x)  # (..., i, a, b): the Hessian of gradient component i
    norms = np.abs(np.linalg.eigvalsh(third)).max(axis=-1)
    assert norms.max() <= f.q * (1 + 1e-12) + 1e-15
    np.testing.assert_allclose(f.grad(f.minimizer), 0.0, atol=1e-12)
    # Attained: L where every piece sits at its curvature peak (y_j = s); Q where the arg-max piece sits at
    # the peak of |phi'''| (y_j = s + w y_3) -- the arguments y = U (x - x*) can be placed freely.
    u = f.rotation
    peak_l = f.minimizer + u.T @ np.full(f.dim, f.shift * f.width)
    assert np.linalg.eigvalsh(f.hessian(peak_l)).max() == pytest.approx(f.smoothness, rel=1e-12)
    if f.curvature > 0:
        i, j = np.unravel_index(np.argmax(np.abs(u[: f.pieces]).T), (f.dim, f.pieces))
        y = np.full(f.dim, f.shift * f.width)
        y[j] += f.width * softplus_constants().third_peak
        at_q = f.minimizer + u.T @ y
        attained = np.abs(np.linalg.eigvalsh(f.third_derivative(at_q)[i])).max()
        assert attained == pytest.approx(f.q, rel=1e-9)


def test_shift_puts_the_third_derivative_peak_at_the_minimizer() -> None:
    y3 = softplus_constants().third_peak
    f = RotatedPieces(dim=1, strong_convexity=0.2, curvature=3.0, width=0.4, shift=-y3)
    assert abs(f.third_derivative(f.minimizer)[0, 0, 0]) == pytest.approx(f.q, rel=1e-12)
    # The asymmetric piece has less curvature at the minimizer than its peak: small curvature, large Q together.
    assert f.curvature_at_minimizer()[0] < f.smoothness


def test_switch_profile_is_c11_with_infinite_q() -> None:
    f = RotatedPieces(dim=2, strong_convexity=0.5, curvature=1.5, shift=0.5, profile="switch", angle=0.7, seed=3)
    x = _points(f, 0)
    eig = np.linalg.eigvalsh(f.hessian(x))
    assert set(np.round(eig.ravel(), 9)) <= {0.5, 2.0} and f.q == float("inf")
    np.testing.assert_allclose(f.grad(f.minimizer), 0.0, atol=1e-12)


def test_torch_matches_numpy() -> None:
    torch = pytest.importorskip("torch")
    f = RotatedPieces(dim=3, strong_convexity=0.3, curvature=2.0, width=0.3, shift=1.0, angle=1.0, seed=2)
    x = _points(f, 1)
    np.testing.assert_allclose(f.grad(torch.as_tensor(x)).numpy(), f.grad(x), rtol=1e-12)
    np.testing.assert_allclose(f.value(torch.as_tensor(x)).numpy(), f.value(x), rtol=1e-12)


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_shaped_noise_has_the_stated_trace_and_covariance(distribution: str) -> None:
    noise = ShapedNoise(dim=3, sigma2=2.0, anisotropy=0.7, modulation=0.6, length=0.5, distribution=distribution)
    x = np.random.default_rng(0).normal(0, 1, (50, 3))
    traces = [np.trace(noise.covariance(p)) for p in x]
    assert max(traces) <= 2.0 + 1e-12 and np.trace(noise.covariance()) == pytest.approx(2.0)
    rng = np.random.default_rng(1)
    n = 200_000
    z = rng.standard_normal((n, 3)) if distribution == "normal" else rng.uniform(-1, 1, (n, 3))
    point = np.array([0.3, -0.2, 0.9])
    samples = noise.apply(np.broadcast_to(point, (n, 3)), z)
    emp = samples.var(axis=0)
    want = np.diag(noise.covariance(point))
    # 4.5 standard errors of a variance estimate (kurtosis <= 3): a deterministic, seeded check.
    np.testing.assert_allclose(emp, want, rtol=4.5 * np.sqrt(2.0 / n))


def test_bad_parameters_are_one_line_errors() -> None:
    with pytest.raises(InvalidParameter, match="width"):
        RotatedPieces(dim=2, width=0.0)
    with pytest.raises(InvalidParameter, match="pieces"):
        RotatedPieces(dim=2, pieces=3)
    with pytest.raises(InvalidParameter, match="distribution"):
        ShapedNoise(dim=2, sigma2=1.0, distribution="cauchy")  # type: ignore[arg-type]

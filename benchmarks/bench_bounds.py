"""Vectorized bound evaluation: Thm 5.1 on 10^6 parameter points, against a hand-written numpy expression.

Run: python benchmarks/bench_bounds.py [--points 1000000] [--repeats 5]
Reports the best-of-N wall time of `quorumsgd.bounds.thm5_1` (validation + hypothesis checks + compiled
SymPy expression) and of the bare numpy formula (the physical floor for this arithmetic), side by side.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from quorumsgd import bounds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.points
    params = dict(
        n_agents=rng.integers(1, 128, n).astype(float),
        coupling=rng.uniform(0, 10, n),
        lr=rng.uniform(1e-3, 1, n),
        batch_size=rng.integers(1, 256, n).astype(float),
        sigma2=rng.uniform(0.1, 10, n),
        dim=rng.integers(1, 1000, n).astype(float),
        q=rng.uniform(0, 5, n),
        strong_convexity=rng.uniform(0.01, 5, n),
    )
    bounds.thm5_1(**{k: v[:10] for k, v in params.items()})  # compile once

    def plain() -> np.ndarray:
        d = params
        return (d["n_agents"] - 1) / d["n_agents"] * d["lr"] * d["q"] * d["sigma2"] * np.sqrt(d["dim"]) / (
            4 * d["batch_size"] * d["strong_convexity"] * (d["coupling"] + d["strong_convexity"])
        ) + np.sqrt(d["lr"] * d["sigma2"] / (2 * d["batch_size"] * d["n_agents"] * d["strong_convexity"]))

    def best(fn) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    t_lib = best(lambda: bounds.thm5_1(**params))
    t_np = best(plain)
    assert np.allclose(bounds.thm5_1(**params).value, plain(), rtol=1e-12)
    print(f"thm5.1 on {n:,} points: quorumsgd {t_lib * 1e3:.1f} ms, bare numpy formula {t_np * 1e3:.1f} ms, "
          f"ratio {t_lib / t_np:.2f}x ({n / t_lib / 1e6:.1f} M points/s)")


if __name__ == "__main__":
    main()

"""LMI certificates: time of one certificate (metric 2n x 2n, n <= 4) after the first compile; target < 20 ms.

Run: python benchmarks/bench_lmi.py [--repeats 15] [--dims 1 2 3 4] [--system lemma5.3]

For each dimension n the family is the system's two vertex Jacobians (h = lambda, L) expanded to 2n x 2n. The
first certificate compiles the DPP problems; every later one re-solves them with new data (a fresh damping
each time, so nothing is reused but the compiled problems). Side by side, one run:

* ``default``  : Dinkelbach steps + polish, Kronecker structure exploited (2x2 SDPs, metric expanded to 2n);
* ``full SDP`` : Dinkelbach steps + polish on the full 2n x 2n SDP (``exploit_structure=False``);
* ``bisection``: bisection on the same feasibility SDPs, full size (the textbook method, the baseline).

Reported: median and best ms per certificate, SDP solves per certificate, ms per solve, and the rates' spread
between the methods (they must agree).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from quorumsgd.contraction import symbolic
from quorumsgd.contraction.lmi import Certificate, certify

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "full SDP": {"exploit_structure": False},
    "bisection": {"exploit_structure": False, "method": "bisection"},
}


def params(system: str, damping: float) -> dict[str, float]:
    return {
        "strong_convexity": 0.5,
        "smoothness": 4.0,
        "damping": damping,
        "coupling": 1.0,
        "n_agents": 8,
        "velocity_coupling": 0.0,
    }


def run(system: str, dim: int, options: dict[str, Any], repeats: int) -> tuple[float, list[float], list[Certificate]]:
    family: Callable[[float], list[np.ndarray]] = lambda g: symbolic.jacobian_family(system, params(system, g), dim)  # noqa: E731
    t0 = time.perf_counter()
    certify(family(2.0), **options)
    first = time.perf_counter() - t0
    times, certs = [], []
    for i in range(repeats):
        fam = family(2.0 + 0.01 * (i + 1))
        t0 = time.perf_counter()
        certs.append(certify(fam, **options))
        times.append(time.perf_counter() - t0)
    return first, times, certs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--dims", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--system", default="lemma5.3", choices=["lemma3.2", "lemma5.2", "lemma5.3"])
    args = parser.parse_args()
    symbolic.jacobian_family(args.system, params(args.system, 2.0))  # SymPy warm-up, not part of the LMI
    print(f"{args.system}: one certificate after the first compile (median / best of {args.repeats}), target < 20 ms")
    print(
        f"{'metric':>7} {'variant':<10} {'first':>9} {'median':>9} {'best':>9} {'solves':>7} {'ms/solve':>9}"
        f" {'rate':>12}"
    )
    for dim in args.dims:
        rates = {}
        for name, options in VARIANTS.items():
            first, times, certs = run(args.system, dim, options, args.repeats)
            assert all(c.verified for c in certs)
            solves = statistics.mean(c.n_solves for c in certs)
            med = statistics.median(times)
            per_solve = med / solves * 1e3 if solves else float("nan")
            rates[name] = certs[-1].rate
            print(
                f"{2 * dim:>3}x{2 * dim:<3} {name:<10} {first * 1e3:>7.1f}ms {med * 1e3:>7.2f}ms "
                f"{min(times) * 1e3:>7.2f}ms {solves:>7.1f} {per_solve:>7.2f}ms {certs[-1].rate:>12.8f}"
            )
        spread = max(rates.values()) - min(rates.values())
        print(f"{'':>7} rates agree to {spread:.1e}")


if __name__ == "__main__":
    main()

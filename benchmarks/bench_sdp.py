"""SDP certificates over S(lambda, L): one reduced certificate after the first compile, for N in {2, 8, 64, 1024};
target < 50 ms whatever N. The full (unreduced) SDP at N = 8 for the ratio.

Run: python benchmarks/bench_sdp.py [--repeats 15] [--names thm5.1 thm5.2 thm5.3] [--discrete]

Each repeat certifies a fresh coupling (nothing is reused but the compiled DPP problems) and the variants are
interleaved within a repeat, so a loaded machine slows them alike and the ratio stays meaningful. Reported per
certificate: ``build`` (the mode systems from the algorithm definitions and the LMI data, numpy), ``solve``
(cvxpy parameter refill + Clarabel + numpy verification), median and best ms; the values of reduced and full
must agree.
"""

from __future__ import annotations

import argparse
import statistics
import time

from quorumsgd.bounds.sdp.certificate import full_blocks, reduced_blocks, solve
from quorumsgd.bounds.sdp.theorems import THEOREMS

AGENTS = (2, 8, 64, 1024)
FULL_AT = 8


def point(n_agents: int, coupling: float) -> dict[str, float]:
    return dict(n_agents=n_agents, coupling=coupling, lr=0.1, batch_size=32.0, sigma2=4.0, strong_convexity=0.5,
                smoothness=2.0, damping=2.0, momentum=0.5)


def one(name: str, n_agents: int, coupling: float, discrete: bool, full: bool) -> tuple[float, float, float]:
    th = THEOREMS[name]
    p = point(n_agents, coupling)
    t0 = time.perf_counter()
    alg = (th.discrete if discrete else th.continuous)(p)
    build = full_blocks if full else reduced_blocks
    noise = p["sigma2"] / p["batch_size"] * (1.0 if discrete else p["lr"])
    blocks, systems = build(alg, n_agents, th.target, p["strong_convexity"], p["smoothness"], noise)
    t1 = time.perf_counter()
    cert = solve(blocks, systems)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, cert.second_moment


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--names", nargs="+", default=["thm5.1", "thm5.2", "thm5.3"])
    parser.add_argument("--discrete", action="store_true")
    args = parser.parse_args()
    variants = [(n, False) for n in AGENTS] + [(FULL_AT, True)]
    print(f"one certificate after the first compile (median / best of {args.repeats} ms), target < 50 ms"
          f"{' (discrete)' if args.discrete else ''}")
    print(f"{'name':<7} {'N':>5} {'SDP':<8} {'first':>8} {'build':>8} {'solve':>8} {'best':>8} {'total':>8}"
          f" {'second moment':>14}")
    for name in args.names:
        first = {v: sum(one(name, v[0], 1.0, args.discrete, v[1])[:2]) for v in variants}  # compiles
        builds: dict[tuple[int, bool], list[float]] = {v: [] for v in variants}
        solves: dict[tuple[int, bool], list[float]] = {v: [] for v in variants}
        values: dict[tuple[int, bool], float] = {}
        for i in range(args.repeats):
            for v in variants:  # interleaved: same machine load for every variant
                b, s, m2 = one(name, v[0], 1.0 + 0.01 * (i + 1), args.discrete, v[1])
                builds[v].append(b)
                solves[v].append(s)
                values[v] = m2
        for v in variants:
            med_b, med_s = statistics.median(builds[v]), statistics.median(solves[v])
            print(f"{name:<7} {v[0]:>5} {'full' if v[1] else 'reduced':<8} {1e3 * first[v]:>8.1f} {1e3 * med_b:>8.2f}"
                  f" {1e3 * med_s:>8.2f} {1e3 * min(solves[v]):>8.2f} {1e3 * (med_b + med_s):>8.2f}"
                  f" {values[v]:>14.8g}")
        red, full = (FULL_AT, False), (FULL_AT, True)
        ratio = statistics.median(solves[full]) / statistics.median(solves[red])
        agree = abs(values[full] / values[red] - 1)
        print(f"{name:<7} full / reduced solve time at N={FULL_AT}: {ratio:.1f}x; values agree to {agree:.1e}")


if __name__ == "__main__":
    main()

# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The worst case pinned: a verified upper bound and an explicit member of $\mathcal S(\lambda,L)$
#
# **Setting.** The SDP page certifies an upper bound on the long-run second moment over the whole class. Here
# the other side: an explicit member $f\in\mathcal S(\lambda,L)$ whose exact second moment comes as close to it as we
# can find, and a tighter certificate where the SDP is loose. The quantity is the SDP's: $\mathbb E\bar x^2$ (QSGD),
# $\mathbb E(\bar x^2+\tilde x^2)$ (EASGD), $\mathbb E(\bar x^2+\bar v^2)$ (momentum, $\gamma=2$).
#
# **Exact lower side.** QSGD's drift is $-\nabla U$, $U=\sum_if(x^i)+\frac k2\sum_i(x^i-\bar x)^2$, with the same
# noise $s\,dW^i$ on every agent ($s^2=\eta\sigma^2/b$): its stationary law is the Gibbs density $\propto e^{-2U/s^2}$,
# and a Hubbard–Stratonovich variable decouples the agents, so $\mathbb E\bar x^2$ is a 2-D quadrature for every
# $p,k$. At $k=0$: $\mathbb E\bar x^2=\mathbb E x^2/p+(1-1/p)(\mathbb E x)^2$ of one law $\propto e^{-2f/s^2}$. An
# asymmetric curvature profile moves the Gibbs mean off $x^*$, a bias that does not average out over agents.
#
# **Upper side.** The SDP, or the moment-interpolation certificate: the stationary identities
# $\mathbb E\mathcal L\varphi=0$ for quadratic $\varphi$ and $\varphi=f(x^i)$, Taylor–Hendrickx–Glineur interpolation
# between $x^1..x^p$, the mean $m=\mathbb Ex^i$ and $x^*$, and (at $k=0$) independent agents. Both hold in every
# dimension and for every noise with $\operatorname{tr}\Sigma\le\sigma^2$.
#
# **Exact upper side in one dimension at $k=0$.** The agents are independent, and
# $\sup_f[a\mathbb Ex^2+b(\mathbb Ex)^2]=\sup_{|\theta|\le\bar\theta}[V(\theta)-b\theta^2]$ with
# $V(\theta)=\sup_f\mathbb E_f[ax^2+2b\theta x]$ convex in $\theta$; $V(\theta)\le C$ is proved by a supersolution
# of the ergodic Hamilton–Jacobi–Bellman equation on each half-line, $(g-C)+w'-\beta cxw\le0$ for
# $c\in\{\lambda,L\}$, checked in closed form on a piecewise-linear $w$ with every violation charged. It bounds every
# drift of the sector $f'(x)=cx$, $c\in[\lambda,L]$ (a relaxation of the class), and is attained by the one-switch
# member: the worst case at $k=0$ in one dimension is known to four digits.

# %%
import numpy as np

from quorumsgd.bounds.worst_case.exact import gibbs_moments, second_moment
from quorumsgd.bounds.worst_case.table import GRID, bracket, bracket_table, summary
from quorumsgd.objectives.profile import CurvatureProfile
from quorumsgd.proofsite.kit import QUICK, Proof, plot_curves, table

proof = Proof("bracket")
check, close = proof.check, proof.close
LAM, BIG = GRID["strong_convexity"], GRID["smoothness"]

# %% [markdown]
# ## Step 1 — the exact evaluator on the quadratics: $\mathbb E\bar x^2=s^2/(2hp)$ for every coupling
#
# On $\frac h2x^2$ the agents' mean is an Ornstein–Uhlenbeck process with noise $s^2/p$, whatever $k$.

# %%
for p, k in ((2, 0.5), (4, 2.0), (8, 8.0)):
    close(f"quadratic h = lambda, p = {p}, k = {k}", second_moment("thm5.1", CurvatureProfile([], [LAM]),
          n_agents=p, coupling=k, noise=1.0), 1 / (2 * LAM * p), rel=1e-9)
a, b = 1 / np.sqrt(2 * LAM), 1 / np.sqrt(2 * BIG)
close("one switch at x*: two half-Gaussians (mean, second moment)",
      np.array(gibbs_moments(CurvatureProfile([0.0], [LAM, BIG]), 1.0)),
      np.array([np.sqrt(2 / np.pi) * (b * b - a * a) / (a + b), (a**3 + b**3) / (a + b)]), rel=1e-10)

# %% [markdown]
# ## Step 2 — the bracket at each point of the grid
#
# $\lambda=0.5$, $L=2$, $\eta=b=\sigma^2=1$, $p\in\{1,2,4,8\}$, $k\in\{0,0.5,2,8\}$ (EASGD without $k=0$). Quick
# runs show a few points; the full table is :func:`bracket_table` (cached).

# %%
if QUICK:
    rows = [bracket(n, n_agents=p, coupling=k, max_switches=1, **GRID)
            for n, p, k in (("thm5.1", 4, 0.0), ("thm5.1", 8, 0.0), ("thm5.3", 4, 0.0), ("thm5.1", 2, 0.5))]
else:
    rows = bracket_table()
table(["thm", "p", "k", "upper", "method", "SDP", "lower", "lower_lcb", "ratio"],
      [(r.name, r.n_agents, r.coupling, r.upper, r.upper_method, r.sdp, r.lower, r.lower_lcb, r.ratio) for r in rows],
      digits=4)
proof.at_most("every upper bound lies above its member's value (99% LCB)", [r.lower_lcb for r in rows],
              [r.upper for r in rows], tol=1e-9)
check("the certificate used is never above the SDP", all(r.upper <= r.sdp * (1 + 1e-5) for r in rows))
k0 = [r for r in rows if r.coupling == 0.0 and r.n_agents > 1]
check("at k = 0 the moment certificate beats the SDP in every dimension (independent agents)",
      all(r.upper_all_dims < 0.9 * r.sdp for r in k0))
check("at k = 0 the one-dimension certificate meets the witness (ratio <= 1.002; QSGD: every noise s2(x) <= s2)",
      all(r.ratio <= 1.002 and r.upper_method == "one-dimension HJB" for r in k0))
proof.record("summary", summary(rows))

# %% [markdown]
# ## Step 3 — the witnesses and their densities
#
# At $k=0$ the worst profile found is the one switch at the minimizer: curvature $\lambda$ on one side, $L$ on
# the other. Its Gibbs law (below, one agent at $s^2=1$) is two half-Gaussians of different widths, with its
# mean off $x^*=0$.

# %%
xs = np.linspace(-4, 4, 801)
curves, fcurves = {}, {}
for r in k0:
    f = CurvatureProfile(r.witness["switches"], r.witness["curvatures"])
    noise = 1.0 if r.name == "thm5.1" else 1.0 / GRID["damping"]
    dens = np.exp(-2 * f.scalar_value(xs) / noise)
    curves[f"{r.name} p={r.n_agents}"] = dens / np.trapezoid(dens, xs)
    fcurves[f"{r.name} p={r.n_agents}"] = f.scalar_value(xs)
    check(f"{r.name} p={r.n_agents}: witness in S(lambda, L)",
          f.strong_convexity >= LAM - 1e-12 and f.smoothness <= BIG + 1e-12)
plot_curves([{"x": xs, "xlabel": "x", "ylabel": "f(x)", "curves": fcurves},
             {"x": xs, "xlabel": "x", "ylabel": "Gibbs density", "curves": curves}],
            "Worst witnesses at k = 0 and their stationary densities")
quad = 1 / (2 * LAM * 8)
check("p = 8, k = 0: the witness exceeds every quadratic by > 50% (the bias term)",
      any(r.lower > 1.5 * quad for r in k0 if r.n_agents == 8 and r.name == "thm5.1"))

# %% [markdown]
# ## Verdict

# %%
proof.summary(
    "Upper and lower sides are both explicit: a verified certificate above, an exact Gibbs quadrature (or a "
    "Monte Carlo lower confidence bound) of a curvature profile below. At k = 0 in one dimension the two meet: "
    "the HJB certificate is attained by the one-switch member. In every dimension, and at k > 0, the gap left is "
    "the certificate's: the moment relaxation knows only second moments and interpolation, not the Gibbs shape "
    "that fixes the bias."
)

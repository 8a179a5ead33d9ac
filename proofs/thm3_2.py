# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Theorem 3.2 — synchronization reduces noise: the disturbance bound
#
# **Setting.** The QSGD center of mass (26)–(29):
# $d\bar{\mathbf x}=\big(-\nabla f(\bar{\mathbf x})-\boldsymbol\epsilon\big)dt+\sqrt{\frac{\eta}{bp}}\,\tilde{\mathbf B}\,d\mathbf W$,
# $\boldsymbol\epsilon=\frac1p\sum_i\nabla f(\mathbf x^i)-\nabla f(\bar{\mathbf x})$,
# $\tilde{\mathbf B}\tilde{\mathbf B}^{\mathsf T}=\frac1p\sum_i\boldsymbol\Sigma(\mathbf x^i)$.
#
# **Hypotheses.** (H1) $k>\lambda_{\max}$; (H2) $\operatorname{tr}(\mathbf B^{\mathsf T}\mathbf B)\le\sigma^2$;
# (H3) Assumption 2.1 (two-sided): $\|\nabla^2(\partial_jf)\|\le Q$.
#
# **Claim (31).** After transients of rate $2(k-\lambda_{\max})$,
# $$\mathbb E\|\boldsymbol\epsilon\|\le\frac{(p-1)\,\eta\,Q\,\sigma^2\sqrt n}{4\,p\,b\,(k-\lambda_{\max})},$$
# which vanishes as $k\to\infty$, while the noise of $\bar{\mathbf x}$ vanishes as $p\to\infty$ (the paper's
# (31) has $1$ for $(p-1)/p$, inherited from (22)).
#
# **Proof plan.** (28) sum of independent noises; (30) second-order Taylor expansion of each gradient component
# around $\bar{\mathbf x}$ (the linear term cancels in the sum), then Lemma 3.1.

# %%
import numpy as np
import sympy

from quorumsgd import bounds, paper
from quorumsgd.bounds import blocks, catalog
from quorumsgd.paper import b, k, lam_max, lr, n, p, q, sigma2
from quorumsgd.proofsite.kit import Proof, grid, plot_sweeps, settings, show, sweep_record
from quorumsgd.verify.checks import default_problem
from quorumsgd.verify.report import run_sweep

proof = Proof("thm3.2")
check, same = proof.check, proof.same
theorem = bounds.theorem("thm3.2")
show("**The derived theorem** (`quorumsgd.bounds.theorem('thm3.2')`):", theorem.expression)

# %% [markdown]
# ## Step 1 — (28): the noise of the center of mass
#
# $\frac1p\sum_i\mathbf B_i\,d\mathbf W^i$ has covariance $\frac1{p^2}\sum_i\boldsymbol\Sigma_i\,dt=\frac1p\tilde{\mathbf B}\tilde{\mathbf B}^{\mathsf T}dt$
# (checked with symbolic 2x2 factors for three agents); its trace bound is $\eta\sigma^2/(bp)$.

# %%
factors = [sympy.Matrix(2, 2, sympy.symbols(f"B{i}_0:4", real=True)) for i in range(3)]
stacked = sympy.Matrix.hstack(*factors) / 3  # (1/p) [B_1 B_2 B_3] acting on (dW_1, dW_2, dW_3)
sigma_tilde = sum((f * f.T for f in factors), sympy.zeros(2, 2)) / 3
same("(28) covariance of (1/p) sum_i B_i dW_i = (1/p) B~ B~^T", stacked * stacked.T, sigma_tilde / 3)
same("(29) noise bound of the center of mass: eta sigma^2/(b p)", catalog.center_of_mass_noise(), lr * sigma2 / (b * p))

# %% [markdown]
# ## Step 2 — (30): the Taylor expansion; the linear term cancels in the sum

# %%
g0 = sympy.Symbol("g0", real=True)
grad_g = sympy.Matrix(sympy.symbols("dg0:2", real=True))
xs = [sympy.Matrix(sympy.symbols(f"x{i}_0:2", real=True)) for i in range(4)]
mean = sum(xs, sympy.zeros(2, 1)) / 4
linear = sum((grad_g.T * (xi - mean))[0, 0] for xi in xs)
check("sum_i grad g_j(x_bar)^T (x_i - x_bar) = 0", sympy.expand(linear) == 0)
spread_sym = sympy.Symbol("S", nonnegative=True)
same("(30): |eps| <= Q sqrt(n)/(2p) sum_i |x_i - x_bar|^2", blocks.taylor_disturbance(spread_sym, q, n, p),
     q * sympy.sqrt(n) * spread_sym / (2 * p))

# %% [markdown]
# The Taylor step on numbers: for the log-cosh objective of the check ($Q$ known in closed form) and random agent
# clouds, $\|\boldsymbol\epsilon\|$ never exceeds the bound of (30).

# %%
problem = default_problem("thm3.2")
objective = problem.objective
rng = np.random.default_rng(0)
ratios = []
for _ in range(200):
    cloud = rng.normal(scale=rng.uniform(0.05, 2.0), size=(problem.spec.n_agents, problem.dim)) + rng.normal(
        size=problem.dim)
    center = cloud.mean(axis=0)
    eps_value = np.linalg.norm(objective.grad(cloud).mean(axis=0) - objective.grad(center[None])[0])
    spread = float(np.sum((cloud - center) ** 2))
    bound_value = problem.q * np.sqrt(problem.dim) / (2 * problem.spec.n_agents) * spread
    ratios.append(eps_value / bound_value)
proof.at_most("(30) holds on 200 random agent clouds of the log-cosh objective", max(ratios), 1.0)
proof.record("taylor_ratio_max", max(ratios))

# %% [markdown]
# ## Step 3 — apply Lemma 3.1 to the spread, and compare with (31)

# %%
rate = k - lam_max
same("eps bound = (30) applied to Lemma 3.1's spread",
     blocks.taylor_disturbance(bounds.theorem("lemma3.1").terms["spread"], q, n, p), theorem.expression)
spec31 = paper.disturbance_31(rate)
same("derived = (31) times (p - 1)/p", theorem.expression, (p - 1) / p * spec31)
check("the bound vanishes as k -> oo", sympy.limit(theorem.expression, k, sympy.oo) == 0)
check("the center-of-mass noise vanishes as p -> oo", sympy.limit(catalog.center_of_mass_noise(), p, sympy.oo) == 0)

# %% [markdown]
# ## Measured against the bound, across $p$ and $k$ (`quorumsgd.verify`)
#
# The check's default problem: log-cosh objective ($\lambda=0.5$, $L=2.5$, $n=4$) with state-dependent
# (modulated) noise; $\|\boldsymbol\epsilon\|$ is measured from the agents' gradients.

# %%
sweeps = [run_sweep("thm3.2", "n_agents", grid([2, 8, 32], [2, 4, 8, 16, 32, 64]), settings()),
          run_sweep("thm3.2", "coupling", grid([0.25, 1.0, 4.0], [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0]), settings())]
sweep_record(proof, sweeps)
for sweep in sweeps:
    check(f"no significant violation across {sweep.field}", all(r.verdict != "violated" for r in sweep.results))
plot_sweeps(sweeps, "Thm 3.2: stationary E|ε| against (31)")
tightness = [r.tightness for sw in sweeps for r in sw.results]

# %% [markdown]
# ## Verdict

# %%
proof.summary(
    "Every step checks out: the center-of-mass noise has covariance Σ̃/p, the linear Taylor term cancels in the "
    "sum, and (30) composed with Lemma 3.1 is the package's bound — (31) with the sharper (p − 1)/p. The Taylor "
    "inequality holds on random clouds and the measured E|ε| stays well below the bound "
    f"(measured/bound {min(tightness):.3f}–{max(tightness):.3f}): the bound is valid and conservative."
)

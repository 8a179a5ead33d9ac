# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Theorem 5.1 — QSGD convergence
#
# **Setting.** Quorum SGD (6): $d\mathbf x^i=\big(-\nabla f(\mathbf x^i)+k(\bar{\mathbf x}-\mathbf x^i)\big)dt
# +\sqrt{\eta/b}\,\mathbf B(\mathbf x^i)\,d\mathbf W^i$, $i=1,\dots,p$, with $\bar{\mathbf x}=\frac1p\sum_i\mathbf x^i$.
#
# **Hypotheses.**
# (H1) $f$ is $\lambda$-strongly convex, $\nabla^2 f\succeq\lambda\mathbf I$;
# (H2) Assumption 2.1, $\|\nabla^2(\partial_j f)\|\le Q$ for every component $j$;
# (H3) $\operatorname{tr}(\mathbf B^{\mathsf T}\mathbf B)\le\sigma^2$;
# (H4) $k+\lambda>0$ (Thm 3.1 with $\lambda_{\max}=-\lambda$).
#
# **Claim.** After exponential transients of rates $\lambda$ and $k+\lambda$,
# $$\mathbb E\|\bar{\mathbf x}-\mathbf x^*\|\le\frac{(p-1)\,\eta\,Q\,\sigma^2\sqrt n}{4\,p\,b\,\lambda\,(k+\lambda)}
# +\sqrt{\frac{\eta\,\sigma^2}{2\,b\,p\,\lambda}} .$$
# The paper's (47) has $1$ where this has $(p-1)/p$: the pair sum of Lemma 3.1 over $i=j$ is identically zero,
# so the derivation gives the sharper constant (see the Lemma 3.1 notebook).
#
# **Proof plan.** Three systems: the gradient flow $\dot{\mathbf y}=-\nabla f(\mathbf y)$ (particular solution
# $\mathbf x^*$), the disturbed flow $\dot{\mathbf z}=-\nabla f(\mathbf z)-\boldsymbol\epsilon(t)$, and the center of
# mass (29), which is $\mathbf z$ plus noise. Lemma 2.1 bounds $\|\mathbf y-\mathbf z\|$, Cor 2.1 and Jensen bound
# $\mathbb E\|\mathbf z-\bar{\mathbf x}\|$, and the triangle inequality adds them.

# %%
import numpy as np
import sympy

from quorumsgd import bounds, paper
from quorumsgd.algorithms import QSGD, AgentOps
from quorumsgd.bounds import blocks, catalog
from quorumsgd.contraction import compare, symbolic
from quorumsgd.paper import b, k, lam, lam_max, lr, p, q, sigma2
from quorumsgd.parameters import symbol
from quorumsgd.proofsite.kit import Proof, equation, grid, plot_sweeps, settings, show, sweep_record, table
from quorumsgd.verify.checks import default_problem
from quorumsgd.verify.report import run_sweep

proof = Proof("thm5.1")
check, same = proof.check, proof.same
theorem = bounds.theorem("thm5.1")
show("**The derived theorem** (`quorumsgd.bounds.theorem('thm5.1')`):", theorem.expression)
for hyp in theorem.hypotheses:
    show(f"hypothesis checked on every evaluation ({hyp.equation}): {hyp.statement}")

# %% [markdown]
# ## Step 1 — the two contraction rates
#
# The gradient flow's Jacobian is $-\nabla^2 f\preceq-\lambda\mathbf I$, so it contracts at $\lambda$ in the identity
# metric (Remark 5.2). The agents synchronize at $k-\lambda_{\max}$ (Thm 3.1), and strong convexity gives
# $\lambda_{\max}\le-\lambda$, hence $k+\lambda$. Both Jacobians are *computed* from the algorithm definitions.

# %%
flow = symbolic.derive("gradient_flow")
equation(r"\mathbf J_{\text{flow}}", flow.jacobian)
same("gradient-flow Jacobian is -h (from the SGD definition)", flow.jacobian[0, 0], -symbolic.h)
same("gradient flow contracts at lambda", flow.rate_bound, lam)
sync = catalog.sync_rate_strongly_convex()
same("Thm 3.1 rate with lambda_max = -lambda is k + lambda", sync, k + lam)
same("Thm 3.1 rate is k - lambda_max", symbolic.derive("thm3.1").rate_bound, k - lam_max)

# %% [markdown]
# ## Step 2 — the center of mass (26)–(29)
#
# Summing (6) over the agents cancels the coupling, $\sum_i k(\bar{\mathbf x}-\mathbf x^i)=0$, so
# $d\bar{\mathbf x}=(-\nabla f(\bar{\mathbf x})-\boldsymbol\epsilon)dt+\sqrt{\eta/(bp)}\,\tilde{\mathbf B}\,d\mathbf W$:
# the noise bound of the center of mass is $C=\eta\sigma^2/(bp)$.

# %%
agents = np.array([[sympy.Symbol(f"x{i}", real=True)] for i in range(4)], dtype=object)
coupling_only = QSGD(coupling=k).drift({"x": agents}, lambda y: 0 * y, AgentOps(axis=0))["x"]
same("the QSGD coupling cancels in the sum over agents (4 symbolic agents)", sum(coupling_only.ravel()), 0)
noise_c = catalog.center_of_mass_noise()
same("center-of-mass noise bound is eta sigma^2/(b p)", noise_c, lr * sigma2 / (b * p))

# %% [markdown]
# ## Step 3 — $\|\mathbf y-\mathbf z\|$ by Lemma 2.1
#
# The disturbance bound (31) holds at the synchronization rate $k+\lambda$; Lemma 2.1 with $\chi=1$ (identity
# metric) and rate $\lambda$ gives the first term.

# %%
eps = catalog.disturbance_bound(sync)
equation(r"\mathbb E\|\boldsymbol\epsilon\|", eps, r"\le")
spec31 = paper.disturbance_31(k + lam)
same("eps bound is (31) at rate k + lambda, times (p-1)/p", eps, (p - 1) / p * spec31)
term1 = blocks.robustness_distance(1, eps, flow.rate_bound)
same("term 1 = Lemma 2.1 (chi = 1) of the eps bound", term1, theorem.terms["disturbance"])

# %% [markdown]
# ## Step 4 — $\mathbb E\|\mathbf z-\bar{\mathbf x}\|$ by Cor 2.1 and Jensen, then the triangle inequality

# %%
term2 = blocks.jensen(blocks.mean_square_gap(noise_c, 0, flow.rate_bound))
same("term 2 = Jensen of Cor 2.1 with C = eta sigma^2/(b p)", term2, theorem.terms["noise"])
same("bound = triangle(term 1, term 2)", blocks.triangle(term1, term2), theorem.expression)
# (47) as the paper prints it, to compare with the composition:
spec47_term1, spec47_term2 = paper.published("thm5.1").values()
same("term 1 = (47)'s first term times (p-1)/p", term1, (p - 1) / p * spec47_term1)
same("term 2 = (47)'s second term", term2, spec47_term2)

# %% [markdown]
# ## Step 5 — what the bound says
#
# Term 1 falls with $k$; term 2 scales as $1/\sqrt p$; with one agent the bound is exactly the SGD bound.

# %%
s, q_pos = sympy.Symbol("s", positive=True), sympy.Symbol("Q", positive=True)  # p = 1 + s > 1, Q > 0
check("term 1 strictly decreases in k (p > 1, Q > 0)",
      sympy.simplify(sympy.diff(term1, k).subs({p: 1 + s, q: q_pos})).is_negative is True)
same("sqrt(p) * term 2 does not depend on p", sympy.diff(term2 * sympy.sqrt(p), p), 0)
same("one agent: the bound is the SGD bound (48)", theorem.expression.subs(p, 1), bounds.theorem("sgd").expression)

# %% [markdown]
# ## The LMI certificate next to the paper's analytic rates
#
# Both rates of the proof are certified by the best constant metric (`quorumsgd.contraction.lmi`); for these
# scalar-reduced systems the identity metric is already optimal, so the LMI rate equals the analytic one.

# %%
problem = default_problem("thm5.1")
lam0, k0 = problem.strong_convexity, problem.spec.coupling
rows = []
for label, params, paper_rate in (
    ("gradient flow (rate lambda)", {"coupling": 0.0, "lambda_max": -lam0}, lam0),
    ("synchronization (rate k + lambda)", {"coupling": k0, "lambda_max": -lam0}, k0 + lam0),
):
    cert = compare.certify_system("thm3.1", params)
    rows.append((label, paper_rate, cert.rate, cert.chi, cert.verified))
    check(f"LMI certificate verified: {label}", cert.verified)
    proof.close(f"LMI rate equals the paper's rate: {label}", cert.rate, paper_rate, rel=1e-6)
table(["system", "paper's rate", "LMI rate", "LMI chi", "verified"], rows)

# %% [markdown]
# ## Measured against the bound, across $p$ and $k$
#
# `quorumsgd.verify` simulates QSGD on its default problem for this theorem (a log-cosh objective with known
# $\lambda$, $L$, $Q$ and state-dependent noise) past the transients and measures the stationary
# $\mathbb E\|\bar{\mathbf x}-\mathbf x^*\|$ with a one-sided confidence bound.

# %%
params = dict(n_agents=problem.spec.n_agents, lr=problem.mean_lr, batch_size=problem.spec.batch_size,
              sigma2=problem.sigma2, dim=problem.dim, q=problem.q, strong_convexity=lam0, coupling=k0)
value = proof.record("bound_at_default_problem", float(bounds.thm5_1(**params).value))
symbolic_value = float(theorem.expression.subs({symbol(name): v for name, v in params.items()}))
proof.close("vectorized evaluation equals the SymPy expression", value, symbolic_value, rel=1e-12)
proof.record("params", params)
sweeps = [run_sweep("thm5.1", "n_agents", grid([2, 8, 32], [1, 2, 4, 8, 16, 32, 64]), settings()),
          run_sweep("thm5.1", "coupling", grid([0.25, 1.0, 4.0], [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0]), settings())]
sweep_record(proof, sweeps)
for sweep in sweeps:
    check(f"no significant violation across {sweep.field}", all(r.verdict != "violated" for r in sweep.results))
plot_sweeps(sweeps, "Thm 5.1: stationary E|x̄ − x*| against the bound")
tightness = [r.tightness for sw in sweeps for r in sw.results]

# %% [markdown]
# ## Verdict

# %%
proof.summary(
    f"Every step of the proof checks out: the bound is the composition Lemma 2.1 + Cor 2.1 + Jensen + triangle, "
    f"equal to (47) with the sharper factor (p-1)/p on the disturbance term, and exactly the SGD bound for p = 1. "
    f"The LMI certificates reproduce the analytic rates. Measured E|x̄ - x*| stays below the bound at every "
    f"point (measured/bound between {min(tightness):.2f} and {max(tightness):.2f})."
)

# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lemma 3.1 — the synchronization condition: the spread of the agents
#
# **Setting.** QSGD (6) or EASGD (4): (23) $d\mathbf x^i=\big(-\nabla f(\mathbf x^i)+k(\mathbf u-\mathbf x^i)\big)dt
# +\sqrt{\eta/b}\,\mathbf B(\mathbf x^i)\,d\mathbf W^i$ with $\mathbf u=\bar{\mathbf x}$ or $\tilde{\mathbf x}$.
#
# **Hypotheses.** (H1) $k>\lambda_{\max}$; (H2) $\operatorname{tr}(\mathbf B^{\mathsf T}\mathbf B)\le\sigma^2$.
#
# **Claim.** After exponential transients of rate $2(k-\lambda_{\max})$,
# $$\mathbb E\sum_{i=1}^p\|\mathbf x^i-\bar{\mathbf x}\|^2\le\frac{(p-1)\,\eta\,\sigma^2}{2\,b\,(k-\lambda_{\max})}.$$
# The paper's (22) has $p$ in place of $p-1$: it sums all $p^2$ ordered pairs, but the $p$ pairs $i=j$ contribute
# exactly zero. The derivation below gives the sharper constant, and it is attained on isotropic quadratics.
#
# **Proof plan.** (23): all agents are particular solutions of one stochastic virtual system that contracts at
# $k-\lambda_{\max}$ (Thm 3.1) with $C=\eta\sigma^2/b$; (24) Thm 2.1 for every pair; sum over pairs and use the
# pair-sum identity $\sum_{i,j}\|\mathbf x^i-\mathbf x^j\|^2=2p\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2$.

# %%
import sympy

from quorumsgd import bounds, paper
from quorumsgd.algorithms import QSGD
from quorumsgd.bounds import blocks, catalog
from quorumsgd.contraction import compare, symbolic
from quorumsgd.objectives import GaussianNoise, Quadratic
from quorumsgd.paper import b, k, lam_max, lr, p, sigma2
from quorumsgd.proofsite.kit import Proof, grid, plot_sweeps, settings, show, sweep_record, table
from quorumsgd.simulate import linearize
from quorumsgd.verify.report import run_sweep

proof = Proof("lemma3.1")
check, same = proof.check, proof.same
theorem = bounds.theorem("lemma3.1")
show("**The derived lemma** (`quorumsgd.bounds.theorem('lemma3.1')`):", theorem.expression)

# %% [markdown]
# ## Step 1 — (23)–(24): Thm 2.1 for one pair of agents

# %%
rate = symbolic.derive("thm3.1").rate_bound
same("the virtual system contracts at k - lambda_max (Thm 3.1)", rate, k - lam_max)
c_agent = catalog.agent_noise_bound()
same("per-agent noise bound in the Euclidean metric: C = eta sigma^2/b", c_agent, lr * sigma2 / b)
pair = blocks.mean_square_gap(c_agent, c_agent, rate)
same("(24): E|x_i - x_j|^2 <= eta sigma^2 / (b (k - lambda_max))", pair, lr * sigma2 / (b * (k - lam_max)))

# %% [markdown]
# ## Step 2 — the pair sums, checked term by term

# %%
for agents in range(2, 7):
    xs = [sympy.Matrix(sympy.symbols(f"x{i}_0:2", real=True)) for i in range(agents)]
    mean = sum(xs, sympy.zeros(2, 1)) / agents
    pair_sum = sum(((xi - xj).T * (xi - xj))[0, 0] for xi in xs for xj in xs)
    spread = sum(((xi - mean).T * (xi - mean))[0, 0] for xi in xs)
    check(f"pair-sum identity sum_ij |xi - xj|^2 = 2p sum_i |xi - x_bar|^2 (p = {agents})",
          sympy.expand(blocks.spread_from_pair_sum(pair_sum, agents) - spread) == 0)
    cs = sympy.symbols(f"c0:{agents}", positive=True)
    distinct = sum(cs[i] + cs[j] for i in range(agents) for j in range(agents) if i != j)
    check(f"sum over i != j of (C_i + C_j) = 2 (p - 1) sum_i C_i (p = {agents})",
          sympy.expand(distinct - blocks.distinct_pair_noise_sum(sum(cs), agents)) == 0)

# %% [markdown]
# ## Step 3 — compose, and compare with (22)

# %%
composed = blocks.spread_from_pair_sum(blocks.distinct_pair_noise_sum(p * c_agent, p) / (2 * rate), p)
same("spread = (1/2p) sum_{i != j} pair bound = the package's Lemma 3.1", composed, theorem.terms["spread"])
spec22 = paper.spread_22()
same("derived = (22) times (p - 1)/p", theorem.expression, (p - 1) / p * spec22)
same("transient rate 2 (k - lambda_max)", theorem.transient_rates["synchronization"], 2 * (k - lam_max))
same("Sec. 3.4, per-agent learning rates: the same chain at the mean rate",
     catalog.synchronization_spread(rate), theorem.terms["spread"])

# %% [markdown]
# ## The constant is sharp: the exact stationary spread of an isotropic quadratic
#
# For $f=\frac h2\|\mathbf x\|^2$ the exact stationary spread (linear SDE, Lyapunov equation) is
# $\frac{(p-1)\eta\operatorname{tr}\boldsymbol\Sigma}{2b(k+h)}$: the derived bound with $\lambda_{\max}=-h$ is attained.

# %%
rows = []
for p0, k0, h0 in ((2, 1.0, 0.5), (5, 0.5, 1.0), (8, 4.0, 2.0)):
    sde = linearize(QSGD(coupling=k0), Quadratic.isotropic(3, h0), p0, GaussianNoise.isotropic(3, 1.0), lr=0.1)
    exact = sde.stationary().expected_spread()
    bound = bounds.lemma3_1(n_agents=p0, lr=0.1, batch_size=1, sigma2=1.0, coupling=k0, lambda_max=-h0).value
    rows.append((p0, k0, h0, exact, bound, bound * p0 / (p0 - 1)))
    proof.close(f"exact stationary spread = derived bound (p={p0}, k={k0}, h={h0})", exact, bound, rel=1e-8)
table(["p", "k", "h", "exact spread", "derived bound", "spec (22)"], rows)
cert = compare.certify_system("thm3.1", {"coupling": 1.0, "lambda_max": -0.5})
proof.close("LMI rate of the virtual system = k - lambda_max (identity metric optimal)", cert.rate, 1.5, rel=1e-6)

# %% [markdown]
# ## Measured against the bound, across $p$ and $k$ (`quorumsgd.verify`)
#
# The default problem of this check is a random quadratic ($\lambda=0.5$, $L=2$, $n=4$) with isotropic noise,
# simulated with exact Gaussian transitions.

# %%
sweeps = [run_sweep("lemma3.1", "n_agents", grid([2, 8, 32], [1, 2, 4, 8, 16, 32, 64]), settings()),
          run_sweep("lemma3.1", "coupling", grid([0.25, 1.0, 4.0], [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0]), settings())]
sweep_record(proof, sweeps)
for sweep in sweeps:
    check(f"no significant violation across {sweep.field}", all(r.verdict != "violated" for r in sweep.results))
plot_sweeps(sweeps, "Lemma 3.1: stationary E Σ|xⁱ − x̄|² against the bound")
tightness = [r.tightness for sw in sweeps for r in sw.results if r.bound > 0]

# %% [markdown]
# ## Verdict

# %%
proof.summary(
    "Every step checks out, with one documented difference from the paper: summing Thm 2.1 over ordered pairs of "
    "distinct agents gives (p − 1)ησ²/(2b(k − λ_max)), sharper than (22) by (p − 1)/p — and attained exactly by "
    "isotropic quadratics, so it cannot be improved. Measured spreads stay below the bound "
    f"(measured/bound {min(tightness):.2f}–{max(tightness):.2f})."
)

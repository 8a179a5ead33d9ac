# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Theorem 2.1 — stochastic contraction (Pham, Tabareau & Slotine 2009)
#
# **Setting.** $d\mathbf x=\mathbf f(\mathbf x,t)\,dt+\mathbf B(\mathbf x,t)\,d\mathbf W$ (14); two trajectories
# $\mathbf a,\mathbf b$ driven by **independent** Wiener processes, initial conditions drawn from $p(\mathbf a_0,\mathbf b_0)$.
#
# **Hypotheses.**
# (H1) $\mathbf f$ contracts with rate $\lambda>0$ in a metric $\mathbf M\succeq\beta_{\min}\mathbf I$, $\beta_{\min}>0$;
# (H2) $\operatorname{tr}(\mathbf B^{\mathsf T}\mathbf M\mathbf B)\le C$ uniformly.
#
# **Claim.**
# $$\mathbb E\|\mathbf a(t)-\mathbf b(t)\|^2\le\frac1{\beta_{\min}}\Big(\frac C\lambda+\mathbb E\big[(\|\mathbf a_0-\mathbf b_0\|^2_{\mathbf M}-\tfrac C\lambda)^+\big]e^{-2\lambda t}\Big).$$
#
# **Proof plan.** Itô's formula for $V=\|\mathbf a-\mathbf b\|^2_{\mathbf M}$: the drift part is at most $-2\lambda V$ by
# contraction, the second-order part is $\operatorname{tr}(\mathbf B_a^{\mathsf T}\mathbf M\mathbf B_a)+\operatorname{tr}(\mathbf B_b^{\mathsf T}\mathbf M\mathbf B_b)\le2C$;
# Gronwall on $\frac{d}{dt}\mathbb EV\le-2\lambda\,\mathbb EV+2C$; finally $\|\cdot\|^2\le V/\beta_{\min}$.

# %%
import numpy as np
import sympy

from quorumsgd import bounds
from quorumsgd.algorithms import QSGD
from quorumsgd.bounds import blocks
from quorumsgd.contraction import compare, lmi, symbolic
from quorumsgd.objectives import GaussianNoise, Quadratic
from quorumsgd.paper import C, t, v0
from quorumsgd.paper import beta_min as beta
from quorumsgd.paper import rate as lam
from quorumsgd.proofsite.kit import Proof, equation, grid, plot_curves, show, table
from quorumsgd.simulate import linearize

proof = Proof("thm2.1")
check, same = proof.check, proof.same
theorem = bounds.theorem("thm2.1")
show("**The derived theorem** (`quorumsgd.bounds.theorem('thm2.1')`):", theorem.expression)

# %% [markdown]
# ## Step 1 — Itô's formula for $V=\|\mathbf a-\mathbf b\|^2_{\mathbf M}$
#
# In two dimensions with a symbolic symmetric $\mathbf M$, symbolic noise factors $\mathbf B_a,\mathbf B_b$ and a
# linear drift $\mathbf f(\mathbf x)=\mathbf J\mathbf x$ (the virtual-displacement form of any drift):

# %%
dim = 2
a_vec = sympy.Matrix(sympy.symbols("a0:2", real=True))
b_vec = sympy.Matrix(sympy.symbols("b0:2", real=True))
m11, m12, m22 = sympy.symbols("m11 m12 m22", real=True)
metric = sympy.Matrix([[m11, m12], [m12, m22]])
ba = sympy.Matrix(2, 2, sympy.symbols("ba0:4", real=True))
bb = sympy.Matrix(2, 2, sympy.symbols("bb0:4", real=True))
jac = sympy.Matrix(2, 2, sympy.symbols("j0:4", real=True))
state = sympy.Matrix.vstack(a_vec, b_vec)
delta = a_vec - b_vec
V = (delta.T * metric * delta)[0, 0]
hessian = sympy.hessian(V, list(state))
g = sympy.diag(ba, bb)  # independent noises: block-diagonal diffusion of (a, b)
second_order = (g * g.T * hessian).trace() / 2
same("second-order term = tr(Ba^T M Ba) + tr(Bb^T M Bb)", second_order,
     (ba.T * metric * ba).trace() + (bb.T * metric * bb).trace())
gradient = sympy.Matrix([V]).jacobian(state)
drift = (gradient * sympy.Matrix.vstack(jac * a_vec, jac * b_vec))[0, 0]
same("drift term = delta^T (J^T M + M J) delta", drift, (delta.T * (jac.T * metric + metric * jac) * delta)[0, 0])

# %% [markdown]
# Contraction in $\mathbf M$ means $\mathbf J^{\mathsf T}\mathbf M+\mathbf M\mathbf J\preceq-2\lambda\mathbf M$, so the drift term is
# at most $-2\lambda V$, and $\frac{d}{dt}\mathbb EV\le-2\lambda\,\mathbb EV+2C$. Solving the comparison equation:

# %%
vt = sympy.Function("v")
comparison = sympy.dsolve(sympy.Eq(vt(t).diff(t), -2 * lam * vt(t) + 2 * C), vt(t), ics={vt(0): v0}).rhs
equation(r"\mathbb E V(t)", comparison, r"\le")
w = sympy.Symbol("w", positive=True)
full = theorem.terms["steady_state"] + theorem.terms["transient"]
same("for V0 >= C/lambda the theorem is the comparison solution over beta_min",
     full.subs(v0, C / lam + w), (comparison / beta).subs(v0, C / lam + w))
check("for V0 < C/lambda the comparison solution stays below C/lambda",
      sympy.simplify((comparison - C / lam).subs(v0, C / lam - w)).is_negative is True)
same("steady state = mean_square_gap(C, C, lambda, beta_min) = C/(lambda beta_min)",
     theorem.terms["steady_state"], blocks.mean_square_gap(C, C, lam, beta))
same("transient decays at 2 lambda", theorem.transient_rates["mean_square"], 2 * lam)

# %% [markdown]
# ## Hypothesis (H1) certified: the LMI next to the paper's analytic rate
#
# On the synchronized momentum system (Lemma 5.3) the LMI search returns a metric and a rate; the numpy
# verification checks $\mathbf J_i^{\mathsf T}\mathbf M+\mathbf M\mathbf J_i+2r\mathbf M\preceq0$ at every vertex — exactly the
# drift inequality of Step 1.

# %%
params = {"strong_convexity": 1.0, "smoothness": 4.0, "damping": 3.0}
cert = compare.certify_system("lemma5.3", params)
family = symbolic.jacobian_family("lemma5.3", params)
check("the LMI certificate passes its numpy verification", lmi.verify_certificate(cert.metric, cert.rate, family).passed)
paper_rate = symbolic.paper_rate("lemma5.3", params)
proof.at_most("LMI rate >= paper's rate (52)", paper_rate, cert.rate, tol=1e-7)
table(["system", "paper's rate", "LMI rate", "LMI chi", "beta_min"],
      [("Lemma 5.3, λ=1, L=4, γ=3", paper_rate, cert.rate, cert.chi, cert.beta_min)])

# %% [markdown]
# ## Exact measurement: two independent noisy copies of SGD on a quadratic
#
# QSGD with $k=0$ and two agents is two independent copies of the SGD SDE (2). Its law is Gaussian and computed
# exactly (`quorumsgd.simulate.linearize`); with $p=2$, $\|\mathbf a-\mathbf b\|^2=2\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2$.
# Euclidean metric: $\beta_{\min}=1$, $C=\eta\sigma^2/b$, rate $\lambda$ (the smallest Hessian eigenvalue).

# %%
lr, sigma2, dim_x = 0.1, 1.0, 3
noise_c = lr * sigma2


def exact_gap2(objective: Quadratic, time: float, a0: np.ndarray, b0: np.ndarray) -> float:
    sde = linearize(QSGD(coupling=0.0), objective, 2, GaussianNoise.isotropic(dim_x, sigma2), lr=lr)
    return 2 * sde.law_at(time, np.concatenate([a0, b0])).expected_spread()


quad = Quadratic.random(dim_x, 0.5, 2.0, seed=3)
a0, b0 = np.ones(dim_x), -np.ones(dim_x)
times = np.linspace(0.05, 6.0, 12)
exact_t = [exact_gap2(quad, tt, a0, b0) for tt in times]
bound_t = [bounds.thm2_1(noise_bound=noise_c, rate=quad.strong_convexity, beta_min=1.0,
                         initial_gap2=float(np.sum((a0 - b0) ** 2)), time=tt).value for tt in times]
proof.at_most("exact E|a - b|^2(t) <= Thm 2.1 at every time", exact_t, bound_t, tol=1e-12)
curvatures = grid([0.25, 1.0, 4.0], [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0])
steady_exact = [2 * linearize(QSGD(coupling=0.0), Quadratic.isotropic(dim_x, h), 2,
                              GaussianNoise.isotropic(dim_x, sigma2), lr=lr).stationary().expected_spread()
                for h in curvatures]
steady_bound = [bounds.thm2_1(noise_bound=noise_c, rate=h, beta_min=1.0, initial_gap2=0.0, time=1.0).value
                for h in curvatures]
proof.close("isotropic quadratic: the stationary gap equals C/lambda (the bound is tight)", steady_exact,
            steady_bound, rel=1e-8)
proof.record("transient", {"time": times, "exact": exact_t, "bound": bound_t})
proof.record("steady", {"curvature": curvatures, "exact": steady_exact, "bound": steady_bound})
plot_curves([
    {"x": times, "xlabel": "time t", "ylabel": "E|a(t) − b(t)|²", "logy": True,
     "curves": {"Thm 2.1 bound": bound_t, "exact (Gaussian law)": exact_t}},
    {"x": curvatures, "xlabel": "curvature h (isotropic, λ = h)", "logx": True, "logy": True,
     "curves": {"C/λ": steady_bound, "exact stationary": steady_exact}},
], "Thm 2.1: two independent noisy SGD trajectories on a quadratic")

# %% [markdown]
# ## Verdict

# %%
proof.summary(
    "Every step checks out: Itô's second-order term is tr(Bₐᵀ M Bₐ) + tr(B_bᵀ M B_b) ≤ 2C, the drift term is "
    "δᵀ(JᵀM + MJ)δ ≤ −2λV, and the comparison solution is the package's Thm 2.1 (the (·)⁺ form). The exact law "
    "of two noisy SGD copies stays below the bound at every time, and meets C/λ in the isotropic case."
)

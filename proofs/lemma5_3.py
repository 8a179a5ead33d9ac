# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lemma 5.3 — deterministic QSGD with momentum
#
# **Setting.** $\dot{\mathbf x}^i=\mathbf v^i+k(\bar{\mathbf x}-\mathbf x^i)$, $\dot{\mathbf v}^i=-\gamma\mathbf v^i-\nabla f(\mathbf x^i)$;
# on the synchronized subspace $\dot{\mathbf y}=\mathbf w$, $\dot{\mathbf w}=-\gamma\mathbf w-\nabla f(\mathbf y)$.
#
# **Hypotheses.** (H1) $f$ $\lambda$-strongly convex and $L$-smooth; (H2) Lemma 3.2 with $k_v=0$:
# $k\gamma>\max\{(1-\lambda)^2,(1-L)^2\}/4$; (H3) $\gamma>\sqrt L-\sqrt\lambda$.
#
# **Claim (52)–(53).** With $\Theta=\begin{pmatrix}c\mathbf I&0\\a\mathbf I&\mathbf I\end{pmatrix}$, $0<a<\gamma$ and
# $c^2=\frac{\lambda+L}2-a(\gamma-a)$, every $(\mathbf x^i,\mathbf v^i)\to(\mathbf x^*,\mathbf 0)$ with rate
# $$\lambda_m\ge\frac\gamma2-\sqrt{\frac{(\gamma-2a)^2}4+\frac{(L-\lambda)^2}{16c^2}} .$$
#
# **Proof plan.** The Jacobian $\begin{pmatrix}0&\mathbf I\\-\nabla^2 f&-\gamma\mathbf I\end{pmatrix}$ is not contracting in
# the identity metric; in $\Theta$ the symmetric part is $\begin{pmatrix}-a&S\\S&-(\gamma-a)\end{pmatrix}$,
# $S=\frac{c^2+a(\gamma-a)-h}{2c}$; $c$ is chosen to equalize $|S|$ at $h=\lambda$ and $h=L$; the condition becomes an
# interval for $u=a(\gamma-a)$, whose existence is $\gamma>\sqrt L-\sqrt\lambda$.

# %%
import sympy

from quorumsgd import bounds, paper
from quorumsgd.contraction import compare, symbolic
from quorumsgd.paper import a, big_l, gamma, lam
from quorumsgd.proofsite.kit import Proof, equation, grid, plot_curves, show, table

proof = Proof("lemma5.3")
check, same = proof.check, proof.same
h = symbolic.h
theorem = bounds.theorem("lemma5.3")
show("**The derived rate** (`quorumsgd.bounds.theorem('lemma5.3')`):", theorem.expression)

# %% [markdown]
# ## Step 1 — the Jacobian (from `MomentumQSGD`) is not contracting in the identity metric

# %%
deriv = symbolic.derive("lemma5.3")
same("Jacobian = [[0, 1], [-h, -gamma]]", deriv.jacobian, sympy.Matrix([[0, 1], [-h, -gamma]]))
identity_sym = (deriv.jacobian + deriv.jacobian.T) / 2
same("identity metric: det of the symmetric part is -(1 - h)^2/4 <= 0 (never negative definite unless h = 1, "
     "and then its (1,1) entry is 0)", identity_sym.det(), -((1 - h) ** 2) / 4)

# %% [markdown]
# ## Step 2 — the metric (53), the symmetric part, and the equalizing $c$

# %%
same("Theta = [[c, 0], [a, 1]]", deriv.theta, sympy.Matrix([[symbolic.metric_c, 0], [a, 1]]))
fs = symbolic.symmetric_part("lemma5.3")
c2 = symbolic.metric_c2
equation(r"\mathbf F_s", fs)
same("F_s = [[-a, S], [S, -(gamma - a)]] with S = (c^2 + a(gamma - a) - h)/(2c)", fs,
     sympy.Matrix([[-a, (c2 + a * (gamma - a) - h) / (2 * sympy.sqrt(c2))],
                   [(c2 + a * (gamma - a) - h) / (2 * sympy.sqrt(c2)), -(gamma - a)]]))
c2_star = symbolic.lemma53_c_squared()
same("the chosen c^2 = (lambda + L)/2 - a (gamma - a)", c2_star, (lam + big_l) / 2 - a * (gamma - a))
off = fs[0, 1].subs(c2, c2_star)
same("this c equalizes the max: S(lambda) = -S(L)", off.subs(h, lam) + off.subs(h, big_l), 0)

# %% [markdown]
# ## Step 3 — the admissible interval for $u=a(\gamma-a)$ and the damping threshold

# %%
lo, hi = symbolic.lemma53_admissible_u()
same("lower root (sqrt L - sqrt lambda)^2/4", lo, (sympy.sqrt(big_l) - sympy.sqrt(lam)) ** 2 / 4)
same("upper root (sqrt L + sqrt lambda)^2/4", hi, (sympy.sqrt(big_l) + sympy.sqrt(lam)) ** 2 / 4)
check("the interval has positive width", sympy.simplify(hi - lo - sympy.sqrt(big_l * lam)) == 0)
a_pos = sympy.Symbol("a", positive=True)
gamma_of_a = a_pos + lo / a_pos  # a(gamma - a) > lo  <=>  gamma > a + lo/a
a_star = (sympy.sqrt(big_l) - sympy.sqrt(lam)) / 2
same("gamma > a + lo/a is easiest at a = (sqrt L - sqrt lambda)/2: the derivative vanishes there",
     sympy.diff(gamma_of_a, a_pos).subs(a_pos, a_star), 0)
check("... and it is a minimum (second derivative 2 lo / a^3 > 0)",
      sympy.simplify(sympy.diff(gamma_of_a, a_pos, 2) - 2 * lo / a_pos**3) == 0)
threshold = sympy.simplify(gamma_of_a.subs(a_pos, (sympy.sqrt(big_l) - sympy.sqrt(lam)) / 2))
same("the threshold is gamma > sqrt L - sqrt lambda", threshold, sympy.sqrt(big_l) - sympy.sqrt(lam))

# %% [markdown]
# ## Step 4 — the rate (52), and its best $a$

# %%
spec52 = paper.rate_52()
same("derived rate = (52) (radicands equal)", (gamma / 2 - theorem.expression) ** 2, (gamma / 2 - spec52) ** 2)
u_opt = symbolic.lemma53_rate_optimal_u()
show("rate-maximizing $u=a(\\gamma-a)$ (solved from $d\\lambda_m/du=0$):", u_opt)
rows = []
for g0 in grid([1.5, 3.0, 6.0], [1.2, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0]):
    params = {"strong_convexity": 1.0, "smoothness": 4.0, "damping": g0}
    bound, exact = symbolic.paper_rate("lemma5.3", params), symbolic.exact_rate("lemma5.3", params)
    proof.close(f"at the optimal a the bound (52) equals the exact rate of the metric (gamma = {g0})", bound, exact,
                rel=1e-8)
    rows.append(compare.compare_point("lemma5.3", {**params, "coupling": 1.0}))

# %% [markdown]
# ## The LMI certificate next to the paper's analytic rate, across the damping
#
# ($\lambda=1$, $L=4$; the coupling does not enter the synchronized system.)

# %%
check("every LMI certificate is verified", all(r.verified for r in rows))
proof.at_most("(52) <= exact rate of (53) <= LMI rate",
              [r.paper_rate for r in rows] + [r.paper_metric_rate for r in rows],
              [r.paper_metric_rate for r in rows] + [r.lmi_rate for r in rows], tol=1e-7)
proof.record("by_damping", [r.to_dict() for r in rows])
table(["γ", "(52)", "metric (53), exact", "LMI", "χ (53)", "LMI χ"],
      [(r.params["damping"], r.paper_rate, r.paper_metric_rate, r.lmi_rate, r.paper_chi, r.lmi_chi) for r in rows])
dampings = [r.params["damping"] for r in rows]
plot_curves([
    {"x": dampings, "xlabel": "damping γ", "ylabel": "contraction rate", "logx": True,
     "curves": {"(52), best a": [r.paper_rate for r in rows], "LMI-optimal": [r.lmi_rate for r in rows],
                "spectral bound (no metric beats it)": [r.upper_bound for r in rows]}},
    {"x": dampings, "xlabel": "damping γ", "ylabel": "χ of the metric", "logx": True, "logy": True,
     "curves": {"χ of (53)": [r.paper_chi for r in rows], "χ LMI": [r.lmi_chi for r in rows]}},
], "Lemma 5.3: the paper's metric against the best constant metric (λ = 1, L = 4)")

# %% [markdown]
# ## Verdict

# %%
proof.summary(
    "Every step checks out: the identity metric fails, the metric (53) gives the symmetric part of the proof, "
    "the equalizing c² is derived by solving S(λ) = −S(L), the admissible u-interval has roots "
    "(√L ∓ √λ)²/4, the damping threshold is √L − √λ, and (52) is exact for its metric at the best a. The LMI "
    f"certifies up to {max(r.ratio for r in rows):.2f}x (52). Not measured by simulation: structure plots."
)

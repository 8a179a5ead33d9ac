# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The certified worst case over $\mathcal S(\lambda,L)$ — SDP certificates for QSGD, EASGD and momentum
#
# **Setting.** Theorems 5.1–5.3 speak of *every* $\lambda$-strongly convex objective. This page certifies, for
# every $f$ that is $\lambda$-strongly convex and $L$-smooth and every gradient noise with
# $\operatorname{tr}\boldsymbol\Sigma\le\sigma^2$, an upper bound on the long-run second moment of the paper's
# quantities: $\mathbb E\|\bar{\mathbf x}-\mathbf x^*\|^2$ (QSGD (6)), $\mathbb E\|(\bar{\mathbf x},\tilde{\mathbf x})-(\mathbf x^*,\mathbf x^*)\|^2$
# (EASGD (4)–(5)), $\mathbb E\|(\bar{\mathbf x},\bar{\mathbf v})-(\mathbf x^*,\mathbf 0)\|^2$ (momentum (33)–(34)), the
# spread of Lemma 3.1, and the same for the discrete iterations (41), (3), (42)–(43).
#
# **The certificate.** State $\boldsymbol\xi$ (agents, quorum or velocities), inputs $\mathbf u_i=\nabla f(\mathbf x^i)$,
# both read off the algorithm definitions. With $V=\boldsymbol\xi^{\mathsf T}(\mathbf P\otimes\mathbf I_d)\boldsymbol\xi$,
# $\mathbf P\succeq0$, and multipliers $\mu_c\ge0$ on the interpolation inequalities $q_c\ge0$ of every pair among
# $\mathbf x^1..\mathbf x^p,\mathbf x^*$:
# $$\boldsymbol\xi^{\mathsf T}\mathbf W\boldsymbol\xi+2\boldsymbol\xi^{\mathsf T}\mathbf P(\mathbf A\boldsymbol\xi+\mathbf B\mathbf u)
# +\sum_c\mu_cq_c\le0\ \ \forall(\boldsymbol\xi,\mathbf u)
# \quad\Longrightarrow\quad\mathbb E\,\boldsymbol\xi^{\mathsf T}\mathbf W\boldsymbol\xi\le\frac{\eta\sigma^2}{b}\sum_i(\mathbf E^{\mathsf T}\mathbf P\mathbf E)_{ii},$$
# since the Itô term of $\mathcal LV$ is at most the right-hand side. Minimizing it is an SDP; the dimension $d$
# factors out (Kronecker structure), and permutation symmetry reduces it to two small blocks.

# %%
import numpy as np
import sympy

from quorumsgd import bounds
from quorumsgd.algorithms import QSGD, STACKED_OPS
from quorumsgd.bounds.sdp import certify_point
from quorumsgd.bounds.sdp.system import mode_system
from quorumsgd.bounds.sdp.table import sandwich
from quorumsgd.contraction.network import helmert_basis
from quorumsgd.objectives import GaussianNoise, Quadratic
from quorumsgd.proofsite.kit import QUICK, Proof, equation, plot_curves, show, table
from quorumsgd.simulate import linearize

proof = Proof("sdp")
check, same = proof.check, proof.same
BASE = dict(lr=0.1, batch_size=32.0, sigma2=4.0, strong_convexity=0.5, smoothness=2.0)

# %% [markdown]
# ## Step 1 — one agent: the certificate is SGD's exact worst case
#
# For $p=1$, $\mathbf A=0$, $\mathbf B=-1$, and strong monotonicity $\psi=gx-\lambda x^2\ge0$ with
# $\mathbf P=\frac1{2\lambda}$, $\mu_\psi=\frac1\lambda$ makes the LMI the zero matrix: the bound is
# $\frac{\eta\sigma^2}{2b\lambda}$, attained by $\frac\lambda2\|\mathbf x\|^2$.

# %%
x, g, lam, big_l, lr, b, s2 = sympy.symbols("x g lambda L eta b sigma2", positive=True)
p_sgd, mu_psi = 1 / (2 * lam), 1 / lam
form = x**2 + 2 * x * p_sgd * (-g) + mu_psi * (g * x - lam * x**2)
lmi = sympy.hessian(form, (x, g)) / 2
equation(r"\mathbf M_{p=1}", lmi)
same("p = 1: the LMI with P = 1/(2 lambda), mu_psi = 1/lambda is zero", lmi, sympy.zeros(2, 2))
sgd_value = lr * s2 / b * p_sgd
cert = certify_point("sgd", BASE)
proof.close("the SDP finds it: E|x|^2 <= eta sigma^2 / (2 b lambda)", cert.second_moment,
            float(sgd_value.subs({lr: 0.1, s2: 4.0, b: 32.0, lam: 0.5})), rel=1e-5)
h = np.linspace(0.5, 2.0, 4001)
worst = float(np.max(0.1 * 4.0 / (32.0 * h * (2 - 0.1 * h))))
proof.close("discrete (1): the worst quadratic, max_h eta sigma^2 / (b h (2 - eta h))",
            certify_point("sgd", BASE, discrete=True).second_moment, worst, rel=1e-4)
proof.record("sgd", {"certified": cert.second_moment, "discrete_worst_quadratic": worst})

# %% [markdown]
# ## Step 2 — the symmetry reduction, symbolically (QSGD, $p=3$)
#
# The agents are exchangeable and share one $f$, so averaging a certificate over permutations keeps it valid
# with the same value: $\mathbf P=d\,\mathbf I+e\,\mathbf 1\mathbf 1^{\mathsf T}$ and one multiplier per pair type
# (agent–minimizer $\mu_0,\mu_1$; agent–agent $\mu_2/p,\mu_3/p$). The drift is computed symbolically *from the
# algorithm's definition* (`QSGD.drift` on SymPy arrays). In the orthonormal mode basis (consensus
# $\mathbf 1/\sqrt p$, Helmert contrasts) the LMI is block diagonal: one consensus block and $p-1$ identical
# disagreement blocks, with $\mathbf P_c=d+pe$, $\mathbf P_d=d$.

# %%
n_ag = 3
k, d, e = sympy.symbols("k d e", real=True)
mus = sympy.symbols("mu0:4", nonnegative=True)
xs = sympy.Matrix(sympy.symbols(f"x0:{n_ag}", real=True))
us = sympy.Matrix(sympy.symbols(f"u0:{n_ag}", real=True))
state = np.array([[xi] for xi in xs], dtype=object)
grads = np.array([[ui] for ui in us], dtype=object)
drift = sympy.Matrix(QSGD(coupling=k).drift({"x": state}, lambda y: grads, STACKED_OPS)["x"][:, 0])
a_full, b_full = drift.jacobian(xs), drift.jacobian(us)
same("A = -k (I - 11^T/p) from QSGD.drift", a_full, -k * (sympy.eye(n_ag) - sympy.ones(n_ag, n_ag) / n_ag))
same("B = -I from QSGD.drift", b_full, -sympy.eye(n_ag))
a_c, c_c = lam * big_l / (lam + big_l), 1 / (lam + big_l)


def phi(dy, dg):
    return dg * dy - a_c * dy**2 - c_c * dg**2


def psi(dy, dg):
    return dg * dy - lam * dy**2


p_mat = d * sympy.eye(n_ag) + e * sympy.ones(n_ag, n_ag)
xbar = sum(xs) / n_ag
quad = xbar**2 + 2 * (xs.T * p_mat * (a_full * xs + b_full * us))[0]
quad += sum(mus[0] * phi(xs[i], us[i]) + mus[1] * psi(xs[i], us[i]) for i in range(n_ag))
quad += sum((mus[2] * phi(xs[i] - xs[j], us[i] - us[j]) + mus[3] * psi(xs[i] - xs[j], us[i] - us[j])) / n_ag
            for i in range(n_ag) for j in range(i + 1, n_ag))
zs = list(xs) + list(us)
m_full = sympy.hessian(quad, zs) / 2
t = sympy.Matrix(np.column_stack([np.full(n_ag, 1 / np.sqrt(n_ag)), helmert_basis(n_ag)]))
t = t.applyfunc(lambda v: sympy.nsimplify(v, [sympy.sqrt(2), sympy.sqrt(3), sympy.sqrt(6)]))
same("the mode basis is orthogonal", t.T * t, sympy.eye(n_ag))
order = [i for m in range(n_ag) for i in (m, n_ag + m)]  # (x, u) of mode 0, then mode 1, ...
z = sympy.diag(t, t)[:, order]
m_modes = sympy.simplify(z.T * m_full * z)
off = [m_modes[r, c] for r in range(2 * n_ag) for c in range(2 * n_ag) if r // 2 != c // 2]
check("the LMI is block diagonal in the modes (every cross-mode entry simplifies to 0)",
      all(sympy.simplify(v) == 0 for v in off))


def reduced_block(w, p_m, a_m, b_m, agent_agent):
    """The reduced block of the package's formulation: W + 2 P A, P B, and the mode's forms."""
    y, s = sympy.symbols("y s", real=True)
    form_ = w * y**2 + 2 * y * p_m * (a_m * y + b_m * s) + mus[0] * phi(y, s) + mus[1] * psi(y, s)
    if agent_agent:
        form_ += mus[2] * phi(y, s) + mus[3] * psi(y, s)
    return sympy.hessian(form_, (y, s)) / 2


same("consensus block = reduced block with P_c = d + p e, A_c = 0, B_c = -1, W_c = 1/p",
     m_modes[:2, :2], reduced_block(sympy.Rational(1, n_ag), d + n_ag * e, 0, -1, False))
for m in range(1, n_ag):
    same(f"disagreement block {m} = reduced block with P_d = d, A_d = -k, B_d = -1, W_d = 0",
         m_modes[2 * m:2 * m + 2, 2 * m:2 * m + 2], reduced_block(0, d, -k, -1, True))
cons, dis = mode_system(QSGD(coupling=2.5), 7, "consensus"), mode_system(QSGD(coupling=2.5), 7, "disagreement")
proof.close("the package's mode systems (numeric, p = 7) are the same (A_c, B_c, A_d, B_d)",
            [cons.a[0, 0], cons.b[0, 0], dis.a[0, 0], dis.b[0, 0]], [0.0, -1.0, -2.5, -1.0], abs_tol=1e-14)

# %% [markdown]
# ## Step 3 — reduced = full SDP, and exactness on the one-quadratic class
#
# The reduced SDP (two blocks, size independent of $p$ and $d$) against the full SDP (one multiplier per pair),
# and at $\lambda=L$ (the class is $\frac L2\|\mathbf x\|^2$) against the exact Lyapunov oracle.

# %%
rows = []
for name, extra in (("thm5.1", {}), ("thm5.2", {}), ("thm5.3", {"damping": 2.0})):
    for n_agents in (2, 3):
        pt = dict(BASE, n_agents=n_agents, coupling=1.0, **extra)
        red, full = certify_point(name, pt), certify_point(name, pt, full=True)
        proof.close(f"{name}, p = {n_agents}: reduced = full SDP", red.second_moment, full.second_moment, rel=1e-5)
        rows.append((name, n_agents, red.second_moment, full.second_moment))
table(["theorem", "p", "reduced SDP", "full SDP"], rows)
pt = dict(BASE, n_agents=4, coupling=1.0, strong_convexity=1.5, smoothness=1.5)
law = linearize(QSGD(coupling=1.0), Quadratic.isotropic(2, 1.5), 4, GaussianNoise.isotropic(2, 4.0), 0.1,
                32.0).stationary()
proof.close("lambda = L: the certificate is the exact stationary E|x̄|^2 (oracle)",
            certify_point("thm5.1", pt).second_moment, law.expected_center_error_sq(np.zeros(2)), rel=1e-5)
spread = bounds.evaluate("lemma3.1", method="sdp", n_agents=4, coupling=1.0, **BASE).value
paper_spread = bounds.lemma3_1(n_agents=4, lr=0.1, batch_size=32.0, sigma2=4.0, coupling=1.0, lambda_max=-0.5).value
proof.close("Lemma 3.1: the certified worst spread is the (p-1)/p-corrected (22): (22) is tight on S(lambda, L)",
            spread, paper_spread, rel=1e-5)

# %% [markdown]
# ## Step 4 — the sandwich table
#
# For each theorem, $p$ and $k$: the certified bound ($\sqrt{\cdot}$ of the certified second moment, for all
# $f\in\mathcal S(\lambda,L)$ and all $n$), the worst isotropic quadratic of the class (exact, a lower bound on the
# true worst case), the paper's (47)/(51)/(54) with the $Q$ of the log-cosh member of the class, for
# $n\in\{1,10,1000\}$, and the discrete iteration's certificate ($\eta=0.1$, heavy-ball $\mu=0.5$ for (42)–(43)).
# $\lambda=0.5$, $L=2$, $\eta=0.1$, $b=32$, $\sigma^2=4$, $\gamma=2$.

# %%
grid_p = (1, 4, 16) if QUICK else (1, 2, 4, 16, 64)
grid_k = (0.0, 1.0, 10.0) if QUICK else (0.0, 0.1, 1.0, 10.0, 100.0)
sand = sandwich(n_agents=grid_p, couplings=grid_k)
table(["theorem", "p", "k/λ", "certified", "quadratic", "paper n=1", "paper n=10", "paper n=1000", "discrete"],
      [(r.name, r.n_agents, r.coupling, r.certified, r.quadratic, r.paper[1], r.paper[10], r.paper[1000], r.discrete)
       for r in sand], digits=4)
finite = [r for r in sand if np.isfinite(r.certified)]
proof.at_most("the certificate is above the worst isotropic quadratic everywhere",
              [r.quadratic for r in finite], [r.certified * (1 + 1e-6) for r in finite])
beats = [r for r in finite if r.name != "thm5.1" and np.isfinite(r.paper[1])]
proof.at_most("thm5.2 and thm5.3: the certificate is below the paper's bound wherever the paper applies",
              [r.certified for r in beats], [r.paper[1] for r in beats])
check("thm5.2 at k = 0: no certificate (the quorum does not move), as the paper's λ_E = 0",
      all(not np.isfinite(r.certified) for r in sand if r.name == "thm5.2" and r.coupling == 0))
proof.record("table", [{"name": r.name, "n_agents": r.n_agents, "coupling_over_lambda": r.coupling,
                        "certified": r.certified, "quadratic": r.quadratic,
                        "paper": {str(n): v for n, v in r.paper.items()}, "discrete": r.discrete} for r in sand])
ratio = {n: [r.paper[n] / r.certified for r in finite if r.name == "thm5.1" and r.n_agents > 1] for n in (1, 10, 1000)}
show(f"Thm 5.1, p > 1: paper / certified ranges over {min(ratio[1]):.2f}–{max(ratio[1]):.2f} (n = 1), "
     f"{min(ratio[10]):.2f}–{max(ratio[10]):.2f} (n = 10), {min(ratio[1000]):.2f}–{max(ratio[1000]):.2f} (n = 1000). "
     "Where it is below 1 the paper's bound is *not* a bound over S(λ, L): it needs Assumption 2.1's Q, and "
     "members of S(λ, L) with large third derivatives (a smoothed piecewise quadratic, curvature λ on one side and "
     "L on the other) shift the stationary mean of every agent the same way, a bias that no number of agents "
     "averages out — exactly what the certificate must cover.")
# A member of S(λ, L) that the paper's (47) does not cover: f = λx²/2 (x < 0), Lx²/2 (x > 0), smoothable with a
# large Q. At k = 0 the agents are independent SDEs with the exact stationary density exp(-f/D), D = ησ²/(2b),
# so E|x̄|² = E x²/p + (1 - 1/p)(E x)² by quadrature: a lower bound on the worst case, next to the certificate.
D = 0.1 * 4.0 / (2 * 32.0)
xs_ = np.linspace(-3.0, 3.0, 600001)
dens = np.exp(-np.where(xs_ < 0, 0.5 * xs_**2, 2.0 * xs_**2) / 2 / D)
dens /= np.trapezoid(dens, xs_)
m1, m2 = np.trapezoid(xs_ * dens, xs_), np.trapezoid(xs_**2 * dens, xs_)
pw_rows = []
for r in (r for r in sand if r.name == "thm5.1" and r.coupling == 0 and r.n_agents > 1):
    lower = float(np.sqrt(m2 / r.n_agents + (1 - 1 / r.n_agents) * m1**2))
    pw_rows.append((r.n_agents, lower, r.certified, r.paper[1]))
table(["p", "piecewise quadratic √E|x̄|² (k = 0)", "certified", "paper (47), n = 1"], pw_rows, digits=4)
proof.at_most("the piecewise quadratic's exact value is below the certificate (k = 0)",
              [row[1] for row in pw_rows], [row[2] for row in pw_rows])
check("...and above the paper's (47) at n = 1 for p >= 16: (47) needs Assumption 2.1's Q",
      all(row[1] > row[3] for row in pw_rows if row[0] >= 16))
proof.record("piecewise_quadratic", pw_rows)
ks = np.array([0.0, 0.05, 0.5, 5.0, 50.0])
curves = {f"p = {p_}": list(bounds.evaluate("thm5.1", method="sdp", n_agents=p_, coupling=ks, **BASE).value)
          for p_ in (2, 16, 64)}
check("the certificate falls with the coupling", all(np.all(np.diff(v) <= 1e-9) for v in curves.values()))
plot_curves([{"x": ks + 0.01, "xlabel": "coupling k (+0.01)", "ylabel": "certified bound on E|x̄ − x*|", "logx": True,
              "logy": True, "curves": curves}], "Thm 5.1 certified over S(λ, L): falls with k, floor ~ 1/√p")

# %% [markdown]
# ## Verdict

# %%
proof.summary(
    "The SDP certificate is exact where the worst case is known (one agent: ησ²/(2bλ); λ = L: the Lyapunov "
    "oracle; the spread: the (p−1)/p-corrected (22)), the symmetry reduction is exact (symbolically block "
    "diagonal; reduced = full SDP), and it lies above every quadratic of the class. It beats (51) and (54) "
    "everywhere they apply and (47) from n = 10 on; at n = 1 (47) is smaller because it assumes a bound Q on third "
    "derivatives that S(λ, L) does not."
)

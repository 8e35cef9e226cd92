r"""DMFT of deep linear networks (depth L >= 1) in the proportional limit N = nu D -> infinity.

The network is that of :mod:`lmech.experiment.deep_linear` (Bordelon & Pehlevan, "Deep
linear network training dynamics from random initialization", ICML 2025, Sec. 2-3):
W_1 (N x D), W_2..W_L (N x N), w (N,) with N(0, 1) entries, h^1 = W_1 x,
h^{l+1} = A_l h^l with A_l = W_l / sqrt(N) or (residual) I + W_l / sqrt(N L),
f = w^T h^L / (gamma N); every parameter trained at rate lr gamma^2 N on the population
loss (1/2)|e|^2, e = b_* - (b - b_0), or by one-pass SGD with B = beta D fresh samples.

Single-site process [derived; the structure is that of the paper's Sec. 3 and App. B:
correlation and response functions per layer, linear Gaussian fields]. Writing g(t) for
the gradient's error direction (e, or Sigma_hat e), the forward vectors u_1 = W_1 g,
u_l = A_l u_{l-1} and the backward vectors v_L = w, v_{l-1} = A_l^T v_l at step t
satisfy, with W(t) = W(0) + (rank-one updates),

.. math::

    u_l(t) &= \rho\,u_{l-1}(t) + \xi_l(t) + \kappa_l\sum_s R^u_{l-1}(t,s)\,v_l(s)
              + \eta_0\bar\gamma\kappa_l\sum_{s<t} C^u_{l-1}(t,s)\,v_l(s),\\
    v_l(t) &= \rho\,v_{l+1}(t) + \chi_l(t) + \kappa_{l+1}\sum_s R^v_{l+1}(t,s)\,u_l(s)
              + \eta_0\bar\gamma\kappa_{l+1}\sum_{s<t} C^v_{l+1}(t,s)\,u_l(s),\\
    v_L(t) &= w_0 + \eta_0\bar\gamma\sum_{s<t} u_L(s),

one site of the N hidden neurons (the same site in every layer: the residual stream
rho = 1 couples them; rho = 0 without). kappa_l = c_l^2 N is 1 (kappa_1 = 1; hidden
layers 1 or, residual, 1/L). The Gaussian sources xi_l ~ GP(0, kappa_l C^u_{l-1}) and
chi_l ~ GP(0, kappa_{l+1} C^v_{l+1}), w_0 ~ N(0, 1) are independent; C^u_l = <u_l u_l>,
C^v_l = <v_l v_l>, R^u_l(t, s) = <d u_l(t) / d chi_l(s)> and
R^v_l(t, s) = <d v_l(t) / d xi_l(s)> (the reaction terms of the random matrices W_l).
One site of the D input coordinates (scaled by sqrt(D)) carries

.. math::

    \tilde e(t) = \tilde b_* - \frac{k(t) - k(0)}{\bar\gamma\nu}
        - \eta_0\sum_{s<t} C^v_1(t,s)\,\tilde g(s),\qquad
    k(t) = \chi_0(t) + \nu\sum_s R^v_1(t,s)\,\tilde g(s),\qquad
    \tilde g(t) = \tilde e(t) + \tilde n(t),

with b_* ~ N(0, 1), chi_0 ~ GP(0, nu C^v_1), the SGD noise n(t) ~ N(0, C_e(t,t)/beta)
independent over t (zero for the population gradient), C^u_0 = <g g> and
R^u_0(t, s) = <d g(t) / d k(s)>. The test loss is C_e(t, t) = <e(t)^2> = |e(t)|^2.

Repeated data [derived]: with P = alpha D fixed training points X (P x D) reused at
every step, g = X^T X e / P. The matrix X adds a site of the P points,
r(t) = X e(t) = zeta_r(t) + sum_s R_X(t, s) r(s) with zeta_r ~ GP(0, C_e) and
R_X(t, s) = <d e(t) / d n(s)> / alpha, and on the input site
g(t) = sum_s Xi(t, s) e(s) + n(t), Xi = (I - R_X)^{-1} (the P site's full response to
its field), n(t) = psi(t) / alpha with psi ~ GP(0, alpha C_r), C_r = <r r>
(``data_ratio``). Checked against linear regression: at alpha < 1 the test loss
plateaus at 1 - alpha (the null space of X is never learned). The training loss is
C_r(t, t) = e^T Sigma_hat e. (Fresh batches are the special case where each step has its
own X: R_X = 0 and C_r diagonal, which is the one-pass noise above.)

Anisotropic data [derived]: with input covariance Sigma (eigenvalues lambda_k) and the
population gradient g = Sigma e, each input coordinate in the eigenbasis of Sigma is its
own site, g~_k = lambda_k e~_k with b~_{*k} of variance beta_k (``spectrum``,
``target_power``); the hidden sites see the averages over k of <g g> and <dg/dk>, and
the test loss is <lambda e^2> = e^T Sigma e (W_1 is rotation invariant, so Sigma can be
taken diagonal). A power law lambda_k = k^{-a} is the power-law data setting of the
paper (its abstract: the rich regime accelerates the power-law loss decay); section
numbers of the paper are not cited here because they were not checked. A flat spectrum reproduces the isotropic closure to round-off (tested).

Every equation is linear, so the fields are (I - M)^{-1} applied to the sources: given
(C, R) the new (C, R) are exact matrix products, no sampling. The fixed point is found by
direct (Picard) iteration: the system is causal (R strictly lower-triangular in time
except the same-step reaction of the input layer), so the iteration converges; it stops
when the largest change of every C and R is below ``tol`` and raises ConvergenceError
otherwise. Time is the discrete step count, exact for gradient descent with step lr.

Warning: gamma -> 0 is a 0/0 limit of these variables (v moves by O(gamma) while the
input site divides by gamma); gamma must be > 0 (the lazy limit is approached, not
reached; :func:`lmech.theory.dmft.lazy_linear_loss` is its closed form at depth 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import solve_triangular

from lmech._memory import check_allocation
from lmech.errors import ConvergenceError

__all__ = ["DeepLinearDMFTResult", "solve_deep_linear_dmft"]


@dataclass
class DeepLinearDMFTResult:
    """Order parameters of the deep linear DMFT at steps 0..T (D -> infinity).

    ``forward_corr[l]`` is C^u_{l+1}(t, s) = u_{l+1}(t) . u_{l+1}(s) / N (layer l + 1);
    ``backward_corr[l]`` is C^v_{l+1}; ``input_corr`` is C_e(t, s) = e(t) . e(s).
    """

    step: np.ndarray
    test_loss: np.ndarray
    train_loss: np.ndarray  # e^T Sigma_hat e on the P reused points (= test_loss without)
    input_corr: np.ndarray
    forward_corr: list
    backward_corr: list
    forward_response: list
    backward_response: list
    iterations: int
    residual: float
    nu: float
    gamma: float
    lr: float
    depth: int
    residual_branches: bool

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"step": self.step, "test_loss": self.test_loss, "train_loss": self.train_loss}
        )


def _diverged(L, nu, g, lr) -> str:
    return (
        f"the deep linear DMFT diverged (depth={L}, nu={nu:g}, gamma={g:g}, lr={lr:g}); "
        "the dynamics themselves diverge at this learning rate: lower lr"
    )


def solve_deep_linear_dmft(
    nu: float,
    gamma: float,
    lr: float,
    steps: int,
    depth: int,
    *,
    residual: bool = False,
    batch_ratio: float | None = None,
    data_ratio: float | None = None,
    spectrum: tuple[np.ndarray, np.ndarray] | None = None,
    tol: float = 1e-11,
    max_iter: int | None = None,
    chunk: int = 25,
) -> DeepLinearDMFTResult:
    """Solve the single-site equations of the module docstring (inputs already validated).

    The horizon grows by ``chunk`` steps at a time, each window warm-started from the
    converged previous one (causality: the earlier steps are already exact), so a Picard
    iterate never carries unconverged late-time values far. ``max_iter`` bounds the
    iterations of each window (default 20 chunk + 200).
    """
    T1 = steps + 1
    L = depth
    n = 2 * L * T1
    check_allocation(
        8 * (6 * n * n + 16 * T1 * T1 * L),
        f"the depth-{L} linear DMFT over {T1} steps (a dense {n} x {n} linear system)",
        "use fewer steps",
    )
    max_iter = max_iter or 20 * chunk + 200
    state = None
    total = 0
    H = 0
    while H < steps:
        Hn = min(steps, H + chunk)
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # finiteness is checked
                new, its, change = _picard(
                    nu, gamma, lr, Hn + 1, L, residual, batch_ratio, data_ratio, tol, max_iter,
                    state, spectrum,
                )  # fmt: skip
        except ConvergenceError:
            if chunk == 1:
                raise
            chunk = max(1, chunk // 4)  # an unconverged window blew up: shorter windows
            continue
        state, H = new, Hn
        total += its
    Cu, Cv, Ru, Rv, Cg, Ce, Re, Cr, _ = state
    return DeepLinearDMFTResult(
        step=np.arange(T1), test_loss=Ce.diagonal().copy(), input_corr=Ce,
        train_loss=(Cr if data_ratio is not None else Ce).diagonal().copy(),
        forward_corr=Cu, backward_corr=Cv, forward_response=Ru[: L - 1],
        backward_response=Rv, iterations=total, residual=change, nu=nu, gamma=gamma, lr=lr,
        depth=L, residual_branches=residual,
    )  # fmt: skip


def _spectral_input_site(spec, M0, P, Schi, T1):
    """Input sites with data covariance eigenvalue lambda_k and target power beta_k.

    Per group: e~ = P_k zeta + M0 g~ with g~ = lambda_k e~ (population gradient Sigma e)
    and b~_* of variance beta_k. Returns (<g g>, the test-loss correlation
    <lambda e e> = e^T Sigma e, <dg/dk>), averaged over the groups (equal weights).
    """
    lam, beta = spec
    K = len(lam)
    Pk = np.broadcast_to(P, (K, *P.shape)).copy()
    Pk[:, :, 0] = np.sqrt(beta)[:, None]
    A = np.eye(T1)[None] - lam[:, None, None] * M0[None]
    G = np.linalg.solve(A, lam[:, None, None] * Pk)  # (K, T1, 1 + T1)
    S = np.zeros((1 + T1, 1 + T1))
    S[0, 0] = 1.0
    S[1:, 1:] = Schi
    Em = Pk + M0[None] @ G
    Cg = np.einsum("kts,su,kru->tr", G, S, G, optimize=True) / K
    Ce = np.einsum("k,kts,su,kru->tr", lam, Em, S, Em, optimize=True) / K
    return Cg, Ce, G[:, :, 1:].mean(0)


def _pad(A: np.ndarray, T1: int, fill: float = 0.0) -> np.ndarray:
    out = np.full((T1, T1), fill)
    k = A.shape[0]
    out[:k, :k] = A
    return out


def _picard(nu, g, lr, T1, L, residual, batch_ratio, alpha, tol, max_iter, state, spec=None):
    """Picard iteration of the fixed point on steps 0..T1-1, from ``state`` (shorter)."""
    n = 2 * L * T1
    kap_h = 1.0 / L if residual else 1.0
    rho = 1.0 if residual else 0.0
    low = np.tril(np.ones((T1, T1)), -1)  # s < t
    eye = np.eye(T1)

    def ui(lay):  # rows of u_lay, lay = 1..L
        return slice((lay - 1) * T1, lay * T1)

    def vi(lay):  # rows of v_lay
        return slice((L + lay - 1) * T1, (L + lay) * T1)

    if state is None:
        Cu = [np.zeros((T1, T1)) for _ in range(L)]  # C^u_l, l = 1..L
        Cv = [np.zeros((T1, T1)) for _ in range(L)]
        Ru = [np.zeros((T1, T1)) for _ in range(L)]  # R^u_l, l = 1..L-1 used
        Rv = [np.zeros((T1, T1)) for _ in range(L)]
        Cg = np.ones((T1, T1))  # <g g>, the forward input of layer 1
        Ce = np.ones((T1, T1))
        Re = np.zeros((T1, T1))  # <dg/dk>
        Cr = np.ones((T1, T1))  # repeated data: <r r> over the P training points
        Xi = np.eye(T1)  # repeated data: (I - R_X)^{-1}, the P site's response
    else:
        Cu, Cv, Ru, Rv, Cg, Ce, Re, Cr, Xi = state
        Cr = _pad(Cr, T1, Cr[-1, -1])
        Xi = _pad(Xi, T1) + np.diag(np.r_[np.zeros(len(Xi)), np.ones(T1 - len(Xi))])
        Cu, Cv, Ru, Rv = ([_pad(A, T1) for A in X] for X in (Cu, Cv, Ru, Rv))
        Cg, Ce, Re = _pad(Cg, T1, Cg[-1, -1]), _pad(Ce, T1, Ce[-1, -1]), _pad(Re, T1)
    # input site: sources zeta = (b_*, chi_0(0..T), n(0..T))
    P = np.zeros((T1, 1 + 2 * T1))
    P[:, 0] = 1.0
    P[:, 1 : 1 + T1] = -eye / (g * nu)
    P[:, 1] = 1.0 / (g * nu)  # - (chi_0(t) - chi_0(0)) / (gamma nu)
    P[0, 1] = 0.0
    Q = np.zeros_like(P)  # the noise n enters g~ directly
    Q[:, 1 + T1 :] = eye
    I_n = np.eye(n)
    perm = np.array(
        [
            idx
            for t in range(T1)
            for idx in [(L + lay - 1) * T1 + t for lay in range(L, 0, -1)]
            + [(lay - 1) * T1 + t for lay in range(1, L + 1)]
        ]
    )
    inv = np.argsort(perm)
    change = np.inf
    for it in range(1, max_iter + 1):
        n_iter = it
        old = [*Cu, *Cv, *Ru, *Rv, Cg, Ce, Re, Cr, Xi]
        # --- input (D) site, given layer 1's C^v_1 and R^v_1
        # e~ = P zeta + M0 g~ and g~ = Xi e~ + n (Xi = I without repeated data), so
        # g~ = (I - Xi M0)^{-1} (Xi P + Q) zeta
        M0 = -Rv[0] / g - lr * (low * Cv[0])
        if spec is not None:
            Cg, Ce, Re = _spectral_input_site(spec, M0, P[:, : 1 + T1], nu * Cv[0], T1)
            G = None
        else:
            try:
                G = np.linalg.solve(np.eye(T1) - Xi @ M0, Xi @ P + Q)
            except np.linalg.LinAlgError as err:
                raise ConvergenceError(_diverged(L, nu, g, lr)) from err
        S = np.zeros((1 + 2 * T1, 1 + 2 * T1))
        S[0, 0] = 1.0
        S[1 : 1 + T1, 1 : 1 + T1] = nu * Cv[0]
        if batch_ratio is not None:
            S[1 + T1 :, 1 + T1 :] = np.diag(np.diag(Ce)) / batch_ratio
        elif alpha is not None:
            S[1 + T1 :, 1 + T1 :] = Cr / alpha  # n = psi / alpha, psi ~ GP(0, alpha C_r)
        if G is not None:
            Cg = G @ S @ G.T
            Em = P + M0 @ G  # e~ = Em zeta
            Ce = Em @ S @ Em.T
            Re = G[:, 1 : 1 + T1]
            if alpha is not None:  # P site: r = zeta_r + R_X r, zeta_r ~ GP(0, C_e)
                # R_X = <d e / d n> / alpha; the response of r to its field is (I - R_X)^{-1}
                Xi = np.linalg.inv(np.eye(T1) - Em[:, 1 + T1 :] / alpha)
                Cr = Xi @ Ce @ Xi.T
        # --- hidden (N) site, given the input site and every layer's C, R
        M = np.zeros((n, n))
        Sig = np.zeros((n, n))
        for lay in range(1, L + 1):
            Cin, Rin = (Cg, Re) if lay == 1 else (Cu[lay - 2], Ru[lay - 2])
            k = 1.0 if lay == 1 else kap_h
            if lay >= 2:
                M[ui(lay), ui(lay - 1)] = rho * eye
            M[ui(lay), vi(lay)] = k * Rin + lr * g * k * (low * Cin)
            Sig[ui(lay), ui(lay)] = k * Cin
            if lay < L:
                M[vi(lay), vi(lay + 1)] = rho * eye
                M[vi(lay), ui(lay)] = kap_h * Rv[lay] + lr * g * kap_h * (low * Cv[lay])
                Sig[vi(lay), vi(lay)] = kap_h * Cv[lay]
            else:
                M[vi(lay), ui(lay)] = lr * g * low
                Sig[vi(lay), vi(lay)] = 1.0  # w_0
        # time-major order (v_L .. v_1, u_1 .. u_L at each step) makes M strictly lower
        # triangular (causality): F = (I - M)^{-1} by one triangular solve
        Fp = solve_triangular(
            I_n - M[np.ix_(perm, perm)], I_n, lower=True, unit_diagonal=True, check_finite=False
        )
        F = Fp[np.ix_(inv, inv)]
        blocks = [ui(lay) for lay in range(1, L + 1)] + [vi(lay) for lay in range(1, L + 1)]
        for lay in range(1, L + 1):
            Cu[lay - 1] = sum(F[ui(lay), b] @ Sig[b, b] @ F[ui(lay), b].T for b in blocks)
            Cv[lay - 1] = sum(F[vi(lay), b] @ Sig[b, b] @ F[vi(lay), b].T for b in blocks)
            Ru[lay - 1] = F[ui(lay), vi(lay)]
            Rv[lay - 1] = F[vi(lay), ui(lay)]
        new = [*Cu, *Cv, *Ru, *Rv, Cg, Ce, Re, Cr, Xi]
        if not all(np.isfinite(x).all() for x in new) or Ce.diagonal().max() > 1e12:
            raise ConvergenceError(_diverged(L, nu, g, lr))
        change = max(
            float(np.abs(a - b).max()) / max(1.0, float(np.abs(a).max()))
            for a, b in zip(new, old, strict=True)
        )
        if change <= tol:
            break
    else:
        raise ConvergenceError(
            f"the deep linear DMFT fixed point did not converge in {max_iter} iterations "
            f"(last relative change {change:.2e} > tol {tol:.1e}; depth={L}, nu={nu:g}, "
            f"gamma={g:g}, lr={lr:g}, steps={T1 - 1}); pass a larger max_iter or fewer steps"
        )
    return (Cu, Cv, Ru, Rv, Cg, Ce, Re, Cr, Xi), n_iter, change

r"""Linear networks in the proportional limit (N = nu D, D -> infinity): GD and one-pass SGD.

Model (one hidden layer of a linear network; the setting of Bordelon & Pehlevan, "Deep
linear network training dynamics from random initialization", ICML 2025, Sec. 2, at
depth 1, with fresh samples at every step):

.. math::

    f(x) = \frac{1}{\bar\gamma N}\, w^\top W x = b^\top x,\qquad
    b = \frac{W^\top w}{\bar\gamma N},\qquad W_{ij}, w_i \sim \mathcal N(0, 1),

with W (N x D), isotropic inputs x ~ N(0, I_D) and a linear target y = b_*^T x,
|b_*| = 1. Training is gradient descent with learning rate eta = lr gamma^2 N on the
population loss (1/2) E[(f - f_0 - y)^2] = (1/2)|b - b_0 - b_*|^2 (centred output; the
expected gradient of one-pass SGD with an infinite batch). ``parameterization="mup"``
keeps the richness gamma fixed as the width changes (learning rate ~ N, the muP scaling);
``"ntk"`` is f = w^T W x / sqrt(N D) with an N-independent learning rate, which is the
same model at gamma = nu^{-1/2} (lazier as the network widens).

Closure [derived]: with S = W^T W / N, q = |w|^2 / N and e = b_* - (b - b_0), one step is
exactly

.. math::

    b' &= b + \eta_0 (S + q)\, e + \eta_0^2 \bar\gamma^2 (b\cdot e)\, e,\\
    S' &= S + \eta_0 \bar\gamma^2 (e b^\top + b e^\top) + \eta_0^2\bar\gamma^2 q\, e e^\top,\\
    q' &= q + 2\eta_0\bar\gamma^2\, b\cdot e + \eta_0^2\bar\gamma^2\, e^\top S e,

(eta_0 = ``lr``; it follows from W' = W + (eta/(gamma N)) w e^T and
w' = w + (eta/(gamma N)) W e), a closed system in (S, b, q) at any D. At initialization
S_0 = W^T W / N has the Marchenko-Pastur law of ratio y = 1/nu, q_0 -> 1, and
b_0 = S_0^{1/2} z / (gamma sqrt(nu)) with z an isotropic unit vector independent of b_*.
Every vector of the dynamics is p(S_0) b_* + r(S_0) S_0^{1/2} z with polynomials p, r
(S moves by rank-2 terms built from these vectors), and for D -> infinity their inner
products are integrals over the Marchenko-Pastur law (b_* and z are isotropic with
respect to the eigenvectors of S_0). So the limit is the same map on L^2(mu) (+) L^2(mu),
with S_0 acting by multiplication by lambda. After T steps the polynomials have degree
<= T, so a K-node Gauss quadrature of the Marchenko-Pastur law with K >= T + 2 gives the
D -> infinity dynamics exactly (up to round-off): no Monte Carlo and no time
discretization error.

The Marchenko-Pastur law of ratio y (mean 1) is the free Poisson law of rate 1/y and
jump y; its orthogonal polynomials have the constant Jacobi parameters alpha_0 = 1,
alpha_n = 1 + y, beta_n = sqrt(y) (n >= 1) [from the free Poisson recursion; checked
in the tests against the Narayana-number moments to degree 23 and a sampled Wishart
spectrum], and the Golub-Welsch eigenproblem of that Jacobi matrix gives the quadrature.

One-pass SGD [derived]: with B = beta D fresh Gaussian samples per step the gradient's
error direction is Sigma_hat e (Sigma_hat = X^T X / B) in place of e in every update
above (the residual e itself is unchanged). For D -> infinity,
Sigma_hat e = e + n_t + o(1) with n_t isotropic, independent of everything before step t,
and |n_t|^2 = |e|^2 / beta (its component along e is O(B^{-1/2})), so each step adds one
new block L^2(mu) holding n_t, on which S_0 again acts by multiplication (``batch_ratio``).
S is kept as diag + a sum of rank-1 terms (two per step): cost O(T^2 K blocks).

Lazy limit: at gamma -> 0, S and q stay at S_0 and 1 and the squared error is the closed
form :math:`\int (1 - \eta_0 (1 + \lambda))^{2t} d\mu(\lambda)`.

Depth L >= 2 (hidden N x N matrices, plain or residual with 1/sqrt(L) branches) is
solved by the DMFT of :mod:`lmech.theory.dmft.deep_linear_dmft` (``depth >= 2``, or
``solver="dmft"`` at any depth): per-layer T x T correlation and response functions,
found by a fixed-point iteration; at depth 1 it agrees with this closure to round-off
(tested), which checks both.

Limits: the quadrature closure is depth 1 only (a hidden N x N matrix makes the vectors
products of free random matrices); isotropic data (a non-identity data covariance does
not commute with S_0); fresh data at every step (repeated data couples the steps through
a second random matrix, the sample covariance, which does not commute with S_0 either;
``data_ratio`` = P / D solves it with the DMFT, which adds that matrix as one more
random layer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech._memory import check_allocation
from lmech.errors import ConvergenceError, InputError

__all__ = [
    "DeepLinearResult",
    "PARAMETERIZATIONS",
    "dmft_deep_linear",
    "lazy_linear_loss",
    "marchenko_pastur_quadrature",
]

PARAMETERIZATIONS = ("mup", "ntk")


def _positive(name: str, v, *, allow_zero: bool = False) -> float:
    ok = isinstance(v, int | float | np.floating | np.integer) and not isinstance(v, bool)
    if not ok or not math.isfinite(float(v)) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{name} must be a finite number {bound}; got {v!r}")
    return float(v)


def marchenko_pastur_quadrature(ratio: float, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    r"""(nodes, weights) of the K-node Gauss rule of the Marchenko-Pastur law of ratio y.

    The law is that of the eigenvalues of W^T W / N for W (N x D) with N(0, 1) entries and
    y = D / N (mean 1; for y > 1 an atom of mass 1 - 1/y at 0). Exact for polynomials of
    degree <= 2K - 1 (Golub & Welsch, Math. Comp. 1969).
    """
    y = _positive("ratio", ratio)
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int | np.integer) or n_nodes < 1:
        raise InputError(f"n_nodes must be a positive integer; got {n_nodes!r}")
    K = int(n_nodes)
    check_allocation(
        8 * 3 * K * K,
        f"the {K}-node Marchenko-Pastur quadrature (a dense {K} x {K} eigenproblem)",
        "use fewer nodes",
    )
    diag = np.full(K, 1.0 + y)
    diag[0] = 1.0
    off = np.full(K - 1, math.sqrt(y))
    J = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
    lam, V = np.linalg.eigh(J)
    w = V[0] ** 2
    return np.clip(lam, 0.0, None), w / w.sum()


def lazy_linear_loss(nu: float, lr: float, steps: int, n_nodes: int | None = None) -> np.ndarray:
    r"""Squared error at gamma -> 0: :math:`\int (1 - \eta_0(1 + \lambda))^{2t} d\mu(\lambda)`."""
    K = n_nodes or steps + 2
    lam, w = marchenko_pastur_quadrature(1.0 / _positive("nu", nu), K)
    t = np.arange(steps + 1)[:, None]
    return ((1.0 - lr * (1.0 + lam))[None, :] ** (2 * t) * w[None, :]).sum(1)


@dataclass
class DeepLinearResult:
    """Curves of :func:`dmft_deep_linear` at every step 0..T (D -> infinity)."""

    step: np.ndarray
    test_loss: np.ndarray  # E[(f - f_0 - y)^2] = |e|^2 (one-pass: train = test)
    readout_norm: np.ndarray  # q = |w|^2 / N
    target_kernel: np.ndarray  # b_*^T (S + q) b_*: the NTK in the target direction (depth 1)
    nu: float
    gamma: float
    lr: float
    n_nodes: int  # quadrature nodes (0 for the DMFT solver)
    depth: int = 1
    residual: bool = False
    iterations: int = 0  # DMFT fixed-point iterations (0: the closed quadrature map)
    fixed_point_residual: float = 0.0  # last relative change of the DMFT order parameters
    order_parameters: object = None  # the DMFT's DeepLinearDMFTResult (C, R per layer)
    train_loss: np.ndarray | None = None  # loss on the P reused points (data_ratio); DMFT only

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "step": self.step,
                "test_loss": self.test_loss,
                "readout_norm": self.readout_norm,
                "target_kernel": self.target_kernel,
            }
        )


def dmft_deep_linear(
    nu: float,
    *,
    steps: int,
    lr: float = 0.2,
    gamma: float = 1.0,
    parameterization: str = "mup",
    depth: int = 1,
    n_nodes: int | None = None,
    batch_ratio: float | None = None,
    residual: bool = False,
    data_ratio: float | None = None,
    spectrum=None,
    target_power=None,
    solver: str = "auto",
    tol: float = 1e-11,
    max_iter: int | None = None,
) -> DeepLinearResult:
    r"""Test-loss curve of a linear network in the proportional limit (module docstring).

    Args:
        nu: width ratio N / D > 0.
        steps: gradient-descent steps T.
        lr: eta_0; the network's learning rate is eta = lr gamma^2 N.
        gamma: richness (``mup``); ignored for ``ntk`` (gamma = nu^{-1/2}). 0 = lazy.
        parameterization: ``"mup"`` or ``"ntk"``.
        depth: hidden layers L (L - 1 hidden N x N matrices); the convention of
            :mod:`lmech.experiment.deep_linear`.
        n_nodes: quadrature nodes K (default T + 8; fewer than T + 2 is not exact).
        batch_ratio: B / D for one-pass SGD with B fresh samples per step (None: the
            infinite batch, i.e. the population gradient).
        data_ratio: alpha = P / D for full-batch gradient descent on P training points
            reused at every step (DMFT solver; ``train_loss`` is then the loss on them).
        spectrum: eigenvalues lambda_k of the input covariance, one per input direction
            (or an equally weighted sample of its spectral law, e.g. a power law
            k^{-a}); population gradient only (DMFT solver). ``test_loss`` is then
            e^T Sigma e, the test MSE under that input law.
        target_power: D E[b_{*k}^2] along each eigendirection (default 1: an isotropic
            target of unit norm); same length as ``spectrum``.
        residual: residual branches h^{l+1} = h^l + W h^l / sqrt(N L) (depth >= 2).
        solver: ``"auto"`` (quadrature at depth 1, DMFT above), ``"quadrature"`` or
            ``"dmft"``.
        tol, max_iter: stopping rule of the DMFT fixed point (ConvergenceError if
            ``max_iter`` iterations do not bring the relative change below ``tol``).

    Raises:
        InputError: bad arguments; ConvergenceError: divergent dynamics or no DMFT
            fixed point.

    Examples:
        >>> r = dmft_deep_linear(1.0, steps=20, lr=0.02, depth=2)
        >>> bool(r.test_loss[-1] < r.test_loss[0]), r.fixed_point_residual < 1e-10
        (True, True)
    """
    nu = _positive("nu (width ratio N/D)", nu)
    lr = _positive("lr", lr)
    if parameterization not in PARAMETERIZATIONS:
        raise InputError(
            f"parameterization must be one of {PARAMETERIZATIONS}; got {parameterization!r}"
        )
    g = 1.0 / math.sqrt(nu) if parameterization == "ntk" else _positive(
        "gamma (richness)", gamma, allow_zero=True
    )  # fmt: skip
    if isinstance(depth, bool) or not isinstance(depth, int | np.integer) or depth < 1:
        raise InputError(f"depth must be a positive integer (hidden layers); got {depth!r}")
    if not isinstance(residual, bool | np.bool_):
        raise InputError(f"residual must be True or False; got {residual!r}")
    if solver not in ("auto", "quadrature", "dmft"):
        raise InputError(f"solver must be 'auto', 'quadrature' or 'dmft'; got {solver!r}")
    if solver == "quadrature" and depth != 1:
        raise InputError(
            f"the quadrature closure solves one hidden layer (depth=1); got depth={depth!r}. "
            "Use solver='auto' or 'dmft' for deeper networks"
        )
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise InputError(f"steps must be a positive integer; got {steps!r}")
    T = int(steps)
    K = T + 8 if n_nodes is None else n_nodes
    if isinstance(K, bool) or not isinstance(K, int | np.integer) or K < 1:
        raise InputError(f"n_nodes must be a positive integer; got {K!r}")
    if batch_ratio is not None:
        batch_ratio = _positive("batch_ratio (B / D)", batch_ratio)
    if data_ratio is not None:
        data_ratio = _positive("data_ratio (P / D)", data_ratio)
        if batch_ratio is not None:
            raise InputError(
                "pass batch_ratio (one-pass SGD) or data_ratio (repeated data), not both; "
                f"got batch_ratio={batch_ratio!r}, data_ratio={data_ratio!r}"
            )
        if solver == "quadrature":
            raise InputError(
                "the quadrature closure has no repeated data (data_ratio); use solver='auto'"
            )
    spec = None
    if spectrum is not None or target_power is not None:
        spec = _spectrum(spectrum, target_power, batch_ratio, data_ratio, solver, T)
    if depth >= 2 or solver == "dmft" or data_ratio is not None or spec is not None:
        return _dmft_result(
            nu, g, lr, T, int(depth), bool(residual), batch_ratio, tol, max_iter, data_ratio,
            spec,
        )  # fmt: skip
    blocks = 2 + (T if batch_ratio is not None else 0)  # b_*, z, one noise per step
    dim = blocks * int(K)
    check_allocation(
        8 * (6 * dim + 2 * (2 * T + 1) * dim + 3 * int(K) ** 2),
        f"the proportional-limit linear network with {K} quadrature nodes and {blocks} blocks",
        "use fewer steps or nodes",
    )
    lam, w = marchenko_pastur_quadrature(1.0 / nu, int(K))
    sw = np.sqrt(w)
    # coordinates: block 0 = p(S_0) b_*, block 1 = r(S_0) S_0^{1/2} z, block 2 + t = the
    # fresh SGD noise of step t (isotropic, independent of everything before it); each
    # entry is a function value times sqrt(weight)
    bstar = np.zeros(dim)
    bstar[:K] = sw
    u0 = np.zeros(dim)
    u0[K : 2 * K] = sw * np.sqrt(lam) / math.sqrt(nu)  # gamma b_0
    diag = np.tile(lam, blocks)  # S_0 acts by multiplication by lambda in every block
    U = np.zeros((2 * T, dim))  # S = diag + sum_j U_j V_j^T (two rank-1 terms per step)
    V = np.zeros((2 * T, dim))
    r = 0

    def S_times(x):
        return diag * x + U[:r].T @ (V[:r] @ x)

    q = 1.0
    bc = np.zeros(dim)  # b - b_0
    loss = np.empty(T + 1)
    qs = np.empty(T + 1)
    tk = np.empty(T + 1)
    g2 = g * g
    for k in range(T + 1):
        e = bstar - bc
        loss[k] = e @ e
        qs[k] = q
        tk[k] = bstar @ S_times(bstar) + q
        if k == T:
            break
        if not (np.isfinite(loss[k]) and loss[k] < 1e12):
            raise ConvergenceError(
                f"the linear-network dynamics diverged at step {k} (lr={lr:g}, nu={nu:g}, "
                f"gamma={g:g}); lower lr (gradient descent is stable at init for "
                "lr (1 + (1 + nu^-1/2)^2) < 2)"
            )
        ge = e.copy()  # the gradient's error direction: Sigma_hat e
        if batch_ratio is not None:
            # (Sigma_hat - I) e for B fresh samples: isotropic, |.|^2 = |e|^2 D / B
            ge[(2 + k) * K : (3 + k) * K] = sw * math.sqrt(loss[k] / batch_ratio)
        gb = g2 * bc + g * u0  # gamma^2 b
        beta = gb @ ge
        Se = S_times(ge)
        bc = bc + lr * (Se + q * ge) + lr * lr * beta * ge
        q_new = q + 2.0 * lr * beta + lr * lr * g2 * (ge @ Se)
        # lr (ge gb^T + gb ge^T) + lr^2 gamma^2 q ge ge^T = ge v^T + v ge^T
        v = lr * gb + (0.5 * lr * lr * g2 * q) * ge
        U[r], V[r], U[r + 1], V[r + 1] = ge, v, v, ge
        r += 2
        q = q_new
    if not np.isfinite(loss).all() or loss.max() > 1e12:
        raise ConvergenceError(
            f"the linear-network dynamics diverged (lr={lr:g}, nu={nu:g}, gamma={g:g}); lower lr"
        )
    return DeepLinearResult(
        step=np.arange(T + 1), test_loss=loss, readout_norm=qs, target_kernel=tk, nu=nu,
        gamma=g, lr=lr, n_nodes=int(K),
    )  # fmt: skip


def _spectrum(spectrum, target_power, batch_ratio, data_ratio, solver, T):
    if spectrum is None:
        raise InputError("target_power needs spectrum (the input covariance eigenvalues)")
    lam = np.asarray(spectrum, dtype=float)
    if lam.ndim != 1 or lam.size < 1 or not np.isfinite(lam).all() or (lam <= 0).any():
        raise InputError(
            "spectrum must be a 1-D array of finite eigenvalues > 0; got shape "
            f"{lam.shape} with min {lam.min() if lam.size else None!r}"
        )
    beta = np.ones_like(lam) if target_power is None else np.asarray(target_power, float)
    if beta.shape != lam.shape or not np.isfinite(beta).all() or (beta < 0).any():
        raise InputError(
            f"target_power must be finite, >= 0 and of the shape of spectrum {lam.shape}; "
            f"got shape {beta.shape}"
        )
    if batch_ratio is not None or data_ratio is not None or solver == "quadrature":
        raise InputError(
            "spectrum is solved for the population gradient by the DMFT only; drop "
            "batch_ratio / data_ratio and use solver='auto'"
        )
    check_allocation(
        8 * 6 * lam.size * (T + 1) * (T + 2),
        f"the {lam.size}-group input site of the linear DMFT over {T + 1} steps",
        "pass fewer spectrum values (a quantile sample of the spectral law) or fewer steps",
    )
    return lam, beta


def _dmft_result(
    nu, g, lr, T, depth, residual, batch_ratio, tol, max_iter, data_ratio, spec=None
) -> DeepLinearResult:
    from lmech.theory.dmft.deep_linear_dmft import solve_deep_linear_dmft

    if g == 0.0:
        raise InputError(
            "the deep linear DMFT needs gamma > 0 (gamma -> 0 is a 0/0 limit of its "
            "variables); pass a small gamma such as 1e-2 for the near-lazy regime"
        )
    if not (isinstance(tol, float | int) and math.isfinite(tol) and 0 < tol < 1):
        raise InputError(f"tol must be a number in (0, 1); got {tol!r}")
    if max_iter is not None and (
        isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1
    ):
        raise InputError(f"max_iter must be a positive integer or None; got {max_iter!r}")
    r = solve_deep_linear_dmft(
        nu, g, lr, T, depth, residual=residual, batch_ratio=batch_ratio,
        data_ratio=data_ratio, spectrum=spec, tol=float(tol), max_iter=max_iter,
    )  # fmt: skip
    q = r.backward_corr[-1].diagonal().copy()  # C^v_L(t, t) = |w(t)|^2 / N
    return DeepLinearResult(
        step=r.step, test_loss=r.test_loss, readout_norm=q,
        target_kernel=np.full(T + 1, np.nan), nu=nu, gamma=g, lr=lr, n_nodes=0, depth=depth,
        residual=residual, iterations=r.iterations, fixed_point_residual=r.residual,
        order_parameters=r, train_loss=r.train_loss,
    )  # fmt: skip

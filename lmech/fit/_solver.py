r"""Batched Levenberg-Marquardt for Huber losses on log-sum-exp models (all starts at once).

The models of :mod:`lmech.fit` predict a log-loss as a log-sum-exp of terms that are
linear in the parameters,

.. math:: \hat y_i(\theta) = \log \sum_k \exp(\Phi_{ik} \cdot \theta), \qquad
          F(\theta) = \sum_i w_i\, h_\delta(\hat y_i(\theta) - y_i),

with :math:`h_\delta(r) = r^2/2` for :math:`|r| \le \delta` and
:math:`\delta(|r| - \delta/2)` otherwise (``delta=None``: :math:`r^2/2` everywhere).
Chinchilla's L(N, D) = E + A/N^alpha + B/D^beta has three terms
(:math:`\theta = (a, b, e, \alpha, \beta)`, rows :math:`(1,0,0,-\log N,0)`,
:math:`(0,1,0,0,-\log D)`, :math:`(0,0,1,0,0)`).

The solver minimizes S independent problems together (a grid of starts, bootstrap
resamples, or both): every array carries a leading batch axis, so one iteration is a few
BLAS calls over all problems, and problems that have converged drop out.

Gradient and Hessian are exact. With :math:`p_{ik}` the softmax weights of the LSE,
:math:`g_i = \sum_k p_{ik}\Phi_{ik}` is :math:`\nabla \hat y_i` and

.. math:: \nabla^2 F = \sum_i w_i (h'' - h')\, g_i g_i^\top
          + \sum_i w_i h' \sum_k p_{ik} \Phi_{ik}\Phi_{ik}^\top .

A step solves :math:`(H + \mu I)\Delta = -\nabla F` with :math:`\mu` raised above
:math:`-\lambda_{\min}(H)` (so the system is positive definite) and adapted per problem:
by Nielsen's rule from the ratio of actual to predicted decrease.

Warning:
    Hoffmann et al. (2022) run L-BFGS from each start. This is a different local
    optimizer for the same objective from the same grid, keeping the best final value
    as they do; ``benchmarks/chinchilla_fit.py`` checks that it reaches the same optimum
    as a loop of ``scipy.optimize.minimize(method="L-BFGS-B")``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["huber", "objective", "minimize_batched", "minimize_chunked", "BatchResult", "jacobian"]


class BatchResult(NamedTuple):
    theta: np.ndarray  # (S, P) final parameters
    value: np.ndarray  # (S,) final objective
    iterations: np.ndarray  # (S,) iterations used
    converged: np.ndarray  # (S,) bool


def huber(r: np.ndarray, delta: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """h, h', h'' of the Huber loss at residuals ``r`` (``delta=None``: r^2/2)."""
    if delta is None:
        return 0.5 * r * r, r, np.ones_like(r)
    inside = np.abs(r) <= delta
    h = np.where(inside, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta))
    h1 = np.where(inside, r, delta * np.sign(r))
    return h, h1, inside.astype(r.dtype)


def _lse(theta: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log-sum-exp (S, n), softmax weights (S, n, K)) for theta (S, P), design (n, K, P)."""
    n, k, p = design.shape
    z = (theta @ design.reshape(n * k, p).T).reshape(len(theta), n, k)  # (S, n, K)
    zmax = z.max(axis=2, keepdims=True)
    ez = np.exp(np.maximum(z - zmax, -60.0))  # exp(-60) ~ 1e-26: no slow subnormals
    tot = ez.sum(axis=2, keepdims=True)
    return (zmax + np.log(tot))[..., 0], ez / tot


def objective(
    theta: np.ndarray, design: np.ndarray, y: np.ndarray, w: np.ndarray, delta: float | None
) -> np.ndarray:
    """F(theta) for each row of theta (S, P); y and w broadcast to (S, n)."""
    pred, _ = _lse(theta, design)
    return (w * huber(pred - y, delta)[0]).sum(axis=1)


def _value_grad_hess(theta, design, outer, y, w, delta):
    n, k, p = design.shape
    pred, soft = _lse(theta, design)
    h, h1, h2 = huber(pred - y, delta)
    f = (w * h).sum(axis=1)
    g = soft[..., 0, None] * design[None, :, 0, :]  # (S, n, P): grad of pred_i
    for j in range(1, k):
        g += soft[..., j, None] * design[None, :, j, :]
    grad = np.einsum("si,sip->sp", w * h1, g, optimize=True)
    c = w * (h2 - h1)
    hess = np.matmul((c[..., None] * g).transpose(0, 2, 1), g)  # Gauss-Newton-like part
    q = (w * h1)[..., None] * soft  # (S, n, K)
    hess += (q.reshape(len(theta), n * k) @ outer).reshape(len(theta), p, p)  # LSE curvature
    return f, grad, hess


def minimize_batched(
    theta0: np.ndarray,
    design: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    delta: float | None = 1e-3,
    max_iter: int = 500,
    xtol: float = 1e-11,
    ftol: float = 1e-12,
    mu0: float = 1e-3,
) -> BatchResult:
    """Minimize F from every row of ``theta0`` (S, P) at once.

    Args:
        theta0: (S, P) starts.
        design: (n, K, P) rows Phi_ik of the LSE terms (shared by all problems).
        y: (n,) or (S, n) targets (log losses).
        weights: None, (n,) or (S, n) nonnegative weights (bootstrap counts).
        delta: Huber threshold; None for least squares.
        max_iter: iterations per problem.
        xtol, ftol: a problem has converged when an accepted step has max |Delta| < xtol
            or lowers F by at most ftol * F.
        mu0: initial damping.

    Returns:
        BatchResult with the final theta, objective, iterations and convergence flags.
    """
    theta = np.array(theta0, dtype=np.float64, copy=True)
    s, p = theta.shape
    n, k, _ = design.shape
    y = np.broadcast_to(np.asarray(y, dtype=np.float64), (s, n))
    w = np.ones((s, n)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = np.broadcast_to(w, (s, n))
    outer = np.einsum("ikp,ikq->ikpq", design, design).reshape(n * k, p * p)
    mu = np.full(s, np.nan)  # set from the first Hessian: mu0 * max diag(H)
    nu = np.full(s, 2.0)
    iters = np.zeros(s, dtype=np.int64)
    done = np.zeros(s, dtype=bool)
    value = np.full(s, np.inf)
    eye = np.eye(p)
    active = np.arange(s)
    for _ in range(max_iter):
        if active.size == 0:
            break
        th, ya, wa = theta[active], y[active], w[active]
        f, grad, hess = _value_grad_hess(th, design, outer, ya, wa, delta)
        m = mu[active]
        m = np.where(np.isnan(m), mu0 * np.abs(np.diagonal(hess, axis1=1, axis2=2)).max(1), m)
        m = np.maximum(m, 1e-300)
        lam_min = np.linalg.eigvalsh(hess)[:, 0]
        shift = m + np.maximum(0.0, -lam_min) * 1.01
        step = -np.linalg.solve(hess + shift[:, None, None] * eye, grad[..., None])[..., 0]
        f_new = objective(th + step, design, ya, wa, delta)
        # gain ratio: actual decrease / decrease predicted by the quadratic model
        pred_dec = -(
            np.einsum("sp,sp->s", grad, step) + 0.5 * np.einsum("sp,spq,sq->s", step, hess, step)
        )
        rho = (f - f_new) / np.where(pred_dec > 0, pred_dec, np.inf)
        ok = np.isfinite(f_new) & (f_new <= f)
        theta[active[ok]] = th[ok] + step[ok]
        value[active] = np.where(ok, f_new, f)
        # Nielsen (1999) damping update
        good = ok & (rho > 0)
        factor = np.where(
            good, np.maximum(1.0 / 3.0, 1.0 - (2.0 * np.clip(rho, 0, 1) - 1.0) ** 3), nu[active]
        )
        mu[active] = m * factor
        nu[active] = np.where(good, 2.0, nu[active] * 2.0)
        iters[active] += 1
        small = np.abs(step).max(axis=1) < xtol
        small |= f - f_new <= ftol * np.abs(f)  # relative decrease below ftol
        stuck = mu[active] > 1e20 * np.maximum(np.abs(grad).max(axis=1), 1e-300)
        zero_grad = ~np.any(grad != 0.0, axis=1)
        fin = (ok & small) | stuck | zero_grad
        done[active[fin]] = True
        active = active[~fin]
    return BatchResult(theta, value, iters, done)


def minimize_chunked(
    theta0: np.ndarray,
    design: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    y_index: np.ndarray | None = None,
    delta: float | None = 1e-3,
    max_iter: int = 500,
    budget: int = 4_000_000,
) -> BatchResult:
    """:func:`minimize_batched` over chunks of problems, so that the work arrays stay near
    ``budget`` floats whatever the number of problems S and of rows n.

    ``y`` is (n,), (S, n), or (R, n) with ``y_index`` (S,) naming the row of ``y`` each
    problem fits (R data sets times many starts without copying y S times); ``weights``
    is None, (n,) or (S, n).
    """
    s = len(theta0)
    n, _, p = design.shape
    chunk = max(1, budget // (n * p))
    y = np.asarray(y, dtype=np.float64)
    parts = []
    for lo in range(0, s, chunk):
        sl = slice(lo, min(s, lo + chunk))
        if y_index is not None:
            ys = y[y_index[sl]]
        elif y.ndim == 2:
            ys = y[sl]
        else:
            ys = y
        if weights is None or np.ndim(weights) == 1:
            ws = weights
        else:
            ws = weights[sl]
        parts.append(minimize_batched(theta0[sl], design, ys, ws, delta=delta, max_iter=max_iter))
    if not parts:
        return BatchResult(np.zeros((0, p)), np.zeros(0), np.zeros(0, np.int64), np.zeros(0, bool))
    return BatchResult(*(np.concatenate(col) for col in zip(*parts, strict=True)))


def jacobian(theta: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gradient of each prediction (n, P), softmax share of each LSE term (n, K), the
    predictions (n,)) at one parameter vector ``theta`` (P,)."""
    pred, soft = _lse(np.asarray(theta, dtype=np.float64)[None], design)
    soft = soft[0]
    return np.einsum("nk,nkp->np", soft, design), soft, pred[0]

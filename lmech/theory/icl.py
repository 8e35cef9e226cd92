r"""In-context learning of linear regression by linear attention: exact and asymptotic errors.

The solvable model of Lu, Letey, Zavatone-Veth, Maiti & Pehlevan (2025). Tokens
:math:`x_i \sim N(0, I_d/d)`, labels :math:`y_i = w^\top x_i + \epsilon_i`,
:math:`\epsilon_i \sim N(0, \rho)`, context length :math:`\ell = \alpha d`, a pool of
:math:`k = \kappa d` pretraining tasks and :math:`n = \tau d^2` pretraining contexts. After
merging value and key-query matrices, one linear-attention layer predicts

.. math:: \hat y = x_{\ell+1}^\top \Gamma h,\qquad
          h = \Big[\tfrac{d}{\ell}\sum_{i\le\ell} y_i x_i;\ \tfrac1\ell\sum_{i\le\ell} y_i^2\Big],

with :math:`\Gamma \in \mathbb{R}^{d\times(d+1)}` fitted by ridge regression on the n
pretraining contexts (penalty :math:`(n/d)\lambda\|\Gamma\|_F^2`).

Contents:

* :func:`gamma_error`, :func:`gamma_error_gaussian`: the exact finite-d test error of any
  :math:`\Gamma` (tasks on the sphere :math:`|w|^2 = d`, or Gaussian tasks).
* :func:`mp_resolvent` (:math:`M_\kappa`), :func:`icl_error`, :func:`idg_error`,
  :func:`icl_curve`: the d -> infinity ICL and in-distribution errors ("Result 1"),
  ridgeless and with ridge (the ridge IDG error derived here), vectorized over grids.
* :func:`aligned_icl_error`, :func:`alignment_measure`: the error under a mismatch between
  pretraining and test task covariances (Letey et al. 2025), with bracketing solvers.
* :func:`deep_iso_error`, :func:`deep_iso_optimal`, :func:`bayes_iso_error`,
  :func:`rrs_error`, :func:`rrs_depth_exponent`: L-layer deep linear self-attention with
  :math:`\Gamma = \gamma I` (Bordelon, Letey & Pehlevan 2025), as far as derived here.
* :func:`fs_one_layer_error`, :func:`fs_gradient_flow_error`, :func:`fs_rank_optimum`,
  :func:`fs_time_exponent`, :func:`fs_width_exponent`: one layer with a full (or rank-N)
  Gamma and a fixed token covariance (the FS setting; ISO when it is I): the exact
  finite-D loss, its gradient-flow learning curve in training time, the best loss at
  key-query rank N, and their power laws for a power-law spectrum (derived here);
  :func:`deep_iso_gradient_flow`: the ISO L-layer model's loss against training time.

Warning:
    The paper's full text could not be read; the formulas follow the authors' released
    code and are checked here against finite-d simulation and independent limits
    (``tests/theory/test_icl.py``). The ridge branch is found by bisection on a function
    shown to be strictly decreasing (see :func:`icl_error`), not by "the smallest
    positive root" of a polynomial, which can land on a spurious root just above tau = 1.
    The IDG error with ridge is derived here (see :func:`idg_error`), not taken from
    the papers; it reproduces Result 1 as lambda -> 0 and matches simulations.

References:
    Lu, Letey, Zavatone-Veth, Maiti, Pehlevan, "Asymptotic theory of in-context learning
    by linear attention", PNAS 122(28) e2502599122 (2025), arXiv 2405.11751, Result 1
    (ridgeless errors), Sec. on ridge, Figs. 1-4.
    Letey, Zavatone-Veth, Lu, Pehlevan, "Pretrain-test task alignment governs
    generalization in in-context learning", arXiv 2509.26551 (2025).
    Bordelon, Letey, Pehlevan, "Theory of scaling laws for in-context regression: depth,
    width, context and time", arXiv 2510.01098 (2025), Sec. ISO / RRS.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmech._memory import check_allocation
from lmech.errors import InputError

__all__ = [
    "gamma_error",
    "gamma_error_gaussian",
    "optimal_gamma",
    "mp_resolvent",
    "mp_resolvent_derivative",
    "ridge_root",
    "icl_error",
    "idg_error",
    "icl_curve",
    "deterministic_zeta",
    "aligned_icl_error",
    "alignment_measure",
    "marchenko_pastur_quadrature",
    "deep_iso_error",
    "deep_iso_optimal",
    "deep_fs_error",
    "bayes_iso_error",
    "rrs_error",
    "rrs_depth_exponent",
    "fs_one_layer_error",
    "fs_gradient_flow_error",
    "fs_rank_optimum",
    "fs_time_exponent",
    "fs_width_exponent",
    "deep_iso_gradient_flow",
]


# --------------------------------------------------------------------------- validation


def _arr(x, name: str, *, positive: bool = False, nonneg: bool = False, allow_inf=False):
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a real number or array; got {x!r}") from None
    if np.isnan(a).any() or (not allow_inf and np.isinf(a).any()):
        raise InputError(
            f"{name} must be finite{' (or +inf)' if allow_inf else ''}; got {x!r}; "
            "pass finite values"
        )
    if allow_inf and np.isneginf(a).any():
        raise InputError(f"{name} must be > 0 (np.inf allowed); got {x!r}")
    if positive and (a <= 0).any():
        raise InputError(f"{name} must be > 0; got {x!r}; pass positive values")
    if nonneg and (a < 0).any():
        raise InputError(f"{name} must be >= 0; got {x!r}; pass non-negative values")
    return a


def _grid(alpha, kappa, tau, rho, ridge=0.0):
    a = _arr(alpha, "alpha (context length / d)", positive=True)
    k = _arr(kappa, "kappa (task-pool size / d)", positive=True, allow_inf=True)
    t = _arr(tau, "tau (pretraining contexts / d^2)", positive=True)
    r = _arr(rho, "rho (noise-to-signal ratio)", nonneg=True)
    lam = _arr(ridge, "ridge (lambda)", nonneg=True)
    return np.broadcast_arrays(a, k, t, r, lam)


def _covariance(c, name: str) -> np.ndarray:
    """A symmetric PSD matrix, or a 1-D array of eigenvalues (>= 0)."""
    a = _arr(c, name)
    if a.ndim == 1:
        if (a < -1e-12 * max(1.0, np.abs(a).max(initial=0))).any():
            raise InputError(
                f"{name} as a spectrum must be >= 0; got min {a.min():.3g}; "
                "a covariance is positive semi-definite"
            )
        return np.diag(np.clip(a, 0, None))
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise InputError(f"{name} must be a (d, d) matrix or a length-d spectrum; got {a.shape}")
    if not np.allclose(a, a.T, atol=1e-10 * max(1.0, np.abs(a).max())):
        raise InputError(f"{name} must be symmetric; got an asymmetric matrix")
    ev = np.linalg.eigvalsh(a)
    if ev[0] < -1e-10 * max(1.0, ev[-1]):
        raise InputError(
            f"{name} must be positive semi-definite; its smallest eigenvalue is "
            f"{ev[0]:.3g}; pass a covariance (e.g. A @ A.T)"
        )
    return 0.5 * (a + a.T)


# --------------------------------------------------------------------------- exact finite d


def _check_gamma(gamma, alpha, rho):
    g = _arr(gamma, "gamma")
    if g.ndim != 2 or g.shape[1] != g.shape[0] + 1:
        raise InputError(f"gamma must be a (d, d+1) matrix; got shape {g.shape}")
    d = g.shape[0]
    if d < 2:
        raise InputError(f"the token dimension d must be >= 2; got d = {d}")
    a = float(_arr(alpha, "alpha", positive=True))
    r = float(_arr(rho, "rho", nonneg=True))
    return g, d, a, r


def gamma_error(gamma, alpha, rho, *, task_mean=None, task_second_moment=None) -> float:
    r"""Exact test error of a reduced linear-attention matrix, tasks on the sphere |w|^2 = d.

    .. math::
        e(\Gamma) = (1+\rho) - \tfrac2d \operatorname{tr}(\Gamma A)
                    + \tfrac{1+\rho}{d}\operatorname{tr}(\Gamma^\top\Gamma B),\quad
        A = \begin{bmatrix} R \\ (1+\rho)\mu^\top\end{bmatrix},\quad
        B = \begin{bmatrix} I/\alpha + (1+1/\ell)R/(1+\rho) & (1+2/\ell)\mu \\
                            (1+2/\ell)\mu^\top & (1+\rho)(1+2/\ell)\end{bmatrix}

    with :math:`\mu = E[w]`, :math:`R = E[ww^\top]` of the test tasks (which must satisfy
    :math:`|w|^2 = d`, so tr R = d), :math:`\ell = \alpha d` and x ~ N(0, I/d). Defaults
    (mu = 0, R = I) give the ICL error; the pool's mean and second moment give the IDG
    error.

    Args:
        gamma: (d, d+1) matrix.
        alpha: context length / d (ell = alpha d).
        rho: label-noise variance.
        task_mean: (d,) E[w]; default 0.
        task_second_moment: (d, d) E[w w^T]; default I.

    Examples:
        >>> import numpy as np
        >>> d = 8; g = np.hstack([np.eye(d) / 1.5, np.zeros((d, 1))])
        >>> round(gamma_error(g, alpha=2.0, rho=0.0), 4)  # 1 - 2/1.5 + (1/2 + 17/16)/2.25
        0.3611

    References:
        Lu et al. (2025), the finite-d error of a given Gamma (authors' code
        ``gen_err_analytical_NEW``), re-derived for the sphere prior.
    """
    g, d, a, r = _check_gamma(gamma, alpha, rho)
    A, B = _sphere_matrices(d, a, r, task_mean, task_second_moment)
    return float((1 + r) - 2 / d * np.trace(g @ A) + (1 + r) / d * np.sum((g @ B) * g))


def _sphere_matrices(d, a, r, task_mean, task_second_moment):
    ell = a * d
    mu = np.zeros(d) if task_mean is None else _arr(task_mean, "task_mean").reshape(d)
    R = np.eye(d) if task_second_moment is None else _covariance(task_second_moment, "R")
    if R.shape != (d, d):
        raise InputError(f"task_second_moment must be ({d}, {d}); got {R.shape}")
    A = np.vstack([R, (1 + r) * mu[None, :]])  # (d+1, d)
    B = np.empty((d + 1, d + 1))
    B[:d, :d] = np.eye(d) / a + (1 + 1 / ell) * R / (1 + r)
    B[:d, d] = B[d, :d] = (1 + 2 / ell) * mu
    B[d, d] = (1 + r) * (1 + 2 / ell)
    return A, B


def optimal_gamma(d: int, alpha, rho, *, task_mean=None, task_second_moment=None) -> np.ndarray:
    r"""The Gamma minimizing :func:`gamma_error` for the given task moments (finite d).

    The error is quadratic in Gamma, :math:`e = (1+\rho) - \frac2d\operatorname{tr}(\Gamma A)
    + \frac{1+\rho}{d}\operatorname{tr}(\Gamma^\top\Gamma B)` with B positive definite, so
    :math:`\Gamma^* = A^\top B^{-1}/(1+\rho)`. With the pool's mean and second moment
    this is the reduced model pretrained on infinitely many contexts (tau -> infinity) at
    finite d and k: the optimum a trained attention layer is compared with.

    Examples:
        >>> import numpy as np
        >>> g = optimal_gamma(8, 2.0, 0.0)  # isotropic: c I with c = 1/(1 + 1/2 + 1/16)
        >>> round(float(g[0, 0]), 4), round(float(abs(g[:, 8]).max()), 4)
        (0.64, 0.0)
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise InputError(f"the token dimension d must be an integer >= 2; got {d!r}")
    a = float(_arr(alpha, "alpha", positive=True))
    r = float(_arr(rho, "rho", nonneg=True))
    A, B = _sphere_matrices(int(d), a, r, task_mean, task_second_moment)
    return np.linalg.solve(B, A).T / (1 + r)


def gamma_error_gaussian(gamma, alpha, rho, task_covariance) -> float:
    r"""Exact test error of Gamma for Gaussian tasks w ~ N(0, C) (no norm constraint).

    .. math::
        e(\Gamma) = s - \tfrac2d\operatorname{tr}(\Gamma_{:,1:d}C)
                    + \tfrac1d\operatorname{tr}(\Gamma^\top\Gamma B_G),\quad
        B_G = \operatorname{diag}\big((1+1/\ell)C + (s/\alpha)I,\
              (1+2/\ell)(s^2 + 2\operatorname{tr}(C^2)/d^2)\big),

    :math:`s = \operatorname{tr}C/d + \rho`. The cross terms vanish because odd moments
    of w are zero.

    Examples:
        >>> import numpy as np
        >>> d = 8; g = np.hstack([np.eye(d) / 1.5, np.zeros((d, 1))])
        >>> round(gamma_error_gaussian(g, 2.0, 0.0, np.eye(d)), 4)
        0.3611

    References:
        Letey et al. (2025), the trace formula for Gaussian tasks (their code drops the
        O(1/ell) terms kept here).
    """
    g, d, a, r = _check_gamma(gamma, alpha, rho)
    C = _covariance(task_covariance, "task_covariance")
    if C.shape != (d, d):
        raise InputError(f"task_covariance must be ({d}, {d}) for this gamma; got {C.shape}")
    ell = a * d
    s = np.trace(C) / d + r
    Bg = (1 + 1 / ell) * C + (s / a) * np.eye(d)
    b_last = (1 + 2 / ell) * (s**2 + 2 * np.sum(C * C) / d**2)
    quad = np.sum((g[:, :d] @ Bg) * g[:, :d]) + b_last * np.sum(g[:, d] ** 2)
    return float(s - 2 / d * np.sum(g[:, :d] * C) + quad / d)


# --------------------------------------------------------------------------- asymptotics


def mp_resolvent(x, kappa):
    r"""M_kappa(x) = lim (1/d) tr (S + x)^{-1}, S the second-moment matrix of kappa d tasks.

    .. math:: M_\kappa(x) = \frac{2}{(x + 1 - 1/\kappa) + \sqrt{(x+1-1/\kappa)^2 + 4x/\kappa}}

    (Marchenko-Pastur Stieltjes transform at -x, ratio 1/kappa; kappa = inf gives
    1/(1+x)). Vectorized; x > 0.

    Examples:
        >>> round(float(mp_resolvent(1.0, float("inf"))), 6)
        0.5
    """
    x = np.asarray(x, dtype=np.float64)
    ik = 1.0 / np.asarray(kappa, dtype=np.float64)
    b = x + 1 - ik
    return 2.0 / (b + np.sqrt(b * b + 4 * x * ik))


def mp_resolvent_derivative(x, kappa):
    r"""dM_kappa/dx = -M^2/2 [1 + (x + 1 + 1/kappa) / sqrt((x+1-1/kappa)^2 + 4x/kappa)]."""
    x = np.asarray(x, dtype=np.float64)
    ik = 1.0 / np.asarray(kappa, dtype=np.float64)
    b = x + 1 - ik
    m = mp_resolvent(x, kappa)
    return -0.5 * m * m * (1 + (x + 1 + ik) / np.sqrt(b * b + 4 * x * ik))


def _bisect_log(f, lo, hi, shape, iters: int = 200):
    """Vectorized bisection of a decreasing f on [lo, hi] in log space (f(lo)>0>f(hi))."""
    lo = np.broadcast_to(np.log(lo), shape).astype(float).copy()
    hi = np.broadcast_to(np.log(hi), shape).astype(float).copy()
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        pos = f(np.exp(mid)) > 0
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
        if np.all(hi - lo < 1e-13):
            break
    return np.exp(0.5 * (lo + hi))


def ridge_root(alpha, kappa, tau, rho, ridge):
    r"""The effective ridge epsilon > 0 of the ridge-pretrained model.

    Solves :math:`f(\epsilon) = 1 - \tau + \tau\lambda/\epsilon - \epsilon M_\kappa(\epsilon
    + x^*) = 0`, :math:`x^* = (1+\rho)/\alpha`. :math:`\epsilon M_\kappa(\epsilon + x^*)`
    is the product of :math:`\epsilon/(\epsilon + x^*)` and :math:`\nu M_\kappa(\nu)`, both
    positive and increasing, so f is strictly decreasing from +inf (lambda > 0) to -tau:
    the root is unique and bisection brackets it. For lambda = 0 and tau > 1 it is 0.
    """
    a, k, t, r, lam = _grid(alpha, kappa, tau, rho, ridge)
    x = (1 + r) / a
    shape = a.shape

    def f(eps):
        return 1 - t + t * lam / eps - eps * mp_resolvent(eps + x, k)

    # f(hi) < 0 needs eps M(eps + x) > 1 - tau + tau lambda / eps; eps M -> 1 from below
    hi = np.maximum(1e6, 10 * (t * lam + 1) / np.maximum(t, 1e-12))
    lo = np.full(shape, 1e-300)
    eps = _bisect_log(f, lo, hi, shape, iters=400)
    return np.where((lam == 0) & (t > 1), 0.0, eps)


def icl_error(alpha, kappa, tau, rho, ridge=0.0):
    r"""Asymptotic ICL error (fresh test task) of the ridge-pretrained linear attention.

    Ridgeless (lambda -> 0+), with :math:`x^* = (1+\rho)/\alpha`, :math:`m^* =
    M_\kappa(x^*)`, :math:`\mu^* = x^* M_{\kappa/\tau}(x^*)`:

    .. math::
        \tau<1:\ e = \tfrac{\tau(1+x^*)}{1-\tau}\big[1 - \tau(1-\mu^*)^2
            - \tfrac{x^*-\rho}{x^*}\mu^*\big] - 2\tau(1-\mu^*) + 1 + \rho

        \tau>1:\ k^* = [1 - \kappa(m^*/(\kappa+m^*))^2]^{-1},\
        e = (k^* - \tfrac1{\tau-1})(1+x^*)(x^*m^*)^2 + \tfrac{3-2\tau}{\tau-1}m^*x^{*2}
            + (\tfrac{(1+\rho)m^*}{\tau-1} + 1)x^* + \tfrac{\rho m^*}{\tau-1} + \rho

    (infinite at tau = 1: the interpolation peak). With ridge lambda > 0: epsilon from
    :func:`ridge_root`, :math:`\nu = x^*+\epsilon`, :math:`M = M_\kappa(\nu)`,
    :math:`M' = M_\kappa'(\nu)`,

    .. math::
        c_e = \frac{\rho + \nu - \nu^2M - \epsilon(1 - 2\nu M - \nu^2M')}
                   {1 - 2\epsilon M - \epsilon^2M' - \tau},\quad
        e = (1+x^*)[1 - 2\nu M - \nu^2M' - c_e(M + \epsilon M')] - 2(1-\nu M) + 1 + \rho.

    All arguments broadcast; kappa may be ``np.inf`` (a fresh task per context).

    Examples:
        >>> round(float(icl_error(1e4, 2.0, 1e4, 0.01)), 4)   # -> 1 - min(kappa,1) + rho
        0.0101

    References:
        Lu et al. (2025), Result 1 and the ridge result (authors' code ``ridgeless_icl``,
        ``ridge_icl``).
    """
    a, k, t, r, lam = _grid(alpha, kappa, tau, rho, ridge)
    x = (1 + r) / a
    ridgeless = lam == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        # tau < 1
        mu = x * mp_resolvent(x, k / t)
        small = t / (1 - t) * (1 + x) * (1 - t * (1 - mu) ** 2 - (x - r) / x * mu)
        small = small - 2 * t * (1 - mu) + 1 + r
        # tau > 1
        m = mp_resolvent(x, k)
        ik = 1 / k
        kstar = 1 / (1 - m * m * ik / (1 + m * ik) ** 2)
        big = (kstar - 1 / (t - 1)) * (1 + x) * (x * m) ** 2 + (3 - 2 * t) / (t - 1) * m * x * x
        big = big + ((1 + r) * m / (t - 1) + 1) * x + r * m / (t - 1) + r
    out = np.where(t < 1, small, big)
    out = np.where(ridgeless & (t == 1), np.inf, out)
    if (~ridgeless).any():
        eps = ridge_root(a, k, t, r, lam)
        nu = x + eps
        M = mp_resolvent(nu, k)
        Mp = mp_resolvent_derivative(nu, k)
        ce = (r + nu - nu * nu * M - eps * (1 - 2 * nu * M - nu * nu * Mp)) / (
            1 - 2 * eps * M - eps * eps * Mp - t
        )
        er = (1 + x) * (1 - 2 * nu * M - nu * nu * Mp - ce * (M + eps * Mp)) - 2 * (1 - nu * M)
        er = er + 1 + r
        out = np.where(ridgeless, out, er)
    return out if out.ndim else float(out)


def idg_error(alpha, kappa, tau, rho, ridge=0.0):
    r"""Asymptotic IDG error (test task drawn from the pretraining pool), ridgeless or ridge.

    Ridgeless (lambda -> 0+), Result 1:

    .. math::
        \tau<1:\ \varepsilon = \frac{(1-\tau)x^*}{\tau\mu^*},\
        c = \Big[1 - \frac{\kappa}{(1+\kappa\varepsilon/(1-\tau))^2}\Big]^{-1},\
        e = \tau\Big[\frac{(x^*+\varepsilon)^2}{\varepsilon}
            + \frac{\rho + x^* - 2x^*(1-\tau)(x^*/\varepsilon+1)}{1-\tau-c(1-\tau)^2}\Big]

        \tau>1:\ e = \tau(\rho + x^*(1 - x^*m^*))/(\tau-1)

    (symbols as in :func:`icl_error`; infinite at tau = 1). With ridge lambda > 0
    [derived here]: epsilon from :func:`ridge_root`, :math:`\nu = x^* + \epsilon`,
    :math:`M = M_\kappa(\nu)`, :math:`M' = M_\kappa'(\nu)`, :math:`q = -c_e` of
    :func:`icl_error`,

    .. math::
        e_{IDG} = \rho + x^*[1 + (q - 2\nu)M + (\epsilon q - \nu^2)M']
                  + q(1 - \nu M) - (q\epsilon - \nu^2)(M + \nu M').

    Derivation: the ridge ICL error equals the pretrain-test alignment error of
    :func:`aligned_icl_error` at C = I with its xi replaced by epsilon (an algebraic
    identity), whose test covariance enters only through
    :math:`\frac1d\operatorname{tr}C_{te}(\hat C + \nu)^{-1}` and
    :math:`\frac1d\operatorname{tr}C_{te}(\hat C + \nu)^{-2}` (the deterministic
    equivalents F_R, F_R2). A task drawn from the pool has second moment
    :math:`C_{te} = \hat C`, the pool's own, which turns these traces into
    :math:`1 - \nu M` and :math:`M + \nu M'`. Checks (``tests/theory/test_icl.py``): at
    lambda -> 0 this reproduces the Result 1 IDG error to 1e-8 on both sides of tau = 1,
    and it matches 1/d-extrapolated ridge simulations (d = 16-40, 40/20/10/5 draws):
    at (alpha, kappa, tau, rho) = (2, 2, 2, 0.1) 0.608 +- 0.005 against 0.606
    (lambda = 0.3) and 0.604 +- 0.005 against 0.607 (lambda = 1); at (2, 2, 0.5, 0.1)
    0.951 +- 0.010 against 0.933 and 0.861 +- 0.008 against 0.853, as close as the ridge
    ICL formula at the same points (0.3%, 0.05%, 1.4%, 0.7%).

    Examples:
        >>> round(float(idg_error(1e4, 2.0, 1e4, 0.01)), 4)
        0.0101
        >>> round(float(idg_error(2.0, 2.0, 2.0, 0.1, ridge=1.0)), 4)
        0.6067

    References:
        Lu et al. (2025), Result 1 (authors' code ``ridgeless_idg``); the ridge case is
        derived here from the alignment error of Letey et al. (2025).
    """
    a, k, t, r, lam = _grid(alpha, kappa, tau, rho, ridge)
    x = (1 + r) / a
    ik = 1 / k
    ridgeless = lam == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = x * mp_resolvent(x, k / t)
        eps = (1 - t) * x / (t * mu)
        c = 1 / (1 - ik / (ik + eps / (1 - t)) ** 2)
        small = t * (
            (x + eps) ** 2 / eps
            + (r + x - 2 * x * (1 - t) * (x / eps + 1)) / (1 - t - c * (1 - t) ** 2)
        )
        m = mp_resolvent(x, k)
        big = t * (r + x * (1 - x * m)) / (t - 1)
    out = np.where(t < 1, small, big)
    out = np.where(ridgeless & (t == 1), np.inf, out)
    if (~ridgeless).any():
        e = ridge_root(a, k, t, r, lam)
        nu = x + e
        M = mp_resolvent(nu, k)
        Mp = mp_resolvent_derivative(nu, k)
        q = (r + nu - nu * nu * M - e * (1 - 2 * nu * M - nu * nu * Mp)) / (
            t - (1 - 2 * e * M - e * e * Mp)
        )
        er = r + x * (1 + (q - 2 * nu) * M + (e * q - nu * nu) * Mp)
        er = er + q * (1 - nu * M) - (q * e - nu * nu) * (M + nu * Mp)
        out = np.where(ridgeless, out, er)
    return out if out.ndim else float(out)


def icl_curve(alpha, kappa, tau, rho, ridge=0.0) -> pd.DataFrame:
    """The predicted curve in one call: a tidy table over the broadcast grid of arguments.

    Columns ``alpha, kappa, tau, rho, ridge, icl_error, idg_error`` and ``task_gap``
    (= icl - idg, the "g_task" of Lu et al. Fig. 4); the IDG error with ridge > 0 is the
    formula derived in :func:`idg_error`.

    Examples:
        >>> t = icl_curve(alpha=10, kappa=float("inf"), tau=[0.5, 2.0], rho=0.01)
        >>> [round(v, 3) for v in t["icl_error"]]
        [0.658, 0.203]
    """
    a, k, t, r, lam = (np.ravel(v) for v in _grid(alpha, kappa, tau, rho, ridge))
    df = pd.DataFrame({"alpha": a, "kappa": k, "tau": t, "rho": r, "ridge": lam})
    df["icl_error"] = np.atleast_1d(icl_error(a, k, t, r, lam))
    df["idg_error"] = np.atleast_1d(idg_error(a, k, t, r, lam))
    df["task_gap"] = df["icl_error"] - df["idg_error"]
    return df


# --------------------------------------------------------------------------- alignment


def deterministic_zeta(eigenvalues, kappa, nu):
    r"""zeta in (0, 1] with (C_hat + nu)^{-1} ~ (zeta C + nu)^{-1}, C_hat from kappa d tasks.

    .. math:: \zeta = 1 - \frac1\kappa\frac1d\sum_i\frac{\zeta\lambda_i}{\zeta\lambda_i+\nu}

    The map :math:`\zeta \mapsto \zeta - 1 + \frac1{\kappa d}\sum_i
    \zeta\lambda_i/(\zeta\lambda_i+\nu)` is strictly increasing, negative at 0 and >= 0
    at 1, so the root is unique; it is found by bisection on (0, 1] (a damped fixed
    point silently fails at kappa below about 0.25). Vectorized over ``nu`` (any shape).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    nu = np.asarray(nu, dtype=np.float64)
    ik = 1.0 / np.asarray(kappa, dtype=np.float64)
    shape = np.broadcast_shapes(nu.shape, np.shape(ik))
    nu_b = np.broadcast_to(nu, shape)[..., None]
    ik_b = np.broadcast_to(ik, shape)[..., None]
    lo = np.zeros(shape)
    hi = np.ones(shape)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        z = mid[..., None]
        g = mid - 1 + ik_b[..., 0] * np.mean(z * lam / (z * lam + nu_b), axis=-1)
        neg = g < 0
        lo = np.where(neg, mid, lo)
        hi = np.where(neg, hi, mid)
    return 0.5 * (lo + hi)


def _resolvent_terms(lam, kappa, nu):
    """(zeta, M, M', zeta') at nu for spectrum lam (deterministic equivalent)."""
    zeta = deterministic_zeta(lam, kappa, nu)
    z = zeta[..., None]
    n = np.asarray(nu)[..., None]
    den = z * lam + n
    M = np.mean(1 / den, axis=-1)
    ik = 1.0 / kappa
    g_z = 1 + ik * np.mean(lam * n / den**2, axis=-1)
    g_n = -ik * np.mean(z * lam / den**2, axis=-1)
    dz = -g_n / g_z
    Mp = -np.mean((dz[..., None] * lam + 1) / den**2, axis=-1)
    return zeta, M, Mp, dz


def alignment_measure(train_covariance, test_covariance, alpha, kappa, tau, rho) -> float:
    r"""A(C_train, C_test) = (1/d) tr[C_test (zeta C_train + nu)^{-1}].

    With :math:`\nu = \rho_{tr}/\alpha + \xi` as in :func:`aligned_icl_error`. Large when
    the test power sits in low-variance pretraining directions (misalignment); the
    misalignment part of the error is linear in it at fixed trace of C_test.

    Warning:
        That this resolvent trace is the paper's "alignment measure" is taken from the
        authors' code (``resolvent_alignment``); the paper text was not read.
    """
    return _aligned(train_covariance, test_covariance, alpha, kappa, tau, rho, None)["alignment"]


def aligned_icl_error(
    train_covariance, test_covariance, alpha, kappa, tau, rho, *, test_alpha=None, parts=False
):
    r"""Asymptotic ICL error of the ridgeless pretrained model under a task-covariance shift.

    Pretraining tasks :math:`w_j \sim N(0, C_{tr})`, test tasks :math:`w \sim N(0,
    C_{te})`, test context :math:`\alpha_{te} d`. With :math:`\rho_{tr} = \operatorname{tr}
    C_{tr}/d + \rho`, :math:`\rho_{te} = \operatorname{tr} C_{te}/d + \rho`,
    :math:`\xi = 0` (tau > 1) or :math:`\xi M(\xi + \rho_{tr}/\alpha) = 1 - \tau` (tau < 1),
    :math:`\nu = \rho_{tr}/\alpha + \xi`, :math:`M(\nu) = \frac1d\operatorname{tr}(\zeta
    C_{tr} + \nu)^{-1}` (:func:`deterministic_zeta`), :math:`F_R = (\zeta C_{tr} +
    \nu)^{-1}`, :math:`F_{R2} = F_R(\zeta' C_{tr} + I)F_R`:

    .. math::
        q = \frac{\rho + \nu - \nu^2M - \xi(1 - 2\nu M - \nu^2M')}{\tau - (1 - 2\xi M
            - \xi^2M')},\quad
        e_{pre} = \rho + \tfrac{\rho_{te}}{\alpha_{te}}[1 + (q - 2\nu)M + (\xi q - \nu^2)M'],

        e_{inter} = q\,\tfrac1d\operatorname{tr}(C_{te}F_R)
                    - (q\xi - \nu^2)\tfrac1d\operatorname{tr}(C_{te}F_{R2}),\quad
        e_{ICL} = e_{pre} + e_{inter}.

    For C_tr = C_te = I it equals :func:`icl_error` (tested). Scalars only for the
    covariances; alpha, kappa, tau, rho scalars.

    Args:
        train_covariance, test_covariance: (d, d) PSD matrices or length-d spectra in a
            common basis (a spectrum means a diagonal matrix).
        parts: also return the pieces (``dict`` with e_icl, e_pretrain, e_interaction,
            alignment, nu, xi).

    References:
        Letey et al. (2025), the ICL error under pretrain-test mismatch (authors' code
        ``ICL_error``), with the Marchenko-Pastur deterministic equivalent in place of an
        empirical average over pools.
    """
    out = _aligned(train_covariance, test_covariance, alpha, kappa, tau, rho, test_alpha)
    return out if parts else out["e_icl"]


def _aligned(train_covariance, test_covariance, alpha, kappa, tau, rho, test_alpha):
    a, k, t, r, _ = (float(v) for v in _grid(alpha, kappa, tau, rho))
    ate = a if test_alpha is None else float(_arr(test_alpha, "test_alpha", positive=True))
    Ct = _covariance(train_covariance, "train_covariance")
    Ce = _covariance(test_covariance, "test_covariance")
    d = Ct.shape[0]
    if d < 2:
        raise InputError(f"the dimension d must be >= 2; got d = {d}")
    if Ce.shape != Ct.shape:
        raise InputError(
            f"train and test covariances must have the same shape; got {Ct.shape} and {Ce.shape}"
        )
    if t == 1:
        raise InputError("tau = 1 is the interpolation threshold (error infinite); use tau != 1")
    check_allocation(8 * d * d * 6, f"the ({d}, {d}) alignment resolvents")
    lam, U = np.linalg.eigh(Ct)
    lam = np.clip(lam, 0, None)
    rho_tr = np.trace(Ct) / d + r
    rho_te = np.trace(Ce) / d + r
    base = rho_tr / a
    if t > 1:
        xi = 0.0
    else:

        def f(x):  # decreasing in xi
            return (1 - t) - x * _resolvent_terms(lam, k, x + base)[1]

        xi = float(_bisect_log(f, np.array(1e-14), np.array(1e8), (), iters=200))
    nu = base + xi
    zeta, M, Mp, dz = (float(v) for v in _resolvent_terms(lam, k, np.array(nu)))
    Ce_rot = U.T @ Ce @ U  # test covariance in the eigenbasis of C_train
    diag_te = np.diag(Ce_rot)
    fr = 1 / (zeta * lam + nu)
    tr_f = np.mean(diag_te * fr)
    tr_f2 = np.mean(diag_te * fr * (dz * lam + 1) * fr)
    q = (r + nu - nu * nu * M - xi * (1 - 2 * nu * M - nu * nu * Mp)) / (
        t - (1 - 2 * xi * M - xi * xi * Mp)
    )
    e_pre = r + rho_te / ate * (1 + (q - 2 * nu) * M + (xi * q - nu * nu) * Mp)
    e_inter = q * tr_f - (q * xi - nu * nu) * tr_f2
    return {
        "e_icl": float(e_pre + e_inter),
        "e_pretrain": float(e_pre),
        "e_interaction": float(e_inter),
        "alignment": float(tr_f),
        "nu": float(nu),
        "xi": float(xi),
    }


# --------------------------------------------------------------------------- deep linear attention


def marchenko_pastur_quadrature(alpha, nodes: int = 4000):
    r"""Nodes and weights of the Marchenko-Pastur law of X^T X / P, X (P, D), D/P = 1/alpha.

    Density :math:`\sqrt{(b-\lambda)(\lambda-a)}/(2\pi c\lambda)` on
    :math:`[(1-\sqrt c)^2, (1+\sqrt c)^2]`, c = 1/alpha, plus an atom of mass 1 - alpha at
    0 when alpha < 1. Midpoint rule in the angle of :math:`\lambda = 1 + c + 2\sqrt c
    \cos\theta` (spectrally accurate for smooth integrands). Returns (lam, w) with
    ``sum(w) = 1``; the atom, if any, is the last node.
    """
    a = float(_arr(alpha, "alpha", positive=True))
    c = 1 / a
    th = (np.arange(nodes) + 0.5) * np.pi / nodes
    lam = 1 + c + 2 * np.sqrt(c) * np.cos(th)
    w = (4 * c * np.sin(th) ** 2) / (2 * np.pi * c * lam) * (np.pi / nodes)
    if a < 1:
        lam = np.append(lam, 0.0)
        w = np.append(w, 1 - a)
    return lam, w


def _poly_terms(gamma, depth, lam):
    """(1 - gamma lam / L)^L and [1 - (1 - gamma lam/L)^L]^2 / lam (0 at lam = 0)."""
    p = (1 - gamma * lam / depth) ** depth
    with np.errstate(divide="ignore", invalid="ignore"):
        noise = np.where(lam > 0, (1 - p) ** 2 / np.where(lam > 0, lam, 1), 0.0)
    return p, noise


def deep_iso_error(gamma, depth, alpha, noise, nodes: int = 4000):
    r"""Test error of L-layer deep linear attention with Gamma = gamma I, ISO data.

    The predictor :math:`f(x) = \frac{1}{LP}x^\top\Gamma\sum_{l<L}(I - \hat\Sigma\Gamma/L)^l
    X^\top y` is L steps of preconditioned GD on :math:`\|y - Xw\|^2/2P`; with x ~ N(0, I_D),
    task :math:`w = \beta/\sqrt D`, :math:`\beta \sim N(0, I)`, noise variance
    :math:`\sigma^2`, P = alpha D, as D -> infinity

    .. math:: E = \sigma^2 + \int (1-\gamma\lambda/L)^{2L}d\mu_\alpha
              + \frac{\sigma^2}{\alpha}\int\frac{[1-(1-\gamma\lambda/L)^L]^2}{\lambda}d\mu_\alpha

    (test noise, bias, in-context noise; :math:`\mu_\alpha` from
    :func:`marchenko_pastur_quadrature`). ``gamma`` broadcasts.

    References:
        Bordelon, Letey, Pehlevan (2025), ISO setting, reduced predictor (their Eq. 4 as
        quoted by a third party; the integral is derived here and checked by Monte Carlo).
    """
    L = int(depth)
    if L < 1:
        raise InputError(f"depth must be an integer >= 1; got {depth!r}")
    s2 = float(_arr(noise, "noise", nonneg=True))
    lam, w = marchenko_pastur_quadrature(alpha, nodes)
    g = np.asarray(gamma, dtype=np.float64)[..., None]
    p, nz = _poly_terms(g, L, lam)
    a = float(alpha)
    return s2 + np.sum(w * p * p, axis=-1) + s2 / a * np.sum(w * nz, axis=-1)


def deep_fs_error(gamma, depth, alpha, noise, spectrum, nodes: int = 4000):
    r"""FS setting (one fixed token covariance Sigma) with the whitening preconditioner.

    With :math:`\Gamma = \gamma\Sigma^{-1}` the L-layer predictor is L steps of GD on
    the whitened tokens :math:`g = \Sigma^{-1/2}x` (isotropic) for the whitened task
    :math:`u = \Sigma^{1/2}w`, and the test loss :math:`(w - \hat w)^\top\Sigma(w - \hat
    w) + \sigma^2 = |u - \hat u|^2 + \sigma^2` [derived]. The whitened sample covariance
    is rotation invariant and independent of u, whose covariance is :math:`\Sigma/D`, so

    .. math:: E_{FS} = \sigma^2 + \frac{\operatorname{tr}\Sigma}{D}\int(1-\gamma\lambda/L)^{2L}
              d\mu_\alpha + \frac{\sigma^2}{\alpha}\int\frac{[1-(1-\gamma\lambda/L)^L]^2}
              {\lambda}d\mu_\alpha :

    the ISO error (:func:`deep_iso_error`) with the signal power tr Sigma / D; at
    infinite context one layer with gamma = 1 is exact, so depth helps FS only at
    limited context, as in ISO. Whether the whitening preconditioner is the optimal Gamma
    at finite alpha is not derived here (it is at alpha -> infinity).

    References:
        Bordelon, Letey, Pehlevan (2025), the FS setting; the reduction is derived here
        and checked by Monte Carlo (``tests/theory/test_icl.py``).
    """
    lam = _arr(spectrum, "spectrum", positive=True)
    s2 = float(_arr(noise, "noise", nonneg=True))
    power = float(lam.mean())
    iso_signal = deep_iso_error(gamma, depth, alpha, 0.0, nodes)  # the bias integral
    noise_part = deep_iso_error(gamma, depth, alpha, s2, nodes) - s2 - iso_signal
    return s2 + power * iso_signal + noise_part


def deep_iso_optimal(depth, alpha, noise, nodes: int = 2000):
    """(gamma*, E*) minimizing :func:`deep_iso_error` over gamma > 0 (golden section)."""
    L = int(depth)
    # the GD iteration stays stable for gamma lam_max / L < 2
    lam_max = (1 + 1 / np.sqrt(float(alpha))) ** 2
    lo, hi = 1e-6, 2 * L / lam_max
    phi = (np.sqrt(5) - 1) / 2
    for _ in range(80):
        m1, m2 = hi - phi * (hi - lo), lo + phi * (hi - lo)
        e1, e2 = deep_iso_error(np.array([m1, m2]), L, alpha, noise, nodes)
        if e1 < e2:
            hi = m2
        else:
            lo = m1
    g = 0.5 * (lo + hi)
    return float(g), float(deep_iso_error(g, L, alpha, noise, nodes))


def bayes_iso_error(alpha, noise, nodes: int = 4000) -> float:
    r"""Bayes (posterior-mean) error for ISO data: :math:`\sigma^2 + \int d\mu_\alpha/(1 +
    \alpha\lambda/\sigma^2)` (noise > 0), a lower bound for every depth."""
    s2 = float(_arr(noise, "noise", positive=True))
    lam, w = marchenko_pastur_quadrature(alpha, nodes)
    return float(s2 + np.sum(w / (1 + float(alpha) * lam / s2)))


def rrs_error(depth, spectrum):
    r"""Excess error at infinite context with randomly rotated covariance, Gamma = gamma I.

    .. math:: E_{RRS}(L) = \min_\gamma \frac{\sum_k\lambda_k(1-\gamma\lambda_k/L)^{2L}}
              {\sum_k\lambda_k}

    A fixed preconditioner cannot invert a covariance that is rotated afresh in every
    context, so L layers act as a degree-L polynomial of :math:`\Sigma_c`: depth helps
    even at infinite context (derived under the stated symmetry; see
    :func:`rrs_depth_exponent`).
    """
    L = int(depth)
    if L < 1:
        raise InputError(f"depth must be an integer >= 1; got {depth!r}")
    lam = _arr(spectrum, "spectrum", positive=True)
    lo, hi = 1e-9, 2 * L / lam.max()
    phi = (np.sqrt(5) - 1) / 2

    def e(g):
        return np.sum(lam * (1 - g * lam / L) ** (2 * L)) / lam.sum()

    for _ in range(100):
        m1, m2 = hi - phi * (hi - lo), lo + phi * (hi - lo)
        if e(m1) < e(m2):
            hi = m2
        else:
            lo = m1
    return float(e(0.5 * (lo + hi)))


def rrs_depth_exponent(capacity):
    r"""Exponent of :math:`E_{RRS}(L) \propto L^{-(1 - 1/\nu)}` for :math:`\lambda_k \propto k^{-\nu}`.

    Derivation: :math:`(1-\gamma\lambda/L)^{2L} \approx e^{-2\gamma\lambda}` kills modes
    with :math:`\lambda > 1/\gamma`, leaving :math:`\sum_{k > \gamma^{1/\nu}} k^{-\nu}
    \sim \gamma^{-(\nu-1)/\nu}`, and stability caps :math:`\gamma \le 2L/\lambda_{max}`,
    so :math:`\gamma \propto L`. Valid for nu > 1 and a spectrum much longer than L^{1/nu}.
    """
    nu = float(_arr(capacity, "capacity", positive=True))
    if nu <= 1:
        raise InputError(f"the capacity exponent must be > 1 (summable spectrum); got {nu}")
    return 1 - 1 / nu


# --------------------------------------------------------------------------- one layer: time, width


def _fs_setup(spectrum, alpha, noise):
    lam = _arr(spectrum, "spectrum (token-covariance eigenvalues)", positive=True)
    if lam.ndim != 1 or lam.size < 2:
        raise InputError(
            f"spectrum must be a 1-D array of D >= 2 eigenvalues; got shape {lam.shape}"
        )
    a = float(_arr(alpha, "alpha (context length / D)", positive=True))
    s2 = float(_arr(noise, "noise (label-noise variance)", nonneg=True))
    D = lam.size
    P = max(1, round(a * D))
    m = (1 + 1 / P) * lam**2 + (lam.sum() + s2 * D) * lam / P
    return lam, D, P, s2, m


def fs_one_layer_error(gamma, spectrum, alpha, noise) -> float:
    r"""Exact finite-D test loss of one linear-attention layer with any Gamma, FS setting.

    Tokens :math:`x \sim N(0, \Sigma)` with :math:`\Sigma = \operatorname{diag}(\lambda)`
    (a covariance in its eigenbasis; ``spectrum`` = I is the ISO setting), P = round(alpha D)
    context pairs, task :math:`w \sim N(0, I/D)`, labels :math:`y = w^\top x + \sigma\epsilon`.
    The layer predicts :math:`\hat y = x_*^\top\Gamma X^\top y/P` (the reduced predictor at
    depth L = 1), and [derived: :math:`E[\hat\Sigma^2] = (1+1/P)\Sigma^2 +
    \operatorname{tr}\Sigma\,\Sigma/P` for the Wishart sample covariance]

    .. math:: E(\Gamma) = \sigma^2 + \frac1D\Big[\operatorname{tr}\Sigma
              - 2\operatorname{tr}(\Sigma\Gamma\Sigma) + \operatorname{tr}(\Gamma^\top
              \Sigma\Gamma M)\Big],\quad M = (1+\tfrac1P)\Sigma^2
              + \frac{\operatorname{tr}\Sigma + \sigma^2D}{P}\Sigma.

    Exact at every finite D and P (checked against Monte Carlo over contexts).

    Args:
        gamma: (D, D) matrix.
        spectrum: (D,) eigenvalues of Sigma (> 0).
        alpha: context length / D.
        noise: sigma^2 >= 0.

    Examples:
        >>> import numpy as np
        >>> round(fs_one_layer_error(np.zeros((4, 4)), np.ones(4), 2.0, 0.1), 4)  # no learning
        1.1
    """
    lam, D, P, s2, m = _fs_setup(spectrum, alpha, noise)
    g = _arr(gamma, "gamma")
    if g.shape != (D, D):
        raise InputError(f"gamma must be ({D}, {D}) for a spectrum of length {D}; got {g.shape}")
    quad = np.sum(g * g * lam[:, None] * m[None, :])
    return float(s2 + (lam.sum() - 2 * np.sum(np.diag(g) * lam**2) + quad) / D)


def fs_gradient_flow_error(time, spectrum, alpha, noise):
    r"""Loss of one layer trained by gradient flow from Gamma = 0, against training time.

    With :math:`d\Gamma/dT = -D\,\nabla_\Gamma E` on the exact loss of
    :func:`fs_one_layer_error` (T = learning rate x steps / D for SGD on the per-context
    loss; the factor D makes T of order 1 at any D), Gamma stays diagonal in the eigenbasis
    of Sigma and each mode relaxes on its own [derived]:

    .. math:: E(T) = \sigma^2 + \frac1D\sum_k\Big[\lambda_k - \frac{\lambda_k^3}{m_k}
              \big(1 - e^{-4\lambda_k m_k T}\big)\Big],\quad
              m_k = (1+\tfrac1P)\lambda_k^2 + \frac{\sum_j\lambda_j + \sigma^2D}{P}\lambda_k.

    ISO (Sigma = I): one rate, an exponential approach. A power-law spectrum gives a
    power law in T over the modes that are neither learned nor frozen
    (:func:`fs_time_exponent`). ``time`` broadcasts.

    Examples:
        >>> round(float(fs_gradient_flow_error(0.0, [1.0, 1.0], 4.0, 0.1)), 4)
        1.1
    """
    lam, D, P, s2, m = _fs_setup(spectrum, alpha, noise)
    t = _arr(time, "time", nonneg=True)
    decay = np.exp(-4 * lam * m * t[..., None])
    out = s2 + np.sum(lam - lam**3 / m * (1 - decay), axis=-1) / D
    return out if out.ndim else float(out)


def fs_rank_optimum(rank, spectrum, alpha, noise) -> float:
    r"""Best loss of one layer whose Gamma has rank <= N (key/query width N), FS setting.

    Writing :math:`\Gamma' = \Sigma^{1/2}\Gamma M^{1/2}` the loss of
    :func:`fs_one_layer_error` is :math:`\|\Gamma'\|_F^2 - 2\langle\Gamma', K\rangle` + const
    with :math:`K = \Sigma^{3/2}M^{-1/2}` diagonal, so by Eckart-Young the best rank-N
    Gamma keeps the N largest :math:`s_k = \lambda_k^3/m_k` [derived]:

    .. math:: E_N = \sigma^2 + \frac1D\Big[\sum_k\lambda_k - \sum_{k \le N}s_{(k)}\Big].

    s_k increases with lambda_k, so these are the top-N directions of Sigma (in-context
    principal-component regression). ISO: :math:`E_N = \sigma^2 + 1 - (N/D)/m`, linear in
    N; a power-law spectrum gives :math:`E_N - E_D \propto N^{-(\nu-1)}` at long context
    (:func:`fs_width_exponent`). Rank >= D gives the unconstrained optimum.

    Examples:
        >>> round(fs_rank_optimum(1, [1.0, 1.0], 1e9, 0.0), 4)  # keeps one of two modes
        0.5
    """
    lam, D, P, s2, m = _fs_setup(spectrum, alpha, noise)
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
        raise InputError(f"rank must be an integer >= 1; got {rank!r}")
    s = np.sort(lam**3 / m)[::-1]
    return float(s2 + (lam.sum() - s[: int(rank)].sum()) / D)


def _capacity(nu):
    nu = float(_arr(nu, "capacity", positive=True))
    if nu <= 1:
        raise InputError(f"the capacity exponent must be > 1 (summable spectrum); got {nu}")
    return nu


def fs_time_exponent(capacity) -> float:
    r"""b in :math:`E(T) - E_\infty \propto T^{-b}`, b = (nu - 1)/(3 nu), for lambda_k ~ k^-nu.

    Derivation (long context, m_k -> lambda_k^2): mode k is learned once
    :math:`4\lambda_k^3T \gtrsim 1`, i.e. for :math:`k \lesssim T^{1/(3\nu)}`, and the
    unlearned tail :math:`\frac1D\sum_{k > k_c}k^{-\nu} \propto k_c^{1-\nu}`. Valid while
    :math:`1 \ll T^{1/(3\nu)} \ll D`; at finite context the small modes' rate becomes
    :math:`\propto\lambda_k^2` and their final value is not reached, which steepens the
    curve and sets a floor. Not taken from the paper (its exponents were not read).
    """
    nu = _capacity(capacity)
    return (nu - 1) / (3 * nu)


def fs_width_exponent(capacity) -> float:
    r"""c in :math:`E_N - E_D \propto N^{-c}`, c = nu - 1, for lambda_k ~ k^-nu (long context).

    From :func:`fs_rank_optimum` with :math:`s_k \to \lambda_k`: the missing modes cost
    :math:`\frac1D\sum_{N<k\le D}k^{-\nu} \approx (N^{1-\nu} - D^{1-\nu})/(\nu-1)/D`.
    Valid for 1 << N << D; at finite context the modes with
    :math:`\lambda_k \ll (\operatorname{tr}\Sigma + \sigma^2D)/P` have
    :math:`s_k \propto \lambda_k^2` and the exponent tends to 2 nu - 1. Not taken from the
    paper (its width exponents were not read; its width is the residual-stream width,
    modelled here as the key/query rank).
    """
    return _capacity(capacity) - 1


def deep_iso_gradient_flow(time, depth, alpha, noise, *, nodes: int = 2000, dt: float = 2e-3):
    r"""(gamma(T), E(T)) of L-layer ISO deep linear attention trained by gradient flow.

    With isotropic data the population loss of a D x D Gamma is rotation invariant, so
    gradient flow :math:`d\Gamma/dT = -D\nabla_\Gamma E` from Gamma = 0 stays at
    :math:`\Gamma = \gamma I` and, since :math:`\nabla_\Gamma E(\gamma I) = E'(\gamma)I/D`,

    .. math:: \dot\gamma = -E'(\gamma),\quad E'(\gamma) = -2\int\lambda p q\,d\mu_\alpha
              + \frac{2\sigma^2}{\alpha}\int(1-p)q\,d\mu_\alpha,\quad
              q = (1-\gamma\lambda/L)^{L-1},\ p = (1-\gamma\lambda/L)q

    with E of :func:`deep_iso_error` [derived]. Integrated by classical Runge-Kutta with
    step ``dt``. T = learning rate x steps / D for SGD on the per-context loss. At the
    start :math:`E'(0) = -2` for every L, so depth does not matter to first order; at
    second order E is larger for deeper models (at alpha = 1, sigma^2 = 0.1: 0.866 for
    L = 4 against 0.829 for L = 1 at T = 0.1), which therefore train more slowly at first
    and overtake later (0.482 against 0.624 at T = 4), towards the depth gain of
    :func:`deep_iso_optimal`.

    Args:
        time: increasing training times T >= 0 (array).
        depth: L >= 1.
        alpha: context length P / D.
        noise: sigma^2 >= 0.

    Returns:
        (gamma, loss) arrays of the shape of ``time``.

    Examples:
        >>> g, e = deep_iso_gradient_flow([0.0, 1e-3], 1, 2.0, 0.1)
        >>> round(float(e[0]), 4), round(float(g[1]), 4)  # E(0) = 1 + sigma^2; gamma' = 2
        (1.1, 0.002)
    """
    L = int(depth)
    if L < 1:
        raise InputError(f"depth must be an integer >= 1; got {depth!r}")
    t = _arr(time, "time", nonneg=True)
    flat = t.ravel()
    if (np.diff(flat) < 0).any():
        raise InputError("time must be increasing")
    s2 = float(_arr(noise, "noise", nonneg=True))
    a = float(_arr(alpha, "alpha", positive=True))
    lam, w = marchenko_pastur_quadrature(a, nodes)

    def rate(g):
        base = 1 - g * lam / L
        q = base ** (L - 1)
        p = base * q
        return 2 * np.sum(w * lam * p * q) - 2 * s2 / a * np.sum(w * (1 - p) * q)

    g, now, gam = 0.0, 0.0, []
    for target in flat:
        while now < target - 1e-15:
            h = min(dt, target - now)
            k1 = rate(g)
            k2 = rate(g + h / 2 * k1)
            k3 = rate(g + h / 2 * k2)
            k4 = rate(g + h * k3)
            g += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            now += h
        gam.append(g)
    gam = np.array(gam).reshape(t.shape)
    loss = np.asarray(deep_iso_error(gam, L, a, s2, nodes)).reshape(t.shape)
    return gam, loss

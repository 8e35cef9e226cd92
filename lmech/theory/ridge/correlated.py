r"""Ridge regression with correlated samples, and the risk estimators GCV, CorrGCV, KARE.

Model: X = K^{1/2} Z Sigma^{1/2} (P samples, D features, Z i.i.d. N(0, 1)), with K the
P x P sample-sample correlation; labels y = X w + eps, eps ~ N(0, sigma^2 K) (the matched
case K' = K); ridge minimizes (1/P)|y - X w|^2 + lambda |w|^2; out-of-sample risk on a
fresh independent point, R = (w_hat - w)^T Sigma (w_hat - w) + sigma^2.

Two renormalized ridges: kappa on the feature side and kappa_tilde on the sample side,

.. math:: \kappa = \frac{\lambda}{\kappa_{\tilde{}}\,\tilde{df}_1},\quad
          \kappa_{\tilde{}} = \frac{\lambda P}{\kappa\,Df_1(\kappa)},\quad
          \tilde{df}_1 = \frac1P \mathrm{Tr}[K(K+\kappa_{\tilde{}})^{-1}],

(so kappa kappa_tilde / lambda = 1/df1_tilde), the separable-covariance deterministic
equivalent (M + lambda)^{-1} ~ (lambda + c Sigma)^{-1},
c = (1/P) Tr K (I + K/kappa_tilde)^{-1} (Paul and Silverstein 2009; Couillet and Liao,
"Random Matrix Methods for Machine Learning", 2022, Sec. 2.5). K = I gives
kappa = lambda / (1 - Df1/P). Tests check kappa against simulated Df1_hat and the risk
against Monte Carlo.

References:
    Atanasov, Zavatone-Veth, Pehlevan, "Risk and cross validation in ridge regression
    with correlated samples", ICML 2025, arXiv:2408.04607, Sec. 3 (S-transform,
    duality), Sec. 4 (risk), Sec. 5 (CorrGCV).
    Craven and Wahba 1978; Golub, Heath, Wahba 1979 (GCV).
    Jacot, Simsek, Spadaro, Hongler, Gabriel, "Kernel alignment risk estimator", NeurIPS
    2020 (KARE).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lmech._validate import as_float_array
from lmech.errors import ConvergenceError, InputError
from lmech.theory.ridge import _core

__all__ = [
    "exponential_correlation",
    "nearest_neighbour_correlation",
    "CorrelatedRisk",
    "correlated_ridge_risk",
    "GCVEstimate",
    "gcv",
    "corr_gcv",
    "kare",
]


def exponential_correlation(samples: int, length: float) -> np.ndarray:
    r"""The P x P correlation K_ts = exp(-|t - s| / xi), xi = ``length`` > 0.

    It is the correlation of a stationary AR(1) sequence x_t = rho x_{t-1} +
    sqrt(1 - rho^2) z_t with rho = exp(-1/xi).
    """
    P = _int(samples, "samples")
    xi = _length(length)
    t = np.arange(P)
    return np.exp(-np.abs(t[:, None] - t[None, :]) / xi)


def nearest_neighbour_correlation(samples: int, strength: float) -> np.ndarray:
    """The P x P correlation with 1 on the diagonal and ``strength`` b on the first
    off-diagonals (|b| <= 1/2 keeps it positive semi-definite for every P)."""
    P = _int(samples, "samples")
    b = float(strength)
    if not (np.isfinite(b) and abs(b) <= 0.5):
        raise InputError(f"strength must be in [-1/2, 1/2] (PSD for every P); got {strength!r}")
    return np.eye(P) + b * (np.eye(P, k=1) + np.eye(P, k=-1))


def _int(x, name):
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x <= 0:
        raise InputError(f"{name} must be a positive integer; got {x!r}")
    return int(x)


def _length(xi) -> float:
    try:
        v = float(xi)
    except (TypeError, ValueError):
        raise InputError(f"correlation length must be a number > 0; got {xi!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise InputError(
            f"correlation length must be finite and > 0 (samples decorrelate over xi "
            f"steps); got {xi!r}; use a matrix of ones on the diagonal for iid samples"
        )
    return v


def _spec(correlation) -> np.ndarray:
    c = as_float_array(correlation, "correlation", ndim=(1, 2))
    if c.ndim == 1:
        if (c < 0).any():
            raise InputError(f"correlation eigenvalues must be >= 0; got min {c.min():.3g}")
        return c
    if c.shape[0] != c.shape[1] or np.abs(c - c.T).max() > 1e-10 * np.abs(c).max():
        raise InputError(f"correlation must be a symmetric (P, P) matrix; got shape {c.shape}")
    k = np.linalg.eigvalsh(0.5 * (c + c.T))
    if k.min() < -1e-10 * k.max():
        raise InputError(
            f"correlation must be positive semi-definite; got an eigenvalue {k.min():.3g} < 0"
        )
    return np.clip(k, 0.0, None)


def _c_and_slope(k: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """c(d) = (1/P) sum k/(1 + d k) and d log c / d d, per grid point."""
    u = k / (1.0 + d[:, None] * k)  # (g, P)
    c = u.mean(axis=1)
    return c, -(u * u).mean(axis=1) / c


def _solve_kappa(k, lam, P, g_of_kappa, tr_bound) -> np.ndarray:
    """kappa with kappa c(d) = lambda, d = kappa g(kappa) / (lambda P); safeguarded Newton
    in log kappa, bracket [lambda / mean(k), lambda / c_min]."""
    kbar = float(k.mean())

    def fun(t, a):
        kap = np.exp(t)
        g, dg = g_of_kappa(kap, a)  # g(kappa) and d log(kappa g) / d log kappa
        d = kap * g / (lam[a] * P)
        c, slope = _c_and_slope(k, d)
        return t + np.log(c) - np.log(lam[a]), 1.0 + slope * d * dg

    c_min = np.array([((k / (1.0 + k * tr_bound / (lv * P))).mean()) for lv in lam])
    lo, hi = np.log(lam / kbar), np.log(lam / c_min)
    return np.exp(_core.solve_increasing(fun, lo, hi, "correlated renormalized ridge"))


class CorrelatedRisk(NamedTuple):
    kappa: np.ndarray
    kappa_tilde: np.ndarray
    df1: np.ndarray  # Df1(kappa), unnormalized
    df1_tilde: np.ndarray  # normalized by P
    df2_tilde: np.ndarray
    gamma: np.ndarray
    test_error: np.ndarray  # noisy out-of-sample error E_g = R + sigma^2
    excess_risk: np.ndarray


def correlated_ridge_risk(
    covariance, teacher, correlation, ridge, noise_variance: float = 0.0
) -> CorrelatedRisk:
    r"""Out-of-sample risk of ridge on correlated samples (deterministic equivalent).

    kappa, kappa_tilde solve the module's equations; with
    :math:`\gamma = \frac{Df_2}{Df_1}\frac{\tilde{df}_2}{\tilde{df}_1}`,
    :math:`\tilde{df}_2 = \frac1P\mathrm{Tr}[K^2(K+\kappa_{\tilde{}})^{-2}]`,

    .. math:: R = \frac{\kappa^2 w^\top\Sigma(\Sigma+\kappa)^{-2}w + \sigma^2\gamma}
              {1 - \gamma},\qquad E_g = R + \sigma^2 ,

    for matched noise (covariance sigma^2 K). ``test_error`` is E_g (a fresh, independent
    noisy test point), ``excess_risk`` is R.

    Solver: safeguarded Newton in log kappa on kappa c(d(kappa)) = lambda, which is
    increasing in kappa; bracket [lambda / mean(K eigenvalues), lambda / c_min]. Needs
    ridge > 0.

    References:
        Atanasov, Zavatone-Veth, Pehlevan, arXiv:2408.04607, Sec. 4 (the risk with
        gamma = (df2/df1)(df2_tilde/df1_tilde)); checked here against Monte Carlo.
    """
    spec = _core.spectrum(covariance, teacher)
    k = _spec(correlation)
    P = k.size
    sigma2 = _core.noise(noise_variance)
    lam = _core.ridges(ridge, positive=True)
    s = spec.s

    def g(kap, a):
        d1, d2 = _core.dfs(s, kap)
        return d1, d2 / d1  # d log(kappa Df1) / d log kappa = Df2/Df1

    kappa = _solve_kappa(k, lam, P, g, float(s.sum()))
    d1, d2 = _core.dfs(s, kappa)
    kt = lam * P / (kappa * d1)
    u = k / (k + kt[:, None])
    df1t, df2t = u.mean(axis=1), (u * u).mean(axis=1)
    gamma = (d2 / d1) * (df2t / df1t)
    bias = kappa**2 * _core.weighted(s, spec.w2, kappa, 2)
    R = np.where(gamma < 1, (bias + sigma2 * gamma) / (1 - gamma), np.inf)
    return CorrelatedRisk(kappa, kt, d1, df1t, df2t, gamma, R + sigma2, R)


class GCVEstimate(NamedTuple):
    train_error: np.ndarray  # (1/P)|y - X w_hat|^2
    df1: np.ndarray  # Tr H = Tr[Sigma_hat (Sigma_hat + lambda)^{-1}]
    estimate: np.ndarray  # the estimated noisy out-of-sample error


def _svd_fit(X, y, ridge):
    """(P, ridges, E_tr, Df1_hat) of ridge on (X, y) for every ridge, from one symmetric
    eigendecomposition of the smaller Gram matrix (X^T X or X X^T)."""
    X = as_float_array(X, "X", ndim=2)
    y = as_float_array(y, "y", ndim=1)
    if y.size != X.shape[0]:
        raise InputError(f"y must have one label per row of X ({X.shape[0]}); got {y.size}")
    lam = _core.ridges(ridge, positive=True)
    P, D = X.shape
    if P >= D:  # X^T X = V diag(sv^2) V^T, U^T y = V^T X^T y / sv
        sv2, V = np.linalg.eigh(X.T @ X)
        proj = V.T @ (X.T @ y)
    else:  # X X^T = U diag(sv^2) U^T
        sv2, U = np.linalg.eigh(X @ X.T)
        proj = U.T @ y
    keep = sv2 > sv2.max() * max(P, D) * np.finfo(np.float64).eps
    sv2 = sv2[keep]
    c = proj[keep] / np.sqrt(sv2) if P >= D else proj[keep]
    e = sv2 / P  # eigenvalues of Sigma_hat = X^T X / P
    shrink = lam[:, None] / (e + lam[:, None])  # (g, r): 1 - h_j
    rest = float(y @ y - c @ c)  # part of y outside the column space of X
    train = ((shrink * c) ** 2).sum(axis=1) / P + max(rest, 0.0) / P
    df1 = (e / (e + lam[:, None])).sum(axis=1)
    return P, lam, train, df1


def gcv(X, y, ridge) -> GCVEstimate:
    r"""Generalized cross-validation estimate of ridge's out-of-sample error.

    .. math:: \mathrm{GCV}(\lambda) = \frac{\frac1P|y - X\hat w_\lambda|^2}
              {(1 - \frac1P\mathrm{Tr}H_\lambda)^2},\quad
              H_\lambda = X(X^\top X + P\lambda)^{-1}X^\top ,

    computed for every ridge from one SVD of X. It estimates the error against noisy test
    labels (subtract sigma^2 for the excess risk). Equal to S_hat^2 E_tr with
    S_hat = kappa_GCV / lambda = 1/(1 - Tr H/P).

    References:
        Craven and Wahba, Numer. Math. 31 (1978); Golub, Heath, Wahba, Technometrics 21
        (1979); Atanasov, Zavatone-Veth, Pehlevan, arXiv:2405.00592, Sec. 4.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 10))
        >>> y = X[:, 0] + 0.1 * rng.normal(size=100)
        >>> a, b = gcv(X, y, 0.1).estimate, corr_gcv(X, y, 0.1, np.eye(100)).estimate
        >>> bool(np.isclose(a[0], b[0]))  # CorrGCV with K = I is GCV
        True
    """
    P, lam, train, df1 = _svd_fit(X, y, ridge)
    return GCVEstimate(train, df1, train / (1 - df1 / P) ** 2)


def corr_gcv(X, y, ridge, correlation) -> GCVEstimate:
    r"""CorrGCV: out-of-sample error of ridge trained on samples with known correlation K.

    From the data: E_tr and Df1_hat = Tr H. kappa solves kappa c(d) = lambda with
    d = kappa Df1_hat/(lambda P) (the module's equations with Df1(kappa) = Df1_hat, the
    one-point equivalent), kappa_tilde = 1/d, and

    .. math:: \hat E_g = E_{tr}\, \frac{\kappa}{\lambda}\,
              \frac{\tilde{df}_1}{\tilde{df}_1 - \tilde{df}_2}

    (for K = I: 1/(1 - Df1_hat/P)^2 E_tr, plain GCV). Solver: safeguarded Newton in
    log kappa. Needs K known; with noise correlation different from K it is biased.

    References:
        Atanasov, Zavatone-Veth, Pehlevan, arXiv:2408.04607, Sec. 5 (CorrGCV).
    """
    k = _spec(correlation)
    P, lam, train, df1 = _svd_fit(X, y, ridge)
    if k.size != P:
        raise InputError(
            f"correlation must be ({P}, {P}) for {P} samples; got {k.size} eigenvalues"
        )
    if (df1 >= (k > 0).sum()).any():
        raise InputError("Df1_hat reaches the rank of the correlation; raise the ridge")

    # kappa c(d) with d = kappa Df1_hat/(lambda P) is bounded by rank(K)/P * lambda P/Df1
    kappa = np.empty_like(lam)
    for i in range(lam.size):  # bracket per ridge (scalar doubling for the upper end)
        hi = lam[i] / k.mean()
        while True:
            d = hi * df1[i] / (lam[i] * P)
            if hi * (k / (1 + d * k)).mean() >= lam[i]:
                break
            hi *= 2.0
            if hi > 1e300:
                raise ConvergenceError("corr_gcv: no bracket for kappa")
        kappa[i] = _solve_fixed(k, lam[i], P, df1[i], lam[i] / k.mean(), hi)
    kt = lam * P / (kappa * df1)
    u = k / (k + kt[:, None])
    df1t, df2t = u.mean(axis=1), (u * u).mean(axis=1)
    return GCVEstimate(train, df1, train * (kappa / lam) * df1t / (df1t - df2t))


def _solve_fixed(k, lam, P, df1, lo, hi) -> float:
    def fun(t, a):
        kap = np.exp(t)
        d = kap * df1 / (lam * P)
        c, slope = _c_and_slope(k, d)
        return t + np.log(c) - np.log(lam), 1.0 + slope * d

    t = _core.solve_increasing(fun, np.array([np.log(lo)]), np.array([np.log(hi)]), "corr_gcv")
    return float(np.exp(t[0]))


def kare(gram, y, ridge) -> np.ndarray:
    r"""Kernel alignment risk estimator (Jacot et al. 2020) from one training set:

    .. math:: \hat E = \frac{\frac1n y^\top(K/n + \lambda)^{-2}y}
              {\big[\frac1n\mathrm{Tr}(K/n + \lambda)^{-1}\big]^2},

    for every ridge lambda > 0 (KRR ridge delta = n lambda on the raw Gram). It equals
    eigenlearning's single-dataset estimate with kappa = 1/Tr[(K + delta)^{-1}].
    """
    K = as_float_array(gram, "gram", ndim=2)
    y = as_float_array(y, "y", ndim=1)
    n = y.size
    if K.shape != (n, n):
        raise InputError(f"gram must be ({n}, {n}) for {n} labels; got {K.shape}")
    lam = _core.ridges(ridge, positive=True)
    e, V = np.linalg.eigh(0.5 * (K + K.T) / n)
    if e.min() < -1e-10 * max(e.max(), 1e-300):
        raise InputError(f"gram must be positive semi-definite; got eigenvalue {e.min():.3g}")
    e = np.clip(e, 0, None)
    c2 = (V.T @ y) ** 2
    inv = 1.0 / (e + lam[:, None])
    return ((c2 * inv**2).sum(axis=1) / n) / (inv.mean(axis=1)) ** 2

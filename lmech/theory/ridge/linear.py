r"""Deterministic equivalents of linear ridge and linear random-feature ridge regression.

Model: P samples x ~ N(0, Sigma) in D dimensions, labels y = w^T x + eps with noise
variance sigma^2; the estimator minimizes (1/P)|y - X w|^2 + lambda |w|^2 (a per-sample
ridge lambda). Random features: z = F^T x with F (D x N) i.i.d. N(0, 1/N) (so
E[F F^T] = I), ridge on the N readout weights. ``ensemble_size`` K such models that
differ in F, predictions averaged, either sharing the P samples or each on its own.

Every function takes ``covariance`` as a 1-D spectrum s_i (the teacher then in the
eigenbasis) or a symmetric PSD (D, D) matrix (the teacher in the same basis), and
broadcasts ``samples``, ``features`` and ``ridge`` against each other.

References:
    Atanasov, Zavatone-Veth, Pehlevan, "Scaling and renormalization in high-dimensional
    regression", arXiv:2405.00592, Sec. 3 (linear ridge: kappa, Df1, Df2, E_g, E_tr),
    Sec. 5 (linear random features: kappa_2, the single-draw and ensemble errors).
    Bach, "High-dimensional analysis of double descent for linear regression with random
    projections", SIAM J. Math. Data Sci. 2024, arXiv:2303.01372, Sec. 3-4.
    Ruben, Zavatone-Veth, Pehlevan, "No free lunch from random feature ensembles",
    arXiv:2412.05418 (ensembles at fixed total size).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize_scalar

from lmech.errors import InputError
from lmech.theory.ridge import _core

__all__ = [
    "RidgeRisk",
    "RandomFeatureRisk",
    "degrees_of_freedom",
    "renormalized_ridge",
    "ridge_risk",
    "random_feature_risk",
    "optimal_ridge",
]


class RidgeRisk(NamedTuple):
    """Deterministic equivalent of linear ridge at each grid point (arrays)."""

    kappa: np.ndarray
    df1: np.ndarray
    df2: np.ndarray
    gamma: np.ndarray
    test_error: np.ndarray  # against noisy labels: E_g
    excess_risk: np.ndarray  # E_g - sigma^2
    train_error: np.ndarray


class RandomFeatureRisk(NamedTuple):
    """Deterministic equivalent of linear random-feature ridge (arrays)."""

    kappa2: np.ndarray
    kappa1: np.ndarray
    df1: np.ndarray
    df2: np.ndarray
    test_error: np.ndarray  # the K-member ensemble (K = 1: a single draw of F)
    test_error_single: np.ndarray  # K = 1
    test_error_infinite: np.ndarray  # K -> infinity (shared data)


def degrees_of_freedom(covariance, kappa) -> tuple[np.ndarray, np.ndarray]:
    r"""Unnormalized degrees of freedom at the renormalized ridge kappa:

    .. math:: Df_1 = \mathrm{Tr}[\Sigma(\Sigma+\kappa)^{-1}],\quad
              Df_2 = \mathrm{Tr}[\Sigma^2(\Sigma+\kappa)^{-2}].

    Examples:
        >>> d1, d2 = degrees_of_freedom([1.0, 1.0], 1.0)
        >>> float(d1[0]), float(d2[0])
        (1.0, 0.5)
    """
    spec = _core.spectrum(covariance)
    k = _core.ridges(kappa, "kappa")
    return _core.dfs(spec.s, k)


def _pole(s: np.ndarray, m: np.ndarray) -> np.ndarray:
    """kappa_min solving Df1(kappa) = m (m < rank), by safeguarded Newton in log kappa
    on log m - log Df1, started at the right end of the bracket."""
    tr, smin = float(s.sum()), float(s.min())

    def fun(t, a):
        d1, d2 = _core.dfs(s, np.exp(t))
        return np.log(m[a]) - np.log(d1), (d1 - d2) / d1

    lo = np.log(0.5 * smin * (s.size / m - 1.0))
    hi = np.log(tr / m)
    return np.exp(_core.solve_increasing(fun, lo, hi, "ridgeless renormalized ridge", hi))


def _kappa_rf(s: np.ndarray, P: np.ndarray, N: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """kappa solving kappa (1 - Df1/P)(1 - Df1/N) = lambda (N = inf: one factor), flat.

    Two stages: the pole kappa_min (Df1 = min(P, N), when below the rank) and then the
    root above it in u = log(kappa - kappa_min), where the equation's log form is finite
    and nearly linear in u near the pole."""
    tr = float(s.sum())
    inv_n = np.where(np.isinf(N), 0.0, 1.0 / N)
    m = np.minimum(P, N)
    over = m < s.size
    kmin = np.zeros(lam.shape)
    if over.any():
        kmin[over] = _pole(s, m[over])
    kappa = kmin.copy()
    pos = np.flatnonzero(lam > 0)
    if pos.size:
        Pp, ip, lp, kp = P[pos], inv_n[pos], lam[pos], kmin[pos]

        def fun(u, a):
            gap = np.exp(u)
            k = kp[a] + gap
            d1, d2 = _core.dfs(s, k)
            f1, f2 = 1.0 - d1 / Pp[a], 1.0 - d1 * ip[a]
            ok = (f1 > 0) & (f2 > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                F = np.where(
                    ok,
                    np.log(k)
                    + np.log(np.where(ok, f1, 1.0))
                    + np.log(np.where(ok, f2, 1.0))
                    - np.log(lp[a]),
                    -np.inf,
                )
                # dF/dlog kappa, times d log kappa / du = gap / kappa
                dF = (1.0 + (d1 - d2) / (Pp[a] - d1) + (d1 - d2) * ip[a] / f2) * gap / k
            return F, dF

        hi = np.log(lp + tr * (1.0 / Pp + ip))  # F >= 0 at kappa = lambda + Tr(1/P + 1/N)
        lo_k = np.maximum(lp - kp, 0.0)  # kappa > lambda and kappa > kappa_min
        lo = np.log(np.where(lo_k > 0, lo_k, np.finfo(np.float64).tiny * np.maximum(kp, 1.0)))
        gap = np.exp(_core.solve_increasing(fun, lo, np.log(np.exp(hi) - kp), "renormalized ridge",
                                            np.log(np.exp(hi) - kp)))  # fmt: skip
        kappa[pos] = kp + gap
    return kappa


def _grid(samples, features, ridge):
    P = _core.counts(samples, "samples")
    N = _core.counts(np.inf if features is None else features, "features", allow_inf=True)
    lam = _core.ridges(ridge)
    try:
        P, N, lam = np.broadcast_arrays(P, N, lam)
    except ValueError:
        raise InputError(
            f"samples {P.shape}, features {N.shape} and ridge {lam.shape} must broadcast "
            "against each other; pass scalars or arrays of compatible shapes"
        ) from None
    return P, N, lam


def renormalized_ridge(covariance, samples, ridge, features=None) -> np.ndarray:
    r"""The renormalized ridge kappa of linear ridge (``features=None``) or kappa_2 of
    linear random-feature ridge with N = ``features``:

    .. math:: \kappa\Big(1 - \frac{Df_1(\kappa)}{P}\Big)\Big(1 - \frac{Df_1(\kappa)}{N}\Big)
              = \lambda ,

    the root with Df_1 < min(P, N). At lambda = 0 it is the root of Df_1(kappa) = min(P, N)
    when min(P, N) < rank(Sigma), else 0.

    Solver: safeguarded Newton in t = log kappa (Newton steps kept inside a bisection
    bracket that shrinks every iteration), vectorized over the grid; the bracket is
    [log lambda, log(lambda + Tr Sigma (1/P + 1/N))], where the left side of the
    equation in log form changes sign (at lambda = 0: [log(s_min (rank/m - 1)/2),
    log(Tr Sigma/m)], m = min(P, N)). Tolerance 1e-13 on log kappa.

    Args:
        covariance: 1-D spectrum or (D, D) PSD matrix.
        samples: P (> 0; non-integers allowed), broadcast with ``ridge`` and ``features``.
        ridge: lambda >= 0 (per-sample ridge).
        features: N (> 0, may be inf), or None for plain ridge.

    Examples:
        >>> s = np.ones(4)  # isotropic: kappa (1 - 4/(1+kappa)/P) = lambda
        >>> k = renormalized_ridge(s, samples=8, ridge=0.5)
        >>> bool(np.isclose(k[0] * (1 - 4 / (1 + k[0]) / 8), 0.5))
        True
    """
    spec = _core.spectrum(covariance)
    P, N, lam = _grid(samples, features, ridge)
    return _kappa_rf(spec.s, P.ravel(), N.ravel(), lam.ravel()).reshape(P.shape)


def ridge_risk(covariance, teacher, samples, ridge, noise_variance: float = 0.0) -> RidgeRisk:
    r"""Test and train error of linear ridge regression (deterministic equivalent).

    .. math:: E_g = \frac{\kappa^2 w^\top\Sigma(\Sigma+\kappa)^{-2}w + \sigma^2}{1-\gamma},
              \quad \gamma = \frac{Df_2(\kappa)}{P},\quad
              E_{tr} = \Big(1 - \frac{Df_1}{P}\Big)^2 E_g = (\lambda/\kappa)^2 E_g,

    E_g is the error against noisy test labels (subtract sigma^2 for the excess risk);
    kappa from :func:`renormalized_ridge` (safeguarded Newton). At gamma >= 1 (ridgeless
    with P = rank Sigma) the error is inf.

    References:
        Atanasov, Zavatone-Veth, Pehlevan, arXiv:2405.00592, Sec. 3 (E_g and
        E_tr = (lambda/kappa)^2 E_g); Bach, arXiv:2303.01372, Sec. 3.

    Examples:
        >>> r = ridge_risk(np.ones(10), np.ones(10), samples=20, ridge=0.0, noise_variance=1.0)
        >>> float(r.test_error[0])  # OLS: sigma^2 / (1 - D/P)
        2.0
    """
    spec = _core.spectrum(covariance, teacher)
    sigma2 = _core.noise(noise_variance)
    P, _, lam = _grid(samples, None, ridge)
    shape = P.shape
    P, lam = P.ravel(), lam.ravel()
    kappa = _kappa_rf(spec.s, P, np.full(P.shape, np.inf), lam)
    d1, d2 = _core.dfs(spec.s, kappa)
    gamma = d2 / P
    bias = kappa**2 * _core.weighted(spec.s, spec.w2, kappa, 2)
    with np.errstate(divide="ignore"):
        eg = np.where(gamma < 1, (bias + sigma2) / np.maximum(1 - gamma, 1e-300), np.inf)
    train = (1 - d1 / P) ** 2 * np.where(np.isfinite(eg), eg, 0.0)
    out = RidgeRisk(kappa, d1, d2, gamma, eg, eg - sigma2, train)
    return RidgeRisk(*(a.reshape(shape) for a in out))


def random_feature_risk(
    covariance,
    teacher,
    samples,
    features,
    ridge,
    noise_variance: float = 0.0,
    *,
    ensemble_size=1,
    shared_data: bool = True,
) -> RandomFeatureRisk:
    r"""Test error of linear random-feature ridge regression and of ensembles of it.

    With kappa_2 from :func:`renormalized_ridge` (``features=N``), Df_1, Df_2 at kappa_2,
    :math:`t_f = \sum_i w_i^2 s_i/(s_i+\kappa_2)`,
    :math:`t_f' = -\sum_i w_i^2 s_i/(s_i+\kappa_2)^2`:

    .. math::
        r = \frac{N - Df_1}{N - Df_2},\quad \gamma_1 = \frac{Df_1 - r(Df_1 - Df_2)}{P},
        \quad E_g^{(1)} = \frac{-\kappa_2^2 t_f'\, r + \kappa_2 t_f (1 - r) + \sigma^2}
        {1 - \gamma_1},

    .. math::
        E_g^{(\infty)} = \frac{-\kappa_2^2 t_f' + \sigma^2}{1 - Df_2/P},\qquad
        E_g^{(K)} = E_g^{(\infty)} + \frac{E_g^{(1)} - E_g^{(\infty)}}{K}
        \quad\text{(shared data)},

    and for K members each on its own P samples (``shared_data=False``) the members'
    errors are uncorrelated beyond their common mean predictor
    :math:`\Sigma(\Sigma+\kappa_2)^{-1}w`, so
    :math:`E_g^{(K)} = E_g^{(1)}/K + (1 - 1/K)(-\kappa_2^2 t_f' + \sigma^2)`.
    ``kappa1`` = lambda / (1 - Df_1/P) is the secondary renormalized ridge.

    At N -> inf this reduces to :func:`ridge_risk`; the single-draw error equals the
    RF-KRR eigenframework risk (:func:`lmech.theory.ridge.rf_krr_risk`) with delta = P
    lambda (tests check both).

    Warning:
        The features have E[F F^T] = I (entries of variance 1/N). Notebooks that draw
        entries of variance 1/D rescale lambda by N/D.

    References:
        Atanasov, Zavatone-Veth, Pehlevan, arXiv:2405.00592, Sec. 5 (linear random
        features, the ensemble limit); Ruben, Zavatone-Veth, Pehlevan, arXiv:2412.05418.
    """
    spec = _core.spectrum(covariance, teacher)
    sigma2 = _core.noise(noise_variance)
    P, N, lam = _grid(samples, features, ridge)
    K = np.atleast_1d(np.asarray(ensemble_size))
    if K.dtype.kind not in "iu" or (K < 1).any():
        raise InputError(f"ensemble_size must be an integer >= 1; got {ensemble_size!r}")
    try:
        P, N, lam, K = np.broadcast_arrays(P, N, lam, K)
    except ValueError:
        raise InputError("ensemble_size must broadcast against samples/features/ridge") from None
    shape = P.shape
    P, N, lam, K = P.ravel(), N.ravel(), lam.ravel(), K.ravel().astype(np.float64)
    k2 = _kappa_rf(spec.s, P, N, lam)
    d1, d2 = _core.dfs(spec.s, k2)
    tf = _core.weighted(spec.s, spec.w2, k2, 1)
    bias_inf = k2**2 * _core.weighted(spec.s, spec.w2, k2, 2)  # = -kappa2^2 tf'
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(np.isinf(N), 1.0, (N - d1) / (N - d2))
    r = np.where(k2 > 0, r, 1.0)  # kappa2 = 0: Df1 = Df2, r drops out
    gamma1 = (d1 - r * (d1 - d2)) / P
    gamma_inf = d2 / P
    with np.errstate(divide="ignore", invalid="ignore"):
        e1 = np.where(
            gamma1 < 1, (bias_inf * r + k2 * tf * (1 - r) + sigma2) / (1 - gamma1), np.inf
        )
        einf = np.where(gamma_inf < 1, (bias_inf + sigma2) / (1 - gamma_inf), np.inf)
    if shared_data:
        ek = np.where(K > 1, einf + (e1 - einf) / K, e1)
    else:
        ek = e1 / K + (1 - 1 / K) * (bias_inf + sigma2)
    kappa1 = np.where(d1 < P, lam / np.maximum(1 - d1 / P, 1e-300), np.inf)
    out = RandomFeatureRisk(k2, kappa1, d1, d2, ek, e1, einf)
    return RandomFeatureRisk(*(a.reshape(shape) for a in out))


def optimal_ridge(
    covariance,
    teacher,
    samples,
    noise_variance: float = 0.0,
    *,
    features=None,
    ensemble_size: int = 1,
    shared_data: bool = True,
    ridge_range: tuple[float, float] = (1e-8, 1e3),
) -> tuple[np.ndarray, np.ndarray]:
    r"""The ridge lambda* >= 0 minimizing the predicted test error, and that error.

    For each (samples, features) point: the error on 0 and 141 log-spaced ridges over
    ``ridge_range`` times Tr Sigma, then bounded Brent minimization (scipy
    ``minimize_scalar``) in log lambda between the neighbours of the best grid ridge. The
    search stays in lambda >= 0; an optimum at a negative ridge (possible for some
    teachers) is not found.

    Returns:
        (ridge*, test_error*) with the broadcast shape of samples and features.
    """
    spec = _core.spectrum(covariance, teacher)
    P = _core.counts(samples, "samples")
    N = _core.counts(np.inf if features is None else features, "features", allow_inf=True)
    P, N = np.broadcast_arrays(P, N)
    tr = float(spec.s.sum())
    lo, hi = ridge_range
    if not (0 < lo < hi and np.isfinite(hi)):
        raise InputError(f"ridge_range must be 0 < lo < hi < inf; got {ridge_range!r}")
    grid = np.concatenate([[0.0], np.logspace(np.log10(lo), np.log10(hi), 141) * tr])
    s, w = spec.s, np.sqrt(spec.w2)

    def err(p, n, lam):
        r = random_feature_risk(
            s, w, p, n, lam, noise_variance, ensemble_size=ensemble_size, shared_data=shared_data
        )
        return r.test_error

    best_l, best_e = np.empty(P.shape), np.empty(P.shape)
    for i in np.ndindex(P.shape):
        e = err(P[i], N[i], grid)
        e = np.where(np.isfinite(e), e, np.inf)
        j = int(np.argmin(e))
        lam_star, e_star = grid[j], e[j]
        if 1 <= j <= grid.size - 2 or j == grid.size - 1:
            a = np.log(grid[max(j - 1, 1)])
            b = np.log(grid[min(j + 1, grid.size - 1)])
            res = minimize_scalar(
                lambda t, p=P[i], n=N[i]: float(err(p, n, np.exp(t))[0]),
                bounds=(a, b),
                method="bounded",
                options={"xatol": 1e-6},
            )
            if res.fun < e_star:
                lam_star, e_star = float(np.exp(res.x)), float(res.fun)
        best_l[i], best_e[i] = lam_star, e_star
    return best_l, best_e

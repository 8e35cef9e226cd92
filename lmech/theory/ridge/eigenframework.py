r"""The RF-KRR eigenframework: random-feature kernel ridge regression from the kernel's
eigensystem (Simon, Karkada, Ghosh, Belkin, "More is better in modern machine learning:
when infinite overparameterization is optimal and overfitting is obligatory", ICLR 2024,
arXiv:2311.14646, Sec. 4, "RF-KRR eigenframework").

Setting: k random features phi_j with E_phi[phi(x) phi(x')] = K(x, x'), the random-feature
kernel K_hat = (1/k) sum_j phi_j(x) phi_j(x'), n samples, KRR with K_hat and ridge delta
on the raw n x n Gram matrix. The kernel has eigenvalues lambda_i under the data measure
and the target eigen-coefficients v_i (v_i^2 its power on mode i); eps^2 is the
label-noise variance.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lmech.errors import InputError
from lmech.theory.ridge import _core
from lmech.theory.ridge.linear import _kappa_rf

__all__ = ["RFKRRRisk", "rf_krr_risk"]


class RFKRRRisk(NamedTuple):
    kappa: np.ndarray
    gamma: np.ndarray
    overfitting_coefficient: np.ndarray  # E_0
    test_error: np.ndarray  # against noisy labels


def rf_krr_risk(
    eigenvalues, coefficients, samples, features, ridge, noise_variance: float = 0.0
) -> RFKRRRisk:
    r"""Test error of random-feature KRR, the RF-KRR eigenframework (Simon et al., Sec. 4).

    (kappa, gamma) solve

    .. math:: n = \sum_i \frac{\lambda_i}{\lambda_i+\gamma} + \frac{\delta}{\kappa},\qquad
              k = \sum_i \frac{\lambda_i}{\lambda_i+\gamma} + \frac{k\kappa}{\gamma};

    with :math:`L_i = \lambda_i/(\lambda_i+\gamma)`, :math:`z = \sum L_i`,
    :math:`q = \sum L_i^2`,

    .. math:: E_0 = \frac{1}{1 - \frac{q(k - 2z) + z^2}{n(k - q)}},\quad
              E_{te} = E_0\Big(\sum_i \Big[(1 - L_i) - \frac{\kappa k}{k - q}
              \frac{L_i}{\lambda_i+\gamma}\Big] v_i^2 + \epsilon^2\Big).

    Solver: eliminating kappa = gamma (1 - z/k) leaves
    delta/n = gamma (1 - z/n)(1 - z/k), the linear random-feature equation with P = n,
    N = k, lambda = delta/n; it is solved by the safeguarded Newton iteration of
    :func:`lmech.theory.ridge.renormalized_ridge` (their code nests two bisections).
    ``features=inf`` gives kernel ridge regression (eigenlearning).

    Examples:
        >>> r = rf_krr_risk([1.0, 0.5], [1.0, 0.0], samples=10, features=np.inf, ridge=1.0)
        >>> bool(np.isclose(r.kappa[0], r.gamma[0]))
        True
    """
    lam = _core.spectrum(eigenvalues, None, "eigenvalues")
    raw = np.asarray(eigenvalues, dtype=np.float64)
    v = np.asarray(coefficients, dtype=np.float64)
    if v.shape != raw.shape:
        raise InputError(
            f"coefficients must have one entry per eigenvalue ({raw.size}); got {v.shape}"
        )
    if not np.isfinite(v).all():
        raise InputError("coefficients must be finite")
    v2 = (v**2)[raw > 0]
    sigma2 = _core.noise(noise_variance)
    n = _core.counts(samples, "samples")
    k = _core.counts(features, "features", allow_inf=True)
    delta = _core.ridges(ridge)
    n, k, delta = np.broadcast_arrays(n, k, delta)
    shape = n.shape
    n, k, delta = n.ravel(), k.ravel(), delta.ravel()
    gamma = _kappa_rf(lam.s, n, k, delta / n)
    s = lam.s
    L = s / (s + gamma[:, None])  # (g, modes)
    z, q = L.sum(axis=1), (L * L).sum(axis=1)
    inf = np.isinf(k)
    kk = np.where(inf, 1.0, k)
    kappa = np.where(inf, gamma, gamma * (1 - z / kk))
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(inf, q / n, (q * (kk - 2 * z) + z**2) / (n * (kk - q)))
        coef = np.where(inf, kappa, kappa * kk / (kk - q))
        bracket = (1 - L) - coef[:, None] * L / (s + gamma[:, None])
        e0 = np.where(x < 1, 1 / (1 - x), np.inf)
    err = e0 * ((bracket * v2).sum(axis=1) + sigma2)
    out = RFKRRRisk(kappa, gamma, e0, err)
    return RFKRRRisk(*(a.reshape(shape) for a in out))

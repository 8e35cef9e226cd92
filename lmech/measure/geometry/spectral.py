r"""Spectrum-based dimensions of a representation: participation ratio, effective rank,
stable rank, spectral entropy.

Conventions: X is (n, p); :math:`X_c = H X` is column-centred (``center=True``);
:math:`\sigma_i` are the singular values of :math:`X_c` and
:math:`\lambda_i = \sigma_i^2/(n - 1)` the covariance eigenvalues. Everything is computed
from the singular values (no :math:`X^T X` is formed), and eigenvalues below
``1e-12 * max`` are dropped as round-off. All of these are biased downward when n is
small against p: report n.

The ``*_from_eigenvalues`` forms take a covariance spectrum, e.g. from a streamed
covariance (:class:`lmech.measure.geometry.streaming.Moments`), so that n x p never has
to sit in memory.
"""

from __future__ import annotations

import numpy as np
import torch

from lmech._validate import as_float_array
from lmech.errors import ConfigError, InputError
from lmech.measure.geometry._input import as_matrix, centre, to_numpy

__all__ = [
    "covariance_eigenvalues",
    "participation_ratio",
    "effective_rank",
    "stable_rank",
    "spectral_entropy",
    "spectrum_statistics",
    "ParticipationRatio",
]

_RTOL = 1e-12


def covariance_eigenvalues(X, *, center: bool = True, device=None) -> np.ndarray:
    r"""Descending covariance eigenvalues :math:`\sigma_i^2/(n - 1)` of X (n, p), n >= 2.

    Raises:
        InputError: fewer than 2 rows, NaN/inf, or a constant representation.
    """
    T = as_matrix(X, "X", device=device, min_rows=2)
    Xc = centre(T, "X") if center else T
    if not center and not float(torch.linalg.matrix_norm(Xc)) > 0:
        raise InputError("X is all zeros; its spectrum is undefined")
    s = torch.linalg.svdvals(Xc)
    return to_numpy(s * s / (T.shape[0] - 1))


def _clean(lam) -> np.ndarray:
    lam = as_float_array(lam, "eigenvalues", ndim=1)
    top = lam.max()
    if not top > 0:
        raise InputError(
            "the spectrum has no positive eigenvalue (a constant representation); its "
            "dimensions are undefined"
        )
    if (lam < -1e-8 * top).any():
        raise InputError(
            f"eigenvalues must be >= 0 (a covariance spectrum); got min {lam.min():.3g}"
        )
    return np.sort(lam[lam > _RTOL * top])[::-1]


def spectrum_statistics(eigenvalues) -> dict[str, float]:
    r"""All spectrum dimensions of a covariance spectrum :math:`\lambda_i \ge 0`.

    Returns:
        ``participation_ratio`` :math:`(\sum\lambda)^2/\sum\lambda^2`;
        ``spectral_entropy`` :math:`H = -\sum p_i\log p_i`, :math:`p_i = \lambda_i/\sum\lambda`;
        ``effective_rank_eigen`` :math:`e^H`;
        ``effective_rank_singular`` (Roy & Vetterli 2007): :math:`e^{H'}` with
        :math:`p_i = \sigma_i/\sum\sigma` (singular values, not squared);
        ``stable_rank`` :math:`\sum\lambda/\lambda_{max}`.
    """
    lam = _clean(eigenvalues)
    p = lam / lam.sum()
    entropy = float(-(p * np.log(p)).sum())
    s = np.sqrt(lam)
    q = s / s.sum()
    return {
        "participation_ratio": float(lam.sum() ** 2 / (lam * lam).sum()),
        "spectral_entropy": entropy,
        "effective_rank_eigen": float(np.exp(entropy)),
        "effective_rank_singular": float(np.exp(-(q * np.log(q)).sum())),
        "stable_rank": float(lam.sum() / lam[0]),
    }


def participation_ratio(X, *, center: bool = True, device=None) -> float:
    r"""PCA participation ratio :math:`(\sum_i\lambda_i)^2/\sum_i\lambda_i^2`, in [1, rank].

    It is :math:`\exp` of the Renyi-2 entropy of :math:`p_i = \lambda_i/\sum\lambda`; for
    d isotropic directions it is d.

    References:
        Gao, Trautmann, Yu et al. (2017), "A theory of multineuronal dimensionality",
        eq. (1); Recanatesi et al. (2022).

    Examples:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).standard_normal((20000, 3)) @ np.eye(3, 8)
        >>> round(participation_ratio(X), 2)
        3.0
    """
    lam = covariance_eigenvalues(X, center=center, device=device)
    return spectrum_statistics(lam)["participation_ratio"]


def effective_rank(X, kind: str = "singular", *, center: bool = True, device=None) -> float:
    r"""Effective rank :math:`\exp(-\sum_i p_i\log p_i)`.

    ``kind="singular"`` (Roy & Vetterli 2007, Def. 1): :math:`p_i = \sigma_i/\sum_j\sigma_j`;
    ``kind="eigen"`` (the variant of many deep-learning papers): :math:`p_i \propto
    \lambda_i = \sigma_i^2`, i.e. :math:`\exp` of the spectral entropy.

    References:
        Roy & Vetterli, EUSIPCO 2007, Def. 1 and Sec. 2.
    """
    if kind not in ("singular", "eigen"):
        raise ConfigError(f"kind must be 'singular' or 'eigen'; got {kind!r}")
    stats = spectrum_statistics(covariance_eigenvalues(X, center=center, device=device))
    return stats[f"effective_rank_{kind}"]


def stable_rank(X, *, center: bool = True, device=None) -> float:
    r"""Stable rank :math:`\|X_c\|_F^2/\|X_c\|_2^2 = \sum_i\sigma_i^2/\sigma_{max}^2`.

    References: Rudelson & Vershynin, J. ACM 54 (2007), Sec. 1.4.
    """
    return spectrum_statistics(covariance_eigenvalues(X, center=center, device=device))[
        "stable_rank"
    ]


def spectral_entropy(X, *, center: bool = True, device=None) -> float:
    r"""Von Neumann entropy :math:`-\sum_i p_i\log p_i`, :math:`p_i = \lambda_i/\sum\lambda`
    (natural log); :math:`e^H \ge` the participation ratio."""
    return spectrum_statistics(covariance_eigenvalues(X, center=center, device=device))[
        "spectral_entropy"
    ]


class ParticipationRatio:
    r"""The participation ratio as a scikit-learn-style estimator: ``fit(X).dimension_``.

    Equals scikit-dimension ``lPCA(ver="participation_ratio")`` (same centred
    covariance spectrum).

    Attributes:
        dimension_: :math:`(\sum\lambda)^2/\sum\lambda^2`.
        eigenvalues_: the descending covariance eigenvalues.
    """

    def __init__(self, *, center: bool = True, device=None) -> None:
        self.center = center
        self.device = device

    def fit(self, X, y=None) -> ParticipationRatio:
        del y
        self.eigenvalues_ = covariance_eigenvalues(X, center=self.center, device=self.device)
        self.dimension_ = spectrum_statistics(self.eigenvalues_)["participation_ratio"]
        return self

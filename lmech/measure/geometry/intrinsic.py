r"""Intrinsic dimension from nearest-neighbour distances: TwoNN, Levina-Bickel MLE, local ID.

Estimators follow scikit-learn: ``__init__`` stores parameters, ``fit(X)`` returns
``self`` and sets ``dimension_`` (and ``n_samples_``, the points used);
``fit_transform(X)`` returns the per-point estimates ``dimension_pw_`` where the
estimator has them. ``X`` is an (n, D) numpy array or torch tensor; the computation runs
in float64 on ``device`` (default: the tensor's device, else CPU).

Duplicate points (nearest-neighbour distance 0) make every ratio estimator infinite:
``duplicates="raise"`` (default) refuses them, ``duplicates="drop"`` keeps one copy of
each distinct point (``n_samples_`` then says how many were used).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lmech.errors import ConfigError, InputError
from lmech.measure.geometry._input import as_matrix, to_numpy
from lmech.measure.geometry._knn import drop_duplicates, knn_distances

__all__ = ["TwoNN", "LevinaBickel", "LocalID"]

_DUPLICATES = ("raise", "drop")


def _check_duplicates(duplicates: str) -> None:
    if duplicates not in _DUPLICATES:
        raise ConfigError(f"duplicates must be one of {_DUPLICATES}; got {duplicates!r}")


def _prepare(X, device, duplicates: str, min_rows: int) -> torch.Tensor:
    _check_duplicates(duplicates)
    T = as_matrix(X, "X", device=device, min_rows=1)
    if duplicates == "drop":
        T = drop_duplicates(T)
    if T.shape[0] < min_rows:
        distinct = " distinct" if duplicates == "drop" else ""
        raise InputError(
            f"X has {T.shape[0]}{distinct} points but the estimator needs at least "
            f"{min_rows}; pass more points or use fewer neighbours"
        )
    return T


class TwoNN:
    r"""TwoNN intrinsic dimension (Facco et al. 2017).

    With :math:`\mu_i = r_2(x_i)/r_1(x_i)` (second over first nearest-neighbour distance),
    local uniformity gives :math:`\mu \sim \mathrm{Pareto}(1, d)`,
    :math:`F(\mu) = 1 - \mu^{-d}`. Sort the N ratios, keep the smallest
    :math:`m = \lfloor N (1 - f) \rfloor` (``discard_fraction`` f), and

    - ``method="linear"`` (the paper's Fig. 1 fit): d is the slope of the least-squares
      line through the origin of :math:`-\log(1 - i/N)` against :math:`\log\mu_{(i)}`,
      i = 1..m;
    - ``method="mle"``: the maximum-likelihood d of a Pareto sample right-censored at
      :math:`\mu_{(m)}`, :math:`d = (m - 1) / (\sum_{i\le m}\log\mu_{(i)} + (N - m)\log\mu_{(m)})`;
      with f = 0 this is :math:`(N - 1)/\sum_i \log\mu_i`, the unbiased Pareto estimator.

    Both conventions (i/N with N counting the discarded points; m - 1 in the censored
    MLE) are those of scikit-dimension 0.5 ``skdim.id.TwoNN``, so the two agree to
    round-off on the same points.

    Attributes:
        dimension_: the estimate.
        mu_: (N,) the ratios r_2/r_1, in point order.
        n_samples_: N, the points used.

    References:
        Facco, d'Errico, Rodriguez, Laio, Sci. Rep. 7, 12140 (2017), eqs. (1)-(4), Fig. 1.

    Examples:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).uniform(size=(4000, 3))
        >>> round(TwoNN().fit(X).dimension_)
        3
    """

    def __init__(
        self,
        discard_fraction: float = 0.1,
        method: str = "linear",
        *,
        duplicates: str = "raise",
        device=None,
    ) -> None:
        self.discard_fraction = discard_fraction
        self.method = method
        self.duplicates = duplicates
        self.device = device

    def fit(self, X, y=None) -> TwoNN:
        del y
        if self.method not in ("linear", "mle"):
            raise ConfigError(f"method must be 'linear' or 'mle'; got {self.method!r}")
        f = self.discard_fraction
        lo_ok = f > 0 if self.method == "linear" else f >= 0
        if not (isinstance(f, (int, float)) and math.isfinite(f) and lo_ok and f < 1):
            raise ConfigError(
                f"discard_fraction must be in {'(0' if self.method == 'linear' else '[0'}, 1) "
                f"for method={self.method!r}; got {f!r} (the linear fit needs the largest "
                "ratio dropped: -log(1 - N/N) is infinite)"
            )
        T = _prepare(X, self.device, self.duplicates, 3)
        r = knn_distances(T, 2, duplicates="raise")
        mu = r[:, 1] / r[:, 0]  # (N,) >= 1
        N = mu.shape[0]
        m = int(N * (1 - f))
        if m < 2:
            raise InputError(
                f"TwoNN keeps {m} of {N} ratios after discarding {f:.0%}; it needs at "
                "least 2: pass more points or a smaller discard_fraction"
            )
        log_mu = torch.log(torch.sort(mu).values[:m])  # (m,)
        if self.method == "mle":
            denom = log_mu.sum() + (N - m) * log_mu[-1]
        else:
            i = torch.arange(1, m + 1, dtype=mu.dtype, device=mu.device)
            y_ = -torch.log1p(-i / N)  # -log(1 - F_emp)
            denom = (log_mu * log_mu).sum()
        if not float(denom) > 0:
            raise InputError(
                "TwoNN: every kept ratio r2/r1 is 1 (each point's two nearest neighbours "
                "are equidistant, e.g. a lattice); the dimension is not identifiable here"
            )
        if self.method == "mle":
            d = (m - 1) / denom
        else:
            d = (log_mu * y_).sum() / denom
        self.mu_ = to_numpy(mu)
        self.n_samples_ = N
        self.dimension_ = float(d)
        return self


class LevinaBickel:
    r"""Maximum-likelihood intrinsic dimension (Levina & Bickel 2005), MacKay-Ghahramani
    averaging.

    With :math:`T_1 \le \dots \le T_k` the distances from x to its k nearest neighbours,

    .. math:: \hat m_k(x) = \Big[\frac{1}{k - 1}\sum_{j=1}^{k-1}
              \log\frac{T_k(x)}{T_j(x)}\Big]^{-1}

    (``unbiased=True``: k - 2 in place of k - 1, the unbiased form of the same paper,
    Sec. 3). Per k the points are combined by ``comb``:

    - ``"harmonic"`` (default; MacKay & Ghahramani 2005): the inverse of the mean of
      :math:`1/\hat m_k(x)`;
    - ``"mean"``: Levina & Bickel's plain mean; ``"median"``.

    Over a range ``n_neighbors = (k1, k2)`` the estimates for k = k1..k2 are averaged
    (Levina & Bickel eq. (10)); an int k uses that k alone.

    With an int k, ``comb="harmonic"``, and ``unbiased`` matching, this equals
    scikit-dimension 0.5 ``skdim.id.MLE()`` (``dnoise=None, sigma=0``) with
    ``fit(X, n_neighbors=k, comb="mle")`` (Haro et al. 2008's estimator without noise).

    Attributes:
        dimension_: the estimate.
        dimension_pw_: (N,) per-point :math:`\hat m(x)`, averaged over the k range.
        n_samples_: N, the points used.

    References:
        Levina & Bickel, NIPS 17 (2005), eqs. (8)-(10); MacKay & Ghahramani, "Comments on
        'Maximum likelihood estimation of intrinsic dimension'" (2005).

    Examples:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).standard_normal((3000, 4))
        >>> round(LevinaBickel(n_neighbors=(10, 20)).fit(X).dimension_)
        4
    """

    def __init__(
        self,
        n_neighbors: int | tuple[int, int] = 20,
        comb: str = "harmonic",
        unbiased: bool = False,
        *,
        duplicates: str = "raise",
        device=None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.comb = comb
        self.unbiased = unbiased
        self.duplicates = duplicates
        self.device = device

    def _k_range(self) -> tuple[int, int]:
        k = self.n_neighbors
        lo, hi = (k, k) if isinstance(k, (int, np.integer)) else tuple(k)
        least = 3 if self.unbiased else 2
        if isinstance(lo, bool) or isinstance(hi, bool) or not (least <= int(lo) <= int(hi)):
            raise ConfigError(
                f"n_neighbors must be an int >= {least} or a range (k1, k2) with "
                f"{least} <= k1 <= k2; got {k!r}"
            )
        return int(lo), int(hi)

    def fit(self, X, y=None) -> LevinaBickel:
        del y
        if self.comb not in ("harmonic", "mean", "median"):
            raise ConfigError(f"comb must be 'harmonic', 'mean' or 'median'; got {self.comb!r}")
        k1, k2 = self._k_range()
        T = _prepare(X, self.device, self.duplicates, k2 + 1)
        logr = torch.log(knn_distances(T, k2, duplicates="raise"))  # (N, k2)
        csum = torch.cumsum(logr, dim=1)  # sum_{j<=k} log T_j
        global_est, pointwise = [], []
        for k in range(k1, k2 + 1):
            # sum_{j<k} log(T_k / T_j) = (k - 1) log T_k - sum_{j<k} log T_j
            s = (k - 1) * logr[:, k - 1] - csum[:, k - 2]
            if bool((s <= 0).any()):
                raise InputError(
                    f"{int((s <= 0).sum())} points have their {k} nearest neighbours all "
                    "at one distance; the MLE is infinite there; jitter or deduplicate X"
                )
            mk = (k - 2 if self.unbiased else k - 1) / s  # (N,)
            pointwise.append(mk)
            if self.comb == "harmonic":
                global_est.append(1.0 / (1.0 / mk).mean())
            elif self.comb == "mean":
                global_est.append(mk.mean())
            else:
                global_est.append(mk.median())
        self.dimension_pw_ = to_numpy(torch.stack(pointwise).mean(dim=0))
        self.dimension_ = float(torch.stack(global_est).mean())
        self.n_samples_ = T.shape[0]
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X, y).dimension_pw_


class LocalID:
    r"""Per-point local intrinsic dimensionality, the MLE of Amsaleg et al. (2015).

    .. math:: \mathrm{LID}(x) = -\Big[\frac{1}{k}\sum_{i=1}^{k}\log\frac{r_i(x)}{r_k(x)}\Big]^{-1}

    with :math:`r_i` the distance to the i-th nearest neighbour (Ma et al. 2018, eq. (3)).
    It differs from :class:`LevinaBickel` by the normalization (1/k, whose i = k term is
    zero, against 1/(k - 1)): LID = k/(k - 1) times the Levina-Bickel :math:`\hat m_k`.
    ``dimension_`` is the mean over points (``comb="mean"``) or the harmonic mean.

    References:
        Amsaleg et al., KDD 2015, Sec. 3 (MLE); Ma et al., ICLR 2018, eq. (3).
    """

    def __init__(
        self, n_neighbors: int = 20, comb: str = "mean", *, duplicates: str = "raise", device=None
    ) -> None:
        self.n_neighbors = n_neighbors
        self.comb = comb
        self.duplicates = duplicates
        self.device = device

    def fit(self, X, y=None) -> LocalID:
        del y
        k = self.n_neighbors
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
            raise ConfigError(f"n_neighbors must be an int >= 2; got {k!r}")
        if self.comb not in ("mean", "harmonic"):
            raise ConfigError(f"comb must be 'mean' or 'harmonic'; got {self.comb!r}")
        T = _prepare(X, self.device, self.duplicates, int(k) + 1)
        logr = torch.log(knn_distances(T, int(k), duplicates="raise"))
        s = (logr[:, -1:] - logr).sum(dim=1)  # sum_i log(r_k / r_i)
        if bool((s <= 0).any()):
            raise InputError(
                f"{int((s <= 0).sum())} points have their {k} nearest neighbours all at one "
                "distance; LID is infinite there; jitter or deduplicate X"
            )
        lid = int(k) / s
        self.dimension_pw_ = to_numpy(lid)
        self.dimension_ = float(lid.mean() if self.comb == "mean" else 1.0 / (1.0 / lid).mean())
        self.n_samples_ = T.shape[0]
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X, y).dimension_pw_

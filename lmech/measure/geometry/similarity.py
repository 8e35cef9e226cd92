r"""Representation similarity: CKA (linear, kernel, debiased, minibatch), CCA, SVCCA,
PWCCA and the angular Procrustes distance.

X (n, p1) and Y (n, p2) are two representations of the same n inputs (row i of both is
input i); numpy arrays or torch tensors, computed in float64 on ``device`` (default: the
device of a tensor X, else CPU).

- :func:`linear_cka`: Kornblith et al. (2019) eq. (4) in feature space,
  :math:`\|Y_c^TX_c\|_F^2/(\|X_c^TX_c\|_F\|Y_c^TY_c\|_F)`: O(n p1 p2) time, O(p1 p2 +
  p1^2 + p2^2) memory, rows taken in chunks, no n x n matrix. ``debiased=True`` uses the
  unbiased HSIC (Song et al. 2012) in its feature-space form.
- :func:`kernel_cka` / :func:`rbf_cka`: CKA of two Gram matrices (n x n, memory checked).
- :class:`MinibatchCKA`: Nguyen, Raghu & Kornblith (2021) eq. (2): HSIC_u averaged over
  minibatches, then the ratio (never the mean of per-batch ratios).
- :func:`cca`, :func:`svcca`, :func:`pwcca`, :func:`procrustes_distance`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from lmech._memory import check_allocation
from lmech.errors import ConfigError, InputError
from lmech.measure.geometry._input import as_matrix, centre, resolve_device, to_numpy
from lmech.measure.geometry.streaming import StreamingCKA, _ratio

__all__ = [
    "linear_cka",
    "hsic",
    "kernel_cka",
    "rbf_gram",
    "rbf_cka",
    "MinibatchCKA",
    "cca",
    "svcca",
    "pwcca",
    "procrustes_distance",
]

_CHUNK = 8192  # rows converted to float64 at a time in linear_cka


def _rows(X) -> int:
    if not hasattr(X, "shape") or len(X.shape) != 2:
        raise InputError(
            "a representation must be a 2-D (n samples, p features) numpy array or torch "
            f"tensor; got {type(X).__name__} with shape {getattr(X, 'shape', None)}"
        )
    return int(X.shape[0])


def _same_n(X, Y) -> int:
    n, m = _rows(X), _rows(Y)
    if n != m:
        raise InputError(
            f"X and Y must be representations of the same inputs (same number of rows); got "
            f"{n} and {m} rows; align them so that row i of both is input i"
        )
    return n


def linear_cka(X, Y, *, debiased: bool = False, device=None) -> float:
    r"""Linear CKA between X (n, p1) and Y (n, p2).

    .. math:: \mathrm{CKA}(X, Y) = \frac{\|Y_c^T X_c\|_F^2}{\|X_c^T X_c\|_F\,\|Y_c^T Y_c\|_F}

    With ``debiased=True`` each of the three HSICs is the unbiased estimator (needs n >= 4,
    can be slightly negative for unrelated representations):
    :math:`\|X_c^TY_c\|_F^2 - \frac{n}{n-2} r_x\cdot r_y + \frac{s_x s_y}{(n-1)(n-2)}`
    with :math:`r` the row squared norms of the centred features and :math:`s = \sum r`.

    Two passes over the rows in chunks of 8192 (means, then centred sums): X and Y are
    never copied whole to float64.

    Raises:
        InputError: different numbers of rows, NaN/inf, fewer than 2 (biased) or 4
            (debiased) rows, or a constant representation (CKA is 0/0).

    References:
        Kornblith, Norouzi, Lee, Hinton, ICML 2019, eqs. (3)-(4) and Sec. 3;
        Song et al., JMLR 13 (2012), Theorem 1 (unbiased HSIC).

    Examples:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).standard_normal((500, 10))
        >>> Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((10, 10)))
        >>> round(linear_cka(X, 3.0 * X @ Q), 12)
        1.0
    """
    n = _same_n(X, Y)
    dev = resolve_device(X, device)
    means = []
    for name, Z in (("X", X), ("Y", Y)):
        total = None
        for i in range(0, max(n, 1), _CHUNK):
            c = as_matrix(Z[i : i + _CHUNK], name, device=dev).sum(dim=0)
            total = c if total is None else total + c
        means.append(total / max(n, 1))
    acc = StreamingCKA(means[0], means[1], device=dev)
    for i in range(0, n, _CHUNK):
        acc.update(X[i : i + _CHUNK], Y[i : i + _CHUNK])
    return acc.cka(debiased=debiased)


def _gram_check(K, name: str, dev) -> torch.Tensor:
    T = as_matrix(K, name, device=dev)
    if T.shape[0] != T.shape[1]:
        raise InputError(f"{name} must be a square n x n Gram matrix; got shape {tuple(T.shape)}")
    return T


def hsic(K, L, *, debiased: bool = False, device=None) -> float:
    r"""HSIC of two n x n Gram matrices.

    Biased: :math:`\mathrm{tr}(KHLH)/(n-1)^2`. Debiased (Song et al. 2012, Theorem 1),
    with :math:`\tilde K, \tilde L` the Grams with zeroed diagonals:

    .. math:: \frac{1}{n(n-3)}\Big[\mathrm{tr}(\tilde K\tilde L)
        + \frac{1^T\tilde K1\,1^T\tilde L1}{(n-1)(n-2)} - \frac{2}{n-2}1^T\tilde K\tilde L1\Big]
    """
    dev = resolve_device(K, device)
    Kt, Lt = _gram_check(K, "K", dev), _gram_check(L, "L", dev)
    n = _same_n(Kt, Lt)
    if debiased:
        if n < 4:
            raise InputError(f"the unbiased HSIC needs n >= 4 samples; got {n}")
        Kt, Lt = Kt.clone(), Lt.clone()
        Kt.fill_diagonal_(0.0)
        Lt.fill_diagonal_(0.0)
        k1, l1 = Kt.sum(dim=1), Lt.sum(dim=1)
        v = (
            (Kt * Lt.T).sum()
            + k1.sum() * l1.sum() / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (k1 @ l1)
        )
        return float(v / (n * (n - 3)))
    if n < 2:
        raise InputError(f"HSIC needs n >= 2 samples; got {n}")
    Kc = Kt - Kt.mean(dim=0, keepdim=True)
    Kc = Kc - Kc.mean(dim=1, keepdim=True)  # H K H
    return float((Kc * Lt.T).sum() / (n - 1) ** 2)  # tr(HKH L) = tr(KHLH)


def kernel_cka(K, L, *, debiased: bool = False, device=None) -> float:
    """CKA of two Gram matrices: HSIC(K, L)/sqrt(HSIC(K, K) HSIC(L, L)) (Kornblith et al.
    2019, eq. (2))."""
    dev = resolve_device(K, device)
    Kt, Lt = _gram_check(K, "K", dev), _gram_check(L, "L", dev)
    _same_n(Kt, Lt)
    return _ratio(
        hsic(Kt, Lt, debiased=debiased),
        hsic(Kt, Kt, debiased=debiased),
        hsic(Lt, Lt, debiased=debiased),
        debiased,
    )


def rbf_gram(X, sigma_fraction: float = 0.8, *, device=None) -> np.ndarray | torch.Tensor:
    r"""RBF Gram :math:`k(x, y) = \exp(-|x - y|^2/(2\sigma^2))` with :math:`\sigma` =
    ``sigma_fraction`` x the median distance over pairs of rows (Kornblith et al.
    2019, Sec. 3, who used 0.2, 0.4 and 0.8). Returns a float64 torch tensor."""
    if not (
        isinstance(sigma_fraction, (int, float))
        and math.isfinite(sigma_fraction)
        and sigma_fraction > 0
    ):
        raise ConfigError(f"sigma_fraction must be a positive number; got {sigma_fraction!r}")
    T = as_matrix(X, "X", device=device, min_rows=2)
    n = T.shape[0]
    check_allocation(
        3 * 8 * n * n,
        f"the ({n}, {n}) RBF Gram matrix",
        "use fewer samples or linear_cka (feature space)",
        device=T.device,
    )
    Xc = centre(T, "X")
    sq = (Xc * Xc).sum(dim=1)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * Xc @ Xc.T).clamp_min_(0.0)
    iu = torch.triu_indices(n, n, 1, device=T.device)
    dist = torch.sort(torch.sqrt(d2[iu[0], iu[1]])).values  # the n(n-1)/2 pair distances
    m = dist.shape[0]
    med = 0.5 * (dist[(m - 1) // 2] + dist[m // 2])  # numpy's median (mean of the middle two)
    if not float(med) > 0:
        raise InputError(
            "the median distance between rows of X is 0 (most rows coincide); the RBF "
            "bandwidth is undefined; deduplicate X or use linear_cka"
        )
    sigma = sigma_fraction * med
    return torch.exp(-d2 / (2.0 * sigma * sigma))


def rbf_cka(X, Y, sigma_fraction: float = 0.8, *, debiased: bool = False, device=None) -> float:
    """CKA with RBF kernels on X and Y (bandwidth: :func:`rbf_gram`); O(n^2) memory."""
    _same_n(X, Y)
    dev = resolve_device(X, device)
    K = rbf_gram(X, sigma_fraction, device=dev)
    L = rbf_gram(Y, sigma_fraction, device=dev)
    return kernel_cka(K, L, debiased=debiased)


class MinibatchCKA:
    r"""Minibatch linear CKA (Nguyen, Raghu & Kornblith, ICLR 2021, eq. (2)).

    Each ``update(X_batch, Y_batch)`` (batch size >= 4) adds the unbiased HSIC_u of the
    batch for (X, Y), (X, X) and (Y, Y); :meth:`cka` is
    :math:`\overline{\mathrm{HSIC}_u(K, L)}/\sqrt{\overline{\mathrm{HSIC}_u(K, K)}\,
    \overline{\mathrm{HSIC}_u(L, L)}}`, the ratio of the batch means. Because HSIC_u is a
    U-statistic, its mean over all size-b subsets of a data set equals HSIC_u of the
    whole set, so over many random batches this converges to the full-data debiased CKA.
    :attr:`values_` keeps the per-batch triples (for standard errors).
    """

    def __init__(self, *, device=None) -> None:
        self.device = device
        self.values_: list[tuple[float, float, float]] = []

    def update(self, X, Y) -> MinibatchCKA:
        acc = StreamingCKA(device=self.device).update(X, Y)
        if acc.n < 4:
            raise InputError(f"minibatch CKA needs batches of at least 4 rows; got {acc.n}")
        xy, xx, yy = acc.hsic(debiased=True)
        scale = acc.n * (acc.n - 3)
        self.values_.append((xy / scale, xx / scale, yy / scale))
        return self

    def hsic(self) -> np.ndarray:
        """(3,) the batch means of HSIC_u(X, Y), HSIC_u(X, X), HSIC_u(Y, Y)."""
        if not self.values_:
            raise InputError("MinibatchCKA has no batches yet; call update(X_batch, Y_batch)")
        return np.asarray(self.values_, dtype=np.float64).mean(axis=0)

    def cka(self) -> float:
        xy, xx, yy = self.hsic()
        return _ratio(xy, xx, yy, True)


def _basis(Xc: torch.Tensor, name: str, variance: float | None = None):
    """(U, s): left singular vectors of Xc with non-negligible singular values (all, or
    the fewest explaining ``variance`` of the total)."""
    U, s, Vh = torch.linalg.svd(Xc, full_matrices=False)
    keep = s > 1e-10 * s[0]
    if variance is not None:
        frac = torch.cumsum(s * s, 0) / (s * s).sum()
        k = (
            int(
                torch.searchsorted(
                    frac, torch.tensor(variance, dtype=frac.dtype, device=frac.device)
                )
            )
            + 1
        )
        keep &= torch.arange(s.shape[0], device=s.device) < k
    r = int(keep.sum())
    n = Xc.shape[0]
    if r >= n - 1:
        raise InputError(
            f"CCA is degenerate: {name} spans {r} directions with n = {n} samples (rank >= "
            "n - 1), so every canonical correlation is 1; use n >> p, SVD truncation "
            "(svcca) or fewer features"
        )
    return U[:, :r], s[:r], Vh[:r]


def _pair(X, Y, device):
    _same_n(X, Y)
    dev = resolve_device(X, device)
    Tx = as_matrix(X, "X", device=dev, min_rows=3)
    Ty = as_matrix(Y, "Y", device=dev, min_rows=3)
    return centre(Tx, "X"), centre(Ty, "Y")


def cca(X, Y, *, device=None) -> np.ndarray:
    r"""Canonical correlations :math:`\rho_1 \ge \rho_2 \ge \dots`: the singular values
    of :math:`Q_x^TQ_y` with :math:`Q` orthonormal bases of the centred column spaces.

    Raises:
        InputError: a representation of rank >= n - 1 (every rho would be 1).

    References: Hotelling (1936); Raghu et al., NeurIPS 2017, Sec. 2.
    """
    Xc, Yc = _pair(X, Y, device)
    Ux, _, _ = _basis(Xc, "X")
    Uy, _, _ = _basis(Yc, "Y")
    rho = torch.linalg.svdvals(Ux.T @ Uy).clamp(0.0, 1.0)
    return to_numpy(rho)


def svcca(X, Y, variance: float = 0.99, *, device=None) -> float:
    """SVCCA (Raghu et al. 2017, Sec. 2): keep the fewest top singular directions of each
    representation explaining ``variance`` of its variance, then the mean canonical
    correlation."""
    if not (isinstance(variance, (int, float)) and 0 < variance <= 1):
        raise ConfigError(f"variance must be in (0, 1]; got {variance!r}")
    Xc, Yc = _pair(X, Y, device)
    Ux, _, _ = _basis(Xc, "X", variance)
    Uy, _, _ = _basis(Yc, "Y", variance)
    return float(torch.linalg.svdvals(Ux.T @ Uy).clamp(0.0, 1.0).mean())


def pwcca(X, Y, *, device=None) -> float:
    r"""Projection-weighted CCA (Morcos, Raghu & Bengio, NeurIPS 2018, Sec. 2.3):
    :math:`\sum_i \alpha_i\rho_i` with :math:`\alpha_i \propto \sum_j|\langle h_i,
    x_j\rangle|`, :math:`h_i` the unit canonical variates of X and :math:`x_j` its centred
    neuron activation vectors (columns). A similarity in [0, 1]; Morcos et al.'s distance
    is 1 minus it."""
    Xc, Yc = _pair(X, Y, device)
    Ux, _, _ = _basis(Xc, "X")
    Uy, _, _ = _basis(Yc, "Y")
    A, rho, _ = torch.linalg.svd(Ux.T @ Uy, full_matrices=False)
    H = Ux @ A  # (n, r) unit-norm canonical variates of X
    alpha = (H.T @ Xc).abs().sum(dim=1)  # (r,)
    return float((alpha / alpha.sum() * rho.clamp(0.0, 1.0)).sum())


def procrustes_distance(X, Y, *, device=None) -> float:
    r"""Angular Procrustes distance (Williams et al., NeurIPS 2021, eq. (5), alpha = 1):

    .. math:: \arccos\frac{\|X_c^TY_c\|_*}{\|X_c\|_F\|Y_c\|_F} \in [0, \pi/2],

    the angle left after the best rotation of one (column-padded) representation onto the
    other; 0 iff Y_c = c X_c Q with Q orthogonal, c > 0."""
    Xc, Yc = _pair(X, Y, device)
    nuc = torch.linalg.svdvals(Xc.T @ Yc).sum()
    cos = float(nuc / (torch.linalg.matrix_norm(Xc) * torch.linalg.matrix_norm(Yc)))
    if cos > 1 + 1e-9:
        warnings.warn(
            f"Procrustes cosine {cos!r} exceeds 1 beyond round-off", RuntimeWarning, stacklevel=2
        )
    return float(math.acos(min(1.0, max(-1.0, cos))))

r"""The Hermite eigenstructure ansatz (HEA): a kernel's eigensystem from data statistics.

For a rotation-invariant kernel on data with covariance :math:`\Sigma = U \Gamma U^\top`
(Karkada, Turnbull, Liu, Simon 2025, arXiv 2510.14878), the kernel is replaced by its
dot-product expansion on the shell :math:`|x|^2 = q = \operatorname{Tr}\Sigma`,

.. math:: K(x, x') \approx f(u) = \sum_l \frac{c_l}{l!} u^l, \qquad u = x^\top x' / q,

and its eigenpairs are predicted for each multi-index :math:`\alpha \in \mathbb N^d` as

.. math:: \lambda_\alpha = c_{|\alpha|} \prod_i \tilde\gamma_i^{\alpha_i}, \qquad
          \phi_\alpha(x) = \prod_i h_{\alpha_i}(z_i),

with :math:`\tilde\gamma_i = \gamma_i / q` (normalized so that they sum to 1),
:math:`z_i = u_i^\top x / \sqrt{\gamma_i}` the whitened PCA coordinates and
:math:`h_k = He_k / \sqrt{k!}` the orthonormal probabilists' Hermite polynomials.

Conventions here: the level coefficients :math:`c_l = f^{(l)}(0)` are derivatives of the
on-shell kernel in the *normalized* variable u (the reference's units with sum gamma = 1;
raw-unit coefficients are :math:`c_l q^{-l}`). They are computed exactly by truncated
power-series arithmetic, not by numerical differentiation:

- Gaussian ``RBF(sigma)``: :math:`f(u) = e^{-q/\sigma^2} e^{q u/\sigma^2}`, so
  :math:`c_l = e^{-1/s} s^{-l}` with :math:`s = \sigma^2 / q`;
- ``Laplace(sigma)`` (lmech's :math:`e^{-|x-x'|/\sigma}`): :math:`f(u) = e^{-\sqrt{1-u}/s}`
  with :math:`s = \sigma / \sqrt{2q}`, whose derivatives are
  :math:`e^{-1/s} B_{l-1}(s) / (2s)^l` (Bessel polynomials). The series of
  :math:`\sqrt{1-u}` has radius 1 at u = 1 and the :math:`c_l` grow super-exponentially:
  treat it as an asymptotic series and keep ``max_degree`` small (the default for Laplace
  is 6, stated in :func:`level_coefficients`);
- ``Polynomial``/``Linear``: binomial coefficients, exactly;
- ReLU :class:`~lmech.kernels.infinite.NNGP` / :class:`~lmech.kernels.infinite.NTK`
  (NTK parameterization, any depth, weight/bias stds per layer): the layer recursion of
  :mod:`lmech.kernels.infinite` run on power series in u, with the arc-cosine functions
  expanded around each layer's orthogonal-input correlation.

The enumeration (:func:`hea_modes`) returns the top ``num_modes`` eigenvalues in
decreasing order without materializing all multi-indices: one best-first frontier per
degree, merged in a single heap (correct for any :math:`c_l`, even when a higher degree
outranks a lower one).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import qr, solve_triangular
from scipy.linalg.lapack import dtrcon

from lmech.errors import InputError

__all__ = [
    "DEFAULT_MAX_DEGREE",
    "HEAModes",
    "effective_dimension",
    "hea_modes",
    "hermite_features",
    "kernel_series",
    "level_coefficients",
    "target_coefficients",
]

DEFAULT_MAX_DEGREE = 10
#: Highest Hermite degree accepted: the series has one term per degree and the mode table
#: one column; c_l of the Laplace kernel grows like l!, so far lower degrees are useful.
MAX_DEGREE = 256
LAPLACE_MAX_DEGREE = 6  # the Laplace expansion is asymptotic: c_l grows like l!
# target_coefficients takes the Cholesky path when LAPACK's estimate of cond(L) is below
# 1e5 (cond(G) = cond(L)^2 < 1e10: the coefficients keep ~6 digits); else Householder QR
_CHOLESKY_MIN_RCOND = 1e-5


# -- truncated power series in u (coefficient arrays of length D + 1) ---------------------


def _mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.convolve(a, b)[: a.size]


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """sum_k outer[k] * delta^k where delta = inner - inner[0] (zero constant term)."""
    delta = inner.copy()
    delta[0] = 0.0
    out = np.zeros_like(inner)
    power = np.zeros_like(inner)
    power[0] = 1.0
    for k in range(inner.size):
        out += outer[k] * power
        power = _mul(power, delta)
    return out


def _exp(a: np.ndarray) -> np.ndarray:
    """exp of a power series: e' = a' e, solved term by term."""
    e = np.zeros_like(a)
    e[0] = math.exp(a[0])
    da = np.arange(a.size) * a  # k a_k: coefficients of u a'(u), shifted
    for k in range(1, a.size):
        e[k] = np.dot(da[1 : k + 1], e[k - 1 :: -1][:k]) / k
    return e


def _inverse_sqrt_one_minus_square(c0: float, size: int) -> np.ndarray:
    """Taylor coefficients of (1 - c^2)^{-1/2} around c0 (|c0| < 1), in powers of c - c0.

    From (1 - c^2) h' = c h: a_{k+1} = ((2k + 1) c0 a_k + k a_{k-1}) / ((1 - c0^2)(k + 1)).
    """
    a = np.zeros(size)
    a[0] = 1.0 / math.sqrt(1.0 - c0 * c0)
    for k in range(size - 1):
        prev = a[k - 1] if k >= 1 else 0.0
        a[k + 1] = ((2 * k + 1) * c0 * a[k] + k * prev) / ((1.0 - c0 * c0) * (k + 1))
    return a


def _arccos_series(c0: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Taylor coefficients around c0 of F(c) = sqrt(1 - c^2) + (pi - arccos c) c (the ReLU
    arc-cosine function of degree 1) and G(c) = pi - arccos c (degree 0); F' = G,
    G' = (1 - c^2)^{-1/2}."""
    h = _inverse_sqrt_one_minus_square(c0, size)
    g = np.zeros(size)
    g[0] = math.pi - math.acos(c0)
    g[1:] = h[: size - 1] / np.arange(1, size)
    f = np.zeros(size)
    f[0] = math.sqrt(1.0 - c0 * c0) + g[0] * c0
    f[1:] = g[: size - 1] / np.arange(1, size)
    return f, g


def _relu_network_series(kernel, trace: float, d: int, size: int) -> np.ndarray:
    """Power series in u of a ReLU NNGP/NTK on the shell |x|^2 = |x'|^2 = trace."""
    from lmech.kernels.infinite import NTK

    ntk = isinstance(kernel, NTK)
    w2, b2 = kernel._w2, kernel._b2
    sigma = np.zeros(size)
    sigma[0] = b2[0]
    if size > 1:
        sigma[1] = w2[0] * trace / d  # Sigma^0 = w^2 q u / d + b^2
    diag = w2[0] * trace / d + b2[0]  # Sigma^0(x, x)
    theta = sigma.copy()
    for layer in range(1, kernel.depth + 1):
        rho = sigma / diag
        c0 = float(rho[0])
        if not -1.0 < c0 < 1.0:
            raise InputError(
                f"the HEA series of this network needs orthogonal inputs to be less than "
                f"perfectly correlated at layer {layer}; got correlation {c0!r} (bias too large "
                "relative to the weights)"
            )
        f, g = _arccos_series(c0, size)
        e = diag * _compose(f, rho) / (2 * math.pi)  # E[phi(u) phi(u')]
        dot = _compose(g, rho) / (2 * math.pi)  # E[phi'(u) phi'(u')]
        if ntk:
            theta = w2[layer] * _mul(dot, theta)
        sigma = w2[layer] * e
        sigma[0] += b2[layer]
        diag = w2[layer] * diag / 2.0 + b2[layer]  # E[phi(u)^2] = q / 2 for ReLU
        if ntk:
            theta = theta + sigma
    return theta if ntk else sigma


def kernel_series(kernel, trace: float, max_degree: int, *, dimension: int | None = None):
    r"""Taylor coefficients :math:`f^{(l)}(0)/l!`, l = 0..max_degree, of the on-shell kernel.

    :math:`f(u) = K(x, x')` for :math:`|x|^2 = |x'|^2 = q` (``trace``) and
    :math:`x^\top x' = q u`.

    Args:
        kernel: an lmech kernel: ``RBF``, ``Laplace``, ``Polynomial``, ``Linear``, or a
            ReLU ``NNGP``/``NTK`` in NTK parameterization.
        trace: q = Tr(Sigma) = E|x - mean|^2 > 0.
        max_degree: highest power of u kept.
        dimension: the input dimension d (the networks' input kernel is x.x'/d; and the
            ``Polynomial`` kernel's default scale is 1/d).

    Raises:
        InputError: a kernel without an HEA expansion here, or bad trace/degree.
    """
    from lmech.kernels.base import RBF, Laplace, Linear, Polynomial
    from lmech.kernels.infinite import NNGP, NTK

    if not (isinstance(trace, (int, float, np.floating)) and 0 < trace < math.inf):
        raise InputError(f"trace must be a positive finite number; got {trace!r}")
    if isinstance(max_degree, bool) or not isinstance(max_degree, (int, np.integer)):
        raise InputError(f"max_degree must be an integer >= 0; got {max_degree!r}")
    if not 0 <= max_degree <= MAX_DEGREE:
        raise InputError(
            f"max_degree must be an integer in [0, {MAX_DEGREE}]; got {max_degree!r:.40}"
        )
    size = int(max_degree) + 1
    q = float(trace)
    k = np.arange(size)
    if isinstance(kernel, RBF):
        s = kernel.bandwidth**2 / q
        return np.exp(-1.0 / s - k * math.log(s) - _log_factorial(k))
    if isinstance(kernel, Laplace):
        s = kernel.bandwidth / math.sqrt(2.0 * q)
        root = np.zeros(size)  # sqrt(1 - u) = sum binom(1/2, k) (-u)^k
        root[0] = 1.0
        for j in range(1, size):
            root[j] = root[j - 1] * (0.5 - (j - 1)) / j * -1.0
        return _exp(-root / s)
    if isinstance(kernel, (Polynomial, Linear)):
        if isinstance(kernel, Linear):
            scale, offset, degree = 1.0, 0.0, 1
        else:
            if kernel.scale is None and dimension is None:
                raise InputError("Polynomial(scale=None) means 1/d: pass dimension=d")
            scale = kernel.scale if kernel.scale is not None else 1.0 / dimension
            offset, degree = kernel.offset, kernel.degree
        a = scale * q  # (a u + offset)^degree
        out = np.zeros(size)
        for j in range(min(degree, max_degree) + 1):
            out[j] = math.comb(degree, j) * a**j * offset ** (degree - j)
        return out
    if isinstance(kernel, (NNGP, NTK)):
        if kernel._rule.__class__.__name__ != "_ClosedForm" or kernel.activation != "relu":
            raise InputError(
                f"HEA level coefficients of network kernels are implemented for ReLU; got "
                f"activation {kernel.activation!r}"
            )
        if isinstance(kernel, NTK) and kernel.parameterization != "ntk":
            raise InputError(
                "HEA level coefficients need the NTK-parameterized NTK (width-independent); "
                f"got parameterization={kernel.parameterization!r}"
            )
        if dimension is None:
            raise InputError("network kernels use x.x'/d: pass dimension=d")
        return _relu_network_series(kernel, q, int(dimension), size)
    raise InputError(
        f"no HEA expansion for kernel {type(kernel).__name__}; expected RBF, Laplace, "
        "Polynomial, Linear, or a ReLU NNGP/NTK"
    )


def _log_factorial(k: np.ndarray) -> np.ndarray:
    from scipy.special import gammaln

    return gammaln(np.asarray(k, dtype=np.float64) + 1.0)


def level_coefficients(kernel, trace: float, max_degree: int | None = None, **kw) -> np.ndarray:
    r"""The HEA level coefficients :math:`c_l = f^{(l)}(0)`, l = 0..max_degree.

    In the normalized units of :func:`hea_modes` (data eigenvalues divided by their sum).
    ``max_degree`` defaults to 10, and to 6 for the Laplace kernel, whose expansion is
    asymptotic (the truncation is part of the ansatz; its missing mass is returned to the
    ridge by the tail correction in :func:`lmech.predict.hea_decompose`).
    """
    from lmech.kernels.base import Laplace

    if max_degree is None:
        max_degree = LAPLACE_MAX_DEGREE if isinstance(kernel, Laplace) else DEFAULT_MAX_DEGREE
    series = kernel_series(kernel, trace, max_degree, **kw)
    return series * np.exp(_log_factorial(np.arange(series.size)))


def effective_dimension(data_eigenvalues) -> float:
    """d_eff = (sum gamma)^2 / sum gamma^2."""
    g = np.asarray(data_eigenvalues, dtype=np.float64)
    return float(g.sum() ** 2 / (g * g).sum())


@dataclass(frozen=True)
class HEAModes:
    """The top HEA modes in decreasing eigenvalue order.

    ``indices[m]`` lists mode m's PCA coordinates with repetition (a multiset, sorted,
    padded with -1 to ``max_degree``): (0, 0, 3) is :math:`h_2(z_0) h_1(z_3)`.
    """

    eigenvalues: np.ndarray  # (P,)
    degrees: np.ndarray  # (P,) |alpha|
    indices: np.ndarray  # (P, max_degree) int, -1 padded

    def __len__(self) -> int:
        return self.eigenvalues.size

    def exponents(self) -> list[dict[int, int]]:
        """Each mode as {PCA index: power}."""
        out = []
        for row in self.indices:
            e: dict[int, int] = {}
            for i in row[row >= 0]:
                e[int(i)] = e.get(int(i), 0) + 1
            out.append(e)
        return out


def hea_modes(data_eigenvalues, level_coeffs, num_modes: int) -> HEAModes:
    r"""The ``num_modes`` largest :math:`\lambda_\alpha = c_{|\alpha|} \prod \tilde\gamma^\alpha`.

    Args:
        data_eigenvalues: covariance eigenvalues :math:`\gamma_i` (any order, >= 0; they are
            sorted and divided by their sum; zeros are dropped).
        level_coeffs: :math:`c_0..c_D` (>= 0; zero levels are skipped), from
            :func:`level_coefficients`.
        num_modes: P >= 1. Fewer are returned only when fewer multi-indices exist.

    Within one degree l the multiset :math:`i_1 \le \dots \le i_l` has as parent the one
    with its first nonzero entry decremented, so each has a unique parent with a larger
    eigenvalue and the best-first search visits each once; O(P log P) work.
    """
    g = np.asarray(data_eigenvalues, dtype=np.float64)
    c = np.asarray(level_coeffs, dtype=np.float64)
    if g.ndim != 1 or g.size == 0 or not np.all(np.isfinite(g)) or np.any(g < 0):
        raise InputError(
            "data_eigenvalues must be a non-empty 1-D array of finite values >= 0; got "
            f"shape {g.shape}"
        )
    if g.sum() <= 0:
        raise InputError("data_eigenvalues are all zero: the data have no variance")
    if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)) or np.any(c < 0):
        raise InputError(f"level coefficients must be a 1-D array of finite values >= 0; got {c!r}")
    if isinstance(num_modes, bool) or not isinstance(num_modes, (int, np.integer)):
        raise InputError(f"num_modes must be a positive integer; got {num_modes!r}")
    if num_modes < 1:
        raise InputError(f"num_modes must be a positive integer; got {num_modes!r:.40}")
    if c.size - 1 > MAX_DEGREE:
        raise InputError(
            f"level coefficients must stop at degree {MAX_DEGREE}; got {c.size - 1} degrees"
        )
    from lmech._memory import check_allocation

    # the heap and the mode table: a few Python tuples and max_degree ints per mode
    check_allocation(
        int(num_modes) * (200 + 16 * max(c.size, 2)),
        f"{int(num_modes)} HEA modes of degree up to {c.size - 1}",
        "ask for fewer modes",
    )
    g = np.sort(g[g > 0])[::-1] / g.sum()
    log_g = np.log(g).tolist()
    d, max_degree = g.size, c.size - 1
    heap: list[tuple[float, int, tuple[int, ...]]] = []
    for level in range(max_degree + 1):
        if c[level] > 0:
            root = (0,) * level
            heap.append((-(math.log(c[level]) + level * log_g[0]), level, root))
    heapq.heapify(heap)
    values, degrees, rows = [], [], []
    while heap and len(values) < num_modes:
        neg, level, idx = heapq.heappop(heap)
        values.append(-neg)
        degrees.append(level)
        rows.append(idx)
        if level == 0:
            continue
        # first nonzero position (level if all zero)
        first = next((j for j, v in enumerate(idx) if v > 0), level)
        for j in (first - 1, first) if first < level else (level - 1,):
            if j < 0 or idx[j] + 1 >= d:
                continue
            if j + 1 < level and idx[j] + 1 > idx[j + 1]:
                continue
            child = idx[:j] + (idx[j] + 1,) + idx[j + 1 :]
            heapq.heappush(heap, (neg - log_g[idx[j] + 1] + log_g[idx[j]], level, child))
    indices = np.full((len(rows), max(max_degree, 1)), -1, dtype=np.int64)
    for m, idx in enumerate(rows):
        indices[m, : len(idx)] = idx
    return HEAModes(np.exp(np.asarray(values)), np.asarray(degrees, dtype=np.int64), indices)


def hermite_features(Z: np.ndarray, modes: HEAModes) -> np.ndarray:
    r"""The HEA eigenfunctions :math:`\phi_\alpha` at whitened points: an (N, P) array.

    ``Z`` (N, r) holds whitened PCA coordinates; r must exceed every index in ``modes``.
    """
    Z = np.asarray(Z, dtype=np.float64)
    need = int(modes.indices.max(initial=-1)) + 1
    if Z.ndim != 2 or Z.shape[1] < need:
        raise InputError(
            f"Z must be 2-D with at least {need} whitened coordinates; got shape {Z.shape}"
        )
    # only the (coordinate, power) pairs the modes use: h_k(z_i) for k up to the highest
    # power of coordinate i, by the recurrence He_{k+1} = z He_k - k He_{k-1}
    exponents = modes.exponents()
    top: dict[int, int] = {}
    for powers in exponents:
        for i, k in powers.items():
            top[i] = max(top.get(i, 0), k)
    columns: dict[tuple[int, int], np.ndarray] = {}
    for i, kmax in top.items():
        z = np.ascontiguousarray(Z[:, i])
        prev, cur = np.ones_like(z), z.copy()
        columns[i, 1] = cur
        for k in range(1, kmax):
            prev, cur = cur, z * cur - k * prev
            columns[i, k + 1] = cur / math.sqrt(math.factorial(k + 1))
    Ht = np.empty((len(modes), Z.shape[0]))  # built row by row (contiguous), returned as H
    for m, powers in enumerate(exponents):
        row = Ht[m]
        items = list(powers.items())
        if not items:
            row.fill(1.0)
            continue
        np.copyto(row, columns[items[0]])
        for pair in items[1:]:
            row *= columns[pair]
    H = Ht.T
    return H


def target_coefficients(H: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Coefficients of y on the Gram-Schmidt orthonormalization of H's columns, in order.

    With H's columns the HEA eigenfunctions in decreasing-eigenvalue order (N samples),
    returns :math:`\hat v_j = q_j^\top y / \sqrt N` where :math:`q_j` is the j-th column of
    the thin QR factor: the coefficients of y on functions orthonormal under the empirical
    measure. Plain inner products would double count the power shared by non-orthogonal
    empirical Hermites (the reference's warning). Needs N > P.
    """
    H = np.asarray(H, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if H.ndim != 2 or y.ndim != 1 or H.shape[0] != y.size:
        raise InputError(f"H must be (N, P) and y (N,); got shapes {H.shape} and {y.shape}")
    if H.shape[0] <= H.shape[1]:
        raise InputError(
            f"the target decomposition needs more samples than modes; got N={H.shape[0]} "
            f"samples for P={H.shape[1]} modes (lower num_modes or give more data)"
        )
    N = H.shape[0]
    # Cholesky of the empirical Gram matrix G = H^T H / N = R^T R (one GEMM, ~4x faster
    # than Householder QR) gives the same coefficients R^{-T} H^T y / N when G is well
    # conditioned; otherwise (or if it is singular) fall back to QR with a rank check
    G = H.T @ H / N
    try:
        L = np.linalg.cholesky(G)
    except np.linalg.LinAlgError:
        L = None
    if L is not None and dtrcon(L, norm="1", uplo="L")[0] > _CHOLESKY_MIN_RCOND:
        return solve_triangular(L, H.T @ y / N, lower=True, check_finite=False)
    out = np.zeros(H.shape[1])
    keep = np.arange(H.shape[1])
    for _ in range(H.shape[1]):  # ends after one pass unless columns are dependent
        A = np.concatenate([H[:, keep], y[:, None]], axis=1)
        R = qr(A, mode="r", check_finite=False)[0][: keep.size + 1]
        diag = np.diag(R)[:-1]
        # a column (numerically) in the span of earlier ones carries no new power; it is
        # dropped and the QR redone, since its round-off direction would corrupt the rest
        dependent = np.abs(diag) <= 1e-10 * np.linalg.norm(A[:, :-1], axis=0)
        if not dependent.any():
            # sign(R_jj) points each orthonormal direction along its own eigenfunction
            out[keep] = np.sign(diag) * R[:-1, -1] / math.sqrt(N)
            return out
        keep = keep[~dependent]
    return out  # pragma: no cover - every column dependent (H = 0)

r"""Neural scaling laws of the random-feature model trained by gradient flow.

The linearized teacher-student model of Bordelon, Atanasov & Pehlevan (2024): features
:math:`\psi_k` with variances :math:`\lambda_k \propto k^{-b}` (the capacity exponent b),
target power :math:`\beta_k^2 = \lambda_k (w^*_k)^2 \propto k^{-a}` (the source exponent
a, a > 1), a student :math:`f = w \cdot A\psi / \sqrt N` with a fixed Gaussian projection
:math:`A \in \mathbb{R}^{N \times M}`, trained from w = 0 by gradient flow for time t on P
samples. Test loss :math:`L = \sum_k \lambda_k (w^*_k - (A^\top w)_k/\sqrt N)^2`.

Each resource alone limits the loss as (derived below, and checked against simulation in
``tests/theory/test_scaling.py`` and the ``rf-*`` laws):

* time (N, P -> infinity): :math:`L(t) = \sum_k \beta_k^2 e^{-2\lambda_k t}
  \sim t^{-(a-1)/b}`;
* model (t, P -> infinity): w minimizes the population loss, so the error is the
  projection of :math:`\beta` off the span of N Gaussian vectors of covariance
  :math:`\Lambda`, whose deterministic equivalent is
  :math:`L(N) = \sum_k \beta_k^2 \kappa/(\lambda_k + \kappa)` with
  :math:`\sum_k \lambda_k/(\lambda_k+\kappa) = N`, so :math:`L \sim N^{-\min(a-1,\,b)}`;
* data (t, N -> infinity): ridgeless kernel regression,
  :math:`L(P) = E_0 \sum_k \beta_k^2 \kappa^2/(\lambda_k+\kappa)^2`,
  :math:`E_0 = P/(P - \sum_k \lambda_k^2/(\lambda_k+\kappa)^2)`,
  :math:`\sum_k \lambda_k/(\lambda_k+\kappa) = P`, so :math:`L \sim P^{-\min(a-1,\,2b)}`.

Warning:
    Summaries of Bordelon et al. (2024) sometimes quote :math:`N^{-\min(a-1, 2b)}` for
    the model bottleneck (the data-bottleneck form). The projection's deterministic
    equivalent (first power of :math:`\kappa/(\lambda+\kappa)`, since I - projection is
    idempotent) gives :math:`\min(a-1, b)`; the two agree for a - 1 <= b, the regime the
    laws test. A simulation of the projection matches the deterministic equivalent to a
    few percent at a - 1 > b (``test_model_limited_matches_projection``).

References:
    Bordelon, Atanasov, Pehlevan, "A Dynamical Model of Neural Scaling Laws", ICML 2024
    (arXiv 2402.01092), Sec. 3-4 (bottleneck scalings) and Sec. 5 (compute-optimal).
    Bordelon, Atanasov, Pehlevan, "How Feature Learning Can Improve Neural Scaling
    Laws", arXiv 2409.17858 (rich-regime time exponent).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gamma

from lmech.errors import InputError

__all__ = [
    "power_law_model",
    "time_exponent",
    "model_exponent",
    "data_exponent",
    "bottleneck_exponents",
    "feature_learning_time_exponent",
    "compute_optimal_exponents",
    "loss_time_limited",
    "loss_time_asymptote",
    "loss_model_limited",
    "loss_data_limited",
    "loss",
    "compute_optimal_allocation",
]


def _check_exponents(a: float, b: float) -> None:
    if not (np.isfinite(a) and a > 1):
        raise InputError(f"target exponent a must be > 1 (finite target power); got {a!r}")
    if not (np.isfinite(b) and b > 0):
        raise InputError(f"spectrum exponent b must be > 0; got {b!r}")


def power_law_model(num_features: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    r"""(lambda_k, beta_k^2) = (k^{-b}, k^{-a}) for k = 1..M (M = ``num_features``)."""
    _check_exponents(a, b)
    if int(num_features) < 1:
        raise InputError(f"num_features must be >= 1; got {num_features!r}")
    k = np.arange(1, int(num_features) + 1, dtype=np.float64)
    return k ** (-float(b)), k ** (-float(a))


def time_exponent(a: float, b: float) -> float:
    """(a - 1)/b: L ~ t^{-(a-1)/b} when time is the bottleneck (beta_s in source notation)."""
    _check_exponents(a, b)
    return (a - 1.0) / b


def model_exponent(a: float, b: float) -> float:
    """min(a - 1, b): L ~ N^{-min(a-1, b)} when the model size is the bottleneck."""
    _check_exponents(a, b)
    return min(a - 1.0, b)


def data_exponent(a: float, b: float) -> float:
    """min(a - 1, 2b): L ~ P^{-min(a-1, 2b)} when the data are the bottleneck."""
    _check_exponents(a, b)
    return min(a - 1.0, 2.0 * b)


def bottleneck_exponents(a: float, b: float) -> dict[str, float]:
    """{"t": (a-1)/b, "N": min(a-1, b), "P": min(a-1, 2b)}."""
    return {"t": time_exponent(a, b), "N": model_exponent(a, b), "P": data_exponent(a, b)}


def feature_learning_time_exponent(a: float, b: float) -> float:
    r"""Rich-regime time exponent: :math:`2\beta_s/(1+\beta_s)` for hard tasks.

    With :math:`\beta_s = (a-1)/b`: hard tasks (:math:`\beta_s < 1`) improve from
    :math:`t^{-\beta_s}` to :math:`t^{-2\beta_s/(1+\beta_s)}`; easy tasks are unchanged.

    References:
        Bordelon, Atanasov, Pehlevan, arXiv 2409.17858 (quoted from the paper, not re-derived
        here).
    """
    beta_s = time_exponent(a, b)
    return 2.0 * beta_s / (1.0 + beta_s) if beta_s < 1.0 else beta_s


def compute_optimal_exponents(a: float, b: float, *, feature_learning: bool = False):
    r"""Exponents of N*, t*, L* in C = N t, from balancing the t and N bottlenecks.

    With :math:`L \approx t^{-x} + N^{-m}` and t = C/N, the optimum has
    :math:`N^{-m} \asymp (C/N)^{-x}`, so

    .. math:: N^* \sim C^{x/(x+m)},\quad t^* \sim C^{m/(x+m)},\quad L^* \sim C^{-xm/(x+m)},

    with x = (a-1)/b (lazy) or the feature-learning exponent, and m = min(a-1, b). For the
    lazy x and m = a - 1 this is N* ~ C^{1/(1+b)}, t* ~ C^{b/(1+b)}, L* ~ C^{-(a-1)/(1+b)}.

    Returns:
        {"N": ..., "t": ..., "L": ...} (the exponent of L is negative).
    """
    x = feature_learning_time_exponent(a, b) if feature_learning else time_exponent(a, b)
    m = model_exponent(a, b)
    return {"N": x / (x + m), "t": m / (x + m), "L": -x * m / (x + m)}


def _as_positive(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InputError(f"{name} must be finite and > 0; got {np.ravel(arr)[:5].tolist()}")
    return arr


def _check_model(lam, beta2) -> tuple[np.ndarray, np.ndarray]:
    lam, beta2 = np.asarray(lam, dtype=np.float64), np.asarray(beta2, dtype=np.float64)
    if lam.ndim != 1 or lam.shape != beta2.shape or lam.size == 0:
        raise InputError(
            f"lam and beta2 must be equal-length 1-D arrays; got {lam.shape}, {beta2.shape}"
        )
    if not (np.all(np.isfinite(lam)) and np.all(lam > 0)):
        raise InputError("eigenvalues lam must be finite and > 0")
    if not (np.all(np.isfinite(beta2)) and np.all(beta2 >= 0)):
        raise InputError("target powers beta2 must be finite and >= 0")
    return lam, beta2


def loss_time_limited(t, lam, beta2) -> np.ndarray:
    r""":math:`L(t) = \sum_k \beta_k^2 e^{-2\lambda_k t}`: gradient flow on the population
    loss with the full features (N, P -> infinity); dw/dt = -grad L/2, w(0) = 0."""
    lam, beta2 = _check_model(lam, beta2)
    t = np.asarray(t, dtype=np.float64)
    if np.any(t < 0) or not np.all(np.isfinite(t)):
        raise InputError("times t must be finite and >= 0")
    return np.exp(-2.0 * np.multiply.outer(t, lam)) @ beta2


def loss_time_asymptote(t, a: float, b: float) -> np.ndarray:
    r"""Large-t form of :func:`loss_time_limited` for :math:`\lambda_k = k^{-b}`,
    :math:`\beta_k^2 = k^{-a}`, M = infinity:
    :math:`L \approx \Gamma((a-1)/b)\,(2t)^{-(a-1)/b}/b` (the sum as an integral)."""
    x = time_exponent(a, b)
    return gamma(x) * (2.0 * _as_positive(t, "t")) ** (-x) / b


def _kappa(lam: np.ndarray, n: np.ndarray) -> np.ndarray:
    """kappa > 0 solving sum_k lam_k/(lam_k + kappa) = n, per n < M (bisection in log)."""
    lo = np.full(n.shape, np.log(lam.min()) - 40.0)
    hi = np.full(n.shape, np.log(lam.sum()) + 5.0)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        s = (lam / (lam + np.exp(mid)[..., None])).sum(axis=-1)
        lo, hi = np.where(s > n, mid, lo), np.where(s > n, hi, mid)
    return np.exp(0.5 * (lo + hi))


def loss_model_limited(N, lam, beta2) -> np.ndarray:
    r"""Deterministic equivalent of the converged loss at width N (t, P -> infinity):
    :math:`L = \sum_k \beta_k^2 \kappa/(\lambda_k+\kappa)`,
    :math:`\sum_k \lambda_k/(\lambda_k+\kappa) = N` (N < M)."""
    lam, beta2 = _check_model(lam, beta2)
    N = _as_positive(N, "N")
    if np.any(N >= lam.size):
        raise InputError(f"N must be < the number of modes M = {lam.size}; got max {N.max()}")
    kappa = _kappa(lam, N)[..., None]
    return (beta2 * kappa / (lam + kappa)).sum(axis=-1)


def loss_data_limited(P, lam, beta2) -> np.ndarray:
    r"""Ridgeless kernel regression on P noiseless samples (t, N -> infinity):
    :math:`L = E_0 \sum_k \beta_k^2 \kappa^2/(\lambda_k+\kappa)^2` (eigenlearning)."""
    lam, beta2 = _check_model(lam, beta2)
    P = _as_positive(P, "P")
    if np.any(P >= lam.size):
        raise InputError(f"P must be < the number of modes M = {lam.size}; got max {P.max()}")
    kappa = _kappa(lam, P)[..., None]
    learn = lam / (lam + kappa)
    e0 = P / (P - (learn**2).sum(axis=-1))
    return e0 * (beta2 * (1.0 - learn) ** 2).sum(axis=-1)


def loss(t, N, P, lam, beta2) -> np.ndarray:
    r"""The bottleneck sum :math:`L(t,N,P) \approx L_t(t) + L_N(N) + L_P(P)`.

    Each term is the exact single-bottleneck loss above (``None`` for N or P drops that
    term: an infinite resource). The sum is the additive approximation of
    Bordelon et al. (2024), Sec. 4: right when one term dominates, an overestimate by at
    most the smaller terms where they are comparable.
    """
    out = loss_time_limited(t, lam, beta2)
    if N is not None:
        out = out + loss_model_limited(N, lam, beta2)
    if P is not None:
        out = out + loss_data_limited(P, lam, beta2)
    return out


def compute_optimal_allocation(C, lam, beta2, *, widths=None):
    r"""Numerical N*(C) minimizing :math:`L_t(C/N) + L_N(N)` over a width grid (C = N t).

    Args:
        C: (c,) compute budgets.
        lam, beta2: the model's spectrum and target powers.
        widths: candidate widths (default 200 log-spaced from 1 to M/2).

    Returns:
        (N*, t*, L*) arrays of shape (c,), minimized over the grid with a parabolic
        refinement in log N around the grid minimum.
    """
    lam, beta2 = _check_model(lam, beta2)
    C = np.atleast_1d(_as_positive(C, "C"))
    widths = (
        np.geomspace(1.0, lam.size / 2, 200) if widths is None else _as_positive(widths, "widths")
    )
    ln = loss_model_limited(widths, lam, beta2)  # (w,)
    t = C[:, None] / widths[None, :]  # (c, w)
    total = loss_time_limited(t, lam, beta2) + ln[None, :]
    j = np.clip(total.argmin(axis=1), 1, len(widths) - 2)
    x = np.log(widths)
    rows = np.arange(len(C))
    y0, y1, y2 = (np.log(total[rows, j + d]) for d in (-1, 0, 1))
    h = x[j + 1] - x[j]  # log-spaced: equal steps
    curv = y0 - 2 * y1 + y2
    shift = np.where(curv > 0, 0.5 * h * (y0 - y2) / np.where(curv > 0, curv, 1.0), 0.0)
    n_star = np.exp(x[j] + np.clip(shift, -h, h))
    t_star = C / n_star
    l_star = loss_time_limited(t_star, lam, beta2) + loss_model_limited(n_star, lam, beta2)
    return n_star, t_star, l_star

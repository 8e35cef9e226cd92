r"""Solvable grokking dynamics: linear estimators and the lazy-to-rich transition.

Two exactly solvable accounts of delayed generalization, written in float64 NumPy.

**Linear teacher-student model** (Levi, Beck, Bar-Sinai, "Grokking in linear estimators",
ICLR 2024, Sec. 2-3). Inputs x ~ N(0, I_d) in d = ``d_in`` dimensions, a teacher T and a
linear student S (both d_out x d_in), N training points with empirical covariance
Sigma = X^T X / N. Full-batch gradient descent with step eta on
L(S) = (1 / 2N) sum_i |S x_i - T x_i|^2 moves the error D = S - T by
D_{t+1} = D_t (I - eta Sigma), so D_t = D_0 (I - eta Sigma)^t exactly. With D_0 having
i.i.d. N(0, s^2 / d) entries (teacher variance + student init variance, independent of
the data), the per-output losses averaged over D_0 are the spectral sums

.. math:: L_{tr}(t) = \frac{s^2}{d}\sum_k \lambda_k (1-\eta\lambda_k)^{2t},\qquad
          L_{te}(t) = \frac{s^2}{d}\sum_k (1-\eta\lambda_k)^{2t},

over the eigenvalues lambda_k of Sigma; for d, N -> infinity at ratio lambda = d / N the
empirical spectrum tends to the Marchenko-Pastur law of ratio lambda, which gives the
closed forms :func:`linear_losses` (integrals over the MP density, Levi et al. Sec. 3).
The per-sample loss of a point is l(x) = |D_t x|^2 / d_out; given x, the d_out outputs of
D_t x are i.i.d. N(0, s^2 |P x|^2 / d) with P = (I - eta Sigma)^t, so
l(x) = (s^2 / d) |P x|^2 chi^2_{d_out} / d_out. For a test point |P x|^2 is the
quadratic form sum_k p_k^2 z_k^2; for a training point x_i = sqrt(N) V Lambda^{1/2} u_i
with u_i a row of the left singular vectors, approximately N(0, I / N) for large N, so
|P x_i|^2 ~ sum_k lambda_k p_k^2 z_k^2. "Accuracy" is the share of points with
l(x) < epsilon (Levi et al. Sec. 2): :func:`linear_accuracies` evaluates it at the MP
quantiles (classical eigenvalue locations). Grokking is the delay between the times the
train and the test loss cross epsilon (:func:`crossing_time`).

**Lazy-to-rich transition** (Kumar, Bordelon, Gershman, Pehlevan, ICLR 2024, Sec. 3): see
:func:`reduced_network_step` (exact GD of the network on (m, C)) and
:func:`lazy_rich_population` (its population limit, the predicted generalization time).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from lmech.errors import ConfigError, InputError

__all__ = [
    "crossing_time",
    "lazy_rich_population",
    "linear_accuracies",
    "linear_losses",
    "mp_edges",
    "mp_integral",
    "mp_quantiles",
    "quadratic_population_loss",
    "reduced_network_step",
    "reduced_network_loss",
]


def _check_ratio(ratio: float) -> float:
    ratio = float(ratio)
    if not (math.isfinite(ratio) and ratio > 0):
        raise InputError(f"the Marchenko-Pastur ratio d/N must be a positive number; got {ratio}")
    return ratio


def mp_edges(ratio: float) -> tuple[float, float]:
    """(lambda_-, lambda_+) = (1 -+ sqrt(ratio))^2: the MP support for unit variance."""
    r = math.sqrt(_check_ratio(ratio))
    return (1.0 - r) ** 2, (1.0 + r) ** 2


@functools.lru_cache(maxsize=8)
def _gauss_legendre(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    t, w = np.polynomial.legendre.leggauss(nodes)
    t.setflags(write=False)
    w.setflags(write=False)
    return t, w


def mp_integral(
    ratio: float, fn: Callable[[np.ndarray], np.ndarray], nodes: int = 400
) -> np.ndarray:
    r"""int fn(x) dmu_MP(x) for the Marchenko-Pastur law of ratio d/N (unit variance).

    The continuous part, density sqrt((l+ - x)(x - l-)) / (2 pi ratio x) on [l-, l+], is
    integrated in theta with x = l- + (l+ - l-)(1 - cos theta)/2, which turns the square-
    root edges into the smooth weight sin^2 theta (Gauss-Legendre in theta, exponentially
    accurate for smooth fn). For ratio > 1 the atom (1 - 1/ratio) at x = 0 is added.
    ``fn`` maps an array of x to an array whose first axis is x; the result drops it.
    """
    ratio = _check_ratio(ratio)
    lo, hi = mp_edges(ratio)
    t, w = _gauss_legendre(int(nodes))
    theta = (t + 1.0) * (math.pi / 2.0)
    w = w * (math.pi / 2.0)
    x = lo + (hi - lo) * (1.0 - np.cos(theta)) / 2.0
    dens = ((hi - lo) ** 2 / 4.0) * np.sin(theta) ** 2 / (2.0 * math.pi * ratio * x)
    vals = np.asarray(fn(x), dtype=np.float64)
    out = np.tensordot(w * dens, vals, axes=(0, 0))
    if ratio > 1:
        out = out + (1.0 - 1.0 / ratio) * np.asarray(fn(np.zeros(1)), dtype=np.float64)[0]
    return out


def mp_quantiles(ratio: float, n: int) -> np.ndarray:
    """The n classical locations x_k of the MP law: F_MP(x_k) = (k - 1/2) / n (ratio <= 1)."""
    ratio = _check_ratio(ratio)
    if ratio > 1:
        raise InputError(f"mp_quantiles needs ratio d/N <= 1 (no atom at 0); got {ratio}")
    if int(n) < 1:
        raise InputError(f"mp_quantiles needs n >= 1 points; got {n}")
    lo, hi = mp_edges(ratio)
    theta = np.linspace(0.0, math.pi, 20001)
    x = lo + (hi - lo) * (1.0 - np.cos(theta)) / 2.0
    dens = ((hi - lo) ** 2 / 4.0) * np.sin(theta) ** 2 / (2.0 * math.pi * ratio * x)
    cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2.0 * np.diff(theta))])
    cdf /= cdf[-1]
    return np.interp((np.arange(int(n)) + 0.5) / int(n), cdf, x)


def _check_lr(ratio: float, lr: float) -> None:
    hi = mp_edges(ratio)[1]
    if not (math.isfinite(lr) and 0 < lr * hi < 2):
        raise ConfigError(
            f"gradient descent on the MP spectrum needs 0 < lr * (1 + sqrt(ratio))^2 < 2 to "
            f"converge; got lr = {lr}, ratio = {ratio} (lr * lambda_+ = {lr * hi:.3g}); lower lr"
        )


def linear_losses(
    ratio: float, lr: float, steps, init_variance: float
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) per-output MSE of GD at ``steps`` in the d, N -> infinity limit.

    L_tr(t) = s^2 int x (1 - eta x)^{2t} dmu_MP, L_te(t) = s^2 int (1 - eta x)^{2t} dmu_MP
    with s^2 = ``init_variance`` (the variance of d * D_0 entries: teacher plus student).
    ``steps`` may be real (the decay is |1 - eta x|^{2t}).
    """
    _check_lr(ratio, lr)
    t = np.atleast_1d(np.asarray(steps, dtype=np.float64))

    def decay(x):
        return np.abs(1.0 - lr * x)[:, None] ** (2.0 * t[None, :])

    test = init_variance * mp_integral(ratio, decay)
    train = init_variance * mp_integral(ratio, lambda x: x[:, None] * decay(x))
    return train, test


def crossing_time(ratio: float, lr: float, init_variance: float, threshold: float,
                  kind: str = "test") -> float:  # fmt: skip
    """First (real) time t at which the MP ``kind`` loss falls to ``threshold``.

    The losses decrease monotonically in t (every factor |1 - eta x|^2 < 1 on the support
    for 0 < eta lambda_+ < 2), so the root of log L(t) = log threshold is unique; it is
    bracketed by doubling and solved by bisection to 1e-9 relative.
    """
    if kind not in ("train", "test"):
        raise InputError(f"kind must be 'train' or 'test'; got {kind!r}")
    if not threshold > 0:
        raise InputError(f"threshold must be > 0; got {threshold}")
    if ratio >= 1:
        raise InputError(f"the test loss only decays to 0 for ratio d/N < 1; got {ratio}")
    idx = 0 if kind == "train" else 1

    def loss(t: float) -> float:
        return float(linear_losses(ratio, lr, [t], init_variance)[idx][0])

    if loss(0.0) <= threshold:
        return 0.0
    hi = 1.0
    while loss(hi) > threshold:
        hi *= 2.0
        if hi > 1e12:
            raise InputError(f"the {kind} loss does not reach {threshold} within 1e12 steps")
    lo = hi / 2.0 if hi > 1 else 0.0
    while hi - lo > 1e-9 * hi:
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if loss(mid) > threshold else (lo, mid)
    return (lo + hi) / 2.0


def linear_accuracies(ratio: float, lr: float, steps, init_variance: float, d_in: int,
                      d_out: int, threshold: float, samples: int = 20000,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(train, test) accuracy: P(l(x) < threshold) at each step, at the MP quantiles.

    l = (s^2 / d_in) Q chi^2_{d_out} / d_out with Q = sum_k w_k z_k^2 over the d_in MP
    quantiles lambda_k, w_k = (1 - eta lambda_k)^{2t} (test) or lambda_k (1 - eta
    lambda_k)^{2t} (train). The distribution of the product is evaluated on ``samples``
    fixed draws (z, chi^2) from a fixed key, so the result is deterministic; its
    Monte-Carlo error is <= 0.5 / sqrt(samples) per entry.
    """
    _check_lr(ratio, lr)
    t = np.atleast_1d(np.asarray(steps, dtype=np.float64))
    lam = mp_quantiles(ratio, d_in)
    g = np.random.default_rng(np.random.SeedSequence([seed, 20240507, d_in, d_out]))
    z2 = g.standard_normal((samples, d_in)) ** 2
    chi = g.chisquare(d_out, size=samples) / d_out
    decay = np.abs(1.0 - lr * lam)[:, None] ** (2.0 * t[None, :])  # (d_in, steps)
    scale = (init_variance / d_in) * chi[:, None]
    test = ((z2 @ decay) * scale < threshold).mean(0)
    train = ((z2 @ (lam[:, None] * decay)) * scale < threshold).mean(0)
    return train, test


# --------------------------------------------------------------------------------------
# Lazy-to-rich (Kumar et al. 2024)
# --------------------------------------------------------------------------------------


def reduced_network_loss(m: np.ndarray, C: np.ndarray, X: np.ndarray, y: np.ndarray,
                         alpha: float, eps: float, f0: np.ndarray | None = None):  # fmt: skip
    """Residual and MSE of f(x) = alpha (m.x + eps/2 x^T C x) (minus f0 if given).

    For f(x) = (alpha / N) sum_i phi(w_i . x) with phi(z) = z + eps z^2 / 2,
    f = alpha (m . x + (eps / 2) x^T C x) exactly, with m = mean_i w_i and
    C = mean_i w_i w_i^T (Kumar et al. Sec. 3 model; the reduction is algebra).
    Returns (r, loss) with r = f - y and loss = mean(r^2) / 2.
    """
    f = alpha * (X @ m + 0.5 * eps * np.einsum("pi,ij,pj->p", X, C, X))
    if f0 is not None:
        f = f - f0
    r = f - y
    return r, 0.5 * float(np.mean(r * r))


def reduced_network_step(m: np.ndarray, C: np.ndarray, X: np.ndarray, r: np.ndarray,
                         alpha: float, eps: float, lr: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """One exact GD step of the N-neuron network, written on (m, C).

    Each neuron moves by w' = (I - h eps G) w - h g with h = lr alpha / N, g = mean_mu r_mu
    x_mu, G = mean_mu r_mu x_mu x_mu^T (the gradient of mean r^2 / 2), so
    m' = (I - h eps G) m - h g and C' = A C A^T - h (A m g^T + g m^T A^T) + h^2 g g^T with
    A = I - h eps G: the dynamics close on (m, C) for any width N. ``lr`` is h: pass
    lr_network * alpha / N.
    """
    P = X.shape[0]
    g = X.T @ r / P
    G = (X * r[:, None]).T @ X / P
    A = np.eye(len(m)) - lr * eps * G
    Am = A @ m
    m_new = Am - lr * g
    C_new = A @ C @ A.T - lr * (np.outer(Am, g) + np.outer(g, Am)) + lr * lr * np.outer(g, g)
    return m_new, C_new


def quadratic_population_loss(du: np.ndarray, E: np.ndarray) -> float:
    """E_x[(du . x + x^T E x)^2] / 2 for x ~ N(0, I / D), E symmetric (exact).

    E[(x^T E x)^2] = (2 tr E^2 + (tr E)^2) / D^2 (Isserlis), E[(du . x)^2] = |du|^2 / D,
    and the cross term is odd in x, so it vanishes.
    """
    D = len(du)
    return 0.5 * (
        float(du @ du) / D + (2.0 * float(np.sum(E * E)) + float(np.trace(E)) ** 2) / D**2
    )


def lazy_rich_population(alpha: float, eps: float, D: int, lr_scale: float, target_norm2: float,
                         level: float = 0.5, max_steps: int = 10**7) -> tuple[int, float]:  # fmt: skip
    r"""(t_grok, L_0): the first GD step at which the population test loss is <= level L_0.

    The model of :func:`reduced_network_step` at N, P -> infinity, C_0 = I, m_0 = 0 (Kumar
    et al. Sec. 3 model, centred loss, lr = lr_scale N / alpha^2). With the population
    gradient G = E[r x x^T] = (2 E + tr(E) I) / D^2, E = A - A_0 - A*, A = alpha eps C / 2,
    A* = beta beta^T / 2 (and g = 0: the linear part stays at its start), C stays in
    span{I, b b^T} (b = beta / |beta|): C = gamma I + delta b b^T, and one GD step
    C' = (I - h eps G) C (I - h eps G), h = lr_scale / alpha, is the exact scalar map
    gamma' = s1^2 gamma, gamma' + delta' = s2^2 (gamma + delta),
    s1 = 1 - h eps g1, s2 = s1 - h eps g2, with G = g1 I + g2 b b^T,
    g1 = (c (D + 2) + e) / D^2, g2 = 2 e / D^2, c = alpha eps (gamma - 1) / 2,
    e = alpha eps delta / 2 - |beta|^2 / 2. The target direction grows multiplicatively
    from a_0 = alpha eps / 2 at rate ~ 2 eps lr_scale |beta|^2 / (alpha D^2), so
    t_grok ~ (alpha D^2 / (2 eps lr_scale |beta|^2)) ln(|beta|^2 / (alpha eps)) + O(alpha)
    to leading logarithmic order (log-log slope 1 - 1 / ln(|beta|^2 / (alpha eps)) < 1);
    the O(alpha) remainder is not small at moderate sizes (at D = 20, alpha = 1 the
    asymptote is 1.7x the map), so laws use the map itself.
    """
    if not (alpha > 0 and eps > 0 and lr_scale > 0 and target_norm2 > 0 and 0 < level < 1):
        raise InputError(
            f"lazy_rich_population needs alpha, eps, lr_scale, |beta|^2 > 0 and 0 < level < 1; "
            f"got alpha={alpha}, eps={eps}, lr_scale={lr_scale}, |beta|^2={target_norm2}, level={level}"
        )
    k = alpha * eps / 2.0
    h = lr_scale / alpha
    a_star = target_norm2 / 2.0
    gamma, delta = 1.0, 0.0
    L0 = None
    for t in range(int(max_steps) + 1):
        c, e = k * (gamma - 1.0), k * delta - a_star
        if not abs(c) + abs(e) < 1e100:  # also catches NaN
            L = math.inf
        else:
            L = 0.5 * (2.0 * (c * c * D + 2.0 * c * e + e * e) + (c * D + e) ** 2) / D**2
        if not math.isfinite(L):
            raise InputError(
                f"the population GD map diverged at step {t} (alpha={alpha}, lr_scale={lr_scale}); "
                "lower lr_scale or raise alpha"
            )
        if L0 is None:
            L0 = L
        if L <= level * L0:
            return t, L0
        g1, g2 = (c * (D + 2) + e) / D**2, 2.0 * e / D**2
        s1 = 1.0 - h * eps * g1
        s2 = s1 - h * eps * g2
        gamma, delta = s1 * s1 * gamma, s2 * s2 * (gamma + delta) - s1 * s1 * gamma
    raise InputError(f"the population test loss did not reach {level} x L0 in {max_steps} steps")

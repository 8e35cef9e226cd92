r"""Exact expected-loss dynamics of SGD on linear models (Gaussian data).

Setting (Bordelon & Pehlevan, ICLR 2022, Sec. 2; Paquette, Paquette, Xiao, Pennington
2024, Sec. 2): x ~ N(0, Sigma) with Sigma = diag(lambda) (the eigenbasis), labels
y = w*^T x + eps, eps ~ N(0, sigma^2). The loss is the half mean squared error

.. math:: L(w) = \tfrac12 E(y - w^\top x)^2 = \tfrac12(\Delta^\top\Sigma\Delta + \sigma^2),
          \qquad \Delta = w - w^*,

and minibatch SGD averages the gradient over B_t fresh samples,
:math:`w_{t+1} = w_t - \eta_t \tfrac{1}{B_t}\sum_b x_b(x_b^\top w_t - y_b)`.

Online recursion (exact for Gaussian x at every d and t; the only input is the fourth
moment :math:`E[xx^\top A xx^\top] = 2\Sigma A\Sigma + \mathrm{tr}(A\Sigma)\Sigma`): with
:math:`c_k(t) = E\Delta_{t,k}^2`,

.. math:: c_k(t+1) = a_k(t) c_k(t) + \frac{\eta_t^2}{B_t}\lambda_k\, 2L(t),\quad
          a_k(t) = (1-\eta_t\lambda_k)^2 + \frac{\eta_t^2}{B_t}\lambda_k^2,\quad
          2L(t) = \sigma^2 + \sum_k\lambda_k c_k(t).

Constant (eta, B): the Volterra form (Bordelon & Pehlevan 2022, eq. 6; Paquette et al.
2024, eq. 10) :math:`L(t) = F(t) + (\eta^2/B)\sum_{s<t}K(t-1-s)L(s)` with
:math:`F(t) = \tfrac12[\sigma^2 + \sum_k\lambda_k c_k(0)a_k^t]`,
:math:`K(u) = \sum_k\lambda_k^2 a_k^u`; its kernel norm
:math:`\|K\| = (\eta/B)\sum_k\lambda_k/(2 - \eta\lambda_k(1 + 1/B))` and, when it is below
one, the stationary loss :math:`L(\infty) = (\sigma^2/2)/(1 - \|K\|)`. The stability
bound on eta is the root of :math:`\|K\| = 1` (:func:`stability_bound`).

Averaged iterates (Polyak-Ruppert, tail averaging, EMA; Zou et al. COLT 2021, Sec. 2;
Meterez et al. 2025, Sec. 3): :math:`\bar\Delta_t = (1-\rho_t)\bar\Delta_{t-1} +
\rho_t\Delta_t`; the diagonal moments :math:`q_k = E\bar\Delta_k^2`,
:math:`p_k = E\bar\Delta_k\Delta_k` close with :math:`E[\Delta_{t+1}|\text{past}] =
(I - \eta_t\Sigma)\Delta_t` (:func:`online_moments`).

Multi-pass SGD on a fixed dataset (P samples, batches drawn with replacement) has an
exact recursion for the first two moments conditional on the data
(:func:`multipass_recursion`) and a mean-field reduction that replaces the per-sample
gradient second moment by its isotropic average, under which the train loss closes
(:func:`multipass_mean_field`; its accuracy against the exact recursion is measured in
the tests and in the ``sgd-multipass-finite-data`` law).

Power-law random features (PLRF; Paquette et al. 2024, Sec. 2): conditional on the
feature matrix W the PLRF problem is exactly the online problem with
Sigma -> W^T D W, noise -> 2 P_inf (:func:`plrf_reduction`).

Normalized SGD with the expectation normalization w <- w - eta g / sqrt(E|g|^2)
(Meterez et al. 2025, "Seesaw", Sec. 4) is SGD with a deterministic effective learning
rate, so the same recursion is exact for it (``normalized=True``).

Everything is float64 numpy; schedules, batch sizes, spectra and initial errors are
validated at the boundary and refused with :class:`lmech.errors.InputError`.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from lmech._memory import check_allocation
from lmech.errors import ConvergenceError, InputError

__all__ = [
    "LossCurve",
    "power_law_spectrum",
    "power_law_target",
    "constant_schedule",
    "cosine_schedule",
    "inverse_power_schedule",
    "wsd_schedule",
    "averaging_weights",
    "check_spectrum",
    "check_schedule",
    "check_batches",
    "kernel_norm",
    "stationary_loss",
    "stability_bound",
    "check_stability",
    "online_moments",
    "online_loss",
    "volterra_loss",
    "volterra_solve",
    "multipass_recursion",
    "multipass_mean_field",
    "plrf_reduction",
    "predict_loss",
]

_MAX_STEPS = 10**8


# ----------------------------------------------------------------------------- inputs


def _real(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise InputError(f"{name} must be a real number; got {type(x).__name__} {x!r:.40}")
    v = float(x)
    if not np.isfinite(v):
        raise InputError(f"{name} must be finite; got {v!r}")
    return v


def _int(x, name: str, minimum: int = 1) -> int:
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise InputError(f"{name} must be an integer >= {minimum}; got {type(x).__name__} {x!r}")
    if int(x) < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}; got {int(x)}")
    return int(x)


def check_spectrum(lam, name: str = "spectrum") -> np.ndarray:
    """``lam`` as a 1-D float64 array of finite, non-negative eigenvalues with a positive sum.

    Raises:
        InputError: not 1-D, empty, NaN/inf, a negative eigenvalue (names the first), or all zero.
    """
    try:
        a = np.asarray(lam, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name} must be a 1-D array of eigenvalues; got {lam!r:.60}") from err
    if a.ndim != 1 or a.size == 0:
        raise InputError(
            f"{name} must be a non-empty 1-D array of eigenvalues; got shape {a.shape}"
        )
    bad = ~np.isfinite(a)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{name} must be finite; entry {i} is {a[i]!r}")
    if (a < 0).any():
        i = int(np.flatnonzero(a < 0)[0])
        raise InputError(
            f"{name} must be non-negative (a covariance spectrum); entry {i} is {a[i]:.6g}; "
            "pass the eigenvalues of a positive semi-definite covariance"
        )
    if not a.sum() > 0:
        raise InputError(f"{name} is all zero; at least one eigenvalue must be positive")
    return a


def _check_c0(c0, d: int) -> np.ndarray:
    try:
        c = np.asarray(c0, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(
            f"initial error c0 must be an array of {d} squares; got {c0!r:.60}"
        ) from err
    if c.ndim == 0:
        c = np.full(d, float(c))
    if c.shape != (d,):
        raise InputError(
            f"initial error c0 must have shape ({d},) like the spectrum; got {c.shape}"
        )
    if not np.isfinite(c).all() or (c < 0).any():
        raise InputError(
            "initial error c0 = E(w0 - w*)_k^2 must be finite and >= 0 in every mode; "
            f"got min {np.nanmin(c) if np.isfinite(c).any() else c[0]!r}"
        )
    return c


def _check_noise(noise_variance) -> float:
    s = _real(noise_variance, "noise_variance")
    if s < 0:
        raise InputError(f"noise_variance (sigma^2) must be >= 0; got {s}")
    return s


def check_schedule(lrs, name: str = "schedule") -> np.ndarray:
    """Learning rates as a float64 array of shape (T,) or (S, T): finite and >= 0.

    Raises:
        InputError: empty, NaN/inf or negative entries (names the first bad step).
    """
    try:
        a = np.asarray(lrs, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name} must be an array of learning rates; got {lrs!r:.60}") from err
    if a.ndim not in (1, 2) or a.shape[-1] == 0:
        raise InputError(
            f"{name} must have shape (steps,) or (schedules, steps) with steps >= 1; got {a.shape}"
        )
    bad = ~np.isfinite(a)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise InputError(
            f"{name} must be finite; step {int(idx[-1])} is {a[tuple(idx)]!r}; "
            "a learning-rate schedule cannot contain NaN or inf"
        )
    if (a < 0).any():
        idx = np.argwhere(a < 0)[0]
        raise InputError(
            f"{name} must be >= 0 at every step; step {int(idx[-1])} is {a[tuple(idx)]:.6g}"
        )
    return a


def check_batches(batch, shape: tuple[int, ...]) -> np.ndarray:
    """Batch sizes broadcast to ``shape``: integers >= 1.

    Raises:
        InputError: a batch size below 1, not an integer, or not broadcastable to ``shape``.
    """
    try:
        b = np.asarray(batch, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"batch size must be an integer >= 1; got {batch!r:.60}") from err
    if not np.isfinite(b).all() or (b < 1).any():
        bad = b[~(np.isfinite(b) & (b >= 1))].ravel()[0]
        raise InputError(
            f"batch size B must be an integer >= 1 (samples per step); got {bad!r}; "
            "use B = 1 for single-sample SGD"
        )
    if (b != np.round(b)).any():
        raise InputError(f"batch size B must be an integer; got {b[b != np.round(b)].ravel()[0]}")
    try:
        return np.broadcast_to(b, shape).astype(np.float64)
    except ValueError as err:
        raise InputError(
            f"batch sizes of shape {b.shape} do not match schedule shape {shape}"
        ) from err


# -------------------------------------------------------------------- constructors


def power_law_spectrum(d: int, capacity: float, *, trace: float | None = 1.0) -> np.ndarray:
    r"""Eigenvalues :math:`\lambda_i \propto i^{-a}`, i = 1..d (capacity a), scaled to ``trace``
    (``trace=None``: :math:`\lambda_i = i^{-a}` exactly, the convention of Meterez et al.
    2026, Sec. 5)."""
    d = _int(d, "d")
    a = _real(capacity, "capacity exponent a")
    if a < 0:
        raise InputError(f"capacity exponent a must be >= 0; got {a}")
    check_allocation(8 * d, f"a spectrum of {d} modes", "use fewer modes")
    lam = np.arange(1, d + 1, dtype=np.float64) ** (-a)
    if trace is not None:
        lam *= _real(trace, "trace") / lam.sum()
    return lam


def power_law_target(d: int, capacity: float, source: float, *, scale: float = 1.0) -> np.ndarray:
    r"""Squared teacher coefficients :math:`(w^*_i)^2 = s\, i^{-(b - a)}`, so that with
    :math:`\lambda_i = i^{-a}` the per-mode initial excess risk is
    :math:`\lambda_i (w^*_i)^2 = s\,i^{-b}` (source b; Meterez et al. 2026, Sec. 5).
    Use as ``c0`` for w_0 = 0."""
    d = _int(d, "d")
    a, b = _real(capacity, "capacity exponent a"), _real(source, "source exponent b")
    s = _real(scale, "scale")
    if s < 0:
        raise InputError(f"scale must be >= 0; got {s}")
    return s * np.arange(1, d + 1, dtype=np.float64) ** (-(b - a))


def constant_schedule(eta: float, steps: int) -> np.ndarray:
    """eta_t = eta for t = 0..steps-1."""
    return np.full(_int(steps, "steps"), _real(eta, "eta"))


def cosine_schedule(eta: float, steps: int, *, floor: float = 0.0, warmup: int = 0) -> np.ndarray:
    """Linear warmup over ``warmup`` steps, then cosine from eta to ``floor * eta``."""
    steps, eta = _int(steps, "steps"), _real(eta, "eta")
    warmup = _int(warmup, "warmup", 0)
    t = np.arange(steps, dtype=np.float64)
    rest = max(steps - warmup, 1)
    u = np.clip((t - warmup) / rest, 0.0, 1.0)
    out = eta * (floor + (1 - floor) * 0.5 * (1 + np.cos(np.pi * u)))
    if warmup:
        out = np.where(t < warmup, eta * (t + 1) / warmup, out)
    return out


def inverse_power_schedule(eta: float, steps: int, gamma: float, *, t0: float = 1.0) -> np.ndarray:
    r""":math:`\eta_t = \eta\,((t + t_0)/t_0)^{-\gamma}`, t = 0..steps-1 (anytime schedules,
    Meterez et al. 2026, Sec. 4)."""
    steps, eta = _int(steps, "steps"), _real(eta, "eta")
    gamma, t0 = _real(gamma, "gamma"), _real(t0, "t0")
    if t0 <= 0:
        raise InputError(f"t0 must be > 0; got {t0}")
    return eta * ((np.arange(steps) + t0) / t0) ** (-gamma)


def wsd_schedule(eta: float, steps: int, *, stable_fraction: float = 0.8) -> np.ndarray:
    """Warmup-free WSD: constant eta, then linear decay to 0 over the last part."""
    steps, eta = _int(steps, "steps"), _real(eta, "eta")
    p = _real(stable_fraction, "stable_fraction")
    if not 0 <= p <= 1:
        raise InputError(f"stable_fraction must be in [0, 1]; got {p}")
    t = np.arange(steps, dtype=np.float64)
    n0 = int(round(p * steps))
    return np.where(t < n0, eta, eta * (steps - t) / max(steps - n0, 1))


def averaging_weights(kind: str, steps: int, value: float | None = None) -> np.ndarray:
    r"""Weights :math:`\rho_t` (t = 1..steps) of :math:`\bar\Delta_t = (1-\rho_t)\bar\Delta_{t-1}
    + \rho_t\Delta_t`, with :math:`\bar\Delta_0 = \Delta_0`.

    - ``"last"``: rho = 1 (the last iterate);
    - ``"uniform"``: rho_t = 1/t (Polyak-Ruppert over iterates 1..t);
    - ``"tail"``: uniform over iterates s..t, s = ``value`` (rho = 1 before s, reset at s);
    - ``"ema"``: rho = 1 - beta, beta = ``value`` in [0, 1);
    - ``"window"``: rho_t = min(E, t)/t, E = ``value`` (an EMA whose window grows with t;
      E = 1 is uniform; Meterez et al. 2026, Sec. 4).
    """
    steps = _int(steps, "steps")
    t = np.arange(1, steps + 1, dtype=np.float64)
    if kind == "last":
        return np.ones(steps)
    if kind == "uniform":
        return 1.0 / t
    if kind == "tail":
        s = _int(value, "tail start s", 1)
        return np.where(t < s, 1.0, 1.0 / np.maximum(t - s + 1, 1.0))
    if kind == "ema":
        beta = _real(value, "EMA beta")
        if not 0 <= beta < 1:
            raise InputError(f"EMA beta must be in [0, 1); got {beta}")
        return np.full(steps, 1.0 - beta)
    if kind == "window":
        e = _real(value, "window E")
        if e < 1:
            raise InputError(f"window E must be >= 1; got {e}")
        return np.minimum(e, t) / t
    raise InputError(
        f"averaging kind must be one of 'last', 'uniform', 'tail', 'ema', 'window'; got {kind!r}"
    )


# ------------------------------------------------------------------ stationary theory


def kernel_norm(lam, eta: float, batch: float = 1) -> float:
    r""":math:`\|K\| = (\eta^2/B)\sum_{u\ge0}K(u) = (\eta/B)\sum_k\lambda_k/(2-\eta\lambda_k(1+1/B))`;
    +inf when some mode does not contract (:math:`a_k \ge 1`)."""
    lam = check_spectrum(lam)
    eta, b = _real(eta, "eta"), float(check_batches(batch, ())[()])
    denom = 2.0 - eta * lam * (1.0 + 1.0 / b)
    if eta < 0:
        raise InputError(f"eta must be >= 0; got {eta}")
    if (denom[lam > 0] <= 0).any():
        return float("inf")
    return float(eta / b * np.sum(lam / denom))


def stationary_loss(lam, noise_variance: float, eta: float, batch: float = 1) -> float:
    r"""Stationary loss of constant-(eta, B) SGD, :math:`L(\infty) = (\sigma^2/2)/(1-\|K\|)`.

    Raises:
        InputError: eta at or beyond the stability bound (names the bound).
    """
    s = _check_noise(noise_variance)
    check_stability(lam, eta, batch)
    return 0.5 * s / (1.0 - kernel_norm(lam, eta, batch))


def stability_bound(lam, batch: float = 1) -> float:
    r"""The largest stable constant learning rate: the root of :math:`\|K\|(\eta) = 1`.

    :math:`\|K\|` increases from 0 to +inf on :math:`(0, 2B/((B+1)\lambda_{max}))`, so the
    root is unique; found by bisection to relative precision 1e-13. For a flat spectrum
    of d modes of size lambda it is 2B/(lambda (d + B + 1)), i.e. about 2B/tr Sigma for
    d >> B (Bordelon & Pehlevan 2022, Sec. 3).
    """
    lam = check_spectrum(lam)
    b = float(check_batches(batch, ())[()])
    hi = 2.0 * b / ((b + 1.0) * lam.max())
    lo = 0.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if kernel_norm(lam, mid, b) < 1.0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return lo


def check_stability(lam, eta, batch=1, name: str = "eta") -> None:
    """Refuse learning rates at or above :func:`stability_bound` for their batch size.

    Raises:
        InputError: names the step, the learning rate, the batch size and the bound.
    """
    lam = check_spectrum(lam)
    eta = check_schedule(np.atleast_1d(eta), name)
    b = check_batches(batch, eta.shape)
    for bv in np.unique(b):
        bound = stability_bound(lam, bv)
        over = (b == bv) & (eta >= bound)
        if over.any():
            idx = np.argwhere(over)[0]
            raise InputError(
                f"{name} = {eta[tuple(idx)]:.6g} at step {int(idx[-1])} (batch {int(bv)}) is beyond "
                f"the stability bound eta < {bound:.6g} (root of ||K|| = "
                f"(eta/B) sum_k lambda_k/(2 - eta lambda_k (1 + 1/B)) = 1; about "
                f"{bound * lam.sum():.3g}/tr Sigma); use a smaller learning rate or a larger batch"
            )


# ------------------------------------------------------------------ online recursion


@dataclass(frozen=True)
class LossCurve:
    """Expected loss of SGD at steps 0..T (half-MSE, noise included).

    Attributes:
        steps: (T+1,) step index t.
        loss: (..., T+1) expected loss of the last iterate.
        averaged: (..., T+1) expected loss of the averaged iterate (None without averaging).
        bias: (..., T+1) bias part of ``averaged`` (or of ``loss``): 0.5 sum lambda E[avg Delta]^2.
        variance: (..., T+1) the rest of the excess risk (SGD noise).
        noise_variance: sigma^2.
    """

    steps: np.ndarray
    loss: np.ndarray
    averaged: np.ndarray | None
    bias: np.ndarray
    variance: np.ndarray
    noise_variance: float

    @property
    def final(self) -> np.ndarray:
        """Expected loss after the last step (of the averaged iterate when averaging)."""
        out = self.loss if self.averaged is None else self.averaged
        return out[..., -1]


def online_moments(
    lam,
    c0,
    noise_variance: float,
    lrs,
    batch=1,
    *,
    rho=None,
    m0=None,
    normalized: bool = False,
    check_stable: bool = True,
) -> LossCurve:
    r"""Exact expected loss of online minibatch SGD (and of its averaged iterate).

    Args:
        lam: (d,) eigenvalues of Sigma.
        c0: (d,) initial second moments E(w0 - w*)_k^2 (a scalar broadcasts).
        noise_variance: sigma^2 of the label noise.
        lrs: (T,) or (S, T) learning rates eta_t (S schedules run at once).
        batch: batch sizes B_t, broadcast to ``lrs``' shape.
        rho: (T,) or (S, T) averaging weights rho_t (:func:`averaging_weights`); None: none.
        m0: (d,) initial mean E(w0 - w*)_k for the bias/variance split (default
            sqrt(c0): a deterministic start).
        normalized: expectation-normalized SGD, eta_t -> eta_t / sqrt(E|g_t|^2) with
            :math:`E|g|^2 = (1+1/B)\sum\lambda^2 c + (1/B)\,\mathrm{tr}\Sigma\cdot 2L`.
        check_stable: refuse eta_t beyond :func:`stability_bound` (plain SGD only).

    Returns:
        :class:`LossCurve` at steps 0..T.
    """
    lam = check_spectrum(lam)
    d = lam.size
    c = _check_c0(c0, d)
    s2 = _check_noise(noise_variance)
    eta = check_schedule(lrs, "learning-rate schedule")
    shape = eta.shape
    B = check_batches(batch, shape)
    T = shape[-1]
    if T > _MAX_STEPS:
        raise InputError(f"at most {_MAX_STEPS} steps; got {T}")
    lead = shape[:-1]
    check_allocation(8 * (int(np.prod(lead)) * d * 6 + 4 * int(np.prod(shape))), "the SGD moments")
    if check_stable and not normalized:
        check_stability(lam, eta, B, "learning rate")
    if rho is not None:
        rho = np.broadcast_to(check_schedule(rho, "averaging weights rho"), shape)
        if (rho > 1).any():
            raise InputError("averaging weights rho_t must lie in [0, 1]")
    m = np.sqrt(c) if m0 is None else np.asarray(m0, dtype=np.float64)
    if m.shape != (d,) or not np.isfinite(m).all() or (m**2 > c * (1 + 1e-12) + 1e-300).any():
        raise InputError("m0 must be (d,) finite with m0_k^2 <= c0_k (a mean below the 2nd moment)")
    c = np.broadcast_to(c, (*lead, d)).copy()
    m = np.broadcast_to(m, (*lead, d)).copy()
    q, p, mb = c.copy(), c.copy(), m.copy()
    loss = np.empty((*lead, T + 1))
    avg = np.empty((*lead, T + 1)) if rho is not None else None
    bias = np.empty((*lead, T + 1))
    loss[..., 0] = 0.5 * (c @ lam + s2)
    if avg is not None:
        avg[..., 0] = loss[..., 0]
    bias[..., 0] = 0.5 * (m**2 @ lam)
    trace = lam.sum()
    lam2 = lam * lam
    for t in range(T):
        e = eta[..., t][..., None]
        b = B[..., t][..., None]
        two_l = c @ lam + s2
        if normalized:
            g2 = (1 + 1 / b[..., 0]) * (c @ lam2) + trace * two_l / b[..., 0]
            e = e / np.sqrt(np.maximum(g2, 1e-300))[..., None]
        contract = 1.0 - e * lam
        a = contract**2 + (e * e / b) * lam2
        c_new = a * c + (e * e / b) * lam * two_l[..., None]
        m = contract * m
        if rho is not None:
            r = rho[..., t][..., None]
            cross = contract * p
            q = (1 - r) ** 2 * q + 2 * r * (1 - r) * cross + r * r * c_new
            p = (1 - r) * cross + r * c_new
            mb = (1 - r) * mb + r * m
            avg[..., t + 1] = 0.5 * (q @ lam + s2)
            bias[..., t + 1] = 0.5 * (mb**2 @ lam)
        else:
            bias[..., t + 1] = 0.5 * (m**2 @ lam)
        c = c_new
        loss[..., t + 1] = 0.5 * (c @ lam + s2)
    if not np.isfinite(loss).all():
        raise ConvergenceError(
            "the SGD moment recursion overflowed (learning rate too large for this spectrum); "
            "lower eta below stability_bound(lam, B)"
        )
    ref = loss if avg is None else avg
    return LossCurve(np.arange(T + 1), loss, avg, bias, ref - 0.5 * s2 - bias, s2)


def online_loss(lam, c0, noise_variance, lrs, batch=1, **kw) -> np.ndarray:
    """Expected last-iterate loss L(t), t = 0..T (:func:`online_moments`)."""
    return online_moments(lam, c0, noise_variance, lrs, batch, **kw).loss


def volterra_solve(forcing, kernel, coupling: float) -> np.ndarray:
    r"""Solve :math:`L(t) = F(t) + g\sum_{s<t} K(t-1-s)L(s)` for t = 0..T (O(T^2))."""
    F = np.asarray(forcing, dtype=np.float64)
    K = np.asarray(kernel, dtype=np.float64)
    if F.ndim != 1 or K.ndim != 1 or K.size < F.size - 1:
        raise InputError("forcing must be (T+1,) and kernel at least (T,)")
    g = _real(coupling, "coupling")
    out = np.empty_like(F)
    for t in range(F.size):
        out[t] = F[t] + g * np.dot(K[:t][::-1], out[:t])
    return out


def volterra_loss(lam, c0, noise_variance: float, eta: float, batch: int, steps: int) -> np.ndarray:
    """L(t), t = 0..steps, from the Volterra form of constant-(eta, B) SGD (O(T^2 + T d))."""
    lam = check_spectrum(lam)
    c = _check_c0(c0, lam.size)
    s2 = _check_noise(noise_variance)
    steps = _int(steps, "steps")
    check_stability(lam, eta, batch)
    b = float(check_batches(batch, ())[()])
    a = (1 - eta * lam) ** 2 + eta * eta * lam**2 / b
    check_allocation(8 * (steps + 1) * lam.size, "the Volterra powers a_k^t", "use fewer steps")
    powers = a[None, :] ** np.arange(steps + 1)[:, None]
    F = 0.5 * (s2 + powers @ (lam * c))
    K = powers[:steps] @ (lam**2)
    return volterra_solve(F, K, eta * eta / b)


# ------------------------------------------------------------------- multi-pass SGD


def _check_data(X, eps):
    X = np.asarray(X, dtype=np.float64)
    eps = np.asarray(eps, dtype=np.float64)
    if X.ndim != 2 or eps.shape != (X.shape[0],):
        raise InputError(f"X must be (P, D) and eps (P,); got {X.shape} and {eps.shape}")
    if not (np.isfinite(X).all() and np.isfinite(eps).all()):
        raise InputError("X and eps must be finite")
    return X, eps


def multipass_recursion(X, eps, delta0, lam, noise_variance, lrs, batch=1) -> dict[str, np.ndarray]:
    r"""Exact moments of multi-pass SGD on a fixed dataset (batches of B indices drawn
    uniformly with replacement), conditional on the data.

    Labels are y = X w* + eps; Delta = w - w*, m = E Delta, C = E Delta Delta^T,
    R = X C X^T - X m eps^T - eps m^T X^T + eps eps^T (P x P), and

    .. math::
        m' = m - \eta(\hat\Sigma m - X^\top\epsilon/P),\quad
        A = X^\top(XC - \epsilon m^\top)/P,\\
        C' = C - \eta(A + A^\top) + \eta^2[(1-1/B) X^\top R X/P^2 + (1/B) X^\top
             \mathrm{diag}(R) X/P].

    Returns ``{"test": L_te(t), "train": L_tr(t)}`` for t = 0..T, with
    L_te = (tr(Sigma C) + sigma^2)/2 (Sigma = diag(lam), the population covariance) and
    L_tr = tr(R)/(2P). Cost O(P D^2 + P^2 D) per step.
    """
    X, eps = _check_data(X, eps)
    P, D = X.shape
    lam = check_spectrum(lam)
    if lam.size != D:
        raise InputError(f"lam must have D = {D} entries; got {lam.size}")
    s2 = _check_noise(noise_variance)
    eta = check_schedule(lrs, "learning-rate schedule")
    if eta.ndim != 1:
        raise InputError("multipass_recursion takes one schedule (T,)")
    B = check_batches(batch, eta.shape)
    check_allocation(8 * (3 * D * D + 2 * P * P + P * D), "the multi-pass moments")
    m = np.asarray(delta0, dtype=np.float64).copy()
    if m.shape != (D,):
        raise InputError(f"delta0 = w0 - w* must be ({D},); got {m.shape}")
    C = np.outer(m, m)
    xe = X.T @ eps / P
    T = eta.size
    test, train = np.empty(T + 1), np.empty(T + 1)
    for t in range(T + 1):
        XC = X @ C
        Xm = X @ m
        R = XC @ X.T - np.outer(Xm, eps) - np.outer(eps, Xm) + np.outer(eps, eps)
        test[t] = 0.5 * (np.einsum("i,ii->", lam, C) + s2)
        train[t] = 0.5 * np.trace(R) / P
        if t == T:
            break
        e, b = eta[t], B[t]
        A = X.T @ (XC - np.outer(eps, m)) / P
        full = X.T @ R @ X / P**2
        diag = (X.T * np.diag(R)) @ X / P
        C = C - e * (A + A.T) + e * e * ((1 - 1 / b) * full + (1 / b) * diag)
        C = 0.5 * (C + C.T)
        m = m - e * (X.T @ Xm / P - xe)
    return {"test": test, "train": train}


def multipass_mean_field(
    X, eps, delta0, lam, noise_variance, lrs, batch=1
) -> dict[str, np.ndarray]:
    r"""Mean-field reduction of :func:`multipass_recursion`.

    The per-sample gradient second moment :math:`X^\top\mathrm{diag}(R)X/P` is replaced by
    its isotropic average :math:`(\mathrm{tr}R/P)\hat\Sigma = 2L_{tr}\hat\Sigma`. Then with
    Delta = m + delta (m: full-batch GD on the mean; Q = E delta delta^T) and in the
    eigenbasis of :math:`\hat\Sigma` (eigenvalues s_j), elementwise,

    .. math:: Q_{ij}' = [(1-\eta s_i)(1-\eta s_j) - \eta^2 s_i s_j/B]Q_{ij}
              + (\eta^2/B)(2L_{tr}\, s_i\delta_{ij} - \bar g_i\bar g_j),

    :math:`L_{tr} = \tfrac12(|Xm-\epsilon|^2/P + \sum_j s_j Q_{jj})`: the train loss obeys
    a closed scalar Volterra equation in the diagonal q_jj; the test loss is
    :math:`\tfrac12(\mathrm{tr}\,\Sigma(mm^\top + Q) + \sigma^2)`. Cost O(D^2) per step.
    Its error against the exact recursion is measured: at most 2.9% of the test loss and
    3.8% of the train loss at D = 40, P = 25 and 80 (largest in the first steps).
    """
    X, eps = _check_data(X, eps)
    P, D = X.shape
    lam = check_spectrum(lam)
    if lam.size != D:
        raise InputError(f"lam must have D = {D} entries; got {lam.size}")
    s2 = _check_noise(noise_variance)
    eta = check_schedule(lrs, "learning-rate schedule")
    B = check_batches(batch, eta.shape)
    S = X.T @ X / P
    s, U = np.linalg.eigh(S)
    s = np.clip(s, 0.0, None)
    SigU = U.T @ (lam[:, None] * U)  # population covariance in the Sigma-hat basis
    m = U.T @ np.asarray(delta0, dtype=np.float64)
    xe = U.T @ (X.T @ eps / P)
    Q = np.zeros((D, D))
    const = float(eps @ eps) / P
    T = eta.size
    test, train = np.empty(T + 1), np.empty(T + 1)
    for t in range(T + 1):
        gd_train = float(m @ (s * m)) - 2 * float(m @ xe) + const  # |Xm - eps|^2 / P
        two_ltr = gd_train + float(s @ np.diag(Q))
        train[t] = 0.5 * two_ltr
        test[t] = 0.5 * (float(m @ SigU @ m) + float(np.sum(SigU * Q)) + s2)
        if t == T:
            break
        e, b = eta[t], B[t]
        g = s * m - xe
        one = 1 - e * s
        Q = (np.outer(one, one) - (e * e / b) * np.outer(s, s)) * Q + (e * e / b) * (
            np.diag(two_ltr * s) - np.outer(g, g)
        )
        m = m - e * g
    return {"test": test, "train": train}


# ------------------------------------------------------------------------- PLRF


def plrf_reduction(W, D_diag, b, theta0=None) -> dict[str, np.ndarray | float]:
    r"""PLRF SGD as an online problem (Paquette, Paquette, Xiao, Pennington 2024, Sec. 2).

    Data x ~ N(0, I_v), features z = W^T D^{1/2} x, target y = <D^{1/2} x, b>. Conditional
    on W, z and the residual y - z^T theta* (theta* = K^{-1} W^T D b, K = W^T D W) are
    jointly Gaussian and uncorrelated, hence independent, so SGD on theta is exactly the
    problem of :func:`online_moments` with

    .. math:: \Sigma \to K = \sum_j\sigma_j u_ju_j^\top,\quad c_j(0) = (u_j^\top(\theta_0
              - \theta^*))^2,\quad \sigma^2 \to 2P_\infty,\quad
              P_\infty = \tfrac12(b^\top Db - (W^\top Db)^\top K^{-1}W^\top Db).

    Returns ``{"lam": sigma_j, "c0": c_j(0), "noise_variance": 2 P_inf, "p_inf": P_inf}``.
    """
    W = np.asarray(W, dtype=np.float64)
    Dd = check_spectrum(D_diag, "PLRF data spectrum D")
    b = np.asarray(b, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != Dd.size or b.shape != (Dd.size,):
        raise InputError(f"W must be (v, d) with D and b of length v; got {W.shape}, {b.shape}")
    v, d = W.shape
    if d > v:
        raise InputError(f"PLRF needs v >= d (latent dim >= parameters); got v={v}, d={d}")
    K = W.T @ (Dd[:, None] * W)
    h = W.T @ (Dd * b)
    sig, U = np.linalg.eigh(K)
    if sig.min() <= 0:
        raise InputError("W^T D W is singular; draw W with full column rank")
    theta_star = U @ ((U.T @ h) / sig)
    p_inf = 0.5 * (float(b @ (Dd * b)) - float(h @ theta_star))
    p_inf = max(p_inf, 0.0)
    th0 = np.zeros(d) if theta0 is None else np.asarray(theta0, dtype=np.float64)
    c0 = (U.T @ (th0 - theta_star)) ** 2
    return {"lam": sig, "c0": c0, "noise_variance": 2 * p_inf, "p_inf": p_inf, "basis": U}


# ------------------------------------------------------------------- one-call API


def predict_loss(
    lam,
    c0,
    noise_variance: float,
    schedule,
    *,
    batch=1,
    averaging: str | tuple = "last",
    normalized: bool = False,
) -> LossCurve:
    """What loss will SGD reach after T steps with this schedule, batch and averaging?

    Args:
        lam: (d,) eigenvalues of the data covariance (e.g. :func:`power_law_spectrum`).
        c0: (d,) squared initial errors per mode (e.g. :func:`power_law_target` for w0 = 0).
        noise_variance: label-noise variance sigma^2.
        schedule: (T,) or (S, T) learning rates (:func:`cosine_schedule`, ...).
        batch: batch size(s), broadcast to the schedule.
        averaging: ``"last"``, ``"uniform"``, ``("tail", s)``, ``("ema", beta)`` or
            ``("window", E)`` (:func:`averaging_weights`).
        normalized: expectation-normalized SGD.

    Returns:
        :class:`LossCurve`; ``.final`` is the expected loss after the last step.

    Example:
        >>> lam = power_law_spectrum(200, 1.5)
        >>> c0 = power_law_target(200, 1.5, 2.0, scale=1.0)
        >>> curve = predict_loss(lam, c0, 0.01, cosine_schedule(0.5, 1000), batch=4)
        >>> bool(curve.final < curve.loss[0])
        True
    """
    eta = check_schedule(schedule, "schedule")
    kind, value = (averaging, None) if isinstance(averaging, str) else tuple(averaging)
    rho = None if kind == "last" else averaging_weights(kind, eta.shape[-1], value)
    return online_moments(lam, c0, noise_variance, eta, batch, rho=rho, normalized=normalized)

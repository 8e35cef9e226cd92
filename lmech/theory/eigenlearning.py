r"""Eigenlearning: dataset-averaged ("omniscient") risk of kernel ridge regression.

Given the kernel's eigenvalues lambda_i under the data measure, the target's eigen
coefficients v_i, the label-noise variance eps^2, the number of training points n and the
explicit ridge delta, the eigenlearning equations predict the effective ridge kappa, the
learnability L_i of every eigenmode, the overfitting coefficient E_0, and the test and
train MSE of

.. math::

    \hat f(x) = k(x, X) (K_{XX} + \delta I_n)^{-1} y ,

where K_XX is the raw n x n Gram matrix (not divided by n).

Everything here is a small pure function of float64 numpy arrays; nothing imports torch.
Eigenvalues may be grouped into degenerate *levels*: pass ``multiplicities`` m_l and every
sum over modes becomes a sum over levels weighted by m_l; the target coefficient of a
level is then the root of the level's total power (v_l^2 = sum of v_i^2 over the level).

Conventions of other papers:

- Bordelon/Canatar/Pehlevan write the loss with a per-sample ridge lambda = delta / n and
  an effective regularization kappa_C that is n times ours: kappa_C = n * kappa.
- Their gamma = (1/n) sum_i L_i^2 gives E_0 = 1 / (1 - gamma).

References:
    Simon, Dickens, Karkada, DeWeese, "The Eigenlearning Framework: A Conservation Law
    Perspective on Kernel Regression and Wide Neural Networks", TMLR 2023,
    arXiv:2110.03922, Sec. 4 (the eigenlearning equations). Equation numbers move between
    the arXiv versions; the docstrings below cite the equations by name.

    Bordelon, Canatar, Pehlevan, "Spectrum Dependent Learning Curves in Kernel Regression
    and Wide Neural Networks", ICML 2020, arXiv:2002.02561.

    Canatar, Bordelon, Pehlevan, "Spectral bias and task-model alignment explain
    generalization in kernel regression and infinitely wide neural networks",
    Nat. Commun. 12, 2914 (2021), arXiv:2006.13198.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from lmech.errors import ConvergenceError, InputError

__all__ = [
    "effective_ridge",
    "learnabilities",
    "overfitting_coefficient",
    "target_learnability",
    "test_mse",
    "train_mse",
    "learning_curve",
]

# Solver settings. Newton in t = log kappa converges quadratically; the bisection safeguard
# bounds the worst case by the bracket width (< 2^11 in t) / 2^k.
_MAX_ITER = 100
_T_TOL = 1e-13  # tolerance on log kappa, i.e. on kappa relative
_ALMOST_MINUS_ONE = np.nextafter(-1.0, 0.0)
# Workspace of the blocked sums over modes: (grid chunk) x (mode block) float64 buffers of
# about 2 MiB each stay in cache, so a sum costs one streaming pass over the eigenvalues.
_BLOCK_ELEMENTS = 1 << 18
_GRID_CHUNK = 4096
_MIN_BLOCK = 256
# Spectra with more modes than this get a first solve on a log-binned copy of the spectrum
# (measured 1e-6 to 5e-3 off in log kappa), so that Newton on the full spectrum starts close
# and needs 2-4 full passes.
_COARSE_MODES = 8192
_COARSE_BINS = 2048
# Magnitudes the sums below can hold with room to spare: totals (sum m lambda, sum v^2 +
# noise, the kappa bracket) above 1e300 would overflow float64 in lambda + kappa, E_0 times
# the bias, or a square; such inputs are refused with a hint to rescale.
_HUGE = 1e300
_LOG_HUGE = float(np.log(_HUGE))
# Sample sizes beyond 2^53 are not integers float64 can count; the int64 column of
# learning_curve needs them exact.
_MAX_N = 2.0**53
# Bytes per grid point of the prediction routines (inputs, kappa, sums and outputs).
_BYTES_PER_POINT = 8 * 24


# --------------------------------------------------------------------------------------
# Validation at the public boundary.


def _indices(mask: np.ndarray, limit: int = 5) -> str:
    idx = np.flatnonzero(mask)
    head = ", ".join(str(i) for i in idx[:limit])
    return f"[{head}{', ...' if idx.size > limit else ''}]"


def _values(arr: np.ndarray, limit: int = 5) -> str:
    flat = arr.ravel()
    head = ", ".join(f"{x:.6g}" for x in flat[:limit])
    return f"[{head}{', ...' if flat.size > limit else ''}]"


def _real_array(x, name: str, what: str) -> np.ndarray:
    """``x`` as float64, or an InputError if it is not real-numeric."""
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError) as err:  # ragged nested sequences
        raise InputError(
            f"{name} must be {what}; got {type(x).__name__} that numpy cannot read ({err}); "
            "pass a numpy array of floats"
        ) from None
    if raw.dtype.kind not in "iuf":
        raise InputError(
            f"{name} must be {what}; got dtype {raw.dtype}; pass real numbers as a numpy "
            "array of floats"
        )
    return raw.astype(np.float64)


def _check_finite(arr: np.ndarray, name: str, rule: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(bad.sum()) - n_nan
        parts = [f"{k} {label}" for k, label in ((n_nan, "NaN"), (n_inf, "inf")) if k]
        raise InputError(
            f"{name} must be {rule}; got {' and '.join(parts)} values at indices "
            f"{_indices(bad.ravel())}; drop or fix them"
        )


def _check_vector(x, name: str, size: int | None = None) -> np.ndarray:
    arr = _real_array(x, name, "a 1-D array of finite real numbers")
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(
            f"{name} must be a non-empty 1-D array (one entry per eigenmode or level); "
            f"got shape {arr.shape}; pass a flat array such as np.ravel({name})"
        )
    if size is not None and arr.size != size:
        raise InputError(
            f"{name} must have one entry per eigenvalue ({size}); got {arr.size}; "
            "pass arrays of matching length, in the same order as eigenvalues"
        )
    _check_finite(arr, name, "finite")
    return arr


def _check_eigenvalues(eigenvalues) -> np.ndarray:
    lam = _check_vector(eigenvalues, "eigenvalues")
    negative = lam < 0
    if negative.any():
        raise InputError(
            f"eigenvalues must be finite and >= 0; got {int(negative.sum())} negative values "
            f"(min {lam.min():.3g}) at indices {_indices(negative)}; clip round-off negatives "
            "with np.clip(eigenvalues, 0, None) or fix them"
        )
    if not (lam > 0).any():
        raise InputError(
            f"eigenvalues must contain at least one positive value; got all {lam.size} zero; "
            "pass the kernel's nonzero spectrum"
        )
    return lam


def _check_multiplicities(multiplicities, size: int) -> np.ndarray | None:
    if multiplicities is None:
        return None
    m = _check_vector(multiplicities, "multiplicities", size)
    if (m <= 0).any():
        raise InputError(
            f"multiplicities must be > 0; got {_values(m[m <= 0])} at indices "
            f"{_indices(m <= 0)}; drop empty levels from every array or fix the counts"
        )
    return m


def _check_sizes(n, name: str = "n") -> np.ndarray:
    arr = _real_array(n, name, "finite and > 0 (sample sizes; non-integer allowed)")
    bad = ~np.isfinite(arr) | (arr <= 0)
    if arr.size == 0 or bad.any():
        got = "an empty array" if arr.size == 0 else f"{_values(arr[bad])}"
        raise InputError(
            f"{name} must be finite and > 0 (sample sizes; non-integer allowed); got {got}; "
            "pass positive sample sizes"
        )
    big = arr > _MAX_N
    if big.any():
        raise InputError(
            f"{name} must be at most 2^53 = {_MAX_N:.0f} (the largest sample size float64 "
            f"counts exactly); got {_values(arr[big])}; pass realistic sample sizes"
        )
    return arr


def _check_ridge(ridge, name: str = "ridge") -> np.ndarray:
    arr = _real_array(ridge, name, "finite and >= 0")
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > _HUGE)
    if arr.size == 0 or bad.any():
        got = "an empty array" if arr.size == 0 else f"{_values(arr[bad])}"
        raise InputError(
            f"{name} must be finite and in [0, {_HUGE:.0e}] (explicit KRR ridge delta on the "
            f"raw Gram matrix); got {got}; pass 0 for ridgeless regression"
        )
    return arr


def _check_noise(noise_variance) -> float:
    arr = _real_array(noise_variance, "noise_variance", "a finite scalar >= 0")
    if arr.ndim != 0 or not np.isfinite(arr) or arr < 0 or arr > _HUGE:
        raise InputError(
            f"noise_variance must be a finite scalar in [0, {_HUGE:.0e}] (label-noise variance "
            f"eps^2); got {noise_variance!r:.60}; pass e.g. noise_variance=0.1"
        )
    return float(arr)


def _check_kappa(kappa) -> np.ndarray:
    arr = _real_array(kappa, "kappa", "finite and >= 0")
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > _HUGE)
    if bad.any():
        raise InputError(
            f"kappa must be finite and in [0, {_HUGE:.0e}] (effective ridge); got "
            f"{_values(arr[bad])}; compute it with effective_ridge(...)"
        )
    return arr


def _check_grid(points: int, what: str) -> None:
    """Refuse a grid whose working arrays would not fit in memory."""
    from lmech._memory import check_allocation

    check_allocation(
        points * _BYTES_PER_POINT,
        f"{what} ({points} grid points)",
        "evaluate fewer (n, ridge) points at a time",
    )


def _broadcast(a: np.ndarray, b: np.ndarray, names: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        out = np.broadcast_arrays(a, b)
    except ValueError:
        raise InputError(
            f"{names} must broadcast together; got shapes {a.shape} and {b.shape}; pass "
            "scalars, equal shapes, or use learning_curve(...) for an outer-product grid"
        ) from None
    _check_grid(int(out[0].size), f"the {names} grid of shape {out[0].shape}")
    return out


class _Spectrum(NamedTuple):
    """Validated spectrum split into positive modes (which KRR can learn) and the rest."""

    lam: np.ndarray  # (P+,) positive eigenvalues
    m: np.ndarray | None  # (P+,) multiplicities, None for all ones
    v2: np.ndarray | None  # (P+,) target power on the positive modes
    v2_null: float  # target power on zero-eigenvalue modes: never learned
    p: float  # number of positive modes, counted with multiplicity


def _spectrum(eigenvalues, coefficients=None, multiplicities=None) -> _Spectrum:
    lam = _check_eigenvalues(eigenvalues)
    m = _check_multiplicities(multiplicities, lam.size)
    pos = lam > 0
    v2 = v2_null = None
    if coefficients is not None:
        v = _check_vector(coefficients, "coefficients", lam.size)
        with np.errstate(over="ignore"):
            power = v * v  # v_i^2, or the level's total power when multiplicities are given
            total = float(power.sum())
        if not total <= _HUGE:
            raise InputError(
                f"coefficients are too large: their total power sum v_i^2 = {total:.3g} "
                f"exceeds {_HUGE:.0e}, where float64 sums overflow; divide the target (and "
                "noise_variance by the square of the same factor)"
            )
        v2, v2_null = power[pos], float(power[~pos].sum())
    m_pos = None if m is None else m[pos]
    with np.errstate(over="ignore"):
        p = float(pos.sum()) if m is None else float(m_pos.sum())
    if not p <= _HUGE:
        raise InputError(
            f"multiplicities must sum to at most {_HUGE:.0e} (the number of modes); got "
            f"{p:.3g}; drop levels whose degeneracy overflows"
        )
    log_m = 0.0 if m_pos is None else np.log(m_pos)
    log_total = _log_sum(np.log(lam[pos]) + log_m)
    if log_total > _LOG_HUGE:
        raise InputError(
            f"eigenvalues are too large: their total sum m_i lambda_i = e^{log_total:.1f} "
            f"exceeds {_HUGE:.0e}, where lambda + kappa overflows float64; divide the "
            "eigenvalues and the ridge by a common factor (kappa scales with them)"
        )
    return _Spectrum(lam[pos], m_pos, v2, 0.0 if v2_null is None else v2_null, p)


# --------------------------------------------------------------------------------------
# Sums over modes, blocked so that a (grid x modes) array is never materialized.


def _grid_chunks(g: int) -> Iterator[slice]:
    for start in range(0, g, _GRID_CHUNK):
        yield slice(start, min(start + _GRID_CHUNK, g))


class _Sums(NamedTuple):
    """Per-kappa sums over the positive modes, each (G,); L_i = lam_i / (lam_i + kappa).

    sum_i m_i L_i = above + excess is split so that every term keeps full relative
    precision: modes with lam_i > kappa contribute their count minus m_i (1 - L_i), the
    rest m_i L_i. This matters when sum m L is within rounding of p (n near p, delta = 0).
    """

    above: np.ndarray  # sum_{lam_i > kappa} m_i
    excess: np.ndarray  # sum_i m_i (L_i - [lam_i > kappa]), each term in [-1/2, 1/2]
    spread: np.ndarray  # sum_i m_i L_i (1 - L_i)
    bias: np.ndarray | None  # sum_i (1 - L_i)^2 v_i^2
    learned: np.ndarray | None  # sum_i L_i v_i^2


def _wsum(x: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Row sums of (g, b) ``x`` weighted by (b,) ``w`` (None: unit weights)."""
    return x.sum(axis=1) if w is None else x @ w


def _mode_sums(
    lam: np.ndarray, m: np.ndarray | None, kappa: np.ndarray, v2: np.ndarray | None = None
) -> _Sums:
    """The sums of :class:`_Sums` for (G,) ``kappa`` >= 0; bias/learned only with ``v2``.

    Blocked over modes (and over the grid when it is long) so that the workspace stays a few
    MiB whatever P is. kappa = 0 is fine (L_i = 1) because every lam_i > 0 here.
    """
    n_out = 3 if v2 is None else 5
    out = np.zeros((n_out, kappa.size))
    for gs in _grid_chunks(kappa.size):
        kap = kappa[gs, None]  # (g, 1)
        g = kap.shape[0]
        width = max(_MIN_BLOCK, _BLOCK_ELEMENTS // g)
        buf_d, buf_l, buf_r = (np.empty(g * width) for _ in range(3))
        for start in range(0, lam.size, width):
            stop = start + width
            lam_b = lam[start:stop]
            m_b = None if m is None else m[start:stop]
            shape = (g, lam_b.size)
            d = buf_d[: g * lam_b.size].reshape(shape)
            L = buf_l[: g * lam_b.size].reshape(shape)
            R = buf_r[: g * lam_b.size].reshape(shape)

            np.add(lam_b, kap, out=d)  # (g, b) lam_i + kappa
            np.divide(lam_b, d, out=L)  # L_i
            np.divide(kap, d, out=R)  # 1 - L_i = kappa / (lam_i + kappa), exact when small
            above = lam_b > kap  # (g, b)
            out[0, gs] += _wsum(above, m_b)
            # L_i - [lam_i > kappa]: -(1 - L_i) above kappa, L_i below
            out[1, gs] += _wsum(np.where(above, -R, L), m_b)
            if v2 is not None:
                v2_b = v2[start:stop]
                out[4, gs] += L @ v2_b
                out[3, gs] += np.square(R) @ v2_b
            np.multiply(L, R, out=L)  # L_i (1 - L_i)
            out[2, gs] += _wsum(L, m_b)
    if v2 is None:
        return _Sums(out[0], out[1], out[2], None, None)
    return _Sums(*out)


# --------------------------------------------------------------------------------------
# The kappa solver.


def _log_sum(log_terms: np.ndarray) -> float:
    top = log_terms.max()
    return float(top + np.log(np.exp(log_terms - top).sum()))


def _solve_log_kappa(
    lam: np.ndarray,
    m: np.ndarray | None,
    n: np.ndarray,
    log_ridge: np.ndarray,
    t_lo: np.ndarray,
    t_hi: np.ndarray,
    t0: np.ndarray,
) -> np.ndarray:
    """t = log kappa solving phi(t) = log(sum_i m_i L_i + delta/kappa) - log n = 0.

    phi is strictly decreasing with phi(t_lo) >= 0 >= phi(t_hi). Newton on phi (nearly
    linear in t for power-law spectra) safeguarded by bisection (Numerical Recipes'
    ``rtsafe``), vectorized over the grid; points leave the active set as they converge.
    ``log_ridge`` is -inf where delta = 0.
    """
    lo, hi = t_lo.copy(), t_hi.copy()
    t = np.clip(t0, lo, hi)
    dx_old = hi - lo  # rtsafe: the step before last, for the "halving" test
    dx = dx_old.copy()
    active = np.flatnonzero(hi - lo > _T_TOL)
    for _ in range(_MAX_ITER):
        if active.size == 0:
            return t
        ta = t[active]
        sums = _mode_sums(lam, m, np.exp(ta))
        r = np.exp(log_ridge[active] - ta)  # delta / kappa (0 when delta = 0), <= n in bracket
        n_a = n[active]
        # residual of the kappa equation, sum_i m_i L_i + delta/kappa - n, without cancellation
        resid = (sums.above - n_a) + sums.excess + r
        # lhs > 0 in exact arithmetic; the clamp only guards an underflow of every L_i
        rel = np.maximum(resid / n_a, _ALMOST_MINUS_ONE)
        phi = np.log1p(rel)  # log(lhs / n)
        dphi = -(sums.spread + r) / (n_a * (1 + rel))  # -(sum m L (1-L) + delta/kappa) / lhs
        lo[active] = np.where(phi > 0, ta, lo[active])
        hi[active] = np.where(phi < 0, ta, hi[active])
        lo_a, hi_a = lo[active], hi[active]
        newton = np.divide(phi, dphi, out=np.full_like(phi, np.inf), where=dphi < 0)
        t_newton = ta - newton
        tol = np.maximum(_T_TOL, 4 * np.spacing(np.abs(ta)))
        # A Newton correction below tolerance means converged, even when rounding puts
        # t - phi/phi' on (or just past) a bracket end that was evaluated at the root.
        small = np.abs(newton) <= tol
        use_newton = (
            (t_newton > lo_a) & (t_newton < hi_a) & (np.abs(2 * newton) <= np.abs(dx_old[active]))
        )
        t_new = np.where(
            small,
            np.clip(t_newton, lo_a, hi_a),
            np.where(use_newton, t_newton, 0.5 * (lo_a + hi_a)),
        )
        dx_old[active] = dx[active]
        dx[active] = np.abs(t_new - ta)
        t[active] = np.where(phi == 0, ta, t_new)
        done = (phi == 0) | small | (dx[active] <= tol) | (hi_a - lo_a <= tol)
        active = active[~done]
    i = active[0]
    raise ConvergenceError(
        f"effective_ridge: safeguarded Newton did not converge in {_MAX_ITER} iterations at "
        f"n = {n[i]:.6g}, log(ridge) = {log_ridge[i]:.6g} and log-kappa bracket "
        f"[{lo[i]:.6g}, {hi[i]:.6g}] (both relative to the solver's internal scale); report "
        "this spectrum as a bug"
    )


def _coarse_spectrum(lam: np.ndarray, m: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Bin modes in log lambda; each bin becomes one level at its mean eigenvalue.

    The bin's total multiplicity and total m*lambda are kept, so sum m L is exact both for
    kappa >> lambda and for kappa << lambda, and off by O(bin width^2) in between.
    """
    log_lam = np.log(lam)
    edges = np.linspace(log_lam.min(), log_lam.max(), _COARSE_BINS + 1)
    idx = np.clip(np.searchsorted(edges, log_lam, side="right") - 1, 0, _COARSE_BINS - 1)
    weight = np.ones_like(lam) if m is None else m
    count = np.bincount(idx, weights=weight, minlength=_COARSE_BINS)
    mass = np.bincount(idx, weights=weight * lam, minlength=_COARSE_BINS)
    keep = count > 0
    return mass[keep] / count[keep], count[keep]


def _effective_ridge(spec: _Spectrum, n: np.ndarray, ridge: np.ndarray) -> np.ndarray:
    """kappa for flat validated (G,) arrays ``n`` and ``ridge``; 0 where no positive root."""
    kappa = np.zeros(n.shape)
    # delta = 0 and n >= p: sum_i m_i L_i <= p <= n for every kappa > 0, so no positive root;
    # kappa -> 0+ is the limit (reference "edge cases": return kappa = 0 exactly).
    solve = (ridge > 0) | (n < spec.p)
    if not solve.any():
        return kappa
    n_s, ridge_s = n[solve], ridge[solve]
    m = spec.m
    log_lam = np.log(spec.lam)
    log_m = np.zeros(log_lam.size) if m is None else np.log(m)
    log_n = np.log(n_s)
    with np.errstate(divide="ignore"):  # log(0) = -inf encodes delta = 0
        log_ridge = np.log(ridge_s)
    # Bracket in t = log kappa, computed in logs so that no sum overflows.
    # Upper: sum m L < sum m lambda / kappa, so at kappa = (sum m lambda + delta)/n the left
    # side is <= n.
    t_hi = np.logaddexp(_log_sum(log_m + log_lam), log_ridge) - log_n
    if t_hi.max() > _LOG_HUGE:
        i = int(np.argmax(t_hi))
        raise InputError(
            f"n = {n_s[i]:.6g} with ridge = {ridge_s[i]:.6g} puts the effective ridge above "
            f"{_HUGE:.0e} (its bracket reaches e^{t_hi[i]:.1f}), where float64 overflows; "
            "pass larger sample sizes or rescale the eigenvalues and ridge"
        )
    # Lower: at kappa = delta/n, delta/kappa = n; and for n < p, L_i >= 1 - kappa/lambda_i
    # gives sum m L >= p - kappa sum m/lambda = n at kappa = (p - n)/sum(m/lambda).
    t_lo = np.where(ridge_s > 0, log_ridge - log_n, -np.inf)
    under = n_s < spec.p
    if under.any():
        t_eig = np.log(spec.p - n_s[under]) - _log_sum(log_m - log_lam)
        t_lo[under] = np.maximum(t_lo[under], t_eig)
    t_lo = np.minimum(t_lo, t_hi)
    # Measure eigenvalues and kappa in units of the geometric centre of everything the solver
    # touches, so that lambda_i, kappa and lambda_i + kappa stay normal floats (no subnormal
    # kappa for a tiny ridge beside a large eigenvalue) as long as the whole range spans less
    # than about 1e600.
    shift = 0.5 * (max(log_lam.max(), t_hi.max()) + min(log_lam.min(), t_lo.min()))
    lam = np.exp(log_lam - shift)
    log_ridge, t_lo, t_hi = log_ridge - shift, t_lo - shift, t_hi - shift
    t0 = t_hi
    if lam.size > _COARSE_MODES:
        lam_c, m_c = _coarse_spectrum(lam, m)
        t0 = _solve_log_kappa(lam_c, m_c, n_s, log_ridge, t_lo, t_hi, t_hi)
    t = _solve_log_kappa(lam, m, n_s, log_ridge, t_lo, t_hi, t0)
    kappa[solve] = np.exp(t + shift)
    return kappa


# --------------------------------------------------------------------------------------
# Public API.


def effective_ridge(eigenvalues, n, ridge=0.0, *, multiplicities=None) -> np.ndarray:
    r"""Effective ridge kappa of KRR with n samples: the root of the eigenlearning equation.

    .. math::

        \sum_i m_i \frac{\lambda_i}{\lambda_i + \kappa} + \frac{\delta}{\kappa} = n

    with lambda_i = ``eigenvalues``, m_i = ``multiplicities`` (default 1), n = ``n``,
    delta = ``ridge``. The left side is strictly decreasing in kappa, so the root is unique.
    When delta = 0 and n >= p = sum_{lambda_i > 0} m_i there is no positive root; kappa -> 0+
    and 0 is returned exactly (all L_i = 1: p <= n parameters interpolate the data).

    Solved in t = log kappa by Newton's method safeguarded with bisection, vectorized over
    the (n, ridge) grid, to about 1e-12 relative accuracy, inside the bracket
    max(delta/n, (p - n)/sum_i(m_i/lambda_i)) <= kappa <= (sum_i m_i lambda_i + delta)/n.
    Cost O(P x grid x iterations) with a cache-sized workspace; spectra of more than a few
    thousand modes are first solved on a log-binned copy so that few full passes are needed.

    Args:
        eigenvalues: (P,) kernel eigenvalues under the data measure, finite and >= 0 (zero
            eigenvalues contribute nothing), at least one positive.
        n: number of training samples, > 0 (non-integer allowed); scalar or array.
        ridge: explicit ridge delta >= 0 on the raw Gram matrix; broadcasts with ``n``.
        multiplicities: (P,) degeneracy m_i > 0 of each eigenvalue level, or None.

    Returns:
        kappa >= 0, float64 array of the broadcast shape of ``n`` and ``ridge`` (a 0-d array
        when both are scalars; ``float(kappa)`` gives the number).

    Raises:
        InputError: on invalid arguments.
        ConvergenceError: if the solver fails to converge (a bug; the message names the
            grid point).

    References:
        Simon et al. 2023, arXiv:2110.03922, Sec. 4: definition of kappa in the
        eigenlearning equations. Bordelon et al. 2020 / Canatar et al. 2021 solve the same
        equation for kappa_C = n * kappa with per-sample ridge delta / n.

    Warning:
        kappa here is Simon et al.'s; Canatar et al.'s kappa is n times larger.
    """
    spec = _spectrum(eigenvalues, multiplicities=multiplicities)
    n_b, ridge_b = _broadcast(_check_sizes(n), _check_ridge(ridge), "n and ridge")
    kappa = _effective_ridge(spec, n_b.ravel(), ridge_b.ravel())
    return kappa.reshape(n_b.shape)


def learnabilities(eigenvalues, kappa) -> np.ndarray:
    r"""Eigenmode learnabilities L_i at effective ridge kappa.

    .. math::

        L_i = \frac{\lambda_i}{\lambda_i + \kappa} \in [0, 1]

    with lambda_i = ``eigenvalues`` and kappa = ``kappa``. At kappa = 0 (the ridgeless,
    n >= p case), L_i = 1 for lambda_i > 0 and L_i = 0 for lambda_i = 0. L_i is also the
    dataset-averaged fraction of the target's i-th coefficient that KRR learns,
    E[v_hat_i] = L_i v_i.

    Args:
        eigenvalues: (P,) kernel eigenvalues, finite and >= 0.
        kappa: effective ridge(s) >= 0, any shape (e.g. from :func:`effective_ridge`).

    Returns:
        float64 array of shape ``kappa.shape + (P,)``.

    References:
        Simon et al. 2023, arXiv:2110.03922, Sec. 4: eigenmode learnability and its
        conservation law sum_i L_i = n - delta / kappa.
    """
    lam = _check_eigenvalues(eigenvalues)
    kap = _check_kappa(kappa)[..., None]
    from lmech._memory import check_allocation

    check_allocation(
        8 * 3 * kap.size * lam.size,
        f"learnabilities of shape {kap.shape[:-1] + lam.shape}",
        "pass fewer kappa values at a time",
    )
    denom = lam + kap  # (..., P) lambda_i + kappa
    out = np.zeros(denom.shape)
    return np.divide(lam, denom, out=out, where=denom > 0)


def overfitting_coefficient(eigenvalues, n, kappa, *, multiplicities=None) -> np.ndarray:
    r"""Overfitting coefficient E_0, the factor by which label noise and bias are amplified.

    .. math::

        E_0 = \frac{n}{n - \sum_i m_i L_i^2}, \qquad L_i = \frac{\lambda_i}{\lambda_i+\kappa}

    with lambda_i = ``eigenvalues``, m_i = ``multiplicities``, n = ``n``, kappa = ``kappa``.
    At the kappa of :func:`effective_ridge`, E_0 >= 1. Returns inf where the denominator is
    <= 0: at kappa = 0 with n = p (ridgeless interpolation with as many parameters as
    samples, the double-descent peak), or for a kappa too small for this n.

    Args:
        eigenvalues: (P,) kernel eigenvalues, finite and >= 0, at least one positive.
        n: number of training samples, > 0; broadcasts with ``kappa``.
        kappa: effective ridge >= 0.
        multiplicities: (P,) level degeneracies m_i > 0, or None.

    Returns:
        float64 array of the broadcast shape of ``n`` and ``kappa``; values in [1, inf]
        at self-consistent kappa.

    References:
        Simon et al. 2023, arXiv:2110.03922, Sec. 4: overfitting coefficient E_0.
        Canatar et al. 2021: E_0 = 1/(1 - gamma), gamma = (1/n) sum_i m_i L_i^2.
    """
    spec = _spectrum(eigenvalues, multiplicities=multiplicities)
    n_b, kap_b = _broadcast(_check_sizes(n), _check_kappa(kappa), "n and kappa")
    n_f, kap_f = n_b.ravel(), kap_b.ravel()
    sums = _mode_sums(spec.lam, spec.m, kap_f)
    # n - sum m L^2 = (n - sum m L) + sum m L (1 - L), each part without cancellation
    denom = ((n_f - sums.above) - sums.excess) + sums.spread
    e0 = np.divide(n_f, denom, out=np.full(n_f.shape, np.inf), where=denom > 0)
    return e0.reshape(n_b.shape)


def target_learnability(eigenvalues, coefficients, kappa) -> np.ndarray:
    r"""Learnability of the target function, the fraction of it that KRR learns on average.

    .. math::

        \mathcal{L}(f) = \frac{\langle f, \mathbb{E}\hat f\rangle}{\langle f, f\rangle}
                       = \frac{\sum_i L_i v_i^2}{\sum_i v_i^2},
        \qquad L_i = \frac{\lambda_i}{\lambda_i + \kappa}

    with lambda_i = ``eigenvalues``, v_i = ``coefficients`` and kappa = ``kappa``. With
    eigenvalue levels, v_l^2 is the level's total power, so no multiplicity enters.

    Args:
        eigenvalues: (P,) kernel eigenvalues, finite and >= 0.
        coefficients: (P,) target eigen-coefficients v_i (not all zero).
        kappa: effective ridge(s) >= 0, any shape.

    Returns:
        float64 array of ``kappa``'s shape, values in [0, 1].

    References:
        Simon et al. 2023, arXiv:2110.03922, Sec. 4: learnability of a function.
    """
    spec = _spectrum(eigenvalues, coefficients)
    total = spec.v2.sum() + spec.v2_null
    if total == 0:
        raise InputError(
            "coefficients must not all be zero for a target learnability (0/0); got an "
            "all-zero target; pass the target's eigen-coefficients"
        )
    kap = _check_kappa(kappa)
    learned = _mode_sums(spec.lam, None, kap.ravel(), spec.v2).learned
    return (learned / total).reshape(kap.shape)


def _times(factor: np.ndarray, x) -> np.ndarray:
    """factor * x with inf * 0 = 0: a zero bracket stays zero when E_0 diverges (its limit)."""
    x = np.broadcast_to(x, factor.shape)
    return np.multiply(factor, x, out=np.zeros(factor.shape), where=x != 0)


def _risk(spec: _Spectrum, n: np.ndarray, ridge: np.ndarray, noise: float) -> dict:
    """All eigenlearning predictions on flat (G,) grids ``n`` and ``ridge``."""
    kappa = _effective_ridge(spec, n, ridge)
    sums = _mode_sums(spec.lam, spec.m, kappa, spec.v2)
    bias = sums.bias + spec.v2_null  # sum_i (1 - L_i)^2 v_i^2; zero-eigenvalue modes: L = 0
    positive = kappa > 0
    kap_safe = np.where(positive, kappa, 1.0)
    # n - sum m L^2 = delta/kappa + sum m L (1 - L) at the root (conservation law); at
    # kappa = 0 (delta = 0, n >= p) it is n - p.
    denom = np.where(positive, ridge / kap_safe + sums.spread, n - spec.p)
    e0 = np.divide(n, denom, out=np.full(n.shape, np.inf), where=denom > 0)
    sum_l2 = (sums.above + sums.excess) - sums.spread  # sum_i m_i L_i^2
    e0_minus_1 = np.divide(sum_l2, denom, out=np.full(n.shape, np.inf), where=denom > 0)
    with np.errstate(over="ignore"):  # an overflow is caught below, with its grid point
        test = _times(e0, bias + noise)
        test_clean = _times(e0, bias) + _times(e0_minus_1, noise)
        # Train MSE = (delta / (n kappa))^2 E_te. At kappa = 0 the delta -> 0 limit has
        # delta/kappa -> n - p, so (delta/(n kappa))^2 E_0 -> (n - p)/n (0 at n = p).
        ratio = np.where(positive, ridge / (n * kap_safe), (n - spec.p) / n)
        train_factor = np.divide(ratio * ratio * n, denom, out=np.zeros(n.shape), where=denom > 0)
        train = _times(train_factor, bias + noise)
    overflow = np.isfinite(e0) & ~(np.isfinite(test) & np.isfinite(test_clean) & np.isfinite(train))
    if overflow.any():
        i = int(np.flatnonzero(overflow)[0])
        raise InputError(
            f"the predicted MSE overflows float64 at n = {n[i]:.6g}, ridge = {ridge[i]:.6g} "
            f"(E_0 = {e0[i]:.3g} times bias + noise = {bias[i] + noise:.3g}); divide the "
            "target coefficients by a common factor and noise_variance by its square"
        )
    total = spec.v2.sum() + spec.v2_null
    return {
        "kappa": kappa,
        "overfitting_coefficient": e0,
        "learnability": sums.learned / total if total > 0 else None,
        "test_mse": test,
        "test_mse_clean": test_clean,
        "train_mse": train,
    }


def test_mse(
    eigenvalues,
    coefficients,
    n,
    ridge=0.0,
    *,
    noise_variance=0.0,
    multiplicities=None,
    include_noise=True,
) -> np.ndarray:
    r"""Dataset-averaged test MSE of KRR (the omniscient risk estimate).

    .. math::

        E_{te} = E_0 \Big( \sum_i (1 - L_i)^2 v_i^2 + \epsilon^2 \Big),
        \qquad E_0 = \frac{n}{n - \sum_i m_i L_i^2},
        \qquad L_i = \frac{\lambda_i}{\lambda_i + \kappa}

    with lambda_i = ``eigenvalues``, v_i = ``coefficients``, m_i = ``multiplicities``,
    n = ``n``, delta = ``ridge``, eps^2 = ``noise_variance`` and kappa from
    :func:`effective_ridge`. With ``include_noise=False`` the test label is clean and the
    risk is E_te - eps^2 = E_0 sum_i (1-L_i)^2 v_i^2 + (E_0 - 1) eps^2.

    At kappa = 0 (delta = 0, n >= p) this is the OLS risk n/(n - p) (bias + eps^2) with
    bias = power on zero-eigenvalue modes; at n = p it is inf unless the bracket is 0, in
    which case the delta -> 0 limit, 0, is returned.

    Args:
        eigenvalues: (P,) kernel eigenvalues, finite and >= 0, at least one positive.
        coefficients: (P,) target coefficients v_i in the eigenbasis, f* = sum_i v_i phi_i.
            With ``multiplicities``, entry l is the root of the total power of level l
            (coefficients[l]**2 = sum of v_i^2 over the level's modes).
        n: number of training samples > 0; broadcasts with ``ridge``.
        ridge: explicit ridge delta >= 0 on the raw Gram matrix.
        noise_variance: label-noise variance eps^2 >= 0 (training and test labels).
        multiplicities: (P,) level degeneracies m_l > 0, or None.
        include_noise: whether the test label carries the noise (the paper's convention).

    Returns:
        float64 array of the broadcast shape of ``n`` and ``ridge``; may be inf at n = p.

    References:
        Simon et al. 2023, arXiv:2110.03922, Sec. 4: test MSE in the eigenlearning
        equations (test label noisy). Bordelon et al. 2020, Canatar et al. 2021: the
        generalization error E_g, which uses clean test labels (``include_noise=False``).

    Warning:
        Defaults to the paper's noisy test label, E_te includes eps^2; Canatar et al.'s
        E_g does not.
    """
    spec = _spectrum(eigenvalues, coefficients, multiplicities)
    n_b, ridge_b = _broadcast(_check_sizes(n), _check_ridge(ridge), "n and ridge")
    risk = _risk(spec, n_b.ravel(), ridge_b.ravel(), _check_noise(noise_variance))
    key = "test_mse" if include_noise else "test_mse_clean"
    return risk[key].reshape(n_b.shape)


# The name is fixed by the public API; stop pytest from collecting it where it is imported.
test_mse.__test__ = False


def train_mse(
    eigenvalues,
    coefficients,
    n,
    ridge=0.0,
    *,
    noise_variance=0.0,
    multiplicities=None,
) -> np.ndarray:
    r"""Dataset-averaged train MSE of KRR.

    .. math::

        E_{tr} = \Big(\frac{\delta}{n \kappa}\Big)^2 E_{te}

    with E_te the noisy-label test MSE of :func:`test_mse`, delta = ``ridge``, n = ``n``
    and kappa from :func:`effective_ridge`; arguments as in :func:`test_mse`.

    - delta = 0 and kappa > 0 (n < p): 0, KRR interpolates.
    - delta = 0 and kappa = 0 (n >= p): the delta -> 0 limit. Then delta/kappa -> n - p
      (conservation law), so E_tr -> (n - p)/n (sum_{lambda_i = 0} v_i^2 + eps^2): the
      classical OLS train MSE with p parameters, the unlearnable target power acting as
      noise; 0 at n = p.

    Returns:
        float64 array of the broadcast shape of ``n`` and ``ridge``.

    References:
        Simon et al. 2023, arXiv:2110.03922, Sec. 4: train MSE in the eigenlearning
        equations.
    """
    spec = _spectrum(eigenvalues, coefficients, multiplicities)
    n_b, ridge_b = _broadcast(_check_sizes(n), _check_ridge(ridge), "n and ridge")
    risk = _risk(spec, n_b.ravel(), ridge_b.ravel(), _check_noise(noise_variance))
    return risk["train_mse"].reshape(n_b.shape)


def learning_curve(
    eigenvalues, coefficients, n, ridge=0.0, *, noise_variance=0.0, multiplicities=None
):
    r"""Eigenlearning predictions on an (n, ridge) grid, as a tidy table.

    One row per point of the outer product of ``n`` and ``ridge``, ordered n-major (all
    ridges of the first n, then the next n), in the order given. Columns:

    - ``n``, ``ridge``: the grid point (delta on the raw Gram matrix);
    - ``kappa``: :func:`effective_ridge`;
    - ``overfitting_coefficient``: E_0 = n / (n - sum_i m_i L_i^2);
    - ``learnability``: target learnability sum_i L_i v_i^2 / sum_i v_i^2;
    - ``test_mse``: E_0 (sum_i (1 - L_i)^2 v_i^2 + eps^2), noisy test label;
    - ``test_mse_clean``: test_mse - eps^2, clean test label;
    - ``train_mse``: (delta / (n kappa))^2 test_mse, with its delta -> 0 limit at kappa = 0.

    Args:
        eigenvalues, coefficients, noise_variance, multiplicities: as in :func:`test_mse`;
            ``coefficients`` must not be all zero (the learnability would be 0/0).
        n: sample sizes > 0, a scalar or 1-D sequence.
        ridge: ridges >= 0, a scalar or 1-D sequence.

    Returns:
        pandas.DataFrame with len(n) * len(ridge) rows of float64 columns (``n`` is int64
        when every n is an integer).

    References:
        Simon et al. 2023, arXiv:2110.03922, Sec. 4 (all columns).
    """
    import pandas as pd  # only the table needs pandas; keeps `import lmech.theory` light

    spec = _spectrum(eigenvalues, coefficients, multiplicities)
    if spec.v2.sum() + spec.v2_null == 0:
        raise InputError(
            "coefficients must not all be zero in learning_curve (target learnability would "
            "be 0/0); got an all-zero target; for a pure-noise curve use "
            "overfitting_coefficient(...) * noise_variance"
        )
    ns = np.atleast_1d(_check_sizes(n))
    ridges = np.atleast_1d(_check_ridge(ridge))
    if ns.ndim != 1 or ridges.ndim != 1:
        raise InputError(
            f"n and ridge must be scalars or 1-D sequences in learning_curve; got shapes "
            f"{ns.shape} and {ridges.shape}; flatten them (the grid is their outer product)"
        )
    _check_grid(ns.size * ridges.size, f"the learning curve's {ns.size} x {ridges.size} grid")
    n_grid = np.repeat(ns, ridges.size)  # n-major outer product
    ridge_grid = np.tile(ridges, ns.size)
    risk = _risk(spec, n_grid, ridge_grid, _check_noise(noise_variance))
    columns = ["kappa", "overfitting_coefficient", "learnability", "test_mse"]
    columns += ["test_mse_clean", "train_mse"]
    table = pd.DataFrame({"n": n_grid, "ridge": ridge_grid} | {c: risk[c] for c in columns})
    if np.all(ns == np.round(ns)):
        table["n"] = table["n"].astype(np.int64)  # integer sample sizes stay integers
    return table

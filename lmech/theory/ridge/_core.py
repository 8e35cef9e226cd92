"""Validation and the vectorized root finder shared by the ridge theories (private).

Every solver of :mod:`lmech.theory.ridge` reduces to one monotone scalar equation per
grid point in t = log kappa; :func:`solve_increasing` solves all grid points at once by a
safeguarded Newton iteration (Newton steps inside a bisection bracket that shrinks at
every step, "rtsafe" of Numerical Recipes, Sec. 9.4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from lmech._validate import as_float_array
from lmech.errors import ConvergenceError, InputError

_T_TOL = 1e-13  # tolerance on log kappa (kappa relative)
_MAX_ITER = 300
_BLOCK = 1 << 16  # grid x modes elements per block (512 KiB: stays in cache)


class Spectrum(NamedTuple):
    """Eigenvalues s_i of the covariance (positive ones only) and the teacher power
    w_i^2 in the same eigenbasis (zero when no teacher was given)."""

    s: np.ndarray
    w2: np.ndarray

    @property
    def rank(self) -> int:
        return int(self.s.size)


def spectrum(covariance, teacher=None, name: str = "covariance") -> Spectrum:
    """(s_i, w_i^2) from a covariance (a 1-D spectrum or a symmetric PSD matrix) and a
    teacher vector in the covariance's basis (the eigenbasis for a 1-D spectrum)."""
    c = as_float_array(covariance, name, ndim=(1, 2))
    if c.ndim == 2:
        if c.shape[0] != c.shape[1]:
            raise InputError(
                f"{name} must be a square (D, D) matrix or a 1-D spectrum; got shape {c.shape}"
            )
        asym = float(np.abs(c - c.T).max())
        scale = float(np.abs(c).max()) or 1.0
        if asym > 1e-10 * scale:
            raise InputError(
                f"{name} must be symmetric; got max |C - C^T| = {asym:.3g}; pass (C + C.T) / 2"
            )
        s, U = np.linalg.eigh(0.5 * (c + c.T))
        tol = 1e-10 * max(float(np.abs(s).max()), 1e-300)
        if s.min() < -tol:
            raise InputError(
                f"{name} must be positive semi-definite; got an eigenvalue {s.min():.3g} < 0; "
                "pass a covariance matrix (e.g. A @ A.T) or its nonnegative spectrum"
            )
        s = np.clip(s, 0.0, None)
    else:
        s, U = c, None
        if (s < 0).any():
            raise InputError(
                f"{name} eigenvalues must be >= 0 (a covariance is positive semi-definite); "
                f"got min {s.min():.3g}; clip round-off negatives with np.clip(s, 0, None)"
            )
    if teacher is None:
        w2 = np.zeros_like(s)
    else:
        w = as_float_array(teacher, "teacher", ndim=1)
        if w.size != s.size:
            raise InputError(
                f"teacher must have one coefficient per dimension ({s.size}); got {w.size}"
            )
        w2 = (U.T @ w) ** 2 if U is not None else w**2
    keep = s > 0
    if not keep.any():
        raise InputError(f"{name} must have at least one positive eigenvalue; got all zero")
    return Spectrum(np.ascontiguousarray(s[keep]), np.ascontiguousarray(w2[keep]))


def counts(x, name: str, *, allow_inf: bool = False) -> np.ndarray:
    """Sample or feature counts: finite (or +inf when allowed) and > 0."""
    from lmech._validate import real_array

    arr = np.atleast_1d(real_array(x, name))
    if arr.size == 0:
        raise InputError(f"{name} must not be empty")
    bad = np.isnan(arr) | (arr <= 0) | (np.isinf(arr) & (not allow_inf))
    if bad.any():
        rule = "> 0 (inf allowed: the infinite limit)" if allow_inf else "finite and > 0"
        raise InputError(
            f"{name} must be {rule}; got {arr[bad].ravel()[:5].tolist()}; "
            f"pass a positive number of {'features' if 'feature' in name else 'samples'}"
        )
    return arr


def ridges(x, name: str = "ridge", *, positive: bool = False) -> np.ndarray:
    arr = np.atleast_1d(as_float_array(np.atleast_1d(x), name))
    if (arr < 0).any() or (positive and (arr <= 0).any()):
        rule = "> 0" if positive else ">= 0"
        raise InputError(
            f"{name} must be {rule} (a per-sample ridge penalty); got "
            f"{arr[arr < 0 if not positive else arr <= 0][:5].tolist()}; "
            "pass a nonnegative ridge (use ridge=0 for the ridgeless limit)"
        )
    return arr


def noise(x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise InputError(f"noise_variance must be a number >= 0; got {x!r}") from None
    if not (np.isfinite(v) and v >= 0):
        raise InputError(
            f"noise_variance must be finite and >= 0 (a label-noise variance); got {v!r}"
        )
    return v


def blocks(g: int, d: int):
    """Slices of a grid of g points such that one block times d modes stays small."""
    step = max(1, _BLOCK // max(d, 1))
    return (slice(i, min(i + step, g)) for i in range(0, g, step))


def dfs(s: np.ndarray, kappa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Df1 = sum s/(s+kappa), Df2 = sum s^2/(s+kappa)^2 for every kappa (shape kept)."""
    k = np.asarray(kappa, dtype=np.float64)
    flat = k.ravel()
    d1, d2 = np.empty_like(flat), np.empty_like(flat)
    for sl in blocks(flat.size, s.size):
        L = s / (s + flat[sl, None])  # (g, D) learnabilities
        d1[sl] = L.sum(axis=1)
        d2[sl] = (L * L).sum(axis=1)
    return d1.reshape(k.shape), d2.reshape(k.shape)


def weighted(s: np.ndarray, w2: np.ndarray, kappa: np.ndarray, power: int) -> np.ndarray:
    """sum_i w_i^2 s_i / (s_i + kappa)^power for every kappa (shape kept)."""
    k = np.asarray(kappa, dtype=np.float64)
    flat = k.ravel()
    out = np.empty_like(flat)
    for sl in blocks(flat.size, s.size):
        out[sl] = ((w2 * s) / (s + flat[sl, None]) ** power).sum(axis=1)
    return out.reshape(k.shape)


def solve_increasing(
    fun: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lo: np.ndarray,
    hi: np.ndarray,
    what: str,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Root t of an increasing F on [lo, hi] per grid point, by safeguarded Newton.

    ``fun(t, idx)`` returns (F(t), F'(t)) for the grid points ``idx``; F may be -inf
    below the root. A Newton step that leaves the current bracket is replaced by a
    bisection step, so the bracket shrinks at every iteration. ``start`` (default: the
    bracket's midpoint) is the first iterate.
    """
    lo, hi = lo.astype(np.float64).copy(), hi.astype(np.float64).copy()
    t = 0.5 * (lo + hi) if start is None else np.clip(start.astype(np.float64), lo, hi)
    active = np.arange(t.size)
    for _ in range(_MAX_ITER):
        if active.size == 0:
            return t
        ta = t[active]
        F, dF = fun(ta, active)
        exact = F == 0
        below = F < 0
        lo[active] = np.where(below, ta, lo[active])
        hi[active] = np.where(below | exact, hi[active], ta)
        with np.errstate(divide="ignore", invalid="ignore"):
            tn = ta - F / dF
        la, ha = lo[active], hi[active]
        ok = np.isfinite(tn) & (tn > la) & (tn < ha)
        tn = np.where(ok, tn, 0.5 * (la + ha))
        tn = np.where(exact, ta, tn)
        done = (
            exact
            | (np.abs(tn - ta) < _T_TOL * np.maximum(1.0, np.abs(ta)))
            | (ha - la < _T_TOL * np.maximum(1.0, np.abs(ta)))
        )
        t[active] = tn
        active = active[~done]
    raise ConvergenceError(
        f"{what}: safeguarded Newton did not converge in {_MAX_ITER} iterations at "
        f"{active.size} grid points; report the spectrum and grid"
    )

"""Boundary validation shared by public functions (scikit-learn ``check_array`` style).

Internal helpers trust their inputs; public functions call these once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lmech.errors import InputError

__all__ = ["as_float_array", "as_positive_sizes", "as_ridges", "as_positive_int"]


def _where(mask: np.ndarray, limit: int = 5) -> str:
    idx = np.flatnonzero(mask)
    head = ", ".join(str(i) for i in idx[:limit])
    return f"[{head}{', ...' if idx.size > limit else ''}]"


def as_float_array(
    x, name: str, *, ndim: int | tuple[int, ...] | None = None, nonnegative: bool = False
) -> np.ndarray:
    """``x`` as a finite float64 numpy array, or an InputError naming what is wrong."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name} must be numeric; got {type(x).__name__} ({err})") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            raise InputError(
                f"{name} must be {' or '.join(f'{d}-D' for d in allowed)}; got shape {arr.shape}"
            )
    if arr.size == 0:
        raise InputError(f"{name} must not be empty; got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(
            f"{name} must be finite; got {int(bad.sum())} NaN/inf values at flat indices "
            f"{_where(bad.ravel())}; drop or fix them"
        )
    if nonnegative and (arr < 0).any():
        neg = arr < 0
        raise InputError(
            f"{name} must be >= 0; got {int(neg.sum())} negative values (min {arr.min():.3g}) "
            f"at flat indices {_where(neg.ravel())}"
        )
    return arr


def as_positive_int(x, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x <= 0:
        raise InputError(f"{name} must be a positive integer; got {x!r}")
    return int(x)


def as_positive_sizes(n: int | Sequence[int], name: str = "n") -> np.ndarray:
    """Sample sizes as a sorted unique 1-D int64 array of positive integers."""
    arr = np.atleast_1d(np.asarray(n))
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{name} must be a positive integer or a 1-D list of them; got {n!r}")
    if not np.issubdtype(arr.dtype, np.integer):
        if (
            not np.issubdtype(arr.dtype, np.floating)
            or not np.all(np.isfinite(arr))
            or np.any(arr != np.round(arr))
        ):
            raise InputError(f"{name} must contain integers; got {arr.tolist()!r}")
    if np.any(arr <= 0):
        raise InputError(f"{name} must be > 0; got {arr.tolist()!r}")
    return np.unique(arr.astype(np.int64))


def as_ridges(ridge, name: str = "ridge") -> np.ndarray:
    """Ridges as a 1-D float64 array of finite values >= 0."""
    arr = as_float_array(np.atleast_1d(ridge), name, ndim=1)
    if (arr < 0).any():
        raise InputError(f"{name} must be >= 0; got {arr.tolist()!r}")
    return arr

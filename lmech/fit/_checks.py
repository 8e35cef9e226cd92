"""Boundary checks for the fitting API (one place, one message style)."""

from __future__ import annotations

import numpy as np

from lmech.errors import InputError

__all__ = ["positive_column", "same_length", "enough_points"]


def positive_column(x, name: str) -> np.ndarray:
    """``x`` as a 1-D finite float64 array of strictly positive values, or an InputError."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name} must be numeric; got {type(x).__name__} ({err})") from None
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D; got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.flatnonzero(bad)[:5].tolist()
        raise InputError(
            f"{name} must be finite; got {int(bad.sum())} NaN/inf values (rows {idx}); "
            "drop or fix those rows"
        )
    if (arr <= 0).any():
        idx = np.flatnonzero(arr <= 0)[:5].tolist()
        raise InputError(
            f"{name} must be > 0 (it enters a logarithm); got {int((arr <= 0).sum())} "
            f"non-positive values (min {arr.min():.4g}, rows {idx})"
        )
    return arr


def same_length(**arrays: np.ndarray) -> int:
    sizes = {k: len(v) for k, v in arrays.items()}
    if len(set(sizes.values())) != 1:
        raise InputError(f"columns must have the same length; got {sizes}")
    return next(iter(sizes.values()))


def enough_points(n: int, needed: int, what: str) -> None:
    if n < needed:
        raise InputError(
            f"{what} has {needed} parameters and needs at least {needed} data points; got {n}"
        )

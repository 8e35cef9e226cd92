"""Boundary validation shared by public functions (scikit-learn ``check_array`` style).

Internal helpers trust their inputs; public functions call these once.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from lmech.errors import InputError

__all__ = [
    "MAX_SIZE",
    "as_float_array",
    "as_positive_sizes",
    "as_ridges",
    "as_positive_int",
    "real_array",
    "show_number",
]

#: Largest sample size or count accepted anywhere: 2^53, the largest integer below which
#: float64 holds every integer exactly (and far beyond any array that fits in memory).
MAX_SIZE = 2**53


def _where(mask: np.ndarray, limit: int = 5) -> str:
    idx = np.flatnonzero(mask)
    head = ", ".join(str(i) for i in idx[:limit])
    return f"[{head}{', ...' if idx.size > limit else ''}]"


def real_array(x, name: str) -> np.ndarray:
    """``x`` as a float64 array if it holds real numbers (bool, int, float), else InputError.

    Complex values are refused rather than silently losing their imaginary part, and
    strings rather than parsed (``"1.5"`` is not a number here).
    """
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError) as err:  # ragged nested sequences
        raise InputError(
            f"{name} must be an array of real numbers; got {type(x).__name__} that numpy "
            f"cannot read as an array ({err})"
        ) from None
    kind = raw.dtype.kind
    if kind == "c":
        raise InputError(
            f"{name} must be real; got complex dtype {raw.dtype}; pass the real part "
            "(x.real) or the modulus (abs(x)) explicitly"
        )
    if kind == "O":
        bad = [
            v
            for v in raw.ravel()
            if isinstance(v, bool | str | bytes) or not (isinstance(v, numbers.Real | np.bool_))
        ]
        if bad:
            raise InputError(
                f"{name} must hold real numbers only; got {type(bad[0]).__name__} "
                f"{bad[0]!r:.40} among its entries"
            )
    elif kind not in "biuf":
        raise InputError(f"{name} must be an array of real numbers; got dtype {raw.dtype}")
    try:
        with np.errstate(over="raise"):
            return raw.astype(np.float64)
    except (OverflowError, FloatingPointError, TypeError, ValueError) as err:
        raise InputError(f"{name} holds values float64 cannot represent ({err})") from None


def as_float_array(
    x, name: str, *, ndim: int | tuple[int, ...] | None = None, nonnegative: bool = False
) -> np.ndarray:
    """``x`` as a finite float64 numpy array, or an InputError naming what is wrong.

    Complex arrays and strings are refused (see :func:`real_array`).
    """
    arr = real_array(x, name)
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


def show_number(v) -> str:
    """A number for a message: floats to 6 digits, huge integers as a power of two."""
    if isinstance(v, bool | np.bool_):
        return repr(bool(v))
    if isinstance(v, int | np.integer):
        v = int(v)
        return str(v) if abs(v) < 10**18 else f"{'-' if v < 0 else ''}~2^{abs(v).bit_length() - 1}"
    if isinstance(v, float | np.floating):
        return f"{float(v):.6g}"
    return repr(v)[:40]


def as_positive_int(x, name: str, *, maximum: int = MAX_SIZE) -> int:
    """``x`` as an int in [1, ``maximum``] (a Python or numpy integer, not a bool)."""
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x <= 0:
        raise InputError(f"{name} must be a positive integer; got {show_number(x)}")
    if x > maximum:
        raise InputError(f"{name} must be at most {show_number(maximum)}; got {show_number(x)}")
    return int(x)


def _short(values, limit: int = 6) -> str:
    values = list(values)
    head = ", ".join(show_number(v) for v in values[:limit])
    return f"[{head}{', ...' if len(values) > limit else ''}]"


def as_positive_sizes(
    n: int | Sequence[int], name: str = "n", *, maximum: int = MAX_SIZE
) -> np.ndarray:
    """Sample sizes as a sorted unique 1-D int64 array of integers in [1, ``maximum``].

    Floats are accepted when they are whole numbers (``1e3``); anything that is not an
    exact integer, a bool, a complex number or a size beyond ``maximum`` (default 2^53) is
    refused, so no size ever wraps around in the int64 conversion.
    """
    try:
        arr = np.atleast_1d(np.asarray(n))
    except (TypeError, ValueError):
        raise InputError(
            f"{name} must be a positive integer or a 1-D list of them; got {type(n).__name__}"
        ) from None
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(
            f"{name} must be a positive integer or a 1-D list of them; got shape {arr.shape}"
        )
    values = arr.tolist()  # Python ints/floats: exact, no wrap-around
    bad = [
        v
        for v in values
        if isinstance(v, bool)
        or not isinstance(v, numbers.Real)
        or (isinstance(v, float) and not (np.isfinite(v) and v == round(v)))
    ]
    if bad:
        raise InputError(f"{name} must contain integers; got {_short(bad)} in {_short(values)}")
    if any(v <= 0 for v in values):
        raise InputError(f"{name} must be > 0; got {_short(values)}")
    too_big = [v for v in values if v > maximum]
    if too_big:
        raise InputError(
            f"{name} must be at most {show_number(maximum)}; got {_short(too_big)}; pass "
            "realistic sample sizes"
        )
    return np.unique(np.asarray([int(v) for v in values], dtype=np.int64))


def as_ridges(ridge, name: str = "ridge") -> np.ndarray:
    """Ridges as a 1-D float64 array of finite values >= 0."""
    arr = as_float_array(np.atleast_1d(ridge), name, ndim=1)
    if (arr < 0).any():
        raise InputError(f"{name} must be >= 0; got {arr.tolist()!r}")
    return arr

"""Boundary checks for the fitting API (one place, one message style).

Every check raises :class:`lmech.errors.InputError` whose message says what was expected,
what came and how to fix it. Sizes are checked before any work starts: the number of
bootstrap resamples is capped at :data:`MAX_BOOTSTRAP`, and the memory a fit will need is
estimated and refused above lmech's memory limit (:mod:`lmech._memory`: a share of the
available RAM, or ``LMECH_MEMORY_LIMIT_GB``).
"""

from __future__ import annotations

import numbers

import numpy as np

from lmech.errors import InputError
from lmech.seeding import check_seed

__all__ = [
    "MAX_BOOTSTRAP",
    "MAX_STARTS",
    "positive_column",
    "same_length",
    "check_bootstrap",
    "check_level",
    "check_delta",
    "check_positive_float",
    "check_bool",
    "check_fit_seed",
    "check_memory",
    "distinct_labels",
    "check_loss_varies",
    "exact_duplicates",
]

MAX_BOOTSTRAP = 100_000  # resamples; 0 means no intervals
MAX_STARTS = 100_000  # rows of a start grid (Hoffmann et al.'s grid has 4,500)
# values equal to this relative precision count as one (a CSV round trip keeps ~1e-15)
DISTINCT_RTOL = 1e-9


def positive_column(x, name: str) -> np.ndarray:
    """``x`` as a 1-D finite float64 array of strictly positive values, or an InputError."""
    if np.iscomplexobj(x):
        raise InputError(
            f"{name} must be real numbers; got complex values (the imaginary part would be "
            "lost); pass the real part explicitly if that is what you mean"
        )
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as err:
        raise InputError(
            f"{name} must be a 1-D list or array of numbers; got {type(x).__name__} ({err})"
        ) from None
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D (one value per run); got shape {arr.shape}")
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
        raise InputError(
            f"columns must have the same length (one value per run); got lengths {sizes}"
        )
    return next(iter(sizes.values()))


def check_bootstrap(bootstrap, name: str = "bootstrap") -> int:
    """``bootstrap`` as an int in [0, MAX_BOOTSTRAP] (0: no intervals)."""
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)):
        raise InputError(
            f"{name} must be an integer in [0, {MAX_BOOTSTRAP}] (0: no intervals); got "
            f"{bootstrap!r}"
        )
    if not 0 <= int(bootstrap) <= MAX_BOOTSTRAP:
        raise InputError(
            f"{name} must be in [0, {MAX_BOOTSTRAP}] resamples (0: no intervals); got "
            f"{int(bootstrap)}; 1000-10000 resamples give percentile intervals to ~1%"
        )
    return int(bootstrap)


def check_level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise InputError(f"level must be a number in (0, 1), e.g. 0.95; got {level!r}")
    return float(level)


def check_delta(delta) -> float | None:
    """Huber threshold: None (least squares) or a finite float > 0."""
    if delta is None:
        return None
    if (
        isinstance(delta, bool)
        or not isinstance(delta, numbers.Real)
        or not np.isfinite(delta)
        or delta <= 0
    ):
        raise InputError(
            f"delta (the Huber threshold) must be None (least squares) or a finite number "
            f"> 0, e.g. 1e-3; got {delta!r}"
        )
    return float(delta)


def check_positive_float(x, name: str, example: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not np.isfinite(x) or x <= 0:
        raise InputError(f"{name} must be a finite number > 0, e.g. {example}; got {x!r}")
    return float(x)


def check_bool(x, name: str) -> bool:
    if not isinstance(x, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False; got {x!r}")
    return bool(x)


def check_fit_seed(seed):
    """An int seed in [0, 2^63 - 1] (lmech's one seed range) or a numpy Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    return check_seed(seed)


def check_memory(nbytes: float, what: str, fix: str) -> None:
    """Refuse work whose estimated memory exceeds lmech's limit (a share of the available
    RAM, or ``$LMECH_MEMORY_LIMIT_GB``; see :mod:`lmech._memory`)."""
    from lmech._memory import check_allocation

    check_allocation(int(nbytes), what, fix)


def distinct_labels(*columns: np.ndarray) -> tuple[int, np.ndarray]:
    """(number of distinct rows, (n,) label of each row) of positive columns, with values
    equal to a relative ``DISTINCT_RTOL`` counted as one."""
    n = len(columns[0])
    if n == 0:
        return 0, np.zeros(0, dtype=np.int64)
    keys = np.stack([np.round(np.log(c) / DISTINCT_RTOL) for c in columns], axis=1)
    uniq, labels = np.unique(keys, axis=0, return_inverse=True)
    return len(uniq), labels.reshape(-1)


def check_loss_varies(loss: np.ndarray, name: str = "loss") -> None:
    """Refuse a loss that is the same in every row: there is no scaling to fit."""
    if len(loss) and loss.max() - loss.min() <= DISTINCT_RTOL * loss.max():
        raise InputError(
            f"{name} must vary across the runs to fit a scaling law; got the same value "
            f"({loss[0]:.6g}) in all {len(loss)} rows; check that the column is the loss "
            "and not a constant"
        )


def exact_duplicates(*columns: np.ndarray) -> int:
    """Number of rows that repeat an earlier row exactly (to ``DISTINCT_RTOL``)."""
    k, _ = distinct_labels(*columns)
    return len(columns[0]) - k

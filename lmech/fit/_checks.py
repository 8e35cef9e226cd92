"""Boundary checks for the fitting API (one place, one message style).

Every check raises :class:`lmech.errors.InputError` whose message says what was expected,
what came and how to fix it. Sizes are checked before any work starts: the number of
bootstrap resamples is capped at :data:`MAX_BOOTSTRAP`, the memory a fit will need is
estimated and refused above lmech's memory limit (:mod:`lmech._memory`: a share of the
available RAM, or ``LMECH_MEMORY_LIMIT_GB``), and so is its CPU time
(:func:`check_time`: the solver's row-iterations over a measured throughput, refused above
:data:`DEFAULT_MAX_SECONDS` or ``LMECH_FIT_MAX_SECONDS``), so that a fit of 10^7 rows is
refused in one line instead of running for days.
"""

from __future__ import annotations

import numbers
import os

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
    "check_time",
    "fit_time_limit",
    "distinct_log_labels",
    "distinct_labels",
    "check_loss_varies",
    "exact_duplicates",
]

MAX_BOOTSTRAP = 100_000  # resamples; 0 means no intervals
MAX_STARTS = 100_000  # rows of a start grid (Hoffmann et al.'s grid has 4,500)
# values equal to this relative precision count as one (a CSV round trip keeps ~1e-15)
DISTINCT_RTOL = 1e-9
#: Rows x iterations of the batched solver (:mod:`lmech.fit._solver`) per CPU second on
#: one core: 2.0-3.2e6 measured for the Chinchilla design (n = 64-1000 rows, 4,500 starts,
#: 1 thread, a shared 2-core machine); the lower end, so the estimate errs high.
SOLVER_ROWS_PER_SECOND = 2.0e6
#: Iterations a fit is charged for (above the means measured: stage-2 Chinchilla starts
#: 55-127, bootstrap refits 1-72 at n = 64-300): the screen's 15 are exact.
CONVERGE_ITERATIONS = 200
BOOTSTRAP_ITERATIONS = 100
TIME_ENV_VAR = "LMECH_FIT_MAX_SECONDS"
DEFAULT_MAX_SECONDS = 3600.0  # one CPU-hour


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


def fit_time_limit() -> tuple[float, str]:
    """(CPU seconds a fit may be estimated to take, where the limit comes from)."""
    raw = os.environ.get(TIME_ENV_VAR, "").strip()
    if not raw:
        return DEFAULT_MAX_SECONDS, "the default"
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise InputError(
            f"{TIME_ENV_VAR} must be a positive number of CPU seconds (e.g. "
            f"{TIME_ENV_VAR}=7200); got {raw!r}"
        )
    return value, f"{TIME_ENV_VAR}={raw}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.3g} days"


def check_time(row_iterations: float, what: str, fix: str) -> None:
    """Refuse a fit whose estimated CPU time (``row_iterations`` of the solver at
    :data:`SOLVER_ROWS_PER_SECOND`) exceeds :func:`fit_time_limit`, before any work."""
    seconds = float(row_iterations) / SOLVER_ROWS_PER_SECOND
    limit, source = fit_time_limit()
    if seconds <= limit:
        return
    raise InputError(
        f"{what} would take about {_duration(seconds)} of CPU time (estimated at "
        f"{SOLVER_ROWS_PER_SECOND:.2g} solver rows x iterations per second), above the "
        f"limit of {_duration(limit)} ({source}); got {row_iterations:.3g} rows x "
        f"iterations; {fix}, or raise the limit with {TIME_ENV_VAR}=<seconds>"
    )


def distinct_log_labels(*log_columns: np.ndarray) -> tuple[int, np.ndarray]:
    """:func:`distinct_labels` of columns given as logarithms."""
    n = len(log_columns[0])
    if n == 0:
        return 0, np.zeros(0, dtype=np.int64)
    keys = np.stack([np.round(np.asarray(c) / DISTINCT_RTOL) for c in log_columns], axis=1)
    uniq, labels = np.unique(keys, axis=0, return_inverse=True)
    return len(uniq), labels.reshape(-1)


def distinct_labels(*columns: np.ndarray) -> tuple[int, np.ndarray]:
    """(number of distinct rows, (n,) label of each row) of positive columns, with values
    equal to a relative ``DISTINCT_RTOL`` counted as one."""
    return distinct_log_labels(*(np.log(c) for c in columns))


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

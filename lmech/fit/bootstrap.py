"""Row-resampling bootstrap weights and percentile intervals (public: laws and users
build their own bootstrap loops from these, as :mod:`lmech.fit` does)."""

from __future__ import annotations

import warnings

import numpy as np

from lmech.errors import InputError
from lmech.fit._checks import check_bootstrap, check_fit_seed, check_memory

__all__ = ["resample_counts", "percentile_interval"]


def resample_counts(
    n: int,
    resamples: int,
    seed: int | np.random.Generator,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """(resamples, n) counts of each row in a resample with replacement.

    ``seed`` is an integer in [0, 2^63 - 1] or a :class:`numpy.random.Generator` (e.g. a
    keyed stream ``lmech.seeding.rng(seed, "bootstrap", r)``), which is drawn from in place.

    With ``groups`` (n,) labels, rows are resampled within each group (the group sizes are
    kept), as for IsoFLOP profiles where each compute budget keeps its points.

    Raises:
        InputError: ``n`` not a positive integer, ``resamples`` outside
            [0, MAX_BOOTSTRAP], a (resamples, n) table above the memory limit, or
            ``groups`` of the wrong length.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n (the number of rows) must be an integer >= 1; got {n!r}")
    resamples = check_bootstrap(resamples, "resamples")
    check_memory(
        16.0 * resamples * n, f"a ({resamples}, {n}) table of bootstrap counts", "use fewer"
    )
    rng = np.random.default_rng(check_fit_seed(seed))
    if groups is None:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise InputError(f"groups must have one label per row, shape ({n},); got {groups.shape}")
    counts = np.zeros((resamples, n))
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        m = idx.size
        counts[:, idx] = rng.multinomial(m, np.full(m, 1.0 / m), size=resamples)
    return counts


def percentile_interval(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval (lower, upper) along axis 0; NaN rows are ignored
    (an all-NaN column gives NaN bounds)."""
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    tail = 50.0 * (1.0 - level)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns -> NaN
        lo = np.nanpercentile(samples, tail, axis=0)
        hi = np.nanpercentile(samples, 100.0 - tail, axis=0)
    return lo, hi

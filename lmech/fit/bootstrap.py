"""Row-resampling bootstrap weights and percentile intervals (public: laws and users
build their own bootstrap loops from these, as :mod:`lmech.fit` does)."""

from __future__ import annotations

import numpy as np

__all__ = ["resample_counts", "percentile_interval"]


def resample_counts(
    n: int,
    resamples: int,
    seed: int | np.random.Generator,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """(resamples, n) counts of each row in a resample with replacement.

    ``seed`` is an integer or a :class:`numpy.random.Generator` (e.g. a keyed stream
    ``lmech.seeding.rng(seed, "bootstrap", r)``), which is drawn from in place.

    With ``groups`` (n,) labels, rows are resampled within each group (the group sizes are
    kept), as for IsoFLOP profiles where each compute budget keeps its points.
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)
    counts = np.zeros((resamples, n))
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        m = idx.size
        counts[:, idx] = rng.multinomial(m, np.full(m, 1.0 / m), size=resamples)
    return counts


def percentile_interval(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval (lower, upper) along axis 0; NaN rows are ignored."""
    tail = 50.0 * (1.0 - level)
    lo = np.nanpercentile(samples, tail, axis=0)
    hi = np.nanpercentile(samples, 100.0 - tail, axis=0)
    return lo, hi

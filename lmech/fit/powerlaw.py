r"""Power laws with an offset for learning curves: y = E + A x^{-alpha}.

Fitted in log space like the Chinchilla law: with a = log A, e = log E,

.. math:: \min \sum_i h_\delta\big(\mathrm{LSE}(a - \alpha \log x_i,\; e) - \log y_i\big)

(``offset=False`` drops the e term: a straight line in log-log). ``delta=None`` (the
default here) is least squares on log y; a float gives the Huber loss of Hoffmann et al.
All starts of a small grid run together (:mod:`lmech.fit._solver`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lmech.errors import InputError
from lmech.fit._checks import enough_points, positive_column, same_length
from lmech.fit._solver import minimize_batched
from lmech.fit.bootstrap import percentile_interval, resample_counts

__all__ = ["PowerLawFit", "fit_powerlaw"]


@dataclass(frozen=True)
class PowerLawFit:
    """A fitted y = E + A x^-alpha (E = 0 without offset) with bootstrap intervals."""

    estimate: dict[str, float]
    samples: np.ndarray = field(repr=False)
    level: float = 0.95
    objective: float = float("nan")
    n_points: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.estimate)

    def table(self) -> pd.DataFrame:
        """One row per parameter: estimate, ci_low, ci_high."""
        if len(self.samples):
            lo, hi = percentile_interval(self.samples, self.level)
        else:
            lo = hi = np.full(len(self.names), np.nan)
        return pd.DataFrame(
            {
                "parameter": list(self.names),
                "estimate": list(self.estimate.values()),
                "ci_low": lo,
                "ci_high": hi,
            }
        )

    def to_dict(self) -> dict[str, dict[str, float | None]]:
        def clean(x):
            return float(x) if np.isfinite(x) else None

        return {
            r.parameter: {
                "estimate": clean(r.estimate),
                "ci_low": clean(r.ci_low),
                "ci_high": clean(r.ci_high),
            }
            for r in self.table().itertuples(index=False)
        }

    def predict(self, x) -> np.ndarray:
        p = self.estimate
        return p.get("E", 0.0) + p["A"] * np.asarray(x, dtype=np.float64) ** (-p["alpha"])


def fit_powerlaw(
    x,
    y,
    *,
    offset: bool = True,
    delta: float | None = None,
    bootstrap: int = 0,
    level: float = 0.95,
    seed: int = 0,
) -> PowerLawFit:
    r"""Fit y = E + A x^{-alpha} (or A x^{-alpha}) by least squares (or Huber) on log y.

    Args:
        x: (n,) positive abscissae (steps, data, parameters).
        y: (n,) positive losses.
        offset: include the irreducible term E.
        delta: Huber threshold on log residuals; None for least squares.
        bootstrap: number of row resamples for percentile intervals (0: none).
        level: interval coverage.
        seed: seed of the resampling.

    Returns:
        :class:`PowerLawFit` with E (if ``offset``), A and alpha.

    Raises:
        InputError: non-positive or non-finite values, unequal lengths, fewer points
            than parameters.
    """
    x, y = positive_column(x, "x"), positive_column(y, "y")
    n = same_length(x=x, y=y)
    k = 3 if offset else 2
    enough_points(n, k, "the power law" + (" with offset" if offset else ""))
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise InputError(f"bootstrap must be an integer >= 0; got {bootstrap!r}")
    if not 0.0 < level < 1.0:
        raise InputError(f"level must be in (0, 1); got {level!r}")
    lx, ly = np.log(x), np.log(y)
    m, s = lx.mean(), max(lx.std(), 1e-12)
    u = (lx - m) / s  # standardized log x: z_1 = a_s - alpha_s u
    design = np.zeros((n, k - 1, k))
    design[:, 0, 0], design[:, 0, 1] = 1.0, -u
    if offset:
        design[:, 1, 2] = 1.0
    # starts: slopes over a decade range, offsets below the smallest y
    alphas = (0.05, 0.2, 0.5, 1.0, 2.0)
    heads = ly.max() + np.array([-1.0, 0.0])
    if offset:
        tails = ly.min() + np.log([0.1, 0.5, 0.9])
        grid = np.array(list(itertools.product(heads, alphas, tails)))
    else:
        grid = np.array(list(itertools.product(heads, alphas)))
    grid[:, 1] *= s  # alpha_s = alpha * s; a_s = log A - alpha m (+ alpha s u at x_max)
    grid[:, 0] = grid[:, 0] - grid[:, 1] * (lx.max() - m) / s
    res = minimize_batched(grid, design, ly, delta=delta, max_iter=300)
    best = int(np.nanargmin(np.where(np.isfinite(res.value), res.value, np.inf)))
    theta = res.theta[best]

    def named(th: np.ndarray) -> np.ndarray:  # (..., k) scaled -> (..., k) E?, A, alpha
        alpha = th[..., 1] / s
        A = np.exp(th[..., 0] + alpha * m)
        cols = [A, alpha] if not offset else [np.exp(th[..., 2]), A, alpha]
        return np.stack(cols, axis=-1)

    names = ("A", "alpha") if not offset else ("E", "A", "alpha")
    samples = np.empty((0, len(names)))
    if bootstrap:
        counts = resample_counts(n, int(bootstrap), seed)
        boot = minimize_batched(
            np.repeat(theta[None], bootstrap, axis=0), design, ly, counts, delta=delta
        )
        with np.errstate(over="ignore"):
            samples = named(boot.theta)
    est = dict(zip(names, (float(v) for v in named(theta)), strict=True))
    return PowerLawFit(est, samples, level, float(res.value[best]), n)

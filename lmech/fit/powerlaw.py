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
from lmech.fit._checks import (
    check_bool,
    check_bootstrap,
    check_delta,
    check_fit_seed,
    check_level,
    check_loss_varies,
    check_memory,
    check_time,
    distinct_labels,
    exact_duplicates,
    positive_column,
    same_length,
)
from lmech.fit._identify import (
    EXACT_RESIDUAL,
    TERM_MIN_SHARE,
    Notes,
    check_intervals,
    parameter_records,
    present_counts,
    weak_directions,
)
from lmech.fit._solver import jacobian, minimize_chunked
from lmech.fit.bootstrap import percentile_interval, resample_counts

__all__ = ["PowerLawFit", "fit_powerlaw"]


@dataclass(frozen=True)
class PowerLawFit:
    """A fitted y = E + A x^-alpha (E = 0 without offset) with bootstrap intervals.

    ``warnings`` lists what the data could not support; ``unidentified`` maps a parameter
    to the reason its interval is (NaN, NaN).
    """

    estimate: dict[str, float]
    samples: np.ndarray = field(repr=False)
    level: float = 0.95
    objective: float = float("nan")
    n_points: int = 0
    warnings: tuple[str, ...] = ()
    unidentified: dict[str, str] = field(default_factory=dict)
    n_distinct: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.estimate)

    def table(self) -> pd.DataFrame:
        """One row per parameter: estimate, ci_low, ci_high and a note ("" or why it is not
        identified); ``.attrs["warnings"]`` holds :attr:`warnings`."""
        if len(self.samples):
            lo, hi = percentile_interval(self.samples, self.level)
        else:
            lo = hi = np.full(len(self.names), np.nan)
        gone = np.array([n in self.unidentified for n in self.names], dtype=bool)
        lo, hi = np.where(gone, np.nan, lo), np.where(gone, np.nan, hi)
        tab = pd.DataFrame(
            {
                "parameter": list(self.names),
                "estimate": list(self.estimate.values()),
                "ci_low": lo,
                "ci_high": hi,
                "note": [self.unidentified.get(n, "") for n in self.names],
            }
        )
        tab.attrs["warnings"] = list(self.warnings)
        return tab

    def to_dict(self) -> dict[str, dict[str, float | str | None]]:
        """{parameter: {estimate, ci_low, ci_high, note}}, None for missing values (JSON)."""
        return parameter_records(self.table())

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

    The data must identify the law, else it is refused: at least k + 1 distinct x values
    for k free parameters (4 with offset, 3 without; repeated x count once), and a y that
    varies. Fewer than 2k distinct x (6 with offset, 4 without) give a warning. After the
    fit, parameters the data do not fix (the offset vanished, alpha -> 0 merging A with
    E, a flat direction, a parameter left at its start, an interval that never moved) are
    listed in ``unidentified`` with NaN intervals. Bootstrap resamples with fewer than
    k + 1 distinct x are left out and counted in a warning.

    Args:
        x: (n,) positive abscissae (steps, data, parameters).
        y: (n,) positive losses.
        offset: include the irreducible term E.
        delta: Huber threshold on log residuals (> 0); None for least squares.
        bootstrap: number of row resamples in [0, 100000] for percentile intervals.
        level: interval coverage, in (0, 1).
        seed: seed of the resampling, in [0, 2^63 - 1], or a numpy Generator.

    Returns:
        :class:`PowerLawFit` with E (if ``offset``), A and alpha.

    Raises:
        InputError: non-positive, non-finite or complex values, unequal lengths, too few
            distinct x, a constant y, bad options, or a memory estimate above the limit.
        ConfigError: a seed outside [0, 2^63 - 1].
    """
    x, y = positive_column(x, "x"), positive_column(y, "y")
    n = same_length(x=x, y=y)
    offset = check_bool(offset, "offset")
    delta = check_delta(delta)
    bootstrap = check_bootstrap(bootstrap)
    level = check_level(level)
    seed = check_fit_seed(seed)
    k = 3 if offset else 2
    form = "E + A x^-alpha" if offset else "A x^-alpha"
    starts = 30 if offset else 10  # the grid below
    # charged per row: 50 iterations per start and 20 per resample, above the ~11 and ~2
    # measured (10^5 rows: 16 CPU-s for the starts, 0.1 s per resample)
    check_time(
        n * (50 * starts + 20 * bootstrap),
        f"a power-law fit of {n} rows with {bootstrap} bootstrap resamples",
        "use fewer rows or fewer resamples (--bootstrap)",
    )
    kx, labels = distinct_labels(x)
    if kx < k + 1:
        dup = f" ({n} rows, {n - kx} of them repeat an x already present)" if n > kx else ""
        raise InputError(
            f"the power law {form} has {k} free parameters and needs at least {k + 1} "
            f"distinct x values (one more than its parameters, so the fit is not an exact "
            f"interpolation); got {kx}{dup}; add points at other x"
        )
    check_loss_varies(y, "y")
    notes = Notes()
    if kx < 2 * k:
        notes.warn(
            f"only {kx} distinct x for {k} parameters (fewer than 2 per parameter): the fit "
            "rests on little data and its intervals are rough"
        )
    dups = exact_duplicates(x, y)
    if dups:
        notes.warn(
            f"{dups} of {n} rows repeat another row exactly (same x and y): they weigh "
            "double in the fit and the bootstrap; drop them if they are copies"
        )
    check_memory(
        8.0 * (60 * n + 6 * max(4e6, 3 * n)) + 24.0 * bootstrap * n,
        f"a power-law fit of {n} rows with {bootstrap} bootstrap resamples",
        "use fewer resamples (--bootstrap) or fewer rows",
    )
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
    res = minimize_chunked(grid, design, ly, delta=delta, max_iter=300)
    best = int(np.argmin(np.where(np.isfinite(res.value), res.value, np.inf)))
    theta = res.theta[best]

    def named(th: np.ndarray) -> np.ndarray:  # (..., k) scaled -> (..., k) E?, A, alpha
        with np.errstate(over="ignore", invalid="ignore"):
            alpha = th[..., 1] / s
            A = np.exp(th[..., 0] + alpha * m)
            cols = [A, alpha] if not offset else [np.exp(th[..., 2]), A, alpha]
        return np.stack(cols, axis=-1)

    names = ("A", "alpha") if not offset else ("E", "A", "alpha")
    est_row = named(theta)
    for name, v in zip(names, est_row, strict=True):
        if not np.isfinite(v):
            notes.unidentify([name], f"the fit drove {name} to {v} (a bound: 0 or infinity)")
    exact = _diagnose(theta, grid[best], bool(res.converged[best]), design, ly, est_row[-1], notes)
    samples = np.empty((0, len(names)))
    if bootstrap:
        counts = resample_counts(n, bootstrap, seed)
        ok = present_counts(counts, labels) >= k + 1
        samples = np.full((bootstrap, len(names)), np.nan)
        if ok.any():
            boot = minimize_chunked(
                np.repeat(theta[None], int(ok.sum()), axis=0), design, ly, counts[ok],
                delta=delta, max_iter=300,
            )  # fmt: skip
            samples[ok] = named(boot.theta)
        check_intervals(
            samples, names, est_row, level, notes, exact=exact, dropped=int((~ok).sum()),
            why_dropped=f"fewer than {k + 1} distinct x (they cannot identify the law)",
        )  # fmt: skip
        lo, hi = percentile_interval(samples, level)
        if "alpha" not in notes.unidentified and est_row[-1] > 0 and lo[-1] <= 0:
            notes.warn(
                f"the {level:.0%} interval of alpha [{lo[-1]:.3g}, {hi[-1]:.3g}] includes 0: "
                "the data do not show that y falls with x"
            )
    est = dict(zip(names, (float(v) for v in est_row), strict=True))
    return PowerLawFit(
        est, samples, level, float(res.value[best]), n, tuple(notes.warnings),
        dict(notes.unidentified), kx,
    )  # fmt: skip


def _diagnose(theta, start, converged, design, ly, alpha, notes) -> bool:
    """Post-fit identifiability; True when the law reproduces every point exactly.

    Scaled coordinates are (a_s, alpha_s[, e]); a_s moves A, alpha_s moves alpha and A."""
    coord_names = [("A",), ("alpha", "A")] + ([("E",)] if len(theta) == 3 else [])
    grad, share, pred = jacobian(theta, design)
    if not converged:
        notes.warn(
            "the optimizer stopped at its iteration limit before converging: a parameter "
            "is drifting towards a bound (0 or infinity)"
        )
    terms = [("A", "alpha"), ("E",)][: design.shape[1]]
    texts = ["A x^-alpha", "E"]
    for term, text, top in zip(terms, texts, share.max(axis=0), strict=False):
        if top < TERM_MIN_SHARE:
            notes.unidentify(
                term,
                f"the {text} term is below {TERM_MIN_SHARE:g} of the fitted y at every point "
                f"(largest share {top:.2g}): it sits at a bound and the data do not fix it",
            )
    moved = np.abs(theta - start) > 1e-12 * np.maximum(1.0, np.abs(start))
    for j in np.flatnonzero(~moved):
        notes.unidentify(
            coord_names[j],
            f"{coord_names[j][0]} never moved from its start value: the data carry no "
            "information on it",
        )
    for ratio, coords in weak_directions(grad):
        involved = []
        for j in coords:
            involved += [m for m in coord_names[j] if m not in involved]
        notes.unidentify(
            involved,
            f"a direction of the parameters changes no prediction (Jacobian singular value "
            f"{ratio:.2g} of the largest): {' and '.join(coord_names[j][0] for j in coords)} "
            "trade off exactly",
        )
    if np.isfinite(alpha) and alpha <= 0:
        notes.warn(
            f"alpha = {alpha:.4g} <= 0: the fitted y does not fall with x, so the data do "
            "not follow a decaying power law"
        )
    return bool(np.abs(pred - ly).max() <= EXACT_RESIDUAL)

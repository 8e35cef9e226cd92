r"""Chinchilla's parametric scaling law L(N, D) = E + A/N^alpha + B/D^beta (Approach 3).

The fit follows Hoffmann et al. (2022), Sec. 3.3 and App. D.2: with a = log A, b = log B,
e = log E it minimizes over the runs i

.. math:: \sum_i \mathrm{Huber}_\delta\big(\mathrm{LSE}(a - \alpha \log N_i,\;
          b - \beta \log D_i,\; e) - \log L_i\big), \qquad \delta = 10^{-3},

from every point of a grid of starts (4,500 in the paper) and keeps the best. All starts
run together in one batched optimizer (:mod:`lmech.fit._solver`). Bootstrap intervals
refit row resamples, all together, from the full-data optimum (Besiroglu et al. 2024).

References:
    Hoffmann et al., "Training Compute-Optimal Large Language Models", arXiv 2203.15556,
    Sec. 3.3, eq. (2), App. D.2. Besiroglu, Erdil, Barnett, You, "Chinchilla Scaling: A
    replication attempt", arXiv 2404.10102, Sec. 2.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lmech.errors import InputError
from lmech.fit._checks import (
    BOOTSTRAP_ITERATIONS,
    CONVERGE_ITERATIONS,
    DISTINCT_RTOL,
    MAX_STARTS,
    check_bootstrap,
    check_delta,
    check_fit_seed,
    check_level,
    check_loss_varies,
    check_memory,
    check_time,
    distinct_labels,
    distinct_log_labels,
    positive_column,
    same_length,
)
from lmech.fit._identify import (
    EXACT_RESIDUAL,
    MIN_USABLE_FRACTION,
    TERM_MIN_SHARE,
    IdentifiabilityWarning,
    Notes,
    check_intervals,
    parameter_records,
    present_counts,
    weak_directions,
)
from lmech.fit._solver import jacobian, minimize_chunked
from lmech.fit.allocation import compute_optimal_exponents, efficient_frontier
from lmech.fit.bootstrap import percentile_interval, resample_counts

__all__ = [
    "PARAMETERS",
    "REPORTED",
    "HOFFMANN_2022",
    "COARSE_GRID",
    "ChinchillaFit",
    "fit_chinchilla",
    "hoffmann_grid",
    "chinchilla_loss",
    "multistart",
    "bootstrap_refit",
    "named_parameters",
]

PARAMETERS = ("E", "A", "B", "alpha", "beta")
REPORTED = PARAMETERS + ("a", "b")  # a = beta/(alpha+beta), b = alpha/(alpha+beta)

# Hoffmann et al. (2022) Approach 3, at the precision of the replication's notebook
# (log A, log B, log E, alpha, beta; Besiroglu et al. 2024, arXiv 2404.10102, Sec. 2).
HOFFMANN_2022 = {
    "E": float(np.exp(0.5267228)),
    "A": float(np.exp(6.0073404)),
    "B": float(np.exp(6.0179186)),
    "alpha": 0.33917084,
    "beta": 0.2849083,
}


def chinchilla_loss(N, D, E: float, A: float, B: float, alpha: float, beta: float):
    """L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022, eq. 2)."""
    return E + A / np.asarray(N, dtype=np.float64) ** alpha + B / np.asarray(D) ** beta


def hoffmann_grid(
    alpha=(0.0, 0.5, 1.0, 1.5, 2.0),
    beta=(0.0, 0.5, 1.0, 1.5, 2.0),
    e=(-1.0, -0.5, 0.0, 0.5, 1.0),
    a=(0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    b=(0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
) -> np.ndarray:
    """Starts (S, 5) as rows (a, b, e, alpha, beta); the defaults are the paper's 4,500."""
    rows = [(ai, bi, ei, al, be) for al, be, ei, ai, bi in itertools.product(alpha, beta, e, a, b)]
    return np.asarray(rows, dtype=np.float64)


# 48 starts around typical language-model fits, for quick looks (``--grid coarse``)
COARSE_GRID = hoffmann_grid((0.25, 0.75), (0.25, 0.75), (0.0, 0.5, 1.0), (5.0, 10.0), (5.0, 10.0))


class _Design:
    """The LSE design in standardized log N, log D (conditioning), and the change of basis.

    Internally z_1 = a_s - alpha_s x_N with x_N = (log N - m_N)/s_N, so alpha = alpha_s/s_N
    and a = a_s + alpha m_N (same for D); theta = R theta_s.
    """

    def __init__(self, log_n: np.ndarray, log_d: np.ndarray):
        self.m_n, self.s_n = log_n.mean(), max(log_n.std(), 1e-12)
        self.m_d, self.s_d = log_d.mean(), max(log_d.std(), 1e-12)
        xn, xd = (log_n - self.m_n) / self.s_n, (log_d - self.m_d) / self.s_d
        n = len(log_n)
        design = np.zeros((n, 3, 5))
        design[:, 0, 0], design[:, 0, 3] = 1.0, -xn  # a_s - alpha_s x_N
        design[:, 1, 1], design[:, 1, 4] = 1.0, -xd  # b_s - beta_s x_D
        design[:, 2, 2] = 1.0  # e
        self.design = design
        R = np.eye(5)
        R[0, 3], R[1, 4] = self.m_n / self.s_n, self.m_d / self.s_d
        R[3, 3], R[4, 4] = 1.0 / self.s_n, 1.0 / self.s_d
        self.R, self.R_inv = R, np.linalg.inv(R)

    def to_scaled(self, theta: np.ndarray) -> np.ndarray:
        return theta @ self.R_inv.T

    def to_original(self, theta_s: np.ndarray) -> np.ndarray:
        return theta_s @ self.R.T


def _multistart(log_n, log_d, log_loss, grid, *, delta, max_iter, screen_iter, keep):
    """:func:`multistart` plus the winning start (R, 5) and convergence flags (R,)."""
    log_loss = np.atleast_2d(log_loss)
    r, g = len(log_loss), len(grid)
    d = _Design(log_n, log_d)
    starts = d.to_scaled(grid)
    theta0 = np.tile(starts, (r, 1))  # (R*G, 5)
    row = np.repeat(np.arange(r), g)  # data set of each problem (no R*G copies of y)
    # stage 1: every start for `screen_iter` iterations; stage 2: the best `keep` fraction
    # of each data set's starts (at least 8) continue to convergence
    res = minimize_chunked(
        theta0, d.design, log_loss, y_index=row, delta=delta, max_iter=screen_iter
    )
    val = np.where(np.isfinite(res.value), res.value, np.inf).reshape(r, g)
    k = min(g, max(8, int(np.ceil(keep * g))))
    top = np.argsort(val, axis=1)[:, :k]  # (R, k)
    flat = (np.arange(r)[:, None] * g + top).ravel()
    res2 = minimize_chunked(
        res.theta[flat], d.design, log_loss, y_index=row[flat], delta=delta, max_iter=max_iter
    )
    val2 = np.where(np.isfinite(res2.value), res2.value, np.inf).reshape(r, k)
    best = val2.argmin(axis=1)
    pick = np.arange(r) * k + best
    th = res2.theta[pick]
    start = starts[top[np.arange(r), best]]
    return d.to_original(th), val2[np.arange(r), best], d.to_original(start), res2.converged[pick]


def multistart(
    log_n: np.ndarray,
    log_d: np.ndarray,
    log_loss: np.ndarray,
    grid: np.ndarray,
    *,
    delta: float | None = 1e-3,
    max_iter: int = 500,
    screen_iter: int = 15,
    keep: float = 0.02,
) -> tuple[np.ndarray, np.ndarray]:
    """Best (theta (R, 5), objective (R,)) over the grid for R data sets sharing N and D.

    ``log_loss`` is (R, n): R loss vectors measured at the same (N_i, D_i) (repetitions of
    a noisy experiment), all fitted in one batch. theta rows are (a, b, e, alpha, beta).

    Data that cannot identify the law are refused as :func:`fit_chinchilla` refuses them
    (fewer than 10 distinct (N, D) runs or 3 distinct N or D, log D an exact linear
    function of log N, a data set whose loss is constant). After the fit, an
    :class:`~lmech.fit.IdentifiabilityWarning` names the data sets where a parameter
    never moved from its start, became non-finite or belongs to a term that vanished
    (those numbers are not estimates), and one warns about rows repeated exactly and
    nearly collinear N and D. The estimated memory and CPU time are checked first.

    Raises:
        InputError: arrays of the wrong shape or with non-finite values, a bad ``grid``,
            ``delta``, ``max_iter``, ``screen_iter`` or ``keep``, data that cannot
            identify the law, or a fit above the memory or time limit
            (``LMECH_MEMORY_LIMIT_GB``, ``LMECH_FIT_MAX_SECONDS``).

    Warning:
        To save time, every start first runs ``screen_iter`` iterations; only the best
        ``keep`` fraction (at least 8 starts per data set) then runs to convergence.
        Starts still far above the best after the screen are dropped, where Hoffmann et
        al. ran every start to the end. The benchmark checks the optimum is the same as a
        full loop of scipy L-BFGS-B over the 4,500 starts.
    """
    log_n, log_d, log_loss = _log_arrays(log_n, log_d, log_loss)
    grid = _check_grid(grid)
    delta = check_delta(delta)
    max_iter = _positive_int(max_iter, "max_iter")
    screen_iter = _positive_int(screen_iter, "screen_iter")
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 < keep <= 1:
        raise InputError(f"keep must be a fraction of the starts in (0, 1]; got {keep!r}")
    r, n, g = len(log_loss), len(log_n), len(grid)
    k = min(g, max(8, int(np.ceil(keep * g))))
    what = f"a Chinchilla multistart of {r} data sets x {n} rows from {g} starts"
    check_time(r * n * (g * screen_iter + k * min(max_iter, CONVERGE_ITERATIONS)), what,
               "use fewer starts (grid), rows or data sets")  # fmt: skip
    check_memory(8.0 * (100 * n + 6 * max(4e6, 5 * n) + 20 * r * g), what,
                 "use fewer starts (grid) or data sets")  # fmt: skip
    notes = Notes()
    _check_log_data(log_n, log_d, log_loss, notes)
    theta, value, start, conv = _multistart(
        log_n, log_d, log_loss, grid, delta=delta, max_iter=max_iter,
        screen_iter=screen_iter, keep=keep,
    )  # fmt: skip
    _diagnose_batch(theta, start, _Design(log_n, log_d), notes)
    _emit(notes)
    return theta, value


def bootstrap_refit(
    log_n: np.ndarray,
    log_d: np.ndarray,
    log_loss: np.ndarray,
    theta_hat: np.ndarray,
    counts: np.ndarray,
    *,
    delta: float | None = 1e-3,
    max_iter: int = 500,
) -> np.ndarray:
    """Refit (R, B, 5) bootstrap resamples (row counts (R, B, n)) from each R's optimum.

    The data are checked as by :func:`multistart`. A resample that keeps fewer than 6
    distinct (N, D) runs or fewer than 3 distinct N or D cannot identify the law: its row
    of the result is NaN (left out, as :func:`fit_chinchilla` leaves it out), never a
    refit that stayed at ``theta_hat``. An :class:`~lmech.fit.IdentifiabilityWarning`
    says when more than half of a data set's resamples were left out, when refits
    diverged, and when every refit of a data set returned the same value of a parameter
    although the fit does not reproduce its data exactly (a zero-width interval that
    means nothing).

    Raises:
        InputError: arrays of the wrong shape, negative or non-finite counts, a
            non-finite ``theta_hat``, data that cannot identify the law, or work above
            the memory or time limit.
    """
    log_n, log_d, log_loss = _log_arrays(log_n, log_d, log_loss)
    r, n = log_loss.shape
    theta_hat = _finite_array(theta_hat, "theta_hat")
    theta_hat = np.atleast_2d(theta_hat)
    if theta_hat.shape != (r, 5):
        raise InputError(
            f"theta_hat must be ({r}, 5): one optimum (a, b, e, alpha, beta) per data set; "
            f"got shape {theta_hat.shape}"
        )
    counts = _finite_array(counts, "counts")
    if counts.ndim != 3 or counts.shape[0] != r or counts.shape[2] != n:
        raise InputError(
            f"counts must be (R, B, n) = ({r}, B, {n}): each resample's count of every row; "
            f"got shape {counts.shape}"
        )
    if (counts < 0).any():
        raise InputError(
            f"counts must be >= 0 (how often a row is drawn); got {int((counts < 0).sum())} "
            "negative entries"
        )
    max_iter = _positive_int(max_iter, "max_iter")
    delta = check_delta(delta)
    b = counts.shape[1]
    what = f"{r} x {b} Chinchilla bootstrap refits of {n} rows"
    check_time(r * b * n * min(max_iter, BOOTSTRAP_ITERATIONS), what,
               "use fewer resamples or rows")  # fmt: skip
    check_memory(8.0 * (100 * n + 6 * max(4e6, 5 * n) + 2 * r * b * n + 20 * r * b), what,
                 "use fewer resamples")  # fmt: skip
    notes = Notes()
    labels = _check_log_data(log_n, log_d, log_loss, notes)
    flat = counts.reshape(r * b, n)
    ok = present_counts(flat, labels) >= MIN_RESAMPLE_RUNS
    for col in (log_n, log_d):
        ok &= present_counts(flat, distinct_log_labels(col)[1]) >= MIN_DISTINCT_SIZES
    d = _Design(log_n, log_d)
    out = _refit(d, log_loss, theta_hat, counts, ok.reshape(r, b), delta, max_iter)
    _diagnose_refits(out, ok.reshape(r, b), theta_hat, d, log_loss, notes)
    _emit(notes)
    return out


def _refit(d: _Design, log_loss, theta_hat, counts, ok, delta, max_iter) -> np.ndarray:
    """(R, B, 5) refits of the resamples where ``ok`` (R, B), NaN elsewhere; no checks."""
    r, b, n = counts.shape
    out = np.full((r * b, 5), np.nan)
    idx = np.flatnonzero(ok.reshape(-1))
    if idx.size:
        theta0 = np.repeat(d.to_scaled(theta_hat), b, axis=0)[idx]  # (S, 5)
        row = np.repeat(np.arange(r), b)[idx]
        res = minimize_chunked(
            theta0, d.design, log_loss, counts.reshape(r * b, n)[idx], y_index=row,
            delta=delta, max_iter=max_iter,
        )  # fmt: skip
        out[idx] = d.to_original(res.theta)
    return out.reshape(r, b, 5)


def named_parameters(theta: np.ndarray) -> np.ndarray:
    """(..., 5) fit rows (a, b, e, alpha, beta) -> (..., 7) columns of :data:`REPORTED`:
    E = e^e, A = e^a, B = e^b, alpha, beta, a = beta/(alpha+beta), b = alpha/(alpha+beta)."""
    a, b, e, al, be = np.moveaxis(theta, -1, 0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return np.stack(
            [np.exp(e), np.exp(a), np.exp(b), al, be, be / (al + be), al / (al + be)], axis=-1
        )


@dataclass(frozen=True)
class ChinchillaFit:
    """A fitted L(N, D) = E + A/N^alpha + B/D^beta with percentile bootstrap intervals.

    ``estimate`` maps E, A, B, alpha, beta and the compute-optimal exponents
    a = beta/(alpha+beta) (N_opt ~ C^a), b = alpha/(alpha+beta) (D_opt ~ C^b) to floats;
    ``samples`` holds one row per bootstrap refit (columns in the same order, NaN rows for
    resamples left out), empty without bootstrap.

    ``warnings`` lists what the data could not support (fit-wide, one sentence each);
    ``unidentified`` maps a parameter to the reason its interval is not reported: its
    interval is (NaN, NaN), never a tight interval that means nothing.
    """

    estimate: dict[str, float]
    samples: np.ndarray = field(repr=False)
    level: float = 0.95
    objective: float = float("nan")
    n_points: int = 0
    delta: float | None = 1e-3
    warnings: tuple[str, ...] = ()
    unidentified: dict[str, str] = field(default_factory=dict)
    n_distinct: int = 0

    def interval(self, name: str) -> tuple[float, float]:
        """(low, high) percentile interval of ``name``; NaNs without bootstrap or when
        ``name`` is not identified (see :attr:`unidentified`)."""
        if name not in REPORTED:
            raise InputError(f"parameter must be one of {REPORTED}; got {name!r}")
        if len(self.samples) == 0 or name in self.unidentified:
            return float("nan"), float("nan")
        lo, hi = percentile_interval(self.samples, self.level)
        i = REPORTED.index(name)
        return float(lo[i]), float(hi[i])

    def table(self) -> pd.DataFrame:
        """One row per parameter: estimate, ci_low, ci_high (percentile bootstrap) and a
        note ("" or why the parameter is not identified); ``.attrs["warnings"]`` holds
        :attr:`warnings`."""
        rows = []
        for name in REPORTED:
            lo, hi = self.interval(name)
            rows.append(
                {
                    "parameter": name,
                    "estimate": self.estimate[name],
                    "ci_low": lo,
                    "ci_high": hi,
                    "note": self.unidentified.get(name, ""),
                }
            )
        tab = pd.DataFrame(rows)
        tab.attrs["warnings"] = list(self.warnings)
        return tab

    def to_dict(self) -> dict[str, dict[str, float | str | None]]:
        """{parameter: {estimate, ci_low, ci_high, note}} with None for missing numbers and
        notes (JSON); the fit-wide :attr:`warnings` are not part of it."""
        return parameter_records(self.table())

    def predict(self, N, D) -> np.ndarray:
        """The fitted L(N, D)."""
        p = self.estimate
        return chinchilla_loss(N, D, p["E"], p["A"], p["B"], p["alpha"], p["beta"])

    def _allocation_defined(self) -> None:
        p = self.estimate
        why = [n for n in ("a", "b") if n in self.unidentified]
        if not (p["alpha"] > 0 and p["beta"] > 0) or why:
            raise InputError(
                "the compute-optimal allocation needs a fit with alpha > 0 and beta > 0 "
                f"whose exponents are identified; got alpha = {p['alpha']:.4g}, beta = "
                f"{p['beta']:.4g}" + (f" ({self.unidentified[why[0]]})" if why else "")
            )

    def compute_optimal(self, C) -> tuple[np.ndarray, np.ndarray]:
        """(N_opt, D_opt) minimizing the fitted L at C = 6 N D."""
        self._allocation_defined()
        p = self.estimate
        return efficient_frontier(C, p["A"], p["B"], p["alpha"], p["beta"])

    def exponents(self) -> dict[str, float]:
        """{"a", "b"}: N_opt ~ C^a, D_opt ~ C^b (InputError if they are not identified)."""
        self._allocation_defined()
        p = self.estimate
        return compute_optimal_exponents(p["alpha"], p["beta"])


# minimum data for the five-parameter law (refused below; see fit_chinchilla)
MIN_DISTINCT_RUNS = 2 * len(PARAMETERS)
MIN_DISTINCT_SIZES = 3  # distinct N and distinct D
MIN_RESAMPLE_RUNS = len(PARAMETERS) + 1  # a bootstrap resample with fewer is left out
COLLINEAR_WARN = 0.999  # |corr(log N, log D)| above this: the two terms barely separate

# scaled coordinates (a_s, b_s, e, alpha_s, beta_s) -> reported names they move
_COORD_NAMES = (("A",), ("B",), ("E",), ("alpha", "A", "a", "b"), ("beta", "B", "a", "b"))
_TERMS = (("A", "alpha"), ("B", "beta"), ("E",))
_TERM_TEXT = ("A/N^alpha", "B/D^beta", "E")


def _positive_int(x, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 1:
        raise InputError(f"{name} must be an integer >= 1; got {x!r}")
    return int(x)


def _finite_array(x, name: str) -> np.ndarray:
    if np.iscomplexobj(x):
        raise InputError(f"{name} must be real numbers; got complex values")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as err:
        raise InputError(
            f"{name} must be an array of numbers; got {type(x).__name__} ({err})"
        ) from None
    if not np.isfinite(arr).all():
        raise InputError(
            f"{name} must be finite; got {int((~np.isfinite(arr)).sum())} NaN/inf entries"
        )
    return arr


def _log_arrays(log_n, log_d, log_loss) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log N (n,), log D (n,), log loss (R, n)) checked for shape and finiteness."""
    log_n, log_d = _finite_array(log_n, "log_n"), _finite_array(log_d, "log_d")
    log_loss = np.atleast_2d(_finite_array(log_loss, "log_loss"))
    if log_n.ndim != 1 or log_d.shape != log_n.shape:
        raise InputError(
            f"log_n and log_d must be 1-D with one value per run; got shapes {log_n.shape} "
            f"and {log_d.shape}"
        )
    if log_loss.ndim != 2 or log_loss.shape[1] != len(log_n) or len(log_loss) == 0:
        raise InputError(
            f"log_loss must be (R, n) = (R, {len(log_n)}): R data sets at the same runs; got "
            f"shape {log_loss.shape}"
        )
    return log_n, log_d, log_loss


def _check_grid(grid) -> np.ndarray:
    if grid is None:
        return hoffmann_grid()
    try:
        grid = np.atleast_2d(np.asarray(grid, dtype=np.float64))
    except (TypeError, ValueError, OverflowError) as err:
        raise InputError(f"grid must be a numeric (S, 5) array of starts; got {err}") from None
    if grid.ndim != 2 or grid.shape[1] != 5 or len(grid) == 0 or not np.isfinite(grid).all():
        raise InputError(
            "grid must be a finite (S, 5) array of starts (a, b, e, alpha, beta) with S >= 1; "
            f"got shape {grid.shape}" + ("" if grid.ndim != 2 else " or non-finite values")
        )
    if len(grid) > MAX_STARTS:
        raise InputError(
            f"grid must have at most {MAX_STARTS} starts; got {len(grid)}; Hoffmann et al.'s "
            "grid has 4,500"
        )
    return grid


def _emit(notes: Notes) -> None:
    for message in notes.warnings:
        warnings.warn(message, IdentifiabilityWarning, stacklevel=3)


def _sets(rows) -> str:
    rows = [int(i) for i in rows]
    return f"{rows[:8]}" + (" ..." if len(rows) > 8 else "")


def _diagnose_batch(theta: np.ndarray, start: np.ndarray, d: _Design, notes: Notes) -> None:
    """Post-fit checks of R multistart fits (original coordinates), aggregated."""
    r = len(theta)
    bad = ~np.isfinite(theta).all(axis=1)
    if bad.any():
        notes.warn(
            f"in {int(bad.sum())} of {r} data sets (rows {_sets(np.flatnonzero(bad))}) the fit "
            "drove a parameter to a bound (0 or infinity): those rows are not estimates"
        )
    th_s, st_s = d.to_scaled(theta), d.to_scaled(start)
    pinned = ~(np.abs(th_s - st_s) > 1e-12 * np.maximum(1.0, np.abs(st_s)))
    for j in range(5):
        rows = np.flatnonzero(pinned[:, j] & ~bad)
        if rows.size:
            name = _COORD_NAMES[j][0]
            notes.warn(
                f"in {rows.size} of {r} data sets (rows {_sets(rows)}) {name} never moved from "
                "its start value: the data carry no information on it, and that row's "
                f"{name} is the start, not an estimate"
            )
    dead = {text: [] for text in _TERM_TEXT}
    for i in np.flatnonzero(~bad):
        _, share, _ = jacobian(th_s[i], d.design)
        for text, top in zip(_TERM_TEXT, share.max(axis=0), strict=True):
            if top < TERM_MIN_SHARE:
                dead[text].append(i)
    for text, rows in dead.items():
        if rows:
            notes.warn(
                f"in {len(rows)} of {r} data sets (rows {_sets(rows)}) the {text} term is below "
                f"{TERM_MIN_SHARE:g} of the fitted loss at every run: it sits at a bound and "
                "the data do not fix its parameters"
            )


def _diagnose_refits(out, ok, theta_hat, d: _Design, log_loss, notes: Notes) -> None:
    """Post-refit checks of (R, B, 5) bootstrap refits: dropped, diverged, never moved."""
    r, b, _ = out.shape
    few = np.flatnonzero(ok.sum(axis=1) < MIN_USABLE_FRACTION * b)
    if few.size:
        notes.warn(
            f"in {few.size} of {r} data sets (rows {_sets(few)}) more than "
            f"{1 - MIN_USABLE_FRACTION:.0%} of the {b} resamples kept fewer than "
            f"{MIN_RESAMPLE_RUNS} distinct runs or {MIN_DISTINCT_SIZES} distinct N or D and "
            "were left out (NaN rows): their intervals rest on too few refits; add runs"
        )
    diverged = ok & ~np.isfinite(out).all(axis=2)
    if diverged.any():
        notes.warn(
            f"{int(diverged.sum())} of {int(ok.sum())} bootstrap refits diverged "
            "(non-finite parameters)"
        )
    th_s = d.to_scaled(theta_hat)
    for j in range(5):
        rows = []
        for i in range(r):
            v = out[i, ok[i] & np.isfinite(out[i]).all(axis=1), j]
            if v.size < 2 or np.ptp(v) > 1e-12 * max(1.0, abs(float(v[0]))):
                continue
            _, _, pred = jacobian(th_s[i], d.design)
            if np.abs(pred - log_loss[i]).max() > EXACT_RESIDUAL:
                rows.append(i)
        if rows:
            name = _COORD_NAMES[j][0]
            notes.warn(
                f"in {len(rows)} of {r} data sets (rows {_sets(rows)}) every bootstrap refit "
                f"returned the same {name} although the fit does not reproduce the data "
                "exactly: the refits never moved it, and its zero-width interval means nothing"
            )


def _check_log_data(log_n, log_d, log_loss, notes) -> np.ndarray:
    """:func:`_check_data` in log coordinates for R data sets (R, n) sharing N and D;
    (n,) labels of the distinct (N, D) runs."""
    n = len(log_n)
    k, labels = distinct_log_labels(log_n, log_d)
    kn, _ = distinct_log_labels(log_n)
    kd, _ = distinct_log_labels(log_d)
    if k < MIN_DISTINCT_RUNS or kn < MIN_DISTINCT_SIZES or kd < MIN_DISTINCT_SIZES:
        got = [f"{k} distinct (N, D) runs"]
        if n > k:
            got[0] += f" ({n} rows, {n - k} of them repeat an (N, D) already present)"
        for col, name, kk in ((log_n, "N", kn), (log_d, "D", kd)):
            one = f" ({name} = {np.exp(col[0]):.4g} in all {n} rows)" if kk == 1 else ""
            got.append(f"{kk} distinct {name}{one}")
        fix = [
            what
            for what, short in (
                ("model sizes", kn < MIN_DISTINCT_SIZES),
                ("token counts", kd < MIN_DISTINCT_SIZES),
            )  # fmt: skip
            if short
        ] or ["model sizes and token counts"]
        raise InputError(
            f"the Chinchilla law E + A/N^alpha + B/D^beta has {len(PARAMETERS)} free "
            f"parameters and needs at least {MIN_DISTINCT_RUNS} distinct (N, D) runs (2 per "
            f"parameter), with at least {MIN_DISTINCT_SIZES} distinct values of N (for A "
            f"and alpha) and of D (for B and beta); got {', '.join(got)}; add runs at other "
            f"{' and '.join(fix)}"
        )
    flat = np.flatnonzero(np.ptp(log_loss, axis=1) <= DISTINCT_RTOL)
    if flat.size and len(log_loss) == 1:
        check_loss_varies(np.exp(log_loss[0]))
    if flat.size:
        raise InputError(
            f"the loss must vary across the runs of every data set to fit a scaling law; got "
            f"a constant loss in {flat.size} of {len(log_loss)} data sets (rows "
            f"{_sets(flat)}); drop those data sets"
        )
    first = np.unique(labels, return_index=True)[1]  # one row per distinct run
    xn, xd = log_n[first] - log_n[first].mean(), log_d[first] - log_d[first].mean()
    corr = float(xn @ xd / np.sqrt((xn @ xn) * (xd @ xd)))
    if 1.0 - abs(corr) <= 1e-9:
        raise InputError(
            "N and D must vary independently to separate A/N^alpha from B/D^beta; got log D "
            f"an exact linear function of log N (correlation {corr:.12f}, e.g. a fixed "
            "tokens-per-parameter ratio); add runs off that line (other D at the same N)"
        )
    if abs(corr) > COLLINEAR_WARN:
        notes.warn(
            f"log N and log D are nearly collinear (correlation {corr:.5f}): the N and D "
            "terms are hard to tell apart and their parameters trade off; add runs off "
            "that line"
        )
    dups = [n - distinct_log_labels(log_n, log_d, row)[0] for row in log_loss]
    if any(dups):
        where = "" if len(log_loss) == 1 else f" (the most in one of {len(log_loss)} data sets)"
        notes.warn(
            f"{max(dups)} of {n} rows repeat another row exactly (same N, D and loss){where}: "
            "they weigh double in the fit and the bootstrap; drop them if they are copies"
        )
    return labels


def _check_data(N: np.ndarray, D: np.ndarray, loss: np.ndarray, notes) -> tuple[int, np.ndarray]:
    """Refuse data that cannot identify the law; (distinct runs, their labels)."""
    labels = _check_log_data(np.log(N), np.log(D), np.log(loss)[None], notes)
    return int(labels.max(initial=-1)) + 1, labels


def _diagnose(theta: np.ndarray, start: np.ndarray, converged: bool, d: _Design, log_l, notes):
    """Post-fit identifiability of one fit (theta, start in original coordinates)."""
    est = named_parameters(theta)
    for name, v in zip(REPORTED, est, strict=True):
        if not np.isfinite(v):
            notes.unidentify([name], f"the fit drove {name} to {v} (a bound: 0 or infinity)")
    th_s, st_s = d.to_scaled(theta), d.to_scaled(start)
    grad, share, pred = jacobian(th_s, d.design)
    if not converged:
        notes.warn(
            "the optimizer stopped at its iteration limit before converging: a parameter "
            "is drifting towards a bound (0 or infinity)"
        )
    for term, text, top in zip(_TERMS, _TERM_TEXT, share.max(axis=0), strict=True):
        if top < TERM_MIN_SHARE:
            notes.unidentify(
                term,
                f"the {text} term is below {TERM_MIN_SHARE:g} of the fitted loss at every "
                f"run (largest share {top:.2g}): it sits at a bound and the data do not "
                "fix it",
            )
    moved = np.abs(th_s - st_s) > 1e-12 * np.maximum(1.0, np.abs(st_s))
    for j in np.flatnonzero(~moved):
        notes.unidentify(
            _COORD_NAMES[j][:1] if j < 3 else _COORD_NAMES[j],
            f"{_COORD_NAMES[j][0]} never moved from its start value: the data carry no "
            "information on it",
        )
    for ratio, coords in weak_directions(grad):
        names = []
        for j in coords:
            names += [m for m in _COORD_NAMES[j] if m not in names]
        notes.unidentify(
            names,
            f"a direction of the parameters changes no prediction (Jacobian singular value "
            f"{ratio:.2g} of the largest): {' and '.join(_COORD_NAMES[j][0] for j in coords)} "
            "trade off exactly",
        )
    p = dict(zip(REPORTED, est, strict=True))
    for name, other in (("alpha", "N"), ("beta", "D")):
        if np.isfinite(p[name]) and p[name] <= 0:
            notes.warn(
                f"{name} = {p[name]:.4g} <= 0: the fitted loss does not fall with {other}, "
                "so the data do not follow the law's scaling"
            )
            notes.unidentify(
                ["a", "b"],
                f"the compute-optimal exponents need alpha > 0 and beta > 0; got "
                f"{name} = {p[name]:.4g}",
            )
    return bool(np.abs(pred - log_l).max() <= EXACT_RESIDUAL)


def fit_chinchilla(
    N,
    D,
    loss,
    *,
    bootstrap: int = 0,
    level: float = 0.95,
    delta: float | None = 1e-3,
    grid: np.ndarray | None = None,
    seed: int = 0,
) -> ChinchillaFit:
    r"""Fit L(N, D) = E + A/N^alpha + B/D^beta as Hoffmann et al. (2022), App. D.2.

    Minimizes :math:`\sum_i \mathrm{Huber}_\delta(\mathrm{LSE}(a - \alpha\log N_i,
    b - \beta\log D_i, e) - \log L_i)` from every start of ``grid`` at once and keeps the
    best; with ``bootstrap=B`` it refits B resamples of the rows (with replacement) from
    that optimum and reports percentile intervals at ``level``.

    The data must be able to identify the law, else it is refused: at least
    ``MIN_DISTINCT_RUNS`` = 10 distinct (N, D) runs (2 per free parameter; repeated rows
    count once), at least 3 distinct N and 3 distinct D, log N and log D not exactly
    collinear, and a loss that varies. After the fit, parameters that the data do not fix
    (a term that vanished, a flat direction, a parameter that never left its start, an
    interval that never moved) are listed in ``unidentified`` with NaN intervals, and
    fit-wide problems in ``warnings``; bootstrap resamples with fewer than 6 distinct runs
    or fewer than 3 distinct N or D are left out (and counted in a warning).

    Args:
        N: (n,) parameters per run, > 0.
        D: (n,) training tokens per run, > 0.
        loss: (n,) final losses, > 0.
        bootstrap: number of bootstrap resamples B in [0, 100000] (0: no intervals).
        level: interval coverage, in (0, 1).
        delta: Huber threshold on log-loss residuals (1e-3 as the paper), > 0; None:
            squares.
        grid: (S, 5) starts as rows (a, b, e, alpha, beta), S <= 100000; default
            :func:`hoffmann_grid`.
        seed: seed of the bootstrap resampling, in [0, 2^63 - 1], or a numpy Generator.

    Returns:
        :class:`ChinchillaFit`; ``.table()`` lists estimates, intervals and notes.

    Raises:
        InputError: non-positive, non-finite, complex or unequal-length columns; data that
            cannot identify the law (see above); a bad ``bootstrap``, ``level``,
            ``delta`` or ``grid``; a fit whose memory estimate exceeds the limit
            (``LMECH_MEMORY_LIMIT_GB``).
        ConfigError: a seed outside [0, 2^63 - 1].

    Warning:
        The local optimizer is a batched damped Newton method, not L-BFGS, and starts
        that are not among the best 2% after 15 iterations are dropped (see
        :func:`multistart`); ``benchmarks/chinchilla_fit.py`` checks the optimum against
        a full loop of scipy L-BFGS-B.

    References:
        Hoffmann et al. 2022 (arXiv 2203.15556), eq. (2) and App. D.2; Besiroglu et al.
        2024 (arXiv 2404.10102) for the bootstrap.
    """
    N, D, loss = positive_column(N, "N"), positive_column(D, "D"), positive_column(loss, "loss")
    n = same_length(N=N, D=D, loss=loss)
    bootstrap = check_bootstrap(bootstrap)
    level = check_level(level)
    delta = check_delta(delta)
    seed = check_fit_seed(seed)
    grid = _check_grid(grid)
    g = len(grid)
    stage2 = min(g, max(8, int(np.ceil(0.02 * g)))) * CONVERGE_ITERATIONS
    check_time(n * (15 * g + stage2 + bootstrap * BOOTSTRAP_ITERATIONS),
               f"a Chinchilla fit of {n} rows from {g} starts with {bootstrap} bootstrap "
               "resamples", "use fewer rows, fewer resamples (--bootstrap) or the coarse "
               "grid of starts (--grid coarse)")  # fmt: skip
    notes = Notes()
    k, labels = _check_data(N, D, loss, notes)
    work = 8.0 * (100 * n + 6 * max(4e6, 5 * n) + 10 * len(grid)) + 24.0 * bootstrap * n
    check_memory(work, f"a Chinchilla fit of {n} rows with {bootstrap} bootstrap resamples",
                 "use fewer resamples (--bootstrap) or fewer rows")  # fmt: skip
    log_n, log_d, log_l = np.log(N), np.log(D), np.log(loss)
    theta, value, start, conv = _multistart(
        log_n, log_d, log_l[None], grid, delta=delta, max_iter=500, screen_iter=15, keep=0.02
    )
    exact = _diagnose(theta[0], start[0], bool(conv[0]), _Design(log_n, log_d), log_l, notes)
    est_row = named_parameters(theta[0])
    samples = np.empty((0, len(REPORTED)))
    if bootstrap:
        counts = resample_counts(n, bootstrap, seed)
        ok = present_counts(counts, labels) >= MIN_RESAMPLE_RUNS
        for col in (N, D):
            ok &= present_counts(counts, distinct_labels(col)[1]) >= MIN_DISTINCT_SIZES
        samples = np.full((bootstrap, len(REPORTED)), np.nan)
        if ok.any():
            boot = _refit(_Design(log_n, log_d), log_l[None], theta, counts[ok][None],
                          np.ones((1, int(ok.sum())), bool), delta, 500)  # fmt: skip
            samples[ok] = named_parameters(boot[0])
        check_intervals(
            samples, REPORTED, est_row, level, notes, exact=exact, dropped=int((~ok).sum()),
            why_dropped=f"fewer than {MIN_RESAMPLE_RUNS} distinct runs or fewer than "
            f"{MIN_DISTINCT_SIZES} distinct N or D (they cannot identify the law)",
        )  # fmt: skip
        lo, hi = percentile_interval(samples, level)
        for name, other in (("alpha", "N"), ("beta", "D")):
            j = REPORTED.index(name)
            if name not in notes.unidentified and est_row[j] > 0 and lo[j] <= 0:
                notes.unidentify(
                    ["a", "b"],
                    f"the {level:.0%} interval of {name} [{lo[j]:.3g}, {hi[j]:.3g}] includes 0 "
                    f"(the data do not show that the loss falls with {other}), so the "
                    "compute-optimal exponents are not identified",
                )
    est = dict(zip(REPORTED, (float(v) for v in est_row), strict=True))
    return ChinchillaFit(
        est, samples, level, float(value[0]), n, delta, tuple(notes.warnings),
        dict(notes.unidentified), k,
    )  # fmt: skip

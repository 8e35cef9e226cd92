r"""Chinchilla's Approaches 1 and 2: compute-optimal N_opt(C) ~ C^a and D_opt(C) ~ C^b.

* Approach 1 (envelope of training curves): each run of size N contributes its loss curve
  along the tokens D it has seen, at compute C = 6 N D. On a log-spaced grid of C, the
  run with the lowest (log-linearly interpolated) loss gives N_opt(C); D_opt = C/(6 N_opt).
* Approach 2 (IsoFLOP profiles): at each compute budget, fit a parabola of loss in log N
  and take its vertex as log N_opt(C).

Both then fit log N_opt = a log C + c and log D_opt = b log C + c' by least squares.
Bootstrap intervals resample the envelope points (Approach 1) or the runs within each
budget (Approach 2), and refit everything.

Data that cannot give an exponent are refused (one model size, a constant loss, an
envelope that never changes run, fewer than 3 usable budgets); data that give a weak
answer come back with ``warnings`` (budgets left out, a vertex outside the sampled sizes,
bootstrap resamples left out) and, where an interval means nothing, ``unidentified``.

References:
    Hoffmann et al. 2022 (arXiv 2203.15556), Sec. 3.1 (Approach 1), Sec. 3.2 (Approach 2),
    Table 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lmech.errors import InputError
from lmech.fit._checks import (
    check_bootstrap,
    check_fit_seed,
    check_level,
    check_loss_varies,
    check_memory,
    check_positive_float,
    distinct_labels,
    exact_duplicates,
    positive_column,
    same_length,
)
from lmech.fit._identify import Notes, check_intervals, parameter_records, present_counts
from lmech.fit.bootstrap import percentile_interval, resample_counts

__all__ = ["ComputeOptimalFit", "fit_envelope", "fit_isoflop"]

MAX_NUM_COMPUTE = 10_000
MIN_BUDGETS = 3  # IsoFLOP budgets with a usable parabola (the line a log C + c needs 3)
MIN_PROFILE_SIZES = 3  # distinct model sizes per IsoFLOP budget (a parabola has 3)
MIN_ENVELOPE_POINTS = 3  # compute values reached by >= 2 runs


@dataclass(frozen=True)
class ComputeOptimalFit:
    """Frontier points and the exponents a (N_opt ~ C^a), b (D_opt ~ C^b) with intervals.

    ``warnings`` lists what the data could not support; ``unidentified`` maps an exponent
    to the reason its interval is (NaN, NaN).
    """

    compute: np.ndarray
    n_opt: np.ndarray
    d_opt: np.ndarray
    estimate: dict[str, float]
    samples: np.ndarray = field(repr=False)
    level: float = 0.95
    warnings: tuple[str, ...] = ()
    unidentified: dict[str, str] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per exponent: estimate, ci_low, ci_high, note; ``.attrs["warnings"]``."""
        names = list(self.estimate)
        if len(self.samples):
            lo, hi = percentile_interval(self.samples, self.level)
        else:
            lo = hi = np.full(len(names), np.nan)
        gone = np.array([n in self.unidentified for n in names], dtype=bool)
        tab = pd.DataFrame(
            {
                "parameter": names,
                "estimate": list(self.estimate.values()),
                "ci_low": np.where(gone, np.nan, lo),
                "ci_high": np.where(gone, np.nan, hi),
                "note": [self.unidentified.get(n, "") for n in names],
            }
        )
        tab.attrs["warnings"] = list(self.warnings)
        return tab

    def to_dict(self) -> dict[str, dict[str, float | str | None]]:
        """{exponent: {estimate, ci_low, ci_high, note}}, None for missing values (JSON)."""
        return parameter_records(self.table())

    def frontier(self) -> pd.DataFrame:
        return pd.DataFrame({"C": self.compute, "N_opt": self.n_opt, "D_opt": self.d_opt})


def _loglog_slopes(log_c: np.ndarray, log_y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted LS slope of log_y on log_c for each weight row w (B, m) -> (B,)."""
    sw = w.sum(axis=1)
    mc = (w * log_c).sum(axis=1) / sw
    my = (w * log_y).sum(axis=1) / sw
    dc = log_c - mc[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w * dc * (log_y - my[:, None])).sum(axis=1) / (w * dc * dc).sum(axis=1)


def _finish(compute, n_opt, flops, level, samples, notes) -> ComputeOptimalFit:
    d_opt = compute / (flops * n_opt)
    lc = np.log(compute)
    one = np.ones((1, len(compute)))
    a = float(_loglog_slopes(lc, np.log(n_opt), one)[0])
    b = float(_loglog_slopes(lc, np.log(d_opt), one)[0])
    if len(samples):
        check_intervals(
            samples, ("a", "b"), np.array([a, b]), level, notes, exact=False,
            dropped=notes.dropped, why_dropped=notes.why_dropped,
            why_nonfinite=notes.why_nonfinite,
        )  # fmt: skip
    return ComputeOptimalFit(
        compute, n_opt, d_opt, {"a": a, "b": b}, samples, level, tuple(notes.warnings),
        dict(notes.unidentified),
    )  # fmt: skip


class _Notes(Notes):
    dropped: int = 0
    why_dropped: str = ""
    why_nonfinite: str = "diverged (non-finite slopes)"


def _check_common(bootstrap, level, seed, flops):
    return (
        check_bootstrap(bootstrap),
        check_level(level),
        check_fit_seed(seed),
        check_positive_float(flops, "flops_per_param_token", "6.0"),
    )


def fit_envelope(
    N,
    D,
    loss,
    *,
    num_compute: int = 30,
    flops_per_param_token: float = 6.0,
    bootstrap: int = 0,
    level: float = 0.95,
    seed: int = 0,
) -> ComputeOptimalFit:
    """Approach 1: the lower envelope of training curves over compute.

    Args:
        N: (n,) model size of the run each row belongs to (rows of one run share N).
        D: (n,) tokens seen at that row of the training curve.
        loss: (n,) loss at that point.
        num_compute: log-spaced compute values (3 to 10000) between the smallest and
            largest C.
        flops_per_param_token: the 6 in C = 6 N D (> 0).
        bootstrap, level, seed: case-resampling bootstrap of the envelope points
            (bootstrap in [0, 100000]; resamples with fewer than 3 distinct points are
            left out).

    Returns:
        :class:`ComputeOptimalFit` with the envelope (C, N_opt, D_opt) and a, b.

    Raises:
        InputError: bad columns or options; fewer than 2 model sizes; a constant loss;
            fewer than 3 compute values reached by 2 runs; an envelope that is the same
            run at every compute value (N_opt never changes, so a is not identified).
    """
    N, D, loss = positive_column(N, "N"), positive_column(D, "D"), positive_column(loss, "loss")
    n = same_length(N=N, D=D, loss=loss)
    bootstrap, level, seed, flops = _check_common(bootstrap, level, seed, flops_per_param_token)
    if (
        isinstance(num_compute, bool)
        or not isinstance(num_compute, (int, np.integer))
        or not MIN_ENVELOPE_POINTS <= num_compute <= MAX_NUM_COMPUTE
    ):
        raise InputError(
            f"num_compute must be an integer in [{MIN_ENVELOPE_POINTS}, {MAX_NUM_COMPUTE}] "
            f"(log-spaced compute values); got {num_compute!r}"
        )
    sizes = np.unique(N)
    if sizes.size < 2:
        raise InputError(
            f"Approach 1 needs training curves of >= 2 model sizes; got {sizes.size} "
            f"(N = {sizes[0]:.4g} in all {n} rows)"
            if n
            else "Approach 1 needs training curves of >= 2 model sizes; got no rows"
        )
    check_loss_varies(loss)
    check_memory(
        8.0 * (3 * sizes.size * num_compute + 4 * n) + 24.0 * bootstrap * num_compute,
        f"an envelope of {sizes.size} runs on {num_compute} compute values with "
        f"{bootstrap} resamples",
        "use fewer compute values (num_compute) or resamples",
    )
    notes = _Notes()
    dups = exact_duplicates(N, D, loss)
    if dups:
        notes.warn(
            f"{dups} of {n} rows repeat another row exactly (same N, D and loss); drop them "
            "if they are copies"
        )
    log_c = np.log(flops * N * D)
    lo, hi = log_c.min(), log_c.max()
    grid = np.linspace(lo, hi, num_compute)
    curves = np.full((sizes.size, num_compute), np.inf)
    for j, size in enumerate(sizes):  # one interpolation per run (python loop over runs)
        sel = N == size
        xc, first = np.unique(log_c[sel], return_index=True)  # sorted, one row per C
        yl = np.log(loss[sel][first])
        if xc.size < 2:
            continue
        inside = (grid >= xc[0]) & (grid <= xc[-1])
        curves[j, inside] = np.interp(grid[inside], xc, yl)
    reached = np.isfinite(curves).sum(axis=0) >= 2  # the envelope needs a comparison
    if reached.sum() < MIN_ENVELOPE_POINTS:
        raise InputError(
            f"Approach 1 needs >= {MIN_ENVELOPE_POINTS} compute values reached by >= 2 runs "
            f"(training curves with >= 2 distinct D each that overlap in C = 6ND); got "
            f"{int(reached.sum())} of {num_compute}; add longer curves or more model sizes"
        )
    best = curves[:, reached].argmin(axis=0)
    compute = np.exp(grid[reached])
    n_opt = sizes[best]
    used = np.unique(n_opt)
    if used.size < 2:
        raise InputError(
            "the envelope must switch between model sizes to identify a and b; got the run "
            f"N = {used[0]:.4g} at all {compute.size} compute values (N_opt never changes); "
            "add model sizes above and below it, or curves that cross"
        )
    if used.size == 2:
        notes.warn(
            "the envelope switches between only 2 model sizes: a and b rest on one switch "
            "point; add model sizes between them"
        )
    samples = np.empty((0, 2))
    if bootstrap:
        m = len(compute)
        w = resample_counts(m, bootstrap, seed)
        ok = present_counts(w, np.arange(m)) >= MIN_ENVELOPE_POINTS
        lc, d_opt = np.log(compute), compute / (flops * n_opt)
        samples = np.full((bootstrap, 2), np.nan)
        samples[ok] = np.stack(
            [_loglog_slopes(lc, np.log(n_opt), w[ok]), _loglog_slopes(lc, np.log(d_opt), w[ok])],
            1,
        )
        notes.dropped = int((~ok).sum())
        notes.why_dropped = f"fewer than {MIN_ENVELOPE_POINTS} distinct envelope points"
    return _finish(compute, n_opt, flops, level, samples, notes)


def _vertices(x: np.ndarray, y: np.ndarray, groups: np.ndarray, labels, w: np.ndarray):
    """Vertex of the weighted LS parabola y ~ c0 + c1 x + c2 x^2 per group, per weight row.

    Returns (B, G) vertices -c1/(2 c2); NaN where the parabola opens downwards or is flat.
    """
    out = np.full((w.shape[0], len(labels)), np.nan)
    for j, g in enumerate(labels):
        idx = groups == g
        xs = x[idx] - x[idx].mean()  # centred for conditioning
        V = np.stack([np.ones_like(xs), xs, xs * xs], axis=1)  # (m, 3)
        wg = w[:, idx]
        lhs = np.einsum("bm,mi,mj->bij", wg, V, V)
        rhs = np.einsum("bm,mi,m->bi", wg, V, y[idx])
        ok = np.linalg.matrix_rank(lhs) == 3
        c = np.full((w.shape[0], 3), np.nan)
        c[ok] = np.linalg.solve(lhs[ok], rhs[ok][..., None])[..., 0]
        scale = np.abs(y[idx]).max() * 1e-12
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.where(c[:, 2] > scale, -c[:, 1] / (2.0 * c[:, 2]), np.nan)
        out[:, j] = v + x[idx].mean()
    return out


def fit_isoflop(
    N,
    C,
    loss,
    *,
    flops_per_param_token: float = 6.0,
    bootstrap: int = 0,
    level: float = 0.95,
    seed: int = 0,
    rtol: float = 1e-6,
) -> ComputeOptimalFit:
    """Approach 2: IsoFLOP profiles, a parabola in log N at each compute budget.

    Args:
        N: (n,) model sizes.
        C: (n,) compute of each run; runs whose C agree to ``rtol`` share a profile.
        loss: (n,) final losses.
        flops_per_param_token: the 6 in D_opt = C / (6 N_opt) (> 0).
        bootstrap, level, seed: resample runs within each budget and refit (bootstrap in
            [0, 100000]; resamples leaving a budget with fewer than 3 distinct sizes are
            left out).
        rtol: relative tolerance on C that makes runs one budget, in [0, 0.1].

    Returns:
        :class:`ComputeOptimalFit`: vertices (C, N_opt, D_opt) and a, b. Budgets with
        fewer than 3 distinct model sizes are left out with a warning; a vertex outside
        its budget's sizes (an extrapolated minimum) is a warning.

    Raises:
        InputError: bad columns or options, a constant loss, fewer than 3 budgets with
            >= 3 distinct model sizes each, or a profile whose parabola opens downwards
            (no minimum inside the budget's data).
    """
    N, C, loss = positive_column(N, "N"), positive_column(C, "C"), positive_column(loss, "loss")
    n = same_length(N=N, C=C, loss=loss)
    bootstrap, level, seed, flops = _check_common(bootstrap, level, seed, flops_per_param_token)
    if (
        isinstance(rtol, bool)
        or not isinstance(rtol, (int, float, np.floating, np.integer))
        or not 0 <= rtol <= 0.1
    ):
        raise InputError(f"rtol must be a number in [0, 0.1], e.g. 1e-6; got {rtol!r}")
    if n < MIN_PROFILE_SIZES * MIN_BUDGETS:
        raise InputError(
            f"Approach 2 needs >= {MIN_BUDGETS} compute budgets with >= {MIN_PROFILE_SIZES} "
            f"distinct model sizes each (>= {MIN_PROFILE_SIZES * MIN_BUDGETS} runs); got "
            f"{n} runs"
        )
    check_loss_varies(loss)
    check_memory(
        8.0 * 10 * n + 24.0 * bootstrap * n,
        f"an IsoFLOP fit of {n} runs with {bootstrap} resamples",
        "use fewer resamples",
    )
    notes = _Notes()
    order = np.argsort(C)
    log_c = np.log(C)
    groups = np.zeros(n, dtype=np.int64)
    gid, prev = 0, None
    for i in order:  # budgets equal up to rtol share a group
        if prev is not None and abs(log_c[i] - log_c[prev]) > rtol:
            gid += 1
        groups[i], prev = gid, i
    size_labels = distinct_labels(N)[1]
    all_groups = np.unique(groups)
    labels = [
        g for g in all_groups if np.unique(size_labels[groups == g]).size >= MIN_PROFILE_SIZES
    ]
    if len(labels) < MIN_BUDGETS:
        raise InputError(
            f"Approach 2 needs >= {MIN_BUDGETS} compute budgets with >= {MIN_PROFILE_SIZES} "
            f"distinct model sizes each; got {len(labels)} of {all_groups.size} budgets; "
            "add budgets or model sizes (runs whose C agree to rtol share a budget)"
        )
    if len(labels) < all_groups.size:
        notes.warn(
            f"{all_groups.size - len(labels)} of {all_groups.size} compute budgets have fewer "
            f"than {MIN_PROFILE_SIZES} distinct model sizes and were left out"
        )
    dups = exact_duplicates(N, C, loss)
    if dups:
        notes.warn(
            f"{dups} of {n} rows repeat another row exactly (same N, C and loss): they weigh "
            "double in the parabolas and the bootstrap; drop them if they are copies"
        )
    x, y = np.log(N), loss
    ones = np.ones((1, n))
    vert = _vertices(x, y, groups, labels, ones)[0]
    budget_c = [float(np.exp(log_c[groups == g].mean())) for g in labels]
    if np.isnan(vert).any():
        bad = [f"{budget_c[j]:.4g}" for j in np.flatnonzero(np.isnan(vert))]
        raise InputError(
            "every IsoFLOP profile needs a minimum (a parabola in log N opening upwards); "
            f"got none at C = {', '.join(bad)} (the parabola opens downwards or is flat); "
            "add model sizes on both sides of the optimum"
        )
    for j, g in enumerate(labels):
        xs = x[groups == g]
        if not xs.min() <= vert[j] <= xs.max():
            notes.warn(
                f"the minimum of the IsoFLOP profile at C = {budget_c[j]:.4g} (N_opt = "
                f"{np.exp(vert[j]):.4g}) lies outside its model sizes [{np.exp(xs.min()):.4g}, "
                f"{np.exp(xs.max()):.4g}]: an extrapolation; add sizes beyond it"
            )
    if len(labels) == MIN_BUDGETS:
        notes.warn(
            f"only {MIN_BUDGETS} compute budgets: the exponent line rests on 3 points "
            "(fewer than 2 per parameter of log N_opt = a log C + c)"
        )
    compute = np.exp(np.array([log_c[groups == g].mean() for g in labels]))
    n_opt = np.exp(vert)
    samples = np.empty((0, 2))
    if bootstrap:
        w = resample_counts(n, bootstrap, seed, groups)
        ok = np.ones(bootstrap, dtype=bool)
        for g in labels:
            idx = groups == g
            ok &= present_counts(w[:, idx], size_labels[idx]) >= MIN_PROFILE_SIZES
        v = np.full((bootstrap, len(labels)), np.nan)
        v[ok] = _vertices(x, y, groups, labels, w[ok])  # (B, G)
        lc = np.log(compute)
        ld = lc[None] - np.log(flops) - v
        good = np.isfinite(v).all(axis=1)
        samples = np.full((bootstrap, 2), np.nan)
        ones_g = np.ones((good.sum(), len(labels)))
        samples[good, 0] = _loglog_slopes(lc, v[good], ones_g)
        samples[good, 1] = _loglog_slopes(lc, ld[good], ones_g)
        notes.dropped = int((~ok).sum())
        notes.why_dropped = (
            f"they leave a budget with fewer than {MIN_PROFILE_SIZES} distinct model sizes"
        )
        notes.why_nonfinite = "had a profile without a minimum (parabola opening downwards)"
    return _finish(compute, n_opt, flops, level, samples, notes)

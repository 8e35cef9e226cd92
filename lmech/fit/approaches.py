r"""Chinchilla's Approaches 1 and 2: compute-optimal N_opt(C) ~ C^a and D_opt(C) ~ C^b.

* Approach 1 (envelope of training curves): each run of size N contributes its loss curve
  along the tokens D it has seen, at compute C = 6 N D. On a log-spaced grid of C, the
  run with the lowest (log-linearly interpolated) loss gives N_opt(C); D_opt = C/(6 N_opt).
* Approach 2 (IsoFLOP profiles): at each compute budget, fit a parabola of loss in log N
  and take its vertex as log N_opt(C).

Both then fit log N_opt = a log C + c and log D_opt = b log C + c' by least squares.
Bootstrap intervals resample the envelope points (Approach 1) or the runs within each
budget (Approach 2), and refit everything.

References:
    Hoffmann et al. 2022 (arXiv 2203.15556), Sec. 3.1 (Approach 1), Sec. 3.2 (Approach 2),
    Table 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lmech.errors import InputError
from lmech.fit._checks import enough_points, positive_column, same_length
from lmech.fit.bootstrap import percentile_interval, resample_counts

__all__ = ["ComputeOptimalFit", "fit_envelope", "fit_isoflop"]


@dataclass(frozen=True)
class ComputeOptimalFit:
    """Frontier points and the exponents a (N_opt ~ C^a), b (D_opt ~ C^b) with intervals."""

    compute: np.ndarray
    n_opt: np.ndarray
    d_opt: np.ndarray
    estimate: dict[str, float]
    samples: np.ndarray = field(repr=False)
    level: float = 0.95

    def table(self) -> pd.DataFrame:
        if len(self.samples):
            lo, hi = percentile_interval(self.samples, self.level)
        else:
            lo = hi = np.full(len(self.estimate), np.nan)
        return pd.DataFrame(
            {
                "parameter": list(self.estimate),
                "estimate": list(self.estimate.values()),
                "ci_low": lo,
                "ci_high": hi,
            }
        )

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


def _finish(compute, n_opt, flops, bootstrap, level, seed, sample_fn) -> ComputeOptimalFit:
    d_opt = compute / (flops * n_opt)
    lc = np.log(compute)
    one = np.ones((1, len(compute)))
    a = float(_loglog_slopes(lc, np.log(n_opt), one)[0])
    b = float(_loglog_slopes(lc, np.log(d_opt), one)[0])
    samples = sample_fn() if bootstrap else np.empty((0, 2))
    return ComputeOptimalFit(compute, n_opt, d_opt, {"a": a, "b": b}, samples, level)


def _check_common(bootstrap, level):
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise InputError(f"bootstrap must be an integer >= 0; got {bootstrap!r}")
    if not 0.0 < level < 1.0:
        raise InputError(f"level must be in (0, 1); got {level!r}")


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
        num_compute: log-spaced compute values between the smallest and largest C that at
            least two runs reach.
        flops_per_param_token: the 6 in C = 6 N D.
        bootstrap, level, seed: case-resampling bootstrap of the envelope points.

    Returns:
        :class:`ComputeOptimalFit` with the envelope (C, N_opt, D_opt) and a, b.
    """
    N, D, loss = positive_column(N, "N"), positive_column(D, "D"), positive_column(loss, "loss")
    same_length(N=N, D=D, loss=loss)
    _check_common(bootstrap, level)
    sizes = np.unique(N)
    if sizes.size < 2:
        raise InputError(f"Approach 1 needs training curves of >= 2 model sizes; got {sizes.size}")
    log_c = np.log(flops_per_param_token * N * D)
    lo, hi = log_c.min(), log_c.max()
    grid = np.linspace(lo, hi, num_compute)
    curves = np.full((sizes.size, num_compute), np.inf)
    for j, size in enumerate(sizes):  # one interpolation per run (python loop over runs)
        sel = N == size
        order = np.argsort(log_c[sel])
        xc, yl = log_c[sel][order], np.log(loss[sel][order])
        if xc.size < 2:
            continue
        inside = (grid >= xc[0]) & (grid <= xc[-1])
        curves[j, inside] = np.interp(grid[inside], xc, yl)
    reached = np.isfinite(curves).sum(axis=0) >= 2  # the envelope needs a comparison
    if reached.sum() < 3:
        raise InputError(
            "Approach 1 needs >= 3 compute values reached by >= 2 runs; the training "
            f"curves overlap in compute at {int(reached.sum())} grid points"
        )
    best = curves[:, reached].argmin(axis=0)
    compute = np.exp(grid[reached])
    n_opt = sizes[best]

    def sample() -> np.ndarray:
        w = resample_counts(len(compute), bootstrap, seed)
        lc, d_opt = np.log(compute), compute / (flops_per_param_token * n_opt)
        return np.stack(
            [_loglog_slopes(lc, np.log(n_opt), w), _loglog_slopes(lc, np.log(d_opt), w)], 1
        )

    return _finish(compute, n_opt, flops_per_param_token, bootstrap, level, seed, sample)


def _vertices(x: np.ndarray, y: np.ndarray, groups: np.ndarray, labels, w: np.ndarray):
    """Vertex of the weighted LS parabola y ~ c0 + c1 x + c2 x^2 per group, per weight row.

    Returns (B, G) vertices -c1/(2 c2); NaN where the parabola opens downwards.
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
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.where(c[:, 2] > 0, -c[:, 1] / (2.0 * c[:, 2]), np.nan)
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
        flops_per_param_token: the 6 in D_opt = C / (6 N_opt).
        bootstrap, level, seed: resample runs within each budget and refit.

    Returns:
        :class:`ComputeOptimalFit`: vertices (C, N_opt, D_opt) and a, b.

    Raises:
        InputError: bad columns, fewer than 2 budgets with >= 3 sizes, or a profile whose
            parabola opens downwards (no minimum inside the budget's data).
    """
    N, C, loss = positive_column(N, "N"), positive_column(C, "C"), positive_column(loss, "loss")
    n = same_length(N=N, C=C, loss=loss)
    enough_points(n, 3, "an IsoFLOP parabola")
    _check_common(bootstrap, level)
    order = np.argsort(C)
    log_c = np.log(C)
    groups = np.zeros(n, dtype=np.int64)
    gid, prev = 0, None
    for i in order:  # budgets equal up to rtol share a group
        if prev is not None and abs(log_c[i] - log_c[prev]) > rtol:
            gid += 1
        groups[i], prev = gid, i
    labels = [g for g in np.unique(groups) if np.unique(N[groups == g]).size >= 3]
    if len(labels) < 2:
        raise InputError(
            "Approach 2 needs >= 2 compute budgets with >= 3 distinct model sizes each; "
            f"got {len(labels)}"
        )
    x, y = np.log(N), loss
    ones = np.ones((1, n))
    vert = _vertices(x, y, groups, labels, ones)[0]
    if np.isnan(vert).any():
        bad = [float(np.exp(log_c[groups == labels[j]][0])) for j in np.flatnonzero(np.isnan(vert))]
        raise InputError(
            f"IsoFLOP profile(s) at C = {bad} have no minimum (the parabola in log N opens "
            "downwards); add model sizes on both sides of the optimum"
        )
    compute = np.array([np.exp(log_c[groups == g].mean()) for g in labels])
    n_opt = np.exp(vert)

    def sample() -> np.ndarray:
        w = resample_counts(n, bootstrap, seed, groups)
        v = _vertices(x, y, groups, labels, w)  # (B, G)
        lc = np.log(compute)
        ld = lc[None] - np.log(flops_per_param_token) - v
        good = np.isfinite(v).all(axis=1)
        out = np.full((bootstrap, 2), np.nan)
        ones_g = np.ones((good.sum(), len(labels)))
        out[good, 0] = _loglog_slopes(lc, v[good], ones_g)
        out[good, 1] = _loglog_slopes(lc, ld[good], ones_g)
        return out

    return _finish(compute, n_opt, flops_per_param_token, bootstrap, level, seed, sample)

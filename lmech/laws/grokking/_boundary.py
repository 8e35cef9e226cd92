r"""Phase-boundary fits of the li2-boundary law: Firth-penalized logistic regressions.

A run either generalizes (y = 1) or memorizes (y = 0). Models of P(y = 1), each a
logistic regression fitted by penalized maximum likelihood:

- Li^2 (2 parameters): logit P = beta (ln(p / s_M) - ln c), s_M the theory's boundary
  shape ln M / M, so the 50% boundary is p* = c s_M;
- constant fraction (2 parameters, the null): logit P = beta (ln p - ln p*), p*
  independent of M;
- one over M (2 parameters, a second null): logit P = beta (ln(p M) - ln a), p* = a / M;
- power law (3 parameters, the alternative): logit P = b0 + b ln p + g ln M, so
  p* = a M^-k with k = g / b. Over M = 23..211, ln M / M behaves locally as M^-k with
  k = 1 - 1 / ln M from 0.68 to 0.81, so a power law can mimic it; the comparison asks
  whether the extra parameter buys likelihood;
- free boundary (K + 1 parameters): one p*_M per order M and a shared slope; it reads no
  theory, and the distance ln p*_M - ln(c s_M) is the shape misfit at M.

The phases are nearly deterministic away from the boundary, so the data are often
completely separated and the plain MLE of beta is infinite. Firth's penalty (Jeffreys
prior, Firth 1993; Heinze and Schemper 2002) keeps every estimate finite: maximize
l(theta) + 1/2 ln det I(theta), solved by Newton steps on the modified score
U*_j = sum_i (y_i - p_i + h_i (1/2 - p_i)) x_ij (h the hat-matrix diagonal) with step
halving on the penalized log-likelihood (BFGS where Newton stalls). Log-likelihoods
compared between models are the ordinary (unpenalized) ones at the penalized estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from lmech.errors import ConvergenceError, InputError
from lmech.seeding import rng

__all__ = [
    "Logit",
    "bootstrap_interval",
    "boundary_fit",
    "firth_logit",
    "free_boundaries",
    "phase_fits",
    "power_boundary",
]


@dataclass(frozen=True)
class Logit:
    """A fitted logistic regression: coefficients, log-likelihood and penalized one."""

    coef: np.ndarray
    loglik: float
    penalized: float


def _loglik(X: np.ndarray, y: np.ndarray, coef: np.ndarray) -> tuple[float, float]:
    """(l, l*): the log-likelihood and the Firth-penalized one, l + 1/2 ln det I."""
    eta = X @ coef
    ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))  # sum y ln p + (1 - y) ln(1 - p)
    p = expit(eta)
    info = X.T @ ((p * (1.0 - p))[:, None] * X)  # Fisher information X^T W X
    sign, logdet = np.linalg.slogdet(info)
    return ll, (ll + 0.5 * logdet if sign > 0 else -np.inf)


def _score(X: np.ndarray, y: np.ndarray, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(U*, I^-1): Firth's modified score (the gradient of l*) and the inverse information."""
    p = expit(X @ coef)
    w = p * (1.0 - p)
    inv = np.linalg.pinv(X.T @ (w[:, None] * X))
    h = w * np.einsum("ij,jk,ik->i", X, inv, X)  # diag of W^1/2 X I^-1 X^T W^1/2
    return X.T @ (y - p + h * (0.5 - p)), inv


def firth_logit(X, y, *, max_iter: int = 100, tol: float = 1e-14) -> Logit:
    """Firth-penalized logistic regression of y in {0, 1} on the design X (n, k).

    Newton steps I^-1 U* with step halving on l*; where they stall (a nearly collinear
    design, all outcomes equal) BFGS on -l* with the exact gradient -U* finishes.
    Converged when the Newton decrement U*^T I^-1 U* (twice the gain in l* a further
    Newton step promises) is below ``tol`` nats.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],) or not np.isin(y, (0.0, 1.0)).all():
        raise InputError(f"need X (n, k) and y (n,) in {{0, 1}}; got {X.shape}, {y.shape}")

    def decrement(c):
        U, inv = _score(X, y, c)
        return float(U @ inv @ U), inv @ U

    coef = np.zeros(X.shape[1])
    current = _loglik(X, y, coef)[1]
    for _ in range(max_iter):
        dec, step = decrement(coef)
        if dec < tol:
            return Logit(coef, *_loglik(X, y, coef))
        for _ in range(30):  # halve until the penalized log-likelihood does not drop
            new = _loglik(X, y, coef + step)[1]
            if new >= current - 1e-12:
                break
            step = step / 2.0
        else:
            break  # Newton stalled: BFGS below
        coef, current = coef + step, new
    res = minimize(lambda c: -_loglik(X, y, c)[1], coef, jac=lambda c: -_score(X, y, c)[0],
                   method="BFGS", options={"gtol": 1e-10, "maxiter": 2000})  # fmt: skip
    dec = decrement(res.x)[0]
    # BFGS stops on its gradient norm; a Newton decrement below 1e-6 nats (a further
    # Newton step would gain < 5e-7 in l*) is converged for every use here: the fits
    # compare log-likelihoods to 0.01 nats and read 50% points to 1e-4
    if dec < max(1e4 * tol, 1e-6):
        return Logit(res.x, *_loglik(X, y, res.x))
    raise ConvergenceError(
        f"Firth logistic regression did not converge (Newton decrement {dec:.1e} nats); "
        "check the design for duplicated or constant columns"
    )


def _p50(intercept, slope):
    """The 50% point exp(-intercept / slope) of logit = intercept + slope ln x; NaN if slope <= 0."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return np.where(np.asarray(slope) > 0, np.exp(-np.asarray(intercept) / slope), np.nan)


def boundary_fit(x, y) -> tuple[float, float, Logit]:
    """(x*, share classified, fit) of logit P = a + b ln x; x* is the 50% point."""
    x = np.asarray(x, dtype=np.float64)
    fit = firth_logit(np.column_stack([np.ones(x.size), np.log(x)]), y)
    x50 = float(_p50(*fit.coef))
    share = float(np.mean((x >= x50) == np.asarray(y, bool))) if np.isfinite(x50) else np.nan
    return x50, share, fit


def free_boundaries(x, y, groups) -> tuple[np.ndarray, np.ndarray, Logit]:
    """(group labels, 50% point per group, fit) of logit P = a_g + b ln x (shared slope)."""
    labels, index = np.unique(np.asarray(groups), return_inverse=True)
    onehot = (index[:, None] == np.arange(labels.size)).astype(np.float64)
    fit = firth_logit(np.column_stack([onehot, np.log(np.asarray(x, dtype=np.float64))]), y)
    return labels, _p50(fit.coef[:-1], fit.coef[-1]), fit


def bootstrap_interval(
    x, y, strata, gen: np.random.Generator, reps: int, level: float = 0.95, statistic=None
):
    """Percentile interval of the 50% point of :func:`boundary_fit` (or of
    ``statistic(indices)``) over ``reps`` resamples of the runs with replacement within
    each stratum (each group order keeps its number of runs, as in the design).
    Nearest-rank percentiles, so a resample whose boundary lies beyond the data (an
    infinite 50% point) can only widen the interval; (NaN, NaN) when some resample has no
    rising boundary (or only one outcome) at all."""
    x, y, strata = np.asarray(x), np.asarray(y), np.asarray(strata)
    members = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    if statistic is None:
        statistic = lambda i: boundary_fit(x[i], y[i])[0]  # noqa: E731
    draws = np.empty(reps)
    for r in range(reps):
        i = np.concatenate([gen.choice(m, m.size) for m in members])
        if y[i].all() or not y[i].any():  # no boundary inside this resample
            return float("nan"), float("nan")
        draws[r] = statistic(i)
    if np.isnan(draws).any():
        return float("nan"), float("nan")
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return float(lo), float(hi)


def phase_fits(pred: pd.DataFrame, meas: pd.DataFrame, reps: int) -> dict:
    """The three models on the runs ``meas`` (columns M, fraction, generalized), the Li^2
    regressor p / s_M with the shape s_M read from ``pred`` (columns M, ln_M_over_M)."""
    shape = pred.set_index("M")["ln_M_over_M"]
    missing = sorted(set(meas["M"]) - set(shape.index))
    if missing:
        raise InputError(f"the theory table has no ln_M_over_M for orders {missing}")
    p, y, M = meas["fraction"].to_numpy(), meas["generalized"].to_numpy(bool), meas["M"].to_numpy()
    x = p / shape.loc[M].to_numpy()  # = c' for a run on the grid
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # no boundary: NaN
        c, share, li2 = boundary_fit(x, y)
        p_const, share_const, null = boundary_fit(p, y)
        orders, p_free, _ = free_boundaries(p, y, M)
        c_free = p_free / shape.loc[orders].to_numpy()
        misfit = np.log(c_free / c)
        lo, hi = bootstrap_interval(x, y, M, rng(0, "li2-boundary", "bootstrap"), reps)
        a_inv, _, inv_m = boundary_fit(p * M, y)  # p* = a / M
        k, a_pow, power = power_boundary(p, y, M)
        k_lo, k_hi = bootstrap_interval(
            x, y, M, rng(0, "li2-boundary", "bootstrap-k"), reps,
            statistic=lambda i: _or_nan(lambda: power_boundary(p[i], y[i], M[i])[0]),
        )  # fmt: skip
    return {
        "c": c, "c_lo": lo, "c_hi": hi, "share": share, "loglik": (li2.loglik, null.loglik),
        "lr": li2.loglik - null.loglik, "p_const": p_const, "share_const": share_const,
        "orders": orders, "c_free": c_free, "misfit": misfit,
        "a_inv_M": a_inv, "lr_vs_inv_M": li2.loglik - inv_m.loglik,
        "k": k, "k_lo": k_lo, "k_hi": k_hi, "a_power": a_pow, "power_gain": power.loglik - li2.loglik,
    }  # fmt: skip


def _or_nan(f) -> float:
    """f(), or NaN where its fit does not converge (the interval then reads NaN)."""
    try:
        return f()
    except ConvergenceError:
        return float("nan")


def power_boundary(p, y, M) -> tuple[float, float, Logit]:
    """(k, a, fit) of the power-law boundary p* = a M^-k (3 parameters): logit P =
    b0 + b ln p + g ln M, so the 50% surface is ln p* = -(b0 + g ln M) / b, k = g / b."""
    p, M = np.asarray(p, dtype=np.float64), np.asarray(M, dtype=np.float64)
    fit = firth_logit(np.column_stack([np.ones(p.size), np.log(p), np.log(M)]), y)
    b0, b, g = fit.coef
    if not b > 0:
        return float("nan"), float("nan"), fit
    return float(g / b), float(np.exp(-b0 / b)), fit

"""Shared pieces of the icl laws: finite-d sweeps of ridge-pretrained Gamma, 1/d fits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lmech import progress
from lmech.errors import ConfigError
from lmech.experiment.icl import pretrained_gamma
from lmech.theory.icl import gamma_error

SIM_COLUMNS = (
    "point",
    "alpha",
    "kappa",
    "tau",
    "rho",
    "ridge",
    "d",
    "draw",
    "icl_error",
    "idg_error",
)


def kappa_value(k: float) -> float:
    """Spec convention: kappa = 0 stands for infinity (a fresh task in every context)."""
    return math.inf if k == 0 else float(k)


def gamma_fit_bytes(d: int, alpha: float, tau: float) -> int:
    """Peak bytes of one ridge fit of Gamma (an estimate that errs high).

    Primal (n >= d(d+1)): the D x D Gram, its shifted copy and Cholesky factor; dual: the
    n x D features and three n x n matrices; plus one chunk of 2000 token sequences.
    """
    D = d * (d + 1)
    n = max(1, round(tau * d * d))
    ell = max(1, round(alpha * d))
    solve = 3 * D * D if n >= D else n * D + 3 * n * n
    return 2 * 8 * (solve + 3 * 2000 * (ell + 1) * (d + 1))


def check_parallel(**fields) -> None:
    lengths = {name: len(v) for name, v in fields.items()}
    if len(set(lengths.values())) != 1:
        raise ConfigError(f"these fields need one entry each per point; got lengths {lengths}")


def simulate(points, dims, draws, ridges, seed, device, label="icl") -> pd.DataFrame:
    """Exact finite-d ICL and IDG errors of ridge-pretrained Gamma, per (point, d, draw, ridge).

    ``points`` are (alpha, kappa, tau, rho) with kappa = inf allowed; the IDG error of a
    kappa = inf point is its ICL error (every test task is fresh either way).
    """
    rows = []
    total = len(points) * sum(draws)
    with progress.task(label, total) as advance:
        for p, (a, k, t, r) in enumerate(points):
            for d, nd in zip(dims, draws, strict=True):
                for s in range(nd):
                    gammas, pool = pretrained_gamma(
                        d, a, k, t, r, list(ridges), seed, "point", p, "draw", s, device=device
                    )
                    if pool is not None:
                        P = pool.numpy()
                        mu, R = P.mean(0), P.T @ P / len(P)
                    for lam, g in zip(ridges, gammas, strict=True):
                        icl = gamma_error(g, a, r)
                        idg = (
                            icl
                            if pool is None
                            else gamma_error(g, a, r, task_mean=mu, task_second_moment=R)
                        )
                        rows.append(
                            {
                                "point": p,
                                "alpha": a,
                                "kappa": k,
                                "tau": t,
                                "rho": r,
                                "ridge": float(lam),
                                "d": d,
                                "draw": s,
                                "icl_error": icl,
                                "idg_error": idg,
                            }
                        )
                    advance(1)
    return pd.DataFrame(rows, columns=list(SIM_COLUMNS))


def extrapolate(values: pd.DataFrame, column: str) -> tuple[float, float]:
    """Weighted least-squares fit e(d) = e_inf + c/d; returns (e_inf, its standard error).

    Weights are 1/SE^2 of each d's draw mean; each SE is floored at 0.5% of the mean so a
    lucky small spread at one d cannot take all the weight.
    """
    g = values.groupby("d")[column]
    d = np.array(sorted(values["d"].unique()), dtype=float)
    mean = g.mean().loc[d].to_numpy()
    n = g.count().loc[d].to_numpy()
    sd = g.std(ddof=1).fillna(0).loc[d].to_numpy()
    se = np.maximum(sd / np.sqrt(n), 0.005 * np.abs(mean))
    if len(d) == 1:
        return float(mean[0]), float(se[0])
    X = np.c_[np.ones_like(d), 1 / d]
    W = 1 / se**2
    cov = np.linalg.inv(X.T @ (X * W[:, None]))
    coef = cov @ (X.T @ (W * mean))
    return float(coef[0]), float(math.sqrt(cov[0, 0]))

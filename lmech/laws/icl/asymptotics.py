r"""icl-linear-attention-asymptotics: ICL and IDG errors of ridge-pretrained linear attention.

Claim:
    The test error of the reduced linear-attention model :math:`\hat y = x_q^\top\Gamma h`
    pretrained by (nearly) ridgeless regression on :math:`n = \tau d^2` contexts of
    length :math:`\ell = \alpha d` drawn from :math:`k = \kappa d` tasks converges as
    d -> infinity to Result 1 of Lu et al.: with :math:`x^* = (1+\rho)/\alpha`,
    :math:`m^* = M_\kappa(x^*)` (the Marchenko-Pastur resolvent),

    .. math:: e_{IDG}(\tau > 1) = \frac{\tau(\rho + x^*(1 - x^*m^*))}{\tau - 1},

    and the closed forms of :func:`lmech.theory.icl.icl_error` /
    :func:`lmech.theory.icl.idg_error` for the ICL error and for tau < 1. The finite-d
    errors at d = 16, 24, 32, 48, extrapolated as :math:`e(d) = e_\infty + c/d`, match
    the formula within 5% at every point, away from tau = 1 and kappa = 1.

System:
    x ~ N(0, I_d/d), tasks uniform on the sphere |w|^2 = d, y = w.x + N(0, rho); the pool
    of k tasks is used in equal shares (kappa = 0 in the spec means infinity: a fresh task
    per context); ridge lambda = 1e-6 with penalty (n/d) lambda ||Gamma||_F^2.

Measurement:
    For each point and each d in ``dims``, ``draws`` independent pools and pretraining
    sets (:func:`lmech.experiment.icl.pretrained_errors`). The contexts enter Gamma only
    through (x_q, h, y_q), drawn exactly in O(ell + d) per context; the ridge solve is a
    Hadamard-product dual Gram for n < d(d+1) and Kronecker-preconditioned conjugate
    gradients otherwise (about 75 iterations of O(n d^2)), batched over draws: 0.16 CPU-s
    per draw at d = 48, tau = 2, against 1.8 s for tokens and a D x D Gram (11x). The ICL error
    (fresh task) and the IDG error (task from the draw's pool) of each Gamma are exact
    (:func:`lmech.theory.icl.gamma_error`), so the only noise is the pretraining set.
    The fit (:func:`inverse_d_fit`) weights each d's mean by n_d d^2 (the draw-to-draw
    spread falls like 1/d: measured exponents -1.05 to -1.28 at d = 16-64) and pools the
    spread over all d for the intercept's standard error. The draws (80, 8, 8, 14) put
    most of the budget at the two ends of the 1/d range, which is where a straight-line
    fit's intercept is best determined: at the measured CPU per draw this lowers the
    intercept's variance 1.7x against spending the same CPU evenly over the four d.

Known limits:
    Finite-d bias is positive and O(1/d): +15-25% at d = 16, +4-8% at d = 48. The excess
    times d (seed 100; 200, 160, 100, 60, 30 draws at d = 16, 24, 32, 48, 64) is 3.0
    (ICL, (2, 2, 2, 0.1)), 2.3 (IDG, same point), 1.7 (ICL, (2, inf, 0.5, 0.1)), 1.5
    (ICL, (1, inf, 0.3, 0.01)) and 1.3 (IDG, (2, 0.5, 2, 0.1)). The a + c/d fit over
    d = 16-64 of those draws lands -0.65 +- 0.49%, -0.11 +- 0.40%, -0.30 +- 0.37%,
    -0.01 +- 0.31% and -1.07 +- 0.56% from the theory; a 1/d^2 term is not resolved
    (a + b/d + c/d^2 fits: +0.9 +- 1.2%, +0.8 +- 1.0%, -1.0 +- 0.9%, +0.6 +- 0.8%,
    +2.6 +- 1.6%). With the c/d^2 coefficient fitted to those draws (theory held at its
    value) the quick design's straight-line fit is biased by -1.0%, -0.3%, -0.2%, -0.2%
    and -1.4% at the five points; the mean deviations over quick seeds 0-4 are -0.7%,
    -0.5%, -0.4%, -1.3% and -1.2% (seed-to-seed SD 1.9%, 1.4%, 1.8%, 0.5%, 0.7%), so the
    model misses the bias at (1, inf, 0.3, 0.01): -1.3 +- 0.2% against -0.2%. Hence
    5% = 2 standard errors (1.0-1.7% at quick) plus at most 1.4% of bias. Quick at
    seeds 0-4: worst ICL error 3.05%, 1.12%, 1.82%, 1.19%, 2.88%; worst IDG error 1.34%,
    1.07%, 1.33%, 1.98%, 2.26%; 8-11 CPU-s. The paper preset (d up to 64, 62-76 CPU-s)
    at seeds 0-4: worst ICL 1.86%, 0.88%, 1.08%, 0.75%, 2.28%, worst IDG 1.59%, 1.05%,
    1.47%, 1.24%, 1.88%, intercept SE 0.3-0.6%. Two variance reductions were measured
    and not used: removing the query-label noise exactly (Gamma is linear in y_q and the
    error quadratic in Gamma) cuts the draw variance 1.5-1.7x at rho = 0.1 (1.06x at
    rho = 0.01; d = 12), but needs a second solve per draw, 1.7x the CPU of a CG draw at
    d = 48, where 73% of the intercept's variance comes from; linear control variates
    with exact means (sample moments of x_q, h, y_q and the pool's tr R^2) explain
    17-56% of the draw variance at d = 16, but their coefficients cannot be fitted from
    8-14 draws at d = 24-48. Points at kappa < 1
    are used for the IDG error only: the ICL error there converges far more slowly
    (excess times d is 6.6, 6.1, 5.8, 5.8 at d = 16, 24, 32, 48 for (2, 0.5, 2, 0.1)
    against 1.338, still falling), because the directions outside the span of the pool
    are fitted on noise. Near tau = 1 the error diverges and near kappa = 1 convergence
    is slow (a critical point), so neither is on the grid. The null checked against is
    the kappa, tau -> infinity limit (the optimally shrunk one-step estimator,
    rho + x*/(1 + x*)), which the finite-tau, finite-kappa errors must be far from.

Source:
    Lu, Letey, Zavatone-Veth, Maiti, Pehlevan, "Asymptotic theory of in-context learning
    by linear attention", PNAS 122(28) e2502599122 (2025), arXiv 2405.11751, Result 1
    and Fig. 1-2.

Run:
    ``lmech check icl-linear-attention-asymptotics`` (quick: 8-11 s of CPU on one core).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech import progress
from lmech.errors import ConfigError, InputError
from lmech.experiment.icl import pretrained_errors
from lmech.figures import icl as icl_figures
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.icl import _common
from lmech.laws.spec import LawSpec, param
from lmech.theory.icl import icl_error, idg_error


@dataclass(frozen=True)
class Spec(LawSpec):
    """Grid of (alpha, kappa, tau, rho) points, one error kind per point, and the d sweep."""

    alphas: tuple[float, ...] = param((2.0, 2.0, 1.0, 2.0, 2.0), gt=0, min_len=1)
    kappas: tuple[float, ...] = param(
        (2.0, 0.0, 0.0, 2.0, 0.5), ge=0, min_len=1, doc="kappa per point; 0 means infinity"
    )
    taus: tuple[float, ...] = param((2.0, 0.5, 0.3, 2.0, 2.0), gt=0, min_len=1)
    rhos: tuple[float, ...] = param((0.1, 0.1, 0.01, 0.1, 0.1), ge=0, min_len=1)
    kinds: tuple[str, ...] = param(
        ("icl", "icl", "icl", "idg", "idg"),
        choices=("icl", "idg"),
        min_len=1,
        doc="which error each point tests",
    )
    dims: tuple[int, ...] = param((16, 24, 32, 48), ge=2, min_len=2, distinct=True, increasing=True)
    draws: tuple[int, ...] = param(
        (80, 8, 8, 14),
        ge=1,
        doc="pretraining draws per d (the allocation that minimizes the intercept's SE)",
    )
    ridge: float = param(1e-6, gt=0, doc="lambda (nearly ridgeless)")

    def validate(self) -> None:
        _common.check_parallel(
            alphas=self.alphas,
            kappas=self.kappas,
            taus=self.taus,
            rhos=self.rhos,
            kinds=self.kinds,
        )
        _common.check_parallel(dims=self.dims, draws=self.draws)
        if max(self.draws) < 2:
            raise ConfigError(
                f"draws needs at least one d with >= 2 draws to estimate the spread; "
                f"got {self.draws}"
            )
        for t in self.taus:
            if abs(t - 1) < 0.2:
                raise ConfigError(
                    f"taus must stay away from the interpolation peak |tau - 1| >= 0.2; got {t}"
                )

    def memory_bytes(self) -> int:
        # per batched solve: the context statistics (~4e6 float64 by construction of the
        # batch, with the sampler's ell-long temporaries), the dual Grams (3 n^2 per draw)
        # or, for D <= 300, the primal Grams (3 D^2 per draw, up to 16 draws); 64 MiB for
        # the interpreter and torch
        worst = 0
        for d in self.dims:
            D = d * (d + 1)
            for a, t in zip(self.alphas, self.taus, strict=True):
                n = max(1, round(t * d * d))
                ell = max(1, round(a * d))
                stats = 16 * (n * (2 * ell + 3 * d + 4) + n * (d + 1) * 4)
                solve = 3 * n * n if n < D else (16 * 3 * D * D if D <= 300 else 12 * D)
                worst = max(worst, 2 * (stats + 8 * solve))
        return 2**26 + worst

    def points(self):
        """(alpha, kappa, tau, rho) per tested point (kappa = inf for 0)."""
        return [
            (a, _common.kappa_value(k), t, r)
            for a, k, t, r in zip(self.alphas, self.kappas, self.taus, self.rhos, strict=True)
        ]

    def systems(self):
        """The distinct (alpha, kappa, tau, rho): one simulation serves its ICL and IDG."""
        return list(dict.fromkeys(self.points()))


PRESETS = {
    "smoke": Spec(
        alphas=(2.0, 2.0),
        kappas=(2.0, 0.0),
        taus=(2.0, 0.5),
        rhos=(0.1, 0.1),
        kinds=("idg", "icl"),
        dims=(8, 12),
        draws=(3, 2),
    ),
    "quick": Spec(),
    "paper": Spec(dims=(16, 24, 32, 48, 64), draws=(400, 40, 40, 40, 20)),
}

COLUMNS = ("point", "alpha", "kappa", "tau", "rho", "kind", "error", "null_error")
TOLERANCE = 0.05


def theory(spec: Spec) -> pd.DataFrame:
    rows = []
    systems = spec.systems()
    for (a, k, t, r), kind in zip(spec.points(), spec.kinds, strict=True):
        p = systems.index((a, k, t, r))
        e = icl_error(a, k, t, r) if kind == "icl" else idg_error(a, k, t, r)
        x = (1 + r) / a
        rows.append(
            {
                "point": p,
                "alpha": a,
                "kappa": k,
                "tau": t,
                "rho": r,
                "kind": kind,
                "error": float(e),
                "null_error": r + x / (1 + x),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    rows = []
    systems = spec.systems()
    with progress.task("icl asymptotics", len(systems) * len(spec.dims)) as advance:
        for p, (a, k, t, r) in enumerate(systems):
            for d, nd in zip(spec.dims, spec.draws, strict=True):
                icl, idg = pretrained_errors(
                    d, a, k, t, r, spec.ridge, seed, nd, "point", p, device=device
                )
                for s in range(nd):
                    rows.append(
                        {
                            "point": p,
                            "alpha": a,
                            "kappa": k,
                            "tau": t,
                            "rho": r,
                            "ridge": spec.ridge,
                            "d": d,
                            "draw": s,
                            "icl_error": float(icl[s]),
                            "idg_error": float(idg[s]),
                        }
                    )
                advance(1)
    return pd.DataFrame(rows, columns=list(_common.SIM_COLUMNS))


def inverse_d_fit(d, values) -> tuple[float, float, float]:
    r"""Weighted least squares :math:`e(d) = e_\infty + c/d` over draws; (e_inf, SE, c).

    ``d`` and ``values`` are per draw. The draw-to-draw spread of the exact error shrinks
    like 1/d (measured exponents -1.05 to -1.28 at d = 16-64), so each d's mean gets the
    weight :math:`n_d d^2` and the spread is pooled over all d as
    :math:`\hat\sigma^2 = \sum_i d_i^2(e_i - \bar e_{d_i})^2 / \sum_d (n_d - 1)`. The
    intercept is a fixed linear combination :math:`\sum_d L_d\bar e_d` of the means; its
    standard error is :math:`\hat\sigma(\sum_d L_d^2/(n_d d^2))^{1/2}`.
    """
    d = np.asarray(d, dtype=float)
    e = np.asarray(values, dtype=float)
    ds = np.unique(d)
    if len(ds) < 2:
        raise InputError(f"a 1/d fit needs at least two distinct d; got {ds.tolist()}")
    n = np.array([(d == x).sum() for x in ds], dtype=float)
    mean = np.array([e[d == x].mean() for x in ds])
    dof = float((n - 1).sum())
    if dof < 1:
        raise InputError("a 1/d fit needs at least one d with two or more draws")
    sigma2 = sum(((x * (e[d == x] - m)) ** 2).sum() for x, m in zip(ds, mean, strict=True)) / dof
    X = np.c_[np.ones_like(ds), 1 / ds]
    w = n * ds**2
    L = np.linalg.solve(X.T @ (X * w[:, None]), (X * w[:, None]).T)  # (2, len(ds))
    coef = L @ mean
    se = math.sqrt(sigma2 * float((L[0] ** 2 / w).sum()))
    return float(coef[0]), se, float(coef[1])


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    rel = {"icl": [], "idg": []}
    null_gap, parts = [], []
    worst = {"icl": (0.0, ""), "idg": (0.0, "")}
    for _, row in pred.iterrows():
        sub = meas[meas["point"] == row["point"]]
        kind = row["kind"]
        e_inf, se, slope = inverse_d_fit(sub["d"], sub[f"{kind}_error"])
        r = abs(e_inf - row["error"]) / row["error"]
        rel[kind].append(r)
        if r >= worst[kind][0]:
            worst[kind] = (r, f"point {int(row['point'])}")
        null_gap.append(abs(e_inf - row["null_error"]) / e_inf)
        parts.append(
            f"p{int(row['point'])} {kind} {e_inf:.4f}+-{se:.4f} (c = {slope:.2f}) vs "
            f"{row['error']:.4f} ({(e_inf - row['error']) / row['error']:+.2%})"
        )
    values = {f"max_rel_err_{k}": float(max(v)) for k, v in rel.items() if v}
    values["min_rel_gap_to_null"] = float(min(null_gap))
    head = "; ".join(f"worst {k}: {w[1]}" for k, w in worst.items() if rel[k])
    return Evaluation(values, detail=head + "; " + "; ".join(parts))


_WHY = (
    "{kind}: 2 standard errors of the 1/d-extrapolated intercept (measured {se} of the "
    "theory at quick, seeds 0-4, pooled draw spread) plus the straight-line fit's "
    "curvature bias (mean deviation over seeds 0-4: {bias}; a c/d^2 term fitted to "
    "30-200 draws per d at d = 16-64 predicts {model})"
)

LAW = Law(
    name="icl-linear-attention-asymptotics",
    claim="finite-d ICL/IDG errors of ridge-pretrained linear attention, extrapolated in 1/d, "
    "= Result 1 of Lu et al. within 5%",
    source="Lu et al. 2025, Asymptotic theory of in-context learning by linear attention "
    "(arXiv 2405.11751), Result 1",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=icl_figures.asymptotics_figure,
    criterion=Criterion(
        Check(
            "max_rel_err_icl",
            "<=",
            TOLERANCE,
            why=_WHY.format(
                kind="worst of 3 ICL points",
                se="1.0-1.7%",
                bias="-0.7%, -0.4%, -1.3%, SE 0.9%, 0.8%, 0.2%",
                model="-1.0%, -0.2%, -0.2%",
            ),
        ),
        Check(
            "max_rel_err_idg",
            "<=",
            TOLERANCE,
            why=_WHY.format(
                kind="worst of 2 IDG points",
                se="1.1-1.4%",
                bias="-0.5%, -1.2%, SE 0.6%, 0.3%",
                model="-0.3%, -1.4%",
            ),
        ),
        Check(
            "min_rel_gap_to_null",
            ">=",
            0.1,
            why="the kappa, tau -> inf one-step limit rho + x/(1+x) sits 10-60% from the "
            "theory at these points, twice the 5% tolerance",
        ),
    ),
    # 10% off is twice the 5% tolerance at every point
    prediction=Prediction("error", relative=0.1),
    theory_columns=COLUMNS,
    experiment_columns=_common.SIM_COLUMNS,
    tags=("icl", "linear-attention", "random-matrix", "synthetic"),
    doc=__doc__ or "",
)

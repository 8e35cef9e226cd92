r"""icl-task-diversity-transition: g_task = e_ICL - e_IDG falls with kappa, kinked at kappa = 1.

Claim:
    For ridgeless-pretrained linear attention the task-generalization gap
    :math:`g_{task}(\kappa) = e_{ICL} - e_{IDG}` (Lu et al., Result 1; Fig. 4) falls with
    the task diversity :math:`\kappa = k/d`, steeply below kappa = 1 (as alpha, tau ->
    infinity it is :math:`1 - \kappa` there: memorization of a k-dimensional span) and
    slowly above it (in-context generalization). The dMMSE estimator (the Bayes posterior
    mean over the pool, optimal in distribution) never generalizes: its gap stays O(1).
    Checks: the 1/d-extrapolated gap matches the theory within 3 standard errors at
    every kappa >= 1; the measured gap never rises with kappa by more than 0.01; its mean slope
    below kappa = 1 is at least 3 times its slope between 1 and 2 (theory 5.0); the
    dMMSE gap stays >= 0.3 at every kappa.

System:
    alpha = tau = 6, rho = 0.01, sphere tasks, lambda = 1e-6; kappa on a grid through 1.

Measurement:
    Exact ICL and IDG errors of each pretrained Gamma (IDG: the pool's mean and second
    moment) at d in ``dims``, 1/d fits of the gap; dMMSE errors by Monte Carlo over
    ``dmmse_contexts`` test contexts with the pool of the first draw at the largest d
    (error exact over the query).

Known limits:
    At alpha = tau = 6 the kink is smoothed over kappa = 0.75-1.5 (finite alpha, tau);
    the sharp kink is an alpha, tau -> infinity statement (tested in
    ``tests/theory/test_icl.py`` from the formula). Finite-d gaps are 20-60% above the
    theory at kappa = 0.25 (d = 12-24) and the 1/d extrapolation over d = 12-20 missed by
    0.07-0.18 at kappa <= 0.5 (seeds 0-2), as the ICL error converges slowly below
    kappa = 1; so values are compared at kappa >= 1 only, and the steep side enters
    through the slope ratio. A trained
    full linear-attention layer is checked against the reduced model in
    ``icl-full-attention-training`` (finite d, tau -> infinity), not here.

Source:
    Lu, Letey, Zavatone-Veth, Maiti, Pehlevan, PNAS 2025 (arXiv 2405.11751), Result 1 and
    Fig. 4 (memorization to in-context learning); dMMSE after Raventos et al. (2023).

Run:
    ``lmech check icl-task-diversity-transition`` (quick: about 9 s of CPU on one core).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech.experiment.icl import dmmse_chunk, dmmse_errors, pretrained_gamma
from lmech.figures import icl as icl_figures
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.icl import _common
from lmech.laws.spec import LawSpec, param
from lmech.seeding import torch_generator
from lmech.theory.icl import icl_curve


@dataclass(frozen=True)
class Spec(LawSpec):
    """A kappa grid through 1 at fixed alpha = tau, and the d sweep."""

    alpha: float = param(6.0, gt=0)
    tau: float = param(6.0, gt=1, doc="tau > 1 (away from the interpolation peak)")
    rho: float = param(0.01, gt=0, doc="label noise (dMMSE needs rho > 0)")
    kappas: tuple[float, ...] = param(
        (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0), gt=0, min_len=4, distinct=True, increasing=True
    )
    dims: tuple[int, ...] = param((12, 16, 20), ge=2, min_len=2, distinct=True, increasing=True)
    draws: tuple[int, ...] = param((8, 4, 2), ge=1)
    dmmse_contexts: int = param(400, ge=10, doc="Monte-Carlo test contexts per kappa")
    ridge: float = param(1e-6, gt=0)

    def validate(self) -> None:
        _common.check_parallel(dims=self.dims, draws=self.draws)
        if not (min(self.kappas) < 1 < max(self.kappas)) or 1.0 not in self.kappas:
            raise _common.ConfigError(
                f"kappas must contain 1 and values on both sides; got {self.kappas}"
            )

    def memory_bytes(self) -> int:
        fit = max(_common.gamma_fit_bytes(d, self.alpha, self.tau) for d in self.dims)
        d = max(self.dims)
        # dMMSE: a chunk of contexts x ell tokens x k pool predictions, 4 live copies
        k = max(1, round(max(self.kappas) * d))
        ell = max(1, round(self.alpha * d))
        dmmse = 4 * 8 * dmmse_chunk(ell, k) * ell * (k + d)
        return max(fit, dmmse)


PRESETS = {
    "smoke": Spec(kappas=(0.5, 1.0, 1.5, 2.0), dims=(8, 10), draws=(1, 1), dmmse_contexts=20),
    "quick": Spec(),
    "paper": Spec(
        alpha=10.0,
        tau=10.0,
        kappas=(0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.6, 2.0, 4.0, 8.0, 16.0, 32.0),
        dims=(16, 24, 32, 48),
        draws=(40, 20, 10, 4),
        dmmse_contexts=1000,
    ),
}

COLUMNS = ("alpha", "kappa", "tau", "rho", "icl_error", "idg_error", "task_gap", "compared")
EXP_COLUMNS = (*_common.SIM_COLUMNS, "model")


def theory(spec: Spec) -> pd.DataFrame:
    t = icl_curve(spec.alpha, np.array(spec.kappas), spec.tau, spec.rho)
    t["compared"] = t["kappa"] >= 1  # below 1 the finite-d gap converges too slowly
    return t[list(COLUMNS)].reset_index(drop=True)


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    points = [(spec.alpha, k, spec.tau, spec.rho) for k in spec.kappas]
    sim = _common.simulate(
        points, spec.dims, spec.draws, (spec.ridge,), seed, device, "icl kappa sweep"
    )
    sim["model"] = "linear_attention"
    d = max(spec.dims)
    rows = []
    for p, k in enumerate(spec.kappas):
        _, pool = pretrained_gamma(
            d,
            spec.alpha,
            k,
            spec.tau,
            spec.rho,
            spec.ridge,
            seed,
            "point",
            p,
            "draw",
            0,
            device=device,
        )
        gen = torch_generator(seed, "dmmse", p)
        icl, idg, _, _ = dmmse_errors(
            pool, round(spec.alpha * d), spec.rho, spec.dmmse_contexts, gen, device=device
        )
        rows.append(
            {
                "point": p,
                "alpha": spec.alpha,
                "kappa": k,
                "tau": spec.tau,
                "rho": spec.rho,
                "ridge": 0.0,
                "d": d,
                "draw": 0,
                "icl_error": icl,
                "idg_error": idg,
                "model": "dmmse",
            }
        )
    return pd.concat([sim, pd.DataFrame(rows)], ignore_index=True)[list(EXP_COLUMNS)]


def _slope_ratio(kappa, gap):
    kappa, gap = np.asarray(kappa), np.asarray(gap)
    left = kappa <= 1
    mid = (kappa >= 1) & (kappa <= 2)
    s_left = -np.polyfit(kappa[left], gap[left], 1)[0]
    s_mid = -np.polyfit(kappa[mid], gap[mid], 1)[0]
    return s_left / max(s_mid, 1e-3)


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    la = meas[meas["model"] == "linear_attention"].assign(
        gap=lambda t: t["icl_error"] - t["idg_error"]
    )
    errs, zs = [], []
    for p, row in pred.reset_index(drop=True).iterrows():
        g_inf, se = _common.extrapolate(la[la["point"] == p], "gap")
        err = abs(g_inf - row["task_gap"]) if row["compared"] else 0.0
        errs.append(err)
        zs.append(err / max(se, 1e-3))
    top = la[la["d"] == la["d"].max()].groupby("point")["gap"].mean().sort_index()
    kappas = pred["kappa"].to_numpy()
    dm = meas[meas["model"] == "dmmse"].sort_values("point")
    dm_gap = (dm["icl_error"] - dm["idg_error"]).to_numpy()
    worst = int(np.argmax(errs))
    return Evaluation(
        {
            "max_z_task_gap": float(max(zs)),
            "max_abs_err_task_gap": float(max(errs)),
            "max_rise_task_gap": float(np.max(np.diff(top.to_numpy()))),
            "slope_ratio_below_above_1": float(_slope_ratio(kappas, top.to_numpy())),
            "min_dmmse_task_gap": float(dm_gap.min()),
        },
        detail=f"worst compared kappa={kappas[worst]:g} (|err| {errs[worst]:.3f}); gap at d={int(la['d'].max())}: "
        + ", ".join(f"{g:.3f}" for g in top)
        + "; dMMSE: "
        + ", ".join(f"{g:.2f}" for g in dm_gap),
    )


LAW = Law(
    name="icl-task-diversity-transition",
    claim="g_task = e_ICL - e_IDG of linear attention falls with kappa, kinked at kappa = 1, "
    "= Result 1 within 3 SE at kappa >= 1; the dMMSE gap stays O(1)",
    source="Lu et al. 2025 (arXiv 2405.11751), Result 1 and Fig. 4",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=icl_figures.task_gap_figure,
    criterion=Criterion(
        Check(
            "max_z_task_gap",
            "<=",
            3.0,
            why="kappa >= 1 only: |extrapolated - theory| in standard errors of the 1/d "
            "intercept (0.002-0.03, from the draw-to-draw spread); 3 SE at 4 points is a "
            "1% false alarm rate for a correct theory",
        ),
        Check(
            "max_rise_task_gap",
            "<=",
            0.01,
            why="the theory gap decreases everywhere; draw-to-draw error of the d = 20 "
            "means is below 0.005 for kappa >= 1.5, where the decrease is slowest",
        ),
        Check(
            "slope_ratio_below_above_1",
            ">=",
            3.0,
            why="theory ratio 5.0 at alpha = tau = 6 (the kink); finite d smooths it "
            "(measured 3.9-4.6 at d = 20, seeds 0-2), so 3 leaves room for that bias",
        ),
        Check(
            "min_dmmse_task_gap",
            ">=",
            0.3,
            why="the dMMSE gap is O(1) (Lu et al. Fig. 4: 1.1-1.5 at d = 64); the linear "
            "attention gap is below 0.06 at kappa >= 2, so 0.3 separates them",
        ),
    ),
    # 0.1 absolute is over 3 SE (SE <= 0.03) at every compared kappa
    prediction=Prediction("task_gap", absolute=0.1, where={"compared": True}),
    theory_columns=COLUMNS,
    experiment_columns=EXP_COLUMNS,
    tags=("icl", "linear-attention", "task-diversity", "synthetic"),
    doc=__doc__ or "",
)

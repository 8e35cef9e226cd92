r"""icl-task-alignment: under a pretrain/test task-covariance shift the ICL error follows Letey et al.

Claim:
    With pretraining tasks :math:`w_j \sim N(0, C_{tr})` and test tasks
    :math:`w \sim N(0, C_{te})`, the ICL error of ridgeless-pretrained linear attention is
    :math:`e_{pre} + e_{inter}` (:func:`lmech.theory.icl.aligned_icl_error`): a pretraining
    term that sees only tr C_te and an interaction term linear in C_te through the
    resolvent :math:`(\zeta C_{tr} + \nu)^{-1}`. Measured errors, extrapolated in 1/d,
    match it within 8% for five test covariances at two task diversities, preserve its
    ordering of the test covariances, and differ from the alignment-blind (isotropic,
    Result 1) prediction.

System:
    d-independent two-level spectrum: C_tr has eigenvalue ``top`` on the first half of
    the coordinates and 2 - top on the second (trace d). Tests (all trace d): matched
    (C_tr), isotropic (I), reversed (levels swapped), top (2 I on the first half, 0
    else), bottom (2 I on the second half). alpha = tau = 2, rho = 0.1, lambda = 1e-6.

Measurement:
    Gaussian pools of k = kappa d tasks, ridge Gamma per draw (as in
    ``icl-linear-attention-asymptotics``), and the exact finite-d error of that Gamma for
    each Gaussian test covariance (:func:`lmech.theory.icl.gamma_error_gaussian`, which
    keeps the O(1/ell) terms); weighted 1/d fit per (kappa, test).

Known limits:
    The published trade-off (more task diversity hurts a test aligned with the top
    pretraining direction) needs a spike whose eigenvalue grows with d: with
    C_tr ~ diag(1/i) at d = 400 the top-spike error rises 0.196 -> 0.243 -> 0.259 for
    kappa = 0.1, 1, 16 while the isotropic one falls 1.11 -> 0.87 (theory, tested in
    ``tests/theory/test_icl.py``); at d = 24-32 the same finite-d theory shows no rise
    (a spike of eigenvalue d/4: 0.50 -> 0.37 at d = 32, 0.30 -> 0.33 at d = 100), so the
    trade-off is not measurable at these sizes and finite tau; it is measured at
    d = 400, tau -> infinity in ``icl-specialization-tradeoff``.
    Measured at quick: worst cell 7.7%, 6.0%, 4.9% at seeds 0-2, and the
    extrapolations sit systematically 1-5% below the theory (worst for the "top" test at
    kappa = 4: 0.713, 0.735, 0.734 against 0.772), an over-correction of the 1/d fit
    over d = 16-32 (the curve flattens towards large d); the 8% bound covers it but is
    tight. Orderings were preserved at every seed. kappa < 1 is
    avoided for the reason given in ``icl-linear-attention-asymptotics`` (slow
    convergence of the ICL error). The deterministic equivalent replaces the authors'
    average over sampled pools.

Source:
    Letey, Zavatone-Veth, Lu, Pehlevan, "Pretrain-test task alignment governs
    generalization in in-context learning", arXiv 2509.26551 (2025), the ICL error under
    mismatch and its alignment decomposition.

Run:
    ``lmech check icl-task-alignment`` (quick: about 8 s of CPU on one core).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech import progress
from lmech.experiment.icl import pretrained_gamma
from lmech.figures import icl as icl_figures
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.icl import _common
from lmech.laws.spec import LawSpec, param
from lmech.theory.icl import aligned_icl_error, gamma_error_gaussian, icl_error

TESTS = ("matched", "isotropic", "reversed", "top", "bottom")


@dataclass(frozen=True)
class Spec(LawSpec):
    """Two-level C_train, five test covariances, kappas and the d sweep."""

    alpha: float = param(2.0, gt=0)
    tau: float = param(2.0, gt=1.2, doc="tau > 1.2 (away from the interpolation peak)")
    rho: float = param(0.1, ge=0)
    top: float = param(1.6, gt=1, lt=2, doc="C_train eigenvalue on the first half (then 2 - top)")
    kappas: tuple[float, ...] = param((2.0, 4.0), ge=1.5, min_len=1, distinct=True)
    dims: tuple[int, ...] = param((16, 24, 32), ge=4, min_len=2, distinct=True, increasing=True)
    draws: tuple[int, ...] = param((64, 24, 6), ge=1)
    ridge: float = param(1e-6, gt=0)

    def validate(self) -> None:
        _common.check_parallel(dims=self.dims, draws=self.draws)
        if any(d % 2 for d in self.dims):
            raise _common.ConfigError(f"dims must be even (two halves); got {self.dims}")

    def memory_bytes(self) -> int:
        return max(_common.gamma_fit_bytes(d, self.alpha, self.tau) for d in self.dims)

    def spectra(self, d: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(C_train spectrum, {test name: test spectrum}) in the common eigenbasis."""
        h = d // 2
        up, lo = np.full(h, self.top), np.full(h, 2 - self.top)
        two, zero = np.full(h, 2.0), np.zeros(h)
        train = np.r_[up, lo]
        tests = {
            "matched": train,
            "isotropic": np.ones(d),
            "reversed": np.r_[lo, up],
            "top": np.r_[two, zero],
            "bottom": np.r_[zero, two],
        }
        return train, tests


PRESETS = {
    "smoke": Spec(kappas=(2.0,), dims=(8, 12), draws=(2, 1)),
    "quick": Spec(),
    "paper": Spec(kappas=(1.5, 2.0, 4.0, 8.0), dims=(16, 24, 32, 48, 64), draws=(64, 32, 16, 6, 3)),
}

COLUMNS = ("kappa", "test", "alpha", "tau", "rho", "icl_error", "isotropic_null", "alignment")
EXP_COLUMNS = ("kappa", "test", "d", "draw", "icl_error")


def theory(spec: Spec) -> pd.DataFrame:
    d = 200  # the two-level spectra have the same law at every even d
    train, tests = spec.spectra(d)
    rows = []
    for k in spec.kappas:
        null = float(icl_error(spec.alpha, k, spec.tau, spec.rho))
        for name in TESTS:
            parts = aligned_icl_error(
                train, tests[name], spec.alpha, k, spec.tau, spec.rho, parts=True
            )
            rows.append(
                {
                    "kappa": k,
                    "test": name,
                    "alpha": spec.alpha,
                    "tau": spec.tau,
                    "rho": spec.rho,
                    "icl_error": parts["e_icl"],
                    "isotropic_null": null,
                    "alignment": parts["alignment"],
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    rows = []
    with progress.task("icl alignment", len(spec.kappas) * sum(spec.draws)) as advance:
        for p, k in enumerate(spec.kappas):
            for d, nd in zip(spec.dims, spec.draws, strict=True):
                train, tests = spec.spectra(d)
                for s in range(nd):
                    g, _ = pretrained_gamma(
                        d,
                        spec.alpha,
                        k,
                        spec.tau,
                        spec.rho,
                        spec.ridge,
                        seed,
                        "align",
                        p,
                        "draw",
                        s,
                        device=device,
                        sphere=False,
                        train_covariance=np.diag(train),
                    )
                    for name in TESTS:
                        e = gamma_error_gaussian(g, spec.alpha, spec.rho, np.diag(tests[name]))
                        rows.append({"kappa": k, "test": name, "d": d, "draw": s, "icl_error": e})
                    advance(1)
    return pd.DataFrame(rows, columns=list(EXP_COLUMNS))


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    rel, null_gap, discord, parts = [], [], 0, []
    top_d = meas["d"].max()
    for k, grp in pred.groupby("kappa"):
        ext, raw = {}, {}
        for _, row in grp.iterrows():
            sub = meas[np.isclose(meas["kappa"], k) & (meas["test"] == row["test"])]
            e_inf, _ = _common.extrapolate(sub, "icl_error")
            ext[row["test"]] = e_inf
            raw[row["test"]] = sub[sub["d"] == top_d]["icl_error"].mean()
            rel.append(abs(e_inf - row["icl_error"]) / row["icl_error"])
            if row["test"] != "isotropic":
                null_gap.append(abs(e_inf - row["isotropic_null"]) / e_inf)
            parts.append(f"k={k:g} {row['test']} {e_inf:.3f}/{row['icl_error']:.3f}")
        theo = dict(zip(grp["test"], grp["icl_error"], strict=True))
        names = list(theo)
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                a, b = names[i], names[j]
                if (theo[a] - theo[b]) * (raw[a] - raw[b]) < 0:
                    discord += 1
    worst = int(np.argmax(rel))
    return Evaluation(
        {
            "max_rel_err_extrapolated": float(max(rel)),
            "ordering_violations": float(discord),
            "min_rel_gap_to_isotropic_null": float(min(null_gap)) if null_gap else math.inf,
        },
        detail=f"worst {parts[worst]}; " + "; ".join(parts),
    )


LAW = Law(
    name="icl-task-alignment",
    claim="under a train/test task-covariance shift the linear-attention ICL error, "
    "extrapolated in 1/d, = the alignment formula within 8% and keeps its ordering",
    source="Letey et al. 2025, Pretrain-test task alignment governs generalization in ICL "
    "(arXiv 2509.26551)",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=icl_figures.alignment_law_figure,
    criterion=Criterion(
        Check(
            "max_rel_err_extrapolated",
            "<=",
            0.08,
            why="worst of 10 cells: a systematic 1-5% undershoot of the 1/d fit over "
            "d = 16-32 (measured, seeds 0-2) plus 2 standard errors of the intercept (2-3%)",
        ),
        Check(
            "ordering_violations",
            "<=",
            0.0,
            why="the theory's test errors differ by >= 8% between any two tests at a kappa, "
            "above the 1-2% standard error of the d = 32 means, so no pair may swap",
        ),
        Check(
            "min_rel_gap_to_isotropic_null",
            ">=",
            0.08,
            why="the alignment-blind Result 1 value is 15-35% away from the theory for the "
            "four non-isotropic tests; 8% is beyond the extrapolation error",
        ),
    ),
    # 20% off is 2.5 times the 8% tolerance in every cell
    prediction=Prediction("icl_error", relative=0.2),
    theory_columns=COLUMNS,
    experiment_columns=EXP_COLUMNS,
    tags=("icl", "linear-attention", "alignment", "synthetic"),
    doc=__doc__ or "",
)

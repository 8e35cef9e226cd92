r"""icl-specialization-tradeoff: more task diversity hurts a test aligned with the top direction.

Claim:
    Letey et al. (2025): with pretraining tasks :math:`w \sim N(0, C_{tr})`, a pool of
    k = kappa d of them, the ICL error on a test task aligned with the top pretraining
    direction (a spike :math:`C_{te} = d\,e_1e_1^\top`) rises with the task diversity
    beyond kappa = 1, while the error on isotropic test tasks falls: a model pretrained on
    few tasks specializes to the dominant directions of its pool, more diverse
    pretraining spreads it out. Measured errors of the pretrained reduced model follow
    :func:`lmech.theory.icl.aligned_icl_error` within 3% at every kappa, the top-spike
    error rises by at least 10% from kappa = 1 to the largest kappa and the isotropic
    error falls by at least 30%; the alignment-blind Result 1 (isotropic pretraining) is
    at least 25% off for the spike.

System:
    d = 400, C_tr = diag(1/i) scaled to trace d, alpha = 10, rho = 0.01, Gaussian pools of
    k = kappa d tasks, tau -> infinity: the pretraining loss over the pool is minimized
    exactly (:func:`lmech.experiment.icl.pool_optimal_gamma`); the theory is evaluated at
    tau = 1e9. Tests: the top spike and the identity (both trace d).

Measurement:
    For each kappa, ``draws`` independent pools; for each, Gamma from the pool and its
    exact finite-d error for Gaussian test tasks of each test covariance
    (:func:`lmech.theory.icl.gamma_error_gaussian`, which keeps the O(1/ell) terms).

Known limits:
    The pool is finite (the source of the specialization) but the number of pretraining
    contexts is not: at tau = 2 the theory's rise is 0.243 -> 0.259 from kappa = 1 to 16
    at d = 400 (alpha = 2), and a finite-tau simulation at that d (a 160,000-dimensional
    ridge fit) is beyond a CPU; at tau -> infinity and alpha = 10 the theory's rise is
    17% at d = 100, 20% at d = 200 and 22% at d = 400 (the spike's eigenvalue grows with
    d), measured 18-22% at d = 200-400. The label-norm feature's Gamma column is held at 0 in the
    measurement (its optimum is O(1/k)); the theory keeps no such term either. Finite k:
    at d = 200 with 4 pools the worst cell (kappa = 0.5, top, k = 100) was 2.5-4.7% off
    (seeds 0-4), hence d = 400 and 8 pools at quick (worst 0.5-1.4%); at kappa = 0.1
    (not on the grid) the gap is 18% at d = 400. With a two-level spectrum (a block of top directions instead of a
    single spike) no rise was found in the theory over block fractions 5-50%, level
    ratios 4-256 and alpha, tau in [1, 8] (the largest was +4.5% between kappa = 2 and 16),
    so a spike whose eigenvalue grows with d is what the claim needs.

Source:
    Letey, Zavatone-Veth, Lu, Pehlevan, "Pretrain-test task alignment governs
    generalization in in-context learning", arXiv 2509.26551 (2025), the
    specialization-generalization trade-off.

Run:
    ``lmech check icl-specialization-tradeoff`` (quick: about 4 s of CPU on one core).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech import progress
from lmech.experiment.icl import pool_optimal_gamma, pretrained_gamma, sample_tasks
from lmech.figures import icl as icl_figures
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.icl import _common
from lmech.laws.spec import LawSpec, param
from lmech.seeding import torch_generator
from lmech.theory.icl import aligned_icl_error, gamma_error_gaussian, icl_error

TESTS = ("top", "isotropic")
TAU_THEORY = 1e9  # tau -> infinity: the measurement solves the pretraining exactly


@dataclass(frozen=True)
class Spec(LawSpec):
    """Dimension, power-law C_train, kappa grid through 1, pools per kappa."""

    d: int = param(400, ge=8, le=4000)
    alpha: float = param(10.0, gt=0)
    rho: float = param(0.01, ge=0)
    capacity: float = param(1.0, gt=0, doc="C_train eigenvalues ~ i^-capacity, trace d")
    kappas: tuple[float, ...] = param(
        (0.5, 1.0, 2.0, 4.0, 16.0),
        gt=0,
        min_len=3,
        distinct=True,
        increasing=True,
        doc="must contain 1 (the reference of the rise) and a larger value",
    )
    draws: int = param(8, ge=1, doc="independent pools per kappa")

    def validate(self) -> None:
        from lmech.errors import ConfigError

        if 1.0 not in self.kappas or self.kappas[-1] <= 1:
            raise ConfigError(f"kappas must contain 1 and a larger value; got {self.kappas}")

    def memory_bytes(self) -> int:
        # the pool (k, d) and a few (d, d) matrices, float64, 3x headroom
        k = round(max(self.kappas) * self.d)
        return 3 * 8 * (k * self.d + 8 * self.d * self.d)

    def spectra(self):
        lam = np.arange(1, self.d + 1, dtype=float) ** -self.capacity
        lam *= self.d / lam.sum()
        top = np.zeros(self.d)
        top[0] = self.d
        return lam, {"top": top, "isotropic": np.ones(self.d)}


PRESETS = {
    "smoke": Spec(d=40, kappas=(0.5, 1.0, 4.0), draws=1),
    "quick": Spec(),
    "paper": Spec(d=800, kappas=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0), draws=8),
}

COLUMNS = ("kappa", "test", "alpha", "rho", "icl_error", "isotropic_null")
EXP_COLUMNS = ("kappa", "test", "draw", "icl_error")


def theory(spec: Spec) -> pd.DataFrame:
    lam, tests = spec.spectra()
    rows = []
    for k in spec.kappas:
        null = float(icl_error(spec.alpha, k, TAU_THEORY, spec.rho))
        for name in TESTS:
            e = aligned_icl_error(lam, tests[name], spec.alpha, k, TAU_THEORY, spec.rho)
            rows.append(
                {
                    "kappa": k,
                    "test": name,
                    "alpha": spec.alpha,
                    "rho": spec.rho,
                    "icl_error": e,
                    "isotropic_null": null,
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    lam, tests = spec.spectra()
    cov = np.diag(lam)
    rows = []
    with progress.task("icl specialization", len(spec.kappas) * spec.draws) as advance:
        for k in spec.kappas:
            for s in range(spec.draws):
                gen = torch_generator(seed, "tradeoff-pool", spec.d, k, s)
                pool = sample_tasks(
                    max(1, round(k * spec.d)), spec.d, gen, sphere=False, covariance=cov
                )
                g = pool_optimal_gamma(pool, spec.alpha, spec.rho)
                for name in TESTS:
                    e = gamma_error_gaussian(g, spec.alpha, spec.rho, np.diag(tests[name]))
                    rows.append({"kappa": k, "test": name, "draw": s, "icl_error": e})
                advance(1)
    return pd.DataFrame(rows, columns=list(EXP_COLUMNS))


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    mean = meas.groupby(["kappa", "test"])["icl_error"].mean().rename("measured")
    m = pred.merge(mean.reset_index(), on=["kappa", "test"])
    m["rel"] = (m["measured"] - m["icl_error"]).abs() / m["icl_error"]
    top = m[m["test"] == "top"].set_index("kappa")["measured"]
    iso = m[m["test"] == "isotropic"].set_index("kappa")["measured"]
    kmax = float(m["kappa"].max())
    spike = m[m["test"] == "top"]
    null_gap = ((spike["isotropic_null"] - spike["measured"]).abs() / spike["measured"]).min()
    return Evaluation(
        {
            "max_rel_err": float(m["rel"].max()),
            "top_rise_from_kappa_1": float(top.loc[kmax] / top.loc[1.0] - 1),
            "isotropic_ratio_from_kappa_1": float(iso.loc[kmax] / iso.loc[1.0]),
            "min_rel_gap_to_isotropic_null": float(null_gap),
        },
        detail="; ".join(
            f"k={r.kappa:g} {r.test} {r.measured:.4f} vs {r.icl_error:.4f}" for r in m.itertuples()
        ),
    )


LAW = Law(
    name="icl-specialization-tradeoff",
    claim="with power-law pretraining tasks, more task diversity raises the ICL error on a "
    "test aligned with the top direction and lowers it on isotropic tests (alignment "
    "formula within 3%)",
    source="Letey et al. 2025, Pretrain-test task alignment governs generalization in ICL "
    "(arXiv 2509.26551)",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=icl_figures.tradeoff_figure,
    criterion=Criterion(
        Check(
            "max_rel_err",
            "<=",
            0.03,
            why="finite k and pool-to-pool spread: worst of 10 cells 0.5-1.4% at seeds "
            "0-4 (d = 400, 8 pools; the top-spike cell at kappa = 0.5 has a 0.5-1% "
            "standard error); 3% is twice the worst",
        ),
        Check(
            "top_rise_from_kappa_1",
            ">=",
            0.1,
            why="theory +22% from kappa = 1 to 16 at d = 400 (0.0571 -> 0.0697), "
            "measured 21.9-22.1% (seeds 0-4); each mean's standard error is below 0.5%, "
            "so 10% is half the predicted rise and far outside the noise; Result 1 "
            "(isotropic pretraining) predicts a fall",
        ),
        Check(
            "isotropic_ratio_from_kappa_1",
            "<=",
            0.7,
            why="theory ratio 0.444 (0.323 -> 0.143), measured 0.442-0.445: diversity "
            "helps the isotropic test",
        ),
        Check(
            "min_rel_gap_to_isotropic_null",
            ">=",
            0.25,
            why="Result 1 ignores the alignment: 0.10-0.56 for the spike against the "
            "measured 0.05-0.07, a gap of 0.46 at the least (kappa = 16)",
        ),
    ),
    # 10% off is over 3 times the 3% tolerance in every cell
    prediction=Prediction("icl_error", relative=0.1),
    theory_columns=COLUMNS,
    experiment_columns=EXP_COLUMNS,
    tags=("icl", "linear-attention", "alignment", "synthetic"),
    doc=__doc__ or "",
)


# --------------------------------------------------------------------------- finite tau

FINITE_TAU_DOC = r"""icl-specialization-tradeoff-finite-tau: few pretraining contexts undo the trade-off.

Claim:
    The alignment error of Letey et al. (2025) at finite tau
    (:func:`lmech.theory.icl.aligned_icl_error`, n = tau d^2 pretraining contexts) predicts
    that finite pretraining data weakens, then reverses, the specialization trade-off of
    ``icl-specialization-tradeoff``: at alpha = 10, C_tr = diag(1/i) (trace d), the top-spike
    error's rise from kappa = 1 to 16 is +22% at tau -> infinity, +14% at tau = 4, +4% at
    tau = 2 and -2% at tau = 0.5 for d = 400; from kappa = 2 to 16 at d = 32 it is +7.4% at
    tau -> infinity and -3.6% at tau = 2. The ridge-pretrained reduced model follows the
    finite-tau formula up to a finite-d bias that vanishes like 1/d, and, with the same
    pools, its top-spike rise is lower at tau = 2 than at tau -> infinity, as predicted.

System:
    d in ``dims`` (16, 24, 32; 12, 6, 3 pools), alpha = 10, rho = 0.01, Gaussian pools
    w_j ~ N(0, C_tr) of k = kappa d tasks, kappa in {2, 16}, n = tau d^2 contexts with
    tau = 2, ridge lambda = 1e-6 (:func:`lmech.experiment.icl.pretrained_gamma`); the same
    pool also gives the tau -> infinity model (:func:`lmech.experiment.icl.pool_optimal_gamma`),
    so the change of the trade-off is paired. Tests: the top spike d e_1 e_1^T and the
    identity.

Measurement:
    The exact finite-d error for Gaussian test tasks of every Gamma
    (:func:`lmech.theory.icl.gamma_error_gaussian`). Per (kappa, test) cell the relative
    bias (measured / theory at that d) - 1 is fitted as b + c/d over ``dims``
    (:func:`lmech.laws.icl._common.extrapolate`). Checks: the mean of the four b within
    0.15 of 0; every b within 3.5 of its standard errors; the tau -> infinity theory (the
    null: pretraining data does not matter) at least 0.5 off after extrapolation in some
    cell; at the largest d the measured top-spike rise from kappa = 2 to 16 at least 5
    points lower at tau = 2 than at tau -> infinity.

Known limits:
    Finite-d bias at finite tau is large: at tau = 2, kappa = 1 (not on the quick grid) the
    measured top-spike error is 93%, 49%, 38% and 21% above the theory at d = 16, 24, 32 and
    48 (4 pools, seed 0; x d: 14.9, 11.7, 12.2, 10.2), and 33%, 25%, 19%, 13% at kappa = 16
    (x d: 5.3-6.1), so values are compared through the 1/d fit, not raw. The fit over
    d = 16-32 amplifies noise: cell intercepts have standard errors 0.03-0.16, and the
    bound is stated in them. kappa = 1 (k = d, the critical point) is left out: its
    top-spike cell is heavy-tailed (intercept SE 0.26-0.30 with 8-16 pools at d = 16).
    The measured change of the rise is larger than the theory's at the same d (-0.12 to
    -0.22 against -0.11 at d = 32, seeds 0-2), so only its sign and a 5-point size are
    checked. d = 400, where the tau -> infinity law runs, needs a 160,000-parameter ridge
    fit per pool, out of reach on a CPU. Only tau = 2 is measured; tau <= 1 (the
    interpolation side) is not.

Source:
    Letey, Zavatone-Veth, Lu, Pehlevan, "Pretrain-test task alignment governs
    generalization in in-context learning", arXiv 2509.26551 (2025), the error at finite
    tau and the specialization-generalization trade-off.

Run:
    ``lmech check icl-specialization-tradeoff-finite-tau`` (quick: about 10 s of CPU on one
    core for the experiment).
"""


@dataclass(frozen=True)
class FiniteTauSpec(LawSpec):
    """Dimensions for the 1/d fit, finite tau, two kappas, pools per (d, kappa)."""

    dims: tuple[int, ...] = param(
        (16, 24, 32), ge=4, le=64, min_len=2, distinct=True, increasing=True
    )
    draws: tuple[int, ...] = param((12, 6, 3), ge=2, min_len=2, doc="pools per d")
    alpha: float = param(10.0, gt=0)
    rho: float = param(0.01, ge=0)
    tau: float = param(2.0, gt=1.2, doc="pretraining contexts / d^2 (above the peak)")
    capacity: float = param(1.0, gt=0)
    kappas: tuple[float, ...] = param(
        (2.0, 16.0), gt=0, min_len=2, max_len=2, increasing=True, doc="the rise is kappas[0] -> [1]"
    )
    ridge: float = param(1e-6, gt=0)

    def validate(self) -> None:
        from lmech.errors import ConfigError

        if len(self.draws) != len(self.dims):
            raise ConfigError(
                f"draws needs one entry per d; got {len(self.draws)} for {len(self.dims)} dims"
            )

    def memory_bytes(self) -> int:
        return max(_common.gamma_fit_bytes(d, self.alpha, self.tau) for d in self.dims)

    def spectra(self, d: int):
        return Spec(d=d, capacity=self.capacity).spectra()


FINITE_TAU_PRESETS = {
    "smoke": FiniteTauSpec(dims=(8, 12), draws=(2, 2), alpha=4.0),
    "quick": FiniteTauSpec(),
    "paper": FiniteTauSpec(dims=(16, 24, 32, 48), draws=(32, 16, 8, 4)),
}

FT_COLUMNS = ("d", "kappa", "pretraining", "test", "icl_error", "tau_infinity_null")
FT_EXP_COLUMNS = ("d", "kappa", "pretraining", "test", "draw", "icl_error")


def finite_tau_theory(spec: FiniteTauSpec) -> pd.DataFrame:
    rows = []
    for d in spec.dims:
        lam, tests = spec.spectra(d)
        for k in spec.kappas:
            for name in TESTS:
                inf = aligned_icl_error(lam, tests[name], spec.alpha, k, TAU_THEORY, spec.rho)
                fin = aligned_icl_error(lam, tests[name], spec.alpha, k, spec.tau, spec.rho)
                for label, e in (("finite", fin), ("infinite", inf)):
                    rows.append(
                        {
                            "d": d,
                            "kappa": k,
                            "pretraining": label,
                            "test": name,
                            "icl_error": e,
                            "tau_infinity_null": inf,
                        }
                    )
    return pd.DataFrame(rows, columns=list(FT_COLUMNS))


def finite_tau_experiment(spec: FiniteTauSpec, seed: int, device: str) -> pd.DataFrame:
    rows = []
    total = len(spec.kappas) * sum(spec.draws)
    with progress.task("icl finite-tau trade-off", total) as advance:
        for d, nd in zip(spec.dims, spec.draws, strict=True):
            lam, tests = spec.spectra(d)
            for k in spec.kappas:
                for s in range(nd):
                    g_fin, pool = pretrained_gamma(
                        d,
                        spec.alpha,
                        k,
                        spec.tau,
                        spec.rho,
                        spec.ridge,
                        seed,
                        "tradeoff-finite-tau",
                        k,
                        s,
                        device=device,
                        sphere=False,
                        train_covariance=np.diag(lam),
                    )
                    g_inf = pool_optimal_gamma(pool, spec.alpha, spec.rho)
                    for label, g in (("finite", g_fin), ("infinite", g_inf)):
                        for name in TESTS:
                            e = gamma_error_gaussian(g, spec.alpha, spec.rho, np.diag(tests[name]))
                            rows.append(
                                {
                                    "d": d,
                                    "kappa": k,
                                    "pretraining": label,
                                    "test": name,
                                    "draw": s,
                                    "icl_error": e,
                                }
                            )
                    advance(1)
    return pd.DataFrame(rows, columns=list(FT_EXP_COLUMNS))


def _rise(t: pd.DataFrame, label: str, d: int, k0: float, k1: float) -> float:
    s = t[(t["pretraining"] == label) & (t["test"] == "top") & (t["d"] == d)]
    s = s.groupby("kappa")["icl_error"].mean()
    return float(s.loc[k1] / s.loc[k0] - 1)


def finite_tau_evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    fin = meas[meas["pretraining"] == "finite"].merge(
        pred[pred["pretraining"] == "finite"],
        on=["d", "kappa", "pretraining", "test"],
        suffixes=("", "_t"),
    )
    fin["bias"] = fin["icl_error"] / fin["icl_error_t"] - 1
    fin["null_bias"] = fin["icl_error"] / fin["tau_infinity_null"] - 1
    null_max, cells, bs, zs = -np.inf, [], [], []
    for (k, name), cell in fin.groupby(["kappa", "test"]):
        b, se = _common.extrapolate(cell, "bias")
        nb, _ = _common.extrapolate(cell, "null_bias")
        bs.append(b)
        zs.append(abs(b) / se)
        null_max = max(null_max, nb)
        cells.append(f"k={k:g} {name}: bias {b:+.3f} +- {se:.3f} (null {nb:+.2f})")
    d = int(meas["d"].max())
    k0, k1 = sorted(meas["kappa"].unique())
    change = _rise(meas, "finite", d, k0, k1) - _rise(meas, "infinite", d, k0, k1)
    th_change = _rise(pred, "finite", d, k0, k1) - _rise(pred, "infinite", d, k0, k1)
    return Evaluation(
        {
            "abs_mean_extrapolated_bias": abs(float(np.mean(bs))),
            "max_extrapolated_bias_in_se": float(max(zs)),
            "max_extrapolated_bias_of_tau_infinity_null": float(null_max),
            "top_rise_change_finite_minus_infinite_tau": float(change),
        },
        detail="; ".join(cells)
        + f"; top-spike rise change at d={d}: {change:+.3f} measured, {th_change:+.3f} theory",
    )


FINITE_TAU_LAW = Law(
    name="icl-specialization-tradeoff-finite-tau",
    claim="at finite tau the alignment formula (within a 1/d-vanishing bias) predicts that "
    "few pretraining contexts weaken and reverse the top-spike trade-off; the paired "
    "measurement shows the reversal",
    source="Letey et al. 2025, Pretrain-test task alignment governs generalization in ICL "
    "(arXiv 2509.26551), finite tau",
    spec=FiniteTauSpec,
    presets=FINITE_TAU_PRESETS,
    theory=finite_tau_theory,
    experiment=finite_tau_experiment,
    evaluate=finite_tau_evaluate,
    figure=icl_figures.finite_tau_tradeoff_figure,
    criterion=Criterion(
        Check(
            "abs_mean_extrapolated_bias",
            "<=",
            0.15,
            why="the mean over the four cells of the 1/d-extrapolated relative bias has a "
            "standard error of about 0.05 (cell SEs 0.03-0.16, seeds 0-2); measured 0.034-0.062; "
            "0.15 is 3 SE",
        ),
        Check(
            "max_extrapolated_bias_in_se",
            "<=",
            3.5,
            why="each cell's extrapolated bias in its own standard errors: largest 1.3-2.7 "
            "(seeds 0-2); 3.5 SE for the worst of four cells is exceeded by noise alone with "
            "probability about 0.2%",
        ),
        Check(
            "max_extrapolated_bias_of_tau_infinity_null",
            ">=",
            0.5,
            why="the tau -> infinity theory (pretraining data ignored) is 1.0-1.7 too low "
            "after extrapolation in the isotropic cells (seeds 0-2; SE <= 0.08)",
        ),
        Check(
            "top_rise_change_finite_minus_infinite_tau",
            "<=",
            -0.05,
            why="theory -0.11 at d = 32 (the rise kappa 2 -> 16 is -3.6% at tau = 2 and +7.4% "
            "at tau -> infinity); measured -0.12 to -0.22 with the same pools (seeds 0-2); the "
            "null that tau does not matter gives 0",
        ),
    ),
    prediction=Prediction("icl_error", relative=0.3, where={"pretraining": "finite"}),
    theory_columns=FT_COLUMNS,
    experiment_columns=FT_EXP_COLUMNS,
    tags=("icl", "linear-attention", "alignment", "synthetic"),
    doc=FINITE_TAU_DOC,
)

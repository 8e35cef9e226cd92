r"""icl-depth-scaling: depth helps deep linear attention at short context (ISO) and always (RRS).

Claim:
    An L-layer deep linear self-attention model with :math:`\Gamma = \gamma I` is L steps
    of preconditioned GD on the context (Bordelon, Letey & Pehlevan 2025). For isotropic
    data (ISO) its best error over gamma is

    .. math:: E^*(\alpha, L) = \min_\gamma\Big[\sigma^2 + \int(1-\gamma\lambda/L)^{2L}
              d\mu_\alpha + \frac{\sigma^2}{\alpha}\int\frac{[1-(1-\gamma\lambda/L)^L]^2}
              {\lambda}d\mu_\alpha\Big]

    (:math:`\mu_\alpha` the Marchenko-Pastur law, P = alpha D): depth helps a lot at
    alpha ~ 1 and hardly at long context. With a covariance rotated afresh in every
    context (RRS) no fixed Gamma can invert it, the error at infinite context is a
    polynomial-approximation error :math:`\min_\gamma\sum_k\lambda_k(1-\gamma\lambda_k/L)^{2L}
    /\sum_k\lambda_k`, and depth keeps helping, as :math:`L^{-(1-1/\nu)}` for
    :math:`\lambda_k \propto k^{-\nu}` and a long spectrum.

System:
    ISO: x ~ N(0, I_D), D = 32, task w = beta/sqrt(D), beta ~ N(0, I), noise 0.1,
    alpha in ``iso_alphas``, L in ``depths``. RRS: spectrum k^-nu (nu = 1.5, trace D),
    noiseless, context alpha = ``rrs_alpha`` (long), L in ``rrs_depths``.

Measurement:
    Monte Carlo over contexts of the exact (over the query) loss of the L-step predictor
    on a grid of gamma (common random numbers), minimized over the grid
    (:func:`lmech.experiment.icl.deep_linear_attention_losses`). Checks: ISO minima within
    7% of E*; the depth gain E*(1)/E*(8) at alpha = 1 is >= 1.3 while at the longest
    ISO context the drop E*(1) - E*(8) is at most half that at alpha = 1; an RRS depth
    gain E*(1)/E*(16) >= 3 at long context.

Known limits:
    Finite D = 32: ISO minima sit 0-3% above the D -> infinity theory (O(1/D)) except at
    alpha = 1 (the Marchenko-Pastur law touches 0) with L = 8, where the best gamma is
    large and the measured minimum is 2.5-5.5% high; worst per seed 3.7%, 2.8%, 5.5%
    (seeds 0-2, 600 contexts), hence the 7% bound. The RRS
    measurement at alpha = 32 is not compared value by value with the infinite-context
    theory: its finite-context correction grows with depth (a degree-L polynomial of the
    sample covariance), 21-25% at L = 16 (seeds 0-2) and 1-6% at alpha = 64 for L <= 16.
    Relative depth gains are a weaker statement: the ISO gain E*(1)/E*(8) is still 1.54
    at alpha = 16 (theory), because one layer with the best gamma is far from Bayes
    there; it falls to 1.15 only at alpha = 64. The
    asymptotic RRS exponent 1 - 1/nu = 1/3 holds only while L^{1/nu} << D; over L = 1-16
    at D = 32 the theory slope on the same finite spectrum is steeper (about 0.7), so the
    exponent is reported (``rrs_exponent`` column) and the finite-spectrum theory, not the
    power law, is compared. Only Gamma = gamma I is measured here. FS (one fixed
    covariance Sigma): with Gamma = gamma Sigma^-1 the error is the ISO error with signal
    power tr Sigma / D (:func:`lmech.theory.icl.deep_fs_error`, derived and checked by
    Monte Carlo in the tests), so the ISO depth statements carry over; whether whitening
    is the optimal Gamma at finite alpha is not derived. Width (key/query rank) and
    training time are derived for one layer in FS and checked in ``icl-time-width-scaling``;
    ISO training at depth L in ``icl-deep-attention-training``. That
    gamma I is optimal in RRS (rotation symmetry) is derived, not measured. The reduced
    predictor is taken from a third-party description of the paper's Eq. 4.

Source:
    Bordelon, Letey, Pehlevan, "Theory of scaling laws for in-context regression: depth,
    width, context and time", arXiv 2510.01098 (2025), ISO and RRS settings, Fig. 1.

Run:
    ``lmech check icl-depth-scaling`` (quick: about 7 s of CPU on one core).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech import progress
from lmech.experiment.icl import deep_linear_attention_losses
from lmech.figures import icl as icl_figures
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.spec import LawSpec, param
from lmech.seeding import torch_generator
from lmech.theory.icl import deep_iso_optimal, rrs_depth_exponent, rrs_error


@dataclass(frozen=True)
class Spec(LawSpec):
    """ISO (alpha, L) grid and RRS L grid at long context."""

    dim: int = param(32, ge=4, doc="D, token dimension")
    noise: float = param(0.1, gt=0, doc="sigma^2 (ISO)")
    iso_alphas: tuple[float, ...] = param(
        (0.5, 1.0, 2.0, 16.0),
        gt=0,
        min_len=2,
        distinct=True,
        increasing=True,
        doc="must contain 1; the last is the long context",
    )
    depths: tuple[int, ...] = param((1, 2, 4, 8), ge=1, min_len=2, distinct=True, increasing=True)
    rrs_alpha: float = param(32.0, ge=8, doc="long context for RRS")
    rrs_depths: tuple[int, ...] = param(
        (1, 2, 4, 8, 16), ge=1, min_len=2, distinct=True, increasing=True
    )
    capacity: float = param(1.5, gt=1, doc="nu in lambda_k ~ k^-nu (RRS)")
    contexts: int = param(600, ge=10, doc="Monte-Carlo contexts per (alpha, L)")
    rrs_contexts: int = param(200, ge=10)
    grid: int = param(120, ge=10, doc="gamma grid size")

    def validate(self) -> None:
        from lmech.errors import ConfigError

        if 1.0 not in self.iso_alphas or self.iso_alphas[-1] <= 1:
            raise ConfigError(
                f"iso_alphas must contain 1 and a longer context; got {self.iso_alphas}"
            )
        if self.depths[0] != 1 or self.rrs_depths[0] != 1:
            raise ConfigError(
                "depths and rrs_depths must start at L = 1 (the depth gain is vs L = 1)"
            )

    def memory_bytes(self) -> int:
        # a chunk of 200 contexts: tokens (P, D), eigenvectors and Lambda in that basis
        # (D, D), residuals (grid, D), each float64 with 4x headroom for temporaries
        D = self.dim
        P = max(round(a * D) for a in (*self.iso_alphas, self.rrs_alpha))
        return 4 * 8 * 200 * (3 * P * D + 3 * D * D + 3 * self.grid * D)

    def spectrum(self) -> np.ndarray:
        lam = np.arange(1, self.dim + 1, dtype=float) ** -self.capacity
        return lam * self.dim / lam.sum()


PRESETS = {
    "smoke": Spec(
        dim=8,
        iso_alphas=(1.0, 4.0),
        depths=(1, 2),
        rrs_alpha=8.0,
        rrs_depths=(1, 2),
        contexts=20,
        rrs_contexts=10,
        grid=20,
    ),
    "quick": Spec(),
    "paper": Spec(
        dim=64,
        iso_alphas=(0.5, 1.0, 2.0, 8.0, 64.0),
        depths=(1, 2, 4, 8, 16, 64),
        rrs_alpha=256.0,
        rrs_depths=(1, 2, 4, 8, 16, 32, 64),
        contexts=4000,
        rrs_contexts=1000,
        grid=300,
    ),
}

COLUMNS = ("setting", "alpha", "depth", "loss", "gamma_opt", "rrs_exponent")
EXP_COLUMNS = ("setting", "alpha", "depth", "loss", "gamma_opt")


def theory(spec: Spec) -> pd.DataFrame:
    rows = []
    expo = rrs_depth_exponent(spec.capacity)
    for a in spec.iso_alphas:
        for L in spec.depths:
            g, e = deep_iso_optimal(L, a, spec.noise)
            rows.append(
                {
                    "setting": "iso",
                    "alpha": a,
                    "depth": L,
                    "loss": e,
                    "gamma_opt": g,
                    "rrs_exponent": expo,
                }
            )
    lam = spec.spectrum()
    for L in spec.rrs_depths:
        rows.append(
            {
                "setting": "rrs",
                "alpha": np.inf,
                "depth": L,
                "loss": rrs_error(L, lam),
                "gamma_opt": np.nan,
                "rrs_exponent": expo,
            }
        )
    t = pd.DataFrame(rows, columns=list(COLUMNS))
    t["gamma_opt"] = t["gamma_opt"].fillna(0.0)  # not computed for RRS
    return t


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    rows = []
    lam = spec.spectrum()
    n = len(spec.iso_alphas) * len(spec.depths) + len(spec.rrs_depths)
    with progress.task("deep linear attention", n) as advance:
        for a in spec.iso_alphas:
            edge = (1 + 1 / np.sqrt(a)) ** 2
            for L in spec.depths:
                gs = np.linspace(2 * L / edge / spec.grid, 2 * L / edge, spec.grid)
                e = deep_linear_attention_losses(
                    L,
                    a,
                    spec.dim,
                    gs,
                    spec.noise,
                    spec.contexts,
                    torch_generator(seed, "iso", a, L),
                    device=device,
                )
                i = int(np.argmin(e))
                rows.append(
                    {
                        "setting": "iso",
                        "alpha": a,
                        "depth": L,
                        "loss": float(e[i]),
                        "gamma_opt": float(gs[i]),
                    }
                )
                advance(1)
        for L in spec.rrs_depths:
            top = 2 * L / (lam.max() * (1 + 1 / np.sqrt(spec.rrs_alpha)) ** 2)
            gs = np.linspace(top / spec.grid, top, spec.grid)
            e = deep_linear_attention_losses(
                L,
                spec.rrs_alpha,
                spec.dim,
                gs,
                0.0,
                spec.rrs_contexts,
                torch_generator(seed, "rrs", L),
                spectrum=lam,
                device=device,
            )
            i = int(np.argmin(e))
            rows.append(
                {
                    "setting": "rrs",
                    "alpha": spec.rrs_alpha,
                    "depth": L,
                    "loss": float(e[i]),
                    "gamma_opt": float(gs[i]),
                }
            )
            advance(1)
    return pd.DataFrame(rows, columns=list(EXP_COLUMNS))


def _gain(t: pd.DataFrame, alpha: float, L: int) -> float:
    s = t[np.isclose(t["alpha"], alpha)].set_index("depth")["loss"]
    return float(s.loc[1] / s.loc[L])


def _drop(t: pd.DataFrame, alpha: float, L: int) -> float:
    s = t[np.isclose(t["alpha"], alpha)].set_index("depth")["loss"]
    return float(s.loc[1] - s.loc[L])


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    pi, mi = pred[pred["setting"] == "iso"], meas[meas["setting"] == "iso"]
    pr, mr = pred[pred["setting"] == "rrs"], meas[meas["setting"] == "rrs"]
    m_iso = pi.merge(mi, on=["alpha", "depth"], suffixes=("_t", "_m"))
    rel_iso = (m_iso["loss_m"] - m_iso["loss_t"]).abs() / m_iso["loss_t"]
    L_iso = int(mi["depth"].max())
    long_alpha = float(mi["alpha"].max())
    short = _gain(mi, 1.0, L_iso)
    long = _gain(mi, long_alpha, L_iso)
    drop_ratio = _drop(mi, long_alpha, L_iso) / max(_drop(mi, 1.0, L_iso), 1e-9)
    L_rrs = int(mr["depth"].max())
    rrs_gain = float(
        mr.set_index("depth")["loss"].loc[1] / mr.set_index("depth")["loss"].loc[L_rrs]
    )
    return Evaluation(
        {
            "max_rel_err_iso": float(rel_iso.max()),
            "iso_depth_gain_alpha_1": short,
            "iso_long_over_short_depth_drop": drop_ratio,
            "rrs_depth_gain": rrs_gain,
        },
        detail=f"ISO gain E(1)/E({L_iso}): {short:.2f} at alpha=1, {long:.2f} at alpha="
        f"{long_alpha:g}; RRS gain E(1)/E({L_rrs}) {rrs_gain:.2f} (theory "
        f"{pr['loss'].iloc[0] / pr['loss'].iloc[-1]:.2f}); asymptotic RRS exponent "
        f"{pred['rrs_exponent'].iloc[0]:.3f}",
    )


LAW = Law(
    name="icl-depth-scaling",
    claim="deep linear attention (Gamma = gamma I): ISO error = MP-integral theory, depth "
    "helps only at short context; RRS: depth helps at long context",
    source="Bordelon, Letey, Pehlevan 2025, Theory of scaling laws for in-context regression "
    "(arXiv 2510.01098), ISO/RRS, Fig. 1",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=icl_figures.depth_law_figure,
    criterion=Criterion(
        Check(
            "max_rel_err_iso",
            "<=",
            0.07,
            why="finite-D bias at D = 32 (O(1/D)): 0-3% except at the hard spectral edge "
            "alpha = 1, L = 8 (+2.5 to +5.5%, seeds 0-2), plus 2 Monte-Carlo standard "
            "errors of the 600-context mean (about 1.5%)",
        ),
        Check(
            "iso_depth_gain_alpha_1",
            ">=",
            1.3,
            why="theory E*(1)/E*(8) = 1.61 at alpha = 1; finite-D and Monte-Carlo errors "
            "(<= 4% per value) cannot bring it below 1.45",
        ),
        Check(
            "iso_long_over_short_depth_drop",
            "<=",
            0.5,
            why="theory: E*(1) - E*(8) is 0.058 at alpha = 16 against 0.237 at alpha = 1 "
            "(ratio 0.24); each value is within 5%, so 0.5 is far outside the error",
        ),
        Check(
            "rrs_depth_gain",
            ">=",
            3.0,
            why="theory E(1)/E(16) = 6.7 at infinite context, measured 5.3-5.7 at alpha = 32 "
            "(seeds 0-2); a fixed preconditioner that inverted the covariance would give 1",
        ),
    ),
    # 15% off is twice the 7% ISO tolerance at every (alpha, L)
    prediction=Prediction("loss", relative=0.15, where={"setting": "iso"}),
    theory_columns=COLUMNS,
    experiment_columns=EXP_COLUMNS,
    tags=("icl", "deep-linear-attention", "scaling", "synthetic"),
    doc=__doc__ or "",
)

r"""icl-time-width-scaling: linear attention's loss against training time and key/query width.

Claim:
    One linear-attention layer :math:`\hat y = x_*^\top\Gamma X^\top y/P` on in-context
    regression with a fixed power-law token covariance (the FS setting of Bordelon,
    Letey & Pehlevan 2025; :math:`\lambda_k \propto k^{-\nu}`, trace D, isotropic tasks)
    has an exact quadratic loss (:func:`lmech.theory.icl.fs_one_layer_error`). Hence
    [derived here]:

    * training time: SGD on fresh contexts from Gamma = 0 follows the gradient flow
      :math:`E(T) = \sigma^2 + \frac1D\sum_k[\lambda_k - \frac{\lambda_k^3}{m_k}(1 -
      e^{-4\lambda_km_kT})]` (:func:`lmech.theory.icl.fs_gradient_flow_error`): every
      eigen-direction relaxes at its own rate, so the loss falls as a power law
      :math:`T^{-(\nu-1)/(3\nu)}` at long context and large D
      (:func:`lmech.theory.icl.fs_time_exponent`), not as the single exponential of the
      isotropic (ISO) setting;
    * width: with :math:`\Gamma = AB^\top` of rank N (key/query width N) the trained loss
      reaches :math:`E_N = \sigma^2 + \frac1D[\sum_k\lambda_k - \sum_{k\le N}\lambda_k^3/m_k]`
      (:func:`lmech.theory.icl.fs_rank_optimum`, in-context regression on the top N
      principal directions), :math:`E_N - E_D \propto N^{-(\nu-1)}` at long context and
      large D (:func:`lmech.theory.icl.fs_width_exponent`).

System:
    D = 32, nu = 1.5, alpha = 8 (P = 256), sigma^2 = 0.05. Time: full Gamma, plain SGD with
    batch 32 and step 0.25 / (fastest mode rate) in T units, T = lr x steps / D.
    Width: A, B (D, N), N in ``ranks``, Adam with a cosine schedule on fresh contexts from a
    small random init. Contexts are drawn exactly through their sufficient statistic
    X^T y / P (``lmech.laws.icl._fs``).

Measurement:
    The exact loss (over test contexts) of the trained Gamma at log-spaced checkpoints and
    at the end of each low-rank run. Checks: the SGD curve within 2% of the gradient-flow
    theory at every checkpoint; the isotropic-covariance theory (same trace, one rate) at
    least 30% off at every checkpoint; the log-log slope of the excess E(T) - E_D over the
    upper half of the checkpoints within 0.03 of the theory's slope on the same points;
    the trained low-rank losses within 1% of E_N; the isotropic rank law
    :math:`\sigma^2 + 1 - (N/D)/m` at least 30% off at every N; the log-log slope of
    E_N - E_D within 0.05 of the theory's.

Known limits:
    Not derived (and not measured): depth L > 1 during training, the RRS setting during
    training, the paper's residual-stream width (modelled here as the rank of the merged
    key-query matrix, with the value path fixed), batch-size (SGD-noise) effects beyond a
    tolerance, and the compute-optimal shape; the paper's own exponents were not read.
    Finite D and P: over the quick window the time slope is -0.20 (theory and
    measurement) against the asymptotic -(nu-1)/(3 nu) = -0.111, and the width slope is
    -0.78 against -(nu-1) = -0.5, because the spectrum stops at k = D (its tail sum
    :math:`N^{1-\nu} - D^{1-\nu}` steepens the curve) and, at finite P, directions with
    :math:`\lambda_k \lesssim (\operatorname{tr}\Sigma + \sigma^2D)/P` learn more slowly
    (rate :math:`\propto\lambda_k^2`) towards a smaller final gain. The asymptotic exponents
    are therefore reported (``asymptotic_exponent``), and the finite-D slope is what is
    compared; the paper preset (D = 128, alpha = 64) moves the slopes towards them
    (theory -0.146 and -0.639 on its windows). SGD
    tracks the flow to 0.4-0.7% (seeds 0-2) at this step and batch; early checkpoints
    (fewer than 16 steps) are left out because the discrete step lags the flow there.

Source:
    Bordelon, Letey, Pehlevan, "Theory of scaling laws for in-context regression: depth,
    width, context and time", arXiv 2510.01098 (2025), FS setting, training time and
    width; the results here are derived for the one-layer reduced model.

Run:
    ``lmech check icl-time-width-scaling`` (quick: about 8 s of CPU on one core).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech import progress
from lmech.figures import icl as icl_figures
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.icl import _fs
from lmech.laws.spec import LawSpec, param
from lmech.seeding import torch_generator
from lmech.theory.icl import (
    fs_gradient_flow_error,
    fs_one_layer_error,
    fs_rank_optimum,
    fs_time_exponent,
    fs_width_exponent,
)

FIRST_CHECKPOINT = 16  # steps; before it the discrete SGD step lags the flow


@dataclass(frozen=True)
class Spec(LawSpec):
    """Power-law FS setting; SGD learning curve of a full Gamma; Adam runs at each rank."""

    dim: int = param(32, ge=4, le=512, doc="D, token dimension")
    capacity: float = param(1.5, gt=1, doc="nu in lambda_k ~ k^-nu (trace D)")
    alpha: float = param(8.0, gt=0, doc="context length P / D")
    noise: float = param(0.05, ge=0, doc="label-noise variance sigma^2")
    batch: int = param(32, ge=1, doc="contexts per SGD step (time)")
    steps: int = param(1500, ge=64, doc="SGD steps (time)")
    rate_fraction: float = param(0.25, gt=0, le=0.5, doc="SGD step x fastest mode rate")
    checkpoints: int = param(10, ge=4, doc="log-spaced checkpoints from step 16")
    ranks: tuple[int, ...] = param(
        (1, 2, 4, 8), ge=1, min_len=2, distinct=True, increasing=True, doc="key/query widths N"
    )
    width_steps: int = param(400, ge=10, doc="Adam steps per rank")
    width_batch: int = param(128, ge=1)
    lr: float = param(0.05, gt=0, doc="Adam learning rate (width)")

    def validate(self) -> None:
        from lmech.errors import ConfigError

        if self.ranks[-1] >= self.dim:
            raise ConfigError(
                f"ranks must stay below dim = {self.dim} (rank >= D is unconstrained); "
                f"got {self.ranks}"
            )

    def memory_bytes(self) -> int:
        # per step: (batch, P) label draws x 4 and (batch, D) vectors; Gamma, A, B and
        # Adam state (D, D) x 8; float64, 4x headroom
        P = max(1, round(self.alpha * self.dim))
        b = max(self.batch, self.width_batch)
        return 4 * 8 * (4 * b * P + 8 * b * self.dim + 8 * self.dim * self.dim)

    def spectrum(self) -> np.ndarray:
        lam = np.arange(1, self.dim + 1, dtype=float) ** -self.capacity
        return lam * self.dim / lam.sum()

    def checkpoint_steps(self) -> np.ndarray:
        c = np.logspace(np.log10(FIRST_CHECKPOINT), np.log10(self.steps), self.checkpoints)
        return np.unique(np.round(c).astype(int))

    def times(self) -> np.ndarray:
        lam = self.spectrum()
        P = max(1, round(self.alpha * self.dim))
        m = (1 + 1 / P) * lam**2 + (lam.sum() + self.noise * self.dim) * lam / P
        eta = self.rate_fraction / float((4 * lam * m).max())
        return self.checkpoint_steps() * eta


PRESETS = {
    "smoke": Spec(dim=8, alpha=4.0, batch=8, steps=64, checkpoints=4, ranks=(1, 2), width_steps=20),
    "quick": Spec(),
    "paper": Spec(
        dim=128,
        alpha=64.0,
        batch=64,
        steps=20000,
        checkpoints=16,
        ranks=(1, 2, 4, 8, 16, 32),
        width_steps=3000,
        width_batch=256,
    ),
}

COLUMNS = ("setting", "x", "loss", "null_loss", "floor", "asymptotic_exponent")
EXP_COLUMNS = ("setting", "x", "loss")


def theory(spec: Spec) -> pd.DataFrame:
    lam = spec.spectrum()
    iso = np.ones(spec.dim)
    floor = fs_rank_optimum(spec.dim, lam, spec.alpha, spec.noise)
    T = spec.times()
    rows = [
        {
            "setting": "time",
            "x": float(t),
            "loss": float(e),
            "null_loss": float(n),
            "floor": floor,
            "asymptotic_exponent": fs_time_exponent(spec.capacity),
        }
        for t, e, n in zip(
            T,
            fs_gradient_flow_error(T, lam, spec.alpha, spec.noise),
            fs_gradient_flow_error(T, iso, spec.alpha, spec.noise),
            strict=True,
        )
    ]
    for N in spec.ranks:
        rows.append(
            {
                "setting": "width",
                "x": float(N),
                "loss": fs_rank_optimum(N, lam, spec.alpha, spec.noise),
                "null_loss": fs_rank_optimum(N, iso, spec.alpha, spec.noise),
                "floor": floor,
                "asymptotic_exponent": fs_width_exponent(spec.capacity),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    lam = spec.spectrum()
    rows = []
    with progress.task("linear attention time/width", 1 + len(spec.ranks)) as advance:
        curve = _fs.sgd_learning_curve(
            lam,
            spec.alpha,
            spec.noise,
            batch=spec.batch,
            steps=spec.steps,
            rate_fraction=spec.rate_fraction,
            checkpoints=spec.checkpoint_steps(),
            gen=torch_generator(seed, "fs-time"),
            device=device,
        )
        for t, g in curve:
            rows.append(
                {
                    "setting": "time",
                    "x": float(t),
                    "loss": fs_one_layer_error(g, lam, spec.alpha, spec.noise),
                }
            )
        advance(1)
        for N in spec.ranks:
            g = _fs.train_low_rank(
                lam,
                spec.alpha,
                spec.noise,
                N,
                batch=spec.width_batch,
                steps=spec.width_steps,
                lr=spec.lr,
                init_scale=0.01,
                gen=torch_generator(seed, "fs-width", N),
                device=device,
            )
            rows.append(
                {
                    "setting": "width",
                    "x": float(N),
                    "loss": fs_one_layer_error(g, lam, spec.alpha, spec.noise),
                }
            )
            advance(1)
    return pd.DataFrame(rows, columns=list(EXP_COLUMNS))


def _slope(x, y) -> float:
    y = np.asarray(y, dtype=float)
    if (y <= 0).any():
        return float("nan")  # below the floor: no power law to fit
    return float(np.polyfit(np.log(np.asarray(x, dtype=float)), np.log(y), 1)[0])


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    m = pred.merge(meas, on=["setting", "x"], suffixes=("_t", "_m"))
    m["rel"] = (m["loss_m"] - m["loss_t"]).abs() / m["loss_t"]
    m["null_gap"] = (m["null_loss"] - m["loss_m"]).abs() / m["loss_m"]
    tm = m[m["setting"] == "time"].sort_values("x")
    wm = m[m["setting"] == "width"].sort_values("x")
    upper = tm.iloc[len(tm) // 2 :]
    st_m = _slope(upper["x"], upper["loss_m"] - upper["floor"])
    st_t = _slope(upper["x"], upper["loss_t"] - upper["floor"])
    sw_m = _slope(wm["x"], wm["loss_m"] - wm["floor"])
    sw_t = _slope(wm["x"], wm["loss_t"] - wm["floor"])
    bt = float(pred.loc[pred["setting"] == "time", "asymptotic_exponent"].iloc[0])
    bw = float(pred.loc[pred["setting"] == "width", "asymptotic_exponent"].iloc[0])
    return Evaluation(
        {
            "time_max_rel_err": float(tm["rel"].max()),
            "time_isotropic_null_min_gap": float(tm["null_gap"].min()),
            "time_slope_abs_diff": abs(st_m - st_t),
            "width_max_rel_err": float(wm["rel"].max()),
            "width_isotropic_null_min_gap": float(wm["null_gap"].min()),
            "width_slope_abs_diff": abs(sw_m - sw_t),
        },
        detail=f"time: excess slope {st_m:.3f} measured vs {st_t:.3f} theory (asymptotic "
        f"-{bt:.3f}); width: slope {sw_m:.3f} vs {sw_t:.3f} (asymptotic -{bw:.3f}); "
        + "; ".join(f"N={r.x:g} {r.loss_m:.4f} vs {r.loss_t:.4f}" for r in wm.itertuples()),
    )


LAW = Law(
    name="icl-time-width-scaling",
    claim="one linear-attention layer, power-law FS covariance: SGD follows the multi-rate "
    "gradient-flow loss curve (a power law in time, not ISO's exponential), and rank-N "
    "key/query attention reaches the top-N principal-direction optimum",
    source="Bordelon, Letey, Pehlevan 2025, Theory of scaling laws for in-context regression "
    "(arXiv 2510.01098), FS setting, time and width (derived here for one layer)",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=icl_figures.time_width_figure,
    criterion=Criterion(
        Check(
            "time_max_rel_err",
            "<=",
            0.02,
            why="SGD noise (step/batch) and the lag of the discrete step: measured 0.38-0.68% "
            "at seeds 0-2; 2% is three times the worst",
        ),
        Check(
            "time_isotropic_null_min_gap",
            ">=",
            0.3,
            why="the one-rate ISO curve at the same trace is at least 76-77% off the "
            "measurement at every checkpoint (seeds 0-2); 30% tells the multi-rate law from it",
        ),
        Check(
            "time_slope_abs_diff",
            "<=",
            0.03,
            why="slope over the upper half of the checkpoints, -0.199 to -0.201 measured vs "
            "-0.200 theory (differences 0.0009-0.0011, seeds 0-2); 0.03 is far below the 0.09 "
            "between the finite-D and asymptotic slopes",
        ),
        Check(
            "width_max_rel_err",
            "<=",
            0.01,
            why="Adam (400 steps, cosine schedule) ends 0.12-0.13% above E_N at worst (seeds "
            "0-2); 1% leaves room for SGD noise, far below the 25-30% between neighbouring ranks",
        ),
        Check(
            "width_isotropic_null_min_gap",
            ">=",
            0.3,
            why="the isotropic rank law (linear in N) is at least 67% off the measured E_N (N = 1; "
            "259% at N = 8), seeds 0-2",
        ),
        Check(
            "width_slope_abs_diff",
            "<=",
            0.05,
            why="measured -0.780 vs theory -0.781 (differences 0.0012-0.0015, seeds 0-2); the "
            "asymptotic -(nu - 1) = -0.5 is 0.28 away",
        ),
    ),
    # 5% off is over twice the 2% time tolerance and 5 times the 1% width tolerance
    prediction=Prediction("loss", relative=0.05),
    theory_columns=COLUMNS,
    experiment_columns=EXP_COLUMNS,
    tags=("icl", "linear-attention", "scaling", "training-dynamics", "synthetic"),
    doc=__doc__ or "",
)

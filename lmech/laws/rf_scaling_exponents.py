r"""rf-scaling-exponents: bottleneck exponents of random-feature regression under gradient flow.

Claim:
    In the random-feature model with spectrum :math:`\lambda_k = k^{-b}` and target power
    :math:`\beta_k^2 = \lambda_k (w^*_k)^2 = k^{-a}`, the test loss falls as

    .. math:: L \sim t^{-(a-1)/b}\ (\text{time-limited}),\quad
              L \sim N^{-\min(a-1,\,b)}\ (\text{model-limited}),\quad
              L \sim P^{-\min(a-1,\,2b)}\ (\text{data-limited}),

    and the log-log slopes measured in simulation match these exponents to within 0.1
    (max over t, N and P).

System:
    M = ``num_features`` whitened modes, a = 2, b = 1.5 (exponents 2/3, 1, 1). Teacher
    y = g . beta with g ~ N(0, I_M); student f = w . A psi / sqrt(N), A ~ N(0, 1)^{N x M},
    w(0) = 0, gradient flow dw/dt = -grad L / 2, torch float64 on any device.

Measurement:
    * t: population gradient flow (P = infinity) at width ``time_width``; L(t) exact per
      eigenmode of B^T B (B = Lambda^{1/2} A^T / sqrt N) at ``num_times`` log-spaced times;
      its exponent is alpha of a fitted L = E + A t^-alpha (``lmech.fit.fit_powerlaw``),
      whose offset E absorbs the finite-width floor.
    * N: the converged population flow (t = infinity: the projection of beta on the span of
      the N features), nested widths (prefix rows of one A).
    * P: the converged flow with the full features (N = infinity: the min-norm interpolant
      of P noiseless samples), nested sample prefixes.
    Losses are averaged over ``trials`` independent draws; the N and P exponents are the
    slopes of least-squares lines through log L vs log x (those curves have no floor).

Where theory and experiment part:
    The exponents are asymptotic; fitted slopes carry finite-window curvature and the
    draw-to-draw noise of 12 (N, P) or 4 (t) averaged draws. Quick preset: measured
    (t, N, P) exponents 0.674, 0.984, 1.032 at seed 0 (max error 0.032), 0.666, 1.022,
    0.998 at seed 1 (0.022) and 0.677, 1.011, 1.073 at seed 2 (0.073), against 0.667, 1, 1.
    The exact single-bottleneck theory curves (theory table) have slopes 0.671 (t) and
    1.003, 1.028 (N, P) over the same windows; the P curve is the noisiest (min-norm
    interpolation fluctuates most at small P). A plain log-log slope of the finite-width
    time curve is biased low (0.61-0.66 at N = 500-1000) because the curve bends onto its
    floor L_N(N); the offset fit removes that bias. The model-limited exponent used here,
    min(a-1, b), comes from the projection's deterministic equivalent
    (:mod:`lmech.theory.scaling`); the reference notes state min(a-1, 2b), which agrees
    for a - 1 <= b as here. The paper preset (more modes, draws and wider windows) is
    meant for the issue's 0.05 target (not run here).

Source:
    Bordelon, Atanasov, Pehlevan, "A Dynamical Model of Neural Scaling Laws", ICML 2024
    (arXiv 2402.01092), Sec. 3-4 (bottleneck scalings).

Run:
    ``lmech check rf-scaling-exponents`` (quick: 3-45 s on the shared 2-core machine,
    depending on its load).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from lmech import progress
from lmech.errors import ConfigError
from lmech.experiment.random_features import population_flow, projection_loss, ridgeless_loss
from lmech.fit import fit_powerlaw
from lmech.laws.base import Law, Verdict
from lmech.theory.scaling import (
    bottleneck_exponents,
    loss_data_limited,
    loss_model_limited,
    loss_time_limited,
    power_law_model,
)

TOLERANCE = 0.1  # max |measured - predicted| exponent over t, N, P (issue 7, quick)
METRIC = "max_exponent_error"
RESOURCES = ("t", "N", "P")


@dataclass(frozen=True)
class Spec:
    """Power-law random-feature model; one field per hyperparameter."""

    num_features: int = 6000  # M: modes of the teacher's feature space
    target_exponent: float = 2.0  # a in beta_k^2 = k^-a
    spectrum_exponent: float = 1.5  # b in lambda_k = k^-b
    time_width: int = 500  # N of the time-limited curve (P = infinity)
    times: tuple[float, float] = (1.0, 1000.0)  # window of the time fit
    num_times: int = 20
    widths: tuple[int, ...] = (32, 50, 80, 127, 203, 322, 512)
    sizes: tuple[int, ...] = (32, 50, 80, 127, 203, 322, 512)
    trials: int = 12  # draws averaged for the N and P curves
    time_trials: int = 4  # draws averaged for the t curve (smoother, costlier)

    def __post_init__(self) -> None:
        if self.target_exponent <= 1 or self.spectrum_exponent <= 0:
            raise ConfigError(
                f"need target_exponent > 1 and spectrum_exponent > 0; got "
                f"{self.target_exponent}, {self.spectrum_exponent}"
            )
        big = max(self.time_width, *self.widths, *self.sizes)
        if big >= self.num_features:
            raise ConfigError(f"widths and sizes must be < num_features; got {big}")
        if len(self.widths) < 3 or len(self.sizes) < 3 or self.num_times < 3:
            raise ConfigError("need >= 3 widths, sizes and times to fit a slope")
        if not 0 < self.times[0] < self.times[1] or min(self.trials, self.time_trials) < 1:
            raise ConfigError(f"need 0 < t_min < t_max and trials >= 1; got {self.times}")

    def model(self) -> tuple[np.ndarray, np.ndarray]:
        """(lambda_k, beta_k^2)."""
        return power_law_model(self.num_features, self.target_exponent, self.spectrum_exponent)

    def time_grid(self) -> np.ndarray:
        return np.geomspace(self.times[0], self.times[1], self.num_times)


PRESETS = {
    "smoke": Spec(
        num_features=400,
        time_width=100,
        num_times=5,
        widths=(8, 16, 32),
        sizes=(8, 16, 32),
        trials=1,
        time_trials=1,
    ),
    "quick": Spec(),
    "paper": Spec(
        num_features=16000,
        time_width=4000,
        times=(1.0, 1000.0),
        num_times=30,
        widths=(32, 64, 128, 256, 512, 1024, 2048),
        sizes=(32, 64, 128, 256, 512, 1024, 2048),
        trials=40,
        time_trials=10,
    ),
}


def theory(spec: Spec) -> pd.DataFrame:
    lam, beta2 = spec.model()
    expo = bottleneck_exponents(spec.target_exponent, spec.spectrum_exponent)
    grids = {
        "t": spec.time_grid(),
        "N": np.array(spec.widths, float),
        "P": np.array(spec.sizes, float),
    }
    curves = {
        "t": loss_time_limited(grids["t"], lam, beta2),
        "N": loss_model_limited(grids["N"], lam, beta2),
        "P": loss_data_limited(grids["P"], lam, beta2),
    }
    rows = [
        {"resource": r, "x": float(x), "loss": float(v), "exponent": expo[r]}
        for r in RESOURCES
        for x, v in zip(grids[r], curves[r], strict=True)
    ]
    return pd.DataFrame(rows)


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    lam, beta2 = spec.model()
    beta = np.sqrt(beta2)
    gen = torch.Generator().manual_seed(seed)
    sums = {r: 0.0 for r in RESOURCES}
    with progress.task("random-feature flows", spec.trials + spec.time_trials) as advance:
        for _ in range(spec.time_trials):
            sums["t"] = sums["t"] + population_flow(
                lam, beta, spec.time_width, spec.time_grid(), gen, device
            )
            advance(1)
        for _ in range(spec.trials):
            sums["N"] = sums["N"] + projection_loss(lam, beta, spec.widths, gen, device)
            sums["P"] = sums["P"] + ridgeless_loss(lam, beta, spec.sizes, gen, device)
            advance(1)
    count = {"t": spec.time_trials, "N": spec.trials, "P": spec.trials}
    grids = {"t": spec.time_grid(), "N": spec.widths, "P": spec.sizes}
    rows = [
        {"resource": r, "x": float(x), "loss": float(v) / count[r], "trials": count[r]}
        for r in RESOURCES
        for x, v in zip(grids[r], sums[r], strict=True)
    ]
    return pd.DataFrame(rows)


def measured_exponents(meas: pd.DataFrame) -> dict[str, float]:
    """Exponent per resource: N and P, minus the least-squares slope of log L on log x
    (their curves have no floor); t, alpha of L = E + A t^-alpha (the offset E absorbs
    the finite-width floor L_N of the time curve; :func:`lmech.fit.fit_powerlaw`)."""
    out = {}
    for r, g in meas.groupby("resource", sort=False):
        if r == "t":
            out[r] = fit_powerlaw(g["x"].to_numpy(), g["loss"].to_numpy()).estimate["alpha"]
        else:
            out[r] = -float(np.polyfit(np.log(g["x"]), np.log(g["loss"]), 1)[0])
    return out


def compare(pred: pd.DataFrame, meas: pd.DataFrame) -> Verdict:
    got = measured_exponents(meas)
    want = pred.groupby("resource", sort=False)["exponent"].first().to_dict()
    err = {r: abs(got[r] - want[r]) for r in RESOURCES}
    detail = "; ".join(f"{r}: measured {got[r]:.3f} vs {want[r]:.3f}" for r in RESOURCES)
    return Verdict.from_metric(METRIC, max(err.values()), TOLERANCE, detail=detail)


def figure(pred: pd.DataFrame, meas: pd.DataFrame):
    got = measured_exponents(meas)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    labels = {
        "t": "time t (N = width, P = inf)",
        "N": "width N (t, P = inf)",
        "P": "samples P (t, N = inf)",
    }
    for ax, r in zip(axes, RESOURCES, strict=True):
        p, m = pred[pred.resource == r], meas[meas.resource == r]
        ax.plot(p["x"], p["loss"], "k-", lw=1, label=f"theory, slope -{p['exponent'].iloc[0]:.3f}")
        ax.plot(m["x"], m["loss"], "o", ms=4, label=f"simulation, slope -{got[r]:.3f}")
        ax.set(xscale="log", yscale="log", xlabel=labels[r], ylabel="test loss")
        ax.legend(fontsize=8)
    fig.suptitle("Random-feature scaling exponents (Bordelon, Atanasov, Pehlevan 2024)")
    fig.tight_layout()
    return fig


LAW = Law(
    name="rf-scaling-exponents",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    compare=compare,
    figure=figure,
    metric=METRIC,
    tolerance=TOLERANCE,
    source="Bordelon, Atanasov, Pehlevan 2024, A Dynamical Model of Neural Scaling Laws (arXiv 2402.01092), Sec. 3-4",
    claim="random-feature GD loss ~ t^-(a-1)/b, N^-min(a-1,b), P^-min(a-1,2b)",
    tags=("scaling", "random-features", "synthetic"),
    theory_columns=("resource", "x", "loss", "exponent"),
    experiment_columns=("resource", "x", "loss", "trials"),
    doc=__doc__ or "",
)

r"""rf-scaling-exponents: bottleneck exponents of random-feature regression under gradient flow.

Claim:
    In the random-feature model with spectrum :math:`\lambda_k = k^{-b}` and target power
    :math:`\beta_k^2 = \lambda_k (w^*_k)^2 = k^{-a}`, the test loss falls as

    .. math:: L \sim t^{-(a-1)/b}\ (\text{time-limited}),\quad
              L \sim N^{-\min(a-1,\,b)}\ (\text{model-limited}),\quad
              L \sim P^{-\min(a-1,\,2b)}\ (\text{data-limited}),

    and the log-log slopes measured in simulation match each of these exponents to
    within 0.1 (three checks: t, N and P).

System:
    M = ``num_features`` whitened modes, a = 2, b = 1.5 (exponents 2/3, 1, 1). Teacher
    y = g . beta with g ~ N(0, I_M); student f = w . A psi / sqrt(N), A ~ N(0, 1)^{N x M},
    w(0) = 0, gradient flow dw/dt = -grad L / 2, torch float64 on any device (draws on a
    CPU generator per (seed, curve, trial) stream, so CPU and CUDA see the same numbers).

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

Known limits:
    The exponents are asymptotic; fitted slopes carry finite-window curvature and the
    draw-to-draw noise of 12 (N, P) or 4 (t) averaged draws. The exact single-bottleneck
    theory curves (theory table) have slopes 0.671 (t) and 1.003, 1.028 (N, P) over the
    quick windows. Quick preset, measured (t, N, P) exponents against 0.667, 1, 1:
    0.663, 1.009, 1.072 at seed 0 (largest error 0.072, on P), 0.656, 1.034, 1.078 at
    seed 1 (0.078), 0.677, 0.995, 1.050 at seed 2 (0.050), 0.683, 0.983, 1.019 at seed 3
    (0.019) and 0.659, 1.026, 1.020 at seed 4 (0.026); over these seeds the t error stays
    below 0.016 and the N error below 0.035.
    The P curve is the noisiest (min-norm interpolation fluctuates most at small P). A
    plain log-log slope of the finite-width time curve is biased low (0.61-0.66 at
    N = 500-1000) because the curve bends onto its floor L_N(N); the offset fit removes
    that bias. The model-limited exponent used here, min(a-1, b), comes from the
    projection's deterministic equivalent (:mod:`lmech.theory.scaling`); summaries that
    quote min(a-1, 2b) agree for a - 1 <= b, as here. The paper preset (more modes,
    draws and wider windows) aims at errors below 0.05 (not run here).

Source:
    Bordelon, Atanasov, Pehlevan, "A Dynamical Model of Neural Scaling Laws", ICML 2024
    (arXiv 2402.01092), Sec. 3-4 (bottleneck scalings).

Run:
    ``lmech check rf-scaling-exponents`` (quick: 3-45 s on the shared 2-core machine,
    depending on its load).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech import progress
from lmech.experiment.random_features import population_flow, projection_loss, ridgeless_loss
from lmech.fit import fit_powerlaw
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.scaling import _figures
from lmech.laws.scaling._rf import ModelSpec, draw_mean
from lmech.laws.spec import param
from lmech.theory.scaling import (
    bottleneck_exponents,
    loss_data_limited,
    loss_model_limited,
    loss_time_limited,
)

RESOURCES = ("t", "N", "P")
_GRID = (32, 50, 80, 127, 203, 322, 512)


@dataclass(frozen=True)
class Spec(ModelSpec):
    """Power-law random-feature model; one field per hyperparameter."""

    time_width: int = param(500, ge=1, doc="N of the time-limited curve (P = infinity)")
    times: tuple[float, float] = param((1.0, 1000.0), gt=0, increasing=True, doc="t window")
    num_times: int = param(20, ge=3, doc="log-spaced times (>= 3 to fit E, A, alpha)")
    widths: tuple[int, ...] = param(_GRID, ge=1, min_len=3, increasing=True, doc="nested N")
    sizes: tuple[int, ...] = param(_GRID, ge=1, min_len=3, increasing=True, doc="nested P")
    trials: int = param(12, ge=1, doc="draws averaged for the N and P curves")
    time_trials: int = param(4, ge=1, doc="draws averaged for the t curve (costlier)")

    def validate(self) -> None:
        self.below_modes(time_width=(self.time_width,), widths=self.widths, sizes=self.sizes)

    def memory_bytes(self) -> int:
        # float64: the largest projection or feature matrix (N or P rows x M modes) with
        # its scaled copy and products (3 N M), its Gram, eigensystem or Cholesky factor
        # (5 N^2), the theory's mode-by-grid arrays (4 M x grid points),
        # and 64 MiB for the interpreter and torch's temporaries
        M = self.num_features
        rows = max(self.time_width, max(self.widths), max(self.sizes))
        grid = self.num_times + len(self.widths) + len(self.sizes)
        return 2**26 + 8 * (3 * rows * M + 5 * rows * rows + 4 * M * grid)

    def grids(self) -> dict[str, np.ndarray]:
        t = np.geomspace(self.times[0], self.times[1], self.num_times)
        return {"t": t, "N": np.array(self.widths, float), "P": np.array(self.sizes, float)}


PRESETS = {
    "smoke": Spec(
        num_features=400, time_width=100, num_times=5, widths=(8, 16, 32), sizes=(8, 16, 32),
        trials=1, time_trials=1,
    ),
    "quick": Spec(),
    "paper": Spec(
        num_features=16000, time_width=4000, num_times=30,
        widths=(32, 64, 128, 256, 512, 1024, 2048), sizes=(32, 64, 128, 256, 512, 1024, 2048),
        trials=40, time_trials=10,
    ),
}  # fmt: skip


def _table(grids, curves, extra) -> pd.DataFrame:
    rows = [
        {"resource": r, "x": float(x), "loss": float(v), **extra(r)}
        for r in RESOURCES
        for x, v in zip(grids[r], curves[r], strict=True)
    ]
    return pd.DataFrame(rows)


def theory(spec: Spec) -> pd.DataFrame:
    lam, beta = spec.model()
    grids, beta2 = spec.grids(), beta**2
    curves = {
        "t": loss_time_limited(grids["t"], lam, beta2),
        "N": loss_model_limited(grids["N"], lam, beta2),
        "P": loss_data_limited(grids["P"], lam, beta2),
    }
    expo = bottleneck_exponents(spec.target_exponent, spec.spectrum_exponent)
    return _table(grids, curves, lambda r: {"exponent": expo[r]})


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    lam, beta = spec.model()
    grids = spec.grids()
    count = {"t": spec.time_trials, "N": spec.trials, "P": spec.trials}
    draws = {  # one stream per (seed, curve, trial): adding trials never shifts a curve
        "t": lambda g: population_flow(lam, beta, spec.time_width, grids["t"], g, device),
        "N": lambda g: projection_loss(lam, beta, spec.widths, g, device),
        "P": lambda g: ridgeless_loss(lam, beta, spec.sizes, g, device),
    }
    with progress.task("random-feature flows", sum(count.values())) as advance:
        curves = {r: draw_mean(draws[r], seed, r, count[r], advance) for r in RESOURCES}
    return _table(grids, curves, lambda r: {"trials": count[r]})


def measured_exponents(meas: pd.DataFrame) -> dict[str, float]:
    """Exponent per resource: N and P, minus the least-squares slope of log L on log x
    (their curves have no floor); t, alpha of L = E + A t^-alpha (the offset E absorbs
    the finite-width floor L_N of the time curve; :func:`lmech.fit.fit_powerlaw`)."""
    out = {}
    for r, g in meas.groupby("resource", sort=False):
        x, y = g["x"].to_numpy(), g["loss"].to_numpy()
        if r == "t":
            out[r] = fit_powerlaw(x, y).estimate["alpha"]
        else:
            out[r] = -float(np.polyfit(np.log(x), np.log(y), 1)[0])
    return out


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    """``exponent_error_<r>`` = |measured - predicted exponent| for r = t, N, P."""
    got = measured_exponents(meas)
    want = pred.groupby("resource", sort=False)["exponent"].first()
    detail = "; ".join(f"{r}: measured {got[r]:.3f} vs {want[r]:.3f}" for r in RESOURCES)
    return Evaluation({f"exponent_error_{r}": abs(got[r] - want[r]) for r in RESOURCES}, detail)


def figure(pred: pd.DataFrame, meas: pd.DataFrame):
    return _figures.exponents(pred, meas, measured_exponents(meas))


LAW = Law(
    name="rf-scaling-exponents",
    claim="random-feature GD loss ~ t^-(a-1)/b, N^-min(a-1,b), P^-min(a-1,2b)",
    source="Bordelon, Atanasov, Pehlevan 2024, A Dynamical Model of Neural Scaling Laws "
    "(arXiv 2402.01092), Sec. 3-4",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            "exponent_error_t",
            "<=",
            0.1,
            why="window bias of the offset fit (exact curve: 0.671 vs 2/3) plus the scatter "
            "of 4 averaged draws (errors <= 0.016 over seeds 0-4)",
        ),
        Check(
            "exponent_error_N",
            "<=",
            0.1,
            why="window curvature (exact curve: 1.003 vs 1) plus the scatter of 12 "
            "averaged projections (errors <= 0.035 over seeds 0-4)",
        ),
        Check(
            "exponent_error_P",
            "<=",
            0.1,
            why="window curvature (exact curve: 1.028 vs 1) plus the scatter of 12 "
            "min-norm interpolants, the noisiest curve (errors <= 0.078 over seeds 0-4)",
        ),
    ),
    # an exponent 0.25 off: a passing measurement is within 0.1 of the truth, so it is
    # at least 0.15 from the moved value, beyond the 0.1 tolerance for either sign
    prediction=Prediction("exponent", absolute=0.25),
    theory_columns=("resource", "x", "loss", "exponent"),
    experiment_columns=("resource", "x", "loss", "trials"),
    tags=("scaling", "random-features", "synthetic"),
    doc=__doc__ or "",
)

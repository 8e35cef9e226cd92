r"""rf-compute-optimal: the compute-optimal width of random-feature regression, N* ~ C^{1/(1+b)}.

Claim:
    For the random-feature model trained by gradient flow on the population loss
    (one-pass data), with :math:`\lambda_k = k^{-b}`, :math:`\beta_k^2 = k^{-a}`, and
    compute C = N t, balancing the time and width bottlenecks
    :math:`L \approx t^{-(a-1)/b} + N^{-m}` (m = min(a-1, b)) gives

    .. math:: N^*(C) \sim C^{(a-1)/(a-1+bm)} \;(= C^{1/(1+b)} \text{ for } a-1 \le b),

    and the measured slope of log N* against log C matches this exponent within 0.1.

System:
    The model of ``rf-scaling-exponents``: M = ``num_features`` modes, a = 2, b = 1.5
    (predicted N* ~ C^0.4, t* ~ C^0.6, L* ~ C^-0.4). The widths are nested (the first N
    rows of one projection A, so every width sees the same draw: common random numbers
    keep the flat IsoFLOP minima from being moved by draw-to-draw noise); L(N, t) is
    computed exactly per eigenmode of the flow (torch float64) and averaged over
    ``trials`` draws of A, one CPU stream per (seed, trial).

Measurement:
    At each budget C, the loss along the IsoFLOP line t = C/N; N* is the vertex of a
    parabola through log L at the three grid widths around the minimum (Approach 2 of
    Hoffmann et al. on a simulated model). The exponent is the least-squares slope of
    log N* on log C.

Known limits:
    The exponent is asymptotic in C, and the additive bottleneck form is exact only where
    one term dominates; at the optimum the two are comparable by construction. The theory
    table's own numerical optimum (exact L_t + exact L_N minimized over N) has slope 0.423
    over the quick budgets (N* from about 26 to 260), so the finite range alone puts the
    slope 0.02 above 0.4. Quick preset, measured against 0.400: 0.373 (seed 0), 0.466
    (seed 1), 0.350 (seed 2), 0.412 (seed 3), 0.403 (seed 4), errors up to 0.066.
    The spread comes from the flat IsoFLOP minima (a 3-point parabola on a grid with
    ratio sqrt(2) between widths).

Source:
    Bordelon, Atanasov, Pehlevan, "A Dynamical Model of Neural Scaling Laws", ICML 2024
    (arXiv 2402.01092), Sec. 5 (compute-optimal scaling).

Run:
    ``lmech check rf-compute-optimal`` (quick: 1-30 s on the shared 2-core machine,
    depending on its load).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech import progress
from lmech.experiment.random_features import nested_population_flow
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.scaling import _figures
from lmech.laws.scaling._rf import ModelSpec, draw_mean
from lmech.laws.spec import param
from lmech.theory.scaling import compute_optimal_allocation, compute_optimal_exponents


@dataclass(frozen=True)
class Spec(ModelSpec):
    """One-pass (population) random-feature flow; compute C = N t."""

    widths: tuple[int, ...] = param(
        (8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512, 724),
        ge=1, min_len=3, increasing=True, doc="nested widths N (3 around each minimum)",
    )  # fmt: skip
    budgets: tuple[float, ...] = param(
        (100.0, 220.0, 480.0, 1000.0, 2200.0, 4800.0, 10000.0, 22000.0),
        gt=0, min_len=2, increasing=True, doc="compute budgets C = N t (>= 2 for a slope)",
    )  # fmt: skip
    trials: int = param(3, ge=1, doc="draws of the projection A averaged")

    def memory_bytes(self) -> int:
        # float64: the widest projection (N x M) with its scaled copy and products (3 N M),
        # its Gram and per-width eigensystems (5 N^2), the theory's mode-by-(width,
        # budget) arrays (4 M W C) and the decay table (N W C),
        # and 64 MiB for the interpreter and torch's temporaries
        M, N = self.num_features, max(self.widths)
        grid = len(self.widths) * len(self.budgets)
        return 2**26 + 8 * (3 * N * M + 5 * N * N + 4 * M * grid + N * grid)

    def validate(self) -> None:
        self.below_modes(widths=self.widths)


PRESETS = {
    "smoke": Spec(num_features=400, widths=(4, 8, 16, 32, 64), budgets=(50.0, 200.0), trials=1),
    "quick": Spec(),
    "paper": Spec(
        num_features=20000,
        widths=tuple(int(round(w)) for w in np.geomspace(8, 4096, 28)),
        budgets=tuple(float(c) for c in np.geomspace(200, 1e6, 12)),
        trials=10,
    ),
}


def theory(spec: Spec) -> pd.DataFrame:
    lam, beta = spec.model()
    n, t, loss = compute_optimal_allocation(np.array(spec.budgets), lam, beta**2)
    expo = compute_optimal_exponents(spec.target_exponent, spec.spectrum_exponent)
    return pd.DataFrame(
        {"C": spec.budgets, "N_star": n, "t_star": t, "loss_star": loss}
        | {f"exponent_{k}": v for k, v in expo.items()}  # exponent_N, exponent_t, exponent_L
    )


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    lam, beta = spec.model()
    C, widths = np.array(spec.budgets), np.array(spec.widths)
    times = C[None, :] / widths[:, None]  # (W, c): t = C/N on each IsoFLOP line
    with progress.task("compute-optimal flows", spec.trials) as advance:
        loss = draw_mean(
            lambda g: nested_population_flow(lam, beta, widths, times, g, device),
            seed, "projection", spec.trials, advance,
        )  # fmt: skip
    rows = [
        {"C": c, "N": int(n), "t": c / n, "loss": loss[i, j]}
        for i, n in enumerate(widths)
        for j, c in enumerate(C)
    ]
    return pd.DataFrame(rows)


def optimal_widths(meas: pd.DataFrame) -> pd.DataFrame:
    """N*(C): vertex of the parabola through log L at the 3 grid widths around the minimum."""
    out = []
    for c, g in meas.groupby("C"):
        g = g.sort_values("N")
        x, y = np.log(g["N"].to_numpy(float)), np.log(g["loss"].to_numpy())
        j = int(np.clip(np.argmin(y), 1, len(x) - 2))
        xs, ys = x[j - 1 : j + 2], y[j - 1 : j + 2]
        c2, c1, _ = np.polyfit(xs, ys, 2)
        v = -c1 / (2 * c2) if c2 > 0 else xs[1]
        out.append({"C": c, "N_star": float(np.exp(np.clip(v, xs[0], xs[2])))})
    return pd.DataFrame(out)


def measured_exponent(meas: pd.DataFrame) -> float:
    opt = optimal_widths(meas)
    return float(np.polyfit(np.log(opt["C"]), np.log(opt["N_star"]), 1)[0])


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    """``exponent_error_N_star`` = |measured slope of log N* - predicted exponent_N|."""
    got, want = measured_exponent(meas), float(pred["exponent_N"].iloc[0])
    num = float(np.polyfit(np.log(pred["C"]), np.log(pred["N_star"]), 1)[0])
    detail = (
        f"N* ~ C^{got:.3f} measured vs C^{want:.3f} predicted (bottleneck-sum optimum C^{num:.3f})"
    )
    return Evaluation({"exponent_error_N_star": abs(got - want)}, detail)


def figure(pred: pd.DataFrame, meas: pd.DataFrame):
    return _figures.compute_optimal(pred, meas, optimal_widths(meas), measured_exponent(meas))


LAW = Law(
    name="rf-compute-optimal",
    claim="compute-optimal width of random-feature GD: N* ~ C^((a-1)/(a-1+b min(a-1,b)))",
    source="Bordelon, Atanasov, Pehlevan 2024, A Dynamical Model of Neural Scaling Laws "
    "(arXiv 2402.01092), Sec. 5",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            "exponent_error_N_star",
            "<=",
            0.1,
            why="finite budget range (the exact optimum's slope is 0.423 vs 0.4) plus the "
            "vertex scatter of flat IsoFLOP minima on a sqrt(2) width grid (errors <= 0.066, "
            "seeds 0-4)",
        ),
    ),
    # an exponent 0.25 off: a passing measurement is within 0.1 of the truth, so it is
    # at least 0.15 from the moved value, beyond the 0.1 tolerance for either sign
    prediction=Prediction("exponent_N", absolute=0.25),
    theory_columns=("C", "N_star", "t_star", "loss_star", "exponent_N"),
    experiment_columns=("C", "N", "t", "loss"),
    tags=("scaling", "random-features", "compute-optimal", "synthetic"),
    doc=__doc__ or "",
)

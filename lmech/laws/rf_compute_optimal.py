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
    ``trials`` draws of A.

Measurement:
    At each budget C, the loss along the IsoFLOP line t = C/N; N* is the vertex of a
    parabola through log L at the three grid widths around the minimum (Approach 2 of
    Hoffmann et al. on a simulated model). The exponent is the least-squares slope of
    log N* on log C.

Where theory and experiment part:
    The exponent is asymptotic in C, and the additive bottleneck form is exact only where
    one term dominates; at the optimum the two are comparable by construction. The theory
    table's own numerical optimum (exact L_t + exact L_N minimized over N) has slope 0.423
    over the quick budgets (N* from about 20 to 210), so the finite range alone puts the
    slope 0.02 above 0.4. Quick preset: measured 0.436 (seed 0), 0.387 (seed 1), 0.450
    (seed 2) against 0.400; the spread comes from the flat IsoFLOP minima (a 3-point
    parabola on a grid with ratio sqrt(2) between widths).

Source:
    Bordelon, Atanasov, Pehlevan, "A Dynamical Model of Neural Scaling Laws", ICML 2024
    (arXiv 2402.01092), Sec. 5 (compute-optimal scaling).

Run:
    ``lmech check rf-compute-optimal`` (quick: 1-30 s on the shared 2-core machine,
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
from lmech.experiment.random_features import nested_population_flow
from lmech.laws.base import Law, Verdict
from lmech.theory.scaling import (
    compute_optimal_allocation,
    compute_optimal_exponents,
    power_law_model,
)

TOLERANCE = 0.1  # |measured - predicted| exponent of N*(C) (issue 7)
METRIC = "exponent_error"


@dataclass(frozen=True)
class Spec:
    """One-pass (population) random-feature flow; compute C = N t."""

    num_features: int = 6000  # M
    target_exponent: float = 2.0  # a
    spectrum_exponent: float = 1.5  # b
    widths: tuple[int, ...] = (8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512, 724)
    budgets: tuple[float, ...] = (100.0, 220.0, 480.0, 1000.0, 2200.0, 4800.0, 10000.0, 22000.0)
    trials: int = 3

    def __post_init__(self) -> None:
        if self.target_exponent <= 1 or self.spectrum_exponent <= 0:
            raise ConfigError("need target_exponent > 1 and spectrum_exponent > 0")
        if max(self.widths) >= self.num_features or len(self.widths) < 3:
            raise ConfigError("need >= 3 widths, all < num_features")
        if len(self.budgets) < 2 or min(self.budgets) <= 0 or self.trials < 1:
            raise ConfigError("need >= 2 positive budgets and trials >= 1")

    def model(self) -> tuple[np.ndarray, np.ndarray]:
        return power_law_model(self.num_features, self.target_exponent, self.spectrum_exponent)


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
    lam, beta2 = spec.model()
    n, t, loss = compute_optimal_allocation(np.array(spec.budgets), lam, beta2)
    expo = compute_optimal_exponents(spec.target_exponent, spec.spectrum_exponent)
    return pd.DataFrame(
        {
            "C": spec.budgets,
            "N_star": n,
            "t_star": t,
            "loss_star": loss,
            "exponent_N": expo["N"],
            "exponent_t": expo["t"],
            "exponent_L": expo["L"],
        }
    )


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    lam, beta2 = spec.model()
    beta = np.sqrt(beta2)
    gen = torch.Generator().manual_seed(seed)
    C = np.array(spec.budgets)
    widths = np.array(spec.widths)
    times = C[None, :] / widths[:, None]  # (W, c): t = C/N on each IsoFLOP line
    total = np.zeros(times.shape)
    with progress.task("compute-optimal flows", spec.trials) as advance:
        for _ in range(spec.trials):
            total += nested_population_flow(lam, beta, widths, times, gen, device)
            advance(1)
    rows = [
        {"C": c, "N": int(n), "t": c / n, "loss": total[i, j] / spec.trials}
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


def compare(pred: pd.DataFrame, meas: pd.DataFrame) -> Verdict:
    got, want = measured_exponent(meas), float(pred["exponent_N"].iloc[0])
    num = float(np.polyfit(np.log(pred["C"]), np.log(pred["N_star"]), 1)[0])
    detail = (
        f"N* ~ C^{got:.3f} measured vs C^{want:.3f} predicted (bottleneck-sum optimum C^{num:.3f})"
    )
    return Verdict.from_metric(METRIC, abs(got - want), TOLERANCE, detail=detail)


def figure(pred: pd.DataFrame, meas: pd.DataFrame):
    opt = optimal_widths(meas)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    cmap = plt.cm.viridis
    cs = sorted(meas["C"].unique())
    for i, (c, g) in enumerate(meas.groupby("C")):
        ax.plot(
            g["N"], g["loss"], "-o", ms=3, color=cmap(i / max(1, len(cs) - 1)), label=f"C={c:.3g}"
        )
    ax.set(xscale="log", yscale="log", xlabel="width N (t = C/N)", ylabel="test loss")
    ax.set_title("IsoFLOP profiles (simulation)")
    ax.legend(fontsize=7)
    got, want = measured_exponent(meas), float(pred["exponent_N"].iloc[0])
    bx.plot(opt["C"], opt["N_star"], "o", label=f"simulation, slope {got:.3f}")
    bx.plot(pred["C"], pred["N_star"], "k-", label="theory optimum (bottleneck sum)")
    ref = pred["N_star"].iloc[0] * (pred["C"] / pred["C"].iloc[0]) ** want
    bx.plot(pred["C"], ref, "k:", label=f"C^{want:.3f}")
    bx.set(xscale="log", yscale="log", xlabel="compute C = N t", ylabel="N*")
    bx.legend(fontsize=8)
    fig.tight_layout()
    return fig


LAW = Law(
    name="rf-compute-optimal",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    compare=compare,
    figure=figure,
    metric=METRIC,
    tolerance=TOLERANCE,
    source="Bordelon, Atanasov, Pehlevan 2024, A Dynamical Model of Neural Scaling Laws (arXiv 2402.01092), Sec. 5",
    claim="compute-optimal width of random-feature GD: N* ~ C^((a-1)/(a-1+b min(a-1,b)))",
    tags=("scaling", "random-features", "compute-optimal", "synthetic"),
    theory_columns=("C", "N_star", "t_star", "loss_star", "exponent_N"),
    experiment_columns=("C", "N", "t", "loss"),
    doc=__doc__ or "",
)

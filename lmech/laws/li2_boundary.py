r"""li2-boundary: the memorization-generalization boundary p* = c ln M / M across group sizes.

Claim:
    Li^2's sample-complexity result (Tian 2025, Thm 4): a generalizing maximum of the
    energy survives in the empirical energy once n >~ M log M training pairs, i.e. a
    critical training fraction p* = c ln M / M for Z_M with one constant c. Over a phase
    diagram of (M, training fraction) with several seeds per cell, one fitted c separates
    the runs that generalize from those that memorize, for every M at once.

System:
    The grokking-modular-addition network (x^2, width 128, no biases, MSE on Y_t, Adam lr
    5e-3), weight decay 1e-3 / M (Adam's coupled decay against a loss averaged over the M
    outputs; 4.6e-3 / M kept Z_41 at chance even on its training set), 1000 full-batch
    steps. Quick: M in {23, 31, 41}; fractions c' ln M / M for c' in {1.5, 2, 2.5, 3, 3.5, 4,
    5}; 2 seeds (each seed its own split and init). All runs of one M are one vmapped
    program.

Measurement and fit:
    A run generalizes when its final test accuracy (held-out pairs) is >= 0.9. With
    x = fraction M / ln M, the fitted c minimizes the number of runs misclassified by
    "generalizes iff x >= c" (the midpoint of the optimal interval); its 95% interval is the
    percentile interval of that fit over 1000 bootstrap resamples of the runs. The same
    fit with a constant threshold on the fraction (p* independent of M) is reported for
    contrast.

Metric:
    The share of runs the fitted boundary classifies correctly (higher is better);
    tolerance 0.9. Measured at the quick preset (seed 0): the boundary lies in
    c' in (2.5, 3.0] for M = 23 and 31 and in (3.0, 3.5] for M = 41 (test accuracies 0.05
    and 0.09 at c' = 3); the fitted c = 2.75 misclassifies those 2 of 42 runs (95.2%).

Limits of the quick preset (stated, not hidden):
    ln M / M changes only 1.5x over M = 23..41, and at this grid a constant training
    fraction (p* independent of M) also separates 95.2% of the runs: the quick phase
    diagram is consistent with the Li^2 form but does not discriminate it from a constant
    boundary. The paper preset (M up to 127, ln M / M changing 3x, a finer c' grid) is
    the test that can; it was not run on this CPU.

Source:
    Y. Tian, Li^2 (arXiv 2509.21519), Thm 4 and Fig. 5 (phase diagram of modular addition
    with the c ln M / M boundary).

Run:
    ``lmech check li2-boundary`` (quick, ~1.5 min on 2 CPU cores).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lmech import progress
from lmech.data.groups import cyclic
from lmech.errors import ConfigError
from lmech.experiment.group import train_on_group
from lmech.laws.base import Law, Verdict

TOLERANCE = 0.9
METRIC = "share_of_runs_separated"
BOOTSTRAP = 1000  # resamples of the runs for the interval of c


@dataclass(frozen=True)
class Spec:
    orders: tuple[int, ...] = (23, 31, 41)
    c_grid: tuple[float, ...] = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0)
    seeds: tuple[int, ...] = (0, 1)
    width: int = 128
    lr: float = 5e-3
    weight_decay_times_M: float = 1e-3
    steps: int = 1000
    threshold: float = 0.9  # final test accuracy at which a run counts as generalizing

    def __post_init__(self) -> None:
        if len(self.orders) < 2 or min(self.orders) < 5:
            raise ConfigError(f"at least two group orders >= 5 are needed; got {self.orders}")
        if not self.c_grid or min(self.c_grid) <= 0 or not self.seeds:
            raise ConfigError("c_grid must be positive and seeds non-empty")
        for M in self.orders:
            top = max(self.c_grid) * np.log(M) / M
            if top >= 1:
                raise ConfigError(
                    f"c' = {max(self.c_grid)} gives a fraction {top:.2f} >= 1 at M = {M}"
                )
        if min(self.width, self.steps) < 1 or not 0 < self.threshold <= 1:
            raise ConfigError("width, steps >= 1 and a threshold in (0, 1] are needed")


PRESETS = {
    "smoke": Spec(orders=(7, 11), c_grid=(1.0, 2.5), seeds=(0,), width=16, steps=20),
    "quick": Spec(),
    "paper": Spec(
        orders=(23, 31, 41, 53, 71, 97, 127),
        c_grid=(1.5, 2.0, 2.25, 2.5, 2.75, 3.0, 3.25, 3.5, 4.0, 5.0),
        seeds=(0, 1, 2, 3, 4),
        width=512,
        steps=3000,
    ),
}


def theory(spec: Spec) -> pd.DataFrame:
    """The grid in fraction units: p = c' ln M / M (the Li^2 form evaluated at each c')."""
    rows = [
        {"M": M, "c_prime": c, "ln_M_over_M": np.log(M) / M, "fraction": c * np.log(M) / M}
        for M in spec.orders
        for c in spec.c_grid
    ]
    return pd.DataFrame(rows)


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    tables = []
    with progress.task("phase diagram (group orders)", len(spec.orders)) as advance:
        for M in spec.orders:
            cells = [(c, s + 1000 * seed) for c in spec.c_grid for s in spec.seeds]
            fractions = [c * np.log(M) / M for c, _ in cells]
            curves, _, masks = train_on_group(
                cyclic(M),
                seeds=[s for _, s in cells],
                fractions=fractions,
                weight_decays=[spec.weight_decay_times_M / M] * len(cells),
                width=spec.width,
                steps=spec.steps,
                lr=spec.lr,
                device=device,
            )
            final = curves[curves["step"] == spec.steps].sort_values("member")
            tables.append(
                pd.DataFrame(
                    {
                        "M": M,
                        "c_prime": [c for c, _ in cells],
                        "seed": [s for _, s in cells],
                        "fraction": fractions,
                        "train_pairs": masks.sum(1),
                        "train_accuracy": final["train_accuracy"].to_numpy(),
                        "test_accuracy": final["test_accuracy"].to_numpy(),
                        "generalized": final["test_accuracy"].to_numpy() >= spec.threshold,
                    }
                )
            )
            advance(1)
    return pd.concat(tables, ignore_index=True)


def _best_threshold(x: np.ndarray, ok: np.ndarray) -> tuple[float, float]:
    """(threshold, accuracy) of "ok iff x >= t" with the fewest errors; midpoint of the
    optimal interval between consecutive distinct x."""
    xs = np.unique(x)
    cands = np.concatenate([[xs[0] - 1.0], (xs[:-1] + xs[1:]) / 2, [xs[-1] + 1.0]])
    acc = np.array([((x >= t) == ok).mean() for t in cands])
    best = np.flatnonzero(acc == acc.max())
    return float(np.median(cands[best])), float(acc.max())


def _fit(meas: pd.DataFrame):
    # x = the design coordinate c' = fraction M / ln M, taken from the grid: the pair
    # counts are rounded to integers, which moves x by ~1e-3 between orders, and a
    # threshold must not separate cells on that rounding
    x = meas["c_prime"].to_numpy()
    ok = meas["generalized"].to_numpy(dtype=bool)
    return x, ok, *_best_threshold(x, ok)


def compare(pred: pd.DataFrame, meas: pd.DataFrame) -> Verdict:
    del pred
    x, ok, c_hat, acc = _fit(meas)
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(BOOTSTRAP):
        i = rng.integers(0, len(x), len(x))
        boot.append(_best_threshold(x[i], ok[i])[0])
    lo, hi = np.percentile(boot, [2.5, 97.5])
    _, const_acc = _best_threshold(meas["fraction"].to_numpy(), ok)
    per_m = []
    for M, g in meas.groupby("M"):
        gx = g["c_prime"].to_numpy()
        gok = g["generalized"].to_numpy(dtype=bool)
        fail = gx[~gok].max() if (~gok).any() else float("nan")
        succ = gx[gok].min() if gok.any() else float("nan")
        per_m.append(f"M={M}: boundary c' in ({fail:.2f}, {succ:.2f}]")
    detail = (
        f"fitted c = {c_hat:.3f} (95% bootstrap CI {lo:.3f}..{hi:.3f}); it separates "
        f"{acc:.1%} of {len(x)} runs; a constant fraction threshold separates {const_acc:.1%}; "
        + "; ".join(per_m)
    )
    return Verdict.from_metric(METRIC, acc, TOLERANCE, higher_is_better=True, detail=detail)


def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    x, ok, c_hat, acc = _fit(meas)
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    ax, bx = fig.subplots(1, 2)
    cells = meas.groupby(["M", "fraction"], as_index=False)["generalized"].mean()
    sc = ax.scatter(cells["M"], cells["fraction"], c=cells["generalized"], cmap="coolwarm_r",
                    vmin=0, vmax=1, s=90, edgecolor="k", zorder=3)  # fmt: skip
    Ms = np.linspace(min(meas["M"]) * 0.9, max(meas["M"]) * 1.1, 100)
    ax.plot(Ms, c_hat * np.log(Ms) / Ms, "k-", lw=1.5, label=f"p* = {c_hat:.2f} ln M / M")
    ax.set_xlabel("group order M (Z_M)")
    ax.set_ylabel("training fraction")
    ax.set_title(f"phase diagram; fitted boundary separates {acc:.0%} of runs", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    fig.colorbar(sc, ax=ax, label="share of seeds that generalize")
    for i, (M, g) in enumerate(meas.groupby("M")):
        jitter = (i - 1) * 0.04  # side by side at each c'
        bx.plot(g["c_prime"] + jitter, g["test_accuracy"], "o", color=f"C{i}", alpha=0.7,
                label=f"M = {M}")  # fmt: skip
    bx.axvline(c_hat, color="k", lw=1.2, label=f"fitted c = {c_hat:.2f}")
    bx.set_xlabel("fraction x M / ln M  (= c')")
    bx.set_ylabel("final test accuracy")
    bx.set_title("collapse in the Li^2 coordinate", fontsize=10)
    bx.legend(fontsize=8, frameon=False)
    bx.grid(True, alpha=0.25)
    fig.suptitle("Li^2 memorization-generalization boundary on Z_M", fontsize=11)
    return fig


LAW = Law(
    name="li2-boundary",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    compare=compare,
    figure=figure,
    metric=METRIC,
    tolerance=TOLERANCE,
    source="Tian 2025, Li^2 (arXiv 2509.21519), Thm 4 and Fig. 5",
    claim="one fitted c in p* = c ln M / M separates generalizing from memorizing runs "
    "across group orders M",
    tags=("grokking", "li2", "groups", "scaling"),
    theory_columns=("M", "c_prime", "ln_M_over_M", "fraction"),
    experiment_columns=(
        "M",
        "c_prime",
        "seed",
        "fraction",
        "train_pairs",
        "train_accuracy",
        "test_accuracy",
        "generalized",
    ),  # fmt: skip
    doc=__doc__ or "",
    higher_is_better=True,
)

r"""li2-top-down: once some frequencies are learned, new features go to the missing ones.

Claim:
    Li^2's top-down modulation. Once the hidden layer represents the irreps in a set S,
    the residual left by the top layer has no component on S, so the energy a new hidden
    unit climbs is E restricted to the classes outside S (:func:`lmech.theory.grokking.
    modulated_energy`).
    - Theory: gradient ascent on the modulated energy from random starts ends only at
      frequencies outside S (with E = M/4, as for the full energy).
    - Experiment: in a trained network keep only the units whose frequency is in S,
      re-initialize all the others, and train on: the re-initialized units that become
      single-frequency pick frequencies outside S.
    Metric: the smaller of the two shares (theory starts ending outside S; new
    single-frequency units outside S); it must be >= 0.9. Chance for the experiment is
    |outside S| / (number of frequencies), 6/11 at the quick preset.

System:
    Z_23 with the grokking-modular-addition setting (x^2, width 128, training fraction
    0.5, Adam lr 5e-3, weight decay 2e-4). Stage 1: ``pretrain_steps`` steps from seed 0,
    which learns all 11 frequencies (see that law). S = frequencies 1..5. Stage 2: the
    units whose dominant frequency is in S keep their input and output weights; every
    other unit is re-drawn from the initial distribution (seed 1); ``steps`` more steps
    with fresh Adam state.

Measurement:
    Dominant frequency of each re-initialized unit at the end, among those alive (power
    > 1e-3 of the largest unit's) and single-frequency (> 90% of their non-constant
    power); and the frequencies reached by the theory's ascent (24 starts).

Source:
    Y. Tian, Li^2 (arXiv 2509.21519), Sec. 5 (Stage III: interactive feature learning,
    top-down modulation).

Run:
    ``lmech check li2-top-down`` (quick, ~1 min on 2 CPU cores).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from lmech.data.groups import cyclic, train_test_split
from lmech.errors import ConfigError
from lmech.laws._grokking import draw_power
from lmech.laws.base import Law, Verdict
from lmech.measure.fourier import neuron_power, single_irrep_units
from lmech.nn.group import GroupMLP, group_data
from lmech.theory.grokking import energy_ascent

TOLERANCE = 0.9
METRIC = "min_share_outside_learned"


@dataclass(frozen=True)
class Spec:
    M: int = 23
    learned: tuple[int, ...] = (1, 2, 3, 4, 5)
    fraction: float = 0.5
    width: int = 128
    lr: float = 5e-3
    weight_decay: float = 2e-4
    pretrain_steps: int = 1000
    steps: int = 1000
    starts: int = 24
    split_seed: int = 0

    def __post_init__(self) -> None:
        if self.M < 5 or not 0 < self.fraction < 1:
            raise ConfigError("M >= 5 and a fraction in (0, 1) are needed")
        freqs = set(range(1, self.M // 2 + 1))
        if not self.learned or not set(self.learned) < freqs:
            raise ConfigError(
                f"learned must be a non-empty proper subset of the frequencies 1..{self.M // 2}; "
                f"got {self.learned}"
            )
        if min(self.width, self.pretrain_steps, self.steps, self.starts) < 1:
            raise ConfigError("width, pretrain_steps, steps and starts must be >= 1")


PRESETS = {
    "smoke": Spec(M=7, learned=(1,), width=16, pretrain_steps=20, steps=20, starts=4),
    "quick": Spec(),
    "paper": Spec(M=71, learned=tuple(range(1, 18)), width=512, pretrain_steps=3000, steps=3000),
}


def theory(spec: Spec) -> pd.DataFrame:
    g = cyclic(spec.M)
    w0 = np.random.default_rng([spec.M, len(spec.learned)]).standard_normal(
        (spec.starts, 2 * spec.M)
    )
    w, E, _ = energy_ascent(g, w0, steps=2000, learned=list(spec.learned))
    P = g.power(w[:, : spec.M]) + g.power(w[:, spec.M :])
    return pd.DataFrame(
        {
            "start": np.arange(spec.starts),
            "frequency": P.argmax(1),
            "share": P.max(1) / P.sum(1),
            "energy": E,
            "outside_learned": ~np.isin(P.argmax(1), spec.learned),
        }
    )


def _train(ens, X, Y, mask, spec, steps, seed):
    from lmech.experiment.ensemble import train

    train(
        ens,
        X,
        Y,
        lr=spec.lr,
        steps=steps,
        optimizer="adam",
        loss="mse",
        weight_decay=spec.weight_decay,
        mask=mask,
        seed=seed,
        progress_label="top-down training",
    )


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    from lmech.experiment.ensemble import Ensemble

    g = cyclic(spec.M)
    X, Y = group_data(g)
    X, Y = X.to(device), Y.to(device)
    train_idx, _ = train_test_split(g, spec.fraction, spec.split_seed)
    mask = torch.zeros(spec.M**2, dtype=torch.bool, device=device)
    mask[torch.from_numpy(train_idx)] = True
    net = GroupMLP(spec.M, spec.width, seed=1000 * seed).to(device)
    ens = Ensemble.from_modules([net])
    _train(ens, X, Y, mask, spec, spec.pretrain_steps, seed)
    W1 = ens.params["W"][0].detach().cpu().numpy()
    P1 = neuron_power(g, W1)
    _, alive1, dom1 = single_irrep_units(g, P1)
    keep = alive1 & np.isin(dom1, spec.learned)
    fresh = GroupMLP(spec.M, spec.width, seed=1000 * seed + 1).to(device)
    with torch.no_grad():
        k = torch.from_numpy(keep).to(device)
        fresh.W[:, k] = ens.params["W"][0][:, k]
        fresh.V[k] = ens.params["V"][0][k]
    ens2 = Ensemble.from_modules([fresh])
    _train(ens2, X, Y, mask, spec, spec.steps, seed + 1)
    W2 = ens2.params["W"][0].detach().cpu().numpy()
    P2 = neuron_power(g, W2)
    single2, alive2, dom2 = single_irrep_units(g, P2)
    rows = []
    for stage, P, dom, alive in ((1, P1, dom1, alive1), (2, P2, dom2, alive2)):
        for j in range(spec.width):
            for c in range(P.shape[1]):
                rows.append(
                    {
                        "stage": stage,
                        "unit": j,
                        "kept": bool(keep[j]),
                        "klass": c,
                        "power": P[j, c],
                        "dominant": int(dom[j]),
                        "alive": bool(alive[j]),
                        "single": bool(single2[j]) if stage == 2 else False,
                    }
                )
    return pd.DataFrame(rows)


def _experiment_share(meas: pd.DataFrame, learned) -> tuple[float, int, dict]:
    units = meas[(meas["stage"] == 2) & (meas["klass"] == 0)]
    new = units[~units["kept"] & units["single"]]
    counts = new["dominant"].value_counts().sort_index().to_dict()
    if len(new) == 0:
        return float("nan"), 0, counts
    return float((~new["dominant"].isin(learned)).mean()), len(new), counts


def compare(pred: pd.DataFrame, meas: pd.DataFrame) -> Verdict:
    learned = _learned_from(pred, meas)  # the frequencies the kept units carry
    th = float(pred["outside_learned"].mean())
    ex, n_new, counts = _experiment_share(meas, learned)
    kept = meas[(meas["stage"] == 2) & (meas["klass"] == 0) & meas["kept"]]
    drift = float((~kept["dominant"].isin(learned)).mean()) if len(kept) else float("nan")
    detail = (
        f"theory: {th:.0%} of {len(pred)} ascent starts end outside S (energies "
        f"{pred['energy'].min():.4g}..{pred['energy'].max():.4g}); experiment: {ex:.0%} of "
        f"{n_new} new single-frequency units outside the kept units' frequencies {learned} "
        f"(frequency: count {counts}); kept units "
        f"that left S: {drift:.0%}"
    )
    value = min(th, ex) if np.isfinite(ex) else float("nan")
    return Verdict.from_metric(METRIC, value, TOLERANCE, higher_is_better=True, detail=detail)


def _learned_from(pred: pd.DataFrame, meas: pd.DataFrame) -> list[int]:
    """S = the dominant classes of the units kept from stage 1."""
    kept = meas[(meas["stage"] == 1) & (meas["klass"] == 0) & meas["kept"]]
    return sorted(kept["dominant"].unique().tolist())


def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    learned = _learned_from(pred, meas)
    M = 2 * (meas["klass"].max()) + 1
    g = cyclic(int(M))
    fig = Figure(figsize=(13, 4.4), layout="constrained")
    ax, bx, cx = fig.subplots(1, 3, width_ratios=(1, 1.3, 1.3))
    freqs = np.arange(1, meas["klass"].max() + 1)
    th = pred["frequency"].value_counts().reindex(freqs, fill_value=0)
    units = meas[(meas["stage"] == 2) & (meas["klass"] == 0) & ~meas["kept"] & meas["single"]]
    ex = units["dominant"].value_counts().reindex(freqs, fill_value=0)
    colors = ["0.6" if f in learned else "C0" for f in freqs]
    ax.bar(freqs - 0.2, th, width=0.4, color=colors, edgecolor="k", label="theory: ascent starts")
    ax.bar(
        freqs + 0.2,
        ex,
        width=0.4,
        color=colors,
        hatch="//",
        edgecolor="k",
        label="experiment: new units",
    )
    ax.set_xticks(freqs)
    ax.set_xlabel("frequency reached (grey: in S)")
    ax.set_ylabel("count")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("where new features go", fontsize=10)
    for axis, stage, title in (
        (bx, 1, "after pretraining"),
        (cx, 2, "after re-initializing units outside S"),
    ):
        P = (
            meas[meas["stage"] == stage]
            .pivot(index="unit", columns="klass", values="power")
            .to_numpy()
        )
        draw_power(axis, g, P, title)
    fig.suptitle(f"Li^2 top-down modulation on Z_{int(M)}: S = {learned}", fontsize=11)
    return fig


LAW = Law(
    name="li2-top-down",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    compare=compare,
    figure=figure,
    metric=METRIC,
    tolerance=TOLERANCE,
    source="Tian 2025, Li^2 (arXiv 2509.21519), Sec. 5: top-down modulation",
    claim="once frequencies S are learned, the modulated energy's maxima and newly trained "
    "units both lie outside S",
    tags=("grokking", "li2", "groups", "training-dynamics"),
    theory_columns=("start", "frequency", "share", "energy", "outside_learned"),
    experiment_columns=("stage", "unit", "kept", "klass", "power", "dominant", "alive", "single"),
    doc=__doc__ or "",
    higher_is_better=True,
)

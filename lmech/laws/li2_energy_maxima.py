r"""li2-energy-maxima: gradient ascent on the Li^2 energy ends at single-irrep features with E = E*.

Claim:
    For a 2-layer network with x^2 activations on a group G of order M, a hidden unit in
    Stage II of Li^2 follows gradient ascent on E(w) = 1/2 |Y_t^T sigma(X w)|^2 on the unit
    sphere. From random starts it converges to a feature whose power lies in a single real
    class of irreducible representations (a single frequency for Z_M), and the energy
    reached equals that class's predicted maximum E* = M / (2d) (real-type irrep of
    dimension d) or M / (4d) (an irrep paired with its complex conjugate; M/4 for every
    frequency of Z_M), to 1e-6 relative.

System:
    Z_7, Z_11, Z_23 and the dihedral group D_5 (order 10; irreps: trivial, sign with
    E* = 5, two 2-dim with E* = 2.5) at the quick preset; the paper preset adds S_4 and
    Z_2 x Z_3 x Z_4. Normalization as in :mod:`lmech.theory.grokking`: raw one-hot inputs
    for all M^2 pairs, sigma(x) = x^2, |w| = 1, Y_t = Y - 1/M.

Measurement:
    ``starts`` Gaussian random starts per group, ``steps`` steps of Riemannian gradient
    ascent (w <- normalize(w + eta (grad E - (w . grad E) w))) with eta = 0.1 / max E*;
    the energy is recorded at log-spaced steps for the figure. (With eta = 0.25 / E* some
    Z_7 starts settle into an oscillation of the |u| / |v| balance 1e-4 below the maximum;
    the step is a numerical choice, not part of the claim.) For each final w the power
    per real class (both halves u, v, :meth:`FiniteGroup.power`) gives the dominant class
    and its share.

Metric:
    max over starts of max(|E - E*_dominant| / E*_dominant, 1 - share of the dominant
    class); tolerance 1e-6 (the issue's). Measured at the quick preset: ~1e-15 (the energy
    and the share are exact to round-off); every nontrivial class of each group is reached
    from some start.

Source:
    Y. Tian, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of
    Grokking" (Li^2), arXiv 2509.21519, Sec. 4 (Stage II energy and its maxima; the
    paper quotes M/16 for Z_M under a normalization with inputs scaled by 1/sqrt 2).

Run:
    ``lmech check li2-energy-maxima`` (quick, a few seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lmech import progress
from lmech.data.groups import get_group
from lmech.errors import ConfigError, InputError
from lmech.laws.base import Law, Verdict
from lmech.theory.grokking import class_energy_maxima, energy_ascent

TOLERANCE = 1e-6
METRIC = "max_energy_or_purity_err"


@dataclass(frozen=True)
class Spec:
    groups: tuple[str, ...] = ("Z7", "Z11", "Z23", "D5")
    starts: int = 24
    steps: int = 2000
    records: int = 60  # log-spaced steps at which the energy is recorded

    def __post_init__(self) -> None:
        if not self.groups:
            raise ConfigError("groups must name at least one group")
        for name in self.groups:
            try:
                get_group(name)
            except InputError as err:
                raise ConfigError(str(err)) from None
        if self.starts < 1 or self.steps < 1 or self.records < 1:
            raise ConfigError("starts, steps and records must be >= 1")

    def record_steps(self) -> np.ndarray:
        return np.unique(np.geomspace(1, self.steps, self.records).astype(int)) - 1


PRESETS = {
    "smoke": Spec(groups=("Z7", "D3"), starts=3, steps=50, records=5),
    "quick": Spec(),
    "paper": Spec(groups=("Z7", "Z11", "Z23", "D5", "S4", "Z2xZ3xZ4"), starts=64, steps=5000),
}


def theory(spec: Spec) -> pd.DataFrame:
    rows = []
    for name in spec.groups:
        g = get_group(name)
        emax = class_energy_maxima(g)
        for k, cls in enumerate(g.real_classes):
            rows.append(
                {
                    "group": name,
                    "order": g.order,
                    "class_index": k,
                    "irrep_class": g.class_names[k],
                    "dim": g.irreps[cls[0]].dim,
                    "complex_pair": len(cls) == 2,
                    "E_star": emax[k],
                }
            )
    return pd.DataFrame(rows)


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    del device  # a few small numpy problems; no accelerator needed
    rows = []
    with progress.task("energy ascent", len(spec.groups)) as advance:
        for gi, name in enumerate(spec.groups):
            g = get_group(name)
            M = g.order
            w0 = np.random.default_rng([seed, gi]).standard_normal((spec.starts, 2 * M))
            at = spec.record_steps()
            w, E, history = energy_ascent(g, w0, steps=spec.steps, record_at=at, tol=0.0)
            snapshots = [*history, (E, w)]
            steps = [*(int(k) for k in at[: len(history)]), spec.steps]
            for r, (energies, ws) in enumerate(snapshots):
                P = g.power(ws[:, :M]) + g.power(ws[:, M:])
                for s in range(spec.starts):
                    rows.append(
                        {
                            "group": name,
                            "start": s,
                            "step": steps[r],
                            "energy": energies[s],
                            "final": r == len(snapshots) - 1,
                            "dominant_class": int(P[s].argmax()),
                            "share": P[s].max() / P[s].sum(),
                        }
                    )
            advance(1)
    return pd.DataFrame(rows)


def _finals(pred: pd.DataFrame, meas: pd.DataFrame) -> pd.DataFrame:
    f = meas[meas["final"]].merge(
        pred[["group", "class_index", "E_star", "irrep_class"]],
        left_on=["group", "dominant_class"],
        right_on=["group", "class_index"],
        how="left",
    )
    f["energy_err"] = (f["energy"] - f["E_star"]).abs() / f["E_star"]
    f["purity_err"] = 1.0 - f["share"]
    f["err"] = f[["energy_err", "purity_err"]].max(axis=1)
    return f


def compare(pred: pd.DataFrame, meas: pd.DataFrame) -> Verdict:
    f = _finals(pred, meas)
    parts = []
    for name, g in f.groupby("group", sort=False):
        hit = sorted(g["irrep_class"].unique())
        parts.append(
            f"{name}: {len(g)} starts -> classes {', '.join(hit)}; max energy err "
            f"{g['energy_err'].max():.1e}, max 1-share {g['purity_err'].max():.1e}"
        )
    value = float(f["err"].max()) if f["E_star"].notna().all() else float("nan")
    return Verdict.from_metric(METRIC, value, TOLERANCE, detail="; ".join(parts))


def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    f = _finals(pred, meas)
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    ax, bx = fig.subplots(1, 2)
    target = f.set_index(["group", "start"])["E_star"]
    for i, (name, g) in enumerate(meas[~meas["final"]].groupby("group", sort=False)):
        for s, t in g.groupby("start"):
            e_star = target[(name, s)]
            ax.plot(
                t["step"] + 1,
                np.maximum(1.0 - t["energy"] / e_star, 1e-17),
                color=f"C{i}",
                lw=0.7,
                alpha=0.6,
                label=name if s == 0 else None,
            )
    ax.axhline(TOLERANCE, color="k", lw=1, ls="--", label="tolerance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gradient-ascent step + 1")
    ax.set_ylabel("1 - E(w_t) / E* of the class reached")
    ax.set_title("energy trajectories from random starts", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(True, which="both", alpha=0.25)
    for i, (name, g) in enumerate(f.groupby("group", sort=False)):
        bx.scatter(g["E_star"], g["energy"], color=f"C{i}", s=18, label=name, zorder=3)
    lo, hi = f["E_star"].min() * 0.8, f["E_star"].max() * 1.2
    bx.plot([lo, hi], [lo, hi], "k--", lw=1, label="E = E*")
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.set_xlabel("predicted maximum E* (M/4 per frequency of Z_M; M/(2d) real irreps)")
    bx.set_ylabel("energy reached")
    bx.set_title(f"final energies: max error {f['err'].max():.1e}", fontsize=10)
    bx.legend(fontsize=8, frameon=False)
    bx.grid(True, which="both", alpha=0.25)
    fig.suptitle("Li^2 Stage II: maxima of E(w) are single irreps with E = E*", fontsize=11)
    return fig


LAW = Law(
    name="li2-energy-maxima",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    compare=compare,
    figure=figure,
    metric=METRIC,
    tolerance=TOLERANCE,
    source="Tian 2025, Li^2 (arXiv 2509.21519), Sec. 4: Stage II energy and its maxima",
    claim="gradient ascent on E(w) = 1/2 |Y_t^T (Xw)^2|^2 ends at single-irrep features with "
    "E = M/(2d) (real irreps) or M/(4d) (complex pairs; M/4 for Z_M)",
    tags=("grokking", "li2", "groups", "theory"),
    theory_columns=("group", "order", "class_index", "irrep_class", "dim", "E_star"),
    experiment_columns=("group", "start", "step", "energy", "final", "dominant_class", "share"),
    doc=__doc__ or "",
)

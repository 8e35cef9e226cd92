"""Figures of the grokking laws (each reads only the law's two tables) and their pieces."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lmech.data.groups import FiniteGroup, cyclic
from lmech.laws.grokking._common import power_matrix
from lmech.measure.fourier import single_irrep_units

__all__ = [
    "boundary_figure",
    "draw_accuracy",
    "draw_power",
    "energy_figure",
    "modular_figure",
    "top_down_figure",
]


def draw_accuracy(ax, meas: pd.DataFrame, label_of) -> None:
    """Train (thin) and test (thick) accuracy vs step + 1 on a log axis, one color per member."""
    for i, (e, g) in enumerate(meas[meas["quantity"].str.endswith("accuracy")].groupby("member")):
        color = f"C{i}"
        for q, lw, ls in (("train_accuracy", 1.0, ":"), ("test_accuracy", 2.0, "-")):
            t = g[g["quantity"] == q].sort_values("step")
            ax.plot(t["step"] + 1, t["value"], color=color, lw=lw, ls=ls,
                    label=f"{label_of(e)} ({q.split('_')[0]})")  # fmt: skip
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step + 1")
    ax.set_ylabel("accuracy")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, frameon=False)


def draw_power(ax, group: FiniteGroup, P: np.ndarray, title: str) -> None:
    """Neuron x class power heatmap, neurons sorted by dominant class, rows normalized."""
    nontriv = P.copy()
    nontriv[:, group.trivial_class()] = 0.0
    _, alive, dominant = single_irrep_units(group, P)
    dead = ~alive
    order = np.lexsort((-nontriv.max(1), dominant, dead))  # alive first
    shown = P[order] / np.maximum(P[order].sum(1, keepdims=True), 1e-300)
    im = ax.imshow(shown.T, aspect="auto", cmap="viridis", interpolation="nearest", origin="lower")
    names = [n.split("/")[0].replace("k=", "") for n in group.class_names]
    ax.set_yticks(range(len(names)), names, fontsize=6)
    if dead.any():
        ax.axvline((~dead).sum() - 0.5, color="w", lw=1)
        ax.text((~dead).sum(), len(names) - 0.6, " dead", color="w", fontsize=7, va="top")
    ax.set_xlabel("hidden unit (alive by frequency, then dead)")
    ax.set_ylabel("frequency / irrep class")
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(im, ax=ax, label="share of the unit's power")


def energy_figure(f: pd.DataFrame, meas: pd.DataFrame, tolerance: float) -> Figure:
    """li2-energy-maxima: energy trajectories and final energies against E* (f: the final
    starts merged with E*, with energy_err and purity_err)."""
    f = f.copy()
    f["err"] = f[["energy_err", "purity_err"]].max(axis=1)
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
    ax.axhline(tolerance, color="k", lw=1, ls="--", label="tolerance")
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


def modular_figure(meas: pd.DataFrame) -> Figure:
    """grokking-modular-addition: accuracy curves and a decay run's neuron x frequency power."""
    M = int(meas["M"].iloc[0])
    fig = Figure(figsize=(12, 4.6), layout="constrained")
    ax, bx = fig.subplots(1, 2, width_ratios=(1.1, 1))
    wd_of = meas.groupby("member")["weight_decay"].first()
    seed_of = meas.groupby("member")["seed"].first()
    draw_accuracy(ax, meas, lambda e: f"seed {seed_of[e]}, wd {wd_of[e]:g}")
    ax.set_title(f"Z_{M}: train (dotted) and test (solid) accuracy", fontsize=10)
    first = int(wd_of[wd_of > 0].index[0])
    draw_power(
        bx,
        cyclic(M),
        power_matrix(meas, first),
        f"hidden units after training (seed {seed_of[first]}, wd)",
    )
    fig.suptitle(
        "Grokking on modular addition: memorization, then single-frequency features", fontsize=11
    )
    return fig


def top_down_figure(pred: pd.DataFrame, meas: pd.DataFrame, learned: list[int]) -> Figure:
    """li2-top-down: where new features go, and the power tables before and after."""
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


def boundary_figure(pred: pd.DataFrame, meas: pd.DataFrame, f: dict) -> Figure:
    """Phase diagram with the Li^2 and constant boundaries; collapse in p / (ln M / M).
    A boundary outside the sampled range (no transition seen) is not drawn."""
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    ax, bx = fig.subplots(1, 2)
    shape = pred.set_index("M")["ln_M_over_M"]
    x = meas["fraction"].to_numpy() / shape.loc[meas["M"]].to_numpy()

    def inside(v, data):  # a boundary within a factor 2 of the sampled values
        return np.isfinite(v) and data.min() / 2 < v < 2 * data.max()

    cells = meas.groupby(["M", "c_prime"], as_index=False)[["fraction", "generalized"]].mean()
    sc = ax.scatter(cells["M"], cells["fraction"], c=cells["generalized"], cmap="coolwarm_r",
                    vmin=0, vmax=1, s=70, edgecolor="k", zorder=3)  # fmt: skip
    Ms = np.linspace(min(meas["M"]) * 0.9, max(meas["M"]) * 1.1, 100)
    if inside(f["c"], x):
        ax.plot(
            Ms, f["c"] * np.log(Ms) / Ms, "k-", lw=1.5, label=f"Li^2: p* = {f['c']:.2f} ln M / M"
        )
        bx.axvline(f["c"], color="k", lw=1.2, label=f"c = {f['c']:.2f}")
    if inside(f["c_lo"], x) and inside(f["c_hi"], x):
        bx.axvspan(f["c_lo"], f["c_hi"], color="k", alpha=0.12, label="95% bootstrap")
    if inside(f["p_const"], meas["fraction"]):
        ax.axhline(f["p_const"], color="0.4", ls="--", lw=1.2,
                   label=f"constant: p* = {f['p_const']:.3f}")  # fmt: skip
    if (
        "k" in f
        and np.isfinite(f["k"])
        and inside(f["a_power"] * min(meas["M"]) ** -f["k"], meas["fraction"])
    ):
        ax.plot(Ms, f["a_power"] * Ms ** -f["k"], ":", color="C2", lw=1.5,
                label=f"power law: p* = {f['a_power']:.2f} M^-{f['k']:.2f}")  # fmt: skip
    if max(meas["M"]) / min(meas["M"]) > 4:  # a wide range of orders: log-log axes
        ax.set_xscale("log")
        ax.set_yscale("log")
    free = np.array([inside(v, x) for v in f["c_free"]], dtype=bool)
    ax.plot(f["orders"][free], (f["c_free"] * shape.loc[f["orders"]].to_numpy())[free], "kx",
            ms=8, mew=2, zorder=4, label="free boundary per M")  # fmt: skip
    ax.set_xlabel("group order M (Z_M)")
    ax.set_ylabel("training fraction")
    ax.set_title(f"phase diagram: LR {f['lr']:.1f} nats over the constant", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    fig.colorbar(sc, ax=ax, label="share of seeds that generalize")
    for i, (M, idx) in enumerate(meas.groupby("M").groups.items()):
        bx.plot(x[meas.index.get_indexer(idx)], meas.loc[idx, "test_accuracy"], "o",
                color=f"C{i}", alpha=0.7, label=f"M = {M}")  # fmt: skip
    bx.set_xlabel("fraction / (ln M / M)")
    bx.set_ylabel("final test accuracy")
    bx.set_title(f"collapse: {f['share']:.0%} of runs on the right side", fontsize=10)
    bx.legend(fontsize=8, frameon=False)
    bx.grid(True, alpha=0.25)
    fig.suptitle("Li^2 memorization-generalization boundary on Z_M", fontsize=11)
    return fig

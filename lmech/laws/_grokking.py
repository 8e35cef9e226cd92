"""Shared pieces of the grokking laws: long-format tables and the standard figures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmech.data.groups import FiniteGroup
from lmech.measure.fourier import neuron_power, single_irrep_units

__all__ = ["EXPERIMENT_COLUMNS", "curve_rows", "power_rows", "draw_accuracy", "draw_power"]

# one row per observation: curves have neuron = klass = -1; neuron power has step = final
EXPERIMENT_COLUMNS = (
    "member",
    "seed",
    "fraction",
    "weight_decay",
    "quantity",
    "step",
    "neuron",
    "klass",
    "value",
)


def curve_rows(curves: pd.DataFrame, seeds, fractions, decays, **extra) -> pd.DataFrame:
    """Long rows of train/test accuracy and train loss per (member, step)."""
    rows = []
    for q in ("train_accuracy", "test_accuracy", "train_loss"):
        rows.append(
            pd.DataFrame(
                {
                    "member": curves["member"],
                    "seed": np.asarray(seeds)[curves["member"]],
                    "fraction": np.asarray(fractions, dtype=float)[curves["member"]],
                    "weight_decay": np.asarray(decays, dtype=float)[curves["member"]],
                    "quantity": q,
                    "step": curves["step"],
                    "neuron": -1,
                    "klass": -1,
                    "value": curves[q],
                }
                | extra
            )
        )
    return pd.concat(rows, ignore_index=True)


def power_rows(group: FiniteGroup, W: np.ndarray, members, seeds, fractions, decays, step, **extra):
    """Long rows of each listed member's neuron x class power (``neuron_power``)."""
    rows = []
    for e in members:
        P = neuron_power(group, W[e])  # (K, classes)
        K, C = P.shape
        rows.append(
            pd.DataFrame(
                {
                    "member": e,
                    "seed": seeds[e],
                    "fraction": float(fractions[e]),
                    "weight_decay": float(decays[e]),
                    "quantity": "neuron_power",
                    "step": step,
                    "neuron": np.repeat(np.arange(K), C),
                    "klass": np.tile(np.arange(C), K),
                    "value": P.reshape(-1),
                }
                | extra
            )
        )
    return pd.concat(rows, ignore_index=True)


def power_matrix(meas: pd.DataFrame, member: int) -> np.ndarray:
    p = meas[(meas["quantity"] == "neuron_power") & (meas["member"] == member)]
    return p.pivot(index="neuron", columns="klass", values="value").to_numpy()


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

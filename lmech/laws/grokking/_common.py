"""Shared tables of the grokking laws: one long row per observation of a trained member."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmech.data.groups import FiniteGroup
from lmech.measure.fourier import neuron_power
from lmech.theory.grokking import energy

__all__ = ["EXPERIMENT_COLUMNS", "member_rows", "power_matrix"]

# one row per observation: curves have neuron = klass = -1; neuron power (per neuron and
# class) and unit energy (per neuron, klass = -1) have step = the final step
EXPERIMENT_COLUMNS = (
    "M",
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


def member_rows(group: FiniteGroup, curves: pd.DataFrame, W: np.ndarray, seeds, fractions,
                decays, step: int) -> pd.DataFrame:  # fmt: skip
    """Long rows: train/test accuracy and train loss per (member, logged step); at the final
    ``step`` each member's neuron x class power (:func:`neuron_power`) and the Li^2 energy
    E(w_j / |w_j|) of each hidden unit's input weights (:func:`lmech.theory.grokking.energy`).
    """
    seeds, fractions, decays = (np.asarray(v) for v in (seeds, fractions, decays))

    def rows(member, quantity, step, neuron, klass, value):
        return pd.DataFrame({
            "M": group.order, "member": member, "seed": seeds[member],
            "fraction": fractions[member].astype(float), "weight_decay": decays[member].astype(float),
            "quantity": quantity, "step": step, "neuron": neuron, "klass": klass, "value": value,
        })  # fmt: skip

    e = curves["member"].to_numpy()
    out = [rows(e, q, curves["step"], -1, -1, curves[q])
           for q in ("train_accuracy", "test_accuracy", "train_loss")]  # fmt: skip
    for m in range(len(seeds)):
        P = neuron_power(group, W[m])  # (K, classes)
        K, C = P.shape
        out.append(rows(m, "neuron_power", step, np.repeat(np.arange(K), C), np.tile(np.arange(C), K),
                        P.reshape(-1)))  # fmt: skip
        w = W[m].T / np.maximum(np.linalg.norm(W[m].T, axis=1, keepdims=True), 1e-300)
        out.append(rows(m, "unit_energy", step, np.arange(K), -1, energy(group, w)))
    return pd.concat(out, ignore_index=True)


def power_matrix(meas: pd.DataFrame, member: int) -> np.ndarray:
    p = meas[(meas["quantity"] == "neuron_power") & (meas["member"] == member)]
    return p.pivot(index="neuron", columns="klass", values="value").to_numpy()

"""Figures of the geometry family; each reads only the theory and experiment tables."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["dimension_figure", "cka_figure", "layer_profile_figure", "rank_figure"]


def dimension_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """Estimated against true intrinsic dimension, one marker per estimator."""
    t = pred.merge(meas, on=["manifold", "intrinsic_dim", "regime"])
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    top = float(t["dimension"].max()) * 1.15
    ax.plot([0, top], [0, top], "k-", lw=1, label="d (truth)")
    ax.fill_between([0, top], [0, 0.9 * top], [0, 1.1 * top], color="0.9", label="10% band")
    for col, m in (("twonn", "o"), ("mle", "s"), ("participation_ratio", "^")):
        ax.plot(t["dimension"], t[col], m, ms=5, alpha=0.8, label=col)
    ax.set(xlabel="true dimension d", ylabel="estimate", xlim=(0, top), ylim=(0, top * 1.6))
    ax.set_title("Intrinsic dimension of manifolds in R^D")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def cka_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """Predicted and measured value of each CKA property (one bar pair per row)."""
    t = pred.merge(meas, on="case")
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(t))
    ax.bar(x - 0.2, t["value"], 0.4, label="theory")
    ax.bar(x + 0.2, t["measured"], 0.4, yerr=t["std_error"], label="measured")
    ax.set_xticks(x, t["case"], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("CKA (or difference)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def layer_profile_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """Intrinsic dimension against depth, one line per training time."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for epoch, g in meas.groupby("epoch"):
        ax.plot(g["layer"], g["twonn"], "-o", ms=4, label=f"epoch {epoch}")
    ax.set(xlabel="layer (0 = input)", ylabel="TwoNN intrinsic dimension")
    ax.set_title("Intrinsic dimension across depth")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def rank_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """Effective rank of the hidden representation at the plateau times, against theory."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(pred["time"], pred["effective_rank"], "k_", ms=20, mew=2, label="predicted plateau")
    for key, g in meas.groupby("init"):
        ax.plot(g["time"], g["effective_rank"], "o", ms=6, label=f"{key} init")
    ax.set(xscale="log", xlabel="time (learning rate x steps)", ylabel="effective rank")
    ax.set_title("Stepwise effective rank of a small-init linear network")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

"""Figures of the DMFT laws: loss and alignment curves against widths, kernel heat maps."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["lazy_limit_figure", "rich_figure", "kernel_heatmaps"]


def lazy_limit_figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    """Loss curves: DMFT at gamma_0 = 0, NTK descent, NNGP null and the trained networks."""
    fig = Figure(figsize=(9.0, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, kind in zip(axes, ("train", "test"), strict=True):
        for _, g in meas.groupby("seed"):
            ax.plot(g["t"], g[f"{kind}_loss"], color="C0", alpha=0.3, lw=0.8)
        ax.plot(pred["t"], pred[f"{kind}_loss"], "k-", lw=2, label="DMFT, gamma_0 = 0")
        ax.plot(pred["t"], pred[f"ntk_{kind}_loss"], "C3--", lw=1.2, label="NTK descent")
        ax.plot(pred["t"], pred[f"null_{kind}_loss"], "C2:", lw=1.2, label="NNGP null")
        ax.set_yscale("log")
        ax.set_xlabel("time t = 2 eta step")
        ax.set_ylabel(f"{kind} MSE")
        ax.legend(fontsize=8, frameon=False)
    fig.suptitle("DMFT lazy limit vs NTK and networks (thin: seeds)", fontsize=10)
    return fig


def rich_figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    """Loss and alignment: DMFT against seed-mean networks of each width."""
    fig = Figure(figsize=(13.0, 3.8), layout="constrained")
    axes = fig.subplots(1, 4)
    widths = sorted(meas["width"].unique())
    colors = {w: f"C{i}" for i, w in enumerate(widths)}
    m = meas.groupby(["width", "step"]).mean(numeric_only=True).reset_index()
    for ax, col in zip(axes[:3], ("train_loss", "test_loss", "alignment"), strict=True):
        for w in widths:
            g = m[m["width"] == w]
            ax.plot(g["t"], g[col], "o", ms=3, color=colors[w], label=f"N={w}")
        ax.plot(pred["t"], pred[col], "k-", lw=1.5, label="DMFT")
        if "lazy_" + col in pred:
            ax.plot(pred["t"], pred["lazy_" + col], "k:", lw=1, label="lazy (gamma_0=0)")
        if col != "alignment":
            ax.set_yscale("log")
        ax.set_xlabel("t")
        ax.set_ylabel(col)
    axes[0].legend(fontsize=7, frameon=False)
    ax = axes[3]
    dev = _rms_dev(pred, meas)
    ax.loglog(dev.index, dev.values, "o-", label="rms deviation")
    w = dev.index.to_numpy(float)
    ax.loglog(w, dev.iloc[0] * (w / w[0]) ** -0.5, "k--", lw=1, label="N^-1/2")
    ax.set_xlabel("width N")
    ax.legend(fontsize=8, frameon=False)
    fig.suptitle("Two-layer DMFT (rich) against muP networks", fontsize=10)
    return fig


def _rms_dev(pred: pd.DataFrame, meas: pd.DataFrame) -> pd.Series:
    p = pred.set_index("step")
    out = {}
    for w, g in meas.groupby("width"):
        g = g[g["step"] > 0]
        r = []
        for col in ("train_loss", "test_loss"):
            r.append((g[col].to_numpy() / p.loc[g["step"], col].to_numpy() - 1.0) ** 2)
        out[w] = float(np.sqrt(np.concatenate(r).mean()))
    return pd.Series(out).sort_index()


def kernel_heatmaps(result, times: tuple[int, ...] = (0, -1)) -> Figure:
    """Phi(t, t') on the train points at a few (t, t') index pairs of a two-layer result."""
    fig = Figure(figsize=(3.2 * len(times) ** 2, 3.0), layout="constrained")
    pairs = [(i, j) for i in times for j in times]
    axes = np.atleast_1d(fig.subplots(1, len(pairs)))
    for ax, (i, j) in zip(axes, pairs, strict=True):
        K = result.feature_kernel_two_time(i, j)
        im = ax.imshow(K, cmap="viridis")
        ax.set_title(f"Phi(t={result.t[i]:g}, t'={result.t[j]:g})", fontsize=8)
        fig.colorbar(im, ax=ax, shrink=0.7)
    return fig

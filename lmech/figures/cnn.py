"""Figures of the cnn family (lmech.kernels.stax laws); each reads only the two tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["nngp_scatter_figure", "width_convergence_figure", "depth_figure"]


def nngp_scatter_figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    """Monte-Carlo covariance (+- 2 SE) against the NNGP kernel, one colour per architecture."""
    m = meas.merge(pred, on=["architecture", "i", "j"])
    fig = Figure(figsize=(5.2, 4.6), layout="constrained")
    ax = fig.add_subplot()
    for k, (a, g) in enumerate(m.groupby("architecture")):
        ax.errorbar(g["nngp"], g["estimate"], yerr=2 * g["se"], fmt="o", ms=3,
                    color=f"C{k}", label=a)  # fmt: skip
    lo, hi = float(m["nngp"].min()), float(m["nngp"].max())
    ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--", label="y = x")
    ax.set_xlabel("stax NNGP kernel")
    ax.set_ylabel("output covariance of random CNNs")
    ax.set_title("CNN NNGP: Monte Carlo vs kernel", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def width_convergence_figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    """Relative Frobenius error of the empirical NTK against width (log-log), per
    architecture, with a width^-1/2 guide."""
    from lmech.laws.cnn._compare import ntk_errors

    e = ntk_errors(pred, meas)
    fig = Figure(figsize=(5.6, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for k, (a, g) in enumerate(e.groupby("architecture")):
        s = g.groupby("width")["rel_err"].agg(["mean", "std", "count"]).reset_index()
        ax.errorbar(s["width"], s["mean"], yerr=s["std"] / np.sqrt(s["count"]), fmt="o-",
                    ms=4, color=f"C{k}", label=a)  # fmt: skip
    w = np.array(sorted(e["width"].unique()), float)
    ax.plot(w, e["rel_err"].mean() * np.sqrt(w.mean()) / np.sqrt(w), color="grey", ls="--",
            label="width^-1/2")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width (channels)")
    ax.set_ylabel("||NTK_emp - NTK|| / ||NTK||")
    ax.legend(fontsize=8)
    return fig


def depth_figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    """Correlation of two inputs against depth: theory lines, measured points (+- 2 SE)."""
    fig = Figure(figsize=(5.6, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for k, (s, g) in enumerate(pred.groupby("scaling")):
        ax.plot(g["depth"], g["nngp_corr"], color=f"C{k}", label=f"NNGP, {s} (theory)")
        ax.plot(g["depth"], g["ntk_corr"], color=f"C{k}", ls=":", label=f"NTK, {s} (theory)")
        mm = meas[meas["scaling"] == s].groupby("depth")["nngp_corr"].agg(["mean", "std", "count"])
        ax.errorbar(mm.index, mm["mean"], yerr=2 * mm["std"] / np.sqrt(mm["count"]), fmt="o",
                    color=f"C{k}", label=f"NNGP, {s} (width {int(meas['width'].iloc[0])})")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xlabel("residual blocks L")
    ax.set_ylabel("correlation of two inputs")
    ax.legend(fontsize=7)
    return fig

"""Figures of the ntk family; each reads only the theory and measurement tables."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from lmech.laws.ntk._compare import flow_deviations, nngp_z, ntk_errors
from lmech.laws.ntk._networks import loglog_fit

__all__ = ["width_convergence_figure", "nngp_figure", "flow_figure"]


def _log_width_axis(ax) -> None:
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # keep the tick labels readable
    ax.set_yscale("log")


def width_convergence_figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    errs = ntk_errors(pred, meas)
    per_width = errs.groupby("width")["rel_err"].agg(["mean", "std", "count"]).reset_index()
    slope, intercept = loglog_fit(per_width["width"], per_width["mean"])
    fig = Figure(figsize=(6.0, 4.4), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(
        errs["width"], errs["rel_err"], s=8, alpha=0.3, color="C0", label="one initialization"
    )
    sem = per_width["std"] / np.sqrt(per_width["count"])
    ax.errorbar(
        per_width["width"],
        per_width["mean"],
        yerr=sem,
        fmt="o",
        color="C0",
        capsize=3,
        label="mean over initializations",
    )
    w = np.geomspace(per_width["width"].min(), per_width["width"].max(), 50)
    ax.plot(w, np.exp(intercept) * w**slope, color="C1", label=f"fit: slope {slope:.2f}")
    anchor = per_width["mean"].iloc[0] * (w / w[0]) ** -0.5
    ax.plot(w, anchor, "k--", lw=1, label="theory: slope -1/2")
    _log_width_axis(ax)
    ax.set_xlabel("width w")
    ax.set_ylabel(r"$\|\hat\Theta_w - \Theta\|_F / \|\Theta\|_F$")
    ax.set_title("Empirical NTK at initialization -> analytic NTK", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, frameon=False)
    return fig


def nngp_figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    m = nngp_z(pred, meas)
    fig = Figure(figsize=(9.0, 4.0), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for k, (act, g) in enumerate(m.groupby("activation", sort=False)):
        ax1.errorbar(
            g["nngp"],
            g["estimate"],
            yerr=3 * g["se"],
            fmt="o",
            ms=4,
            capsize=2,
            color=f"C{k}",
            label=act,
        )
        ax2.scatter(np.arange(len(g)) + 0.15 * k, g["z"], color=f"C{k}", s=18, label=act)
    lo, hi = m["nngp"].min(), m["nngp"].max()
    ax1.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax1.set_xlabel("analytic NNGP  $\\Sigma^L(x_i, x_j)$")
    ax1.set_ylabel("Monte-Carlo  $E[f(x_i) f(x_j)]$  (bars: 3 SE)")
    ax1.legend(fontsize=8, frameon=False)
    ax2.axhspan(-3, 3, color="0.9")
    ax2.axhline(0, color="k", lw=0.8)
    ax2.set_xlabel("entry (i <= j)")
    ax2.set_ylabel("z = (estimate - NNGP) / SE")
    ax2.set_title("within 3 SE = inside the band", fontsize=9)
    fig.suptitle("NNGP: random finite networks vs the analytic kernel", fontsize=10)
    return fig


def flow_figure(tolerance: float) -> Callable[[pd.DataFrame, pd.DataFrame], Figure]:
    """The gradient-flow figure, with the law's tolerance drawn on the deviation panel."""

    def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
        fig = Figure(figsize=(10.0, 4.2), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        widest = meas["width"].max()
        points = pred[["point", "train"]].drop_duplicates().sort_values("point")
        shown = list(points[points["train"]]["point"][:3])
        shown += list(points[~points["train"]]["point"][:3])
        for c, p in enumerate(shown):
            th = pred[pred["point"] == p].sort_values("step")
            me = meas[(meas["point"] == p) & (meas["width"] == widest) & (meas["init"] == 0)]
            kind = "train" if bool(th["train"].iloc[0]) else "test"
            ax1.plot(th["step"], th["f"], color=f"C{c}", lw=1.5, label=f"{kind} point {p}: theory")
            ax1.plot(me["step"], me["f"], "o", color=f"C{c}", ms=3.5, mfc="white")
        ax1.set_xscale("log")
        ax1.set_xlabel("gradient-descent step t")
        ax1.set_ylabel("f_t(x)  (lines: kernel flow; circles: network)")
        ax1.set_title(f"width {widest}", fontsize=9)
        ax1.legend(fontsize=7, frameon=False)
        dev = flow_deviations(pred, meas)
        per = dev.groupby("width")["rel_dev"].mean()
        ax2.scatter(dev["width"], dev["rel_dev"], s=10, alpha=0.4, color="C0")
        ax2.plot(per.index, per.values, "o-", color="C0", label="mean over initializations")
        w = per.index.to_numpy(dtype=float)
        ax2.plot(w, per.iloc[0] * (w / w[0]) ** -0.5, "k--", lw=1, label="slope -1/2 (guide)")
        ax2.axhline(tolerance, color="C3", lw=1, ls=":", label="tolerance")
        _log_width_axis(ax2)
        ax2.set_xlabel("width")
        ax2.set_ylabel("relative RMS deviation from kernel flow")
        ax2.legend(fontsize=8, frameon=False)
        fig.suptitle("Wide network under gradient descent vs NTK gradient flow", fontsize=10)
        return fig

    return figure

"""Figures of the DMFT laws: loss and alignment curves against widths, kernel heat maps."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

__all__ = [
    "kernel_heatmaps",
    "lazy_limit_figure",
    "onset_figure",
    "rich_figure",
    "wider_is_better_figure",
]


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


def rich_figure(
    pred: pd.DataFrame,
    meas: pd.DataFrame,
    title: str = "Two-layer DMFT (rich) against muP networks",
) -> Figure:
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
    fig.suptitle(title, fontsize=10)
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


def wider_is_better_figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    """Test loss against steps per width ratio nu: theory (muP, NTK, lazy) and networks."""
    fig = Figure(figsize=(9.0, 3.8), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    widths = sorted(pred["width"].unique())
    for i, w in enumerate(widths):
        p = pred[pred["width"] == w]
        c = f"C{i}"
        ax.plot(p["step"], p["test_loss"], "-", color=c, label=f"nu={p['nu'].iloc[0]:g}")
        ax.plot(p["step"], p["ntk_test_loss"], ":", color=c, lw=1)
        m = meas[meas["width"] == w].groupby("step")["test_loss"].agg(["mean", "sem"])
        ax.errorbar(m.index, m["mean"], yerr=2 * m["sem"], fmt="o", ms=3, color=c)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("test loss E[(f - y)^2]")
    ax.legend(fontsize=7, frameon=False, title="line: muP theory, dots: NTK", title_fontsize=7)
    last = pred["step"].max()
    p = pred[pred["step"] == last]
    m = meas[meas["step"] == last].groupby("width")["test_loss"].agg(["mean", "sem"])
    ax2.loglog(p["nu"], p["test_loss"], "k-", label="muP theory")
    ax2.loglog(p["nu"], p["ntk_test_loss"], "k:", label="NTK theory")
    ax2.errorbar(p["nu"].to_numpy(), m.loc[p["width"], "mean"], yerr=2 * m.loc[p["width"], "sem"],
                 fmt="o", label="muP networks")  # fmt: skip
    ax2.xaxis.set_minor_formatter(NullFormatter())
    ax2.set_xlabel("nu = N / D")
    ax2.set_ylabel(f"test loss at step {int(last)}")
    ax2.legend(fontsize=8, frameon=False)
    fig.suptitle("Wider is better: linear networks in the proportional limit", fontsize=10)
    return fig


def onset_figure(pred: pd.DataFrame, meas: pd.DataFrame, onsets_fn) -> Figure:
    """Learning curves E_N(P) against E_inf(P), and the onset P* against N on log axes."""
    fig = Figure(figsize=(9.0, 3.8), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    sizes = pred["num_train"].to_numpy()
    e_inf = pred["test_mse_inf"].to_numpy()
    r = float(pred["threshold"].iloc[0])
    mean = meas.groupby(["width", "num_train"])["test_mse"].mean().unstack("num_train")[sizes]
    for i, w in enumerate(mean.index):
        ax.loglog(sizes, mean.loc[w], "o-", ms=3, color=f"C{i}", label=f"N={w}")
    ax.loglog(sizes, e_inf, "k-", lw=2, label="infinite width")
    ax.set_xlabel("training points P")
    ax.set_ylabel("test MSE")
    ax.legend(fontsize=8, frameon=False)
    ps = onsets_fn({int(w): mean.loc[w].to_numpy() for w in mean.index}, e_inf, sizes, r)
    N = np.array(list(ps), float)
    p = np.array(list(ps.values()))
    ax2.loglog(N, p, "o", label=f"P* (E_N = {r:g} E_inf)")
    if np.isfinite(p).all():
        ax2.loglog(N, p[0] * (N / N[0]) ** 0.5, "k--", lw=1, label="N^1/2")
        k = np.polyfit(np.log(N), np.log(p), 1)[0]
        ax2.loglog(N, p[0] * (N / N[0]) ** k, "C3-", lw=1, label=f"fit N^{k:.2f}")
    ax2.xaxis.set_minor_formatter(NullFormatter())
    ax2.set_xlabel("width N")
    ax2.set_ylabel("onset P*")
    ax2.legend(fontsize=8, frameon=False)
    fig.suptitle("Onset of variance-limited behaviour (lazy ReLU networks)", fontsize=10)
    return fig

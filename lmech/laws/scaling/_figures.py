"""Figures of the scaling laws; each reads the two tables and the law's own estimates."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

_LABELS = {
    "t": "time t (N = width, P = inf)",
    "N": "width N (t, P = inf)",
    "P": "samples P (t, N = inf)",
}


def exponents(pred: pd.DataFrame, meas: pd.DataFrame, got: dict[str, float]):
    """One log-log panel per resource: theory curve and simulation, with their slopes."""
    resources = list(dict.fromkeys(pred["resource"]))
    fig, axes = plt.subplots(1, len(resources), figsize=(13, 3.8))
    for ax, r in zip(np.atleast_1d(axes), resources, strict=True):
        p, m = pred[pred.resource == r], meas[meas.resource == r]
        ax.plot(p["x"], p["loss"], "k-", lw=1, label=f"theory, slope -{p['exponent'].iloc[0]:.3f}")
        ax.plot(m["x"], m["loss"], "o", ms=4, label=f"simulation, slope -{got[r]:.3f}")
        ax.set(xscale="log", yscale="log", xlabel=_LABELS.get(r, r), ylabel="test loss")
        ax.legend(fontsize=8)
    fig.suptitle("Random-feature scaling exponents (Bordelon, Atanasov, Pehlevan 2024)")
    fig.tight_layout()
    return fig


def compute_optimal(pred: pd.DataFrame, meas: pd.DataFrame, opt: pd.DataFrame, got: float):
    """IsoFLOP profiles (left) and N*(C) measured vs the theory optimum and C^exponent."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    groups = list(meas.groupby("C"))
    for i, (c, g) in enumerate(groups):
        color = plt.cm.viridis(i / max(1, len(groups) - 1))
        ax.plot(g["N"], g["loss"], "-o", ms=3, color=color, label=f"C={c:.3g}")
    ax.set(xscale="log", yscale="log", xlabel="width N (t = C/N)", ylabel="test loss")
    ax.set_title("IsoFLOP profiles (simulation)")
    ax.legend(fontsize=7)
    want = float(pred["exponent_N"].iloc[0])
    bx.plot(opt["C"], opt["N_star"], "o", label=f"simulation, slope {got:.3f}")
    bx.plot(pred["C"], pred["N_star"], "k-", label="theory optimum (bottleneck sum)")
    ref = pred["N_star"].iloc[0] * (pred["C"] / pred["C"].iloc[0]) ** want
    bx.plot(pred["C"], ref, "k:", label=f"C^{want:.3f}")
    bx.set(xscale="log", yscale="log", xlabel="compute C = N t", ylabel="N*")
    bx.legend(fontsize=8)
    fig.tight_layout()
    return fig


def coverage(truth: pd.Series, meas: pd.DataFrame, cover: dict[str, float]):
    """Per parameter: every repetition's interval (red: misses the truth) and estimate."""
    noisy = meas[meas.repetition >= 0]
    names = list(cover)
    fig, axes = plt.subplots(1, len(names), figsize=(3 * len(names), 3.6))
    for ax, p in zip(np.atleast_1d(axes), names, strict=True):
        g = noisy[noisy.parameter == p].sort_values("estimate")
        y = np.arange(len(g))
        hit = (g.ci_low <= truth[p]) & (truth[p] <= g.ci_high)
        ax.hlines(y, g.ci_low, g.ci_high, colors=np.where(hit, "C0", "C3"), lw=1)
        ax.plot(g.estimate, y, "k.", ms=3)
        ax.axvline(truth[p], color="k", ls="--", lw=1)
        ax.set_title(f"{p}: coverage {cover[p]:.2f}", fontsize=9)
        ax.set_yticks([])
        if p in ("A", "B"):
            ax.set_xscale("log")
    np.atleast_1d(axes)[0].set_ylabel("repetition (sorted)")
    fig.suptitle("Chinchilla fit: bootstrap intervals vs truth (red: missed)")
    fig.tight_layout()
    return fig

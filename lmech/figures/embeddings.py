"""Figures of the word-embedding laws; each reads a law's two tables (theory, measurement).

- :func:`stepwise_rank`: squared singular values of W over training against the QWEM
  sigmoids u_k(t), the effective rank, and the predicted switch-on steps;
- :func:`subspace`: principal cosines and learned s_k^2 against the eigenvalues of M*;
- :func:`analogy_curve`: analogy accuracy against embedding dimension;
- :func:`months_circle`: the months in the plane of their top two directions.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lmech.measure.embeddings import effective_rank

__all__ = ["stepwise_rank", "subspace", "analogy_curve", "months_circle"]


def _wide(df: pd.DataFrame, col: str):
    t = df.pivot(index="step", columns="mode", values=col).sort_index()
    return t.index.to_numpy(float), t.to_numpy(float)


def stepwise_rank(pred: pd.DataFrame, meas: pd.DataFrame, title: str = "QWEM: stepwise learning"):
    """Left: u_k = s_k^2 (measured, dots) and the theory sigmoids; right: effective rank."""
    sp, up = _wide(pred, "u_pred")
    sm, um = _wide(meas, "u")
    tau = pred.groupby("mode")["switch_on_step"].first().to_numpy(float)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    for k in range(up.shape[1]):
        color = plt.cm.viridis(k / max(1, up.shape[1] - 1))
        ax.plot(
            sp, up[:, k], "-", color=color, lw=1, label=f"theory mode {k + 1}" if k < 6 else None
        )
        ax.plot(sm[::4], um[::4, k], "o", ms=2, color=color)
    for t in tau:
        for a in (ax, bx):
            a.axvline(t, color="0.7", lw=0.6, ls=":")
    ax.set(yscale="log", xlabel="gradient step", ylabel="s_k^2 (dots: measured)")
    ax.legend(fontsize=7)
    bx.plot(sp, effective_rank(np.sqrt(up)), "k-", lw=1, label="theory")
    bx.plot(sm, effective_rank(np.sqrt(np.clip(um, 0, None))), "o", ms=2, label="measured")
    bx.set(xlabel="gradient step", ylabel="effective rank of W")
    bx.legend(fontsize=8)
    fig.suptitle(f"{title} (dotted: predicted switch-on steps)")
    fig.tight_layout()
    return fig


def subspace(cosines: np.ndarray, lam: np.ndarray, s2: np.ndarray, title: str):
    """Principal cosines (left) and learned s_k^2 vs eigenvalues lambda_k (right)."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    k = np.arange(1, len(cosines) + 1)
    ax.bar(k, cosines, color="C0")
    ax.set(ylim=(0, 1.05), xlabel="principal angle k", ylabel="cos(theta_k)")
    bx.plot(np.arange(1, len(lam) + 1), lam, "k-", label="eigenvalues of M*")
    bx.plot(np.arange(1, len(s2) + 1), s2, "o", label="learned s_k^2")
    bx.set(xlabel="mode k", ylabel="value")
    bx.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def analogy_curve(
    pred: pd.DataFrame, meas: pd.DataFrame, title: str = "Analogies against dimension"
):
    """Accuracy against d, one line per matrix (theory) with measured markers."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, g) in enumerate(pred.groupby("matrix", sort=False)):
        g = g.sort_values("dim")
        ax.plot(g["dim"], g["accuracy"], "-", color=f"C{i}", label=f"{name}: exact statistics")
        m = meas[meas["matrix"] == name].sort_values("dim")
        ax.plot(m["dim"], m["accuracy"], "o", color=f"C{i}", label=f"{name}: sampled corpus")
    ax.set(xlabel="embedding dimension d", ylabel="3CosAdd accuracy", ylim=(-0.02, 1.05))
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def months_circle(pred: pd.DataFrame, meas: pd.DataFrame, title: str = "Months on a circle"):
    """The measured month vectors in their top-two plane, with the predicted angles."""
    fig, ax = plt.subplots(figsize=(5, 5))
    x, y = meas["x"].to_numpy(float), meas["y"].to_numpy(float)
    r = np.hypot(x, y).mean()
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(r * np.cos(t), r * np.sin(t), color="0.8", lw=1)
    ax.plot(np.r_[x, x[:1]], np.r_[y, y[:1]], "-o", ms=4)
    for name, xi, yi in zip(meas["month"], x, y, strict=True):
        ax.annotate(str(name)[:3], (xi, yi), fontsize=8)
    ang = pred["angle"].to_numpy(float)
    phi = np.arctan2(y, x)
    zs = [np.exp(1j * (s * phi - ang)).mean() for s in (1.0, -1.0)]
    sign = 1.0 if abs(zs[0]) >= abs(zs[1]) else -1.0
    shown = sign * (ang + np.angle(zs[0] if sign > 0 else zs[1]))
    ax.plot(
        r * np.cos(shown), r * np.sin(shown), "k+", ms=8, label="predicted angles (best rotation)"
    )
    ax.set(aspect="equal", xlabel="direction 1", ylabel="direction 2")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    return fig

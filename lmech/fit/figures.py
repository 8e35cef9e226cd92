"""Figures of fitted scaling laws (data, fitted IsoFLOP curves, frontier)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["chinchilla_figure", "powerlaw_figure"]


def chinchilla_figure(N, D, loss, fit):
    """Left: data vs N coloured by C = 6ND with the fitted IsoFLOP curves and their minima.
    Right: the fitted efficient frontier N_opt(C), D_opt(C) with the runs."""
    N, D, loss = (np.asarray(v, dtype=np.float64) for v in (N, D, loss))
    C = 6.0 * N * D
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    norm = plt.matplotlib.colors.LogNorm(C.min(), C.max())
    sc = ax.scatter(N, loss, c=C, norm=norm, cmap="viridis", s=14, label="runs")
    budgets = np.geomspace(C.min(), C.max(), 6)
    n_opt, d_opt = fit.compute_optimal(budgets)
    for c in budgets:
        grid = np.geomspace(N.min() / 3, N.max() * 3, 200)
        ax.plot(grid, fit.predict(grid, c / (6 * grid)), color=plt.cm.viridis(norm(c)), lw=1)
    ax.plot(n_opt, fit.predict(n_opt, d_opt), "k*", ms=9, label="fitted optimum")
    ax.set(xscale="log", yscale="log", xlabel="parameters N", ylabel="loss")
    ax.set_title("data and fitted IsoFLOP curves")
    ax.legend(fontsize=8)
    fig.colorbar(sc, ax=ax, label="C = 6ND [FLOPs]")
    cs = np.geomspace(C.min(), C.max() * 100, 50)
    no, do = fit.compute_optimal(cs)
    e = fit.exponents()
    bx.plot(cs, no, "C0-", label=f"N_opt ~ C^{e['a']:.3f}")
    bx.plot(cs, do, "C1-", label=f"D_opt ~ C^{e['b']:.3f}")
    bx.scatter(C, N, s=8, c="C0", alpha=0.4, label="runs (N)")
    bx.scatter(C, D, s=8, c="C1", alpha=0.4, label="runs (D)")
    bx.set(xscale="log", yscale="log", xlabel="compute C [FLOPs]", ylabel="N, D")
    bx.set_title("compute-optimal frontier")
    bx.legend(fontsize=8)
    fig.tight_layout()
    return fig


def powerlaw_figure(x, y, fit):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter(x, y, s=12, label="data")
    grid = np.geomspace(x.min(), x.max(), 200)
    label = ", ".join(f"{k}={v:.3g}" for k, v in fit.estimate.items())
    ax.plot(grid, fit.predict(grid), "k-", label=label)
    ax.set(xscale="log", yscale="log", xlabel="x", ylabel="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

"""Figures of the CoGS algebra laws and the solvable-grokking laws (each reads only a
law's two tables).

Example::

    from lmech.laws.grokking import cogs
    spec = cogs.CONSTRUCTIONS.preset("smoke")
    pred, meas = cogs.constructions_theory(spec), cogs.constructions_experiment(spec, 0, "cpu")
    fig = constructions_figure(pred, meas)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "block_gallery_figure",
    "constructions_figure",
    "factorization_figure",
    "homomorphism_figure",
    "lazy_rich_figure",
    "linear_estimator_figure",
]

_FLOOR = 1e-18  # defects and losses of 0 are drawn at this floor on the log axis


def homomorphism_figure(pred: pd.DataFrame, meas: pd.DataFrame, tolerance: float) -> Figure:
    """Relative defect per identity and modulus (log), the tolerance, and the null."""
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.add_subplot()
    quantities = list(dict.fromkeys(meas["quantity"]))
    for i, (d, g) in enumerate(meas.groupby("d")):
        for j, q in enumerate(quantities):
            v = np.maximum(g.loc[g["quantity"] == q, "defect"].to_numpy(), _FLOOR)
            ax.scatter(np.full(v.size, j) + 0.12 * (i - 1.5), v, s=14, color=f"C{i}",
                       label=f"d = {d}" if j == 0 else None)  # fmt: skip
    ax.axhline(tolerance, color="k", ls="--", lw=1, label=f"tolerance {tolerance:g}")
    ax.set_yscale("log")
    ax.set_xticks(range(len(quantities)), quantities, rotation=25, fontsize=7, ha="right")
    ax.set_ylabel("relative defect (brute force vs algebra)")
    ax.set_title(
        "CoGS: sum potentials are ring homomorphisms; Fourier loss = direct loss", fontsize=9
    )
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def constructions_figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    """Direct loss of each construction (and of the partial z_syn null) against d; widths."""
    fig = Figure(figsize=(10, 4))
    ax, bx = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for i, (c, g) in enumerate(meas.groupby("construction", sort=False)):
        g = g.sort_values("d")
        ax.plot(g["d"], np.maximum(g["loss"], _FLOOR), "o-", color=f"C{i}", label=c)
        p = pred[pred["construction"] == c].sort_values("d")
        if len(p):
            bx.plot(p["d"], p["width"], "-", color=f"C{i}", lw=1, label=f"{c} (theory)")
            bx.plot(g["d"], g["width"], "o", color=f"C{i}", ms=5)
    ax.axhline(1e-12, color="k", ls="--", lw=1, label="1e-12")
    ax.set_yscale("log")
    ax.set_xlabel("modulus d")
    ax.set_ylabel("loss on all d^2 pairs (direct)")
    ax.legend(fontsize=7, frameon=False)
    bx.set_yscale("log")
    bx.set_xlabel("modulus d")
    bx.set_ylabel("hidden width q (dots: built)")
    bx.legend(fontsize=7, frameon=False)
    fig.suptitle("CoGS constructions: zero loss at the predicted width", fontsize=10)
    fig.tight_layout()
    return fig


def linear_estimator_figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    """Per ratio: train/test loss (log) and accuracy against step, theory lines, trial means."""
    ratios = sorted(pred["ratio"].unique())
    fig = Figure(figsize=(4 * len(ratios), 6.5))
    mean = meas.groupby(["ratio", "step"], as_index=False).mean(numeric_only=True)
    for i, r in enumerate(ratios):
        ax, bx = (
            fig.add_subplot(2, len(ratios), i + 1),
            fig.add_subplot(2, len(ratios), len(ratios) + i + 1),
        )
        p, m = pred[pred["ratio"] == r], mean[mean["ratio"] == r]
        for j, kind in enumerate(("train", "test")):
            ax.plot(p["step"], p[f"{kind}_loss"], "-", color=f"C{j}", label=f"{kind} (MP theory)")
            ax.plot(
                m["step"], m[f"{kind}_loss"], "o", ms=3, color=f"C{j}", label=f"{kind} (GD, mean)"
            )
            bx.plot(p["step"], p[f"{kind}_accuracy"], "-", color=f"C{j}")
            bx.plot(m["step"], m[f"{kind}_accuracy"], "o", ms=3, color=f"C{j}")
        ax.axhline(float(p["threshold"].iloc[0]), color="k", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_title(f"lambda = d/N = {r:g}", fontsize=9)
        bx.set_xlabel("GD step")
        if i == 0:
            ax.set_ylabel("per-output MSE")
            bx.set_ylabel("accuracy (loss < epsilon)")
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle("Grokking in a linear estimator: theory lines, GD trial means", fontsize=10)
    fig.tight_layout()
    return fig


def lazy_rich_figure(pred: pd.DataFrame, meas: pd.DataFrame, times: pd.DataFrame) -> Figure:
    """Test/train loss curves per alpha; t_grok and t_train against alpha with the theory."""
    fig = Figure(figsize=(10, 4))
    ax, bx = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for i, (a, g) in enumerate(meas[meas["trial"] == meas["trial"].min()].groupby("alpha")):
        ax.plot(g["step"], g["test_loss"], "-", color=f"C{i}", label=f"alpha = {a:g} (test)")
        ax.plot(g["step"], g["train_loss"], ":", color=f"C{i}")
    ax.set_xscale("log")
    ax.set_xlabel("GD step")
    ax.set_ylabel("loss (solid: population test, dotted: train)")
    ax.legend(fontsize=7, frameon=False)
    p = pred.sort_values("alpha")
    bx.plot(p["alpha"], p["t_grok"], "k-", label="t_grok (population theory)")
    bx.plot(times["alpha"], times["t_grok"], "o", color="C0", ms=4, label="t_grok (runs)")
    bx.plot(times["alpha"], times["t_train"], "s", color="C1", ms=4, label="t_train (runs)")
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.set_xlabel("initial output scale alpha")
    bx.set_ylabel("steps to half the initial loss")
    bx.legend(fontsize=7, frameon=False)
    fig.suptitle("Lazy to rich: the generalization time grows with alpha", fontsize=10)
    fig.tight_layout()
    return fig


_TYPES = ("nu=i * xi", "nu=i * syn_ab", "nu * syn", "other")


def factorization_figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    """cogs-factorization: error histogram (trained vs random blocks), the per-frequency
    order distribution per d (Tian Fig. 4) and the solution-type distribution per d (Table 2)."""
    fig = Figure(figsize=(13, 3.9))
    ax, bx, cx = (fig.add_subplot(1, 3, i) for i in (1, 2, 3))
    done = meas[meas["error"] >= 0]
    if len(done):
        bins = np.logspace(-4, 1.5, 40)
        ax.hist([np.maximum(done["error"], 1e-4), done["null_error"]], bins=bins,
                label=["trained blocks", "random blocks (null)"])  # fmt: skip
        ax.legend(fontsize=7, frameon=False)
    ax.set_xscale("log")
    ax.axvline(0.05, color="k", ls="--", lw=1)
    ax.set_xlabel("factorization error (dashed: 0.05)")
    ax.set_ylabel("order-4/6 blocks")
    moduli = sorted(meas["d"].unique())
    top = int(max(8, meas["order"].max())) if len(meas) else 8
    for i, d in enumerate(moduli):
        o = meas.loc[meas["d"] == d, "order"]
        h = np.bincount(np.minimum(o, top), minlength=top + 1) / max(len(o), 1)
        bx.bar(np.arange(top + 1) + 0.8 * (i / len(moduli) - 0.4), h, width=0.8 / len(moduli),
               color=f"C{i}", label=f"d = {d}")  # fmt: skip
    bx.set_xlabel(f"nodes per frequency (order; {top} = {top} or more)")
    bx.set_ylabel("share of frequencies k = 1..(d-1)/2")
    bx.legend(fontsize=7, frameon=False)
    fac = done[done["factorable"]]
    bottom = np.zeros(len(moduli))
    for j, t in enumerate(_TYPES):
        share = np.array([(fac.loc[fac["d"] == d, "type"] == t).mean() if (fac["d"] == d).any()
                          else 0.0 for d in moduli])  # fmt: skip
        cx.bar([str(d) for d in moduli], share, bottom=bottom, color=f"C{j}", label=t)
        bottom += share
    if not len(fac):
        cx.text(0.5, 0.5, "no factorable block", ha="center", transform=cx.transAxes)
    cx.set_xlabel("modulus d")
    cx.set_ylabel("share of factorable blocks")
    cx.legend(fontsize=7, frameon=False)
    fig.suptitle("CoGS: trained blocks factorize into the constructed products "
                 "(Tian, Fig. 4 and Table 2)", fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig


def block_gallery_figure(net, k: int | None = None, threshold: float = 0.05) -> Figure:
    """One learned frequency block next to its matched construction.

    ``net`` is a :class:`lmech.theory.cogs.CoGSNet` (e.g. a trained network); ``k`` the
    frequency (default: the first factorable order-4/6 one). Left to right: the learned
    Fourier coefficients a, b, c of the block's nodes in the complex plane (scaled by the
    block's (sum abc)^{1/3}), each node's constructed counterpart
    (:meth:`lmech.theory.cogs.Factorization.reconstruct`: the Kronecker product of the two
    fitted factors, order-2 x order-2/3, on the same nodes; the first half coincides by
    construction, the second half shows the factorization error) as open markers, and the
    factors' labels.
    """
    from lmech.theory import cogs as C

    freq = C.node_frequencies(net, threshold)
    za, zb, zc = net.fourier()
    ks = [k] if k is not None else range(1, (net.d - 1) // 2 + 1)
    for kk in ks:
        idx = np.flatnonzero(freq == kk)
        if len(idx) in (4, 6):
            f = C.factorize_block(za[idx, kk], zb[idx, kk], zc[idx, kk])
            if f.factorable or k is not None:
                break
    else:
        raise ValueError("no order-4/6 block to draw")
    F = np.stack([za[idx, kk], zb[idx, kk], zc[idx, kk]])
    built = f.reconstruct(*F)  # the Kronecker product of the two fitted factors
    s = np.abs(np.sum(F[0] * F[1] * F[2])) ** (1 / 3) or 1.0
    labels = C.classify_factors(f)
    fig = Figure(figsize=(11, 3.8))
    for r, name in enumerate(("a (first input)", "b (second input)", "c (output)")):
        ax = fig.add_subplot(1, 3, r + 1)
        ax.scatter(F[r].real / s, F[r].imag / s, s=40, color="C0", label="learned")
        ax.scatter(built[r].real / s, built[r].imag / s, s=110, facecolors="none",
                   edgecolors="C3", label="construction")  # fmt: skip
        t = np.linspace(0, 2 * np.pi, 200)
        rad = np.abs(F[r]).max() / s
        ax.plot(rad * np.cos(t), rad * np.sin(t), color="0.8", lw=0.8)
        ax.axhline(0, color="0.85", lw=0.6)
        ax.axvline(0, color="0.85", lw=0.6)
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=9)
        if r == 0:
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"frequency k = {kk} (order {len(idx)}): factors {labels[0]} x {labels[1]}, "
                 f"factorization error {f.error:.3f}", fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig

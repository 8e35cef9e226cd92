"""Figures of the ridge family: double-descent curves with theory lines, and the risk
against N and P with and without a tuned ridge. They read tables only."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

__all__ = ["double_descent_figure", "more_is_better_figure"]


def double_descent_figure(
    pred: pd.DataFrame, meas: pd.DataFrame, *, x: str = "ratio", title: str = ""
) -> Figure:
    """Theory line ``pred[x] -> pred.test_error`` and measured means +- 2 SE per
    ``features`` (``meas`` columns features, test_error), log-log."""
    fig = Figure(figsize=(6.0, 4.2))
    ax = fig.add_subplot()
    ax.plot(pred[x], pred["test_error"], color="C0", label="theory")
    m = meas.groupby("features")["test_error"].agg(["mean", "std", "count"]).reset_index()
    xs = m["features"].map(dict(zip(pred["features"], pred[x], strict=False)))
    sem = m["std"].fillna(0) / m["count"] ** 0.5
    ax.errorbar(xs, m["mean"], yerr=2 * sem, fmt="o", color="C1", ms=4, label="simulation")
    ax.axvline(1.0 if x == "ratio" else float("nan"), color="grey", lw=0.5, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N / P" if x == "ratio" else x)
    ax.set_ylabel("test error")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return fig


def more_is_better_figure(pred: pd.DataFrame, meas: pd.DataFrame, *, title: str = "") -> Figure:
    """Two panels (axis = "features" and "samples"): the risk with the ridge tuned (theory
    line, measured points) and at a fixed ridge. ``pred`` columns axis, size, tuned,
    test_error; ``meas`` columns axis, size, tuned, test_error (means over trials)."""
    fig = Figure(figsize=(9.0, 3.8))
    for k, axis in enumerate(("features", "samples")):
        ax = fig.add_subplot(1, 2, k + 1)
        for i, tuned in enumerate((True, False)):
            p = pred[(pred["axis"] == axis) & (pred["tuned"] == tuned)]
            m = meas[(meas["axis"] == axis) & (meas["tuned"] == tuned)]
            m = m.groupby("size")["test_error"].mean().reset_index()
            label = "optimal ridge" if tuned else "fixed ridge"
            ax.plot(p["size"], p["test_error"], color=f"C{i}", label=f"{label} theory")
            ax.plot(m["size"], m["test_error"], "o", color=f"C{i}", ms=4)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N (features)" if axis == "features" else "P (samples)")
        ax.set_ylabel("test error")
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    return fig

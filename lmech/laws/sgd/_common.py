"""Helpers shared by the SGD laws: Monte-Carlo z-scores, log grids and curve figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lmech.errors import ConfigError


def log_steps(steps: int, points: int, start: int = 1) -> np.ndarray:
    """About ``points`` distinct integer steps in [start, steps], geometrically spaced."""
    start = min(start, steps)
    return np.unique(np.round(np.geomspace(start, steps, points)).astype(np.int64))


def grid_rows(groups: list[tuple], steps, *series) -> list[tuple]:
    """Table rows ``(*groups[g], step, series[0][g][i], series[1][g][i], ...)`` for every
    group g and logged step i: the shape of every SGD law's curve table, whose engine
    returns (G, n) arrays at ``steps`` (a 1-D series is one group: pass ``s[None]``)."""
    return [
        (*group, int(t), *(s[g][i] for s in series))
        for g, group in enumerate(groups)
        for i, t in enumerate(steps)
    ]


def check_same_length(**fields: tuple) -> None:
    """Spec fields that are read pairwise must have the same length."""
    lengths = {k: len(v) for k, v in fields.items()}
    if len(set(lengths.values())) != 1:
        raise ConfigError(f"{', '.join(lengths)} must have the same length; got {lengths}")


def joined(pred: pd.DataFrame, meas: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Theory and measurement rows side by side (inner join on ``keys``)."""
    out = pred.merge(meas, on=keys, suffixes=("_pred", "_meas"))
    if out.empty:
        raise ConfigError(f"theory and measurement tables share no rows on {keys}")
    return out


def max_abs_z(pred: np.ndarray, meas: np.ndarray, se: np.ndarray) -> tuple[float, int]:
    """max_i |pred_i - meas_i| / se_i and its index (se floored at 1e-300)."""
    z = np.abs(np.asarray(pred) - np.asarray(meas)) / np.maximum(np.asarray(se), 1e-300)
    i = int(np.argmax(z))
    return float(z[i]), i


def curves_figure(
    pred: pd.DataFrame,
    meas: pd.DataFrame,
    *,
    group: str,
    x: str,
    y_pred: str,
    y_meas: str,
    se: str,
    title: str,
    ylabel: str = "expected loss",
    null: str | None = None,
):
    """Theory lines over Monte-Carlo means (+- 2 s.e.) per group, log-log."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (g, p) in enumerate(pred.groupby(group, sort=False)):
        color = plt.cm.viridis(i / max(1, pred[group].nunique() - 1))
        p = p.sort_values(x)
        ax.plot(p[x], p[y_pred], "-", color=color, lw=1.2, label=f"{group}={g}: theory")
        if null is not None:
            ax.plot(p[x], p[null], ":", color=color, lw=1)
        m = meas[meas[group] == g].sort_values(x)
        ax.errorbar(m[x], m[y_meas], yerr=2 * m[se], fmt="o", ms=3, color=color, label="SGD (MC)")
    ax.set(xscale="log", yscale="log", xlabel=x, ylabel=ylabel, title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig

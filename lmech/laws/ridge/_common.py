"""Shared pieces of the ridge laws: the power-law model, aggregation and a curve figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def power_law_model(dim: int, spectrum_exponent: float, teacher_exponent: float):
    """(s_i, w_i): s_i ~ i^-alpha with Tr Sigma = 1, teacher power s_i w_i^2 ~ i^-beta
    with sum s_i w_i^2 = 1 (unit signal variance)."""
    i = np.arange(1, dim + 1, dtype=np.float64)
    s = i**-spectrum_exponent
    s /= s.sum()
    power = i**-teacher_exponent
    power /= power.sum()
    return s, np.sqrt(power / s)


def mean_sem(meas: pd.DataFrame, keys, column: str = "test_error") -> pd.DataFrame:
    g = meas.groupby(list(keys))[column]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["sem"] = out["std"].fillna(0.0) / np.sqrt(out["count"])
    return out


def curve_figure(title: str, x: str, hue: str, pred_col: str = "test_error"):
    """A log-log figure of the theory lines (pred) and measured means +- 2 SE (meas)."""

    def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
        fig = Figure(figsize=(6.0, 4.2))
        ax = fig.add_subplot()
        m = mean_sem(meas, [hue, x])
        for i, (h, sub) in enumerate(pred.groupby(hue)):
            color = f"C{i}"
            ax.plot(sub[x], sub[pred_col], color=color, label=f"{hue}={h:g} theory")
            ms = m[m[hue] == h]
            ax.errorbar(ms[x], ms["mean"], yerr=2 * ms["sem"], fmt="o", color=color, ms=4)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel("test error")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
        return fig

    return figure

"""Comparison statistics of the cnn family."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ntk_errors"]


def ntk_errors(pred: pd.DataFrame, meas: pd.DataFrame) -> pd.DataFrame:
    """||K_hat - K||_F / ||K||_F per (architecture, width, init), from upper entries
    (off-diagonal entries weighted 2)."""
    m = meas.merge(
        pred[["architecture", "i", "j", "ntk"]].rename(columns={"ntk": "limit"}),
        on=["architecture", "i", "j"],
    )
    w = np.where(m["i"] == m["j"], 1.0, 2.0)
    m["num"] = w * (m["ntk"] - m["limit"]) ** 2
    m["den"] = w * m["limit"] ** 2
    g = m.groupby(["architecture", "width", "init"])[["num", "den"]].sum()
    return np.sqrt(g["num"] / g["den"]).rename("rel_err").reset_index()

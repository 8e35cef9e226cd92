"""Comparison statistics of the ntk family: measured kernels and outputs vs the theory."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ntk_errors", "mean_kernel_deviation", "nngp_z", "flow_deviations"]


def _with_limit(pred: pd.DataFrame, meas: pd.DataFrame) -> pd.DataFrame:
    """meas rows with the theory entry ``limit`` and the Frobenius weight (2 off-diagonal)."""
    m = meas.merge(pred[["i", "j", "ntk"]].rename(columns={"ntk": "limit"}), on=["i", "j"])
    m["weight"] = np.where(m["i"] == m["j"], 1.0, 2.0)  # entry (i, j) stands for (j, i) too
    return m


def ntk_errors(pred: pd.DataFrame, meas: pd.DataFrame) -> pd.DataFrame:
    """||K_hat - K||_F / ||K||_F per (width, init)."""
    m = _with_limit(pred, meas)
    m["num"] = m["weight"] * (m["ntk"] - m["limit"]) ** 2
    m["den"] = m["weight"] * m["limit"] ** 2
    g = m.groupby(["width", "init"])[["num", "den"]].sum()
    return np.sqrt(g["num"] / g["den"]).rename("rel_err").reset_index()


def mean_kernel_deviation(pred: pd.DataFrame, meas: pd.DataFrame) -> dict:
    """||mean_init K_hat - K||_F at the widest width in units of its Monte-Carlo SE.

    SE^2 = sum over entries of (weight x sample variance / inits), the expected squared
    Frobenius deviation of the mean when the limit is right; the ratio is then ~1.
    """
    widest = int(meas["width"].max())
    m = _with_limit(pred, meas[meas["width"] == widest])
    g = m.groupby(["i", "j"]).agg(
        mean=("ntk", "mean"),
        var=("ntk", "var"),
        count=("ntk", "count"),
        limit=("limit", "first"),
        weight=("weight", "first"),
    )
    dev2 = (g["weight"] * (g["mean"] - g["limit"]) ** 2).sum()
    se2 = (g["weight"] * g["var"] / g["count"]).sum()
    return {"width": widest, "dev_in_se": float(np.sqrt(dev2 / se2))}


def nngp_z(pred: pd.DataFrame, meas: pd.DataFrame) -> pd.DataFrame:
    """Monte-Carlo estimates joined with the NNGP; z = (estimate - nngp) / se."""
    m = meas.merge(pred, on=["activation", "i", "j"], how="inner")
    m["z"] = (m["estimate"] - m["nngp"]) / m["se"]
    return m


def flow_deviations(pred: pd.DataFrame, meas: pd.DataFrame) -> pd.DataFrame:
    """Relative RMS deviation from the kernel flow per (width, init), over points and steps."""
    m = meas.merge(pred[["step", "point", "f"]].rename(columns={"f": "pred"}), on=["step", "point"])
    m["sq"] = (m["f"] - m["pred"]) ** 2
    m["ref"] = m["pred"] ** 2
    g = m.groupby(["width", "init"])[["sq", "ref"]].sum()
    return np.sqrt(g["sq"] / g["ref"]).rename("rel_dev").reset_index()

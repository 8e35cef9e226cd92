"""Shared pieces of the learning-curve laws: aggregation, comparison, figure.

Both tables are tidy: theory has one row per (n, ridge) with ``test_mse``; the
measurement has one row per (trial, n, ridge) with ``test_mse``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from lmech.errors import ConfigError, InputError
from lmech.kernels.base import Kernel
from lmech.laws.base import Evaluation
from lmech.predict import dense_grid
from lmech.spectra.empirical import pool_eigensystem
from lmech.theory.eigenlearning import learning_curve

__all__ = [
    "METRIC",
    "THEORY_COLUMNS",
    "EXPERIMENT_COLUMNS",
    "held_out_pool_theory",
    "check_trials",
    "summarize",
    "joined",
    "test_mse_errors",
    "curve_figure",
    "learning_curve_figure",
    "draw_learning_curves",
    "dense_sizes",
]


METRIC = "max_rel_err_test_mse"
THEORY_COLUMNS = ("n", "ridge", "kappa", "overfitting_coefficient", "test_mse", "train_mse")
EXPERIMENT_COLUMNS = ("trial", "n", "ridge", "test_mse", "train_mse")


def check_trials(sizes, trials) -> None:
    """``trials``: one count for every size, or one count per size (ConfigError otherwise)."""
    if not isinstance(trials, int) and len(trials) != len(sizes):
        raise ConfigError(
            f"trials needs one count per size ({len(sizes)} sizes) or a single count; "
            f"got {len(trials)} counts {list(trials)}"
        )


def dense_sizes(sizes, points: int = 80) -> np.ndarray:
    """The measured sizes plus a log-spaced grid between them, for a smooth theory curve."""
    return dense_grid(sizes, points)


def summarize(meas: pd.DataFrame, column: str = "test_mse") -> pd.DataFrame:
    """Trial mean, standard error and count of ``column`` per (n, ridge)."""
    g = meas.groupby(["n", "ridge"])[column]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["sem"] = out["std"].fillna(0.0) / np.sqrt(out["count"])
    return out.drop(columns="std")


def joined(pred: pd.DataFrame, meas: pd.DataFrame) -> pd.DataFrame:
    """Measured mean/sem per (n, ridge) beside the prediction at the same (n, ridge)."""
    s = summarize(meas)
    p = pred[["n", "ridge", "test_mse"]].rename(columns={"test_mse": "pred"})
    j = s.merge(p, on=["n", "ridge"], how="left")
    if j["pred"].isna().any():
        missing = j.loc[j["pred"].isna(), ["n", "ridge"]].to_dict("records")
        raise InputError(f"theory table has no prediction for measured grid points {missing}")
    j["rel_err"] = (j["pred"] - j["mean"]).abs() / j["mean"]
    return j


def test_mse_errors(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    """``max_rel_err_test_mse``: max over the (n, ridge) grid of |pred - meas| / meas of
    the trial-averaged test MSE, with the worst point and the median in the detail."""
    j = joined(pred, meas)
    worst = j.loc[j["rel_err"].idxmax()]
    detail = (
        f"worst at n={int(worst['n'])}, ridge={worst['ridge']:.3g}: pred {worst['pred']:.4g} vs "
        f"meas {worst['mean']:.4g} +- {worst['sem']:.2g} (sem); "
        f"median rel err {j['rel_err'].median():.3%} over {len(j)} points"
    )
    return Evaluation({METRIC: float(j["rel_err"].max())}, detail)


def curve_figure(title: str, **kwargs):
    """A law's ``figure``: :func:`learning_curve_figure` with a fixed title."""
    return lambda pred, meas: learning_curve_figure(pred, meas, title, **kwargs)


def learning_curve_figure(
    pred: pd.DataFrame,
    meas: pd.DataFrame,
    title: str,
    *,
    extra: dict | None = None,
    theory_label: str = "theory",
) -> Figure:
    """Log-log test MSE vs n: theory lines, measured means with standard-error bars.

    ``extra`` maps a label to a theory-like table (n, ridge, test_mse) drawn dashed.
    """
    fig = Figure(figsize=(6.4, 4.6), layout="constrained")
    draw_learning_curves(fig.add_subplot(), pred, meas, title, extra, theory_label)
    return fig


def draw_learning_curves(ax, pred, meas, title, extra=None, theory_label="theory") -> None:
    """The body of :func:`learning_curve_figure` on a given axes."""
    s = summarize(meas)
    ridges = sorted(pred["ridge"].unique())
    colors = [f"C{i}" for i in range(len(ridges))]
    for ridge, color in zip(ridges, colors, strict=True):
        p = pred[pred["ridge"] == ridge].sort_values("n")
        ax.plot(
            p["n"], p["test_mse"], color=color, lw=1.8, label=f"{theory_label}, ridge {ridge:.3g}"
        )
        for label, table in (extra or {}).items():
            e = table[table["ridge"] == ridge].sort_values("n")
            ax.plot(
                e["n"],
                e["test_mse"],
                color=color,
                lw=1.2,
                ls="--",
                label=f"{label}, ridge {ridge:.3g}",
            )
        m = s[s["ridge"] == ridge]
        ax.errorbar(
            m["n"],
            m["mean"],
            yerr=m["sem"],
            fmt="o",
            ms=4.5,
            color=color,
            mfc="white",
            capsize=2.5,
            label=f"measured, ridge {ridge:.3g}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training samples n")
    ax.set_ylabel("test MSE")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7.5, frameon=False)


def held_out_pool_theory(
    kernel: Kernel, X_pool: np.ndarray, Y_pool: np.ndarray, sizes, ridges
) -> pd.DataFrame:
    """Eigenlearning curve from a held-out pool's eigensystem (:mod:`lmech.spectra.empirical`).

    With several outputs (Y_pool of shape (M, k)) the per-mode power is averaged over the
    outputs, matching a test MSE averaged over outputs.
    """
    lam, coef = pool_eigensystem(kernel, torch.from_numpy(X_pool), torch.from_numpy(Y_pool))
    power = coef**2 if coef.ndim == 1 else (coef**2).mean(axis=1)
    return learning_curve(lam, np.sqrt(power), dense_sizes(sizes), list(ridges))

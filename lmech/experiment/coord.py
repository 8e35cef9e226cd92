r"""Coordinate check: how the size of each layer's activation update scales with width.

For a model built from an :class:`~lmech.nn.models.MLPSpec` at widths n_1 < ... < n_K,
train a few steps on one fixed batch (all seeds of one width as one vmapped ensemble) and
record, per layer l and step t,

.. math::

    \text{rms}(\Delta h_l^t) = \Big(\frac{1}{B\, n_l}\sum_{i,j} (h_l^t - h_l^0)_{ij}^2\Big)^{1/2},
    \qquad \text{slope}_l^t = \frac{d \log \text{rms}(\Delta h_l^t)}{d \log n},

the log-log slope fitted over widths (mean over seeds first). Under muP every slope is 0
(updates of size Theta(1) per coordinate); under SP with SGD the hidden updates grow like
n^{1/2} and the output update like n (Yang & Hu 2021, Sec. 5; TP-V Sec. 4, the "coord
check"). The table also holds rms(h_l^0) (the ``rms_init`` column).

References:
    Yang et al., "Tensor Programs V", arXiv 2203.03466, Sec. 4 and App. D.1
    (coordinate checking); ``mup.coord_check`` (its ``l1`` statistic is mean |x|; this
    uses the RMS of the *update*).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from lmech.errors import InputError
from lmech.experiment.ensemble import Ensemble, check_learning_rates, train
from lmech.nn.models import MLPSpec
from lmech.nn.param import Parameterization

__all__ = ["coord_check", "coord_slopes", "coord_figure", "layer_order"]


def coord_check(
    spec: MLPSpec,
    param: Parameterization,
    widths: Sequence[int],
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    lr: float,
    steps: int = 3,
    seeds: Sequence[int] = (0, 1, 2),
    loss: str = "mse",
    dtype: str = "float64",
    device: str = "cpu",
) -> pd.DataFrame:
    """The coordinate-check table of ``spec`` under ``param`` at each width.

    Args:
        spec: the architecture; its ``width`` is replaced by each of ``widths``.
        param: the parameterization (its ``optimizer`` is the one used).
        widths: at least two distinct positive widths.
        X, y: one fixed batch (B, d_in) and its targets, used for training and recording.
        lr: the global learning rate (> 0).
        steps: optimizer steps (t = 1..steps are recorded, t = 0 is the initialization).
        seeds: one network per seed at each width.

    Returns:
        Columns ``width, seed, step, layer, rms_update, rms_init``: rms(h_t - h_0) and rms(h_0)
        of every named activation (``input``, ``hidden.i``, ``output``).
    """
    widths = [int(w) for w in widths]
    if len(set(widths)) < 2 or min(widths) < 1:
        raise InputError(f"coord_check needs >= 2 distinct positive widths; got {widths}")
    check_learning_rates(lr, 1)
    seeds = list(seeds)
    rows = []
    for width in widths:
        ens = Ensemble.from_spec(spec.with_width(width), param, seeds, dtype=dtype, device=device)
        X_, y_ = X.to(device=ens.device, dtype=ens.dtype), y.to(device=ens.device)
        if y_.is_floating_point():
            y_ = y_.to(ens.dtype)
        with torch.no_grad():
            h0 = ens.features(X_)
        rms0 = {k: v.flatten(1).pow(2).mean(1).sqrt().cpu().numpy() for k, v in h0.items()}
        run = train(
            ens,
            X_,
            y_,
            lr=lr,
            steps=steps,
            optimizer=param.optimizer,
            loss=loss,
            log_steps=range(steps + 1),
            observers=("feature_change",),
            probe=X_,
        )
        h = run.history
        for (step, layer), grp in h.groupby(["step", "layer"]):
            rel = grp.sort_values("member")["value"].to_numpy()
            # ||h_t - h_0||_F / ||h_0||_F times rms(h_0) = rms(h_t - h_0)
            upd = rel * rms0[layer]
            rows.append(
                pd.DataFrame(
                    {
                        "width": width,
                        "seed": seeds,
                        "step": int(step),
                        "layer": layer,
                        "rms_update": upd,
                        "rms_init": rms0[layer],
                    }
                )
            )
    table = pd.concat(rows, ignore_index=True)
    return table[table["step"] > 0].reset_index(drop=True)


def coord_slopes(table: pd.DataFrame) -> pd.DataFrame:
    """Log-log slope of the seed-mean rms_update against width, per (step, layer)."""
    mean = table.groupby(["step", "layer", "width"])["rms_update"].mean().reset_index()
    rows = []
    for (step, layer), g in mean.groupby(["step", "layer"]):
        g = g.sort_values("width")
        slope = np.polyfit(np.log(g["width"]), np.log(g["rms_update"]), 1)[0]
        rows.append({"step": step, "layer": layer, "slope": float(slope)})
    return pd.DataFrame(rows)


def layer_order(layers) -> list[str]:
    """Layer names in network order: ``input``, ``hidden.0``, ``hidden.1``, ..., ``output``."""

    def key(name: str):
        if name == "input":
            return -1
        if name == "output":
            return 10**9
        return int(name.split(".")[1])

    return sorted(set(layers), key=key)


def coord_figure(table: pd.DataFrame, title: str = "coordinate check") -> Figure:
    """rms(Delta h) vs width, one curve per layer, one panel per step (TP-V Fig. 5 style)."""
    steps = sorted(table["step"].unique())
    fig = Figure(figsize=(3.2 * len(steps), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(steps), sharey=True))
    mean = table.groupby(["step", "layer", "width"])["rms_update"].mean().reset_index()
    for ax, step in zip(axes, steps, strict=True):
        for c, layer in enumerate(layer_order(table["layer"])):
            g = mean[(mean["step"] == step) & (mean["layer"] == layer)].sort_values("width")
            ax.plot(g["width"], g["rms_update"], "o-", color=f"C{c}", ms=3, label=layer)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("width")
        ax.set_title(f"t = {step}", fontsize=9)
    axes[0].set_ylabel("rms of activation update h_t - h_0")
    axes[-1].legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    return fig

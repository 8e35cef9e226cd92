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

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from lmech.errors import InputError
from lmech.experiment.ensemble import Ensemble, check_learning_rates, train
from lmech.nn.models import MLPSpec
from lmech.nn.param import Parameterization

__all__ = [
    "coord_check",
    "coord_check_model",
    "coord_slopes",
    "coord_verdict",
    "coord_figure",
    "layer_order",
]


def coord_check(spec, *args, **kwargs) -> pd.DataFrame:
    """The coordinate-check table: of an :class:`MLPSpec` (``coord_check(spec, param,
    widths, X, y, lr=...)``, :func:`coord_check_mlp`) or of any model
    (``coord_check(model_fn, widths, data, ...)``, :func:`coord_check_model`)."""
    if isinstance(spec, MLPSpec):
        return coord_check_mlp(spec, *args, **kwargs)
    return coord_check_model(spec, *args, **kwargs)


def coord_check_mlp(
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
    """Layer names in network order: ``input``, ``hidden.0``, ..., ``output`` for MLP
    tables; any other names keep their order of first appearance."""
    names = list(dict.fromkeys(layers))
    mlp = all(
        n in ("input", "output") or (n.startswith("hidden.") and n[7:].isdigit()) for n in names
    )
    if not mlp:
        return names

    def key(name: str):
        if name == "input":
            return -1
        if name == "output":
            return 10**9
        return int(name.split(".")[1])

    return sorted(set(names), key=key)


def _default_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if y.is_floating_point():
        return torch.nn.functional.mse_loss(out.reshape(y.shape), y)
    return torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


def coord_check_model(
    model_fn: Callable[[int, int], torch.nn.Module],
    widths: Sequence[int],
    data: tuple[torch.Tensor, torch.Tensor],
    *,
    optimizer: Callable[[torch.nn.Module], torch.optim.Optimizer],
    steps: int = 3,
    seeds: Sequence[int] = (0, 1, 2),
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    modules: Sequence[str] | None = None,
    device: str = "cpu",
) -> pd.DataFrame:
    """Coordinate check of any torch model (TP-V Sec. 4 and App. D.1).

    For each width and seed, ``model_fn(width, seed)`` builds the (already
    parameterized) model; forward hooks record every named module's output (the first
    tensor of a tuple output; a module called several times records its last call) on
    the fixed batch ``data = (x, y)`` at initialization (t = 0) and after each of
    ``steps`` optimizer steps on that batch.

    Args:
        model_fn: (width, seed) -> model.
        widths: >= 2 distinct positive widths.
        data: the batch (inputs, targets); targets of integer dtype mean cross-entropy
            over the last output dimension, float targets MSE (or give ``loss_fn``).
        optimizer: model -> torch optimizer (e.g. ``lambda m: lmech.nn.mup.optimizer(m,
            "adam", lr=1e-2)``).
        modules: module names to record (default: every module but the root).

    Returns:
        Columns ``width, seed, step, layer, rms_update, rms_init, l1_update``: rms and
        mean |.| of h_t - h_0, and rms(h_0), for t = 1..steps.

    Raises:
        InputError: bad widths or steps, data not a pair of tensors, a module name that
            does not exist, a non-finite loss.
    """
    widths = [int(w) for w in widths]
    if len(set(widths)) < 2 or min(widths) < 1:
        raise InputError(f"coord_check needs >= 2 distinct positive widths; got {widths}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InputError(f"steps must be a positive integer; got {steps!r}")
    if not (
        isinstance(data, tuple | list)
        and len(data) == 2
        and all(isinstance(t, torch.Tensor) for t in data)
    ):
        raise InputError("data must be a pair (inputs, targets) of tensors")
    if not callable(model_fn) or not callable(optimizer):
        raise InputError(
            "model_fn and optimizer must be callables: (width, seed) -> model, model -> optimizer"
        )
    loss_fn = loss_fn or _default_loss
    x, y = (t.to(device) for t in data)
    rows = []
    for width in widths:
        for seed in seeds:
            model = model_fn(width, seed)
            if not isinstance(model, torch.nn.Module):
                raise InputError(f"model_fn returned {type(model).__name__}, not a torch.nn.Module")
            model = model.to(device)
            named = dict(model.named_modules())
            names = [n for n in named if n] if modules is None else list(modules)
            missing = [n for n in names if n not in named]
            if missing:
                raise InputError(
                    f"modules {missing} are not modules of the model; some names: {list(named)[1:6]}"
                )
            rec: dict[str, torch.Tensor] = {}

            def hook(mod, args, out, name, rec=rec):
                out = out[0] if isinstance(out, tuple) else out
                if isinstance(out, torch.Tensor) and out.is_floating_point():
                    rec[name] = out.detach().to(torch.float64)

            handles = [
                named[n].register_forward_hook(lambda m, a, o, n=n: hook(m, a, o, n)) for n in names
            ]
            opt = optimizer(model)
            try:
                with torch.no_grad():
                    model(x)
                h0 = dict(rec)
                for t in range(1, steps + 1):
                    opt.zero_grad()
                    loss = loss_fn(model(x), y)
                    if not torch.isfinite(loss):
                        raise InputError(
                            f"loss is {loss.item()} at step {t}, width {width}; lower the lr"
                        )
                    loss.backward()
                    opt.step()
                    with torch.no_grad():
                        model(x)
                    for n, h in h0.items():
                        d = rec[n] - h
                        rows.append(
                            (width, seed, t, n, d.pow(2).mean().sqrt().item(),
                             h.pow(2).mean().sqrt().item(), d.abs().mean().item())
                        )  # fmt: skip
            finally:
                for hd in handles:
                    hd.remove()
    return pd.DataFrame(
        rows, columns=["width", "seed", "step", "layer", "rms_update", "rms_init", "l1_update"]
    )


def coord_verdict(
    table: pd.DataFrame, expected: float | dict[str, float] = 0.0, tol: float = 0.15
) -> pd.DataFrame:
    """Per layer: the worst |slope - expected| over steps and whether it is <= ``tol``.

    ``expected`` is one slope for every layer or layer -> slope (layers missing from the
    dict are not judged). Returns columns ``layer, max_dev, slopes, ok``.
    """
    s = coord_slopes(table)
    rows = []
    for layer in layer_order(table["layer"]):
        e = expected.get(layer) if isinstance(expected, dict) else expected
        if e is None:
            continue
        g = s[s["layer"] == layer].sort_values("step")
        dev = float((g["slope"] - e).abs().max())
        rows.append((layer, dev, tuple(round(v, 3) for v in g["slope"]), bool(dev <= tol)))
    return pd.DataFrame(rows, columns=["layer", "max_dev", "slopes", "ok"])


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

r"""Learning-rate transfer study on a user's model: sizes x learning rates (x seeds).

:func:`transfer_study` runs ``train_fn(size, lr, seed) -> final loss`` for every
combination through ``map_fn`` (default the builtin serial ``map``; pass a sweep
executor's map to run them in parallel), :func:`optimal_lrs` locates the loss-optimal
learning rate eta*(s) per size with a parabola in log2 eta through the grid minimum of
the seed-mean log loss and its two neighbours, with a bootstrap over seeds for its
uncertainty, and :func:`transfer_verdict` says whether eta* moved by more than a
declared factor across sizes (TP-V Sec. 1 and 3: under muP eta* stays put; under SP it
drifts like 1/width with Adam). :func:`adam_lr_sweep` trains seeds x learning rates
with Adam as one vmapped program, or in chunks of ``max_members`` when they do not fit
in memory at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure

from lmech.errors import InputError
from lmech.seeding import rng

__all__ = [
    "transfer_study",
    "optimal_log2_lr",
    "optimal_lrs",
    "transfer_verdict",
    "transfer_figure",
]


def transfer_study(
    train_fn: Callable[[int, float, int], float],
    sizes: Sequence[int],
    lrs: Sequence[float],
    *,
    seeds: Sequence[int] = (0,),
    map_fn: Callable[[Callable, Iterable], Iterable] = map,
    loss_cap: float | None = None,
) -> pd.DataFrame:
    """Columns ``size, lr, seed, loss``: ``train_fn(size, lr, seed)`` for every combination.

    Non-finite losses (diverged runs) become ``loss_cap`` when given, +inf otherwise.
    """
    sizes, lrs, seeds = list(sizes), [float(v) for v in lrs], list(seeds)
    if len(set(sizes)) < 2:
        raise InputError(f"a transfer study needs >= 2 distinct sizes; got {sizes}")
    if len(set(lrs)) < 3 or min(lrs) <= 0 or not all(math.isfinite(v) for v in lrs):
        raise InputError(
            f"need >= 3 distinct positive learning rates to locate an optimum; got {lrs}"
        )
    if not seeds:
        raise InputError("seeds must not be empty")
    if not callable(train_fn):
        raise InputError("train_fn must be a callable (size, lr, seed) -> final loss")
    jobs = [(s, lr, sd) for s in sizes for lr in lrs for sd in seeds]
    losses = list(map_fn(lambda job: float(train_fn(*job)), jobs))
    cap = math.inf if loss_cap is None else float(loss_cap)
    losses = [v if math.isfinite(v) else cap for v in losses]
    if loss_cap is not None:
        losses = [min(v, cap) for v in losses]
    return pd.DataFrame(
        [(*j, v) for j, v in zip(jobs, losses, strict=True)], columns=["size", "lr", "seed", "loss"]
    )


def optimal_log2_lr(log2_lr: np.ndarray, loss: np.ndarray) -> float:
    """log2 of the loss-minimizing lr: the vertex of the parabola in log2 lr through the grid
    minimum of log(loss) and its two neighbours; the grid point itself at an end of the
    grid, next to a diverged point or if the parabola is not convex. Non-finite or
    non-positive losses (diverged runs) count as +inf."""
    order = np.argsort(log2_lr)
    x, y = np.asarray(log2_lr, float)[order], np.asarray(loss, float)[order]
    y = np.where(np.isfinite(y) & (y > 0), y, np.inf)
    i = int(np.argmin(y))
    if i == 0 or i == len(x) - 1 or not np.isfinite(y[i - 1 : i + 2]).all():
        return float(x[i])
    c = np.polyfit(x[i - 1 : i + 2], np.log(y[i - 1 : i + 2]), 2)
    if c[0] <= 0:
        return float(x[i])
    return float(np.clip(-c[1] / (2 * c[0]), x[i - 1], x[i + 1]))


def optimal_lrs(table: pd.DataFrame, *, bootstrap: int = 200, seed: int = 0) -> pd.DataFrame:
    """Columns ``size, log2_lr_opt, log2_lr_se, at_edge``: eta* per size from the seed-mean
    loss; ``log2_lr_se`` is the bootstrap (over seeds) standard deviation, NaN with one
    seed; ``at_edge`` marks an optimum at an end of the lr grid (then it is a bound)."""
    rows = []
    gen = rng(seed, "transfer bootstrap")
    for size, g in table.groupby("size"):
        piv = g.pivot_table(index="lr", columns="seed", values="loss", aggfunc="mean").sort_index()
        x = np.log2(piv.index.to_numpy())
        opt = optimal_log2_lr(x, piv.mean(axis=1).to_numpy())
        k = piv.shape[1]
        se = float("nan")
        if k >= 2:
            boots = [
                optimal_log2_lr(x, piv.iloc[:, gen.integers(0, k, k)].mean(axis=1).to_numpy())
                for _ in range(bootstrap)
            ]
            se = float(np.std(boots))
        rows.append((size, opt, se, bool(opt in (x.min(), x.max()))))
    return pd.DataFrame(rows, columns=["size", "log2_lr_opt", "log2_lr_se", "at_edge"])


def transfer_verdict(opt: pd.DataFrame, factor: float = 2.0) -> dict:
    """``shift_octaves`` (range of log2 eta* over sizes), ``slope`` (d log2 eta* / d log2
    size, least squares) and ``transfers`` (shift <= log2 factor)."""
    if not factor > 1:
        raise InputError(f"factor must be > 1 (2 means eta* may move 2x); got {factor!r}")
    shift = float(np.ptp(opt["log2_lr_opt"]))
    slope = float(np.polyfit(np.log2(opt["size"].astype(float)), opt["log2_lr_opt"], 1)[0])
    return {"shift_octaves": shift, "slope": slope, "transfers": shift <= math.log2(factor)}


def transfer_figure(
    table: pd.DataFrame, opt: pd.DataFrame, title: str = "learning-rate transfer"
) -> Figure:
    """Seed-mean loss vs lr per size, with the located optima dotted."""
    fig = Figure(figsize=(5.0, 3.8), layout="constrained")
    ax = fig.subplots()
    mean = table.groupby(["size", "lr"])["loss"].mean().reset_index()
    sizes = sorted(mean["size"].unique())
    cmap = colormaps["viridis"]
    for i, s in enumerate(sizes):
        c = cmap(0.9 * i / max(1, len(sizes) - 1))
        g = mean[mean["size"] == s]
        ax.plot(g["lr"], g["loss"], "o-", ms=3, color=c, label=f"size {s}")
        ax.axvline(2.0 ** opt.set_index("size").loc[s, "log2_lr_opt"], color=c, lw=0.8, ls=":")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final loss")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title(title, fontsize=10)
    return fig


def adam_lr_sweep(
    models: Sequence[torch.nn.Module],
    lrs: Sequence[float],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    eval_batch: tuple[torch.Tensor, torch.Tensor],
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    lr_factors: dict[str, float] | None = None,
    eps_factors: dict[str, float] | None = None,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    max_members: int | None = None,
) -> np.ndarray:
    """Train every (model, lr) pair with Adam as one vmapped program; final eval losses.

    ``models`` are same-architecture copies (e.g. one per seed) sharing their buffers
    and hooks (those of ``models[0]`` are used); member (i, j) starts from ``models[i]``
    and uses the global lr ``lrs[j]`` times ``lr_factors[name]`` per parameter (and eps x
    ``eps_factors[name]``), exactly the update of ``torch.optim.Adam`` over the groups of
    :func:`lmech.nn.mup.param_groups` (no weight decay). Returns an array (len(models),
    len(lrs)) of ``loss_fn`` on ``eval_batch`` after the last batch; diverged members
    give NaN or inf.

    ``max_members`` (default: all) trains the len(models) x len(lrs) members in
    consecutive chunks of at most that many (member i * len(lrs) + j), one after the
    other on the same batches, so the memory of the stacked parameters, Adam's moments
    and the activations scales with the chunk instead of the whole sweep; a member's
    trajectory does not depend on the chunk it is in (the tests compare the chunked and
    the unchunked losses).
    """
    from torch.func import functional_call, grad_and_value, vmap

    if not models or len(lrs) < 1:
        raise InputError("adam_lr_sweep needs >= 1 model and >= 1 learning rate")
    S, L = len(models), len(lrs)
    E = S * L
    if max_members is None:
        max_members = E
    if isinstance(max_members, bool) or not isinstance(max_members, int) or max_members < 1:
        raise InputError(
            f"max_members must be a positive integer (members trained at once) or None; "
            f"got {max_members!r}"
        )
    template = models[0]
    names = [n for n, _ in template.named_parameters()]
    buffers = dict(template.named_buffers())
    sources = [dict(m.named_parameters()) for m in models]
    lf = {n: float((lr_factors or {}).get(n, 1.0)) for n in names}
    ef = {n: float((eps_factors or {}).get(n, 1.0)) for n in names}
    b1, b2 = betas
    batches = list(batches)  # every chunk trains on the same batches

    def member_loss(p, x, y):
        return loss_fn(functional_call(template, (p, buffers), (x,)), y)

    step_fn = vmap(grad_and_value(member_loss), in_dims=(0, None, None))
    out = []
    for a in range(0, E, max_members):
        part = range(a, min(a + max_members, E))  # members e = i * L + j
        params = {
            n: torch.stack([sources[e // L][n].detach() for e in part]).clone() for n in names
        }
        ref = params[names[0]]
        lr_e = torch.tensor([float(lrs[e % L]) for e in part], dtype=ref.dtype, device=ref.device)
        m1 = {n: torch.zeros_like(p) for n, p in params.items()}
        m2 = {n: torch.zeros_like(p) for n, p in params.items()}
        t = 0
        for x, y in batches:
            t += 1
            grads, _ = step_fn(params, x, y)
            c1, c2 = 1 - b1**t, 1 - b2**t
            with torch.no_grad():
                for n in names:
                    g = grads[n]
                    m1[n].mul_(b1).add_(g, alpha=1 - b1)
                    m2[n].mul_(b2).addcmul_(g, g, value=1 - b2)
                    denom = (m2[n] / c2).sqrt_().add_(eps * ef[n])
                    shape = (len(part),) + (1,) * (g.ndim - 1)
                    params[n].sub_((lr_e * lf[n] / c1).view(shape) * m1[n] / denom)
            del grads
        with torch.no_grad():
            loss = vmap(member_loss, in_dims=(0, None, None))(params, *eval_batch)
        out.append(loss.cpu())
        del params, m1, m2
    return torch.cat(out).reshape(S, L).numpy()

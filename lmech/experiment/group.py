"""Group training: many Li^2 networks (seeds x training fractions x weight decays) as one
vmapped program on the pairs of a finite group; see :mod:`lmech.nn.group` for the network
and the targets."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from lmech.data.groups import FiniteGroup, train_test_split
from lmech.errors import ConfigError
from lmech.experiment.ensemble import Ensemble, train
from lmech.nn.group import GroupMLP, group_data

__all__ = ["train_on_group"]


def train_on_group(
    group: FiniteGroup,
    *,
    seeds: Sequence[int],
    fractions: Sequence[float],
    weight_decays: Sequence[float],
    width: int,
    steps: int,
    lr: float,
    optimizer: str = "adam",
    loss: str = "mse",
    activation: str = "square",
    init_scale: float = 1.0,
    split_seeds: Sequence[int] | None = None,
    log_steps: Sequence[int] | None = None,
    device: str = "cpu",
    progress_label: str | None = None,
    ridge: float | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], np.ndarray]:
    """Train one member per entry of the (equal-length) ``seeds``, ``fractions``,
    ``weight_decays`` lists; member e starts from ``GroupMLP(..., seed=seeds[e])`` and
    trains on the pairs of ``train_test_split(group, fractions[e], split_seeds[e])``
    (``split_seeds`` defaults to ``seeds``; pass seeds from :func:`lmech.seeding.derive_seed`
    keyed by what they draw, e.g. ``derive_seed(seed, "split", M, s)``).

    With ``ridge`` = lambda > 0 (MSE only) the top layer is Li^2's ridge-solved one: before
    every step each member's V is set to (F^T F + lambda I)^{-1} F^T Y_t over its own
    training pairs (F = sigma(X W)) and only W is trained ("top layer already at its
    Stage-I optimum"); the returned V is the ridge solution for the final W.

    Returns:
        (curves, params, masks): ``curves`` has one row per (member, step) with
        ``train_accuracy``, ``test_accuracy`` (on the member's held-out pairs) and
        ``train_loss``; ``params`` the final weights {"W": (E, 2M, K), "V": (E, K, M)}
        as numpy arrays; masks (E, M^2) the training pairs.
    """
    E = len(seeds)
    if loss not in ("mse", "cross_entropy"):
        raise ConfigError(f"loss must be mse or cross_entropy; got {loss!r}")
    if ridge is not None and not (loss == "mse" and ridge > 0 and math.isfinite(ridge)):
        raise ConfigError(f"ridge must be > 0 and needs the mse loss; got {ridge!r} with {loss}")
    split_seeds = list(seeds) if split_seeds is None else list(split_seeds)
    if not (len(fractions) == len(weight_decays) == len(split_seeds) == E) or E == 0:
        raise ConfigError(
            "seeds, fractions, weight_decays (and split_seeds when given) must have the same "
            f"positive length; got {E}, {len(fractions)}, {len(weight_decays)}, {len(split_seeds)}"
        )
    M = group.order
    X, Y = group_data(group)
    if loss == "cross_entropy":
        Y = Y.argmax(1)  # integer labels c = a * b
    masks = np.zeros((E, M * M), bool)
    for e, (s, f) in enumerate(zip(split_seeds, fractions, strict=True)):
        masks[e, train_test_split(group, float(f), int(s))[0]] = True
    members = [
        GroupMLP(M, width, activation, init_scale=init_scale, seed=int(s)).to(device) for s in seeds
    ]
    ens = Ensemble.from_modules(members)
    pre_step = None
    if ridge is not None:
        ens.lr_factors["V"] = 0.0  # V is set in closed form, not trained
        m_t = torch.from_numpy(masks).to(device=device, dtype=X.dtype)
        Xd, Yd = X.to(device), Y.to(device)
        act = members[0]

        def pre_step(params) -> None:
            H = Xd @ params["W"]  # (E, M^2, K)
            F = act._activate(H) * m_t[:, :, None]  # rows outside the training set -> 0
            K = F.shape[-1]
            A = F.transpose(1, 2) @ F + ridge * torch.eye(K, dtype=F.dtype, device=F.device)
            params["V"].copy_(torch.linalg.solve(A, F.transpose(1, 2) @ Yd))

    run = train(
        ens,
        X.to(device),
        Y.to(device),
        lr=lr,
        steps=steps,
        optimizer=optimizer,
        loss=loss,
        weight_decay=np.asarray(weight_decays, dtype=float),
        mask=torch.from_numpy(masks).to(device),
        log_steps=log_steps,
        observers=("loss", "accuracy"),
        test=(X.to(device), Y.to(device)),
        progress_label=progress_label,
        pre_step=pre_step,
    )
    if pre_step is not None:
        with torch.no_grad():
            pre_step(run.ensemble.params)  # V for the final W
    n_train = masks.sum(1)
    # accuracies are counts / n: round the counts of correct pairs, so 100% is exactly 1.0
    # and the held-out accuracy (all pairs minus training pairs) is never -1e-17
    right_train = (run.scalar("accuracy") * n_train).round()
    right_all = (run.scalar("accuracy", "test") * M * M).round()
    train_acc = right_train / n_train
    test_acc = (right_all - right_train) / (M * M - n_train)
    loss = run.scalar("loss")
    curves = pd.DataFrame(
        {
            "member": np.tile(np.arange(E), len(train_acc)),
            "step": np.repeat(train_acc.index.to_numpy(), E),
            "train_accuracy": train_acc.to_numpy().reshape(-1),
            "test_accuracy": test_acc.to_numpy().reshape(-1),
            "train_loss": loss.to_numpy().reshape(-1),
        }
    )
    params = {k: v.detach().cpu().numpy() for k, v in run.ensemble.params.items()}
    return curves, params, masks

"""Group training: many Li^2 networks (seeds x training fractions x weight decays) as one
vmapped program on the pairs of a finite group; see :mod:`lmech.nn.group` for the network
and the targets."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from lmech._memory import check_allocation
from lmech.data.groups import FiniteGroup, train_test_split
from lmech.errors import ConfigError
from lmech.experiment.ensemble import Ensemble, train
from lmech.nn.group import GroupMLP, group_data

__all__ = ["train_on_group", "training_bytes"]


def training_bytes(order: int, members: int, width: int, max_fraction: float = 1.0) -> int:
    """Peak memory of :func:`train_on_group` (an estimate that errs high), in bytes.

    float64 throughout: the shared one-hot pairs and targets (M^2 x 3M), each member's
    gathered training pairs (n = max_fraction M^2 rows of 3M), the forward and backward
    activations on them (about 6 copies of n x (width + M) per member), the full-pair test
    evaluation at logged steps (2 copies of M^2 x (width + M) per member), the parameters
    with their gradients and Adam moments (4 x (3M x width)), and 64 MiB for torch's own
    temporaries. With ``ridge`` the members see all M^2 pairs: pass max_fraction = 1.
    """
    M, E, K = int(order), int(members), int(width)
    n = math.ceil(min(1.0, max(0.0, float(max_fraction))) * M * M)
    shared = M * M * 3 * M
    per_member = n * 3 * M + 6 * n * (K + M) + 2 * M * M * (K + M) + 4 * 3 * M * K
    return 2**26 + 8 * (shared + E * per_member)


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
    eps: float = 1e-8,
    project_output: bool = False,
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

    ``eps`` is Adam's eps (torch's default 1e-8). The engine's MSE is the mean over the M
    outputs, 1/M of a loss summed over outputs; Adam is invariant to that scale except
    through eps, so Adam on the summed loss with decay wd and eps e is the path of this
    engine with weight decay wd / M and eps e / M.

    With ``project_output`` (MSE only, no ridge) the network's output is projected onto
    the zero-mean subspace before the loss, P o = o - mean_c o[c], as in Tian's CoGS loss
    ||P(o - y)||^2 (the targets are already mean-zero): the output's class mean is left
    free instead of being fitted to 0. Argmax accuracies are unchanged by P. The default
    (False) is the unprojected engine, bitwise as before.

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
    if not (isinstance(eps, (int, float)) and not isinstance(eps, bool) and 0 < eps < 1):
        raise ConfigError(
            f"eps (Adam's) must be a number in (0, 1); got {eps!r}; torch's default is 1e-8"
        )
    if project_output and (loss != "mse" or ridge is not None):
        raise ConfigError(
            f"project_output projects the MSE's output; it needs loss='mse' and no ridge, got "
            f"loss={loss!r}, ridge={ridge!r} (cross-entropy is already shift invariant)"
        )
    split_seeds = list(seeds) if split_seeds is None else list(split_seeds)
    if not (len(fractions) == len(weight_decays) == len(split_seeds) == E) or E == 0:
        raise ConfigError(
            "seeds, fractions, weight_decays (and split_seeds when given) must have the same "
            f"positive length; got {E}, {len(fractions)}, {len(weight_decays)}, {len(split_seeds)}"
        )
    M = group.order
    check_allocation(
        training_bytes(M, E, width, 1.0 if ridge is not None else max(fractions)),
        f"training {E} networks of width {width} on Z_{M}-sized pairs",
        "train fewer members at once, or lower the width or the group order",
        device=device,
    )
    X, Y = group_data(group)
    if loss == "cross_entropy":
        Y = Y.argmax(1)  # integer labels c = a * b
    masks = np.zeros((E, M * M), bool)
    for e, (s, f) in enumerate(zip(split_seeds, fractions, strict=True)):
        masks[e, train_test_split(group, float(f), int(s))[0]] = True
    net = _ProjectedGroupMLP if project_output else GroupMLP
    members = [
        net(M, width, activation, init_scale=init_scale, seed=int(s)).to(device) for s in seeds
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

    if pre_step is None:
        # each member trains on its own pairs only: gather them (padded to the largest
        # training set, padding masked out) instead of masking all M^2 pairs. The loss is
        # the same mean over a member's training pairs; at the Li^2 boundary (fractions
        # ~3 ln M / M) a step costs ~M / (3 ln M) times less (6x at M = 83, 13x at 211)
        Xt, Yt, mt = _own_pairs(X, Y, masks)
        per_member = True
    else:
        Xt, Yt, mt, per_member = X, Y, torch.from_numpy(masks), False
    run = train(
        ens,
        Xt.to(device),
        Yt.to(device),
        lr=lr,
        steps=steps,
        optimizer=optimizer,
        loss=loss,
        eps=eps,
        weight_decay=np.asarray(weight_decays, dtype=float),
        mask=mt.to(device),
        per_member_data=per_member,
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


class _ProjectedGroupMLP(GroupMLP):
    """GroupMLP whose output is projected onto the mean-zero subspace: o - mean_c o[c]
    (same parameters and initialization as GroupMLP for the same seed)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return out - out.mean(-1, keepdim=True)


def _own_pairs(
    X: torch.Tensor, Y: torch.Tensor, masks: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-member training data (E, n_max, ...) gathered from the shared pairs, with the
    (E, n_max) mask of real (not padding) rows; padding repeats pair 0 with weight 0."""
    counts = masks.sum(1)
    n_max = int(counts.max())
    idx = np.zeros((len(masks), n_max), dtype=np.int64)
    real = np.zeros((len(masks), n_max), dtype=bool)
    for e, row in enumerate(masks):
        own = np.flatnonzero(row)
        idx[e, : own.size], real[e, : own.size] = own, True
    index = torch.from_numpy(idx)
    return X[index], Y[index], torch.from_numpy(real)

r"""The Li^2 network on group pairs, and many of them trained at once.

:class:`GroupMLP` is the 2-layer network of Tian's Li^2 setting: for a pair (a, b) of
elements of a group of order M, the input is the concatenated one-hot x = [e_a; e_b]
(a float (n, 2M) matrix: a dense x W under vmap ran 2.6x faster than gathering
W[a] + W[M + b]), hidden units
sigma(x W) with no bias, output sigma(x W) V with no bias. Activations: ``square``
(x^2, the Li^2 default), ``relu``, ``silu``. Initialization: W ~ N(0, s^2 / (2M)),
V ~ N(0, s^2 / K) with s = ``init_scale`` (fan-in variance of the one-hot input layer).

:func:`train_on_group` trains members (seeds x training fractions x weight decays) as
one vmapped program with :func:`lmech.nn.ensemble.train`: full batch, MSE against the
mean-zero targets Y_t = onehot(a * b) - 1/M (the Li^2 loss up to a factor M: the engine
averages over the M outputs), each member on its own training pairs (a mask), and
reports train accuracy on those pairs and test accuracy on the rest at logged steps.
``loss="cross_entropy"`` trains on the logits against the integer labels instead.
``ridge=lambda`` uses Li^2's ridge-solved top layer (see :func:`train_on_group`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from lmech.data.groups import FiniteGroup, train_test_split
from lmech.errors import ConfigError

__all__ = ["ACTIVATIONS", "GroupMLP", "group_data", "train_on_group"]

ACTIVATIONS = ("square", "relu", "silu")


class GroupMLP(nn.Module):
    """sigma(x W) V for one-hot pairs x = [e_a; e_b]; see the module docstring."""

    def __init__(
        self,
        order: int,
        width: int,
        activation: str = "square",
        *,
        init_scale: float = 1.0,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ConfigError(f"width must be a positive integer; got {width!r}")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
        if not (init_scale > 0 and math.isfinite(init_scale)):
            raise ConfigError(f"init_scale must be > 0; got {init_scale!r}")
        self.order, self.activation = int(order), activation
        g = torch.Generator().manual_seed(int(seed))
        W = torch.randn(2 * order, width, generator=g, dtype=dtype) * (
            init_scale / math.sqrt(2 * order)
        )
        V = torch.randn(width, order, generator=g, dtype=dtype) * (init_scale / math.sqrt(width))
        self.W = nn.Parameter(W)
        self.V = nn.Parameter(V)

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        return self._activate(x @ self.W)

    def _activate(self, h: torch.Tensor) -> torch.Tensor:
        if self.activation == "square":
            return h * h
        if self.activation == "relu":
            return torch.relu(h)
        return torch.nn.functional.silu(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._hidden(x) @ self.V

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"hidden": self._hidden(x)}


def group_data(group: FiniteGroup, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """All M^2 pairs as one-hot inputs (M^2, 2M) and the mean-zero one-hot targets (M^2, M)."""
    a, b, c = group.pairs()
    M = group.order
    X = torch.zeros(c.size, 2 * M, dtype=dtype)
    X[torch.arange(c.size), torch.from_numpy(a)] = 1.0
    X[torch.arange(c.size), torch.from_numpy(M + b)] = 1.0
    Y = torch.full((c.size, group.order), -1.0 / group.order, dtype=dtype)
    Y[torch.arange(c.size), torch.from_numpy(c)] += 1.0
    return X, Y


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
    split_seed: int = 0,
    log_steps: Sequence[int] | None = None,
    device: str = "cpu",
    progress_label: str | None = None,
    ridge: float | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], np.ndarray]:
    """Train one member per entry of the (equal-length) ``seeds``, ``fractions``,
    ``weight_decays`` lists; member e trains on the pairs of
    ``train_test_split(group, fractions[e], split_seed + seed_e)``.

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
    from lmech.nn.ensemble import Ensemble, train

    E = len(seeds)
    if loss not in ("mse", "cross_entropy"):
        raise ConfigError(f"loss must be mse or cross_entropy; got {loss!r}")
    if ridge is not None and not (loss == "mse" and ridge > 0 and math.isfinite(ridge)):
        raise ConfigError(f"ridge must be > 0 and needs the mse loss; got {ridge!r} with {loss}")
    if not (len(fractions) == len(weight_decays) == E) or E == 0:
        raise ConfigError("seeds, fractions and weight_decays must have the same positive length")
    M = group.order
    X, Y = group_data(group)
    if loss == "cross_entropy":
        Y = Y.argmax(1)  # integer labels c = a * b
    masks = np.zeros((E, M * M), bool)
    for e, (s, f) in enumerate(zip(seeds, fractions, strict=True)):
        masks[e, train_test_split(group, float(f), split_seed + int(s))[0]] = True
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
    train_acc = run.scalar("accuracy")
    all_acc = run.scalar("accuracy", "test")
    n_train = masks.sum(1)
    test_acc = (all_acc * M * M - train_acc * n_train) / (M * M - n_train)
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

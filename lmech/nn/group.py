r"""The Li^2 network on group pairs, and many of them trained at once.

:class:`GroupMLP` is the 2-layer network of Tian's Li^2 setting: for a pair (a, b) of
elements of a group of order M, the input is the concatenated one-hot x = [e_a; e_b]
(a float (n, 2M) matrix: a dense x W under vmap ran 2.6x faster than gathering
W[a] + W[M + b]), hidden units
sigma(x W) with no bias, output sigma(x W) V with no bias. Activations: ``square``
(x^2, the Li^2 default), ``relu``, ``silu``. Initialization: W ~ N(0, s^2 / (2M)),
V ~ N(0, s^2 / K) with s = ``init_scale`` (fan-in variance of the one-hot input layer).

:func:`lmech.experiment.group.train_on_group` trains members (seeds x training fractions x weight decays) as
one vmapped program with :func:`lmech.experiment.ensemble.train`: full batch, MSE against the
mean-zero targets Y_t = onehot(a * b) - 1/M (the Li^2 loss up to a factor M: the engine
averages over the M outputs), each member on its own training pairs (a mask), and
reports train accuracy on those pairs and test accuracy on the rest at logged steps.
``loss="cross_entropy"`` trains on the logits against the integer labels instead.
``ridge=lambda`` uses Li^2's ridge-solved top layer (see :func:`train_on_group`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lmech.data.groups import FiniteGroup
from lmech.errors import ConfigError

__all__ = ["ACTIVATIONS", "GroupMLP", "group_data"]

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

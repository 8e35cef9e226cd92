r"""Fully connected networks in NTK parameterization, matching :mod:`lmech.kernels.infinite`.

With ``depth`` = L hidden layers of width n, weights and biases i.i.d. N(0, 1):

.. math::

    h^{1} = \frac{\sigma_{w}}{\sqrt d} W^{1} x + \sigma_b b^{1},\qquad
    h^{l+1} = \frac{\sigma_w}{\sqrt n} W^{l+1} \phi(h^{l}) + \sigma_b b^{l+1},\qquad
    f(x) = h^{L+1},

neural-tangents' ``stax.serial(*[Dense(n, W_std, b_std), Act()] * L, Dense(k, W_std, b_std))``.
As n -> infinity its output covariance at initialization is the NNGP and its empirical NTK
is the analytic NTK of :class:`lmech.kernels.infinite.NTK` with the same arguments.

References:
    Jacot, Gabriel, Hongler, NeurIPS 2018 (NTK parameterization);
    Novak et al., "Neural Tangents", ICLR 2020.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from lmech.errors import InputError

__all__ = ["NTKDense", "NTKMLP", "StackedMLP", "activation_fn"]

_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "erf": torch.erf,
    "tanh": torch.tanh,
    "gelu": nn.functional.gelu,
    "identity": lambda x: x,
}


def activation_fn(activation) -> Callable[[torch.Tensor], torch.Tensor]:
    """A torch elementwise function from a name (relu, erf, tanh, gelu, identity) or callable."""
    if callable(activation):
        return activation
    if activation not in _ACTIVATIONS:
        raise InputError(
            f"unknown activation {activation!r}; expected one of {sorted(_ACTIVATIONS)} or a callable"
        )
    return _ACTIVATIONS[activation]


class NTKDense(nn.Module):
    """h = (weight_std / sqrt(fan_in)) W x + bias_std b with W, b ~ N(0, 1)."""

    def __init__(
        self,
        fan_in: int,
        fan_out: int,
        weight_std: float,
        bias_std: float | None,
        *,
        generator: torch.Generator | None = None,
        dtype=torch.float64,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fan_out, fan_in, generator=generator, dtype=dtype))
        self.bias = (
            None
            if bias_std is None
            else nn.Parameter(torch.randn(fan_out, generator=generator, dtype=dtype))
        )
        self.scale = weight_std / math.sqrt(fan_in)
        self.bias_std = bias_std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.scale * (x @ self.weight.T)
        if self.bias is not None:
            out = out + self.bias_std * self.bias
        return out


class NTKMLP(nn.Module):
    """Depth-L MLP in NTK parameterization (see the module docstring)."""

    def __init__(
        self,
        in_features: int,
        width: int,
        depth: int,
        *,
        out_features: int = 1,
        activation="relu",
        weight_std: float = 1.0,
        bias_std: float | None = None,
        seed: int = 0,
        dtype=torch.float64,
    ) -> None:
        super().__init__()
        if depth < 0 or width < 1 or in_features < 1 or out_features < 1:
            raise InputError(
                f"NTKMLP needs depth >= 0 and positive sizes; got depth={depth}, width={width}, "
                f"in_features={in_features}, out_features={out_features}"
            )
        g = torch.Generator().manual_seed(seed)
        fans = [in_features] + [width] * depth + [out_features]
        self.layers = nn.ModuleList(
            NTKDense(a, b, weight_std, bias_std, generator=g, dtype=dtype)
            for a, b in zip(fans[:-1], fans[1:], strict=True)
        )
        self.phi = activation_fn(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = self.phi(layer(x))
        return self.layers[-1](x)


class StackedMLP(nn.Module):
    """E independent :class:`NTKMLP` of one shape evaluated (and trained) as one program.

    Built from E networks (so member k is exactly the network built with its own seed),
    the weights are stacked to (E, fan_out, fan_in); ``forward(x)`` returns (E, n, out).
    The sum of the members' losses has, per member, exactly that member's gradient, so
    one optimizer step on the sum is one step of every member.
    """

    def __init__(self, members: list[NTKMLP]) -> None:
        super().__init__()
        if not members:
            raise InputError("StackedMLP needs at least one member network")
        first = members[0]
        self.phi = first.phi
        self.scales = [layer.scale for layer in first.layers]
        self.bias_stds = [layer.bias_std for layer in first.layers]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([m.layers[i].weight.detach() for m in members]))
            for i in range(len(first.layers))
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([m.layers[i].bias.detach() for m in members]))
            for i in range(len(first.layers))
            if first.layers[i].bias is not None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.expand(len(self.weights[0]), *x.shape)  # (E, n, d)
        last = len(self.weights) - 1
        for i, (w, scale) in enumerate(zip(self.weights, self.scales, strict=True)):
            h = scale * (h @ w.transpose(1, 2))  # (E, n, fan_out)
            if self.biases:
                h = h + self.bias_stds[i] * self.biases[i][:, None, :]
            if i < last:
                h = self.phi(h)
        return h

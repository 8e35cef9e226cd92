r"""Plain and residual MLPs built from a frozen spec, parameterized by :mod:`lmech.nn.param`.

Plain (``residual=False``), with L = ``depth`` hidden layers of width n:

.. math::

    h_1 = W_\text{in} x + b_\text{in},\quad h_{l+1} = W_l\,\phi(h_l) + b_l \ (l < L),\quad
    f = W_\text{out}\,\phi(h_L) + b_\text{out},

so there are L - 1 hidden (n x n) matrices. Residual (``residual=True``), with L
branches of one bias-free matrix each (so a branch multiplier scales the whole branch):

.. math::

    h_0 = W_\text{in} x + b_\text{in},\quad h_{l+1} = h_l + W_l\,\phi(h_l)\ (l < L),\quad
    f = W_\text{out}\,\phi(h_L) + b_\text{out}.

Every W carries the multiplier of its role (``input``, ``hidden``, ``output``) from the
parameterization; modules are plain ``nn.Linear`` named ``input``, ``hidden.i`` and
``output``, so the model saves, loads and compiles like any torch module.
``model.features(x)`` returns the named activations the coordinate check records.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lmech.errors import ConfigError
from lmech.nn.mlp import _ACTIVATIONS, activation_fn
from lmech.nn.param import Parameterization, parameterize

__all__ = ["MLPSpec", "MLP", "build"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class MLPSpec:
    """Shape of an MLP: sizes, depth, activation, residual or not.

    Args:
        in_features, out_features: fixed input and output dimensions.
        width: hidden width n (the dimension parameterizations scale with).
        depth: plain: number of hidden layers L (L - 1 hidden matrices); residual:
            number of residual branches L.
        activation: relu, tanh, erf, gelu or identity.
        residual: residual blocks h + W phi(h) instead of a chain.
        bias: biases on the input and output layers and (plain) the hidden layers.
    """

    in_features: int
    width: int
    depth: int = 2
    out_features: int = 1
    activation: str = "relu"
    residual: bool = False
    bias: bool = True

    def __post_init__(self) -> None:
        for name in ("in_features", "width", "out_features"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"MLPSpec.{name} must be a positive integer; got {v!r}")
        d = self.depth
        least = 0 if self.residual else 1
        if isinstance(d, bool) or not isinstance(d, int) or d < least:
            raise ConfigError(
                f"MLPSpec.depth must be an integer >= {least} "
                f"({'residual branches' if self.residual else 'hidden layers'}); got {d!r}"
            )
        if self.activation not in _ACTIVATIONS:
            raise ConfigError(
                f"unknown activation {self.activation!r}; expected one of {sorted(_ACTIVATIONS)}"
            )

    @property
    def num_hidden_matrices(self) -> int:
        return self.depth if self.residual else self.depth - 1

    def with_width(self, width: int) -> MLPSpec:
        return MLPSpec(
            self.in_features,
            width,
            self.depth,
            self.out_features,
            self.activation,
            self.residual,
            self.bias,
        )

    def with_depth(self, depth: int) -> MLPSpec:
        return MLPSpec(
            self.in_features,
            self.width,
            depth,
            self.out_features,
            self.activation,
            self.residual,
            self.bias,
        )


class MLP(nn.Module):
    """The network of an :class:`MLPSpec` (see the module docstring)."""

    def __init__(self, spec: MLPSpec, *, dtype=torch.float32, device=None) -> None:
        super().__init__()
        self.spec = spec
        kw = {"dtype": dtype, "device": device}
        n = spec.width
        self.input = nn.Linear(spec.in_features, n, bias=spec.bias, **kw)
        hidden_bias = spec.bias and not spec.residual
        self.hidden = nn.ModuleList(
            nn.Linear(n, n, bias=hidden_bias, **kw) for _ in range(spec.num_hidden_matrices)
        )
        self.output = nn.Linear(n, spec.out_features, bias=spec.bias, **kw)
        self.phi = activation_fn(spec.activation)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named activations: ``input`` (h_1 or h_0), ``hidden.i`` (pre-activations of the
        plain net, or the residual stream after branch i) and ``output`` (f)."""
        out = {}
        h = self.input(x)
        out["input"] = h
        for i, layer in enumerate(self.hidden):
            h = h + layer(self.phi(h)) if self.spec.residual else layer(self.phi(h))
            out[f"hidden.{i}"] = h
        out["output"] = self.output(self.phi(h))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input(x)
        for layer in self.hidden:
            h = h + layer(self.phi(h)) if self.spec.residual else layer(self.phi(h))
        return self.output(self.phi(h))


def build(
    spec: MLPSpec,
    param: Parameterization,
    *,
    seed: int = 0,
    dtype: str | torch.dtype = "float32",
    device: str | torch.device = "cpu",
) -> MLP:
    """An :class:`MLP` of ``spec`` initialized and scaled by ``param`` (weights seeded).

    The draw is made on the CPU in float64 from ``seed`` and then cast, so the same
    seed gives the same network on every device and (up to rounding) in every dtype.
    """
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ConfigError(f"dtype must be one of {list(_DTYPES)}; got {dtype!r}")
        dtype = _DTYPES[dtype]
    if param.depth_alpha is not None and not spec.residual:
        raise ConfigError(
            "depth_alpha scales residual branches; got a plain MLPSpec (residual=False). "
            "Use residual=True or depth_alpha=None"
        )
    model = MLP(spec, dtype=dtype)
    roles = {"input": "input", "output": "output"}
    roles.update({f"hidden.{i}": "hidden" for i in range(len(model.hidden))})
    depth = spec.num_hidden_matrices if spec.residual else None
    parameterize(model, param, roles=roles, depth=depth, seed=seed)
    return model.to(device)

r"""One MLP spec for both sides: the torch network and its infinite-width kernels.

An :class:`MLPSpec` fixes the architecture (sizes, depth, activation, residual, biases)
and the NTK-side scales ``weight_std`` = sigma_w and ``bias_std`` = sigma_b. From the one
spec come

- ``build(spec, param)``: the network parameterized by :mod:`lmech.nn.param` (SP, NTK,
  muP, mean-field, richness, depth scaling), for the training laws;
- ``spec.ntk_network(seed=...)``: the network in NTK parameterization with sigma_w and
  sigma_b (below), and ``spec.nngp()`` / ``spec.ntk()``: its infinite-width kernels
  (:class:`lmech.kernels.infinite.NNGP` / :class:`~lmech.kernels.infinite.NTK`), the
  neural-tangents pattern where one ``stax.serial(...)`` returns a network and its kernels;

so a theory and an experiment built from one spec cannot disagree on activation, depth,
or the weight and bias scales. The activation is looked up in the one table
:data:`lmech.kernels.infinite.ACTIVATIONS`, whose entries carry both phi and its Gaussian
expectations.

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
parameterization; modules are ``nn.Linear`` layers (:class:`Dense`, which is exactly
``nn.Linear`` unless a bias multiplier is installed) named ``input``, ``hidden.i`` and
``output``, so the model saves, loads and compiles like any torch module.
``model.features(x)`` returns the named activations the coordinate check records.

NTK parameterization (``ntk_network``, plain networks): every dense layer computes

.. math::

    h^{l+1} = \frac{\sigma_w}{\sqrt{n_l}} W^{l+1} a^l + \sigma_b b^{l+1},\qquad
    W, b \text{ entries i.i.d. } \mathcal N(0, 1),

with :math:`a^0 = x` (:math:`n_0` = ``in_features``) and :math:`a^l = \phi(h^l)`: NT's
``stax.serial(*[Dense(n, W_std, b_std), Act()] * L, Dense(out, W_std, b_std))``. As
n -> infinity its output covariance at initialization is ``spec.nngp()`` and its empirical
NTK is ``spec.ntk()`` (per output; outputs are independent in the limit).

References:
    Jacot, Gabriel, Hongler, NeurIPS 2018 (NTK parameterization);
    Novak et al., "Neural Tangents", ICLR 2020 (one spec for the network and its kernels);
    Yang & Hu, ICML 2021 (abc-parameterizations, :mod:`lmech.nn.param`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lmech.errors import ConfigError, InputError
from lmech.kernels.infinite import ACTIVATIONS, NNGP, NTK
from lmech.nn.param import Parameterization, parameterize
from lmech.seeding import torch_generator

__all__ = ["ACTIVATION_NAMES", "MLPSpec", "MLP", "Dense", "activation_fn", "build"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
#: Activation names an :class:`MLPSpec` accepts (the keys of the one activation table).
ACTIVATION_NAMES = tuple(ACTIVATIONS)


def activation_fn(activation) -> Callable[[torch.Tensor], torch.Tensor]:
    """phi from a name of :data:`ACTIVATION_NAMES` (the one table) or a callable."""
    if callable(activation):
        return activation
    if activation not in ACTIVATIONS:
        raise InputError(
            f"unknown activation {activation!r}; expected one of {list(ACTIVATIONS)} or a callable"
        )
    return ACTIVATIONS[activation].fn


def _as_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ConfigError(f"dtype must be one of {list(_DTYPES)}; got {dtype!r}")
        return _DTYPES[dtype]
    return dtype


@dataclass(frozen=True)
class MLPSpec:
    """Shape of an MLP and its NTK-side scales: one spec for the network and its kernels.

    Args:
        in_features, out_features: fixed input and output dimensions.
        width: hidden width n (the dimension parameterizations scale with).
        depth: plain: number of hidden layers L (L - 1 hidden matrices; the kernels'
            ``depth``); residual: number of residual branches L.
        activation: a name of the one activation table, :data:`ACTIVATION_NAMES`
            (relu, erf, gelu, tanh, identity).
        residual: residual blocks h + W phi(h) instead of a chain.
        bias: biases on the input and output layers and (plain) the hidden layers.
        weight_std: sigma_w of :meth:`ntk_network`, :meth:`nngp` and :meth:`ntk`
            (``build`` takes its init scale from its :class:`Parameterization`).
        bias_std: sigma_b of the same three (0: biases that do not move the kernels);
            > 0 needs ``bias=True``.
    """

    in_features: int
    width: int
    depth: int = 2
    out_features: int = 1
    activation: str = "relu"
    residual: bool = False
    bias: bool = True
    weight_std: float = 1.0
    bias_std: float = 0.0

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
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"unknown activation {self.activation!r}; expected one of {list(ACTIVATIONS)}"
            )
        for name, least_ok in (("weight_std", False), ("bias_std", True)):
            v = getattr(self, name)
            ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            if not ok or v < 0 or (v == 0 and not least_ok):
                what = ">= 0" if least_ok else "> 0"
                raise ConfigError(f"MLPSpec.{name} must be a finite number {what}; got {v!r}")
        if self.bias_std > 0 and not self.bias:
            raise ConfigError(
                f"MLPSpec.bias_std = {self.bias_std} needs biases; got bias=False "
                "(set bias=True or bias_std=0)"
            )

    @property
    def num_hidden_matrices(self) -> int:
        return self.depth if self.residual else self.depth - 1

    def with_width(self, width: int) -> MLPSpec:
        return dataclasses.replace(self, width=width)

    def with_depth(self, depth: int) -> MLPSpec:
        return dataclasses.replace(self, depth=depth)

    def with_activation(self, activation: str) -> MLPSpec:
        return dataclasses.replace(self, activation=activation)

    # -- the infinite-width side ---------------------------------------------------------

    def _kernel_args(self) -> dict:
        if self.residual:
            raise ConfigError(
                "MLPSpec.nngp()/ntk() describe plain chains (NT's stax.serial of Dense and "
                "activation layers); got residual=True"
            )
        return {
            "depth": self.depth,
            "activation": self.activation,
            "weight_std": self.weight_std,
            "bias_std": self.bias_std if self.bias else None,
        }

    def nngp(self) -> NNGP:
        """The NNGP kernel of :meth:`ntk_network` (its output covariance as width -> inf)."""
        return NNGP(**self._kernel_args())

    def ntk(self) -> NTK:
        """The infinite-width NTK of :meth:`ntk_network` (NTK parameterization; any width)."""
        return NTK(**self._kernel_args())

    # -- the finite-width side -----------------------------------------------------------

    def ntk_network(
        self,
        *,
        seed: int = 0,
        dtype: str | torch.dtype = "float64",
        device: str | torch.device = "cpu",
    ) -> MLP:
        """This network in NTK parameterization (module docstring), weights seeded.

        W and b of every layer (input, hidden.0, ..., output, W before b) are drawn i.i.d.
        N(0, 1) on the CPU in float64 from ``lmech.seeding.torch_generator(seed)`` and
        then cast, so a seed gives the same network on every device. W carries the
        multiplier sigma_w / sqrt(fan_in) (the ``ntk`` row of :mod:`lmech.nn.param`, lr
        factors 1) and b the multiplier sigma_b (buffer ``lmech_bias_multiplier``).
        """
        self._kernel_args()  # refuses residual networks: no kernel to converge to
        model = MLP(self, dtype=torch.float64)
        parameterize(
            model,
            Parameterization("ntk", weight_std=self.weight_std),
            roles=_roles(model),
            init=False,
        )
        gen = torch_generator(seed)
        with torch.no_grad():
            for layer in model.layers():
                layer.weight.copy_(
                    torch.randn(layer.weight.shape, generator=gen, dtype=torch.float64)
                )
                if layer.bias is not None:
                    layer.bias.copy_(
                        torch.randn(layer.bias.shape, generator=gen, dtype=torch.float64)
                    )
                    layer.register_buffer(
                        "lmech_bias_multiplier",
                        torch.tensor(float(self.bias_std), dtype=torch.float64),
                    )
        # the table's bias rows: N(0, 1) init, multiplier sigma_b
        model.lmech_table = tuple(
            dataclasses.replace(r, init_std=1.0, multiplier=float(self.bias_std))
            if r.name.endswith(".bias")
            else r
            for r in model.lmech_table
        )
        return model.to(device=device, dtype=_as_dtype(dtype))


class Dense(nn.Linear):
    """``nn.Linear`` whose bias enters as m_b * b when the buffer ``lmech_bias_multiplier``
    = m_b is installed (NTK parameterization, :meth:`MLPSpec.ntk_network`); without it
    the forward is exactly ``nn.Linear``'s."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = getattr(self, "lmech_bias_multiplier", None)
        if m is None or self.bias is None:
            return super().forward(x)
        return F.linear(x, self.weight, m * self.bias)  # x W^T + m_b b


class MLP(nn.Module):
    """The network of an :class:`MLPSpec` (see the module docstring)."""

    def __init__(self, spec: MLPSpec, *, dtype=torch.float32, device=None) -> None:
        super().__init__()
        self.spec = spec
        kw = {"dtype": dtype, "device": device}
        n = spec.width
        self.input = Dense(spec.in_features, n, bias=spec.bias, **kw)
        hidden_bias = spec.bias and not spec.residual
        self.hidden = nn.ModuleList(
            Dense(n, n, bias=hidden_bias, **kw) for _ in range(spec.num_hidden_matrices)
        )
        self.output = Dense(n, spec.out_features, bias=spec.bias, **kw)
        self.phi = activation_fn(spec.activation)

    def layers(self) -> list[Dense]:
        """The dense layers in forward order: input, hidden.0, ..., output."""
        return [self.input, *self.hidden, self.output]

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


def _roles(model: MLP) -> dict[str, str]:
    roles = {"input": "input", "output": "output"}
    roles.update({f"hidden.{i}": "hidden" for i in range(len(model.hidden))})
    return roles


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
    The init scale is ``param.weight_std``; ``spec.weight_std`` and ``spec.bias_std``
    describe :meth:`MLPSpec.ntk_network` and the kernels only.
    """
    dtype = _as_dtype(dtype)
    if param.depth_alpha is not None and not spec.residual:
        raise ConfigError(
            "depth_alpha scales residual branches; got a plain MLPSpec (residual=False). "
            "Use residual=True or depth_alpha=None"
        )
    model = MLP(spec, dtype=dtype)
    depth = spec.num_hidden_matrices if spec.residual else None
    parameterize(model, param, roles=_roles(model), depth=depth, seed=seed)
    return model.to(device)

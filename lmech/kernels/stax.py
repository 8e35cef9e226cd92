r"""One description, three objects: a torch network, its NNGP and its NTK (a torch stax).

A network is described once as a list of layers,

.. code-block:: python

    from lmech.kernels import stax

    net = stax.serial(
        stax.Conv2d(64, 3, padding="zero", weight_std=2**0.5, bias_std=0.1), stax.Relu(),
        stax.Conv2d(64, 3, stride=2), stax.Relu(),
        stax.GlobalAvgPool(), stax.Dense(1), input_shape=(1, 8, 8),
    )
    model = net.module(seed=0)          # a torch.nn.Module, inputs (b, 1, 8, 8)
    K, Theta = net.nngp(), net.ntk()    # kernels with block(X, Z): lmech.kernels.gram

and from it come ``net.module(seed)`` (weights i.i.d. N(0, 1), seeded), its infinite-width
NNGP and NTK (``net.nngp()``, ``net.ntk()``, ``net.kernel()`` for both), and through
:mod:`lmech.kernels.empirical` the module's empirical NTK: the pattern of neural-tangents'
(NT) ``stax.serial``, whose conventions are matched (Novak et al., "Neural Tangents",
ICLR 2020, Sec. 3 and App. C).

Kernel state. For inputs x, x' of shape (C, *S) (S: zero, one or two spatial axes) the
input kernel is the channel-averaged product :math:`K^0(x, x')_{s s'} =
\frac1C \sum_c x_{c s} x'_{c s'}`, with :math:`\Theta^0 = 0`. Each layer maps the pair
(K, Theta) of pre-activation covariances (per channel; channels are i.i.d. at infinite
width) to the next one. Where the network pools (AvgPool, GlobalAvgPool) the state keeps
every pixel pair s, s' (full mode, ``(n, m, *S, *S)`` per block); otherwise (only Flatten
reduces space) it keeps the diagonal s = s' alone (``(n, m, *S)``), since convolutions,
activations and LayerNorm map diagonal entries to diagonal entries (Xiao et al. 2018;
Novak et al., "Bayesian deep CNNs with many channels are GPs", ICLR 2019, Sec. 3).

Layer rules (NTK parameterization, W, b entries N(0, 1); F the filter offsets, |F| their
number; A the filter's box average :math:`A[K]_{s s'} = \frac1{|F|}\sum_{\delta\in F}
K_{s + \delta,\, s' + \delta}` on the padded, strided grid):

- Dense / Conv: :math:`z = \frac{\sigma_w}{\sqrt{C_{in}|F|}} \sum W x + \sigma_b b`;
  :math:`K \leftarrow \sigma_w^2 A[K] + \sigma_b^2`,
  :math:`\Theta \leftarrow K_{new} + \sigma_w^2 A[\Theta]` (Dense: |F| = 1, no space).
  Standard parameterization (W ~ N(0, sigma_w^2/fan_in), b ~ N(0, sigma_b^2) trained
  directly): :math:`\Theta \leftarrow C_{in}|F|\,A[K] + \beta + \sigma_w^2 A[\Theta]`,
  beta = 1 with biases (NT's ``parameterization='standard'``, s = (1, 1)).
- Padding ``"zero"`` and ``"circular"`` pad like TensorFlow's SAME (output size
  ceil(L / stride); total pad (out - 1) stride + k - L, the smaller half before): zero
  pixels have zero covariance, so the covariance is zero-padded along both pixel axes;
  circular padding wraps both. ``"valid"`` does not pad (output floor((L - k)/stride) + 1).
- Elementwise phi: :math:`K \leftarrow E[\phi(u)\phi(u')]`,
  :math:`\Theta \leftarrow \Theta\, E[\phi'(u)\phi'(u')]`, (u, u') Gaussian with the
  covariance of the pixel pair; closed forms for ReLU, erf, GELU and identity, quadrature
  for tanh (:data:`lmech.kernels.infinite.ACTIVATIONS`).
- AvgPool (window w, stride): :math:`K_{s s'} \leftarrow \frac1{|w|^2}\sum_{\delta,
  \delta'} K_{s + \delta, s' + \delta'}` (windows of the two pixels independent), Theta the
  same; zero padding counts the padded pixels in the divisor.
- GlobalAvgPool: :math:`K \leftarrow \frac1{|S|^2}\sum_{s, s'} K_{s s'}`; Flatten:
  :math:`K \leftarrow \frac1{|S|}\sum_s K_{s s}` (the next Dense divides by C |S|);
  Theta the same (Arora et al., "On exact computation with an infinitely wide neural
  net", NeurIPS 2019, Sec. 4 and App. C: CNTK-GAP and CNTK-V).
- LayerNorm over channels (per pixel): :math:`K \leftarrow K_{s s'}/\sqrt{q_s q'_{s'}}`,
  Theta the same (the normalisation's projection is rank 2 among C channels); valid on
  centred inputs only (after a Dense/Conv, an odd activation, pooling or sums of those),
  which the description checks.
- FanOut(n) copies the state, Parallel applies one branch per copy and
  FanInSum(multipliers) returns :math:`\sum_i \alpha_i^2 K_i` (and Theta likewise): the
  branches' cross-covariances vanish when every branch but at most one ends in a fresh
  Dense/Conv (zero-mean independent weights), which the description checks.
  ``Residual(*branch, multiplier=a)`` is x + a branch(x).

Blocked computation: ``block(X, Z)`` tiles the pairs so each tile's state (and a few
temporaries) stays under ``tile_bytes``; the per-input self covariances (needed for the
variances q of every pixel) are recomputed per tile. CPU or CUDA: X's device.

References:
    Novak et al., "Neural Tangents: Fast and easy infinite neural networks in Python",
    ICLR 2020; Novak et al., "Bayesian deep convolutional networks with many channels are
    Gaussian processes", ICLR 2019 (CNN-GP, Sec. 3 and Eq. 5-7); Garriga-Alonso et al.,
    "Deep convolutional networks as shallow Gaussian processes", ICLR 2019; Arora et al.,
    NeurIPS 2019 (CNTK, Sec. 4, Eq. 7-9); Yang, "Tensor programs I", 2019 (LayerNorm and
    residual limits); Hayou et al., "Stable ResNet", AISTATS 2021 (1/sqrt(L) branches).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from lmech._memory import check_allocation
from lmech.errors import ConfigError, InputError
from lmech.kernels.infinite import ACTIVATIONS, Activation, _resolve_activation
from lmech.seeding import torch_generator

__all__ = [
    "Dense",
    "Conv1d",
    "Conv2d",
    "AvgPool1d",
    "AvgPool2d",
    "GlobalAvgPool",
    "Flatten",
    "Elementwise",
    "Relu",
    "Erf",
    "Gelu",
    "Tanh",
    "Identity",
    "LayerNorm",
    "FanOut",
    "Parallel",
    "FanInSum",
    "Residual",
    "Serial",
    "serial",
    "Network",
    "StaxKernel",
    "PADDINGS",
]

PADDINGS = ("zero", "circular", "valid")
#: Default bytes of one pair tile's state (each tile also holds a few temporaries of it).
TILE_BYTES = 2**23
_ODD = {"erf", "tanh", "identity"}
MAX_STD = 1e100


# --- validation helpers -----------------------------------------------------------------


def _pos_int(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ConfigError(f"{name} must be a positive integer; got {v!r:.60}")
    return int(v)


def _tuple(v, nd: int, name: str) -> tuple[int, ...]:
    vals = tuple(v) if isinstance(v, Sequence) and not isinstance(v, str) else (v,) * nd
    if len(vals) != nd:
        raise ConfigError(f"{name} must be an integer or {nd} integers; got {v!r:.60}")
    return tuple(_pos_int(x, name) for x in vals)


def _std(v, name: str, *, allow_none: bool, positive: bool) -> float | None:
    if v is None and allow_none:
        return None
    ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
    if not ok or v < 0 or (positive and v == 0) or v > MAX_STD:
        what = "> 0" if positive else ">= 0" + (" or None" if allow_none else "")
        raise ConfigError(f"{name} must be a finite number {what} (at most 1e100); got {v!r:.60}")
    return float(v)


def _padding(v, what: str) -> str:
    if v not in PADDINGS:
        raise ConfigError(f"{what} padding must be one of {PADDINGS}; got {v!r:.60}")
    return v


def _same_pads(length: int, k: int, s: int, padding: str, what: str) -> tuple[int, int, int]:
    """(pad before, pad after, output length) of one spatial axis."""
    if padding == "valid":
        if k > length:
            raise ConfigError(
                f"{what}: window {k} is larger than the input length {length} under 'valid' "
                "padding (no output pixel); use a smaller window or padding='zero'/'circular'"
            )
        return 0, 0, (length - k) // s + 1
    out = -(-length // s)
    total = max((out - 1) * s + k - length, 0)
    if padding == "circular" and max(total - total // 2, total // 2) > length:
        raise ConfigError(
            f"{what}: circular padding of {total} pixels wraps more than once around an "
            f"input of length {length}; use a smaller window or padding='zero'"
        )
    return total // 2, total - total // 2, out


# --- signatures: what flows through the description (shape and two flags) --------------


class _Sig(NamedTuple):
    shape: tuple[int, ...]  # (C, *S)
    centered: bool  # channel mean ~ 0 at infinite width (LayerNorm's requirement)
    fresh: bool  # ends in a fresh zero-mean linear layer (FanInSum's requirement)


class _Ctx(NamedTuple):
    """What a kernel op needs besides (K, T)."""

    full: bool  # pixel pairs kept (True) or the diagonal only
    batch: int  # leading batch axes: 2 for a cross block, 1 for a self block
    ntk: bool
    angle_tol: float


# --- kernel primitives on the trailing spatial axes -------------------------------------


def _spatial_axes(nd: int, ctx: _Ctx) -> list[list[int]]:
    """For each spatial axis i, the (negative) tensor axes that carry it."""
    if ctx.full:
        return [[-2 * nd + i, -nd + i] for i in range(nd)]
    return [[-nd + i] for i in range(nd)]


def _pad(t: torch.Tensor, pads: dict[int, tuple[int, int]], mode: str) -> torch.Tensor:
    """Pad tensor axes (positive indices) by (before, after): zeros or wrapped."""
    pads = {ax: lh for ax, lh in pads.items() if lh[0] or lh[1]}
    if not pads:
        return t
    if mode == "circular":
        for ax, (lo, hi) in pads.items():
            n = t.shape[ax]
            t = t.index_select(ax, torch.arange(-lo, n + hi, device=t.device) % n)
        return t
    shape = list(t.shape)
    for ax, (lo, hi) in pads.items():
        shape[ax] += lo + hi
    out = t.new_zeros(shape)
    inner = [slice(None)] * t.ndim
    for ax, (lo, _) in pads.items():
        inner[ax] = slice(lo, lo + t.shape[ax])
    out[tuple(inner)] = t
    return out


def _box(t, sig_in: _Sig, k, s, padding, ctx: _Ctx, *, joint: bool) -> torch.Tensor:
    """Average over window offsets: joint (the same offset on both pixels of a pair: Conv)
    or independent per pixel axis (pooling). Windows are strided views (``unfold``); the
    joint sum takes the diagonal of the two windows' offsets, one spatial axis at a time
    (separable: k_h + k_w passes, not k_h k_w)."""
    nd = len(sig_in.shape) - 1
    axes = [[t.ndim + a for a in group] for group in _spatial_axes(nd, ctx)]
    pads = [_same_pads(sig_in.shape[1 + i], k[i], s[i], padding, "")[:2] for i in range(nd)]
    mode = "circular" if padding == "circular" else "zero"
    t = _pad(t, {ax: pads[i] for i in range(nd) for ax in axes[i]}, mode)
    for i in range(nd):
        if joint and len(axes[i]) == 2:
            a1, a2 = axes[i]
            w = t.unfold(a1, k[i], s[i]).unfold(a2, k[i], s[i])  # (..., k, k) windows
            t = w.diagonal(dim1=-2, dim2=-1).sum(-1) / k[i]
        else:
            for ax in axes[i]:
                t = t.unfold(ax, k[i], s[i]).sum(-1) / k[i]
    return t


def _diag_of(K: torch.Tensor, nd: int, ctx: _Ctx) -> torch.Tensor:
    """Per-pixel variances q (batch, *S) of a self block."""
    if not ctx.full or nd == 0:
        return K
    S = K.shape[K.ndim - nd :]
    P = math.prod(S)
    flat = K.reshape(*K.shape[: K.ndim - 2 * nd], P, P)
    return flat.diagonal(dim1=-2, dim2=-1).reshape(*K.shape[: K.ndim - 2 * nd], *S)


def _broadcast_q(qa, qb, nd: int, ctx: _Ctx):
    """qa, qb shaped to broadcast against a (cross or self) K."""
    if ctx.batch == 2:
        qa = qa.unsqueeze(1)
        qb = qb.unsqueeze(0)
    if ctx.full and nd:
        ones = (1,) * nd
        qa = qa.reshape(*qa.shape, *ones)
        qb = qb.reshape(*qb.shape[: qb.ndim - nd], *ones, *qb.shape[qb.ndim - nd :])
    return qa, qb


# --- layers -------------------------------------------------------------------------------


class _Layer:
    """Base: a layer maps a signature, builds a module, and maps (K, Theta)."""

    needs_var = False
    pools = False

    def _out(self, sig: _Sig, where: str) -> _Sig:  # pragma: no cover - abstract
        raise NotImplementedError

    def _module(self, sig: _Sig, gen, dtype) -> nn.Module:  # pragma: no cover
        raise NotImplementedError

    def _kernel(self, sig: _Sig, K, T, ctx: _Ctx, qa=None, qb=None):  # pragma: no cover
        raise NotImplementedError


def _draw(shape, gen, dtype) -> nn.Parameter:
    return nn.Parameter(torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype))


class _LinearModule(nn.Module):
    """Dense/Conv in NTK or standard parameterization (weights stored N(0, 1) for NTK)."""

    def __init__(self, layer, sig: _Sig, gen, dtype) -> None:
        super().__init__()
        self.nd, c_in = layer.nd, sig.shape[0]
        k = layer.kernel_size if layer.nd else ()
        fan_in = c_in * math.prod(k)
        self.stride = layer.stride if layer.nd else ()
        self.pads = [
            _same_pads(sig.shape[1 + i], k[i], self.stride[i], layer.padding, "")[:2]
            for i in range(self.nd)
        ]
        self.mode = "circular" if getattr(layer, "padding", "") == "circular" else "constant"
        std = layer.weight_std / math.sqrt(fan_in)
        self.standard = layer.parameterization == "standard"
        self.weight = _draw((layer.width, c_in, *k), gen, dtype)
        self.bias = None if layer.bias_std is None else _draw((layer.width,), gen, dtype)
        with torch.no_grad():
            if self.standard:
                self.weight.mul_(std)
                if self.bias is not None:
                    self.bias.mul_(layer.bias_std)
        self.w_mult = 1.0 if self.standard else std
        self.b_mult = 1.0 if self.standard else (layer.bias_std or 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.w_mult if self.w_mult != 1.0 else self.weight
        b = None if self.bias is None else self.bias * self.b_mult
        if self.nd == 0:
            return F.linear(x, w, b)
        pad = [p for lo_hi in reversed(self.pads) for p in lo_hi]
        if any(pad):
            x = F.pad(x, pad, mode=self.mode)
        conv = F.conv1d if self.nd == 1 else F.conv2d
        return conv(x, w, b, stride=self.stride)


@dataclass(frozen=True)
class _Linear(_Layer):
    def _check_common(self) -> None:
        _pos_int(self.width, f"{type(self).__name__} width")
        object.__setattr__(
            self, "weight_std", _std(self.weight_std, "weight_std", allow_none=False, positive=True)
        )
        object.__setattr__(
            self, "bias_std", _std(self.bias_std, "bias_std", allow_none=True, positive=False)
        )
        if self.parameterization not in ("ntk", "standard"):
            raise ConfigError(
                f"parameterization must be 'ntk' or 'standard'; got {self.parameterization!r:.60}"
            )
        if self.in_channels is not None:
            _pos_int(self.in_channels, "in_channels")

    def _check_in(self, sig: _Sig, where: str) -> None:
        c = sig.shape[0]
        if self.in_channels is not None and self.in_channels != c:
            raise ConfigError(
                f"{where}: {type(self).__name__} expects {self.in_channels} input channels "
                f"but the previous layer gives {c} (shape {sig.shape}); fix in_channels or "
                "the previous layer's width"
            )

    def _module(self, sig, gen, dtype):
        return _LinearModule(self, sig, gen, dtype)

    def _kernel(self, sig, K, T, ctx, qa=None, qb=None):
        if self.nd:
            A = _box(K, sig, self.kernel_size, self.stride, self.padding, ctx, joint=True)
        else:
            A = K
        w2, b2 = self.weight_std**2, (self.bias_std or 0.0) ** 2
        K_new = A * w2 + b2
        if not ctx.ntk:
            return K_new, None
        AT = (
            _box(T, sig, self.kernel_size, self.stride, self.padding, ctx, joint=True)
            if (self.nd)
            else T
        )
        if self.parameterization == "standard":
            fan_in = sig.shape[0] * math.prod(self.kernel_size if self.nd else ())
            beta = 0.0 if self.bias_std is None else 1.0
            return K_new, A * fan_in + beta + AT * w2
        return K_new, K_new + AT * w2


@dataclass(frozen=True)
class Dense(_Linear):
    r"""Fully connected layer on flat inputs (n, C): ``width`` outputs.

    NTK parameterization (default): z = sigma_w W x / sqrt(C) + sigma_b b; ``"standard"``:
    W ~ N(0, sigma_w^2 / C), b ~ N(0, sigma_b^2) trained directly. bias_std None: no bias.
    The last Dense of a network is its readout.
    """

    width: int
    weight_std: float = 1.0
    bias_std: float | None = None
    parameterization: str = "ntk"
    in_channels: int | None = None
    nd = 0

    def __post_init__(self) -> None:
        self._check_common()

    def _out(self, sig, where):
        if len(sig.shape) != 1:
            raise ConfigError(
                f"{where}: Dense needs a flat input (C,); got shape {sig.shape}; put Flatten() "
                "or GlobalAvgPool() before it, or use a 1x1 convolution"
            )
        self._check_in(sig, where)
        return _Sig((self.width,), True, True)


@dataclass(frozen=True)
class _Conv(_Linear):
    width: int
    kernel_size: int | tuple[int, ...] = 3
    stride: int | tuple[int, ...] = 1
    padding: str = "zero"
    weight_std: float = 1.0
    bias_std: float | None = None
    parameterization: str = "ntk"
    in_channels: int | None = None

    def __post_init__(self) -> None:
        self._check_common()
        name = type(self).__name__
        object.__setattr__(
            self, "kernel_size", _tuple(self.kernel_size, self.nd, f"{name} kernel_size")
        )
        if isinstance(self.stride, numbers.Integral) and not isinstance(self.stride, bool):
            if self.stride < 1:
                raise ConfigError(f"{name} stride must be >= 1; got {self.stride}")
        object.__setattr__(self, "stride", _tuple(self.stride, self.nd, f"{name} stride (>= 1)"))
        _padding(self.padding, name)

    def _out(self, sig, where):
        name = type(self).__name__
        if len(sig.shape) != 1 + self.nd:
            raise ConfigError(
                f"{where}: {name} needs an input (C, {', '.join('HW'[: self.nd] if self.nd == 2 else 'L')}) "
                f"with {self.nd} spatial axes; got shape {sig.shape}"
                + ("; use Conv1d" if len(sig.shape) == 2 else "")
                + ("; use Conv2d" if len(sig.shape) == 3 and self.nd == 1 else "")
            )
        self._check_in(sig, where)
        out = [
            _same_pads(sig.shape[1 + i], self.kernel_size[i], self.stride[i], self.padding,
                       f"{where}: {name}")[2]
            for i in range(self.nd)
        ]  # fmt: skip
        return _Sig((self.width, *out), True, True)


@dataclass(frozen=True)
class Conv1d(_Conv):
    """1-D convolution, inputs (C, L): ``width`` output channels, ``kernel_size``,
    ``stride`` >= 1, ``padding`` in {'zero', 'circular', 'valid'} (module docstring)."""

    nd = 1


@dataclass(frozen=True)
class Conv2d(_Conv):
    """2-D convolution, inputs (C, H, W); arguments as :class:`Conv1d` (ints or pairs)."""

    nd = 2


class _PoolModule(nn.Module):
    def __init__(self, layer, sig: _Sig) -> None:
        super().__init__()
        self.layer, self.nd = layer, layer.nd
        self.pads = [
            _same_pads(sig.shape[1 + i], layer.window[i], layer.stride[i], layer.padding, "")[:2]
            for i in range(self.nd)
        ]
        self.mode = "circular" if layer.padding == "circular" else "constant"

    def forward(self, x):
        pad = [p for lo_hi in reversed(self.pads) for p in lo_hi]
        if any(pad):
            x = F.pad(x, pad, mode=self.mode)
        pool = F.avg_pool1d if self.nd == 1 else F.avg_pool2d
        return pool(x, self.layer.window, self.layer.stride)


@dataclass(frozen=True)
class _AvgPool(_Layer):
    window: int | tuple[int, ...] = 2
    stride: int | tuple[int, ...] | None = None
    padding: str = "valid"
    pools = True

    def __post_init__(self) -> None:
        name = type(self).__name__
        object.__setattr__(self, "window", _tuple(self.window, self.nd, f"{name} window"))
        stride = self.window if self.stride is None else self.stride
        if isinstance(stride, numbers.Integral) and not isinstance(stride, bool) and stride < 1:
            raise ConfigError(f"{name} stride must be >= 1; got {stride}")
        object.__setattr__(self, "stride", _tuple(stride, self.nd, f"{name} stride (>= 1)"))
        _padding(self.padding, name)

    def _out(self, sig, where):
        name = type(self).__name__
        if len(sig.shape) != 1 + self.nd:
            raise ConfigError(
                f"{where}: {name} pools {self.nd} spatial axes but the input has shape "
                f"{sig.shape} ({len(sig.shape) - 1} spatial axes); use "
                + (
                    "AvgPool1d"
                    if len(sig.shape) == 2
                    else "AvgPool2d"
                    if len(sig.shape) == 3
                    else "no pooling on flat inputs"
                )
            )
        out = [
            _same_pads(sig.shape[1 + i], self.window[i], self.stride[i], self.padding,
                       f"{where}: {name}")[2]
            for i in range(self.nd)
        ]  # fmt: skip
        return _Sig((sig.shape[0], *out), sig.centered, sig.fresh)

    def _module(self, sig, gen, dtype):
        return _PoolModule(self, sig)

    def _kernel(self, sig, K, T, ctx, qa=None, qb=None):
        args = (sig, self.window, self.stride, self.padding, ctx)
        K = _box(K, *args, joint=False)
        return K, (None if T is None else _box(T, *args, joint=False))


@dataclass(frozen=True)
class AvgPool1d(_AvgPool):
    """Average pooling over windows of a (C, L) input; stride defaults to the window."""

    nd = 1


@dataclass(frozen=True)
class AvgPool2d(_AvgPool):
    """Average pooling over windows of a (C, H, W) input; stride defaults to the window."""

    nd = 2


class _GapModule(nn.Module):
    def forward(self, x):
        return x.mean(dim=tuple(range(2, x.ndim))) if x.ndim > 2 else x


class _FlattenModule(nn.Module):
    def forward(self, x):
        return x.flatten(1)


@dataclass(frozen=True)
class GlobalAvgPool(_Layer):
    """Mean over all spatial axes: (C, *S) -> (C,)."""

    pools = True

    def _out(self, sig, where):
        if len(sig.shape) == 1:
            raise ConfigError(
                f"{where}: GlobalAvgPool needs spatial axes; got a flat input {sig.shape}"
            )
        return _Sig((sig.shape[0],), sig.centered, sig.fresh)

    def _module(self, sig, gen, dtype):
        return _GapModule()

    def _kernel(self, sig, K, T, ctx, qa=None, qb=None):
        nd = len(sig.shape) - 1
        dims = tuple(range(-2 * nd, 0))
        return K.mean(dims), (None if T is None else T.mean(dims))


@dataclass(frozen=True)
class Flatten(_Layer):
    """(C, *S) -> (C |S|,); the kernel is the mean of the pixel-diagonal (module doc)."""

    def _out(self, sig, where):
        return _Sig((math.prod(sig.shape),), sig.centered, sig.fresh)

    def _module(self, sig, gen, dtype):
        return _FlattenModule()

    def _kernel(self, sig, K, T, ctx, qa=None, qb=None):
        nd = len(sig.shape) - 1
        if nd == 0:
            return K, T

        def red(t):
            if ctx.full:
                t = _diag_of(t, nd, ctx)
            return t.mean(tuple(range(-nd, 0)))

        return red(K), (None if T is None else red(T))


class _ElementwiseModule(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


@dataclass(frozen=True)
class Elementwise(_Layer):
    """phi applied elementwise: a name of :data:`lmech.kernels.infinite.ACTIVATIONS`
    (relu, erf, gelu, tanh, identity) or an :class:`lmech.kernels.infinite.Activation`."""

    activation: str | Activation = "relu"
    needs_var = True

    def __post_init__(self) -> None:
        if not isinstance(self.activation, str | Activation):
            raise ConfigError(
                f"activation must be a name of {sorted(ACTIVATIONS)} or an Activation; "
                f"got {self.activation!r:.60}"
            )
        try:
            rule = _resolve_activation(self.activation)
        except InputError as err:
            raise ConfigError(str(err)) from None
        object.__setattr__(self, "_rule", rule)

    def _out(self, sig, where):
        odd = isinstance(self.activation, str) and self.activation.strip().lower() in _ODD
        return _Sig(sig.shape, sig.centered and odd, False)

    def _module(self, sig, gen, dtype):
        return _ElementwiseModule(self._rule.fn)

    def _kernel(self, sig, K, T, ctx, qa=None, qb=None):
        e, dot = self._rule.pair(qa, qb, K, ctx.ntk, ctx.angle_tol)
        return e, (None if T is None else T * dot)


def Relu() -> Elementwise:  # noqa: N802 - layer constructors read like NT's
    """ReLU, max(x, 0) (arc-cosine closed forms)."""
    return Elementwise("relu")


def Erf() -> Elementwise:  # noqa: N802
    """erf (arcsine closed forms)."""
    return Elementwise("erf")


def Gelu() -> Elementwise:  # noqa: N802
    """Exact GELU x Phi(x) (closed forms of :mod:`lmech.kernels.infinite`)."""
    return Elementwise("gelu")


def Tanh() -> Elementwise:  # noqa: N802
    """tanh (Gauss quadrature)."""
    return Elementwise("tanh")


def Identity() -> Elementwise:  # noqa: N802
    """The identity (a shortcut branch)."""
    return Elementwise("identity")


class _LayerNormModule(nn.Module):
    EPS = 1e-12

    def forward(self, x):
        mu = x.mean(1, keepdim=True)
        var = x.var(1, unbiased=False, keepdim=True)
        return (x - mu) / torch.sqrt(var + self.EPS)


@dataclass(frozen=True)
class LayerNorm(_Layer):
    """Normalise each pixel's channel vector to mean 0 and variance 1 (no affine part)."""

    needs_var = True

    def _out(self, sig, where):
        if not sig.centered:
            raise ConfigError(
                f"{where}: LayerNorm's kernel assumes centred inputs (channel mean -> 0), but "
                "it follows a non-odd activation (e.g. ReLU) whose outputs have a non-zero "
                "mean; put it right after a Dense/Conv (pre-activation) or an odd activation"
            )
        return _Sig(sig.shape, True, False)

    def _module(self, sig, gen, dtype):
        return _LayerNormModule()

    def _kernel(self, sig, K, T, ctx, qa=None, qb=None):
        r = torch.rsqrt(qa * qb)
        return K * r, (None if T is None else T * r)


# --- composition --------------------------------------------------------------------------


def _as_layers(items, what: str) -> tuple:
    out = []
    for it in items:
        if isinstance(it, Serial):
            out.extend(it.layers)
        elif isinstance(it, _Layer):
            out.append(it)
        else:
            raise ConfigError(f"{what}: expected stax layers; got {type(it).__name__}")
    return tuple(out)


@dataclass(frozen=True, init=False)
class Serial(_Layer):
    """Layers applied in order (a branch of :class:`Parallel`, or a group)."""

    layers: tuple

    def __init__(self, *layers) -> None:
        object.__setattr__(self, "layers", _as_layers(layers, "Serial"))


@dataclass(frozen=True)
class FanOut(_Layer):
    """n copies of the input (for :class:`Parallel` branches)."""

    num: int = 2

    def __post_init__(self) -> None:
        _pos_int(self.num, "FanOut num")


@dataclass(frozen=True, init=False)
class Parallel(_Layer):
    """One branch (a layer, a Serial, or a list of layers) per copy made by FanOut."""

    branches: tuple

    def __init__(self, *branches) -> None:
        bs = []
        for b in branches:
            if isinstance(b, list | tuple):
                b = Serial(*b)
            elif not isinstance(b, Serial):
                b = Serial(b)
            bs.append(b)
        if not bs:
            raise ConfigError("Parallel needs at least one branch")
        object.__setattr__(self, "branches", tuple(bs))


@dataclass(frozen=True)
class FanInSum(_Layer):
    """Sum of the branches, branch i scaled by multipliers[i] (None: all 1)."""

    multipliers: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.multipliers is not None:
            ms = tuple(
                _std(m, "FanInSum multiplier", allow_none=False, positive=False)
                for m in self.multipliers
            )
            object.__setattr__(self, "multipliers", ms)


def Residual(*branch, multiplier: float = 1.0) -> Serial:  # noqa: N802
    """x + multiplier * branch(x): FanOut(2), Parallel(branch, identity), FanInSum."""
    m = _std(multiplier, "Residual multiplier", allow_none=False, positive=False)
    return Serial(FanOut(2), Parallel(Serial(*branch), Serial()), FanInSum((m, 1.0)))


class _FanOutModule(nn.Module):
    def __init__(self, num):
        super().__init__()
        self.num = num

    def forward(self, x):
        return tuple([x] * self.num)


class _ParallelModule(nn.Module):
    def __init__(self, branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, xs):
        return tuple(b(x) for b, x in zip(self.branches, xs, strict=True))


class _FanInSumModule(nn.Module):
    def __init__(self, multipliers):
        super().__init__()
        self.multipliers = multipliers

    def forward(self, xs):
        out = None
        for m, x in zip(self.multipliers, xs, strict=True):
            out = x * m if out is None else out + x * m
        return out


# --- the interpreter ---------------------------------------------------------------------


def _walk_sig(layers, sig, where="layer"):
    """Signatures after each layer; returns (final sig(s), list of per-layer input sigs)."""
    ins = []
    for idx, layer in enumerate(layers):
        at = f"{where} {idx} ({type(layer).__name__})"
        ins.append(sig)
        if isinstance(layer, FanOut):
            if isinstance(sig, list):
                raise ConfigError(f"{at}: FanOut of already fanned-out branches; sum them first")
            sig = [sig] * layer.num
        elif isinstance(layer, Parallel):
            if not isinstance(sig, list) or len(sig) != len(layer.branches):
                got = len(sig) if isinstance(sig, list) else 1
                raise ConfigError(
                    f"{at}: Parallel has {len(layer.branches)} branches but receives {got} "
                    "input(s); put FanOut(n) with the same n before it"
                )
            sig = [
                _walk_sig(b.layers, s, f"{at} branch {i} layer")[0]
                for i, (b, s) in enumerate(zip(layer.branches, sig, strict=True))
            ]
        elif isinstance(layer, FanInSum):
            if not isinstance(sig, list):
                raise ConfigError(
                    f"{at}: FanInSum needs parallel branches; put FanOut/Parallel first"
                )
            shapes = {s.shape for s in sig}
            if len(shapes) != 1:
                raise ConfigError(
                    f"{at}: branches must have equal shapes (channels and spatial size) to be "
                    f"summed; got {[s.shape for s in sig]}; match the branch widths/strides"
                )
            if layer.multipliers is not None and len(layer.multipliers) != len(sig):
                raise ConfigError(
                    f"{at}: {len(layer.multipliers)} multipliers for {len(sig)} branches"
                )
            stale = [i for i, s in enumerate(sig) if not s.fresh]
            if len(stale) > 1:
                raise ConfigError(
                    f"{at}: branches {stale} do not end in a fresh Dense/Conv, so their outputs "
                    "are correlated and the sum's kernel is not the sum of kernels; end all "
                    "branches but one with a Dense/Conv layer"
                )
            sig = _Sig(sig[0].shape, all(s.centered for s in sig), not stale)
        elif isinstance(layer, Serial):
            sig = _walk_sig(layer.layers, sig, f"{at} layer")[0]
        else:
            if isinstance(sig, list):
                raise ConfigError(f"{at}: applied to {len(sig)} branches; use Parallel or FanInSum")
            sig = layer._out(sig, at)
    return sig, ins


def _pools(layers) -> bool:
    for layer in layers:
        if layer.pools:
            return True
        if isinstance(layer, Serial) and _pools(layer.layers):
            return True
        if isinstance(layer, Parallel) and any(_pools(b.layers) for b in layer.branches):
            return True
    return False


def _module_of(layers, sig, gen, dtype) -> nn.Module:
    mods = []
    _, ins = _walk_sig(layers, sig)
    for layer, s in zip(layers, ins, strict=True):
        if isinstance(layer, FanOut):
            mods.append(_FanOutModule(layer.num))
        elif isinstance(layer, Parallel):
            mods.append(
                _ParallelModule(
                    [
                        _module_of(b.layers, si, gen, dtype)
                        for b, si in zip(layer.branches, s, strict=True)
                    ]
                )
            )
        elif isinstance(layer, FanInSum):
            mods.append(_FanInSumModule(layer.multipliers or (1.0,) * len(s)))
        elif isinstance(layer, Serial):
            mods.append(_module_of(layer.layers, s, gen, dtype))
        else:
            mods.append(layer._module(s, gen, dtype))
    return nn.Sequential(*mods)


class _Pair(NamedTuple):
    K: torch.Tensor
    T: torch.Tensor | None


class _Tri(NamedTuple):
    """The cross block and the two self blocks, advanced in lockstep."""

    cross: _Pair
    sa: _Pair
    sb: _Pair | None  # None: the columns are the rows (a symmetric tile)


def _step(layer, sig, tri: _Tri, cross_ctx: _Ctx, self_ctx: _Ctx) -> _Tri:
    nd = len(sig.shape) - 1
    if layer.needs_var:
        qa = _diag_of(tri.sa.K, nd, self_ctx)
        qb = qa if tri.sb is None else _diag_of(tri.sb.K, nd, self_ctx)
        sa = _Pair(*layer._kernel(sig, *tri.sa, self_ctx, *_broadcast_q(qa, qa, nd, self_ctx)))
        sb = None
        if tri.sb is not None:
            sb = _Pair(*layer._kernel(sig, *tri.sb, self_ctx, *_broadcast_q(qb, qb, nd, self_ctx)))
        cross = _Pair(
            *layer._kernel(sig, *tri.cross, cross_ctx, *_broadcast_q(qa, qb, nd, cross_ctx))
        )
        return _Tri(cross, sa, sb)
    return _Tri(
        _Pair(*layer._kernel(sig, *tri.cross, cross_ctx)),
        _Pair(*layer._kernel(sig, *tri.sa, self_ctx)),
        None if tri.sb is None else _Pair(*layer._kernel(sig, *tri.sb, self_ctx)),
    )


def _run(layers, sig, tri, cross_ctx, self_ctx):
    _, ins = _walk_sig(layers, sig)
    for layer, s in zip(layers, ins, strict=True):
        if isinstance(layer, FanOut):
            tri = [tri] * layer.num
        elif isinstance(layer, Parallel):
            tri = [
                _run(b.layers, si, ti, cross_ctx, self_ctx)
                for b, si, ti in zip(layer.branches, s, tri, strict=True)
            ]
        elif isinstance(layer, FanInSum):
            ms = layer.multipliers or (1.0,) * len(tri)

            def add(parts, ms=ms):
                if parts[0] is None:
                    return None
                K = sum(p.K * (m * m) for p, m in zip(parts, ms, strict=True))
                T = (
                    None
                    if parts[0].T is None
                    else sum(p.T * (m * m) for p, m in zip(parts, ms, strict=True))
                )
                return _Pair(K, T)

            tri = _Tri(
                add([t.cross for t in tri]),
                add([t.sa for t in tri]),
                add([t.sb for t in tri]),
            )
        elif isinstance(layer, Serial):
            tri = _run(layer.layers, s, tri, cross_ctx, self_ctx)
        else:
            tri = _step(layer, s, tri, cross_ctx, self_ctx)
    return tri


def _input_kernel(A: torch.Tensor, B: torch.Tensor, full: bool, cross: bool) -> torch.Tensor:
    """K^0 = channel mean of x_s x'_s' for (n, C, *S) inputs: cross (n, m, ...) or self."""
    C, nd = A.shape[1], A.ndim - 2
    s1 = "hw"[:nd] if nd else ""
    s2 = "ij"[:nd] if nd else ""
    if not full:
        s2 = s1
    out = s1 + s2 if full else s1
    if cross:
        K = torch.einsum(f"ac{s1},bc{s2}->ab{out}", A, B)
    else:
        K = torch.einsum(f"ac{s1},ac{s2}->a{out}", A, A)
    return K / C


# --- the network ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Network:
    """A described network: ``layers`` on inputs of ``input_shape`` (C, *S) (see module).

    Use :func:`serial` to build one. Attributes: ``output_shape``, ``full_spatial`` (the
    kernel keeps pixel pairs because the network pools).
    """

    layers: tuple
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...] = field(init=False)
    full_spatial: bool = field(init=False)

    def __post_init__(self) -> None:
        shape = self.input_shape
        if not isinstance(shape, Sequence) or isinstance(shape, str) or not 1 <= len(shape) <= 3:
            raise ConfigError(f"input_shape must be (C,), (C, L) or (C, H, W); got {shape!r:.60}")
        shape = tuple(_pos_int(s, "input_shape entries") for s in shape)
        object.__setattr__(self, "input_shape", shape)
        layers = _as_layers(self.layers, "serial")
        if not layers:
            raise ConfigError("serial needs at least one layer")
        object.__setattr__(self, "layers", layers)
        out, _ = _walk_sig(layers, _Sig(shape, False, False))
        if isinstance(out, list):
            raise ConfigError(
                f"the network ends with {len(out)} parallel branches; close them with FanInSum"
            )
        object.__setattr__(self, "output_shape", out.shape)
        object.__setattr__(self, "full_spatial", _pools(layers))

    # -- the finite network ----------------------------------------------------------------

    def module(self, seed: int = 0, *, dtype="float64", device="cpu") -> nn.Module:
        """The torch module; every weight and bias (in layer order, W before b) is drawn
        N(0, 1) on the CPU in float64 from ``torch_generator(seed, "stax")`` and cast
        (standard parameterization: scaled to its init std), so a seed gives the same
        network on every device. Inputs (b, *input_shape); outputs (b, *output_shape)."""
        dt = {"float32": torch.float32, "float64": torch.float64}.get(dtype, dtype)
        if not isinstance(dt, torch.dtype) or not dt.is_floating_point:
            raise ConfigError(f"dtype must be 'float32' or 'float64'; got {dtype!r:.40}")
        gen = torch_generator(seed, "stax")
        model = _module_of(self.layers, _Sig(self.input_shape, False, False), gen, dt)
        return model.to(device)

    # -- the kernels -----------------------------------------------------------------------

    def nngp(self, *, tile_bytes: int = TILE_BYTES) -> StaxKernel:
        """The NNGP kernel (output covariance at infinite width) as a block kernel."""
        return StaxKernel(self, "nngp", tile_bytes)

    def ntk(self, *, tile_bytes: int = TILE_BYTES) -> StaxKernel:
        """The infinite-width NTK (per output) as a block kernel."""
        return StaxKernel(self, "ntk", tile_bytes)

    def kernel(self, *, tile_bytes: int = TILE_BYTES):
        """(nngp, ntk): both kernels of the description."""
        return self.nngp(tile_bytes=tile_bytes), self.ntk(tile_bytes=tile_bytes)

    def _shaped(self, X, name: str) -> torch.Tensor:
        if not isinstance(X, torch.Tensor):
            raise InputError(f"{name} must be a torch.Tensor; got {type(X).__name__}")
        if not X.is_floating_point():
            raise InputError(f"{name} must be floating point; got {X.dtype}; use {name}.double()")
        size = math.prod(self.input_shape)
        if X.ndim == 2 and X.shape[1] == size:
            X = X.reshape(X.shape[0], *self.input_shape)
        if tuple(X.shape[1:]) != self.input_shape:
            raise InputError(
                f"{name} must be (n, {size}) rows or (n, *{self.input_shape}); got shape "
                f"{tuple(X.shape)}"
            )
        if not bool(torch.isfinite(X).all()):
            raise InputError(f"{name} must be finite; got NaN or inf entries")
        return X

    def state(self, X, Z=None, *, ntk: bool = True, full_spatial: bool | None = None):
        """(NNGP, NTK) of the network output for every pair, spatial axes kept:
        (n, m, *S, *S) in full mode, (n, m, *S) on the diagonal, (n, m) when flat. NTK is
        None unless ``ntk``. ``full_spatial`` None: full iff the network pools."""
        full = self.full_spatial if full_spatial is None else bool(full_spatial)
        if not full and self.full_spatial:
            raise InputError("this network pools, so its kernel needs full_spatial=True")
        X = self._shaped(X, "X")
        Zs = X if Z is None else self._shaped(Z, "Z")
        if Zs.dtype != X.dtype or Zs.device != X.device:
            raise InputError(
                f"X and Z must share dtype and device; got {X.dtype} on {X.device} and "
                f"{Zs.dtype} on {Zs.device}"
            )
        return self._state(X, Zs, ntk, full, Z is None)

    def _state(self, X, Z, ntk, full, symmetric):
        d = math.prod(self.input_shape)
        tol = 2.0 * math.sqrt((d + 2) * torch.finfo(X.dtype).eps)
        cross_ctx = _Ctx(full, 2, ntk, tol)
        self_ctx = _Ctx(full, 1, ntk, tol)

        def pair(K):
            return _Pair(K, torch.zeros_like(K) if ntk else None)

        tri = _Tri(
            pair(_input_kernel(X, Z, full, True)),
            pair(_input_kernel(X, X, full, False)),
            None if symmetric else pair(_input_kernel(Z, Z, full, False)),
        )
        out = _run(self.layers, _Sig(self.input_shape, False, False), tri, cross_ctx, self_ctx)
        return out.cross.K, out.cross.T

    def pair_bytes(self, dtype=torch.float64) -> int:
        """Bytes of the largest per-pair state tensor along the network (one pair)."""
        _, ins = _walk_sig(self.layers, _Sig(self.input_shape, False, False))
        sizes = []

        def visit(sig):
            if isinstance(sig, list):
                for s in sig:
                    visit(s)
                return
            S = math.prod(sig.shape[1:])
            sizes.append(S * S if self.full_spatial else S)

        for s in ins:
            visit(s)
        S0 = math.prod(self.input_shape[1:])
        sizes.append(S0 * S0 if self.full_spatial else S0)
        return max(sizes) * torch.empty((), dtype=dtype).element_size()

    def flops_per_pair(self) -> int:
        """Rough count of kernel flops per input pair (NNGP + NTK), for benchmarks:
        per layer, the state size times the terms its rule sums (|F| for a conv,
        2 sum(w) for a pool, ~30 for an activation's closed form)."""
        total = 0
        full = self.full_spatial

        def size(sig):
            S = math.prod(sig.shape[1:])
            return S * S if full else S

        def visit(layers, sig):
            nonlocal total
            _, ins = _walk_sig(layers, sig)
            for layer, s in zip(layers, ins, strict=True):
                if isinstance(layer, Parallel):
                    for b, si in zip(layer.branches, s, strict=True):
                        visit(b.layers, si)
                elif isinstance(layer, Serial):
                    visit(layer.layers, s)
                elif isinstance(layer, FanOut | FanInSum):
                    total += 4 * size(s[0] if isinstance(s, list) else s)
                elif isinstance(layer, _Conv):
                    out = layer._out(s, "")
                    total += 2 * 2 * math.prod(layer.kernel_size) * size(out)
                elif isinstance(layer, _AvgPool):
                    total += 2 * 2 * sum(layer.window) * size(s)
                elif isinstance(layer, Elementwise):
                    total += 30 * size(s)
                else:
                    total += 4 * size(s)

        visit(self.layers, _Sig(self.input_shape, False, False))
        C = self.input_shape[0]
        return total + 2 * C * size(_Sig(self.input_shape, False, False))


def serial(*layers, input_shape) -> Network:
    """The network of ``layers`` on inputs of shape ``input_shape`` = (C,), (C, L) or
    (C, H, W) (channels first, like torch)."""
    return Network(layers, input_shape)


@dataclass(frozen=True)
class StaxKernel:
    """NNGP or NTK of a :class:`Network` with ``block(X, Z)`` (for :func:`lmech.kernels.gram`).

    Rows are flattened inputs (n, prod(input_shape)) or shaped (n, *input_shape). Pairs
    are computed in tiles whose per-tile state stays under ``tile_bytes``.
    """

    network: Network
    get: str
    tile_bytes: int = TILE_BYTES

    def __post_init__(self) -> None:
        if self.get not in ("nngp", "ntk"):
            raise ConfigError(f"get must be 'nngp' or 'ntk'; got {self.get!r:.40}")
        _pos_int(self.tile_bytes, "tile_bytes")
        if self.network.output_shape[1:] != ():
            raise ConfigError(
                f"the network output has spatial shape {self.network.output_shape}; end it with "
                "Flatten()/GlobalAvgPool() and a Dense readout (or use Network.state)"
            )

    def block(self, X: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
        """k(X_i, Z_j) as an (n, m) tensor on X's device and dtype."""
        net = self.network
        Xs = net._shaped(X, "X")
        same = Z is X
        Zs = Xs if same else net._shaped(Z, "Z")
        if Zs.dtype != Xs.dtype or Zs.device != Xs.device:
            raise InputError(
                f"X and Z must share dtype and device; got {Xs.dtype} on {Xs.device} and "
                f"{Zs.dtype} on {Zs.device}"
            )
        n, m = Xs.shape[0], Zs.shape[0]
        pb = net.pair_bytes(Xs.dtype)
        pairs = max(1, self.tile_bytes // pb)
        tc = max(1, min(m, int(math.sqrt(pairs))))
        tr = max(1, min(n, pairs // tc))
        # the output, one tile's states (K, Theta, ~4 temporaries) and the self blocks
        check_allocation(
            Xs.element_size() * n * m + 6 * pb * (tr * tc + tr + tc),
            f"the ({n}, {m}) {self.get} kernel of a network with {pb} bytes of state per pair",
            "lower tile_bytes or use smaller images",
            device=Xs.device,
        )
        ntk = self.get == "ntk"
        full = net.full_spatial
        out = torch.empty(n, m, dtype=Xs.dtype, device=Xs.device)
        same = same or (
            Xs.shape == Zs.shape and Xs.stride() == Zs.stride() and Xs.data_ptr() == Zs.data_ptr()
        )
        if same:  # k(x, z) = k(z, x): upper tiles only, mirrored
            t = max(1, min(n, int(math.sqrt(pairs))))
            for i in range(0, n, t):
                for j in range(i, n, t):
                    K, T = net._state(Xs[i : i + t], Xs[j : j + t], ntk, full, i == j)
                    blk = T if ntk else K
                    if i == j:
                        blk = 0.5 * (blk + blk.T)
                    out[i : i + t, j : j + t] = blk
                    if j != i:
                        out[j : j + t, i : i + t] = blk.T
            return out
        for i in range(0, n, tr):
            for j in range(0, m, tc):
                K, T = net._state(Xs[i : i + tr], Zs[j : j + tc], ntk, full, False)
                out[i : i + tr, j : j + tc] = T if ntk else K
        return out

    def diag(self, X: torch.Tensor) -> torch.Tensor:
        """k(x_i, x_i) for each row, shape (n,)."""
        net = self.network
        Xs = net._shaped(X, "X")
        out = []
        pairs = max(1, self.tile_bytes // net.pair_bytes(Xs.dtype))
        for i in range(0, Xs.shape[0], pairs):
            A = Xs[i : i + pairs]
            vals = []
            for r in range(A.shape[0]):
                K, T = net._state(
                    A[r : r + 1], A[r : r + 1], self.get == "ntk", net.full_spatial, True
                )
                vals.append((T if self.get == "ntk" else K).reshape(()))
            out.append(torch.stack(vals))
        return torch.cat(out)

    def __call__(self, X: torch.Tensor, Z: torch.Tensor | None = None) -> torch.Tensor:
        """The Gram matrix k(X, Z) (Z = None: symmetric, via :func:`lmech.kernels.gram`)."""
        from lmech.kernels.base import gram

        X2 = X.reshape(X.shape[0], -1) if isinstance(X, torch.Tensor) else X
        Z2 = Z.reshape(Z.shape[0], -1) if isinstance(Z, torch.Tensor) else Z
        return gram(self, X2, Z2)

r"""Parameterizations as data: SP, NTK, muP and mean-field, richness and depth scaling.

An abc-parameterization (Yang & Hu 2021, TP-IV) fixes, per layer, a forward multiplier,
an initialization scale and a learning-rate scale as powers of the width n:

.. math::

    W_l = \text{mult}_l \, w_l,\qquad w_l \sim \mathcal N(0, \text{std}_l^2),\qquad
    \eta_l = \eta\, \text{lr}_l .

This module stores those three numbers per *layer role* (``input``: fan-in fixed,
fan-out = width; ``hidden``: width -> width; ``output``: width -> fixed) in a frozen
:class:`Parameterization` and applies them to plain ``torch.nn.Linear`` layers of any
module (:func:`parameterize`). With sigma = ``weight_std``, fan-in d_l and the width
multiplier m = n / ``base_width`` (the hidden width over the width at which muP equals
SP), the rules are:

================  ==================  ==============  ===================================
kind / role       init std            multiplier      lr factor (SGD ; Adam)
================  ==================  ==============  ===================================
sp    all         sigma/sqrt(d_l)     1               1 ; 1
ntk   all         1                   sigma/sqrt(d_l) 1 ; 1
mup   input       sigma/sqrt(d_l)     1               m ; 1
mup   hidden      sigma/sqrt(d_l)     1               1 ; 1/m
mup   output      sigma/sqrt(d_l/m)   1/m             m ; 1
================  ==================  ==============  ===================================

Biases start at zero; their lr factor is m under muP + SGD for input and hidden layers
(vector-like parameters) and 1 otherwise. ``mean-field`` is muP with ``base_width`` = 1,
i.e. f = (1/n) sum_i a_i phi(h_i) with a_i ~ N(0, sigma^2) and SGD lr proportional to n
(Mei, Montanari, Nguyen 2018; identical to muP for two layers). In abc exponents
(W = n^{-a} w, w ~ N(0, n^{-2b}), eta_l ∝ n^{-c}) the muP + SGD row is input (0, 0, -1),
hidden (0, 1/2, 0), output (1, 0, -1), which the SGD symmetry
(a, b, c) -> (a + theta, b - theta, c - 2 theta) maps onto TP-IV's form
(-1/2, 1/2, 0), (0, 1/2, 0), (1/2, 1/2, 0); the Adam row follows from the Adam symmetry
(a, b, c) -> (a + theta, b - theta, c - theta) (the tests check both).

Richness (lazy vs rich). ``richness`` = gamma divides the output multiplier by gamma and
multiplies every lr by gamma^2 (SGD) or gamma (Adam), so that df/dt at initialization is
independent of gamma while the relative change of the features and of the NTK is
proportional to gamma (gamma -> 0: lazy / kernel regime). For SGD this is gradient flow
on (1/gamma) f with time rescaled by gamma^2 (Chizat & Bach 2019; Bordelon & Pehlevan's
gamma_0 = gamma / sqrt(n) under NTK scaling). For Adam, whose step ignores the gradient's
scale, an lr proportional to gamma gives parameter steps proportional to gamma and so
Delta f = O(1) [derived; ``tests/nn/test_param.py`` checks the first step: Delta f
unchanged and the feature change doubled when gamma doubles, for SGD and Adam]. gamma = gamma_0 sqrt(n)
on top of ``ntk`` reproduces the ``mup`` row (output multiplier n^{-1/2}, lr x n, then
the SGD symmetry on the hidden layers).

Depth (residual networks h_{l+1} = h_l + branch_l(h_l) with L branches). With
``depth_alpha`` = alpha and m_L = L / ``base_depth``, every ``hidden`` (branch) layer gets
the extra multiplier m_L^{-alpha} and lr factor m_L^{2 alpha - 1} (SGD) or
m_L^{alpha - 1} (Adam): alpha = 1/2 is depth-muP (branches 1/sqrt(L), SGD lr constant in
L, Adam lr ∝ L^{-1/2}); alpha = 1 is CompleteP (Adam lr constant in L). The SGD factor is
[derived]: a branch's update is m_L^{-2 alpha} eta and L of them add coherently, so the
total feature update is L^{1 - 2 alpha} eta; for Adam it is L^{1 - alpha} eta.

References:
    Yang & Hu, "Tensor Programs IV: Feature Learning in Infinite-Width Neural Networks",
    ICML 2021, Sec. 3 (abc-parameterizations) and Table 1;
    Yang et al., "Tensor Programs V: Tuning Large Neural Networks via Zero-Shot
    Hyperparameter Transfer", arXiv 2203.03466, Tables 3 and 8 (the mup-package form used
    here: in/out init variance constant in n, output multiplier 1/m);
    Chizat, Oyallon, Bach, "On Lazy Training in Differentiable Programming", NeurIPS 2019
    (output scale 1/gamma = alpha);
    Bordelon et al., "Depthwise Hyperparameter Transfer in Residual Networks",
    arXiv 2309.16620 (branches 1/sqrt(L));
    Yang, Yu, Zhu, Hayou, "Tensor Programs VI", arXiv 2310.02244;
    Dey et al., "Don't be lazy: CompleteP enables compute-efficient deep transformers",
    arXiv 2505.01618 (alpha = 1).

Warning:
    Adam's epsilon is not rescaled (muP would shrink it like the gradient scale); with
    the default eps = 1e-8 this matters only for very wide or very lazy networks. Weight
    decay enters the optimizers as given, multiplied by each layer's lr factor (coupled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from lmech.errors import ConfigError, InputError

__all__ = [
    "KINDS",
    "OPTIMIZERS",
    "ROLES",
    "LayerScaling",
    "Parameterization",
    "ParamRow",
    "parameterize",
    "param_table",
    "lr_factors",
    "param_groups",
]

KINDS = ("sp", "ntk", "mup", "mean-field")
OPTIMIZERS = ("sgd", "adam", "adamw")
ROLES = ("input", "hidden", "output")


@dataclass(frozen=True)
class LayerScaling:
    """The three numbers of one layer: W = multiplier * w, w ~ N(0, init_std^2), lr factors."""

    init_std: float
    multiplier: float
    lr_factor: float  # multiplies the global lr for the weight
    bias_lr_factor: float  # multiplies the global lr for the bias


def _positive(value, name: str, *, integer: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if integer:
        ok = ok and isinstance(value, int)
    if not ok or not math.isfinite(value) or value <= 0:
        kind = "a positive integer" if integer else "a positive finite number"
        raise ConfigError(f"{name} must be {kind}; got {value!r}")


@dataclass(frozen=True)
class Parameterization:
    """A parameterization as data (see the module docstring for every rule).

    Args:
        kind: ``"sp"``, ``"ntk"``, ``"mup"`` or ``"mean-field"``.
        optimizer: ``"sgd"``, ``"adam"`` or ``"adamw"`` (the two Adams share scalings).
        base_width: width at which ``mup`` equals ``sp`` (ignored by the others).
        weight_std: sigma, the init scale of every weight matrix (e.g. sqrt(2) for ReLU).
        richness: gamma > 0; output multiplier / gamma, lr x gamma^2 (SGD) or gamma (Adam).
        depth_alpha: None (no branch scaling) or alpha in [1/2, 1] for residual networks:
            branch multiplier (L / base_depth)^{-alpha} (1/2: depth-muP, 1: CompleteP).
        base_depth: depth at which the depth scaling is the identity.
    """

    kind: str = "mup"
    optimizer: str = "sgd"
    base_width: int = 64
    weight_std: float = 1.0
    richness: float = 1.0
    depth_alpha: float | None = None
    base_depth: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown parameterization {self.kind!r}; expected one of {KINDS}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; expected one of {OPTIMIZERS}")
        _positive(self.base_width, "base_width", integer=True)
        _positive(self.weight_std, "weight_std")
        _positive(self.richness, "richness (gamma)")
        _positive(self.base_depth, "base_depth", integer=True)
        if self.depth_alpha is not None:
            a = self.depth_alpha
            if isinstance(a, bool) or not isinstance(a, int | float) or not 0 <= a <= 2:
                raise ConfigError(
                    f"depth_alpha must be None or a number in [0, 2] (1/2 depth-muP, 1 CompleteP); got {a!r}"
                )

    @property
    def adaptive(self) -> bool:
        """True for Adam-type optimizers, whose step does not scale with the gradient."""
        return self.optimizer != "sgd"

    def scaling(
        self, role: str, fan_in: int, fan_out: int, *, depth: int | None = None
    ) -> LayerScaling:
        """The :class:`LayerScaling` of a layer of ``role`` with the given fans.

        ``depth`` is the number L of residual branches; with ``depth_alpha`` set it
        scales the ``hidden`` layers (the branches). The width is fan_out for ``input``
        layers and fan_in for ``hidden`` and ``output`` layers.
        """
        if role not in ROLES:
            raise InputError(f"unknown layer role {role!r}; expected one of {ROLES}")
        for v, name in ((fan_in, "fan_in"), (fan_out, "fan_out")):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name} must be a positive integer (a width); got {v!r}")
        sigma, adam = self.weight_std, self.adaptive
        std, mult, lr, blr = sigma / math.sqrt(fan_in), 1.0, 1.0, 1.0
        if self.kind == "ntk":
            std, mult = 1.0, sigma / math.sqrt(fan_in)
        elif self.kind in ("mup", "mean-field"):
            base = 1 if self.kind == "mean-field" else self.base_width
            if role == "input":
                m = fan_out / base
                lr = blr = 1.0 if adam else m
            elif role == "hidden":
                m_in, m_out = fan_in / base, fan_out / base
                lr = 1.0 / m_in if adam else m_out / m_in
                blr = 1.0 if adam else m_out
            else:
                m = fan_in / base
                std, mult = sigma / math.sqrt(fan_in / m), 1.0 / m
                lr = 1.0 if adam else m
        if role == "output":
            mult /= self.richness
        gamma_lr = self.richness if adam else self.richness**2
        lr, blr = lr * gamma_lr, blr * gamma_lr
        if role == "hidden" and self.depth_alpha is not None and depth is not None:
            mL, a = depth / self.base_depth, self.depth_alpha
            mult *= mL**-a
            lr *= mL ** ((a - 1.0) if adam else (2.0 * a - 1.0))
        return LayerScaling(std, mult, lr, blr)


@dataclass(frozen=True)
class ParamRow:
    """One parameter tensor's entry in a model's parameterization table."""

    name: str  # parameter name in model.named_parameters()
    module: str  # name of its Linear module
    role: str
    fan_in: int
    fan_out: int
    init_std: float  # 0 for biases (zero init)
    multiplier: float
    lr_factor: float


class _MultiplyInput:
    """Forward pre-hook: x -> multiplier * x, so that W_eff = multiplier * W (bias unscaled).

    A module-level class (not a closure) so that ``torch.save(model)`` can pickle it. The
    multiplier lives in the module's persistent buffer ``lmech_multiplier``, so it also
    travels with ``state_dict`` and follows ``.to(device, dtype)``.
    """

    def __call__(self, module: nn.Module, args: tuple) -> tuple:
        return (args[0] * module.lmech_multiplier, *args[1:])


def _default_roles(linears: list[str]) -> dict[str, str]:
    roles = {name: "hidden" for name in linears}
    roles[linears[0]] = "input"
    roles[linears[-1]] = "output"
    return roles


def parameterize(
    model: nn.Module,
    param: Parameterization,
    *,
    roles: dict[str, str] | None = None,
    depth: int | None = None,
    seed: int = 0,
    init: bool = True,
) -> tuple[ParamRow, ...]:
    """Apply ``param`` to every ``nn.Linear`` of ``model`` in place; return its table.

    Each Linear gets the persistent buffer ``lmech_multiplier`` and a forward pre-hook
    multiplying its input by it (so W_eff = multiplier * W; the bias is not scaled), its
    weight is redrawn from N(0, init_std^2) and its bias set to zero. The table (also
    stored as ``model.lmech_table``) gives each parameter's role and lr factor; build
    optimizer groups from it with :func:`param_groups` or train with
    :mod:`lmech.experiment.ensemble`. Applying again replaces the previous multipliers.

    Args:
        model: any module whose trainable maps are ``nn.Linear`` layers (weights
            (fan_out, fan_in)). Other parameters (norm gains, embeddings) are left as
            they are and get lr factor 1.
        param: the :class:`Parameterization`.
        roles: module name -> ``"input" | "hidden" | "output"``; None means the first
            Linear (in registration order) is the input layer, the last the output
            layer and all others hidden. Give it for anything that is not a chain.
        depth: number of residual branches L for ``depth_alpha``; None counts the
            ``hidden`` layers. Only meaningful when every hidden Linear is one branch.
        seed: seed of the weight draw (a ``torch.Generator`` on the CPU).
        init: False keeps the current weights (e.g. after ``load_state_dict``) and only
            installs multipliers and the table.

    Raises:
        InputError: no Linear layer, unknown module names or roles in ``roles``.

    Warning:
        A Linear called several times shares one multiplier; a weight shared between
        modules (tied embeddings) gets the role of the module listed first.
    """
    if not isinstance(model, nn.Module):
        raise InputError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(param, Parameterization):
        raise InputError(f"param must be a Parameterization; got {type(param).__name__}")
    linears = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    if not linears:
        raise InputError(f"{type(model).__name__} has no nn.Linear layer to parameterize")
    if roles is None:
        roles = _default_roles(list(linears))
    else:
        unknown = set(roles) - set(linears)
        if unknown:
            raise InputError(
                f"roles names modules {sorted(unknown)} that are not nn.Linear layers of the "
                f"model; Linear layers: {list(linears)}"
            )
        bad = {k: v for k, v in roles.items() if v not in ROLES}
        if bad:
            raise InputError(f"roles must be one of {ROLES}; got {bad}")
        roles = {**_default_roles(list(linears)), **roles}
    if depth is None:
        depth = sum(r == "hidden" for r in roles.values()) or None
    gen = torch.Generator().manual_seed(int(seed))
    rows = []
    for name, lin in linears.items():
        s = param.scaling(roles[name], lin.in_features, lin.out_features, depth=depth)
        ref = lin.weight
        if init:
            with torch.no_grad():
                w = torch.randn(lin.weight.shape, generator=gen, dtype=torch.float64)
                lin.weight.copy_((s.init_std * w).to(ref.dtype))
                if lin.bias is not None:
                    lin.bias.zero_()
        mult = torch.tensor(s.multiplier, dtype=ref.dtype, device=ref.device)
        if hasattr(lin, "lmech_multiplier"):
            lin.lmech_multiplier = mult
        else:
            lin.register_buffer("lmech_multiplier", mult)
            lin.register_forward_pre_hook(_MultiplyInput())
        prefix = f"{name}." if name else ""
        rows.append(
            ParamRow(
                prefix + "weight",
                name,
                roles[name],
                lin.in_features,
                lin.out_features,
                s.init_std,
                s.multiplier,
                s.lr_factor,
            )
        )
        if lin.bias is not None:
            rows.append(
                ParamRow(
                    prefix + "bias",
                    name,
                    roles[name],
                    lin.in_features,
                    lin.out_features,
                    0.0,
                    1.0,
                    s.bias_lr_factor,
                )
            )
    table = tuple(rows)
    model.lmech_table = table
    model.lmech_param = param
    return table


def param_table(model: nn.Module) -> tuple[ParamRow, ...]:
    """The table :func:`parameterize` attached to ``model``."""
    table = getattr(model, "lmech_table", None)
    if table is None:
        raise InputError(
            f"{type(model).__name__} has no parameterization; call lmech.nn.parameterize first"
        )
    return table


def lr_factors(model: nn.Module) -> dict[str, float]:
    """Parameter name -> lr factor (1 for parameters outside the table)."""
    factors = {row.name: row.lr_factor for row in param_table(model)}
    return {n: factors.get(n, 1.0) for n, _ in model.named_parameters()}


def param_groups(model: nn.Module, lr: float, **options) -> list[dict]:
    """``torch.optim`` parameter groups with lr x factor per parameter (like MuSGD/MuAdam).

    One group per distinct lr factor (not one per tensor: fewer groups make a step of
    the foreach optimizers faster, see ``benchmarks/mup_adam_step.py``), in order of first
    appearance. ``options`` (e.g. ``weight_decay``) are copied into every group. For
    any torch model parameterized from its shapes, see :mod:`lmech.nn.mup`.
    """
    _positive(lr, "lr")
    groups: dict[float, dict] = {}
    for (_, p), factor in zip(model.named_parameters(), lr_factors(model).values(), strict=True):
        if factor not in groups:
            groups[factor] = {"params": [], "lr": lr * factor, **options}
        groups[factor]["params"].append(p)
    return list(groups.values())

r"""muP, depth-muP and CompleteP for any torch model, from its shapes (no guessed roles).

:func:`parameterize` takes a model, says which dimensions grow with width
(:func:`lmech.nn.shapes.infer_shapes`: a base and a delta model as in ``mup``, or an
explicit map of widths), gives every parameter its role and attaches a table keyed by
parameter name; :func:`param_groups` / :func:`optimizer` build ``torch.optim`` groups
*by multiplier* (one group per distinct (lr, weight decay, eps) factor, not one per
tensor), so the usual optimizers and schedulers work unchanged.

Width rules (m = the parameter's ``width_mult``; m_in, m_out its fan-in and fan-out
multipliers), identical to ``mup`` 1.0's ``set_base_shapes`` + ``MuReadout`` +
``MuSGD/MuAdam/MuAdamW`` (TP-V Table 8, the "mup-package form"):

=======  ==========================  ===========  ===================  ====================
role     init (``init="mup"``)       multiplier   Adam lr ; wd          SGD lr ; wd
=======  ==========================  ===========  ===================  ====================
fixed    unchanged                   1            1 ; 1                 1 ; 1
vector   unchanged                   1            1 ; 1                 m ; 1/m
hidden   unchanged (bias x sqrt m)   1            1/m_in ; m_in         m_out/m_in ; m_in/m_out
output   weight, bias x sqrt(m_in)   1/m_in       1 ; 1                 m_in ; 1/m_in
=======  ==========================  ===========  ===================  ====================

- ``init="mup"`` assumes the model's own initialization is the standard one (variance ∝
  1/fan_in for weights, as PyTorch's defaults): it then rescales, exactly as
  ``mup.set_base_shapes(rescale_params=True)`` does, the readout's weight and bias by
  sqrt(m_in) (with the forward multiplier 1/m_in this is init variance 1/base_fan_in)
  and the bias of every other Linear/Conv by sqrt of its weight's fan-in multiplier.
  ``init="keep"`` changes no value (use it after ``load_state_dict``).
- The readout multiplier is a forward pre-hook on the owning ``nn.Linear``/``nn.Conv``
  (its input times the persistent buffer ``lmech_multiplier``); a readout parameter of
  any other module is an error naming it.
- Attention: a module with ``head_dim`` and an ``attn_scale`` buffer (the attention of
  :mod:`lmech.nn.gpt`, or a user's) gets ``attn_scale = sqrt(d_base) / d_head`` (muP's
  1/d_head, equal to the usual 1/sqrt(d_head) at the base head dimension d_base; TP-V
  Sec. 2, App. B); an ``nn.MultiheadAttention`` whose head dimension grows gets its query
  input multiplied by sqrt(d_base / d_head) (a forward pre-hook), which turns its
  internal 1/sqrt(d_head) into the same sqrt(d_base)/d_head for the q.k product. Its
  query bias, if any, is not rescaled (it starts at zero; use ``bias=False`` for an exact
  rule). ``kind="sp"`` keeps 1/sqrt(d_head). Attention written by hand with another
  scale must be changed by the user, as with ``mup``.

Weight decay convention: the group's ``weight_decay`` is multiplied by the wd factor,
as ``mup`` does, so that lr x wd is the same at every width for Adam's hidden matrices.
With ``torch.optim.AdamW`` (decay p <- p - lr_group wd_group p) the decay per step is
thus width-independent ("independent" of the width, coupled to the global lr); to
decouple it from the global lr too, divide ``weight_decay`` by ``lr`` yourself.

Depth (``branches``, ``depth``, ``depth_alpha``): each marked residual-branch module's
output is multiplied by m_L^{-alpha} with m_L = ``depth / base_depth`` (a forward hook
and the buffer ``lmech_branch_multiplier``); every parameter inside a branch gets the
extra lr factor m_L^{alpha - 1} (Adam) or m_L^{2 alpha - 1} (SGD) and, for Adam, the eps
factor m_L^{-alpha}. alpha = 1/2 is depth-muP (Bordelon et al. 2023; TP-VI), alpha = 1
is CompleteP (Dey et al. 2025: branch 1/L, Adam lr constant in depth, eps ∝ 1/L). The
SGD factor is [derived]: a branch's update is m_L^{-2 alpha} eta and L of them add
coherently (see :mod:`lmech.nn.param`). Initialization is not depth-scaled (CompleteP
drops the 1/sqrt(2L) of GPT-2).

Deliberate differences from ``mup``: none in the width rules (the agreement test in
``tests/test_mup_agreement.py`` checks init std, lr multipliers and three activation
updates). ``mup`` stores ``infshape`` on tensors (lost by FSDP, ``torch.compile``,
``DataParallel`` and pickling); here the table lives on the module (``lmech_mup``) and the
multipliers in buffers. ``mup`` asserts on a plain Linear readout; here it is handled.

References:
    Yang et al., "Tensor Programs V", arXiv 2203.03466, Table 3, Table 8, App. B;
    Bordelon et al., arXiv 2309.16620; Yang, Yu, Zhu, Hayou, "Tensor Programs VI",
    arXiv 2310.02244; Dey et al., "Don't be lazy: CompleteP enables compute-efficient
    deep transformers", arXiv 2505.01618, Sec. 3 and Table 1.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass

import torch
from torch import nn

from lmech.errors import InputError
from lmech.nn.param import _MultiplyInput
from lmech.nn.shapes import ParamShape, infer_shapes

__all__ = ["MupRow", "parameterize", "table", "param_groups", "optimizer", "KINDS"]

KINDS = ("mup", "sp")
_OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


@dataclass(frozen=True)
class MupRow:
    """One parameter's parameterization (factors multiply the optimizer's global values)."""

    shape: ParamShape
    init_scale: float  # the factor parameterize applied to the initial values
    multiplier: float  # forward multiplier (readout: 1/m_in)
    branch: str | None  # the residual branch module it lies in, if any
    lr_sgd: float
    wd_sgd: float
    lr_adam: float
    wd_adam: float
    eps_adam: float

    @property
    def name(self) -> str:
        return self.shape.name

    @property
    def role(self) -> str:
        return self.shape.role

    def factors(self, optimizer: str) -> tuple[float, float, float]:
        """(lr, weight decay, eps) factors for ``optimizer``."""
        if optimizer == "sgd":
            return self.lr_sgd, self.wd_sgd, 1.0
        return self.lr_adam, self.wd_adam, self.eps_adam


class _ScaleOutput:
    """Forward hook: output -> lmech_branch_multiplier * output (first element of tuples)."""

    def __call__(self, module, args, output):
        c = module.lmech_branch_multiplier
        if isinstance(output, tuple):
            return (output[0] * c, *output[1:])
        return output * c


class _ScaleQuery:
    """Forward pre-hook of nn.MultiheadAttention: query -> lmech_query_scale * query."""

    def __call__(self, module, args, kwargs):
        c = module.lmech_query_scale
        if args:
            return (args[0] * c, *args[1:]), kwargs
        return args, {**kwargs, "query": kwargs["query"] * c}


def _set_buffer(module: nn.Module, name: str, value: float, like: torch.Tensor, hook) -> None:
    t = torch.tensor(value, dtype=like.dtype if like.is_floating_point() else torch.float32)
    t = t.to(like.device)
    if hasattr(module, name):
        setattr(module, name, t)
        return
    module.register_buffer(name, t)
    if isinstance(hook, _ScaleOutput):
        module.register_forward_hook(hook)
    elif isinstance(hook, _ScaleQuery):
        module.register_forward_pre_hook(hook, with_kwargs=True)
    else:
        module.register_forward_pre_hook(hook)


def _positive_int(v, name):
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise InputError(f"{name} must be a positive integer; got {v!r}")


def _branch_of(module_name: str, branches: list[str]) -> str | None:
    for b in branches:
        if module_name == b or module_name.startswith(b + "."):
            return b
    return None


def parameterize(
    model: nn.Module,
    *,
    base: nn.Module | dict | None = None,
    delta: nn.Module | dict | None = None,
    widths: dict[int, int] | None = None,
    overrides: dict[str, dict] | None = None,
    kind: str = "mup",
    init: str = "mup",
    branches: list[str] | None = None,
    depth: int | None = None,
    base_depth: int = 1,
    depth_alpha: float | None = None,
    base_head_dim: int | None = None,
    zero_init: list[str] | None = None,
) -> tuple[MupRow, ...]:
    """Parameterize ``model`` in place (see the module docstring); return its table.

    Args:
        model: any ``nn.Module`` at the target width.
        base, delta, widths, overrides: which dimensions grow with width and their base
            sizes (:func:`lmech.nn.shapes.infer_shapes`).
        kind: ``"mup"`` or ``"sp"`` (roles are still checked; every factor is 1 and
            attention keeps 1/sqrt(d_head)).
        init: ``"mup"`` (rescale as ``mup.set_base_shapes`` does) or ``"keep"``.
        branches: names (or fnmatch patterns) of the residual-branch modules, e.g.
            ``["blocks.*.attn", "blocks.*.mlp"]``; their outputs get m_L^{-alpha}.
        depth: L, the number of residual blocks (needed with ``depth_alpha``).
        base_depth: the depth at which the depth scaling is the identity.
        depth_alpha: None, or alpha in [1/2, 1] (1/2: depth-muP, 1: CompleteP).
        base_head_dim: the head dimension of the base model, for attention modules when
            ``base`` is not a module (read from the base model's modules otherwise).
        zero_init: parameter names (or fnmatch patterns) to set to zero, e.g. the query
            projections ``["*.q.weight"]`` (TP-V App. D.2: the attention logits are then
            0 at initialization at every width, removing their d^{-1/2} finite-width
            drift) or the readout.

    Raises:
        InputError: a parameter whose role cannot be decided or placed (named), bad
            ``kind``/``init``/depth arguments, branch patterns that match nothing.
    """
    if kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}; got {kind!r}")
    if init not in ("mup", "keep"):
        raise InputError(
            f"init must be 'mup' (rescale like mup.set_base_shapes) or 'keep'; got {init!r}"
        )
    shapes = infer_shapes(model, base=base, delta=delta, widths=widths, overrides=overrides)
    for z in zero_init or ():
        if not any(fnmatch.fnmatchcase(n, z) for n in shapes):
            raise InputError(
                f"zero_init pattern {z!r} matches no parameter of {type(model).__name__}"
            )
    modules = dict(model.named_modules())
    # depth
    branch_names: list[str] = []
    if branches is not None or depth_alpha is not None:
        if branches is None or depth_alpha is None or depth is None:
            raise InputError(
                "depth scaling needs all of branches= (the residual-branch modules), depth= "
                "(L) and depth_alpha= (1/2 depth-muP, 1 CompleteP)"
            )
        _positive_int(depth, "depth")
        _positive_int(base_depth, "base_depth")
        a = depth_alpha
        if isinstance(a, bool) or not isinstance(a, int | float) or not 0 < a <= 2:
            raise InputError(
                f"depth_alpha must be a number in (0, 2] (1/2 depth-muP, 1 CompleteP); got {a!r}"
            )
        for pat in branches:
            hit = [n for n in modules if n and fnmatch.fnmatchcase(n, pat)]
            if not hit:
                raise InputError(
                    f"branch pattern {pat!r} matches no module of {type(model).__name__}"
                )
            branch_names += [n for n in hit if n not in branch_names]
        # a match nested in another match is part of that branch, not a second one
        branch_names = [
            n for n in branch_names if not any(n.startswith(b + ".") for b in branch_names)
        ]
    mL = depth / base_depth if branch_names else 1.0
    alpha = float(depth_alpha) if branch_names else 0.0
    mup = kind == "mup"
    params = dict(model.named_parameters())
    rows = []
    for name, s in shapes.items():
        p = params[name]
        mult, scale = 1.0, 1.0
        lr_s = wd_s = lr_a = wd_a = eps_a = 1.0
        if mup:
            if s.role == "vector":
                lr_s, wd_s = s.width_mult, 1.0 / s.width_mult
            elif s.role == "hidden":
                ratio = s.fan_in_mult / s.fan_out_mult
                lr_s, wd_s = 1.0 / ratio, ratio
                lr_a, wd_a = 1.0 / s.fan_in_mult, s.fan_in_mult
            elif s.role == "output":
                lr_s, wd_s = s.width_mult, 1.0 / s.width_mult
                mult = 1.0 / s.fan_in_mult
        mod = modules[s.module]
        if s.role == "output" and mup and not isinstance(mod, nn.Linear | nn.modules.conv._ConvNd):
            raise InputError(
                f"parameter {name!r} is a readout (fan-in grows, fan-out fixed) of a "
                f"{type(mod).__name__}; lmech can apply the 1/width output multiplier only to "
                "nn.Linear or nn.Conv readouts. Use one, or override its role and scale it yourself"
            )
        branch = _branch_of(s.module, branch_names)
        if branch is not None:
            lr_s *= mL ** (2 * alpha - 1)
            lr_a *= mL ** (alpha - 1)
            eps_a *= mL**-alpha
        if mup and init == "mup" and isinstance(mod, nn.Linear | nn.modules.conv._ConvNd):
            wname = f"{s.module}.weight" if s.module else "weight"
            wshape = shapes.get(wname)
            if wshape is not None and wshape.role == "output":
                scale = math.sqrt(wshape.fan_in_mult)
            elif name.endswith("bias") and wshape is not None:
                scale = math.sqrt(wshape.fan_in_mult)
        zero = any(fnmatch.fnmatchcase(name, z) for z in zero_init or ())
        if zero:
            scale = 0.0
        if scale != 1.0:
            with torch.no_grad():
                p.mul_(scale)
        rows.append(MupRow(s, scale, mult, branch, lr_s, wd_s, lr_a, wd_a, eps_a))
    # forward multipliers: readouts, branches, attention
    for r in rows:
        if r.role == "output" and r.name.endswith("weight"):
            mod = modules[r.shape.module]
            _set_buffer(mod, "lmech_multiplier", r.multiplier, mod.weight, _MultiplyInput())
    for b in branch_names:
        like = next(iter(model.parameters()))
        _set_buffer(modules[b], "lmech_branch_multiplier", mL**-alpha, like, _ScaleOutput())
    _attention(model, modules, base, base_head_dim, mup)
    out = tuple(rows)
    model.lmech_mup = out
    return out


def _attention(model, modules, base, base_head_dim, mup) -> None:
    base_modules = dict(base.named_modules()) if isinstance(base, nn.Module) else {}
    for name, mod in modules.items():
        is_mha = isinstance(mod, nn.MultiheadAttention)
        if not (is_mha or (hasattr(mod, "head_dim") and hasattr(mod, "attn_scale"))):
            continue
        dh = int(mod.head_dim)
        if name in base_modules and hasattr(base_modules[name], "head_dim"):
            d0 = int(base_modules[name].head_dim)
        elif base_head_dim is not None:
            _positive_int(base_head_dim, "base_head_dim")
            d0 = base_head_dim
        else:
            raise InputError(
                f"attention module {name!r} ({type(mod).__name__}): its base head dimension "
                "is unknown; pass base= as a module or base_head_dim="
            )
        scale = math.sqrt(d0) / dh if mup else 1.0 / math.sqrt(dh)
        like = next(iter(mod.parameters()))
        if is_mha:
            if mup and d0 != dh:
                _set_buffer(mod, "lmech_query_scale", scale * math.sqrt(dh), like, _ScaleQuery())
        else:
            mod.attn_scale = torch.tensor(scale, dtype=like.dtype, device=like.device)


def table(model: nn.Module) -> tuple[MupRow, ...]:
    """The table :func:`parameterize` attached to ``model``."""
    t = getattr(model, "lmech_mup", None)
    if t is None:
        raise InputError(
            f"{type(model).__name__} has no muP table; call lmech.nn.mup.parameterize first"
        )
    return t


def param_groups(
    model: nn.Module,
    optimizer: str,
    lr: float,
    *,
    weight_decay: float = 0.0,
    eps: float = 1e-8,
    **options,
) -> list[dict]:
    """``torch.optim`` parameter groups, one per distinct (lr, wd, eps) factor.

    Each group holds ``lr`` x factor, ``weight_decay`` x factor and (Adam) ``eps`` x
    factor, plus ``options`` copied in; the key ``lmech_factors`` records the factors.
    """
    if optimizer not in _OPTIMIZERS:
        raise InputError(f"optimizer must be one of {tuple(_OPTIMIZERS)}; got {optimizer!r}")
    for v, n in ((lr, "lr"), (eps, "eps")):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            raise InputError(f"{n} must be a positive finite number; got {v!r}")
    if (
        not isinstance(weight_decay, int | float)
        or not math.isfinite(weight_decay)
        or weight_decay < 0
    ):
        raise InputError(f"weight_decay must be a finite number >= 0; got {weight_decay!r}")
    rows = {r.name: r for r in table(model)}
    groups: dict[tuple, dict] = {}
    for name, p in model.named_parameters():
        if name not in rows:
            raise InputError(
                f"parameter {name!r} is not in the muP table; parameterize the model again"
            )
        f = rows[name].factors(optimizer)
        key = tuple(round(x, 12) for x in f)
        if key not in groups:
            g = {"params": [], "lr": lr * f[0], "weight_decay": weight_decay * f[1], **options}
            if optimizer != "sgd":
                g["eps"] = eps * f[2]
            g["lmech_factors"] = f
            groups[key] = g
        groups[key]["params"].append(p)
    return list(groups.values())


def optimizer(model: nn.Module, name: str, lr: float, **kwargs) -> torch.optim.Optimizer:
    """``torch.optim.SGD/Adam/AdamW`` over :func:`param_groups` (kwargs: weight_decay, eps,
    and the optimizer's own options such as momentum or betas)."""
    wd = kwargs.pop("weight_decay", 0.0)
    eps = kwargs.pop("eps", 1e-8)
    groups = param_groups(model, name, lr, weight_decay=wd, eps=eps)
    if name != "sgd":
        kwargs["eps"] = eps
    return _OPTIMIZERS[name](groups, lr=lr, **kwargs)

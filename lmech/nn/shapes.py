r"""Which dimensions of a model grow with width, read from shapes, and the role of every parameter.

muP (Yang et al. 2022, TP-V Sec. 2 and App. B) needs, per parameter tensor, which of its
dimensions are *infinite* (grow with width) and, for those, the *base* size at which
muP equals the standard parameterization. Two ways to say it, as in ``mup``:

- a base model and a delta model (:func:`infer_shapes` with ``base=``/``delta=``): the
  dimensions whose sizes differ between them are infinite, with the base model's sizes
  as base sizes;
- an explicit map of widths (``widths={512: 64, 2048: 256}``): every dimension whose
  size is a key is infinite with the value as its base size.

Each parameter then gets a *role* from the number of its infinite dimensions and from
the module that owns it (which says which dimension is the fan-in):

=========  =====================================================================
role       rule
=========  =====================================================================
fixed      no infinite dimension (a readout bias, a fixed-size conv stem bias)
vector     one infinite dimension which is not a fan-in: input weights (finite
           fan-in, infinite fan-out), embeddings, biases, norm gains (TP-V's
           "vector-like")
hidden     two infinite dimensions: fan-in and fan-out (TP-V's "matrix-like"); an
           nn.MultiheadAttention input projection, a width -> 4 width FFN matrix
output     infinite fan-in, finite fan-out: the readout; it needs the forward
           multiplier 1/m (``mup.MuReadout``)
=========  =====================================================================

Fan dimensions by module: ``nn.Linear`` and ``nn.Conv1d/2d/3d`` weights are
(fan_out, fan_in, ...); ``nn.Embedding`` weights are (vocabulary, dim) with the
vocabulary as fan-in; ``nn.MultiheadAttention``'s ``in_proj_weight`` (3d, d) and
``q/k/v_proj_weight`` are (fan_out, fan_in); one-dimensional parameters (biases,
LayerNorm/RMSNorm gains) have a single dimension. A parameter of any other module with
two or more dimensions of which at least one is infinite has no known fan-in: it is an
:class:`~lmech.errors.InputError` naming it, unless ``overrides`` gives its
``fan_in_dim`` (and, if wanted, its ``role``). More than two infinite dimensions is an
error too (as in ``mup``). Nothing is ever silently left in SP.

The width multiplier of a parameter (``width_mult``) is, as in ``mup.infshape``: the
fan-in's size over its base size for ``hidden`` and ``output``, the infinite
dimension's for ``vector``, 1 for ``fixed``.

References:
    Yang et al., "Tensor Programs V", arXiv 2203.03466, Sec. 2, Table 3 and App. B
    (vector-like / matrix-like parameters); ``mup.shape`` and ``mup.infshape`` (the
    base/delta convention).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace

from torch import nn

from lmech.errors import InputError

__all__ = ["ROLES", "ParamShape", "infer_shapes"]

ROLES = ("fixed", "vector", "hidden", "output")
_OVERRIDE_KEYS = ("role", "fan_in_dim", "fan_out_dim", "base_shape")


@dataclass(frozen=True)
class ParamShape:
    """One parameter's shape facts.

    ``base_shape[i]`` is the base size of dimension i, or None if the dimension is
    finite; ``fan_in_dim``/``fan_out_dim`` are dimension indices or None.
    """

    name: str
    module: str  # name of the owning module ("" for the root)
    module_type: str
    shape: tuple[int, ...]
    base_shape: tuple[int | None, ...]
    fan_in_dim: int | None
    fan_out_dim: int | None
    role: str

    @property
    def infinite(self) -> tuple[int, ...]:
        return tuple(i for i, b in enumerate(self.base_shape) if b is not None)

    def mult(self, dim: int | None) -> float:
        """size / base size of a dimension (1 if finite or None)."""
        if dim is None or self.base_shape[dim] is None:
            return 1.0
        return self.shape[dim] / self.base_shape[dim]

    @property
    def fan_in_mult(self) -> float:
        return self.mult(self.fan_in_dim)

    @property
    def fan_out_mult(self) -> float:
        return self.mult(self.fan_out_dim)

    @property
    def width_mult(self) -> float:
        if self.role in ("hidden", "output"):
            return self.fan_in_mult
        if self.role == "vector":
            return self.mult(self.infinite[0])
        return 1.0


def _fans(module: nn.Module, pname: str, ndim: int) -> tuple[int | None, int | None] | None:
    """(fan_in_dim, fan_out_dim) of parameter ``pname`` of ``module``; None if unknown."""
    if ndim == 1:
        return None, 0
    if isinstance(module, nn.Embedding) and pname == "weight":
        return 0, 1
    if isinstance(module, nn.Linear | nn.modules.conv._ConvNd) and pname == "weight":
        return 1, 0
    if isinstance(module, nn.MultiheadAttention) and pname.endswith("proj_weight"):
        return 1, 0
    return None


def _owners(model: nn.Module) -> dict[str, tuple[str, nn.Module, str]]:
    """parameter name -> (module name, module, local name), for every name (shared too)."""
    out: dict[str, tuple[str, nn.Module, str]] = {}
    for mname, mod in model.named_modules(remove_duplicate=False):
        for pname, _ in mod.named_parameters(recurse=False, remove_duplicate=False):
            full = f"{mname}.{pname}" if mname else pname
            out.setdefault(full, (mname, mod, pname))
    return out


def _shape_dict(model) -> dict[str, tuple[int, ...]]:
    if isinstance(model, nn.Module):
        return {n: tuple(p.shape) for n, p in model.named_parameters()}
    if isinstance(model, dict):
        return {n: tuple(s) for n, s in model.items()}
    raise InputError(
        f"base/delta must be a torch.nn.Module or a dict name -> shape; got {type(model).__name__}"
    )


def _match(overrides: dict, name: str) -> dict:
    out: dict = {}
    for pattern, o in overrides.items():
        if pattern == name or fnmatch.fnmatchcase(name, pattern):
            out.update(o)
    return out


def infer_shapes(
    model: nn.Module,
    *,
    base: nn.Module | dict | None = None,
    delta: nn.Module | dict | None = None,
    widths: dict[int, int] | None = None,
    overrides: dict[str, dict] | None = None,
) -> dict[str, ParamShape]:
    """Every parameter's :class:`ParamShape` (see the module docstring for the rules).

    Args:
        model: the model to parameterize (the target width).
        base: the base model (or its name -> shape dict): its sizes are the base sizes.
        delta: a model differing from ``base`` only in its widths; the dimensions whose
            size differs between them are infinite. Needs ``base``.
        widths: instead of base/delta, a map size -> base size: every dimension whose
            size is a key is infinite with that base size.
        overrides: parameter name (or fnmatch pattern) -> dict with any of ``role``,
            ``fan_in_dim``, ``fan_out_dim`` and ``base_shape`` (a tuple with None for
            finite dimensions).

    Raises:
        InputError: neither or both of base/delta and widths; names or ranks that do not
            match; a parameter whose role cannot be decided (the message names it);
            tied weights with conflicting roles.
    """
    if not isinstance(model, nn.Module):
        raise InputError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    overrides = dict(overrides or {})
    for pat, o in overrides.items():
        bad = set(o) - set(_OVERRIDE_KEYS) if isinstance(o, dict) else {"<not a dict>"}
        if bad:
            raise InputError(
                f"overrides[{pat!r}] has unknown keys {sorted(bad)}; allowed: {_OVERRIDE_KEYS}"
            )
        if isinstance(o, dict) and "role" in o and o["role"] not in ROLES:
            raise InputError(
                f"overrides[{pat!r}]['role'] must be one of {ROLES}; got {o['role']!r}"
            )
    shapes = _shape_dict(model)
    if (base is None) == (widths is None):
        raise InputError(
            "give either base= (with delta=) or widths= (a map size -> base size) to say "
            "which dimensions grow with width"
        )
    if widths is not None:
        if delta is not None:
            raise InputError("delta= goes with base=, not with widths=")
        if not isinstance(widths, dict) or not all(
            isinstance(k, int) and isinstance(v, int) and k > 0 and v > 0 for k, v in widths.items()
        ):
            raise InputError(
                f"widths must map positive int sizes to positive int base sizes; got {widths!r}"
            )
        bases = {n: tuple(widths.get(d) for d in s) for n, s in shapes.items()}
    else:
        if delta is None:
            raise InputError(
                "base= needs delta= (a model that differs from base only in its widths), "
                "so that the growing dimensions can be found by comparing shapes"
            )
        b, d = _shape_dict(base), _shape_dict(delta)
        for other, label in ((b, "base"), (d, "delta")):
            if set(other) != set(shapes):
                raise InputError(
                    f"{label} and model have different parameters: only in {label}: "
                    f"{sorted(set(other) - set(shapes))[:5]}, only in model: "
                    f"{sorted(set(shapes) - set(other))[:5]}; build all three from one class"
                )
        bases = {}
        for n, s in shapes.items():
            if not len(b[n]) == len(d[n]) == len(s):
                raise InputError(
                    f"parameter {n!r} has ranks {len(b[n])}, {len(d[n])}, {len(s)} in base, "
                    "delta and model; they must agree"
                )
            bases[n] = tuple(bb if bb != dd else None for bb, dd in zip(b[n], d[n], strict=True))
    owners = _owners(model)
    out: dict[str, ParamShape] = {}
    for n, s in shapes.items():
        mname, mod, pname = owners[n]
        o = _match(overrides, n)
        bs = tuple(o.get("base_shape", bases[n]))
        if len(bs) != len(s):
            raise InputError(
                f"overrides base_shape of {n!r} has rank {len(bs)}; the parameter has {len(s)}"
            )
        ninf = sum(x is not None for x in bs)
        fans = _fans(mod, pname, len(s))
        fan_in, fan_out = fans if fans is not None else (None, None)
        fan_in, fan_out = o.get("fan_in_dim", fan_in), o.get("fan_out_dim", fan_out)
        if "role" in o:
            role = o["role"]
        elif ninf == 0:
            role = "fixed"
        elif ninf > 2:
            raise InputError(
                f"parameter {n!r} (shape {s}) has {ninf} dimensions that grow with width; "
                "muP is defined for at most two (fan-in and fan-out). Reshape it or pass "
                f"overrides={{{n!r}: {{'role': ..., 'fan_in_dim': ...}}}}"
            )
        elif fans is None and "fan_in_dim" not in o:
            raise InputError(
                f"cannot decide the role of parameter {n!r} (shape {s}, base {bs}) of a "
                f"{type(mod).__name__}: its fan-in dimension is unknown. Pass "
                f"overrides={{{n!r}: {{'fan_in_dim': i}}}} (and 'role' if it is a readout)"
            )
        elif ninf == 2:
            if fan_in is None or bs[fan_in] is None or fan_out is None or bs[fan_out] is None:
                raise InputError(
                    f"parameter {n!r} (shape {s}, base {bs}) has two growing dimensions that "
                    f"are not its fan-in {fan_in} and fan-out {fan_out}; pass overrides"
                )
            role = "hidden"
        elif fan_in is not None and bs[fan_in] is not None:
            role = "output"
        else:
            role = "vector"
        if role in ("hidden", "output") and fan_in is None:
            raise InputError(
                f"parameter {n!r} has role {role!r} but no fan-in dimension; pass fan_in_dim"
            )
        out[n] = ParamShape(n, mname, type(mod).__name__, tuple(s), bs, fan_in, fan_out, role)
    # a weight reachable under two names (tied) keeps one entry; check the roles agree
    seen: dict[int, str] = {}
    for mname, mod in model.named_modules(remove_duplicate=False):
        for pname, p in mod.named_parameters(recurse=False, remove_duplicate=False):
            full = f"{mname}.{pname}" if mname else pname
            first = seen.setdefault(id(p), full)
            if first != full and first in out:
                fans = _fans(mod, pname, p.ndim)
                if fans is not None and p.ndim == 2:
                    ps = out[first]
                    role2 = "output" if fans[0] is not None and ps.base_shape[fans[0]] else ps.role
                    if role2 != ps.role:
                        raise InputError(
                            f"parameter {first!r} is tied to {full!r} ({type(mod).__name__}) "
                            f"and is a {ps.role!r} there but an {role2!r} here; muP treats the "
                            "two uses differently: untie them (or use overrides and apply the "
                            "readout multiplier yourself)"
                        )
    return out


def with_role(shape: ParamShape, role: str) -> ParamShape:
    """A copy of ``shape`` with another role."""
    return replace(shape, role=role)

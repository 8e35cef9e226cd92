"""Law specs with declarative field constraints, checked once by the base class.

A law's spec is a frozen dataclass that subclasses :class:`LawSpec`; each field is
declared with :func:`param`, which records its default, its constraints (bounds,
choices, length, distinct or increasing elements) and a one-line meaning::

    @dataclass(frozen=True)
    class Spec(LawSpec):
        num_modes: int = param(2000, ge=1, doc="d: feature dimension")
        ridges: tuple[float, ...] = param((1e-3, 1e-1), ge=0, min_len=1)
        kernel: str = param("rbf", choices=("rbf", "laplace"))

``LawSpec.__post_init__`` checks every field's type (ints are not bools, floats accept
ints and are stored as floats, tuples accept lists) and its constraints, then calls the
spec's own :meth:`LawSpec.validate` for constraints that tie several fields together.
Every failure is a :class:`lmech.errors.ConfigError` naming the field, the constraint,
the value that came and how to fix it. :func:`violations` generates, from the same
declarations, values that must be refused; the common law battery feeds them back.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lmech.errors import ConfigError

__all__ = ["Constraint", "LawSpec", "param", "constraint_of", "violations"]

_KEY = "lmech"


@dataclass(frozen=True)
class Constraint:
    """What a spec field accepts (each bound applies to every element of a tuple)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None
    min_len: int | None = None
    max_len: int | None = None
    distinct: bool = False
    increasing: bool = False
    doc: str = ""

    @property
    def declared(self) -> bool:
        """True when the field declares at least one check (not only a doc line)."""
        return any(
            v is not None and v is not False
            for k, v in dataclasses.asdict(self).items()
            if k != "doc"
        )

    def describe(self) -> str:
        parts = []
        for op, attr in ((">=", "ge"), (">", "gt"), ("<=", "le"), ("<", "lt")):
            if getattr(self, attr) is not None:
                parts.append(f"{op} {getattr(self, attr):g}")
        if self.choices is not None:
            parts.append(f"one of {list(self.choices)}")
        if self.min_len is not None:
            parts.append(f"at least {self.min_len} entries")
        if self.max_len is not None:
            parts.append(f"at most {self.max_len} entries")
        if self.distinct:
            parts.append("distinct")
        if self.increasing:
            parts.append("increasing")
        return ", ".join(parts)


def param(default: Any, *, doc: str = "", **constraints: Any) -> Any:
    """A spec field with a default and declarative constraints (see :class:`Constraint`)."""
    unknown = set(constraints) - {f.name for f in dataclasses.fields(Constraint)}
    if unknown:
        raise TypeError(f"param() got unknown constraints {sorted(unknown)}")
    if "choices" in constraints and constraints["choices"] is not None:
        constraints["choices"] = tuple(constraints["choices"])
    meta = {_KEY: Constraint(doc=doc, **constraints)}
    if isinstance(default, (list, dict, set)):
        raise TypeError("spec defaults must be immutable (use a tuple)")
    return dataclasses.field(default=default, metadata=meta)


def constraint_of(field: dataclasses.Field) -> Constraint:
    return field.metadata.get(_KEY, Constraint())


def _strip_optional(typ: Any) -> tuple[Any, bool]:
    if typing.get_origin(typ) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        optional = len(args) < len(typing.get_args(typ))
        return (args[0] if len(args) == 1 else typ), optional
    return typ, False


def _coerce_scalar(name: str, value: Any, typ: Any) -> Any:
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false; got {value!r}")
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{name} must be an integer; got {value!r}")
        return int(value)
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number; got {value!r}")
        value = float(value)
        if math.isnan(value):
            raise ConfigError(f"{name} must be a number, not NaN")
        return value
    if typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string; got {value!r}")
        return value
    return value  # other types (nested dataclasses) are the spec's own business


def _coerce(name: str, value: Any, typ: Any) -> Any:
    typ, optional = _strip_optional(typ)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{name} must be set; got None")
    if typing.get_origin(typ) is tuple:
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{name} must be a list of values; got {value!r}")
        args = typing.get_args(typ)
        if len(args) == 2 and args[1] is Ellipsis:
            inner = [args[0]] * len(value)
        else:
            if len(args) != len(value):
                raise ConfigError(f"{name} must have {len(args)} entries; got {list(value)}")
            inner = list(args)
        return tuple(
            _coerce(f"{name}[{i}]", v, t) for i, (v, t) in enumerate(zip(value, inner, strict=True))
        )
    return _coerce_scalar(name, value, typ)


def _check(name: str, value: Any, c: Constraint) -> None:
    if value is None:
        return
    items = list(value) if isinstance(value, tuple) else [value]
    what = f"{name}" if not isinstance(value, tuple) else f"every entry of {name}"
    if isinstance(value, tuple):
        n = len(value)
        if c.min_len is not None and n < c.min_len:
            raise ConfigError(f"{name} needs at least {c.min_len} entries; got {n} ({list(value)})")
        if c.max_len is not None and n > c.max_len:
            raise ConfigError(f"{name} takes at most {c.max_len} entries; got {n}")
        if c.distinct and len(set(value)) != n:
            raise ConfigError(f"{name} entries must be distinct; got {list(value)}")
        if c.increasing and any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ConfigError(f"{name} must be strictly increasing; got {list(value)}")
    for v in items:
        if c.choices is not None and v not in c.choices:
            raise ConfigError(f"{what} must be one of {list(c.choices)}; got {v!r}")
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if (
            isinstance(v, float)
            and not math.isfinite(v)
            and any(b is not None for b in (c.ge, c.gt, c.le, c.lt))
        ):
            raise ConfigError(f"{what} must be finite; got {v!r}")
        for op, bound, ok in (
            (">=", c.ge, lambda x, b: x >= b),
            (">", c.gt, lambda x, b: x > b),
            ("<=", c.le, lambda x, b: x <= b),
            ("<", c.lt, lambda x, b: x < b),
        ):
            if bound is not None and not ok(v, bound):
                raise ConfigError(
                    f"{what} must be {op} {bound:g}; got {v!r} "
                    f"({name}: {c.describe()}{'; ' + c.doc if c.doc else ''})"
                )


class LawSpec:
    """Base class of law specs: subclass it with ``@dataclass(frozen=True)``.

    ``__post_init__`` coerces and checks every field declared with :func:`param`, then
    calls :meth:`validate`. Override :meth:`validate` (not ``__post_init__``) for checks
    that relate several fields, and raise :class:`lmech.errors.ConfigError` there.
    """

    def __post_init__(self) -> None:
        cls = type(self)
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = _coerce(f.name, getattr(self, f.name), hints[f.name])
            object.__setattr__(self, f.name, value)
            _check(f.name, value, constraint_of(f))
        self.validate()

    def validate(self) -> None:
        """Cross-field constraints; raise ConfigError with what, got and how to fix."""

    def memory_bytes(self) -> int | None:
        """Peak memory the law needs at this spec (an estimate that errs high), or None.

        The runner checks it against the memory limit (:mod:`lmech._memory`) before the
        law starts, so ``--set width=10**9`` is refused in one line instead of running
        into the out-of-memory killer. Override it where a field sets the size of an
        allocation (widths, numbers of modes, sample sizes); Python ints do not overflow.
        """
        return None


def _bad_scalars(c: Constraint, typ: Any) -> Iterator[Any]:
    integer = typ is int
    if c.ge is not None:
        yield (math.ceil(c.ge) - 1) if integer else c.ge - max(1.0, abs(c.ge))
    if c.gt is not None:
        yield math.floor(c.gt) if integer else c.gt
    if c.le is not None:
        yield (math.floor(c.le) + 1) if integer else c.le + max(1.0, abs(c.le))
    if c.lt is not None:
        yield math.ceil(c.lt) if integer else c.lt
    if c.choices is not None:
        yield "no-such-choice" if typ is str else object()


def violations(spec: LawSpec) -> Iterator[tuple[str, Any]]:
    """(field, value) pairs that the field's declared constraints must refuse.

    Bounds give a value just outside each bound (for a tuple, the first entry replaced),
    choices an unknown one, lengths a too-short or too-long tuple, ``distinct`` a repeated
    entry and ``increasing`` the reversed tuple.
    """
    hints = typing.get_type_hints(type(spec))
    for f in dataclasses.fields(spec):  # type: ignore[arg-type]
        c = constraint_of(f)
        typ, _ = _strip_optional(hints[f.name])
        value = getattr(spec, f.name)
        if typing.get_origin(typ) is tuple:
            args = typing.get_args(typ)
            inner = args[0] if args else Any
            base = tuple(value) if isinstance(value, tuple) and value else ()
            for bad in _bad_scalars(c, inner):
                yield f.name, (bad, *base[1:]) if base else (bad,)
            if c.min_len is not None and c.min_len >= 1:
                yield f.name, base[: c.min_len - 1]
            if c.max_len is not None and base:
                yield f.name, base + (base[-1],) * (c.max_len + 1 - len(base))
            if c.distinct and base:
                yield f.name, (base[0], *base)
            if c.increasing and len(base) >= 2:
                yield f.name, tuple(reversed(base))
        else:
            for bad in _bad_scalars(c, typ):
                yield f.name, bad

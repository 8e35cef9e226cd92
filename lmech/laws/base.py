"""The law contract: one frozen spec, four functions, one verdict.

A law is one quantitative claim from the literature. Its module defines a frozen
dataclass ``Spec`` with ``smoke``, ``quick`` and ``paper`` presets and four functions
that read only that spec (theory and experiment never restate a hyperparameter):

- ``theory(spec) -> DataFrame``: the prediction (pure, deterministic, float64);
- ``experiment(spec, seed, device) -> DataFrame``: the measurement (torch, seeded);
- ``compare(pred, meas) -> Verdict``: metric, value, declared tolerance, passed;
- ``figure(pred, meas) -> matplotlib.figure.Figure``: reads only the two tables.

The module then builds a :class:`Law` and the registry finds it by name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lmech.errors import ConfigError, LmechError

__all__ = [
    "PRESETS",
    "Verdict",
    "Law",
    "spec_to_dict",
    "spec_hash",
    "apply_overrides",
]

PRESETS = ("smoke", "quick", "paper")


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing a law's prediction with its measurement.

    ``passed`` is ``value <= tolerance`` for an error metric (``higher_is_better=False``)
    or ``value >= tolerance`` otherwise. ``status`` is one of ``passed``, ``failed``,
    ``skipped`` (the measurement could not run here, e.g. data missing; never a pass).
    """

    metric: str
    value: float
    tolerance: float
    passed: bool
    status: str = ""
    detail: str = ""
    higher_is_better: bool = False
    expected_failure: bool = False

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", "passed" if self.passed else "failed")
        if self.status not in ("passed", "failed", "skipped"):
            raise ConfigError(
                f"Verdict status must be passed, failed or skipped; got {self.status!r}"
            )

    @classmethod
    def from_metric(
        cls,
        metric: str,
        value: float,
        tolerance: float,
        *,
        higher_is_better: bool = False,
        detail: str = "",
        expected_failure: bool = False,
    ) -> Verdict:
        """Build a verdict; a NaN or infinite metric value always fails.

        ``expected_failure=True`` marks a law whose claim is that a theory *fails* on some
        system (the metric measures the failure): a pass then reads "passed (expected
        failure)" in tables and reports.
        """
        value = float(value)
        ok = math.isfinite(value) and (
            value >= tolerance if higher_is_better else value <= tolerance
        )
        return cls(
            metric=metric,
            value=value,
            tolerance=float(tolerance),
            passed=bool(ok),
            detail=detail,
            higher_is_better=higher_is_better,
            expected_failure=expected_failure,
        )

    @classmethod
    def skipped(cls, metric: str, tolerance: float, reason: str) -> Verdict:
        return cls(
            metric=metric,
            value=float("nan"),
            tolerance=float(tolerance),
            passed=False,
            status="skipped",
            detail=reason,
        )

    @property
    def label(self) -> str:
        """The status as shown to people: ``passed (expected failure)`` for such laws."""
        return f"{self.status} (expected failure)" if self.expected_failure else self.status

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["value"] = None if not math.isfinite(self.value) else self.value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Verdict:
        d = dict(d)
        if d.get("value") is None:
            d["value"] = float("nan")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class Law:
    """A registered law: its spec class and presets and its four functions."""

    name: str
    spec: type
    presets: Mapping[str, Any]
    theory: Callable[[Any], Any]
    experiment: Callable[[Any, int, str], Any]
    compare: Callable[[Any, Any], Verdict]
    figure: Callable[[Any, Any], Any]
    metric: str
    tolerance: float
    source: str
    claim: str
    tags: tuple[str, ...] = ()
    theory_columns: tuple[str, ...] = ()
    experiment_columns: tuple[str, ...] = ()
    doc: str = field(default="", repr=False)
    higher_is_better: bool = False  # the metric passes at >= tolerance (as its verdicts)

    @property
    def criterion(self) -> str:
        """``metric <= tolerance`` (or ``>=``), as the catalog and ``lmech laws`` show it."""
        op = ">=" if self.higher_is_better else "<="
        return f"{self.metric} {op} {self.tolerance:g}"

    def __post_init__(self) -> None:
        missing = [p for p in PRESETS if p not in self.presets]
        if missing:
            raise ConfigError(
                f"law {self.name!r} lacks presets {missing}; every law needs {PRESETS}"
            )

    def preset(self, name: str) -> Any:
        if name not in self.presets:
            raise ConfigError(
                f"unknown preset {name!r} for law {self.name!r}; expected one of {list(self.presets)}"
            )
        return self.presets[name]


def spec_to_dict(spec: Any) -> dict[str, Any]:
    """The resolved spec as JSON-ready data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(spec), default=str))


def spec_hash(spec: Any, seed: int) -> str:
    """A stable key of (spec type, resolved spec, seed), used to resume runs."""
    payload = json.dumps(
        {"type": type(spec).__qualname__, "spec": spec_to_dict(spec), "seed": int(seed)},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _parse_scalar(text: str, typ: Any, key: str) -> Any:
    text = text.strip()
    try:
        if typ is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if typ is int:
            return int(text)
        if typ is float:
            return float(text)
        if typ is str:
            return text
    except ValueError:
        raise ConfigError(
            f"--set {key}={text!r}: expected a value of type {typ.__name__}"
        ) from None
    raise ConfigError(f"--set {key}: field type {typ!r} cannot be set from the command line")


def _parse_value(text: str, typ: Any, key: str) -> Any:
    origin = typing.get_origin(typ)
    if origin is tuple:
        args = typing.get_args(typ)
        inner = args[0] if args else str
        parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
        if not parts:
            raise ConfigError(f"--set {key}={text!r}: expected a comma-separated list")
        return tuple(_parse_scalar(p, inner, key) for p in parts)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if text.strip().lower() in ("none", "null") and len(args) < len(typing.get_args(typ)):
            return None
        return _parse_value(text, args[0], key)
    return _parse_scalar(text, typ, key)


def apply_overrides(spec: Any, overrides: Mapping[str, str]) -> Any:
    """Return ``spec`` with ``key=value`` strings parsed to the fields' types.

    Raises:
        ConfigError: an unknown key (the message lists the valid keys) or a value that
            does not parse to the field's type.
    """
    if not overrides:
        return spec
    hints = typing.get_type_hints(type(spec))
    valid = [f.name for f in dataclasses.fields(spec)]
    changes = {}
    for key, text in overrides.items():
        if key not in valid:
            raise ConfigError(
                f"unknown --set key {key!r} for {type(spec).__qualname__}; valid keys: {', '.join(valid)}"
            )
        changes[key] = _parse_value(str(text), hints[key], key)
    try:
        return dataclasses.replace(spec, **changes)
    except LmechError:
        raise
    except (ValueError, TypeError) as err:
        raise ConfigError(f"invalid override {dict(overrides)}: {err}") from None

r"""The law contract: one frozen spec, four functions, a criterion declared once.

A law is one quantitative claim from the literature. Its family module declares:

- ``Spec``: a frozen :class:`lmech.laws.spec.LawSpec` dataclass whose fields carry
  declarative constraints, with ``smoke``, ``quick`` and ``paper`` presets;
- ``theory(spec) -> DataFrame``: the prediction (pure, deterministic, float64);
- ``experiment(spec, seed, device) -> DataFrame``: the measurement (torch, seeded);
- ``evaluate(pred, meas) -> Evaluation``: the named statistics the criterion bounds
  (e.g. ``max_rel_err_test_mse``), with a one-line detail for people;
- ``figure(pred, meas) -> matplotlib.figure.Figure``: reads only the two tables;
- a :class:`Criterion`: one or more named :class:`Check` (statistic, comparison, bound,
  and one line saying why the bound is what it is);
- a :class:`Prediction`: the theory column that is the claim, and how far to perturb it
  so that the claim is wrong by more than the tolerance (the battery asserts the verdict
  then fails).

The framework, never the law, turns an evaluation into a :class:`Verdict`; the catalog
text (``lmech laws``, the README table) and the battery's gates come from the same
criterion. ``Law(...)`` objects found in the modules of a family package under
:mod:`lmech.laws` register themselves (:mod:`lmech.laws.registry` walks the packages).
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

import pandas as pd

from lmech.errors import ConfigError, InputError, LmechError
from lmech.laws.spec import LawSpec

__all__ = [
    "PRESETS",
    "STATUSES",
    "Check",
    "CheckResult",
    "Criterion",
    "Evaluation",
    "Prediction",
    "Verdict",
    "Law",
    "spec_to_dict",
    "spec_hash",
    "apply_overrides",
]

PRESETS = ("smoke", "quick", "paper")
# passed/failed: a verdict; skipped: the measurement could not run here (data missing),
# never a pass; error: the law raised; smoke: the smoke preset ran every code path, its
# numbers are not a verdict
STATUSES = ("passed", "failed", "skipped", "error", "smoke")
_OPS = {"<=": lambda v, b: v <= b, ">=": lambda v, b: v >= b}


@dataclass(frozen=True)
class Check:
    """One named check of a criterion: ``statistic op bound``, with the reason for the bound.

    Args:
        statistic: the name of a value the law's ``evaluate`` returns.
        op: ``"<="`` (an error, a deviation) or ``">="`` (an accuracy, a margin).
        bound: the declared tolerance; never tuned per run.
        why: one line a stranger can check: the standard error, the finite-size
            correction or the physics that sets the bound.
    """

    statistic: str
    op: str
    bound: float
    why: str

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ConfigError(f"Check.op must be '<=' or '>='; got {self.op!r}")
        if not math.isfinite(self.bound):
            raise ConfigError(f"Check {self.statistic!r}: bound must be finite; got {self.bound}")
        if not self.why.strip():
            raise ConfigError(f"Check {self.statistic!r} needs a reason for its bound (why=...)")

    @property
    def text(self) -> str:
        return f"{self.statistic} {self.op} {self.bound:g}"

    def result(self, value: float) -> CheckResult:
        value = float(value)
        ok = math.isfinite(value) and _OPS[self.op](value, self.bound)
        return CheckResult(self.statistic, self.op, float(self.bound), value, bool(ok), self.why)


@dataclass(frozen=True)
class CheckResult:
    """A check with the value it saw; ``passed`` is False for a NaN or infinite value."""

    statistic: str
    op: str
    bound: float
    value: float
    passed: bool
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["value"] = self.value if math.isfinite(self.value) else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CheckResult:
        d = dict(d)
        d["value"] = float("nan") if d.get("value") is None else float(d["value"])
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class Evaluation:
    """What a law's ``evaluate`` returns: named statistics and a line of detail."""

    values: Mapping[str, float]
    detail: str = ""


@dataclass(frozen=True)
class Criterion:
    """The checks a law's verdict passes when all hold, declared once.

    ``expected_failure=True`` marks a law whose claim is that a theory *fails* on some
    system (its statistics measure the failure); a pass reads "passed (expected failure)".
    """

    checks: tuple[Check, ...]
    expected_failure: bool = False

    def __init__(self, *checks: Check, expected_failure: bool = False) -> None:
        if not checks or not all(isinstance(c, Check) for c in checks):
            raise ConfigError("a Criterion needs one or more Check(...)")
        names = [c.statistic for c in checks]
        if len(set(names)) != len(names):
            raise ConfigError(f"a Criterion's checks need distinct statistics; got {names}")
        object.__setattr__(self, "checks", tuple(checks))
        object.__setattr__(self, "expected_failure", bool(expected_failure))

    @property
    def text(self) -> str:
        """``a <= 0.05 and b >= 2``: the catalog's pass criterion."""
        return " and ".join(c.text for c in self.checks)

    @property
    def statistics(self) -> tuple[str, ...]:
        return tuple(c.statistic for c in self.checks)

    def verdict(self, evaluation: Evaluation) -> Verdict:
        """The verdict of an evaluation: passed iff every check passes."""
        if not isinstance(evaluation, Evaluation):
            raise InputError(
                f"a law's evaluate must return an Evaluation; got {type(evaluation).__name__}"
            )
        missing = [s for s in self.statistics if s not in evaluation.values]
        if missing:
            raise InputError(
                f"evaluate returned {sorted(evaluation.values)} but the criterion checks "
                f"{missing}; return a value for every checked statistic"
            )
        results = tuple(c.result(evaluation.values[c.statistic]) for c in self.checks)
        status = "passed" if all(r.passed for r in results) else "failed"
        return Verdict(status, results, evaluation.detail, self.expected_failure)

    def skipped(self, reason: str) -> Verdict:
        return self._without_values("skipped", reason)

    def errored(self, reason: str) -> Verdict:
        return self._without_values("error", reason)

    def _without_values(self, status: str, reason: str) -> Verdict:
        results = tuple(
            CheckResult(c.statistic, c.op, float(c.bound), float("nan"), False, c.why)
            for c in self.checks
        )
        return Verdict(status, results, reason, self.expected_failure)


@dataclass(frozen=True)
class Prediction:
    """The theory column that carries a law's claim, and a perturbation that breaks it.

    The battery replaces the rows of ``column`` (those matching ``where``, a column ->
    value filter; all rows when empty) by ``value * (1 +- relative)`` or
    ``value +- absolute`` and asserts both verdicts fail: a prediction wrong by that much
    must not pass. ``relative`` and ``absolute`` are stated beside the law's tolerance,
    with the reason they exceed it.
    """

    column: str
    relative: float | None = None
    absolute: float | None = None
    where: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.relative is None) == (self.absolute is None):
            raise ConfigError(
                f"Prediction({self.column!r}) needs exactly one of relative, absolute"
            )
        amount = self.relative if self.relative is not None else self.absolute
        if not (amount > 0 and math.isfinite(amount)):
            raise ConfigError(f"Prediction({self.column!r}): the perturbation must be > 0")

    def perturbed(self, pred: pd.DataFrame, sign: int) -> pd.DataFrame:
        """``pred`` with the claim's rows moved by the perturbation (sign +1 or -1)."""
        if self.column not in pred.columns:
            raise InputError(
                f"theory table has no prediction column {self.column!r}; "
                f"columns: {list(pred.columns)}"
            )
        out = pred.copy()
        rows = pd.Series(True, index=out.index)
        for key, value in self.where.items():
            rows &= out[key] == value
        if not rows.any():
            raise InputError(f"no theory rows match {dict(self.where)}")
        col = out[self.column].astype(float)
        if self.relative is not None:
            col[rows] = col[rows] * (1.0 + sign * self.relative)
        else:
            col[rows] = col[rows] + sign * self.absolute
        out[self.column] = col
        return out


@dataclass(frozen=True)
class Verdict:
    """The outcome of a law run: a status and one result per declared check.

    ``metric``, ``value``, ``tolerance`` and ``higher_is_better`` are those of the first
    check (the headline shown in one-line tables).
    """

    status: str
    checks: tuple[CheckResult, ...]
    detail: str = ""
    expected_failure: bool = False

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ConfigError(f"Verdict status must be one of {STATUSES}; got {self.status!r}")
        if not self.checks:
            raise ConfigError("a Verdict needs at least one check result")

    @classmethod
    def from_metric(
        cls,
        metric: str,
        value: float,
        tolerance: float,
        *,
        higher_is_better: bool = False,
        detail: str = "",
        why: str = "",
    ) -> Verdict:
        """A one-check verdict (for tools and tests; laws declare a :class:`Criterion`)."""
        op = ">=" if higher_is_better else "<="
        check = Check(metric, op, float(tolerance), why or "declared")
        result = check.result(value)
        return cls("passed" if result.passed else "failed", (result,), detail)

    @classmethod
    def skipped(cls, metric: str, tolerance: float, reason: str) -> Verdict:
        return Criterion(Check(metric, "<=", float(tolerance), "declared")).skipped(reason)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def metric(self) -> str:
        return self.checks[0].statistic

    @property
    def value(self) -> float:
        return self.checks[0].value

    @property
    def tolerance(self) -> float:
        return self.checks[0].bound

    @property
    def higher_is_better(self) -> bool:
        return self.checks[0].op == ">="

    @property
    def label(self) -> str:
        """The status as shown to people."""
        if self.status == "smoke":
            return "ran (smoke: not a verdict)"
        if self.expected_failure and self.status in ("passed", "failed"):
            return f"{self.status} (expected failure)"
        return self.status

    def as_smoke(self) -> Verdict:
        """The same numbers, labelled as a smoke run (not a verdict)."""
        if self.status in ("skipped", "error"):
            return self
        return dataclasses.replace(self, status="smoke")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "checks": [c.to_dict() for c in self.checks],
            "detail": self.detail,
            "expected_failure": self.expected_failure,
            # the headline, for readers of the file that want one number
            "metric": self.metric,
            "value": self.value if math.isfinite(self.value) else None,
            "tolerance": self.tolerance,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Verdict:
        if "checks" in d:
            checks = tuple(CheckResult.from_dict(c) for c in d["checks"])
        else:  # a one-metric verdict.json written before criteria existed
            value = float("nan") if d.get("value") is None else float(d["value"])
            op = ">=" if d.get("higher_is_better") else "<="
            tol = float(d["tolerance"])
            ok = math.isfinite(value) and _OPS[op](value, tol)
            checks = (CheckResult(str(d["metric"]), op, tol, value, bool(ok)),)
        return cls(
            str(d["status"]),
            checks,
            str(d.get("detail", "")),
            bool(d.get("expected_failure", False)),
        )

    def problem(self) -> str | None:
        """None when the verdict is consistent, else why not: each check's ``passed`` must
        follow from its value, comparison and bound (a NaN never passes), and a
        passed/failed status from the checks. The run store trusts no verdict without it."""
        for c in self.checks:
            if c.op not in _OPS:
                return f"check {c.statistic!r} has an unknown comparison {c.op!r}"
            if not isinstance(c.bound, (int, float)) or not math.isfinite(c.bound):
                return f"check {c.statistic!r} has a non-finite bound {c.bound!r}"
            if not isinstance(c.passed, bool):
                return f"check {c.statistic!r} records passed={c.passed!r}, not true or false"
            holds = math.isfinite(c.value) and _OPS[c.op](c.value, c.bound)
            if c.passed != holds:
                return (
                    f"check {c.statistic} = {c.value:.4g} {c.op} {c.bound:.4g} "
                    f"{'holds' if holds else 'does not hold'} but the verdict records "
                    f"passed={bool(c.passed)}"
                )
        if self.status in ("passed", "failed") and (self.status == "passed") != all(
            c.passed for c in self.checks
        ):
            return (
                f"status {self.status!r} does not follow from its checks "
                f"({', '.join(f'{c.statistic} passed={c.passed}' for c in self.checks)})"
            )
        return None

    def consistent(self) -> bool:
        """True when :meth:`problem` finds nothing (a store integrity check)."""
        return self.problem() is None


@dataclass(frozen=True)
class Law:
    """A registered law: its spec and presets, four functions, criterion and prediction.

    Args:
        name: the catalog name (``eigenlearning-synthetic``).
        claim: one line, as the catalog shows it.
        source: paper, section/equation/figure.
        spec: the :class:`LawSpec` subclass; ``presets`` maps smoke/quick/paper to specs.
        theory, experiment, evaluate, figure: see the module docstring.
        criterion: the declared checks.
        prediction: the theory column that carries the claim (see :class:`Prediction`).
        theory_columns, experiment_columns: columns the tables must have.
        tags: for ``--tag``.
        doc: the law's docstring (Claim, System, Measurement, Limits, Source, Run).
        discriminating_preset: the preset whose verdict tells the claim from the simpler
            null; ``quick`` unless the quick budget cannot (then the docstring says why).
        sweep_figure: optional ``(sweep table) -> Figure`` drawing an ``lmech sweep`` of
            this law (one row per point: the swept keys, ``seed``, ``status`` and each
            check's value); without it the sweep report draws each check statistic
            against the swept keys (:mod:`lmech.report.sweep`).
    """

    name: str
    claim: str
    source: str
    spec: type
    presets: Mapping[str, Any]
    theory: Callable[[Any], pd.DataFrame]
    experiment: Callable[[Any, int, str], pd.DataFrame]
    evaluate: Callable[[pd.DataFrame, pd.DataFrame], Evaluation]
    figure: Callable[[pd.DataFrame, pd.DataFrame], Any]
    criterion: Criterion
    prediction: Prediction
    theory_columns: tuple[str, ...] = ()
    experiment_columns: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    doc: str = field(default="", repr=False)
    discriminating_preset: str = "quick"
    sweep_figure: Callable[[pd.DataFrame], Any] | None = None

    def __post_init__(self) -> None:
        missing = [p for p in PRESETS if p not in self.presets]
        if missing:
            raise ConfigError(
                f"law {self.name!r} lacks presets {missing}; every law needs {PRESETS}"
            )
        if not (isinstance(self.spec, type) and issubclass(self.spec, LawSpec)):
            raise ConfigError(f"law {self.name!r}: its spec must subclass lmech.laws.spec.LawSpec")
        for name, preset in self.presets.items():
            if not isinstance(preset, self.spec):
                raise ConfigError(
                    f"law {self.name!r}: preset {name!r} is not a {self.spec.__name__}"
                )
        if not isinstance(self.criterion, Criterion):
            raise ConfigError(f"law {self.name!r}: criterion must be a Criterion")
        if self.theory_columns and self.prediction.column not in self.theory_columns:
            raise ConfigError(
                f"law {self.name!r}: prediction column {self.prediction.column!r} is not "
                f"among its theory columns {self.theory_columns}"
            )
        if self.discriminating_preset not in PRESETS:
            raise ConfigError(f"discriminating_preset must be one of {PRESETS}")

    @property
    def text(self) -> str:
        """The pass criterion as the catalog shows it."""
        return self.criterion.text

    @property
    def expected_failure(self) -> bool:
        return self.criterion.expected_failure

    def preset(self, name: str) -> Any:
        if name not in self.presets:
            raise ConfigError(
                f"unknown preset {name!r} for law {self.name!r}; expected one of {list(self.presets)}"
            )
        return self.presets[name]

    def verdict(self, pred: pd.DataFrame, meas: pd.DataFrame) -> Verdict:
        """The criterion applied to ``evaluate(pred, meas)``."""
        return self.criterion.verdict(self.evaluate(pred, meas))


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

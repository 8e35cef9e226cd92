"""Sweeps: one law over a grid of spec values and seeds, every point in one run store.

``lmech sweep LAW --grid key=v1,v2 --grid key=log:1e-4:1e-1:7 --seeds 3`` runs the law
at every combination of the grid values (the cartesian product) and every seed. Each
combination is an ordinary point of the run store (:mod:`lmech.runs.store`), keyed by
its resolved spec, seed, device and code, so

- a rerun skips every point already finished (an interrupted sweep resumes where it
  stopped), and a point that ``lmech run --set`` computed before is reused too;
- several sweeps (and checks) may write into one store at the same time: a point being
  computed by another process is waited for, then reused.

Grid values, one ``--grid`` per key:

- ``key=v1,v2,v3``: listed values, parsed to the spec field's type;
- ``key=log:START:STOP:N``: N log-spaced values from START to STOP (both included);
- ``key=lin:START:STOP:N``: N evenly spaced values;
- for a field that holds a tuple, values are separated by ``;`` and the entries of
  each value by ``,`` (``sizes=10,20;40,80`` is two values).

Integer fields round range values to integers; a range that rounds to repeated values
is an error. Every point's spec is validated (bounds, cross-field checks) before
anything runs, and a grid larger than :data:`MAX_POINTS` is refused.

Executors (:func:`run_sweep`): ``local``, a process pool of ``workers`` processes with
``cores // workers`` BLAS threads each (:mod:`lmech.runs.pool`; ``workers=1`` runs in
this process); ``ray``, one Ray task per point on an existing cluster (``address``) or on
a local one started for the sweep (:mod:`lmech.runs.ray_executor`). A point whose worker
dies is retried on a fresh worker (``retries`` times) and reported.

The sweep's own outputs go to ``OUT/sweeps/<law>-<id>/``: ``table.csv`` (one row per
point: the grid values, the seed, the status and every check's value), ``sweep.json``
(the grid, the seeds and each point's key) and ``report.html`` with the table and one
figure per check statistic (:mod:`lmech.report.sweep`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import time
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lmech.errors import ConfigError, LmechError
from lmech.laws import registry
from lmech.laws.base import Law, apply_overrides, spec_hash
from lmech.runs.execute import (
    RETRIED,
    LawResult,
    _cleanup_store,
    _guarded,
    _law_dir,
    _raise_failure,
    check_spec_memory,
    resolve_device,
    run_law,
    run_pool,
    stored_result,
)
from lmech.runs.store import code_hash, ensure_store_dir, environment_info, point_key, read_point

__all__ = [
    "MAX_POINTS",
    "Axis",
    "SweepPoint",
    "SweepPlan",
    "SweepResult",
    "SweepInterrupted",
    "parse_axis",
    "parse_seeds",
    "plan_sweep",
    "run_sweep",
    "sweep_table",
]

MAX_POINTS = 10_000
SWEEPS = "sweeps"


@dataclass(frozen=True)
class Axis:
    """One swept spec field: its name and values (typed as the field is)."""

    key: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class SweepPoint:
    index: int
    values: dict[str, Any]
    seed: int
    spec: Any
    key: str


@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep: the law, the base preset, the axes, the seeds and every point."""

    law: Law
    preset: str
    axes: tuple[Axis, ...]
    seeds: tuple[int, ...]
    device: str
    out: Path
    points: tuple[SweepPoint, ...]

    @property
    def sweep_id(self) -> str:
        payload = json.dumps(
            {
                "law": self.law.name,
                "preset": self.preset,
                "axes": [[a.key, [repr(v) for v in a.values]] for a in self.axes],
                "seeds": list(self.seeds),
                "device": self.device,
            },
            sort_keys=True,
        )
        return f"{self.law.name}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"

    @property
    def folder(self) -> Path:
        return self.out / SWEEPS / self.sweep_id


@dataclass(frozen=True)
class SweepResult:
    """What a sweep did: one result per point (plan order) and the store's counts."""

    plan: SweepPlan
    results: tuple[LawResult, ...]
    found_keys: frozenset[str]  # points valid in the store before the sweep started
    seconds: float

    @property
    def found(self) -> int:
        return len(self.found_keys)

    @property
    def recomputed(self) -> int:
        """Points computed by this sweep although a valid one was stored before it began."""
        return sum(
            not r.reused and r.path is not None and r.key in self.found_keys for r in self.results
        )

    @property
    def computed(self) -> int:
        return sum(not r.reused for r in self.results if r.path is not None)

    @property
    def reused(self) -> int:
        return sum(r.reused for r in self.results)

    @property
    def retried(self) -> int:
        return sum(RETRIED in r.note for r in self.results)

    @property
    def failed(self) -> list[LawResult]:
        return [r for r in self.results if r.verdict.status in ("failed", "error")]


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep; ``results`` are the points that finished."""

    def __init__(self, results: list[LawResult]) -> None:
        super().__init__("interrupted")
        self.results = results


# --------------------------------------------------------------------------- grid


def _field_types(spec: Any) -> dict[str, Any]:
    return typing.get_type_hints(type(spec))


def _is_tuple(typ: Any) -> bool:
    if typing.get_origin(typ) is tuple:
        return True
    if typing.get_origin(typ) in (typing.Union, types.UnionType):
        return any(_is_tuple(a) for a in typing.get_args(typ))
    return False


def _base_type(typ: Any) -> Any:
    if typing.get_origin(typ) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        return _base_type(args[0]) if args else typ
    return typ


def _range_values(key: str, text: str, typ: Any) -> list[str]:
    kind, *parts = text.split(":")
    usage = f"{kind}:START:STOP:N with N >= 2 (e.g. {key}={kind}:1e-4:1e-1:7)"
    if len(parts) != 3:
        raise ConfigError(f"--grid {key}={text!r}: expected {usage}")
    try:
        start, stop = float(parts[0]), float(parts[1])
        n = int(parts[2])
    except ValueError:
        raise ConfigError(f"--grid {key}={text!r}: expected {usage}") from None
    if not (math.isfinite(start) and math.isfinite(stop)) or n < 2 or n > MAX_POINTS:
        raise ConfigError(
            f"--grid {key}={text!r}: expected finite START, STOP and 2 <= N <= {MAX_POINTS}; "
            f"write it as {usage}"
        )
    if kind == "log":
        if start <= 0 or stop <= 0:
            raise ConfigError(
                f"--grid {key}={text!r}: a log range needs START > 0 and STOP > 0; got "
                f"{parts[0]} and {parts[1]}; use lin: for ranges through zero"
            )
        grid = np.geomspace(start, stop, n)
    else:
        grid = np.linspace(start, stop, n)
    base = _base_type(typ)
    if base is int:
        ints = [int(round(v)) for v in grid]
        if len(set(ints)) != len(ints):
            raise ConfigError(
                f"--grid {key}={text!r}: {key} is an integer and the range rounds to repeated "
                f"values {ints}; use fewer points or a wider range"
            )
        return [str(v) for v in ints]
    if base is not float:
        raise ConfigError(
            f"--grid {key}={text!r}: ranges need a numeric field; {key} is "
            f"{getattr(base, '__name__', base)}; list its values as {key}=a,b"
        )
    return [repr(float(v)) for v in grid]


def parse_axis(text: str, spec: Any) -> tuple[str, list[str]]:
    """``key=...`` -> (key, the value texts), validated against ``spec``'s fields."""
    key, eq, rhs = str(text).partition("=")
    key = key.strip()
    valid = [f.name for f in dataclasses.fields(spec)]
    if not eq or not key or not rhs.strip():
        raise ConfigError(
            f"--grid expects key=v1,v2 or key=log:START:STOP:N (e.g. --grid trials=5,10); "
            f"got {text!r}"
        )
    if key not in valid:
        raise ConfigError(
            f"--grid {key!r} is not a field of {type(spec).__qualname__}; valid keys: "
            f"{', '.join(valid)}"
        )
    typ = _field_types(spec)[key]
    rhs = rhs.strip()
    if rhs.split(":", 1)[0] in ("log", "lin") and ":" in rhs:
        if _is_tuple(typ):
            raise ConfigError(
                f"--grid {key}: {key} holds a tuple, so a range does not apply; list its "
                f"values separated by ';' (e.g. {key}=1,2;3,4)"
            )
        return key, _range_values(key, rhs, typ)
    sep = ";" if _is_tuple(typ) else ","
    parts = [p.strip() for p in rhs.split(sep)]
    if any(not p for p in parts):
        raise ConfigError(
            f"--grid {key}={rhs!r}: an empty value; separate values with {sep!r} "
            f"(e.g. {key}=a{sep}b)"
        )
    return key, parts


def parse_seeds(text: str | int | Sequence[int]) -> tuple[int, ...]:
    """``N`` -> seeds 0..N-1; ``a,b,c`` -> those seeds (each in [0, 2^63 - 1]); ``K,`` -> seed K alone."""
    from lmech.seeding import check_seed

    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        seeds = [check_seed(int(s), "--seeds") for s in text]
    else:
        raw = text.strip()
        try:
            if "," in raw:  # a trailing comma makes a one-seed list: "3," is seed 3 alone
                parts = raw.split(",")
                if parts[-1].strip() == "" and len(parts) > 1:
                    parts = parts[:-1]
                seeds = [check_seed(int(s.strip(), 10), "--seeds") for s in parts]
            else:
                n = int(raw, 10)
                if n < 1 or n > MAX_POINTS:
                    raise ValueError
                seeds = list(range(n))
        except ValueError:
            raise ConfigError(
                f"--seeds expects a count N in 1..{MAX_POINTS} (seeds 0..N-1) or a list like "
                f"0,3,7 (one seed K alone: 'K,', e.g. --seeds 0,); got {text!r}"
            ) from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds: give at least one seed and each seed once; got {text!r}")
    return tuple(seeds)


def plan_sweep(
    law_name: str,
    grid: Sequence[str],
    *,
    seeds: str | int | Sequence[int] = 1,
    preset: str = "quick",
    device: str = "auto",
    out_dir: str | Path,
    overrides: dict[str, str] | None = None,
) -> SweepPlan:
    """Validate a sweep before anything runs: the law, every grid key and value, every
    point's spec (bounds and cross-field checks), the seeds, the device and the store."""
    law = registry.get(law_name)
    base = apply_overrides(law.preset(preset), overrides or {})
    seed_list = parse_seeds(seeds)
    axes_text: dict[str, list[str]] = {}
    for item in grid:
        key, values = parse_axis(item, base)
        if key in axes_text:
            raise ConfigError(f"--grid {key} is given twice; give each key once")
        if overrides and key in overrides:
            raise ConfigError(f"{key} is both swept (--grid) and fixed (--set); drop one")
        if len(set(values)) != len(values):
            raise ConfigError(f"--grid {key}: a value is listed twice in {values}")
        axes_text[key] = values
    total = math.prod(len(v) for v in axes_text.values()) * len(seed_list)
    if total > MAX_POINTS:
        raise ConfigError(
            f"the sweep has {total} points (grid x seeds); at most {MAX_POINTS} run in one "
            "sweep: split it into several sweeps into the same --out"
        )
    device = resolve_device(device)
    code = code_hash()
    points: list[SweepPoint] = []
    keys = list(axes_text)
    typed: dict[str, list[Any]] = {k: [] for k in keys}
    for combo in itertools.product(*(axes_text[k] for k in keys)):
        assignment = dict(zip(keys, combo, strict=True))
        try:
            spec = apply_overrides(base, assignment)
        except ConfigError as err:
            where = ", ".join(f"{k}={v}" for k, v in assignment.items())
            raise ConfigError(f"grid point {where}: {err}") from None
        check_spec_memory(law, spec, device)
        values = {k: getattr(spec, k) for k in keys}
        for k in keys:
            if values[k] not in typed[k]:
                typed[k].append(values[k])
        for seed in seed_list:
            key = point_key(law.name, spec_hash(spec, seed), seed, code, device)
            points.append(SweepPoint(len(points), values, seed, spec, key))
    if len({p.key for p in points}) != len(points):
        raise ConfigError(
            "two grid values parse to the same spec (e.g. 1 and 1.0); list each value once"
        )
    axes = tuple(Axis(k, tuple(typed[k])) for k in keys)
    out, _ = ensure_store_dir(out_dir)  # only once every point is valid
    _law_dir(out, law.name)
    return SweepPlan(law, preset, axes, seed_list, device, out, tuple(points))


# --------------------------------------------------------------------------- running


def run_sweep(
    plan: SweepPlan,
    *,
    executor: str = "local",
    workers: int = 1,
    address: str | None = None,
    retries: int = 2,
    on_start: Callable[[SweepPoint], None] | None = None,
    on_result: Callable[[SweepPoint, LawResult], None] | None = None,
) -> SweepResult:
    """Run every point of ``plan`` not already in the store; results in plan order.

    Raises:
        SweepInterrupted: on Ctrl-C, with the points that finished.
    """
    if executor not in ("local", "ray"):
        raise ConfigError(f"--executor must be local or ray; got {executor!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"--workers must be an integer >= 1; got {workers!r}")
    start = time.perf_counter()
    _cleanup_store(plan.out)
    law = plan.law
    results: dict[int, LawResult] = {}
    todo: list[SweepPoint] = []
    for point in plan.points:
        if (stored := stored_result(plan.out, law, point.key)) is None:
            todo.append(point)
            continue
        results[point.index] = stored
        if on_result is not None:
            on_result(point, results[point.index])
    found_keys = frozenset(results[i].key for i in results)
    env = environment_info(plan.device)
    by_index = {p.index: p for p in plan.points}

    def done(i: int, result: LawResult) -> None:
        results[i] = result
        if on_result is not None:
            on_result(by_index[i], result)

    run = {"preset": plan.preset, "device": plan.device, "out_dir": plan.out}
    try:
        if todo and executor == "ray":
            from lmech.runs.ray_executor import run_ray

            jobs = [(p.index, law, p.spec, {**run, "seed": p.seed}) for p in todo]
            failure = run_ray(
                jobs,
                env,
                address=address,
                workers=workers,
                device=plan.device,
                retries=retries,
                on_start=None if on_start is None else (lambda i: on_start(by_index[i])),
                on_result=done,
            )
            _raise_failure(failure)
        elif todo and workers > 1 and len(todo) > 1:
            jobs = [(p.index, law, p.spec, {**run, "seed": p.seed}) for p in todo]
            _, failure = run_pool(
                jobs,
                min(workers, len(todo)),
                env,
                on_start=None if on_start is None else (lambda i: on_start(by_index[i])),
                on_result=done,
                retries=retries,
            )
            _raise_failure(failure)
        else:
            for point in todo:
                if on_start is not None:
                    on_start(point)
                result = _guarded(
                    law,
                    lambda point=point: run_law(
                        law, point.spec, **run, seed=point.seed, environment=env, wait=True
                    ),
                )
                done(point.index, result)
    except KeyboardInterrupt:
        _cleanup_store(plan.out)
        raise SweepInterrupted([results[i] for i in sorted(results)]) from None
    missing = [p.index for p in plan.points if p.index not in results]
    if missing:  # every executor returns one result per point; this is a bug if it fires
        raise LmechError(f"the sweep lost {len(missing)} point(s) without a result: {missing[:5]}")
    ordered = tuple(results[p.index] for p in plan.points)
    return SweepResult(plan, ordered, found_keys, time.perf_counter() - start)


def lost_points(result: SweepResult) -> list[SweepPoint]:
    """Points that finished (computed or reused) but do not verify in the store now."""
    lost = []
    for point, r in zip(result.plan.points, result.results, strict=True):
        if r.path is None:
            continue  # an errored point is not stored (by design), not lost
        if not read_point(r.path, keep_data=False).valid:
            lost.append(point)
    return lost


def sweep_table(result: SweepResult) -> pd.DataFrame:
    """One row per point: grid values, seed, status, each check's value, key, timing,
    and the point's folder (``path``, empty for an errored point)."""
    rows = []
    for point, r in zip(result.plan.points, result.results, strict=True):
        row: dict[str, Any] = {}
        for k, v in point.values.items():
            row[k] = v if not isinstance(v, tuple) else ",".join(map(str, v))
        row["seed"] = point.seed
        row["status"] = r.verdict.status
        for c in r.verdict.checks:
            row[c.statistic] = c.value
            row[f"{c.statistic} ok"] = bool(c.passed)
        row["reused"] = r.reused
        row["seconds"] = round(r.seconds, 3)
        row["key"] = point.key
        row["path"] = "" if r.path is None else str(r.path)  # the point folder (read_point)
        row["note"] = r.verdict.detail if r.verdict.status == "error" else r.note
        rows.append(row)
    return pd.DataFrame(rows)

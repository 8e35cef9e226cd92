"""Run laws locally: theory, experiment, verdict and figure into the run store.

:func:`check` runs several laws into one store (:mod:`lmech.runs.store`). Each law at
the chosen preset, ``--set`` overrides, seed and device is one *point*, keyed by its
resolved spec hash, seed, device and :func:`lmech.runs.store.code_hash`. A point that
is already in the store and passes verification is reused, so an interrupted
``lmech check`` rerun with the same ``--out`` only computes what is missing; a point of
other code, another device, seed or spec is another folder, computed beside the others.
A point that fails verification (missing or altered files, an inconsistent verdict) is
recomputed; the bad folder is kept aside.

Any number of processes may run :func:`check` on one store at once. A point being
computed by another process is locked; :func:`check` first does its other laws, then
waits for that process and reuses its result (or takes over the lock if the process
died). Nothing another process writes is deleted.

A law whose data are missing on this machine (a :class:`DataUnavailableError` from its
theory or its experiment) is stored as *skipped* with the install hint, never as passed,
and the other laws still run; a skipped point is retried on the next run. At the
``smoke`` preset every code path runs but the numbers are not a verdict: the status is
``smoke``. On Ctrl-C the point in flight is discarded (its temporary folder removed,
its lock released) and :class:`CheckInterrupted` carries the results that finished.
This module builds no report; the command line does (:mod:`lmech.report` reads the
store).

With ``workers=K > 1`` :func:`check` runs the laws in K worker processes (a
process pool, see :mod:`lmech.runs.pool`); each worker runs ``cpu_count // K`` BLAS and torch threads
(at least 1), so workers x threads stay within the cores. The workers write to the
same store (its per-point locks make that safe) and the results come back in input
order, the same as a serial run's.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmech.errors import (
    ConfigError,
    ConvergenceError,
    DataUnavailableError,
    DeviceError,
    LmechError,
    StoreError,
)
from lmech.laws import registry
from lmech.laws.base import Law, Verdict, spec_hash
from lmech.runs.pool import Task, TaskDied, WorkerPool, cpu_count, threads_per_worker
from lmech.runs.store import (
    LawRunWriter,
    LockHolder,
    cleanup_temp,
    code_hash,
    ensure_store_dir,
    environment_info,
    point_key,
    read_point,
    retire_legacy,
    try_lock,
)

__all__ = [
    "LawResult",
    "CheckInterrupted",
    "Plan",
    "cpu_count",
    "threads_per_worker",
    "resolve_device",
    "run_law",
    "run_pool",
    "plan",
    "check",
]


@dataclass(frozen=True)
class LawResult:
    """The outcome of one point: its verdict, folder and whether it was reused.

    ``path`` is the committed point folder (None if the law crashed); ``note`` says
    what else happened (an invalid point replaced, a point another process computed).
    """

    law: str
    verdict: Verdict
    path: Path | None
    reused: bool
    seconds: float
    key: str | None = None
    note: str = ""


class CheckInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`check`; ``results`` are the points that finished."""

    def __init__(self, results: list[LawResult]) -> None:
        super().__init__("interrupted")
        self.results = results


_CUDA_RE = re.compile(r"^cuda(:(\d+))?$")


def _out_of_memory(err: BaseException) -> bool:
    """True for allocation failures (MemoryError, torch's CPU and CUDA out-of-memory)."""
    if isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text.lower()
    )


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available else ``cpu``; ``cpu``; ``cuda`` or ``cuda:N``
    for an existing GPU; anything else is a DeviceError."""
    text = str(device).strip().lower()
    if text == "cpu":
        return text
    m = _CUDA_RE.match(text)
    if text != "auto" and m is None:
        raise DeviceError(f"unknown device {device!r}; expected auto, cpu, cuda or cuda:N")
    import torch

    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise DeviceError(
            f"--device {text} was requested but torch sees no CUDA device "
            f"(torch {torch.__version__}); use --device cpu or auto"
        )
    if m.group(2) is not None and int(m.group(2)) >= torch.cuda.device_count():
        raise DeviceError(
            f"--device {text}: this machine has {torch.cuda.device_count()} CUDA device(s), "
            f"numbered 0..{torch.cuda.device_count() - 1}; pick one of those"
        )
    return text


def _seed_everything(seed: int) -> None:
    # laws draw from explicit generators seeded by `seed`; this only pins torch's global
    # generator against an accidental unseeded draw
    import torch

    torch.manual_seed(seed)


def _law_dir(out: Path, name: str) -> Path:
    """``out/<name>``; StoreError if it is a symbolic link or not a folder."""
    law_dir = out / name
    if law_dir.is_symlink():
        raise StoreError(
            f"cannot use run store folder {law_dir}: it is a symbolic link, and lmech "
            "reads and writes no point through a link; move it out of the store"
        )
    if law_dir.exists() and not law_dir.is_dir():
        raise StoreError(
            f"cannot use run store folder {law_dir}: it is a file; move it out of the store"
        )
    return law_dir


def _cleanup_store(out: Path) -> None:
    """Remove temporaries and locks of dead writers in the store and its law folders
    (only those: see :func:`lmech.runs.store.cleanup_temp`)."""
    cleanup_temp(out)
    try:
        children = [c for c in out.iterdir() if not c.name.startswith(".")]
    except OSError:
        return
    for child in children:
        if child.is_dir() and not child.is_symlink():
            cleanup_temp(child)


def _stored(point_dir: Path) -> Any:
    point = read_point(point_dir, keep_data=False)
    if point.valid and point.verdict.status != "skipped":
        return point
    return None


def stored_result(out: Path, law: Law, key: str) -> LawResult | None:
    """The valid stored point ``out/<law>/<key>`` as a reused result, or None."""
    point_dir = _law_dir(out, law.name) / key
    point = _stored(point_dir)
    return None if point is None else LawResult(law.name, point.verdict, point_dir, True, 0.0, key)


def run_law(
    law: Law,
    spec: Any,
    *,
    preset: str,
    seed: int,
    device: str,
    out_dir: Path,
    environment: dict | None = None,
    reuse: bool = True,
    wait: bool = True,
    on_start: Callable[[str], None] | None = None,
    on_wait: Callable[[str, str], None] | None = None,
    poll_s: float = 0.25,
) -> LawResult | None:
    """Compute one point into ``out_dir/<law>/<key>``, or reuse a valid stored one.

    With ``wait=False`` a point locked by another process returns None at once (the
    caller comes back later); with ``wait=True`` this waits (``on_wait`` is told who
    holds it) and then reuses the holder's result or takes over a stale lock.
    ``on_start`` is called when the computation starts. With ``reuse=False`` the point
    is computed even when a valid one is stored; the stored one is kept (a valid point
    is never replaced) and the fresh verdict returned.
    """
    start = time.perf_counter()
    code = code_hash()
    key = point_key(law.name, spec_hash(spec, seed), seed, code, device)
    law_dir = _law_dir(Path(out_dir), law.name)
    point_dir = law_dir / key
    if reuse and (point := _stored(point_dir)) is not None:
        return LawResult(law.name, point.verdict, point_dir, True, 0.0, key)
    try:
        law_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(
            f"cannot write run store to {law_dir}: {err.strerror or err}; pass a writable --out DIR"
        ) from None
    cleanup_temp(law_dir)
    retire_legacy(law_dir)
    told = False
    while True:
        lock = try_lock(law_dir, key)
        if not isinstance(lock, LockHolder):
            break
        if not wait:
            return None
        if on_wait is not None and not told:
            on_wait(law.name, lock.describe())
        told = True
        time.sleep(poll_s)
        if reuse and (point := _stored(point_dir)) is not None:
            note = f"computed meanwhile by {lock.describe()}"
            return LawResult(law.name, point.verdict, point_dir, True, 0.0, key, note)
    try:
        if reuse and (point := _stored(point_dir)) is not None:  # committed before our lock
            return LawResult(law.name, point.verdict, point_dir, True, 0.0, key)
        before = read_point(point_dir, keep_data=False)
        if on_start is not None:
            on_start(law.name)
        _seed_everything(seed)
        with LawRunWriter(
            out_dir,
            law.name,
            preset=preset,
            spec=spec,
            seed=seed,
            device=device,
            claim=law.claim,
            source=law.source,
            environment=environment,
            code=code,
        ) as run:
            try:
                with run.timed("theory"):
                    pred = law.theory(spec)
                run.write_theory(pred)
                with run.timed("experiment"):
                    meas = law.experiment(spec, seed, device)
            except DataUnavailableError as err:
                run.write_verdict(law.criterion.skipped(str(err)))
            else:
                run.write_experiment(meas)
                with run.timed("verdict"):
                    verdict = law.verdict(pred, meas)
                run.write_verdict(verdict.as_smoke() if preset == "smoke" else verdict)
                with run.timed("figure"):
                    run.write_figure(law.figure(pred, meas))
    finally:
        lock.release()
    note = ""
    verdict = run.verdict
    if run.outcome == "kept":  # a valid point of this key was there first
        stored = read_point(point_dir, keep_data=False)
        if reuse and stored.valid:
            verdict = stored.verdict
        note = "an equal point was already stored (by another process?); kept that one"
    elif run.set_aside is not None:
        note = (
            f"replaced an invalid point ({before.problem}); "
            f"the old folder is kept as {run.set_aside.name}"
        )
    seconds = time.perf_counter() - start
    return LawResult(law.name, verdict, run.final_dir, False, seconds, key, note)


@dataclass(frozen=True)
class Plan:
    """A validated :func:`check`: laws with their resolved specs, seed, device, store."""

    laws: tuple[Law, ...]
    specs: tuple[Any, ...]
    preset: str
    seed: int
    device: str
    out: Path


def plan(
    names: Sequence[str],
    *,
    preset: str = "quick",
    seed: int = 0,
    device: str = "auto",
    out_dir: str | Path,
    overrides: dict[str, str] | None = None,
) -> Plan:
    """Validate everything the user typed before anything runs: seed, law names (a name
    given twice runs once), preset, ``--set`` overrides, device and a writable store
    (created if missing; nothing else is written)."""
    from lmech.laws.base import apply_overrides
    from lmech.seeding import check_seed

    seed = check_seed(seed, "--seed")
    names = list(dict.fromkeys(names))
    if not names:
        raise ConfigError("no law to check; name one or more laws (see `lmech laws`)")
    laws = tuple(registry.get(n) for n in names)  # UnknownLawError before any write
    specs = tuple(apply_overrides(law.preset(preset), overrides or {}) for law in laws)
    device = resolve_device(device)
    for law, spec in zip(laws, specs, strict=True):
        check_spec_memory(law, spec, device)  # before the store is created
    out, _ = ensure_store_dir(out_dir)
    from lmech.report.html import check_report_target

    check_report_target(out)  # the report at the end must not replace someone's file
    for law in laws:
        _law_dir(out, law.name)
    return Plan(laws, specs, preset, seed, device, out)


def check_spec_memory(law: Law, spec: Any, device: str) -> None:
    """Refuse a spec whose declared memory need (:meth:`LawSpec.memory_bytes`) exceeds
    the memory limit, before the law starts (InputError naming the law and the fix)."""
    from lmech._memory import check_allocation

    need = spec.memory_bytes()
    if need is None:
        return
    check_allocation(
        need,
        f"law {law.name} at this spec",
        "lower its sizes with --set (see `lmech laws`)",
        device=device if str(device).startswith("cuda") else None,
    )


def check(
    names: Sequence[str] | Plan,
    *,
    preset: str = "quick",
    seed: int = 0,
    device: str = "auto",
    out_dir: str | Path | None = None,
    overrides: dict[str, str] | None = None,
    on_start: Callable[[str], None] | None = None,
    on_result: Callable[[LawResult], None] | None = None,
    on_wait: Callable[[str, str], None] | None = None,
    workers: int = 1,
) -> list[LawResult]:
    """Run laws into the store ``out_dir``; return one result per law, in input order.

    ``workers > 1`` runs the laws in that many worker processes (see the module
    docstring); ``on_start`` is then called when a law is handed to a worker and
    ``on_wait`` is not called (a worker waits for a locked point itself).

    ``names`` is a list of law names (validated by :func:`plan` with the other
    arguments) or a :class:`Plan`. ``out_dir`` is never removed, nor anything in it that
    another process or the user wrote.

    A law that raises an unexpected exception is reported as failed (detail: the error)
    and not stored, so a rerun tries it again; the other laws still run.

    Raises:
        CheckInterrupted: on Ctrl-C, with the results that finished (the point in
            flight is discarded).
    """
    if isinstance(names, Plan):
        p = names
    else:
        if out_dir is None:
            raise ConfigError("check needs out_dir, the run store to write")
        p = plan(
            names, preset=preset, seed=seed, device=device, out_dir=out_dir, overrides=overrides
        )
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(
            f"--workers must be an integer >= 1; got {workers!r}; pass e.g. --workers 2"
        )
    if workers > 1 and len(p.laws) > 1:
        return _check_pool(p, min(workers, len(p.laws)), on_start, on_result)
    results: dict[int, LawResult] = {}

    def attempt(i: int, law: Law, spec: Any, wait: bool) -> bool:
        result = _guarded(
            law,
            lambda: run_law(
                law,
                spec,
                preset=p.preset,
                seed=p.seed,
                device=p.device,
                out_dir=p.out,
                environment=env,
                wait=wait,
                on_start=on_start,
                on_wait=on_wait,
            ),
        )
        if result is None:
            return False
        results[i] = result
        if on_result is not None:
            on_result(result)
        return True

    try:
        _cleanup_store(p.out)
        env = environment_info(p.device)
        later = [
            (i, law, spec)
            for i, (law, spec) in enumerate(zip(p.laws, p.specs, strict=True))
            if not attempt(i, law, spec, wait=False)
        ]
        for i, law, spec in later:  # points another process was computing
            attempt(i, law, spec, wait=True)
    except KeyboardInterrupt:
        raise CheckInterrupted([results[i] for i in sorted(results)]) from None
    return [results[i] for i in sorted(results)]


def _guarded(law: Law, run: Callable[[], LawResult | None]) -> LawResult | None:
    """``run()``; an unexpected exception inside the law becomes an errored result."""
    try:
        return run()
    except ConvergenceError as err:  # a numerical failure of this point, not a usage error:
        # the point errors (exit 1) and a sweep or check goes on with the others
        detail = f"error: {type(err).__name__}: {err}"
    except LmechError:
        raise
    except Exception as err:  # a bug or a numerical failure inside a law
        if _out_of_memory(err):  # a spec too large for this machine: say so, no traceback
            detail = (
                f"error: out of memory: this spec needs more memory than the machine has "
                f"({type(err).__name__}: {str(err).splitlines()[0][:160]}); lower its "
                "sizes (--set) or run it on a larger machine"
            )
        else:
            detail = f"error: {type(err).__name__}: {err}"
            traceback.print_exc()
    return LawResult(law.name, law.criterion.errored(detail), None, False, 0.0)


def _pool_law(i: int, name: str, spec: Any, run: dict, env: dict) -> tuple[int, Any]:
    """Run one law in a worker; returns (index, LawResult) or (index, LmechError text)."""
    law = _law_of(name, spec)
    try:
        result = _guarded(law, lambda: run_law(law, spec, **run, environment=env, wait=True))
    except LmechError as err:
        return i, (type(err).__name__, str(err))
    return i, result


def _law_of(name: str, spec: Any) -> Law:
    """The law called ``name``, looked up in the module that defines its spec (imported
    when the spec was unpickled), so a worker imports one family instead of the whole
    catalog (4 CPU-s of imports); the registry where the module does not hold it."""
    module = sys.modules.get(type(spec).__module__)
    for value in vars(module).values() if module is not None else ():
        if isinstance(value, Law) and value.name == name:
            return value
    return registry.get(name)


RETRIED = "retried after its worker process died"


def with_retries(result: LawResult, reasons: Sequence[str]) -> LawResult:
    """``result`` with a note saying its point was retried, and why (no-op for none)."""
    if not reasons:
        return result
    note = f"{RETRIED} ({'; '.join(reasons)})"
    return dataclasses.replace(result, note="; ".join(filter(None, (result.note, note))))


def _died(law: Law, died: TaskDied) -> LawResult:
    """A point whose worker process kept dying: an errored result, not stored."""
    return LawResult(law.name, law.criterion.errored(f"error: {died.message}"), None, False, 0.0)


def run_pool(
    jobs: Sequence[tuple[int, Law, Any, dict]],
    workers: int,
    env: dict,
    *,
    on_start: Callable[[int], None] | None = None,
    on_result: Callable[[int, LawResult], None] | None = None,
    retries: int = 2,
) -> tuple[dict[int, LawResult], tuple[str, str] | None]:
    """Run ``(index, law, spec, run_law keywords)`` jobs on a :class:`WorkerPool`.

    Returns the results by index and the first LmechError a worker raised (as its class
    name and message), if any. A point whose worker died is retried ``retries`` times on
    a fresh worker (its result then says so) and then reported as an error.
    """
    results: dict[int, LawResult] = {}
    retried: dict[int, list[str]] = {}
    failure: tuple[str, str] | None = None
    laws = {i: law for i, law, _, _ in jobs}
    tasks = [
        Task(i, _pool_law, (i, law.name, spec, run, env), law.name) for i, law, spec, run in jobs
    ]
    pool = WorkerPool(workers, threads_per_worker(workers), retries=retries)
    for task, outcome in pool.run(
        tasks,
        on_start=None if on_start is None else (lambda t: on_start(t.tag)),
        on_retry=lambda t, why: retried.setdefault(t.tag, []).append(why),
    ):
        i = task.tag
        if isinstance(outcome, TaskDied):
            result = _died(laws[i], outcome)
        else:
            _, result = outcome
            if isinstance(result, tuple):
                failure = failure or result
                continue
        if not isinstance(outcome, TaskDied):
            result = with_retries(result, retried.get(i, ()))
        results[i] = result
        if on_result is not None:
            on_result(i, result)
    return results, failure


def _raise_failure(failure: tuple[str, str] | None) -> None:
    if failure is None:
        return
    from lmech import errors

    cls = getattr(errors, failure[0], LmechError)
    if not (isinstance(cls, type) and issubclass(cls, LmechError)):
        cls = LmechError
    raise cls(failure[1])


def _check_pool(
    p: Plan,
    workers: int,
    on_start: Callable[[str], None] | None,
    on_result: Callable[[LawResult], None] | None,
) -> list[LawResult]:
    results: dict[int, LawResult] = {}
    _cleanup_store(p.out)
    env = environment_info(p.device)
    run = {"preset": p.preset, "seed": p.seed, "device": p.device, "out_dir": p.out}
    jobs = []
    for i, (law, spec) in enumerate(zip(p.laws, p.specs, strict=True)):
        key = point_key(law.name, spec_hash(spec, p.seed), p.seed, code_hash(), p.device)
        if (stored := stored_result(p.out, law, key)) is None:
            jobs.append((i, law, spec, run))
            continue
        results[i] = stored
        if on_result is not None:  # a stored point: no worker needed
            on_result(results[i])
    if not jobs:
        return [results[i] for i in sorted(results)]
    try:
        done, failure = run_pool(
            jobs,
            min(workers, len(jobs)),
            env,
            on_start=None if on_start is None else (lambda i: on_start(p.laws[i].name)),
            on_result=None if on_result is None else (lambda i, r: on_result(r)),
        )
    except KeyboardInterrupt:
        _cleanup_store(p.out)  # the pool has stopped its workers: what they left is dead
        raise CheckInterrupted([results[i] for i in sorted(results)]) from None
    results.update(done)
    _raise_failure(failure)
    return [results[i] for i in sorted(results)]

"""Run laws locally: theory, experiment, verdict and figure into the run store.

``check`` runs several laws into one output directory. A law whose directory holds a
finished run of the same spec and seed (same spec hash), on the same device and by the
same lmech code (same :func:`lmech.runs.store.code_hash`), is reused, so an interrupted
``lmech check`` rerun with the same ``--out`` only computes what is missing, and a run
left by older code is recomputed.

A law whose data are missing on this machine (a :class:`DataUnavailableError` from its
theory or its experiment) is stored as *skipped* with the install hint, never as passed,
and the other laws still run. At the ``smoke`` preset every code path runs but the
numbers are not a verdict: the status is ``smoke``. This module builds no report; the
command line does (:mod:`lmech.report` reads the store).
"""

from __future__ import annotations

import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmech.errors import DataUnavailableError, DeviceError, LmechError
from lmech.laws import registry
from lmech.laws.base import Law, Verdict, spec_hash
from lmech.runs.store import (
    LawRunWriter,
    cleanup_temp,
    code_hash,
    ensure_writable_dir,
    environment_info,
    find_finished,
)

__all__ = ["LawResult", "resolve_device", "run_law", "check"]


@dataclass(frozen=True)
class LawResult:
    law: str
    verdict: Verdict
    path: Path | None  # the committed law directory (None if the law crashed)
    reused: bool
    seconds: float


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available else ``cpu``; ``cuda`` without a GPU is an error."""
    import torch

    device = device.strip().lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"--device {device} was requested but torch sees no CUDA device "
                f"(torch {torch.__version__}); use --device cpu or auto"
            )
        return device
    if device == "cpu":
        return device
    raise DeviceError(f"unknown device {device!r}; expected auto, cpu or cuda[:N]")


def _seed_everything(seed: int) -> None:
    # laws draw from explicit generators seeded by `seed`; this only pins torch's global
    # generator against an accidental unseeded draw
    import torch

    torch.manual_seed(seed)


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
) -> LawResult:
    """Run one law into ``out_dir/<law>`` (or reuse a finished run of the same spec+seed)."""
    start = time.perf_counter()
    if reuse:
        done = find_finished(
            out_dir, law.name, spec_hash(spec, seed), device=device, code=code_hash()
        )
        if done is not None and done.status != "skipped":
            return LawResult(law.name, done, out_dir / law.name, True, 0.0)
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
    verdict = run.verdict
    return LawResult(law.name, verdict, run.final_dir, False, time.perf_counter() - start)


def check(
    names: Sequence[str],
    *,
    preset: str = "quick",
    seed: int = 0,
    device: str = "auto",
    out_dir: str | Path,
    overrides: dict[str, str] | None = None,
    on_start: Callable[[str], None] | None = None,
    on_result: Callable[[LawResult], None] | None = None,
) -> list[LawResult]:
    """Run laws into ``out_dir`` (the caller builds ``report.html`` from the store).

    Everything the user typed is validated before anything is written: law names,
    preset, ``--set`` overrides, device and a writable ``out_dir``. If no law finishes,
    an ``out_dir`` this call created is removed again.

    A law that raises an unexpected exception is reported as failed (detail: the error)
    and not stored, so a rerun tries it again; the other laws still run.
    """
    from lmech.laws.base import apply_overrides

    from lmech.seeding import check_seed

    seed = check_seed(seed, "--seed")
    laws = [registry.get(n) for n in names]  # UnknownLawError before any write
    specs = [apply_overrides(law.preset(preset), overrides or {}) for law in laws]
    device = resolve_device(device)
    out, created = ensure_writable_dir(out_dir)
    results: list[LawResult] = []
    try:
        cleanup_temp(out)
        env = environment_info(device)
        for law, spec in zip(laws, specs, strict=True):
            if on_start is not None:
                on_start(law.name)
            try:
                result = run_law(
                    law, spec, preset=preset, seed=seed, device=device, out_dir=out, environment=env
                )
            except LmechError:
                raise
            except Exception as err:  # a bug or a numerical failure inside a law
                verdict = law.criterion.errored(f"error: {type(err).__name__}: {err}")
                result = LawResult(law.name, verdict, None, False, 0.0)
                traceback.print_exc()
            results.append(result)
            if on_result is not None:
                on_result(result)
    except BaseException:
        if created and not any(r.path for r in results):
            shutil.rmtree(out, ignore_errors=True)
        raise
    if created and not any(r.path for r in results):
        shutil.rmtree(out, ignore_errors=True)
    return results

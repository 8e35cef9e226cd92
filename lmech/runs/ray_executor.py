"""The Ray executor of :func:`lmech.runs.sweep.run_sweep`: one Ray task per point.

``address=None`` starts a local Ray instance for the sweep (``workers`` CPUs, a
single node on 127.0.0.1, no dashboard, usage statistics off) and stops it afterwards; an address
(``HOST:PORT`` or ``ray://HOST:PORT``) connects to an existing cluster and leaves it
running. Each task asks for 1 CPU and runs 1 BLAS/torch thread; a point on a CUDA device
also asks for 1 GPU, so Ray places it on a node that has one.

**Where results land.** The tasks write their points themselves, into ``--out`` as the
worker node sees it, under the store's per-point locks. On one machine (a local
instance, or a cluster whose nodes share a file system, e.g. NFS or a cloud file store
mounted at the same path) that is the driver's store. On nodes without a shared file
system give a ``--out`` on a path every node mounts; after each task the driver reads
the point back and reports an error if it cannot see it, so nothing is silently left
on a worker's disk. lmech must be installed on every node (the same version: the
point keys include the code hash).

**Worker deaths.** Tasks run with Ray's own retries off (``max_retries=0``); when a
task's worker process or node dies, this executor resubmits the point itself, up to
``retries`` times, and the point's result says it was retried (after the last failure
it is an error result, never a silent gap).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from lmech.errors import ConfigError, LmechError
from lmech.laws.base import Law
from lmech.runs.execute import LawResult, _died, _pool_law, cpu_count, with_retries
from lmech.runs.pool import TaskDied, init_thread_limits, maybe_inject_crash
from lmech.runs.store import read_point

__all__ = ["run_ray", "ray_available"]


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _ray_point(i: int, name: str, spec: Any, run: dict, env: dict) -> tuple[int, Any]:
    maybe_inject_crash()
    init_thread_limits(1)
    return _pool_law(i, name, spec, run, env)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs Ray, which is not installed; install the cluster extra "
            "(pip install 'lmech[cluster]') or use --executor local"
        ) from None
    return ray


def run_ray(
    jobs: Sequence[tuple[int, Law, Any, dict]],
    env: dict,
    *,
    address: str | None = None,
    workers: int = 1,
    device: str = "cpu",
    retries: int = 2,
    on_start: Callable[[int], None] | None = None,
    on_result: Callable[[int, LawResult], None] | None = None,
) -> tuple[str, str] | None:
    """Run ``(index, law, spec, run_law keywords)`` jobs as Ray tasks; each result goes
    to ``on_result(index, result)``. Returns the first LmechError a task raised (class
    name and message), or None."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    if not address:
        # a single-node instance on 127.0.0.1 only (Ray otherwise binds the machine's
        # routable address); read by Ray when it is imported
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = _import_ray()
    started = False
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            else:
                ray.init(
                    num_cpus=max(1, min(int(workers), cpu_count())),
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level="ERROR",
                )
                started = True
        except (ConnectionError, RuntimeError, ValueError) as err:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise ConfigError(
                f"could not start or reach {where} ({type(err).__name__}: "
                f"{str(err).splitlines()[0][:200]}); check --address (HOST:PORT of the head "
                "node, as `ray status` shows it) or use --executor local"
            ) from None
    gpus = 1 if str(device).startswith("cuda") else 0
    task = ray.remote(_ray_point).options(num_cpus=1, num_gpus=gpus, max_retries=0)
    system_errors = tuple(
        getattr(ray.exceptions, n)
        for n in ("WorkerCrashedError", "NodeDiedError", "RaySystemError", "ObjectLostError")
        if hasattr(ray.exceptions, n)
    )
    laws = {i: law for i, law, _, _ in jobs}
    reasons: dict[int, list[str]] = {}
    failure: tuple[str, str] | None = None
    pending: dict[Any, tuple[int, Law, Any, dict]] = {}

    def submit(job: tuple[int, Law, Any, dict]) -> None:
        i, law, spec, run = job
        pending[task.remote(i, law.name, spec, run, env)] = job
        if on_start is not None:
            on_start(i)

    # Ray's driver prints worker-death notices on stdout; they go to stderr, so that
    # stdout holds lmech's output alone (``--json``)
    sys.stdout.flush()
    saved_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        for job in jobs:
            submit(job)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                job = pending.pop(ref)
                i = job[0]
                try:
                    _, result = ray.get(ref)
                except system_errors as err:
                    why = f"{type(err).__name__}"
                    reasons.setdefault(i, []).append(why)
                    if len(reasons[i]) > retries:
                        died = TaskDied(i, len(reasons[i]), tuple(reasons[i]))
                        on_result(i, _died(laws[i], died))
                    else:
                        submit(job)
                    continue
                except ray.exceptions.RayTaskError as err:  # not an LmechError: a bug
                    result = LawResult(
                        laws[i].name,
                        laws[i].criterion.errored(f"error: {str(err).splitlines()[0][:300]}"),
                        None,
                        False,
                        0.0,
                    )
                if isinstance(result, tuple):
                    failure = failure or result
                    continue
                if result.path is not None and not read_point(result.path, keep_data=False).valid:
                    raise LmechError(
                        f"a Ray worker computed {laws[i].name} point {result.key} but the "
                        f"driver cannot read it at {result.path}; on a multi-node cluster "
                        "--out must be a path every node shares"
                    )
                on_result(i, with_retries(result, reasons.get(i, ())))
    except KeyboardInterrupt:
        for ref in list(pending):
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            with contextlib.suppress(Exception):
                ray.shutdown()
        sys.stdout.flush()
        os.dup2(saved_stdout, 1)
        os.close(saved_stdout)
    return failure

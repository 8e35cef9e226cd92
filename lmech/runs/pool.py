"""A process pool for law points that knows which point a dead worker was running.

``concurrent.futures.ProcessPoolExecutor`` breaks as a whole when one worker dies (a
SIGKILL, the kernel's out-of-memory killer): every pending future fails and nothing
says which point killed it. :class:`WorkerPool` gives each worker one point at a time
over its own pipe, so when a worker's process ends without an answer the pool knows
the point it was running. That point is retried on a fresh worker up to ``retries``
times and then reported as an error ("its worker process died 3 times: killed by
SIGKILL"); every other point carries on.

Workers are forked from a *fork server* where the platform has one (Linux, macOS),
else ``spawn``-ed. The fork server is a fresh, single-threaded interpreter that imports
numpy, torch, pandas, matplotlib and lmech's run machinery once (about 4 CPU-s, torch
most of it); each worker forked from it starts with those imports done instead of
paying them itself. :func:`prestart` starts the server early, so that its imports run
on another core while the driver plans. The server loads with one BLAS/OpenMP thread
(no thread pools to inherit across a fork); the driver's own process, which runs
threads (progress display, BLAS pools), is never forked. Either way a worker takes
nothing from the parent but what it is sent: the environment, working directory and
``sys.path`` as they are when the worker starts, then ``threads`` BLAS/OpenMP and torch
threads. Workers ignore Ctrl-C (the parent handles it and stops them with SIGTERM,
which unwinds the point in flight: its temporary folder is removed and its lock
released) and, on Linux, get SIGTERM when their parent dies (the fork server ends when
the driver does), so a killed driver leaves no orphan computing into the store.

A worker runs ``fn(*args)`` for each task, where ``fn`` is a module-level function
(pickled by name). The pool never imports a law itself.

For fault-injection tests only: when the environment variable ``LMECH_INJECT_CRASH``
names a file, the first worker that manages to delete that file kills itself with
SIGKILL before running its task (exactly one crash per file).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "THREAD_VARS",
    "Task",
    "TaskDied",
    "WorkerPool",
    "cpu_count",
    "init_thread_limits",
    "prestart",
    "thread_env",
    "threads_per_worker",
]

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
_CRASH_VAR = "LMECH_INJECT_CRASH"
# imported once by the fork server (a missing one is skipped); the workers' first-use
# imports then cost nothing. A law's own module is small next to these.
_PRELOAD = ("numpy", "scipy.linalg", "pandas", "torch", "matplotlib.figure", "lmech.runs.execute")


def cpu_count() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def threads_per_worker(workers: int) -> int:
    """BLAS/torch threads for each of ``workers`` processes: workers x threads <= cores."""
    return max(1, cpu_count() // max(1, int(workers)))


@dataclass(frozen=True)
class Task:
    """One unit of work: ``fn(*args)`` in a worker; ``tag`` identifies it to the caller."""

    tag: Hashable
    fn: Callable[..., Any]
    args: tuple = ()
    label: str = ""


@dataclass(frozen=True)
class TaskDied:
    """The outcome of a task whose worker process died ``attempts`` times."""

    tag: Hashable
    attempts: int
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def message(self) -> str:
        why = "; ".join(dict.fromkeys(self.reasons)) or "no exit status"
        return (
            f"its worker process died {self.attempts} time(s) ({why}); the machine may be "
            "out of memory for this point, or the process was killed"
        )


def describe_exit(exitcode: int | None) -> str:
    """A process exit status in words (``killed by SIGKILL``, ``exit status 3``)."""
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


@contextlib.contextmanager
def thread_env(threads: int):
    """Thread-count variables set while workers are spawned (numpy and torch read them
    when they load), restored afterwards."""
    saved = {var: os.environ.get(var) for var in THREAD_VARS}
    os.environ.update({var: str(threads) for var in THREAD_VARS})
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def init_thread_limits(threads: int) -> None:
    """``threads`` BLAS/OpenMP and torch threads in this process."""
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    with contextlib.suppress(Exception):  # threadpoolctl is optional
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already set once in this process
        torch.set_num_interop_threads(1)


def _context() -> Any:
    """The multiprocessing context of the workers: a fork server with lmech's heavy
    imports preloaded where the platform has one, else spawn."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(_PRELOAD))
    return ctx


def prestart(workers: int) -> None:
    """Start the fork server now, when ``workers`` > 1 will run, so that its imports
    (about 4 CPU-s) overlap the driver's planning instead of delaying the first point.
    It returns at once; a no-op where workers are spawned."""
    if workers >= 2:
        _ensure_server(_context())


def _ensure_server(ctx: Any) -> None:
    """Start ``ctx``'s fork server if it is one and not running yet."""
    if ctx.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    with thread_env(1):  # the server holds no BLAS/OpenMP thread pool across a fork
        forkserver.ensure_running()


def _die_with_parent(driver: int) -> None:
    """Linux: SIGTERM to this process when its parent dies (prctl PR_SET_PDEATHSIG).

    The parent is the fork server, which exits when the driver does (or the driver
    itself, for spawned workers); a worker whose driver is already gone exits."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    try:
        os.kill(driver, 0)
    except ProcessLookupError:  # the driver died before prctl took effect
        os._exit(1)
    except OSError:  # exists, owned by someone else: cannot tell, carry on
        pass
    if os.getppid() == 1:  # orphaned already (re-parented to init)
        os._exit(1)


_BUSY = False  # in a worker: a task is running


def _on_sigterm(signum: int, frame: Any) -> None:
    # unwinds the task in flight (context managers clean up), or ends an idle worker
    if _BUSY:
        raise KeyboardInterrupt
    os._exit(1)


def maybe_inject_crash() -> None:
    """Fault injection for tests (see the module docstring); a no-op otherwise."""
    path = os.environ.get(_CRASH_VAR)
    if not path:
        return
    try:
        os.unlink(path)  # only one process can succeed
    except OSError:
        return
    os.kill(os.getpid(), signal.SIGKILL)


def _worker_main(conn: Any, threads: int, driver: int, setup: tuple) -> None:
    global _BUSY
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    signal.signal(signal.SIGTERM, _on_sigterm)
    _die_with_parent(driver)
    env, cwd, path = setup  # the driver's, now (a fork server started earlier has its own)
    os.environ.clear()
    os.environ.update(env)
    with contextlib.suppress(OSError):
        os.chdir(cwd)
    sys.path[:] = path
    init_thread_limits(threads)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        tag, fn, args = message
        maybe_inject_crash()
        _BUSY = True
        try:
            outcome = fn(*args)
        except KeyboardInterrupt:  # stopped by the parent: the task has unwound
            os._exit(1)
        finally:
            _BUSY = False
        try:
            conn.send((tag, outcome))
        except (BrokenPipeError, OSError):
            return


class _Worker:
    def __init__(self, ctx: Any, threads: int) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        setup = (dict(os.environ), os.getcwd(), list(sys.path))
        self.proc = ctx.Process(
            target=_worker_main, args=(child, threads, os.getpid(), setup), daemon=True
        )
        self.proc.start()
        child.close()
        self.task: Task | None = None

    def stop(self, timeout: float) -> None:
        with contextlib.suppress(Exception):
            if self.proc.is_alive():
                self.proc.terminate()
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        with contextlib.suppress(Exception):
            self.conn.close()


class WorkerPool:
    """``workers`` worker processes, each with ``threads`` threads.

    :meth:`run` hands out tasks one per idle worker and yields ``(task, outcome)`` as
    they finish; ``outcome`` is what the task returned, or a :class:`TaskDied` when its
    worker died more than ``retries`` times. ``on_start(task)`` is called when a task
    is handed to a worker, ``on_retry(task, reason)`` when a dead worker's task is
    queued again.
    """

    def __init__(self, workers: int, threads: int, *, retries: int = 2) -> None:
        if workers < 1 or threads < 1 or retries < 0:
            raise ValueError(
                f"workers, threads >= 1 and retries >= 0; got {workers, threads, retries}"
            )
        self.workers, self.threads, self.retries = workers, threads, retries
        self._ctx = _context()
        self._pool: list[_Worker] = []

    def _spawn(self) -> _Worker:
        _ensure_server(self._ctx)
        with thread_env(self.threads):
            worker = _Worker(self._ctx, self.threads)
        self._pool.append(worker)
        return worker

    def run(
        self,
        tasks: Sequence[Task],
        *,
        on_start: Callable[[Task], None] | None = None,
        on_retry: Callable[[Task, str], None] | None = None,
    ) -> Iterable[tuple[Task, Any]]:
        from multiprocessing.connection import wait

        queue: deque[Task] = deque(tasks)
        attempts: dict[Hashable, list[str]] = {}
        try:
            while len(self._pool) < min(self.workers, len(queue)):
                self._spawn()
            while queue or any(w.task is not None for w in self._pool):
                for worker in self._pool:
                    if worker.task is None and queue:
                        task = queue.popleft()
                        worker.conn.send((task.tag, task.fn, task.args))
                        worker.task = task
                        if on_start is not None:
                            on_start(task)
                busy = [w for w in self._pool if w.task is not None]
                ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy]))
                for worker in busy:
                    task = worker.task
                    got = None
                    if worker.conn in ready or worker.proc.sentinel in ready:
                        try:
                            if worker.conn.poll():
                                got = worker.conn.recv()
                        except (EOFError, OSError):
                            got = None
                    if got is not None:
                        worker.task = None
                        yield task, got[1]
                        continue
                    if worker.proc.sentinel not in ready:
                        continue
                    # the process ended without an answer: it died running `task`
                    worker.proc.join(5)
                    reason = describe_exit(worker.proc.exitcode)
                    worker.stop(1)
                    self._pool.remove(worker)
                    reasons = attempts.setdefault(task.tag, [])
                    reasons.append(reason)
                    if len(reasons) > self.retries:
                        yield task, TaskDied(task.tag, len(reasons), tuple(reasons))
                    else:
                        if on_retry is not None:
                            on_retry(task, reason)
                        queue.appendleft(task)
                    if queue and len(self._pool) < self.workers:
                        self._spawn()
        finally:
            self.close()

    def close(self, timeout: float = 30.0) -> None:
        """Stop every worker (SIGTERM: a task in flight unwinds) and reap them."""
        pool, self._pool = self._pool, []
        for worker in pool:
            if worker.task is None:
                with contextlib.suppress(Exception):
                    worker.conn.send(None)
        deadline = time.monotonic() + timeout
        for worker in pool:
            if worker.task is None:
                worker.proc.join(max(0.0, min(2.0, deadline - time.monotonic())))
        for worker in pool:
            worker.stop(max(0.5, deadline - time.monotonic()))

"""Progress reporting that laws can use without knowing who displays it.

A law calls ``with progress.task("KRR factorizations", total) as advance: ... advance(1)``.
The CLI installs a rich progress bar with :func:`use`; elsewhere the calls do nothing.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Tracker", "clock", "task", "use"]

# factory(description, total) -> (advance, close)
_Factory = Callable[[str, int], tuple[Callable[[int], None], Callable[[], None]]]
_factory: contextvars.ContextVar[_Factory | None] = contextvars.ContextVar(
    "lmech_progress", default=None
)


@contextmanager
def use(factory: _Factory) -> Iterator[None]:
    """Route :func:`task` calls in this context to ``factory``."""
    token = _factory.set(factory)
    try:
        yield
    finally:
        _factory.reset(token)


@contextmanager
def task(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A unit of long work with ``total`` steps; yields ``advance(k)``."""
    factory = _factory.get()
    if factory is None:
        yield lambda k=1: None
        return
    advance, close = factory(description, int(total))
    try:
        yield advance
    finally:
        close()


def clock(seconds: float) -> str:
    """``h:mm:ss`` or ``m:ss`` for a duration in seconds (negative counts as 0)."""
    s = max(0, round(float(seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Tracker:
    """Counts finished units of ``total`` and estimates the time left.

    The estimate is the mean time per finished unit times the units left; units
    finished in parallel share the wall time, so the mean is wall time per unit.
    ``now`` is a clock (``time.monotonic`` unless given, for tests).
    """

    def __init__(self, total: int, now: Callable[[], float] | None = None) -> None:
        import time

        self.total = int(total)
        self.done = 0
        self._now = now or time.monotonic
        self.start = self._now()

    def elapsed(self) -> float:
        return self._now() - self.start

    def left(self) -> float | None:
        """Estimated seconds left; None before the first unit finished."""
        if self.done == 0:
            return None
        return self.elapsed() / self.done * max(0, self.total - self.done)

    def finish(self) -> None:
        self.done += 1

    def summary(self) -> str:
        """``elapsed 0:42, about 2:10 left`` (``estimating`` before any unit finished)."""
        left = self.left()
        est = "estimating time left" if left is None else f"about {clock(left)} left"
        return f"elapsed {clock(self.elapsed())}, {est}"

    def line(self, name: str, status: str, seconds: float | None = None) -> str:
        """``[3/21] NAME passed in 9.0s; elapsed 0:42, about 2:10 left``."""
        took = "reused" if seconds is None else f"in {seconds:.1f}s"
        return f"[{self.done}/{self.total}] {name} {status} {took}; {self.summary()}"

"""Progress reporting that laws can use without knowing who displays it.

A law calls ``with progress.task("KRR factorizations", total) as advance: ... advance(1)``.
The CLI installs a rich progress bar with :func:`use`; elsewhere the calls do nothing.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["task", "use"]

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

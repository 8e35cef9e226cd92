"""Memory estimates checked at the public boundary, before anything large is allocated.

A public function that allocates memory growing with its arguments (an n x n Gram matrix,
a learning curve's factorizations, HEA features, an array declared by a file header)
calls :func:`check_allocation` with the number of bytes it is about to need. Above the
limit it raises :class:`~lmech.errors.InputError` naming the request, the limit and how to
raise it, instead of a ``MemoryError`` traceback (or the kernel's OOM killer) later.

The limit is :data:`RAM_FRACTION` of the memory available now (``MemAvailable`` in
``/proc/meminfo``, else the free pages from ``sysconf``), or for a CUDA tensor of the
device's free memory; the environment variable ``LMECH_MEMORY_LIMIT_GB`` replaces it
(a number of GiB, e.g. ``LMECH_MEMORY_LIMIT_GB=64``).
"""

from __future__ import annotations

import math
import os

from lmech.errors import InputError

__all__ = [
    "ENV_VAR",
    "RAM_FRACTION",
    "available_bytes",
    "check_allocation",
    "format_bytes",
    "memory_limit",
]

ENV_VAR = "LMECH_MEMORY_LIMIT_GB"
#: Share of the available memory one request may take.
RAM_FRACTION = 0.8
_GIB = 2**30


def format_bytes(nbytes: float) -> str:
    """``1536`` -> ``"1.5 KiB"``; binary units up to EiB, then powers of ten."""
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if abs(value) < 1024 or unit == "EiB":
            break
        value /= 1024
    if unit == "EiB" and value >= 1024:
        return f"{value:.3g} EiB"
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _is_cuda(device) -> bool:
    return device is not None and str(device).split(":")[0] == "cuda"


def available_bytes(device=None) -> int:
    """Memory available now: host RAM, or the free memory of a CUDA ``device``."""
    if _is_cuda(device):
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    avail = _meminfo_available()
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # not POSIX: no estimate, no limit
            return 2**63 - 1
    return int(avail)


def memory_limit(device=None) -> tuple[int, str]:
    """``(limit in bytes, where it comes from)``; see the module docstring."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if raw:
        try:
            gib = float(raw)
        except ValueError:
            gib = math.nan
        if not (math.isfinite(gib) and gib > 0):
            raise InputError(
                f"{ENV_VAR} must be a positive number of GiB (e.g. {ENV_VAR}=64); got {raw!r}"
            )
        return int(gib * _GIB), f"{ENV_VAR}={raw}"
    avail = available_bytes(device)
    where = f"free memory of {device}" if _is_cuda(device) else "available RAM"
    return int(RAM_FRACTION * avail), f"{RAM_FRACTION:.0%} of the {format_bytes(avail)} {where}"


def check_allocation(nbytes: float, what: str, hint: str | None = None, *, device=None) -> None:
    """Refuse a request for ``nbytes`` of memory above :func:`memory_limit`.

    Args:
        nbytes: bytes the caller is about to allocate (an estimate that errs high; a
            Python int, so products of sizes do not overflow).
        what: what needs them, e.g. ``"the (200000, 200000) float64 Gram matrix"``.
        hint: how to need less, e.g. ``"use fewer samples"``.
        device: the torch device the memory lives on (CUDA: its free memory counts).

    Raises:
        InputError: the request exceeds the limit; the message names the request, the
            limit, where the limit comes from and how to raise it.
    """
    limit, source = memory_limit(device)
    if nbytes <= limit:
        return
    advice = f"{hint}, or" if hint else "need less, or"
    raise InputError(
        f"{what} needs {format_bytes(nbytes)} of memory, above the limit of "
        f"{format_bytes(limit)} ({source}); {advice} raise the limit with "
        f"{ENV_VAR}=<GiB> if the machine really has the memory"
    )

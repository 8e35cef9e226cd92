"""Timing helpers shared by the benchmark scripts (not a test; pytest does not collect it)."""

from __future__ import annotations

import os
import time


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU-seconds of the whole machine, including steal; CPU-seconds of this process).

    The difference over a timed section is what other processes (or the hypervisor) took
    from the cores meanwhile; NaN where /proc/stat is missing (not Linux).
    """
    try:
        with open("/proc/stat") as fh:
            ticks = [int(v) for v in fh.readline().split()[1:9]]
        # user nice system idle iowait irq softirq steal
        busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        busy = float("nan")
    return busy, time.process_time()


def timed(fn, *args):
    """``fn(*args)`` plus the CPU-seconds other processes used while it ran."""
    busy0, own0 = cpu_seconds()
    out = fn(*args)
    busy1, own1 = cpu_seconds()
    return out, max(0.0, (busy1 - busy0) - (own1 - own0))

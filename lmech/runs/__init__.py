"""Execution of law runs and the run store they write (see :mod:`lmech.runs.store`)."""

from __future__ import annotations

from lmech.runs.store import (
    LawRunWriter,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    cleanup_temp,
    ensure_writable_dir,
    environment_info,
    find_finished,
    list_law_runs,
    read_law_run,
    save_figure,
    write_parquet,
)

__all__ = [
    "LawRunWriter",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "cleanup_temp",
    "ensure_writable_dir",
    "environment_info",
    "find_finished",
    "list_law_runs",
    "read_law_run",
    "save_figure",
    "write_parquet",
]

"""Execution of law runs and the run store they write (see :mod:`lmech.runs.store`)."""

from __future__ import annotations

from lmech.runs.store import (
    LawRunWriter,
    Point,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    cleanup_temp,
    ensure_store_dir,
    ensure_writable_dir,
    environment_info,
    index,
    list_points,
    point_key,
    read_law_run,
    read_point,
    read_store,
    save_figure,
    write_parquet,
)

__all__ = [
    "LawRunWriter",
    "Point",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "cleanup_temp",
    "ensure_store_dir",
    "ensure_writable_dir",
    "environment_info",
    "index",
    "list_points",
    "point_key",
    "read_law_run",
    "read_point",
    "read_store",
    "save_figure",
    "write_parquet",
]

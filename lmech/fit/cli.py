"""``lmech fit``: fit scaling laws from a table of runs (commands are added by issue 7)."""

from __future__ import annotations

import typer

app = typer.Typer(
    no_args_is_help=True,
    help="Fit scaling laws (power laws, Chinchilla) with bootstrap confidence intervals.",
    pretty_exceptions_enable=False,
)

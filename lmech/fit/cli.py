"""``lmech fit``: fit scaling laws from a table of runs (CSV or parquet)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lmech.errors import InputError

app = typer.Typer(
    no_args_is_help=True,
    help="Fit scaling laws (power laws, Chinchilla) with bootstrap confidence intervals.",
    pretty_exceptions_enable=False,
)
_out = Console()
_err = Console(stderr=True)


def _read_table(path: Path) -> pd.DataFrame:
    """A CSV or parquet file as a DataFrame; InputError for a missing or unreadable file."""
    if not path.is_file():
        raise InputError(f"data file {path} does not exist (expected a .csv or .parquet file)")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    except Exception as err:  # pandas/pyarrow raise many types for malformed files
        raise InputError(f"cannot read {path} as {suffix[1:]}: {err}") from None
    raise InputError(f"data file {path}: expected a .csv or .parquet file; got {suffix!r}")


def _column(df: pd.DataFrame, name: str, option: str, path: Path) -> np.ndarray:
    if name not in df.columns:
        raise InputError(
            f"{option} {name!r}: no such column in {path.name}; columns are {list(df.columns)}"
        )
    values = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise InputError(
            f"column {name!r} ({option}) must be numeric and finite; got {int(bad.sum())} "
            f"NaN/empty/non-numeric values (rows {rows})"
        )
    if (values <= 0).any():
        rows = np.flatnonzero(values <= 0)[:5].tolist()
        raise InputError(
            f"column {name!r} ({option}) must be > 0; got {int((values <= 0).sum())} "
            f"non-positive values (min {values.min():.4g}, rows {rows})"
        )
    return values


def _print_table(tab: pd.DataFrame, title: str, level: float) -> None:
    t = Table(title=title)
    t.add_column("parameter", style="bold")
    t.add_column("estimate", justify="right")
    t.add_column(f"{level:.0%} CI", justify="right")
    for r in tab.itertuples(index=False):
        ci = "—" if not np.isfinite(r.ci_low) else f"[{r.ci_low:.4g}, {r.ci_high:.4g}]"
        t.add_row(r.parameter, f"{r.estimate:.4g}", ci)
    _out.print(t)


@app.command("chinchilla")
def chinchilla_cmd(
    file: Annotated[Path, typer.Argument(help="CSV or parquet table, one row per run")],
    n: Annotated[str, typer.Option("--n", help="column of model parameters N")],
    loss: Annotated[str, typer.Option("--loss", help="column of final losses")],
    d: Annotated[str | None, typer.Option("--d", help="column of training tokens D")] = None,
    flops: Annotated[
        str | None, typer.Option("--flops", help="column of compute C; D = C/(6N) if no --d")
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples (0: none)")] = 1000,
    json_: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="figure path (PNG or SVG)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 0,
    grid: Annotated[
        str, typer.Option(help="starts: hoffmann (the paper's 4,500) or coarse (48, faster)")
    ] = "hoffmann",
) -> None:
    """Fit L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, Approach 3)."""
    from lmech.fit.chinchilla import COARSE_GRID, fit_chinchilla, hoffmann_grid

    grids = {"hoffmann": hoffmann_grid, "coarse": lambda: COARSE_GRID}
    if grid not in grids:
        raise InputError(f"--grid must be one of {list(grids)}; got {grid!r}")
    from lmech.fit.figures import chinchilla_figure

    df = _read_table(file)
    N = _column(df, n, "--n", file)
    L = _column(df, loss, "--loss", file)
    if d is not None:
        D = _column(df, d, "--d", file)
    elif flops is not None:
        D = _column(df, flops, "--flops", file) / (6.0 * N)  # C = 6 N D
    else:
        raise InputError("give the tokens column (--d COL) or the compute column (--flops COL)")
    if bootstrap < 0:
        raise InputError(f"--bootstrap must be >= 0; got {bootstrap}")
    res = fit_chinchilla(N, D, L, bootstrap=bootstrap, seed=seed, grid=grids[grid]())
    if json_:
        _out.print_json(json.dumps(res.to_dict()))
    else:
        _print_table(
            res.table(), f"L(N, D) = E + A/N^alpha + B/D^beta on {escape(file.name)}", res.level
        )
        e = res.exponents()
        _out.print(
            f"compute-optimal (C = 6ND): N_opt ~ C^{e['a']:.3f}, D_opt ~ C^{e['b']:.3f}; "
            f"{res.n_points} runs, Huber delta {res.delta}, objective {res.objective:.4g}",
            highlight=False,
        )
    if out is not None or not json_:
        path = out or Path(f"{file.stem}-chinchilla.png")
        chinchilla_figure(N, D, L, res).savefig(path, dpi=130)
        (_err if json_ else _out).print(f"figure: {path}", highlight=False)


@app.command("powerlaw")
def powerlaw_cmd(
    file: Annotated[Path, typer.Argument(help="CSV or parquet table")],
    x: Annotated[str, typer.Option("--x", help="column of the abscissa (steps, N, D)")],
    y: Annotated[str, typer.Option("--y", help="column of the loss")],
    offset: Annotated[bool, typer.Option(help="include the irreducible term E")] = True,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples (0: none)")] = 1000,
    json_: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="figure path (PNG or SVG)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 0,
) -> None:
    """Fit y = E + A x^-alpha by least squares on log y."""
    from lmech.fit.figures import powerlaw_figure
    from lmech.fit.powerlaw import fit_powerlaw

    df = _read_table(file)
    X, Y = _column(df, x, "--x", file), _column(df, y, "--y", file)
    if bootstrap < 0:
        raise InputError(f"--bootstrap must be >= 0; got {bootstrap}")
    res = fit_powerlaw(X, Y, offset=offset, bootstrap=bootstrap, seed=seed)
    if json_:
        _out.print_json(json.dumps(res.to_dict()))
    else:
        form = "E + A x^-alpha" if offset else "A x^-alpha"
        _print_table(res.table(), f"{y} = {form} on {escape(file.name)}", res.level)
    if out is not None:
        powerlaw_figure(X, Y, res).savefig(out, dpi=130)
        (_err if json_ else _out).print(f"figure: {out}", highlight=False)

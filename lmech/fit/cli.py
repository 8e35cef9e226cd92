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
        raise InputError(
            f"the data file must be an existing .csv or .parquet file; got {str(path)!r}, "
            "which does not exist or is not a file"
        )
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    except Exception as err:  # pandas/pyarrow raise many types for malformed files
        raise InputError(
            f"cannot read {path} as {suffix[1:]}: expected a table with a header row and one "
            f"row per run; got {type(err).__name__}: {err}"
        ) from None
    raise InputError(f"data file {path}: expected a .csv or .parquet file; got {suffix!r}")


def _column(df: pd.DataFrame, name: str, option: str, path: Path) -> np.ndarray:
    if name not in df.columns:
        raise InputError(
            f"{option} must name a column of {path.name} ({list(df.columns)}); got {name!r}, "
            "no such column"
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
    notes = "note" in tab.columns and tab["note"].astype(bool).any()
    if notes:
        t.add_column("note", overflow="fold")
    for r in tab.itertuples(index=False):
        note = getattr(r, "note", "") or ""
        if note:
            ci = "not identified"
        elif not np.isfinite(r.ci_low):
            ci = "—"
        else:
            ci = f"[{r.ci_low:.4g}, {r.ci_high:.4g}]"
        row = [r.parameter, f"{r.estimate:.4g}", ci] + ([escape(note)] if notes else [])
        t.add_row(*row)
    _out.print(t)


def _print_warnings(res) -> None:
    """One ``warning:`` line on stderr per fit warning (stdout stays clean for --json)."""
    for w in res.warnings:
        _err.print(f"[bold yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)


def _check_options(bootstrap: int, seed: int, out: Path | None) -> None:
    """Validate size, seed and output options before any file is read or fit is run."""
    from lmech.fit._checks import check_bootstrap
    from lmech.fit.figures import check_figure_path
    from lmech.seeding import check_seed

    check_bootstrap(bootstrap, "--bootstrap")
    check_seed(seed, "--seed")
    if out is not None:
        check_figure_path(out, "--out")


def _save(fig_fn, path: Path, json_: bool) -> None:
    from lmech.fit.figures import save_figure

    save_figure(fig_fn(), path)
    (_err if json_ else _out).print(f"figure: {escape(str(path))}", highlight=False)


_CHINCHILLA_HELP = (
    "Fit L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, Approach 3).\n\n"
    "Data that cannot identify the law (fewer than 10 distinct (N, D) runs, fewer than 3 "
    "distinct N or D, collinear N and D, a constant loss) are refused; parameters the data "
    "do not fix are reported as not identified, with a warning: line. A fit whose "
    "estimated CPU time exceeds one hour (or LMECH_FIT_MAX_SECONDS) is refused before it "
    "starts."
)
_POWERLAW_HELP = (
    "Fit y = E + A x^-alpha by least squares on log y.\n\n"
    "Fewer than 4 distinct x (3 with --no-offset) or a constant y are refused; parameters "
    "the data do not fix are reported as not identified, with a warning: line. A fit whose "
    "estimated CPU time exceeds one hour (or LMECH_FIT_MAX_SECONDS) is refused before it "
    "starts."
)


@app.command("chinchilla", help=_CHINCHILLA_HELP)
def chinchilla_cmd(
    file: Annotated[Path, typer.Argument(help="CSV or parquet table, one row per run")],
    n: Annotated[str, typer.Option("--n", help="column of model parameters N")],
    loss: Annotated[str, typer.Option("--loss", help="column of final losses")],
    d: Annotated[str | None, typer.Option("--d", help="column of training tokens D")] = None,
    flops: Annotated[
        str | None, typer.Option("--flops", help="column of compute C; D = C/(6N) if no --d")
    ] = None,
    bootstrap: Annotated[
        int, typer.Option(help="bootstrap resamples, 0 to 100000 (0: no intervals)")
    ] = 1000,
    json_: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="figure path (.png, .svg or .pdf)")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap, in [0, 2^63 - 1]")] = 0,
    grid: Annotated[
        str, typer.Option(help="starts: hoffmann (the paper's 4,500) or coarse (48, faster)")
    ] = "hoffmann",
) -> None:
    """Fit L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, Approach 3)."""
    from lmech.fit.chinchilla import COARSE_GRID, fit_chinchilla, hoffmann_grid

    grids = {"hoffmann": hoffmann_grid, "coarse": lambda: COARSE_GRID}
    if grid not in grids:
        raise InputError(f"--grid must be one of {list(grids)}; got {grid!r}")
    _check_options(bootstrap, seed, out)
    from lmech.fit.figures import check_figure_path, chinchilla_figure

    path = out
    if path is None and not json_:
        path = check_figure_path(Path(f"{file.stem}-chinchilla.png"), "the default figure")
    df = _read_table(file)
    N = _column(df, n, "--n", file)
    L = _column(df, loss, "--loss", file)
    if d is not None:
        D = _column(df, d, "--d", file)
    elif flops is not None:
        with np.errstate(all="ignore"):
            D = _column(df, flops, "--flops", file) / (6.0 * N)  # C = 6 N D
        bad = ~(np.isfinite(D) & (D > 0))
        if bad.any():
            raise InputError(
                f"D = C / (6 N) from --flops {flops!r} and --n {n!r} must be finite and > 0; "
                f"got {int(bad.sum())} rows that under- or overflow (rows "
                f"{np.flatnonzero(bad)[:5].tolist()})"
            )
    else:
        raise InputError(
            "give the tokens column (--d COL) or the compute column (--flops COL); got neither"
        )
    res = fit_chinchilla(N, D, L, bootstrap=bootstrap, seed=seed, grid=grids[grid]())
    if json_:
        _out.print_json(json.dumps({**res.to_dict(), "warnings": list(res.warnings)}))
    else:
        _print_table(
            res.table(), f"L(N, D) = E + A/N^alpha + B/D^beta on {escape(file.name)}", res.level
        )
        try:
            e = res.exponents()
            alloc = f"N_opt ~ C^{e['a']:.3f}, D_opt ~ C^{e['b']:.3f}"
        except InputError:
            alloc = "not identified (see the warnings)"
        _out.print(
            f"compute-optimal (C = 6ND): {alloc}; {res.n_points} runs ({res.n_distinct} "
            f"distinct), Huber delta {res.delta}, objective {res.objective:.4g}",
            highlight=False,
        )
    _print_warnings(res)
    if path is not None:
        _save(lambda: chinchilla_figure(N, D, L, res), path, json_)


@app.command("powerlaw", help=_POWERLAW_HELP)
def powerlaw_cmd(
    file: Annotated[Path, typer.Argument(help="CSV or parquet table")],
    x: Annotated[str, typer.Option("--x", help="column of the abscissa (steps, N, D)")],
    y: Annotated[str, typer.Option("--y", help="column of the loss")],
    offset: Annotated[bool, typer.Option(help="include the irreducible term E")] = True,
    bootstrap: Annotated[
        int, typer.Option(help="bootstrap resamples, 0 to 100000 (0: no intervals)")
    ] = 1000,
    json_: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="figure path (.png, .svg or .pdf)")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap, in [0, 2^63 - 1]")] = 0,
) -> None:
    """Fit y = E + A x^-alpha by least squares on log y."""
    from lmech.fit.figures import powerlaw_figure
    from lmech.fit.powerlaw import fit_powerlaw

    _check_options(bootstrap, seed, out)
    df = _read_table(file)
    X, Y = _column(df, x, "--x", file), _column(df, y, "--y", file)
    res = fit_powerlaw(X, Y, offset=offset, bootstrap=bootstrap, seed=seed)
    if json_:
        _out.print_json(json.dumps({**res.to_dict(), "warnings": list(res.warnings)}))
    else:
        form = "E + A x^-alpha" if offset else "A x^-alpha"
        _print_table(res.table(), f"{escape(y)} = {form} on {escape(file.name)}", res.level)
    _print_warnings(res)
    if out is not None:
        _save(lambda: powerlaw_figure(X, Y, res), out, json_)

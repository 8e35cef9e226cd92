"""``lmech predict``: a kernel's learning curve from data statistics (HEA), from the shell.

Registered as a command of :mod:`lmech.cli`; printing goes through the same consoles.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lmech.errors import ConfigError, InputError

__all__ = ["predict_cmd"]

out_console = Console()


#: Figure formats ``--figure`` writes (by file extension).
FIGURE_FORMATS = ("png", "svg", "pdf")


def _parse_numbers(text: str, name: str, kind: type) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--{name} expects comma-separated numbers; got {text[:80]!r}") from None
    if not values:
        raise ConfigError(f"--{name} expects at least one number; got {text[:80]!r}")
    return values


def _parse_sizes(text: str) -> list[int]:
    """``--n``: comma-separated positive integers (``1e4`` is fine), validated up front."""
    from lmech._validate import as_positive_sizes

    def number(v: str):
        try:
            return int(v)
        except ValueError:
            return float(v)  # "1e4"; as_positive_sizes refuses non-integers

    values = _parse_numbers(text, "n", number)
    try:
        as_positive_sizes(values, "--n")
    except InputError as err:
        raise ConfigError(str(err)) from None
    return [int(v) for v in values]


def _parse_ridges(text: str) -> list[float]:
    values = _parse_numbers(text, "ridge", float)
    bad = [v for v in values if not (math.isfinite(v) and 0 <= v <= 1e300)]
    if bad:
        raise ConfigError(
            f"--ridge expects finite ridges in [0, 1e300]; got {', '.join(map(str, bad[:5]))}"
        )
    return values


def _figure_path(figure: Path | None, data: Path) -> Path:
    """Where the figure goes, checked before any work: a known format, a writable folder.

    Writability is proved by creating (and removing) a temporary file next to the target,
    which also holds for root and for read-only mounts, where permission bits mislead.
    """
    path = figure if figure is not None else Path(f"{data.stem}-hea-curve.png")
    shown = repr(str(path)[:200])
    ext = path.suffix.lower().lstrip(".")
    if ext not in FIGURE_FORMATS:
        raise ConfigError(
            f"--figure must end in {', '.join('.' + f for f in FIGURE_FORMATS)}; got "
            f"{shown}" + (" (no extension)" if not ext else "")
        )
    parent = path.parent if str(path.parent) else Path(".")
    try:
        is_dir, parent_ok = path.is_dir(), parent.is_dir()
    except (OSError, ValueError) as err:
        raise ConfigError(f"--figure {shown} is not a usable path ({err})") from None
    if is_dir:
        raise ConfigError(f"--figure {shown} is a directory; pass a file name")
    if not parent_ok:
        raise ConfigError(
            f"--figure {shown}: the directory {str(parent)[:200]!r} does not exist; create it "
            "first or pass another path"
        )
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".lmech-probe-", suffix="." + ext)
    except OSError as err:
        raise ConfigError(
            f"--figure {shown}: cannot write in {str(parent)[:200]!r} "
            f"({err.strerror or type(err).__name__}); pass a writable location"
        ) from None
    os.close(fd)
    os.unlink(probe)
    return path


def _save_figure(fig, path: Path) -> None:
    """Write ``fig`` to ``path`` atomically: a temporary file in its folder, then a rename."""
    try:
        fd, tmp = tempfile.mkstemp(
            dir=path.parent if str(path.parent) else ".",
            prefix=f".{path.stem[:50]}.",
            suffix=path.suffix,
        )
    except OSError as err:
        raise ConfigError(f"cannot write the figure {str(path)[:200]!r} ({err})") from None
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=130, format=path.suffix.lower().lstrip("."))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def predict_cmd(
    data: Annotated[Path, typer.Option(help="X: .npy, .npz, .csv or .parquet")],
    target: Annotated[str, typer.Option(help="a column/key of the data file, or a y file")],
    kernel: Annotated[
        str, typer.Option(help="e.g. gaussian:bandwidth=2.0, laplace:bandwidth=3")
    ] = "gaussian:bandwidth=1.0",
    n: Annotated[str, typer.Option(help="sample sizes, comma-separated")] = "100,1000,10000",
    ridge: Annotated[str, typer.Option(help="ridges, comma-separated")] = "0.001",
    modes: Annotated[int, typer.Option(help="HEA modes kept")] = 2000,
    figure: Annotated[Path | None, typer.Option(help="figure path (.png, .svg or .pdf)")] = None,
) -> None:
    """Predict a kernel's learning curve from data statistics alone (HEA; no regression)."""
    from lmech.kernels.base import parse_kernel
    from lmech.predict import curve_figure, dense_grid, hea_decompose, load_xy

    # every option is checked before the data are read or anything is computed
    sizes = _parse_sizes(n)
    ridges = _parse_ridges(ridge)
    if modes < 1:
        raise ConfigError(f"--modes must be >= 1; got {modes}")
    k = parse_kernel(kernel)
    path = _figure_path(figure, data)
    X, y = load_xy(data, target)
    rows = X.shape[0] if X.ndim else 0  # hea_decompose names a wrong shape itself
    dec = hea_decompose(X, y, k, num_modes=max(1, min(modes, rows - 1)))
    table = dec.learning_curve(sizes, ridges)
    out = Table(title=f"HEA prediction: {escape(kernel)} on {escape(data.name)}")
    for col in ("n", "ridge", "test_mse", "kappa", "overfitting_coefficient", "learnability"):
        out.add_column(col, justify="right")
    for row in table.itertuples(index=False):
        out.add_row(
            f"{row.n}",
            f"{row.ridge:.3g}",
            f"{row.test_mse:.4g}",
            f"{row.kappa:.3g}",
            f"{row.overfitting_coefficient:.4g}",
            f"{row.learnability:.4g}",
        )
    out_console.print(out)
    out_console.print(
        f"{len(dec.modes)} modes explain {dec.explained_fraction:.1%} of E[y^2] (the rest "
        f"counts as noise); tail {dec.tail:.3g} added to the ridge; "
        f"d_eff = {dec.effective_dimension:.1f}",
        highlight=False,
        markup=False,
    )
    dense = dec.learning_curve(dense_grid(sizes), ridges)
    _save_figure(curve_figure(dense, f"HEA prediction, {kernel}, {data.name}"), path)
    out_console.print(f"figure: {path}")

"""``lmech predict``: a kernel's learning curve from data statistics (HEA), from the shell.

Registered as a command of :mod:`lmech.cli`; printing goes through the same consoles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lmech.errors import ConfigError

__all__ = ["predict_cmd"]

out_console = Console()


def _parse_numbers(text: str, name: str, kind: type) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--{name} expects comma-separated numbers; got {text!r}") from None
    if not values:
        raise ConfigError(f"--{name} expects at least one number; got {text!r}")
    return values


def predict_cmd(
    data: Annotated[Path, typer.Option(help="X: .npy, .npz, .csv or .parquet")],
    target: Annotated[str, typer.Option(help="a column/key of the data file, or a y file")],
    kernel: Annotated[
        str, typer.Option(help="e.g. gaussian:bandwidth=2.0, laplace:bandwidth=3")
    ] = "gaussian:bandwidth=1.0",
    n: Annotated[str, typer.Option(help="sample sizes, comma-separated")] = "100,1000,10000",
    ridge: Annotated[str, typer.Option(help="ridges, comma-separated")] = "0.001",
    modes: Annotated[int, typer.Option(help="HEA modes kept")] = 2000,
    figure: Annotated[Path | None, typer.Option(help="figure path (PNG or SVG)")] = None,
) -> None:
    """Predict a kernel's learning curve from data statistics alone (HEA; no regression)."""
    from lmech.kernels.base import parse_kernel
    from lmech.predict import curve_figure, dense_grid, hea_decompose, load_xy

    sizes = _parse_numbers(n, "n", int)
    ridges = _parse_numbers(ridge, "ridge", float)
    X, y = load_xy(data, target)
    k = parse_kernel(kernel)
    if modes < 1:
        raise ConfigError(f"--modes must be >= 1; got {modes}")
    dec = hea_decompose(X, y, k, num_modes=min(modes, len(X) - 1))
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
    path = figure or Path(f"{data.stem}-hea-curve.png")
    curve_figure(dense, f"HEA prediction, {kernel}, {data.name}").savefig(path, dpi=130)
    out_console.print(f"figure: {path}")

"""Figures of fitted scaling laws (data, fitted IsoFLOP curves, frontier)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from lmech.errors import InputError

__all__ = ["FIGURE_SUFFIXES", "check_figure_path", "save_figure", "chinchilla_figure",
           "powerlaw_figure"]  # fmt: skip

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def check_figure_path(path: Path, option: str = "--out") -> Path:
    """``path`` if a figure can be written there (known suffix, existing folder, not a
    folder itself), else an InputError; checked before any fitting starts."""
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise InputError(
            f"{option} must end in one of {', '.join(FIGURE_SUFFIXES)}; got {str(path)!r} "
            f"(suffix {path.suffix or 'none'!r})"
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(
            f"{option} must be a file in an existing folder; got {str(path)!r}, whose folder "
            f"{str(parent)!r} does not exist; create it first or choose another path"
        )
    if path.is_dir():
        raise InputError(f"{option} must be a file name; got {str(path)!r}, a folder")
    if not os.access(parent, os.W_OK):
        raise InputError(
            f"{option} must be in a writable folder; got {str(path)!r} in the read-only "
            f"{str(parent)!r}"
        )
    return path


def save_figure(fig, path: Path, dpi: int = 130) -> None:
    """Write ``fig`` to ``path`` atomically (a temporary file renamed into place)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent or ".")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".").lower())
        os.replace(tmp, path)
    except OSError as err:
        raise InputError(
            f"the figure {str(path)!r} must be writable; got {type(err).__name__}: {err}"
        ) from None
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)


def chinchilla_figure(N, D, loss, fit):
    """Left: data vs N coloured by C = 6ND with the fitted IsoFLOP curves and their minima.
    Right: the fitted efficient frontier N_opt(C), D_opt(C) with the runs (only when the
    allocation is defined: alpha, beta > 0 and identified)."""
    N, D, loss = (np.asarray(v, dtype=np.float64) for v in (N, D, loss))
    C = 6.0 * N * D
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    norm = matplotlib.colors.LogNorm(C.min(), max(C.max(), C.min() * 1.0001))
    sc = ax.scatter(N, loss, c=C, norm=norm, cmap="viridis", s=14, label="runs")
    budgets = np.geomspace(C.min(), C.max(), 6)
    with np.errstate(all="ignore"):
        for c in budgets:
            grid = np.geomspace(N.min() / 3, N.max() * 3, 200)
            pred = fit.predict(grid, c / (6 * grid))
            ax.plot(grid, np.where(np.isfinite(pred), pred, np.nan), color=plt.cm.viridis(norm(c)))
    try:
        fit.exponents()
        defined = True
    except InputError as err:
        defined, why = False, str(err)
    if defined:
        n_opt, d_opt = fit.compute_optimal(budgets)
        ax.plot(n_opt, fit.predict(n_opt, d_opt), "k*", ms=9, label="fitted optimum")
        cs = np.geomspace(C.min(), C.max() * 100, 50)
        no, do = fit.compute_optimal(cs)
        e = fit.exponents()
        bx.plot(cs, no, "C0-", label=f"N_opt ~ C^{e['a']:.3f}")
        bx.plot(cs, do, "C1-", label=f"D_opt ~ C^{e['b']:.3f}")
    else:
        bx.text(0.5, 0.5, "no compute-optimal allocation:\n" + why[:80], ha="center",
                va="center", transform=bx.transAxes, fontsize=8, wrap=True)  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="parameters N", ylabel="loss")
    ax.set_title("data and fitted IsoFLOP curves")
    ax.legend(fontsize=8)
    fig.colorbar(sc, ax=ax, label="C = 6ND [FLOPs]")
    bx.scatter(C, N, s=8, c="C0", alpha=0.4, label="runs (N)")
    bx.scatter(C, D, s=8, c="C1", alpha=0.4, label="runs (D)")
    bx.set(xscale="log", yscale="log", xlabel="compute C [FLOPs]", ylabel="N, D")
    bx.set_title("compute-optimal frontier")
    bx.legend(fontsize=8)
    fig.tight_layout()
    return fig


def powerlaw_figure(x, y, fit):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter(x, y, s=12, label="data")
    grid = np.geomspace(x.min(), x.max(), 200)
    label = ", ".join(f"{k}={v:.3g}" for k, v in fit.estimate.items())
    with np.errstate(all="ignore"):
        pred = fit.predict(grid)
    ax.plot(grid, np.where(np.isfinite(pred), pred, np.nan), "k-", label=label)
    ax.set(xscale="log", yscale="log", xlabel="x", ylabel="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

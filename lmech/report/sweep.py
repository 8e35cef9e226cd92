"""The report of a sweep: its table, one figure per check statistic, written to
``OUT/sweeps/<law>-<id>/`` (``table.csv``, ``sweep.json``, ``report.html``, PNGs).

How a sweep is drawn, unless the law declares its own ``sweep_figure(table)``:

- one swept key: each check statistic against the key (every seed a dot, the mean over
  seeds a line; log axis when the values span more than a factor of 20), with the
  check's bound as a dashed line;
- two keys: a phase diagram, the seed-mean of the statistic as a heat map over the two
  keys, each cell marked with the share of seeds whose check passed;
- three or more: small multiples of that heat map, one panel per value of the third key
  (at most 12 panels; the rest stay in the table).
"""

from __future__ import annotations

import html
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lmech.report.html import _CSS, _figure_html
from lmech.runs.store import atomic_write_bytes, atomic_write_json, atomic_write_text

__all__ = ["sweep_figures", "write_sweep_report"]

_MAX_PANELS = 12


def _numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _log_axis(values: np.ndarray) -> bool:
    values = values[np.isfinite(values)]
    return values.size > 1 and values.min() > 0 and values.max() / values.min() > 20


def _curve(table: pd.DataFrame, key: str, check) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    col = check.statistic
    x = table[key].to_numpy()
    numeric = _numeric(table[key])
    order = list(dict.fromkeys(x))
    xs = np.asarray(x, float) if numeric else np.array([order.index(v) for v in x], float)
    y = table[col].to_numpy(float)
    ax.plot(xs, y, "o", alpha=0.45, label="each seed")
    means = table.groupby(key, sort=False)[col].mean()
    mx = np.asarray(means.index, float) if numeric else np.arange(len(means))
    srt = np.argsort(mx)
    ax.plot(mx[srt], means.to_numpy(float)[srt], "-", lw=2, label="mean over seeds")
    if math.isfinite(check.bound):
        ax.axhline(check.bound, ls="--", color="k", lw=1, label=f"bound {check.op} {check.bound:g}")
    if numeric and _log_axis(mx):
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(range(len(order)), [str(v) for v in order], rotation=30)
    ax.set_xlabel(key)
    ax.set_ylabel(col)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _heat(ax, table: pd.DataFrame, kx: str, ky: str, check, vmin, vmax):
    col = check.statistic
    xs = list(dict.fromkeys(table[kx]))
    ys = list(dict.fromkeys(table[ky]))
    if _numeric(table[kx]):
        xs = sorted(xs)
    if _numeric(table[ky]):
        ys = sorted(ys)
    grid = np.full((len(ys), len(xs)), np.nan)
    share = np.full_like(grid, np.nan)
    ok = f"{col} ok"
    for (vx, vy), g in table.groupby([kx, ky], sort=False):
        grid[ys.index(vy), xs.index(vx)] = g[col].astype(float).mean()
        if ok in g:
            share[ys.index(vy), xs.index(vx)] = g[ok].astype(float).mean()
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax)
    for r in range(len(ys)):
        for c in range(len(xs)):
            if np.isfinite(share[r, c]):
                ax.text(c, r, f"{share[r, c]:.0%}", ha="center", va="center", fontsize=7,
                        color="w")  # fmt: skip
    ax.set_xticks(range(len(xs)), [f"{v:.3g}" if isinstance(v, float) else str(v) for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:.3g}" if isinstance(v, float) else str(v) for v in ys])
    ax.tick_params(axis="x", rotation=30, labelsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel(kx)
    ax.set_ylabel(ky)
    return im


def _phase(table: pd.DataFrame, keys: list[str], check) -> Any:
    import matplotlib.pyplot as plt

    kx, ky = keys[0], keys[1]
    values = table[check.statistic].astype(float)
    vmin, vmax = float(np.nanmin(values)), float(np.nanmax(values))
    if len(keys) == 2:
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
        im = _heat(ax, table, kx, ky, check, vmin, vmax)
        ax.set_title(f"{check.statistic} (mean over seeds; % = share passing {check.op} "
                     f"{check.bound:g})", fontsize=9)  # fmt: skip
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        return fig
    kz = keys[2]
    panels = list(dict.fromkeys(table[kz]))[:_MAX_PANELS]
    ncol = min(4, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.0 * nrow), squeeze=False)
    im = None
    for ax, vz in zip(axes.flat, panels, strict=False):
        im = _heat(ax, table[table[kz] == vz], kx, ky, check, vmin, vmax)
        ax.set_title(f"{kz} = {vz}", fontsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(f"{check.statistic} (mean over seeds; % passing)", fontsize=9)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist())
    return fig


def sweep_figures(table: pd.DataFrame, keys: list[str], checks) -> dict[str, Any]:
    """``{statistic: Figure}`` drawing the sweep (see the module docstring)."""
    figures: dict[str, Any] = {}
    for check in checks:
        if check.statistic not in table or not table[check.statistic].notna().any():
            continue
        if not keys:
            continue  # a seed study alone: the table says it
        if len(keys) == 1:
            figures[check.statistic] = _curve(table, keys[0], check)
        else:
            figures[check.statistic] = _phase(table, keys, check)
    return figures


def _png(fig: Any) -> bytes:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write_sweep_report(
    folder: Path, table: pd.DataFrame, meta: dict[str, Any], figures: dict[str, Any]
) -> Path:
    """Write the sweep's table, metadata, figures and ``report.html`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "table.csv", table.to_csv(index=False))
    atomic_write_json(folder / "sweep.json", meta)
    imgs = []
    for stat, fig in figures.items():
        data = _png(fig)
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in stat)
        atomic_write_bytes(folder / f"{safe}.png", data)
        imgs.append(f"<h3>{html.escape(stat)}</h3>{_figure_html(f'{safe}.png', data)}")
    counts = table["status"].value_counts().to_dict() if "status" in table else {}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    title = f"lmech sweep: {meta['law']} ({meta['preset']} preset)"
    grid = "; ".join(f"{k} = {', '.join(map(str, v))}" for k, v in meta["grid"].items())
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>generated {datetime.now(UTC).isoformat(timespec='seconds')} &middot; "
        f"lmech {html.escape(str(meta['environment'].get('lmech')))} &middot; torch "
        f"{html.escape(str(meta['environment'].get('torch')))} &middot; device "
        f"{html.escape(meta['device'])} &middot; {len(table)} points: {html.escape(summary)}</p>",
        f"<p>grid: {html.escape(grid or '(none)')}; seeds: "
        f"{html.escape(', '.join(map(str, meta['seeds'])))}</p>",
        *imgs,
        "<h2>Points</h2>",
        table.to_html(index=False, border=0, float_format=lambda x: f"{x:.6g}"),
        "</body></html>",
    ]
    path = folder / "report.html"
    atomic_write_text(path, "\n".join(body) + "\n")
    return path


def meta_of(plan, env: dict[str, Any]) -> dict[str, Any]:
    """The JSON-ready description of a sweep plan (``sweep.json``)."""
    return json.loads(
        json.dumps(
            {
                "law": plan.law.name,
                "preset": plan.preset,
                "device": plan.device,
                "grid": {a.key: list(a.values) for a in plan.axes},
                "seeds": list(plan.seeds),
                "points": [{"values": p.values, "seed": p.seed, "key": p.key} for p in plan.points],
                "environment": env,
            },
            default=str,
        )
    )

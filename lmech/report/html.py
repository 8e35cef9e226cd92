"""The HTML report and the Markdown summary, built from the run store alone.

:func:`build_report` reads every point of a run store (see :mod:`lmech.runs.store`) and
writes one self-contained ``report.html``: one row per point in the verdict table and
one section per valid point (claim, checks, preset, seed, device, code, figures, the
resolved spec and the tables). Figures are embedded as base64 data URIs and the style
sheet is inline, so the file can be mailed or archived on its own. Nothing is
recomputed; a report can be rebuilt any time with ``lmech report RUN_DIR``.

Every point is verified first (:func:`lmech.runs.store.read_point`): the report embeds
only bytes it read from regular files inside the point's folder, opened without
following symbolic links and matching the SHA-256 its manifest recorded. A point that
fails (a missing or altered file, a symlinked figure, a corrupt manifest, a verdict
whose status does not follow from its checks) is a row marked *invalid* that says why;
nothing of it is embedded or trusted. ``report.html`` itself replaces only an earlier
lmech report (marked by its ``generator`` meta tag): never a symbolic link, a folder or
another file of that name.
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from lmech.errors import StoreError
from lmech.laws.base import PRESETS, Verdict
from lmech.runs.store import Point, atomic_write_text, code_hash, read_store, store_path

__all__ = [
    "REPORT",
    "MAX_TABLE_ROWS",
    "Report",
    "load_points",
    "check_report_target",
    "write_report",
    "build_report",
    "render_markdown_summary",
]

REPORT = "report.html"
MAX_TABLE_ROWS = 30
_GENERATOR = "lmech report"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status { font-weight: bold; padding: 0.1em 0.5em; border-radius: 0.3em; color: #fff; }
.passed { background: #2e7d32; }
.failed { background: #c62828; }
.skipped { background: #757575; }
.error { background: #6a1b9a; }
.smoke { background: #1565c0; }
.invalid { background: #ef6c00; }
section.law { border-top: 2px solid #ddd; margin-top: 2em; padding-top: 0.5em; }
img.figure { max-width: 100%; height: auto; border: 1px solid #eee; cursor: zoom-in; }
/* a click (focus) shows a figure at the window's full width; a click elsewhere or Tab
   closes it */
img.figure:focus { position: fixed; inset: 0; margin: auto; z-index: 10; max-width: 98vw;
       max-height: 98vh; width: auto; background: #fff; cursor: zoom-out; outline: none;
       box-shadow: 0 0 0 100vmax rgba(0, 0, 0, 0.6); }
.claim { font-style: italic; }
details { margin: 0.5em 0; }
summary { cursor: pointer; color: #1a4f8b; }
.note { color: #666; font-size: 0.85em; }
.problems { color: #c62828; }
"""


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _fmt(x: Any) -> str:
    """A float in 4 significant digits; a missing or non-finite value as an em dash."""
    if x is None:
        return "\u2014"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return f"{v:.4g}" if math.isfinite(v) else "\u2014"


def _bound(check) -> str:
    return ("\u2265 " if check.op == ">=" else "\u2264 ") + _fmt(check.bound)


def _per_check(verdict: Verdict, part) -> str:
    """One line per declared check (escaped, joined by <br>)."""
    return "<br>".join(_esc(part(c)) for c in verdict.checks)


def _runtime(manifest: dict[str, Any]) -> float | None:
    timings = manifest.get("timings") or {}
    try:
        total = sum(float(v) for v in timings.values())
    except (TypeError, ValueError, AttributeError):
        return None
    return total if timings else None


def _anchor(point: Point) -> str:
    return "point-" + re.sub(r"[^A-Za-z0-9_-]", "-", f"{point.law}-{point.key}")


@dataclass
class _Loaded:
    point: Point
    theory: pd.DataFrame
    experiment: pd.DataFrame


@dataclass
class Report:
    """What :func:`write_report` wrote: the path and the points, valid and invalid."""

    path: Path
    valid: list[Point] = field(default_factory=list)
    invalid: list[Point] = field(default_factory=list)


def _order(point: Point) -> tuple:
    m = point.manifest or {}
    preset = m.get("preset")
    rank = PRESETS.index(preset) if preset in PRESETS else len(PRESETS)
    seed = m.get("seed") if isinstance(m.get("seed"), int) else -1
    return (point.law, rank, str(preset), seed, str(m.get("device")), str(m.get("finished")))


def load_points(run_dir: str | os.PathLike) -> tuple[list[_Loaded], list[Point]]:
    """The valid points of a store with their tables, and the invalid points.

    Raises:
        StoreError: ``run_dir`` is not a directory or holds no point at all.
    """
    run_dir = store_path(run_dir)
    points = read_store(run_dir)
    if not points:
        where = " ".join(str(run_dir).splitlines())
        raise StoreError(
            f"no law runs in {where}: expected <law>/<key>/ folders with manifest.json; "
            "run `lmech check --out DIR` first"
        )
    loaded, invalid = [], []
    for point in sorted(points, key=_order):
        if not point.valid:
            invalid.append(point)
            continue
        try:
            loaded.append(_Loaded(point, point.table("theory"), point.table("experiment")))
        except StoreError as err:
            point.problem = str(err)
            invalid.append(point)
    return loaded, invalid


def _distinct(points: list[_Loaded], get) -> str:
    values = []
    for run in points:
        try:
            v = get(run.point.manifest)
        except (KeyError, TypeError, AttributeError):
            v = None
        if v is not None and str(v) not in values:
            values.append(str(v))
    return ", ".join(values) if values else "unknown"


def _commit(manifest: dict[str, Any]) -> str | None:
    """The git commit of a manifest, shortened, ``+dirty`` with uncommitted changes."""
    git = manifest["environment"].get("git")
    if not isinstance(git, dict) or not git.get("commit"):
        return None
    return str(git["commit"])[:12] + ("+dirty" if git.get("dirty") else "")


def _status_badge(status: str, label: str | None = None) -> str:
    return f'<span class="status {_esc(status)}">{_esc(label or status)}</span>'


def _where(point: Point) -> str:
    m = point.manifest or {}
    return (
        f"{m.get('preset', '?')}, seed {m.get('seed', '?')}, {m.get('device', '?')}"
        if m
        else point.key
    )


def _verdict_table(runs: list[_Loaded], invalid: list[Point]) -> str:
    rows = []
    for run in runs:
        p, v = run.point, run.point.verdict
        rows.append(
            "<tr>"
            f'<td><a href="#{_esc(_anchor(p))}">{_esc(p.law)}</a></td>'
            f"<td>{_esc(_where(p))}</td>"
            f"<td>{_status_badge(v.status, v.label)}</td>"
            f"<td>{_per_check(v, lambda c: c.statistic)}</td>"
            f'<td class="num">{_per_check(v, lambda c: _fmt(c.value))}</td>'
            f'<td class="num">{_per_check(v, _bound)}</td>'
            f"<td>{_esc(v.detail)}</td>"
            f'<td class="num">{_esc(_fmt(_runtime(p.manifest)))}</td>'
            "</tr>"
        )
    for p in invalid:
        rows.append(
            f"<tr><td>{_esc(p.law)}</td><td>{_esc(p.key)}</td>"
            f"<td>{_status_badge('invalid')}</td>"
            f'<td colspan="5">{_esc(p.path)}: {_esc(p.problem)}; not trusted (rerun lmech '
            "check with the same --out to recompute it)</td></tr>"
        )
    head = (
        "<tr><th>law</th><th>point</th><th>status</th><th>metric</th><th>value</th>"
        "<th>tolerance</th><th>detail</th><th>runtime (s)</th></tr>"
    )
    return f'<table class="verdicts">\n{head}\n' + "\n".join(rows) + "\n</table>"


def _spec_table(spec: Any) -> str:
    if not isinstance(spec, dict) or not spec:
        return '<p class="note">no resolved spec recorded</p>'
    rows = "\n".join(f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in spec.items())
    return f"<table>\n<tr><th>field</th><th>value</th></tr>\n{rows}\n</table>"


def _data_table(df: pd.DataFrame, title: str) -> str:
    if df.empty:
        return f"<h4>{_esc(title)}</h4>\n<p class='note'>empty table</p>"
    shown = df.head(MAX_TABLE_ROWS)
    note = (
        f"first {MAX_TABLE_ROWS} of {len(df)} rows"
        if len(df) > MAX_TABLE_ROWS
        else f"{len(df)} rows"
    )
    body = shown.to_html(index=False, escape=True, border=0, float_format=lambda x: f"{x:.6g}")
    return f"<details><summary>{_esc(title)} ({_esc(note)})</summary>\n{body}\n</details>"


def _figure_html(name: str, data: bytes) -> str:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return f'<p class="problems">figure {_esc(name)} is not a PNG image; not embedded</p>'
    encoded = base64.b64encode(data).decode("ascii")
    stem = name.rsplit(".", 1)[0]
    return (
        f'<img class="figure" tabindex="0" title="click to enlarge" alt="{_esc(stem)}" '
        f'src="data:image/png;base64,{encoded}">'
    )


def _law_section(run: _Loaded, this_code: str) -> str:
    p = run.point
    m, v = p.manifest, p.verdict
    parts = [
        f'<section class="law" id="{_esc(_anchor(p))}">',
        f"<h2>{_esc(p.law)} {_status_badge(v.status, v.label)}</h2>",
    ]
    if m.get("claim"):
        parts.append(f'<p class="claim">{_esc(m["claim"])}</p>')
    if m.get("source"):
        parts.append(f"<p><b>Source:</b> {_esc(m['source'])}</p>")
    checks = "".join(
        f"<li>{_esc(c.statistic)} = {_esc(_fmt(c.value))} (tolerance {_esc(_bound(c))}; "
        f"{'holds' if c.passed else 'does not hold'}){': ' + _esc(c.why) if c.why else ''}</li>"
        for c in v.checks
    )
    parts.append(f'<ul class="checks">{checks}</ul>')
    code = str(m.get("code_hash", "?"))
    facts = [
        f"preset {_esc(m.get('preset', '?'))}",
        f"seed {_esc(m.get('seed', '?'))}",
        f"device {_esc(m.get('device', '?'))}",
        f"code {_esc(code)}" + ("" if code == this_code else " (other lmech code than this one)"),
        f"point {_esc(p.key)}",
    ]
    parts.append("<p>" + " &middot; ".join(facts) + "</p>")
    if v.detail:
        parts.append(f'<p class="note">{_esc(v.detail)}</p>')
    parts.extend(_figure_html(name, data) for name, data in p.figures())
    parts.append(
        "<details><summary>resolved spec"
        + (f" (hash {_esc(m['spec_hash'])})" if m.get("spec_hash") else "")
        + "</summary>\n"
        + _spec_table(m.get("spec"))
        + "\n</details>"
    )
    parts.append(_data_table(run.theory, "theory table"))
    parts.append(_data_table(run.experiment, "experiment table"))
    parts.append("</section>")
    return "\n".join(parts)


def check_report_target(run_dir: str | os.PathLike) -> Path:
    """``run_dir/report.html``, after checking that writing it destroys nothing lmech did
    not make: it must be absent or a regular file written by lmech (a report).

    Raises:
        StoreError: it is a symbolic link, a folder or someone else's file.
    """
    path = store_path(run_dir) / REPORT
    where = " ".join(str(path).splitlines())
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError as err:
        raise StoreError(f"cannot check {where}: {err.strerror or err}") from None
    what = None
    if stat.S_ISLNK(st.st_mode):
        what = "a symbolic link"
    elif stat.S_ISDIR(st.st_mode):
        what = "a folder"
    elif not stat.S_ISREG(st.st_mode):
        what = "not a regular file"
    else:
        try:
            with open(path, "rb") as fh:
                head = fh.read(4096)
        except OSError as err:
            raise StoreError(f"cannot read {where}: {err.strerror or err}") from None
        if _GENERATOR.encode() not in head and b"<title>lmech report:" not in head:
            what = "a file lmech did not write"
    if what is not None:
        raise StoreError(
            f"will not replace {where}: it is {what}, expected an lmech report or nothing; "
            "move it away or pick another --out"
        )
    return path


def write_report(run_dir: str | os.PathLike) -> Report:
    """Write ``run_dir/report.html`` from the store; return it with the points it read.

    ``run_dir`` is a run store (``lmech check --out``), a law folder or a single point.
    Invalid points are rows that say why; a report of only invalid points is still
    written.

    Raises:
        StoreError: ``run_dir`` is not a directory or holds no point, or the report
            cannot be written.
    """
    run_dir = store_path(run_dir)
    runs, invalid = load_points(run_dir)
    counts = {
        s: sum(r.point.verdict.status == s for r in runs)
        for s in ("passed", "failed", "skipped", "error", "smoke")
    }
    counts["invalid"] = len(invalid)
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    version = _distinct(runs, lambda m: m["environment"]["lmech"])
    torch_version = _distinct(runs, lambda m: m["environment"]["torch"])
    numpy_version = _distinct(runs, lambda m: m["environment"]["numpy"])
    device = _distinct(runs, lambda m: m["device"])
    device_name = _distinct(runs, lambda m: m["environment"].get("device_name"))
    if device_name != "unknown":
        device += f" ({device_name})"
    commit = _distinct(runs, _commit)
    title = f"lmech report: {run_dir.resolve().name}"
    this_code = code_hash()
    body = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta name="generator" content="{_GENERATOR}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_esc(title)}</h1>",
        f'<p class="meta">generated {_esc(generated)} &middot; lmech {_esc(version)} '
        f"&middot; torch {_esc(torch_version)} &middot; numpy {_esc(numpy_version)} "
        f"&middot; device {_esc(device)} &middot; commit {_esc(commit)} "
        f"&middot; {_esc(summary)}</p>",
        "<h2>Verdicts</h2>",
        _verdict_table(runs, invalid),
        *(_law_section(run, this_code) for run in runs),
        "</body>",
        "</html>",
    ]
    out = check_report_target(run_dir)
    try:
        atomic_write_text(out, "\n".join(body) + "\n")
    except OSError as err:
        where = " ".join(str(out).splitlines())
        raise StoreError(
            f"cannot write {where}: {err.strerror or err}; make the run directory writable "
            "(the store itself is left as it was)"
        ) from None
    return Report(out, [r.point for r in runs], invalid)


def build_report(run_dir: str | os.PathLike) -> Path:
    """Write ``run_dir/report.html`` from the run store and return its path (see
    :func:`write_report`)."""
    return write_report(run_dir).path


def _md_cell(text: Any) -> str:
    return " ".join(str(text).splitlines()).replace("|", "\\|")


def render_markdown_summary(run_dir: str | os.PathLike) -> str:
    """A Markdown table of the verdicts in ``run_dir`` (read from the store only)."""
    runs, invalid = load_points(run_dir)
    lines = [
        "| law | point | status | metric | value | tolerance | detail | runtime (s) |",
        "| --- | --- | --- | --- | ---: | ---: | --- | ---: |",
    ]
    for run in runs:
        p, v = run.point, run.point.verdict
        cells = [
            p.law,
            _where(p),
            v.label,
            "; ".join(c.statistic for c in v.checks),
            "; ".join(_fmt(c.value) for c in v.checks),
            "; ".join(_bound(c) for c in v.checks),
            v.detail,
            _fmt(_runtime(p.manifest)),
        ]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    for p in invalid:
        lines.append(
            f"| {_md_cell(p.law)} | {_md_cell(p.key)} | invalid | | | | {_md_cell(p.problem)} | |"
        )
    return "\n".join(lines) + "\n"

"""The HTML report and the Markdown summary, built from the run store alone.

:func:`build_report` reads the committed law directories of a run store (manifests,
verdicts, tables and PNG figures; see :mod:`lmech.runs.store`) and writes one
self-contained ``report.html``: figures are embedded as base64 data URIs and the style
sheet is inline, so the file can be mailed or archived on its own. Nothing is
recomputed; a report can be rebuilt any time with ``lmech report RUN_DIR``.
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from lmech.errors import StoreError
from lmech.laws.base import Verdict
from lmech.runs.store import atomic_write_text, list_law_runs, read_law_run

__all__ = ["REPORT", "MAX_TABLE_ROWS", "build_report", "render_markdown_summary"]

REPORT = "report.html"
MAX_TABLE_ROWS = 30

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
.unreadable { background: #ef6c00; }
section.law { border-top: 2px solid #ddd; margin-top: 2em; padding-top: 0.5em; }
img.figure { max-width: 100%; height: auto; border: 1px solid #eee; }
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


def _tolerance(verdict: Verdict) -> str:
    return _bound(verdict.checks[0])


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


def _anchor(name: str) -> str:
    return "law-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def _load(run_dir: Path) -> tuple[list[dict[str, Any]], list[tuple[Path, str]]]:
    """Readable law runs and (path, reason) of unreadable ones; StoreError if none."""
    runs, problems = [], []
    for law_dir in list_law_runs(run_dir):
        try:
            run = read_law_run(law_dir)
        except StoreError as err:
            problems.append((law_dir, str(err)))
            continue
        run["dir"] = law_dir
        runs.append(run)
    if not runs:
        detail = "; ".join(reason for _, reason in problems)
        raise StoreError(f"no readable law runs in {run_dir}: {detail}")
    return runs, problems


def _distinct(runs: list[dict[str, Any]], get) -> str:
    values = []
    for run in runs:
        try:
            v = get(run["manifest"])
        except (KeyError, TypeError, AttributeError):
            v = None
        if v is not None and str(v) not in values:
            values.append(str(v))
    return ", ".join(values) if values else "unknown"


def _status_badge(status: str, label: str | None = None) -> str:
    return f'<span class="status {_esc(status)}">{_esc(label or status)}</span>'


def _verdict_table(runs: list[dict[str, Any]], problems: list[tuple[Path, str]]) -> str:
    rows = []
    for run in runs:
        m, v = run["manifest"], run["verdict"]
        name = str(m.get("law", run["dir"].name))
        rows.append(
            "<tr>"
            f'<td><a href="#{_esc(_anchor(name))}">{_esc(name)}</a></td>'
            f"<td>{_status_badge(v.status, v.label)}</td>"
            f"<td>{_per_check(v, lambda c: c.statistic)}</td>"
            f'<td class="num">{_per_check(v, lambda c: _fmt(c.value))}</td>'
            f'<td class="num">{_per_check(v, _bound)}</td>'
            f"<td>{_esc(v.detail)}</td>"
            f'<td class="num">{_esc(_fmt(_runtime(m)))}</td>'
            "</tr>"
        )
    for path, reason in problems:
        rows.append(
            f"<tr><td>{_esc(path.name)}</td><td>{_status_badge('unreadable')}</td>"
            f'<td colspan="5">{_esc(reason)}</td></tr>'
        )
    head = (
        "<tr><th>law</th><th>status</th><th>metric</th><th>value</th><th>tolerance</th>"
        "<th>detail</th><th>runtime (s)</th></tr>"
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


def _figure_html(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img class="figure" alt="{_esc(path.stem)}" src="data:image/png;base64,{data}">'


def _law_section(run: dict[str, Any]) -> str:
    m, v = run["manifest"], run["verdict"]
    name = str(m.get("law", run["dir"].name))
    parts = [
        f'<section class="law" id="{_esc(_anchor(name))}">',
        f"<h2>{_esc(name)} {_status_badge(v.status, v.label)}</h2>",
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
    facts = [
        f"preset {_esc(m.get('preset', '?'))}",
        f"seed {_esc(m.get('seed', '?'))}",
        f"device {_esc(m.get('device', '?'))}",
    ]
    parts.append("<p>" + " &middot; ".join(facts) + "</p>")
    if v.detail:
        parts.append(f'<p class="note">{_esc(v.detail)}</p>')
    for fig in run["figures"]:
        try:
            parts.append(_figure_html(fig))
        except OSError as err:
            parts.append(
                f'<p class="problems">cannot read figure {_esc(fig.name)}: {_esc(err)}</p>'
            )
    parts.append(
        "<details><summary>resolved spec"
        + (f" (hash {_esc(m['spec_hash'])})" if m.get("spec_hash") else "")
        + "</summary>\n"
        + _spec_table(m.get("spec"))
        + "\n</details>"
    )
    parts.append(_data_table(run["theory"], "theory table"))
    parts.append(_data_table(run["experiment"], "experiment table"))
    parts.append("</section>")
    return "\n".join(parts)


def build_report(run_dir: str | os.PathLike) -> Path:
    """Write ``run_dir/report.html`` from the run store and return its path.

    ``run_dir`` is either a run store holding law directories (``lmech check --out``)
    or a single law directory. Laws whose directories cannot be read are listed as
    *unreadable* rather than failing the whole report.

    Raises:
        StoreError: ``run_dir`` holds no readable law run.
    """
    run_dir = Path(run_dir)
    runs, problems = _load(run_dir)
    counts = {
        s: sum(r["verdict"].status == s for r in runs)
        for s in ("passed", "failed", "skipped", "error", "smoke")
    }
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    version = _distinct(runs, lambda m: m["environment"]["lmech"])
    device = _distinct(runs, lambda m: m["device"])
    title = f"lmech report: {run_dir.resolve().name}"
    body = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_esc(title)}</h1>",
        f'<p class="meta">generated {_esc(generated)} &middot; lmech {_esc(version)} '
        f"&middot; device {_esc(device)} &middot; {_esc(summary)}</p>",
        "<h2>Verdicts</h2>",
        _verdict_table(runs, problems),
        *(_law_section(run) for run in runs),
        "</body>",
        "</html>",
    ]
    out = run_dir / REPORT
    atomic_write_text(out, "\n".join(body) + "\n")
    return out


def _md_cell(text: Any) -> str:
    return " ".join(str(text).splitlines()).replace("|", "\\|")


def render_markdown_summary(run_dir: str | os.PathLike) -> str:
    """A Markdown table of the verdicts in ``run_dir`` (read from the store only)."""
    runs, problems = _load(Path(run_dir))
    lines = [
        "| law | status | metric | value | tolerance | detail | runtime (s) |",
        "| --- | --- | --- | ---: | ---: | --- | ---: |",
    ]
    for run in runs:
        m, v = run["manifest"], run["verdict"]
        cells = [
            m.get("law", run["dir"].name),
            v.label,
            "; ".join(c.statistic for c in v.checks),
            "; ".join(_fmt(c.value) for c in v.checks),
            "; ".join(_bound(c) for c in v.checks),
            v.detail,
            _fmt(_runtime(m)),
        ]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    for path, reason in problems:
        lines.append(f"| {_md_cell(path.name)} | unreadable | | | | {_md_cell(reason)} | |")
    return "\n".join(lines) + "\n"

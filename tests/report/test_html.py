"""Tests of the HTML report and Markdown summary, built from a run store only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from lmech.errors import StoreError
from lmech.laws.base import Verdict
from lmech.report import build_report, render_markdown_summary
from lmech.runs.store import LawRunWriter


@dataclass(frozen=True)
class ToySpec:
    n: int = 8
    label: str = "<b>not bold</b>"


def _write(out, name, verdict, *, rows=5, claim=None, source=None, figure=True):
    theory = pd.DataFrame({"n": np.arange(rows), "risk": np.linspace(1.0, 0.1, rows)})
    experiment = theory.assign(risk=theory["risk"] * 1.01)
    env = {"lmech": "9.9.9-test"}
    with LawRunWriter(
        out,
        name,
        preset="quick",
        spec=ToySpec(),
        seed=0,
        device="cpu",
        claim=claim,
        source=source,
        environment=env,
    ) as run:
        run.timings.update(theory=0.25, experiment=1.0)
        run.write_theory(theory)
        if verdict.status != "skipped":
            run.write_experiment(experiment)
        run.write_verdict(verdict)
        if figure:
            fig = Figure(figsize=(2, 1.5))
            fig.add_subplot().plot([0, 1], [1, 0])
            run.write_figure(fig)
    return out / name


@pytest.fixture
def check_dir(tmp_path):
    out = tmp_path / "runs"
    _write(
        out,
        "alpha",
        Verdict.from_metric("rel_err", 0.0123, 0.05),
        rows=50,
        claim="risk <falls> & saturates",
        source="Doe (2020), eq. (3)",
    )
    _write(out, "beta", Verdict.from_metric("r2", 0.5, 0.9, higher_is_better=True))
    _write(out, "gamma", Verdict.skipped("rel_err", 0.05, "data missing"), figure=False)
    return out


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _parse(text):
    parser = _Collector()
    parser.feed(text)
    return parser.tags


def test_report_of_a_check_dir(check_dir):
    path = build_report(check_dir)
    assert path == check_dir / "report.html"
    text = path.read_text(encoding="utf-8")
    tags = _parse(text)
    # self-contained: no external resources
    assert not [t for t, a in tags if t in ("link", "script")]
    srcs = [a["src"] for t, a in tags if t == "img"]
    assert len(srcs) == 2 and all(s.startswith("data:image/png;base64,") for s in srcs)
    # verdict values, tolerances, statuses with their colour classes
    assert "0.0123" in text and "\u2264 0.05" in text and "\u2265 0.9" in text
    for status in ("passed", "failed", "skipped"):
        assert f'class="status {status}"' in text
    assert "9.9.9-test" in text and "device cpu" in text
    assert "1.25" in text  # runtime: sum of timings
    # claim and source, escaped
    assert "risk &lt;falls&gt; &amp; saturates" in text and "Doe (2020), eq. (3)" in text
    assert "<falls>" not in text and "<b>not bold</b>" not in text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in text
    # spec in a collapsible block; tables cut at 30 rows
    assert text.count("<details>") >= 3
    assert "first 30 of 50 rows" in text
    body = re.search(r'id="law-alpha".*?</section>', text, re.S).group(0)
    rows = len(re.findall(r"<tr[ >]", body))
    assert rows == (1 + 2) + (1 + 30) * 2  # spec (header + 2 fields) + tables (header + 30)
    assert list(check_dir.glob(".tmp-*")) == []


def test_report_of_a_single_law_dir(check_dir):
    path = build_report(check_dir / "beta")
    text = path.read_text(encoding="utf-8")
    assert path == check_dir / "beta" / "report.html"
    assert "beta" in text and "alpha" not in text
    assert "data:image/png;base64," in text
    # the law dir stays readable as one
    assert build_report(check_dir / "beta") == path


def test_report_lists_unreadable_law_dirs(check_dir):
    (check_dir / "beta" / "theory.parquet").write_bytes(b"garbage")
    text = build_report(check_dir).read_text(encoding="utf-8")
    assert 'class="status unreadable"' in text and "alpha" in text


def test_report_without_runs_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="no law runs"):
        build_report(tmp_path)


def test_markdown_summary(check_dir):
    md = render_markdown_summary(check_dir)
    lines = md.strip().splitlines()
    assert lines[0].startswith("| law | status |")
    assert len(lines) == 2 + 3
    assert "| alpha | passed | rel_err | 0.0123 | \u2264 0.05 |" in md
    assert "| beta | failed | r2 | 0.5 | \u2265 0.9 |" in md
    assert "| gamma | skipped | rel_err | \u2014 |" in md

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
from lmech.report import build_report, render_markdown_summary, write_report
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
    return run.final_dir


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
    body = re.search(r'id="point-alpha-[0-9a-f]{16}".*?</section>', text, re.S).group(0)
    rows = len(re.findall(r"<tr[ >]", body))
    assert rows == (1 + 2) + (1 + 30) * 2  # spec (header + 2 fields) + tables (header + 30)
    assert list(check_dir.glob(".tmp-*")) == []
    assert list(check_dir.glob("*/.tmp-*")) == []


def _point(check_dir, law):
    [point] = (check_dir / law).iterdir()
    return point


def test_report_of_a_single_point_and_of_a_law_folder(check_dir):
    point = _point(check_dir, "beta")
    path = build_report(point)
    text = path.read_text(encoding="utf-8")
    assert path == point / "report.html"
    assert "beta" in text and "alpha" not in text
    assert "data:image/png;base64," in text
    # the point stays valid with a report beside its files, and readable as one
    assert build_report(point) == path
    text = build_report(check_dir / "beta").read_text(encoding="utf-8")
    assert 'class="status invalid"' not in text and "alpha" not in text


def test_report_lists_invalid_points_and_embeds_nothing_of_them(check_dir):
    (_point(check_dir, "beta") / "theory.parquet").write_bytes(b"garbage")
    report = write_report(check_dir)
    text = report.path.read_text(encoding="utf-8")
    assert 'class="status invalid"' in text and "alpha" in text
    assert "theory.parquet has 7 bytes, the manifest recorded" in text
    assert [p.law for p in report.invalid] == ["beta"]
    assert len([t for t, a in _parse(text) if t == "img"]) == 1  # alpha's figure only


def test_report_never_embeds_a_symlinked_figure(check_dir, tmp_path):
    secret = tmp_path / "private.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n" + b"SECRET-BYTES" * 50)
    fig = _point(check_dir, "alpha") / "figure.png"
    fig.unlink()
    fig.symlink_to(secret)
    report = write_report(check_dir)
    text = report.path.read_text(encoding="utf-8")
    import base64

    assert base64.b64encode(secret.read_bytes())[:40].decode() not in text
    assert "SECRET" not in text
    assert "figure.png is a symbolic link; refused" in text
    assert [p.law for p in report.invalid] == ["alpha"]


def test_report_of_only_invalid_points_is_still_written(check_dir):
    for law in ("alpha", "beta", "gamma"):
        (_point(check_dir, law) / "manifest.json").write_text("{corrupt")
    report = write_report(check_dir)
    assert len(report.invalid) == 3 and report.valid == []
    text = report.path.read_text(encoding="utf-8")
    assert text.count('class="status invalid"') == 3 and "manifest.json is corrupt" in text


def test_report_without_runs_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="no law runs"):
        build_report(tmp_path)
    with pytest.raises(StoreError, match="does not exist"):
        build_report(tmp_path / "missing")


def test_markdown_summary(check_dir):
    md = render_markdown_summary(check_dir)
    lines = md.strip().splitlines()
    assert lines[0].startswith("| law | point | status |")
    assert len(lines) == 2 + 3
    assert "| alpha | quick, seed 0, cpu | passed | rel_err | 0.0123 | \u2264 0.05 |" in md
    assert "| beta | quick, seed 0, cpu | failed | r2 | 0.5 | \u2265 0.9 |" in md
    assert "| gamma | quick, seed 0, cpu | skipped | rel_err | \u2014 |" in md


def test_report_header_shows_versions_device_and_commit(tmp_path):
    out = tmp_path / "runs"
    env = {
        "lmech": "9.9.9-test",
        "torch": "8.8.8-test",
        "numpy": "7.7.7-test",
        "device": "cpu",
        "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": True},
    }
    with LawRunWriter(
        out, "alpha", preset="quick", spec=ToySpec(), seed=0, device="cpu", environment=env
    ) as run:
        frame = pd.DataFrame({"n": [1, 2], "risk": [1.0, 0.5]})
        run.write_theory(frame)
        run.write_experiment(frame)
        run.write_verdict(Verdict.from_metric("rel_err", 0.01, 0.05))
    text = build_report(out).read_text(encoding="utf-8")
    meta = re.search(r'<p class="meta">(.*?)</p>', text, re.S).group(1)
    for needle in (
        "lmech 9.9.9-test",
        "torch 8.8.8-test",
        "numpy 7.7.7-test",
        "device cpu",
        "commit 0123456789ab+dirty",
    ):
        assert needle in meta, meta


def test_report_header_says_unknown_without_git_state(check_dir):
    text = build_report(check_dir).read_text(encoding="utf-8")
    meta = re.search(r'<p class="meta">(.*?)</p>', text, re.S).group(1)
    assert "commit unknown" in meta and "torch unknown" in meta


def test_figures_enlarge_on_click_without_scripts(check_dir):
    text = build_report(check_dir).read_text(encoding="utf-8")
    imgs = [a for t, a in _parse(text) if t == "img"]
    # focusable (a click focuses), and the stylesheet enlarges a focused figure
    assert imgs and all(a.get("tabindex") == "0" for a in imgs)
    rule = re.search(r"img\.figure:focus \{(.*?)\}", text, re.S).group(1)
    assert "position: fixed" in rule and "max-width: 98vw" in rule
    assert "<script" not in text

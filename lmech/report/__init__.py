"""Reports built from the run store only: the HTML report and a Markdown summary."""

from __future__ import annotations

from lmech.report.html import build_report, render_markdown_summary, write_report

__all__ = ["build_report", "render_markdown_summary", "write_report"]

"""The ``lmech`` command: list laws, check them, run one with overrides, rebuild reports.

Exit status: 0 when every law passes (skipped laws do not fail a check), 1 when a law
fails, 2 on usage or input errors (printed as one line, no traceback).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lmech import __version__
from lmech.errors import ConfigError, LmechError
from lmech.fit.cli import app as fit_app
from lmech.predict_cli import predict_cmd

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="lmech: runnable, falsifiable theories of deep learning, checked against real runs.",
    pretty_exceptions_enable=False,
)
app.add_typer(fit_app, name="fit")
app.command("predict")(predict_cmd)
# piped output (CI logs, `| tee`) gets a wide page instead of rich's 80 columns, so that
# check names and values stay on one line; $COLUMNS still wins when set
_PIPE_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
out_console = Console(width=_PIPE_WIDTH)
err_console = Console(stderr=True)

_STATUS_STYLE = {
    "passed": "bold green",
    "failed": "bold red",
    "skipped": "dim",
    "error": "bold magenta",
    "smoke": "bold blue",
}


def _default_out(prefix: str) -> Path:
    return Path("lmech-runs") / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


def _parse_sets(items: list[str] | None) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--set expects key=value; got {item!r}")
        overrides[key.strip()] = value
    return overrides


def _progress_factory(progress: Progress):
    def factory(description: str, total: int):
        task = progress.add_task(description, total=total)

        def advance(k: int = 1) -> None:
            progress.advance(task, k)

        def close() -> None:
            progress.remove_task(task)

        return advance, close

    return factory


def _run_check(names, preset, seed, device, out, overrides=None) -> int:
    from lmech import progress as lm_progress
    from lmech.runs.execute import check

    title = f"lmech check — preset {preset}, seed {seed}"
    if preset == "smoke":
        title += " (smoke runs every code path; its numbers are not verdicts)"
    table = Table(title=title, show_lines=False)
    table.add_column("law", no_wrap=True, style="bold")
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("bound", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        current = {}
        details: list[tuple[str, str]] = []

        def on_start(name: str) -> None:
            current["task"] = bar.add_task(f"{name}", total=None)

        def on_result(r) -> None:
            bar.remove_task(current.pop("task"))
            v = r.verdict
            style = _STATUS_STYLE.get(v.status, "")
            took = "reused" if r.reused else f"{r.seconds:.1f}s"
            for i, c in enumerate(v.checks):  # one row per declared check
                mark = "" if v.status in ("skipped", "error") else (" ✓" if c.passed else " ✗")
                table.add_row(
                    r.law if i == 0 else "",
                    f"[{style}]{v.label}[/]" if i == 0 else "",
                    c.statistic + mark,
                    "—" if c.value != c.value else f"{c.value:.4g}",
                    f"{c.op} {c.bound:.4g}",
                    took if i == 0 else "",
                )
            details.append((r.law, v.detail))

        with lm_progress.use(_progress_factory(bar)):
            results = check(
                names,
                preset=preset,
                seed=seed,
                device=device,
                out_dir=out,
                overrides=overrides,
                on_start=on_start,
                on_result=on_result,
            )
    out_console.print(table)
    for law, detail in details:  # below the table: it stays readable in narrow terminals
        if detail:
            out_console.print(f"[bold]{law}[/]: {escape(detail)}", highlight=False)
    if any(r.path for r in results):
        from lmech.report.html import build_report

        out_console.print(f"report: {build_report(out)}")
    failed = [r.law for r in results if r.verdict.status in ("failed", "error")]
    return 1 if failed else 0


@app.command("laws")
def laws_cmd(
    tag: Annotated[str | None, typer.Option(help="only laws with this tag")] = None,
) -> None:
    """List the registered laws with their claim, source and tolerance."""
    from lmech.laws import registry

    table = Table(title="lmech laws", show_lines=True)
    table.add_column("law", no_wrap=True, style="bold")
    table.add_column("claim", overflow="fold", ratio=3)
    table.add_column("pass criterion", overflow="fold", ratio=1)
    table.add_column("source", overflow="fold", ratio=2)
    table.add_column("tags", overflow="fold", ratio=1)
    for law in registry.all_laws(tag):
        table.add_row(
            law.name,
            escape(law.claim),
            law.text,
            law.source,
            ", ".join(law.tags),
        )
    out_console.print(table)


@app.command("check")
def check_cmd(
    laws: Annotated[list[str] | None, typer.Argument(help="laws to check (default: all)")] = None,
    preset: Annotated[str, typer.Option(help="smoke | quick | paper")] = "quick",
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    out: Annotated[Path | None, typer.Option(help="run directory (reused to resume)")] = None,
    seed: Annotated[int, typer.Option(help="seed of every random draw")] = 0,
    tag: Annotated[str | None, typer.Option(help="only laws with this tag")] = None,
) -> None:
    """Run theory + experiment + compare for laws; print verdicts; write the run store."""
    from lmech.laws import registry

    names = list(laws or registry.names())
    if tag is not None:
        names = [n for n in names if tag in registry.get(n).tags]
        if not names:
            known = sorted({t for law in registry.all_laws() for t in law.tags})
            raise ConfigError(f"no law has tag {tag!r}; tags in use: {', '.join(known)}")
    code = _run_check(names, preset, seed, device, out or _default_out(f"check-{preset}"))
    raise typer.Exit(code)


@app.command("run")
def run_cmd(
    law: Annotated[str, typer.Argument(help="the law to run")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="override a spec field: key=value")
    ] = None,
    preset: Annotated[str, typer.Option(help="smoke | quick | paper (the base spec)")] = "quick",
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    out: Annotated[Path | None, typer.Option(help="run directory")] = None,
    seed: Annotated[int, typer.Option(help="seed of every random draw")] = 0,
) -> None:
    """Run one law with typed overrides of its spec (unknown keys are an error)."""
    overrides = _parse_sets(set_)
    code = _run_check([law], preset, seed, device, out or _default_out(f"run-{law}"), overrides)
    raise typer.Exit(code)


@app.command("report")
def report_cmd(run_dir: Annotated[Path, typer.Argument(help="a run directory")]) -> None:
    """Rebuild report.html from a run store alone (nothing is recomputed)."""
    from lmech.report.html import build_report

    path = build_report(run_dir)
    out_console.print(f"report: {path}")


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="print the version")] = False,
) -> None:
    if version:
        out_console.print(f"lmech {__version__}")
        raise typer.Exit(0)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: LmechError -> one line on stderr, exit status 2."""
    try:
        # with standalone_mode=False an Exit(code) comes back as the return value
        code = app(args=argv, standalone_mode=False)
    except LmechError as err:
        err_console.print(
            f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True
        )
        return err.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted; rerun with the same --out to resume")
        return 130
    except Exception as exc:
        # usage errors (click's ClickException, vendored by newer typer): they print
        # themselves and carry exit code 2; matched by duck type to avoid private imports
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            return int(exc.exit_code)
        if type(exc).__name__ == "Abort":
            return 130
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

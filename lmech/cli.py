"""The ``lmech`` command: list laws, check them, run one with overrides, list the points
of a run store, rebuild reports.

Exit status: 0 when every law passes (skipped laws do not fail a check), 1 when a law
fails (or, for ``lmech report``, when the store holds an invalid point), 2 on usage or
input errors (printed as one line, no traceback), 130 on Ctrl-C: the point in flight
is discarded, the report of what finished is written and the command says how to resume.

``--out`` defaults to one store, ``lmech-runs``: every point is kept under its key, so
rerunning a command reuses what it computed before (see :mod:`lmech.runs.store`).
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lmech import __version__
from lmech.embeddings_cli import embeddings_cmd
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
app.command("embeddings")(embeddings_cmd)
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


DEFAULT_STORE = Path("lmech-runs")
_RESUME = "interrupted; rerun with the same --out to resume"


def _parse_sets(items: list[str] | None) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError(f"--set expects key=value (e.g. --set trials=10); got {item!r}")
        if key in overrides:
            raise ConfigError(
                f"--set {key} is given twice ({overrides[key]!r} and {value!r}); give each key once"
            )
        overrides[key] = value
    return overrides


def _parse_seed(text: str) -> int:
    from lmech.seeding import check_seed

    try:
        value = int(str(text).strip(), 10)
    except ValueError:
        raise ConfigError(
            f"--seed must be an integer in [0, 2^63 - 1]; got {text!r}; pass e.g. --seed 0"
        ) from None
    return check_seed(value, "--seed")


def _check_tag(tag: str | None) -> None:
    from lmech.laws import registry

    if tag is not None and not registry.names(tag):
        known = sorted({t for law in registry.all_laws() for t in law.tags})
        raise ConfigError(f"no law has tag {tag!r}; tags in use: {', '.join(known)}")


def _progress_factory(progress: Progress):
    def factory(description: str, total: int):
        task = progress.add_task(description, total=total)

        def advance(k: int = 1) -> None:
            progress.advance(task, k)

        def close() -> None:
            progress.remove_task(task)

        return advance, close

    return factory


def _progress(live: bool) -> Progress:
    """The progress display of check and sweep on stderr (off unless it is a terminal)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not live,
    )


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _check_json(v) -> list[dict]:
    return [{**c.to_dict(), "bound": _finite(c.bound)} for c in v.checks]


def _run_check(
    names, preset, seed, device, out, overrides=None, *, workers=1, as_json=False
) -> int:
    from lmech import progress as lm_progress
    from lmech.runs.execute import CheckInterrupted, check, plan

    # everything typed is validated before the progress display starts
    checked = plan(names, preset=preset, seed=seed, device=device, out_dir=out, overrides=overrides)
    out = checked.out
    title = f"lmech check — preset {preset}, seed {seed}"
    if preset == "smoke":
        title += " (smoke runs every code path; its numbers are not verdicts)"
    if workers > 1:
        title += f", {workers} workers"
    table = Table(title=title, show_lines=False)
    table.add_column("law", no_wrap=True, style="bold")
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("bound", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)

    interrupted = False
    tracker = lm_progress.Tracker(len(checked.laws))
    # a terminal gets a live display; anything else (a log, a pipe) one plain line per law
    live = sys.stdout.isatty() and err_console.is_terminal
    with _progress(live) as bar:
        tasks: dict[str, int] = {}
        overall = bar.add_task(f"laws: {tracker.summary()}", total=tracker.total)

        def say(text: str) -> None:
            if not live:
                err_console.print(escape(text), highlight=False, soft_wrap=True)

        def on_start(name: str) -> None:
            say(f"{name} started; {tracker.done}/{tracker.total} done, {tracker.summary()}")
            if name in tasks:
                bar.update(tasks[name], description=name)
            else:
                tasks[name] = bar.add_task(name, total=None)

        def on_wait(name: str, holder: str) -> None:
            text = f"{name}: waiting for {holder}"
            say(text)
            if name in tasks:
                bar.update(tasks[name], description=escape(text))
            else:
                tasks[name] = bar.add_task(escape(text), total=None)

        def on_result(r) -> None:
            tracker.finish()
            if r.law in tasks:
                bar.remove_task(tasks.pop(r.law))
            bar.update(overall, completed=tracker.done, description=f"laws: {tracker.summary()}")
            say(tracker.line(r.law, r.verdict.label, None if r.reused else r.seconds))

        with lm_progress.use(_progress_factory(bar)):
            try:
                results = check(
                    checked,
                    on_start=on_start,
                    on_result=on_result,
                    on_wait=on_wait,
                    workers=workers,
                )
            except CheckInterrupted as exc:
                results, interrupted = exc.results, True

    details: list[tuple[str, str]] = []
    for r in results:
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
        for text in (v.detail, r.note):
            if text:
                details.append((r.law, text))
    # with --json stdout holds the JSON document alone; the table goes nowhere
    if results and not as_json:
        out_console.print(table)
    for law, detail in details if not as_json else []:  # below the table: stays readable
        out_console.print(f"[bold]{law}[/]: {escape(detail)}", highlight=False)
    report = None
    if any(r.path for r in results):
        from lmech.report.html import write_report

        try:
            report = write_report(out)
        except LmechError as err:
            if not interrupted:
                raise
            err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
    if report is not None:
        if not as_json:
            out_console.print(f"report: {escape(str(report.path))}", highlight=False)
        if report.invalid:
            err_console.print(
                f"warning: {len(report.invalid)} invalid point(s) in {escape(str(out))} "
                f"(see `lmech runs {escape(str(out))}`)",
                highlight=False,
                soft_wrap=True,
            )
    failed = [r.law for r in results if r.verdict.status in ("failed", "error")]
    code = 130 if interrupted else (1 if failed else 0)
    if as_json:
        doc = {
            "preset": preset,
            "seed": seed,
            "device": checked.device,
            "out": str(out),
            "workers": workers,
            "interrupted": interrupted,
            "exit_status": code,
            "elapsed_s": round(tracker.elapsed(), 3),
            "report": None if report is None else str(report.path),
            "laws": [
                {
                    "law": r.law,
                    "status": r.verdict.status,
                    "label": r.verdict.label,
                    "checks": _check_json(r.verdict),
                    "detail": r.verdict.detail,
                    "note": r.note,
                    "seconds": round(r.seconds, 3),
                    "reused": r.reused,
                    "key": r.key,
                    "point": None if r.path is None else str(r.path),
                }
                for r in results
            ],
        }
        _print_json(doc)
    if interrupted:
        err_console.print(_RESUME, highlight=False)
    return code


def _print_json(doc) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


def _prestart_workers(workers: int) -> None:
    """Start the worker pool's fork server before planning, so that its imports run
    beside the driver's (see :func:`lmech.runs.pool.prestart`)."""
    from lmech.runs.pool import prestart

    prestart(workers)


def _parse_workers(text: str) -> int:
    """``auto`` ($LMECH_WORKERS, else one worker per core) or an integer >= 1."""
    from lmech.runs.pool import cpu_count

    text = str(text).strip()
    if text == "auto":
        text = os.environ.get("LMECH_WORKERS", "").strip() or str(cpu_count())
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(
            f"--workers must be auto or an integer >= 1 (this machine has {cpu_count()} "
            f"cores); got {text!r}; pass e.g. --workers 2"
        )
    return value


@app.command("laws")
def laws_cmd(
    tag: Annotated[str | None, typer.Option(help="only laws with this tag")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the laws as JSON")] = False,
) -> None:
    """List the registered laws with their claim, source and tolerance."""
    from lmech.laws import registry

    _check_tag(tag)
    if as_json:
        _print_json(
            [
                {
                    "name": law.name,
                    "claim": law.claim,
                    "source": law.source,
                    "tags": list(law.tags),
                    "expected_failure": law.criterion.expected_failure,
                    "checks": [
                        {
                            "statistic": c.statistic,
                            "op": c.op,
                            "bound": _finite(c.bound),
                            "why": c.why,
                        }
                        for c in law.criterion.checks
                    ],
                }
                for law in registry.all_laws(tag)
            ]
        )
        return
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
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N")] = "auto",
    out: Annotated[str, typer.Option(help="run store (points are kept and reused by key)")] = str(
        DEFAULT_STORE
    ),
    seed: Annotated[str, typer.Option(help="seed of every random draw, 0 <= N < 2^63")] = "0",
    tag: Annotated[str | None, typer.Option(help="only laws with this tag")] = None,
    workers: Annotated[
        str,
        typer.Option(
            help="worker processes running laws in parallel: auto = $LMECH_WORKERS, else one "
            "per core (each with cores/workers BLAS threads)"
        ),
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON")] = False,
) -> None:
    """Run theory + experiment + compare for laws; print verdicts; write the run store."""
    from lmech.laws import registry

    seed_value = _parse_seed(seed)
    worker_count = _parse_workers(workers)
    _prestart_workers(worker_count if laws is None or len(laws) > 1 else 1)
    _check_tag(tag)
    names = [registry.get(n).name for n in laws] if laws else registry.names()
    if tag is not None:
        names = [n for n in names if tag in registry.get(n).tags]
        if not names:
            raise ConfigError(f"none of the laws named has tag {tag!r}; drop --tag or the names")
    raise typer.Exit(
        _run_check(names, preset, seed_value, device, out, workers=worker_count, as_json=as_json)
    )


@app.command("run")
def run_cmd(
    law: Annotated[str, typer.Argument(help="the law to run")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="override a spec field: key=value")
    ] = None,
    preset: Annotated[str, typer.Option(help="smoke | quick | paper (the base spec)")] = "quick",
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N")] = "auto",
    out: Annotated[str, typer.Option(help="run store (points are kept and reused by key)")] = str(
        DEFAULT_STORE
    ),
    seed: Annotated[str, typer.Option(help="seed of every random draw, 0 <= N < 2^63")] = "0",
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Run one law with typed overrides of its spec (unknown keys are an error)."""
    seed_value = _parse_seed(seed)
    overrides = _parse_sets(set_)
    raise typer.Exit(_run_check([law], preset, seed_value, device, out, overrides, as_json=as_json))


def _point_label(law: str, values: dict, seed: int) -> str:
    shown = " ".join(f"{k}={v}" for k, v in values.items())
    return f"{law} {shown} seed {seed}".replace("  ", " ")


@app.command("sweep")
def sweep_cmd(
    law: Annotated[str, typer.Argument(help="the law to sweep")],
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            help="a swept spec field: key=v1,v2 | key=log:START:STOP:N | key=lin:START:STOP:N "
            "(tuple fields: values separated by ';'); repeat for a grid",
        ),
    ] = None,
    seeds: Annotated[
        str, typer.Option(help="N (seeds 0..N-1), a list like 0,3,7, or K, for seed K alone")
    ] = "1",
    preset: Annotated[str, typer.Option(help="smoke | quick | paper (the base spec)")] = "quick",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="a fixed override of the base spec: key=value")
    ] = None,
    executor: Annotated[str, typer.Option(help="local (a process pool) | ray")] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster HOST:PORT (default: start a local one)")
    ] = None,
    workers: Annotated[
        str, typer.Option(help="worker processes (local) or CPUs of a local Ray instance")
    ] = "1",
    retries: Annotated[
        int, typer.Option(help="times a point is retried when its worker process dies")
    ] = 2,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N")] = "auto",
    out: Annotated[str, typer.Option(help="run store (points are kept and reused by key)")] = str(
        DEFAULT_STORE
    ),
    as_json: Annotated[bool, typer.Option("--json", help="print the sweep as JSON")] = False,
) -> None:
    """Run one law over a grid of spec values and seeds; every point goes into the store,
    and a rerun skips the points already finished.

    Exit status 0 when every point has a verdict (failed verdicts are results of the
    sweep), 1 when a point errored or a finished point does not verify in the store.
    """
    from lmech import progress as lm_progress
    from lmech.report.sweep import meta_of, sweep_figures, write_sweep_report
    from lmech.runs.store import environment_info
    from lmech.runs.sweep import SweepInterrupted, lost_points, plan_sweep, run_sweep, sweep_table

    worker_count = _parse_workers(workers)
    if retries < 0 or retries > 100:
        raise ConfigError(f"--retries must be in 0..100; got {retries}")
    if executor not in ("local", "ray"):
        raise ConfigError(f"--executor must be local or ray; got {executor!r}")
    if address is not None and executor != "ray":
        raise ConfigError("--address applies to --executor ray only; add --executor ray")
    if executor == "local":
        _prestart_workers(worker_count)
    plan = plan_sweep(
        law,
        grid or [],
        seeds=seeds,
        preset=preset,
        device=device,
        out_dir=out,
        overrides=_parse_sets(set_),
    )
    tracker = lm_progress.Tracker(len(plan.points))
    live = sys.stdout.isatty() and err_console.is_terminal
    interrupted = False
    with _progress(live) as bar:
        overall = bar.add_task(f"{plan.law.name}: {tracker.summary()}", total=tracker.total)

        def on_result(point, r) -> None:
            tracker.finish()
            bar.update(
                overall, completed=tracker.done, description=f"{plan.law.name}: {tracker.summary()}"
            )
            if not live:
                label = _point_label(plan.law.name, point.values, point.seed)
                line = tracker.line(label, r.verdict.label, None if r.reused else r.seconds)
                if r.note:
                    line += f" ({r.note})"
                err_console.print(escape(line), highlight=False, soft_wrap=True)

        try:
            result = run_sweep(
                plan,
                executor=executor,
                workers=worker_count,
                address=address,
                retries=retries,
                on_result=on_result,
            )
        except SweepInterrupted as exc:
            interrupted = True
            err_console.print(
                f"interrupted after {len(exc.results)} of {len(plan.points)} points; "
                "rerun the same command to resume",
                highlight=False,
            )
            raise typer.Exit(130) from None
    table = sweep_table(result)
    env = environment_info(plan.device)
    meta = meta_of(plan, env)
    figures = sweep_figures(table, [a.key for a in plan.axes], plan.law.criterion.checks)
    if plan.law.sweep_figure is not None:
        try:
            figures = {"sweep": plan.law.sweep_figure(table), **figures}
        except LmechError as err:  # the points are stored; only the law's own figure is lost
            err_console.print(f"warning: no sweep figure: {err}", highlight=False)
    report = write_sweep_report(plan.folder, table, meta, figures)
    lost = lost_points(result)
    recomputed = result.recomputed
    counts = (
        f"{len(plan.points)} points: computed {result.computed}, reused {result.reused} "
        f"(found in the store {result.found}), retried {result.retried}, "
        f"recomputed {recomputed}, lost {len(lost)}"
    )
    # a failed verdict is data in a sweep (a phase diagram crosses the boundary); an
    # errored or lost point is not
    errored = [r for r in result.results if r.verdict.status == "error"]
    code = 130 if interrupted else (1 if errored or lost else 0)
    if as_json:
        _print_json(
            {
                "law": plan.law.name,
                "preset": preset,
                "executor": executor,
                "workers": worker_count,
                "device": plan.device,
                "out": str(plan.out),
                "sweep": str(plan.folder),
                "report": str(report),
                "points": len(plan.points),
                "computed": result.computed,
                "reused": result.reused,
                "found": result.found,
                "retried": result.retried,
                "recomputed": recomputed,
                "lost": len(lost),
                "elapsed_s": round(result.seconds, 3),
                "exit_status": code,
                "table": json.loads(table.to_json(orient="records")),
            }
        )
    else:
        shown = table.drop(columns=["key", "note", "path"], errors="ignore")
        out_console.print(shown.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
        out_console.print(f"report: {escape(str(report))}", highlight=False)
    err_console.print(counts, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.command("report")
def report_cmd(
    run_dir: Annotated[str, typer.Argument(help="a run store (the --out of lmech check)")] = (
        str(DEFAULT_STORE)
    ),
) -> None:
    """Rebuild report.html from a run store alone (nothing is recomputed).

    Exit status 1 when a point is invalid (it is a row saying why).
    """
    from lmech.report.html import write_report

    report = write_report(run_dir)
    for point in report.invalid:
        err_console.print(
            f"invalid point {escape(str(point.path))}: {escape(point.problem or '')}",
            highlight=False,
            soft_wrap=True,
        )
    out_console.print(f"report: {escape(str(report.path))}", highlight=False)
    raise typer.Exit(1 if report.invalid else 0)


@app.command("runs")
def runs_cmd(
    run_dir: Annotated[str, typer.Argument(help="a run store (the --out of lmech check)")] = (
        str(DEFAULT_STORE)
    ),
    as_json: Annotated[bool, typer.Option("--json", help="print the points as JSON")] = False,
) -> None:
    """List the points of a run store with their status (each point is verified)."""
    from lmech.runs.store import index_records

    records = index_records(run_dir)
    if as_json:
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
        sys.stdout.flush()
        return
    table = Table(title=f"lmech runs — {escape(str(run_dir))}", show_lines=False)
    for col in ("law", "preset", "seed", "device", "status", "checks", "point"):
        table.add_column(col, overflow="fold", no_wrap=col in ("law", "status", "point"))
    for r in records:
        style = _STATUS_STYLE.get(r["status"], "bold yellow")
        status = f"[{style}]{r['status']}[/]"
        checks = escape(r["problem"] if r["status"] == "invalid" else r["checks"])
        table.add_row(
            escape(r["law"]),
            escape(str(r["preset"] or "")),
            "" if r["seed"] is None else str(r["seed"]),
            escape(str(r["device"] or "")),
            status,
            checks,
            escape(r["key"]),
        )
    out_console.print(table)
    counts: dict[str, int] = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    out_console.print(f"{len(records)} points" + (f": {summary}" if summary else ""))


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
        err_console.print(_RESUME, highlight=False)
        return 130
    except Exception as exc:
        # usage errors (click's ClickException, vendored by newer typer) become one
        # `error:` line with their exit code (2); matched by duck type, no private imports
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            fmt = getattr(exc, "format_message", None)
            if type(exc).__name__ == "NoArgsIsHelpError" or not callable(fmt):
                show()  # `lmech` alone prints the help
                return int(exc.exit_code)
            names, ctx = [], getattr(exc, "ctx", None)
            while ctx is not None:
                names.append(str(getattr(ctx, "info_name", "") or ""))
                ctx = getattr(ctx, "parent", None)
            command = " ".join(["lmech", *reversed(names[:-1])])  # the root is `lmech`
            err_console.print(
                f"[bold red]error:[/] {escape(' '.join(str(fmt()).split()))} "
                f"(see `{escape(command)} --help`)",
                highlight=False,
                soft_wrap=True,
            )
            return int(exc.exit_code)
        if type(exc).__name__ == "Abort":  # click turns Ctrl-C into Abort
            err_console.print(_RESUME, highlight=False)
            return 130
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

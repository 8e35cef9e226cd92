"""The `lmech` command end to end: exit codes, one-line errors, run store, resume."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from lmech.cli import main
from lmech.laws import registry
from lmech.laws.base import PRESETS, Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.spec import LawSpec, param
from lmech.runs import store

LMECH = [sys.executable, "-m", "lmech.cli"]


def run_cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err):
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:") and "Traceback" not in err
    return lines[0]


def _points(out_dir: Path, law: str | None = None, *, valid: bool = True) -> list[Path]:
    """The point folders in a store (of one law), valid ones only by default."""
    if not out_dir.is_dir():
        return []
    pts = [store.read_point(p, keep_data=False) for p in store.list_points(out_dir)]
    return [p.path for p in pts if (law is None or p.law == law) and (p.valid or not valid)]


def _leftovers(out_dir: Path) -> list[Path]:
    """lmech temporaries and locks anywhere in a store."""
    return [p for p in out_dir.rglob(".*") if p.name.startswith((".tmp-lmech-", ".lock-lmech-"))]


def test_laws_lists_every_law(capsys):
    code, out, _ = run_cli(["laws"], capsys)
    assert code == 0
    assert "eigenlearning-synthetic" in out and "eigenlearning-digits" in out


def test_check_smoke_writes_store_and_report(tmp_path, capsys):
    out_dir = tmp_path / "runs"
    code, out, _ = run_cli(
        ["check", "--preset", "smoke", "--out", str(out_dir), "--device", "cpu"], capsys
    )
    assert code == 0, out  # smoke runs exercise paths; they are not verdicts and never fail
    assert "not a verdict" in out
    skipped = set()
    for law in registry.names():
        [d] = _points(out_dir, law)
        status = json.loads((d / "verdict.json").read_text())["status"]
        assert status in ("smoke", "skipped"), (law, status)
        if status == "skipped":
            skipped.add(law)  # data missing on this machine: no tables or figure to check
            continue
        for name in (
            "manifest.json",
            "theory.parquet",
            "experiment.parquet",
            "verdict.json",
            "figure.png",
            "figure.svg",
        ):
            assert (d / name).is_file(), name
        manifest = json.loads((d / "manifest.json").read_text())
        assert manifest["seed"] == 0 and manifest["preset"] == "smoke"
        assert {"numpy", "torch", "lmech"} <= set(manifest["environment"])
    html = (out_dir / "report.html").read_text()
    assert "data:image/png;base64," in html and "eigenlearning-digits" in html
    # the report is rebuilt from the store alone
    (out_dir / "report.html").unlink()
    code, out, _ = run_cli(["report", str(out_dir)], capsys)
    assert code == 0 and (out_dir / "report.html").is_file()
    # rerun with the same --out reuses both laws
    code, out, _ = run_cli(
        ["check", "--preset", "smoke", "--out", str(out_dir), "--device", "cpu"], capsys
    )
    assert out.count("reused") == len(registry.names()) - len(skipped)
    assert len(_points(out_dir)) == len(registry.names()) and _leftovers(out_dir) == []


@pytest.mark.parametrize(
    "args,needle",
    [
        (["check", "no-such-law"], "unknown law"),
        (["run", "eigenlearning-digits", "--set", "bogus=1"], "valid keys: bandwidth"),
        (["run", "eigenlearning-digits", "--set", "ridges=-1"], "ridges"),
        (["run", "eigenlearning-digits", "--set", "sizes=0,5"], "sizes"),
        (["run", "eigenlearning-digits", "--set", "trials"], "key=value"),
        (["check", "eigenlearning-digits", "--preset", "huge"], "preset"),
        (["check", "eigenlearning-digits", "--device", "tpu"], "device"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, args, needle):
    out_dir = tmp_path / "out"
    code, _, err = run_cli([*args, "--out", str(out_dir)], capsys)
    assert code == 2
    assert needle in _one_line_error(err)
    assert not out_dir.exists()


def test_unwritable_out_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_cli(
        ["check", "eigenlearning-digits", "--preset", "smoke", "--out", str(blocker / "sub")],
        capsys,
    )
    assert code == 2
    assert "--out" in _one_line_error(err)
    assert blocker.read_text() == "x"


def test_usage_error_exits_2(capsys):
    code, _, _ = run_cli(["check", "--preset"], capsys)
    assert code == 2


@dataclass(frozen=True)
class _FakeSpec(LawSpec):
    value: float = param(0.2, ge=-10)


def _fake_law(value_from_experiment: bool, crash: bool = False):
    import pandas as pd
    from matplotlib.figure import Figure

    def experiment(spec, seed, device):
        if crash:
            raise RuntimeError("boom")
        return pd.DataFrame({"x": [spec.value]})

    return Law(
        name="fake-law",
        spec=_FakeSpec,
        presets=dict.fromkeys(PRESETS, _FakeSpec()),
        theory=lambda spec: pd.DataFrame({"x": [0.0]}),
        experiment=experiment,
        evaluate=lambda p, m: Evaluation({"abs_err": abs(float(m.x[0] - p.x[0]))}),
        figure=lambda p, m: Figure(),
        criterion=Criterion(Check("abs_err", "<=", 0.1, why="a toy bound")),
        prediction=Prediction("x", absolute=1.0),
        source="test",
        claim="x is 0",
    )


def _register(monkeypatch, law):
    catalog = {**registry._catalog(), law.name: law}
    monkeypatch.setattr(registry, "_catalog", lambda: catalog)


@pytest.mark.parametrize("crash", [False, True])
def test_failing_or_crashing_law_exits_1(tmp_path, capsys, monkeypatch, crash):
    _register(monkeypatch, _fake_law(True, crash))
    code, out, err = run_cli(["check", "fake-law", "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and ("error" if crash else "failed") in out
    if crash:
        assert "boom" in out  # reported in the verdict detail, and not stored: a rerun retries
        assert _points(tmp_path / "o", valid=False) == []
    else:
        [point] = _points(tmp_path / "o", "fake-law")
        assert (point / "verdict.json").is_file()
    assert _leftovers(tmp_path / "o") == []
    code, out, _ = run_cli(
        ["run", "fake-law", "--set", "value=0.05", "--out", str(tmp_path / "p")], capsys
    )
    assert code == (1 if crash else 0)


def _wait_for_point(out_dir: Path, law: str, proc, timeout=120.0):
    start = time.time()
    while not _points(out_dir, law):
        assert proc.poll() is None, "lmech check ended before the first law finished"
        assert time.time() - start < timeout
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_check_resumes(tmp_path, sig):
    out_dir = tmp_path / "runs"
    env = {**os.environ, "COLUMNS": "200"}
    # digits quick takes seconds, synthetic quick ~20 s: interrupt during the second law
    proc = subprocess.Popen(
        [
            *LMECH,
            "check",
            "eigenlearning-digits",
            "eigenlearning-synthetic",
            "--device",
            "cpu",
            "--out",
            str(out_dir),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # a shell that starts the tests in the background (`cmd &`) makes SIGINT ignored,
        # and a child inherits that: Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    _wait_for_point(out_dir, "eigenlearning-digits", proc)
    time.sleep(1.0)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert _points(out_dir, "eigenlearning-synthetic", valid=False) == []
    if sig == signal.SIGINT:
        # the point in flight is discarded, the report of what finished is written
        assert proc.returncode == 130
        assert "interrupted; rerun with the same --out to resume" in err.decode()
        assert "Traceback" not in err.decode()
        assert _leftovers(out_dir) == []
        report = (out_dir / "report.html").read_text()
        assert "eigenlearning-digits" in report and "eigenlearning-synthetic" not in report
    else:
        assert proc.returncode == -signal.SIGKILL
    again = subprocess.run(
        [*LMECH, "check", "eigenlearning-digits", "--device", "cpu", "--out", str(out_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert "reused" in again.stdout
    # the killed run's temporary folder and lock are provably dead: cleaned up
    assert _leftovers(out_dir) == []


def test_error_text_with_brackets_is_printed_verbatim(tmp_path, capsys):
    # messages list indices like [0, 5]; rich must not eat them as markup
    code, _, err = run_cli(
        [
            "run",
            "eigenlearning-synthetic",
            "--preset",
            "smoke",
            "--set",
            "ridges=nan",
            "--out",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    assert code == 2
    assert "ridges[0] must be a number, not NaN" in _one_line_error(err)
    assert not (tmp_path / "o").exists()


def test_check_by_tag_runs_only_tagged_laws(tmp_path, capsys):
    out = tmp_path / "runs"
    code, stdout, _ = run_cli(
        ["check", "--tag", "li2", "--preset", "smoke", "--out", str(out)], capsys
    )
    assert code == 0  # smoke runs are not verdicts
    ran = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert ran == sorted(n for n in registry.names() if "li2" in registry.get(n).tags)
    code, _, err = run_cli(["check", "--tag", "no-such-tag", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "no law has tag 'no-such-tag'" in _one_line_error(err)


def test_rerun_by_other_code_recomputes(tmp_path, capsys, monkeypatch):
    import lmech.runs.execute as execute

    out_dir = tmp_path / "run"
    args = ["check", "eigenlearning-digits", "--preset", "smoke", "--out", str(out_dir)]
    assert run_cli([*args, "--device", "cpu"], capsys)[0] == 0
    _, out, _ = run_cli([*args, "--device", "cpu"], capsys)
    assert "reused" in out
    # the same spec and seed by other lmech code: another point, computed beside the first
    real = store.code_hash()
    monkeypatch.setattr(execute, "code_hash", lambda: "0123456789abcdef")
    _, out, _ = run_cli([*args, "--device", "cpu"], capsys)
    assert "reused" not in out
    codes = sorted(
        json.loads((p / "manifest.json").read_text())["code_hash"] for p in _points(out_dir)
    )
    assert codes == sorted(["0123456789abcdef", real])


def test_other_seeds_and_sets_are_points_beside_each_other(tmp_path, capsys):
    out_dir = tmp_path / "run"
    base = ["run", "eigenlearning-digits", "--preset", "smoke", "--device", "cpu"]
    for extra in (["--seed", "0"], ["--seed", "1"], ["--set", "trials=3"], ["--seed", "0"]):
        code, out, err = run_cli([*base, *extra, "--out", str(out_dir)], capsys)
        assert code == 0, err
    assert "reused" in out  # the last one was computed first
    df = store.index(out_dir)
    assert len(df) == 3 and df["valid"].all()
    assert sorted(df["seed"]) == [0, 0, 1] and df["spec_hash"].nunique() == 3
    code, out, _ = run_cli(["runs", str(out_dir), "--json"], capsys)
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 3 and {r["status"] for r in rows} == {"smoke"}
    assert {r["path"] for r in rows} == {str(p) for p in _points(out_dir)}
    code, out, _ = run_cli(["runs", str(out_dir)], capsys)
    assert code == 0 and "3 points: 3 smoke" in out and out.count("eigenlearning-digits") == 3


def test_report_and_runs_show_a_tampered_point_as_invalid(tmp_path, capsys):
    out_dir = tmp_path / "run"
    args = ["check", "eigenlearning-digits", "--preset", "smoke", "--device", "cpu"]
    assert run_cli([*args, "--out", str(out_dir)], capsys)[0] == 0
    [point] = _points(out_dir)
    verdict = json.loads((point / "verdict.json").read_text())
    verdict["status"] = "passed"
    (point / "verdict.json").write_text(json.dumps(verdict))
    code, out, err = run_cli(["report", str(out_dir)], capsys)
    assert code == 1 and "invalid point" in err and "verdict.json" in err
    assert 'class="status invalid"' in (out_dir / "report.html").read_text()
    code, out, _ = run_cli(["runs", str(out_dir), "--json"], capsys)
    [row] = json.loads(out)
    assert code == 0 and row["status"] == "invalid" and not row["valid"]
    # a rerun recomputes it (the bad folder is kept aside) and the store is valid again
    code, out, _ = run_cli([*args, "--out", str(out_dir)], capsys)
    assert code == 0 and "reused" not in out and "replaced an invalid point" in out
    assert _points(out_dir) == [point] and store.read_point(point).valid
    assert [p.name[:31] for p in (point.parent).glob(".invalid-lmech-*")] == [
        ".invalid-lmech-" + point.name
    ]


def test_missing_data_skips_those_laws_and_the_rest_pass(tmp_path, monkeypatch, capsys):
    """A fresh machine without Fashion-MNIST: its laws are skipped with the install hint,
    from theory or experiment alike; the others run; the table and the report are written."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("LMECH_FASHION_MNIST", str(empty))
    out_dir = tmp_path / "o"
    data_laws = [n for n in registry.names() if "mnist" in n]
    assert data_laws
    code, out, _ = run_cli(
        ["check", *data_laws, "eigenlearning-digits", "--device", "cpu", "--out", str(out_dir)],
        capsys,
    )
    assert code == 0, out
    for name in data_laws:
        [point] = _points(out_dir, name)
        verdict = json.loads((point / "verdict.json").read_text())
        assert verdict["status"] == "skipped" and "fashion" in verdict["detail"].lower(), name
    [point] = _points(out_dir, "eigenlearning-digits")
    passed = json.loads((point / "verdict.json").read_text())
    assert passed["status"] == "passed"
    assert (out_dir / "report.html").is_file() and "skipped" in out


def test_law_out_of_memory_is_one_clear_line(tmp_path, capsys, monkeypatch):
    """A spec too large for the machine (an allocation failure inside a law) is reported
    as an error naming memory and how to fix it, with no traceback and no point stored."""
    import dataclasses

    law = _fake_law(True)

    def experiment(spec, seed, device):
        raise MemoryError("Unable to allocate 7.28 TiB for an array with shape (10**12, 1000)")

    _register(monkeypatch, dataclasses.replace(law, experiment=experiment))
    code, out, err = run_cli(["check", "fake-law", "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and "out of memory" in out and "lower its sizes" in out
    assert "Traceback" not in err and "Traceback" not in out
    assert not list((tmp_path / "o").glob("fake-law/*/verdict.json"))


# --- progress lines, --json, --workers -------------------------------------------------

_CHEAP = ["eigenlearning-synthetic", "li2-energy-maxima", "rf-compute-optimal"]
_LINE = re.compile(
    r"^\[(\d+)/(\d+)\] (\S+) (.+?) (in \d+\.\ds|reused); "
    r"elapsed (\d+):(\d\d), (about (\d+):(\d\d) left|estimating time left)$"
)


def test_tracker_estimate_is_mean_time_per_law_times_laws_left():
    from lmech.progress import Tracker, clock

    now = [100.0]
    tracker = Tracker(5, now=lambda: now[0])
    assert tracker.left() is None and "estimating" in tracker.summary()
    now[0] = 130.0
    tracker.finish()
    tracker.finish()  # 2 laws in 30 s: 15 s each, 3 left
    assert tracker.left() == pytest.approx(45.0)
    assert tracker.line("law-x", "passed", 9.04) == (
        "[2/5] law-x passed in 9.0s; elapsed 0:30, about 0:45 left"
    )
    assert clock(3725) == "1:02:05" and clock(-3) == "0:00"


def _finished_lines(err: str) -> list[re.Match]:
    return [m for line in err.splitlines() if (m := _LINE.match(line.strip()))]


def test_check_without_a_terminal_prints_one_plain_line_per_law(tmp_path, capsys):
    out_dir = str(tmp_path / "runs")
    args = ["check", *_CHEAP[:2], "--preset", "smoke", "--device", "cpu", "--out", out_dir]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    lines = _finished_lines(err)
    assert [(m[1], m[2]) for m in lines] == [("1", "2"), ("2", "2")], err
    assert {m[3] for m in lines} == set(_CHEAP[:2])
    assert all(m[5].startswith("in ") for m in lines)
    assert lines[-1][8] == "about 0:00 left"  # nothing left after the last law
    assert "━" not in err and "\r" not in err and "\x1b[" not in err  # no live bar
    code, out, err = run_cli(args, capsys)
    assert code == 0 and [m[5] for m in _finished_lines(err)] == ["reused", "reused"]


def test_check_in_a_terminal_shows_count_elapsed_and_estimate(tmp_path, capsys, monkeypatch):
    import io

    from rich.console import Console

    from lmech import cli

    screen = io.StringIO()
    monkeypatch.setattr(cli, "err_console", Console(file=screen, force_terminal=True, width=200))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    args = ["check", _CHEAP[0], "--preset", "smoke", "--device", "cpu"]
    code, _, _ = run_cli([*args, "--out", str(tmp_path / "runs")], capsys)
    shown = screen.getvalue()
    assert code == 0
    assert "laws: elapsed" in shown and re.search(r"\d+/1", shown), shown
    assert not _finished_lines(shown)  # the live display replaces the plain lines


def test_laws_json_is_the_whole_catalog(capsys):
    code, out, _ = run_cli(["laws", "--json"], capsys)
    assert code == 0
    laws = json.loads(out)  # stdout holds the document and nothing else
    assert [law["name"] for law in laws] == registry.names()
    for entry in laws:
        law = registry.get(entry["name"])
        assert entry["claim"] == law.claim and entry["source"] == law.source
        assert entry["tags"] == list(law.tags)
        assert [(c["statistic"], c["op"], c["bound"], c["why"]) for c in entry["checks"]] == [
            (c.statistic, c.op, c.bound, c.why) for c in law.criterion.checks
        ]
    code, out, _ = run_cli(["laws", "--json", "--tag", "kernels"], capsys)
    assert code == 0 and all("kernels" in e["tags"] for e in json.loads(out))


def test_check_json_is_the_only_stdout_and_matches_the_store(tmp_path, capsys):
    out_dir = tmp_path / "runs"
    args = ["check", *_CHEAP[:2], "--preset", "smoke", "--device", "cpu", "--out", str(out_dir)]
    code, out, err = run_cli([*args, "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["exit_status"] == 0 and doc["report"] == str(out_dir / "report.html")
    assert Path(doc["report"]).is_file()
    assert [e["law"] for e in doc["laws"]] == _CHEAP[:2]
    for entry in doc["laws"]:
        stored = json.loads((Path(entry["point"]) / "verdict.json").read_text())
        assert entry["status"] == stored["status"] == "smoke"
        assert [c["value"] for c in entry["checks"]] == [c["value"] for c in stored["checks"]]
        assert {"statistic", "op", "bound", "value", "passed", "why"} <= set(entry["checks"][0])
        assert entry["reused"] is False and entry["seconds"] > 0
    code, out, _ = run_cli([*args, "--json"], capsys)
    assert code == 0 and all(e["reused"] for e in json.loads(out)["laws"])


def test_check_and_run_json_keep_the_exit_status_of_a_failing_law(tmp_path, capsys, monkeypatch):
    _register(monkeypatch, _fake_law(True))
    code, out, _ = run_cli(["check", "fake-law", "--json", "--out", str(tmp_path / "o")], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["exit_status"] == 1
    [entry] = doc["laws"]
    assert entry["status"] == "failed" and entry["checks"][0]["value"] == pytest.approx(0.2)
    code, out, _ = run_cli(
        ["run", "fake-law", "--set", "value=0.05", "--json", "--out", str(tmp_path / "p")],
        capsys,
    )
    doc = json.loads(out)
    assert code == 0 and doc["laws"][0]["status"] == "passed"


def test_json_usage_error_leaves_stdout_empty(tmp_path, capsys):
    code, out, err = run_cli(["check", "no-such-law", "--json", "--out", str(tmp_path)], capsys)
    assert code == 2 and out == "" and "unknown law" in _one_line_error(err)


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_bad_workers_exits_2_with_one_line(tmp_path, capsys, value):
    out_dir = tmp_path / "out"
    code, out, err = run_cli(
        ["check", _CHEAP[0], "--workers", value, "--out", str(out_dir)], capsys
    )
    line = _one_line_error(err)
    assert code == 2 and "--workers must be auto or an integer >= 1" in line
    assert repr(value) in line and not out_dir.exists()


def test_default_workers_are_one_per_core_unless_lmech_workers_says(monkeypatch):
    from lmech.cli import _parse_workers
    from lmech.runs.execute import cpu_count

    monkeypatch.delenv("LMECH_WORKERS", raising=False)
    assert _parse_workers("auto") == cpu_count()
    monkeypatch.setenv("LMECH_WORKERS", "3")
    assert _parse_workers("auto") == 3 and _parse_workers("2") == 2


def test_threads_per_worker_stays_within_the_cores():
    from lmech.runs.execute import cpu_count, threads_per_worker

    for workers in (1, 2, 3, 64):
        threads = threads_per_worker(workers)
        assert threads >= 1 and (workers * threads <= cpu_count() or threads == 1)


def test_two_workers_give_the_serial_verdicts_and_a_rerun_reuses_them(tmp_path, capsys):
    base = ["check", *_CHEAP, "--preset", "smoke", "--device", "cpu", "--json"]
    docs = {}
    for workers in ("1", "2"):
        out_dir = tmp_path / f"w{workers}"
        code, out, err = run_cli([*base, "--workers", workers, "--out", str(out_dir)], capsys)
        assert code == 0, err
        docs[workers] = json.loads(out)
        assert Path(docs[workers]["report"]).is_file() and _leftovers(out_dir) == []
        assert len(_finished_lines(err)) == len(_CHEAP)

    def verdicts(doc):
        return [
            (e["law"], e["status"], e["key"], [(c["statistic"], c["passed"]) for c in e["checks"]])
            for e in doc["laws"]
        ]

    def values(doc):
        return np.array([c["value"] for e in doc["laws"] for c in e["checks"]], dtype=float)

    assert verdicts(docs["2"]) == verdicts(docs["1"])  # same order, statuses, keys, checks
    # a worker runs with fewer BLAS threads than the serial process, and a BLAS reduction's
    # summation order depends on the thread count: values agree to rounding, not bit for bit
    # (seen: 0.25876927129704586 vs ...70445, a relative 5e-15)
    np.testing.assert_allclose(values(docs["2"]), values(docs["1"]), rtol=1e-9, atol=1e-12)
    code, out, _ = run_cli([*base, "--workers", "2", "--out", str(tmp_path / "w2")], capsys)
    again = json.loads(out)
    assert code == 0 and all(e["reused"] for e in again["laws"])
    assert verdicts(again) == verdicts(docs["2"])
    np.testing.assert_array_equal(values(again), values(docs["2"]))  # reused: the same bits


def test_interrupted_pool_check_exits_130_cleanly_and_resumes(tmp_path):
    out_dir = tmp_path / "runs"
    env = {**os.environ, "COLUMNS": "200"}
    laws = ["eigenlearning-digits", "eigenlearning-synthetic", "lr-transfer-depth"]
    args = [*LMECH, "check", *laws, "--workers", "2", "--device", "cpu", "--out", str(out_dir)]
    proc = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    _wait_for_point(out_dir, "eigenlearning-digits", proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "interrupted; rerun with the same --out to resume" in text
    assert "Traceback" not in text and _leftovers(out_dir) == []
    unfinished = [law for law in laws if not _points(out_dir, law)]
    assert unfinished  # the laws in flight were stopped, not waited for
    assert all(_points(out_dir, law, valid=False) == [] for law in unfinished)
    quick = [*LMECH, "check", "eigenlearning-digits", "--device", "cpu", "--out", str(out_dir)]
    again = subprocess.run(quick, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "reused" in again.stdout, again.stderr

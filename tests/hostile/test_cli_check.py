"""Hostile use of `lmech check/run/report/runs/laws`, and real concurrent checks.

Each refused case asserts the exact exit status, one ``error:`` line naming what was
expected and what came, no traceback, and nothing written. The store cases tamper with
points on disk and run the command again; the concurrency case starts real
``lmech check`` processes on one store.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmech.cli import main
from lmech.runs import store

LMECH = [sys.executable, "-m", "lmech.cli"]
CHEAP = "eigenlearning-digits"
SMOKE = ["--preset", "smoke", "--device", "cpu"]


def _cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _refused(code, err, pattern, status=2):
    assert code == status, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert re.search(pattern, lines[0]), (pattern, err)
    return lines[0]


def _points(out):
    return [p for p in store.read_store(out, keep_data=False)] if Path(out).is_dir() else []


# --------------------------------------------------------------------------- refusals

# (args before --out, pattern the one error line must match); every one exits 2 and
# writes nothing at --out
REFUSED = {
    "unknown-law": (["check", "no-such-law"], r"unknown law 'no-such-law'.*Known laws:"),
    "close-law-name": (["check", "eigenlearning-digit"], r"did you mean eigenlearning-digits"),
    "law-and-unknown": (["check", CHEAP, "nope"], r"unknown law 'nope'"),
    "bad-preset": (["check", CHEAP, "--preset", "huge"], r"unknown preset 'huge'.*expected one of"),
    "empty-preset": (["check", CHEAP, "--preset", ""], r"unknown preset ''"),
    "bad-device": (
        ["check", CHEAP, "--device", "tpu"],
        r"unknown device 'tpu'; expected auto, cpu",
    ),
    "empty-device": (["check", CHEAP, "--device", ""], r"unknown device ''"),
    "device-index-junk": (["check", CHEAP, "--device", "cuda:x"], r"unknown device 'cuda:x'"),
    "device-index-absent": (["check", CHEAP, "--device", "cuda:99"], r"--device cuda:99"),
    "seed-negative": (["check", CHEAP, "--seed", "-1"], r"\[0, 2\^63 - 1\].*got -1"),
    "seed-2^63": (["check", CHEAP, "--seed", str(2**63)], r"got 9223372036854775808"),
    "seed-2^64-1": (["check", CHEAP, "--seed", str(2**64 - 1)], r"got 18446744073709551615"),
    "seed-text": (["check", CHEAP, "--seed", "abc"], r"integer in \[0, 2\^63 - 1\]; got 'abc'"),
    "seed-float": (["check", CHEAP, "--seed", "1.5"], r"got '1\.5'"),
    "seed-empty": (["check", CHEAP, "--seed", ""], r"got ''"),
    "unknown-tag": (["check", "--tag", "nosuch"], r"no law has tag 'nosuch'; tags in use:"),
    "empty-tag": (["check", "--tag", ""], r"no law has tag ''"),
    "tag-excludes-names": (["check", CHEAP, "--tag", "li2"], r"none of the laws named has tag"),
    "check-bad-option": (["check", "--bogus"], r"No such option: --bogus.*lmech check --help"),
    "check-option-no-value": (["check", CHEAP, "--preset"], r"'--preset' requires an argument"),
    "run-unknown-key": (["run", CHEAP, "--set", "bogus=1"], r"unknown --set key 'bogus'.*valid"),
    "run-no-equals": (["run", CHEAP, "--set", "trials"], r"key=value.*got 'trials'"),
    "run-empty-key": (["run", CHEAP, "--set", "=3"], r"key=value.*got '=3'"),
    "run-key-twice": (
        ["run", CHEAP, "--set", "trials=1", "--set", "trials=2"],
        r"--set trials is given twice \('1' and '2'\)",
    ),
    "run-int-as-float": (["run", CHEAP, "--set", "trials=1.5"], r"trials='1\.5'.*type int"),
    "run-int-hex": (["run", CHEAP, "--set", "trials=0x10"], r"trials='0x10'.*type int"),
    "run-below-bound": (["run", CHEAP, "--set", "trials=0"], r"trials must be >= 1; got 0"),
    "run-overflow": (
        ["run", CHEAP, "--set", f"pool_size={10**30}"],
        r"pool_size must be <= \d+; got 1000000000000000000000000000000",
    ),
    "run-float-overflow": (["run", CHEAP, "--set", "bandwidth=1e400"], r"finite; got inf"),
    "run-nan": (["run", CHEAP, "--set", "bandwidth=nan"], r"bandwidth must be a number, not NaN"),
    "run-empty-list": (["run", CHEAP, "--set", "sizes="], r"comma-separated list"),
    "run-bad-list-item": (["run", CHEAP, "--set", "sizes=10,x"], r"sizes='x'.*type int"),
    "run-unknown-law": (["run", "no-such-law"], r"unknown law 'no-such-law'"),
    "run-two-laws": (["run", CHEAP, "other"], r"unexpected extra argument.*other"),
    "run-no-law": (["run"], r"Missing argument"),
    "run-bad-seed": (["run", CHEAP, "--seed", "-5"], r"got -5"),
    "run-bad-preset": (["run", CHEAP, "--preset", "big"], r"unknown preset 'big'"),
    # a spec whose declared memory need is beyond the machine: refused before any work
    "run-huge-width": (
        ["run", "ntk-width-convergence", "--set", "widths=64,1000000000"],
        r"law ntk-width-convergence at this spec needs [0-9.]+ [GT]iB of memory, above the limit",
    ),
    "run-huge-nngp-chunk": (
        ["run", "nngp-monte-carlo", "--set", "width=1000000", "--set", "chunk=100000"],
        r"nngp-monte-carlo at this spec needs .* above the limit.*--set",
    ),
    "run-huge-gradient-flow": (
        ["run", "ntk-gradient-flow", "--set", "widths=64,10000000"],
        r"ntk-gradient-flow at this spec needs",
    ),
    "run-huge-modes": (
        ["run", "eigenlearning-synthetic", "--set", "num_modes=100000000000"],
        r"eigenlearning-synthetic at this spec needs",
    ),
    "sweep-huge-point": (
        ["sweep", "ntk-width-convergence", "--grid", "widths=64,128;64,10000000000"],
        r"needs .* of memory, above the limit",
    ),
    "sweep-unknown-key": (["sweep", CHEAP, "--grid", "nope=1,2"], r"'nope' is not a field"),
    "sweep-no-equals": (["sweep", CHEAP, "--grid", "trials"], r"expects key=v1,v2"),
    "sweep-bad-range": (["sweep", CHEAP, "--grid", "bandwidth=log:0:1:3"], r"START > 0"),
    "sweep-range-repeats": (
        ["sweep", CHEAP, "--grid", "trials=log:1:2:6"],
        r"rounds to repeated values",
    ),
    "sweep-bad-point": (["sweep", CHEAP, "--grid", "trials=5,0"], r"grid point trials=0"),
    "sweep-too-many": (
        ["sweep", CHEAP, "--grid", "trials=lin:1:1000:1000", "--seeds", "11"],
        r"11000 points.*at most 10000",
    ),
    "sweep-bad-seeds": (["sweep", CHEAP, "--seeds", "0"], r"--seeds expects a count"),
    "sweep-seed-twice": (["sweep", CHEAP, "--seeds", "3,3"], r"each seed once"),
    "sweep-bad-executor": (["sweep", CHEAP, "--executor", "slurm"], r"local or ray; got 'slurm'"),
    "sweep-address-local": (
        ["sweep", CHEAP, "--address", "10.0.0.1:6379"],
        r"--address applies to --executor ray",
    ),
    "sweep-bad-workers": (["sweep", CHEAP, "--workers", "0"], r"--workers must be auto or"),
    "sweep-set-and-grid": (
        ["sweep", CHEAP, "--grid", "trials=1,2", "--set", "trials=3"],
        r"both swept \(--grid\) and fixed",
    ),
    "sweep-key-twice": (
        ["sweep", CHEAP, "--grid", "trials=1,2", "--grid", "trials=3"],
        r"--grid trials is given twice",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_input_is_one_error_line_and_writes_nothing(tmp_path, capsys, case):
    args, pattern = REFUSED[case]
    out = tmp_path / "out"
    # --out right after the command, so an option left without its value stays so
    code, _, err = _cli([*args[:1], "--out", out, *args[1:]], capsys)
    _refused(code, err, pattern)
    assert not out.exists()


def _file(tmp_path):
    (tmp_path / "file").write_text("mine")
    return tmp_path / "file"


def _dangling(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    return tmp_path / "link"


def _point_folder(tmp_path):
    out = tmp_path / "store"
    assert main(["check", CHEAP, *SMOKE, "--out", str(out)]) == 0
    [point] = store.list_points(out)
    return point


BAD_OUT = {
    "out-a-file": (_file, r"it is a file, not a directory"),
    "out-inside-a-file": (lambda t: _file(t) / "sub", r"Not a directory; pass a writable --out"),
    "out-empty": (lambda t: "", r"--out must name a directory; got an empty path"),
    "out-dangling-link": (_dangling, r"dangling symbolic link"),
    "out-unwritable": (lambda t: Path("/proc/self/lmech-store"), r"cannot write run store to"),
    "out-a-point-folder": (_point_folder, r"is a point folder of a run store"),
    "out-a-law-folder": (lambda t: _point_folder(t).parent, r"is a law folder of a run store"),
}


@pytest.mark.parametrize("case", list(BAD_OUT))
def test_bad_out_paths_are_refused(tmp_path, capsys, case):
    make, pattern = BAD_OUT[case]
    target = make(tmp_path)
    capsys.readouterr()
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    code, _, err = _cli(["check", CHEAP, *SMOKE, "--out", target], capsys)
    _refused(code, err, pattern)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_out_is_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, _, err = _cli(["check", CHEAP, *SMOKE, "--out", ro / "sub"], capsys)
        _refused(code, err, r"Permission denied; pass a writable --out DIR")
    finally:
        ro.chmod(0o755)


LISTING_REFUSED = {
    "report-missing": (["report", "{t}/missing"], r"no run store at .*missing: it does not exist"),
    "report-a-file": (["report", "{file}"], r"not a directory"),
    "report-empty-dir": (["report", "{t}"], r"no law runs in"),
    "report-two-dirs": (["report", "{t}", "{t}"], r"unexpected extra argument"),
    "report-empty-path": (["report", ""], r"expected the directory of a run store; got ''"),
    "runs-empty-path": (["runs", ""], r"expected the directory of a run store; got ''"),
    "runs-missing": (["runs", "{t}/missing"], r"it does not exist"),
    "runs-a-file": (["runs", "{file}"], r"not a directory"),
    "runs-bad-option": (["runs", "{t}", "--bogus"], r"No such option: --bogus"),
    "laws-unknown-tag": (["laws", "--tag", "nosuch"], r"no law has tag 'nosuch'; tags in use"),
    "laws-empty-tag": (["laws", "--tag", ""], r"no law has tag ''"),
    "laws-extra-argument": (["laws", "extra"], r"unexpected extra argument.*extra"),
    "unknown-command": (["bogus"], r"No such command 'bogus'"),
}


@pytest.mark.parametrize("case", list(LISTING_REFUSED))
def test_bad_listing_and_report_arguments(tmp_path, capsys, case):
    args, pattern = LISTING_REFUSED[case]
    empty = tmp_path / "empty"
    empty.mkdir()
    file = _file(tmp_path)
    args = [a.format(t=empty, file=file) for a in args]
    code, out, err = _cli(args, capsys)
    _refused(code, err, pattern)
    assert list(empty.iterdir()) == [] and file.read_text() == "mine"


def test_runs_of_an_empty_dir_lists_nothing(tmp_path, capsys):
    code, out, _ = _cli(["runs", tmp_path], capsys)
    assert code == 0 and "0 points" in out
    code, out, _ = _cli(["runs", tmp_path, "--json"], capsys)
    assert code == 0 and json.loads(out) == []


def test_a_file_in_a_law_folders_place_is_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "store"
    out.mkdir()
    (out / CHEAP).write_text("mine")
    code, _, err = _cli(["check", "li2-energy-maxima", CHEAP, *SMOKE, "--out", out], capsys)
    _refused(code, err, rf"cannot use run store folder .*{CHEAP}: it is a file")
    assert sorted(p.name for p in out.iterdir()) == [CHEAP]  # li2 did not run either


def test_a_store_of_an_older_lmech_is_not_trusted_and_migrates(tmp_path, capsys):
    out = tmp_path / "old"
    law_dir = out / CHEAP
    law_dir.mkdir(parents=True)
    manifest = {"law": CHEAP, "spec_hash": "0" * 16, "seed": 0, "device": "cpu"}
    (law_dir / "manifest.json").write_text(json.dumps(manifest))
    verdict = {"law": CHEAP, "status": "passed", "metric": "m", "value": 0.2, "tolerance": 0.05}
    (law_dir / "verdict.json").write_text(json.dumps(verdict))
    code, _, err = _cli(["report", out], capsys)
    assert code == 1 and "written by an older lmech" in err
    code, text, err = _cli(["check", CHEAP, *SMOKE, "--out", out], capsys)
    assert code == 0 and "reused" not in text, err
    [point] = _points(out)
    assert point.valid and point.path.parent == law_dir
    [aside] = law_dir.glob(".invalid-lmech-legacy-*")
    assert json.loads((aside / "verdict.json").read_text()) == verdict  # kept, not deleted
    assert _cli(["report", out], capsys)[0] == 0


def test_duplicate_law_names_run_once(tmp_path, capsys):
    code, out, _ = _cli(["check", CHEAP, CHEAP, *SMOKE, "--out", tmp_path / "s"], capsys)
    assert code == 0 and out.count(CHEAP) == 2  # one table row and its detail line
    assert len(_points(tmp_path / "s")) == 1


# --------------------------------------------------------------------------- the store


def test_out_dot_keeps_the_users_own_files(tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    (work / ".tmp-notes").mkdir(parents=True)
    (work / ".tmp-notes" / "todo.txt").write_text("mine")
    (work / ".tmp-lmech-notes").write_text("also mine")
    (work / "notes.txt").write_text("mine too")
    (work / "src" / "pkg").mkdir(parents=True)
    # a temporary of a dead lmech writer on this host: provably gone, removed
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = work / f".tmp-lmech-{store._host_id()}-{proc.pid}-x-abcdef-report.html"
    dead.write_text("partial")
    monkeypatch.chdir(work)
    code, out, err = _cli(["check", CHEAP, *SMOKE, "--out", "."], capsys)
    assert code == 0, err
    assert (work / ".tmp-notes" / "todo.txt").read_text() == "mine"
    assert (work / ".tmp-lmech-notes").read_text() == "also mine"
    assert (work / "notes.txt").read_text() == "mine too" and (work / "src" / "pkg").is_dir()
    assert not dead.exists()
    assert [p.law for p in _points(work)] == [CHEAP] and (work / "report.html").is_file()
    code, out, _ = _cli(["runs", "."], capsys)
    assert code == 0 and "1 points: 1 smoke" in out


def _store_with_point(tmp_path, capsys):
    out = tmp_path / "store"
    code, _, err = _cli(["check", CHEAP, *SMOKE, "--out", out], capsys)
    assert code == 0, err
    [point] = store.list_points(out)
    return out, point


def test_symlinked_figure_is_refused(tmp_path, capsys):
    out, point = _store_with_point(tmp_path, capsys)
    secret = tmp_path / "id_private.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n" + b"PRIVATE KEY MATERIAL " * 40)
    (point / "figure.png").unlink()
    (point / "figure.png").symlink_to(secret)
    code, out_text, err = _cli(["report", out], capsys)
    assert code == 1
    line = [x for x in err.splitlines() if x.strip()]
    assert len(line) == 1 and "figure.png is a symbolic link; refused" in line[0]
    html = (out / "report.html").read_text()
    assert "PRIVATE KEY" not in html
    assert base64.b64encode(secret.read_bytes())[:60].decode() not in html
    assert "data:image/png" not in html and 'class="status invalid"' in html
    # `lmech check` does not reuse it: recomputed, the symlink kept aside with its folder
    code, out_text, _ = _cli(["check", CHEAP, *SMOKE, "--out", out], capsys)
    assert code == 0 and "reused" not in out_text and "replaced an invalid point" in out_text
    assert store.read_point(point).valid and not (point / "figure.png").is_symlink()
    assert secret.read_bytes().startswith(b"\x89PNG")  # the target is never touched


def test_truncated_experiment_is_recomputed_not_reused(tmp_path, capsys):
    out, point = _store_with_point(tmp_path, capsys)
    data = (point / "experiment.parquet").read_bytes()
    (point / "experiment.parquet").write_bytes(data[:100])
    code, text, _ = _cli(["runs", out, "--json"], capsys)
    [row] = json.loads(text)
    assert row["status"] == "invalid" and "experiment.parquet has 100 bytes" in row["problem"]
    code, text, _ = _cli(["check", CHEAP, *SMOKE, "--out", out], capsys)
    assert code == 0 and "reused" not in text
    assert store.read_point(point).valid


def test_hand_edited_verdict_is_invalid_and_recomputed(tmp_path, capsys):
    out, point = _store_with_point(tmp_path, capsys)
    v = json.loads((point / "verdict.json").read_text())
    v["status"] = "passed"
    v["checks"][0].update(value=0.20, passed=True)
    (point / "verdict.json").write_text(json.dumps(v))
    code, text, err = _cli(["report", out], capsys)
    assert code == 1 and "verdict.json" in err
    code, text, _ = _cli(["check", CHEAP, *SMOKE, "--out", out], capsys)
    assert code == 0 and "reused" not in text
    assert store.read_point(point).verdict.status == "smoke"


def test_corrupt_manifest_is_a_row_not_a_vanished_law(tmp_path, capsys):
    out, point = _store_with_point(tmp_path, capsys)
    (point / "manifest.json").write_text('{"law": ')
    code, _, err = _cli(["report", out], capsys)
    assert code == 1 and "manifest.json is corrupt" in err
    html = (out / "report.html").read_text()
    assert CHEAP in html and 'class="status invalid"' in html
    code, text, _ = _cli(["runs", out], capsys)
    assert code == 0 and "invalid" in text and "manifest.json is corrupt" in text
    code, text, _ = _cli(["check", CHEAP, *SMOKE, "--out", out], capsys)
    assert code == 0 and store.read_point(point).valid


def _report_target(out, kind, tmp_path):
    (out / "report.html").unlink()
    if kind == "symlink":
        target = tmp_path / "precious.txt"
        target.write_text("do not overwrite")
        (out / "report.html").symlink_to(target)
    elif kind == "folder":
        (out / "report.html").mkdir()
        (out / "report.html" / "keep.txt").write_text("mine")
    else:
        (out / "report.html").write_text("<html>the user's own report</html>")


@pytest.mark.parametrize(
    "kind,pattern",
    [
        ("symlink", r"it is a symbolic link, expected an lmech report or nothing"),
        ("folder", r"it is a folder, expected an lmech report or nothing"),
        ("foreign", r"it is a file lmech did not write"),
    ],
)
@pytest.mark.parametrize("command", ["report", "check"])
def test_report_html_not_written_by_lmech_is_never_replaced(
    tmp_path, capsys, kind, pattern, command
):
    out, point = _store_with_point(tmp_path, capsys)
    _report_target(out, kind, tmp_path)
    before = {str(p): (p.is_symlink(), p.is_dir()) for p in out.rglob("*")}
    args = ["report", out] if command == "report" else ["check", "li2-energy-maxima", *SMOKE]
    if command == "check":
        args += ["--out", out]
    code, _, err = _cli(args, capsys)
    _refused(code, err, pattern)
    # refused before any computation: nothing new, the user's entry untouched
    assert {str(p): (p.is_symlink(), p.is_dir()) for p in out.rglob("*")} == before
    if kind == "symlink":
        assert (tmp_path / "precious.txt").read_text() == "do not overwrite"


def test_a_symlinked_law_folder_is_not_followed(tmp_path, capsys):
    out, point = _store_with_point(tmp_path, capsys)
    outside = tmp_path / "outside"
    (point.parent).rename(outside)
    (out / CHEAP).symlink_to(outside)
    code, _, err = _cli(["report", out], capsys)
    _refused(code, err, r"no law runs in")  # nothing through the link is read
    code, _, err = _cli(["check", CHEAP, *SMOKE, "--out", out], capsys)
    _refused(code, err, r"it is a symbolic link, and lmech reads and writes no point through")
    assert sorted(p.name for p in outside.iterdir()) == [point.name]  # nothing written there


# --------------------------------------------------------------------------- processes

# three laws each, overlapping; five distinct points
PLANS = [
    ["eigenlearning-digits", "li2-energy-maxima", "rf-compute-optimal"],
    ["rf-compute-optimal", "chinchilla-recovery", "eigenlearning-digits"],
    ["li2-energy-maxima", "chinchilla-recovery", "hea-eigenvalues-gaussian"],
]


def _check_proc(out, laws):
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen(
        [*LMECH, "check", *laws, *SMOKE, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _tree():
    return store._tree_hash(Path(store.__file__).resolve().parents[1])


def test_concurrent_checks_on_one_store_lose_and_corrupt_nothing(tmp_path):
    out = tmp_path / "store"
    code_before = _tree()
    first, second = _check_proc(out, PLANS[0]), _check_proc(out, PLANS[1])
    deadline = time.time() + 120
    while not out.is_dir() or (
        not list(out.glob("*/.lock-lmech-*")) and not store.list_points(out)
    ):
        assert time.time() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.05)
    third = _check_proc(out, PLANS[2])  # started while the first two run
    procs = [first, second, third]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e[-2000:] for _, e in outs]
    for _, err in outs:
        assert "Traceback" not in err
    rerun = subprocess.run(
        [*LMECH, "check", *sorted({law for plan in PLANS for law in plan}), *SMOKE, "--out", out],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200"},
    )
    if _tree() != code_before:
        pytest.skip("lmech's sources changed while the test ran (the points' code key moved)")
    expected = {law for plan in PLANS for law in plan}
    points = store.read_store(out, keep_data=False)
    valid = {p.law for p in points if p.valid}
    lost = len(expected - valid)
    corrupted = sum(not p.valid for p in points)
    reused = [text.count("reused") for text, _ in outs]
    computed = sum(len(plan) for plan in PLANS) - sum(reused)
    print(
        f"\nconcurrent lmech check: 3 processes, {len(expected)} distinct points, "
        f"computed {computed}, reused {sum(reused)}; lost {lost}, corrupted {corrupted}; "
        f"rerun reused {rerun.stdout.count('reused')} of {len(expected)}"
    )
    assert lost == 0 and corrupted == 0
    assert len(points) == len(expected)  # one point per law, none twice
    assert computed == len(expected)  # each point computed by exactly one process
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("reused") == len(expected)  # nothing recomputed
    left = [p for p in out.rglob(".*") if p.name.startswith((".tmp-lmech", ".lock-lmech"))]
    assert left == []
    html = (out / "report.html").read_text()
    assert all(law in html for law in expected)

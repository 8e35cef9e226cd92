"""Hostile inputs to the run store: tampered points, bad arguments, concurrent writers.

Every tampered point must read as invalid with a reason naming the file and what is
wrong, never be trusted, and be recomputed on reuse (the bad folder kept aside). Every
bad argument is a clean lmech error naming what was expected and what came, and leaves
nothing half-written. The concurrency cases run real processes against one store.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from lmech.errors import ConfigError, InputError, StoreError
from lmech.laws.base import PRESETS, Check, Criterion, Evaluation, Law, Prediction, Verdict
from lmech.laws.spec import LawSpec, param
from lmech.runs import store
from lmech.runs.execute import run_law

ENV = {"lmech": "test", "device": "cpu"}


@dataclass(frozen=True)
class ToySpec(LawSpec):
    value: float = param(0.01, ge=-10)


def _experiment(spec, seed, device):
    # how long a measurement takes is not part of the point (set by the worker processes)
    time.sleep(float(os.environ.get("LMECH_TEST_TOY_SLEEP", "0")))
    return pd.DataFrame({"x": [spec.value], "seed": [seed]})


def _figure(pred, meas):
    fig = Figure(figsize=(2, 1.5))
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


TOY = Law(
    name="toy-law",
    claim="x is 0",
    source="test",
    spec=ToySpec,
    presets=dict.fromkeys(PRESETS, ToySpec()),
    theory=lambda spec: pd.DataFrame({"x": [0.0]}),
    experiment=_experiment,
    evaluate=lambda p, m: Evaluation({"abs_err": abs(float(m.x[0] - p.x[0]))}),
    figure=_figure,
    criterion=Criterion(Check("abs_err", "<=", 0.05, why="a toy bound")),
    prediction=Prediction("x", absolute=1.0),
)


def _run(out, seed=0, spec=None):
    return run_law(
        TOY,
        spec or ToySpec(),
        preset="quick",
        seed=seed,
        device="cpu",
        out_dir=out,
        environment=ENV,
    )


@pytest.fixture
def point(tmp_path) -> Path:
    result = _run(tmp_path / "store")
    assert not result.reused and result.verdict.status == "passed"
    return result.path


# --------------------------------------------------------------------------- tampering


def _manifest(point):
    return json.loads((point / "manifest.json").read_text())


def _write_manifest(point, m, *, rehash=True):
    """Write a manifest back; with ``rehash`` its checksum is recomputed (a careful forger)."""
    if rehash:
        m["manifest_sha256"] = store._manifest_checksum(m)
    (point / "manifest.json").write_text(json.dumps(m))


def _rehash_file(point, name):
    m = _manifest(point)
    data = (point / name).read_bytes()
    m["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    _write_manifest(point, m)


def _edit_verdict(point, *, rehash):
    v = json.loads((point / "verdict.json").read_text())
    v["checks"][0]["value"] = 0.20  # against <= 0.05, still "passed"
    v["value"] = 0.20
    (point / "verdict.json").write_text(json.dumps(v))
    if rehash:
        _rehash_file(point, "verdict.json")


def _edit_verdict_field(point, **fields):
    v = json.loads((point / "verdict.json").read_text())
    v.update(fields)
    (point / "verdict.json").write_text(json.dumps(v))
    _rehash_file(point, "verdict.json")


def _edit_check(point, **fields):
    v = json.loads((point / "verdict.json").read_text())
    v["checks"][0].update(fields)
    (point / "verdict.json").write_text(json.dumps(v))
    _rehash_file(point, "verdict.json")


def _truncate(point, name):
    data = (point / name).read_bytes()
    (point / name).write_bytes(data[: len(data) // 2])


def _same_size_garbage(point, name):
    size = (point / name).stat().st_size
    (point / name).write_bytes(b"\0" * size)


def _symlink_figure(point, tmp_path):
    secret = tmp_path / "private.png"
    secret.write_bytes((point / "figure.png").read_bytes())  # even the same bytes
    (point / "figure.png").unlink()
    (point / "figure.png").symlink_to(secret)


def _symlink_verdict_to_copy(point, tmp_path):
    copy = tmp_path / "verdict-copy.json"
    copy.write_bytes((point / "verdict.json").read_bytes())
    (point / "verdict.json").unlink()
    (point / "verdict.json").symlink_to(copy)


def _figure_dir(point):
    (point / "figure.png").unlink()
    (point / "figure.png").mkdir()


def _figure_fifo(point):
    (point / "figure.png").unlink()
    os.mkfifo(point / "figure.png")


def _manifest_field(point, rehash=True, **fields):
    m = _manifest(point)
    m.update(fields)
    _write_manifest(point, m, rehash=rehash)


def _manifest_file_entry(point, name, entry):
    m = _manifest(point)
    m["files"][name] = entry
    _write_manifest(point, m)


def _drop_manifest_field(point, field):
    m = _manifest(point)
    del m[field]
    _write_manifest(point, m)


def _verdict_not_utf8(point):
    (point / "verdict.json").write_bytes(b"\xff\xfe{not json")
    _rehash_file(point, "verdict.json")


TAMPERS = {
    "edited-verdict": (lambda p, t: _edit_verdict(p, rehash=False), r"verdict\.json (has|does)"),
    "edited-verdict-rehashed": (
        lambda p, t: _edit_verdict(p, rehash=True),
        r"abs_err = 0\.2 <= 0\.05 does not hold but the verdict records passed=True",
    ),
    "status-edited-rehashed": (
        lambda p, t: (_edit_verdict_field(p, status="failed"), _manifest_field(p, status="failed")),
        r"status 'failed' does not follow from its checks",
    ),
    "passed-as-string": (
        lambda p, t: _edit_check(p, passed="true"),
        r"records passed='true', not true or false",
    ),
    "unknown-comparison": (lambda p, t: _edit_check(p, op="<"), r"unknown comparison '<'"),
    "verdict-of-other-law": (
        lambda p, t: _edit_verdict_field(p, law="other"),
        r"names law 'other'",
    ),
    "verdict-not-utf8": (lambda p, t: _verdict_not_utf8(p), r"verdict\.json is corrupt"),
    "manifest-status-mismatch": (
        lambda p, t: _manifest_field(p, status="failed"),
        r"manifest\.json says 'failed' but verdict\.json says 'passed'",
    ),
    "truncated-experiment": (
        lambda p, t: _truncate(p, "experiment.parquet"),
        r"experiment\.parquet has \d+ bytes, the manifest recorded \d+",
    ),
    "garbage-experiment": (
        lambda p, t: _same_size_garbage(p, "experiment.parquet"),
        r"experiment\.parquet does not match its SHA-256",
    ),
    "missing-theory": (
        lambda p, t: (p / "theory.parquet").unlink(),
        r"theory\.parquet is missing",
    ),
    "missing-verdict": (lambda p, t: (p / "verdict.json").unlink(), r"verdict\.json is missing"),
    "corrupt-manifest": (
        lambda p, t: (p / "manifest.json").write_text("{not json"),
        r"manifest\.json is corrupt",
    ),
    "empty-manifest": (
        lambda p, t: (p / "manifest.json").write_bytes(b""),
        r"manifest\.json is corrupt",
    ),
    "manifest-a-list": (
        lambda p, t: (p / "manifest.json").write_text("[1, 2]"),
        r"manifest\.json is not a JSON object",
    ),
    "missing-manifest": (
        lambda p, t: (p / "manifest.json").unlink(),
        r"manifest\.json is missing",
    ),
    "manifest-seed-edited": (
        lambda p, t: _manifest_field(p, rehash=False, seed=7),
        r"manifest\.json was altered after it was written",
    ),
    "manifest-seed-edited-rehashed": (
        lambda p, t: _manifest_field(p, seed=7),
        r"key '[0-9a-f]{16}' is not the key of its contents",
    ),
    "manifest-format-1": (
        lambda p, t: _manifest_field(p, format=1),
        r"store format 1; this lmech reads format 2",
    ),
    "manifest-without-files": (
        lambda p, t: _drop_manifest_field(p, "files"),
        r"lacks a valid 'files' entry",
    ),
    "manifest-bad-size": (
        lambda p, t: _manifest_file_entry(p, "theory.parquet", {"bytes": "x", "sha256": "0"}),
        r"malformed entry for 'theory\.parquet'",
    ),
    "manifest-path-escape": (
        lambda p, t: _manifest_file_entry(p, "../../secret", {"bytes": 1, "sha256": "0"}),
        r"malformed entry for '\.\./\.\./secret'",
    ),
    "manifest-huge-size": (
        lambda p, t: _manifest_file_entry(p, "theory.parquet", {"bytes": 2**40, "sha256": "0"}),
        r"theory\.parquet has \d+ bytes, the manifest recorded 1099511627776",
    ),
    "symlinked-figure": (lambda p, t: _symlink_figure(p, t), r"figure\.png is a symbolic link"),
    "symlinked-verdict-same-bytes": (
        lambda p, t: _symlink_verdict_to_copy(p, t),
        r"verdict\.json is a symbolic link",
    ),
    "figure-is-a-folder": (lambda p, t: _figure_dir(p), r"figure\.png is not a regular file"),
    "figure-is-a-fifo": (lambda p, t: _figure_fifo(p), r"figure\.png is not a regular file"),
}


@pytest.mark.parametrize("case", list(TAMPERS))
def test_a_tampered_point_is_invalid_and_recomputed(point, tmp_path, case):
    tamper, reason = TAMPERS[case]
    tamper(point, tmp_path)
    found = store.read_point(point)
    assert not found.valid and found.status == "invalid"
    assert found.data == {}  # nothing of an invalid point is handed on
    import re

    assert re.search(reason, found.problem), found.problem
    assert "\n" not in found.problem
    with pytest.raises(StoreError, match="invalid point"):
        store.read_law_run(point)
    [row] = store.index_records(point.parent.parent)
    assert row["status"] == "invalid" and re.search(reason, row["problem"])
    # reuse never trusts it: the point is recomputed, the bad folder kept aside
    again = _run(point.parent.parent)
    assert not again.reused and again.path == point
    assert "replaced an invalid point" in again.note
    fresh = store.read_point(point)
    assert fresh.valid and fresh.verdict.status == "passed", fresh.problem
    aside = [p for p in point.parent.iterdir() if p.name.startswith(".invalid-lmech-")]
    assert len(aside) == 1
    assert [p.name for p in point.parent.iterdir() if p.name.startswith(".tmp-lmech-")] == []
    assert not (point.parent / f".lock-lmech-{point.name}").exists()


def test_the_point_folder_a_symlink_is_refused(point, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    point.rename(elsewhere)
    point.symlink_to(elsewhere)
    found = store.read_point(point)
    assert not found.valid and "point folder is a symbolic link" in found.problem
    assert store.read_point(elsewhere).problem.startswith("folder name 'elsewhere'")


def test_a_point_moved_under_another_key_or_law_is_invalid(point):
    moved = point.parent / ("0" * 16)
    point.rename(moved)
    assert "is not the point's key" in store.read_point(moved).problem
    other = point.parent.parent / "other-law"
    other.mkdir()
    moved.rename(other / point.name)
    assert "filed under 'other-law'" in store.read_point(other / point.name).problem


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_invalid_not_a_crash(point):
    (point / "theory.parquet").chmod(0)
    try:
        assert "cannot read theory.parquet" in store.read_point(point).problem
    finally:
        (point / "theory.parquet").chmod(0o644)


def test_a_missing_point_reads_as_absent(tmp_path):
    found = store.read_point(tmp_path / "nope")
    assert not found.exists and not found.valid


def test_a_plain_file_in_a_points_place_is_listed_as_invalid(tmp_path):
    law = tmp_path / "toy-law"
    law.mkdir()
    (law / ("a" * 16)).write_text("not a point")
    [found] = store.read_store(tmp_path)
    assert found.problem == "not a folder"


# --------------------------------------------------------------------------- bad arguments


def _writer(tmp_path, **kw):
    args = dict(preset="quick", spec=ToySpec(), seed=0, device="cpu", environment=ENV)
    args.update(kw)
    name = args.pop("name", "toy-law")
    return store.LawRunWriter(tmp_path, name, **args)


BAD_WRITERS = {
    "name-escapes": ({"name": "../x"}, InputError, r"plain non-hidden file name; got '\.\./x'"),
    "name-hidden": ({"name": ".x"}, InputError, r"plain non-hidden file name; got '\.x'"),
    "name-empty": ({"name": ""}, InputError, r"plain non-hidden file name; got ''"),
    "name-newline": ({"name": "a\nb"}, InputError, r"plain non-hidden file name; got 'a\\nb'"),
    "spec-not-a-dataclass": ({"spec": {"n": 1}}, InputError, r"spec dataclass; got dict"),
    "seed-negative": ({"seed": -1}, ConfigError, r"\[0, 2\^63 - 1\].*got -1"),
    "seed-too-big": ({"seed": 2**63}, ConfigError, r"\[0, 2\^63 - 1\].*got 9223372036854775808"),
    "seed-a-string": ({"seed": "1"}, ConfigError, r"integer in \[0, 2\^63 - 1\]; got '1'"),
    "seed-a-bool": ({"seed": True}, ConfigError, r"integer in \[0, 2\^63 - 1\]; got True"),
}


@pytest.mark.parametrize("case", list(BAD_WRITERS))
def test_bad_writer_arguments_are_refused_before_writing(tmp_path, case):
    kw, exc, pattern = BAD_WRITERS[case]
    with pytest.raises(exc) as info:
        _writer(tmp_path, **kw)
    import re

    assert re.search(pattern, str(info.value)), str(info.value)
    assert list(tmp_path.iterdir()) == []


def _bad_df():
    return pd.DataFrame({"mixed": [1, "a", object()]})


BAD_WRITES = {
    "verdict-not-a-verdict": (
        lambda r: r.write_verdict({"status": "passed"}),
        InputError,
        "got dict",
    ),
    "verdict-inconsistent": (
        lambda r: r.write_verdict(Verdict("passed", Verdict.from_metric("e", 0.2, 0.05).checks)),
        InputError,
        r"inconsistent verdict: status 'passed' does not follow from its checks \(e passed=False\)",
    ),
    "table-not-a-frame": (lambda r: r.write_theory([1, 2]), InputError, "got list"),
    "table-unserializable": (lambda r: r.write_theory(_bad_df()), StoreError, "cannot write table"),
    "figure-name-escapes": (
        lambda r: r.write_figure(_figure(None, None), stem="../x"),
        InputError,
        r"a figure name must be a plain non-hidden file name; got '\.\./x'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_WRITES))
def test_bad_writes_are_refused_and_leave_nothing(tmp_path, case):
    action, exc, pattern = BAD_WRITES[case]
    with pytest.raises(exc, match=pattern):
        with _writer(tmp_path) as run:
            action(run)
    assert list((tmp_path / "toy-law").iterdir()) == []


BAD_DIRS = {
    "empty": (lambda t: "", r"--out must name a directory; got an empty path"),
    "nul-byte": (lambda t: str(t / "a\0b"), r"must not contain a NUL byte"),
    "a-file": (lambda t: _file(t), r"it is a file, not a directory"),
    "inside-a-file": (lambda t: _file(t) / "sub", r"cannot write run store to .*: Not a directory"),
    "dangling-link": (lambda t: _dangling(t), r"it is a dangling symbolic link"),
    "in-proc": (lambda t: Path("/proc/self/lmech-store"), r"cannot write run store to /proc/self"),
}


def _file(t):
    (t / "file").write_text("x")
    return t / "file"


def _dangling(t):
    (t / "link").symlink_to(t / "nowhere")
    return t / "link"


@pytest.mark.parametrize("case", list(BAD_DIRS))
def test_bad_store_dirs_are_refused(tmp_path, case):
    make, pattern = BAD_DIRS[case]
    target = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(StoreError) as info:
        store.ensure_store_dir(target)
    import re

    msg = str(info.value)
    assert re.search(pattern, msg) and "\n" not in msg, msg
    assert msg.endswith("pass a writable --out DIR")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_index_of_a_file_or_nothing_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        store.index(tmp_path / "nope")
    with pytest.raises(StoreError, match="not a directory"):
        store.index(_file(tmp_path))


def test_a_lock_path_that_is_not_a_file_is_an_error_not_a_hang(tmp_path):
    key = "0123456789abcdef"
    (tmp_path / f".lock-lmech-{key}").mkdir()
    with pytest.raises(StoreError, match="is not a lock file"):
        store.try_lock(tmp_path, key)
    assert (tmp_path / f".lock-lmech-{key}").is_dir()  # not ours: left alone
    with pytest.raises(InputError, match="a point key must be"):
        store.try_lock(tmp_path, "../x")


def test_a_zombie_holder_is_dead(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        key = "0123456789abcdef"
        info = {
            "pid": proc.pid,
            "host_id": store._host_id(),
            "start": store._proc_stat(proc.pid)[1],
        }
        (tmp_path / f".lock-lmech-{key}").write_text(json.dumps(info))
        assert isinstance(store.try_lock(tmp_path, key), store.LockHolder)  # alive
        proc.kill()
        deadline = time.time() + 10
        while store._proc_stat(proc.pid)[0] != "Z" and time.time() < deadline:
            time.sleep(0.02)
        lock = store.try_lock(tmp_path, key)  # killed, not yet reaped: stale
        assert isinstance(lock, store.PointLock)
        lock.release()
    finally:
        proc.kill()
        proc.wait()


# --------------------------------------------------------------------------- real processes

WORKER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from hostile.test_store import TOY, ToySpec, ENV
    import lmech.runs.execute as execute
    from lmech.runs.execute import run_law

    # pin the code part of the key: other edits of lmech while this runs must not matter
    execute.code_hash = lambda: "feedfacefeedface"

    out, seeds = Path(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")]
    rows = []
    for seed in seeds:
        r = run_law(TOY, ToySpec(), preset="quick", seed=seed, device="cpu",
                    out_dir=out, environment=ENV)
        rows.append({{"seed": seed, "reused": r.reused, "path": str(r.path)}})
    print(json.dumps(rows))
    """
)


def _worker(tmp_path, out, seeds, sleep=0.0):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=str(Path(__file__).resolve().parents[1])))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LMECH_TEST_TOY_SLEEP": str(sleep)}
    return subprocess.Popen(
        [sys.executable, str(script), str(out), ",".join(map(str, seeds))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _leftovers(out):
    return [p for p in Path(out).rglob(".*") if p.name.startswith((".tmp-lmech", ".lock-lmech"))]


def test_many_writers_on_one_store_lose_and_corrupt_nothing(tmp_path):
    out = tmp_path / "store"
    seeds = list(range(8))
    plans = [seeds[i:] + seeds[:i] for i in range(0, 8, 2)]  # 4 writers, all 8 points each
    procs = [_worker(tmp_path, out, plan, sleep=0.1) for plan in plans]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs), [e for _, e in outs]
    rows = [row for o, _ in outs for row in json.loads(o)]
    points = store.read_store(out, keep_data=False)
    lost = len(seeds) - len({p.manifest["seed"] for p in points if p.valid})
    corrupt = sum(not p.valid for p in points)
    print(f"writers {len(procs)}, points {len(points)}, lost {lost}, corrupted {corrupt}")
    assert lost == 0 and corrupt == 0 and len(points) == len(seeds)
    computed = [r for r in rows if not r["reused"]]
    assert sorted(r["seed"] for r in computed) == seeds  # each point computed exactly once
    assert _leftovers(out) == []


def test_a_killed_writer_is_taken_over(tmp_path):
    out = tmp_path / "store"
    slow = _worker(tmp_path, out, [0], sleep=60)
    law_dir = out / "toy-law"
    deadline = time.time() + 60
    while not list(law_dir.glob(".lock-lmech-*")) or not list(law_dir.glob(".tmp-lmech-*")):
        assert slow.poll() is None and time.time() < deadline, slow.communicate()
        time.sleep(0.05)
    slow.send_signal(signal.SIGKILL)
    slow.communicate(timeout=30)
    # its lock and its temporary folder (plus, if the kill landed mid-write, a temporary
    # file inside that folder): nothing else, and nothing committed
    top = [p for p in _leftovers(out) if p.parent == law_dir]
    assert sorted(p.name[:10] for p in top) == [".lock-lmec", ".tmp-lmech"], top
    assert all(p.parent in top for p in _leftovers(out) if p not in top)
    fast = _worker(tmp_path, out, [0])
    stdout, stderr = fast.communicate(timeout=60)
    assert fast.returncode == 0, stderr
    [row] = json.loads(stdout)
    assert not row["reused"] and store.read_point(row["path"]).valid
    assert _leftovers(out) == []


def test_a_second_writer_waits_for_the_first_and_reuses_its_point(tmp_path):
    out = tmp_path / "store"
    first = _worker(tmp_path, out, [0], sleep=3)
    deadline = time.time() + 60
    while not list((out / "toy-law").glob(".lock-lmech-*")):
        assert first.poll() is None and time.time() < deadline, first.communicate()
        time.sleep(0.05)
    second = _worker(tmp_path, out, [0])
    (o1, e1), (o2, e2) = first.communicate(timeout=60), second.communicate(timeout=60)
    assert first.returncode == 0 and second.returncode == 0, (e1, e2)
    assert json.loads(o1)[0]["reused"] is False and json.loads(o2)[0]["reused"] is True
    assert [p.valid for p in store.read_store(out)] == [True]
    assert _leftovers(out) == []


def test_arrays_survive_the_round_trip(tmp_path):
    """The stored tables are the measured ones, bit for bit."""
    result = _run(tmp_path, spec=ToySpec(value=np.nextafter(0.01, 1.0)))
    table = store.read_point(result.path).table("experiment")
    assert table["x"][0] == np.nextafter(0.01, 1.0)

"""Tests of the run store: atomic writes, point folders, verification, locks, listing."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from lmech.errors import ConfigError, InputError, StoreError
from lmech.laws.base import Verdict, spec_hash
from lmech.runs import store


@dataclass(frozen=True)
class ToySpec:
    n: int = 8
    ridge: float = 1e-3
    sizes: tuple[int, ...] = (2, 4)


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    theory = pd.DataFrame({"n": np.arange(5), "risk": np.linspace(1.0, 0.1, 5)})
    experiment = pd.DataFrame(
        {"n": np.arange(5), "risk": np.linspace(1.0, 0.1, 5) + 0.01, "seed": [0] * 5}
    )
    return theory, experiment


def _figure() -> Figure:
    fig = Figure(figsize=(2, 1.5))
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [1, 0.5, 0.2])
    return fig


ENV = {"lmech": "test", "device": "cpu"}  # skip git subprocesses in most tests


def _write_point(out, name="toy", spec=None, seed=0, verdict=None, device="cpu", **kwargs):
    spec = ToySpec() if spec is None else spec
    verdict = Verdict.from_metric("rel_err", 0.01, 0.05) if verdict is None else verdict
    theory, experiment = _tables()
    with store.LawRunWriter(
        out, name, preset="smoke", spec=spec, seed=seed, device=device, environment=ENV, **kwargs
    ) as run:
        with run.timed("theory"):
            pass
        run.write_theory(theory)
        run.write_experiment(experiment)
        run.write_verdict(verdict)
        run.write_figure(_figure())
    return run.final_dir


def test_atomic_write_helpers_round_trip(tmp_path):
    store.atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01")
    store.atomic_write_text(tmp_path / "a.txt", "h\u00e9llo")
    store.atomic_write_json(
        tmp_path / "a.json", {"x": [1, 2], "y": np.float64(0.5), "z": np.int64(3)}
    )
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "h\u00e9llo"
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": [1, 2], "y": 0.5, "z": 3}
    store.atomic_write_text(tmp_path / "a.txt", "replaced")
    assert (tmp_path / "a.txt").read_text() == "replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "a.json", "a.txt"]


def test_atomic_write_failure_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "a.json"
    store.atomic_write_json(target, {"ok": 1})
    with pytest.raises(TypeError):
        store.atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert json.loads(target.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_atomic_write_replaces_a_symlink_not_its_target(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "report.html").symlink_to(secret)
    store.atomic_write_text(tmp_path / "out" / "report.html", "report")
    assert secret.read_text() == "private"
    assert not (tmp_path / "out" / "report.html").is_symlink()


def test_parquet_round_trip(tmp_path):
    theory, _ = _tables()
    store.write_parquet(tmp_path / "t.parquet", theory)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), theory)


def test_save_figure_writes_png_and_svg(tmp_path):
    paths = store.save_figure(_figure(), tmp_path, "fig")
    assert [p.name for p in paths] == ["fig.png", "fig.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in paths[1].read_bytes()


def test_point_key_depends_on_every_part():
    base = ("toy", "a" * 16, 0, "c" * 16, "cpu")
    key = store.point_key(*base)
    assert len(key) == 16 and all(ch in "0123456789abcdef" for ch in key)
    assert store.point_key(*base) == key
    for i, other in enumerate(("toy2", "b" * 16, 1, "d" * 16, "cuda")):
        changed = list(base)
        changed[i] = other
        assert store.point_key(*changed) != key, i


def test_point_round_trip(tmp_path):
    spec = ToySpec()
    point_dir = _write_point(tmp_path, claim="risk falls", source="Paper (2020), eq. 3")
    code = store.code_hash()
    assert point_dir == tmp_path / "toy" / store.point_key(
        "toy", spec_hash(spec, 0), 0, code, "cpu"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["toy"]
    assert [p.name for p in (tmp_path / "toy").iterdir()] == [point_dir.name]
    names = sorted(p.name for p in point_dir.iterdir())
    assert names == [
        "experiment.parquet",
        "figure.png",
        "figure.svg",
        "manifest.json",
        "theory.parquet",
        "verdict.json",
    ]
    run = store.read_law_run(point_dir)
    m = run["manifest"]
    assert m["format"] == 2 and m["key"] == point_dir.name
    assert m["law"] == "toy" and m["preset"] == "smoke"
    assert m["spec"] == {"n": 8, "ridge": 1e-3, "sizes": [2, 4]}
    assert m["spec_hash"] == spec_hash(spec, 0) and m["code_hash"] == code
    assert m["seed"] == 0 and m["device"] == "cpu" and m["status"] == "passed"
    assert m["claim"] == "risk falls" and m["source"] == "Paper (2020), eq. 3"
    assert set(m["timings"]) == {"theory"} and m["timings"]["theory"] >= 0.0
    assert m["started"] <= m["finished"]
    # every other file is recorded with its size and SHA-256
    import hashlib

    assert set(m["files"]) == set(names) - {"manifest.json"}
    for name, rec in m["files"].items():
        data = (point_dir / name).read_bytes()
        assert rec == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert run["verdict"] == Verdict.from_metric("rel_err", 0.01, 0.05)
    assert json.loads((point_dir / "verdict.json").read_text())["law"] == "toy"
    theory, experiment = _tables()
    pd.testing.assert_frame_equal(run["theory"], theory)
    pd.testing.assert_frame_equal(run["experiment"], experiment)
    assert run["figures"] == ["figure.png"]


def test_one_store_holds_many_points_per_law(tmp_path):
    a = _write_point(tmp_path, seed=0)
    b = _write_point(tmp_path, seed=1)
    c = _write_point(tmp_path, spec=ToySpec(n=9))
    d = _write_point(tmp_path, device="cuda")
    e = _write_point(tmp_path, code="0" * 16)
    assert len({a, b, c, d, e}) == 5
    assert all(store.read_point(p).valid for p in (a, b, c, d, e))
    df = store.index(tmp_path)
    assert len(df) == 5 and set(df["seed"]) == {0, 1} and set(df["device"]) == {"cpu", "cuda"}
    assert df["valid"].all() and set(df["status"]) == {"passed"}


def test_crash_inside_writer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with store.LawRunWriter(
            tmp_path, "toy", preset="smoke", spec=ToySpec(), seed=0, device="cpu", environment={}
        ) as run:
            run.write_theory(_tables()[0])
            raise RuntimeError("boom")
    assert [p.name for p in tmp_path.iterdir()] == ["toy"]
    assert list((tmp_path / "toy").iterdir()) == []


def test_keyboard_interrupt_inside_writer_discards_the_point(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with store.LawRunWriter(
            tmp_path, "toy", preset="smoke", spec=ToySpec(), seed=0, device="cpu", environment={}
        ) as run:
            run.write_theory(_tables()[0])
            raise KeyboardInterrupt
    assert list((tmp_path / "toy").iterdir()) == []


def test_a_valid_point_is_kept_when_another_writer_commits_the_same_key(tmp_path):
    first = _write_point(tmp_path, verdict=Verdict.from_metric("rel_err", 0.01, 0.05))
    before = (first / "manifest.json").read_bytes()
    second = _write_point(tmp_path, verdict=Verdict.from_metric("rel_err", 0.02, 0.05))
    assert second == first and (first / "manifest.json").read_bytes() == before
    assert [p.name for p in (tmp_path / "toy").iterdir()] == [first.name]


def test_an_invalid_point_is_replaced_and_kept_aside(tmp_path):
    point = _write_point(tmp_path)
    (point / "verdict.json").write_text("{}")
    assert not store.read_point(point).valid
    with store.LawRunWriter(
        tmp_path, "toy", preset="smoke", spec=ToySpec(), seed=0, device="cpu", environment=ENV
    ) as run:
        run.write_verdict(Verdict.from_metric("rel_err", 0.03, 0.05))
    assert run.outcome == "replaced" and run.set_aside is not None
    assert run.set_aside.name.startswith(".invalid-lmech-" + point.name)
    assert (run.set_aside / "verdict.json").read_text() == "{}"  # kept, never deleted
    assert store.read_point(point).valid and store.read_point(point).verdict.value == 0.03
    assert [str(p) for p in store.list_points(tmp_path)] == [str(point)]


def test_a_skipped_point_is_superseded(tmp_path):
    with store.LawRunWriter(
        tmp_path, "toy", preset="smoke", spec=ToySpec(), seed=0, device="cpu", environment=ENV
    ) as run:
        run.write_verdict(Verdict.skipped("rel_err", 0.05, "data missing"))
    point = run.final_dir
    found = store.read_point(point)
    assert found.valid and found.verdict.status == "skipped" and math.isnan(found.verdict.value)
    assert store.read_law_run(point)["experiment"].empty
    _write_point(tmp_path)
    assert store.read_point(point).verdict.status == "passed"
    assert sorted(p.name for p in (tmp_path / "toy").iterdir()) == [point.name]


def test_commit_without_verdict_is_an_error_and_cleans_up(tmp_path):
    with pytest.raises(StoreError, match="write_verdict"):
        with store.LawRunWriter(
            tmp_path, "toy", preset="smoke", spec=ToySpec(), seed=0, device="cpu", environment={}
        ) as run:
            run.write_theory(_tables()[0])
    assert list((tmp_path / "toy").iterdir()) == []


def test_writer_refuses_an_inconsistent_verdict(tmp_path):
    good = Verdict.from_metric("rel_err", 0.2, 0.05)
    forged = Verdict("passed", good.checks)
    with store.LawRunWriter(
        tmp_path, "toy", preset="smoke", spec=ToySpec(), seed=0, device="cpu", environment={}
    ) as run:
        with pytest.raises(InputError, match="does not follow"):
            run.write_verdict(forged)
        run.write_verdict(good)
    assert store.read_point(run.final_dir).verdict.status == "failed"


def test_verdict_problem():
    ok = Verdict.from_metric("e", 0.01, 0.05)
    assert store.verdict_problem(ok) is None
    assert store.verdict_problem(Verdict.skipped("e", 0.05, "no data")) is None
    c = ok.checks[0]
    import dataclasses

    lying = dataclasses.replace(c, value=0.2)  # passed=True kept, but 0.2 > 0.05
    msg = store.verdict_problem(Verdict("passed", (lying,)))
    assert "0.2 <= 0.05 does not hold" in msg and "passed=True" in msg
    nan = dataclasses.replace(c, value=float("nan"))
    assert "does not hold" in store.verdict_problem(Verdict("passed", (nan,)))
    assert "unknown comparison" in store.verdict_problem(
        Verdict("passed", (dataclasses.replace(c, op="<"),))
    )
    assert "not true or false" in store.verdict_problem(
        Verdict("passed", (dataclasses.replace(c, passed="yes"),))
    )
    assert "does not follow" in store.verdict_problem(Verdict("failed", (c,)))


def test_list_points_and_index(tmp_path):
    a = _write_point(tmp_path, "b_law")
    b = _write_point(tmp_path, "a_law")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "notes").mkdir()
    (tmp_path / "b_law" / ".tmp-lmech-deadbeef-1-x-abc").mkdir()
    assert store.list_points(tmp_path) == [b, a]
    assert store.list_points(tmp_path / "a_law") == [b]  # a law folder
    assert store.list_points(b) == [b]  # one point
    assert store.list_points(tmp_path / "stray") == []
    with pytest.raises(StoreError, match="does not exist"):
        store.list_points(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="not a directory"):
        store.list_points(tmp_path / "file")
    df = store.index(tmp_path)
    assert list(df.columns) == list(store.INDEX_COLUMNS)
    assert list(df["law"]) == ["a_law", "b_law"] and df["valid"].all()
    assert str(df["seed"].dtype) == "Int64"
    assert df.loc[0, "checks"] == "rel_err=0.01 <= 0.05"
    empty = store.index(tmp_path / "stray")
    assert empty.empty and list(empty.columns) == list(store.INDEX_COLUMNS)


def test_an_older_store_layout_reads_as_invalid_points(tmp_path):
    law_dir = tmp_path / "old-law"
    law_dir.mkdir()
    (law_dir / "manifest.json").write_text(json.dumps({"law": "old-law", "spec_hash": "x"}))
    (law_dir / "verdict.json").write_text("{}")
    [point] = store.read_store(tmp_path)
    assert not point.valid and "older lmech" in point.problem


def test_writer_validates_inputs(tmp_path):
    with pytest.raises(InputError, match="plain non-hidden"):
        store.LawRunWriter(tmp_path, "../x", preset="smoke", spec=ToySpec(), seed=0, device="cpu")
    with pytest.raises(InputError, match="spec dataclass"):
        store.LawRunWriter(tmp_path, "toy", preset="smoke", spec={"n": 1}, seed=0, device="cpu")
    with pytest.raises(ConfigError, match=r"\[0, 2\^63 - 1\]"):
        store.LawRunWriter(tmp_path, "toy", preset="smoke", spec=ToySpec(), seed=-1, device="cpu")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- housekeeping


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_cleanup_removes_only_temporaries_of_dead_writers(tmp_path):
    host = store._host_id()
    dead = _dead_pid()
    mine = store._owner()
    removed_names = [f".tmp-lmech-{host}-{dead}-x-abc-12345", f".tmp-lmech-{host}-{dead}-1-r.html"]
    kept_names = [
        f".tmp-lmech-{mine}-abc-alive",  # this process
        f".tmp-lmech-{'0' * 8 if host != '0' * 8 else '1' * 8}-{dead}-x-other-host",
        ".tmp-notes",  # a user's own names
        ".tmp-lmech-notes",
        ".tmp-toy-abc123",
    ]
    for name in removed_names[:1] + kept_names[:3]:
        (tmp_path / name).mkdir()
    for name in removed_names[1:] + kept_names[3:]:
        (tmp_path / name).write_text("x")
    removed = store.cleanup_temp(tmp_path)
    assert sorted(p.name for p in removed) == sorted(removed_names)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept_names)
    assert store.cleanup_temp(tmp_path / "missing") == []


def test_lock_is_exclusive_and_released(tmp_path):
    key = "0123456789abcdef"
    lock = store.try_lock(tmp_path, key)
    assert isinstance(lock, store.PointLock)
    info = json.loads(lock.path.read_text())
    assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
    holder = store.try_lock(tmp_path, key)
    assert isinstance(holder, store.LockHolder) and holder.pid == os.getpid()
    assert f"pid {os.getpid()} on this host" in holder.describe()
    lock.release()
    assert not lock.path.exists()
    again = store.try_lock(tmp_path, key)
    assert isinstance(again, store.PointLock)
    again.release()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    key = "0123456789abcdef"
    path = tmp_path / f".lock-lmech-{key}"
    path.write_text(json.dumps({"pid": _dead_pid(), "host_id": store._host_id(), "token": "t"}))
    lock = store.try_lock(tmp_path, key)
    assert isinstance(lock, store.PointLock)
    assert json.loads(path.read_text())["pid"] == os.getpid()
    lock.release()


def test_lock_of_another_host_or_being_written_is_respected(tmp_path):
    key = "0123456789abcdef"
    path = tmp_path / f".lock-lmech-{key}"
    path.write_text(json.dumps({"pid": _dead_pid(), "host_id": "ffffffff", "host": "elsewhere"}))
    if store._host_id() != "ffffffff":
        holder = store.try_lock(tmp_path, key)
        assert isinstance(holder, store.LockHolder) and "host elsewhere" in holder.describe()
    path.write_text("")  # a lock whose writer has not written it yet
    assert isinstance(store.try_lock(tmp_path, key), store.LockHolder)
    old = os.stat(path).st_mtime - 3600
    os.utime(path, (old, old))
    lock = store.try_lock(tmp_path, key)
    assert isinstance(lock, store.PointLock)
    lock.release()


def test_a_released_lock_only_removes_its_own_file(tmp_path):
    lock = store.try_lock(tmp_path, "0123456789abcdef")
    lock.path.write_text(json.dumps({"token": "someone else"}))
    lock.release()
    assert lock.path.exists()


def test_ensure_writable_dir_creates(tmp_path):
    path, created = store.ensure_writable_dir(tmp_path / "a" / "b")
    assert created and path.is_dir() and list(path.iterdir()) == []
    assert store.ensure_writable_dir(path) == (path, False)


def test_ensure_writable_dir_under_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError) as info:
        store.ensure_writable_dir(tmp_path / "file" / "sub" / "deeper")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"cannot write run store to {tmp_path / 'file' / 'sub' / 'deeper'}: ")
    assert msg.endswith("pass a writable --out DIR")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
    assert (tmp_path / "file").read_text() == "x"


def test_ensure_writable_dir_rejects_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        store.ensure_writable_dir(tmp_path / "file")


def test_ensure_store_dir_refuses_point_and_law_folders(tmp_path):
    point = _write_point(tmp_path)
    with pytest.raises(StoreError, match="is a point folder"):
        store.ensure_store_dir(point)
    with pytest.raises(StoreError, match="is a law folder"):
        store.ensure_store_dir(point.parent)
    assert store.ensure_store_dir(tmp_path) == (tmp_path, False)


def test_environment_info_keys():
    info = store.environment_info("cpu")
    for key in ("lmech", "torch", "numpy", "scipy", "pandas", "python", "platform", "device"):
        assert isinstance(info[key], str) and info[key]
    assert info["device"] == "cpu"
    git = info["git"]
    assert git is None or (len(git["commit"]) == 40 and git["dirty"] in (True, False, None))
    json.dumps(info)


def test_git_state_of_a_checkout(tmp_path):
    import shutil

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    pkg = tmp_path / "repo" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    assert store._git_state(pkg) is None  # not a checkout

    def git(*args):
        subprocess.run(
            ["git", "-C", str(pkg), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", "__init__.py")
    assert store._git_state(pkg) is None  # tracked but no commit yet
    git("commit", "-q", "-m", "init")
    state = store._git_state(pkg)
    assert state is not None and len(state["commit"]) == 40 and state["dirty"] is False
    (pkg / "__init__.py").write_text("x = 1\n")
    assert store._git_state(pkg)["dirty"] is True


def test_save_figure_closes_pyplot_figures(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    fig = plt.figure(figsize=(2, 1.5))
    fig.add_subplot().plot([0, 1], [1, 0])
    store.save_figure(fig, tmp_path, "fig")
    assert not plt.fignum_exists(fig.number)


def test_files_get_umask_permissions(tmp_path):
    import stat

    old = os.umask(0o022)
    try:
        path = store.atomic_write_text(tmp_path / "a.txt", "x")
        # the module reads the umask at import; 0o022 is the usual default
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_tree_hash_changes_with_any_python_source_only(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "sub" / "b.py").write_text("y = 2\n")
    base = store._tree_hash(tmp_path / "pkg")
    assert len(base) == 16 and base == store._tree_hash(tmp_path / "pkg")
    (tmp_path / "pkg" / "notes.txt").write_text("not code")
    assert store._tree_hash(tmp_path / "pkg") == base  # only .py files count
    (tmp_path / "pkg" / "sub" / "b.py").write_text("y = 3\n")
    edited = store._tree_hash(tmp_path / "pkg")
    assert edited != base
    (tmp_path / "pkg" / "sub" / "b.py").rename(tmp_path / "pkg" / "sub" / "c.py")
    assert store._tree_hash(tmp_path / "pkg") not in (base, edited)  # paths count too


def test_an_older_law_folder_is_retired_when_its_law_runs_again(tmp_path):
    law_dir = tmp_path / "toy"
    law_dir.mkdir()
    for name in ("manifest.json", "verdict.json", "theory.parquet", "notes.txt"):
        (law_dir / name).write_text(json.dumps({"law": "toy"}) if name == "manifest.json" else "x")
    assert [p.path for p in store.read_store(tmp_path)] == [law_dir]
    aside = store.retire_legacy(law_dir)
    assert aside is not None and aside.name.startswith(".invalid-lmech-legacy-")
    assert sorted(p.name for p in aside.iterdir()) == [
        "manifest.json",
        "theory.parquet",
        "verdict.json",
    ]
    assert (law_dir / "notes.txt").read_text() == "x"  # not a name lmech wrote: left alone
    assert store.retire_legacy(law_dir) is None
    point = _write_point(tmp_path)
    assert [p.path for p in store.read_store(tmp_path)] == [point]

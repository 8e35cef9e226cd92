"""Tests of the run store: atomic writes, law directories, resume and errors."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from lmech.errors import InputError, StoreError
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


def _write_run(out, name="toy", spec=None, seed=0, verdict=None, **kwargs):
    spec = ToySpec() if spec is None else spec
    verdict = Verdict.from_metric("rel_err", 0.01, 0.05) if verdict is None else verdict
    theory, experiment = _tables()
    env = {"lmech": "test", "device": "cpu"}  # skip git subprocesses in most tests
    with store.LawRunWriter(
        out, name, preset="smoke", spec=spec, seed=seed, device="cpu", environment=env, **kwargs
    ) as run:
        with run.timed("theory"):
            pass
        run.write_theory(theory)
        run.write_experiment(experiment)
        run.write_verdict(verdict)
        run.write_figure(_figure())
    return out / name


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


def test_parquet_round_trip(tmp_path):
    theory, _ = _tables()
    store.write_parquet(tmp_path / "t.parquet", theory)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), theory)


def test_save_figure_writes_png_and_svg(tmp_path):
    paths = store.save_figure(_figure(), tmp_path, "fig")
    assert [p.name for p in paths] == ["fig.png", "fig.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in paths[1].read_bytes()


def test_law_run_round_trip(tmp_path):
    spec = ToySpec()
    law_dir = _write_run(tmp_path, claim="risk falls", source="Paper (2020), eq. 3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy"]
    assert sorted(p.name for p in law_dir.iterdir()) == [
        "experiment.parquet",
        "figure.png",
        "figure.svg",
        "manifest.json",
        "theory.parquet",
        "verdict.json",
    ]
    run = store.read_law_run(law_dir)
    m = run["manifest"]
    assert m["law"] == "toy"
    assert m["preset"] == "smoke"
    assert m["spec"] == {"n": 8, "ridge": 1e-3, "sizes": [2, 4]}
    assert m["spec_hash"] == spec_hash(spec, 0)
    assert m["seed"] == 0 and m["device"] == "cpu" and m["status"] == "passed"
    assert m["claim"] == "risk falls" and m["source"] == "Paper (2020), eq. 3"
    assert set(m["timings"]) == {"theory"} and m["timings"]["theory"] >= 0.0
    assert m["started"] <= m["finished"]
    assert run["verdict"] == Verdict.from_metric("rel_err", 0.01, 0.05)
    assert json.loads((law_dir / "verdict.json").read_text())["law"] == "toy"
    theory, experiment = _tables()
    pd.testing.assert_frame_equal(run["theory"], theory)
    pd.testing.assert_frame_equal(run["experiment"], experiment)
    assert [p.name for p in run["figures"]] == ["figure.png"]


def test_crash_inside_writer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with store.LawRunWriter(
            tmp_path,
            "toy",
            preset="smoke",
            spec=ToySpec(),
            seed=0,
            device="cpu",
            environment={},
        ) as run:
            run.write_theory(_tables()[0])
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_crash_keeps_previous_committed_run(tmp_path):
    _write_run(tmp_path)
    with pytest.raises(RuntimeError):
        with store.LawRunWriter(
            tmp_path,
            "toy",
            preset="smoke",
            spec=ToySpec(n=9),
            seed=0,
            device="cpu",
            environment={},
        ):
            raise RuntimeError("interrupted")
    assert [p.name for p in tmp_path.iterdir()] == ["toy"]
    assert store.find_finished(tmp_path, "toy", spec_hash(ToySpec(), 0)) is not None


def test_commit_replaces_existing_run(tmp_path):
    _write_run(tmp_path, verdict=Verdict.from_metric("rel_err", 0.5, 0.05))
    _write_run(tmp_path, verdict=Verdict.from_metric("rel_err", 0.02, 0.05))
    assert [p.name for p in tmp_path.iterdir()] == ["toy"]
    assert store.read_law_run(tmp_path / "toy")["verdict"].value == 0.02


def test_commit_without_verdict_is_an_error_and_cleans_up(tmp_path):
    with pytest.raises(StoreError, match="write_verdict"):
        with store.LawRunWriter(
            tmp_path,
            "toy",
            preset="smoke",
            spec=ToySpec(),
            seed=0,
            device="cpu",
            environment={},
        ) as run:
            run.write_theory(_tables()[0])
    assert list(tmp_path.iterdir()) == []


def test_skipped_run_is_complete_and_finished(tmp_path):
    verdict = Verdict.skipped("rel_err", 0.05, "data set not on this machine")
    with store.LawRunWriter(
        tmp_path, "toy", preset="smoke", spec=ToySpec(), seed=0, device="cpu", environment={}
    ) as run:
        run.write_verdict(verdict)
    found = store.find_finished(tmp_path, "toy", spec_hash(ToySpec(), 0))
    assert found is not None and found.status == "skipped" and math.isnan(found.value)
    run = store.read_law_run(tmp_path / "toy")
    assert run["manifest"]["status"] == "skipped"
    assert run["experiment"].empty and run["figures"] == []


def test_find_finished_matches_hash_only(tmp_path):
    _write_run(tmp_path, seed=1)
    assert store.find_finished(tmp_path, "toy", spec_hash(ToySpec(), 1)) == Verdict.from_metric(
        "rel_err", 0.01, 0.05
    )
    assert store.find_finished(tmp_path, "toy", spec_hash(ToySpec(), 0)) is None
    assert store.find_finished(tmp_path, "toy", spec_hash(ToySpec(n=9), 1)) is None
    assert store.find_finished(tmp_path, "other", spec_hash(ToySpec(), 1)) is None


def test_find_finished_ignores_incomplete_or_corrupt_dirs(tmp_path):
    law_dir = _write_run(tmp_path)
    key = spec_hash(ToySpec(), 0)
    (law_dir / "experiment.parquet").unlink()
    assert store.find_finished(tmp_path, "toy", key) is None
    law_dir = _write_run(tmp_path)
    (law_dir / "manifest.json").write_text("{not json")
    assert store.find_finished(tmp_path, "toy", key) is None


def test_cleanup_temp_removes_leftovers_only(tmp_path):
    _write_run(tmp_path)
    leftover = tmp_path / ".tmp-toy-abc123"
    leftover.mkdir()
    (leftover / "theory.parquet").write_bytes(b"partial")
    (tmp_path / ".tmp-report.html-xyz").write_text("partial")
    removed = store.cleanup_temp(tmp_path)
    assert sorted(p.name for p in removed) == [".tmp-report.html-xyz", ".tmp-toy-abc123"]
    assert [p.name for p in tmp_path.iterdir()] == ["toy"]
    assert store.cleanup_temp(tmp_path / "missing") == []


def test_cleanup_temp_spares_recent_entries(tmp_path):
    (tmp_path / ".tmp-toy-live").mkdir()
    assert store.cleanup_temp(tmp_path, min_age_s=3600) == []
    assert (tmp_path / ".tmp-toy-live").is_dir()


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


def test_read_law_run_reports_missing_and_corrupt_files(tmp_path):
    law_dir = _write_run(tmp_path)
    (law_dir / "theory.parquet").write_bytes(b"not parquet")
    with pytest.raises(StoreError, match="corrupt.*theory.parquet"):
        store.read_law_run(law_dir)
    (law_dir / "verdict.json").unlink()
    with pytest.raises(StoreError, match="verdict.json is missing"):
        store.read_law_run(law_dir)
    with pytest.raises(StoreError, match="not a directory"):
        store.read_law_run(tmp_path / "nope")


def test_list_law_runs(tmp_path):
    _write_run(tmp_path, "b_law")
    _write_run(tmp_path, "a_law")
    (tmp_path / ".tmp-c_law-xyz").mkdir()
    (tmp_path / "stray").mkdir()
    assert [p.name for p in store.list_law_runs(tmp_path)] == ["a_law", "b_law"]
    assert store.list_law_runs(tmp_path / "a_law") == [tmp_path / "a_law"]
    with pytest.raises(StoreError, match="no law runs"):
        store.list_law_runs(tmp_path / "stray")
    with pytest.raises(StoreError, match="not a directory"):
        store.list_law_runs(tmp_path / "missing")


def test_writer_validates_inputs(tmp_path):
    with pytest.raises(InputError, match="plain non-hidden name"):
        store.LawRunWriter(tmp_path, "../x", preset="smoke", spec=ToySpec(), seed=0, device="cpu")
    with pytest.raises(InputError, match="spec dataclass"):
        store.LawRunWriter(tmp_path, "toy", preset="smoke", spec={"n": 1}, seed=0, device="cpu")
    assert list(tmp_path.iterdir()) == []


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
    import subprocess

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


def test_files_and_law_dirs_get_umask_permissions(tmp_path):
    import os
    import stat

    from lmech.runs.store import atomic_write_text

    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "a.txt", "x")
        # the module reads the umask at import; 0o022 is the usual default
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_find_finished_also_matches_device_and_code_when_asked(tmp_path):
    law_dir = _write_run(tmp_path, seed=1)
    key = spec_hash(ToySpec(), 1)
    manifest = json.loads((law_dir / "manifest.json").read_text())
    assert manifest["code_hash"] == store.code_hash()
    here = manifest["device"]
    assert store.find_finished(tmp_path, "toy", key, device=here, code=store.code_hash())
    assert store.find_finished(tmp_path, "toy", key, device="other-device") is None
    assert store.find_finished(tmp_path, "toy", key, code="0" * 16) is None  # other code


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

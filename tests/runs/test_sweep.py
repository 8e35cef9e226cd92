"""``lmech sweep``: grids, the local and Ray executors, resuming, and faults.

The law swept is ``li2-energy-maxima`` at small sizes (a point takes about a second):
its check values are deterministic functions of (spec, seed), so two executors, an
interrupted and an uninterrupted sweep, and two concurrent sweeps can be compared value
by value. Values are compared to rounding (rtol 1e-9): a worker may run another number
of BLAS threads than another, which changes a reduction's summation order only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmech.errors import ConfigError
from lmech.laws import registry
from lmech.runs.store import list_points, read_point
from lmech.runs.sweep import MAX_POINTS, parse_axis, parse_seeds, plan_sweep

LMECH = [sys.executable, "-m", "lmech.cli"]
LAW = "li2-energy-maxima"
GRID = ["--grid", "starts=2,3,4", "--grid", "steps=40,60,80", "--seeds", "2"]
BASE = ["sweep", LAW, *GRID, "--set", "records=10", "--device", "cpu", "--json"]
VALUE_COLUMNS = ["max_energy_rel_err", "max_impurity"]


def _env(**extra) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0", **extra}
    env.pop("COLUMNS", None)
    return env


def _sweep(out: Path, *args: str, env: dict | None = None, timeout: float = 600):
    proc = subprocess.run(
        [*LMECH, *BASE, "--out", str(out), *args],
        capture_output=True,
        text=True,
        env=env or _env(),
        timeout=timeout,
    )
    doc = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None
    return proc, doc


def _table(doc: dict) -> pd.DataFrame:
    keys = ["starts", "steps", "seed"]
    return pd.DataFrame(doc["table"]).sort_values(keys).reset_index(drop=True)


def _same_tables(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = ["starts", "steps", "seed", "status", "key"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    np.testing.assert_allclose(
        a[VALUE_COLUMNS].to_numpy(float), b[VALUE_COLUMNS].to_numpy(float), rtol=1e-9, atol=1e-15
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 3 x 3 x 2-seed sweep with the local pool (2 workers)."""
    out = tmp_path_factory.mktemp("reference")
    proc, doc = _sweep(out, "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    return out, doc, proc.stderr


# --------------------------------------------------------------------------- parsing


def _spec():
    return registry.get(LAW).preset("quick")


def test_grid_ranges_and_lists_parse_to_the_field_types():
    assert parse_axis("steps=log:10:1000:3", _spec()) == ("steps", ["10", "100", "1000"])
    assert parse_axis("starts=2, 3", _spec()) == ("starts", ["2", "3"])
    key, values = parse_axis("groups=C_5;C_5,C_7", _spec())  # a tuple field: ';' between values
    assert key == "groups" and values == ["C_5", "C_5,C_7"]
    assert parse_seeds("3") == (0, 1, 2) and parse_seeds("0,7") == (0, 7)
    assert parse_seeds("0,") == (0,) and parse_seeds(" 5 , ") == (5,)  # one seed alone


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ("nope=1,2", "valid keys"),
        ("steps", "expects key=v1,v2"),
        ("steps=log:0:10:3", "START > 0"),
        ("steps=log:1:2:5", "rounds to repeated values"),
        ("steps=lin:1:10:1", "N <= "),
        ("steps=1,,2", "empty value"),
        ("groups=log:1:2:3", "holds a tuple"),
    ],
)
def test_bad_grid_items_are_refused_with_the_fix(item, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_axis(item, _spec())


def test_bad_sweeps_are_refused_before_anything_runs(tmp_path):
    out = tmp_path / "store"
    with pytest.raises(ConfigError, match="steps=0"):  # every point's spec is validated
        plan_sweep(LAW, ["steps=10,0"], out_dir=out)
    with pytest.raises(ConfigError, match="given twice"):
        plan_sweep(LAW, ["steps=10", "steps=20"], out_dir=out)
    with pytest.raises(ConfigError, match="both swept"):
        plan_sweep(LAW, ["steps=10,20"], overrides={"steps": "5"}, out_dir=out)
    with pytest.raises(ConfigError, match=f"at most {MAX_POINTS}"):
        plan_sweep(LAW, ["steps=lin:1:200:200", "starts=lin:1:100:100"], out_dir=out)
    with pytest.raises(ConfigError, match="seed K alone: 'K,'"):
        parse_seeds("0")
    with pytest.raises(ConfigError, match="--seeds"):
        parse_seeds(",")
    with pytest.raises(ConfigError, match="each seed once"):
        parse_seeds("1,1")
    assert not list_points(out) if out.exists() else True


# --------------------------------------------------------------------------- executors


def test_local_sweep_writes_every_point_and_a_rerun_reuses_them(reference):
    out, doc, err = reference
    table = _table(doc)
    assert len(table) == 18 and doc["computed"] == 18 and doc["lost"] == 0
    assert set(table["status"]) <= {"passed", "failed"}
    assert len(list_points(out)) == 18 and all(read_point(p).valid for p in list_points(out))
    finished = [line for line in err.splitlines() if line.startswith("[")]
    assert len(finished) == 18 and finished[-1].startswith("[18/18]") and "left" in finished[-1]
    report = Path(doc["report"])
    assert report.is_file() and (report.parent / "table.csv").is_file()
    assert {p.name for p in report.parent.glob("*.png")} == {f"{c}.png" for c in VALUE_COLUMNS}
    proc, again = _sweep(out)
    assert proc.returncode == 0 and again["reused"] == 18 and again["computed"] == 0
    assert "recomputed 0, lost 0" in proc.stderr
    _same_tables(_table(again), table)


def test_ray_sweep_gives_the_local_table_and_retries_a_crashed_worker(reference, tmp_path):
    pytest.importorskip("ray")
    crash = tmp_path / "crash-once"
    crash.write_text("the first Ray task to delete this file kills its worker\n")
    out = tmp_path / "ray"
    proc, doc = _sweep(
        out, "--executor", "ray", "--workers", "2", env=_env(LMECH_INJECT_CRASH=str(crash))
    )
    assert proc.returncode == 0, proc.stderr
    assert not crash.exists() and doc["retried"] == 1 and doc["lost"] == 0
    _same_tables(_table(doc), _table(reference[1]))
    assert "retried after its worker process died" in " ".join(t or "" for t in _table(doc).note)


def test_local_pool_retries_a_killed_worker_and_reports_it(reference, tmp_path):
    crash = tmp_path / "crash-once"
    crash.write_text("x")
    out = tmp_path / "local"
    proc, doc = _sweep(out, "--workers", "2", env=_env(LMECH_INJECT_CRASH=str(crash)))
    assert proc.returncode == 0, proc.stderr
    assert doc["retried"] == 1 and doc["computed"] == 18 and doc["lost"] == 0
    assert "killed by SIGKILL" in proc.stderr
    _same_tables(_table(doc), _table(reference[1]))


def test_a_point_whose_worker_always_dies_is_an_error_not_a_gap(tmp_path):
    # --retries 0: the first point's worker is killed once and the point is an error
    crash = tmp_path / "crash-once"
    crash.write_text("x")
    out = tmp_path / "store"
    env = _env(LMECH_INJECT_CRASH=str(crash))
    proc = subprocess.run(
        [*LMECH, "sweep", LAW, "--grid", "starts=2", "--set", "steps=40", "--set", "records=10",
         "--workers", "2", "--seeds", "0,1", "--retries", "0", "--device", "cpu",
         "--out", str(out), "--json"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1
    statuses = sorted(r["status"] for r in doc["table"])
    assert statuses in (["error", "passed"], ["error", "failed"])
    error = next(r for r in doc["table"] if r["status"] == "error")
    assert "worker process died 1 time" in error["note"] and "SIGKILL" in error["note"]


def test_killing_the_driver_mid_sweep_loses_nothing_and_the_rerun_recomputes_nothing(
    reference, tmp_path
):
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [*LMECH, *BASE, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and len([p for p in list_points(out) if read_point(p).valid]) >= 4:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(60)
    before = {p.name for p in list_points(out) if read_point(p).valid}
    assert 4 <= len(before) < 18
    rerun, doc = _sweep(out)
    assert rerun.returncode == 0, rerun.stderr
    assert doc["found"] == len(before) and doc["computed"] == 18 - len(before)
    assert doc["recomputed"] == 0 and doc["lost"] == 0
    print(rerun.stderr.splitlines()[-1])  # "18 points: computed ..., recomputed 0, lost 0"
    assert "recomputed 0, lost 0" in rerun.stderr.splitlines()[-1]
    _same_tables(_table(doc), _table(reference[1]))
    leftovers = [p for p in out.rglob("*") if p.name.startswith((".tmp-", ".lock-"))]
    assert leftovers == []


def test_two_sweeps_into_one_store_at_once_finish_consistent(reference, tmp_path):
    out = tmp_path / "shared"
    cmds = [
        [*LMECH, *BASE, "--out", str(out)],
        [*LMECH, "sweep", LAW, "--grid", "starts=3,4", "--grid", "steps=60,80", "--seeds", "2",
         "--set", "records=10", "--device", "cpu", "--json", "--out", str(out)],
    ]  # fmt: skip
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env()) for c in cmds]  # fmt: skip
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    docs = [json.loads(o) for o, _ in outs]
    points = list_points(out)
    assert len(points) == 18 and all(read_point(p).valid for p in points)  # one per key
    _same_tables(_table(docs[0]), _table(reference[1]))
    small = _table(docs[1]).set_index("key")
    full = _table(docs[0]).set_index("key").loc[small.index]
    np.testing.assert_allclose(full[VALUE_COLUMNS], small[VALUE_COLUMNS], rtol=1e-9, atol=1e-15)
    # together the two computed each shared point once (the other waited and reused it)
    assert docs[0]["computed"] + docs[1]["computed"] == 18

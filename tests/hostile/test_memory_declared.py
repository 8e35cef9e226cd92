"""Each law's declared memory (``LawSpec.memory_bytes``) against the memory it really takes.

The runner refuses a spec whose declared need exceeds the memory limit before the law
starts, so the declaration must err high (declared >= measured) without being useless
(declared <= 20 x measured + 300 MB). Measured: the growth of the peak resident set of a
forked child of one interpreter (``VmHWM`` reset through ``/proc/self/clear_refs``) while the law's
theory and experiment run at the quick preset, after a smoke run has loaded every lazy
import. A subset cheap enough for the suite (one per family where the quick preset takes
a few CPU-seconds); the rest were measured the same way, by hand.

Then ``lmech run LAW --set field=1000000000`` for one law of each family: refused before
any work with exit 2 and one ``error:`` line (the declared memory above the limit, or a
field bound where the spec caps the field).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lmech.cli import main

MB = 2**20

_MEASURE = r"""
import json, os, sys
import torch
torch.set_num_threads(1)
from lmech.laws import registry

def status():
    with open("/proc/self/status") as fh:
        return {l.split(":")[0]: int(l.split()[1]) * 1024 for l in fh
                if l.startswith(("VmRSS", "VmHWM"))}

for name in sys.argv[1:]:  # each law in a forked child: a fresh heap, imports shared
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        continue
    law = registry.get(name)
    smoke = law.preset("smoke")
    law.theory(smoke)
    law.experiment(smoke, 1, "cpu")  # lazy imports, thread pools, allocator arenas
    spec = law.preset("quick")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak resident set to the current one
    base = status()["VmRSS"]
    law.theory(spec)
    law.experiment(spec, 0, "cpu")
    growth = status()["VmHWM"] - base
    print(json.dumps({"law": name, "declared": spec.memory_bytes(), "growth": growth}))
    sys.stdout.flush()
    os._exit(0)
"""

# cheap quick presets, one per family where one is cheap (CPU-seconds at quick: 0.4-2.6)
MEASURED = [
    "eigenlearning-digits",
    "ntk-width-convergence",
    "coord-check",
    "rf-compute-optimal",
    "cnn-ntk-width-convergence",
    "cka-invariances",
    "rf-ensembles-no-free-lunch",
]


def _can_reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return "VmHWM" in Path("/proc/self/status").read_text()
    except OSError:
        return False


@pytest.fixture(scope="module")
def measured():
    """{law: (declared, measured growth)} from one interpreter forking a child per law."""
    if not _can_reset_peak():
        pytest.skip("needs Linux /proc/self/clear_refs")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *MEASURED], capture_output=True, text=True, env=env,
        timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {r["law"]: (r["declared"], r["growth"]) for r in rows}


@pytest.mark.parametrize("name", MEASURED)
def test_declared_memory_errs_high_but_not_by_much(name, measured):
    assert name in measured, f"{name}: the measuring child failed"
    declared, growth = measured[name]
    assert declared >= growth, (
        f"{name}: declared {declared / MB:.0f} MB < measured {growth / MB:.0f}"
    )
    assert declared <= 20 * growth + 300 * MB, (
        f"{name}: declared {declared / MB:.0f} MB > 20 x measured {growth / MB:.0f} + 300 MB"
    )


# one law per family, a size field set to 10^9 (cnn's fields are capped by their bounds)
HUGE = {
    "eigenlearning-synthetic": ("num_modes", r"law eigenlearning-synthetic at this spec needs"),
    "nngp-monte-carlo": ("width", r"law nngp-monte-carlo at this spec needs [\d.]+ [PT]iB"),
    "hea-eigenvalues-gaussian": ("rbf_samples", r"hea-eigenvalues-gaussian at this spec needs"),
    "lr-transfer-width": ("num_train", r"law lr-transfer-width at this spec needs"),
    "rf-scaling-exponents": ("num_features", r"law rf-scaling-exponents at this spec needs"),
    "chinchilla-recovery": ("bootstrap", r"law chinchilla-recovery at this spec needs"),
    "cntk-fashion-mnist": ("subset", r"subset must be <= 70000; got 1000000000"),
    "id-known-manifolds": ("ambient_dim", r"law id-known-manifolds at this spec needs"),
    "ridge-deterministic-equivalent": ("dim", r"ridge-deterministic-equivalent at this spec"),
}


@pytest.mark.parametrize("name", list(HUGE))
def test_a_huge_size_is_refused_before_any_work(name, tmp_path, capsys, monkeypatch):
    field, pattern = HUGE[name]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "64")  # the same verdict on any machine
    code = main(["run", name, "--device", "cpu", "--set", f"{field}=1000000000"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert re.search(pattern, lines[0]), (pattern, err)
    if "needs" in pattern:  # the memory refusal names the limit and how to raise it
        assert "above the limit of 64.0 GiB (LMECH_MEMORY_LIMIT_GB=64)" in lines[0], err
    assert list(tmp_path.iterdir()) == []  # nothing written

"""Hostile input to the scaling-law fits: the Python API and ``lmech fit ...``.

Data that cannot identify a law are refused (an ``InputError`` whose message says what
was expected and what came; on the command line exit 2 and one ``error:`` line); data
that give a partial answer come back with warnings (exit 0 and a ``warning:`` line) and
NaN intervals for what is not identified, never a tight interval that means nothing.
Nothing is half-written: a refused command leaves its folder as it found it.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from lmech.cli import main
from lmech.errors import ConfigError, InputError, LmechError
from lmech.fit import (
    HOFFMANN_2022,
    chinchilla_loss,
    efficient_frontier,
    fit_chinchilla,
    fit_envelope,
    fit_isoflop,
    fit_powerlaw,
    percentile_interval,
    resample_counts,
)
from lmech.fit.chinchilla import COARSE_GRID, hoffmann_grid

H = HOFFMANN_2022


def _runs(n=40, noise=0.01, seed=0, **law):
    rng = np.random.default_rng(seed)
    p = dict(H) | law
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    return N, D, chinchilla_loss(N, D, **p) * np.exp(noise * rng.standard_normal(n))


def _grid(nn=6, nd=6, noise=0.002, seed=0):
    rng = np.random.default_rng(seed)
    N = np.repeat(np.geomspace(7e7, 1.6e10, nn), nd)
    D = np.tile(np.geomspace(5e9, 5e11, nd), nn)
    return N, D, chinchilla_loss(N, D, **H) * np.exp(noise * rng.standard_normal(nn * nd))


N5, D5, L5 = _runs(5)
NG, DG, LG = _runs(40)


def _isoflop(budgets=9, sizes=9, lo=0.3, hi=3.0):
    rows = []
    for C in np.geomspace(6e18, 3e21, budgets):
        n0 = efficient_frontier(C, H["A"], H["B"], H["alpha"], H["beta"])[0]
        for N in n0 * np.geomspace(lo, hi, sizes):
            rows.append((N, C, chinchilla_loss(N, C / (6 * N), **H)))
    return [np.array(c) for c in zip(*rows, strict=True)]


def _curves(sizes):
    rows = [(n, d, chinchilla_loss(n, d, **H)) for n in sizes for d in np.geomspace(1e9, 1e13, 40)]
    return [np.array(c) for c in zip(*rows, strict=True)]


def _refuse(fn, exc, *patterns):
    """``fn()`` raises ``exc`` whose one-line message says what came ("got") and matches
    every pattern (what was expected)."""
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    assert isinstance(info.value, LmechError) and "\n" not in msg, msg
    assert "got" in msg, msg
    for p in patterns:
        assert re.search(p, msg), (p, msg)


# ---------------------------------------------------------------- API refusals (43 cases)

CHINCHILLA_REFUSALS = {
    "five-rows": ((N5, D5, L5), {}, InputError, [r"at least 10 distinct \(N, D\) runs", "got 5"]),
    "one-row-x20": (
        (np.full(20, N5[0]), np.full(20, D5[0]), np.full(20, L5[0])),
        {},
        InputError,
        [r"got 1 distinct \(N, D\) runs \(20 rows, 19 of them repeat"],
    ),
    "nine-distinct-of-40-rows": (
        (np.tile(NG[:9], 5)[:40], np.tile(DG[:9], 5)[:40], np.tile(LG[:9], 5)[:40]),
        {},
        InputError,
        ["at least 10 distinct", r"got 9 distinct \(N, D\) runs \(40 rows"],
    ),
    "constant-N": (
        (np.full(36, 1e9), _grid()[1], _grid()[2]),
        {},
        InputError,
        [r"at least 3 distinct values of N \(for A", r"1 distinct N \(N = 1e\+09 in all 36"],
    ),
    "constant-D": (
        (_grid()[0], np.full(36, 1e11), _grid()[2]),
        {},
        InputError,
        ["at least 3 distinct values of N .* and of D", r"1 distinct D \(D = 1e\+11"],
    ),
    "two-distinct-N": (
        (np.repeat([1e8, 1e9], 18), np.tile(np.geomspace(1e9, 1e11, 18), 2), np.linspace(3, 2, 36)),
        {},
        InputError,
        [r"got 36 distinct \(N, D\) runs, 2 distinct N, 18 distinct D", "other model sizes$"],
    ),
    "constant-loss": (
        (_grid()[0], _grid()[1], np.full(36, 2.5)),
        {},
        InputError,
        ["loss must vary", r"same value \(2.5\) in all 36 rows"],
    ),
    "loss-constant-to-1e-12": (
        (_grid()[0], _grid()[1], 2.5 * (1 + 1e-12 * np.arange(36))),
        {},
        InputError,
        ["loss must vary"],
    ),
    "collinear-N-D": (
        (NG, 20 * NG, chinchilla_loss(NG, 20 * NG, **H)),
        {},
        InputError,
        ["vary independently", "exact linear function of log N"],
    ),
    "complex-N": ((NG + 1j, DG, LG), {}, InputError, ["N must be real numbers", "got complex"]),
    "nan-loss": ((NG, DG, np.r_[LG[:-1], np.nan]), {}, InputError, ["loss must be finite"]),
    "negative-D": ((NG, -DG, LG), {}, InputError, [r"D must be > 0", "non-positive"]),
    "unequal-lengths": ((NG, DG[:-1], LG), {}, InputError, ["same length", "'D': 39"]),
    "2-D-N": ((NG.reshape(8, 5), DG, LG), {}, InputError, ["N must be 1-D", r"shape \(8, 5\)"]),
    "strings-in-N": ((["a"] * 40, DG, LG), {}, InputError, ["N must be a 1-D list", "got list"]),
    "int-overflowing-float": (([10**400] * 40, DG, LG), {}, InputError, ["N must be a 1-D"]),
    "bootstrap-1e9": ((NG, DG, LG), {"bootstrap": 10**9}, InputError, [r"\[0, 100000\]"]),
    "bootstrap-negative": ((NG, DG, LG), {"bootstrap": -1}, InputError, [r"\[0, 100000\]"]),
    "bootstrap-float": ((NG, DG, LG), {"bootstrap": 2.5}, InputError, ["must be an integer"]),
    "bootstrap-bool": ((NG, DG, LG), {"bootstrap": True}, InputError, ["must be an integer"]),
    "level-above-1": ((NG, DG, LG), {"level": 1.5}, InputError, [r"level must be a number in"]),
    "level-nan": ((NG, DG, LG), {"level": float("nan")}, InputError, [r"\(0, 1\)"]),
    "level-string": ((NG, DG, LG), {"level": "0.9"}, InputError, [r"\(0, 1\)"]),
    "delta-zero": ((NG, DG, LG), {"delta": 0.0}, InputError, ["Huber threshold", "> 0"]),
    "delta-inf": ((NG, DG, LG), {"delta": float("inf")}, InputError, ["finite number"]),
    "grid-wrong-width": ((NG, DG, LG), {"grid": np.zeros((3, 4))}, InputError, [r"\(S, 5\)"]),
    "grid-nan": ((NG, DG, LG), {"grid": np.full((2, 5), np.nan)}, InputError, ["finite"]),
    "grid-empty": ((NG, DG, LG), {"grid": np.zeros((0, 5))}, InputError, ["S >= 1"]),
    "seed-negative": ((NG, DG, LG), {"seed": -1}, ConfigError, [r"\[0, 2\^63 - 1\]"]),
    "seed-2^64": ((NG, DG, LG), {"seed": 2**64}, ConfigError, [r"\[0, 2\^63 - 1\]"]),
    "seed-string": ((NG, DG, LG), {"seed": "7"}, ConfigError, ["must be an integer"]),
}


@pytest.mark.parametrize("case", list(CHINCHILLA_REFUSALS), ids=list(CHINCHILLA_REFUSALS))
def test_fit_chinchilla_refuses(case):
    args, kwargs, exc, patterns = CHINCHILLA_REFUSALS[case]
    _refuse(lambda: fit_chinchilla(*args, grid=kwargs.pop("grid", COARSE_GRID), **kwargs), exc,
            *patterns)  # fmt: skip


def test_fit_chinchilla_refuses_a_bootstrap_that_cannot_fit_in_memory(monkeypatch):
    # 10,000 rows x 100,000 resamples: ~24 GB of counts, refused before any work (the
    # time limit, checked first, raised out of the way)
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "8")
    monkeypatch.setenv("LMECH_FIT_MAX_SECONDS", "1e12")
    N, D, L = _runs(10_000)
    with pytest.raises(InputError) as info:
        fit_chinchilla(N, D, L, bootstrap=100_000, grid=COARSE_GRID)
    msg = str(info.value)
    assert re.search(r"10000 rows with 100000 bootstrap resamples needs 2\d\.\d GiB", msg), msg
    assert "above the limit of 8.0 GiB" in msg and "LMECH_MEMORY_LIMIT_GB" in msg, msg
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "lots")
    _refuse(lambda: fit_chinchilla(NG, DG, LG, bootstrap=10), InputError, "number of GiB")


POWERLAW_REFUSALS = {
    "three-points": (([1.0, 2, 3], [1.0, 0.5, 0.3]), {}, ["at least 4 distinct x", "got 3"]),
    "no-offset-two-points": (([1.0, 2], [1.0, 0.5]), {"offset": False}, ["at least 3", "got 2"]),
    "constant-x": ((np.full(20, 5.0), np.linspace(1, 2, 20)), {}, ["got 1 \\(20 rows"]),
    "repeated-x": ((np.repeat([1.0, 2, 3], 10), np.linspace(2, 1, 30)), {}, ["got 3 \\(30 rows"]),
    "constant-y": ((np.geomspace(1, 1e3, 20), np.full(20, 0.7)), {}, ["y must vary"]),
    "offset-not-bool": (
        (np.geomspace(1, 1e3, 20), np.geomspace(2, 1, 20)),
        {"offset": "yes"},
        ["offset must be True or False"],
    ),  # fmt: skip
    "bootstrap-1e6": (
        (np.geomspace(1, 1e3, 20), np.geomspace(2, 1, 20)),
        {"bootstrap": 10**6},
        [r"\[0, 100000\]"],
    ),  # fmt: skip
    "complex-y": (
        (np.geomspace(1, 1e3, 20), np.geomspace(2, 1, 20) * (1 + 0j)),
        {},
        ["y must be real"],
    ),  # fmt: skip
}


@pytest.mark.parametrize("case", list(POWERLAW_REFUSALS), ids=list(POWERLAW_REFUSALS))
def test_fit_powerlaw_refuses(case):
    args, kwargs, patterns = POWERLAW_REFUSALS[case]
    _refuse(lambda: fit_powerlaw(*args, **kwargs), InputError, *patterns)


def test_fit_isoflop_refuses_unidentifiable_profiles():
    N, C, L = _isoflop()
    _refuse(lambda: fit_isoflop(N, C, np.full_like(L, 3.0)), InputError, "loss must vary")
    two = C <= np.unique(C)[1]
    _refuse(lambda: fit_isoflop(N[two], C[two], L[two]), InputError, ">= 3 compute budgets",
            "got 2 of 2")  # fmt: skip
    # concave profiles (loss rising to a maximum): no minimum in any budget
    _refuse(lambda: fit_isoflop(N, C, 10 - L), InputError, "needs a minimum", "got none")
    _refuse(lambda: fit_isoflop(N, C, L, rtol=-1.0), InputError, r"rtol must be a number")
    _refuse(lambda: fit_isoflop(N, C, L, flops_per_param_token=0.0), InputError, "> 0")


def test_fit_envelope_refuses_unidentifiable_envelopes():
    N, D, L = _curves(np.geomspace(1e8, 1e11, 6))
    _refuse(lambda: fit_envelope(np.full(5, 1e8), D[:5], L[:5]), InputError, ">= 2 model sizes")
    _refuse(lambda: fit_envelope(N, D, L, num_compute=10**9), InputError, r"\[3, 10000\]")
    _refuse(lambda: fit_envelope(N, D, np.full_like(L, 2.0)), InputError, "loss must vary")
    # every run spans the same compute range and the smallest is 10x lower everywhere
    sizes = np.geomspace(1e8, 1e11, 6)
    Ns = np.repeat(sizes, 40)
    Ds = np.concatenate([np.geomspace(1e19, 1e22, 40) / (6 * n) for n in sizes])
    Ls = chinchilla_loss(Ns, Ds, **H) * np.where(Ns == sizes[0], 0.1, 1.0)
    _refuse(lambda: fit_envelope(Ns, Ds, Ls), InputError, "N_opt never changes")


def test_bootstrap_pieces_and_allocation_refuse():
    _refuse(lambda: resample_counts(0, 10, 0), InputError, "integer >= 1")
    _refuse(lambda: resample_counts(10, 10**9, 0), InputError, r"\[0, 100000\]")
    _refuse(lambda: percentile_interval(np.zeros((5, 2)), 2.0), InputError, r"\(0, 1\)")
    _refuse(lambda: efficient_frontier(1e21, 400.0, 400.0, 0.0, 0.3), InputError, "alpha = 0.0")


# ------------------------------------------------------ API partial answers (12 cases)


def test_exact_duplicate_rows_are_counted_once_and_warned():
    res = fit_chinchilla(np.r_[NG, NG[:10]], np.r_[DG, DG[:10]], np.r_[LG, LG[:10]],
                         grid=COARSE_GRID, bootstrap=40)  # fmt: skip
    assert res.n_points == 50 and res.n_distinct == 40
    assert any("10 of 50 rows repeat another row exactly" in w for w in res.warnings)
    assert res.unidentified == {}


def test_vanished_irreducible_term_is_not_identified():
    N, D, L = _runs(40, E=1e-9)
    res = fit_chinchilla(N, D, L, grid=COARSE_GRID, bootstrap=40)
    tab = res.table().set_index("parameter")
    assert "E" in res.unidentified and "at a bound" in res.unidentified["E"]
    assert np.isnan(tab.loc["E", "ci_low"]) and np.isnan(tab.loc["E", "ci_high"])
    assert tab.loc["E", "note"] == res.unidentified["E"]
    assert tab.attrs["warnings"] == list(res.warnings)
    # the rest is still a real answer: alpha's interval covers the truth
    assert tab.loc["alpha", "ci_low"] < H["alpha"] < tab.loc["alpha", "ci_high"]


def test_loss_rising_with_N_gives_no_allocation():
    N, D, _ = _runs(40)
    L = 2 + 1e-3 * N**0.2 * np.exp(0.01 * np.random.default_rng(1).standard_normal(40))
    res = fit_chinchilla(N, D, L, grid=COARSE_GRID, bootstrap=20)
    assert res.estimate["alpha"] < 0
    assert any("does not fall with N" in w for w in res.warnings)
    assert {"a", "b"} <= set(res.unidentified)
    assert np.isnan(res.interval("a")).all()
    _refuse(res.exponents, InputError, "alpha > 0 and beta > 0", "got alpha = -")
    _refuse(lambda: res.compute_optimal(1e21), InputError, "alpha > 0")


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_pure_noise_gives_no_compute_optimal_exponents(seed):
    # loss = 2.5 x 1% noise on a 6 x 6 grid: no scaling in N or D at all
    N, D, _ = _grid()
    L = 2.5 * np.exp(0.01 * np.random.default_rng(seed).standard_normal(36))
    res = fit_chinchilla(N, D, L, grid=COARSE_GRID, bootstrap=100)
    assert {"a", "b"} <= set(res.unidentified)
    assert np.isnan(res.interval("a")).all() and np.isnan(res.interval("b")).all()
    assert res.warnings


def test_nearly_collinear_N_and_D_warn():
    rng = np.random.default_rng(3)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), 40))
    D = 20 * N * np.exp(0.001 * rng.standard_normal(40))
    L = chinchilla_loss(N, D, **H) * np.exp(0.01 * rng.standard_normal(40))
    res = fit_chinchilla(N, D, L, grid=COARSE_GRID)
    assert any("nearly collinear" in w for w in res.warnings)


def test_noiseless_data_say_their_intervals_are_not_error_bars():
    N, D, L = _runs(40, noise=0.0)
    res = fit_chinchilla(N, D, L, grid=COARSE_GRID, bootstrap=20)
    assert any("noiseless data" in w for w in res.warnings)
    assert res.estimate["alpha"] == pytest.approx(H["alpha"], rel=1e-8)


def test_parameter_left_at_its_start_is_not_identified():
    # every start has E's term at e^-200: its weight in the LSE is ~0, so it never moves
    grid = hoffmann_grid((0.25, 0.75), (0.25, 0.75), (-200.0,), (5.0, 10.0), (5.0, 10.0))
    res = fit_chinchilla(NG, DG, LG, grid=grid, bootstrap=10)
    assert "E" in res.unidentified
    assert np.isnan(res.interval("E")).all()
    assert any("E not identified" in w for w in res.warnings)


def test_powerlaw_on_few_points_drops_degenerate_resamples():
    x = np.geomspace(10, 1e4, 5)
    res = fit_powerlaw(x, 0.2 + 3 * x**-0.5, bootstrap=50)
    assert any("fewer than 2 per parameter" in w for w in res.warnings)
    assert any("bootstrap resamples left out" in w for w in res.warnings)
    tab = res.table()
    assert tab["ci_low"].isna().all() and tab["note"].str.contains("usable refit").all()


def test_isoflop_warns_about_dropped_budgets_and_extrapolated_minima():
    N, C, L = _isoflop(lo=0.05, hi=0.6)  # every profile sampled below its optimum
    extra = (np.array([1e9, 2e9]), np.array([1e22, 1e22]), np.array([3.0, 2.9]))
    res = fit_isoflop(np.r_[N, extra[0]], np.r_[C, extra[1]], np.r_[L, extra[2]])
    assert any("1 of 10 compute budgets" in w for w in res.warnings)
    assert any("outside its model sizes" in w for w in res.warnings)


def test_envelope_with_two_sizes_warns():
    N, D, L = _curves([1e8, 1e10])
    res = fit_envelope(N, D, L, bootstrap=30)
    assert any("only 2 model sizes" in w for w in res.warnings)
    assert list(res.table()["parameter"]) == ["a", "b"]


# ------------------------------------------------------------- CLI (22 cases)


def _csv(tmp_path, name, **cols):
    path = tmp_path / name
    pd.DataFrame(cols).to_csv(path, index=False)
    return path


def _cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _assert_refused(code, err, *patterns):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "got" in lines[0], err
    for p in patterns:
        assert re.search(p, lines[0]), (p, err)


CLI_DATA = {
    "five": lambda: {"N": N5, "D": D5, "L": L5},
    "dup": lambda: {"N": np.full(20, N5[0]), "D": np.full(20, D5[0]), "L": np.full(20, L5[0])},
    "constN": lambda: {"N": np.full(36, 1e9), "D": _grid()[1], "L": _grid()[2]},
    "constL": lambda: {"N": _grid()[0], "D": _grid()[1], "L": np.full(36, 2.5)},
    "good": lambda: dict(zip("NDL", _grid(), strict=True)),
}

CLI_REFUSALS = {
    "five-rows": ("five", [], [r"at least 10 distinct \(N, D\) runs", "got 5"]),
    "one-row-x20": ("dup", [], [r"got 1 distinct \(N, D\) runs \(20 rows"]),
    "constant-N": ("constN", [], ["at least 3 distinct values of N", "1 distinct N"]),
    "constant-loss": ("constL", [], ["loss must vary", "all 36 rows"]),
    "bootstrap-1e9": ("good", ["--bootstrap", "1000000000"], [r"--bootstrap must be in \[0, "]),
    "bootstrap-negative": ("good", ["--bootstrap", "-5"], [r"--bootstrap must be in"]),
    "seed-negative": ("good", ["--seed", "-1"], [r"--seed must be in \[0, 2\^63 - 1\]"]),
    "seed-2^64": ("good", ["--seed", str(2**64)], [r"--seed must be in"]),
    "out-missing-folder": (
        "good",
        ["--out", "{tmp}/nope/fig.png"],
        ["existing folder", "does not exist"],
    ),
    "out-bad-suffix": ("good", ["--out", "{tmp}/fig.txt"], [r"must end in one of \.png"]),
    "grid-unknown": ("good", ["--grid", "fine"], ["--grid must be one of"]),
    "flops-overflow": ("good", [], [r"D = C / \(6 N\)", "under- or overflow"]),
}


@pytest.mark.parametrize("case", list(CLI_REFUSALS), ids=list(CLI_REFUSALS))
def test_cli_chinchilla_refuses(case, tmp_path, capsys, monkeypatch):
    data, extra, patterns = CLI_REFUSALS[case]
    monkeypatch.chdir(tmp_path)  # the default figure would land here
    path = _csv(tmp_path, "runs.csv", **CLI_DATA[data]())
    extra = [e.replace("{tmp}", str(tmp_path)) for e in extra]
    if case == "flops-overflow":  # C = 1e308 and N ~ 1e-3 are finite; D = C / (6 N) is not
        cols = CLI_DATA[data]()
        cols |= {"N": cols["N"] * 1e-10, "C": np.full(36, 1e308)}
        path = _csv(tmp_path, "runs.csv", **cols)
        args = ["fit", "chinchilla", path, "--n", "N", "--flops", "C", "--loss", "L"]
    else:
        args = ["fit", "chinchilla", path, "--n", "N", "--d", "D", "--loss", "L", *extra]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, _, err = _cli(args, capsys)
    _assert_refused(code, err, *patterns)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


@pytest.mark.parametrize(
    "content, pattern",
    [
        (b"", "cannot read"),
        (b"N,D,L\n", r"at least 10 distinct \(N, D\) runs.*got 0"),
        (b"PAR1garbage", "cannot read"),
    ],
    ids=["empty-file", "header-only", "garbage-parquet"],
)
def test_cli_chinchilla_refuses_unreadable_files(content, pattern, tmp_path, capsys):
    path = tmp_path / ("runs.parquet" if content.startswith(b"PAR1") else "runs.csv")
    path.write_bytes(content)
    args = ["fit", "chinchilla", path, "--n", "N", "--d", "D", "--loss", "L", "--json"]
    code, _, err = _cli(args, capsys)
    _assert_refused(code, err, pattern)


POWERLAW_CLI = {
    "three-points": ({"x": [1.0, 2, 3], "y": [1.0, 0.5, 0.3]}, [], ["at least 4 distinct x"]),
    "constant-y": ({"x": np.geomspace(1, 1e3, 9), "y": np.full(9, 0.7)}, [], ["y must vary"]),
    "bootstrap-1e9": (
        {"x": np.geomspace(1, 1e3, 9), "y": np.geomspace(2, 1, 9)},
        ["--bootstrap", "1000000000"],
        [r"\[0, 100000\]"],
    ),
}


@pytest.mark.parametrize("case", list(POWERLAW_CLI), ids=list(POWERLAW_CLI))
def test_cli_powerlaw_refuses(case, tmp_path, capsys):
    cols, extra, patterns = POWERLAW_CLI[case]
    path = _csv(tmp_path, "curve.csv", **cols)
    out = tmp_path / "curve.png"
    args = ["fit", "powerlaw", path, "--x", "x", "--y", "y", "--out", out, *extra]
    code, _, err = _cli(args, capsys)
    _assert_refused(code, err, *patterns)
    assert not out.exists()


def _warned(code, err, pattern):
    assert code == 0, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    warns = [ln for ln in lines if ln.startswith("warning:")]
    assert warns and not any(ln.startswith("error:") for ln in lines), err
    assert any(re.search(pattern, w) for w in warns), err
    return warns


def test_cli_duplicated_rows_warn_and_json_carries_the_warning(tmp_path, capsys):
    N, D, L = _grid()
    path = _csv(tmp_path, "runs.csv", N=np.r_[N, N[:6]], D=np.r_[D, D[:6]], L=np.r_[L, L[:6]])
    args = ["fit", "chinchilla", path, "--n", "N", "--d", "D", "--loss", "L", "--json",
            "--grid", "coarse", "--bootstrap", "20"]  # fmt: skip
    code, out, err = _cli(args, capsys)
    warns = _warned(code, err, "6 of 42 rows repeat another row exactly")
    data = json.loads(out)
    assert data["warnings"] == [w.removeprefix("warning: ") for w in warns]
    assert data["alpha"]["ci_low"] <= data["alpha"]["estimate"] <= data["alpha"]["ci_high"]
    assert data["alpha"]["estimate"] == pytest.approx(H["alpha"], rel=0.05)


def test_cli_unidentified_parameter_shows_in_table_json_and_warning(tmp_path, capsys):
    N, D, L = _runs(40, E=1e-9)
    path = _csv(tmp_path, "runs.csv", N=N, D=D, L=L)
    fig = tmp_path / "fit.svg"
    base = ["fit", "chinchilla", path, "--n", "N", "--d", "D", "--loss", "L", "--grid", "coarse",
            "--bootstrap", "20", "--out", fig]  # fmt: skip
    code, out, err = _cli(base, capsys)
    _warned(code, err, "E not identified")
    assert "not identified" in out and fig.stat().st_size > 0
    code, out, err = _cli(base + ["--json"], capsys)
    data = json.loads(out)
    assert data["E"]["ci_low"] is None and "at a bound" in data["E"]["note"]
    assert any("E not identified" in w for w in data["warnings"])


def test_cli_rising_loss_has_no_allocation_but_no_crash(tmp_path, capsys):
    N, D, _ = _runs(40)
    L = 2 + 1e-3 * N**0.2 * np.exp(0.01 * np.random.default_rng(1).standard_normal(40))
    path = _csv(tmp_path, "runs.csv", N=N, D=D, L=L)
    fig = tmp_path / "fit.png"
    args = ["fit", "chinchilla", path, "--n", "N", "--d", "D", "--loss", "L", "--grid", "coarse",
            "--bootstrap", "10", "--out", fig]  # fmt: skip
    code, out, err = _cli(args, capsys)
    _warned(code, err, "does not fall with N")
    assert "compute-optimal (C = 6ND): not identified" in out
    assert fig.stat().st_size > 0  # the figure says so instead of dividing by zero


def test_cli_powerlaw_on_few_points_warns(tmp_path, capsys):
    x = np.geomspace(10, 1e4, 5)
    path = _csv(tmp_path, "curve.csv", x=x, y=0.2 + 3 * x**-0.5)
    args = ["fit", "powerlaw", path, "--x", "x", "--y", "y", "--bootstrap", "50", "--json"]
    code, out, err = _cli(args, capsys)
    _warned(code, err, "fewer than 2 per parameter")
    data = json.loads(out)
    assert data["alpha"]["estimate"] == pytest.approx(0.5, rel=1e-6)
    assert data["alpha"]["ci_low"] is None and "usable refit" in data["alpha"]["note"]

"""Hostile input to the low-level Chinchilla engines and fits too large to run.

``multistart`` and ``bootstrap_refit`` refuse data that cannot identify the law (as
``fit_chinchilla`` does) and raise an ``IdentifiabilityWarning`` for numbers the data do
not pin down: a parameter left at its start, a vanished term, refits that never moved.
Resamples that cannot identify the law come back as NaN rows, never as a refit that
stayed at the optimum. A fit whose estimated CPU time exceeds the limit (one CPU-hour,
or ``LMECH_FIT_MAX_SECONDS``) is refused before any work, on the API and on the command
line (exit 2, one ``error:`` line naming the limit).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from lmech.cli import main
from lmech.errors import InputError, LmechError
from lmech.fit import (
    HOFFMANN_2022,
    IdentifiabilityWarning,
    chinchilla_loss,
    fit_chinchilla,
    fit_powerlaw,
    resample_counts,
)
from lmech.fit.chinchilla import COARSE_GRID, bootstrap_refit, hoffmann_grid, multistart

H = HOFFMANN_2022
# (a, b, e, alpha, beta) of the truth, the engines' coordinates
TRUTH = np.array([np.log(H["A"]), np.log(H["B"]), np.log(H["E"]), H["alpha"], H["beta"]])


def _logs(n=40, noise=0.01, seed=0, reps=1, **law):
    """(log N, log D, log L (reps, n)) of random runs of the law with log-normal noise."""
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    clean = np.log(chinchilla_loss(N, D, **(dict(H) | law)))
    return np.log(N), np.log(D), clean[None] + noise * rng.standard_normal((reps, n))


LN, LD, LL = _logs()


def _refuse(fn, *patterns):
    with pytest.raises(InputError) as info:
        fn()
    msg = str(info.value)
    assert isinstance(info.value, LmechError) and "\n" not in msg, msg
    assert "got" in msg, msg
    for p in patterns:
        assert re.search(p, msg), (p, msg)
    return msg


def _quiet(fn):
    """``fn()`` with every warning an error: a well-posed fit warns about nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn()


# ---------------------------------------------------------------- multistart refusals

_five = _logs(5)
_dup = (np.full(20, LN[0]), np.full(20, LD[0]), np.full((1, 20), LL[0, 0]))
_const_n = (np.full(40, LN[0]), LD, LL)
_collinear = (LN, LN + np.log(20.0), LL)

MULTISTART_REFUSALS = {
    "five-runs": (_five, {}, [r"at least 10 distinct \(N, D\) runs", "got 5 distinct"]),
    "one-row-x20": (_dup, {}, [r"got 1 distinct \(N, D\) runs \(20 rows, 19 of them repeat"]),
    "constant-N": (_const_n, {}, ["3 distinct values of N", r"1 distinct N \(N = "]),
    "constant-loss": ((LN, LD, np.full((1, 40), 0.9)), {}, ["loss must vary", "all 40 rows"]),
    "one-constant-set": (
        (LN, LD, np.vstack([LL[0], np.full(40, 0.9), LL[0]])),
        {},
        [r"constant loss in 1 of 3 data sets \(rows \[1\]\)"],
    ),
    "collinear": (_collinear, {}, ["exact linear function of log N"]),
    "loss-shape": ((LN, LD, np.zeros((2, 41))), {}, [r"\(R, n\) = \(R, 40\)", r"\(2, 41\)"]),
    "n-d-lengths": ((LN, LD[:39], LL), {}, ["one value per run", r"\(40,\) and \(39,\)"]),
    "nan-loss": ((LN, LD, np.where(np.arange(40) == 3, np.nan, LL)), {}, ["1 NaN/inf"]),
    "complex-n": ((LN + 0j, LD, LL), {}, ["real numbers", "complex"]),
    "text-loss": ((LN, LD, "loss"), {}, ["array of numbers"]),
    "grid-width": ((LN, LD, LL), {"grid": np.zeros((3, 4))}, [r"\(S, 5\)", r"\(3, 4\)"]),
    "grid-too-big": ((LN, LD, LL), {"grid": np.zeros((100_001, 5))}, ["at most 100000"]),
    "keep-zero": ((LN, LD, LL), {"keep": 0.0}, [r"keep must be a fraction .* \(0, 1\]"]),
    "max-iter-zero": ((LN, LD, LL), {"max_iter": 0}, ["max_iter must be an integer >= 1"]),
    "delta-negative": ((LN, LD, LL), {"delta": -1.0}, ["Huber threshold"]),
}


@pytest.mark.parametrize("case", list(MULTISTART_REFUSALS), ids=list(MULTISTART_REFUSALS))
def test_multistart_refuses(case):
    (ln, ld, ll), kwargs, patterns = MULTISTART_REFUSALS[case]
    grid = kwargs.pop("grid", COARSE_GRID)
    _refuse(lambda: multistart(ln, ld, ll, grid, **kwargs), *patterns)


# ---------------------------------------------------------------- multistart answers


def test_multistart_on_well_posed_data_recovers_the_truth_without_warnings():
    ln, ld, ll = _logs(200, noise=0.005, reps=3)
    theta, value = _quiet(lambda: multistart(ln, ld, ll, COARSE_GRID))
    assert theta.shape == (3, 5) and value.shape == (3,)
    # the exponents within 10% of the truth in every repetition (noise 0.5%, 200 runs)
    np.testing.assert_allclose(theta[:, 3:], np.tile(TRUTH[3:], (3, 1)), rtol=0.1)
    np.testing.assert_allclose(np.exp(theta[:, 2]), H["E"], rtol=0.05)


def test_multistart_warns_about_rows_repeated_exactly():
    ll = np.c_[LL, LL[:, :7]]
    with pytest.warns(IdentifiabilityWarning, match="7 of 47 rows repeat another row exactly"):
        multistart(np.r_[LN, LN[:7]], np.r_[LD, LD[:7]], ll, COARSE_GRID)


def test_multistart_warns_about_a_parameter_left_at_its_start():
    # every start has E's term at e^-200: its LSE weight is ~0, so e never moves
    grid = hoffmann_grid((0.25, 0.75), (0.25, 0.75), (-200.0,), (5.0, 10.0), (5.0, 10.0))
    ln, ld, ll = _logs(40, reps=2)
    with pytest.warns(IdentifiabilityWarning) as record:
        theta, _ = multistart(ln, ld, ll, grid)
    text = " ".join(str(w.message) for w in record)
    assert "in 2 of 2 data sets (rows [0, 1]) E never moved from its start value" in text
    np.testing.assert_array_equal(theta[:, 2], -200.0)  # the start, reported as such
    assert "the E term is below 1e-06 of the fitted loss" in text


def test_multistart_warns_about_a_vanished_term():
    # E = 1e-9: the irreducible term is ~1e-9 of a loss of ~1: it goes to its bound
    ln, ld, ll = _logs(40, E=1e-9)
    with pytest.warns(IdentifiabilityWarning, match=r"rows \[0\]\) the E term is below"):
        theta, _ = multistart(ln, ld, ll, COARSE_GRID)
    assert np.exp(theta[0, 2]) < 1e-6 * np.exp(ll).max()


def test_multistart_warns_about_nearly_collinear_runs():
    rng = np.random.default_rng(3)
    ld = LN + np.log(20.0) + 0.001 * rng.standard_normal(40)
    ll = np.log(chinchilla_loss(np.exp(LN), np.exp(ld), **H))[None]
    ll = ll + 0.01 * rng.standard_normal((1, 40))
    with pytest.warns(IdentifiabilityWarning) as record:
        multistart(LN, ld, ll, COARSE_GRID)
    assert any("log N and log D are nearly collinear" in str(w.message) for w in record)


# ---------------------------------------------------------------- bootstrap_refit


def _theta_hat(ln=LN, ld=LD, ll=LL):
    return _quiet(lambda: multistart(ln, ld, ll, COARSE_GRID))[0]


BOOT_REFUSALS = {
    "counts-2d": (lambda th: (th, np.ones((5, 40))), [r"\(R, B, n\) = \(1, B, 40\)", r"\(5, 40\)"]),
    "counts-rows": (lambda th: (th, np.ones((1, 5, 39))), [r"got shape \(1, 5, 39\)"]),
    "counts-negative": (
        lambda th: (th, -np.ones((1, 5, 40))),
        ["counts must be >= 0", "got 200 negative"],
    ),
    "counts-nan": (lambda th: (th, np.full((1, 5, 40), np.nan)), ["counts must be finite"]),
    "theta-nan": (lambda th: (th * np.nan, np.ones((1, 5, 40))), ["theta_hat must be finite"]),
    "theta-shape": (lambda th: (th[:, :4], np.ones((1, 5, 40))), [r"\(1, 5\)", r"\(1, 4\)"]),
}


@pytest.mark.parametrize("case", list(BOOT_REFUSALS), ids=list(BOOT_REFUSALS))
def test_bootstrap_refit_refuses(case):
    make, patterns = BOOT_REFUSALS[case]
    theta, counts = make(_theta_hat())
    _refuse(lambda: bootstrap_refit(LN, LD, LL, theta, counts), *patterns)


def test_bootstrap_refit_refuses_data_that_cannot_identify_the_law():
    ln, ld, ll = _five
    _refuse(
        lambda: bootstrap_refit(ln, ld, ll, TRUTH[None], np.ones((1, 3, 5))),
        r"at least 10 distinct \(N, D\) runs",
    )


def test_bootstrap_refit_leaves_out_resamples_that_cannot_identify_the_law():
    theta = _theta_hat()
    counts = resample_counts(40, 8, 0)[None]  # (1, 8, 40)
    counts[0, 2] = 0.0
    counts[0, 2, :5] = 8.0  # 5 distinct runs: below the 6 a resample needs
    counts[0, 5] = 0.0
    counts[0, 5, np.argsort(LN)[:20]] = 2.0  # the 20 smallest models twice: still usable
    out = _quiet(lambda: bootstrap_refit(LN, LD, LL, theta, counts))
    assert out.shape == (1, 8, 5)
    left_out = ~np.isfinite(out[0]).all(axis=1)
    np.testing.assert_array_equal(np.flatnonzero(left_out), [2])
    # a usable resample's refit is a real refit: its spread around theta_hat is the
    # bootstrap's, not zero
    assert np.ptp(out[0, ~left_out, 3]) > 1e-4


def test_bootstrap_refit_warns_when_most_resamples_are_left_out():
    theta = _theta_hat()
    counts = np.zeros((1, 6, 40))
    counts[0, :, :4] = 10.0  # every resample keeps 4 distinct runs
    counts[0, 0] = 1.0  # one resample is the full data
    with pytest.warns(IdentifiabilityWarning, match=r"more than 50% of the 6 resamples"):
        out = bootstrap_refit(LN, LD, LL, theta, counts)
    assert np.isfinite(out[0, 0]).all() and np.isnan(out[0, 1:]).all()


def test_bootstrap_refit_warns_when_refits_never_move():
    # every "resample" is the full data: each refit returns theta_hat, a zero-width
    # interval from noisy data that means nothing
    theta = _theta_hat()
    counts = np.ones((1, 10, 40))
    with pytest.warns(IdentifiabilityWarning, match="every bootstrap refit returned the same"):
        out = bootstrap_refit(LN, LD, LL, theta, counts)
    np.testing.assert_allclose(out[0], np.tile(theta, (10, 1)), rtol=1e-6, atol=1e-9)


def test_bootstrap_refit_of_the_full_data_stays_at_the_optimum():
    theta = _theta_hat()
    out = _quiet(lambda: bootstrap_refit(LN, LD, LL, theta, np.ones((1, 1, 40))))
    np.testing.assert_allclose(out[0, 0], theta[0], rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------- time limits (API)


def test_fit_chinchilla_refuses_ten_million_rows_before_any_work():
    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(18, 23, 10_000_000))
    D = np.exp(rng.uniform(22, 26, 10_000_000))
    L = 1.7 + 400 / N**0.34 + 410 / D**0.28
    msg = _refuse(
        lambda: fit_chinchilla(N, D, L),
        r"a Chinchilla fit of 10000000 rows from 4500 starts",
        r"would take about [\d.]+ days of CPU time",
        r"above the limit of 60 min \(the default",
        "LMECH_FIT_MAX_SECONDS=<seconds>",
    )
    assert "--grid coarse" in msg


def test_fit_powerlaw_refuses_ten_million_rows_before_any_work():
    x = np.geomspace(1, 1e6, 10_000_000)
    _refuse(
        lambda: fit_powerlaw(x, 1 + 3 * x**-0.5, bootstrap=100),
        r"a power-law fit of 10000000 rows with 100 bootstrap resamples would take",
        "LMECH_FIT_MAX_SECONDS",
    )


def test_multistart_and_bootstrap_refit_refuse_work_above_the_limit(monkeypatch):
    # 2,000 data sets x 64 runs x 4,500 starts: ~1.5 CPU-hours estimated
    ln, ld, ll = _logs(64, reps=2000)
    _refuse(
        lambda: multistart(ln, ld, ll, hoffmann_grid()),
        r"a Chinchilla multistart of 2000 data sets x 64 rows from 4500 starts",
        r"above the limit of 60 min",
    )
    monkeypatch.setenv("LMECH_FIT_MAX_SECONDS", "1")
    # 2,000 refits x 64 rows x 100 iterations = 1.28e7 / 2e6 per s = 6.4 s > 1 s
    _refuse(
        lambda: bootstrap_refit(ln, ld, ll[:1], TRUTH[None], np.ones((1, 2000, 64))),
        r"1 x 2000 Chinchilla bootstrap refits of 64 rows would take about 6 s",
        r"limit of 1 s \(LMECH_FIT_MAX_SECONDS=1\)",
    )


@pytest.mark.parametrize("raw", ["abc", "-5", "0", "nan", "inf"])
def test_a_bad_time_limit_is_refused(raw, monkeypatch):
    monkeypatch.setenv("LMECH_FIT_MAX_SECONDS", raw)
    _refuse(
        lambda: fit_chinchilla(np.exp(LN), np.exp(LD), np.exp(LL[0]), grid=COARSE_GRID),
        r"LMECH_FIT_MAX_SECONDS must be a positive number of CPU seconds",
        re.escape(repr(raw)),
    )


def test_a_raised_time_limit_lets_the_fit_run(monkeypatch):
    # 40 rows x 1000 resamples (~2 s estimated) under a 1 s limit: refused; under 60 s: runs
    monkeypatch.setenv("LMECH_FIT_MAX_SECONDS", "1")
    args = (np.exp(LN), np.exp(LD), np.exp(LL[0]))
    _refuse(lambda: fit_chinchilla(*args, grid=COARSE_GRID, bootstrap=1000), "limit of 1 s")
    monkeypatch.setenv("LMECH_FIT_MAX_SECONDS", "60")
    res = fit_chinchilla(*args, grid=COARSE_GRID, bootstrap=1000)
    lo, hi = res.interval("alpha")
    assert lo < H["alpha"] < hi


# ---------------------------------------------------------------- time limits (CLI)


def _cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _refused_cli(code, err, *patterns):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    for p in patterns:
        assert re.search(p, lines[0]), (p, err)


def _table(tmp_path, n, name="runs.parquet"):
    rng = np.random.default_rng(1)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    L = chinchilla_loss(N, D, **H) * np.exp(0.01 * rng.standard_normal(n))
    path = tmp_path / name
    df = pd.DataFrame({"N": N, "D": D, "L": L})
    if name.endswith(".parquet"):
        df.to_parquet(path)
    else:
        df.to_csv(path, index=False)
    return path


CLI_TIME = {
    # (rows, extra args, environment limit, patterns of the one error line)
    "chinchilla-200k-rows": (
        200_000,
        ["chinchilla", "--n", "N", "--d", "D", "--loss", "L"],
        None,
        [r"200000 rows from 4500 starts with 1000 bootstrap", r"about [\d.]+ h of CPU time",
         "limit of 60 min", "LMECH_FIT_MAX_SECONDS"],
    ),
    "chinchilla-bootstrap-100k": (
        1000,
        ["chinchilla", "--n", "N", "--d", "D", "--loss", "L", "--bootstrap", "100000"],
        None,
        [r"1000 rows from 4500 starts with 100000 bootstrap resamples", "limit of 60 min"],
    ),
    "chinchilla-lowered-limit": (
        40,
        ["chinchilla", "--n", "N", "--d", "D", "--loss", "L", "--grid", "coarse"],
        "1",
        [r"40 rows from 48 starts with 1000 bootstrap", r"limit of 1 s \(LMECH_FIT_MAX_SECONDS=1"],
    ),
    "powerlaw-1M-rows": (
        1_000_000,
        ["powerlaw", "--x", "N", "--y", "L"],
        None,
        [r"a power-law fit of 1000000 rows with 1000 bootstrap resamples", "limit of 60 min"],
    ),
    "bad-limit": (
        40,
        ["chinchilla", "--n", "N", "--d", "D", "--loss", "L"],
        "soon",
        [r"LMECH_FIT_MAX_SECONDS must be a positive number.*got 'soon'"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CLI_TIME), ids=list(CLI_TIME))
def test_cli_fit_refuses_work_above_the_time_limit(case, tmp_path, capsys, monkeypatch):
    rows, args, limit, patterns = CLI_TIME[case]
    path = _table(tmp_path, rows)
    if limit is not None:
        monkeypatch.setenv("LMECH_FIT_MAX_SECONDS", limit)
    monkeypatch.chdir(tmp_path)  # the default figure would land here
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = _cli(["fit", args[0], path, *args[1:]], capsys)
    _refused_cli(code, err, *patterns)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written

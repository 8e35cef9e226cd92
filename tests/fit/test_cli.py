"""``lmech fit`` end to end on files the tests write."""

import json

import numpy as np
import pandas as pd
import pytest

from lmech.cli import main
from lmech.fit import HOFFMANN_2022, chinchilla_loss


@pytest.fixture
def runs_csv(tmp_path):
    rng = np.random.default_rng(0)
    N = np.repeat(np.geomspace(7e7, 1.6e10, 6), 6)
    D = np.tile(np.geomspace(5e9, 5e11, 6), 6)
    loss = chinchilla_loss(N, D, **HOFFMANN_2022) * np.exp(0.002 * rng.standard_normal(36))
    path = tmp_path / "runs.csv"
    pd.DataFrame({"params": N, "tokens": D, "flops": 6 * N * D, "loss": loss}).to_csv(
        path, index=False
    )
    return path


def test_chinchilla_json_and_figure(runs_csv, tmp_path, capsys):
    fig = tmp_path / "fit.png"
    code = main(
        [
            "fit",
            "chinchilla",
            str(runs_csv),
            "--n",
            "params",
            "--d",
            "tokens",
            "--loss",
            "loss",
            "--bootstrap",
            "30",
            "--json",
            "--out",
            str(fig),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"E", "A", "B", "alpha", "beta", "a", "b", "warnings"}
    assert out["warnings"] == []  # a well-posed 6 x 6 grid with 0.2% noise
    assert all(out[k]["note"] is None for k in out if k != "warnings")
    for name in ("E", "alpha", "beta"):
        assert out[name]["ci_low"] <= out[name]["estimate"] <= out[name]["ci_high"]
        assert out[name]["estimate"] == pytest.approx(HOFFMANN_2022[name], rel=0.1)
    assert fig.stat().st_size > 0


def test_chinchilla_flops_gives_the_same_fit_as_tokens(runs_csv, tmp_path, capsys):
    args = [
        "fit",
        "chinchilla",
        str(runs_csv),
        "--n",
        "params",
        "--loss",
        "loss",
        "--bootstrap",
        "0",
        "--json",
        "--grid",
        "coarse",
        "--out",
        str(tmp_path / "f.png"),
    ]
    assert main(args + ["--d", "tokens"]) == 0
    a = json.loads(capsys.readouterr().out)
    assert main(args + ["--flops", "flops"]) == 0
    b = json.loads(capsys.readouterr().out)
    a.pop("warnings"), b.pop("warnings")
    for k in a:
        assert b[k]["estimate"] == pytest.approx(a[k]["estimate"], rel=1e-6)


def test_chinchilla_table_and_parquet(runs_csv, tmp_path, capsys):
    pq = tmp_path / "runs.parquet"
    pd.read_csv(runs_csv).to_parquet(pq)
    fig = tmp_path / "t.png"
    code = main(
        [
            "fit",
            "chinchilla",
            str(pq),
            "--n",
            "params",
            "--d",
            "tokens",
            "--loss",
            "loss",
            "--bootstrap",
            "20",
            "--grid",
            "coarse",
            "--out",
            str(fig),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "alpha" in text and "N_opt ~ C^" in text and fig.exists()


def _bad(tmp_path, frame):
    path = tmp_path / "bad.csv"
    pd.DataFrame(frame).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "frame, args, match",
    [
        ({"n": [1e8, -1, 3e8, 4e8, 5e8], "d": [1e9] * 5, "l": [3.0] * 5}, [], "'n' .* must be > 0"),
        ({"n": [1e8] * 5, "d": [1e9] * 5, "l": [3.0, 0, 2, 2, 2]}, [], "'l' .* must be > 0"),
        ({"n": [1e8] * 5, "d": [1e9] * 5, "l": [3.0, None, 2, 2, 2]}, [], "finite"),
        (
            {"n": [1e8] * 5, "tokens": [1e9] * 5, "l": [3.0] * 5},
            [],
            "must name a column of bad.csv.*got 'd', no such column",
        ),
        (
            {"n": [1e8, 2e8, 3e8, 4e8], "d": [1e9, 2e9, 3e9, 4e9], "l": [3.0, 2.9, 2.8, 2.7]},
            [],
            "at least 10 distinct \\(N, D\\) runs .*; got 4",
        ),
    ],
)
def test_chinchilla_rejects_bad_files(tmp_path, capsys, frame, args, match):
    path = _bad(tmp_path, frame)
    code = main(
        [
            "fit",
            "chinchilla",
            str(path),
            "--n",
            "n",
            "--d",
            "d",
            "--loss",
            "l",
            "--bootstrap",
            "0",
            "--json",
        ]
        + args
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1
    import re

    assert re.search(match, err), err


def test_chinchilla_needs_tokens_or_flops_and_an_existing_file(tmp_path, capsys):
    path = _bad(tmp_path, {"n": [1e8] * 5, "l": [3.0] * 5})
    assert main(["fit", "chinchilla", str(path), "--n", "n", "--loss", "l"]) == 2
    assert "--d COL" in capsys.readouterr().err
    assert (
        main(
            ["fit", "chinchilla", str(tmp_path / "nope.csv"), "--n", "n", "--loss", "l", "--d", "d"]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_powerlaw_command(tmp_path, capsys):
    x = np.geomspace(10, 1e4, 25)
    path = _bad(tmp_path, {"step": x, "loss": 0.2 + 3 * x**-0.5})
    code = main(
        ["fit", "powerlaw", str(path), "--x", "step", "--y", "loss", "--bootstrap", "20", "--json"]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["alpha"]["estimate"] == pytest.approx(0.5, rel=1e-8)
    assert out["E"]["estimate"] == pytest.approx(0.2, rel=1e-8)
    assert main(["fit", "powerlaw", str(path), "--x", "steps", "--y", "loss"]) == 2
    assert (
        main(
            [
                "fit",
                "chinchilla",
                str(path),
                "--n",
                "step",
                "--d",
                "step",
                "--loss",
                "loss",
                "--grid",
                "nope",
            ]
        )
        == 2
    )

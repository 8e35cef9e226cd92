"""lmech.predict_learning_curve and `lmech predict`: the HEA pipeline end to end."""

import math

import numpy as np
import pandas as pd
import pytest

import lmech
from lmech.cli import main
from lmech.errors import InputError
from lmech.kernels.base import RBF, Laplace
from lmech.predict import hea_decompose, load_xy, whiten
from lmech.spectra.hea import hea_modes, level_coefficients
from lmech.theory.eigenlearning import learning_curve

GAMMA = (np.arange(30) + 3.0) ** -1.5


def _gaussian(n, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, GAMMA.size))
    y = 0.8 * Z[:, 0] + 0.6 * Z[:, 1] * Z[:, 2]
    return Z * np.sqrt(GAMMA), y


def test_whiten_recovers_covariance_and_unit_coordinates():
    X, _ = _gaussian(20_000)
    gamma, Z, mean = whiten(X + 5.0)
    np.testing.assert_allclose(mean, 5.0, atol=0.05)
    # sample covariance eigenvalues of a diagonal Gaussian: within a few sqrt(2/N)
    np.testing.assert_allclose(gamma[:5], GAMMA[:5], rtol=6 * math.sqrt(2 / 20_000))
    np.testing.assert_allclose(Z.T @ Z / len(Z), np.eye(Z.shape[1]), atol=1e-10)


def test_prediction_equals_eigenlearning_on_the_oracle_spectrum():
    # with a large pool the pipeline's coefficients are the true ones (0.8 on z_0, 0.6 on
    # z_1 z_2) and its eigenvalues those of hea_modes on the sample covariance
    X, y = _gaussian(60_000)
    kernel = RBF(2.0)
    dec = hea_decompose(X, y, kernel, num_modes=200)
    assert dec.explained_fraction == pytest.approx(1.0, abs=0.01)
    assert dec.trace_kernel == pytest.approx(1.0, rel=1e-12)  # RBF: K(x, x) = 1
    assert dec.tail == pytest.approx(1.0 - dec.eigenvalues.sum(), rel=1e-12)
    q = GAMMA.sum()
    modes = hea_modes(GAMMA, level_coefficients(kernel, q), 200)
    coef = np.zeros(len(modes))
    exps = modes.exponents()
    coef[exps.index({0: 1})] = 0.8
    coef[exps.index({1: 1, 2: 1})] = 0.6
    oracle = learning_curve(
        modes.eigenvalues,
        coef,
        [10, 100, 1000],
        [1e-2 + (1 - modes.eigenvalues.sum())],
    )
    table = lmech.predict_learning_curve(X, y, kernel, n=[10, 100, 1000], ridge=1e-2, num_modes=200)
    # pool error in gamma (~1%) and coefficients (~0.5%) moves the curve by a few percent
    np.testing.assert_allclose(table["test_mse"], oracle["test_mse"], rtol=0.05)
    assert list(table["ridge"]) == [1e-2] * 3
    assert table.attrs["num_modes"] == 200


def test_learning_curve_grid_and_laplace():
    X, y = _gaussian(3000)
    dec = hea_decompose(X, y, Laplace(3.0), num_modes=100)
    t = dec.learning_curve([10, 20], [0.0, 0.1])
    assert len(t) == 4 and list(t["n"]) == [10, 10, 20, 20]
    assert np.all(np.isfinite(t["test_mse"])) and np.all(t["test_mse"] > 0)
    assert dec.modes.degrees.max() <= 6  # Laplace truncation
    with pytest.raises(InputError, match="ridge"):
        dec.learning_curve([10], [-1.0])


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.ones(10), np.ones(10), "2-D"),
        (np.ones((10, 2)), np.ones(9), "same number of samples"),
        (np.array([[1.0, np.nan]] * 10), np.ones(10), "NaN"),
        (np.random.default_rng(0).normal(size=(10, 2)), np.full(10, np.inf), "NaN"),
        (np.ones((10, 2)), np.ones(10), "no variance"),
    ],
)
def test_bad_data_is_rejected(X, y, match):
    with pytest.raises(InputError, match=match):
        hea_decompose(X, y, RBF(1.0), num_modes=3)


def test_too_many_modes_is_rejected():
    X, y = _gaussian(50)
    with pytest.raises(InputError, match="num_modes"):
        hea_decompose(X, y, RBF(1.0), num_modes=50)


# -- files and the CLI ------------------------------------------------------------------


def _cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_predict_on_a_user_npz(tmp_path, capsys, monkeypatch):
    X, y = _gaussian(2000)
    path = tmp_path / "data.npz"
    np.savez(path, X=X, y=y)
    fig = tmp_path / "curve.png"
    code, out, err = _cli(
        [
            "predict",
            "--data",
            str(path),
            "--target",
            "y",
            "--kernel",
            "gaussian:bandwidth=2",
            "--n",
            "10,100,1000",
            "--ridge",
            "0.01",
            "--modes",
            "300",
            "--figure",
            str(fig),
        ],
        capsys,
    )
    assert code == 0, err
    assert fig.is_file() and fig.stat().st_size > 1000
    # the printed numbers are the API's
    api = lmech.predict_learning_curve(X, y, RBF(2.0), [10, 100, 1000], 0.01, num_modes=300)
    for value in api["test_mse"]:
        assert f"{value:.4g}" in out
    assert "explain" in out and "E[y^2]" in out


def test_cli_predict_csv_column_and_target_file(tmp_path, capsys):
    X, y = _gaussian(600)
    table = pd.DataFrame(X[:, :5], columns=[f"x{i}" for i in range(5)]).assign(label=y)
    table.to_csv(tmp_path / "d.csv", index=False)
    code, out, err = _cli(
        [
            "predict",
            "--data",
            str(tmp_path / "d.csv"),
            "--target",
            "label",
            "--n",
            "10,50",
            "--modes",
            "50",
            "--figure",
            str(tmp_path / "f.svg"),
        ],
        capsys,
    )
    assert code == 0, err
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    X2, y2 = load_xy(tmp_path / "X.npy", str(tmp_path / "y.npy"))
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    np.savetxt(tmp_path / "y.txt", y)
    np.testing.assert_allclose(load_xy(tmp_path / "X.npy", str(tmp_path / "y.txt"))[1], y)


def _one_line_error(code, err):
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]


def test_cli_predict_rejects_nan_1d_and_mismatched_files(tmp_path, capsys):
    X, y = _gaussian(200)
    bad = X.copy()
    bad[7, 3] = np.nan
    np.savez(tmp_path / "nan.npz", X=bad, y=y)
    np.savez(tmp_path / "flat.npz", X=X[:, 0], y=y)
    np.savez(tmp_path / "short.npz", X=X, y=y[:-3])
    args = ["--target", "y", "--n", "10", "--modes", "20", "--figure", str(tmp_path / "f.png")]
    line = _one_line_error(
        *_cli(["predict", "--data", str(tmp_path / "nan.npz"), *args], capsys)[::2]
    )
    assert "NaN" in line and "first rows: [7]" in line
    line = _one_line_error(
        *_cli(["predict", "--data", str(tmp_path / "flat.npz"), *args], capsys)[::2]
    )
    assert "2-D" in line
    line = _one_line_error(
        *_cli(["predict", "--data", str(tmp_path / "short.npz"), *args], capsys)[::2]
    )
    assert "200" in line and "197" in line
    line = _one_line_error(
        *_cli(
            ["predict", "--data", str(tmp_path / "nan.npz"), "--target", "nope", "--n", "10"],
            capsys,
        )[::2]
    )
    assert "nope" in line and "X, y" in line
    line = _one_line_error(
        *_cli(
            ["predict", "--data", str(tmp_path / "short.npz"), "--target", "y", "--n", "a,b"],
            capsys,
        )[::2]
    )
    assert "--n" in line
    assert not (tmp_path / "f.png").exists()

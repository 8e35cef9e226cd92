import numpy as np
import pytest
import torch
from sklearn.kernel_ridge import KernelRidge

from lmech.errors import InputError
from lmech.experiment.krr import TrialData, krr_learning_curve, ridge_path
from lmech.kernels.base import RBF, gram


def _data(n=60, m=25, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    Xs = torch.randn(m, d, generator=g, dtype=torch.float64)
    f = lambda x: torch.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2  # noqa: E731
    return X, f(X), Xs, f(Xs)


@pytest.mark.parametrize("ridge", [1e-6, 1e-2, 3.0])
def test_ridge_path_matches_sklearn(ridge):
    X, y, Xs, _ = _data()
    k = RBF(1.3)
    train, test = ridge_path(
        gram(k, X), y, torch.tensor([ridge], dtype=torch.float64), gram(k, Xs, X)
    )
    ref = KernelRidge(alpha=ridge, kernel="rbf", gamma=k.gamma).fit(X.numpy(), y.numpy())
    np.testing.assert_allclose(test[0, :, 0].numpy(), ref.predict(Xs.numpy()), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(train[0, :, 0].numpy(), ref.predict(X.numpy()), rtol=1e-7, atol=1e-9)


def test_ridge_path_multi_output_equals_direct_solve():
    X, y, Xs, _ = _data()
    Y = torch.stack([y, -2 * y + 1], dim=1)
    k = RBF(0.9)
    K, Ks = gram(k, X), gram(k, Xs, X)
    ridges = torch.tensor([1e-3, 1e-1, 1.0], dtype=torch.float64)
    _, test = ridge_path(K, Y, ridges, Ks)
    for r, delta in enumerate(ridges):
        c = torch.linalg.solve(K + delta * torch.eye(len(K), dtype=K.dtype), Y)
        torch.testing.assert_close(test[r], Ks @ c, rtol=1e-8, atol=1e-10)


def test_learning_curve_rows_and_nested_prefixes():
    X, y, Xs, ys = _data(n=40)

    def sample(trial, n_max):
        return TrialData(X, y, Xs, ys)

    df = krr_learning_curve(RBF(1.0), sample, [10, 40, 20], [0.1, 1.0], trials=[3, 1, 2])
    counts = df.groupby("n")["trial"].nunique().to_dict()
    assert counts == {10: 3, 20: 2, 40: 1}
    assert len(df) == (3 + 2 + 1) * 2
    # the n=20 row of trial 0 equals an explicit fit on the first 20 points
    row = df[(df.trial == 0) & (df.n == 20) & (df.ridge == 0.1)].iloc[0]
    ref = KernelRidge(alpha=0.1, kernel="rbf", gamma=0.5).fit(X[:20].numpy(), y[:20].numpy())
    expected = np.mean((ref.predict(Xs.numpy()) - ys.numpy()) ** 2)
    assert row.test_mse == pytest.approx(expected, rel=1e-8)


def test_learning_curve_input_errors():
    X, y, Xs, ys = _data(n=10)

    def sample(trial, n_max):
        return TrialData(X, y, Xs, ys)

    with pytest.raises(InputError, match="sizes"):
        krr_learning_curve(RBF(), sample, [0, 5], [0.1], 1)
    with pytest.raises(InputError, match="ridges"):
        krr_learning_curve(RBF(), sample, [5], [-0.1], 1)
    with pytest.raises(InputError, match="trials"):
        krr_learning_curve(RBF(), sample, [5, 8], [0.1], [1, 2, 3])
    with pytest.raises(InputError, match="training points"):
        krr_learning_curve(RBF(), sample, [50], [0.1], 1)


@pytest.mark.parametrize("ridges", [[1e-8, 1e-3, 1.0], [0.0, 1e-2]])
def test_band_cholesky_and_eigen_paths_agree(ridges):
    # the CPU band path, the Cholesky path and the eigendecomposition path (used on CUDA
    # and for a zero ridge) are three factorizations of the same solve; n = 80 > 64 so the
    # band path applies one block reflector
    from lmech.experiment.krr import _ridge_path_band, _ridge_path_cholesky, _ridge_path_eigh

    X, y, Xs, _ = _data(n=80)
    k = RBF(0.7)
    K, Ks = gram(k, X), gram(k, Xs, X)
    r = torch.tensor(ridges, dtype=torch.float64)
    Y = torch.stack([y, y**2], dim=1)
    band = _ridge_path_band(K, Y, r, Ks)
    chol = _ridge_path_cholesky(K, Y, r, Ks)
    eig = _ridge_path_eigh(K, Y, r, Ks)
    if min(ridges) == 0.0:
        # a zero ridge falls back to the eigendecomposition, in ridge_path too
        assert band is None and chol is None
        full = ridge_path(K, Y, r, Ks)
        torch.testing.assert_close(full[1], eig[1])
        return
    assert band is not None
    for path in (band, chol):  # rtol: the condition number of K + 1e-8 I is ~1e9
        torch.testing.assert_close(path[0], eig[0], rtol=1e-7, atol=1e-9)
        torch.testing.assert_close(path[1], eig[1], rtol=1e-7, atol=1e-9)


def test_learning_curve_reports_progress():
    from lmech import progress

    X, y, Xs, ys = _data(n=40)
    seen = []

    def factory(description, total):
        seen.append(["total", total])
        return (lambda k=1: seen.append(["step", k])), (lambda: seen.append(["close", 0]))

    with progress.use(factory):
        krr_learning_curve(
            RBF(), lambda t, n: TrialData(X, y, Xs, ys), [10, 20], [0.1], trials=[3, 2]
        )
    assert seen[0] == ["total", 5] and seen[-1] == ["close", 0]
    assert sum(k for kind, k in seen if kind == "step") == 5

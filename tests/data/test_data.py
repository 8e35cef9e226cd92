import numpy as np
import pytest
import torch

from lmech.data.digits import load_digits_data, one_hot_targets
from lmech.data.synthetic import GaussianPowerLaw
from lmech.errors import InputError


def test_gaussian_power_law_moments():
    lam = np.array([0.5, 0.3, 0.2])
    v = np.array([0.6, -0.8, 0.0])
    system = GaussianPowerLaw(lam, v, noise_variance=0.25)
    X, f, y = system.sample(200_000, torch.Generator().manual_seed(0))
    cov = np.cov(X.numpy().T)
    # Monte-Carlo: entries of the sample covariance have sd ~ lam / sqrt(N / 2)
    np.testing.assert_allclose(np.diag(cov), lam, rtol=5 * np.sqrt(2 / 200_000))
    assert abs(cov[0, 1]) < 5 * np.sqrt(0.5 * 0.3 / 200_000)
    # f* has power sum v^2 = 1; noise variance 0.25
    assert f.var().item() == pytest.approx(1.0, rel=0.02)
    assert (y - f).var().item() == pytest.approx(0.25, rel=0.02)
    # f*(x) = sum_i v_i x_i / sqrt(lam_i)
    torch.testing.assert_close(f, X @ torch.tensor(v / np.sqrt(lam)))


def test_gaussian_power_law_validation():
    with pytest.raises(InputError, match="same length"):
        GaussianPowerLaw(np.ones(3), np.ones(2))
    with pytest.raises(InputError, match="> 0"):
        GaussianPowerLaw(np.array([1.0, 0.0]), np.ones(2))
    with pytest.raises(InputError, match="finite"):
        GaussianPowerLaw(np.array([1.0, np.nan]), np.ones(2))


def test_digits():
    X, labels = load_digits_data()
    assert X.shape == (1797, 64) and labels.shape == (1797,)
    assert X.min() == 0.0 and X.max() == 1.0
    Y = one_hot_targets(labels, 10)
    np.testing.assert_allclose(Y.sum(1), 0.0, atol=1e-12)
    assert np.all(Y[np.arange(1797), labels] == pytest.approx(0.9))

"""Layer activations and streamed statistics against a manual forward pass."""

import numpy as np
import pytest
import torch
from torch import nn

from lmech.errors import InputError
from lmech.measure.geometry import covariance_eigenvalues, linear_cka
from lmech.nn.hooks import activations, collect, layer_cka, layer_moments


@pytest.fixture()
def setup():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 2))
    model = model.double()
    X = torch.randn(230, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    batches = [(X[i : i + 64], torch.zeros(len(X[i : i + 64]))) for i in range(0, 230, 64)]
    with torch.no_grad():
        h1 = torch.relu(model[0](X))
        h2 = torch.tanh(model[2](h1))
    return model, X, batches, {"1": h1.numpy(), "3": h2.numpy()}


def test_collect_equals_manual_forward(setup):
    model, _, batches, want = setup
    got = collect(model, batches, ["1", "3"])
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12)
    assert not model[1]._forward_hooks  # hooks removed


def test_streamed_moments_and_cka_equal_the_stacked_computation(setup):
    model, _, batches, want = setup
    mom = layer_moments(model, batches, ["1", "3"])
    for k in want:
        np.testing.assert_allclose(mom[k].covariance(), np.cov(want[k].T), rtol=1e-9, atol=1e-14)
        lam = mom[k].eigenvalues()
        np.testing.assert_allclose(lam[:5], covariance_eigenvalues(want[k])[:5], rtol=1e-8)
    for d in (False, True):
        M = layer_cka(model, batches, ["1", "3"], debiased=d)
        assert M[0, 1] == pytest.approx(linear_cka(want["1"], want["3"], debiased=d), rel=1e-9)
        assert M[0, 0] == 1.0


def test_unknown_layer_lists_the_modules(setup):
    model, _, batches, _ = setup
    with pytest.raises(InputError, match="'0', '1'"):
        next(activations(model, batches, ["conv1"]))
    assert not model[0]._forward_hooks


def test_empty_batches(setup):
    model, *_ = setup
    with pytest.raises(InputError, match="empty"):
        collect(model, [], ["1"])

"""The engines give on CUDA what they give on the CPU (skipped without a GPU).

Each test runs the same float64 computation on both devices and compares them with the
float64 tolerances: the algorithms are the same (vmapped training, Cholesky or
eigendecomposition solves), only the kernels' summation order differs.
"""

import numpy as np
import pytest
import torch

from lmech.data.groups import cyclic
from lmech.experiment.ensemble import Ensemble, train
from lmech.experiment.group import train_on_group
from lmech.experiment.krr import TrialData, krr_learning_curve, ridge_path
from lmech.kernels.base import RBF, gram
from lmech.nn.models import MLPSpec
from lmech.nn.param import Parameterization
from tests.tolerances import ATOL, RTOL

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _draw(n=200, m=50, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    X, Xs = (torch.randn(k, d, generator=g, dtype=torch.float64) for k in (n, m))
    f = lambda x: torch.sin(x[:, 0]) + x[:, 1] * x[:, 2]  # noqa: E731
    return TrialData(X, f(X) + 0.1 * torch.randn(n, generator=g, dtype=torch.float64), Xs, f(Xs))


@pytest.mark.parametrize("ridges", [[1e-2, 1.0], [1e-4, 1e-3, 1e-2, 1e-1, 1.0]])
def test_krr_learning_curve_cuda_matches_cpu(ridges):
    # two ridges: Cholesky on both devices; five: the CPU's band reduction against the
    # eigendecomposition on CUDA
    draws = [_draw(seed=s) for s in range(2)]
    sizes = [20, 90, 200]
    cpu = krr_learning_curve(RBF(1.5), lambda t, n: draws[t], sizes, ridges, 2, device="cpu")
    cuda = krr_learning_curve(RBF(1.5), lambda t, n: draws[t], sizes, ridges, 2, device="cuda")
    for column in ("test_mse", "train_mse"):
        np.testing.assert_allclose(cuda[column], cpu[column], rtol=1e-9)


def test_ridge_path_stays_on_cuda():
    d = _draw()
    X, y, Xs = d.X_train.cuda(), d.y_train.cuda(), d.X_test.cuda()
    r = torch.tensor([1e-3, 1e-2, 1e-1], dtype=torch.float64, device="cuda")
    train_pred, test_pred = ridge_path(gram(RBF(), X), y, r, gram(RBF(), Xs, X))
    assert train_pred.device.type == "cuda" and test_pred.device.type == "cuda"


def test_ensemble_training_cuda_matches_cpu():
    spec = MLPSpec(6, 32, 3, 2, "tanh")
    param = Parameterization("mup", "adam", base_width=8)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 6, generator=g, dtype=torch.float64)
    y = torch.randn(30, 2, generator=g, dtype=torch.float64)
    result = {}
    for device in ("cpu", "cuda"):
        ens = Ensemble.from_spec(spec, param, [0, 1, 2], dtype="float64", device=device)
        train(ens, X.to(device), y.to(device), lr=[1e-3, 3e-3, 1e-2], steps=30, optimizer="adam")
        result[device] = {k: v.detach().cpu() for k, v in ens.params.items()}
    for name, p in result["cpu"].items():
        torch.testing.assert_close(
            result["cuda"][name], p, rtol=RTOL["float64"], atol=ATOL["float64"]
        )


def test_group_training_cuda_matches_cpu():
    kwargs = dict(seeds=[0, 1], fractions=[0.5, 0.8], weight_decays=[1e-3, 0.0], width=16,
                  steps=20, lr=1e-2)  # fmt: skip
    curves_cpu, params_cpu, _ = train_on_group(cyclic(7), device="cpu", **kwargs)
    curves_cuda, params_cuda, _ = train_on_group(cyclic(7), device="cuda", **kwargs)
    for name in params_cpu:
        np.testing.assert_allclose(params_cuda[name], params_cpu[name], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(curves_cuda["train_loss"], curves_cpu["train_loss"], rtol=1e-9)

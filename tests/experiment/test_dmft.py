"""The DMFT experiment engine: the NTK read off the parameters equals the engine's kernel."""

from __future__ import annotations

import numpy as np
import torch

from lmech.experiment.dmft import _deriv, _ntk_from_params, regression_task, train_two_layer
from lmech.experiment.ensemble import Ensemble
from lmech.nn.models import MLPSpec
from lmech.nn.param import Parameterization


def test_ntk_from_params_matches_autograd_kernel():
    # independent: sum_p lr_p J_p J_p^T from autograd, in units of the base lr (DMFT clock)
    X, _, _ = regression_task(6, 0, 4, 0)
    Xt = torch.as_tensor(X)
    N, g = 32, 0.5
    ens = Ensemble.from_spec(MLPSpec(4, N, depth=1, activation="tanh", bias=False),
                             Parameterization("mean-field", richness=g), [1], dtype="float64")  # fmt: skip
    m = ens.member(0)
    params = dict(m.named_parameters())
    J = []
    for i in range(6):
        gr = torch.autograd.grad(m(Xt[i : i + 1]).sum(), list(params.values()))
        J.append(gr)
    fac = {"input.weight": g * g * N / 4, "output.weight": g * g * N}
    K = torch.zeros(6, 6, dtype=torch.float64)
    for k, name in enumerate(params):
        Jm = torch.stack([j[k].reshape(-1) for j in J])
        K += fac[name] * Jm @ Jm.T
    mine = _ntk_from_params(ens.params, Xt, "tanh", _deriv("tanh"))[0]
    assert torch.allclose(mine, K, rtol=1e-10, atol=1e-12)


def test_train_two_layer_tables():
    X, y, yt = regression_task(8, 4, 4, 0)
    h, p = train_two_layer(X, y, yt, widths=[16, 32], seeds=2, gamma0=1.0, lr=0.2, steps=4,
                           log_every=2, predictions=True)  # fmt: skip
    assert len(h) == 2 * 2 * 3 and np.isfinite(h.to_numpy(float)).all()
    assert np.allclose(h[h.step == 0].train_loss, (y**2).mean())  # centred: f(0) = 0
    assert len(p) == 2 * 2 * 12
    assert np.allclose(h["t"], 0.4 * h["step"])

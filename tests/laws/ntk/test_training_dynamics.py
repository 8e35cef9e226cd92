"""ntk-gradient-flow: the kernel flow against matrix exponentials; one step of the network."""

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
import torch

from lmech.kernels.base import gram
from lmech.laws.ntk.training_dynamics import Spec, evaluate, experiment, theory
from lmech.seeding import derive_seed


def test_theory_is_the_kernel_flow_by_matrix_exponential():
    spec = Spec(num_train=6, num_test=4, steps=300, log_points=4, depth=2, activation="gelu")
    X, y, train = spec.data()
    K = gram(spec.network(64).ntk(), X).numpy()
    Ktt, Kst = K[np.ix_(train, train)], K[np.ix_(~train, train)]
    eta = spec.lr_scale / np.linalg.eigvalsh(Ktt).max()
    assert spec.learning_rate(X[train]) == pytest.approx(eta, rel=1e-12)
    pred = theory(spec)
    for t, rows in pred.groupby("step"):
        flow = (np.eye(len(Ktt)) - scipy.linalg.expm(-eta * t * Ktt)) @ y[train].numpy()
        expected = np.empty(len(X))
        expected[train.numpy()] = flow
        expected[~train.numpy()] = Kst @ np.linalg.solve(Ktt, flow)
        np.testing.assert_allclose(rows.sort_values("point")["f"], expected, rtol=1e-9, atol=1e-12)


def test_one_step_of_the_network_is_its_empirical_ntk_times_the_labels():
    # f centered, f_0 = 0: one GD step on 1/2 |f - y|^2 gives f_1(x) = eta Theta_hat(x, X_train) y
    # + O(eta^2); at eta lambda_max = 1e-4 the second-order term is ~1e-4 relative
    spec = Spec(num_train=5, num_test=3, widths=(16, 32), inits=1, steps=1, lr_scale=1e-4)
    meas = experiment(spec, seed=2, device="cpu")
    X, y, train = spec.data()
    eta = spec.learning_rate(X[train])
    for width, rows in meas.groupby("width"):
        model = spec.network(width).ntk_network(seed=derive_seed(2, "init", width, 0))
        params = list(model.parameters())
        J = torch.stack(
            [
                torch.cat(
                    [g.reshape(-1) for g in torch.autograd.grad(model(x[None])[0, 0], params)]
                )
                for x in X
            ]
        )
        expected = eta * (J @ J[train].T @ y[train]).numpy()
        np.testing.assert_allclose(rows.sort_values("point")["f"], expected, rtol=1e-3)


def test_evaluate_reads_the_widest_deviation_and_the_slope():
    pred = pd.DataFrame(
        {"step": 1, "point": [0, 1], "train": [True, False], "f": [1.0, 2.0], "y": 0.0}
    )
    rows = []
    for width, dev in ((100, 0.2), (400, 0.1)):
        rows.append(
            pd.DataFrame(
                {
                    "width": width,
                    "init": 0,
                    "step": 1,
                    "point": [0, 1],
                    "f": [1 + dev, 2 * (1 + dev)],
                }
            )
        )
    values = evaluate(pred, pd.concat(rows, ignore_index=True)).values
    assert values["rel_rms_dev_widest"] == pytest.approx(0.1)
    assert values["dev_slope_vs_width"] == pytest.approx(-0.5)

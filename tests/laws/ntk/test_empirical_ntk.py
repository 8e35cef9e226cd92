"""ntk-width-convergence: the tables, the error statistics and the network of the spec."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from lmech.kernels.base import gram
from lmech.kernels.infinite import NTK
from lmech.laws.ntk import _compare
from lmech.laws.ntk.empirical_ntk import Spec, evaluate, experiment, theory
from lmech.seeding import derive_seed


def _full(rows: pd.DataFrame, column: str, p: int) -> np.ndarray:
    K = np.zeros((p, p))
    K[rows["i"], rows["j"]] = rows[column]
    K[rows["j"], rows["i"]] = rows[column]
    return K


def test_theory_is_the_ntk_of_the_spec_fields_at_any_width():
    spec = Spec(num_inputs=5, depth=2, activation="erf", weight_std=1.3, bias_std=0.4)
    X = spec.inputs()
    by_hand = NTK(depth=2, activation="erf", weight_std=1.3, bias_std=0.4)
    K = _full(theory(spec), "ntk", 5)
    np.testing.assert_array_equal(K, gram(by_hand, X).numpy())
    for width in spec.widths:  # NTK parameterization: the limit does not know the width
        assert spec.network(width).ntk() == by_hand


def _autograd_ntk(model, X):
    params = list(model.parameters())
    J = torch.stack(
        [
            torch.cat([g.reshape(-1) for g in torch.autograd.grad(model(x[None])[0, 0], params)])
            for x in X
        ]
    )
    return (J @ J.T).numpy()


def test_experiment_measures_the_networks_of_the_spec():
    spec = Spec(num_inputs=3, widths=(4, 8), seeds=2, activation="tanh")
    meas = experiment(spec, seed=5, device="cpu")
    X = spec.inputs()
    for (width, init), rows in meas.groupby(["width", "init"]):
        model = spec.network(width).ntk_network(seed=derive_seed(5, "init", width, init))
        assert model.phi is torch.tanh
        np.testing.assert_allclose(_full(rows, "ntk", 3), _autograd_ntk(model, X), rtol=1e-12)


def test_errors_and_mean_deviation_against_full_matrices():
    rng = np.random.default_rng(0)
    p, S = 3, 5
    A = rng.standard_normal((p, p))
    limit = A @ A.T + p * np.eye(p)
    i, j = np.triu_indices(p)
    pred = pd.DataFrame({"i": i, "j": j, "ntk": limit[i, j]})
    mats, rows = {}, []
    for width in (10, 40):
        for s in range(S):
            E = rng.standard_normal((p, p)) / math.sqrt(width)
            K = limit + E + E.T
            mats[width, s] = K
            rows.append(pd.DataFrame({"width": width, "init": s, "i": i, "j": j, "ntk": K[i, j]}))
    meas = pd.concat(rows, ignore_index=True)
    errs = _compare.ntk_errors(pred, meas).set_index(["width", "init"])["rel_err"]
    for key, K in mats.items():
        assert errs[key] == pytest.approx(np.linalg.norm(K - limit) / np.linalg.norm(limit))
    stack = np.stack([mats[40, s] for s in range(S)])
    se2 = (stack.var(0, ddof=1) / S).sum()  # Frobenius: every entry of the full matrix
    expected = np.linalg.norm(stack.mean(0) - limit) / math.sqrt(se2)
    dev = _compare.mean_kernel_deviation(pred, meas)
    assert dev == {"width": 40, "dev_in_se": pytest.approx(expected)}
    per_width = errs.groupby("width").mean()
    slope = np.polyfit(np.log([10, 40]), np.log(per_width.to_numpy()), 1)[0]
    values = evaluate(pred, meas).values
    assert values["abs_slope_minus_theory"] == pytest.approx(abs(slope + 0.5))
    assert values["mean_ntk_dev_in_se_widest"] == pytest.approx(expected)

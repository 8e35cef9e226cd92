"""nngp-monte-carlo: the p-dimensional sampler draws the outputs of the spec's own network."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch.func import functional_call, vmap

from lmech.kernels.base import gram
from lmech.laws.ntk import _compare
from lmech.laws.ntk._networks import sample_outputs
from lmech.laws.ntk.nngp_monte_carlo import Spec, evaluate, theory
from lmech.seeding import torch_generator


def _direct(spec: Spec, count: int, gen) -> torch.Tensor:
    """Outputs (count, p) of the module ``spec.network("relu").ntk_network()`` (the network
    the theory describes) with ``count`` fresh i.i.d. N(0, 1) draws of all its parameters,
    its own forward (multipliers, activation) run on each draw by torch.func.vmap."""
    X = spec.inputs()
    model = spec.network("relu").ntk_network(seed=0)
    params = {
        n: torch.randn(count, *p.shape, generator=gen, dtype=torch.float64)
        for n, p in model.named_parameters()
    }
    buffers = dict(model.named_buffers())  # weight and bias multipliers

    def f(p, x):
        return functional_call(model, (p, buffers), (x,))[:, 0]

    return vmap(f, in_dims=(0, None))(params, X)


def test_sampler_matches_the_networks_of_the_spec():
    # width 8: far from the NNGP limit, so this compares the finite-width distributions
    spec = Spec(width=8, depth=2, networks=2, activations=("relu",))
    count = 40_000
    fast = sample_outputs(spec.network("relu"), spec.inputs(), count, torch_generator(0, "t"))
    fast, slow = fast.numpy(), _direct(spec, count, torch_generator(1, "t")).numpy()
    i, j = np.triu_indices(spec.num_inputs)
    for stat in (lambda f: f[:, i] * f[:, j], lambda f: (f[:, i] * f[:, j]) ** 2):
        a, b = stat(fast), stat(slow)
        se = np.sqrt(a.var(0) / count + b.var(0) / count)
        z = (a.mean(0) - b.mean(0)) / se
        assert np.all(np.abs(z) < 4.5), z  # 4.5 SE: 20 correlated comparisons
    assert abs(fast.mean()) < 4 * fast.std() / math.sqrt(fast.size)


def test_theory_is_the_nngp_of_each_activation_and_inputs_are_as_documented():
    spec = Spec(activations=("relu", "erf"))
    X = spec.inputs()
    assert abs(float(X[2] @ X[0])) < 1e-12  # x_2 orthogonal to x_0
    assert float((X[1] - X[0]).norm() / X[0].norm()) < 0.2  # a near-duplicate pair
    pred = theory(spec)
    for act in spec.activations:
        K = gram(spec.network(act).nngp(), X).numpy()
        rows = pred[pred["activation"] == act]
        np.testing.assert_array_equal(rows["nngp"], K[rows["i"], rows["j"]])
    assert spec.network("erf").nngp().activation == "erf"


def test_evaluate_is_the_largest_z():
    pred = pd.DataFrame({"activation": "relu", "i": [0, 0], "j": [0, 1], "nngp": [1.0, 0.5]})
    meas = pred.rename(columns={"nngp": "estimate"}).assign(
        estimate=[1.1, 0.4], se=[0.05, 0.02], networks=100
    )
    z = _compare.nngp_z(pred, meas)["z"].to_numpy()
    np.testing.assert_allclose(z, [2.0, -5.0])
    assert evaluate(pred, meas).values["max_abs_z"] == pytest.approx(5.0, rel=1e-12)

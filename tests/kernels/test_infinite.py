"""Infinite-width NNGP/NTK of fully connected nets against independent computations.

Closed forms vs quadrature, hand recursions for x -> x and x -> x^2, Monte-Carlo NNGP
over random finite networks, empirical NTKs of wide networks (torch.func), blocking,
float32, devices and input validation.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lmech.errors import InputError
from lmech.kernels import infinite
from lmech.kernels._gauss_hermite import pair_expectations
from lmech.kernels.base import Kernel, gram
from lmech.kernels.infinite import ACTIVATIONS, NNGP, NTK, Activation

from ..tolerances import ATOL, RTOL

RELU_QUAD = Activation(torch.relu, kinks=(0.0,))
ERF_QUAD = Activation(torch.erf)
W_STD, B_STD = math.sqrt(2.0), 0.1
# the kernels' angle tolerance 2 sqrt((d + 2) eps) at d = 1: (anti)parallel pairs at
# c = +-1 are then exactly (anti)parallel in both rules (module Warning)
ANGLE_TOL = 2 * math.sqrt(3 * torch.finfo(torch.float64).eps)


@pytest.fixture(autouse=True)
def _one_thread():
    # the quadrature runs many mid-sized ops; on 2 shared cores, intra-op thread barriers
    # made this file 2x slower (35 s vs 18 s) than one thread
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _inputs(n, d, seed, dtype=torch.float64):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _covariances(n, q_max, seed):
    """Random (q1, q2, k) with correlations filling [-1, 1], including +-1, 0, 1 - 1e-9."""
    g = torch.Generator().manual_seed(seed)
    logq = torch.empty(2, n, dtype=torch.float64).uniform_(
        math.log(1e-2), math.log(q_max), generator=g
    )
    q1, q2 = logq.exp()
    c = torch.empty(n, dtype=torch.float64).uniform_(-1.0, 1.0, generator=g)
    c[:8] = torch.tensor(
        [1.0, -1.0, 0.0, 1 - 1e-9, -1 + 1e-9, 1 - 1e-4, 0.5, -0.5], dtype=torch.float64
    )
    return q1, q2, c * (q1 * q2).sqrt()


# --- closed forms vs quadrature --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "quad", "q_max"),
    [("relu", RELU_QUAD, 30.0), ("erf", ERF_QUAD, 4.0)],
)
def test_closed_forms_match_piecewise_quadrature(name, quad, q_max):
    # erf at q <= 4: its saturation at large q needs more nodes (module docstring)
    q1, q2, k = _covariances(150, q_max, seed=1)
    rule = ACTIVATIONS[name]
    for derivative in (False, True):
        e_cf, d_cf = rule.pair(q1[:, None], q2[:, None], k[:, None], derivative, ANGLE_TOL)
        e_q, d_q = quad.pair(q1[:, None], q2[:, None], k[:, None], derivative, ANGLE_TOL)
        scale = (q1 * q2).sqrt()[:, None]  # E[phi phi'] is O(sqrt(q q'))
        np.testing.assert_allclose(e_q / scale, e_cf / scale, rtol=0, atol=RTOL["float64"])
        if derivative:
            np.testing.assert_allclose(d_q, d_cf, rtol=RTOL["float64"], atol=ATOL["float64"])
    e_cf, d_cf = rule.diag(q1, True)
    e_q, d_q = quad.diag(q1, True)
    np.testing.assert_allclose(e_q, e_cf, rtol=RTOL["float64"], atol=ATOL["float64"])
    np.testing.assert_allclose(d_q, d_cf, rtol=RTOL["float64"], atol=ATOL["float64"])


@pytest.mark.parametrize("kernel", [NNGP, NTK])
@pytest.mark.parametrize(("name", "quad"), [("relu", RELU_QUAD), ("erf", ERF_QUAD)])
def test_deep_kernels_closed_form_vs_quadrature(kernel, name, quad):
    X, Z = _inputs(6, 5, seed=2), _inputs(4, 5, seed=3)
    closed = kernel(depth=3, activation=name, weight_std=W_STD, bias_std=B_STD)
    numeric = kernel(depth=3, activation=quad, weight_std=W_STD, bias_std=B_STD)
    np.testing.assert_allclose(
        numeric.block(X, Z), closed.block(X, Z), rtol=RTOL["float64"], atol=ATOL["float64"]
    )
    np.testing.assert_allclose(
        numeric.diag(X), closed.diag(X), rtol=RTOL["float64"], atol=ATOL["float64"]
    )


def test_gauss_hermite_rule_on_smooth_activation():
    # the cheap rule is accurate for erf at small variance (its documented regime)
    q1, q2, k = _covariances(60, 0.5, seed=4)
    e_cf, d_cf = ACTIVATIONS["erf"].pair(q1, q2, k, True, ANGLE_TOL)

    def evaluate(x):
        return torch.erf(x), 2 / math.sqrt(math.pi) * torch.exp(-x * x)

    e_q, d_q = pair_expectations(evaluate, q1, q2, k, method="gauss-hermite", nodes=48)
    np.testing.assert_allclose(e_q, e_cf, rtol=0, atol=RTOL["float64"])
    np.testing.assert_allclose(d_q, d_cf, rtol=0, atol=RTOL["float64"])


def test_autograd_derivative_equals_supplied_derivative():
    X = _inputs(5, 3, seed=5)
    auto = NTK(depth=2, activation=torch.tanh, bias_std=0.3)
    given = NTK(
        depth=2,
        activation=Activation(torch.tanh, derivative=lambda x: 1 - torch.tanh(x) ** 2),
        bias_std=0.3,
    )
    np.testing.assert_allclose(auto.block(X, X), given.block(X, X), rtol=1e-13, atol=0)


# --- known values and hand recursions --------------------------------------------------


def test_relu_depth_one_special_values():
    # q = w^2 |x|^2 / d; identical inputs: theta = 0; orthogonal inputs: theta = pi/2
    w, d = 1.7, 4
    X = torch.tensor([[1.0, 1.0, 0.0, 0.0], [2.0, -2.0, 1.0, 0.0]], dtype=torch.float64)
    q = w**2 * (X * X).sum(1) / d
    nngp = NNGP(depth=1, weight_std=w).block(X, X)
    ntk = NTK(depth=1, weight_std=w).block(X, X)
    # Sigma^1(x, x) = w^2 q / 2; Theta^1(x, x) = w^2 q / 2 + w^2 (1/2) q = w^2 q
    np.testing.assert_allclose(torch.diagonal(nngp), w**2 * q / 2, rtol=1e-15)
    np.testing.assert_allclose(torch.diagonal(ntk), w**2 * q, rtol=1e-15)
    # orthogonal: E[relu relu'] = sqrt(q q') / (2 pi), E[step step'] = 1/4, Sigma^0 = 0
    expected = w**2 * math.sqrt(q[0] * q[1]) / (2 * math.pi)
    np.testing.assert_allclose(float(nngp[0, 1]), expected, rtol=1e-15)
    np.testing.assert_allclose(float(ntk[0, 1]), expected, rtol=1e-15, atol=1e-16)
    # antipodal: theta = pi, everything 0
    Xa = torch.cat([X[:1], -X[:1]])
    assert float(NNGP(depth=1).block(Xa, Xa)[0, 1]) == 0.0


def test_erf_identical_inputs():
    x = torch.tensor([[0.3, -1.2, 2.0]], dtype=torch.float64)
    q = float((x * x).sum()) / 3
    expected = (2 / math.pi) * math.asin(2 * q / (1 + 2 * q))
    assert math.isclose(float(NNGP(depth=1, activation="erf").block(x, x)), expected, rel_tol=1e-14)
    # derivative factor (4/pi) / sqrt(1 + 4q); Theta^1 = Sigma^1 + E[phi'^2] q
    ntk = expected + 4 / math.pi / math.sqrt(1 + 4 * q) * q
    assert math.isclose(float(NTK(depth=1, activation="erf").diag(x)), ntk, rel_tol=1e-14)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_polynomial_activations_match_hand_recursion(depth):
    # phi(x) = x: E[uv] = k, E[1] = 1.  phi(x) = x^2: E[u^2 v^2] = q q' + 2 k^2, E[4uv] = 4k.
    X, Z = _inputs(5, 3, seed=6), _inputs(4, 3, seed=7)
    w, b = 1.3, 0.4
    for fn, pair in (
        (lambda x: x, lambda qx, qz, k: (k, torch.ones_like(k))),
        (lambda x: x * x, lambda qx, qz, k: (qx * qz + 2 * k * k, 4 * k)),
    ):
        qx = w**2 * (X * X).sum(1, keepdim=True) / 3 + b**2  # (n, 1)
        qz = w**2 * (Z * Z).sum(1)[None] / 3 + b**2  # (1, m)
        k = w**2 * X @ Z.T / 3 + b**2
        theta = k.clone()
        for _ in range(depth):
            e, dot = pair(qx, qz, k)
            k = w**2 * e + b**2
            theta = k + w**2 * dot * theta
            qx, qz = (w**2 * pair(q, q, q)[0] + b**2 for q in (qx, qz))
        spec = dict(depth=depth, activation=fn, weight_std=w, bias_std=b)
        np.testing.assert_allclose(NNGP(**spec).block(X, Z), k, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(NTK(**spec).block(X, Z), theta, rtol=1e-12, atol=1e-14)


def test_per_layer_stds_and_depth_zero():
    X = _inputs(4, 6, seed=8)
    assert torch.equal(
        NTK(depth=2, weight_std=[1.5] * 3, bias_std=(0.2, 0.2, 0.2)).block(X, X),
        NTK(depth=2, weight_std=1.5, bias_std=0.2).block(X, X),
    )
    # a readout std r scales the NNGP by r^2 / w^2 at depth 1 without biases
    a = NNGP(depth=1, weight_std=(1.5, 3.0)).block(X, X)
    np.testing.assert_allclose(a, 4 * NNGP(depth=1, weight_std=1.5).block(X, X), rtol=1e-14)
    with pytest.raises(InputError, match="depth"):  # depth < 1 is bad input, not a model
        NTK(depth=0, weight_std=2.0, bias_std=0.5)


# --- Monte Carlo: finite random networks -----------------------------------------------


def _random_mlp_outputs(X, activations, depth, width, n_nets, seed, batch=250):
    """Outputs (n_nets, n) of NTK-parameterized MLPs, one weight draw shared by all
    activations: h = (w / sqrt(fan_in)) W a + b_std beta, W and beta i.i.d. N(0, 1)."""
    g = torch.Generator().manual_seed(seed)
    d, out = X.shape[1], {a: [] for a in activations}
    Xt = X.T.float()
    for start in range(0, n_nets, batch):
        B = min(batch, n_nets - start)
        dims = [d] + [width] * depth + [1]
        Ws = [torch.randn(B, dims[i + 1], dims[i], generator=g) for i in range(depth + 1)]
        bs = [torch.randn(B, dims[i + 1], 1, generator=g) for i in range(depth + 1)]
        for name, act in activations.items():
            h = Xt
            for i in range(depth + 1):
                a = h if i == 0 else act(h)
                h = (W_STD / math.sqrt(dims[i])) * (Ws[i] @ a) + B_STD * bs[i]  # (B, n_i, n)
            out[name].append(h[:, 0, :].double())
    return {name: torch.cat(v) for name, v in out.items()}


def test_nngp_matches_monte_carlo_over_random_networks():
    # 2000 networks of width 512 (float32). Finite width biases the second moment by
    # O(depth / width) ~ 0.4% relative, far below the Monte-Carlo standard error (~3%).
    X = _inputs(4, 6, seed=9)
    X[3] = X[0] + 0.1 * X[3]  # a near pair
    acts = {"relu": torch.relu, "erf": torch.erf, "gelu": F.gelu}
    outs = _random_mlp_outputs(X, acts, depth=2, width=512, n_nets=2000, seed=10)
    for name, f in outs.items():
        prods = f[:, :, None] * f[:, None, :]  # (S, n, n): f(x) f(x')
        mc, se = prods.mean(0), prods.std(0) / math.sqrt(f.shape[0])
        theory = NNGP(depth=2, activation=name, weight_std=W_STD, bias_std=B_STD).block(X, X)
        z = ((mc - theory) / se).abs().max()
        assert z < 4.0, f"{name}: max |MC - NNGP| = {float(z):.2f} standard errors"


def _empirical_ntk(X, act, depth, width, seed, parameterization):
    """sum_p df(x)/dp df(x')/dp for a random MLP, by torch.func (jacrev over inputs)."""
    g = torch.Generator().manual_seed(seed)
    dims = [X.shape[1]] + [width] * depth + [1]
    params = {}
    for i in range(depth + 1):
        W = torch.randn(dims[i + 1], dims[i], generator=g, dtype=torch.float64)
        b = torch.randn(dims[i + 1], generator=g, dtype=torch.float64)
        if parameterization == "standard":  # train W ~ N(0, w^2/fan_in), b ~ N(0, b^2)
            W, b = W * (W_STD / math.sqrt(dims[i])), b * B_STD
        params[f"W{i}"], params[f"b{i}"] = W, b

    def f(p, x):
        h = x
        for i in range(depth + 1):
            a = h if i == 0 else act(h)
            if parameterization == "ntk":
                h = (W_STD / math.sqrt(dims[i])) * (p[f"W{i}"] @ a) + B_STD * p[f"b{i}"]
            else:
                h = p[f"W{i}"] @ a + p[f"b{i}"]
        return h[0]

    jac = torch.func.vmap(torch.func.jacrev(f), in_dims=(None, 0))(params, X)
    flat = [J.reshape(X.shape[0], -1) for J in jac.values()]
    return sum(J @ J.T for J in flat)


@pytest.mark.parametrize(
    ("name", "act", "parameterization"),
    [
        ("relu", torch.relu, "ntk"),
        ("erf", torch.erf, "ntk"),
        ("gelu", F.gelu, "ntk"),
        ("relu", torch.relu, "standard"),
    ],
)
def test_ntk_matches_empirical_ntk_of_wide_networks(name, act, parameterization):
    # Tolerance: the empirical NTK fluctuates by O(1/sqrt(width)) around its mean (Jacot
    # et al. 2018), with relative std ~ sqrt(5 (L+1) / width) for ReLU nets (Hanin &
    # Nica 2020, E[Theta^2]/E[Theta]^2 ~ exp(5 L / n)): ~9% at L + 1 = 3, width 2048. Its
    # mean is off by O(L / width) (~0.1%). With S seeds the mean over seeds must lie
    # within 5 standard errors (per-entry sample std / sqrt(S), t with S-1 dof) plus
    # the O(L/width) bias; the sample std is itself checked against the predicted scale.
    depth, width, S = 2, 2048, 5
    X = _inputs(4, 5, seed=11)
    X[3] = X[0] + 0.05 * X[3]
    kernel = NTK(
        depth=depth,
        activation=name,
        weight_std=W_STD,
        bias_std=B_STD,
        parameterization=parameterization,
        width=width,
    )
    theory = kernel.block(X, X)
    emp = torch.stack([_empirical_ntk(X, act, depth, width, s, parameterization) for s in range(S)])
    mean, sd = emp.mean(0), emp.std(0)
    rel_sd = (sd / theory.abs()).max()
    predicted = math.sqrt(5 * (depth + 1) / width)
    assert rel_sd < 2 * predicted, f"fluctuations {float(rel_sd):.3f} vs ~{predicted:.3f}"
    tol = 5 * sd / math.sqrt(S) + theory.abs() * (depth + 1) / width
    err = (mean - theory).abs()
    assert bool((err <= tol).all()), f"max err/tol {float((err / tol).max()):.2f}"


# --- blocking, dtypes, devices ---------------------------------------------------------


@pytest.mark.parametrize(
    ("activation", "n", "chunks"),
    [("relu", 23, (5, 7)), ("erf", 23, (5, 7)), ("gelu", 23, (5, 7)), ("tanh", 7, (2, 3))],
)
def test_blocked_gram_equals_one_shot(activation, n, chunks, monkeypatch):
    # tanh runs by quadrature (~2e4 points per entry): fewer inputs keep it fast
    X, Z = _inputs(n, 5, seed=12), _inputs(n // 2, 5, seed=13)
    kernel = NTK(depth=2, activation=activation, weight_std=W_STD, bias_std=B_STD)
    one_shot, cross = kernel.block(X, X), kernel.block(X, Z)
    for chunk in chunks:
        np.testing.assert_allclose(
            gram(kernel, X, chunk_size=chunk), one_shot, rtol=1e-14, atol=1e-15
        )
        np.testing.assert_allclose(
            gram(kernel, X, Z, chunk_size=chunk), cross, rtol=1e-14, atol=1e-15
        )
    # the diagonal of a Gram equals diag() (duplicate inputs, module Warning)
    # closed forms evaluate the same formula; a quadrature activation (tanh) uses the 1-D
    # rule on the diagonal and the 2-D rule in the Gram, equal to their accuracy (~1e-13)
    diag_rtol = 1e-12 if activation == "tanh" else 1e-14
    np.testing.assert_allclose(
        torch.diagonal(gram(kernel, X)), kernel.diag(X), rtol=diag_rtol, atol=0
    )
    # row tiles inside one block: one row at a time
    monkeypatch.setitem(infinite._TILE_ELEMENTS, "cpu", 1)
    np.testing.assert_allclose(kernel.block(X, Z), cross, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("kernel", [NNGP, NTK])
@pytest.mark.parametrize("activation", ["relu", "erf", "tanh"])
def test_float32_agrees_with_float64(kernel, activation):
    X = _inputs(12 if activation in ("relu", "erf") else 5, 10, seed=14)  # tanh: quadrature
    spec = kernel(depth=3, activation=activation, weight_std=W_STD, bias_std=B_STD)
    k64 = spec.block(X, X)
    k32 = spec.block(X.float(), X.float())
    assert k32.dtype == torch.float32
    # entries are O(max |K|); float32 round-off, compounded over 4 layers, stays ~1e-6
    np.testing.assert_allclose(
        k32.double(), k64, rtol=0, atol=RTOL["float32"] * float(k64.abs().max())
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cuda_matches_cpu(dtype):
    X = _inputs(300, 20, seed=15, dtype=dtype)
    for kernel in (NTK(depth=3), NNGP(depth=2, activation="erf"), NTK(depth=1, activation="gelu")):
        cpu = kernel.block(X, X)
        cuda = kernel.block(X.cuda(), X.cuda())
        assert cuda.device.type == "cuda"
        tol = RTOL["float64" if dtype == torch.float64 else "float32"]
        np.testing.assert_allclose(
            cuda.cpu().double(), cpu.double(), rtol=0, atol=tol * float(cpu.abs().max())
        )


def test_infinite_kernels_are_kernels():
    assert isinstance(NTK(), Kernel) and isinstance(NNGP(), Kernel)
    assert NTK(depth=2, weight_std=[1, 2, 3]) == NTK(depth=2, weight_std=(1, 2, 3))
    hash(NTK(depth=2, weight_std=[1, 2, 3]))  # frozen and hashable


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: NTK(depth=-1), "depth"),
        (lambda: NNGP(depth=0), "depth"),
        (lambda: NTK(depth=1.5), "depth"),
        (lambda: NNGP(depth=True), "depth"),
        (lambda: NTK(weight_std=-1.0), "weight_std"),
        (lambda: NTK(weight_std=0.0), "weight_std"),
        (lambda: NTK(weight_std=float("nan")), "weight_std"),
        (lambda: NTK(depth=2, weight_std=[1.0, 1.0]), "depth \\+ 1 = 3"),
        (lambda: NNGP(bias_std=-0.1), "bias_std"),
        (lambda: NTK(activation="swish"), "unknown activation"),
        (lambda: NTK(activation=3), "activation"),
        (lambda: NTK(parameterization="mup"), "parameterization"),
        (lambda: NTK(parameterization="standard"), "width"),
        (lambda: NTK(width=0), "width"),
        (lambda: Activation(torch.relu, kinks=("a",)), "kinks"),
        (lambda: Activation(torch.relu, quadrature="simpson"), "quadrature"),
        (lambda: Activation(torch.relu, nodes=1), "nodes"),
        (lambda: Activation(lambda x: x.sum()), "same shape"),
        (lambda: NTK().block(torch.ones(3), torch.ones(3)), "2-D"),
        (lambda: NTK().block(torch.ones(3, 2, dtype=torch.long), torch.ones(3, 2)), "floating"),
        (lambda: NTK().block(torch.ones(3, 2), torch.ones(3, 4)), "columns"),
        (lambda: NTK().block(torch.ones(3, 2), torch.ones(3, 2, dtype=torch.float64)), "dtype"),
        (lambda: NTK().block(torch.full((3, 2), float("nan")), torch.ones(3, 2)), "finite"),
        (lambda: NTK().diag(torch.ones(3)), "2-D"),
    ],
)
def test_bad_input_raises_input_error(make, match):
    with pytest.raises(InputError, match=match) as info:
        make()
    assert "\n" not in str(info.value)


def test_gelu_closed_forms_equal_quadrature():
    # the closed forms (derived by Gaussian integration by parts and Price's theorem) against
    # the piecewise Gauss-Legendre rule applied to F.gelu itself, which is accurate to
    # ~1e-15 for smooth functions at these variances (lmech.kernels._gauss_hermite)
    quad = Activation(F.gelu)
    g = torch.Generator().manual_seed(21)
    for qmax in (0.3, 3.0, 10.0):
        qx = torch.rand(12, 1, generator=g, dtype=torch.float64) * qmax + 1e-3
        qz = torch.rand(1, 9, generator=g, dtype=torch.float64) * qmax + 1e-3
        rho = torch.rand(12, 9, generator=g, dtype=torch.float64) * 2 - 1
        rho[0, 0], rho[1, 1], rho[2, 2] = 1.0, -1.0, 0.0  # parallel, antiparallel, orthogonal
        k = rho * (qx * qz).sqrt()
        closed = infinite.ACTIVATIONS["gelu"].pair(qx, qz, k, True, 0.0)
        for got, want in zip(closed, quad.pair(qx, qz, k, True), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        q = qx.reshape(-1)
        for got, want in zip(
            infinite.ACTIVATIONS["gelu"].diag(q, True), quad.diag(q, True), strict=True
        ):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    # whole kernels: deep NTK with biases, closed form vs the quadrature Activation
    X = _inputs(15, 6, seed=22)
    for kernel in (NNGP, NTK):
        fast = kernel(depth=3, activation="gelu", weight_std=W_STD, bias_std=B_STD).block(X, X)
        slow = kernel(depth=3, activation=quad, weight_std=W_STD, bias_std=B_STD).block(X, X)
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-14)

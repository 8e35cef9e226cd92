import pytest
import torch
from torch import nn

from lmech.errors import InputError
from lmech.kernels import empirical
from lmech.kernels.base import gram
from lmech.kernels.empirical import EmpiricalNTK, empirical_ntk

from ..tolerances import ATOL, RTOL

METHODS = ("jacobian", "ntvp")


@pytest.fixture(autouse=True)
def _one_thread():
    # tensors here are tiny: intra-op threads only add synchronization, which on 2 shared
    # cores made the CNN cases ~100x slower (1.4 s vs 8 ms per explicit NTK)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _mlp(k: int, seed: int = 0, dtype=torch.float64) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 8), nn.GELU(), nn.Linear(8, k)
    ).to(dtype)


def _cnn(k: int, seed: int = 0, dtype=torch.float64) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3),
        nn.BatchNorm2d(3),  # eval mode: running statistics are constant buffers
        nn.Tanh(),
        nn.Conv2d(3, 2, 3, stride=2),
        nn.Flatten(),
        nn.Linear(2 * 2 * 2, k),
    ).to(dtype)
    bn = net[1]
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 2.0)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return net.eval()


MODELS = {"mlp": (_mlp, (3,)), "cnn": (_cnn, (1, 7, 7))}


def _inputs(shape, n: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=g, dtype=dtype)


def _explicit_jacobian(model: nn.Module, X: torch.Tensor, names=None) -> torch.Tensor:
    """(n, k, P): one torch.autograd.grad call per sample and output, gradients flattened."""
    params = [p for n, p in model.named_parameters() if names is None or n in names]
    rows = []
    for x in X:
        out = model(x[None]).reshape(-1)
        per_output = []
        for a in range(out.numel()):
            grads = torch.autograd.grad(out[a], params, retain_graph=True, allow_unused=True)
            flat = [
                torch.zeros(p.numel(), dtype=p.dtype) if g is None else g.reshape(-1)
                for g, p in zip(grads, params, strict=True)
            ]
            per_output.append(torch.cat(flat))
        rows.append(torch.stack(per_output))
    return torch.stack(rows)


def _explicit_ntk(model, X, Z, names=None) -> torch.Tensor:
    """(n, m, k, k) by dot products of flattened parameter gradients."""
    JX, JZ = _explicit_jacobian(model, X, names), _explicit_jacobian(model, Z, names)
    return torch.einsum("iap,jbp->ijab", JX, JZ)


def _close(got, ref, dtype="float64"):
    torch.testing.assert_close(got, ref, rtol=RTOL[dtype], atol=ATOL[dtype])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("arch", sorted(MODELS))
def test_matches_explicit_gradients(arch, k, method):
    make, shape = MODELS[arch]
    model = make(k)
    X, Z = _inputs(shape, 5, seed=1), _inputs(shape, 4, seed=2)
    ref = _explicit_ntk(model, X, Z)  # (5, 4, k, k)
    for mode, want in [
        ("full", ref),
        ("trace", ref.diagonal(dim1=2, dim2=3).sum(-1)),
        ("diagonal", ref.diagonal(dim1=2, dim2=3)),
    ]:
        got = empirical_ntk(model, X, Z, mode=mode, method=method, chunk_size=3)
        if k == 1:  # a single output: every mode is the (n, m) kernel
            want = ref[..., 0, 0]
        assert got.dtype == torch.float64
        _close(got, want)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("arch", sorted(MODELS))
def test_symmetric_and_positive_semidefinite(arch, method):
    make, shape = MODELS[arch]
    model, X = make(2), _inputs(shape, 7, seed=3)
    full = empirical_ntk(model, X, method=method, chunk_size=3)  # (7, 7, 2, 2)
    assert torch.equal(full, full.permute(1, 0, 3, 2))
    _close(full, _explicit_ntk(model, X, X))
    big = full.permute(0, 2, 1, 3).reshape(14, 14)  # (n k, n k) block matrix
    assert torch.equal(big, big.T)
    ev = torch.linalg.eigvalsh(big)
    assert ev.min() >= -1e-10 * ev.max()
    trace = empirical_ntk(model, X, mode="trace", method=method)
    assert torch.equal(trace, trace.T)
    assert torch.linalg.eigvalsh(trace).min() >= -1e-10 * trace.diagonal().max()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", ["full", "trace", "diagonal"])
def test_chunked_equals_unchunked(mode, method):
    model = _mlp(3)
    X, Z = _inputs((3,), 7, seed=4), _inputs((3,), 5, seed=5)
    for Zs in (Z, None):
        whole = empirical_ntk(model, X, Zs, mode=mode, method=method, chunk_size=100)
        for c in (1, 3):
            tiled = empirical_ntk(model, X, Zs, mode=mode, method=method, chunk_size=c)
            _close(tiled, whole)


def test_methods_agree_with_auto_and_a_tiny_memory_budget(monkeypatch):
    model, X = _mlp(3), _inputs((3,), 6, seed=6)
    auto = empirical_ntk(model, X)
    for method in METHODS:
        _close(empirical_ntk(model, X, method=method), auto)
    # a budget below one sample's Jacobian: auto switches to ntvp with 1-sample columns
    monkeypatch.setattr(empirical, "JACOBIAN_BUDGET_BYTES", 8)
    _close(empirical_ntk(model, X, chunk_size=4), auto)
    _close(
        empirical_ntk(model, X, X[:5], mode="diagonal", chunk_size=4),
        auto[:, :5].diagonal(dim1=2, dim2=3),
    )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_model_is_exactly_the_linear_kernel(bias, method):
    # integer-valued inputs: every product and sum is exact in float64, in any order
    g = torch.Generator().manual_seed(7)
    X = torch.randint(-3, 4, (6, 4), generator=g).double()
    Z = torch.randint(-3, 4, (5, 4), generator=g).double()
    model = nn.Linear(4, 1, bias=bias).double()
    want = X @ Z.T + (1.0 if bias else 0.0)
    assert torch.equal(empirical_ntk(model, X, Z, method=method), want)
    assert torch.equal(empirical_ntk(model, X, method=method), X @ X.T + float(bias))
    # k outputs: Theta_ab(x, x') = (x . x' + 1) delta_ab
    vec = empirical_ntk(nn.Linear(4, 3, bias=bias).double(), X, Z, method=method)
    assert torch.equal(vec, want[:, :, None, None] * torch.eye(3, dtype=torch.float64))


@pytest.mark.parametrize("method", METHODS)
def test_parameter_subsets_add_up_over_a_partition(method):
    model = _mlp(2)
    X, Z = _inputs((3,), 5, seed=8), _inputs((3,), 4, seed=9)
    whole = empirical_ntk(model, X, Z, method=method)
    parts = [["0"], ["2.weight"], ["2.bias", "4"]]  # module prefixes and exact names
    per_part = [empirical_ntk(model, X, Z, method=method, params=p) for p in parts]
    _close(sum(per_part), whole)
    # a subset equals the explicit NTK over those parameters only
    _close(per_part[1], _explicit_ntk(model, X, Z, names={"2.weight"}))


def test_frozen_parameters_are_left_out():
    model = _mlp(1)
    X = _inputs((3,), 4, seed=10)
    want = empirical_ntk(model, X, params=["2", "4"])
    model[0].requires_grad_(False)
    _close(empirical_ntk(model, X), want)


def test_gram_and_call_of_empirical_ntk_kernel():
    model = _mlp(3)
    X, Z = _inputs((3,), 9, seed=11), _inputs((3,), 4, seed=12)
    kernel = EmpiricalNTK(model, chunk_size=4)
    want = empirical_ntk(model, X, mode="trace")
    _close(gram(kernel, X, chunk_size=4), want)
    _close(gram(kernel, X, Z), empirical_ntk(model, X, Z, mode="trace"))
    _close(kernel(X), want)  # different chunking: equal to round-off
    # a CNN through gram: rows of length 49 reshaped to (1, 7, 7)
    cnn = _cnn(1)
    imgs = _inputs((1, 7, 7), 5, seed=13)
    K = gram(EmpiricalNTK(cnn, input_shape=(1, 7, 7)), imgs.reshape(5, -1))
    _close(K, _explicit_ntk(cnn, imgs, imgs)[..., 0, 0])


def test_float32_model_sets_the_dtype():
    model64 = _mlp(2)
    model32 = _mlp(2, dtype=torch.float32)
    X = _inputs((3,), 5, seed=14)  # float64 inputs are cast to the model's float32
    got = empirical_ntk(model32, X, mode="trace")
    assert got.dtype == torch.float32
    want = empirical_ntk(model64, X, mode="trace").float()
    _close(got, want, "float32")


def test_integer_inputs_embedding_model():
    torch.manual_seed(15)
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(8, 2)).double()
    tokens = torch.randint(0, 10, (5, 2), generator=torch.Generator().manual_seed(15))
    for method in METHODS:
        got = empirical_ntk(model, tokens, method=method)
        _close(got, _explicit_ntk(model, tokens, tokens))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    model = _cnn(3)
    X = _inputs((1, 7, 7), 6, seed=16)
    want = empirical_ntk(model, X)
    for method in METHODS:
        got = empirical_ntk(model.cuda(), X, method=method, chunk_size=4)  # X moved along
        assert got.device.type == "cuda"
        _close(got.cpu(), want)
        model.cpu()


def _bn_train():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).double().train()


def _dropout_train():
    return nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.1)).double().train()


def _frozen():
    return nn.Linear(3, 1).double().requires_grad_(False)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda X: empirical_ntk(_mlp(1), X[:, :2]), "failed on one sample"),
        (lambda X: empirical_ntk(_mlp(1), X, X[:, :2]), "Z samples must have shape"),
        (lambda X: empirical_ntk(_mlp(1), X[:0]), "non-empty"),
        (lambda X: empirical_ntk(_mlp(1), X.numpy()), "torch.Tensor"),
        (lambda X: empirical_ntk(_mlp(1), X.clone().fill_(float("nan"))), "finite"),
        (lambda X: empirical_ntk(_frozen(), X), "no parameters with requires_grad"),
        (lambda X: empirical_ntk(nn.ReLU(), X), "no parameters with requires_grad"),
        (lambda X: empirical_ntk(_mlp(1), X, mode="sum"), "mode must be one of"),
        (lambda X: empirical_ntk(_mlp(1), X, method="svd"), "method must be one of"),
        (lambda X: empirical_ntk(_mlp(1), X, chunk_size=0), "chunk_size"),
        (lambda X: empirical_ntk(_mlp(1), X, params=["9"]), "no parameter or module"),
        (lambda X: empirical_ntk(_mlp(1), X, params=[]), "non-empty list"),
        (lambda X: empirical_ntk(_bn_train(), X), "training mode"),
        (lambda X: empirical_ntk(_dropout_train(), X), "training mode"),
        (lambda X: empirical_ntk(lambda x: x, X), "torch.nn.Module"),
        (lambda X: EmpiricalNTK(_mlp(1), method="svd"), "method must be one of"),
        (lambda X: EmpiricalNTK(_mlp(1), input_shape=(3, 0)), "input_shape"),
        (lambda X: gram(EmpiricalNTK(_mlp(1), input_shape=(2, 2)), X), "reshape to"),
    ],
)
def test_bad_inputs_raise_one_line_input_errors(call, match):
    X = _inputs((3,), 4, seed=17)
    with pytest.raises(InputError, match=match) as info:
        call(X)
    assert "\n" not in str(info.value)

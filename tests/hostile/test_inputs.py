"""Hostile input to the Python API, the file loaders and ``lmech predict``.

Every case feeds one malformed or adversarial input and asserts the exact exception type
(or, for the CLI, exit status 2 and one ``error:`` line), that the message names what was
expected and what came, that no traceback leaks, and that nothing is left half-written.
The forged files are assembled opcode by opcode / byte by byte here, independently of
the readers under test.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lmech.data.files import (
    array_file_keys,
    load_array_file,
    load_cifar10,
    read_cifar10_batch,
    read_idx,
    read_text_tokens,
)
from lmech.data.images import load_fashion_mnist
from lmech.errors import ConfigError, DataUnavailableError, DeviceError, InputError
from lmech.experiment.krr import TrialData, krr_learning_curve
from lmech.kernels import RBF, Laplace, Polynomial, gram, parse_kernel
from lmech.kernels.empirical import EmpiricalNTK, empirical_ntk
from lmech.kernels.infinite import NNGP, NTK, Activation
from lmech.predict import hea_decompose, load_xy, predict_learning_curve
from lmech.spectra.empirical import pool_eigensystem
from lmech.spectra.hea import hea_modes, level_coefficients
from lmech.spectra.powerlaw import power_law
from lmech.theory.eigenlearning import (
    effective_ridge,
    learnabilities,
    learning_curve,
    overfitting_coefficient,
    test_mse,
)

# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _memory_limit(monkeypatch):
    # one fixed limit, so that memory refusals do not depend on the machine
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "2")


def refused(call, exc_type, *needles):
    """``call()`` raises exactly ``exc_type`` with a one-line message holding ``needles``."""
    with pytest.raises(exc_type) as info:
        call()
    err = info.value
    assert type(err) is exc_type, f"{type(err).__name__}: {err}"
    msg = str(err)
    assert msg and "\n" not in msg, msg
    assert "Traceback" not in msg
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    return msg


def _rows(n=5, d=3, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((n, d)))


# ------------------------------------------------------------------------- theory

LAM = [1.0, 0.5, 0.25]
COEF = [1.0, 0.5, 0.1]

THEORY_CASES = {
    "n-1e300": (lambda: learning_curve(LAM, COEF, [1e300]), ("at most 2^53", "1e+300")),
    "n-2^63-int": (lambda: learning_curve(LAM, COEF, [2**63]), ("at most 2^53",)),
    "n-nan": (lambda: effective_ridge(LAM, np.nan), ("finite and > 0", "nan")),
    "n-negative": (lambda: effective_ridge(LAM, -3), ("> 0", "-3")),
    "n-bool": (lambda: effective_ridge(LAM, True), ("got dtype bool",)),
    "n-string": (lambda: effective_ridge(LAM, "10"), ("got dtype <U2",)),
    "n-subnormal": (
        lambda: effective_ridge(LAM, 5e-324),
        ("effective ridge above", "4.94066e-324"),
    ),
    "ridge-negative": (lambda: effective_ridge(LAM, 10, -1.0), ("in [0, 1e+300]", "-1")),
    "ridge-inf": (lambda: learning_curve(LAM, COEF, 10, np.inf), ("finite", "inf")),
    "ridge-huge": (lambda: effective_ridge(LAM, 10, 1e308), ("in [0, 1e+300]", "1e+308")),
    "eig-complex": (lambda: effective_ridge([1 + 1j, 0.5], 10), ("real numbers", "complex128")),
    "coef-complex": (lambda: learning_curve(LAM, [1j, 0, 0], 10), ("real numbers", "complex128")),
    "eig-ragged": (lambda: effective_ridge([[1.0], [1.0, 2.0]], 10), ("numpy cannot read",)),
    "eig-all-zero": (lambda: effective_ridge([0.0, 0.0], 10), ("at least one positive", "zero")),
    "eig-overflow": (lambda: effective_ridge([1e308, 1e308], 10), ("too large", "1e+300")),
    "coef-overflow": (
        lambda: learning_curve(LAM, [1e200, 1, 1], 10),
        ("too large", "coefficients"),
    ),
    "noise-huge": (
        lambda: test_mse(LAM, COEF, 10, noise_variance=1e308),
        ("noise_variance", "1e+308"),
    ),
    "noise-vector": (
        lambda: test_mse(LAM, COEF, 10, noise_variance=[0.1, 0.2]),
        ("finite scalar", "0.1"),
    ),
    "mult-overflow": (
        lambda: effective_ridge(LAM, 10, multiplicities=[1e308, 1e308, 1]),
        ("multiplicities", "inf"),
    ),
    "mult-length": (
        lambda: effective_ridge(LAM, 10, multiplicities=[1, 2]),
        ("one entry per eigenvalue (3)", "got 2"),
    ),
    "kappa-huge": (lambda: learnabilities(LAM, 1e308), ("kappa", "1e+308")),
    "of-kappa-negative": (lambda: overfitting_coefficient(LAM, 10, -1.0), ("kappa", "-1")),
    "grid-memory": (
        lambda: effective_ridge(LAM, np.ones(200_000), np.ones((200_000, 1))),
        ("(200000, 200000)", "above the limit of 2.0 GiB", "LMECH_MEMORY_LIMIT_GB"),
    ),
    "curve-grid-memory": (
        lambda: learning_curve(LAM, COEF, np.arange(1, 100_001), np.linspace(0, 1, 100_000)),
        ("100000 x 100000 grid", "LMECH_MEMORY_LIMIT_GB"),
    ),
}


@pytest.mark.parametrize("case", THEORY_CASES, ids=list(THEORY_CASES))
def test_theory_refuses(case):
    call, needles = THEORY_CASES[case]
    refused(call, InputError, *needles)


def test_theory_overflowing_risk_is_refused():
    # E_0 is huge just below the interpolation peak; E_0 times a huge bias overflows
    lam = np.ones(100)
    refused(
        lambda: test_mse(lam, np.full(100, 1e148), 99.999999999, 0.0, noise_variance=1e299),
        InputError,
        "overflows float64",
        "n = 100",
    )


def test_learning_curve_sizes_stay_exact():
    # the largest size accepted comes back exactly, never wrapped around int64
    table = learning_curve(LAM, COEF, [2**53])
    assert table["n"].tolist() == [2**53]


# ------------------------------------------------------------------------- kernels

KERNEL_TEXT_CASES = {
    "bandwidth-1e-300": ("gaussian:bandwidth=1e-300", ("[1e-100, 1e+100]", "1e-300")),
    "bandwidth-1e300": ("rbf:bandwidth=1e300", ("[1e-100, 1e+100]", "1e+300")),
    "bandwidth-nan": ("rbf:bandwidth=nan", ("positive finite", "nan")),
    "bandwidth-inf": ("laplace:bandwidth=inf", ("positive finite", "inf")),
    "bandwidth-zero": ("laplace:bandwidth=0", ("positive finite", "0.0")),
    "bandwidth-negative": ("rbf:bandwidth=-2", ("positive finite", "-2.0")),
    "bandwidth-text": ("rbf:bandwidth=wide", ("must be a number", "'wide'")),
    "option-typo": ("rbf:bandwith=2", ("unknown option 'bandwith'", "['bandwidth']")),
    "option-twice": ("rbf:bandwidth=1,bandwidth=2", ("given twice",)),
    "option-no-value": ("rbf:bandwidth", ("key=value", "'bandwidth'")),
    "linear-options": ("linear:scale=2", ("unknown option 'scale'", "no options")),
    "degree-float": ("poly:degree=2.5", ("must be an integer", "'2.5'")),
    "degree-huge": ("poly:degree=100000", ("[1, 1000]", "100000")),
    "offset-inf": ("polynomial:offset=inf", ("offset", "inf")),
    "unknown-kernel": ("matern:nu=1.5", ("unknown kernel 'matern'", "'gaussian'")),
}


@pytest.mark.parametrize("case", KERNEL_TEXT_CASES, ids=list(KERNEL_TEXT_CASES))
def test_parse_kernel_refuses(case):
    text, needles = KERNEL_TEXT_CASES[case]
    refused(lambda: parse_kernel(text), InputError, *needles)


class _NoBlock:
    pass


X5 = _rows()

GRAM_CASES = {
    "chunk-negative": (lambda: gram(RBF(), X5, chunk_size=-1), ("positive integer", "-1")),
    "chunk-zero": (lambda: gram(RBF(), X5, chunk_size=0), ("positive integer", "0")),
    "chunk-float": (lambda: gram(RBF(), X5, chunk_size=2.5), ("positive integer", "2.5")),
    "chunk-bool": (lambda: gram(RBF(), X5, chunk_size=True), ("positive integer", "True")),
    "numpy-input": (lambda: gram(RBF(), X5.numpy()), ("torch.Tensor", "ndarray")),
    "complex-input": (
        lambda: gram(RBF(), X5.to(torch.complex128)),
        ("real floating-point", "complex128", "real part"),
    ),
    "integer-input": (lambda: gram(RBF(), X5.long()), ("real floating-point", "int64")),
    "nan-input": (
        lambda: gram(RBF(), torch.tensor([[0.0, float("nan")]])),
        ("finite", "NaN"),
    ),
    "dtype-mismatch": (lambda: gram(RBF(), X5, X5.float()), ("share dtype", "float32")),
    "columns-mismatch": (lambda: gram(RBF(), X5, X5[:, :2]), ("3 columns", "(5, 2)")),
    "no-block": (lambda: gram(_NoBlock(), X5), ("block(X, Z)", "_NoBlock")),
    "gram-memory": (
        lambda: gram(RBF(), torch.zeros(200_000, 1, dtype=torch.float64)),
        ("(200000, 200000) float64 Gram matrix needs", "GiB", "limit of 2.0 GiB"),
    ),
    "rbf-bool": (lambda: RBF(bandwidth=True), ("positive finite", "True")),
    "laplace-str": (lambda: Laplace(bandwidth="1"), ("positive finite", "'1'")),
    "poly-degree-bool": (lambda: Polynomial(degree=True), ("degree", "True")),
}


@pytest.mark.parametrize("case", GRAM_CASES, ids=list(GRAM_CASES))
def test_gram_and_kernel_arguments_refused(case):
    call, needles = GRAM_CASES[case]
    refused(call, InputError, *needles)


NETWORK_CASES = {
    "depth-1e12": (lambda: NNGP(depth=10**12), ("at most 10000", "1000000000000")),
    "depth-zero": (lambda: NTK(depth=0), (">= 1", "0")),
    "depth-float": (lambda: NNGP(depth=2.0), (">= 1", "2.0")),
    "std-huge": (lambda: NNGP(weight_std=1e200), ("at most 1e+100", "1e+200")),
    "std-nan": (lambda: NTK(weight_std=float("nan")), ("finite", "nan")),
    "std-length": (lambda: NNGP(depth=2, weight_std=[1.0, 1.0]), ("depth + 1 = 3", "got 2")),
    "bias-negative": (lambda: NNGP(bias_std=-0.1), (">= 0", "-0.1")),
    "width-2^70": (
        lambda: NTK(parameterization="standard", width=2**70),
        ("up to 2^53", "~2^70"),
    ),
    "width-missing": (lambda: NTK(parameterization="standard"), ("pass width=n",)),
    "activation-unknown": (lambda: NNGP(activation="swish"), ("unknown activation", "'relu'")),
    "nodes-huge": (lambda: Activation(torch.tanh, nodes=10**6), ("[2, 256]", "1000000")),
    "kinks-many": (
        lambda: Activation(torch.relu, kinks=tuple(range(100))),
        ("at most 64", "got 100"),
    ),
}


@pytest.mark.parametrize("case", NETWORK_CASES, ids=list(NETWORK_CASES))
def test_network_kernel_arguments_refused(case):
    call, needles = NETWORK_CASES[case]
    refused(call, InputError, *needles)


def _linear_model():
    torch.manual_seed(0)
    return torch.nn.Linear(2, 1).double().eval()


EMPIRICAL_CASES = {
    "ntk-chunk-zero": (
        lambda: empirical_ntk(_linear_model(), _rows(4, 2), chunk_size=0),
        ("positive integer", "0"),
    ),
    "ntk-not-module": (lambda: EmpiricalNTK(model="net"), ("torch.nn.Module", "str")),
    "ntk-memory": (
        lambda: empirical_ntk(_linear_model(), torch.zeros(100_000, 2, dtype=torch.float64)),
        ("(100000, 100000)", "limit of 2.0 GiB"),
    ),
    "ntk-input-shape": (
        lambda: EmpiricalNTK(_linear_model(), input_shape=(0, 3)),
        ("positive integers", "(0, 3)"),
    ),
}


@pytest.mark.parametrize("case", EMPIRICAL_CASES, ids=list(EMPIRICAL_CASES))
def test_empirical_ntk_arguments_refused(case):
    call, needles = EMPIRICAL_CASES[case]
    refused(call, InputError, *needles)


SPECTRA_CASES = {
    "power-law-modes": (lambda: power_law(10**15, 1.0), ("power law of", "limit of 2.0 GiB")),
    "power-law-exponent": (lambda: power_law(10, "1"), ("real number", "'1'")),
    "hea-degree": (lambda: level_coefficients(RBF(), 1.0, 10**6), ("[0, 256]", "1000000")),
    "hea-modes-memory": (
        lambda: hea_modes(np.ones(5), np.ones(3), 10**9),
        ("1000000000 HEA modes", "limit of 2.0 GiB"),
    ),
    "pool-numpy": (lambda: pool_eigensystem(RBF(), np.zeros((4, 2))), ("torch.Tensor", "ndarray")),
    "pool-memory": (
        lambda: pool_eigensystem(RBF(), torch.zeros(100_000, 1, dtype=torch.float64)),
        ("pool of 100000 points", "limit of 2.0 GiB"),
    ),
    "pool-y-nan": (
        lambda: pool_eigensystem(RBF(), _rows(4, 2), torch.tensor([0.0, 1.0, float("nan"), 2.0])),
        ("real and finite", "NaN"),
    ),
}


@pytest.mark.parametrize("case", SPECTRA_CASES, ids=list(SPECTRA_CASES))
def test_spectra_arguments_refused(case):
    call, needles = SPECTRA_CASES[case]
    refused(call, InputError, *needles)


# ----------------------------------------------------------------------- KRR engine

_SAMPLED: list[int] = []


def _sample(t: int, n_max: int) -> TrialData:
    _SAMPLED.append(n_max)
    g = torch.Generator().manual_seed(t)
    X = torch.randn(n_max, 2, generator=g, dtype=torch.float64)
    Xs = torch.randn(8, 2, generator=g, dtype=torch.float64)
    return TrialData(X, X[:, 0], Xs, Xs[:, 0])


def _complex_sample(t: int, n_max: int) -> TrialData:
    data = _sample(t, n_max)
    return TrialData(data.X_train, data.y_train * 1j, data.X_test, data.y_test)


def _krr(**kw):
    args = {"kernel": RBF(), "sample": _sample, "sizes": [4, 8], "ridges": [0.1], "trials": 1}
    return lambda: krr_learning_curve(**(args | kw))


KRR_CASES = {
    "sizes-1e300": (_krr(sizes=[4, 1e300]), ("at most 9007199254740992", "1e+300")),
    "sizes-fraction": (_krr(sizes=[4, 2.5]), ("integers", "2.5")),
    "sizes-duplicate": (_krr(sizes=[4, 4]), ("distinct", "[4, 4]")),
    "sizes-negative": (_krr(sizes=[-4]), ("> 0", "-4")),
    "sizes-complex": (_krr(sizes=[4 + 1j]), ("integers", "(4+1j)")),
    "ridges-nan": (_krr(ridges=[np.nan]), ("finite", "NaN")),
    "ridges-complex": (_krr(ridges=[1j]), ("real", "complex")),
    "trials-zero": (_krr(trials=0), ("positive integer", "0")),
    "trials-huge": (_krr(trials=10**30), ("at most 1000000", "~2^99")),
    "trials-fraction": (_krr(trials=[1, 1.5]), ("positive integer", "1.5")),
    "trials-length": (_krr(trials=[1, 2, 3]), ("one count per size (2)", "3 counts")),
    "kernel-none": (_krr(kernel=None), ("block(X, Z)", "NoneType")),
    "sample-none": (_krr(sample=None), ("callable", "NoneType")),
    "dtype-int": (_krr(dtype=torch.int64), ("float32 or torch.float64", "torch.int64")),
    "device-bogus": (_krr(device="tpu:7"), ("'cpu', 'cuda'", "'tpu:7'")),
    "sample-complex": (_krr(sample=_complex_sample), ("y_train", "real and finite")),
    "n-memory": (_krr(sizes=[10, 100_000]), ("n = 100000", "limit of 2.0 GiB")),
}


@pytest.mark.parametrize("case", KRR_CASES, ids=list(KRR_CASES))
def test_krr_refuses(case):
    call, needles = KRR_CASES[case]
    _SAMPLED.clear()
    refused(call, InputError, *needles)
    if case not in ("sample-complex",):
        assert _SAMPLED == []  # refused before any data were drawn


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_krr_cuda_without_cuda():
    refused(_krr(device="cuda"), DeviceError, "CUDA is not available", "'cpu'")


# ---------------------------------------------------------------------- HEA predict


def _gauss(n=200, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * (np.arange(d) + 1.0) ** -1.0
    return X, np.sign(X[:, 0])


XG, YG = _gauss()

PREDICT_CASES = {
    "complex-X": (
        lambda: predict_learning_curve(XG + 1j, YG, RBF(), n=[10], num_modes=20),
        ("X must be real", "complex128"),
    ),
    "complex-y": (
        lambda: hea_decompose(XG, YG * (1 + 1j), RBF(), num_modes=20),
        ("y must be real", "complex128"),
    ),
    "string-X": (
        lambda: hea_decompose(XG.astype(str), YG, RBF(), num_modes=20),
        ("real numbers", "<U"),
    ),
    "nan-X": (
        lambda: hea_decompose(np.where(XG > 2, np.nan, XG), YG, RBF(), num_modes=20),
        ("NaN/infinite", "drop or impute"),
    ),
    "ragged-X": (lambda: hea_decompose([[1.0], [1.0, 2.0]], [0, 1], RBF()), ("numpy cannot",)),
    "modes-zero": (lambda: hea_decompose(XG, YG, RBF(), num_modes=0), ("[1, N - 1]", "got 0")),
    "modes-bool": (lambda: hea_decompose(XG, YG, RBF(), num_modes=True), ("positive integer",)),
    "modes-beyond-N": (
        lambda: hea_decompose(XG, YG, RBF(), num_modes=10**30),
        ("[1, 199]", "got 1000000000000000000000000000000"),
    ),
    "max-degree-huge": (
        lambda: hea_decompose(XG, YG, RBF(), num_modes=20, max_degree=10**6),
        ("at most 64", "1000000"),
    ),
    "n-1e300": (
        lambda: predict_learning_curve(XG, YG, RBF(), n=[1e300], num_modes=20),
        ("at most 2^53", "1e+300"),
    ),
    "ridge-nan": (
        lambda: predict_learning_curve(XG, YG, RBF(), n=[10], ridge=np.nan, num_modes=20),
        ("finite", "nan"),
    ),
    "ridge-complex": (
        lambda: predict_learning_curve(XG, YG, RBF(), n=[10], ridge=1j, num_modes=20),
        ("ridge must be real", "complex"),
    ),
    "hea-memory": (
        lambda: hea_decompose(np.zeros((300_000, 2)), np.zeros(300_000), RBF(), num_modes=299_999),
        ("300000 samples x 2 features with 299999 modes", "limit of 2.0 GiB"),
    ),
}


@pytest.mark.parametrize("case", PREDICT_CASES, ids=list(PREDICT_CASES))
def test_predict_api_refuses(case):
    call, needles = PREDICT_CASES[case]
    refused(call, InputError, *needles)


# ---------------------------------------------------------------- pickles (CIFAR-10)


def _u(text: str) -> bytes:
    raw = text.encode()
    return pickle.BINUNICODE + struct.pack("<I", len(raw)) + raw


def _i(value: int) -> bytes:
    return pickle.BININT + struct.pack("<i", value)


def _b(raw: bytes) -> bytes:
    return pickle.BINBYTES + struct.pack("<I", len(raw)) + raw


def _dtype_ops(code="u1", endian="|", flags=0) -> bytes:
    """numpy.dtype(code, False, True) with BUILD state (3, endian, ..., flags)."""
    args = pickle.MARK + _u(code) + pickle.NEWFALSE + pickle.NEWTRUE + pickle.TUPLE
    state = pickle.MARK + _i(3) + _u(endian) + pickle.NONE * 3 + _i(-1) + _i(-1) + _i(flags)
    return (
        pickle.GLOBAL + b"numpy\ndtype\n" + args + pickle.REDUCE + state + pickle.TUPLE
    ) + pickle.BUILD


def _array_ops(shape, raw: bytes, dtype_ops: bytes, module=b"numpy.core.multiarray") -> bytes:
    """_reconstruct(ndarray, (0,), b'b') with BUILD state (1, shape, dtype, False, raw)."""
    shape_ops = pickle.MARK + b"".join(_i(s) for s in shape) + pickle.TUPLE
    head = (
        pickle.GLOBAL
        + module
        + b"\n_reconstruct\n"
        + pickle.MARK
        + pickle.GLOBAL
        + b"numpy\nndarray\n"
        + pickle.MARK
        + _i(0)
        + pickle.TUPLE
        + _b(b"b")
        + pickle.TUPLE
        + pickle.REDUCE
    )
    state = pickle.MARK + _i(1) + shape_ops + dtype_ops + pickle.NEWFALSE + _b(raw) + pickle.TUPLE
    return head + state + pickle.BUILD


def _batch(data_ops: bytes, labels=(0, 1)) -> bytes:
    label_ops = pickle.EMPTY_LIST + pickle.MARK + b"".join(_i(v) for v in labels) + pickle.APPENDS
    return (
        pickle.PROTO
        + b"\x02"
        + pickle.EMPTY_DICT
        + _u("data")
        + data_ops
        + pickle.SETITEM
        + _u("labels")
        + label_ops
        + pickle.SETITEM
        + pickle.STOP
    )


def forged_dtype_batch(flags=1, code="u1", endian="|", n=2) -> bytes:
    """A batch built only from numpy.dtype (forged flags), _reconstruct and ndarray."""
    itemsize = int(code[1])
    raw = bytes(range(256)) * (n * 3072 * itemsize // 256)
    return _batch(_array_ops((n, 3072), raw, _dtype_ops(code, endian, flags)), range(n))


PICKLE_CASES = {
    "forged-flags-1": (forged_dtype_batch(1), ("forged dtype flags 1", "flags 0")),
    "forged-flags-63": (forged_dtype_batch(63), ("forged dtype flags 63",)),
    "forged-flags-u8": (forged_dtype_batch(1, "u8", "<"), ("forged dtype flags 1", "'u8'")),
    "dtype-object": (
        _batch(_array_ops((2, 3072), b"\0" * 16, _dtype_ops("O8", "|"))),
        ("refusing numpy dtype 'O8'", "plain numeric"),
    ),
    "dtype-state-fields": (
        _batch(
            _array_ops((2, 3072), b"\0" * 6144, _dtype_ops("u1", "|", 0)).replace(
                pickle.NONE * 3, pickle.NONE + _u("f0") + pickle.NONE, 1
            )
        ),
        ("unexpected state", "(3, byte order, None, None, None, -1, -1, 0)"),
    ),
    "size-mismatch": (
        _batch(_array_ops((10_000, 3072), b"\0" * 10, _dtype_ops())),
        ("needs 30720000 bytes", "holds 10"),
    ),
    "global-os-system": (
        pickle.PROTO
        + b"\x02"
        + pickle.GLOBAL
        + b"os\nsystem\n"
        + _u("true")
        + pickle.TUPLE1
        + pickle.REDUCE
        + pickle.STOP,
        ("refusing to load global os.system",),
    ),
    "stack-global-eval": (
        pickle.PROTO
        + b"\x04"
        + pickle.SHORT_BINUNICODE
        + b"\x08builtins"
        + pickle.SHORT_BINUNICODE
        + b"\x04eval"
        + pickle.STACK_GLOBAL
        + _u("1")
        + pickle.TUPLE1
        + pickle.REDUCE
        + pickle.STOP,
        ("refusing to load global builtins.eval",),
    ),
    "reconstruct-other-class": (
        pickle.PROTO
        + b"\x02"
        + pickle.GLOBAL
        + b"numpy.core.multiarray\n_reconstruct\n"
        + pickle.MARK
        + pickle.GLOBAL
        + b"numpy\ndtype\n"
        + pickle.MARK
        + _i(0)
        + pickle.TUPLE
        + _b(b"b")
        + pickle.TUPLE
        + pickle.REDUCE
        + pickle.STOP,
        ("unexpected _reconstruct arguments",),
    ),
    "build-on-global": (
        pickle.PROTO
        + b"\x02"
        + pickle.GLOBAL
        + b"numpy\ndtype\n"
        + pickle.EMPTY_DICT
        + pickle.BUILD
        + pickle.STOP,
        ("takes no state",),
    ),
    "newobj-opcode": (
        pickle.PROTO
        + b"\x02"
        + pickle.GLOBAL
        + b"numpy\ndtype\n"
        + pickle.EMPTY_TUPLE
        + pickle.NEWOBJ
        + pickle.STOP,
        ("refusing pickle opcode NEWOBJ",),
    ),
    "persistent-id": (
        pickle.PROTO + b"\x02" + _u("x") + pickle.BINPERSID + pickle.STOP,
        ("refusing pickle opcode BINPERSID",),
    ),
    "bytes8-lies": (
        pickle.PROTO
        + b"\x04"
        + pickle.BINBYTES8
        + struct.pack("<Q", 2**62)
        + b"tiny"
        + pickle.STOP,
        ("bytes8", "remain"),
    ),
    "memo-index-huge": (
        pickle.PROTO
        + b"\x02"
        + pickle.EMPTY_DICT
        + pickle.LONG_BINPUT
        + struct.pack("<I", 2**31)
        + pickle.STOP,
        ("memo index 2147483648", "out of range"),
    ),
    "truncated": (forged_dtype_batch(0)[:5000], ("not a CIFAR-10 python batch",)),
    "empty-file": (b"", ("not a CIFAR-10 python batch",)),
}


@pytest.mark.parametrize("case", PICKLE_CASES, ids=list(PICKLE_CASES))
def test_cifar_pickle_refused(tmp_path, case):
    raw, needles = PICKLE_CASES[case]
    p = tmp_path / "data_batch_1"
    p.write_bytes(raw)
    msg = refused(lambda: read_cifar10_batch(p), InputError, str(p), *needles)
    assert "not a CIFAR-10 python batch" in msg


CIFAR_LAYOUT_CASES = {
    "labels-float": ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1.5]}, "list of ints"),
    "labels-bool": (
        {"data": np.zeros((2, 3072), np.uint8), "labels": [True, False]},
        "list of ints",
    ),
    "labels-range": ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 12]}, "0..9"),
    "labels-huge": ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 2**70]}, "int64"),
    "data-bytes": ({"data": b"\0" * 6144, "labels": [0, 1]}, "uint8 of shape (N, 3072)"),
    "data-fortran-float": (
        {"data": np.asfortranarray(np.zeros((2, 3072), np.float32)), "labels": [0, 1]},
        "got float32 (2, 3072)",
    ),
    "keys-none": ({"data": None, "labels": None}, "expected keys"),
}


@pytest.mark.parametrize("case", CIFAR_LAYOUT_CASES, ids=list(CIFAR_LAYOUT_CASES))
@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar_layout_refused(tmp_path, case, protocol):
    obj, needle = CIFAR_LAYOUT_CASES[case]
    p = tmp_path / "test_batch"
    p.write_bytes(pickle.dumps(obj, protocol=protocol))
    refused(lambda: read_cifar10_batch(p), InputError, str(p), needle)


def test_forged_cifar_batch_does_not_crash_the_interpreter(tmp_path):
    """In a fresh interpreter: the forged-dtype batch is an InputError, not memory damage."""
    p = tmp_path / "data_batch_1"
    p.write_bytes(forged_dtype_batch(1, "u8", "<", n=64))
    script = textwrap.dedent(
        f"""
        import gc, sys
        from lmech.data.files import read_cifar10_batch
        from lmech.errors import InputError
        try:
            read_cifar10_batch({str(p)!r})
        except InputError as err:
            print("refused:", err)
        gc.collect()
        import numpy as np
        print("alive", int(np.arange(10).sum()))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, (out.returncode, out.stderr)
    assert "refused:" in out.stdout and "forged dtype flags 1" in out.stdout
    assert "alive 45" in out.stdout
    assert out.stderr == ""


def _py2_style_batch(imgs: np.ndarray, labels) -> bytes:
    """An official-layout batch as Python 2's cPickle writes it: str (bytes) keys, a raw
    BINSTRING payload, numpy.core.multiarray and integer align/copy flags."""

    def s(raw: bytes) -> bytes:
        if len(raw) < 256:
            return pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw
        return pickle.BINSTRING + struct.pack("<i", len(raw)) + raw

    rows = np.stack([imgs[..., c].reshape(len(imgs), 1024) for c in range(3)], axis=1)
    raw = rows.reshape(len(imgs), 3072).tobytes()
    dtype = (
        pickle.GLOBAL
        + b"numpy\ndtype\n"
        + s(b"u1")
        + pickle.BININT1
        + b"\0"
        + pickle.BININT1
        + b"\1"
        + pickle.TUPLE3
        + pickle.REDUCE
        + pickle.MARK
        + pickle.BININT1
        + b"\3"
        + s(b"|")
        + pickle.NONE * 3
        + _i(-1)
        + _i(-1)
        + pickle.BININT1
        + b"\0"
        + pickle.TUPLE
        + pickle.BUILD
    )
    array = (
        pickle.GLOBAL
        + b"numpy.core.multiarray\n_reconstruct\n"
        + pickle.GLOBAL
        + b"numpy\nndarray\n"
        + pickle.BININT1
        + b"\0"
        + pickle.TUPLE1
        + s(b"b")
        + pickle.TUPLE3
        + pickle.REDUCE
        + pickle.MARK
        + pickle.BININT1
        + b"\1"
        + _i(len(imgs))
        + _i(3072)
        + pickle.TUPLE2
        + dtype
        + pickle.NEWFALSE
        + s(raw)
        + pickle.TUPLE
        + pickle.BUILD
    )
    label_ops = pickle.EMPTY_LIST + pickle.MARK + b"".join(_i(v) for v in labels) + pickle.APPENDS
    return (
        pickle.PROTO
        + b"\x02"
        + pickle.EMPTY_DICT
        + pickle.MARK
        + s(b"batch_label")
        + s(b"x")
        + s(b"data")
        + array
        + s(b"labels")
        + label_ops
        + pickle.SETITEMS
        + pickle.STOP
    )


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_genuine_batches_still_load(tmp_path, protocol):
    imgs = np.random.default_rng(protocol).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    rows = np.stack([imgs[..., c].reshape(3, 1024) for c in range(3)], axis=1).reshape(3, 3072)
    d = {b"batch_label": b"x", b"labels": [7, 0, 9], b"data": rows, b"filenames": [b"a"] * 3}
    (tmp_path / "numpy").write_bytes(pickle.dumps(d, protocol=protocol))
    (tmp_path / "py2").write_bytes(_py2_style_batch(imgs, [7, 0, 9]))
    fortran = {**d, b"data": np.asfortranarray(rows), b"labels": np.array([7, 0, 9])}
    (tmp_path / "fortran").write_bytes(pickle.dumps(fortran, protocol=protocol))
    for name in ("numpy", "py2", "fortran"):
        X, y = read_cifar10_batch(tmp_path / name)
        np.testing.assert_array_equal(X, imgs)
        assert y.tolist() == [7, 0, 9] and y.dtype == np.int64


def test_load_cifar10_with_a_forged_batch(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    (root / "test_batch").write_bytes(forged_dtype_batch(1))
    refused(lambda: load_cifar10(tmp_path, "test"), InputError, "forged dtype flags")


# -------------------------------------------------------------------- .npy / .npz


def _npy(shape, descr="<f8", payload=b"", version=(1, 0), header=None) -> bytes:
    """A .npy file with the given header (written by hand) and payload bytes."""
    text = header or f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    width = 2 if version[0] == 1 else 4
    pad = (-(6 + 2 + width + len(text) + 1)) % 64
    text = text + " " * pad + "\n"
    size = struct.pack("<H" if width == 2 else "<I", len(text))
    return b"\x93NUMPY" + bytes(version) + size + text.encode("latin1") + payload


def _npz(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    return buf.getvalue()


def _saved(arr, **kw) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, **kw)
    return buf.getvalue()


ARRAY_FILE_CASES = {
    "npy-header-1e18": (
        "huge.npy",
        _npy((10**12, 10**6), payload=b"\0" * 64),
        ("declares shape (1000000000000, 1000000)", "holds 64"),
    ),
    "npy-truncated": ("cut.npy", _npy((10, 10), payload=b"\0" * 799), ("800 bytes", "holds 799")),
    "npy-no-payload": (
        "big.npy",
        _npy((300, 1_000_000), payload=b""),
        ("declares shape (300, 1000000)", "holds 0"),
    ),
    "npy-negative-shape": ("neg.npy", _npy((-1, 3)), ("invalid shape", "(-1, 3)")),
    "npy-object": (
        "obj.npy",
        _saved(np.array([None, {}], dtype=object), allow_pickle=True),
        ("object array", "refuses to unpickle"),
    ),
    "npy-version-3": ("v3.npy", _npy((2,), version=(3, 0)), ("version 3.0", "1.0 or 2.0")),
    "npy-header-long": (
        "long.npy",
        b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + b"{",
        ("implausibly long",),
    ),
    "npy-header-code": (
        "code.npy",
        _npy(None, header="{'descr': __import__('os').getcwd(), 'shape': (1,)}"),
        ("malformed .npy header",),
    ),
    "npy-magic-only": ("magic.npy", b"\x93NUMPY", ("not a .npy array",)),
    "npz-empty": ("empty.npz", b"", ("not a .npy or .npz file", "empty file (0 bytes)")),
    "npz-garbage": ("junk.npz", b"garbage!!\n", ("not a .npy or .npz file", "b'garbag'")),
    "npz-broken-zip": ("broken.npz", b"PK\x03\x04 broken zip", ("malformed .npz", "zip of .npy")),
    "npz-member-huge": (
        "m.npz",
        _npz({"X.npy": _npy((10**9, 10**9), payload=b"\0" * 8)}),
        ("(array 'X')", "declares shape (1000000000, 1000000000)"),
    ),
    "npz-member-object": (
        "o.npz",
        _npz({"X.npy": _saved(np.array([None], dtype=object), allow_pickle=True)}),
        ("object array",),
    ),
    "npz-missing-key": ("k.npz", _npz({"A.npy": _saved(np.zeros(2))}), ("no array 'X'", "['A']")),
    "npz-deflate-truncated": (
        "t.npz",
        _npz({"X.npy": _saved(np.zeros(1000))}, zipfile.ZIP_DEFLATED)[:-60],
        ("malformed .npz",),
    ),
}


@pytest.mark.parametrize("case", ARRAY_FILE_CASES, ids=list(ARRAY_FILE_CASES))
def test_array_files_refused(tmp_path, case):
    name, raw, needles = ARRAY_FILE_CASES[case]
    p = tmp_path / name
    p.write_bytes(raw)
    refused(lambda: load_array_file(p, y_key=None), InputError, str(p), *needles)


def test_npy_within_the_file_but_above_the_memory_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "0.001")  # 1 MiB
    np.save(tmp_path / "two-mib.npy", np.zeros(2**18))
    refused(
        lambda: load_array_file(tmp_path / "two-mib.npy"),
        InputError,
        "needs 2.0 MiB",
        "limit of 1.0 MiB (LMECH_MEMORY_LIMIT_GB=0.001)",
        "raise the limit",
    )


def test_bad_memory_limit_variable(monkeypatch):
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "lots")
    refused(lambda: gram(RBF(), X5), InputError, "LMECH_MEMORY_LIMIT_GB", "'lots'")


def test_missing_array_files(tmp_path):
    refused(
        lambda: load_array_file(tmp_path / "absent.npz"), DataUnavailableError, "does not exist"
    )
    refused(lambda: array_file_keys(tmp_path / "absent.npy"), DataUnavailableError, "absent.npy")
    refused(lambda: load_array_file(tmp_path), InputError, "not a regular file")
    refused(lambda: load_array_file("bad\0name.npy"), InputError, "not a usable path")
    refused(lambda: load_array_file(42), InputError, "str or os.PathLike", "int")


def test_npy_and_npz_that_are_fine_still_load(tmp_path):
    X = np.arange(12.0).reshape(3, 4)
    np.save(tmp_path / "f.npy", np.asfortranarray(X))
    np.testing.assert_array_equal(load_array_file(tmp_path / "f.npy")[0], X)
    np.savez_compressed(tmp_path / "c.npz", X=X, y=np.arange(3))
    Xo, yo = load_array_file(tmp_path / "c.npz")
    np.testing.assert_array_equal(Xo, X)
    np.testing.assert_array_equal(yo, [0, 1, 2])
    assert array_file_keys(tmp_path / "c.npz") == ["X", "y"]
    Xo[0, 0] = -1.0  # writable, like np.load's arrays


# ---------------------------------------------------------------------- IDX and text


def _idx(code: int, shape, payload=b"", gz=False) -> bytes:
    raw = bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload
    return gzip.compress(raw) if gz else raw


IDX_CASES = {
    "idx-huge-header": (_idx(0x08, (2**32 - 1,) * 3, b"\0" * 16), ("truncated IDX payload", "16")),
    "idx-huge-header-gz": (
        _idx(0x08, (2**32 - 1,) * 3, b"\0" * 16, gz=True),
        ("IDX array of shape", "limit of 2.0 GiB"),
    ),
    "idx-255-dims": (_idx(0x08, (1,) * 255)[:100], ("truncated IDX header", "255 dimensions")),
    "idx-bad-type": (_idx(0x07, (2,), b"\0\0"), ("unknown IDX type byte 0x07",)),
    "idx-bad-magic": (b"\x01\x02\x08\x01" + b"\0" * 8, ("bad IDX magic number",)),
    "idx-trailing": (_idx(0x08, (2,), b"\0" * 3), ("trailing bytes", "file has 3")),
    "idx-gz-corrupt": (gzip.compress(_idx(0x08, (64,), b"\0" * 64))[:-12], ("gzip stream",)),
    "idx-gz-trailing": (_idx(0x08, (2,), b"\0" * 5, gz=True), ("trailing bytes", "or more")),
}


@pytest.mark.parametrize("case", IDX_CASES, ids=list(IDX_CASES))
def test_idx_refused(tmp_path, case):
    raw, needles = IDX_CASES[case]
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(raw)
    refused(lambda: read_idx(p), InputError, str(p), *needles)


def test_fashion_mnist_with_forged_idx(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx(0x08, (2**31, 28, 28), b"\0" * 784))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx(0x08, (1,), b"\0"))
    refused(lambda: load_fashion_mnist("test", root=tmp_path), InputError, "truncated IDX payload")
    refused(
        lambda: load_fashion_mnist("val", root=tmp_path), InputError, "'train' or 'test'", "val"
    )


TEXT_CASES = {
    "latin1": ({}, "caf\xe9".encode("latin-1"), ("not valid UTF-8", "0xe9")),
    "max-vocab-str": ({"max_vocab": "10"}, b"a b", ("positive integer", "'10'")),
    "min-count-float": ({"min_count": 1.5}, b"a b", ("integer >= 1", "1.5")),
    "unknown-int": ({"unknown": 0}, b"a b", ("str or None", "int")),
    "memory": ({}, b"word " * 50_000, ("tokenizing this text file", "LMECH_MEMORY_LIMIT_GB")),
}


@pytest.mark.parametrize("case", TEXT_CASES, ids=list(TEXT_CASES))
def test_text_refused(tmp_path, monkeypatch, case):
    kwargs, raw, needles = TEXT_CASES[case]
    if case == "memory":
        monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "0.001")
    p = tmp_path / "corpus.txt"
    p.write_bytes(raw)
    refused(lambda: read_text_tokens(p, **kwargs), InputError, *needles)


# --------------------------------------------------------------------- lmech predict


def _cli(argv, capsys):
    from lmech.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder holding good input files, made the current directory (the default
    figure would land here)."""
    X, y = _gauss(300, 4)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "Xc.npy", X + 1j)
    np.save(tmp_path / "obj.npy", np.array([None] * 3, dtype=object), allow_pickle=True)
    (tmp_path / "huge.npy").write_bytes(_npy((10**12, 10**6), payload=b"\0" * 64))
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "garbage.npz").write_bytes(b"garbage!!")
    (tmp_path / "strings.csv").write_text("a,b,label\n1,x,0\n2,y,1\n3,z,0\n")
    (tmp_path / "forged.csv").write_bytes(b"a,b\n\xff\xfe,1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "y.txt").write_text("\n".join(map(str, y)))
    monkeypatch.chdir(tmp_path)
    return tmp_path


BASE = ["predict", "--data", "d.npz", "--target", "y", "--modes", "20"]

CLI_CASES = {
    "figure-missing-dir": (["--figure", "nodir/f.png"], ("directory 'nodir' does not exist",)),
    "figure-jpg": (["--figure", "f.jpg"], ("must end in .png, .svg, .pdf", "'f.jpg'")),
    "figure-no-extension": (["--figure", "figure"], ("(no extension)", "'figure'")),
    "figure-is-directory": (["--figure", "dir.png"], ("'dir.png' is a directory",)),
    "figure-directory": (["--figure", "sub"], ("(no extension)",)),
    "figure-unwritable": (["--figure", "/proc/f.png"], ("cannot write in '/proc'",)),
    "kernel-1e-300": (["--kernel", "gaussian:bandwidth=1e-300"], ("[1e-100, 1e+100]", "1e-300")),
    "kernel-nan": (["--kernel", "rbf:bandwidth=nan"], ("positive finite", "nan")),
    "kernel-unknown": (["--kernel", "rbff"], ("unknown kernel 'rbff'",)),
    "kernel-typo": (["--kernel", "rbf:bw=2"], ("unknown option 'bw'",)),
    "n-1e300": (["--n", "1e300"], ("--n must be at most", "1e+300")),
    "n-negative": (["--n", "10,-5"], ("--n must be > 0", "-5")),
    "n-fraction": (["--n", "10.5"], ("--n must contain integers", "10.5")),
    "n-text": (["--n", "ten"], ("--n expects comma-separated numbers", "'ten'")),
    "n-empty": (["--n", ","], ("at least one number",)),
    "ridge-nan": (["--ridge", "nan"], ("--ridge expects finite", "nan")),
    "ridge-negative": (["--ridge", "-1"], ("[0, 1e300]", "-1.0")),
    "modes-zero": (["--modes", "0"], ("--modes must be >= 1", "0")),
    "data-empty-npz": (["--data", "empty.npz"], ("not a .npy or .npz file", "0 bytes")),
    "data-garbage-npz": (["--data", "garbage.npz"], ("not a .npy or .npz file", "b'garbag'")),
    "data-missing-npz": (["--data", "missing.npz"], ("missing.npz does not exist",)),
    "data-huge-header": (
        ["--data", "huge.npy", "--target", "y.txt"],
        ("declares shape (1000000000000, 1000000)", "holds 64"),
    ),
    "data-complex": (["--data", "Xc.npy", "--target", "y.txt"], ("X must be real", "complex")),
    "data-object": (["--data", "obj.npy", "--target", "y.txt"], ("object array",)),
    "data-string-columns": (
        ["--data", "strings.csv", "--target", "label"],
        ("real numbers", "['b']"),
    ),
    "data-bad-utf8-csv": (
        ["--data", "forged.csv", "--target", "b"],
        ("could not read it as .csv",),
    ),
    "target-unknown": (["--target", "label"], ("neither a column/key", "X, y")),
    "control-valid": (
        ["--data", "X.npy", "--target", "y.txt", "--n", "10"],
        None,  # not hostile: the fixture's files are good (exit 0)
    ),
}


@pytest.mark.parametrize("case", CLI_CASES, ids=list(CLI_CASES))
def test_predict_cli_refuses(workdir, capsys, case):
    extra, needles = CLI_CASES[case]
    argv = list(BASE)
    for i in range(0, len(extra), 2):  # an option given twice: the case's value wins
        if extra[i] in argv:
            j = argv.index(extra[i])
            argv[j : j + 2] = []
        argv += extra[i : i + 2]
    before = sorted(os.listdir(workdir))
    code, out, err = _cli(argv, capsys)
    if needles is None:
        assert code == 0, err
        return
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err + out
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert sorted(os.listdir(workdir)) == before  # no figure, no temporary left behind
    assert not any(Path(workdir, "sub").iterdir()) and not any(Path(workdir, "dir.png").iterdir())


def test_predict_cli_writes_the_figure_atomically(workdir, capsys):
    code, out, err = _cli([*BASE, "--n", "10,50", "--figure", "sub/curve.pdf"], capsys)
    assert code == 0, err
    assert [p.name for p in (workdir / "sub").iterdir()] == ["curve.pdf"]
    assert (workdir / "sub" / "curve.pdf").read_bytes().startswith(b"%PDF")


def test_load_xy_refuses(workdir):
    refused(lambda: load_xy("empty.npz", "y"), InputError, "0 bytes")
    refused(lambda: load_xy("garbage.npz", "y"), InputError, "b'garbag'")
    refused(lambda: load_xy("missing.npz", "y"), DataUnavailableError, "does not exist")
    refused(lambda: load_xy("d.npz", "bad\0target"), InputError, "neither a column/key")
    refused(lambda: load_xy("missing.csv", "y"), DataUnavailableError, "does not exist")


def test_config_error_is_what_the_cli_options_raise(workdir, capsys):
    # option problems are ConfigError; file and data problems InputError: both exit 2
    from lmech.predict_cli import _parse_ridges, _parse_sizes

    refused(lambda: _parse_sizes("0"), ConfigError, "--n must be > 0")
    refused(lambda: _parse_ridges("inf"), ConfigError, "--ridge", "inf")

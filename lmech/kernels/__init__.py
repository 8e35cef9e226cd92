"""Kernels k(x, x'), chunked Gram matrices, the KRR engine and the empirical NTK."""

from lmech.kernels import stax  # noqa: E402  (the layer algebra: lmech.kernels.stax)
from lmech.kernels.base import RBF, Kernel, Laplace, Linear, Polynomial, gram, parse_kernel
from lmech.kernels.infinite import NNGP, NTK, Activation

__all__ = [
    "RBF",
    "NNGP",
    "NTK",
    "Activation",
    "Kernel",
    "Laplace",
    "Linear",
    "Polynomial",
    "gram",
    "parse_kernel",
    "stax",
]

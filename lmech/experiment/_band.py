r"""Symmetric dense-to-band reduction K = Q B Q^T, in place and all BLAS-3, for many ridges.

Kernel ridge regression on a grid of ridges needs :math:`(K + \delta I)^{-1} y` for every
:math:`\delta`. An orthogonal similarity K = Q B Q^T with B banded (half-bandwidth b)
serves all of them, because the shift commutes with it:

.. math::

    (K + \delta I)^{-1} y = Q\,(B + \delta I)^{-1} Q^\top y ,

and :math:`(B + \delta I)` is solved by a banded Cholesky factorization in O(n b^2).

The reduction is the first stage of a two-stage tridiagonalization (LAPACK's
``sytrd_sy2sb``; Bischof, Lang & Sun, ACM TOMS 26, 2000). Panel by panel of b columns: a
QR factorization of the panel below the band, compact-WY form H = I - V T V^T of its
reflectors (LAPACK ``geqrt``), and the two-sided update of the trailing matrix

.. math::

    A \leftarrow H^\top A H = A - V W^\top - W V^\top, \qquad
    X = A V T,\quad W = X - \tfrac12 V (T^\top V^\top X),

done as one ``symm`` and one ``syr2k`` on the lower triangle. That is 4n^3/3 flops, like
LAPACK's one-stage ``sytrd``, but all of them in matrix-matrix products: at n = 4000 on
the 2-core machine of benchmarks/README.md the reduction took 1.1-1.2 s against 2.8 s for
``sytrd``, whose half of matrix-vector products is bound by memory bandwidth.

The trailing updates run in place on a column-major buffer through the BLAS that SciPy
exports to Cython (:mod:`scipy.linalg.cython_blas`), called with a leading dimension: the
f2py wrappers in :mod:`scipy.linalg.blas` would copy every non-contiguous trailing block
(about 0.4 s of the 1.6 s at n = 4000). :func:`native_blas` checks those routines once
against numpy and returns None if they are missing or disagree; callers then take
another path.
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.linalg import get_blas_funcs, get_lapack_funcs

__all__ = ["BAND_WIDTH", "BandReduction", "band_reduce", "native_blas"]

# half-bandwidth b: at n = 4000 on 2 cores, b = 64 gave 1.29 s for the reduction plus 20
# banded solves, b = 128 1.33 s and b = 192 1.39 s (larger b: faster reduction, slower
# O(n b^2) solves); at n = 1511 b = 64 was 1.5x faster than b = 128
BAND_WIDTH = 64


@dataclass(frozen=True)
class _Blas:
    symm: ctypes._CFuncPtr
    syr2k: ctypes._CFuncPtr
    scalar: type  # ctypes.c_double or ctypes.c_float


# the C signature (the capsule's name) both routines must have: 32-bit BLAS integers and
# the real type T; anything else (an ILP64 build, say) is refused rather than called
_SIGNATURE = "void (char *, char *, int *, int *, T *, T *, int *, T *, int *, T *, T *, int *)"


def _capsule_function(module, name: str, argtypes: list, real: str) -> ctypes._CFuncPtr:
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    capsule = module.__pyx_capi__[name]
    signature = api.PyCapsule_GetName(capsule)
    # Cython names the real types __pyx_t_<module path>_d (double) and ..._s (float)
    generic = re.sub(rf"__pyx_t_\w+_{real}\b", "T", signature.decode())
    if generic != _SIGNATURE:
        raise TypeError(f"unexpected signature of {name}: {signature.decode()}")
    pointer = api.PyCapsule_GetPointer(capsule, signature)
    return ctypes.CFUNCTYPE(None, *argtypes)(pointer)


def _int(value: int):
    return ctypes.byref(ctypes.c_int(int(value)))


def _at(A: np.ndarray, row: int, col: int) -> int:
    """Address of A[row, col] in a column-major array."""
    return A.ctypes.data + A.itemsize * (row + col * (A.strides[1] // A.itemsize))


def _symm(blas: _Blas, A: np.ndarray, start: int, m: int, U: np.ndarray) -> np.ndarray:
    """X = sym(A[start:start+m, start:start+m]) @ U, reading the lower triangle of A
    (U column-major)."""
    ld = A.strides[1] // A.itemsize
    U = np.asfortranarray(U)  # raw pointers below: no-op for the column-major callers
    X = np.empty((m, U.shape[1]), dtype=A.dtype, order="F")
    one, zero = ctypes.byref(blas.scalar(1.0)), ctypes.byref(blas.scalar(0.0))
    blas.symm(b"L", b"L", _int(m), _int(U.shape[1]), one, _at(A, start, start), _int(ld),
              U.ctypes.data, _int(m), zero, X.ctypes.data, _int(m))  # fmt: skip
    return X


def _syr2k(blas: _Blas, A: np.ndarray, start: int, V: np.ndarray, W: np.ndarray) -> None:
    """Lower triangle of A[start:, start:] -= V W^T + W V^T, in place (V, W column-major)."""
    ld = A.strides[1] // A.itemsize
    V, W = np.asfortranarray(V), np.asfortranarray(W)  # raw pointers below
    m, k = V.shape
    minus, one = ctypes.byref(blas.scalar(-1.0)), ctypes.byref(blas.scalar(1.0))
    blas.syr2k(b"L", b"N", _int(m), _int(k), minus, V.ctypes.data, _int(m), W.ctypes.data,
               _int(m), one, _at(A, start, start), _int(ld))  # fmt: skip


def _apply_block(V: np.ndarray, T: np.ndarray, Y: np.ndarray, transpose: bool) -> None:
    """Y <- (I - V T V^T) Y, or with T^T when ``transpose``; in place."""
    gemm = get_blas_funcs("gemm", (V,))
    M = gemm(1.0, T, gemm(1.0, V, Y, trans_a=1), trans_a=int(transpose))
    Y -= gemm(1.0, V, M)


@cache
def native_blas(dtype: np.dtype) -> _Blas | None:
    """SciPy's Cython-exported ``symm`` and ``syr2k`` for float32/float64, checked once
    against numpy on a small problem; None where they are unavailable or disagree."""
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        return None
    try:
        import scipy.linalg.cython_blas as cython_blas

        prefix, scalar = ("d", ctypes.c_double) if dtype == np.float64 else ("s", ctypes.c_float)
        c, i, p, s = ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_void_p, ctypes.c_void_p
        blas = _Blas(
            symm=_capsule_function(cython_blas, prefix + "symm", [c, c, i, i, s, p, i, p, i, s, p, i], prefix),
            syr2k=_capsule_function(cython_blas, prefix + "syr2k", [c, c, i, i, s, p, i, p, i, s, p, i], prefix),
            scalar=scalar,
        )  # fmt: skip
        rng = np.random.default_rng(0)
        S = rng.standard_normal((7, 7)).astype(dtype)
        S = np.asfortranarray(S + S.T)
        U, V, W = (np.asfortranarray(rng.standard_normal((5, 3)).astype(dtype)) for _ in range(3))
        expected_x = S[2:, 2:] @ U
        expected_s = S[2:, 2:] - V @ W.T - W @ V.T
        X = _symm(blas, S, 2, 5, U)
        _syr2k(blas, S, 2, V, W)
        tol = 1e-4 if dtype == np.float32 else 1e-12
        ok = np.allclose(X, expected_x, atol=tol)
        ok &= np.allclose(np.tril(S[2:, 2:]), np.tril(expected_s), atol=tol)
        return blas if ok else None
    except Exception:  # no (LP64) Cython BLAS capsules in this SciPy build: callers fall back
        return None


@dataclass(frozen=True)
class BandReduction:
    """K = Q B Q^T with B symmetric banded, Q a product of block reflectors.

    Attributes:
        band: (b + 1, n) lower band storage of B (LAPACK ``pb`` layout: band[i, j] = B[j+i, j]).
        blocks: ``(start, V, T)`` per panel: the block reflector I - V T V^T acting on
            rows start..n-1, with V (n - start, k) unit lower trapezoidal.
    """

    band: np.ndarray
    blocks: list[tuple[int, np.ndarray, np.ndarray]]

    def apply_qt(self, Y: np.ndarray) -> np.ndarray:
        """Q^T Y for Y of shape (n, k) (a new array)."""
        Y = np.array(Y, dtype=self.band.dtype, order="F")
        for start, V, T in self.blocks:
            _apply_block(V, T, Y[start:], transpose=True)
        return Y

    def apply_q(self, Z: np.ndarray) -> np.ndarray:
        """Q Z for Z of shape (n, k), in place; returns Z."""
        for start, V, T in reversed(self.blocks):
            _apply_block(V, T, Z[start:], transpose=False)
        return Z

    def solve_shifted(self, C: np.ndarray, delta: float) -> np.ndarray | None:
        """(B + delta I)^{-1} C by banded Cholesky; None when B + delta I is not
        numerically positive definite."""
        pbtrf, pbtrs = get_lapack_funcs(("pbtrf", "pbtrs"), (self.band,))
        shifted = self.band.copy(order="F")
        shifted[0] += delta
        factor, info = pbtrf(shifted, lower=1, overwrite_ab=1)
        if info != 0:
            return None
        X, info = pbtrs(factor, C, lower=1)
        return X if info == 0 else None


def band_reduce(A: np.ndarray, n: int, width: int = BAND_WIDTH) -> BandReduction | None:
    """Reduce the symmetric matrix in the lower triangle of A[:n, :n] to band form.

    A must be a column-major float32/float64 array (its leading dimension may exceed n);
    its lower triangle is overwritten. Returns None when the native BLAS is unavailable.
    """
    blas = native_blas(A.dtype)
    if blas is None or A.strides[0] != A.itemsize or not A.dtype.isnative:
        return None
    b = max(1, min(width, n - 1))
    geqrt = get_lapack_funcs("geqrt", (A,))
    gemm = get_blas_funcs("gemm", (A,))
    band = np.zeros((b + 1, n), dtype=A.dtype, order="F")
    cols = np.arange(b)
    rows = cols[None, :] + np.arange(b + 1)[:, None]  # band[i, l] = block[l + i, l]
    blocks = []
    j = 0
    while n - j - b >= 2:  # otherwise the trailing matrix already lies within the band
        m = n - j - b
        k = min(b, m)
        qr, T, info = geqrt(k, A[j + b : n, j : j + b])  # column-major outputs
        if info != 0:
            return None
        V = np.array(qr[:, :k], order="F")  # (m, k) unit lower trapezoidal, column-major
        V[np.triu_indices(k, 1)] = 0.0
        V[cols[:k], cols[:k]] = 1.0
        T = np.asfortranarray(T[:k, :k])
        block = np.zeros((2 * b + 1, b), dtype=A.dtype)
        block[:b] = A[j : j + b, j : j + b]
        block[b : b + k] = np.triu(qr[:k])  # R: the band's sub-diagonal block
        band[:, j : j + b] = block[rows, cols[None, :]]
        # every product through SciPy's BLAS: numpy's bundled OpenBLAS is a second thread
        # pool, and alternating between the two made this loop 2-3x slower (see module doc)
        X = _symm(blas, A, j + b, m, gemm(1.0, V, T))  # A V T
        M = gemm(1.0, T, gemm(1.0, V, X, trans_a=1), trans_a=1)  # T^T V^T X
        W = gemm(-0.5, V, M, beta=1.0, c=X, overwrite_c=1)  # X - V M / 2
        _syr2k(blas, A, j + b, V, W)
        blocks.append((j + b, V, T))
        j += b
    for offset in range(n - j):  # the last diagonal block
        band[: n - j - offset, j + offset] = A[j + offset : n, j + offset]
    return BandReduction(band, blocks)

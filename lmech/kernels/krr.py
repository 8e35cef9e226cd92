r"""Kernel ridge regression learning curves: one eigendecomposition per (n, trial).

For a training set of size n with Gram matrix K = U diag(s) U^T and labels y, the KRR
predictor with explicit ridge delta (scikit-learn's ``alpha``; K is the raw n x n Gram,
not divided by n) is

.. math::

    \hat f(x) = k(x, X)\, c_\delta, \qquad
    c_\delta = (K + \delta I)^{-1} y = U \,\mathrm{diag}\!\left(\frac{1}{s + \delta}\right) U^\top y .

One eigendecomposition of K serves every ridge: the coefficient matrix
C = U (b / (s + delta)) with b = U^T y costs O(n^2 R) for R ridges, and test predictions
are K_te C (on CPU the same holds with the tridiagonal reduction K = Q T Q^T in place of
the eigendecomposition, see :func:`ridge_path`). Training sets of the sizes in a learning curve are nested prefixes of one
random draw per trial, so one Gram matrix per trial serves every size.

References:
    Simon et al., "The Eigenlearning Framework", TMLR 2023 (arXiv 2110.03922), Sec. 2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from lmech._validate import as_positive_sizes, as_ridges
from lmech.errors import InputError
from lmech.kernels.base import Kernel, gram
from lmech.progress import task as progress_task

__all__ = ["TrialData", "ridge_path", "krr_learning_curve", "eigh"]


@dataclass(frozen=True)
class TrialData:
    """One trial's draw: n_max training points (prefixes give the smaller sizes) and a test set.

    ``y_test`` holds the targets the test error is measured against (clean targets when
    the caller adds the label-noise variance analytically; see the laws' docstrings).
    """

    X_train: torch.Tensor  # (n_max, d)
    y_train: torch.Tensor  # (n_max,) or (n_max, k)
    X_test: torch.Tensor  # (m, d)
    y_test: torch.Tensor  # (m,) or (m, k)


def eigh(K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric eigendecomposition; LAPACK ``syevd`` through SciPy on CPU, torch elsewhere.

    On 2 CPU cores, n = 4000, float64: SciPy 1.17's ``evd`` driver (OpenBLAS) took
    5.4-6.5 s against 8.3-8.6 s for ``torch.linalg.eigh`` (torch 2.13, MKL), measured
    side by side in one process (issue 2 note).
    """
    if K.device.type == "cpu":
        import scipy.linalg

        s, U = scipy.linalg.eigh(K.numpy(), driver="evd", check_finite=False)
        return torch.from_numpy(s), torch.from_numpy(U)
    return torch.linalg.eigh(K)


def _ridge_path_eigh(K, Y, ridges, K_test):
    s, U = eigh(K)
    b = U.T @ Y  # (n, k) eigen-coefficients of y
    denom = s[None, :] + ridges[:, None]  # (R, n)
    floor = K.shape[0] * torch.finfo(K.dtype).eps * s.abs().max()
    inv = torch.where(denom > floor, 1.0 / denom, torch.zeros_like(denom))
    coef = torch.einsum("ij,rjk->rik", U, inv[:, :, None] * b[None])  # (R, n, k) c_delta
    train = torch.einsum("ij,rjk->rik", U, (s[None, :] * inv)[:, :, None] * b[None])
    test = None if K_test is None else torch.einsum("mj,rjk->rmk", K_test, coef)
    return train, test


def _ridge_path_tridiagonal(K, Y, ridges, K_test):
    """CPU path: K = Q T Q^T (LAPACK sytrd) once, then (T + delta I) z = Q^T y per ridge
    (ptsv, O(n)); c_delta = Q z. Returns None when a ridge is too small for T + delta I
    to be numerically positive definite (the caller then uses the eigendecomposition)."""
    import numpy as np
    from scipy.linalg import get_lapack_funcs

    Kn = np.asfortranarray(K.numpy())  # a copy: sytrd overwrites it
    Yn = Y.numpy()
    n, k = Yn.shape
    sytrd, sytrd_lwork, ormqr, ptsv = get_lapack_funcs(
        ("sytrd", "sytrd_lwork", "ormqr", "ptsv"), (Kn,)
    )
    lwork = int(sytrd_lwork(n, lower=1)[0])
    A, d, e, tau, info = sytrd(Kn, lower=1, lwork=lwork, overwrite_a=1)
    deltas = ridges.numpy()
    floor = n * np.finfo(Kn.dtype).eps * (np.abs(d).max() + 2 * np.abs(e).max(initial=0.0))
    if info != 0 or deltas.min() <= floor:
        return None
    V, tv = A[1:, : n - 1], tau[: n - 1]  # Householder reflectors of Q (LAPACK ormtr, lower)
    b = Yn.copy()  # Q^T y: Q acts on rows 1..n-1
    if n > 1:
        b[1:] = ormqr("L", "T", V, tv, np.asfortranarray(Yn[1:]), lwork=64 * max(n, k))[0]
    Z = np.empty((n, deltas.size * k), dtype=Kn.dtype)
    for r, delta in enumerate(deltas):
        *_, z, info = ptsv(d + delta, e, b)
        if info != 0:
            return None
        Z[:, r * k : (r + 1) * k] = z
    if n > 1:
        Z[1:] = ormqr("L", "N", V, tv, np.asfortranarray(Z[1:]), lwork=64 * max(n, Z.shape[1]))[0]
    coef = torch.from_numpy(Z.reshape(n, deltas.size, k).transpose(1, 0, 2).copy())  # (R, n, k)
    train = Y[None] - ridges[:, None, None] * coef  # K c = y - delta c exactly
    test = None if K_test is None else torch.einsum("mj,rjk->rmk", K_test, coef)
    return train, test


# with at most this many ridges, one Cholesky factorization per ridge (n^3/3 flops, BLAS-3)
# beats the shared tridiagonal reduction (4n^3/3, half BLAS-2): at n = 4000 on 2 cores one
# Cholesky took 0.4-0.6 s against 2.8-2.9 s for sytrd
CHOLESKY_MAX_RIDGES = 3


def _ridge_path_cholesky(K, Y, ridges, K_test):
    """c_delta = (K + delta I)^{-1} y by Cholesky, per ridge (any device). None when a
    shifted matrix is not numerically positive definite (the caller falls back)."""
    n = K.shape[0]
    floor = n * torch.finfo(K.dtype).eps * K.diagonal().abs().max()
    if ridges.min() <= floor:
        return None
    coefs = []
    eye = torch.eye(n, dtype=K.dtype, device=K.device)
    for delta in ridges.tolist():
        L, info = torch.linalg.cholesky_ex(K + delta * eye)
        if int(info) != 0:
            return None
        coefs.append(torch.cholesky_solve(Y, L))
    coef = torch.stack(coefs)  # (R, n, k)
    train = Y[None] - ridges[:, None, None] * coef  # K c = y - delta c exactly
    test = None if K_test is None else torch.einsum("mj,rjk->rmk", K_test, coef)
    return train, test


def ridge_path(
    K: torch.Tensor, y: torch.Tensor, ridges: torch.Tensor, K_test: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    r"""Train (and test) predictions of KRR for every ridge from one factorization of K.

    Train predictions are K c_delta, test predictions K_test c_delta, with
    c_delta = (K + delta I)^{-1} y. On CUDA (and on CPU when a ridge is ~0) the factorization
    is the eigendecomposition K = U diag(s) U^T, c_delta = U diag(1/(s + delta)) U^T y, where
    eigenvalues with s + delta <= n eps max(s) are treated as zero (pseudo-inverse, which only
    matters at delta = 0 on a singular Gram matrix). On CPU with every ridge above that floor
    it is the tridiagonal reduction K = Q T Q^T (LAPACK ``sytrd``, the first stage of an
    eigendecomposition, 2.3x cheaper at n = 4000), c_delta = Q (T + delta I)^{-1} Q^T y with
    one O(n) tridiagonal solve per ridge; both agree to ~1e-13 (tests/kernels/test_krr.py).
    With at most ``CHOLESKY_MAX_RIDGES`` ridges (all above that floor) each ridge gets its
    own Cholesky factorization instead, on any device (fewer flops, all BLAS-3).

    Args:
        K: (n, n) training Gram matrix.
        y: (n,) or (n, k) training targets.
        ridges: (R,) explicit ridges delta >= 0.
        K_test: optional (m, n) test-train Gram matrix.

    Returns:
        train predictions (R, n, k) and test predictions (R, m, k) or None.
    """
    Y = y.reshape(y.shape[0], -1)  # (n, k)
    if ridges.numel() <= CHOLESKY_MAX_RIDGES:
        out = _ridge_path_cholesky(K, Y.to(K.dtype), ridges.to(K.dtype), K_test)
        if out is not None:
            return out
    if K.device.type == "cpu" and K.dtype in (torch.float32, torch.float64):
        out = _ridge_path_tridiagonal(K, Y.to(K.dtype), ridges.to(K.dtype), K_test)
        if out is not None:
            return out
    return _ridge_path_eigh(K, Y, ridges, K_test)


def krr_learning_curve(
    kernel: Kernel,
    sample: Callable[[int, int], TrialData],
    sizes: Sequence[int],
    ridges: Sequence[float],
    trials: int | Sequence[int],
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Measured KRR learning curves over a grid of sizes x ridges x trials.

    Args:
        kernel: any object with ``block(X, Z)`` (see :mod:`lmech.kernels.base`).
        sample: ``sample(trial, n_max) -> TrialData``; must be deterministic in ``trial``
            (seed it from the trial index) and return at least ``n_max`` training points.
        sizes: training-set sizes (positive integers).
        ridges: explicit ridges delta >= 0 (on the raw Gram matrix).
        trials: number of trials, or one number per size (e.g. more trials at small n,
            where the spread across training sets is largest). Trial t uses the sizes whose
            trial count exceeds t.
        device, dtype: where and in what precision the linear algebra runs.
        progress: optional extra callback, called with the number of (n, trial)
            factorizations just finished (the engine also reports them to
            :mod:`lmech.progress`, which drives the CLI's progress bar).

    Returns:
        A tidy table, one row per (trial, n, ridge): ``trial``, ``n``, ``ridge``,
        ``test_mse`` and ``train_mse`` (mean squared error over points and outputs).
    """
    n_grid = as_positive_sizes(sizes, "sizes")  # sorted, unique
    requested = np.atleast_1d(np.asarray(sizes))
    if n_grid.size != requested.size:
        raise InputError(f"sizes must be distinct; got {requested.tolist()}")
    deltas = as_ridges(ridges, "ridges")
    if isinstance(trials, (int, np.integer)) and not isinstance(trials, bool):
        per_size = np.full(n_grid.size, int(trials))
    else:
        raw = np.asarray(trials)
        if raw.shape != requested.shape:
            raise InputError(
                f"trials must be an int or one count per size ({requested.size}); got {trials!r}"
            )
        per_size = raw[np.argsort(requested)].astype(np.int64)  # aligned with sorted n_grid
    if np.any(per_size < 1):
        raise InputError(f"trials must be >= 1; got {per_size.tolist()}")
    dev = torch.device(device)
    ridge_t = torch.as_tensor(deltas, dtype=dtype, device=dev)
    rows = []
    with progress_task("KRR (n, trial) factorizations", int(per_size.sum())) as advance:
        for t in range(int(per_size.max())):
            active = n_grid[per_size > t]
            data = sample(t, int(active.max()))
            X = data.X_train.to(dev, dtype)
            Y = data.y_train.to(dev, dtype).reshape(X.shape[0], -1)
            Xs = data.X_test.to(dev, dtype)
            Ys = data.y_test.to(dev, dtype).reshape(Xs.shape[0], -1)
            if X.shape[0] < active.max():
                raise InputError(
                    f"sample({t}, {int(active.max())}) returned only {X.shape[0]} training points"
                )
            n_max = int(active.max())
            K_all = gram(kernel, X[:n_max])  # (n_max, n_max): prefixes give every size
            K_test_all = gram(kernel, Xs, X[:n_max])  # (m, n_max)
            for n in active:
                n = int(n)
                train, test = ridge_path(K_all[:n, :n], Y[:n], ridge_t, K_test_all[:, :n])
                train_mse = ((train - Y[None, :n]) ** 2).mean(dim=(1, 2)).cpu().numpy()
                test_mse = ((test - Ys[None]) ** 2).mean(dim=(1, 2)).cpu().numpy()
                for r, delta in enumerate(deltas):
                    rows.append((t, n, float(delta), float(test_mse[r]), float(train_mse[r])))
                advance(1)
                if progress is not None:
                    progress(1)
    return pd.DataFrame(rows, columns=["trial", "n", "ridge", "test_mse", "train_mse"])

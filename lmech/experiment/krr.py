r"""Kernel ridge regression learning curves: one factorization per (n, trial).

For a training set of size n with Gram matrix K = U diag(s) U^T and labels y, the KRR
predictor with explicit ridge delta (scikit-learn's ``alpha``; K is the raw n x n Gram,
not divided by n) is

.. math::

    \hat f(x) = k(x, X)\, c_\delta, \qquad
    c_\delta = (K + \delta I)^{-1} y = U \,\mathrm{diag}\!\left(\frac{1}{s + \delta}\right) U^\top y .

One eigendecomposition of K serves every ridge: the coefficient matrix
C = U (b / (s + delta)) with b = U^T y costs O(n^2 R) for R ridges, and test predictions
are K_te C (on CPU the same holds with an orthogonal reduction to band form K = Q B Q^T in
place of the eigendecomposition, see :func:`ridge_path`). Training sets of the sizes in a
learning curve are nested prefixes of one random draw per trial, so one Gram matrix per
trial serves every size.

References:
    Simon et al., "The Eigenlearning Framework", TMLR 2023 (arXiv 2110.03922), Sec. 2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from lmech._memory import check_allocation
from lmech._validate import as_positive_int, as_positive_sizes, as_ridges, show_number
from lmech.errors import DeviceError, InputError
from lmech.experiment._band import band_reduce
from lmech.kernels.base import Kernel, gram
from lmech.progress import task as progress_task
from lmech.spectra.empirical import eigh

__all__ = ["TrialData", "ridge_path", "krr_learning_curve"]


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


def _ridge_path_band(K, Y, ridges, K_test, workspace=None, overwrite_k=False):
    """CPU path: K = Q B Q^T with B banded (:mod:`lmech.experiment._band`) once, then one
    banded Cholesky solve (B + delta I) z = Q^T y per ridge; c_delta = Q z. Returns None
    when a ridge is too small for K + delta I to be numerically positive definite or the
    native BLAS is unavailable (the caller then uses the eigendecomposition).

    The reduction needs an n x n scratch copy of K: ``workspace``, if given, is a flat
    buffer of at least n^2 elements of K's dtype to hold it (reused across calls: a fresh
    n x n array costs page faults, about 0.1 s at n = 4000 on the benchmark machine);
    ``overwrite_k=True`` reduces a contiguous K in place instead, destroying it."""
    n = K.shape[0]
    deltas = ridges.cpu().numpy()
    floor = n * torch.finfo(K.dtype).eps * float(K.diagonal().abs().max())
    if deltas.min() <= floor:
        return None
    dtype = K.numpy().dtype
    if overwrite_k and K.is_contiguous():
        A = K.numpy().T  # K is symmetric: its transpose is a column-major view of it
    else:
        if workspace is None or workspace.size < n * n or workspace.dtype != dtype:
            workspace = np.empty(n * n, dtype=dtype)
        A = workspace[: n * n].reshape((n, n), order="F")
        np.copyto(A, K.numpy().T)
    diagonal = A.diagonal().copy() if overwrite_k else None

    def give_up():  # the caller falls back to K itself: hand it back intact
        if overwrite_k:  # the reduction wrote only A's lower triangle and diagonal
            upper = np.triu(A, 1)
            A[...] = upper + upper.T
            A[np.diag_indices(n)] = diagonal

    reduction = band_reduce(A, n)
    if reduction is None:  # no native BLAS (A untouched) or a failed panel QR
        give_up()
        return None
    Yn = Y.numpy()
    k = Yn.shape[1]
    C = reduction.apply_qt(Yn)  # (n, k) Q^T y
    Z = np.empty((n, deltas.size * k), dtype=dtype)
    for r, delta in enumerate(deltas):
        z = reduction.solve_shifted(C, float(delta))
        if z is None:  # K + delta I is not numerically positive definite
            give_up()
            return None
        Z[:, r * k : (r + 1) * k] = z
    reduction.apply_q(Z)
    coef = torch.from_numpy(Z.reshape(n, deltas.size, k).transpose(1, 0, 2).copy())  # (R, n, k)
    train = Y[None] - ridges[:, None, None] * coef  # K c = y - delta c exactly
    test = None if K_test is None else torch.einsum("mj,rjk->rmk", K_test, coef)
    return train, test


# with at most this many ridges, one Cholesky factorization per ridge (n^3/3 flops, BLAS-3)
# beats the shared band reduction (4n^3/3 flops, also BLAS-3): at n = 4000 on 2 cores one
# Cholesky took 0.4-0.6 s against 1.1-1.2 s for the reduction
CHOLESKY_MAX_RIDGES = 2


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
    matters at delta = 0 on a singular Gram matrix). On CPU with every ridge above the floor
    n eps max(diag K) it is an orthogonal reduction to band form K = Q B Q^T (half-bandwidth
    64, all BLAS-3, :mod:`lmech.experiment._band`), c_delta = Q (B + delta I)^{-1} Q^T y with
    one banded Cholesky solve per ridge: at n = 4000 on 2 cores it costs 1.2-1.3 s for
    20 ridges against 5.4-6.5 s for the eigendecomposition; both agree to ~1e-12
    (tested against dense solves). With at most ``CHOLESKY_MAX_RIDGES`` ridges (all above that
    floor) each ridge gets its own Cholesky factorization instead, on any device.

    Args:
        K: (n, n) training Gram matrix.
        y: (n,) or (n, k) training targets.
        ridges: (R,) explicit ridges delta >= 0.
        K_test: optional (m, n) test-train Gram matrix.

    Returns:
        train predictions (R, n, k) and test predictions (R, m, k) or None.
    """
    return _ridge_path(K, y, ridges, K_test)


def _ridge_path(K, y, ridges, K_test, workspace=None, overwrite_k=False):
    Y = y.reshape(y.shape[0], -1)  # (n, k)
    if ridges.numel() <= CHOLESKY_MAX_RIDGES:
        out = _ridge_path_cholesky(K, Y.to(K.dtype), ridges.to(K.dtype), K_test)
        if out is not None:
            return out
    if K.device.type == "cpu" and K.dtype in (torch.float32, torch.float64):
        out = _ridge_path_band(K, Y.to(K.dtype), ridges.to(K.dtype), K_test, workspace, overwrite_k)
        if out is not None:
            return out
    return _ridge_path_eigh(K, Y, ridges, K_test)


#: Most trials per size: each is one factorization per size, so more never finishes.
MAX_TRIALS = 1_000_000


def _check_trial(data, t: int) -> TrialData:
    """What ``sample`` returned, checked once per trial (shapes agree, finite values)."""
    names = ("X_train", "y_train", "X_test", "y_test")
    if not all(isinstance(getattr(data, a, None), torch.Tensor) for a in names):
        raise InputError(
            f"sample({t}, n_max) must return a TrialData of four tensors; got {type(data).__name__}"
        )
    X, y, Xs, ys = (getattr(data, a) for a in names)
    if X.ndim != 2 or Xs.ndim != 2 or X.shape[1] != Xs.shape[1]:
        raise InputError(
            f"sample({t}, n_max): X_train and X_test must be 2-D with equal columns; got "
            f"{tuple(X.shape)} and {tuple(Xs.shape)}"
        )
    if y.shape[:1] != X.shape[:1] or ys.shape[:1] != Xs.shape[:1] or y.shape[1:] != ys.shape[1:]:
        raise InputError(
            f"sample({t}, n_max): targets must have one row per input and the same trailing "
            f"shape; got y_train {tuple(y.shape)} for X_train {tuple(X.shape)} and y_test "
            f"{tuple(ys.shape)} for X_test {tuple(Xs.shape)}"
        )
    for name, A in zip(names, (X, y, Xs, ys), strict=True):
        if A.is_complex() or not bool(torch.isfinite(A).all()):
            raise InputError(f"sample({t}, n_max): {name} must be real and finite")
    return data


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
    if not callable(getattr(kernel, "block", None)):
        raise InputError(
            f"kernel must have a block(X, Z) method (an lmech kernel); got {type(kernel).__name__}"
        )
    if not callable(sample):
        raise InputError(
            f"sample must be a callable sample(trial, n_max); got {type(sample).__name__}"
        )
    n_grid = as_positive_sizes(sizes, "sizes")  # sorted, unique
    requested = np.atleast_1d(np.asarray(sizes))
    if n_grid.size != requested.size:
        raise InputError(f"sizes must be distinct; got {requested.tolist()}")
    order = np.argsort(np.asarray(requested, dtype=np.float64), kind="stable")
    deltas = as_ridges(ridges, "ridges")
    if isinstance(trials, (int, np.integer)) and not isinstance(trials, bool):
        per_size = np.full(n_grid.size, as_positive_int(trials, "trials", maximum=MAX_TRIALS))
    else:
        try:
            raw = list(trials)
        except TypeError:
            raise InputError(
                f"trials must be an int or one count per size ({requested.size}); got "
                f"{type(trials).__name__}"
            ) from None
        if len(raw) != requested.size:
            raise InputError(
                f"trials must be an int or one count per size ({requested.size}); got "
                f"{len(raw)} counts"
            )
        counts = [as_positive_int(t, "trials", maximum=MAX_TRIALS) for t in raw]
        per_size = np.asarray(counts, dtype=np.int64)[order]  # aligned with sorted n_grid
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f"device must be 'cpu', 'cuda' or 'cuda:N'; got {device!r:.60}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {device!r} was asked for but CUDA is not available; use 'cpu'")
    if dtype not in (torch.float32, torch.float64):
        raise InputError(f"dtype must be torch.float32 or torch.float64; got {dtype!r:.60}")
    item = torch.empty(0, dtype=dtype).element_size()
    n_top = int(n_grid[-1])
    n_next = int(n_grid[-2]) if n_grid.size > 1 else 0
    # the largest Gram matrix, its factorization's working copy and eigenvectors (or the
    # Cholesky factor) and the band reduction's workspace; the test Gram is checked by gram
    check_allocation(
        item * (3 * n_top * n_top + n_next * n_next),
        f"KRR at n = {show_number(n_top)} ({n_top} x {n_top} Gram matrices)",
        "use smaller sizes",
        device=dev,
    )
    ridge_t = torch.as_tensor(deltas, dtype=dtype, device=dev)
    rows = []
    # the CPU band reduction (see _ridge_path_band) works in one reusable buffer for every
    # size but a trial's largest, which it reduces in the trial's own Gram matrix
    workspace = None
    if dev.type == "cpu" and dtype in (torch.float32, torch.float64) and n_grid.size > 1:
        np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
        workspace = np.empty(int(n_grid[-2]) ** 2, dtype=np_dtype)
    with progress_task("KRR (n, trial) factorizations", int(per_size.sum())) as advance:
        for t in range(int(per_size.max())):
            active = n_grid[per_size > t]
            data = _check_trial(sample(t, int(active.max())), t)
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
                last = n == n_max  # K_all is not needed after its last size
                train, test = _ridge_path(
                    K_all[:n, :n], Y[:n], ridge_t, K_test_all[:, :n], workspace, last
                )
                train_mse = ((train - Y[None, :n]) ** 2).mean(dim=(1, 2)).cpu().numpy()
                test_mse = ((test - Ys[None]) ** 2).mean(dim=(1, 2)).cpu().numpy()
                for r, delta in enumerate(deltas):
                    rows.append((t, n, float(delta), float(test_mse[r]), float(train_mse[r])))
                advance(1)
                if progress is not None:
                    progress(1)
    return pd.DataFrame(rows, columns=["trial", "n", "ridge", "test_mse", "train_mse"])

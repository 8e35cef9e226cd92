"""Exact k-nearest-neighbour distances in float64 torch, in row blocks (no n x n matrix).

Candidates come from |b|^2 - 2 a.b (the squared distance less |a|^2) block by block
(``block`` query rows against all n points); the k chosen distances are then recomputed
as |x_i - x_j| directly, so round-off of the expansion never reaches the estimates.
"""

from __future__ import annotations

import torch

from lmech._memory import check_allocation
from lmech.errors import InputError

__all__ = ["knn_distances", "drop_duplicates"]

_BLOCK_BYTES = 64 * 2**20  # one block of squared distances: at most 64 MiB


def drop_duplicates(X: torch.Tensor) -> torch.Tensor:
    """The distinct rows of X (order not kept)."""
    return torch.unique(X, dim=0)


def knn_distances(X: torch.Tensor, k: int, *, duplicates: str = "raise") -> torch.Tensor:
    """(n, k) sorted distances from each row of X to its k nearest other rows.

    Args:
        X: (n, D) float64 tensor, already validated.
        k: neighbours per point, 1 <= k <= n - 1.
        duplicates: ``"raise"``: an InputError when some point has another at distance
            0 (the ratio estimators divide by r_1); ``"keep"``: return the zeros.

    Raises:
        InputError: k >= n, or duplicate points with ``duplicates="raise"``.
    """
    n, D = X.shape
    if k >= n:
        raise InputError(
            f"{k} nearest neighbours need at least {k + 1} points; got n = {n}; "
            f"use fewer neighbours (n_neighbors <= {n - 1}) or more points"
        )
    block = max(1, min(n, _BLOCK_BYTES // (8 * n)))
    check_allocation(
        8 * (block * n + n * k * (D + 2)),
        f"kNN of {n} points in R^{D}",
        "use fewer points",
        device=X.device,
    )
    sq = (X * X).sum(dim=1)  # (n,)
    out = torch.empty(n, k, dtype=X.dtype, device=X.device)
    for start in range(0, n, block):
        stop = min(n, start + block)
        Q = X[start:stop]  # (b, D)
        # |q - x_j|^2 - |q|^2 = |x_j|^2 - 2 q.x_j orders the candidates of row q
        d2 = torch.addmm(sq[None, :], Q, X.T, alpha=-2.0)  # (b, n)
        rows = torch.arange(stop - start, device=X.device)
        d2[rows, rows + start] = float("inf")  # a point is not its own neighbour
        idx = torch.topk(d2, k, dim=1, largest=False).indices  # (b, k)
        exact = torch.linalg.vector_norm(X[idx] - Q[:, None, :], dim=2)  # (b, k)
        out[start:stop] = torch.sort(exact, dim=1).values
    if duplicates == "raise":
        zero = out[:, 0] == 0
        if bool(zero.any()):
            raise InputError(
                f"{int(zero.sum())} of {n} points have a duplicate (nearest-neighbour distance "
                "0), which makes the distance ratios infinite; remove duplicates first "
                "(duplicates='drop' or np.unique(X, axis=0))"
            )
    return out

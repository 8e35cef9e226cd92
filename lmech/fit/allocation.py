r"""Compute-optimal allocation of the Chinchilla law under C = 6 N D.

Minimizing :math:`A N^{-\alpha} + B D^{-\beta}` at fixed :math:`C = 6ND` (set the
derivative in N to zero with D = C/(6N)):

.. math:: N_{opt} = G\,(C/6)^{\beta/(\alpha+\beta)}, \quad
          D_{opt} = G^{-1}(C/6)^{\alpha/(\alpha+\beta)}, \quad
          G = \Big(\frac{\alpha A}{\beta B}\Big)^{1/(\alpha+\beta)} .

References:
    Hoffmann et al. 2022 (arXiv 2203.15556), eq. (4) and App. D.2.
"""

from __future__ import annotations

import numpy as np

from lmech.errors import InputError

__all__ = ["efficient_frontier", "compute_optimal_exponents"]


def _check_law(A: float, B: float, alpha: float, beta: float) -> None:
    for name, v in (("A", A), ("B", B), ("alpha", alpha), ("beta", beta)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
            raise InputError(f"{name} must be a number; got {v!r}")
        if not np.isfinite(v) or v <= 0:
            raise InputError(
                f"{name} must be finite and > 0 for a compute-optimal allocation to exist "
                f"(the loss must fall with both N and D); got {name} = {v!r}"
            )


def efficient_frontier(
    C, A: float, B: float, alpha: float, beta: float, *, flops_per_param_token: float = 6.0
) -> tuple[np.ndarray, np.ndarray]:
    """(N_opt, D_opt) minimizing A/N^alpha + B/D^beta subject to C = 6 N D.

    Computed in log space, so A or B near the float range do not overflow G.

    Raises:
        InputError: A, B, alpha or beta not finite and > 0 (no minimum exists), or a
            non-positive compute.
    """
    _check_law(A, B, alpha, beta)
    C = np.asarray(C, dtype=np.float64) / flops_per_param_token
    bad = ~(np.isfinite(C) & (C > 0))
    if bad.any():
        got = (np.atleast_1d(C)[np.atleast_1d(bad)][:3] * flops_per_param_token).tolist()
        raise InputError(f"compute C must be finite and > 0; got {got}")
    s = alpha + beta
    log_g = (np.log(alpha) + np.log(A) - np.log(beta) - np.log(B)) / s
    log_c = np.log(C)
    with np.errstate(over="ignore"):
        return np.exp(log_g + log_c * (beta / s)), np.exp(log_c * (alpha / s) - log_g)


def compute_optimal_exponents(alpha: float, beta: float) -> dict[str, float]:
    """{"a": beta/(alpha+beta), "b": alpha/(alpha+beta)}: N_opt ~ C^a, D_opt ~ C^b.

    Raises:
        InputError: alpha or beta not finite and > 0 (the allocation is not defined).
    """
    _check_law(1.0, 1.0, alpha, beta)
    return {"a": beta / (alpha + beta), "b": alpha / (alpha + beta)}

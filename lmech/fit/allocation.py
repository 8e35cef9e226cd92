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

__all__ = ["efficient_frontier", "compute_optimal_exponents"]


def efficient_frontier(
    C, A: float, B: float, alpha: float, beta: float, *, flops_per_param_token: float = 6.0
) -> tuple[np.ndarray, np.ndarray]:
    """(N_opt, D_opt) minimizing A/N^alpha + B/D^beta subject to C = 6 N D."""
    C = np.asarray(C, dtype=np.float64) / flops_per_param_token
    G = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    return G * C ** (beta / (alpha + beta)), C ** (alpha / (alpha + beta)) / G


def compute_optimal_exponents(alpha: float, beta: float) -> dict[str, float]:
    """{"a": beta/(alpha+beta), "b": alpha/(alpha+beta)}: N_opt ~ C^a, D_opt ~ C^b."""
    return {"a": beta / (alpha + beta), "b": alpha / (alpha + beta)}

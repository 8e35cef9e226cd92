r"""Closed-form word2vec: the QWEM target M*, its solution and dynamics; M and log M embeddings.

Tied skip-gram with negative sampling (SGNS) on a positive-pair distribution P_ij and
the negative distribution psi P_i P_j (psi = the negative-sampling weight) minimizes

.. math:: L_{SGNS}(W) = \sum_{ij} P_{ij}\log(1 + e^{-s_{ij}})
          + \psi P_i P_j \log(1 + e^{s_{ij}}),\qquad s_{ij} = w_i\cdot w_j .

Karkada, Simon, Bahri, DeWeese, "Closed-Form Training Dynamics Reveal Learned Features
and Linear Structure in Word2Vec-like Models" (arXiv 2502.09863), Sec. 3: expanding
log(1 + e^{-+x}) = log 2 -+ x/2 + x^2/8 + O(x^4) to second order and multiplying by 2
gives the quartic (in W) loss

.. math:: L_{QWEM}(W) = \tfrac14 \sum_{ij} G_{ij} (s_{ij} - M^*_{ij})^2 + \text{const},\quad
          G_{ij} = P_{ij} + \psi P_i P_j,\quad
          M^*_{ij} = \frac{2 (P_{ij} - \psi P_i P_j)}{P_{ij} + \psi P_i P_j}

(:func:`qwem_target`; checked against the Taylor expansion in the tests). With x =
P_ij / (psi P_i P_j), M* = 2(x - 1)/(x + 1), the [1/1] Pade approximant of log x at x = 1:
a bounded surrogate of the shifted PMI that SGNS factorizes.

Closed form (Sec. 3.1): when G is constant (the paper's reweighting of samples by
1/G_ij), L is proportional to |W W^T - M*|_F^2 and by Eckart-Young its rank-d minimizers
are W* = V_d Lambda_d^{1/2} O over the top-d eigenpairs (a negative eigendirection is never
learned): :func:`qwem_solution`.

Dynamics (Sec. 3.2, Thm. 1): gradient flow dW/dt = -eta (W W^T - M*) W of
L = (1/4)|W W^T - M*|^2 (gradient (W W^T - M*) W) from W(0) = U S(0) O decouples into
modes u_k = s_k^2 with du_k/dt = kappa u_k (lambda_k - u_k), kappa = 2 eta, solved by

.. math:: u_k(t) = \frac{\lambda_k u_0 e^{\kappa\lambda_k t}}
                        {\lambda_k + u_0 (e^{\kappa\lambda_k t} - 1)}

(:func:`mode_trajectory`); mode k reaches the fraction f of lambda_k at
t_k = ln[f (lambda_k - u_0) / ((1 - f) u_0)] / (kappa lambda_k) (:func:`switch_on_time`):
from a small init the modes switch on one at a time in eigenvalue order, and the loss
and the effective rank of W move in steps.

Korchinski, Karkada, Bahri, Wyart, "On the Emergence of Linear Analogies in Word
Embeddings" (arXiv 2505.18651), Sec. 2: M_ij = P_ij / (P_i P_j) and log M (the PMI);
embeddings are the top-d eigenvectors scaled by sqrt(eigenvalue)
(:func:`ratio_matrix`, :func:`log_ratio_matrix`, :func:`spectral_embedding`).
"""

from __future__ import annotations

import numpy as np

from lmech.errors import InputError

__all__ = [
    "check_statistics",
    "qwem_target",
    "qwem_weights",
    "top_eigenpairs",
    "qwem_solution",
    "mode_trajectory",
    "switch_on_time",
    "ratio_matrix",
    "log_ratio_matrix",
    "spectral_embedding",
    "principal_cosines",
]


def check_statistics(P, Pi) -> tuple[np.ndarray, np.ndarray]:
    """``(P, Pi)`` as float64 arrays: P square symmetric non-negative, Pi positive with
    one entry per word."""
    P = np.asarray(P, dtype=np.float64)
    Pi = np.asarray(Pi, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != P.shape[1] or P.shape[0] < 1:
        raise InputError(f"P must be a square (V, V) matrix; got shape {P.shape}")
    if Pi.shape != (P.shape[0],):
        raise InputError(f"Pi must have one entry per word ({P.shape[0]}); got shape {Pi.shape}")
    if not (np.all(np.isfinite(P)) and np.all(P >= 0)):
        raise InputError("P must be finite and non-negative (a co-occurrence distribution)")
    if not (np.all(np.isfinite(Pi)) and np.all(Pi > 0)):
        raise InputError(
            "every unigram probability Pi must be > 0; drop words that never occur from the vocabulary"
        )
    if not np.allclose(P, P.T, rtol=1e-10, atol=1e-15 * max(P.max(), 1e-300)):
        raise InputError("P must be symmetric (count both orders of every pair)")
    return P, Pi


def qwem_weights(P, Pi, psi: float = 1.0) -> np.ndarray:
    """G_ij = P_ij + psi P_i P_j."""
    P, Pi = check_statistics(P, Pi)
    if not (np.isfinite(psi) and psi > 0):
        raise InputError(f"the negative-sampling weight psi must be > 0; got {psi}")
    return P + psi * np.outer(Pi, Pi)


def qwem_target(P, Pi, psi: float = 1.0) -> np.ndarray:
    """M*_ij = 2 (P_ij - psi P_i P_j) / (P_ij + psi P_i P_j), in (-2, 2]."""
    P, Pi = check_statistics(P, Pi)
    neg = psi * np.outer(Pi, Pi)
    return 2.0 * (P - neg) / qwem_weights(P, Pi, psi)


def top_eigenpairs(M, d: int) -> tuple[np.ndarray, np.ndarray]:
    """The top-d eigenpairs of a symmetric matrix, eigenvalues in decreasing order.

    Eigenvector signs are fixed (largest-magnitude entry positive) so the result is
    deterministic."""
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise InputError(f"expected a square symmetric matrix; got shape {M.shape}")
    V = M.shape[0]
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise InputError(f"the embedding dimension d must be an integer >= 1; got {d!r}")
    if d > V:
        raise InputError(
            f"the embedding dimension d={d} exceeds the vocabulary size V={V}: a V-word "
            f"vocabulary has at most V eigendirections; use d <= {V} or a larger vocabulary"
        )
    lam, U = np.linalg.eigh((M + M.T) / 2)
    lam, U = lam[::-1][:d], U[:, ::-1][:, :d]
    idx = np.argmax(np.abs(U), axis=0)
    U = U * np.sign(U[idx, np.arange(d)])
    return lam.copy(), np.ascontiguousarray(U)


def qwem_solution(Mstar, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``(W*, lambda)``: W* = V_d diag(sqrt(max(lambda, 0))) (V x d) and the top-d
    eigenvalues of M*, the minimizer of |W W^T - M*|_F^2 over rank-d W (up to W* O)."""
    lam, U = top_eigenpairs(Mstar, d)
    return U * np.sqrt(np.clip(lam, 0, None)), lam


def mode_trajectory(lam, u0, t, kappa: float) -> np.ndarray:
    """u_k(t) of the decoupled modes, shape (len(t), len(lam)); lam > 0 entries only."""
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    u0 = np.broadcast_to(np.asarray(u0, dtype=np.float64), lam.shape)
    if np.any(lam <= 0) or np.any(u0 <= 0) or not kappa > 0:
        raise InputError("mode_trajectory needs lambda > 0, u0 > 0 and kappa > 0")
    x = kappa * lam[None, :] * t[:, None]
    # u = lam / (1 + (lam/u0 - 1) e^{-x}), stable for large x
    return lam[None, :] / (1.0 + (lam[None, :] / u0[None, :] - 1.0) * np.exp(-x))


def switch_on_time(lam, u0, kappa: float, fraction: float = 0.5) -> np.ndarray:
    """Time at which u_k reaches ``fraction`` of lambda_k (u0 < fraction lambda_k)."""
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    u0 = np.broadcast_to(np.asarray(u0, dtype=np.float64), lam.shape)
    if not 0 < fraction < 1:
        raise InputError(f"fraction must be in (0, 1); got {fraction}")
    if np.any(lam <= 0) or np.any(u0 <= 0) or not kappa > 0:
        raise InputError("switch_on_time needs lambda > 0, u0 > 0 and kappa > 0")
    if np.any(u0 >= fraction * lam):
        raise InputError("the init u0 must be below fraction * lambda for a switch-on to exist")
    return np.log(fraction * (lam - u0) / ((1 - fraction) * u0)) / (kappa * lam)


def ratio_matrix(P, Pi) -> np.ndarray:
    """M_ij = P_ij / (P_i P_j)."""
    P, Pi = check_statistics(P, Pi)
    return P / np.outer(Pi, Pi)


def log_ratio_matrix(P, Pi, floor: float = np.exp(-5.0)) -> np.ndarray:
    """log(M_ij + floor), the PMI with a floor for pairs never seen (``floor=0`` needs
    every M_ij > 0)."""
    M = ratio_matrix(P, Pi)
    if floor < 0 or (floor == 0 and np.any(M <= 0)):
        raise InputError("log M needs floor > 0 when some pair never co-occurs")
    return np.log(M + floor)


def spectral_embedding(M, d: int) -> np.ndarray:
    """Top-d eigenvectors of M scaled by sqrt(max(eigenvalue, 0)), shape (V, d)."""
    return qwem_solution(M, d)[0]


def principal_cosines(A, B) -> np.ndarray:
    """Cosines of the principal angles between the column spaces of A and B (descending)."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[0] != B.shape[0]:
        raise InputError(
            f"principal angles need (V, d) matrices with equal V; got {A.shape}, {B.shape}"
        )
    qa, _ = np.linalg.qr(A)
    qb, _ = np.linalg.qr(B)
    return np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), 0.0, 1.0)

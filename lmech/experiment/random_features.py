r"""Simulators of the solvable random-feature model (Maloney-Roberts-Sully; Bahri et al.).

Teacher target vector beta_k = sqrt(lambda_k) w*_k in the whitened eigenbasis; student
f = w . A psi / sqrt(N) trained from w = 0 by gradient flow dw/dt = -grad(L)/2.

Each simulator takes a CPU ``torch.Generator`` (callers make one per draw with
:func:`lmech.seeding.torch_generator`, keyed by what the draw is for, e.g.
``torch_generator(seed, "N", trial)``); its draws are made on the CPU and moved to
``device``, so CPU and CUDA see the same numbers.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["population_flow", "projection_loss", "ridgeless_loss", "nested_population_flow"]


def _normal(shape, gen: torch.Generator, device: str) -> torch.Tensor:
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(device)


def population_flow(
    lam: np.ndarray,
    beta: np.ndarray,
    width: int,
    times: np.ndarray,
    gen: torch.Generator,
    device: str,
) -> np.ndarray:
    r"""Test loss L(t) of gradient flow on the population loss at width N (P = infinity).

    With :math:`B = \Lambda^{1/2} A^\top/\sqrt N` (M x N), the error
    :math:`\tilde e = \beta - B w` obeys :math:`\dot w = B^\top \tilde e`; with
    :math:`B^\top B = V\,\mathrm{diag}(s)\,V^\top` and :math:`c = V^\top B^\top \beta`,

    .. math:: L(t) = |\beta|^2 - \sum_j \frac{c_j^2}{s_j}\,(1 - e^{-2 s_j t})

    exactly (t = inf gives the projection residual). Returns L at ``times`` (T,).
    """
    lam_t = torch.as_tensor(lam, dtype=torch.float64, device=device)
    beta_t = torch.as_tensor(beta, dtype=torch.float64, device=device)
    A = _normal((width, lam.size), gen, device)  # (N, M) fixed projection
    Bt = A * lam_t.sqrt() / np.sqrt(width)  # (N, M) = B^T
    s, V = torch.linalg.eigh(Bt @ Bt.T)  # (N,), (N, N): eigensystem of B^T B
    c2 = (V.T @ (Bt @ beta_t)) ** 2
    s = s.clamp_min(torch.finfo(torch.float64).tiny)
    t = torch.as_tensor(np.asarray(times, dtype=np.float64), device=device)
    decay = -torch.expm1(-2.0 * torch.outer(t, s))  # (T, N): 1 - exp(-2 s t), inf -> 1
    return ((beta_t @ beta_t) - decay @ (c2 / s)).cpu().numpy()


def projection_loss(
    lam: np.ndarray, beta: np.ndarray, widths, gen: torch.Generator, device: str
) -> np.ndarray:
    r"""Converged population loss (t = infinity) at nested widths: the first N rows of one
    projection A (N_max x M) are a width-N model.

    The converged flow projects :math:`\beta` onto the span of B's columns:
    :math:`L = |\beta|^2 - v^\top (B^\top B)^{-1} v`, :math:`v = B^\top\beta`.
    """
    lam_t = torch.as_tensor(lam, dtype=torch.float64, device=device)
    beta_t = torch.as_tensor(beta, dtype=torch.float64, device=device)
    n_max = int(max(widths))
    A = _normal((n_max, lam.size), gen, device)
    Bt = A * lam_t.sqrt()  # (N_max, M); the 1/sqrt(N) scale cancels in a projection
    K, v = Bt @ Bt.T, Bt @ beta_t
    out = []
    for n in widths:
        n = int(n)
        L = torch.linalg.cholesky(K[:n, :n])
        z = torch.linalg.solve_triangular(L, v[:n, None], upper=False)[:, 0]
        out.append(float(beta_t @ beta_t - z @ z))
    return np.array(out)


def ridgeless_loss(
    lam: np.ndarray, beta: np.ndarray, sizes, gen: torch.Generator, device: str
) -> np.ndarray:
    r"""Test loss of the converged flow (min-norm interpolant) on P noiseless samples with the
    full features (N = infinity), for nested prefixes of one sample of size max(sizes).

    Samples :math:`\psi = \Lambda^{1/2} g`, labels :math:`y = g \cdot \beta`; the
    interpolant's error is :math:`\tilde e = \beta - \Lambda G^\top (G\Lambda G^\top)^{-1} y`.
    """
    lam_t = torch.as_tensor(lam, dtype=torch.float64, device=device)
    beta_t = torch.as_tensor(beta, dtype=torch.float64, device=device)
    p_max = int(max(sizes))
    G = _normal((p_max, lam.size), gen, device)  # (P, M) whitened features
    y = G @ beta_t
    K = (G * lam_t) @ G.T  # (P, P) kernel Gram psi . psi'
    out = []
    for p in sizes:
        p = int(p)
        L = torch.linalg.cholesky(K[:p, :p])
        alpha = torch.cholesky_solve(y[:p, None], L)[:, 0]
        err = beta_t - lam_t * (G[:p].T @ alpha)
        out.append(float(err @ err))
    return np.array(out)


def nested_population_flow(
    lam: np.ndarray, beta: np.ndarray, widths, times: np.ndarray, gen: torch.Generator, device: str
) -> np.ndarray:
    """:func:`population_flow` at nested widths (the first N rows of one A), (W, T) losses.

    ``times`` is (W, T): the times at which each width's loss is wanted (e.g. t = C/N on
    IsoFLOP lines). Nesting shares the random projection across widths (common random
    numbers), so differences between widths are not swamped by draw-to-draw noise.
    """
    lam_t = torch.as_tensor(lam, dtype=torch.float64, device=device)
    beta_t = torch.as_tensor(beta, dtype=torch.float64, device=device)
    n_max = int(max(widths))
    A = _normal((n_max, lam.size), gen, device)
    Bt = A * lam_t.sqrt()  # (N_max, M): B^T up to the 1/sqrt(N) of each width
    K, v = Bt @ Bt.T, Bt @ beta_t
    norm2 = beta_t @ beta_t
    out = []
    for n, tn in zip(widths, np.asarray(times, dtype=np.float64), strict=True):
        n = int(n)
        s, V = torch.linalg.eigh(K[:n, :n] / n)  # B^T B at width n
        c2 = (V.T @ (v[:n] / np.sqrt(n))) ** 2
        s = s.clamp_min(torch.finfo(torch.float64).tiny)
        t = torch.as_tensor(tn, device=device)
        decay = -torch.expm1(-2.0 * torch.outer(t, s))
        out.append((norm2 - decay @ (c2 / s)).cpu().numpy())
    return np.stack(out)

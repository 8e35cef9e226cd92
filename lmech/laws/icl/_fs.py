r"""Linear attention trained by SGD / Adam on fresh in-context regression contexts.

Family-private measurement helpers of ``icl-time-width-scaling`` (one layer, FS) and
``icl-deep-attention-training`` (L layers, ISO, :func:`train_deep_iso`). Tokens
:math:`x \sim N(0, \Sigma)`, :math:`\Sigma = \operatorname{diag}(\lambda)`, P context
pairs, task :math:`w \sim N(0, I/D)`, labels :math:`y = w^\top x + \sigma\epsilon`. The
layer predicts :math:`\hat y = x_*^\top\Gamma b`, :math:`b = X^\top y/P`; the loss of a
context, exact over the query, is :math:`(w - \Gamma b)^\top\Sigma(w - \Gamma b) +
\sigma^2`.

The statistic b is drawn exactly in O(P + D) per context instead of O(P D) [derived]:
with :math:`x_i = \Sigma^{1/2}g_i`, :math:`a = \Sigma^{1/2}w`, :math:`\hat a = a/|a|`,
:math:`g_i = \hat a\zeta_i + g_i^\perp`, the labels are :math:`y_i = |a|\zeta_i +
\sigma\epsilon_i` and :math:`\sum_i g_i^\perp y_i` given y is
:math:`N(0, \sum_i y_i^2\,(I - \hat a\hat a^\top))`, so

.. math:: b = \Sigma^{1/2}\Big[\hat a\,\frac{\sum_i\zeta_iy_i}{P}
          + \frac{(\sum_iy_i^2)^{1/2}}{P}(I - \hat a\hat a^\top)u\Big],\quad u \sim N(0, I_D).

(Checked against direct token sampling in ``tests/laws/icl/test_fs.py``.)

References:
    Bordelon, Letey, Pehlevan, arXiv 2510.01098 (2025), the FS setting and training by
    SGD on the ICL task.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lmech._memory import check_allocation
from lmech.errors import InputError
from lmech.experiment._aligned import aligned_cross_moments


def sample_statistics(
    spectrum: torch.Tensor, P: int, noise: float, batch: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(w (batch, D), b = X^T y / P (batch, D)) for ``batch`` fresh contexts, CPU float64."""
    D = len(spectrum)
    half = spectrum.sqrt()
    w = torch.randn(batch, D, generator=gen, dtype=torch.float64) / math.sqrt(D)
    # x = half * x~ with x~ ~ N(0, I): y = (half * w)^T x~ and X^T y = half * X~^T y
    xy, _ = aligned_cross_moments(
        half * w, P, math.sqrt(noise), lambda s: torch.randn(s, generator=gen, dtype=torch.float64)
    )
    return w, half * xy / P


def _setup(spectrum, alpha, batch, device):
    lam_np = np.asarray(spectrum, dtype=np.float64)
    if lam_np.ndim != 1 or len(lam_np) < 2 or not (lam_np > 0).all():
        raise InputError(f"spectrum must be D >= 2 positive eigenvalues; got {spectrum!r}")
    D = len(lam_np)
    P = max(1, round(alpha * D))
    if batch < 1:
        raise InputError(f"batch must be >= 1; got {batch}")
    check_allocation(
        8 * (4 * batch * P + 8 * batch * D + 8 * D * D),
        f"the attention training batch ({batch} contexts of {P} tokens, D = {D})",
        "use a smaller batch, alpha or D",
        device=device,
    )
    return lam_np, D, P


def _grad(gamma, lam, w, b):
    """Gradient of the batch-mean (w - Gamma b)^T Sigma (w - Gamma b) in Gamma."""
    r = w - b @ gamma.T
    return -2 * (lam[:, None] * r.T) @ b / len(w)


def sgd_learning_curve(
    spectrum, alpha, noise, *, batch, steps, rate_fraction, checkpoints, gen, device="cpu"
):
    r"""Full Gamma from 0 by plain SGD, step eta = rate_fraction / (fastest mode rate) in
    T units (Gamma -= eta D grad); returns [(T, Gamma (D, D) numpy)] at ``checkpoints``.

    The fastest mode of :func:`lmech.theory.icl.fs_gradient_flow_error` relaxes at
    :math:`4\lambda_1m_1`; SGD tracks the flow when eta times that rate is well below 1.
    """
    lam_np, D, P = _setup(spectrum, alpha, batch, device)
    if not 0 < rate_fraction <= 0.5:
        raise InputError(f"rate_fraction must be in (0, 0.5]; got {rate_fraction}")
    m = (1 + 1 / P) * lam_np**2 + (lam_np.sum() + noise * D) * lam_np / P
    eta = rate_fraction / float((4 * lam_np * m).max())
    lam_cpu = torch.as_tensor(lam_np)
    lam = lam_cpu.to(device)
    gamma = torch.zeros(D, D, dtype=torch.float64, device=device)
    want = set(int(c) for c in checkpoints)
    out = []
    for step in range(1, steps + 1):
        w, b = (t.to(device) for t in sample_statistics(lam_cpu, P, noise, batch, gen))
        gamma -= eta * D * _grad(gamma, lam, w, b)
        if step in want:
            out.append((step * eta, gamma.cpu().numpy().copy()))
    return out


def train_low_rank(
    spectrum, alpha, noise, rank, *, batch, steps, lr, init_scale, gen, device="cpu"
) -> np.ndarray:
    """Gamma = A B^T with A, B (D, rank) trained by Adam (cosine schedule to 0) on fresh
    contexts from a small random init; returns the final Gamma (D, D) numpy."""
    lam_np, D, P = _setup(spectrum, alpha, batch, device)
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
        raise InputError(f"rank must be an integer >= 1; got {rank!r}")
    lam_cpu = torch.as_tensor(lam_np)
    lam = lam_cpu.to(device)
    A = (init_scale * torch.randn(D, rank, generator=gen, dtype=torch.float64)).to(device)
    B = (init_scale * torch.randn(D, rank, generator=gen, dtype=torch.float64)).to(device)
    A.requires_grad_(True)
    B.requires_grad_(True)
    opt = torch.optim.Adam([A, B], lr=lr)
    for step in range(steps):
        w, b = (t.to(device) for t in sample_statistics(lam_cpu, P, noise, batch, gen))
        with torch.no_grad():
            g = _grad(A @ B.T, lam, w, b)
            A.grad = g @ B
            B.grad = g.T @ A
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        opt.step()
    with torch.no_grad():
        return (A @ B.T).cpu().numpy()


def _deep_predict(gamma, S, b, depth):
    """w_L after L preconditioned GD steps w += (Gamma / L)(b - S w) from w = 0."""
    w = torch.zeros_like(b)
    for _ in range(depth):
        w = w + (b - torch.einsum("nij,nj->ni", S, w)) @ gamma.T / depth
    return w


def _iso_contexts(n, D, P, noise, gen):
    X = torch.randn(n, P, D, generator=gen, dtype=torch.float64)
    w = torch.randn(n, D, generator=gen, dtype=torch.float64) / math.sqrt(D)
    y = torch.einsum("npd,nd->np", X, w)
    y = y + math.sqrt(noise) * torch.randn(n, P, generator=gen, dtype=torch.float64)
    return w, X.transpose(1, 2) @ X / P, torch.einsum("npd,np->nd", X, y) / P


def train_deep_iso(
    dim,
    alpha,
    noise,
    depth,
    *,
    batch,
    steps,
    lr,
    checkpoints,
    test_contexts,
    gen,
    test_gen,
    device="cpu",
):
    r"""L-layer deep linear attention, full Gamma from 0, SGD on fresh ISO contexts.

    The predictor is :math:`x_*^\top w_L`, w_L after L steps
    :math:`w \leftarrow w + (\Gamma/L)(X^\top y/P - \hat\Sigma w)` from 0 (Bordelon,
    Letey & Pehlevan 2025, the reduced deep model); the per-context loss, exact over the
    query, is :math:`|w - w_L|^2 + \sigma^2` (x ~ N(0, I_D), w ~ N(0, I/D)). Each step
    Gamma -= lr D grad, so T = lr x steps. At each
    checkpoint returns (T, test loss on ``test_contexts`` fixed contexts drawn from
    ``test_gen``, tr Gamma / D).
    """
    D = int(dim)
    P = max(1, round(alpha * D))
    if depth < 1:
        raise InputError(f"depth must be >= 1; got {depth}")
    check_allocation(
        8 * 4 * max(batch, test_contexts) * (P * D + D * D),
        f"the deep-attention contexts ({max(batch, test_contexts)} x {P} tokens, D = {D})",
        "use fewer contexts or a smaller alpha or D",
        device=device,
    )
    wt, St, bt = (t.to(device) for t in _iso_contexts(test_contexts, D, P, noise, test_gen))
    gamma = torch.zeros(D, D, dtype=torch.float64, device=device, requires_grad=True)
    want = set(int(c) for c in checkpoints)
    out = []
    for step in range(1, steps + 1):
        w, S, b = (t.to(device) for t in _iso_contexts(batch, D, P, noise, gen))
        loss = ((w - _deep_predict(gamma, S, b, depth)) ** 2).sum(1).mean()
        (g,) = torch.autograd.grad(loss, gamma)
        with torch.no_grad():
            gamma -= lr * D * g
        if step in want:
            with torch.no_grad():
                e = float(((wt - _deep_predict(gamma, St, bt, depth)) ** 2).sum(1).mean())
                out.append((step * lr, e + noise, float(gamma.diagonal().mean())))
    return out

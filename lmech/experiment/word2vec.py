r"""Trainers for tied word embeddings on corpus statistics: QWEM and SGNS, in torch.

Both train one tied embedding matrix W (V x d), score s_ij = w_i . w_j, by full-batch
gradient descent on the *expected* loss over the pair distributions (the limit of
word2vec's minibatch SGD with many pairs per step), on any torch device:

- :func:`train_qwem`: L = (1/4) sum_ij G~_ij (s_ij - M*_ij)^2 with G~ = G / mean(G)
  (``weights=G``) or G~ = 1 (``weights=None``: the paper's "omniscient" reweighting,
  which makes the loss |W W^T - M*|^2 / 4); gradient (G~ . (W W^T - M*)) W
  (Karkada et al. 2025, arXiv 2502.09863, eq. 3);
- :func:`train_sgns`: (2 / mean(G)) L_SGNS with
  L_SGNS = sum_ij P_ij log(1 + e^{-s}) + psi P_i P_j log(1 + e^{s}), whose second-order
  expansion in s is the weighted QWEM loss above (same learning-rate scale).

Init: W_0 entries N(0, init_scale^2 / d), so the squared projection of W_0 on a unit
vector is init_scale^2 on average (the u_0 of :func:`lmech.theory.word2vec.mode_trajectory`).
Every ``log_every`` steps the singular values of W and the loss are recorded; long runs
report progress through :mod:`lmech.progress`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmech import progress
from lmech._memory import check_allocation
from lmech.errors import InputError
from lmech.seeding import torch_generator

__all__ = ["TrainResult", "train_qwem", "train_sgns", "init_embeddings"]


@dataclass(frozen=True)
class TrainResult:
    """``W`` (V x d, float64 numpy) at the end; ``steps`` (n_log,), ``singular_values``
    (n_log, d, descending) and ``loss`` (n_log,) at the logged steps (step 0 included)."""

    W: np.ndarray
    steps: np.ndarray
    singular_values: np.ndarray
    loss: np.ndarray


def _check_common(V: int, d, steps, lr, init_scale, log_every) -> None:
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise InputError(f"the embedding dimension d must be an integer >= 1; got {d!r}")
    if d > V:
        raise InputError(
            f"the embedding dimension d={d} exceeds the vocabulary size V={V}; "
            f"use d <= {V} or a larger vocabulary"
        )
    for name, val in (("steps", steps), ("log_every", log_every)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise InputError(f"{name} must be an integer >= 1; got {val!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise InputError(f"the learning rate must be > 0; got {lr}")
    if not (np.isfinite(init_scale) and init_scale > 0):
        raise InputError(f"init_scale must be > 0; got {init_scale}")


def init_embeddings(V: int, d: int, init_scale: float, seed: int, device="cpu"):
    """W_0 (V x d, float64) with entries N(0, init_scale^2 / d), drawn on the CPU."""
    import torch

    g = torch_generator(seed, "embedding-init")
    W = torch.randn(V, d, generator=g, dtype=torch.float64) * (init_scale / np.sqrt(d))
    return W.to(device)


def _run(grad_and_loss, W, steps, lr, log_every, what):
    import torch

    logged, svals, losses = [], [], []
    with progress.task(what, steps) as advance:
        for n in range(steps + 1):
            grad, loss = grad_and_loss(W, n % log_every == 0 or n == steps)
            if n % log_every == 0 or n == steps:
                if not (np.isfinite(loss) and bool(torch.isfinite(W).all())):
                    raise InputError(
                        f"{what} diverged at step {n} (loss {loss}); use a smaller learning rate"
                    )
                logged.append(n)
                svals.append(torch.linalg.svdvals(W).cpu().numpy())
                losses.append(float(loss))
            if n == steps:
                break
            W = W - lr * grad
            if (n + 1) % log_every == 0:
                advance(log_every)
    return TrainResult(W.cpu().numpy(), np.asarray(logged), np.asarray(svals), np.asarray(losses))


def _tensor(x, device):
    import torch

    return torch.as_tensor(np.asarray(x, dtype=np.float64), device=device)


def train_qwem(
    target,
    d: int,
    *,
    weights=None,
    steps: int,
    lr: float,
    init_scale: float,
    seed: int,
    device: str = "cpu",
    log_every: int = 10,
    W0=None,
) -> TrainResult:
    """Gradient descent on the QWEM loss (module docstring) for ``steps`` steps."""
    import torch

    M = np.asarray(target, dtype=np.float64)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise InputError(f"the QWEM target M* must be a square matrix; got shape {M.shape}")
    V = M.shape[0]
    _check_common(V, d, steps, lr, init_scale, log_every)
    check_allocation(
        8 * 4 * V * V,
        f"QWEM training on a {V}-word vocabulary",
        "use a smaller vocabulary",
        device=device,
    )
    Mt = _tensor(M, device)
    if weights is not None:
        G = np.asarray(weights, dtype=np.float64)
        if G.shape != M.shape or not np.all(G >= 0) or not G.mean() > 0:
            raise InputError("QWEM weights G must be a non-negative matrix shaped like M*")
        Gt = _tensor(G / G.mean(), device)
    else:
        Gt = None
    W = init_embeddings(V, d, init_scale, seed, device) if W0 is None else _tensor(W0, device)

    def grad_and_loss(W, want_loss):
        R = W @ W.T - Mt
        if Gt is not None:
            GR = Gt * R
            return GR @ W, (0.25 * (GR * R).sum()).item() if want_loss else 0.0
        return R @ W, (0.25 * (R * R).sum()).item() if want_loss else 0.0

    with torch.no_grad():
        return _run(grad_and_loss, W, steps, lr, log_every, "QWEM gradient descent")


def train_sgns(
    P,
    Pi,
    d: int,
    *,
    psi: float = 1.0,
    reweight: str = "none",
    steps: int,
    lr: float,
    init_scale: float,
    seed: int,
    device: str = "cpu",
    log_every: int = 10,
    W0=None,
) -> TrainResult:
    """Gradient descent on the expected tied SGNS loss (module docstring).

    ``reweight="omniscient"`` weights every pair by 1 / G_ij (Karkada et al. 2025,
    Sec. 3.1): the loss becomes 2 sum_ij [q+_ij log(1 + e^{-s}) + q-_ij log(1 + e^{s})]
    with q+ = P / G, q- = psi P_i P_j / G (q+ + q- = 1), whose quadratic expansion is
    (1/4)|W W^T - M*|^2 + const, the omniscient QWEM loss of :func:`train_qwem`."""
    import torch

    P = np.asarray(P, dtype=np.float64)
    Pi = np.asarray(Pi, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != P.shape[1] or Pi.shape != (P.shape[0],):
        raise InputError(f"SGNS needs P (V, V) and Pi (V,); got {P.shape}, {Pi.shape}")
    if not (np.isfinite(psi) and psi > 0):
        raise InputError(f"the negative-sampling weight psi must be > 0; got {psi}")
    V = P.shape[0]
    _check_common(V, d, steps, lr, init_scale, log_every)
    check_allocation(
        8 * 5 * V * V,
        f"SGNS training on a {V}-word vocabulary",
        "use a smaller vocabulary",
        device=device,
    )
    neg = psi * np.outer(Pi, Pi)
    G = P + neg
    if reweight == "omniscient":
        if not np.all(G > 0):
            raise InputError("omniscient reweighting needs P_ij + psi P_i P_j > 0 for every pair")
        Pos, Neg, scale = _tensor(P / G, device), _tensor(neg / G, device), 2.0
    elif reweight == "none":
        Pos, Neg, scale = _tensor(P, device), _tensor(neg, device), 2.0 / float(G.mean())
    else:
        raise InputError(f"reweight must be 'none' or 'omniscient'; got {reweight!r}")
    W = init_embeddings(V, d, init_scale, seed, device) if W0 is None else _tensor(W0, device)
    F = torch.nn.functional

    def grad_and_loss(W, want_loss):
        S = W @ W.T
        D = -Pos * torch.sigmoid(-S) + Neg * torch.sigmoid(S)
        loss = 0.0
        if want_loss:
            loss = (scale * (Pos * F.softplus(-S) + Neg * F.softplus(S)).sum()).item()
        return (2.0 * scale) * (D @ W), loss

    with torch.no_grad():
        return _run(grad_and_loss, W, steps, lr, log_every, "SGNS gradient descent")

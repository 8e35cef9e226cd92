"""Engines of the solvable-grokking laws: teacher-student GD runs and curve crossings."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from lmech.errors import ConvergenceError
from lmech.seeding import torch_generator

__all__ = ["crossing_step", "lazy_rich_run", "linear_teacher_student_run"]


def crossing_step(steps: np.ndarray, values: np.ndarray, level: float) -> float:
    """First step at which ``values`` falls to ``level``, interpolating log(values) linearly
    between logged steps (the losses decay geometrically); NaN if it never does."""
    steps = np.asarray(steps, dtype=np.float64)
    v = np.log(np.maximum(np.asarray(values, dtype=np.float64), 1e-300))
    below = np.flatnonzero(v <= np.log(level))
    if len(below) == 0:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(steps[0])
    frac = (v[i - 1] - np.log(level)) / (v[i - 1] - v[i])
    return float(steps[i - 1] + frac * (steps[i] - steps[i - 1]))


def linear_teacher_student_run(d_in: int, d_out: int, n_train: int, n_test: int, lr: float,
                               teacher_scale: float, init_scale: float, threshold: float,
                               log_steps: np.ndarray, seed: int, keys: tuple, trials: int,
                               device: str = "cpu") -> pd.DataFrame:  # fmt: skip
    """Full-batch GD of a linear student S on y = T x, x ~ N(0, I): ``trials`` runs at once.

    Per trial (its own stream ``(*keys, "trial", i)``): N train and ``n_test`` test points,
    T and S_0 with i.i.d. N(0, scale^2 / d_in) entries. The loss is
    (1 / 2N) sum_i |S x_i - y_i|^2, whose gradient (S - T) Sigma uses the train covariance
    Sigma = X^T X / N. At each logged step the per-sample losses |S x - y|^2 / d_out are
    evaluated on the N train points and on the test points: their means (train and test
    loss) and the shares below ``threshold`` (train and test accuracy).
    """
    Xs, Xts, Ts, Ss = [], [], [], []
    for i in range(trials):
        gen = torch_generator(seed, *keys, "trial", i, device=device)
        kw = {"dtype": torch.float64, "device": device, "generator": gen}
        Xs.append(torch.randn(n_train, d_in, **kw))
        Xts.append(torch.randn(n_test, d_in, **kw))
        Ts.append(torch.randn(d_out, d_in, **kw) * (teacher_scale / d_in**0.5))
        Ss.append(torch.randn(d_out, d_in, **kw) * (init_scale / d_in**0.5))
    X, Xt, T, S = (torch.stack(v) for v in (Xs, Xts, Ts, Ss))
    sigma = X.transpose(1, 2) @ X / n_train  # (trials, d_in, d_in)
    log_steps = np.asarray(log_steps, dtype=np.int64)
    last = int(log_steps.max())
    want = set(log_steps.tolist())
    rows = []
    for t in range(last + 1):
        if t in want:
            Dt = (S - T).transpose(1, 2)
            lt = ((X @ Dt) ** 2).mean(2)  # (trials, n_train)
            le = ((Xt @ Dt) ** 2).mean(2)
            stats = torch.stack([lt.mean(1), le.mean(1), (lt < threshold).double().mean(1),
                                 (le < threshold).double().mean(1)], 1).cpu().numpy()  # fmt: skip
            rows.extend((i, t, *stats[i]) for i in range(trials))
        if t < last:
            S = S - lr * (S - T) @ sigma
    return pd.DataFrame(rows, columns=["trial", "step", "train_loss", "test_loss", "train_accuracy",
                                       "test_accuracy"])  # fmt: skip


def _check_finite(loss: float, step: int, alpha: float, lr_scale: float) -> None:
    if not math.isfinite(loss) or loss > 1e12:
        raise ConvergenceError(
            f"GD diverged at step {step} (alpha = {alpha}, lr_scale = {lr_scale}; test loss "
            f"{loss:.3g}): the per-neuron step lr_scale / alpha is too large for this alpha; "
            "lower lr_scale or use larger alphas"
        )


def lazy_rich_run(D: int, n_train: int, width: int, alpha: float, eps: float, lr_scale: float,
                  max_steps: int, log_every: int, seed: int, keys: tuple, engine: str = "reduced",
                  device: str = "cpu") -> pd.DataFrame:  # fmt: skip
    """Full-batch GD of f(x) = (alpha / N) sum_i phi(w_i . x), phi(z) = z + eps z^2 / 2.

    Data (Kumar et al. 2024, Sec. 3): x ~ N(0, I / D), y = (beta . x)^2 / 2 with beta a
    uniformly random direction of norm sqrt(D); w_i ~ N(0, I_D); the centred loss
    mean (f - f_0 - y)^2 / 2 over ``n_train`` points; readouts fixed; step
    lr = lr_scale N / alpha^2. ``engine="network"`` trains the N weight vectors with
    autograd; ``"reduced"`` runs the same GD exactly on (m, C) = (mean w, mean w w^T)
    (:func:`lmech.theory.grokking_dynamics.reduced_network_step`; identical up to round-off,
    O(P D^2) per step for any N). The test loss is the exact population MSE / 2 of
    f - f_0 - y (:func:`lmech.theory.grokking_dynamics.quadratic_population_loss`). Runs
    until the test loss is <= half its start (logged every ``log_every`` steps and at
    the end) or ``max_steps``.
    """
    gen = torch_generator(seed, *keys, device=device)
    kw = {"dtype": torch.float64, "device": device}
    beta = torch.randn(D, generator=gen, **kw)
    beta = beta * (D**0.5 / beta.norm())
    X = torch.randn(n_train, D, generator=gen, **kw) / D**0.5
    y = (X @ beta) ** 2 / 2
    W = torch.randn(width, D, generator=gen, **kw)
    m0, C0 = W.mean(0), W.T @ W / width
    a_star = torch.outer(beta, beta) / 2
    h = lr_scale / alpha  # the per-neuron step lr alpha / N

    def quad(m, C):
        return alpha * (X @ m + 0.5 * eps * ((X @ C) * X).sum(1))

    f0 = quad(m0, C0)

    def test_loss(m, C):
        E = (alpha * eps / 2) * (C - C0) - a_star
        du = alpha * (m - m0)
        return 0.5 * ((du @ du) / D + (2 * (E * E).sum() + torch.trace(E) ** 2) / D**2).item()

    rows = []
    L0 = None
    if engine == "reduced":
        m, C = m0.clone(), C0.clone()
        eye = torch.eye(D, **kw)
        for t in range(max_steps + 1):
            r = quad(m, C) - f0 - y
            te = test_loss(m, C)
            _check_finite(te, t, alpha, lr_scale)
            L0 = te if L0 is None else L0
            done = te <= L0 / 2 or t == max_steps
            if t % log_every == 0 or done:
                rows.append((t, 0.5 * (r @ r).item() / n_train, te))
            if done:
                break
            g = X.T @ r / n_train
            G = (X * r[:, None]).T @ X / n_train
            A = eye - h * eps * G
            Am = A @ m
            m, C = (
                Am - h * g,
                A @ C @ A.T
                - h * (torch.outer(Am, g) + torch.outer(g, Am))
                + h * h * torch.outer(g, g),
            )
    else:
        Wt = W.clone().requires_grad_(True)
        lr = lr_scale * width / alpha**2
        with torch.no_grad():
            y0 = (alpha / width) * (X @ W.T + 0.5 * eps * (X @ W.T) ** 2).sum(1)
        for t in range(max_steps + 1):
            z = X @ Wt.T
            f = (alpha / width) * (z + 0.5 * eps * z * z).sum(1)
            r = f - y0 - y
            loss = 0.5 * (r * r).mean()
            with torch.no_grad():
                te = test_loss(Wt.mean(0), Wt.T @ Wt / width)
            _check_finite(te, t, alpha, lr_scale)
            L0 = te if L0 is None else L0
            done = te <= L0 / 2 or t == max_steps
            if t % log_every == 0 or done:
                rows.append((t, loss.item(), te))
            if done:
                break
            (grad,) = torch.autograd.grad(loss, Wt)
            with torch.no_grad():
                Wt -= lr * grad
    return pd.DataFrame(rows, columns=["step", "train_loss", "test_loss"])

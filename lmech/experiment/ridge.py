r"""Simulators of ridge and random-feature regression (torch, float64, any device).

- :func:`linear_ridge_errors`: ridge or linear random-feature ridge (one draw of F, or a
  K-member ensemble sharing the data or not) on Gaussian data x ~ N(0, Sigma) with a
  teacher w and label noise; the test error is exact, E = (beta - w)^T Sigma (beta - w)
  + sigma^2 with beta the effective weights in x space (no test set needed).
- :func:`ar1_gaussian`: Gaussian samples correlated across the sample index by a
  stationary AR(1) process (correlation exp(-|t-s|/xi)), with matched noise.
- :func:`nonlinear_rf_errors`: ReLU or erf random features on any inputs (Gaussian or
  real images), test error on a given test set.

Each function takes a CPU ``torch.Generator`` per draw (callers key it with
:func:`lmech.seeding.torch_generator`); draws are made on the CPU and moved to
``device``, so CPU and CUDA see the same numbers. Ridges are solved from one SVD per
draw: w(lambda) = V diag(s / (s^2 + P lambda)) U^T y for Z = U diag(s) V^T.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lmech._memory import check_allocation
from lmech.errors import InputError

__all__ = [
    "gaussian_samples",
    "ar1_gaussian",
    "linear_ridge_errors",
    "nested_rf_errors",
    "nonlinear_rf_errors",
    "pool_rf_errors",
    "relu_kernel",
]


def _normal(shape, gen, device) -> torch.Tensor:
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(device)


def _sqrt_cov(cov: np.ndarray) -> np.ndarray:
    """A factor R with R^T R = Sigma: sqrt(s) for a 1-D spectrum, else a symmetric root."""
    if cov.ndim == 1:
        return np.sqrt(cov)
    s, U = np.linalg.eigh(cov)
    return (U * np.sqrt(np.clip(s, 0, None))) @ U.T


def gaussian_samples(covariance: np.ndarray, n: int, gen, device="cpu") -> torch.Tensor:
    """(n, D) rows x ~ N(0, Sigma); ``covariance`` a 1-D spectrum (diagonal) or a matrix."""
    cov = np.asarray(covariance, dtype=np.float64)
    D = cov.shape[0]
    check_allocation(8 * n * D * 2, f"({n}, {D}) float64 samples", device=device)
    z = _normal((n, D), gen, device)
    R = torch.as_tensor(_sqrt_cov(cov), device=device)
    return z * R if cov.ndim == 1 else z @ R


def ar1_gaussian(
    covariance: np.ndarray, n: int, length: float, gen, device="cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""(X, g): n samples whose rows follow a stationary AR(1) process in the sample index,
    x_t = rho x_{t-1} + sqrt(1 - rho^2) xi_t with rho = exp(-1/length), so
    Cov(x_t, x_s) = exp(-|t-s|/length) Sigma; and g (n,) a unit AR(1) sequence with the
    same rho (the matched label noise is sigma * g)."""
    if not (math.isfinite(length) and length > 0):
        raise InputError(f"correlation length must be finite and > 0; got {length!r}")
    rho = math.exp(-1.0 / length)
    cov = np.asarray(covariance, dtype=np.float64)
    D = cov.shape[0]
    e = torch.randn((n, D + 1), generator=gen, dtype=torch.float64)
    c = math.sqrt(1.0 - rho * rho)
    z = torch.empty_like(e)
    z[0] = e[0]
    for t in range(1, n):  # (n, D+1): the last column is the noise sequence
        z[t] = rho * z[t - 1] + c * e[t]
    z = z.to(device)
    R = torch.as_tensor(_sqrt_cov(cov), device=device)
    X = z[:, :D] * R if cov.ndim == 1 else z[:, :D] @ R
    return X, z[:, D]


def _ridge_weights(Z: torch.Tensor, y: torch.Tensor, ridges: torch.Tensor) -> torch.Tensor:
    """(R, dim) ridge solutions of min (1/P)|y - Z a|^2 + lambda |a|^2 for every ridge
    (lambda = 0: minimum-norm least squares)."""
    P = Z.shape[0]
    U, sv, Vh = torch.linalg.svd(Z, full_matrices=False)
    keep = sv > sv.max() * max(Z.shape) * torch.finfo(torch.float64).eps
    c = U.T @ y  # (r,)
    denom = sv**2 + P * ridges[:, None]  # (R, r)
    factor = torch.where(keep, sv / torch.where(keep, denom, 1.0), 0.0)
    return (factor * c) @ Vh  # (R, dim)


def linear_ridge_errors(
    covariance: np.ndarray,
    teacher: np.ndarray,
    samples: int,
    ridges,
    noise_variance: float,
    gen: torch.Generator,
    *,
    features: int | None = None,
    ensemble_size: int = 1,
    shared_data: bool = True,
    device: str = "cpu",
    X: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
) -> dict[str, np.ndarray]:
    r"""Exact test and train errors of ridge (``features=None``) or of a K-member
    linear random-feature ensemble on one draw of data (and features), for every ridge.

    Features z = F^T x with F (D, N) i.i.d. N(0, 1/N); the ensemble averages the members'
    effective weights beta = (1/K) sum_k F_k a_k. ``X`` and ``noise`` (a unit-variance
    noise sequence) may be given (e.g. from :func:`ar1_gaussian`); otherwise they are
    drawn i.i.d. from ``gen``. Returns ``test_error`` (R,) = (beta - w)^T Sigma (beta - w)
    + sigma^2 (a fresh noisy test label) and ``train_error`` (R,) of the first member.
    """
    cov = np.asarray(covariance, dtype=np.float64)
    D = cov.shape[0]
    lam = torch.as_tensor(np.asarray(ridges, dtype=np.float64), device=device)
    w = torch.as_tensor(np.asarray(teacher, dtype=np.float64), device=device)
    C = torch.as_tensor(cov, device=device)
    sigma = math.sqrt(noise_variance)
    width = D if features is None else int(features)
    check_allocation(8 * (samples * (D + width) + D * width) * 3, "ridge simulation", device=device)
    beta = torch.zeros((lam.numel(), D), dtype=torch.float64, device=device)
    train = None
    data = None
    for member in range(ensemble_size):
        if data is None or not shared_data:
            if X is not None and member == 0:
                Xm, g = X, noise
            else:
                Xm = gaussian_samples(cov, samples, gen, device)
                g = _normal((samples,), gen, device)
            y = Xm @ w + sigma * g
            data = (Xm, y)
        Xm, y = data
        if features is None:
            a = _ridge_weights(Xm, y, lam)
            b = a
            Z = Xm
        else:
            F = _normal((D, width), gen, device) / math.sqrt(width)
            Z = Xm @ F
            a = _ridge_weights(Z, y, lam)
            b = a @ F.T
        if train is None:
            train = ((y[None, :] - a @ Z.T) ** 2).mean(dim=1)
        beta += b / ensemble_size
    e = beta - w
    quad = (e * e * C).sum(dim=1) if cov.ndim == 1 else ((e @ C) * e).sum(dim=1)
    return {
        "test_error": (quad + noise_variance).cpu().numpy(),
        "train_error": train.cpu().numpy(),
    }


def _activation(name: str):
    if name == "relu":
        return torch.relu
    if name == "erf":
        return torch.erf
    raise InputError(f"activation must be 'relu' or 'erf'; got {name!r}")


def nonlinear_rf_errors(
    X: torch.Tensor,
    y: torch.Tensor,
    X_test: torch.Tensor,
    f_test: torch.Tensor,
    features: int,
    ridges,
    gen: torch.Generator,
    *,
    activation: str = "relu",
    device: str = "cpu",
) -> np.ndarray:
    r"""Test MSE (R,) of random-feature KRR with ``features`` k features
    phi_j(x) = act(g_j . x / sqrt(d)), g_j ~ N(0, I_d), on one draw of the features.

    The random-feature kernel is K_hat = Phi Phi^T / k; KRR with ridge delta on the raw
    Gram, f(x) = phi(x) (Phi^T Phi + delta k)^{-1} Phi^T y, i.e. per-sample ridge
    lambda = delta / n in :func:`_ridge_weights` on Z = Phi / sqrt(k) (pass
    ``ridges`` = delta / n). The error is against ``f_test`` (add the test noise).
    """
    act = _activation(activation)
    n, d = X.shape
    check_allocation(8 * (n + X_test.shape[0]) * features * 2, "random features", device=device)
    G = _normal((d, features), gen, device)
    scale = 1.0 / math.sqrt(d)
    Z = act(X.to(device) @ G * scale) / math.sqrt(features)
    Zt = act(X_test.to(device) @ G * scale) / math.sqrt(features)
    lam = torch.as_tensor(np.asarray(ridges, dtype=np.float64), device=device)
    a = _ridge_weights(Z, y.to(device), lam)  # (R, k)
    pred = a @ Zt.T  # (R, m)
    return ((pred - f_test.to(device)[None, :]) ** 2).mean(dim=1).cpu().numpy()


def nested_rf_errors(
    covariance: np.ndarray,
    teacher: np.ndarray,
    samples,
    features,
    ridges,
    noise_variance: float,
    gen: torch.Generator,
    *,
    device: str = "cpu",
) -> np.ndarray:
    r"""Exact test errors (S, F, R) of linear random-feature ridge for nested sample and
    feature counts from one draw: the first P rows of one (P_max, D) data set and the first
    N columns of one (D, N_max) projection (rescaled to variance 1/N), for every ridge.
    Common random numbers: differences between sizes are not swamped by draw noise."""
    cov = np.asarray(covariance, dtype=np.float64)
    D = cov.shape[0]
    Pm, Nm = int(max(samples)), int(max(features))
    check_allocation(8 * (Pm * (D + Nm) + D * Nm) * 3, "nested RF simulation", device=device)
    X = gaussian_samples(cov, Pm, gen, device)
    g = _normal((Pm,), gen, device)
    G = _normal((D, Nm), gen, device)
    w = torch.as_tensor(np.asarray(teacher, dtype=np.float64), device=device)
    C = torch.as_tensor(cov, device=device)
    y = X @ w + math.sqrt(noise_variance) * g
    lam = torch.as_tensor(np.asarray(ridges, dtype=np.float64), device=device)
    out = np.empty((len(samples), len(features), lam.numel()))
    for i, P in enumerate(samples):
        for j, N in enumerate(features):
            F = G[:, : int(N)] / math.sqrt(int(N))
            a = _ridge_weights(X[: int(P)] @ F, y[: int(P)], lam)
            e = a @ F.T - w
            quad = (e * e * C).sum(dim=1) if cov.ndim == 1 else ((e @ C) * e).sum(dim=1)
            out[i, j] = (quad + noise_variance).cpu().numpy()
    return out


def relu_kernel(X: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
    r"""E_g[relu(g.x/sqrt(d)) relu(g.z/sqrt(d))], g ~ N(0, I_d): the arc-cosine kernel

    .. math:: K(x, z) = \frac{|x||z|}{2\pi d}\,(\sin\theta + (\pi - \theta)\cos\theta),

    (Cho and Saul, NeurIPS 2009), the kernel of :func:`nonlinear_rf_errors` features."""
    d = X.shape[1]
    nx, nz = X.norm(dim=1), Z.norm(dim=1)
    cos = ((X @ Z.T) / (nx[:, None] * nz[None, :]).clamp_min(1e-300)).clamp(-1.0, 1.0)
    theta = torch.arccos(cos)
    return (
        nx[:, None] * nz[None, :] * (torch.sin(theta) + (math.pi - theta) * cos) / (2 * math.pi * d)
    )


def pool_rf_errors(
    X_pool: torch.Tensor,
    y_pool: torch.Tensor,
    samples,
    features,
    ridges,
    gen: torch.Generator,
    *,
    activation: str = "relu",
    device: str = "cpu",
) -> np.ndarray:
    r"""Population test MSE (S, F, R) of random-feature KRR when the data distribution is
    uniform on a finite pool: n training points drawn with replacement from the pool
    (nested prefixes of one draw), k features phi_j(x) = act(g_j . x / sqrt(d)) (nested
    prefixes of one draw of k_max), KRR with ridge delta on the raw random-feature Gram
    (pass ``ridges`` = delta / n per sample count: (S, R)), error averaged over the
    whole pool (exact under that distribution)."""
    act = _activation(activation)
    M, d = X_pool.shape
    km, nm = int(max(features)), int(max(samples))
    check_allocation(8 * M * km * 3, f"({M}, {km}) pool random features", device=device)
    G = _normal((d, km), gen, device)
    rows = torch.randint(M, (nm,), generator=gen).to(device)
    Phi = act(X_pool.to(device) @ G / math.sqrt(d))  # (M, k_max)
    y = y_pool.to(device)
    lam_all = torch.as_tensor(np.asarray(ridges, dtype=np.float64), device=device)
    out = np.empty((len(samples), len(features), lam_all.shape[-1]))
    for i, n in enumerate(samples):
        r = rows[: int(n)]
        for j, k in enumerate(features):
            Zk = Phi[:, : int(k)] / math.sqrt(int(k))
            a = _ridge_weights(Zk[r], y[r], lam_all[i])
            out[i, j] = ((a @ Zk.T - y[None, :]) ** 2).mean(dim=1).cpu().numpy()
    return out

r"""In-context regression simulators: task samplers, ridge-pretrained linear attention, dMMSE.

The data model of Lu et al. (2025): tokens x ~ N(0, I_d/d), labels y = w.x + eps,
eps ~ N(0, rho), ell = alpha d context pairs and a query. The reduced linear-attention
model predicts :math:`\hat y = x_q^\top\Gamma h` with
:math:`h = [(d/\ell)\sum_i y_i x_i;\ (1/\ell)\sum_i y_i^2]`, i.e. it is linear in the
feature :math:`\mathrm{vec}(x_q h^\top) \in \mathbb{R}^{d(d+1)}`, so pretraining by ridge
regression on n contexts is one linear solve (primal for n >= d(d+1), dual below).

All draws come from CPU generators keyed by what they are for (so CPU and CUDA runs see
the same numbers); the linear algebra runs in float64 on ``device``.

References:
    Lu, Letey, Zavatone-Veth, Maiti, Pehlevan, PNAS 2025 (arXiv 2405.11751), the
    pretraining objective and the dMMSE estimator; Letey et al. 2025 (arXiv 2509.26551),
    Gaussian tasks with a covariance.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lmech._memory import check_allocation
from lmech.errors import InputError
from lmech.experiment._aligned import aligned_cross_moments
from lmech.seeding import torch_generator

__all__ = [
    "sample_tasks",
    "symmetric_pool",
    "sample_contexts",
    "context_features",
    "fit_gamma",
    "pretrained_gamma",
    "dmmse_errors",
    "deep_linear_attention_losses",
    "train_transformer_icl",
    "train_linear_attention",
    "attention_excess_error",
    "pool_optimal_gamma",
    "sample_context_statistics",
    "ridge_gamma",
    "pretrained_gammas",
    "pretrained_errors",
]

_CHUNK = 2000


def _check_d(d: int) -> int:
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise InputError(f"the token dimension d must be an integer >= 2; got {d!r}")
    return int(d)


def sample_tasks(
    count: int, d: int, gen: torch.Generator, *, sphere: bool = True, covariance=None
) -> torch.Tensor:
    """(count, d) float64 task vectors on CPU.

    ``sphere=True``: uniform on the sphere of radius sqrt(d) (E[w w^T] = I, |w|^2 = d, the
    prior of the exact error :func:`lmech.theory.icl.gamma_error`); otherwise Gaussian
    N(0, C) with ``covariance`` C (default I).
    """
    d = _check_d(d)
    g = torch.randn(count, d, generator=gen, dtype=torch.float64)
    if sphere:
        if covariance is not None:
            raise InputError("sphere tasks are isotropic; pass sphere=False with a covariance")
        return g * math.sqrt(d) / g.norm(dim=1, keepdim=True)
    if covariance is None:
        return g
    c = torch.as_tensor(np.asarray(covariance, dtype=np.float64))
    evals, evecs = torch.linalg.eigh(c)
    if evals.min() < -1e-10 * max(1.0, float(evals.max())):
        raise InputError(
            f"the task covariance must be positive semi-definite; smallest eigenvalue "
            f"{float(evals.min()):.3g}"
        )
    root = evecs * evals.clamp(min=0).sqrt()  # C = root root^T
    return g @ root.T


def symmetric_pool(count: int, d: int, gen: torch.Generator) -> torch.Tensor:
    """A pool of ``count`` (even) sphere tasks closed under w -> -w: count/2 draws and their
    negatives, so the pool's mean is exactly 0 (its second moment is that of the draws)."""
    if count < 2 or count % 2:
        raise InputError(f"a symmetric pool needs an even number of tasks >= 2; got {count}")
    half = sample_tasks(count // 2, d, gen)
    return torch.cat([half, -half])


def sample_contexts(tasks: torch.Tensor, ell: int, rho: float, gen: torch.Generator):
    """Contexts for given per-context tasks (n, d): returns (h (n, d+1), x_q (n, d), y_q (n,)).

    h = [(d/ell) sum_i y_i x_i ; (1/ell) sum_i y_i^2] over ell fresh tokens.
    """
    n, d = tasks.shape
    x = torch.randn(n, ell + 1, d, generator=gen, dtype=torch.float64) / math.sqrt(d)
    y = torch.einsum("nld,nd->nl", x, tasks)
    y = y + math.sqrt(rho) * torch.randn(n, ell + 1, generator=gen, dtype=torch.float64)
    xc, yc = x[:, :ell], y[:, :ell]
    h = torch.cat(
        [(d / ell) * torch.einsum("nl,nld->nd", yc, xc), (yc * yc).mean(1, keepdim=True)], 1
    )
    return h, x[:, ell], y[:, ell]


def context_features(h: torch.Tensor, xq: torch.Tensor) -> torch.Tensor:
    """vec(x_q h^T): (n, d(d+1)), row-major so that Gamma.flatten() is the weight vector."""
    return (xq[:, :, None] * h[:, None, :]).reshape(len(h), -1)


def fit_gamma(
    pool: torch.Tensor | None,
    d: int,
    n: int,
    ell: int,
    rho: float,
    ridge,
    gen: torch.Generator,
    *,
    device="cpu",
):
    r"""Ridge-pretrained Gamma (d, d+1) from n contexts.

    .. math:: \mathrm{vec}\,\Gamma^* = \arg\min \sum_\mu (y^\mu - \langle\Gamma, H^\mu
              \rangle)^2 + (n/d)\lambda\|\Gamma\|_F^2

    Primal :math:`(H^\top H + (n/d)\lambda I)^{-1}H^\top y` when n >= d(d+1) (Gram
    accumulated in chunks), dual :math:`H^\top(HH^\top + (n/d)\lambda I)^{-1}y` otherwise.
    ``ridge`` may be a sequence: every ridge is solved from the same Gram matrix and a
    list of Gammas is returned.
    Context mu uses pool task mu mod k after a random permutation (each task used
    n/k times, up to one), or a fresh sphere task when ``pool`` is None (kappa = inf).

    References:
        Lu et al. (2025), the pretraining objective (authors' code ``learn_Gamma``).
    """
    d = _check_d(d)
    D = d * (d + 1)
    if n < 1 or ell < 1:
        raise InputError(f"need n >= 1 contexts and ell >= 1 tokens; got n={n}, ell={ell}")
    primal = n >= D
    check_allocation(
        8 * (D * D if primal else n * D + n * n) + 8 * _CHUNK * (ell + 1) * d * 3,
        f"the ridge pretraining of Gamma (d = {d}, n = {n})",
        "use a smaller d or tau",
        device=device,
    )
    if pool is not None:
        k = len(pool)
        idx = torch.randperm(n, generator=gen) % k
    ridges = [float(r) for r in np.atleast_1d(ridge)]
    if primal:
        G = torch.zeros(D, D, dtype=torch.float64, device=device)
        b = torch.zeros(D, dtype=torch.float64, device=device)
    else:
        rows, ys = [], []
    for start in range(0, n, _CHUNK):
        m = min(_CHUNK, n - start)
        tasks = pool[idx[start : start + m]] if pool is not None else sample_tasks(m, d, gen)
        h, xq, yq = sample_contexts(tasks, ell, rho, gen)
        F = context_features(h, xq).to(device)
        yq = yq.to(device)
        if primal:
            G += F.T @ F
            b += F.T @ yq
        else:
            rows.append(F)
            ys.append(yq)
    if not primal:
        H = torch.cat(rows)
        G, b = H @ H.T, torch.cat(ys)
    out = []
    for lam in ridges:
        A = G.clone()
        A.diagonal().add_((n / d) * lam)
        v = _solve_psd(A, b) if primal else H.T @ _solve_psd(A, b)
        out.append(v.reshape(d, d + 1).cpu().numpy())
    return out if np.ndim(ridge) else out[0]


def _solve_psd(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) == 0:
        return torch.cholesky_solve(b[:, None], L)[:, 0]
    return torch.linalg.lstsq(A, b[:, None]).solution[:, 0]  # singular (ridge = 0, rank-deficient)


def pretrained_gamma(
    d: int,
    alpha: float,
    kappa: float,
    tau: float,
    rho: float,
    ridge,
    seed: int,
    *keys,
    device="cpu",
    sphere: bool = True,
    train_covariance=None,
):
    """Draw a pool (k = round(kappa d), or none for kappa = inf), fit Gamma.

    Returns (Gamma, pool or None). ``sphere=False`` uses Gaussian tasks N(0, C_train).
    n = round(tau d^2) contexts, ell = round(alpha d) tokens.
    """
    d = _check_d(d)
    gen = torch_generator(seed, "icl-pretrain", d, *keys)
    ell = max(1, round(alpha * d))
    n = max(1, round(tau * d * d))
    if math.isinf(kappa):
        if not sphere:
            raise InputError("kappa = inf is implemented for sphere tasks only")
        pool = None
    else:
        k = max(1, round(kappa * d))
        pool = sample_tasks(k, d, gen, sphere=sphere, covariance=train_covariance)
    return fit_gamma(pool, d, n, ell, rho, ridge, gen, device=device), pool


def dmmse_errors(
    pool: torch.Tensor, ell: int, rho: float, contexts: int, gen: torch.Generator, *, device="cpu"
):
    r"""ICL and IDG errors of the dMMSE estimator (posterior mean over the pool), Monte Carlo.

    .. math:: \hat w = \sum_j w_j\,\mathrm{softmax}_j(-\|y - Xw_j\|^2/2\rho)

    is Bayes-optimal when the test task is drawn from the pool. The error per context is
    exact over the query, :math:`|w - \hat w|^2/d + \rho`. Returns (mean ICL error,
    mean IDG error, their standard errors) over ``contexts`` test contexts each.

    References:
        Lu et al. (2025), the dMMSE baseline of Fig. 4 (after Raventos et al. 2023).
    """
    k, d = pool.shape
    if rho <= 0:
        raise InputError(f"dMMSE needs label noise rho > 0; got {rho}")
    poold = pool.to(device)
    out = []
    # the (chunk, ell, k) likelihood tensor is kept under 2^25 entries (256 MiB)
    chunk = dmmse_chunk(ell, k)
    check_allocation(4 * 8 * chunk * ell * (k + d), "the dMMSE posterior", device=device)
    for which in ("icl", "idg"):
        errs = []
        for start in range(0, contexts, chunk):
            m = min(chunk, contexts - start)
            if which == "icl":
                w = sample_tasks(m, d, gen)
            else:
                w = pool[torch.randint(k, (m,), generator=gen)]
            x = torch.randn(m, ell, d, generator=gen, dtype=torch.float64) / math.sqrt(d)
            y = torch.einsum("nld,nd->nl", x, w)
            y = y + math.sqrt(rho) * torch.randn(m, ell, generator=gen, dtype=torch.float64)
            x, y, w = x.to(device), y.to(device), w.to(device)
            pred = torch.einsum("nld,kd->nlk", x, poold)  # (m, ell, k)
            logp = -((y[:, :, None] - pred) ** 2).sum(1) / (2 * rho)
            what = torch.softmax(logp, dim=1) @ poold
            errs.append(((w - what) ** 2).sum(1) / d + rho)
        e = torch.cat(errs)
        out.append((float(e.mean()), float(e.std() / math.sqrt(len(e)))))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def dmmse_chunk(ell: int, k: int) -> int:
    """Test contexts per chunk of :func:`dmmse_errors` (at most 2000 and 2^25 / (ell k))."""
    return max(1, min(_CHUNK, 2**25 // max(1, ell * k)))


def _gd_polynomial(gammas: torch.Tensor, depth: int, lam: torch.Tensor):
    """p = 1 - (1 - gamma lam / L)^L and p / lam (-> gamma at lam = 0), shape (m, G, D)."""
    g = gammas[None, :, None]
    lam = lam[:, None, :]
    p = 1 - (1 - g * lam / depth) ** depth
    safe = torch.where(lam > 1e-12, lam, torch.ones_like(lam))
    p_over = torch.where(lam > 1e-12, p / safe, g.expand_as(p))
    return p, p_over


def deep_linear_attention_losses(
    depth: int,
    alpha: float,
    dim: int,
    gammas,
    noise: float,
    contexts: int,
    gen: torch.Generator,
    *,
    spectrum=None,
    device="cpu",
) -> np.ndarray:
    r"""Monte-Carlo test loss of L-layer deep linear attention with Gamma = gamma I, per gamma.

    The predictor is L steps of GD with step gamma/L from w = 0 on :math:`\|y - Xw\|^2/2P`,
    :math:`\hat w = p(\hat\Sigma)\hat\Sigma^{-1}X^\top y/P`, :math:`p(\lambda) = 1 -
    (1-\gamma\lambda/L)^L`. Each context draws P = alpha D tokens x = Lambda^{1/2} g
    (g ~ N(0, I_D); ``spectrum`` Lambda, default I = the ISO setting), a task
    w = beta/sqrt(D), beta ~ N(0, I), and labels y = x.w + noise^{1/2} eps. The loss
    :math:`(w - \hat w)^\top\Lambda(w - \hat w) + \sigma^2` is exact over the query.

    With a randomly rotated covariance :math:`\Sigma_c = O\Lambda O^\top` (the RRS
    setting) the loss of Gamma = gamma I does not depend on O (the isotropic task and the
    predictor rotate with it), so O is not drawn: the RRS measurement of gamma I is the
    fixed-Lambda one. Returns the mean loss over ``contexts`` for every gamma (common
    random numbers across gammas).

    References:
        Bordelon, Letey, Pehlevan (2025), the deep linear self-attention predictor.
    """
    D = _check_d(dim)
    P = max(1, round(alpha * D))
    g = torch.as_tensor(np.asarray(gammas, dtype=np.float64), device=device)
    lam_half = (
        torch.ones(D, dtype=torch.float64)
        if spectrum is None
        else torch.as_tensor(np.asarray(spectrum, dtype=np.float64)).sqrt()
    ).to(device)
    check_allocation(
        8 * 200 * (P * D + 3 * len(g) * D), "the deep-attention Monte Carlo", device=device
    )
    total = torch.zeros(len(g), dtype=torch.float64, device=device)
    done = 0
    while done < contexts:
        m = min(200, contexts - done)
        G = torch.randn(m, P, D, generator=gen, dtype=torch.float64).to(device)
        X = G * lam_half  # (m, P, D)
        w = torch.randn(m, D, generator=gen, dtype=torch.float64).to(device) / math.sqrt(D)
        eps = torch.randn(m, P, generator=gen, dtype=torch.float64).to(device)
        S = X.transpose(1, 2) @ X / P
        mu, V = torch.linalg.eigh(S)
        mu = mu.clamp(min=0)
        a = torch.einsum("mdk,md->mk", V, w)
        c = math.sqrt(noise) * torch.einsum("mdk,mpd,mp->mk", V, X, eps) / P
        p, p_over = _gd_polynomial(g, depth, mu)
        u = (1 - p) * a[:, None, :] - p_over * c[:, None, :]  # residual in S's eigenbasis
        K = torch.einsum("mdk,d,mdl->mkl", V, lam_half**2, V)  # Lambda in that basis
        total += torch.einsum("mgk,mkl,mgl->g", u, K, u)
        done += m
    return (total / contexts + noise).cpu().numpy()


def _sequences(tasks: torch.Tensor, ell: int, rho: float, gen: torch.Generator):
    """(z (n, ell+1, d+1) with the query label zeroed, y_q (n,))."""
    n, d = tasks.shape
    x = torch.randn(n, ell + 1, d, generator=gen, dtype=torch.float64) / math.sqrt(d)
    y = torch.einsum("nld,nd->nl", x, tasks)
    y = y + math.sqrt(rho) * torch.randn(n, ell + 1, generator=gen, dtype=torch.float64)
    z = torch.cat([x, y[:, :, None]], 2)
    yq = z[:, -1, -1].clone()
    z[:, -1, -1] = 0.0
    return z, yq


def train_transformer_icl(
    d: int,
    alpha: float,
    tau: float,
    rho: float,
    *,
    width: int,
    layers: int,
    mlp: bool,
    steps: int,
    lr: float,
    test_contexts: int,
    seed: int,
    keys=(),
    device="cpu",
) -> tuple[float, float]:
    """Train :class:`lmech.nn.attention.ICLTransformer` by full-batch AdamW on n = tau d^2
    contexts (fresh sphere task each, kappa = inf) and return (train MSE, ICL test MSE on
    fresh contexts). float32 training; data drawn on CPU from keyed generators.
    """
    from lmech.nn.attention import ICLTransformer

    d = _check_d(d)
    ell = max(1, round(alpha * d))
    n = max(1, round(tau * d * d))
    check_allocation(
        4 * (n + test_contexts) * (ell + 1) * (width * 8 + d + 1),
        "the Transformer data",
        device=device,
    )
    gen = torch_generator(seed, "transformer-data", d, *keys)
    z, yq = _sequences(sample_tasks(n, d, gen), ell, rho, gen)
    zt, yt = _sequences(sample_tasks(test_contexts, d, gen), ell, rho, gen)
    init_seed = int(torch.randint(2**31 - 1, (1,), generator=gen))
    with torch.random.fork_rng(devices=[]):  # keyed init; the global RNG is left untouched
        torch.manual_seed(init_seed)
        model = ICLTransformer(d, width, layers, mlp)
    model = model.to(device)
    z, yq = z.float().to(device), yq.float().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(z) - yq) ** 2).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        train = float(((model(z) - yq) ** 2).mean())
        test = float(((model(zt.float().to(device)) - yt.float().to(device)) ** 2).mean())
    return train, test


def _pool_tasks(pool: torch.Tensor | None, m: int, d: int, gen: torch.Generator):
    """m tasks: uniform from the pool, or fresh sphere tasks when ``pool`` is None."""
    if pool is None:
        return sample_tasks(m, d, gen)
    return pool[torch.randint(len(pool), (m,), generator=gen)]


def train_linear_attention(
    d: int,
    alpha: float,
    rho: float,
    pool: torch.Tensor | None,
    *,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    keys=(),
    init_scale: float = 0.1,
    init: str = "label",
    contexts: int | None = None,
    device="cpu",
):
    r"""Train :class:`lmech.nn.attention.LinearSelfAttention` (W_K, W_Q, W_V, W_P) by Adam.

    Squared loss on the query label. ``contexts=None``: every step draws ``batch`` fresh
    contexts whose tasks come from ``pool`` (uniformly; fresh sphere tasks if None), i.e.
    pretraining with tau -> infinity at finite k; otherwise one fixed set of ``contexts``
    sequences (tasks in equal shares, as :func:`fit_gamma`) is used, full batch. The
    learning rate follows a cosine from ``lr`` to 0, so the last steps remove the
    stochastic-gradient noise. float64 throughout. Returns (model, final mean training
    loss over the last 10% of steps).

    References:
        Lu et al. (2025), pretraining of the linear attention layer on the ICL task.
    """
    from lmech.nn.attention import LinearSelfAttention

    d = _check_d(d)
    if steps < 1 or batch < 1:
        raise InputError(f"need steps >= 1 and batch >= 1; got steps={steps}, batch={batch}")
    ell = max(1, round(alpha * d))
    size = batch if contexts is None else contexts
    check_allocation(
        8 * 6 * size * (ell + 1) * (d + 1), "the attention training batch", device=device
    )
    gen = torch_generator(seed, "linear-attention", d, *keys)
    init_seed = int(torch.randint(2**31 - 1, (1,), generator=gen))
    with torch.random.fork_rng(devices=[]):  # keyed init; the global RNG is left untouched
        torch.manual_seed(init_seed)
        model = LinearSelfAttention(d, init_scale, init).double()
    model = model.to(device)
    if contexts is not None:
        if pool is None:
            tasks = sample_tasks(contexts, d, gen)
        else:
            tasks = pool[torch.randperm(contexts, generator=gen) % len(pool)]
        z_fixed, y_fixed = (t.to(device) for t in _sequences(tasks, ell, rho, gen))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, steps) / steps))
    )
    tail = []
    for step in range(steps):
        if contexts is None:
            z, yq = (
                t.to(device) for t in _sequences(_pool_tasks(pool, batch, d, gen), ell, rho, gen)
            )
        else:
            z, yq = z_fixed, y_fixed
        opt.zero_grad()
        loss = ((model(z) - yq) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()
        if step >= steps - max(1, steps // 10):
            tail.append(float(loss.detach()))
    return model, float(np.mean(tail))


@torch.no_grad()
def attention_excess_error(
    model,
    gamma,
    alpha: float,
    rho: float,
    pool: torch.Tensor | None,
    contexts: int,
    gen: torch.Generator,
    *,
    device="cpu",
):
    r"""Test error of a trained attention layer minus that of a reference Gamma, paired.

    On the same ``contexts`` fresh test sequences (tasks from ``pool``, or fresh sphere
    tasks if None) returns the mean and standard error of
    :math:`(y_q - \hat y_{model})^2 - (y_q - x_q^\top\Gamma h)^2`, and the mean squared
    label-free part of the model's output (:meth:`LinearSelfAttention.reduced_form`)
    relative to the mean squared output. Pairing removes the context-to-context spread
    common to both predictors, so the excess is resolved far below the error's own
    Monte-Carlo standard error; adding the reference's exact error
    (:func:`lmech.theory.icl.gamma_error`) gives an unbiased estimate of the model's error.
    """
    d = int(gamma.shape[0])
    ell = max(1, round(alpha * d))
    g = torch.as_tensor(np.asarray(gamma, dtype=np.float64), device=device)
    _, vx, ax = model.reduced_form()
    vx = torch.as_tensor(vx, device=device)
    ax = torch.as_tensor(ax, device=device)
    diffs, free2, out2 = [], 0.0, 0.0
    for start in range(0, contexts, _CHUNK):
        m = min(_CHUNK, contexts - start)
        z, yq = (t.to(device) for t in _sequences(_pool_tasks(pool, m, d, gen), ell, rho, gen))
        f = model(z)
        x, y, xq = z[:, :ell, :d], z[:, :ell, d], z[:, ell, :d]
        h = torch.cat([(d / ell) * torch.einsum("nl,nld->nd", y, x), (y * y).mean(1, True)], 1)
        f_ref = torch.einsum("ni,ij,nj->n", xq, g, h)
        diffs.append((yq - f) ** 2 - (yq - f_ref) ** 2)
        sig = torch.einsum("nli,nlj->nij", x, x) / ell
        free = torch.einsum("i,nij,jk,nk->n", vx, sig, ax, xq)
        free2 += float((free**2).sum())
        out2 += float((f**2).sum())
    e = torch.cat(diffs)
    return float(e.mean()), float(e.std() / math.sqrt(len(e))), free2 / max(out2, 1e-300)


def pool_optimal_gamma(pool: torch.Tensor, alpha: float, rho: float) -> np.ndarray:
    r"""The reduced model pretrained on infinitely many contexts of a given task pool.

    Contexts draw their task uniformly from ``pool`` (k, d) (any tasks, e.g. Gaussian
    with a covariance). Per task, :math:`E[h_x|w] = w` and :math:`E[h_xh_x^\top|w] =
    (1+1/\ell)ww^\top + (|w|^2/d + \rho)/\alpha\,I`, so over the pool the pretraining loss
    of :math:`\Gamma = [\Gamma_x, 0]` is minimized by

    .. math:: \Gamma_x = \hat C\big[(1+1/\ell)\hat C + (\operatorname{tr}\hat C/d + \rho)
              /\alpha\,I\big]^{-1},\quad \hat C = \tfrac1k\sum_j w_jw_j^\top.

    The column of the label-norm feature :math:`\frac1\ell\sum y_i^2` is held at 0 (its
    optimum is O(1/k) for a zero-mean task distribution and needs third and fourth
    moments of the pool). Returns the (d, d+1) Gamma. float64, CPU.

    References:
        Lu et al. (2025), the pretraining objective; its tau -> infinity limit at finite
        d and k, derived here.
    """
    W = pool.double().cpu().numpy()
    k, d = W.shape
    ell = max(1, round(alpha * d))
    C = W.T @ W / k
    B = (1 + 1 / ell) * C + (np.trace(C) / d + rho) / alpha * np.eye(d)
    gx = np.linalg.solve(B, C).T  # C B^{-1} (B symmetric)
    return np.hstack([gx, np.zeros((d, 1))])


# --------------------------------------------------------------------------- fast pretraining


def sample_context_statistics(tasks: torch.Tensor, ell: int, rho: float, gen: torch.Generator):
    r"""The same (h, x_q, y_q) as :func:`sample_contexts`, in O(ell + d) per context.

    ``tasks`` is (..., n, d); the outputs have its leading shape. The context enters h only
    through :math:`X^\top y` and :math:`|y|^2`, which
    :func:`lmech.experiment._aligned.aligned_cross_moments` draws from their exact joint
    law (tokens :math:`x_i \sim N(0, I/d)`, :math:`y_i = w^\top x_i + \sqrt\rho\,\eta_i`),
    so h has exactly the distribution of direct token sampling. The query token and its
    label are drawn directly.

    References:
        Lu et al. (2025), the context statistics h of the reduced model; this exact
        O(ell + d) draw is derived here.
    """
    if tasks.dim() < 2 or tasks.shape[-1] < 1:
        raise InputError(f"tasks must be (..., n, d); got shape {tuple(tasks.shape)}")
    if isinstance(ell, bool) or not isinstance(ell, (int, np.integer)) or ell < 1:
        raise InputError(f"the context length ell must be an integer >= 1; got {ell!r}")
    if not (math.isfinite(rho) and rho >= 0):
        raise InputError(f"the label-noise variance rho must be finite and >= 0; got {rho!r}")
    *lead, n, d = tasks.shape
    w = tasks.reshape(-1, d).to(device="cpu", dtype=torch.float64)  # drawn on CPU
    m = len(w)

    def normal(shape):
        return torch.randn(shape, generator=gen, dtype=torch.float64)

    # tokens x = x~ / sqrt(d), x~ ~ N(0, I): y = (w / sqrt(d))^T x~ and X^T y = X~^T y / sqrt(d)
    xy, s2 = aligned_cross_moments(w / math.sqrt(d), ell, math.sqrt(rho), normal)
    xq = normal((m, d)) / math.sqrt(d)
    eq = normal((m,))
    hx = (math.sqrt(d) / ell) * xy
    h = torch.cat([hx, s2 / ell], 1)
    yq = (w * xq).sum(1) + math.sqrt(rho) * eq
    return h.reshape(*lead, n, d + 1), xq.reshape(*lead, n, d), yq.reshape(*lead, n)


def _kron_pcg(xq, h, yq, lam, tol: float, max_iter: int):
    """Batched preconditioned CG for (F^T F + lam I) vec G = F^T y, F = rows vec(x_q h^T).

    Matrix-free: F vec(V) = rowwise x_q^T V h and F^T u = X^T diag(u) H, 4 n d (d+1) flops
    per iteration instead of the n (d(d+1))^2 of the Gram. Preconditioner: the Kronecker
    approximation (X^T X) (x) (H^T H) / n of F^T F (x_q is independent of h), applied as
    n Sx^{-1} R Sh^{-1}. Returns (Gamma (B, d, d+1), converged (B,) bool, iterations).
    """
    n = xq.shape[1]
    Lx = torch.linalg.cholesky(xq.transpose(1, 2) @ xq)
    Lh, info = torch.linalg.cholesky_ex(h.transpose(1, 2) @ h)
    if bool((info != 0).any()):  # a degenerate label-norm column: no preconditioning
        return None

    def op(V):
        s = ((xq @ V) * h).sum(2, keepdim=True)
        return xq.transpose(1, 2) @ (s * h) + lam * V

    def prec(R):
        return n * torch.cholesky_solve(torch.cholesky_solve(R, Lx).transpose(1, 2), Lh).mT

    b = xq.transpose(1, 2) @ (yq[:, :, None] * h)
    V = torch.zeros_like(b)
    r = b.clone()
    z = prec(r)
    p = z.clone()
    rz = (r * z).sum((1, 2))
    bnorm = b.norm(dim=(1, 2)).clamp(min=1e-300)
    done = torch.zeros(len(b), dtype=torch.bool, device=b.device)
    for it in range(1, max_iter + 1):
        Ap = op(p)
        step = torch.where(done, 0.0, rz / (p * Ap).sum((1, 2)).clamp(min=1e-300))
        V += step[:, None, None] * p
        r -= step[:, None, None] * Ap
        done = done | (r.norm(dim=(1, 2)) <= tol * bnorm)
        if bool(done.all()):
            return V, done, it
        z = prec(r)
        rz_new = (r * z).sum((1, 2))
        p = z + (rz_new / rz.clamp(min=1e-300))[:, None, None] * p
        rz = rz_new
    return V, done, max_iter


def ridge_gamma(xq, h, yq, ridge: float, *, method: str = "auto", tol: float = 1e-11):
    r"""Ridge-pretrained Gamma from context statistics, batched over draws.

    ``xq`` (B, n, d), ``h`` (B, n, d+1), ``yq`` (B, n) (or without the batch axis). Solves

    .. math:: \mathrm{vec}\,\Gamma^* = (F^\top F + (n/d)\lambda I)^{-1}F^\top y,\quad
              F_\mu = \mathrm{vec}(x_{q,\mu}h_\mu^\top),

    the estimator of :func:`fit_gamma`, by one of three exact routes (``method``):

    * ``"dual"``: :math:`\Gamma = \sum_\mu u_\mu x_{q,\mu}h_\mu^\top` with
      :math:`(K + (n/d)\lambda I)u = y`, :math:`K = (XX^\top)\circ(HH^\top)` (the Gram of
      Kronecker features is the Hadamard product of two small Grams: 2 n^2 (2d+1) flops,
      not n^2 d(d+1)); Cholesky.
    * ``"primal"``: the D x D Gram (D = d(d+1)) and its Cholesky factor.
    * ``"cg"``: matrix-free conjugate gradients on the primal normal equations,
      preconditioned by the Kronecker factorization of the Gram (70-80 iterations at
      tau = 2, each O(n D)), to a relative residual ``tol``; members that do not converge
      in 2000 iterations are re-solved by ``"primal"``.

    ``"auto"`` takes "dual" for n < D, "primal" for D <= 300, "cg" otherwise (the
    crossover measured on one core: cg is 1.4x faster at d = 24, 2.4x at d = 32, 0.7x at
    d = 16). float64 on the tensors' device. Returns Gamma (B, d, d+1) (or (d, d+1)).
    """
    if method not in ("auto", "dual", "primal", "cg"):
        raise InputError(f"method must be auto, dual, primal or cg; got {method!r}")
    if not (math.isfinite(ridge) and ridge >= 0):
        raise InputError(f"the ridge lambda must be finite and >= 0; got {ridge!r}")
    if (
        xq.dim() not in (2, 3)
        or h.shape != (*xq.shape[:-1], xq.shape[-1] + 1)
        or (yq.shape != xq.shape[:-1])
    ):
        raise InputError(
            "ridge_gamma needs xq (B, n, d), h (B, n, d+1) and yq (B, n); got shapes "
            f"{tuple(xq.shape)}, {tuple(h.shape)}, {tuple(yq.shape)}"
        )
    single = xq.dim() == 2
    if single:
        xq, h, yq = xq[None], h[None], yq[None]
    B, n, d = xq.shape
    D = d * (d + 1)
    lam = (n / d) * float(ridge)
    if method == "auto":
        method = "dual" if n < D else ("primal" if D <= 300 else "cg")
    dev = xq.device
    if method == "dual":
        check_allocation(3 * 8 * B * n * n, f"the dual ridge solve (n = {n})", device=dev)
        K = (xq @ xq.transpose(1, 2)) * (h @ h.transpose(1, 2))
        K.diagonal(dim1=1, dim2=2).add_(lam)
        u = _solve_psd_batched(K, yq[:, :, None])
        out = xq.transpose(1, 2) @ (u * h)
    elif method == "primal":
        check_allocation(3 * 8 * B * D * D, f"the primal ridge solve (D = {D})", device=dev)
        F = (xq[:, :, :, None] * h[:, :, None, :]).reshape(B, n, D)
        G = F.transpose(1, 2) @ F
        G.diagonal(dim1=1, dim2=2).add_(lam)
        out = _solve_psd_batched(G, F.transpose(1, 2) @ yq[:, :, None]).reshape(B, d, d + 1)
    else:
        res = _kron_pcg(xq, h, yq, lam, tol, 2000)
        if res is None:
            out = ridge_gamma(xq, h, yq, ridge, method="primal")
        else:
            out, done, _ = res
            if not bool(done.all()):
                bad = ~done
                out[bad] = ridge_gamma(xq[bad], h[bad], yq[bad], ridge, method="primal")
    return out[0] if single else out


def _solve_psd_batched(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    L, info = torch.linalg.cholesky_ex(A)
    if bool((info == 0).all()):
        return torch.cholesky_solve(b, L)
    return torch.linalg.lstsq(A, b).solution  # singular (ridge = 0, rank-deficient)


def _check_system(alpha, kappa, tau, rho, ridge) -> None:
    for name, v, ok in (
        ("alpha (context length / d)", alpha, math.isfinite(alpha) and alpha > 0),
        ("kappa (task-pool size / d; math.inf for fresh tasks)", kappa, kappa > 0),
        ("tau (pretraining contexts / d^2)", tau, math.isfinite(tau) and tau > 0),
        ("rho (label-noise variance)", rho, math.isfinite(rho) and rho >= 0),
        ("ridge (lambda)", ridge, math.isfinite(ridge) and ridge >= 0),
    ):
        if not ok:  # NaN fails every comparison
            raise InputError(f"{name} must be > 0 (rho, ridge >= 0) and finite; got {v!r}")


def pretrained_gammas(
    d: int,
    alpha: float,
    kappa: float,
    tau: float,
    rho: float,
    ridge: float,
    seed: int,
    draws,
    *keys,
    device="cpu",
):
    """Ridge-pretrained Gamma for each draw index in ``draws``, solved as one batch.

    Draw s has its own generator keyed (seed, "icl-pretrain-fast", d, *keys, s), so a
    draw's numbers do not depend on which other draws share its batch. Each draw samples a
    pool of k = round(kappa d) sphere tasks (none for kappa = inf: a fresh task per
    context), n = round(tau d^2) contexts using the pool in equal shares after a random
    permutation (as :func:`fit_gamma`), with :func:`sample_context_statistics`, and
    :func:`ridge_gamma` solves the batch (CG to a relative residual of 1e-9). Returns
    (Gamma (B, d, d+1) float64 numpy, pools (B, k, d) numpy or None).
    """
    d = _check_d(d)
    _check_system(alpha, kappa, tau, rho, ridge)
    ell = max(1, round(alpha * d))
    n = max(1, round(tau * d * d))
    k = None if math.isinf(kappa) else max(1, round(kappa * d))
    draws = list(draws)
    if not draws:
        raise InputError("draws must name at least one draw index")
    check_allocation(
        8 * len(draws) * (n * (3 * d + 4) + 2 * n * ell),
        f"the context statistics of {len(draws)} pretraining draws (d = {d}, n = {n})",
        "use fewer draws per batch",
        device=device,
    )
    xs, hs, ys, pools = [], [], [], []
    for s in draws:
        gen = torch_generator(seed, "icl-pretrain-fast", d, *keys, s)
        if k is None:
            tasks = sample_tasks(n, d, gen)
        else:
            pool = sample_tasks(k, d, gen)
            pools.append(pool)
            tasks = pool[torch.randperm(n, generator=gen) % k]
        h, xq, yq = sample_context_statistics(tasks, ell, rho, gen)
        xs.append(xq)
        hs.append(h)
        ys.append(yq)
    # CG to a relative residual of 1e-9: 61 iterations instead of 76 at d = 48, tau = 2,
    # moving the exact errors by < 1e-9 relative (measured)
    g = ridge_gamma(
        torch.stack(xs).to(device),
        torch.stack(hs).to(device),
        torch.stack(ys).to(device),
        ridge,
        tol=1e-9,
    )
    return g.cpu().numpy(), (torch.stack(pools).numpy() if pools else None)


def _draw_batch(n: int, ell: int, d: int, dual: bool) -> int:
    """Draws per batched solve: about 4e6 float64 of context statistics (and dual Grams)."""
    per = n * (2 * ell + 3 * d + 4) + (3 * n * n if dual else 0)
    return max(1, min(16, 4_000_000 // max(1, per)))


def pretrained_errors(
    d: int,
    alpha: float,
    kappa: float,
    tau: float,
    rho: float,
    ridge: float,
    seed: int,
    draws: int,
    *keys,
    device="cpu",
):
    r"""Exact ICL and IDG errors of ``draws`` independent ridge-pretrained Gammas.

    Draws 0..draws-1 of :func:`pretrained_gammas` (solved in batches), each evaluated by
    :func:`lmech.theory.icl.gamma_error`: the ICL error with fresh isotropic tasks and the
    IDG error with the moments of the draw's own pool, so no Monte Carlo over test
    contexts is involved. For kappa = inf the IDG error is the ICL error. Returns two
    float64 arrays of length ``draws``.
    """
    from lmech.theory.icl import gamma_error

    d = _check_d(d)
    _check_system(alpha, kappa, tau, rho, ridge)
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise InputError(f"draws must be an integer >= 1; got {draws!r}")
    ell = max(1, round(alpha * d))
    n = max(1, round(tau * d * d))
    batch = _draw_batch(n, ell, d, n < d * (d + 1))
    icl, idg = [], []
    for start in range(0, draws, batch):
        gammas, pools = pretrained_gammas(
            d,
            alpha,
            kappa,
            tau,
            rho,
            ridge,
            seed,
            range(start, min(draws, start + batch)),
            *keys,
            device=device,
        )
        for j, g in enumerate(gammas):
            e = gamma_error(g, alpha, rho)
            icl.append(e)
            if pools is None:
                idg.append(e)
            else:
                P = pools[j]
                idg.append(
                    gamma_error(
                        g, alpha, rho, task_mean=P.mean(0), task_second_moment=P.T @ P / len(P)
                    )
                )
    return np.array(icl), np.array(idg)

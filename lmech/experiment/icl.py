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

r"""Minibatch SGD on linear models, many runs and configurations as one torch program.

Every simulator keeps the errors :math:`\Delta = w - w^*` of R independent runs for each
of G configurations (a learning-rate schedule, a batch-size schedule and an averaging
rule each) as one (G, R, d) tensor and steps them together. At each step the
configurations that share the current batch size draw their fresh Gaussian samples in
one call, so a grid of learning rates x batch sizes x schedules is one loop over steps.

- :func:`online_sgd`: x ~ N(0, diag(lambda)), y = w*^T x + eps, fresh samples every step
  (one-pass SGD); records the exact conditional loss 0.5 (Delta^T Sigma Delta + sigma^2)
  of the last and of the averaged iterate, averaged over runs, with its standard error.
  ``normalized=True`` runs normalized SGD, w <- w - eta g / sqrt(E|g|^2), where E|g|^2 is
  estimated by the mean of |g|^2 over the R runs at that step (Meterez et al. 2025,
  "Seesaw", Sec. 4).
- :func:`multipass_sgd`: a fixed dataset (P, D); each step draws B indices uniformly with
  replacement; records test (population) and train loss.
- :func:`plrf_sgd`: power-law random features (Paquette et al. 2024, Sec. 2): x ~ N(0, I_v),
  features W^T D^{1/2} x, target <D^{1/2} x, b>; records the population risk
  0.5 |D^{1/2}(W theta - b)|^2.
- :func:`empirical_online_sgd`: online SGD whose samples are rows of a real feature
  matrix drawn uniformly with replacement (e.g. Fashion-MNIST pixels), with a linear
  teacher and Gaussian label noise; records the exact loss under the empirical
  distribution.

Normals are drawn in float32 (exact Gaussians up to float32 rounding, four times
faster than float64 draws on a CPU) and used in float64. Random draws come from one ``torch.Generator`` per call made with
:func:`lmech.seeding.torch_generator` (keyed by the caller), on ``device``.
"""

from __future__ import annotations

import numpy as np
import torch

from lmech._memory import check_allocation
from lmech.errors import InputError
from lmech.experiment._aligned import aligned_cross_moments
from lmech.seeding import torch_generator
from lmech.theory.sgd import check_batches, check_schedule, check_spectrum

__all__ = [
    "online_sgd",
    "multipass_sgd",
    "plrf_sgd",
    "empirical_online_sgd",
    "plrf_conditional_curves",
]


def _normal(shape, gen: torch.Generator, like: dict) -> torch.Tensor:
    """Standard normals drawn in float32 (4x faster on CPU), used in float64."""
    return torch.randn(shape, generator=gen, dtype=torch.float32, device=like["device"]).to(
        torch.float64
    )


def _gradient_sum(z: torch.Tensor, delta: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """sum_b z_b (z_b^T delta - target_b): b times the minibatch gradient of the half
    squared loss. z: (..., b, d) inputs, delta: (..., d) parameters or errors, target:
    (..., b)."""
    resid = torch.einsum("...bd,...d->...b", z, delta) - target
    return torch.einsum("...b,...bd->...d", resid, z)


def _grouped(B_t: np.ndarray, delta: torch.Tensor, draw, device) -> torch.Tensor:
    """Gradients of G configurations at one step: the configurations that share a batch
    size b draw together, ``draw(delta[those], b) -> (count, R, d)``."""
    grad = torch.empty_like(delta)
    for b in np.unique(B_t):
        it = torch.as_tensor(np.flatnonzero(B_t == b), device=device)
        grad[it] = draw(delta[it], int(b))
    return grad


def _log_steps(log_steps, T: int) -> np.ndarray:
    s = np.unique(np.asarray(log_steps, dtype=np.int64))
    if s.size == 0 or s.min() < 0 or s.max() > T:
        raise InputError(f"log_steps must lie in [0, {T}]; got {log_steps!r:.80}")
    return s


def _runs(runs) -> int:
    if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or runs < 2:
        raise InputError(f"runs must be an integer >= 2 (for a standard error); got {runs!r}")
    return int(runs)


def _summary(values: list[torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """(G, R) per log step -> mean and standard error, each (G, n_log)."""
    v = torch.stack(values, dim=-1)  # (G, R, n_log)
    mean = v.mean(dim=1)
    se = v.std(dim=1, unbiased=True) / np.sqrt(v.shape[1])
    return mean.cpu().numpy(), se.cpu().numpy()


def online_sgd(
    lam,
    w_star,
    noise_variance: float,
    lrs,
    batch=1,
    *,
    runs: int,
    seed: int,
    keys: tuple = (),
    log_steps=None,
    rho=None,
    normalized: bool = False,
    sampler: str = "samples",
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    r"""Online minibatch SGD from w0 = 0 for G configurations x R runs.

    Args:
        lam: (d,) eigenvalues of Sigma (data in its eigenbasis).
        w_star: (d,) teacher.
        noise_variance: sigma^2.
        lrs: (G, T) learning rates (a (T,) schedule is G = 1).
        batch: batch sizes, broadcast to (G, T).
        runs: R independent runs per configuration.
        seed, keys: the generator is ``torch_generator(seed, "online-sgd", *keys)``.
        log_steps: steps in [0, T] to record (default all).
        rho: (G, T) averaging weights (see :func:`lmech.theory.sgd.averaging_weights`).
        normalized: normalized SGD (see the module docstring).
        sampler: ``"samples"`` draws the B samples x_b ~ N(0, Sigma) of each step
            (cost O(B d) per run and step); ``"projected"`` draws the minibatch gradient
            from its exact law with O(B + d) normals: with v = Sigma^{1/2} Delta,
            u = v/|v|, alpha_b = u.z_b ~ N(0, 1) and r_b = |v| alpha_b - eps_b,
            :math:`\sum_b z_b r_b = u\sum_b\alpha_b r_b + (\sum_b r_b^2)^{1/2}(I - uu^\top)\xi`,
            xi ~ N(0, I_d) (the components of z_b orthogonal to u are independent of
            alpha_b and eps_b), so g = Sigma^{1/2}(that)/B. Same process, fewer draws.

    Returns:
        ``steps`` (n,), ``loss`` and ``loss_se`` (G, n); with ``rho`` also ``averaged``
        and ``averaged_se``.
    """
    lam = check_spectrum(lam)
    d = lam.size
    wst = np.asarray(w_star, dtype=np.float64)
    if wst.shape != (d,) or not np.isfinite(wst).all():
        raise InputError(f"w_star must be a finite ({d},) array; got shape {wst.shape}")
    eta = np.atleast_2d(check_schedule(lrs, "learning-rate schedule"))
    G, T = eta.shape
    B = check_batches(batch, eta.shape).astype(np.int64)
    R = _runs(runs)
    s2 = float(noise_variance)
    if not (np.isfinite(s2) and s2 >= 0):
        raise InputError(f"noise_variance must be finite and >= 0; got {noise_variance!r}")
    steps = _log_steps(np.arange(T + 1) if log_steps is None else log_steps, T)
    check_allocation(
        8 * G * R * d * (3 + int(B.max())), "the SGD ensemble", "use fewer runs", device=device
    )
    if rho is not None:
        rho = np.broadcast_to(check_schedule(rho, "averaging weights"), eta.shape)
    if sampler not in ("samples", "projected"):
        raise InputError(f"sampler must be 'samples' or 'projected'; got {sampler!r}")
    gen = torch_generator(seed, "online-sgd", *keys, device=device)
    f64 = dict(dtype=torch.float64, device=device)
    lam_t = torch.as_tensor(lam, **f64)
    sq = lam_t.sqrt()
    delta = (-torch.as_tensor(wst, **f64)).expand(G, R, d).clone()
    avg = delta.clone() if rho is not None else None
    sigma = float(np.sqrt(s2))
    eta_t = torch.as_tensor(np.array(eta), **f64)
    rho_t = torch.as_tensor(np.array(rho), **f64) if rho is not None else None

    def loss_of(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((x * x) @ lam_t + s2)

    out_l, out_a = [], []
    log = set(steps.tolist())
    for t in range(T + 1):
        if t in log:
            out_l.append(loss_of(delta))
            if avg is not None:
                out_a.append(loss_of(avg))
        if t == T:
            break

        def draw(sub, b):
            if sampler == "samples":
                z = _normal((sub.shape[0], R, b, d), gen, f64) * sq
                noise = _normal((sub.shape[0], R, b), gen, f64) * sigma
                return _gradient_sum(z, sub, noise) / b
            return _projected_gradient(sub, sq, sigma, b, gen, f64)

        grad = _grouped(B[:, t], delta, draw, device)
        step = eta_t[:, t].view(G, 1, 1)
        if normalized:
            g2 = (grad * grad).sum(-1).mean(-1).clamp_min(1e-300)  # (G,): E|g|^2 over runs
            step = step / g2.sqrt().view(G, 1, 1)
        delta = delta - step * grad
        if avg is not None:
            r = rho_t[:, t].view(G, 1, 1)
            avg = (1 - r) * avg + r * delta
    res = {"steps": steps}
    res["loss"], res["loss_se"] = _summary(out_l)
    if avg is not None:
        res["averaged"], res["averaged_se"] = _summary(out_a)
    return res


def _projected_gradient(delta, sq, sigma, b, gen, f64) -> torch.Tensor:
    """Minibatch gradient drawn from its exact law (see ``online_sgd(sampler=...)``): with
    v = Sigma^{1/2} Delta and residuals r_b = v^T z_b - eps_b, the gradient is
    Sigma^{1/2} sum_b z_b r_b / B (:func:`lmech.experiment._aligned.aligned_cross_moments`)."""
    xy, _ = aligned_cross_moments(delta * sq, b, -sigma, lambda s: _normal(s, gen, f64))
    return sq * xy / b


def multipass_sgd(
    X,
    eps,
    delta0,
    lam,
    noise_variance: float,
    lrs,
    batch=1,
    *,
    runs: int,
    seed: int,
    keys: tuple = (),
    log_steps=None,
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """Multi-pass SGD on a fixed dataset X (P, D), labels y = X w* + eps, from
    Delta_0 = ``delta0``; batches of B indices drawn uniformly with replacement.

    Returns ``steps``, ``test``/``test_se`` (population loss 0.5(Delta^T diag(lam) Delta +
    sigma^2)) and ``train``/``train_se`` (0.5 mean_i (x_i^T Delta - eps_i)^2), each (n,).
    """
    X = np.asarray(X, dtype=np.float64)
    eps = np.asarray(eps, dtype=np.float64)
    if X.ndim != 2 or eps.shape != (X.shape[0],):
        raise InputError(f"X must be (P, D) and eps (P,); got {X.shape}, {eps.shape}")
    P, D = X.shape
    lam = check_spectrum(lam)
    eta = check_schedule(lrs, "learning-rate schedule")
    if eta.ndim != 1:
        raise InputError("multipass_sgd takes one schedule (T,)")
    T = eta.size
    B = check_batches(batch, eta.shape).astype(np.int64)
    R = _runs(runs)
    steps = _log_steps(np.arange(T + 1) if log_steps is None else log_steps, T)
    check_allocation(
        8 * R * (D + P) * 4, "the multi-pass ensemble", "use fewer runs", device=device
    )
    gen = torch_generator(seed, "multipass-sgd", *keys, device=device)
    f64 = dict(dtype=torch.float64, device=device)
    Xt, et, lam_t = (torch.as_tensor(a, **f64) for a in (X, eps, lam))
    delta = torch.as_tensor(np.asarray(delta0, dtype=np.float64), **f64).expand(R, D).clone()
    te, tr = [], []
    log = set(steps.tolist())
    for t in range(T + 1):
        if t in log:
            te.append(0.5 * ((delta * delta) @ lam_t + noise_variance))
            r = delta @ Xt.T - et
            tr.append(0.5 * (r * r).mean(-1))
        if t == T:
            break
        b = int(B[t])
        idx = torch.randint(0, P, (R, b), generator=gen, device=device)
        delta = delta - eta[t] * _gradient_sum(Xt[idx], delta, et[idx]) / b  # Xt[idx]: (R, b, D)
    (m_te, s_te), (m_tr, s_tr) = _summary([v[None] for v in te]), _summary([v[None] for v in tr])
    return {
        "steps": steps,
        "test": m_te[0],
        "test_se": s_te[0],
        "train": m_tr[0],
        "train_se": s_tr[0],
    }


def plrf_sgd(
    W,
    D_diag,
    b,
    lrs,
    batch=1,
    *,
    runs: int,
    seed: int,
    keys: tuple = (),
    log_steps=None,
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """One-pass SGD on the PLRF model from theta = 0 (batch-averaged gradient).

    Returns ``steps``, ``risk`` and ``risk_se`` (n,): the population risk
    P(theta) = 0.5 |D^{1/2}(W theta - b)|^2 averaged over runs.
    """
    W = np.asarray(W, dtype=np.float64)
    Dd = check_spectrum(D_diag, "PLRF data spectrum D")
    v, d = W.shape
    eta = check_schedule(lrs, "learning-rate schedule")
    T = eta.size
    B = check_batches(batch, eta.shape).astype(np.int64)
    R = _runs(runs)
    steps = _log_steps(np.arange(T + 1) if log_steps is None else log_steps, T)
    check_allocation(
        8 * R * (v + d) * (2 + int(B.max())), "the PLRF ensemble", "use fewer runs", device=device
    )
    gen = torch_generator(seed, "plrf-sgd", *keys, device=device)
    f64 = dict(dtype=torch.float64, device=device)
    sq = torch.as_tensor(np.sqrt(Dd), **f64)
    Wt, bt = torch.as_tensor(W, **f64), torch.as_tensor(np.asarray(b, dtype=np.float64), **f64)
    theta = torch.zeros((R, d), **f64)
    out = []
    log = set(steps.tolist())
    for t in range(T + 1):
        if t in log:
            e = (theta @ Wt.T - bt) * sq
            out.append(0.5 * (e * e).sum(-1))
        if t == T:
            break
        k = int(B[t])
        xs = _normal((R, k, v), gen, f64) * sq  # D^{1/2} x
        theta = theta - eta[t] * _gradient_sum(xs @ Wt, theta, xs @ bt) / k
    m, s = _summary([o[None] for o in out])
    return {"steps": steps, "risk": m[0], "risk_se": s[0]}


def empirical_online_sgd(
    X,
    w_star,
    noise_variance: float,
    lrs,
    batch=1,
    *,
    runs: int,
    seed: int,
    keys: tuple = (),
    log_steps=None,
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """Online SGD whose samples are rows of X (N, D) drawn uniformly with replacement,
    labels y = x^T w* + eps with Gaussian eps, for G schedules (lrs (G, T)) x R runs,
    from w0 = 0. The recorded loss is exact under the empirical distribution:
    0.5 (Delta^T S Delta + sigma^2), S = X^T X / N.

    Returns ``steps``, ``loss``, ``loss_se`` ((G, n)).
    """
    X = np.asarray(X, dtype=np.float64)
    N, D = X.shape
    eta = np.atleast_2d(check_schedule(lrs, "learning-rate schedule"))
    G, T = eta.shape
    B = check_batches(batch, eta.shape).astype(np.int64)
    R = _runs(runs)
    steps = _log_steps(np.arange(T + 1) if log_steps is None else log_steps, T)
    check_allocation(
        8 * G * R * D * (3 + int(B.max())), "the SGD ensemble", "use fewer runs", device=device
    )
    gen = torch_generator(seed, "empirical-sgd", *keys, device=device)
    f64 = dict(dtype=torch.float64, device=device)
    Xt = torch.as_tensor(X, **f64)
    S = Xt.T @ Xt / N
    delta = (-torch.as_tensor(np.asarray(w_star, dtype=np.float64), **f64)).expand(G, R, D).clone()
    sigma = float(np.sqrt(noise_variance))
    eta_t = torch.as_tensor(np.array(eta), **f64)
    out = []
    log = set(steps.tolist())
    for t in range(T + 1):
        if t in log:
            out.append(0.5 * (torch.einsum("grd,de,gre->gr", delta, S, delta) + noise_variance))
        if t == T:
            break

        def draw(sub, b):
            rows = torch.randint(0, N, (sub.shape[0], R, b), generator=gen, device=device)
            noise = _normal((sub.shape[0], R, b), gen, f64) * sigma
            return _gradient_sum(Xt[rows], sub, noise) / b

        grad = _grouped(B[:, t], delta, draw, device)
        delta = delta - eta_t[:, t].view(G, 1, 1) * grad
    m, s = _summary(out)
    return {"steps": steps, "loss": m, "loss_se": s}


def plrf_conditional_curves(
    widths,
    latent_ratio: int,
    alpha: float,
    beta: float,
    lrs,
    batch=1,
    *,
    trials: int,
    seed: int,
    keys: tuple = (),
    log_steps=None,
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    r"""Expected PLRF SGD loss curves at nested widths, for ``trials`` feature draws.

    A draw is one Gaussian matrix G (v_max x d_max) from ``torch_generator(seed,
    "plrf-features", *keys, trial)`` on ``device``; width d uses W = G[:v, :d]/sqrt(d)
    with v = ``latent_ratio`` d (i.i.d. N(0, 1/d) entries: the PLRF features of Paquette et
    al. 2024, Sec. 2). Nesting gives every width the same draw (common random numbers),
    so the compute-optimal width is not moved by draw-to-draw noise between widths.
    For each (draw, width), K = W^T D W and h = W^T D b (D = diag(j^{-2 alpha}), b_j =
    j^{-beta}); the eigendecomposition of K turns SGD from theta = 0 into the online
    recursion on the spectrum of K with forcing sigma_j (u_j^T theta*)^2 and noise
    2 P_inf (:func:`lmech.theory.sgd.plrf_reduction`, exact given W), evaluated by
    :func:`lmech.theory.sgd.spectral_loss` for all draws at once.

    Args:
        lrs: a (T,) schedule, or one per width (a list of 1-D (T_i,) schedules: widths
            can run different numbers of steps).
        log_steps: one array of steps, or one per width (a list of 1-D arrays).

    Returns:
        ``steps`` (list per width), ``loss`` (list per width of (trials, n_i)) and
        ``p_inf`` (widths, trials).
    """
    from lmech.theory.sgd import plrf_spectrum, plrf_target, spectral_loss

    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise InputError(f"trials must be an integer >= 1; got {trials!r}")
    widths = [int(w) for w in widths]
    if not widths or min(widths) < 1 or latent_ratio < 2:
        raise InputError(f"need widths >= 1 and latent_ratio >= 2; got {widths}, {latent_ratio}")
    vmax, dmax = latent_ratio * max(widths), max(widths)
    lam, b = plrf_spectrum(vmax, alpha), plrf_target(vmax, beta)
    check_allocation(
        8 * (3 * vmax * dmax + 4 * dmax * dmax),
        "the PLRF features",
        "use fewer widths",
        device=device,
    )

    def per_width(arg):  # a list of 1-D arrays is one per width; anything else is shared
        many = isinstance(arg, list) and len(arg) > 0 and all(np.ndim(a) == 1 for a in arg)
        if many and len(arg) != len(widths):
            raise InputError(f"need one schedule / log-step array per width ({len(widths)})")
        return arg if many else [arg] * len(widths)

    per_lr, per_log = per_width(lrs), per_width(log_steps)
    f64 = dict(dtype=torch.float64, device=device)
    lam_t, b_t = torch.as_tensor(lam, **f64), torch.as_tensor(b, **f64)
    spec = [([], [], []) for _ in widths]
    for k in range(int(trials)):
        gen = torch_generator(seed, "plrf-features", *keys, k, device=device)
        G = torch.randn((vmax, dmax), generator=gen, **f64)
        for i, d in enumerate(widths):
            v = latent_ratio * d
            W = G[:v, :d] / np.sqrt(d)
            K = W.T @ (lam_t[:v, None] * W)
            h = W.T @ (lam_t[:v] * b_t[:v])
            sig, U = torch.linalg.eigh(K)
            if float(sig.min()) <= 0:
                raise InputError("a feature draw gave a singular W^T D W; use a larger v/d")
            proj = U.T @ h  # theta* = sum_j u_j proj_j / sigma_j
            force = proj * proj / sig  # sigma_j (u_j^T theta*)^2
            spec[i][0].append(sig.cpu().numpy())
            spec[i][1].append(force.cpu().numpy())
            total = float(b_t[:v] @ (lam_t[:v] * b_t[:v]))
            spec[i][2].append(max(total - float(force.sum()), 0.0))
    steps, loss = [], []
    for i in range(len(widths)):
        T = np.asarray(per_lr[i]).size
        st = _log_steps(np.arange(T + 1) if per_log[i] is None else per_log[i], T)
        nodes, force, noise = (np.stack(a) if j < 2 else np.array(a) for j, a in enumerate(spec[i]))
        steps.append(st)
        loss.append(spectral_loss(nodes, 1.0, force, noise, per_lr[i], batch, log_steps=st))
    return {"steps": steps, "loss": loss, "p_inf": 0.5 * np.array([s[2] for s in spec])}

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

and :func:`train_sgns_minibatch`, real sampled-pair SGNS (Mikolov et al. 2013, "Distributed
Representations of Words and Phrases", Sec. 2.2): each step draws ``batch_size`` positive
pairs (i, j) i.i.d. with probability C_ij / sum C from a co-occurrence matrix C, and for
each of them ``negatives`` = k negative words n i.i.d. from q_n proportional to
U_n^power (U = unigram counts; word2vec's power 0.75, Sec. 2.2), and descends on the
per-pair loss log(1 + e^{-s_ij}) + sum_n log(1 + e^{s_in}). Its expectation over the
draws is sum_ij P_ij log(1 + e^{-s}) + k sum_ij P_i q_j log(1 + e^{s}) (P = C / sum C,
P_i its row sums), i.e. L_SGNS with psi P_i P_j replaced by k P_i q_j: with q = P_i
(``power=1`` on exact unigrams) and psi = k the two trainers minimize the same loss.

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

__all__ = [
    "TrainResult",
    "train_qwem",
    "train_sgns",
    "train_sgns_minibatch",
    "negative_distribution",
    "pairs_per_epoch",
    "init_embeddings",
]


@dataclass(frozen=True)
class TrainResult:
    """``W`` (V x d, float64 numpy) at the end; ``steps`` (n_log,), ``singular_values``
    (n_log, d, descending) and ``loss`` (n_log,) at the logged steps (step 0 included).
    ``C``: the context (output) vectors of an untied minibatch SGNS run, else None."""

    W: np.ndarray
    steps: np.ndarray
    singular_values: np.ndarray
    loss: np.ndarray
    C: np.ndarray | None = None


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

    # V x V work arrays allocated once: a fresh V x V temporary per step fragments the C
    # heap (glibc raises its mmap threshold after the first free; measured +0.4-1 GB of
    # resident memory at V = 300 over a few thousand steps, at random)
    R = torch.empty_like(Mt)
    GR = torch.empty_like(Mt) if Gt is not None else R

    def grad_and_loss(W, want_loss):
        torch.mm(W, W.T, out=R)
        R.sub_(Mt)
        if Gt is not None:
            torch.mul(Gt, R, out=GR)
        loss = 0.25 * torch.dot(GR.view(-1), R.view(-1)).item() if want_loss else 0.0
        return GR @ W, loss

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

    # V x V work arrays allocated once (see train_qwem); with sigma(-S) = 1 - sigma(S) the
    # loss derivative is D = (Pos + Neg) sigma(S) - Pos, and with softplus(-S) =
    # softplus(S) - S the loss is sum (Pos + Neg) softplus(S) - Pos S
    Both = Pos + Neg
    S, D = torch.empty_like(Pos), torch.empty_like(Pos)

    def grad_and_loss(W, want_loss):
        torch.mm(W, W.T, out=S)
        loss = 0.0
        if want_loss:  # softplus(S) = (S + |S|) / 2 + log1p(exp(-|S|)), |S| built in D
            b, s_ = Both.view(-1), S.view(-1)
            torch.abs(S, out=D)
            total = 0.5 * (torch.dot(b, s_) + torch.dot(b, D.view(-1))) - torch.dot(
                Pos.view(-1), s_
            )
            D.neg_().exp_().log1p_()
            loss = scale * (total + torch.dot(b, D.view(-1))).item()
        torch.sigmoid(S, out=D)
        D.mul_(Both).sub_(Pos)
        return (2.0 * scale) * (D @ W), loss

    with torch.no_grad():
        return _run(grad_and_loss, W, steps, lr, log_every, "SGNS gradient descent")


# --------------------------------------------------------------------------- minibatch SGNS


def negative_distribution(unigram, power: float = 0.75) -> np.ndarray:
    """q_n = U_n^power / sum_m U_m^power: word2vec's noise distribution (power 0.75,
    Mikolov et al. 2013, Sec. 2.2); ``power=1`` gives the unigram distribution itself."""
    U = np.asarray(unigram, dtype=np.float64)
    if U.ndim != 1 or U.size < 1 or not np.all(np.isfinite(U)) or np.any(U < 0):
        raise InputError(f"unigram must be a 1-D array of non-negative counts; got shape {U.shape}")
    if not (np.isfinite(power) and power >= 0):
        raise InputError(f"the negative-sampling power must be >= 0 (word2vec: 0.75); got {power}")
    q = np.where(U > 0, U, 0.0) ** power
    q[U == 0] = 0.0
    if not q.sum() > 0:
        raise InputError("unigram counts are all zero: no word to draw negatives from")
    return q / q.sum()


def pairs_per_epoch(cooc, window: int) -> int:
    """Positive pairs word2vec's skip-gram sees in one pass over a corpus whose
    co-occurrence ``cooc`` was counted with the *linear* weighting of
    :func:`lmech.data.text.cooccurrence`: with a dynamic window (size uniform in 1..L) a
    pair at distance k is used with probability (L + 1 - k) / L, in each direction, so the
    expected number of pairs is sum C / L."""
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise InputError(f"window must be an integer >= 1; got {window!r}")
    return max(1, round(float(cooc.sum()) / window))


def _pair_table(cooc):
    """(rows, cols, cumulative probabilities) of the nonzero entries of C."""
    import scipy.sparse as sp

    if sp.issparse(cooc):
        C = sp.coo_matrix(cooc)
        r, c, v = C.row, C.col, C.data.astype(np.float64)
    else:
        C = np.asarray(cooc, dtype=np.float64)
        if C.ndim != 2:
            raise InputError(f"the co-occurrence matrix must be 2-D; got shape {C.shape}")
        r, c = np.nonzero(C)
        v = C[r, c]
    if C.shape[0] != C.shape[1]:
        raise InputError(f"the co-occurrence matrix must be square (V, V); got {C.shape}")
    if not (np.all(np.isfinite(v)) and np.all(v >= 0)):
        raise InputError("co-occurrence counts must be finite and non-negative")
    keep = v > 0
    r, c, v = r[keep], c[keep], v[keep]
    if v.size == 0:
        raise InputError(
            "the co-occurrence matrix has no nonzero entry: no positive pair to sample; "
            "use a larger window or longer sentences"
        )
    cdf = np.cumsum(v)
    return r.astype(np.int64), c.astype(np.int64), cdf / cdf[-1], C.shape[0]


class _Sampler:
    """Draws from a discrete distribution (cumulative probabilities ``cdf``) by inversion
    with a guide table (Chen and Asau 1974; Devroye 1986, Sec. III.2.4): the table holds,
    for each of m equal slices of [0, 1), the first index whose cdf reaches the slice,
    and a few vectorized forward steps finish the search; O(1) expected memory reads
    per draw (a binary search over millions of pairs costs ~20 cache misses)."""

    def __init__(self, cdf: np.ndarray, device):
        import torch

        cdf = np.asarray(cdf, dtype=np.float64)
        cdf = cdf / cdf[-1]
        self.n = cdf.size
        self.m = 4 * self.n  # 4 slices per outcome: ~1-3 forward steps on skewed counts
        guide = np.searchsorted(cdf, np.arange(self.m) / self.m, side="right")
        self.cdf = torch.as_tensor(cdf, device=device)
        self.guide = torch.as_tensor(np.minimum(guide, self.n - 1), device=device)

    def __call__(self, g, shape):
        import torch

        u = torch.rand(shape, generator=g, device=self.cdf.device, dtype=torch.float64)
        idx = self.guide[(u * self.m).long().clamp_(max=self.m - 1)]
        while True:
            behind = self.cdf[idx] <= u
            if not bool(behind.any()):
                return idx
            idx += behind
            idx.clamp_(max=self.n - 1)


def train_sgns_minibatch(
    cooc,
    unigram,
    d: int,
    *,
    negatives: int = 5,
    power: float = 0.75,
    steps: int,
    batch_size: int = 1024,
    lr: float,
    optimizer: str = "sgd",
    schedule: str = "linear",
    tied: bool = True,
    init_scale: float,
    seed: int,
    device: str = "cpu",
    dtype: str = "float32",
    log_every: int = 100,
    W0=None,
) -> TrainResult:
    r"""Skip-gram with negative sampling trained on sampled pairs (module docstring).

    Args:
        cooc: (V, V) co-occurrence counts or probabilities (scipy sparse or dense); a
            positive pair (centre i, context j) is drawn with probability C_ij / sum C.
        unigram: (V,) unigram counts U; negatives are drawn from U^power (normalized).
        d: embedding dimension.
        negatives: k, negative words per positive pair (word2vec's default 5).
        power: exponent of the noise distribution (word2vec: 0.75).
        steps: parameter updates; each one uses ``batch_size`` positive pairs.
        lr: learning rate. ``optimizer="sgd"``: word2vec's per-pair SGD, every pair's
            gradient applied at rate ``lr`` (summed over the batch, as word2vec's
            asynchronous threads do; word2vec's default lr is 0.025).
            ``optimizer="adam"``: Adam on the batch-mean loss.
        schedule: ``"linear"`` (word2vec: lr decays linearly to lr * 1e-4 at the last
            step) or ``"constant"``.
        tied: one matrix W for words and contexts (s_ij = w_i . w_j, the theory's
            model) or separate W, C (s_ij = w_i . c_j; word2vec's model, C_0 = 0).
        init_scale: W_0 entries N(0, init_scale^2 / d).
        dtype: ``"float32"`` (default) or ``"float64"``.
        log_every: steps between records of the singular values of W and of the mean
            batch loss since the previous record (the step-0 loss is one batch's).

    Every random draw comes from generators keyed by ``seed`` and by what is drawn
    (init, pairs); the run is reproducible on a given device.
    """
    import torch

    Pi_u = negative_distribution(unigram, power)
    rows, cols, pcdf, V = _pair_table(cooc)
    if Pi_u.size != V:
        raise InputError(f"unigram has {Pi_u.size} entries for a {V}-word co-occurrence matrix")
    _check_common(V, d, steps, lr, init_scale, log_every)
    for name, val in (("negatives", negatives), ("batch_size", batch_size)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise InputError(f"{name} must be an integer >= 1; got {val!r}")
    if optimizer not in ("sgd", "adam"):
        raise InputError(f"optimizer must be 'sgd' or 'adam'; got {optimizer!r}")
    if schedule not in ("linear", "constant"):
        raise InputError(f"schedule must be 'linear' or 'constant'; got {schedule!r}")
    if dtype not in ("float32", "float64"):
        raise InputError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
    tdtype = torch.float32 if dtype == "float32" else torch.float64
    item = 4 if dtype == "float32" else 8
    check_allocation(
        8 * 8 * rows.size  # rows, cols, cdf and the 4-slot guide table, int64/float64
        + 8 * 12 * V
        + 8 * (1 << 16) * (negatives + 2)  # a chunk of pre-drawn pairs and negatives
        + item * (2 if tied else 4) * 3 * V * d
        + item * 6 * batch_size * (negatives + 2) * d,
        f"minibatch SGNS on {rows.size} distinct pairs, V={V}, d={d}, batch {batch_size}",
        "use a smaller vocabulary, dimension or batch",
        device=device,
    )
    rows_t = torch.as_tensor(rows, device=device)
    cols_t = torch.as_tensor(cols, device=device)
    draw_pair = _Sampler(pcdf, device)
    draw_negative = _Sampler(np.cumsum(Pi_u), device)
    g = torch_generator(seed, "sgns-pairs", device=device)
    W = init_embeddings(V, d, init_scale, seed, "cpu") if W0 is None else _tensor(W0, "cpu")
    W = W.to(device=device, dtype=tdtype).clone()  # updated in place: never the caller's W0
    Cv = W if tied else torch.zeros_like(W)
    params = [W] if tied else [W, Cv]
    adam = None
    if optimizer == "adam":
        for p in params:
            p.grad = torch.zeros_like(p)
        adam = torch.optim.Adam(params, lr=lr)
    F = torch.nn.functional
    B, k = int(batch_size), int(negatives)

    # draws for `chunk` steps at a time (fewer, larger sampler calls)
    chunk = max(1, min(steps + 1, (1 << 16) // B))
    pool: list = []

    def batch_loss_and_grads():
        if not pool:
            pool.extend(zip(draw_pair(g, (chunk, B)), draw_negative(g, (chunk, B, k)), strict=True))
        idx, n = pool.pop()
        i = rows_t[idx]
        ctx = torch.cat([cols_t[idx][:, None], n], dim=1)  # (B, 1 + k): the positive first
        wi, cc = W[i], Cv[ctx]
        s = torch.bmm(cc, wi[:, :, None])[:, :, 0]
        s[:, 0].neg_()  # log(1 + e^{-s}) for the positive, log(1 + e^{s}) for negatives
        loss = F.softplus(s).sum() / B
        gs = torch.sigmoid(s)  # d loss / d s_pos = -sigmoid(-s_pos); negatives: sigmoid(s)
        gs[:, 0].neg_()
        grad_wi = torch.bmm(gs[:, None, :], cc)[:, 0, :]
        grad_cc = gs[:, :, None] * wi[:, None, :]
        return loss, i, ctx.reshape(-1), grad_wi, grad_cc.reshape(-1, W.shape[1])

    logged, svals, losses = [], [], []
    running, count = 0.0, 0
    what = "SGNS minibatch " + optimizer.upper()
    with torch.no_grad(), progress.task(what, steps) as advance:
        for step in range(steps + 1):
            if step % log_every == 0 or step == steps:
                if step == 0:
                    running, count = batch_loss_and_grads()[0], 1
                mean_loss = float(running) / max(count, 1)
                if not (np.isfinite(mean_loss) and bool(torch.isfinite(W).all())):
                    raise InputError(
                        f"{what} diverged at step {step} (loss {mean_loss}); use a smaller "
                        "learning rate or batch"
                    )
                logged.append(step)
                svals.append(torch.linalg.svdvals(W.to(torch.float64)).cpu().numpy())
                losses.append(mean_loss)
                running, count = 0.0, 0
            if step == steps:
                break
            rate = lr * (1.0 - (1.0 - 1e-4) * step / steps) if schedule == "linear" else lr
            loss, i, ctx, gwi, gcc = batch_loss_and_grads()
            running, count = running + loss, count + 1
            if adam is None:
                W.index_add_(0, i, gwi, alpha=-rate)
                Cv.index_add_(0, ctx, gcc, alpha=-rate)
            else:
                for p in params:
                    p.grad.zero_()
                W.grad.index_add_(0, i, gwi, alpha=1.0 / B)
                Cv.grad.index_add_(0, ctx, gcc, alpha=1.0 / B)
                for group in adam.param_groups:
                    group["lr"] = rate
                adam.step()
            if (step + 1) % log_every == 0:
                advance(log_every)
    to_np = lambda t: t.to(torch.float64).cpu().numpy()  # noqa: E731
    return TrainResult(
        to_np(W),
        np.asarray(logged),
        np.asarray(svals),
        np.asarray(losses),
        None if tied else to_np(Cv),
    )

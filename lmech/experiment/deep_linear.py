r"""Deep linear networks of any depth trained on a linear target, many seeds at once.

The depth-L generalization of :func:`lmech.experiment.dmft.train_linear_online` (the
setting of Bordelon & Pehlevan, "Deep linear network training dynamics from random
initialization", ICML 2025, Sec. 2, with isotropic data and one-pass / population
gradient descent). With W_1 (N x D), W_2..W_L (N x N) and w (N,) all N(0, 1):

.. math::

    h^1 = W_1 x,\qquad
    h^{l+1} = \frac{1}{\sqrt N} W_{l+1} h^l \quad\text{or (residual)}\quad
    h^{l+1} = h^l + \frac{1}{\sqrt{N L}} W_{l+1} h^l,\qquad
    f(x) = \frac{1}{\bar\gamma N}\, w^\top h^L = b^\top x,

so f is linear with b = W_1^T A_2^T ... A_L^T w / (gamma N) (A_l = W_l / sqrt(N), or
I + W_l / sqrt(N L)). Every parameter (W_1, the hidden W_l and w) is trained with the same
learning rate eta = lr gamma^2 N: the mean-field / muP clock of Bordelon & Pehlevan
(NeurIPS 2022, Sec. 2), under which gamma is the richness and lr is width independent.
``parameterization="ntk"`` is gamma = (D/N)^{1/2} (f = w^T h^L / sqrt(N D), lazier as
the network widens, eta = lr D). The residual branches carry 1/sqrt(L) and the same lr
(the depth-muP choice of Bordelon et al., ICLR 2024, for SGD). At depth 1 both
conventions are exactly those of ``train_linear_online``.

The loss is (1/2) E[(f - f_0 - y)^2] = (1/2)|e|^2 with e = b_* - (b - b_0) (centred
output, y = b_*^T x, random unit b_* per member), or with ``batch=B`` the mean over B
fresh Gaussian inputs per step (one-pass SGD: the gradient's error direction is
Sigma_hat e, Sigma_hat = X^T X / B). Writing g = Sigma_hat e (or e), the gradients are
those of b^T g (checked against autograd in the tests):

.. math::

    \Delta W_1 = \mathrm{lr}\,\bar\gamma\; v_1 g^\top,\qquad
    \Delta W_l = \mathrm{lr}\,\bar\gamma\, c\; v_l u_{l-1}^\top,\qquad
    \Delta w = \mathrm{lr}\,\bar\gamma\; u_L,

with the forward pass u_1 = W_1 g, u_l = A_l u_{l-1}, the backward pass v_L = w,
v_{l-1} = A_l^T v_l, and c = 1/sqrt(N) (1/sqrt(N L) residual); all updates are
simultaneous (computed from the parameters before the step).

The test loss E[(f - f_0 - y)^2] = |e|^2 is exact for the isotropic input law.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch

from lmech._memory import check_allocation
from lmech.errors import InputError
from lmech.seeding import torch_generator

__all__ = ["DEEP_LINEAR_COLUMNS", "train_deep_linear"]

DEEP_LINEAR_COLUMNS = ("width", "nu", "seed", "step", "test_loss")  # = LINEAR_COLUMNS


def _pos_int(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise InputError(f"{name} must be a positive integer; got {v!r}")
    return int(v)


def train_deep_linear(
    input_dim: int,
    widths: Sequence[int],
    *,
    depth: int,
    seeds: int,
    steps: int,
    lr: float,
    gamma: float = 1.0,
    parameterization: str = "mup",
    residual: bool = False,
    batch: int | None = None,
    num_train: int | None = None,
    spectrum=None,
    target_power=None,
    log_every: int = 1,
    seed: int = 0,
    device: str = "cpu",
) -> pd.DataFrame:
    r"""Train ``seeds`` deep linear networks per width (module docstring); float64.

    Args:
        input_dim: D.
        widths: hidden widths N (one batched program per width).
        depth: L >= 1 hidden layers (L - 1 hidden N x N matrices).
        seeds: independent members per width.
        steps: gradient steps T.
        lr: eta_0; every parameter's learning rate is eta = lr gamma^2 N.
        gamma: richness (``mup``); ``ntk`` uses gamma = (D/N)^{1/2}.
        parameterization: ``"mup"`` or ``"ntk"``.
        residual: h^{l+1} = h^l + W h^l / sqrt(N L) instead of W h^l / sqrt(N).
        batch: B fresh samples per step (one-pass SGD); None = the population gradient.
        num_train: P training points per member, drawn once and reused at every step
            (full-batch GD on repeated data; the table then has a ``train_loss`` column,
            the loss e^T Sigma_hat e on them). The same points for every width.
        spectrum: (D,) eigenvalues lambda_k of the input covariance (inputs
            x_k = lambda_k^{1/2} z_k in its eigenbasis; W_1 is rotation invariant, so
            this is general); population gradient only. The target is then
            b_{*k} = (beta_k / D)^{1/2} z_k (not normalized), beta = ``target_power``
            (default ones), and test_loss = e^T Sigma e.
        log_every: log the loss every this many steps (and at the last).
        seed: root seed. W_1, w and b_* are the draws of ``train_linear_online`` (same
            seed: same networks and targets at depth 1); the hidden matrices come from
            their own stream; the minibatches from ``train_linear_online``'s stream.
        device: torch device.

    Returns:
        One row per (width, seed, logged step): :data:`DEEP_LINEAR_COLUMNS`.
    """
    D = _pos_int("input_dim", input_dim)
    L = _pos_int("depth", depth)
    E = _pos_int("seeds", seeds)
    T = _pos_int("steps", steps)
    every = _pos_int("log_every", log_every)
    if parameterization not in ("mup", "ntk"):
        raise InputError(f"parameterization must be 'mup' or 'ntk'; got {parameterization!r}")
    if not isinstance(residual, bool):
        raise InputError(f"residual must be True or False; got {residual!r}")
    ws = list(widths) if isinstance(widths, Sequence) and not isinstance(widths, str) else None
    if not ws:
        raise InputError(
            f"widths must be a non-empty sequence of positive integers; got {widths!r}"
        )
    ws = [_pos_int("each width", int(n) if float(n) == int(n) else n) for n in ws]
    ok = isinstance(lr, int | float) and not isinstance(lr, bool) and math.isfinite(lr) and lr > 0
    if not ok:
        raise InputError(f"lr must be a finite number > 0; got {lr!r}")
    if parameterization == "mup":
        okg = isinstance(gamma, int | float) and not isinstance(gamma, bool)
        if not okg or not math.isfinite(gamma) or gamma <= 0:
            raise InputError(
                f"gamma (richness) must be a finite number > 0 for trained networks; got {gamma!r}"
            )
    if batch is not None:
        batch = _pos_int("batch (B fresh samples per step, or None)", batch)
    if num_train is not None:
        num_train = _pos_int("num_train (P reused training points, or None)", num_train)
        if batch is not None:
            raise InputError(
                "pass batch (one-pass SGD) or num_train (repeated data), not both; "
                f"got batch={batch!r}, num_train={num_train!r}"
            )
    lam = None
    if spectrum is not None or target_power is not None:
        if spectrum is None or batch is not None or num_train is not None:
            raise InputError(
                "spectrum (with optional target_power) is for the population gradient: "
                "pass spectrum and drop batch / num_train"
            )
        lam = torch.as_tensor(spectrum, dtype=torch.float64).reshape(-1)
        beta = torch.ones(D, dtype=torch.float64) if target_power is None else (
            torch.as_tensor(target_power, dtype=torch.float64).reshape(-1)
        )  # fmt: skip
        ok = lam.numel() == D and beta.numel() == D and bool((lam > 0).all())
        if not ok or not bool(torch.isfinite(lam).all()) or not bool((beta >= 0).all()):
            raise InputError(
                f"spectrum and target_power must be {D} finite values (eigenvalues > 0, "
                f"powers >= 0); got {lam.numel()} and {beta.numel()}"
            )
    dev = torch.device(device)
    nmax = max(ws)
    check_allocation(
        8 * E * (3 * nmax * D + 2 * (L - 1) * nmax * nmax + (batch or num_train or 0) * D),
        f"{E} depth-{L} linear networks of width {nmax} on {D} inputs",
        "use fewer seeds, smaller widths or a smaller depth",
        device=dev,
    )
    log = set(range(0, T + 1, every)) | {T}
    nets = []
    for N in ws:
        g = math.sqrt(D / N) if parameterization == "ntk" else float(gamma)
        # the draws of train_linear_online first (W_1, w, b_*), then the hidden matrices
        gen = torch_generator(seed, "dmft-linear", N, D)
        W1 = torch.randn(E, N, D, generator=gen, dtype=torch.float64).to(dev)
        w = torch.randn(E, N, 1, generator=gen, dtype=torch.float64).to(dev)
        bs = torch.randn(E, D, 1, generator=gen, dtype=torch.float64).to(dev)
        if lam is None:
            bs = bs / bs.norm(dim=1, keepdim=True)
        else:
            bs = bs * (beta / D).sqrt().to(dev)[None, :, None]
        genh = torch_generator(seed, "deep-linear-hidden", N, D, L)
        Ws = [
            torch.randn(E, N, N, generator=genh, dtype=torch.float64).to(dev) for _ in range(L - 1)
        ]
        c = 1.0 / math.sqrt(N * L) if residual else 1.0 / math.sqrt(N)
        nets.append([N, g, W1, Ws, w, bs, None, c])
    gen_x = torch_generator(seed, "dmft-linear-batches", D)
    lamd = None if lam is None else lam.to(dev)
    Xtr = None
    if num_train is not None:  # the training set: same points for every width
        gtr = torch_generator(seed, "deep-linear-train-set", D, num_train)
        Xtr = torch.randn(E, num_train, D, generator=gtr, dtype=torch.float64).to(dev)

    def hidden(W, x, c, transpose=False):  # A_l x or A_l^T x, x (E, N, 1)
        y = (W.transpose(1, 2) if transpose else W) @ x
        return x + c * y if residual else c * y

    def readout_vector(net):  # b = W_1^T A_2^T .. A_L^T w / (gamma N), and v_1..v_L
        N, g, W1, Ws, w, _, _, c = net
        vs = [w]
        for W in reversed(Ws):
            vs.append(hidden(W, vs[-1], c, transpose=True))
        vs.reverse()  # vs[l - 1] = v_l
        return W1.transpose(1, 2) @ vs[0] / (g * N), vs

    for net in nets:
        net[6] = readout_vector(net)[0]  # b_0
    rows = []
    for k in range(T + 1):
        X = None
        if batch is not None and k < T:
            X = torch.randn(E, batch, D, generator=gen_x, dtype=torch.float64).to(dev)
        for net in nets:
            N, g, W1, Ws, w, bs, b0, c = net
            b, vs = readout_vector(net)
            e = bs - (b - b0)  # (E, D, 1)
            if k in log:
                ee = e * e if lam is None else e * e * lamd[None, :, None]
                vals = ee.sum((1, 2)).cpu().tolist()  # e^T Sigma e = E[(f - f_0 - y)^2]
                if Xtr is None:
                    rows += [(N, N / D, s, k, float(vals[s])) for s in range(E)]
                else:  # e^T Sigma_hat e = mean over the P points of (f - f_0 - y)^2
                    tr = ((Xtr @ e) ** 2).mean((1, 2)).cpu().tolist()
                    rows += [(N, N / D, s, k, float(vals[s]), float(tr[s])) for s in range(E)]
            if k == T:
                continue
            if X is not None:
                e = X.transpose(1, 2) @ (X @ e) / batch  # Sigma_hat e
            elif Xtr is not None:
                e = Xtr.transpose(1, 2) @ (Xtr @ e) / num_train
            elif lam is not None:
                e = lamd[None, :, None] * e  # Sigma e
            us = [W1 @ e]  # u_1 .. u_L before the step
            for W in Ws:
                us.append(hidden(W, us[-1], c))
            a = lr * g
            W1.baddbmm_(vs[0], e.transpose(1, 2), alpha=a)  # W_1 += lr gamma v_1 g^T
            for i, W in enumerate(Ws):  # W_{l} (l = i + 2) += lr gamma c v_l u_{l-1}^T
                W.baddbmm_(vs[i + 1], us[i].transpose(1, 2), alpha=a * c)
            w.add_(us[-1], alpha=a)  # w += lr gamma u_L
    cols = list(DEEP_LINEAR_COLUMNS) + ([] if Xtr is None else ["train_loss"])
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["width", "step", "seed"], kind="stable").reset_index(drop=True)

r"""Trained mean-field (muP) two-layer networks at many widths and seeds, for the DMFT laws.

The network is :func:`lmech.nn.models.build` of ``MLPSpec(D, N, depth=1, bias=False)``
with ``Parameterization("mean-field", richness=gamma_0)``:

.. math:: f(x) = \frac{1}{\gamma_0 N}\sum_i a_i\,\phi(w_i \cdot x),\qquad
          a_i \sim \mathcal N(0, 1),\ w_i \sim \mathcal N(0, I/D),

trained with the shared ensemble engine (:func:`lmech.experiment.ensemble.train`, all
seeds of one width as one vmapped program, float64, full-batch SGD, centred output
f - f_0). The mean-field table's lr factors are gamma_0^2 N for both layers; here the
input layer's is divided by D, which puts the first layer on the DMFT clock of
Bordelon & Pehlevan 2022 (h = w . x / sqrt(D) with w ~ N(0, I) trained at rate
gamma_0^2 N; with w_here = w / sqrt(D) the same flow needs the factor gamma_0^2 N / D).
With the engine's loss (1/P) sum (f - y)^2 and learning rate eta, one step is one Euler
step dt = 2 eta of the flow on (1/(2P)) sum (f - y)^2 that :mod:`lmech.theory.dmft` solves.

The NTK of a member is read off its parameters (two-layer closed form):
K = (1/N) sum_i [phi(h_i) phi(h_i)^T + a_i^2 phi'(h_i) phi'(h_i)^T (x.x'/D)], recorded at
the logged steps through the engine's ``pre_step`` hook.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from lmech.errors import InputError
from lmech.experiment.ensemble import Ensemble, train
from lmech.nn.models import MLPSpec
from lmech.nn.param import Parameterization
from lmech.seeding import derive_seed, rng

__all__ = [
    "LINEAR_COLUMNS",
    "ONSET_COLUMNS",
    "TWO_LAYER_COLUMNS",
    "empirical_ntk",
    "feature_kernel_columns",
    "kernel_learning_curve",
    "lazy_network_curves",
    "regression_task",
    "sphere_polynomial_task",
    "train_linear_online",
    "train_mean_field",
    "train_two_layer",
]

TWO_LAYER_COLUMNS = ("width", "seed", "step", "t", "train_loss", "test_loss", "alignment")


def regression_task(
    num_train: int, num_test: int, input_dim: int, data_seed: int, target: str = "quadratic"
):
    """Gaussian inputs x ~ N(0, I_D) and a fixed nonlinear target (numpy float64).

    ``quadratic``: y = (x_1 x_2 + x_1 + (x_3^2 - 1)/2) / sqrt(2.25), unit variance under
    the input law. ``linear``: y = x_1. Returns (X (P + P_test, D), y (P,), y_test).
    """
    if target not in ("quadratic", "linear"):
        raise InputError(f"target must be 'quadratic' or 'linear'; got {target!r}")
    if input_dim < 3 and target == "quadratic":
        raise InputError(f"the quadratic target needs input_dim >= 3; got {input_dim}")
    g = rng(data_seed, "dmft-task", "inputs")
    X = g.standard_normal((num_train + num_test, input_dim))
    if target == "quadratic":
        yall = (X[:, 0] * X[:, 1] + X[:, 0] + 0.5 * (X[:, 2] ** 2 - 1.0)) / 1.5
    else:
        yall = X[:, 0].copy()
    return X, yall[:num_train], yall[num_train:]


def _ntk_from_params(params, X, activation: str, derivative) -> torch.Tensor:
    """(E, n, n) NTK of every member in DMFT units (module docstring)."""
    W = params["input.weight"]  # (E, N, D)
    a = params["output.weight"][:, 0, :]  # (E, N)
    N, D = W.shape[1], W.shape[2]
    h = torch.einsum("end,pd->enp", W, X)
    ph, dph = _act(activation)(h), derivative(h)
    Kx = X @ X.T / D
    ad = a[:, :, None] * dph
    return (ph.transpose(1, 2) @ ph + (ad.transpose(1, 2) @ ad) * Kx) / N


def _act(name: str):
    return {"relu": torch.relu, "erf": torch.erf, "tanh": torch.tanh}.get(name, lambda x: x)


def _deriv(name: str):
    if name == "relu":
        return lambda x: (x > 0).to(x.dtype)
    if name == "erf":
        return lambda x: (2.0 / np.sqrt(np.pi)) * torch.exp(-x * x)
    if name == "tanh":
        return lambda x: 1.0 - torch.tanh(x) ** 2
    return torch.ones_like


def _fields(params, X, fn, depth: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(the weights W^0..W^{L-1}, the pre-activations [h^1..h^L], each (E, N, n)) of every
    member of a depth-L chain: h^1 = W^0 x, h^{l+1} = W^l phi(h^l) (engine units)."""
    Ws = [params["input.weight"]] + [params[f"hidden.{i}.weight"] for i in range(depth - 1)]
    hs = [torch.einsum("end,pd->enp", Ws[0], X)]
    for W in Ws[1:]:
        hs.append(torch.einsum("enm,emp->enp", W, fn(hs[-1])))
    return Ws, hs


def _deep_ntk_from_params(params, X, activation: str, derivative, depth: int) -> torch.Tensor:
    """(E, n, n) NTK sum_l G^{l+1} * Phi^l of every member of a depth-L chain (DMFT units).

    h^1 = W^0 x (engine W^0 = W / sqrt(D)), h^{l+1} = W^l phi(h^l) (engine W^l = W / sqrt(N)),
    g^L = w phi'(h^L) with the raw readout w ~ N(0, 1), g^l = phi'(h^l) (W^{l T} g^{l+1}),
    Phi^l = phi phi^T / N, G^l = g g^T / N, Phi^0 = x . x' / D.
    """
    fn = _act(activation)
    D = X.shape[1]
    Ws, hs = _fields(params, X, fn, depth)
    N = Ws[0].shape[1]
    g = params["output.weight"][:, 0, :, None] * derivative(hs[-1])  # (E, N, n)
    K = fn(hs[-1]).transpose(1, 2) @ fn(hs[-1]) / N
    for lay in range(depth, 0, -1):  # g = g^lay
        prev = X @ X.T / D if lay == 1 else fn(hs[lay - 2]).transpose(1, 2) @ fn(hs[lay - 2]) / N
        K = K + (g.transpose(1, 2) @ g / N) * prev
        if lay > 1:
            g = derivative(hs[lay - 2]) * torch.einsum("enm,enp->emp", Ws[lay - 1], g)
    return K


def _feature_kernels_from_params(params, X, activation: str, depth: int) -> list[torch.Tensor]:
    """[(E, n, n)] feature kernels Phi^l = phi(h^l)^T phi(h^l) / N, l = 1..L, of every
    member (the chain of :func:`_deep_ntk_from_params`; depth 1 is the two-layer net)."""
    fn = _act(activation)
    Ws, hs = _fields(params, X, fn, depth)
    N = Ws[0].shape[1]
    return [fn(h).transpose(1, 2) @ fn(h) / N for h in hs]


def feature_kernel_columns(depth: int, num_train: int) -> list[str]:
    """Column names ``phi{l}_{a}_{b}`` (layer l = 1..L, train points a <= b) of the
    equal-time feature kernels Phi^l(t, t)[a, b] that :func:`train_mean_field` adds with
    ``feature_kernels=True`` (and the deep DMFT law's theory table mirrors)."""
    return [
        f"phi{lay}_{a}_{b}"
        for lay in range(1, depth + 1)
        for a in range(num_train)
        for b in range(a, num_train)
    ]


def train_two_layer(
    X: np.ndarray,
    y: np.ndarray,
    y_test: np.ndarray,
    *,
    widths: Sequence[int],
    seeds: int,
    gamma0: float,
    lr: float,
    steps: int,
    log_every: int,
    activation: str = "relu",
    seed: int = 0,
    device: str = "cpu",
    alignment: bool = True,
    predictions: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Train ``seeds`` two-layer networks per width: :func:`train_mean_field` at depth 1."""
    return train_mean_field(
        X, y, y_test, widths=widths, seeds=seeds, gamma0=gamma0, lr=lr, steps=steps,
        log_every=log_every, activation=activation, seed=seed, device=device,
        alignment=alignment, predictions=predictions, depth=1,
    )  # fmt: skip


def train_mean_field(
    X: np.ndarray,
    y: np.ndarray,
    y_test: np.ndarray,
    *,
    widths: Sequence[int],
    seeds: int,
    gamma0: float,
    lr: float,
    steps: int,
    log_every: int,
    activation: str = "relu",
    seed: int = 0,
    device: str = "cpu",
    alignment: bool = True,
    predictions: bool = False,
    depth: int = 1,
    feature_kernels: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Train ``seeds`` mean-field MLPs with ``depth`` hidden layers per width; returns
    (history table, final test predictions).

    The hidden matrices (depth >= 2) are ``MLPSpec(depth=L)``'s mean-field rows: init
    N(0, 1/N), multiplier 1, lr factor gamma_0^2, which is the DMFT clock of
    :mod:`lmech.theory.dmft.deep` (W = sqrt(N) W_here trained at rate gamma_0^2 N).
    The seeds of depth 1 are those of :func:`train_two_layer` (unchanged).

    ``X`` holds the P training points (first, as many as ``y``) and then the test points.
    History columns: :data:`TWO_LAYER_COLUMNS` (t = 2 lr step, the DMFT time). With
    ``predictions`` the second table has one row per (width, seed, point) with the
    centred output f - f_0 at the end of training on every point (train then test).
    With ``feature_kernels`` the history also has the columns
    :func:`feature_kernel_columns` (each member's Phi^l(t, t) on the training points,
    read off its parameters at the logged steps).
    """
    if gamma0 <= 0:
        raise InputError(f"trained networks need gamma0 > 0; got {gamma0}")
    if activation not in ("relu", "erf", "tanh", "identity"):
        raise InputError(
            f"activation must be one of ('relu', 'erf', 'tanh', 'identity'); got {activation!r}"
        )
    P = len(y)
    dev = torch.device(device)
    Xt = torch.as_tensor(X, dtype=torch.float64, device=dev)
    Xtr, Xte = Xt[:P], Xt[P:]
    ytr = torch.as_tensor(y, dtype=torch.float64, device=dev)
    yte = torch.as_tensor(y_test, dtype=torch.float64, device=dev)
    D = X.shape[1]
    deriv = _deriv(activation)
    log_steps = sorted(set(range(0, steps + 1, log_every)) | {steps})
    iu = torch.triu_indices(P, P, device=dev)  # the feature-kernel columns' entries
    rows, preds = [], []
    for N in widths:
        spec = MLPSpec(D, int(N), depth=int(depth), activation=activation, bias=False)
        p = Parameterization("mean-field", "sgd", richness=float(gamma0))
        keys = ("dmft-net", int(N)) if depth == 1 else ("dmft-deep-net", int(depth), int(N))
        member_seeds = [derive_seed(seed, *keys, k) for k in range(seeds)]
        ens = Ensemble.from_spec(spec, p, member_seeds, dtype="float64", device=dev)
        factors = dict(ens.lr_factors)
        factors["input.weight"] /= D
        ens = Ensemble(ens.template, ens.params, factors)
        f0_all = ens.forward(Xt).detach()[..., 0]  # (E, P_tot)
        kernels: dict[int, torch.Tensor] = {}
        feats: dict[int, list[torch.Tensor]] = {}
        calls = [0]

        def ntk_of(params):
            if depth == 1:
                return _ntk_from_params(params, Xtr, activation, deriv)
            return _deep_ntk_from_params(params, Xtr, activation, deriv, int(depth))

        def feats_of(params):  # (E, L * P (P + 1) / 2), the upper triangles, layer-major
            ks = _feature_kernels_from_params(params, Xtr, activation, int(depth))
            return torch.cat([k[:, iu[0], iu[1]] for k in ks], dim=1).detach().cpu()

        def hook(params, calls=calls, kernels=kernels, feats=feats):
            s = calls[0]
            calls[0] += 1
            if alignment and s in log_steps:
                kernels[s] = ntk_of(params)
            if feature_kernels and s in log_steps:
                feats[s] = feats_of(params)

        record = alignment or feature_kernels
        run = train(
            ens, Xtr, ytr, lr=lr, steps=steps, center=True, log_steps=log_steps,
            observers=("loss",), test=(Xte, yte), seed=derive_seed(seed, "dmft-batches"),
            pre_step=hook if record else None,
        )  # fmt: skip
        if alignment:
            kernels[steps] = ntk_of(ens.params)
        if feature_kernels:
            feats[steps] = feats_of(ens.params)
        tr = run.scalar("loss")
        te = run.scalar("loss", "test")
        for s in log_steps:
            for e in range(seeds):
                al = np.nan
                if alignment:
                    K = kernels[s][e]
                    al = float(ytr @ K @ ytr / (torch.linalg.norm(K) * (ytr @ ytr)))
                row = (int(N), e, s, 2.0 * lr * s, float(tr.loc[s, e]), float(te.loc[s, e]), al)
                if feature_kernels:
                    row = row + tuple(feats[s][e].tolist())
                rows.append(row)
        if predictions:
            with torch.no_grad():
                out = (ens.forward(Xt)[..., 0] - f0_all).cpu().numpy()
            for e in range(seeds):
                for j in range(out.shape[1]):
                    preds.append((int(N), e, j, float(out[e, j])))
    cols = list(TWO_LAYER_COLUMNS)
    if feature_kernels:
        cols += feature_kernel_columns(int(depth), P)
    hist = pd.DataFrame(rows, columns=cols)
    pred = pd.DataFrame(preds, columns=["width", "seed", "point", "f"]) if predictions else None
    return hist, pred


LINEAR_COLUMNS = ("width", "nu", "seed", "step", "test_loss")


def train_linear_online(
    input_dim: int,
    widths: Sequence[int],
    *,
    seeds: int,
    steps: int,
    lr: float,
    gamma: float = 1.0,
    parameterization: str = "mup",
    log_every: int = 1,
    batch: int | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> pd.DataFrame:
    r"""Linear networks f(x) = w^T W x / (gamma N) trained by one-pass SGD or on the population loss.

    The setting of :func:`lmech.theory.dmft.dmft_deep_linear`: W (N x D) and w (N,) with
    N(0, 1) entries, a target y = b_*^T x with a random unit b_* (one per member),
    isotropic Gaussian inputs, and full gradient descent with learning
    rate eta = lr gamma^2 N on the expected loss (1/2) E[(f - f_0 - y)^2]
    = (1/2)|b - b_0 - b_*|^2, b = W^T w / (gamma N): one-pass SGD with an infinite batch.
    ``ntk`` uses gamma = (D/N)^{1/2}. All seeds of a width train as one batched program;
    the gradients are written out (W <- W + c w e^T, w <- w + c W e with c = eta/(gamma N),
    checked against autograd in the tests) so the step is two in-place products.
    With ``batch=B`` each step instead draws B fresh inputs x ~ N(0, I_D) per member and
    takes the gradient of (1/(2B)) sum (f - f_0 - y)^2 (one-pass SGD: the error direction
    e becomes Sigma_hat e, Sigma_hat = X^T X / B). Returns one row per (width, seed,
    logged step) with the test loss E[(f - f_0 - y)^2] (:data:`LINEAR_COLUMNS`), exact
    for the isotropic input law.
    """
    from lmech._memory import check_allocation
    from lmech.seeding import torch_generator

    if parameterization not in ("mup", "ntk"):
        raise InputError(f"parameterization must be 'mup' or 'ntk'; got {parameterization!r}")
    dev = torch.device(device)
    D = int(input_dim)
    check_allocation(
        8 * 4 * seeds * max(widths) * D,
        f"{seeds} linear networks of width {max(widths)} on {D} inputs",
        "use fewer seeds or smaller widths",
    )
    if batch is not None and (isinstance(batch, bool) or int(batch) != batch or batch < 1):
        raise InputError(f"batch must be a positive integer or None; got {batch!r}")
    log = set(range(0, steps + 1, log_every)) | {steps}
    nets = []
    for N in widths:
        N = int(N)
        g = math.sqrt(D / N) if parameterization == "ntk" else float(gamma)
        gen = torch_generator(seed, "dmft-linear", N, D)
        W = torch.randn(seeds, N, D, generator=gen, dtype=torch.float64).to(dev)
        w = torch.randn(seeds, N, 1, generator=gen, dtype=torch.float64).to(dev)
        bs = torch.randn(seeds, D, 1, generator=gen, dtype=torch.float64).to(dev)
        bs = bs / bs.norm(dim=1, keepdim=True)
        b0 = W.transpose(1, 2) @ w / (g * N)
        # eta = lr gamma^2 N; the gradients are -(1/(gamma N)) w e^T and -(1/(gamma N)) W e
        nets.append((N, g, W, w, bs, b0, lr * g))
    # one minibatch stream: member s of every width sees the same fresh samples at each
    # step (common random numbers across widths; members stay independent)
    gen_x = torch_generator(seed, "dmft-linear-batches", D)
    rows = []
    for k in range(steps + 1):
        X = None
        if batch is not None and k < steps:
            X = torch.randn(seeds, int(batch), D, generator=gen_x, dtype=torch.float64).to(dev)
        for N, g, W, w, bs, b0, c in nets:
            b = W.transpose(1, 2) @ w / (g * N)
            e = bs - (b - b0)
            if k in log:
                vals = (e * e).sum((1, 2)).cpu().numpy()  # E[(f - f_0 - y)^2] per member
                rows += [(N, N / D, s, k, float(vals[s])) for s in range(seeds)]
            if k == steps:
                continue
            if X is not None:
                e = X.transpose(1, 2) @ (X @ e) / batch  # Sigma_hat e
            dw = W @ e  # (E, N, 1), before W moves: simultaneous update
            W.baddbmm_(w, e.transpose(1, 2), alpha=c)
            w.add_(dw, alpha=c)
    out = pd.DataFrame(rows, columns=list(LINEAR_COLUMNS))
    return out.sort_values(["width", "step", "seed"], kind="stable").reset_index(drop=True)


ONSET_COLUMNS = ("width", "seed", "data_set", "num_train", "test_mse", "ensemble_mse")


def sphere_polynomial_task(
    num_train: int, num_test: int, input_dim: int, data_seed: int, draw: int = 0
):
    r"""Inputs uniform on the sphere |x| = sqrt(D) and y = x_1 + x_2 x_3 + (x_4^2 - 1)/2.

    A degree-2 polynomial with unit-order variance: the infinite-width ReLU NTK learns it
    with a learning curve that falls as a power law in P once its low harmonics are
    resolved. ``draw`` picks one of independent data sets of the same law. Returns
    (X (P + P_test, D), y (P + P_test,)), training points first.
    """
    if input_dim < 4:
        raise InputError(f"the sphere polynomial task needs input_dim >= 4; got {input_dim}")
    g = rng(data_seed, "dmft-onset-task", "inputs", draw)
    X = g.standard_normal((num_train + num_test, input_dim))
    X *= math.sqrt(input_dim) / np.linalg.norm(X, axis=1, keepdims=True)
    y = X[:, 0] + X[:, 1] * X[:, 2] + 0.5 * (X[:, 3] ** 2 - 1.0)
    return X, y


def _ridgeless_predictions(K: torch.Tensor, y: torch.Tensor, sizes, n_train: int, ridge: float):
    """(len(sizes), n_test) test predictions of kernel regression on the first P points."""
    te = slice(n_train, K.shape[0])
    out = []
    for P in sizes:
        A = K[:P, :P]
        lam = ridge * torch.diagonal(A).mean()
        eye = torch.eye(P, dtype=K.dtype, device=K.device)
        alpha = torch.linalg.solve(A + lam * eye, y[:P])
        out.append(K[te, :P] @ alpha)
    return torch.stack(out)


def _ridgeless_curve(K: torch.Tensor, y: torch.Tensor, sizes, n_train: int, ridge: float):
    """Test MSE of kernel regression on the first P training points, for each P."""
    f = _ridgeless_predictions(K, y, sizes, n_train, ridge)
    return [float(v) for v in ((f - y[n_train:][None, :]) ** 2).mean(1)]


def kernel_learning_curve(K, y, sizes, n_train: int, ridge: float = 1e-10, device: str = "cpu"):
    """Test MSE of (near-)ridgeless regression with kernel K (train points first) at each P."""
    Kt = torch.as_tensor(np.asarray(K), dtype=torch.float64, device=device)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.float64, device=device)
    return np.array(_ridgeless_curve(Kt, yt, sizes, n_train, ridge))


def empirical_ntk(W, a, X, activation: str = "relu", Kx=None) -> torch.Tensor:
    r"""NTK of f(x) = (1/sqrt(N)) sum_i a_i phi(w_i . x / sqrt(D)) at (W (N, D), a (N,)).

    K = (1/N) sum_i [phi(h_i) phi(h_i)^T + a_i^2 phi'(h_i) phi'(h_i)^T (x.x'/D)] over the
    rows of X (the DMFT units of :mod:`lmech.theory.dmft`).
    """
    N, D = W.shape
    Kx = X @ X.T / D if Kx is None else Kx
    h = X @ W.T / math.sqrt(D)
    ph, ad = _act(activation)(h), _deriv(activation)(h) * a[None, :]
    return (ph @ ph.T + (ad @ ad.T) * Kx) / N


def lazy_network_curves(
    tasks: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    n_train: int,
    sizes: Sequence[int],
    widths: Sequence[int],
    seeds: int,
    activation: str = "relu",
    ridge: float = 1e-10,
    seed: int = 0,
    device: str = "cpu",
) -> pd.DataFrame:
    r"""Learning curves of lazy two-layer networks of finite width, one per seed.

    A centred network f(x) = (1/sqrt(N)) sum_i a_i phi(w_i . x / sqrt(D)) (a_i, w_ij ~
    N(0, 1)) trained to convergence in the lazy regime is kernel regression with its
    empirical NTK at initialization,
    K_N = (1/N) sum_i [phi(h_i) phi(h_i)^T + a_i^2 phi'(h_i) phi'(h_i)^T (x.x'/D)]
    (Jacot et al. 2018; Lee et al. 2019); each network's curve is that regression on the
    first P training points (ridge ``ridge`` times the mean diagonal, for round-off only).
    ``tasks`` are data sets (X (n_train + n_test, D), y), training points first; seed s
    uses ``tasks[s % len(tasks)]``. Returns :data:`ONSET_COLUMNS` rows; ``ensemble_mse``
    is the test MSE of the mean prediction of all networks of that width on the same data
    set (the ensemble average), repeated on each member's rows.
    """
    from lmech._memory import check_allocation
    from lmech.seeding import torch_generator

    dev = torch.device(device)
    n_all, D = tasks[0][0].shape
    check_allocation(
        8 * (4 * n_all * max(widths) + 4 * n_all * n_all),
        f"the empirical NTK of width {max(widths)} over {n_all} points",
        "use fewer points or smaller widths",
        device=dev,
    )
    data = []
    for X, y in tasks:
        Xt = torch.as_tensor(X, dtype=torch.float64, device=dev)
        data.append((Xt, torch.as_tensor(y, dtype=torch.float64, device=dev), Xt @ Xt.T / D))
    rows = []
    for N in widths:
        gen = torch_generator(seed, "dmft-onset-net", int(N))
        preds: dict[int, list] = {}
        for s in range(seeds):
            d = s % len(data)
            Xt, yt, Kx = data[d]
            W = torch.randn(int(N), D, generator=gen, dtype=torch.float64).to(dev)
            a = torch.randn(int(N), generator=gen, dtype=torch.float64).to(dev)
            K = empirical_ntk(W, a, Xt, activation, Kx)
            preds.setdefault(d, []).append(_ridgeless_predictions(K, yt, sizes, n_train, ridge))
        for d, fs in preds.items():
            yte = data[d][1][n_train:][None, :]
            ens = ((torch.stack(fs).mean(0) - yte) ** 2).mean(1).cpu().numpy()
            for j, f in enumerate(fs):
                mse = ((f - yte) ** 2).mean(1).cpu().numpy()
                s = d + j * len(data)
                rows += [
                    (int(N), s, d, int(P), float(mse[i]), float(ens[i]))
                    for i, P in enumerate(sizes)
                ]
    return pd.DataFrame(rows, columns=list(ONSET_COLUMNS))

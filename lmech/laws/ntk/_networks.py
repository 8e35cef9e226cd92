r"""Shared pieces of the ntk family: the one network spec, samplers, training, tables.

Each law spec has the fields ``input_dim``, ``depth``, ``activation`` (or
``activations``), ``weight_std`` and ``bias_std``; :func:`network` turns them into the
:class:`lmech.nn.models.MLPSpec` from which *both* sides come: the theory takes
``net.nngp()`` / ``net.ntk()``, the experiment ``net.ntk_network(seed=...)`` (or samples
that network's outputs, :func:`sample_outputs`). Theory and experiment therefore cannot
disagree on activation, depth or the weight and bias scales.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from lmech.nn.models import ACTIVATION_NAMES, MLPSpec, activation_fn

__all__ = [
    "ACTIVATIONS",
    "network",
    "upper_entries",
    "loglog_fit",
    "sample_outputs",
    "product_moments",
    "step_table",
    "centered_gradient_descent",
]

# the activations a law spec accepts: the one table of lmech.kernels.infinite
ACTIVATIONS = ACTIVATION_NAMES


def network(spec, width: int, activation: str | None = None) -> MLPSpec:
    """The scalar-output MLP of a law spec at ``width`` (both sides build from it)."""
    return MLPSpec(
        spec.input_dim,
        width,
        spec.depth,
        1,
        activation if activation is not None else spec.activation,
        bias=True,
        weight_std=spec.weight_std,
        bias_std=spec.bias_std,
    )


def upper_entries(K: torch.Tensor, column: str, **cols) -> pd.DataFrame:
    """The entries i <= j of a symmetric (p, p) matrix as rows (``cols`` repeated)."""
    i, j = np.triu_indices(K.shape[0])
    return pd.DataFrame({**cols, "i": i, "j": j, column: K.detach().cpu().numpy()[i, j]})


def loglog_fit(x, y) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line log y = slope log x + intercept."""
    slope, intercept = np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)
    return float(slope), float(intercept)


def _layer(prev: torch.Tensor, fan_in: int, width: int, net: MLPSpec, gen) -> torch.Tensor:
    """Pre-activations (B, width, p) of one NTK-parameterized dense layer given the
    previous post-activations ``prev`` (B, fan_in, p), drawn exactly in distribution.

    h = (sigma_w / sqrt(fan_in)) W a + sigma_b b with W, b i.i.d. N(0, 1): each of the
    ``width`` rows of h is an independent N(0, C) vector over the p inputs with
    C = sigma_w^2 a^T a / fan_in + sigma_b^2 1 1^T.
    """
    cov = net.weight_std**2 * (prev.transpose(1, 2) @ prev) / fan_in + net.bias_std**2
    s, U = torch.linalg.eigh(cov)  # (B, p), (B, p, p): cov = U diag(s) U^T
    root = U * s.clamp_min(0.0).sqrt()[:, None, :]  # cov = root root^T
    # standard normals drawn in float32 on the CPU (4x faster), used in float64 from here on
    z = torch.randn(prev.shape[0], width, cov.shape[-1], generator=gen, dtype=torch.float32)
    return z.to(prev.device, prev.dtype) @ root.transpose(1, 2)


def sample_outputs(net: MLPSpec, X: torch.Tensor, count: int, gen) -> torch.Tensor:
    """Outputs f(x_1..x_p) of ``count`` random networks ``net.ntk_network``, shape (count, p).

    The same random network as :meth:`MLPSpec.ntk_network` (plain chain, scalar output),
    drawn p-dimensionally layer by layer (:func:`_layer`) without materializing a
    weight matrix: memory count x width x p instead of count x width^2.
    """
    phi = activation_fn(net.activation)
    a = X.T.expand(count, -1, -1)  # (B, d, p): the "post-activations" of the input layer
    fan_in = net.in_features
    for _ in range(net.depth):
        a = phi(_layer(a, fan_in, net.width, net, gen))
        fan_in = net.width
    return _layer(a, fan_in, 1, net, gen)[:, 0, :]


def product_moments(
    net: MLPSpec, X: torch.Tensor, networks: int, chunk: int, gen, advance=lambda k: None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of f(x_i) f(x_j), i <= j (np.triu_indices order), over
    ``networks`` random networks of ``net`` drawn ``chunk`` at a time."""
    i, j = np.triu_indices(X.shape[0])
    s1, s2, done = np.zeros(i.size), np.zeros(i.size), 0
    while done < networks:
        b = min(chunk, networks - done)
        f = sample_outputs(net, X, b, gen).cpu().numpy()  # (b, p)
        prod = f[:, i] * f[:, j]  # (b, pairs)
        s1, s2, done = s1 + prod.sum(0), s2 + (prod**2).sum(0), done + b
        advance(1)
    mean = s1 / done
    return mean, np.sqrt((s2 - done * mean**2) / (done - 1) / done)


def step_table(f, steps, **cols) -> pd.DataFrame:
    """Outputs f (T, n) at ``steps`` (T,) as rows (step, point, f); scalar ``cols`` are
    repeated, per-point arrays (n,) tiled over steps."""
    f = np.asarray(f)
    T, n = f.shape
    cols = {k: (np.tile(np.asarray(v), T) if np.ndim(v) else v) for k, v in cols.items()}
    scalars = {k: v for k, v in cols.items() if np.ndim(v) == 0}
    arrays = {k: v for k, v in cols.items() if np.ndim(v) > 0}
    index = {"step": np.repeat(np.asarray(steps, dtype=int), n), "point": np.tile(np.arange(n), T)}
    return pd.DataFrame({**scalars, **index, **arrays, "f": f.reshape(-1)})


def centered_gradient_descent(
    model: torch.nn.Module, X, y, train, lr: float, steps: int, logged
) -> np.ndarray:
    """Full-batch gradient descent on L = 1/2 sum_{i in train} (f(x_i) - y_i)^2 of the
    centered network f = f_theta - f_theta0 (so f_0 = 0); f(X) at the ``logged`` steps,
    shape (len(logged), n). Centering leaves the gradients, hence the dynamics, unchanged."""
    with torch.no_grad():
        f0 = model(X)[:, 0]  # (n,)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    logged, out = {int(t) for t in logged}, []
    for t in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        f = model(X)[:, 0] - f0
        (0.5 * ((f[train] - y[train]) ** 2).sum()).backward()
        opt.step()
        if t in logged:
            with torch.no_grad():
                out.append((model(X)[:, 0] - f0).cpu().numpy())
    return np.stack(out)

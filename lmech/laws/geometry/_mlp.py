"""A plain ReLU MLP trained by Adam on a classification set, with checkpoints (family-private)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from lmech.seeding import torch_generator


def relu_mlp(in_features: int, width: int, depth: int, classes: int, seed: int) -> nn.Sequential:
    """Linear(in, w), ReLU, (Linear(w, w), ReLU) x (depth - 1), Linear(w, classes), float32,
    PyTorch's default init drawn from the stream (seed, "init")."""
    gen = torch_generator(seed, "init")
    layers: list[nn.Module] = []
    d = in_features
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    layers.append(nn.Linear(d, classes))
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                bound = 1.0 / m.in_features**0.5  # kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))
                m.weight.uniform_(-bound, bound, generator=gen)
                m.bias.uniform_(-bound, bound, generator=gen)
    return model


def relu_names(depth: int) -> list[str]:
    """The module names of the ReLU outputs (the hidden representations)."""
    return [str(2 * i + 1) for i in range(depth)]


def train(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    checkpoints: tuple[int, ...],
    at_checkpoint: Callable[[int], None],
) -> None:
    """Adam on cross-entropy; ``at_checkpoint(epoch)`` runs after the listed epochs (0 = init)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch_generator(seed, "batches")
    if 0 in checkpoints:
        at_checkpoint(0)
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(X.shape[0], generator=gen).to(X.device)
        for i in range(0, X.shape[0], batch_size):
            idx = perm[i : i + batch_size]
            opt.zero_grad()
            nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
        if epoch in checkpoints:
            at_checkpoint(epoch)

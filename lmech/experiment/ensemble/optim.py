r"""Functional optimizers on stacked (E, ...) parameters, with torch.optim semantics.

One step of member e on parameter p with gradient g, learning rate eta_e lr_p (eta_e the
member's rate, lr_p the parameter's factor from its parameterization,
:func:`lmech.nn.param.lr_factors`) and weight decay lambda_e:

- ``sgd`` (``torch.optim.SGD``, coupled decay): d = g + lambda_e p; with momentum mu,
  b_t = mu b_{t-1} + d (b_1 = d) and d = b_t; then p -= eta_e lr_p d;
- ``adam`` (``torch.optim.Adam``, coupled decay): g += lambda_e p, then the Adam moments
  m_t = b1 m + (1 - b1) g, v_t = b2 v + (1 - b2) g^2 and
  p -= (eta_e lr_p / (1 - b1^t)) m_t / (sqrt(v_t) / sqrt(1 - b2^t) + eps);
- ``adamw`` (``torch.optim.AdamW``, decoupled): p *= 1 - eta_e lr_p lambda_e, then Adam
  on g.

The operations are torch's own, in the same order, so a member follows the trajectory of
the network trained alone with ``torch.optim`` to round-off.

References:
    Kingma & Ba 2015 (Adam), Loshchilov & Hutter 2019 (AdamW).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lmech.errors import ConfigError, InputError
from lmech.nn.param import OPTIMIZERS

__all__ = ["OPTIMIZERS", "Optimizer", "check_learning_rates", "check_optimizer"]


def check_optimizer(optimizer: str) -> None:
    """ConfigError unless ``optimizer`` is one of :data:`OPTIMIZERS`."""
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {optimizer!r}; expected one of {OPTIMIZERS}")


def check_learning_rates(lr, count: int | None = None) -> np.ndarray:
    """Learning rates as a 1-D float64 array of positive finite values (InputError otherwise)."""
    arr = np.atleast_1d(np.asarray(lr.cpu() if isinstance(lr, torch.Tensor) else lr, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"learning rates must be a number or a 1-D list; got {lr!r}")
    bad = arr[~(np.isfinite(arr) & (arr > 0))]
    if bad.size:
        raise InputError(
            f"learning rates must be positive and finite; got {bad.tolist()} in {arr.tolist()}"
        )
    if count is not None and arr.size not in (1, count):
        raise InputError(f"expected 1 or {count} learning rates (one per member); got {arr.size}")
    return arr


class Optimizer:
    """The optimizer state of an ensemble: per-member lr and decay, moments per parameter.

    Args:
        params: the stacked (E, ...) parameters it will update.
        lr_factors: name -> lr factor of each parameter.
        optimizer: ``"sgd"``, ``"adam"`` or ``"adamw"``.
        lr: one learning rate or one per member (E,), all > 0.
        weight_decay: a number or one per member (E,), all >= 0.
        momentum: SGD momentum; betas, eps: Adam's.
    """

    def __init__(
        self,
        params: dict[str, torch.Tensor],
        lr_factors: dict[str, float],
        optimizer: str,
        lr,
        weight_decay=0.0,
        momentum: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        check_optimizer(optimizer)
        first = next(iter(params.values()))
        E, device, dtype = first.shape[0], first.device, first.dtype
        lrs = check_learning_rates(lr, E)
        self.lr = torch.as_tensor(np.broadcast_to(lrs, (E,)).copy(), dtype=dtype, device=device)
        wd = np.broadcast_to(np.asarray(weight_decay, dtype=float), (E,))
        if not (np.isfinite(wd).all() and (wd >= 0).all()):
            raise InputError(f"weight_decay must be >= 0 and finite; got {weight_decay!r}")
        self.wd = torch.as_tensor(wd.copy(), dtype=dtype, device=device)
        self.name, self.momentum, self.eps = optimizer, momentum, eps
        self.b1, self.b2 = betas
        self.factors = lr_factors
        # (E, 1, ...): a per-member scalar broadcast against each stacked parameter
        self.shape1 = {k: (E,) + (1,) * (v.ndim - 1) for k, v in params.items()}
        self.m1 = {k: torch.zeros_like(v) for k, v in params.items()}  # momentum / Adam m
        self.m2 = {k: torch.zeros_like(v) for k, v in params.items()}  # Adam v

    @torch.no_grad()
    def step(self, params: dict[str, torch.Tensor], g: dict[str, torch.Tensor], t: int) -> None:
        """Step t (1-based) on ``params`` in place, with gradients ``g`` (same names)."""
        m1, m2, b1, b2, eps = self.m1, self.m2, self.b1, self.b2, self.eps
        momentum, wd = self.momentum, self.wd
        for k, p in params.items():
            lr_k = (self.lr * self.factors[k]).view(self.shape1[k])  # per-member lr x factor
            wd_k = wd.view(self.shape1[k])
            gk = g[k]
            decay = bool((wd != 0).any())
            if self.name == "sgd":
                d = gk + wd_k * p if decay else gk  # coupled weight decay
                if momentum:
                    m1[k].mul_(momentum).add_(d) if t > 1 else m1[k].copy_(d)
                    d = m1[k]
                p.addcmul_(lr_k, d, value=-1.0)
                continue
            if self.name == "adamw" and decay:
                p.mul_(1 - lr_k * wd_k)  # decoupled
            elif decay:
                gk = gk + wd_k * p
            m1[k].lerp_(gk, 1 - b1)
            m2[k].mul_(b2).addcmul_(gk, gk, value=1 - b2)
            bc1 = 1 - b1**t
            bc2_sqrt = math.sqrt(1 - b2**t)
            denom = (m2[k].sqrt() / bc2_sqrt).add_(eps)
            p.sub_((lr_k / bc1) * m1[k] / denom)

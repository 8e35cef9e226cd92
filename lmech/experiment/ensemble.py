r"""Train E networks of one architecture as one vmapped program.

The E members (e.g. seeds x learning rates, or seeds x training fractions) share a
module *template*; their parameters are stacked to (E, ...) and every step runs

.. math::

    g_e = \nabla_{\theta_e} \sum_{i} w_{e,i}\, \ell\big(f(x_{e,i}; \theta_e), y_{e,i}\big),
    \qquad \theta_e \leftarrow \text{update}(\theta_e, g_e;\ \eta_e \cdot \text{lr}_p)

with ``torch.func.functional_call`` + ``torch.func.vmap`` over the member axis, where
w_{e,i} = mask_{e,i} / sum_i mask_{e,i} (the mean loss over member e's own training
subset or minibatch), eta_e the member's learning rate and lr_p the parameter's factor
from its parameterization (:func:`lmech.nn.param.lr_factors`). Updates are those of
``torch.optim.SGD`` (momentum, coupled weight decay), ``torch.optim.Adam`` (coupled
weight decay) and ``torch.optim.AdamW`` (decoupled), written functionally on the stacked
tensors, so member e follows the same trajectory as the network trained alone (the tests
check this to float64 round-off).

At logged steps observers record, per member: ``loss`` and ``accuracy`` on the training
set (and on ``test`` data if given), ``feature_change`` ||h_t - h_0||_F / ||h_0||_F per
named layer on a probe batch, ``ntk_change`` ||K_t - K_0||_F / ||K_0||_F of the
lr-weighted empirical NTK K = sum_p lr_p J_p J_p^T (the kernel of the training dynamics,
traced over outputs) on the probe batch, and ``spectra``, the singular values of every
effective weight matrix multiplier * W. The result is one tidy table.

References:
    Horace He, "Model ensembling" (torch.func tutorial): stacking parameters and
    ``vmap(functional_call)``; Kingma & Ba 2015 (Adam), Loshchilov & Hutter 2019 (AdamW).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from lmech import progress
from lmech.errors import ConfigError, InputError
from lmech.nn.param import OPTIMIZERS, lr_factors

__all__ = [
    "Ensemble",
    "EnsembleRun",
    "train",
    "LOSSES",
    "OBSERVERS",
    "check_learning_rates",
    "member_batches",
]

OBSERVERS = ("loss", "accuracy", "feature_change", "ntk_change", "spectra")
LOSSES = ("mse", "cross_entropy")
_Params = dict[str, torch.Tensor]


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


class _FeatureView(nn.Module):
    """Calls ``m.features(x)`` as forward, so functional_call can reach it."""

    def __init__(self, m: nn.Module) -> None:
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.m.features(x)


class Ensemble:
    """E networks sharing ``template``'s architecture, parameters stacked to (E, ...).

    Args:
        template: a module; its own parameter values are not used.
        params: name -> (E, *shape) stacked parameters (``template``'s names).
        lr_factors: name -> lr factor (1 where missing); defaults to the template's
            parameterization table when it has one.
    """

    def __init__(
        self,
        template: nn.Module,
        params: _Params,
        lr_factors_: dict[str, float] | None = None,
    ) -> None:
        names = [n for n, _ in template.named_parameters()]
        if set(params) != set(names):
            raise InputError(
                f"stacked params must have the template's names {names}; got {list(params)}"
            )
        sizes = {p.shape[0] for p in params.values()}
        if len(sizes) != 1:
            raise InputError(f"stacked params disagree on the member count: {sorted(sizes)}")
        self.template = template
        self.params = {n: params[n] for n in names}
        if lr_factors_ is None:
            lr_factors_ = lr_factors(template) if hasattr(template, "lmech_table") else {}
        self.lr_factors = {n: float(lr_factors_.get(n, 1.0)) for n in names}
        self.buffers = dict(template.named_buffers())
        self._view = _FeatureView(template) if hasattr(template, "features") else None

    @classmethod
    def from_modules(cls, modules: Sequence[nn.Module]) -> Ensemble:
        """Stack equal-shaped modules; member e starts exactly at ``modules[e]``."""
        if not modules:
            raise InputError("an ensemble needs at least one module")
        first = modules[0]
        shapes = {n: p.shape for n, p in first.named_parameters()}
        for k, m in enumerate(modules[1:], 1):
            other = {n: p.shape for n, p in m.named_parameters()}
            if other != shapes:
                raise InputError(
                    f"module {k} has parameter shapes {other}, module 0 has {shapes}; members "
                    "must share one architecture (train different widths as separate ensembles)"
                )
        params = {
            n: torch.stack([dict(m.named_parameters())[n].detach() for m in modules]).clone()
            for n in shapes
        }
        return cls(copy.deepcopy(first), params)

    @classmethod
    def from_spec(
        cls,
        spec,
        param,
        seeds: Sequence[int],
        *,
        dtype: str | torch.dtype = "float32",
        device: str | torch.device = "cpu",
    ) -> Ensemble:
        """Members ``build(spec, param, seed=s)`` for s in ``seeds`` (lmech.nn.models)."""
        from lmech.nn.models import build

        seeds = list(seeds)
        if not seeds:
            raise InputError("from_spec needs at least one seed")
        return cls.from_modules(
            [build(spec, param, seed=s, dtype=dtype, device=device) for s in seeds]
        )

    def __len__(self) -> int:
        return next(iter(self.params.values())).shape[0]

    @property
    def device(self) -> torch.device:
        return next(iter(self.params.values())).device

    @property
    def dtype(self) -> torch.dtype:
        return next(iter(self.params.values())).dtype

    def member(self, e: int) -> nn.Module:
        """A standalone copy of member ``e`` with its current parameters."""
        m = copy.deepcopy(self.template)
        with torch.no_grad():
            for n, p in m.named_parameters():
                p.copy_(self.params[n][e])
        return m

    def _call(self, p: _Params, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.template, p, (x,))

    def forward(self, x: torch.Tensor, params: _Params | None = None, *, per_member=False):
        """Outputs (E, n, ...) for inputs x (n, ...) shared or (E, n, ...) per member."""
        p = self.params if params is None else params
        return vmap(self._call, in_dims=(0, 0 if per_member else None))(p, x)

    def features(self, x: torch.Tensor, params: _Params | None = None, *, per_member=False):
        """Named activations {name: (E, n, ...)} (``template.features``, else the output)."""
        p = self.params if params is None else params
        if self._view is None:
            return {"output": self.forward(x, p, per_member=per_member)}

        def call(q, xx):
            return functional_call(self._view, {f"m.{n}": v for n, v in q.items()}, (xx,))

        return vmap(call, in_dims=(0, 0 if per_member else None))(p, x)


def _per_sample_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if name == "mse":

        def mse(out, y):  # (n, k) or (n,), mean over output coordinates
            y = y.reshape(out.shape)
            return ((out - y) ** 2).reshape(out.shape[0], -1).mean(1)

        return mse

    def xent(out, y):  # (n, k) logits, (n,) int labels
        return torch.nn.functional.cross_entropy(out, y, reduction="none")

    return xent


def _accuracy(out: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-sample correctness: argmax for cross-entropy, sign agreement for 1-output MSE,
    argmax against argmax for multi-output MSE (one-hot targets)."""
    if loss == "cross_entropy":
        return (out.argmax(-1) == y).to(out.dtype)
    if out.shape[-1] == 1 or out.ndim == 2 and y.ndim == 1:
        return (torch.sign(out.reshape(y.shape)) == torch.sign(y)).to(out.dtype)
    return (out.argmax(-1) == y.argmax(-1)).to(out.dtype)


@dataclass
class EnsembleRun:
    """What :func:`train` returns: the observation table and the final ensemble."""

    history: pd.DataFrame  # member, step, quantity, layer, index, value
    ensemble: Ensemble

    def scalar(self, quantity: str, layer: str = "") -> pd.DataFrame:
        """(step x member) table of one scalar observable."""
        h = self.history
        h = h[(h["quantity"] == quantity) & (h["layer"] == layer)]
        return h.pivot(index="step", columns="member", values="value")


def member_batches(mask: torch.Tensor, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """(E, B) minibatch indices: each member takes the B highest of one shared draw of
    uniform scores among its own training samples (so a member's batches do not depend
    on the other members)."""
    scores = torch.rand(mask.shape[1], generator=generator, dtype=torch.float64)
    scores = scores.to(mask.device).expand(mask.shape[0], -1).masked_fill(~mask, -1.0)
    return scores.topk(batch_size, dim=1).indices


def _as_data(X, y, E: int, per_member: bool, device, dtype, name: str):
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise InputError(f"{name} inputs and targets must be torch tensors")
    lead = 2 if per_member else 1
    if X.ndim < lead or y.ndim < lead:
        raise InputError(f"{name}: X {tuple(X.shape)} and y {tuple(y.shape)} are too small")
    if per_member and (X.shape[0] != E or y.shape[0] != E):
        raise InputError(
            f"{name}: per-member data need a leading member axis of {E}; got X {tuple(X.shape)}, "
            f"y {tuple(y.shape)}"
        )
    n_axis = 1 if per_member else 0
    if X.shape[n_axis] != y.shape[n_axis] or X.shape[n_axis] == 0:
        raise InputError(
            f"{name}: X and y need the same positive number of samples; got {tuple(X.shape)}, {tuple(y.shape)}"
        )
    X = X.to(device=device, dtype=dtype) if X.is_floating_point() else X.to(device)
    y = y.to(device=device, dtype=dtype) if y.is_floating_point() else y.to(device)
    return X, y


def train(
    ensemble: Ensemble,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    lr,
    steps: int,
    optimizer: str = "sgd",
    loss: str = "mse",
    batch_size: int | None = None,
    weight_decay=0.0,
    momentum: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    mask: torch.Tensor | None = None,
    per_member_data: bool = False,
    center: bool = False,
    log_steps: Sequence[int] | None = None,
    observers: Sequence[str] = ("loss",),
    probe: torch.Tensor | None = None,
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    seed: int = 0,
    progress_label: str | None = None,
    pre_step: Callable[[_Params], None] | None = None,
) -> EnsembleRun:
    """Train every member of ``ensemble`` in place; record observers at logged steps.

    Args:
        ensemble: the :class:`Ensemble` (its ``params`` are updated in place).
        X, y: training inputs (n, ...) and targets (n,) / (n, k) shared by all members,
            or (E, n, ...) and (E, n, ...) with ``per_member_data=True``.
        lr: one learning rate or one per member (E,), all > 0; each parameter's step
            uses lr_e x its lr factor.
        steps: number of optimizer steps.
        optimizer: ``"sgd"`` (with ``momentum``), ``"adam"`` or ``"adamw"`` (torch
            semantics; weight decay coupled for sgd/adam, decoupled for adamw).
        loss: ``"mse"`` (mean over output coordinates) or ``"cross_entropy"`` (int labels).
        batch_size: None for full batch, else B samples per member and step, drawn
            without replacement among the member's training samples (``member_batches``).
        weight_decay: a number or one per member (E,).
        mask: (n,) or (E, n) bool: which samples each member trains on (e.g. training
            fractions); None = all. Losses are means over a member's own samples.
        center: train f(x; theta) - f(x; theta_0) (no output at initialization; the
            gradients are unchanged). Used for lazy training at small richness.
        log_steps: steps at which to observe (0 = initialization); default 0 and ``steps``.
        observers: any of :data:`OBSERVERS`.
        probe: (p, ...) inputs for ``feature_change`` and ``ntk_change`` (default: the
            first 32 training inputs; shared data only).
        test: optional (X_test, y_test) shared by all members; ``loss`` and ``accuracy``
            are then also recorded on it (layer ``"test"``).
        seed: seed of the minibatch draws.
        progress_label: description for :func:`lmech.progress.task` (None: no bar).
        pre_step: called with the stacked parameters (in place, no grad) before every
            gradient computation, e.g. to set a layer to its closed-form optimum (the
            ridge-solved top layer of Li^2); give that layer an lr factor of 0.

    Returns:
        An :class:`EnsembleRun`; ``history`` has one row per (member, step, quantity,
        layer, index) with layer ``""`` (train), ``"test"`` or a layer name and index the
        singular-value rank (0 for scalars). Diverged members record inf/NaN values.

    Raises:
        InputError: bad learning rates (non-positive, wrong count), shapes, masks.
        ConfigError: unknown optimizer, loss or observer, non-positive steps, or an
            optimizer of the other family (SGD vs Adam) than the parameterization's.
    """
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {optimizer!r}; expected one of {OPTIMIZERS}")
    if loss not in LOSSES:
        raise ConfigError(f"unknown loss {loss!r}; expected one of {LOSSES}")
    unknown = [o for o in observers if o not in OBSERVERS]
    if unknown:
        raise ConfigError(f"unknown observers {unknown}; expected any of {OBSERVERS}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ConfigError(f"steps must be an integer >= 0; got {steps!r}")
    param = getattr(ensemble.template, "lmech_param", None)
    if param is not None and (param.optimizer == "sgd") != (optimizer == "sgd"):
        raise ConfigError(
            f"the ensemble's parameterization scales learning rates for {param.optimizer!r} but "
            f"train got optimizer={optimizer!r}; SGD and Adam need different lr factors, so "
            "rebuild the members with Parameterization(..., optimizer=...) matching train"
        )
    E, device, dtype = len(ensemble), ensemble.device, ensemble.dtype
    lrs = check_learning_rates(lr, E)
    lr_t = torch.as_tensor(np.broadcast_to(lrs, (E,)).copy(), dtype=dtype, device=device)
    wd = np.broadcast_to(np.asarray(weight_decay, dtype=float), (E,))
    if not (np.isfinite(wd).all() and (wd >= 0).all()):
        raise InputError(f"weight_decay must be >= 0 and finite; got {weight_decay!r}")
    wd_t = torch.as_tensor(wd.copy(), dtype=dtype, device=device)
    X, y = _as_data(X, y, E, per_member_data, device, dtype, "training")
    n = X.shape[1 if per_member_data else 0]
    if mask is None:
        mask_t = torch.ones(E, n, dtype=torch.bool, device=device)
    else:
        mask_t = torch.as_tensor(mask, device=device).to(torch.bool)
        if mask_t.shape not in ((n,), (E, n)):
            raise InputError(
                f"mask must have shape ({n},) or ({E}, {n}); got {tuple(mask_t.shape)}"
            )
        mask_t = mask_t.expand(E, n).clone()
    counts = mask_t.sum(1)
    if int(counts.min()) == 0:
        raise InputError("every member needs at least one training sample in mask")
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be a positive integer or None; got {batch_size!r}")
        if batch_size > int(counts.min()):
            raise InputError(
                f"batch_size {batch_size} exceeds the smallest member's training set ({int(counts.min())})"
            )
    logged = sorted({0, steps} if log_steps is None else {int(s) for s in log_steps})
    if logged and (logged[0] < 0 or logged[-1] > steps):
        raise InputError(f"log_steps must lie in [0, {steps}]; got {logged}")
    if probe is None and ({"feature_change", "ntk_change"} & set(observers)):
        if per_member_data:
            raise InputError("feature_change/ntk_change with per-member data need a shared probe")
        probe = X[:32]
    if probe is not None:
        probe = probe.to(device=device, dtype=dtype) if probe.is_floating_point() else probe
    if test is not None:
        test = _as_data(test[0], test[1], E, False, device, dtype, "test")

    xdim = 0 if per_member_data else None
    per_loss = _per_sample_loss(loss)
    template = ensemble.template
    p0 = {k: v.detach().clone() for k, v in ensemble.params.items()}
    out0 = ensemble.forward(X, p0, per_member=per_member_data).detach() if center else None
    out0_probe = ensemble.forward(probe, p0).detach() if center and probe is not None else None
    out0_test = ensemble.forward(test[0], p0).detach() if center and test is not None else None

    def member_loss(p, x, t, w, f0):
        out = functional_call(template, p, (x,))
        if f0 is not None:
            out = out - f0
        return (per_loss(out, t) * w).sum()

    def batched_grad(params, xb, yb, wb, fb, x_dim):
        # members are independent, so the gradient of the summed member losses with
        # respect to the stacked parameters is every member's own gradient; a vmapped
        # forward + one autograd backward ran 3.2x faster than vmap(grad(...)) (same
        # numbers; measured on the grokking network, issue 6 note)
        p = {k: v.detach().requires_grad_() for k, v in params.items()}
        losses = vmap(member_loss, in_dims=(0, x_dim, x_dim, 0, 0 if center else None))(
            p, xb, yb, wb, fb
        )
        grads = torch.autograd.grad(losses.sum(), list(p.values()))
        return dict(zip(p, grads, strict=True))

    gen = torch.Generator().manual_seed(int(seed))
    weights_full = mask_t.to(dtype) / counts.to(dtype)[:, None]  # (E, n)

    state = {k: torch.zeros_like(v) for k, v in ensemble.params.items()}
    state2 = {k: torch.zeros_like(v) for k, v in ensemble.params.items()}
    factors = ensemble.lr_factors
    shape1 = {k: (E,) + (1,) * (v.ndim - 1) for k, v in ensemble.params.items()}
    b1, b2 = betas

    records: list[pd.DataFrame] = []
    observe = _Observer(
        ensemble, observers, X, y, weights_full, per_member_data, loss, probe, test,
        out0, out0_probe, out0_test,
    )  # fmt: skip
    if 0 in logged:
        records.append(observe(0))
    bar = progress.task(progress_label, steps) if progress_label else None
    advance = bar.__enter__() if bar else (lambda k=1: None)
    try:
        for t in range(1, steps + 1):
            if pre_step is not None:
                with torch.no_grad():
                    pre_step(ensemble.params)
            if batch_size is None:
                xb, yb, wb, fb = X, y, weights_full, out0
            else:
                idx = member_batches(mask_t, batch_size, gen)  # (E, B)
                wb = torch.full((E, batch_size), 1.0 / batch_size, dtype=dtype, device=device)
                if per_member_data:
                    xb = torch.stack([X[e, idx[e]] for e in range(E)])
                    yb = torch.stack([y[e, idx[e]] for e in range(E)])
                else:
                    xb, yb = X[idx], y[idx]  # (E, B, ...)
                fb = None if out0 is None else torch.gather(
                    out0, 1, idx.view(E, -1, *([1] * (out0.ndim - 2))).expand(-1, -1, *out0.shape[2:])
                )  # fmt: skip
            if batch_size is not None and not per_member_data:
                g = batched_grad(ensemble.params, xb, yb, wb, fb, 0)
            else:
                g = batched_grad(ensemble.params, xb, yb, wb, fb, xdim)
            with torch.no_grad():
                _update(
                    ensemble.params, g, state, state2, t, lr_t, wd_t, factors, shape1,
                    optimizer, momentum, b1, b2, eps,
                )  # fmt: skip
            if t in logged:
                records.append(observe(t))
            if t % 50 == 0 or t == steps:
                advance(50 if t % 50 == 0 else t % 50)
    finally:
        if bar:
            bar.__exit__(None, None, None)
    history = pd.concat(records, ignore_index=True) if records else pd.DataFrame()
    return EnsembleRun(history, ensemble)


def _update(params, g, m1, m2, t, lr, wd, factors, shape1, optimizer, momentum, b1, b2, eps):
    """One functional optimizer step on stacked tensors (torch.optim semantics)."""
    for k, p in params.items():
        lr_k = (lr * factors[k]).view(shape1[k])  # (E, 1, ...) per-member lr x factor
        wd_k = wd.view(shape1[k])
        gk = g[k]
        decay = bool((wd != 0).any())
        if optimizer == "sgd":
            d = gk + wd_k * p if decay else gk  # coupled weight decay
            if momentum:
                m1[k].mul_(momentum).add_(d) if t > 1 else m1[k].copy_(d)
                d = m1[k]
            p.addcmul_(lr_k, d, value=-1.0)
            continue
        if optimizer == "adamw" and decay:
            p.mul_(1 - lr_k * wd_k)  # decoupled
        elif decay:
            gk = gk + wd_k * p
        m1[k].lerp_(gk, 1 - b1)
        m2[k].mul_(b2).addcmul_(gk, gk, value=1 - b2)
        bc1 = 1 - b1**t
        bc2_sqrt = math.sqrt(1 - b2**t)
        denom = (m2[k].sqrt() / bc2_sqrt).add_(eps)
        p.sub_((lr_k / bc1) * m1[k] / denom)


class _Observer:
    """Computes the requested observables at one step, as tidy rows."""

    def __init__(
        self, ens, names, X, y, w, per_member, loss, probe, test, out0, out0_probe, out0_test
    ):
        self.ens, self.names = ens, set(names)
        self.X, self.y, self.w, self.per_member, self.loss = X, y, w, per_member, loss
        self.probe, self.test = probe, test
        self.out0, self.out0_probe, self.out0_test = out0, out0_probe, out0_test
        self.h0 = None
        self.K0 = None

    def _rows(self, step, quantity, values, layer="", index=0):
        v = values.detach().double().cpu().numpy()
        return pd.DataFrame(
            {
                "member": np.arange(len(v)),
                "step": step,
                "quantity": quantity,
                "layer": layer,
                "index": index,
                "value": v,
            }
        )

    def _ntk(self) -> torch.Tensor:
        """(E, p, p) lr-weighted empirical NTK on the probe, traced over outputs."""
        ens, template = self.ens, self.ens.template
        fac = ens.lr_factors

        def f(p, x):
            return functional_call(template, p, (x.unsqueeze(0),)).reshape(-1)

        def kernel(p):
            J = vmap(jacrev(f), in_dims=(None, 0))(p, self.probe)  # name -> (m, k, *shape)
            K = 0
            for name, j in J.items():
                j = j.reshape(j.shape[0], -1)
                K = K + fac[name] * (j @ j.T)
            return K

        P = sum(v[0].numel() for v in ens.params.values())
        item = ens.params[next(iter(ens.params))].element_size()
        chunk = max(1, int(2**28 // max(1, len(self.probe) * P * item)))
        out = []
        for s in range(0, len(ens), chunk):
            part = {k: v[s : s + chunk] for k, v in ens.params.items()}
            out.append(vmap(kernel)(part))
        return torch.cat(out)

    def __call__(self, step: int) -> pd.DataFrame:
        ens, rows = self.ens, []
        with torch.no_grad():
            if self.names & {"loss", "accuracy"}:
                out = ens.forward(self.X, per_member=self.per_member)
                if self.out0 is not None:
                    out = out - self.out0
                y = self.y if self.per_member else self.y.expand(len(ens), *self.y.shape)
                per = vmap(_per_sample_loss(self.loss))(out, y)
                if "loss" in self.names:
                    rows.append(self._rows(step, "loss", (per * self.w).sum(1)))
                if "accuracy" in self.names:
                    acc = vmap(lambda o, t: _accuracy(o, t, self.loss))(out, y)
                    rows.append(self._rows(step, "accuracy", (acc * self.w).sum(1)))
                if self.test is not None:
                    Xt, yt = self.test
                    out = ens.forward(Xt)
                    if self.out0_test is not None:
                        out = out - self.out0_test
                    yt = yt.expand(len(ens), *yt.shape)
                    if "loss" in self.names:
                        lt = vmap(_per_sample_loss(self.loss))(out, yt).mean(1)
                        rows.append(self._rows(step, "loss", lt, "test"))
                    if "accuracy" in self.names:
                        acc = vmap(lambda o, t: _accuracy(o, t, self.loss))(out, yt).mean(1)
                        rows.append(self._rows(step, "accuracy", acc, "test"))
            if "feature_change" in self.names:
                h = ens.features(self.probe)
                if self.h0 is None:
                    self.h0 = {k: v.clone() for k, v in h.items()}
                for name, v in h.items():
                    d = (v - self.h0[name]).flatten(1).norm(dim=1)
                    rows.append(
                        self._rows(
                            step, "feature_change", d / self.h0[name].flatten(1).norm(dim=1), name
                        )
                    )
            if "spectra" in self.names:
                for name, p in ens.params.items():
                    if p.ndim != 3:
                        continue
                    mod = (
                        ens.template.get_submodule(name.rsplit(".", 1)[0]) if "." in name else None
                    )
                    mult = getattr(mod, "lmech_multiplier", 1.0) if mod is not None else 1.0
                    s = torch.linalg.svdvals(p * mult).double().cpu().numpy()  # (E, r)
                    E, r = s.shape
                    rows.append(
                        pd.DataFrame(
                            {
                                "member": np.repeat(np.arange(E), r),
                                "step": step,
                                "quantity": "singular_value",
                                "layer": name,
                                "index": np.tile(np.arange(r), E),
                                "value": s.reshape(-1),
                            }
                        )
                    )
        if "ntk_change" in self.names:
            K = self._ntk().detach()
            if self.K0 is None:
                self.K0 = K
            rel = (K - self.K0).flatten(1).norm(dim=1) / self.K0.flatten(1).norm(dim=1)
            rows.append(self._rows(step, "ntk_change", rel))
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()

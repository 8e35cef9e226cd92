r"""The ensemble: E networks of one architecture with parameters stacked to (E, ...).

Member e is ``template`` called with the e-th slice of every stacked parameter
(``torch.func.functional_call``); ``vmap`` over the member axis runs all E at once.

References:
    Horace He, "Model ensembling" (torch.func tutorial): stacking parameters and
    ``vmap(functional_call)``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap

from lmech.errors import InputError
from lmech.nn.param import lr_factors

__all__ = ["Ensemble", "Params"]

Params = dict[str, torch.Tensor]  # parameter name -> (E, *shape) stacked tensor


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
        params: Params,
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

    def _call(self, p: Params, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.template, p, (x,))

    def forward(self, x: torch.Tensor, params: Params | None = None, *, per_member=False):
        """Outputs (E, n, ...) for inputs x (n, ...) shared or (E, n, ...) per member."""
        p = self.params if params is None else params
        return vmap(self._call, in_dims=(0, 0 if per_member else None))(p, x)

    def features(self, x: torch.Tensor, params: Params | None = None, *, per_member=False):
        """Named activations {name: (E, n, ...)} (``template.features``, else the output)."""
        p = self.params if params is None else params
        if self._view is None:
            return {"output": self.forward(x, p, per_member=per_member)}

        def call(q, xx):
            return functional_call(self._view, {f"m.{n}": v for n, v in q.items()}, (xx,))

        return vmap(call, in_dims=(0, 0 if per_member else None))(p, x)

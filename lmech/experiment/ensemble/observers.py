r"""What :func:`lmech.experiment.ensemble.train` records at logged steps, per member.

- ``loss``, ``accuracy``: the mean over a member's own training samples (weights
  mask / count), and on ``test`` data if given (layer ``"test"``);
- ``feature_change``: ||h_t - h_0||_F / ||h_0||_F per named layer on a probe batch;
- ``ntk_change``: ||K_t - K_0||_F / ||K_0||_F of the lr-weighted empirical NTK
  K = sum_p lr_p J_p J_p^T (the kernel of the training dynamics, traced over outputs) on
  the probe batch;
- ``spectra``: the singular values of every effective weight matrix multiplier * W.

Each observation is a tidy table (member, step, quantity, layer, index, value).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch.func import functional_call, jacrev, vmap

__all__ = ["LOSSES", "OBSERVERS", "Observer", "accuracy", "per_sample_loss"]

OBSERVERS = ("loss", "accuracy", "feature_change", "ntk_change", "spectra")
LOSSES = ("mse", "cross_entropy")


def per_sample_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if name == "mse":

        def mse(out, y):  # (n, k) or (n,), mean over output coordinates
            y = y.reshape(out.shape)
            return ((out - y) ** 2).reshape(out.shape[0], -1).mean(1)

        return mse

    def xent(out, y):  # (n, k) logits, (n,) int labels
        return torch.nn.functional.cross_entropy(out, y, reduction="none")

    return xent


def accuracy(out: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-sample correctness: argmax for cross-entropy, sign agreement for 1-output MSE,
    argmax against argmax for multi-output MSE (one-hot targets)."""
    if loss == "cross_entropy":
        return (out.argmax(-1) == y).to(out.dtype)
    if out.shape[-1] == 1 or out.ndim == 2 and y.ndim == 1:
        return (torch.sign(out.reshape(y.shape)) == torch.sign(y)).to(out.dtype)
    return (out.argmax(-1) == y.argmax(-1)).to(out.dtype)


class Observer:
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
                per = vmap(per_sample_loss(self.loss))(out, y)
                if "loss" in self.names:
                    rows.append(self._rows(step, "loss", (per * self.w).sum(1)))
                if "accuracy" in self.names:
                    acc = vmap(lambda o, t: accuracy(o, t, self.loss))(out, y)
                    rows.append(self._rows(step, "accuracy", (acc * self.w).sum(1)))
                if self.test is not None:
                    Xt, yt = self.test
                    out = ens.forward(Xt)
                    if self.out0_test is not None:
                        out = out - self.out0_test
                    yt = yt.expand(len(ens), *yt.shape)
                    if "loss" in self.names:
                        lt = vmap(per_sample_loss(self.loss))(out, yt).mean(1)
                        rows.append(self._rows(step, "loss", lt, "test"))
                    if "accuracy" in self.names:
                        acc = vmap(lambda o, t: accuracy(o, t, self.loss))(out, yt).mean(1)
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

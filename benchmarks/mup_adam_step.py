"""Adam step of a small Transformer: lmech's groups by multiplier vs mup's MuAdam vs plain Adam.

One GPT (:mod:`lmech.nn.gpt`, d_model 256, 4 blocks, 4d MLP, vocabulary 256) with fixed
random gradients; the optimizers take ``REPS`` steps each, interleaved round-robin, and the
median time of one step is printed with its ratio to mup's MuAdam. The optimizers:

- plain ``torch.optim.Adam`` over ``model.parameters()`` (one group; not muP);
- ``lmech.nn.mup.optimizer(model, "adam", ...)``: one group per distinct (lr, wd, eps)
  factor (2 groups here);
- ``mup.MuAdam`` after ``mup.set_base_shapes`` (a group per width multiplier plus one);
- one group per tensor (what ``lmech.nn.param.param_groups`` built before grouping).

Run: ``OMP_NUM_THREADS=1 python benchmarks/mup_adam_step.py`` (needs the ``mup`` dev extra).
"""

from __future__ import annotations

import copy
import statistics
import time

import torch

from lmech.nn import mup as lm
from lmech.nn.gpt import GPT, GPTConfig

REPS = 40


def _time_all(opts: dict, grads) -> dict[str, float]:
    """Median step time of each optimizer, the optimizers interleaved round-robin so that
    a change of machine load hits all of them alike."""
    for opt, model in opts.values():
        for p, g in zip(model.parameters(), grads, strict=True):
            p.grad = g.clone()
        for _ in range(3):
            opt.step()
    ts: dict[str, list[float]] = {name: [] for name in opts}
    for _ in range(REPS):
        for name, (opt, _) in opts.items():
            t0 = time.perf_counter()
            opt.step()
            ts[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in ts.items()}


def main() -> None:
    from mup import MuAdam, MuReadout, set_base_shapes

    torch.manual_seed(0)
    cfg = GPTConfig(vocab=256, seq_len=64, d_model=256, n_layer=4, n_head=4)
    model = GPT(cfg)
    grads = [torch.randn_like(p) for p in model.parameters()]

    def with_mu(m):
        m.readout = MuReadout(m.readout.in_features, m.readout.out_features, bias=False)
        return m

    ours = copy.deepcopy(model)
    lm.parameterize(ours, base=GPT(cfg.with_width(64)), delta=GPT(cfg.with_width(128)))
    theirs = with_mu(copy.deepcopy(model))
    set_base_shapes(
        theirs, with_mu(GPT(cfg.with_width(64))), delta=with_mu(GPT(cfg.with_width(128)))
    )
    per_tensor = copy.deepcopy(model)

    opts = {
        "plain Adam (1 group, not muP)": (torch.optim.Adam(model.parameters(), lr=1e-3), model),
        "lmech groups by multiplier": (lm.optimizer(ours, "adam", lr=1e-3), ours),
        "mup MuAdam": (MuAdam(theirs.parameters(), lr=1e-3), theirs),
        "one group per tensor": (
            torch.optim.Adam([{"params": [p], "lr": 1e-3} for p in per_tensor.parameters()]),
            per_tensor,
        ),
    }
    times = _time_all(opts, grads)
    ref = times["mup MuAdam"]
    n = sum(p.numel() for p in model.parameters())
    print(
        f"GPT d_model 256, 4 blocks: {n / 1e6:.2f}M parameters, {len(list(model.parameters()))} tensors"
    )
    for name, t in times.items():
        groups = len(opts[name][0].param_groups)
        print(f"{name:32s} {groups:3d} groups  {1e3 * t:7.3f} ms/step  ratio to mup {t / ref:5.2f}")


if __name__ == "__main__":
    main()

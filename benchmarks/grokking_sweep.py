r"""A grokking phase-diagram sweep as one vmapped program vs a Python loop over the runs.

Both train the Li^2 network (x^2 activation, width 128, no biases) on Z_23 for every
(training fraction, seed) cell of a sweep, full batch, Adam (lr 5e-3, weight decay 2e-4,
torch semantics), MSE against the mean-zero one-hot targets, each run on its own seeded
split (``train_on_group``'s default: the split of run s is drawn with seed s, its init
with ``GroupMLP(seed=s)``):

* **vmapped**: :func:`lmech.experiment.group.train_on_group`, all runs as one
  ``torch.func.vmap`` program (lmech's ensemble engine), accuracies logged at the start
  and the end only;
* **loop**: for each run a :class:`lmech.nn.group.GroupMLP` trained on its training pairs
  with ``torch.optim.Adam`` in a plain loop (what a user would write).

The script checks that both give the same final weights (max relative difference) and
prints the times and their ratio.

Run (repository root, venv active)::

    python benchmarks/grokking_sweep.py            # 6 fractions x 2 seeds, 500 steps
    python benchmarks/grokking_sweep.py --quick    # 3 x 2, 100 steps
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from _timing import timed

from lmech.data.groups import cyclic, train_test_split
from lmech.experiment.group import train_on_group
from lmech.nn.group import GroupMLP, group_data

LR, WD, WIDTH = 5e-3, 2e-4, 128


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--M", type=int, default=23)
    p.add_argument("--fractions", default="0.2,0.28,0.36,0.44,0.52,0.6")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.fractions, args.steps = "0.2,0.4,0.6", 100
    return args


def main(argv=None) -> int:
    args = _parse(argv)
    torch.set_num_threads(args.threads)
    g = cyclic(args.M)
    fractions = [float(f) for f in args.fractions.split(",")]
    cells = [(f, s) for f in fractions for s in range(args.seeds)]
    seeds = [s for _, s in cells]
    fracs = [f for f, _ in cells]

    def vmapped():
        _, params, _ = train_on_group(
            g, seeds=seeds, fractions=fracs, weight_decays=[WD] * len(cells), width=WIDTH,
            steps=args.steps, lr=LR,
        )  # fmt: skip
        return params["W"]

    def loop():
        X, Y = group_data(g)
        out = []
        for f, s in cells:
            tr = torch.from_numpy(train_test_split(g, f, s)[0])
            net = GroupMLP(args.M, WIDTH, seed=s)
            opt = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WD)
            for _ in range(args.steps):
                loss = ((net(X[tr]) - Y[tr]) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            out.append(net.W.detach().numpy())
        return np.stack(out)

    print(f"Z_{args.M}: {len(cells)} runs ({len(fractions)} fractions x {args.seeds} seeds), "
          f"{args.steps} full-batch Adam steps, width {WIDTH}, float64")  # fmt: skip
    start = time.perf_counter()
    W_v, other_v = timed(vmapped)
    t_v = time.perf_counter() - start
    start = time.perf_counter()
    W_l, other_l = timed(loop)
    t_l = time.perf_counter() - start
    diff = float(np.abs(W_v - W_l).max() / np.abs(W_l).max())
    print(f"vmapped ensemble: {t_v:8.2f} s")
    print(f"loop over runs:   {t_l:8.2f} s")
    print(f"ratio loop / vmapped: {t_l / t_v:.2f}x")
    print(
        f"max |W_vmapped - W_loop| / max |W|: {diff:.1e} "
        + ("(same)" if diff < 1e-8 else "(DIFFER)")
    )
    print(f"other processes: {other_v:.1f} / {other_l:.1f} CPU-s; load {os.getloadavg()[0]:.2f}")
    return 0 if diff < 1e-8 else 1


if __name__ == "__main__":
    raise SystemExit(main())

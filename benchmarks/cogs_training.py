r"""CoGS (Tian 2025) workloads vs what a user would otherwise write.

1. **Training the Table-2 networks.** E seeds of the x^2 network on Z_d (q hidden nodes,
   full-batch Adam, coupled weight decay on the loss summed over outputs, 90% of pairs):
   * **engine**: :func:`lmech.experiment.group.train_on_group` (what ``cogs-factorization``
     runs: all E members as one vmapped program, dense one-hot inputs, weight decay / d on
     the output-mean loss);
   * **plain loop**: one ``torch.optim.Adam`` loop per seed on gathered embeddings
     (u_a[g1] + u_b[g2])^2 @ V and the summed loss, the paper's script in structure.
   The script checks both reach the same train loss scale (they start from different
   initial draws, so the curves are not equal).
2. **Full-data loss of a network.** :func:`lmech.theory.cogs.fourier_loss` (the sum
   potentials r_{k1k2k}, r_{pk1k2k}, Parseval) vs the brute-force evaluation on all d^2
   pairs in torch (what a user would write); they agree to round-off.

Run (repository root, venv active)::

    python benchmarks/cogs_training.py            # d = 23, q = 512, 3 seeds, 300 steps
    python benchmarks/cogs_training.py --quick    # 100 steps
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch
from _timing import timed

from lmech.data.groups import cyclic, train_test_split
from lmech.experiment.group import train_on_group
from lmech.theory import cogs as C


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--d", type=int, default=23)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.steps = 100
    return args


def _clock(fn):
    start = time.perf_counter()
    out, other = timed(fn)
    return out, time.perf_counter() - start, other


def plain_loop(d, q, seeds, steps, lr=0.01, wd=5e-5):
    """The loop a user would write: per seed, gather, square, project nothing, Adam."""
    losses = []
    a, b = np.divmod(np.arange(d * d), d)
    c = (a + b) % d
    for s in seeds:
        tr = torch.from_numpy(train_test_split(cyclic(d), 0.9, s)[0])
        g = torch.Generator().manual_seed(s)
        Wa = (
            torch.randn(d, q, generator=g, dtype=torch.float64) / math.sqrt(2 * d)
        ).requires_grad_()
        Wb = (
            torch.randn(d, q, generator=g, dtype=torch.float64) / math.sqrt(2 * d)
        ).requires_grad_()
        V = (torch.randn(q, d, generator=g, dtype=torch.float64) / math.sqrt(q)).requires_grad_()
        ia, ib = torch.from_numpy(a)[tr], torch.from_numpy(b)[tr]
        Y = torch.nn.functional.one_hot(torch.from_numpy(c)[tr], d).double() - 1.0 / d
        opt = torch.optim.Adam([Wa, Wb, V], lr=lr, weight_decay=wd)
        for _ in range(steps):
            opt.zero_grad()
            h = Wa[ia] + Wb[ib]
            loss = (((h * h) @ V - Y) ** 2).sum(1).mean()
            loss.backward()
            opt.step()
        losses.append(float(loss.detach()) / d)  # per output, as the engine reports it
    return losses


def main(argv=None) -> int:
    args = _parse(argv)
    torch.set_num_threads(args.threads)
    d, q, E = args.d, args.width, args.seeds
    ok = True
    print(f"1. training: d = {d}, q = {q}, {E} seeds, {args.steps} full-batch Adam steps, float64, "
          f"{args.threads} thread(s)")  # fmt: skip

    def engine():
        curves, _, _ = train_on_group(
            cyclic(d), seeds=list(range(E)), fractions=[0.9] * E, weight_decays=[5e-5 / d] * E,
            width=q, steps=args.steps, lr=0.01, log_steps=[args.steps],
        )  # fmt: skip
        return curves.loc[curves["step"] == args.steps, "train_loss"].to_numpy()

    le, t_e, o_e = _clock(engine)
    lp, t_p, o_p = _clock(lambda: plain_loop(d, q, list(range(E)), args.steps))
    print(f"   engine (vmapped members): {t_e:8.2f} s   final train loss {np.median(le):.2e}")
    print(f"   plain Adam loop per seed: {t_p:8.2f} s   final train loss {np.median(lp):.2e}")
    print(f"   ratio plain / engine: {t_p / t_e:.2f}x; per seed-step: engine "
          f"{1e3 * t_e / (E * args.steps):.1f} ms, plain {1e3 * t_p / (E * args.steps):.1f} ms")  # fmt: skip
    ok &= bool(np.all(np.isfinite(le)) and np.all(np.isfinite(lp)))

    net = C.random_net(d, 64, np.random.default_rng(0), scale=0.3)
    print(f"2. full-data loss of a q = 64 network on Z_{d}")
    lf, t_f, o_f = _clock(lambda: C.fourier_loss(net))

    def brute():
        ua, ub, w = (torch.from_numpy(x) for x in (net.ua, net.ub, net.w))
        a, b = np.divmod(np.arange(d * d), d)
        h = ua[:, a] + ub[:, b]  # (q, d^2)
        o = (h * h).T @ w
        o = o - o.mean(1, keepdim=True)
        y = torch.nn.functional.one_hot(torch.from_numpy((a + b) % d), d).double() - 1.0 / d
        return float(((o - y) ** 2).sum(1).mean())

    lb, t_b, o_b = _clock(brute)
    rel = abs(lf - lb) / max(1.0, abs(lb))
    ok &= rel < 1e-10
    print(f"   Fourier terms (sum potentials): {t_f:8.4f} s   loss {lf:.10e}")
    print(f"   brute force on d^2 pairs:       {t_b:8.4f} s   loss {lb:.10e}")
    print(f"   ratio Fourier / brute: {t_f / t_b:.1f}x (the algebra is for exactness, not speed); "
          f"rel. difference {rel:.1e}")  # fmt: skip
    print(
        f"other processes: {o_e + o_p:.1f} / {o_f + o_b:.1f} CPU-s; load {os.getloadavg()[0]:.2f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

r"""Solvable-grokking engines vs what a user would otherwise write.

1. **Lazy-to-rich training.** GD of f(x) = (alpha / N) sum_i phi(w_i . x),
   phi(z) = z + eps z^2 / 2, on P points in D dimensions:
   * **reduced**: :func:`lmech.laws.grokking._dynamics.lazy_rich_run` with
     ``engine="reduced"``, the same GD run exactly on (mean w, mean w w^T), O(P D^2) a step;
   * **network**: the N weight vectors trained by torch autograd (``engine="network"``,
     the plain loop a user would write), O(N P D) a step.
   The script checks both logged loss curves agree (max relative difference).
2. **Linear-estimator theory.** The train/test loss curves of GD in the linear
   teacher-student model at ratio d / N:
   * **MP closed form**: :func:`lmech.theory.grokking_dynamics.linear_losses`
     (Gauss-Legendre on the Marchenko-Pastur law);
   * **brute force**: sample X, diagonalize X^T X / N (numpy ``eigvalsh``), average the
     spectral sums over samples (what a user would do without the closed form).
   The script prints the relative difference of the curves (finite-d bias, ~1%).

Run (repository root, venv active)::

    python benchmarks/grokking_dynamics.py            # N = 2000, D = 20, P = 300, 500 steps
    python benchmarks/grokking_dynamics.py --quick    # 200 steps
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from _timing import timed

from lmech.laws.grokking._dynamics import lazy_rich_run
from lmech.theory.grokking_dynamics import linear_losses


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--width", type=int, default=2000)
    p.add_argument("--D", type=int, default=20)
    p.add_argument("--P", type=int, default=300)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--d-in", type=int, default=500)
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.samples = 200, 2
    return args


def _clock(fn):
    start = time.perf_counter()
    out, other = timed(fn)
    return out, time.perf_counter() - start, other


def main(argv=None) -> int:
    args = _parse(argv)
    torch.set_num_threads(args.threads)
    ok = True

    def run(engine):
        return lazy_rich_run(args.D, args.P, args.width, 4.0, 0.02, 5.0, args.steps, 10, 0,
                             ("bench",), engine=engine)  # fmt: skip

    print(f"1. lazy-to-rich GD: N = {args.width}, D = {args.D}, P = {args.P}, {args.steps} steps, "
          "float64")  # fmt: skip
    a, t_r, o_r = _clock(lambda: run("reduced"))
    b, t_n, o_n = _clock(lambda: run("network"))
    diff = float(
        np.max(np.abs(a.to_numpy() - b.to_numpy()) / np.maximum(np.abs(b.to_numpy()), 1e-300))
    )
    ok &= diff < 1e-8
    print(f"   reduced (m, C):   {t_r:8.3f} s")
    print(f"   network autograd: {t_n:8.3f} s")
    print(f"   ratio network / reduced: {t_n / t_r:.1f}x; max rel. curve difference {diff:.1e} "
          + ("(same)" if diff < 1e-8 else "(DIFFER)"))  # fmt: skip

    ratio, lr, steps = 0.5, 0.25, np.arange(0, 100, 5)
    N = int(args.d_in / ratio)
    print(f"2. linear-estimator loss curves: ratio {ratio}, {len(steps)} steps; brute force "
          f"d = {args.d_in}, {args.samples} samples")  # fmt: skip
    (tr, te), t_mp, o_mp = _clock(lambda: linear_losses(ratio, lr, steps, 1.0))

    def brute():
        g = np.random.default_rng(0)
        acc_tr, acc_te = np.zeros(len(steps)), np.zeros(len(steps))
        for _ in range(args.samples):
            X = g.standard_normal((N, args.d_in))
            lam = np.linalg.eigvalsh(X.T @ X / N)
            p2 = np.abs(1 - lr * lam)[:, None] ** (2 * steps[None, :])
            acc_tr += (lam[:, None] * p2).mean(0) / args.samples
            acc_te += p2.mean(0) / args.samples
        return acc_tr, acc_te

    (btr, bte), t_b, o_b = _clock(brute)
    rel = float(max(np.max(np.abs(btr / tr - 1)), np.max(np.abs(bte / te - 1))))
    print(f"   MP closed form:   {t_mp:8.4f} s")
    print(f"   brute force:      {t_b:8.4f} s")
    print(f"   ratio brute / closed form: {t_b / t_mp:.0f}x; max rel. curve difference {rel:.3f} "
          "(finite-d edge bias)")  # fmt: skip
    print(
        f"other processes: {o_r + o_n:.1f} / {o_mp + o_b:.1f} CPU-s; load {os.getloadavg()[0]:.2f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

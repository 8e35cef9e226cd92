"""Proportional-limit linear-network theory vs simulating networks at growing D.

    python benchmarks/dmft_deep_linear.py                     # nu = 1, 200 steps
    python benchmarks/dmft_deep_linear.py --steps 40 --dims 64 128   # smoke run

The question a user has: "what test-loss curve does a linear network of width N = nu D
follow as D -> infinity?" Without the theory, the answer is to train networks at
growing D (same nu; :func:`lmech.experiment.dmft.train_linear_online`, several seeds,
batched in torch) and watch the seed means converge. With it, it is one solve
(:func:`lmech.theory.dmft.dmft_deep_linear`, Marchenko-Pastur quadrature, exact in the
limit). Both run the same problem (nu = 1, gamma = 1, eta_0 = 0.02, population gradient,
float64, one thread). Printed per D: wall and CPU time of the simulation, the RMS
relative deviation of the seed mean from the theory over the logged steps, its standard
error (so "same accuracy" reads off the table: a simulation matches the theory only to
its own noise and finite-D bias), and the time ratios simulation / theory (wall and
CPU; on a shared machine the CPU ratio is the stable one).
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

from lmech.experiment.dmft import train_linear_online  # noqa: E402
from lmech.theory.dmft import dmft_deep_linear  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nu", type=float, default=1.0)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--dims", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    args = ap.parse_args()
    log = max(1, args.steps // 10)
    w0, c0 = time.perf_counter(), time.process_time()
    th = dmft_deep_linear(args.nu, steps=args.steps, lr=args.lr, gamma=1.0).test_loss
    wall_th, cpu_th = time.perf_counter() - w0, time.process_time() - c0
    exact = dmft_deep_linear(args.nu, steps=args.steps, lr=args.lr, gamma=1.0,
                             n_nodes=3 * args.steps).test_loss  # fmt: skip
    print(f"theory: nu={args.nu:g}, T={args.steps}, K={args.steps + 8} nodes: wall "
          f"{wall_th * 1e3:.1f} ms, CPU {cpu_th * 1e3:.1f} ms; change with 3T nodes "
          f"{np.abs(th / exact - 1).max():.1e} (exact in the limit)")  # fmt: skip
    print(f"{'D':>6} {'N':>6} {'wall s':>8} {'cpu s':>8} {'rms dev':>8} {'rms SE':>8} "
          f"{'wall ratio':>10} {'cpu ratio':>9}")  # fmt: skip
    for D in args.dims:
        N = int(round(args.nu * D))
        w0, c0 = time.perf_counter(), time.process_time()
        m = train_linear_online(D, [N], seeds=args.seeds, steps=args.steps, lr=args.lr,
                                gamma=1.0, log_every=log)  # fmt: skip
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        s = m[m.step > 0].groupby("step")["test_loss"].agg(["mean", "sem"])
        dev = np.sqrt(np.mean((s["mean"].to_numpy() / th[s.index] - 1) ** 2))
        se = np.sqrt(np.mean((s["sem"].to_numpy() / th[s.index]) ** 2))
        print(f"{D:>6} {N:>6} {wall:>8.2f} {cpu:>8.2f} {dev:>8.4f} {se:>8.4f} "
              f"{wall / wall_th:>10.2f} {cpu / cpu_th:>9.2f}")  # fmt: skip


if __name__ == "__main__":
    main()

"""Two-layer DMFT (particle solver) vs training an ensemble of muP networks of widths 256-4096.

    python benchmarks/dmft_two_layer.py                       # P = 100, T = 100 steps
    python benchmarks/dmft_two_layer.py --steps 20 --seeds 2 --particles 8192   # smoke run

The question a user has: "what loss curve does this network follow at infinite width?"
Without DMFT, the answer is to train networks of growing width (here 256..4096, several
seeds each, :func:`lmech.experiment.ensemble.train` through :mod:`lmech.experiment.dmft`)
and watch them converge. With DMFT it is one solve (:func:`lmech.theory.dmft.dmft_two_layer`).
Both run the same problem (P = 100 Gaussian inputs, D = 8, quadratic target, ReLU,
gamma_0 = 1, eta = 0.25, T = 100 gradient-descent steps, float64, one thread). The solver
uses M particles; its accuracy is the spread between two particle seeds. Both sides
record losses only (no kernels: ``kernels=False`` and ``alignment=False``). For each width
the script prints the RMS relative deviation of the seed-mean network losses from DMFT
and the per-seed RMS deviation, so "same accuracy" reads off the table: the width whose
per-seed deviation matches the solver's spread. Printed: wall and CPU times, the time
ratio ensemble / DMFT for the whole width sweep and for the width of matching accuracy.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

from lmech.experiment.dmft import regression_task, train_two_layer  # noqa: E402
from lmech.theory.dmft import dmft_two_layer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--num-train", type=int, default=100)
    ap.add_argument("--num-test", type=int, default=50)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.25)
    ap.add_argument("--particles", type=int, default=65536)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--widths", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    args = ap.parse_args()
    X, y, yt = regression_task(args.num_train, args.num_test, 8, 0)
    Kx = X @ X.T / 8
    le = max(1, args.steps // 10)
    t = 2 * args.lr * np.arange(0, args.steps + 1, le)

    def solve(seed):
        return dmft_two_layer(Kx, y, t_grid=t, gamma0=1.0, y_test=yt, n_particles=args.particles,
                              scheme="euler", substeps=le, seed=seed, kernels=False,
                              progress_label=None)  # fmt: skip

    w0, c0 = time.perf_counter(), time.process_time()
    ref = solve(0)
    wall_dmft, cpu_dmft = time.perf_counter() - w0, time.process_time() - c0
    alt = solve(1)
    spread = float(
        np.sqrt(np.mean(np.r_[ref.train_loss[1:] / alt.train_loss[1:] - 1,
                              ref.test_loss[1:] / alt.test_loss[1:] - 1] ** 2) / 2)
    )  # fmt: skip
    print(f"DMFT: M={args.particles} particles, P={args.num_train}+{args.num_test}, "
          f"T={args.steps}: wall {wall_dmft:.2f} s, CPU {cpu_dmft:.2f} s; "
          f"MC accuracy (rms rel., from two particle seeds) {spread:.4f}")  # fmt: skip
    print(f"{'width':>6} {'wall s':>8} {'cpu s':>8} {'mean dev':>9} {'seed dev':>9} {'ratio':>7}")
    total_wall, match = 0.0, None
    for w in args.widths:
        w0, c0 = time.perf_counter(), time.process_time()
        h, _ = train_two_layer(X, y, yt, widths=[w], seeds=args.seeds, gamma0=1.0, lr=args.lr,
                               steps=args.steps, log_every=le, alignment=False)  # fmt: skip
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        total_wall += wall
        g = h[h.step > 0]
        idx = np.searchsorted(np.arange(0, args.steps + 1, le), g.step.to_numpy())
        dev = np.r_[g.train_loss.to_numpy() / ref.train_loss[idx] - 1,
                    g.test_loss.to_numpy() / ref.test_loss[idx] - 1]  # fmt: skip
        m = g.groupby("step")[["train_loss", "test_loss"]].mean()
        j = np.searchsorted(np.arange(0, args.steps + 1, le), m.index.to_numpy())
        mdev = np.r_[m.train_loss.to_numpy() / ref.train_loss[j] - 1,
                     m.test_loss.to_numpy() / ref.test_loss[j] - 1]  # fmt: skip
        sdev = float(np.sqrt(np.mean(dev**2)))
        if match is None and sdev <= 2 * spread:
            match = (w, wall)
        print(f"{w:>6} {wall:>8.2f} {cpu:>8.2f} {np.sqrt(np.mean(mdev**2)):>9.4f} {sdev:>9.4f} "
              f"{wall / wall_dmft:>7.2f}")  # fmt: skip
    print(
        f"whole width sweep ({args.seeds} seeds each) / DMFT wall time: "
        f"{total_wall / wall_dmft:.2f}x"
    )
    if match is None:
        print(
            "no width reached the solver's accuracy (per-seed deviation <= 2x its spread); "
            f"the sweep up to {args.widths[-1]} is still {total_wall / wall_dmft:.2f}x the solve"
        )
    else:
        print(
            f"first width within 2x of the solver's accuracy: N={match[0]} "
            f"({match[1] / wall_dmft:.2f}x the DMFT wall time for that width alone)"
        )


if __name__ == "__main__":
    main()

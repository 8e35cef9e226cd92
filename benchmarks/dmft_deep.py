"""Deep DMFT (Monte-Carlo fixed point) vs training an ensemble of depth-2 muP networks of many widths.

    python benchmarks/dmft_deep.py                                   # the dmft-deep-rich task
    python benchmarks/dmft_deep.py --widths 128 256 --seeds 2 --samples 2048   # smoke run

The question a user has: "what loss curve does this deep network follow at infinite
width?" Without DMFT, the answer is to train networks of growing width (here 256..2048
with one N x N hidden matrix, several seeds each, through
:func:`lmech.experiment.dmft.train_mean_field` and the shared ensemble engine) and watch
them converge. With DMFT it is one solve (:func:`lmech.theory.dmft.dmft_deep`). Both run
the same problem (P = 8 + 8 Gaussian inputs, D = 6, quadratic target, tanh, depth 2,
gamma_0 = 1.5, eta = 0.5, 8 gradient-descent steps, float64, one thread). The solver's
accuracy is the RMS relative spread of its losses between two sampler seeds. For each
width the script prints the RMS relative deviation of the seed-mean losses from DMFT and
the per-seed RMS deviation, wall and CPU time, and the time ratio ensemble / DMFT; "same
accuracy" is the first width whose per-seed deviation is within 2x the solver's spread.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

from lmech.experiment.dmft import regression_task, train_mean_field  # noqa: E402
from lmech.theory.dmft import dmft_deep  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--num-train", type=int, default=8)
    ap.add_argument("--num-test", type=int, default=8)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--gamma0", type=float, default=1.5)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--samples", type=int, default=8192)
    ap.add_argument("--jacobians", type=int, default=256)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--widths", type=int, nargs="+", default=[256, 512, 1024, 2048])
    args = ap.parse_args()
    X, y, yt = regression_task(args.num_train, args.num_test, 6, 0)
    Kx = X @ X.T / 6
    t = 2 * args.lr * np.arange(args.steps + 1)

    def solve(seed):
        return dmft_deep(Kx, y, t_grid=t, depth=args.depth, gamma0=args.gamma0, y_test=yt,
                         n_samples=args.samples, n_jacobian=args.jacobians, seed=seed,
                         progress_label=None)  # fmt: skip

    w0, c0 = time.perf_counter(), time.process_time()
    ref = solve(0)
    wall_dmft, cpu_dmft = time.perf_counter() - w0, time.process_time() - c0
    alt = solve(1)
    spread = float(
        np.sqrt(np.mean(np.r_[ref.train_loss[1:] / alt.train_loss[1:] - 1,
                              ref.test_loss[1:] / alt.test_loss[1:] - 1] ** 2) / 2)
    )  # fmt: skip
    print(f"DMFT depth {args.depth}: S={args.samples} samples ({args.jacobians} Jacobians), "
          f"P={args.num_train}+{args.num_test}, T={args.steps}: {ref.iterations} sweeps, wall "
          f"{wall_dmft:.2f} s, CPU {cpu_dmft:.2f} s; MC accuracy (rms rel., two sampler seeds) "
          f"{spread:.4f}")  # fmt: skip
    print(f"{'width':>6} {'wall s':>8} {'cpu s':>8} {'mean dev':>9} {'seed dev':>9} {'ratio':>7}")
    total_wall, match = 0.0, None
    for w in args.widths:
        w0, c0 = time.perf_counter(), time.process_time()
        h, _ = train_mean_field(X, y, yt, widths=[w], seeds=args.seeds, gamma0=args.gamma0,
                                lr=args.lr, steps=args.steps, log_every=1, activation="tanh",
                                depth=args.depth, alignment=False)  # fmt: skip
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        total_wall += wall
        g = h[h.step > 0]
        k = g.step.to_numpy()
        dev = np.r_[g.train_loss.to_numpy() / ref.train_loss[k] - 1,
                    g.test_loss.to_numpy() / ref.test_loss[k] - 1]  # fmt: skip
        m = g.groupby("step")[["train_loss", "test_loss"]].mean()
        j = m.index.to_numpy()
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

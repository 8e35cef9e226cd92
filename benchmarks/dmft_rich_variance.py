"""Rich-regime 1/N variance prefactor: the influence-function theory vs training many seeds.

    python benchmarks/dmft_rich_variance.py                  # width 256, 64-256 seeds
    python benchmarks/dmft_rich_variance.py --seeds 16 32 --particles 1024   # smoke run

The question a user has: "how much do a width-N network's final predictions and NTK
vary across initializations at gamma_0 = 1?" Without the theory, the answer is to train
many seeds and take the variance (the engine ensembles of the law
finite-width-rich-variance, float64). With it, one solve
(:func:`lmech.theory.dmft.finite_width.rich_prediction_variance`, M particles, reverse
mode through the steps). Both on the law's task (P = 32, D = 8, 16 test points, tanh,
gamma_0 = 1, eta = 0.25, 60 steps, one thread). Printed: CPU time, the prediction
prefactor N Var[f] (test-point mean) and the target-kernel prefactor N Var[K_y], each
with its standard error, and the CPU ratio simulation / theory. "Same accuracy" reads
off the SE columns: a seed variance has relative SE sqrt(2 / (S - 1)) per quantity.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

from lmech.laws.dmft._common import task  # noqa: E402
from lmech.laws.dmft.prediction_variance import RichSpec, rich_experiment  # noqa: E402
from lmech.theory.dmft.finite_width import rich_prediction_variance  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--seeds", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--particles", type=int, default=4096)
    args = ap.parse_args()
    spec = RichSpec(widths=(args.width, 2 * args.width), seeds=4)
    _, Kx, y, _ = task(spec)
    P = spec.num_train
    c0 = time.process_time()
    rv = rich_prediction_variance(Kx, y, gamma0=spec.gamma0, lr=spec.lr, steps=spec.steps,
                                  points=np.arange(P, P + spec.num_test),
                                  n_particles=args.particles)  # fmt: skip
    cpu_th = time.process_time() - c0
    cf, cf_se = rv.f_prefactor.mean(), rv.f_stderr.mean()
    ck, ck_se = rv.kernel_prefactor[0], rv.kernel_stderr[0]
    print(f"theory, M={args.particles}: CPU {cpu_th:.2f} s; N Var[f] {cf:.4f} +- {cf_se:.4f} "
          f"(per point), N Var[K_y] {ck:.3f} +- {ck_se:.3f}")  # fmt: skip
    print(f"{'seeds':>6} {'cpu s':>8} {'N Var f':>9} {'SE':>7} {'N Var K_y':>10} {'SE':>7} "
          f"{'cpu ratio':>9}")  # fmt: skip
    for S in args.seeds:
        sp = RichSpec(widths=(args.width, 2 * args.width), seeds=S)
        c0 = time.process_time()
        m = rich_experiment(sp, 0, "cpu")
        cpu = time.process_time() - c0
        m = m[m["width"] == args.width]  # the second width only keeps the spec valid
        f = m[m.quantity == "prediction"].pivot(index="seed", columns="point", values="value")
        k = m[m.quantity == "target_kernel"]["value"].to_numpy()
        vf = args.width * f.var(ddof=1).mean()
        vk = args.width * k.var(ddof=1)
        rse = np.sqrt(2.0 / (S - 1))
        print(f"{S:>6} {cpu:>8.2f} {vf:>9.4f} {vf * rse:>7.4f} {vk:>10.3f} {vk * rse:>7.3f} "
              f"{cpu / cpu_th:>9.2f}")  # fmt: skip
    print(
        "(simulation CPU includes the second width, 2x the first: about 2/3 of it is "
        "the width asked for)"
    )


if __name__ == "__main__":
    main()

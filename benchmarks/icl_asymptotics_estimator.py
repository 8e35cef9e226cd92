"""The 1/d-extrapolated ICL/IDG error of ridge-pretrained linear attention: lmech's fast
estimator (exact context statistics in O(ell + d), Kronecker-preconditioned CG or a
Hadamard dual Gram, batched draws, the allocation (80, 8, 8, 14) over d = 16-48) vs
the direct one it replaces (tokens sampled one by one, a D x D or n x n Gram of the
d(d+1)-dimensional features, (64, 24, 6) draws over d = 16-32, as a user porting the
authors' procedure would write it).

    python benchmarks/icl_asymptotics_estimator.py            # per-draw CPU + quick presets
    python benchmarks/icl_asymptotics_estimator.py --smoke    # d <= 24, a few draws

Part 1: CPU per pretraining draw at each d, both engines, for the two kinds of system
(tau = 2: primal; tau = 0.5: dual); both give Gammas of the same distribution (the same
ridge estimator on the same data model), so their per-draw errors have the same spread.
Part 2: each estimator's intercept and its standard error (the same pooled 1/d fit for
both) and CPU per point; the ratio of CPU at equal standard error is
(CPU_old SE_old^2) / (CPU_new SE_new^2), and the variance ratio is (SE_old / SE_new)^2
at the CPU each took. Other processes' CPU meanwhile is printed (a WARNING when large).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _timing import timed  # noqa: E402

from lmech.experiment.icl import pretrained_errors, pretrained_gamma  # noqa: E402
from lmech.laws.icl import _common  # noqa: E402
from lmech.laws.icl import asymptotics as law  # noqa: E402
from lmech.theory.icl import gamma_error  # noqa: E402


def per_draw(dims, reps_old, reps_new):
    print("Part 1: CPU-s per pretraining draw (old: direct tokens + Gram; new: fast engine)")
    print(f"{'system':>22} {'d':>3} {'old':>8} {'new':>8} {'speed-up':>9}")
    other = 0.0
    for a, k, t, r in ((2.0, 2.0, 2.0, 0.1), (2.0, math.inf, 0.5, 0.1)):
        for d, ro, rn in zip(dims, reps_old, reps_new, strict=True):
            c0 = time.process_time()
            _, o1 = timed(_old_draws, d, a, k, t, r, ro)
            c_old = (time.process_time() - c0) / ro
            c0 = time.process_time()
            _, o2 = timed(pretrained_errors, d, a, k, t, r, 1e-6, 0, rn, "bench")
            c_new = (time.process_time() - c0) / rn
            other += o1 + o2
            name = f"({a:g}, {k:g}, {t:g}, {r:g})"
            print(f"{name:>22} {d:>3} {c_old:8.4f} {c_new:8.4f} {c_old / c_new:8.1f}x")
    return other


def _old_draws(d, a, k, t, r, reps):
    for s in range(reps):
        g, pool = pretrained_gamma(d, a, k, t, r, 1e-6, 0, "bench-old", s)
        gamma_error(g, a, r)
        if pool is not None:
            P = pool.numpy()
            gamma_error(g, a, r, task_mean=P.mean(0), task_second_moment=P.T @ P / len(P))


def compare(old_spec, new_spec):
    pred = law.theory(new_spec)
    c0 = time.process_time()
    old, o1 = timed(
        _common.simulate,
        old_spec.systems(),
        old_spec.dims,
        old_spec.draws,
        (old_spec.ridge,),
        0,
        "cpu",
    )
    c_old = time.process_time() - c0
    c0 = time.process_time()
    new, o2 = timed(law.experiment, new_spec, 0, "cpu")
    c_new = time.process_time() - c0
    print(
        f"\nPart 2: old design dims {old_spec.dims} draws {old_spec.draws}: {c_old:.1f} CPU-s; "
        f"new dims {new_spec.dims} draws {new_spec.draws}: {c_new:.1f} CPU-s"
    )
    print(
        f"{'point':>14} {'theory':>7} {'old e_inf +- SE':>18} {'new e_inf +- SE':>18} "
        f"{'var ratio':>9} {'CPU@SE':>8}"
    )
    for _, row in pred.iterrows():
        col = f"{row['kind']}_error"
        fits = []
        for meas in (old, new):
            sub = meas[meas["point"] == row["point"]]
            fits.append(law.inverse_d_fit(sub["d"], sub[col])[:2])
        (eo, so), (en, sn) = fits
        ratio = (c_old * so**2) / (c_new * sn**2)
        name = f"p{int(row['point'])} {row['kind']}"
        print(
            f"{name:>14} {row['error']:7.4f} {eo:9.4f} +- {so:.4f} {en:9.4f} +- {sn:.4f} "
            f"{(so / sn) ** 2:8.1f}x {ratio:7.1f}x"
        )
    return o1 + o2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="d <= 24 and few draws")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.smoke:
        other = per_draw((16, 24), (2, 1), (8, 4))
        old = law.Spec(dims=(8, 12), draws=(6, 3))
        new = law.Spec(dims=(8, 12), draws=(6, 3))
    else:
        other = per_draw((16, 24, 32, 48), (8, 4, 2, 1), (64, 32, 16, 8))
        old = law.Spec(dims=(16, 24, 32), draws=(64, 24, 6))  # last session's quick preset
        new = law.PRESETS["quick"]
    other += compare(old, new)
    print(
        f"\nother processes took {other:.1f} CPU-s meanwhile"
        + (" (WARNING: busy machine, timings inflated)" if other > 1 else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

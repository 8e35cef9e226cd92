"""The ridge-pretrained linear-attention ICL error on a (tau, lambda) grid: lmech's
vectorized bisection vs a per-point scipy ``brentq`` loop, and the cost of one simulated
point for scale.

    python benchmarks/icl_theory_grid.py              # 100 x 100 grid
    python benchmarks/icl_theory_grid.py --points 20  # smoke run

Both sides solve 1 - tau + tau lambda / eps - eps M_kappa(eps + x) = 0 (Lu et al. 2025,
the ridge result) at alpha = 2, kappa = 2, rho = 0.1, tau log-spaced over 0.2..5 and
lambda over 1e-6..1, then evaluate the same closed form. The loop is what a user would
write with scipy (one ``brentq`` on the same bracket per point, xtol 1e-14). lmech is one
call to :func:`lmech.theory.icl.icl_error`. It prints CPU-seconds (the fair measure on a
shared machine) and wall seconds of each, the CPU ratio, the largest relative difference
of the errors, the CPU-seconds of one finite-d simulated point (d = 24, one draw) and the
CPU-seconds other processes took meanwhile (a WARNING when large).
"""

from __future__ import annotations

import argparse
import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import brentq  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _timing import timed  # noqa: E402

from lmech.experiment.icl import pretrained_gamma  # noqa: E402
from lmech.theory.icl import (  # noqa: E402
    gamma_error,
    icl_error,
    mp_resolvent,
    mp_resolvent_derivative,
)

ALPHA, KAPPA, RHO = 2.0, 2.0, 0.1


def scipy_loop(taus: np.ndarray, lams: np.ndarray) -> np.ndarray:
    x = (1 + RHO) / ALPHA
    out = np.empty(taus.size)
    for j, (t, lam) in enumerate(zip(taus, lams, strict=True)):

        def f(e, t=t, lam=lam):
            return 1 - t + t * lam / e - e * mp_resolvent(e + x, KAPPA)

        eps = brentq(f, 1e-300, max(1e6, 10 * (t * lam + 1) / t), xtol=1e-14)
        nu = x + eps
        M, Mp = float(mp_resolvent(nu, KAPPA)), float(mp_resolvent_derivative(nu, KAPPA))
        ce = (RHO + nu - nu * nu * M - eps * (1 - 2 * nu * M - nu * nu * Mp)) / (
            1 - 2 * eps * M - eps * eps * Mp - t
        )
        out[j] = (
            (1 + x) * (1 - 2 * nu * M - nu * nu * Mp - ce * (M + eps * Mp))
            - 2 * (1 - nu * M)
            + 1
            + RHO
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100, help="grid points per axis")
    args = ap.parse_args()
    T, L = np.meshgrid(np.geomspace(0.2, 5, args.points), np.geomspace(1e-6, 1, args.points))
    t, lam = T.ravel(), L.ravel()
    icl_error(ALPHA, KAPPA, t[:5], RHO, lam[:5])  # warm-up

    w0, c0 = time.perf_counter(), time.process_time()
    e_lmech, other_l = timed(icl_error, ALPHA, KAPPA, t, RHO, lam)
    w_l, c_l = time.perf_counter() - w0, time.process_time() - c0
    w0, c0 = time.perf_counter(), time.process_time()
    e_scipy, other_s = timed(scipy_loop, t, lam)
    w_s, c_s = time.perf_counter() - w0, time.process_time() - c0
    c0 = time.process_time()
    g, _ = pretrained_gamma(24, ALPHA, KAPPA, 2.0, RHO, 0.1, 0)
    gamma_error(g, ALPHA, RHO)
    c_sim = time.process_time() - c0

    rel = np.max(np.abs(e_lmech - e_scipy) / np.abs(e_scipy))
    print(f"grid: {t.size} points ({args.points} taus x {args.points} ridges)")
    print(f"lmech icl_error (vectorized bisection): {c_l:.3f} CPU-s ({w_l:.3f} s wall)")
    print(f"scipy brentq loop:                      {c_s:.3f} CPU-s ({w_s:.3f} s wall)")
    print(f"CPU ratio scipy / lmech: {c_s / max(c_l, 1e-9):.1f}x")
    print(f"max relative difference of e_ICL: {rel:.2e}")
    print(
        f"one simulated point (d = 24, tau = 2, one draw): {c_sim:.3f} CPU-s "
        f"= {c_sim / max(c_l / t.size, 1e-12):.0f}x one theory grid point"
    )
    other = other_l + other_s
    print(
        f"other processes took {other:.1f} CPU-s meanwhile"
        + (" (WARNING: busy machine, wall times inflated)" if other > 1 else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The renormalized ridge of linear random-feature ridge on a 10^4-point (ridge, N/P) grid:
lmech's vectorized safeguarded Newton vs a per-point scipy ``brentq`` loop.

    python benchmarks/ridge_solver.py               # 100 x 100 grid, D = 300 modes
    python benchmarks/ridge_solver.py --points 30   # smoke run (900 points)

Both sides solve kappa_2 (1 - Df1/P)(1 - Df1/N) = lambda for a power-law spectrum
s_i ~ i^-1.2 (D modes), P = 150, ridges log-spaced over 1e-6..1 and N/P log-spaced over
0.2..5, on the branch Df1 < min(P, N). The loop is what a user would write with scipy: per
point, one ``brentq`` for the pole kappa_min (Df1 = min(P, N)) when min(P, N) < D and one
``brentq`` for the root above it (xtol 1e-300, rtol 4 eps). lmech is one call to
:func:`lmech.theory.ridge.renormalized_ridge` (Newton steps inside a shrinking bisection
bracket, vectorized over the grid). It prints both times (CPU-seconds of this process, the
fair measure on a shared machine, and wall seconds), the CPU ratio, the largest relative
difference of kappa, whether the grid takes under one CPU-second, and the CPU-seconds
other processes took meanwhile (from /proc/stat; a WARNING when it is large).
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

from lmech.theory.ridge import renormalized_ridge  # noqa: E402


def brentq_loop(s: np.ndarray, P: float, ridges: np.ndarray, features: np.ndarray) -> np.ndarray:
    tr = float(s.sum())
    out = np.empty(ridges.size)
    for j, (lam, N) in enumerate(zip(ridges, features, strict=True)):
        m = min(P, N)

        def df1(k):
            return float(np.sum(s / (s + k)))

        kmin = brentq(lambda k, m=m: df1(k) - m, 1e-300, tr / m, xtol=1e-300) if m < s.size else 0.0

        def f(k, lam=lam, N=N):
            d = df1(k)
            return k * (1 - d / P) * (1 - d / N) - lam

        hi = lam + tr * (1 / P + 1 / N)
        out[j] = brentq(f, kmin * (1 + 1e-14) + 1e-300, hi, xtol=1e-300,
                        rtol=4 * np.finfo(float).eps)  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100, help="grid points per axis (default 100)")
    ap.add_argument("--modes", type=int, default=300, help="D, modes of the spectrum")
    args = ap.parse_args()
    s = np.arange(1, args.modes + 1, dtype=float) ** -1.2
    s /= s.sum()
    P = 150.0
    L, R = np.meshgrid(np.geomspace(1e-6, 1.0, args.points), np.geomspace(0.2, 5.0, args.points))
    lam, N = L.ravel(), P * R.ravel()
    renormalized_ridge(s, P, lam[:10], features=N[:10])  # warm-up (imports, caches)

    w0, c0 = time.perf_counter(), time.process_time()
    k_lmech, other_l = timed(renormalized_ridge, s, P, lam, N)
    w_lmech, t_lmech = time.perf_counter() - w0, time.process_time() - c0
    w0, c0 = time.perf_counter(), time.process_time()
    k_scipy, other_s = timed(brentq_loop, s, P, lam, N)
    w_scipy, t_scipy = time.perf_counter() - w0, time.process_time() - c0

    rel = np.abs(k_lmech - k_scipy) / np.maximum(k_scipy, 1e-300)
    print(f"grid: {lam.size} points ({args.points} ridges x {args.points} N/P), D = {args.modes}")
    print("                           CPU-s of this process   wall s")
    print(f"lmech renormalized_ridge : {t_lmech:8.3f}               {w_lmech:8.3f}")
    print(f"scipy brentq loop        : {t_scipy:8.3f}               {w_scipy:8.3f}")
    print(f"ratio scipy / lmech (CPU): {t_scipy / t_lmech:8.1f}x")
    print(f"max relative difference of kappa: {rel.max():.2e}")
    ok = rel.max() <= 1e-9
    print(f"agreement (<= 1e-9): {'PASS' if ok else 'FAIL'}")
    print(f"lmech under one CPU-second: {'yes' if t_lmech < 1.0 else 'no'}")
    for name, other, t in (("lmech", other_l, t_lmech), ("scipy", other_s, t_scipy)):
        if other > max(0.5, 0.05 * t * (os.cpu_count() or 1)):
            print(f"WARNING: other processes used {other:.1f} CPU-s during the {name} timer")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

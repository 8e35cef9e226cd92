r"""Chinchilla Approach-3 fit: lmech's batched multistart vs a loop of scipy L-BFGS-B calls.

Both minimize the objective of Hoffmann et al. (2022), App. D.2,

    sum_i Huber_1e-3( LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i ),

on the same 250 synthetic runs (Chinchilla's published parameters, N in 70M-16B,
D in 5B-500B, log-uniform, 1% multiplicative log-normal noise, seed 0) from the same
4,500-start grid (alpha, beta in {0, .5, ..., 2}, e in {-1, -.5, ..., 1},
a, b in {0, 5, ..., 25}), and keep the best final objective:

* **lmech**: ``lmech.fit.chinchilla.multistart`` (all starts in one batched damped-Newton
  program, float64 numpy);
* **scipy**: ``scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B")`` per start
  with the analytic gradient (what a user writes, default tolerances).

It prints both times, their ratio (target >= 10x, reported, never enforced), the two best
objectives and parameters and their differences, and the CPU-seconds other processes
took meanwhile (a loaded machine inflates both timers).

Run (repository root, venv active)::

    python benchmarks/chinchilla_fit.py                    # full 4,500-start scipy loop
    python benchmarks/chinchilla_fit.py --scipy-starts 500 # time a random subset, extrapolate
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import scipy.optimize as so
from _timing import timed

from lmech.fit.chinchilla import HOFFMANN_2022, chinchilla_loss, hoffmann_grid, multistart

DELTA = 1e-3
TARGET = 10.0


def data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    L = chinchilla_loss(N, D, **HOFFMANN_2022) * np.exp(0.01 * rng.standard_normal(n))
    return np.log(N), np.log(D), np.log(L)


def objective_and_grad(theta, ln, ld, ll):
    """The Huber objective and its analytic gradient (softmax weights of the LSE)."""
    a, b, e, al, be = theta
    z = np.stack([a - al * ln, b - be * ld, np.full_like(ln, e)])
    m = z.max(axis=0)
    ez = np.exp(z - m)
    s = ez.sum(axis=0)
    p = ez / s
    r = m + np.log(s) - ll
    inside = np.abs(r) <= DELTA
    h = np.where(inside, 0.5 * r * r, DELTA * (np.abs(r) - 0.5 * DELTA))
    h1 = np.where(inside, r, DELTA * np.sign(r))
    g = np.array([h1 @ p[0], h1 @ p[1], h1 @ p[2], -(h1 * p[0]) @ ln, -(h1 * p[1]) @ ld])
    return h.sum(), g


def scipy_loop(grid, ln, ld, ll):
    best = (np.inf, None)
    for x0 in grid:
        res = so.minimize(objective_and_grad, x0, args=(ln, ld, ll), jac=True, method="L-BFGS-B")
        if np.isfinite(res.fun) and res.fun < best[0]:
            best = (float(res.fun), res.x)
    return best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, default=250)
    p.add_argument("--scipy-starts", type=int, default=0, help="0: all 4,500; else a random subset")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    ln, ld, ll = data(args.points, args.seed)
    grid = hoffmann_grid()
    print(f"{args.points} runs, {len(grid)} starts, Huber delta {DELTA}")

    t0 = time.perf_counter()
    (theta, val), foreign_l = timed(lambda: multistart(ln, ld, ll[None], grid, delta=DELTA))
    t_lmech = time.perf_counter() - t0
    lm_val, lm_theta = float(val[0]), theta[0]

    sub = grid
    if args.scipy_starts:
        idx = np.random.default_rng(1).choice(len(grid), args.scipy_starts, replace=False)
        sub = grid[idx]
    t0 = time.perf_counter()
    (sp_val, sp_theta), foreign_s = timed(lambda: scipy_loop(sub, ln, ld, ll))
    t_scipy = time.perf_counter() - t0
    t_scipy_full = t_scipy * len(grid) / len(sub)

    names = ("log A", "log B", "log E", "alpha", "beta")
    print(f"lmech batched multistart: {t_lmech:8.2f} s  (foreign CPU {foreign_l:.1f} CPU-s)")
    extra = (
        "" if len(sub) == len(grid) else f" for {len(sub)} starts -> {t_scipy_full:.1f} s for all"
    )
    print(f"scipy L-BFGS-B loop:      {t_scipy:8.2f} s{extra}  (foreign CPU {foreign_s:.1f} CPU-s)")
    ratio = t_scipy_full / t_lmech
    print(
        f"ratio scipy/lmech: {ratio:.1f}x  (target >= {TARGET:g}x: {'MET' if ratio >= TARGET else 'NOT MET'})"
    )
    print(
        f"best objective: lmech {lm_val:.12g}  scipy {sp_val:.12g}  (lmech - scipy) = {lm_val - sp_val:.3g}"
    )
    for i, nm in enumerate(names):
        print(
            f"  {nm:6s} lmech {lm_theta[i]: .8f}  scipy {sp_theta[i]: .8f}  diff {lm_theta[i] - sp_theta[i]: .2e}"
        )
    print(
        f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cpu_count={os.cpu_count()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

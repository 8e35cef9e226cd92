"""Linear CKA: lmech's feature-space form vs the n x n Gram formulation, and its memory.

Rows:

- ``feature space vs Gram`` at n = ``--gram-n`` (5,000 by default; the Gram form needs
  two n x n float64 matrices plus their centring, 0.6 GB here and 60 GB at n = 50,000):
  numpy ``tr(K_c L_c)/(|K_c||L_c|)`` with K = X X^T, against
  :func:`lmech.measure.geometry.linear_cka`;
- ``feature space`` at n = 50,000, p = 512 (the Gram form's memory is printed, not run);
- ``memory`` at n = 200,000, p = 256: a child process builds float32 X and Y (205 MB
  each) and runs ``linear_cka`` (biased and debiased); its peak resident memory
  (``resource.getrusage``, everything the process touched: Python, torch, the inputs) is
  printed against the 2 GB budget.

Run::

    python benchmarks/geometry_cka.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gram-n", type=int, default=5000)
    p.add_argument("--n", type=int, default=50000)
    p.add_argument("--p", type=int, default=512)
    p.add_argument("--memory-n", type=int, default=200000)
    p.add_argument("--memory-p", type=int, default=256)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args()


ARGS = _parse()
if ARGS.threads is not None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from lmech.measure.geometry import linear_cka  # noqa: E402


def pair(n: int, p: int, dtype=np.float64, seed: int = 0):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, p), dtype=np.float32).astype(dtype, copy=False)
    A = g.standard_normal((p, p), dtype=np.float32).astype(dtype) / np.sqrt(p)
    Y = X @ A
    Y += g.standard_normal((n, p), dtype=np.float32).astype(dtype, copy=False)
    return X, Y


def gram_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Kornblith et al. eq. (2) with linear kernels: the n x n formulation."""
    K, L = X @ X.T, Y @ Y.T
    for M in (K, L):  # H M H in place
        M -= M.mean(axis=0, keepdims=True)
        M -= M.mean(axis=1, keepdims=True)
    return float((K * L).sum() / (np.linalg.norm(K) * np.linalg.norm(L)))


def best(fn, repeats: int, *args, **kwargs) -> tuple[float, float, float]:
    """(best wall seconds, best CPU seconds of this process, the value)."""
    wall, cpu, value = float("inf"), float("inf"), None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        value = fn(*args, **kwargs)
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu, value


def child() -> None:
    import resource

    X, Y = pair(ARGS.memory_n, ARGS.memory_p, np.float32)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    t = time.perf_counter()
    a = linear_cka(X, Y, device=ARGS.device)
    b = linear_cka(X, Y, debiased=True, device=ARGS.device)
    dt = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(f"{peak:.3f} {base:.3f} {dt:.2f} {a:.6f} {b:.6f}")


def main() -> None:
    gn, p = ARGS.gram_n, ARGS.p
    X, Y = pair(gn, p)
    t_g, c_g, v_g = best(gram_cka, ARGS.repeats, X, Y)
    t_f, c_f, v_f = best(linear_cka, ARGS.repeats, X, Y, device=ARGS.device)
    print(
        f"n = {gn}, p = {p}: Gram {t_g:.2f} s wall / {c_g:.2f} s CPU "
        f"({2 * 8 * gn * gn / 2**30:.2f} GiB of Grams), feature space {t_f:.3f} s wall / "
        f"{c_f:.3f} s CPU; Gram/feature = {t_g / t_f:.1f}x wall, {c_g / c_f:.1f}x CPU; "
        f"|diff| = {abs(v_g - v_f):.1e}"
    )
    del X, Y
    X, Y = pair(ARGS.n, p)
    t_f, c_f, _ = best(linear_cka, ARGS.repeats, X, Y, device=ARGS.device)
    t_d, c_d, _ = best(linear_cka, ARGS.repeats, X, Y, debiased=True, device=ARGS.device)
    print(
        f"n = {ARGS.n}, p = {p}: feature space {t_f:.2f} s wall / {c_f:.2f} s CPU (debiased "
        f"{t_d:.2f} / {c_d:.2f} s); the Gram form would need {2 * 8 * ARGS.n**2 / 2**30:.0f} "
        f"GiB for K and L alone (not run); its CPU time extrapolated as n^2 from n = {gn}: "
        f"{c_g * (ARGS.n / gn) ** 2:.0f} s = {c_g * (ARGS.n / gn) ** 2 / c_f:.0f}x"
    )
    del X, Y
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--memory-n",
        str(ARGS.memory_n),
        "--memory-p",
        str(ARGS.memory_p),
        "--device",
        ARGS.device,
    ]
    if ARGS.threads is not None:
        cmd += ["--threads", str(ARGS.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    peak, base, dt, a, b = (float(v) for v in out)
    print(
        f"n = {ARGS.memory_n}, p = {ARGS.memory_p} (float32 inputs, {2 * 4 * ARGS.memory_n * ARGS.memory_p / 2**30:.2f} GiB): "
        f"peak RSS {peak:.2f} GiB (after building the inputs {base:.2f} GiB) vs the 2 GiB budget; "
        f"{dt:.1f} s for biased + debiased; CKA = {a:.4f}, debiased {b:.4f}"
    )


if __name__ == "__main__":
    child() if ARGS.child else main()

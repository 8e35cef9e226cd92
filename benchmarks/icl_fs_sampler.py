"""Context statistics for training one linear-attention layer (FS setting): lmech's exact
O(P + D) sampler of b = X^T y / P against drawing the P tokens of each context.

    python benchmarks/icl_fs_sampler.py                # D = 32, P = 256, 200 x 64 contexts
    python benchmarks/icl_fs_sampler.py --batches 10   # smoke run

Both sides draw ``batches`` batches of 64 contexts with tokens x ~ N(0, Sigma),
Sigma = diag(k^-1.5) (trace D), task w ~ N(0, I/D) and labels y = w.x + N(0, 0.05), and
return (w, b). The direct way, what a user would write in torch, draws X (64, P, D) and
forms X^T y / P; lmech's :func:`lmech.laws.icl._fs.sample_statistics` draws the label
direction, two length-P vectors and one D-vector per context (derived in its module
docstring, checked against the direct draw in ``tests/laws/icl/test_fs.py``). It prints
CPU-seconds and wall seconds of each, the CPU ratio, the relative gap of the two Monte-Carlo
estimates of the loss of one fixed Gamma (both should match the exact
:func:`lmech.theory.icl.fs_one_layer_error`), and the CPU-seconds other processes took
meanwhile (a WARNING when large).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _timing import timed  # noqa: E402

from lmech.laws.icl._fs import sample_statistics  # noqa: E402
from lmech.seeding import torch_generator  # noqa: E402
from lmech.theory.icl import fs_one_layer_error  # noqa: E402

BATCH = 64


def direct(lam, P, noise, batches, gamma):
    gen = torch_generator(0, "bench-direct")
    half = lam.sqrt()
    D = len(lam)
    total = 0.0
    for _ in range(batches):
        X = torch.randn(BATCH, P, D, generator=gen, dtype=torch.float64) * half
        w = torch.randn(BATCH, D, generator=gen, dtype=torch.float64) / math.sqrt(D)
        eps = torch.randn(BATCH, P, generator=gen, dtype=torch.float64)
        y = torch.einsum("npd,nd->np", X, w) + math.sqrt(noise) * eps
        b = torch.einsum("npd,np->nd", X, y) / P
        r = w - b @ gamma.T
        total += float((r * r * lam).sum())
    return total / (batches * BATCH) + noise


def fast(lam, P, noise, batches, gamma):
    gen = torch_generator(0, "bench-fast")
    total = 0.0
    for _ in range(batches):
        w, b = sample_statistics(lam, P, noise, BATCH, gen)
        r = w - b @ gamma.T
        total += float((r * r * lam).sum())
    return total / (batches * BATCH) + noise


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--alpha", type=float, default=8.0)
    ap.add_argument("--batches", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)
    D = args.dim
    P = max(1, round(args.alpha * D))
    lam_np = np.arange(1, D + 1, dtype=float) ** -1.5
    lam_np *= D / lam_np.sum()
    lam = torch.as_tensor(lam_np)
    noise = 0.05
    gamma_np = 0.5 * np.diag(1 / lam_np)
    gamma = torch.as_tensor(gamma_np)
    exact = fs_one_layer_error(gamma_np, lam_np, args.alpha, noise)
    rows = {}
    for name, fn in (("direct tokens", direct), ("lmech statistic", fast)):
        w0, c0 = time.perf_counter(), time.process_time()
        est, stolen = timed(fn, lam, P, noise, args.batches, gamma)
        rows[name] = (time.process_time() - c0, time.perf_counter() - w0, est, stolen)
    n = args.batches * BATCH
    print(f"D = {D}, P = {P}, {n} contexts; exact loss of the test Gamma {exact:.5f}")
    for name, (cpu, wall, est, stolen) in rows.items():
        print(
            f"  {name:16s} CPU {cpu:7.3f} s  wall {wall:7.3f} s  loss {est:.5f} "
            f"({est / exact - 1:+.2%} vs exact)  others took {stolen:.1f} CPU-s"
        )
        if stolen > 0.5 * cpu:
            print("  WARNING: the machine was busy; repeat for a stable ratio")
    ratio = rows["direct tokens"][0] / max(rows["lmech statistic"][0], 1e-9)
    print(f"CPU ratio direct / lmech: {ratio:.1f}x")


if __name__ == "__main__":
    main()

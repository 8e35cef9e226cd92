"""TwoNN and Levina-Bickel MLE: lmech vs scikit-dimension on the same points.

The points: n = 20,000 uniform on the sphere S^10 rotated into R^100 (noise 1e-4).
Both libraries compute the exact nearest neighbours: scikit-dimension through
scikit-learn (``pairwise_distances_chunked`` for TwoNN at D > 25, ``NearestNeighbors``
for the MLE), lmech through blocked float64 torch GEMMs (:mod:`lmech.measure.geometry`).
The estimates are printed side by side (they agree to ~1e-12: same conventions); the
times are the best of ``--repeats`` rounds, interleaved. Run::

    python benchmarks/geometry_id.py --threads 2            # n = 20000, D = 100
    python benchmarks/geometry_id.py --threads 2 --quick    # n = 5000
"""

from __future__ import annotations

import argparse
import os
import time


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--D", type=int, default=100)
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--k", type=int, default=20, help="MLE neighbours")
    p.add_argument("--quick", action="store_true", help="n = 5000")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    if args.quick:
        args.n = 5000
    return args


ARGS = _parse()
if ARGS.threads is not None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import torch  # noqa: E402

from lmech.data.manifolds import sphere  # noqa: E402
from lmech.measure.geometry import LevinaBickel, TwoNN  # noqa: E402

if ARGS.threads is not None:
    torch.set_num_threads(ARGS.threads)


def main() -> None:
    try:
        import skdim
    except ImportError:
        raise SystemExit(
            "scikit-dimension is not installed: pip install scikit-dimension"
        ) from None
    X = sphere(ARGS.n, ARGS.d, ARGS.D, noise=1e-4, seed=0)
    methods = {
        "TwoNN": {
            "lmech": lambda: TwoNN(device=ARGS.device).fit(X).dimension_,
            "skdim": lambda: skdim.id.TwoNN().fit(X).dimension_,
        },
        f"MLE k={ARGS.k}": {
            "lmech": lambda: LevinaBickel(ARGS.k, device=ARGS.device).fit(X).dimension_,
            "skdim": lambda: skdim.id.MLE().fit(X, n_neighbors=ARGS.k).dimension_,
        },
    }
    print(f"n = {ARGS.n}, D = {ARGS.D}, true d = {ARGS.d}, threads = {torch.get_num_threads()}")
    print("times: best of the repeats, wall (perf_counter) and CPU of this process (process_time)")
    for name, pair in methods.items():
        wall = {k: float("inf") for k in pair}
        cpu = {k: float("inf") for k in pair}
        value = {}
        for _ in range(ARGS.repeats):
            for lib, fn in pair.items():
                t, c = time.perf_counter(), time.process_time()
                value[lib] = fn()
                wall[lib] = min(wall[lib], time.perf_counter() - t)
                cpu[lib] = min(cpu[lib], time.process_time() - c)
        print(
            f"{name:10s} lmech {wall['lmech']:6.2f} s wall {cpu['lmech']:6.2f} s CPU "
            f"(d = {value['lmech']:.6f}) | skdim {wall['skdim']:6.2f} s wall "
            f"{cpu['skdim']:6.2f} s CPU (d = {value['skdim']:.6f}) | skdim/lmech: wall "
            f"{wall['skdim'] / wall['lmech']:.2f}x, CPU {cpu['skdim'] / cpu['lmech']:.2f}x | "
            f"|diff| = {abs(value['lmech'] - value['skdim']):.1e}"
        )


if __name__ == "__main__":
    main()

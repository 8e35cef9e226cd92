"""Infinite-width NTK Gram matrix: lmech vs a plain numpy recursion vs the GEMM bound.

The kernel is the NTK of a 3-hidden-layer ReLU MLP (NTK parameterization, W_std =
sqrt(2), b_std = 0.1) on n random Gaussian inputs of dimension d = 784. Any such kernel
costs one n x n x d GEMM (the input Gram X X^T) plus O(n^2 L) elementwise work, so the
time of ``X @ X.T`` at the same size and dtype is a lower bound; the target is lmech
within 3x of it. Rows:

- ``gemm``: torch ``X @ X.T`` (the bound) and numpy's, for reference;
- ``lmech block``: ``NTK(...).block(X, X)``, the kernel itself;
- ``lmech gram``: ``lmech.kernels.base.gram(NTK(...), X)``: row blocks of 2048 plus the
  symmetrization ``0.5 (K + K^T)`` that ``gram`` applies;
- ``numpy``: the same recursion written whole-matrix in numpy (np.arctan2 etc.);
- ``neural-tangents``: only if ``neural_tangents`` imports (it needs an old pinned JAX).

Times are the best of ``--repeats`` rounds, the methods interleaved within a round (the
machine may be shared). Ratios are given to torch's GEMM (the library lmech computes
with) and to the faster of torch's and numpy's GEMM. Run::

    python benchmarks/ntk_gram.py --threads 2            # n = 8000, ~3 min on 2 cores
    python benchmarks/ntk_gram.py --threads 2 --quick    # n = 2000, ~10 s
"""

from __future__ import annotations

import argparse
import math
import os
import time


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=8000, help="number of inputs (default 8000)")
    p.add_argument("--d", type=int, default=784, help="input dimension (default 784)")
    p.add_argument("--depth", type=int, default=3, help="hidden layers (default 3)")
    p.add_argument("--quick", action="store_true", help="n = 2000")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch and BLAS")
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    p.add_argument("--dtype", choices=["float64", "float32", "both"], default="both")
    p.add_argument("--device", default="cpu", help="torch device for lmech (cpu, cuda)")
    p.add_argument("--skip-numpy", action="store_true", help="skip the numpy reference")
    args = p.parse_args()
    if args.quick:
        args.n = 2000
    return args


ARGS = _parse()
if ARGS.threads is not None:  # before numpy/torch load their thread pools
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lmech.kernels.base import gram  # noqa: E402
from lmech.kernels.infinite import NTK  # noqa: E402

W_STD, B_STD = math.sqrt(2.0), 0.1


def numpy_ntk(X: np.ndarray, depth: int, w_std: float, b_std: float) -> np.ndarray:
    """The NT recursion (see lmech.kernels.infinite), whole-matrix, plain numpy."""
    w2, b2, d = w_std**2, b_std**2, X.shape[1]
    q = w2 * np.einsum("ij,ij->i", X, X) / d + b2  # Sigma^0(x, x)
    k = w2 * (X @ X.T) / d + b2  # Sigma^0(x, x')
    theta = k.copy()
    for _ in range(depth):
        s = np.sqrt(np.clip(np.outer(q, q) - k * k, 0.0, None))
        angle = np.arctan2(s, k)
        e = (s + (np.pi - angle) * k) / (2 * np.pi)  # E[relu relu']
        dot = (np.pi - angle) / (2 * np.pi)  # E[step step']
        k = w2 * e + b2
        theta = k + w2 * dot * theta
        q = w2 * q / 2 + b2
    return theta


def run_interleaved(methods: dict, repeats: int, sync) -> tuple[dict, dict]:
    """Best-of-``repeats`` time per method, the methods interleaved within each round so
    that load from other processes hits them alike; returns (times, last outputs)."""
    times = {name: math.inf for name in methods}
    outputs: dict = {}
    for _ in range(repeats):
        for name, fn in methods.items():
            outputs.pop(name, None)  # free the previous result first
            sync()
            t0 = time.perf_counter()
            out = fn()
            sync()
            times[name] = min(times[name], time.perf_counter() - t0)
            outputs[name] = out
            del out
    return times, outputs


def main() -> None:
    args = ARGS
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    dtypes = ["float64", "float32"] if args.dtype == "both" else [args.dtype]
    kernel = NTK(depth=args.depth, activation="relu", weight_std=W_STD, bias_std=B_STD)
    print(
        f"NTK Gram, {args.depth}-hidden-layer ReLU MLP, n = {args.n}, d = {args.d}, "
        f"device {device}, torch threads {torch.get_num_threads()}, "
        f"best of {args.repeats} (interleaved)"
    )
    try:
        import neural_tangents  # noqa: F401

        have_nt = True
    except Exception as err:  # ImportError, or NT's own import-time failures
        have_nt = False
        print(f"neural-tangents not importable ({type(err).__name__}: {err}): skipped")
    print(f"{'dtype':8} {'method':16} {'time (s)':>9} {'/ torch GEMM':>13} {'/ best GEMM':>12}")
    gen = torch.Generator().manual_seed(0)
    X64 = torch.randn(args.n, args.d, generator=gen, dtype=torch.float64)
    for name in dtypes:
        X = X64.to(dtype=getattr(torch, name), device=device)
        Xn = X64.numpy().astype(name)
        methods = {
            "gemm (torch)": lambda X=X: X @ X.T,
            "gemm (numpy)": lambda Xn=Xn: Xn @ Xn.T,
            "lmech block": lambda X=X: kernel.block(X, X),
            "lmech gram": lambda X=X: gram(kernel, X),
        }
        if not args.skip_numpy:
            methods["numpy"] = lambda Xn=Xn: numpy_ntk(Xn, args.depth, W_STD, B_STD)
        if have_nt:
            methods["neural-tangents"] = _neural_tangents(Xn, args)
        times, outputs = run_interleaved(methods, args.repeats, sync)
        t_torch = times["gemm (torch)"]
        t_best = min(t_torch, times["gemm (numpy)"])
        for method, t in times.items():
            print(f"{name:8} {method:16} {t:9.3f} {t / t_torch:13.2f} {t / t_best:12.2f}")
        if "numpy" in outputs:
            K, K_np = outputs["lmech block"].cpu().double().numpy(), outputs["numpy"]
            off = ~np.eye(args.n, dtype=bool)
            rel = np.abs(K - K_np)[off].max() / np.abs(K_np).max()
            print(f"{name:8} max |lmech - numpy| off the diagonal / max |K| = {rel:.1e}")
        outputs.clear()
    print("lmech gram = lmech block + base.gram's row blocks and 0.5 (K + K^T)")


def _neural_tangents(Xn: np.ndarray, args):
    """A jitted NT kernel_fn on the same inputs (compiled here, timed by the caller)."""
    import jax
    from neural_tangents import stax

    layers = []
    for _ in range(args.depth):
        layers += [stax.Dense(512, W_std=W_STD, b_std=B_STD), stax.Relu()]
    _, _, kernel_fn = stax.serial(*layers, stax.Dense(1, W_std=W_STD, b_std=B_STD))
    fn = jax.jit(kernel_fn, static_argnames="get")
    x = jax.numpy.asarray(Xn)
    fn(x[:8], None, get="ntk").block_until_ready()  # compile once
    return lambda: fn(x, None, get="ntk").block_until_ready()


if __name__ == "__main__":
    main()

"""CNN-GAP NTK Gram of Fashion-MNIST images: lmech.kernels.stax against a straightforward
torch implementation of the same recursion (neural-tangents does not install on current
JAX; see the kernels docs), time against the recursion's flop count, and memory.

Network: [Conv2d(3, zero padding, sigma_w = sqrt(2), sigma_b = 0.1), ReLU] x depth,
GlobalAvgPool, Dense(1): the CNTK-GAP of Arora et al. 2019. Images are Fashion-MNIST
pixels / 255 averaged over b x b blocks (side 28 / b).

The peer keeps the same (P x P) pixel-pair state per pair but writes each convolution
as dense selection matrices, K <- (sigma_w^2 / 9) sum_delta S_delta K S_delta^T + b^2,
batched over the columns of one row (what one writes without the strided-window
formulation); both are checked to agree to 1e-10 before timing.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cnn_kernel.py [--side 7] [--n 1000]
"""

from __future__ import annotations

import argparse
import math
import resource
import time

import numpy as np
import torch

from lmech.data.cache import fashion_mnist
from lmech.errors import DataUnavailableError
from lmech.kernels import stax


def network(side: int, depth: int) -> stax.Network:
    layers = []
    for _ in range(depth):
        layers += [stax.Conv2d(1, 3, weight_std=2**0.5, bias_std=0.1), stax.Relu()]
    return stax.serial(*layers, stax.GlobalAvgPool(), stax.Dense(1, 1.0, 0.1),
                       input_shape=(1, side, side))  # fmt: skip


def images(n: int, side: int) -> torch.Tensor:
    try:
        px = fashion_mnist().pixels[:n].astype(np.float64) / 255.0
    except DataUnavailableError as err:
        raise SystemExit(f"Fashion-MNIST is not installed: {err}") from None
    b = 28 // side
    return torch.from_numpy(px.reshape(n, side, b, side, b).mean(axis=(2, 4)).reshape(n, -1))


def _selection(side: int) -> torch.Tensor:
    """S[d] (P, P): output pixel p reads input pixel p + delta_d (zero padding)."""
    P = side * side
    S = torch.zeros(9, P, P, dtype=torch.float64)
    for d, (a, b) in enumerate((a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)):
        for i in range(side):
            for j in range(side):
                if 0 <= i + a < side and 0 <= j + b < side:
                    S[d, i * side + j, (i + a) * side + j + b] = 1.0
    return S


def peer_ntk(X: torch.Tensor, side: int, depth: int) -> torch.Tensor:
    """The same CNTK-GAP recursion with dense selection matrices, one row at a time."""
    S = _selection(side)
    w2, b2 = 2.0, 0.01
    n = X.shape[0]

    def conv(K):  # (m, P, P)
        return w2 * torch.einsum("dpq,mqr,dsr->mps", S, K, S) / 9.0 + b2

    def conv_t(T):
        return w2 * torch.einsum("dpq,mqr,dsr->mps", S, T, S) / 9.0

    # per-image pixel variances q through the layers (self pairs)
    K_self, qs = X[:, :, None] * X[:, None, :], []
    for _ in range(depth):
        k = conv(K_self)
        q = k.diagonal(dim1=1, dim2=2)
        qs.append(q)
        qq = torch.sqrt(q[:, :, None] * q[:, None, :])
        c = (k / qq).clamp(-1, 1)
        th = torch.arccos(c)
        K_self = qq * (torch.sin(th) + (math.pi - th) * c) / (2 * math.pi)
    out = torch.empty(n, n, dtype=X.dtype)
    for i in range(n):
        K = X[i][None, :, None] * X[:, None, :]  # (n, P, P)
        T = torch.zeros_like(K)
        for layer in range(depth):
            K = conv(K)
            T = K + conv_t(T)
            qa = qs[layer][i][None, :, None]
            qb = qs[layer][:, None, :]
            qq = torch.sqrt(qa * qb)
            c = (K / qq).clamp(-1, 1)
            th = torch.arccos(c)
            T = T * (math.pi - th) / (2 * math.pi)
            K = qq * (torch.sin(th) + (math.pi - th) * c) / (2 * math.pi)
        K = K.mean(dim=(1, 2))
        T = T.mean(dim=(1, 2))
        out[i] = K + 1.0 * T + 0.01  # Dense(1, 1, 0.1): nngp + W^2 ntk
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=7, choices=(4, 7, 14, 28))
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--n-peer", type=int, default=48)
    args = ap.parse_args()
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "1")))
    net = network(args.side, args.depth)
    ntk = net.ntk()
    fpp = net.flops_per_pair()
    print(f"CNN-GAP NTK, depth {args.depth}, images 1x{args.side}x{args.side}; "
          f"{fpp / 1e3:.0f} kflop per pair, {net.pair_bytes() / 1e3:.1f} kB state per pair")  # fmt: skip

    X = images(max(args.n, args.n_peer), args.side)
    small = X[: args.n_peer]
    t0 = time.process_time()
    G_peer = peer_ntk(small, args.side, args.depth)
    t_peer = time.process_time() - t0
    t0 = time.process_time()
    G = ntk(small)
    t_stax = time.process_time() - t0
    err = float((G - G_peer).abs().max() / G.abs().max())
    assert err < 1e-10, err
    print(f"n = {args.n_peer}: stax {t_stax:.2f} s CPU, straightforward torch {t_peer:.2f} s "
          f"CPU -> ratio {t_peer / t_stax:.1f}x (max rel diff {err:.1e})")  # fmt: skip

    for n in sorted({min(args.n, 100), min(args.n, 250), args.n}):
        pairs = n * (n + 1) // 2
        t0 = time.process_time()
        ntk(X[:n])
        dt = time.process_time() - t0
        print(f"n = {n:5d}: {dt:8.2f} s CPU, {pairs * fpp / 1e9:8.2f} Gflop (symmetric pairs), "
              f"{pairs * fpp / dt / 1e9:.2f} Gflop/s")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(f"peak RSS of this process: {peak:.0f} MB (n = {args.n})")
    for n in (1000, 5000):
        out = 8 * n * n
        print(f"memory at n = {n}: output {out / 1e6:.0f} MB + tiles <= "
              f"{6 * stax.TILE_BYTES / 1e6:.0f} MB (tile_bytes {stax.TILE_BYTES / 1e6:.0f} MB); "
              f"time ~ {n * (n + 1) / 2 * fpp / 1e9:.0f} Gflop")  # fmt: skip


if __name__ == "__main__":
    main()

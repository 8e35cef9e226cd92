"""Estimating a trained linear-attention layer's test error: lmech's paired estimator
(exact error of the reduced optimum + Monte-Carlo excess on the same contexts) vs the
plain Monte-Carlo mean of the squared error a user would otherwise compute.

    python benchmarks/icl_paired_excess.py               # d = 8, 20000 test contexts
    python benchmarks/icl_paired_excess.py --contexts 2000 --steps 100  # smoke run

One layer (lmech.nn.attention.LinearSelfAttention) is trained by Adam on fresh contexts
from a symmetric pool (kappa = 4, alpha = 2, rho = 0.1, as the quick preset of
icl-full-attention-training), then its ICL error is estimated both ways on the same test
contexts. Both estimators are unbiased; what differs is the standard error at a given
number of contexts. The script prints both estimates with their standard errors, the CPU
seconds of each, and the number of test contexts plain Monte Carlo would need to reach the
paired standard error (ratio of variances), with the CPU-seconds other processes took
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

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _timing import timed  # noqa: E402

from lmech.experiment.icl import (  # noqa: E402
    _sequences,
    attention_excess_error,
    sample_tasks,
    symmetric_pool,
    train_linear_attention,
)
from lmech.seeding import torch_generator  # noqa: E402
from lmech.theory.icl import gamma_error, optimal_gamma  # noqa: E402

D, ALPHA, RHO, KAPPA = 8, 2.0, 0.1, 4.0


@torch.no_grad()
def plain_monte_carlo(model, contexts: int, gen: torch.Generator) -> tuple[float, float]:
    ell = round(ALPHA * D)
    z, yq = _sequences(sample_tasks(contexts, D, gen), ell, RHO, gen)
    e = (model(z) - yq) ** 2
    return float(e.mean()), float(e.std() / math.sqrt(contexts))


def paired(model, ref, contexts: int, gen: torch.Generator) -> tuple[float, float]:
    excess, se, _ = attention_excess_error(model, ref, ALPHA, RHO, None, contexts, gen)
    return gamma_error(ref, ALPHA, RHO) + excess, se


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contexts", type=int, default=20000, help="test contexts")
    ap.add_argument("--steps", type=int, default=1000, help="training steps")
    args = ap.parse_args()
    torch.set_num_threads(1)
    pool = symmetric_pool(round(KAPPA * D), D, torch_generator(0, "icl-pool", KAPPA))
    P = pool.numpy()
    ref = optimal_gamma(D, ALPHA, RHO, task_mean=P.mean(0), task_second_moment=P.T @ P / len(P))
    model, _ = train_linear_attention(
        D, ALPHA, RHO, pool, steps=args.steps, batch=256, lr=0.02, seed=0
    )

    c0 = time.process_time()
    (e_plain, se_plain), other_p = timed(
        plain_monte_carlo, model, args.contexts, torch_generator(1, "bench")
    )
    c_plain = time.process_time() - c0
    c0 = time.process_time()
    (e_pair, se_pair), other_q = timed(
        paired, model, ref, args.contexts, torch_generator(1, "bench")
    )
    c_pair = time.process_time() - c0

    print(f"trained layer ICL error, {args.contexts} test contexts (d = {D}, kappa = {KAPPA:g})")
    print(f"plain Monte Carlo:            {e_plain:.5f} +- {se_plain:.5f}  ({c_plain:.3f} CPU-s)")
    print(f"lmech paired (exact + excess): {e_pair:.5f} +- {se_pair:.5f}  ({c_pair:.3f} CPU-s)")
    ratio = (se_plain / max(se_pair, 1e-300)) ** 2
    print(
        f"variance ratio plain / paired: {ratio:.0f}x: plain Monte Carlo needs "
        f"{ratio * args.contexts:.2e} contexts for the paired standard error"
    )
    print(
        f"CPU ratio at equal standard error (plain / paired): "
        f"{ratio * c_plain / max(c_pair, 1e-9):.0f}x"
    )
    print(f"difference of the two estimates: {(e_plain - e_pair) / se_plain:+.2f} plain SE")
    other = other_p + other_q
    print(
        f"other processes took {other:.1f} CPU-s meanwhile"
        + (" (WARNING: busy machine, wall times inflated)" if other > 1 else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

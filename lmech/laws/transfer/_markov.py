"""The synthetic language of the GPT transfer laws: a first-order Markov chain with known entropy rate.

Rows of the transition matrix are Dirichlet(``dirichlet``) draws from the stream
(``data_seed``, "markov chain"); the entropy rate H = -sum_i pi_i sum_j P_ij log P_ij (pi
the stationary distribution) is the lowest achievable next-token cross-entropy.
"""

from __future__ import annotations

import numpy as np
import torch

from lmech.seeding import rng

__all__ = ["markov_chain", "sample"]


def markov_chain(spec) -> tuple[torch.Tensor, float]:
    """(transition matrix (V, V), entropy rate in nats) of the chain of ``spec`` (its vocab, dirichlet, data_seed)."""
    rows = rng(spec.data_seed, "markov chain").dirichlet(
        np.full(spec.vocab, spec.dirichlet), spec.vocab
    )
    P = torch.tensor(rows, dtype=torch.float64)
    # stationary distribution: the left eigenvector of P for eigenvalue 1 (power iteration)
    pi = torch.full((spec.vocab,), 1.0 / spec.vocab, dtype=torch.float64)
    for _ in range(500):
        pi = pi @ P
    H = -(pi[:, None] * P * P.clamp_min(1e-300).log()).sum()
    return P, float(H)


def sample(P: torch.Tensor, n: int, length: int, gen: torch.Generator) -> torch.Tensor:
    x = torch.empty(n, length, dtype=torch.long)
    x[:, 0] = torch.randint(0, P.shape[0], (n,), generator=gen)
    for t in range(length - 1):
        x[:, t + 1] = torch.multinomial(P[x[:, t]].float(), 1, generator=gen).squeeze(1)
    return x

"""A small softmax Transformer for in-context regression (tokens (x_i, y_i), query (x_q, 0)).

References:
    Lu, Letey, Zavatone-Veth, Maiti, Pehlevan, PNAS 2025 (arXiv 2405.11751), Sec. on
    nonlinear Transformers (Fig. 5): softmax attention (+ MLP) blocks read out at the query.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ICLTransformer"]


class ICLTransformer(nn.Module):
    """Embedding, ``layers`` x (single-head softmax self-attention [+ MLP]) with residuals,
    and a linear readout of the query token's last position.

    Input: ``z`` of shape (batch, ell + 1, d + 1) whose last row is (x_q, 0). Output: the
    predicted y_q (batch,). No layer norm or positional encoding (the context is a set).
    """

    def __init__(self, d: int, width: int, layers: int = 1, mlp: bool = False) -> None:
        super().__init__()
        self.embed = nn.Linear(d + 1, width, bias=False)
        self.qkv = nn.ModuleList(nn.Linear(width, 3 * width, bias=False) for _ in range(layers))
        self.out = nn.ModuleList(nn.Linear(width, width, bias=False) for _ in range(layers))
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))
            for _ in range(layers if mlp else 0)
        )
        self.readout = nn.Linear(width, 1, bias=False)
        self.width = width

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.embed(z)
        for i, (qkv, out) in enumerate(zip(self.qkv, self.out, strict=True)):
            q, k, v = qkv(h).chunk(3, dim=-1)
            att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(self.width), dim=-1)
            h = h + out(att @ v)
            if self.mlps:
                h = h + self.mlps[i](h)
        return self.readout(h[:, -1]).squeeze(-1)
